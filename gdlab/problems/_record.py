"""The ``Problem`` record: what is minimised, from where, on which data, and how well it can go."""

import dataclasses
import types
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

Domain = tuple[tuple[float, float], ...]


@dataclasses.dataclass(frozen=True, eq=False)
class Problem:
    """A problem to minimise: a loss, where to start, its data and what counts as solved.

    The loss follows the convention of ``gdlab.train``: ``loss(params)`` when ``data``
    is None, ``loss(params, data)`` otherwise. Data is always an argument, never closed
    over, so ``train.run(p.loss, p.start(key), opt, n, data=p.data)``, ``curvature`` and
    ``taylor`` (which take ``data=`` too) see it as a jit argument. (The built-in test
    functions also accept ``loss(x, None)``.)

    Attributes:
      name: a label (the catalogue name for built-ins).
      loss: the full objective, ``loss(params[, data]) -> scalar``, a pure jnp function.
      x0: a fixed start (a pytree), or None when ``init`` draws one.
      argmin: a known minimiser (None if unknown). For non-convex problems gradient
        descent may well stop elsewhere (a local minimum of Rastrigin, say).
      fmin: the known minimum f* (None if unknown; 0 for a loss that is ≥ 0 and can
        get there, e.g. a cross entropy).
      domain: one ``(lo, hi)`` box per coordinate for plots (1-D and 2-D problems).
      description: one line: the formula and what the problem teaches.
      minima: every known minimiser worth marking on a plot (includes ``argmin``).
      info: problem constants (a quadratic's ``A``, ``b``, ``eigenvalues``; an MLP's
        ``sizes``), read-only.
      init: ``init(key) -> params``: a random start (networks); None for fixed starts.
      data: the data pytree passed to ``loss`` (None: the loss takes params only).
      dtype: the float dtype of the parameters (filled in from ``x0`` or ``init``).
      target: the default "solved" threshold on f − f* (or on f when fmin is None).
      stochastic: the minibatch variant, ``stochastic(params, data, *, key) -> scalar``
        (None: the problem is deterministic). Train with ``key=`` (run) or
        ``stochastic=True`` (sweep).
      evaluate: ``evaluate(params, data) -> dict of scalars`` (e.g. train and test loss
        and accuracy), or None.
    """

    name: str
    loss: Callable[..., jax.Array]
    x0: Any = None
    argmin: Any = None
    fmin: float | None = None
    domain: Domain | None = None
    description: str = ""
    minima: tuple[Any, ...] = ()
    info: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    init: Callable[[jax.Array], Any] | None = None
    data: Any = None
    dtype: Any = None
    target: float | None = None
    stochastic: Callable[..., jax.Array] | None = None
    evaluate: Callable[..., Any] | None = None

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"Problem name must be a non-empty string, got {self.name!r}")
        for field in ("loss", "init", "stochastic", "evaluate"):
            value = getattr(self, field)
            if value is not None and not callable(value):
                raise ValueError(f"Problem {self.name!r}: {field} must be callable, got "
                                 f"{type(value).__name__}")
        if self.loss is None:
            raise ValueError(f"Problem {self.name!r} needs a loss")
        if self.x0 is None and self.init is None:
            raise ValueError(f"Problem {self.name!r} needs x0 (a fixed start) or init(key)")
        for field in ("fmin", "target"):
            value = getattr(self, field)
            if value is not None and not np.isfinite(value):
                raise ValueError(f"Problem {self.name!r}: {field} must be finite, got {value}")
        if self.target is not None and not self.target > 0:
            raise ValueError(f"Problem {self.name!r}: target must be > 0, got {self.target}")
        if self.dtype is None:
            object.__setattr__(self, "dtype", _params_dtype(self.x0, self.init))

    def start(self, key: jax.Array | None = None):
        """The initial params: ``init(key)`` (a key is required), else the fixed ``x0``."""
        if self.init is None:
            return self.x0
        if key is None:
            raise ValueError(f"problem {self.name!r} draws its start: pass key=")
        return self.init(key)

    def value(self, params) -> jax.Array:
        """The full loss at ``params`` on the problem's own data (eager use, not for jit)."""
        return self.loss(params) if self.data is None else self.loss(params, self.data)


def _params_dtype(x0, init):
    if x0 is None:
        x0 = jax.eval_shape(init, jax.random.key(0))
    leaves = [leaf for leaf in jax.tree.leaves(x0)
              if jnp.issubdtype(jnp.result_type(leaf), jnp.floating)]
    if not leaves:
        raise ValueError("a problem's params must contain at least one floating-point array")
    return jnp.dtype(jnp.result_type(*leaves))


# --------------------------------------------------------------------------- helpers


def default_float():
    return jnp.result_type(float)


def point(value) -> jax.Array:
    """A start point or minimiser in JAX's default float dtype."""
    return jnp.asarray(np.asarray(value, dtype=np.float64), dtype=default_float())


def float_input(x, dim: int | None, name: str) -> jax.Array:
    """``x`` as an array of a floating dtype (ints promote to the default float)."""
    x = jnp.asarray(x)
    x = x.astype(jnp.result_type(x, float))
    if dim is not None and (x.ndim < 1 or x.shape[0] != dim):
        raise ValueError(f"{name} takes x of shape ({dim},) or ({dim}, ...), got {x.shape}")
    return x


def box(points: Sequence[np.ndarray], margin: float = 0.25) -> Domain:
    """A square box around ``points`` with a relative margin, for plots."""
    pts = np.stack([np.atleast_1d(np.asarray(p, np.float64)) for p in points])
    center = (pts.max(0) + pts.min(0)) / 2
    half = max((pts.max(0) - pts.min(0)).max() / 2 * (1 + 2 * margin), 1.0)
    return tuple((float(c - half), float(c + half)) for c in center)


def cover(domain: Domain, points: Sequence[np.ndarray]) -> Domain:
    """``domain`` widened (by 10% of its width past the point) to contain ``points``."""
    out = []
    for i, (lo, hi) in enumerate(domain):
        coords = [float(np.atleast_1d(p)[i]) for p in points]
        low, high, pad = min(coords), max(coords), 0.1 * (hi - lo)
        out.append((lo if low >= lo else low - pad, hi if high <= hi else high + pad))
    return tuple(out)


def make(name, loss, *, x0, argmin, fmin, domain, description, minima=None, info=None,
         widen=True, target=1e-6):
    """A ``Problem`` with points in the default float dtype; with ``widen``, the domain
    is widened to contain x0 and the minima."""
    minima = [argmin] if minima is None else list(minima)
    if domain is not None and widen:
        domain = cover(domain, [x0, *minima])
    return Problem(
        name=name,
        loss=loss,
        x0=point(x0),
        argmin=point(argmin),
        fmin=float(fmin),
        domain=domain,
        description=description,
        minima=tuple(point(m) for m in minima),
        info=types.MappingProxyType(dict(info or {})),
        target=target,
    )
