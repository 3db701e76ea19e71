"""Benches: catalogue problems prepared for the protocol, with a table of starts in their data.

A bench is a ``gdlab.problems.Problem`` plus a start table: ``problem_bench`` turns any
problem (a built-in or a user's ``file.py:NAME``) into one; ``small_bench`` is the fast
path for the 2-D test functions (one compiled loss for all of them) and
``mnist1d_benches`` the full-batch and minibatch MLP of ``problems.mnist1d_mlp``.

Every run of a bench starts at params = 0 and moves a *displacement* d; the actual
start is a row of a table in ``data`` chosen by the keyword ``start`` (row 0 for
tuning, rows 1..S for reruns), so random starts need no random numbers inside the
compiled sweep (threefry doubles XLA's compile time on CPU) and one compiled sweep
serves every start, every bench of a family and every setting. The optimizers here
depend on gradients and values only, not on where the origin is, so moving d from 0
is the same as moving x from the start (AdamW's weight decay would not be).
"""

import dataclasses
import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np


@dataclass(frozen=True, eq=False)
class Bench:
    """A problem prepared for the protocol.

    Attributes:
      name: label in tables and figures.
      loss: ``loss(d, data, *, start[, key])``: the objective at start row ``start``
        displaced by d; one function per family, so benches share compilations.
      params: the zero displacement every run starts from.
      data: the constants (a jit argument), including the table of starts.
      starts: rows in that table (row 0 tunes, rows 1.. rerun).
      fmin: the known minimum (0 for MNIST-1D: cross entropy ≥ 0).
      target: "solved" once f − fmin <= target.
      floor: gaps below it count as equal when tuning.
      stochastic: ``loss`` takes ``key=`` (minibatches).
      eval_fn: recorded instead of ``loss`` (the full-batch loss), same signature.
      x0: the centre of the starts (2-D benches; None otherwise).
      problem: the ``gdlab.problems`` name behind a 2-D bench (contour plots).
    """

    name: str
    loss: Callable
    params: Any
    data: Any
    starts: int
    fmin: float = 0.0
    target: float = 1e-6
    floor: float = 1e-12
    stochastic: bool = False
    eval_fn: Callable | None = None
    x0: np.ndarray | None = None
    problem: str | None = None

    def start_points(self, rows) -> np.ndarray:
        """x₀ + offset of each start row (2-D benches)."""
        return self.x0 + np.asarray(self.data["offsets"])[np.asarray(rows, int)]


def _row(start):
    return jnp.asarray(start).astype(jnp.int32)


SMALL = ("quadratic", "ill_conditioned", "rosenbrock", "beale", "himmelblau", "rastrigin")
"""Problems ``small_bench`` accepts (all 2-D; quadratics take any matrix A)."""


_KINDS = ("quadratic", "rosenbrock", "beale", "himmelblau", "rastrigin")


@functools.cache
def _small_family(kind: str) -> Callable:
    """The loss f(x₀ + offsets[start] + d) of a kind of 2-D problem, constants from data.

    ``kind="any"`` switches on ``data["kind"]`` between all of them: one compilation for
    every 2-D bench (XLA compiles the five branches in about a third of the time it
    takes to compile five separate programs).
    """
    from gdlab import problems

    def quadratic(x, data):
        return 0.5 * x @ (data["A"] @ x)

    def ignoring_data(f):
        return lambda x, data: f(x)

    fns = {"quadratic": quadratic}
    fns.update({name: ignoring_data(problems.get(name).loss) for name in _KINDS[1:]})
    if kind == "any":
        branches = [fns[k] for k in _KINDS]
        f = lambda x, data: jax.lax.switch(data["kind"], branches, x, data)
    else:
        f = fns[kind]

    def loss(d, data, *, start):
        data = jax.tree.map(jnp.asarray, data)
        return f(data["x0"] + data["offsets"][_row(start)] + d, data)

    loss.__doc__ = f"{kind}(x₀ + offsets[start] + d)"
    return loss


def offsets(starts: int, radius: float) -> np.ndarray:
    """Row 0 is 0 (the standard start); row i is radius · N(0, I) drawn from key(i).

    Drawn in float32 and widened, so the table does not depend on the x64 flag.
    """
    rows = [np.zeros(2)] + [
        radius * np.asarray(jax.random.normal(jax.random.key(i), (2,), jnp.float32), np.float64)
        for i in range(1, starts)
    ]
    return np.stack(rows)


def small_bench(problem: str, *, name: str | None = None, A=None, x0=None,
                radius: float = 0.1, starts: int = 6, target: float = 1e-6,
                shared: bool = False) -> Bench:
    """A 2-D problem from ``gdlab.problems`` in float64; reruns start at x₀ + radius·N(0, I).

    Quadratics are ½xᵀAx (minimum 0 at 0) with ``A`` given, else the problem's matrix;
    x₀ defaults to the problem's start. ``shared``: use the loss that switches between
    every 2-D problem, so all shared benches compile once per optimizer.

    Example::

        b = small_bench("rosenbrock")
        b.loss(b.params, b.data, start=0)       # f(-1.2, 1) = 24.2
    """
    from gdlab import problems

    if problem not in SMALL:
        raise ValueError(f"unknown 2-D problem {problem!r}; valid: {', '.join(SMALL)}")
    if starts < 1 or radius < 0:
        raise ValueError(f"need starts >= 1 and radius >= 0, got {starts} and {radius}")
    p = problems.get(problem)
    kind = "quadratic" if problem in ("quadratic", "ill_conditioned") else problem
    x0 = np.asarray(p.x0 if x0 is None else x0, np.float64)
    data = {"x0": x0, "offsets": offsets(starts, radius)}
    if kind == "quadratic" or shared:
        A = np.asarray(p.info.get("A", np.eye(2)) if A is None else A, np.float64)
        if A.shape != (2, 2):
            raise ValueError(f"A must be 2 x 2, got {A.shape}")
        data["A"] = A
    if shared:
        data["kind"] = np.int32(_KINDS.index(kind))
    family = _small_family("any" if shared else kind)
    return Bench(name or problem, family, jnp.zeros(2, jnp.float64), data, starts,
                 fmin=float(p.fmin), target=target, x0=x0, problem=problem)


def rotated_quadratic(kappa: float, *, angle: float = math.pi / 6) -> np.ndarray:
    """A = R diag(1/κ, 1) Rᵀ, R a rotation by ``angle``: eigenvalues 1/κ and 1, κ = cond(A)."""
    if kappa < 1:
        raise ValueError(f"kappa must be >= 1, got {kappa}")
    c, s = math.cos(angle), math.sin(angle)
    r = np.array([[c, -s], [s, c]])
    return r @ np.diag([1 / kappa, 1.0]) @ r.T


def _start_params(table, d, start):
    """Start row ``start`` of the table plus the displacement d (pytrees alike)."""
    return jax.tree.map(lambda rows, x: jnp.asarray(rows)[_row(start)] + x, table, d)


@functools.cache
def _problem_family(loss: Callable, stochastic: Callable | None, has_data: bool):
    """(full, minibatch) losses at starts[start] + d of one problem's functions, built once
    per function objects (the catalogue returns the same ones: one compilation)."""

    def full(d, data, *, start):
        """The problem's full loss at starts[start] + d."""
        params = _start_params(data["starts"], d, start)
        return loss(params, data["data"]) if has_data else loss(params)

    if stochastic is None:
        return full, None

    def minibatch(d, data, *, start, key):
        """The problem's stochastic loss; the stream of batches depends on the start row."""
        params = _start_params(data["starts"], d, start)
        return stochastic(params, data["data"], key=jax.random.fold_in(key, _row(start)))

    return full, minibatch


def _start_table(problem, starts: int, radius: float):
    """Row i: ``init(key(i))``, or x₀ (row 0) and x₀ + radius·N(0, I) drawn from key(i)."""
    if problem.init is not None:
        rows = [problem.init(jax.random.key(i)) for i in range(starts)]
    else:
        x0 = jax.tree.map(jnp.asarray, problem.x0)

        def shifted(i):
            keys = iter(jax.random.split(jax.random.key(i), len(jax.tree.leaves(x0))))
            noise = lambda a: jax.random.normal(next(keys), jnp.shape(a), jnp.float32)
            return jax.tree.map(lambda a: a + radius * noise(a).astype(a.dtype), x0)

        rows = [x0] + [shifted(i) for i in range(1, starts)]
    return jax.tree.map(lambda *r: np.stack([np.asarray(a) for a in r]), *rows), rows[0]


def problem_bench(problem, *, starts: int = 6, radius: float = 0.1,
                  target: float | None = None, name: str | None = None) -> Bench:
    """Any ``gdlab.problems.Problem`` as a bench: its loss at a table of starts.

    Start row i is ``problem.init(key(i))`` for problems that draw their start, else
    x₀ (row 0) and x₀ + radius·N(0, I) drawn from key(i). A problem with a
    ``stochastic`` variant trains on it (minibatches, a stream per start row) and records
    the full loss. "Solved" is f − fmin ≤ ``target`` (default: the problem's target).

    >>> from gdlab import problems
    >>> b = problem_bench(problems.get("rosenbrock"), starts=3)
    >>> float(b.loss(b.params, b.data, start=0))       # f(-1.2, 1)
    24.2
    """
    from gdlab import problems as _problems

    if not isinstance(problem, _problems.Problem):
        raise ValueError(f"problem_bench takes a gdlab.problems.Problem, got "
                         f"{type(problem).__name__}")
    if problem.fmin is None:
        raise ValueError(f"problem {problem.name!r} has no fmin: the comparison scores "
                         f"f − f*; set fmin to the known minimum or a lower bound (0 for a "
                         f"loss that is ≥ 0)")
    if starts < 1 or radius < 0:
        raise ValueError(f"need starts >= 1 and radius >= 0, got {starts} and {radius}")
    full, minibatch = _problem_family(problem.loss, problem.stochastic,
                                      problem.data is not None)
    table, first = _start_table(problem, starts, radius)
    zero = jax.tree.map(jnp.zeros_like, first)
    target = problem.target if target is None else target
    return Bench(
        name or problem.name, full if minibatch is None else minibatch, zero,
        {"starts": table, "data": problem.data}, starts, fmin=float(problem.fmin),
        target=1e-6 if target is None else float(target),
        floor=1e-6 if jnp.dtype(problem.dtype).itemsize < 8 else 1e-12,
        stochastic=minibatch is not None, eval_fn=None if minibatch is None else full,
    )


def mnist1d_benches(*, hidden: int = 32, train_size: int = 4000, batch_size: int = 128,
                    starts: int = 6, target: float = 0.5, seed: int = 0) -> tuple[Bench, Bench]:
    """(full batch, minibatch) benches of ``problems.mnist1d_mlp``: a tanh MLP
    40-hidden-10 on MNIST-1D, float32, Xavier init.

    Start row i is the initialisation drawn from key(i); the minibatch bench also draws
    its batches (with replacement) from a stream that depends on the row. Both record the
    full-batch training cross entropy; ``target`` is a training loss.
    """
    from gdlab import problems

    p = problems.mnist1d_mlp(hidden=hidden, train_size=train_size, batch_size=batch_size,
                             data_seed=seed)
    p = dataclasses.replace(p, data={"x": p.data["x"], "y": p.data["y"]})  # no test split
    return (problem_bench(dataclasses.replace(p, stochastic=None), starts=starts,
                          target=target, name="mnist1d_full"),
            problem_bench(p, starts=starts, target=target, name="mnist1d_minibatch"))


def bench_for(problem: str, *, radius: float = 0.1, starts: int = 6,
              target: float | None = None) -> Bench:
    """The bench ``gdlab compare --problem`` builds: a 2-D test function (the fast shared
    path), "mnist1d"[_minibatch], any other catalogue name, or a reference
    ``module.path:NAME`` / ``path/to/file.py:NAME`` to a user's problem."""
    from gdlab import problems

    extra = {} if target is None else {"target": target}
    if problem in ("mnist1d", "mnist1d_minibatch"):
        full, mini = mnist1d_benches(starts=starts, **extra)
        return full if problem == "mnist1d" else mini
    if problem in SMALL:
        return small_bench(problem, radius=radius, starts=starts, **extra)
    if problem not in problems.names() and not problems.is_reference(problem):
        raise ValueError(f"unknown problem {problem!r}; valid: "
                         f"{', '.join((*SMALL, 'mnist1d', 'mnist1d_minibatch'))}, any of "
                         f"gdlab.problems.names(), or 'module.path:NAME' / 'file.py:NAME'")
    return problem_bench(problems.get(problem), radius=radius, starts=starts, **extra)
