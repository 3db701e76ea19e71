"""Objectives with known answers: the test bench of the lab.

A ``Problem`` bundles a loss with its start point and its known minimiser::

    p = get("rosenbrock")
    p.loss(p.x0), p.argmin, p.fmin        # f(x₀), x*, f(x*)

========================  ==================================================  ===========
name                      f(x)                                                minimum
========================  ==================================================  ===========
``"quadratic"``           ½ xᵀAx − bᵀx  (A symmetric positive definite)       A⁻¹b
``"ill_conditioned"``     0.1 x₁² + 2 x₂² = ½ xᵀ diag(0.2, 4) x  (κ = 20)      (0, 0)
``"rosenbrock"``          (a − x₁)² + b (x₂ − x₁²)²,  a = 1, b = 100          (1, 1)
``"beale"``               Σ_i (c_i − x₁ + x₁ x₂^i)²,  c = 1.5, 2.25, 2.625    (3, 0.5)
``"himmelblau"``          (x₁² + x₂ − 11)² + (x₁ + x₂² − 7)²                  (3, 2) + 3
``"rastrigin"``           20 + Σ_i (x_i² − 10 cos 2πx_i)                      (0, 0)
``"x_cos"``               x cos(c x),  c = 0.15π,  on [−10, 10]               7.2694
``"x_squared"``           x²                                                  0
========================  ==================================================  ===========

Conventions:

* n-D losses take ``x`` of shape ``(n,)``; 1-D problems ("x_cos", "x_squared") take a
  scalar (shape ``()``). Every loss also accepts a grid ``(n, ...)`` (or ``(...)`` in
  1-D) and returns the values ``(...)``, so ``loss(jnp.stack([X, Y]))`` draws contours.
* ``x0`` and ``argmin`` are made in JAX's default float dtype when the problem is
  built (float64 under ``jax_enable_x64``); ``fmin`` is a Python float. Losses keep
  the dtype of ``x``: float32 in, float32 out.
"""

import dataclasses
import inspect
import math
import types
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

Domain = tuple[tuple[float, float], ...]


@dataclasses.dataclass(frozen=True, eq=False)
class Problem:
    """An objective with a known answer.

    Attributes:
      name: registry name.
      loss: ``loss(x) -> scalar``, a pure jnp function (see the module notes on shapes).
      x0: the standard start point.
      argmin: a global minimiser (on ``domain`` for "x_cos"); where there are several
        (Himmelblau), the one the builder's docstring names. For non-convex problems
        gradient descent may well stop elsewhere, e.g. in a local minimum of Rastrigin.
      fmin: ``loss(argmin)``.
      domain: one ``(lo, hi)`` interval per coordinate, the box for plots (and the
        search box of "x_cos"); ``None`` above two dimensions.
      description: one line: the formula and what the problem teaches.
      minima: every known minimiser worth marking on a plot (includes ``argmin``).
      info: problem constants, e.g. ``A``, ``b``, ``eigenvalues`` of a quadratic
        (NumPy float64).
    """

    name: str
    loss: Callable[[jax.Array], jax.Array]
    x0: jax.Array
    argmin: jax.Array
    fmin: float
    domain: Domain | None = None
    description: str = ""
    minima: tuple[jax.Array, ...] = ()
    info: Mapping[str, Any] = dataclasses.field(default_factory=dict)


def _default_float():
    return jnp.result_type(float)


def _point(value) -> jax.Array:
    """A start point or minimiser in JAX's default float dtype."""
    return jnp.asarray(np.asarray(value, dtype=np.float64), dtype=_default_float())


def _float_input(x, dim: int | None, name: str) -> jax.Array:
    """``x`` as an array of a floating dtype (ints promote to the default float)."""
    x = jnp.asarray(x)
    x = x.astype(jnp.result_type(x, float))
    if dim is not None and (x.ndim < 1 or x.shape[0] != dim):
        raise ValueError(f"{name} takes x of shape ({dim},) or ({dim}, ...), got {x.shape}")
    return x


def _box(points: Sequence[np.ndarray], margin: float = 0.25) -> Domain:
    """A square box around ``points`` with a relative margin, for plots."""
    pts = np.stack([np.atleast_1d(np.asarray(p, np.float64)) for p in points])
    center = (pts.max(0) + pts.min(0)) / 2
    half = max((pts.max(0) - pts.min(0)).max() / 2 * (1 + 2 * margin), 1.0)
    return tuple((float(c - half), float(c + half)) for c in center)


def _cover(domain: Domain, points: Sequence[np.ndarray]) -> Domain:
    """``domain`` widened (by 10% of its width past the point) to contain ``points``."""
    out = []
    for i, (lo, hi) in enumerate(domain):
        coords = [float(np.atleast_1d(p)[i]) for p in points]
        low, high, pad = min(coords), max(coords), 0.1 * (hi - lo)
        out.append((lo if low >= lo else low - pad, hi if high <= hi else high + pad))
    return tuple(out)


def _make(name, loss, *, x0, argmin, fmin, domain, description, minima=None, info=None, cover=True):
    """A ``Problem`` with points in the default float dtype; with ``cover``, the domain
    is widened to contain x0 and the minima."""
    minima = [argmin] if minima is None else list(minima)
    if domain is not None and cover:
        domain = _cover(domain, [x0, *minima])
    return Problem(
        name=name,
        loss=loss,
        x0=_point(x0),
        argmin=_point(argmin),
        fmin=float(fmin),
        domain=domain,
        description=description,
        minima=tuple(_point(m) for m in minima),
        info=types.MappingProxyType(dict(info or {})),
    )


# --------------------------------------------------------------------------- quadratics


def _rotation(n: int, angle: float | None, key: jax.Array | None) -> np.ndarray:
    if angle is not None and key is not None:
        raise ValueError("pass at most one of angle (2-D) and key (random rotation)")
    if angle is not None:
        if n != 2:
            raise ValueError(f"angle rotates 2-D quadratics only, got {n} eigenvalues")
        c, s = math.cos(angle), math.sin(angle)
        return np.array([[c, -s], [s, c]])
    if key is not None:
        # Haar-random orthogonal: QR of a Gaussian matrix, signs fixed by diag(R).
        # Drawn in float32 so the rotation does not depend on the x64 flag.
        g = np.asarray(jax.random.normal(key, (n, n), jnp.float32), np.float64)
        q, r = np.linalg.qr(g)
        return q * np.sign(np.diag(r))
    return np.eye(n)


def quadratic(
    eigenvalues: Sequence[float] | None = None,
    *,
    A=None,
    b=None,
    x0=None,
    angle: float | None = None,
    key: jax.Array | None = None,
) -> Problem:
    """The quadratic f(x) = ½ xᵀAx − bᵀx, with x* = A⁻¹b and f* = −½ bᵀA⁻¹b.

    The Hessian is A everywhere, so gradient descent with step α converges iff
    α < 2/λ_max(A), and its speed is set by the condition number λ_max/λ_min.

    Args:
      eigenvalues: eigenvalues of A (all > 0); A = Q diag(λ) Qᵀ with Q the identity
        (diagonal A) unless ``angle`` or ``key`` rotates it. Default (1, 10).
      A: a symmetric positive definite matrix instead of ``eigenvalues``.
      b: the linear term (default zero, so x* = 0).
      x0: start point (default x* + (1, …, 1)).
      angle: rotate a 2-D quadratic by this angle (radians): Q = [[c, −s], [s, c]].
      key: rotate by a Haar-random orthogonal Q drawn from this key (any n).

    ``info`` holds ``A``, ``b``, ``eigenvalues`` (ascending) and ``condition_number``.

    Example::

        q = quadratic(eigenvalues=[0.01, 0.1, 1.0])
        q.loss(q.argmin) == q.fmin        # 0.0
    """
    if A is not None:
        if eigenvalues is not None or angle is not None or key is not None:
            raise ValueError("pass either A or eigenvalues (with an optional rotation)")
        A = np.asarray(A, np.float64)
        if A.ndim != 2 or A.shape[0] != A.shape[1] or A.shape[0] == 0:
            raise ValueError(f"A must be a square matrix, got shape {A.shape}")
        if not np.allclose(A, A.T, rtol=1e-12, atol=1e-12 * np.abs(A).max()):
            raise ValueError("A must be symmetric")
        A = (A + A.T) / 2
        lam = np.linalg.eigvalsh(A)
    else:
        lam = np.asarray((1.0, 10.0) if eigenvalues is None else eigenvalues, np.float64)
        if lam.ndim != 1 or lam.size == 0:
            raise ValueError(f"eigenvalues must be a non-empty 1-D sequence, got {lam!r}")
        q = _rotation(lam.size, angle, key)
        A = q @ np.diag(lam) @ q.T
        A = (A + A.T) / 2
    if not (np.all(np.isfinite(lam)) and lam.min() > 0):
        raise ValueError(f"A must be positive definite; eigenvalues {np.sort(lam)}")
    n = A.shape[0]
    b = np.zeros(n) if b is None else np.asarray(b, np.float64)
    if b.shape != (n,):
        raise ValueError(f"b must have shape ({n},), got {b.shape}")
    argmin = np.linalg.solve(A, b)
    x0 = argmin + 1.0 if x0 is None else np.asarray(x0, np.float64)
    if x0.shape != (n,):
        raise ValueError(f"x0 must have shape ({n},), got {x0.shape}")
    A_ro, b_ro = A.copy(), b.copy()
    A_ro.flags.writeable = b_ro.flags.writeable = False

    def loss(x):
        x = _float_input(x, n, "quadratic")
        A_x = jnp.asarray(A_ro, x.dtype)
        b_x = jnp.asarray(b_ro, x.dtype)
        return 0.5 * jnp.sum(x * jnp.tensordot(A_x, x, axes=1), axis=0) - jnp.tensordot(
            b_x, x, axes=1
        )

    lam = np.sort(lam)
    lam.flags.writeable = False
    return _make(
        "quadratic",
        loss,
        x0=x0,
        argmin=argmin,
        fmin=-0.5 * b @ argmin,
        domain=_box([x0, argmin]) if n <= 2 else None,
        description=f"½xᵀAx − bᵀx in {n}-D, eigenvalues {lam[0]:.3g}…{lam[-1]:.3g} "
        f"(condition number {lam[-1] / lam[0]:.3g})",
        info={
            "A": A_ro,
            "b": b_ro,
            "eigenvalues": lam,
            "condition_number": float(lam[-1] / lam[0]),
        },
    )


def ill_conditioned(*, x0=(-5.0, -2.0)) -> Problem:
    """f(x) = 0.1 x₁² + 2 x₂² = ½ xᵀ diag(0.2, 4) x: curvatures 0.2 and 4, κ = 20.

    Gradient descent converges iff α < 2/4 = 0.5 and crawls along x₁ (factor
    1 − 0.2α per step) while it zig-zags along x₂ (factor 1 − 4α). The start
    (−5, −2) is the one of d2l's gradient-descent chapter.
    """
    q = quadratic(eigenvalues=(0.2, 4.0), x0=x0)
    return dataclasses.replace(
        q,
        name="ill_conditioned",
        domain=_cover(((-5.5, 5.5), (-3.0, 3.0)), [q.x0, q.argmin]),
        description="0.1·x1² + 2·x2² (Hessian eigenvalues 0.2 and 4, condition number 20)",
    )


# --------------------------------------------------------------------------- classics


def rosenbrock(*, a: float = 1.0, b: float = 100.0, x0=(-1.2, 1.0)) -> Problem:
    """Rosenbrock's banana: f(x) = (a − x₁)² + b (x₂ − x₁²)², min 0 at (a, a²).

    A curved narrow valley: the gradient points across it, not along it. The start
    (−1.2, 1) is Rosenbrock's (1960).
    """
    a, b = float(a), float(b)

    def loss(x):
        x = _float_input(x, 2, "rosenbrock")
        return (a - x[0]) ** 2 + b * (x[1] - x[0] ** 2) ** 2

    return _make(
        "rosenbrock",
        loss,
        x0=x0,
        argmin=(a, a * a),
        fmin=0.0,
        domain=((-2.0, 2.0), (-1.0, 3.0)),
        description=f"(a − x1)² + b(x2 − x1²)², a={a:g}, b={b:g}: a curved narrow valley",
    )


def beale(*, x0=(1.0, 1.5)) -> Problem:
    """Beale's function, min 0 at (3, 0.5):

    f(x) = (1.5 − x₁ + x₁x₂)² + (2.25 − x₁ + x₁x₂²)² + (2.625 − x₁ + x₁x₂³)².

    Flat plateaus and sharp ridges; from (1, 1.5) gradient descent reaches (3, 0.5).
    """

    def loss(x):
        x = _float_input(x, 2, "beale")
        x1, x2 = x[0], x[1]
        return (
            (1.5 - x1 + x1 * x2) ** 2
            + (2.25 - x1 + x1 * x2**2) ** 2
            + (2.625 - x1 + x1 * x2**3) ** 2
        )

    return _make(
        "beale",
        loss,
        x0=x0,
        argmin=(3.0, 0.5),
        fmin=0.0,
        domain=((-4.5, 4.5), (-4.5, 4.5)),
        description="Beale: plateaus and steep ridges, minimum 0 at (3, 0.5)",
    )


HIMMELBLAU_MINIMA = (
    (3.0, 2.0),
    (-2.805118086952745, 3.131312518250573),
    (-3.779310253377747, -3.2831859912861696),
    (3.5844283403304917, -1.8481265269644034),
)
"""The four global minima of Himmelblau's function (all with f = 0; Newton-refined)."""


def himmelblau(*, x0=(0.0, 0.0)) -> Problem:
    """Himmelblau's function f(x) = (x₁² + x₂ − 11)² + (x₁ + x₂² − 7)².

    Four global minima, all f = 0 (``HIMMELBLAU_MINIMA``, also in ``minima``); which
    one an optimiser finds depends on the start. ``argmin`` is (3, 2), the one
    gradient descent with a small step reaches from (0, 0).
    """

    def loss(x):
        x = _float_input(x, 2, "himmelblau")
        return (x[0] ** 2 + x[1] - 11) ** 2 + (x[0] + x[1] ** 2 - 7) ** 2

    return _make(
        "himmelblau",
        loss,
        x0=x0,
        argmin=HIMMELBLAU_MINIMA[0],
        fmin=0.0,
        domain=((-5.0, 5.0), (-5.0, 5.0)),
        description="Himmelblau: four global minima (f = 0); the start picks which",
        minima=HIMMELBLAU_MINIMA,
    )


def rastrigin(*, amplitude: float = 10.0, x0=(2.2, -1.8)) -> Problem:
    """Rastrigin's function in 2-D: f(x) = 2A + Σ_i (x_i² − A cos 2πx_i), A = 10.

    A bowl covered in local minima near every integer point; the global minimum is
    0 at the origin. Gradient descent stops in the nearest local minimum.
    """
    amp = float(amplitude)

    def loss(x):
        x = _float_input(x, 2, "rastrigin")
        return 2 * amp + jnp.sum(x**2 - amp * jnp.cos(2 * jnp.pi * x), axis=0)

    return _make(
        "rastrigin",
        loss,
        x0=x0,
        argmin=(0.0, 0.0),
        fmin=0.0,
        domain=((-5.12, 5.12), (-5.12, 5.12)),
        description=f"Rastrigin (A={amp:g}): a bowl of local minima, global minimum 0 at 0",
    )


# --------------------------------------------------------------------------- 1-D


def _local_minima_1d(f, df, d2f, lo, hi, num=20001):
    """Interior local minima of f on [lo, hi]: a dense grid, then Newton on f'."""
    xs = np.linspace(lo, hi, num)
    fx = f(xs)
    idx = np.nonzero((fx[1:-1] < fx[:-2]) & (fx[1:-1] <= fx[2:]))[0] + 1
    found = []
    for x in xs[idx]:
        for _ in range(50):
            x = x - df(x) / d2f(x)
        if lo < x < hi and d2f(x) > 0 and abs(df(x)) < 1e-10 * max(1.0, abs(x)):
            if not any(abs(x - y) < 1e-8 for y in found):
                found.append(float(x))
    return sorted(found)


def x_cos(c: float = 0.15 * math.pi, *, x0: float = 10.0, domain=(-10.0, 10.0)) -> Problem:
    """f(x) = x cos(c x) on a bounded interval: non-convex, with local minima.

    The example of d2l's gradient-descent chapter (c = 0.15π, x₀ = 10). ``minima``
    are all interior local minima on ``domain`` (a dense grid refined by Newton's
    method on f'(x) = cos(cx) − c x sin(cx)); ``argmin`` is the lowest of them.
    For the defaults that is x* ≈ 7.2694, f* ≈ −6.9781: the global minimum on
    [−10, 10] and the local minimum gradient descent with a small step reaches from
    x₀ = 10; the other one is x ≈ −1.8257 (f ≈ −1.1907).
    """
    c = float(c)
    lo, hi = (float(v) for v in domain)
    if not lo < hi:
        raise ValueError(f"domain must be (lo, hi) with lo < hi, got {domain!r}")
    minima = _local_minima_1d(
        lambda x: x * np.cos(c * x),
        lambda x: np.cos(c * x) - c * x * np.sin(c * x),
        lambda x: -2 * c * np.sin(c * x) - c * c * x * np.cos(c * x),
        lo,
        hi,
    )
    if not minima:
        raise ValueError(f"x·cos({c:g}·x) has no interior local minimum on {domain}")
    best = min(minima, key=lambda x: x * math.cos(c * x))

    def loss(x):
        x = _float_input(x, None, "x_cos")
        return x * jnp.cos(c * x)

    return _make(
        "x_cos",
        loss,
        x0=x0,
        argmin=best,
        fmin=best * math.cos(c * best),
        domain=((lo, hi),),
        description=f"x·cos({c:.4g}·x) on [{lo:g}, {hi:g}]: non-convex, {len(minima)} local minima",
        minima=minima,
        info={"c": c},
        cover=False,  # the domain is the search box: keep it as given
    )


def x_squared(*, x0: float = 10.0) -> Problem:
    """f(x) = x², min 0 at 0: the learning-rate lesson.

    f'(x) = 2x, so a step is x ← (1 − 2α) x: slow for small α, one step for α = ½,
    oscillating for ½ < α < 1, stuck bouncing at α = 1 and diverging for α > 1.
    """

    def loss(x):
        x = _float_input(x, None, "x_squared")
        return x**2

    half = 1.2 * max(abs(float(x0)), 1.0)
    return _make(
        "x_squared",
        loss,
        x0=x0,
        argmin=0.0,
        fmin=0.0,
        domain=((-half, half),),
        description="x²: the step x ← (1 − 2α)x converges iff 0 < α < 1",
    )


# --------------------------------------------------------------------------- registry

_BUILDERS: dict[str, Callable[..., Problem]] = {
    "quadratic": quadratic,
    "ill_conditioned": ill_conditioned,
    "rosenbrock": rosenbrock,
    "beale": beale,
    "himmelblau": himmelblau,
    "rastrigin": rastrigin,
    "x_cos": x_cos,
    "x_squared": x_squared,
}


def names() -> list[str]:
    """Names ``get`` accepts, sorted."""
    return sorted(_BUILDERS)


def get(name: str, **kwargs) -> Problem:
    """The problem called ``name``, built with ``kwargs`` (see its builder).

    Example: ``get("rosenbrock", x0=(0.0, 0.0))``, ``get("quadratic", eigenvalues=[1, 4])``.
    """
    try:
        builder = _BUILDERS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown problem {name!r}; valid: {', '.join(names())}") from None
    signature = inspect.signature(builder)
    try:
        signature.bind(**kwargs)
    except TypeError:
        raise ValueError(
            f"bad arguments {sorted(kwargs)} for problem {name!r}; "
            f"valid: {', '.join(signature.parameters)}"
        ) from None
    return builder(**kwargs)


__all__ = [
    "HIMMELBLAU_MINIMA",
    "Problem",
    "beale",
    "get",
    "himmelblau",
    "ill_conditioned",
    "names",
    "quadratic",
    "rastrigin",
    "rosenbrock",
    "x_cos",
    "x_squared",
]
