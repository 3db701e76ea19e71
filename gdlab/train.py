"""Training loops: one run as a ``lax.scan``, a sweep as ``vmap`` of runs, one compilation.

A run of ``num_steps`` updates of an optax optimizer records, for every k = 0..num_steps,

    params[k]   the parameters after k updates (params[0] is the start)
    loss[k]     loss_fn(params[k])
    grad_norm[k] ‖∇loss_fn(params[k])‖₂

Divergence is an outcome, not a crash. A run diverges at the first step k whose loss
is non-finite or exceeds ``divergence_factor · max(|loss[0]|, 1)``; from then on the
parameters are frozen at params[k], and loss[j], grad_norm[j] are NaN for j > k.
Summaries (``final_loss``, ``best_loss``) never contain NaN: a diverged run's
``final_loss`` is +inf, and ``status`` says "diverged" with ``diverged_at = k``.

Loss functions come in three shapes, chosen by keywords:

    loss_fn(params)                       the default
    loss_fn(params, data)                 with ``data=``: data is passed as a jit argument,
                                          never closed over (closed-over arrays become
                                          compile-time constants that XLA folds slowly)
    loss_fn(params, [data,] key=key)      with ``key=`` (run) or ``stochastic=True``
                                          (sweep): a fresh key every step, e.g. minibatches

Optimizers whose update needs the loss itself (``optax.lbfgs``'s line search,
``optax.contrib.reduce_on_plateau``) get it: every update is called as
``update(grad, state, params, value=, grad=, value_fn=)``.
"""

import functools
import inspect
import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from gdlab import optimizers as _optimizers

DIVERGENCE_FACTOR = 1e6


# --------------------------------------------------------------------------- results


def _summaries(loss: np.ndarray, diverged_at: np.ndarray):
    """Final and best loss without NaN: +inf for diverged runs, best over finite steps."""
    final = np.where(diverged_at >= 0, np.inf, loss[..., -1])
    finite = np.where(np.isfinite(loss), loss, np.inf)
    return final, finite.min(axis=-1)


def steps_to_target(loss, target: float) -> np.ndarray:
    """First k with loss[..., k] <= target, or -1 where the run never gets there."""
    loss = np.asarray(loss)
    hit = np.isfinite(loss) & (loss <= target)
    return np.where(hit.any(axis=-1), hit.argmax(axis=-1), -1)


@dataclass(frozen=True)
class Trajectory:
    """One run. ``params`` has a leading axis of num_steps + 1 (index k = after k updates)."""

    params: Any
    loss: np.ndarray
    grad_norm: np.ndarray
    final_params: Any
    diverged_at: int | None

    @property
    def status(self) -> str:
        return "ok" if self.diverged_at is None else "diverged"

    @property
    def num_steps(self) -> int:
        return len(self.loss) - 1

    @property
    def final_loss(self) -> float:
        """loss[num_steps], or +inf if the run diverged."""
        return float("inf") if self.diverged_at is not None else float(self.loss[-1])

    @property
    def best_loss(self) -> float:
        """The smallest finite loss seen."""
        finite = self.loss[np.isfinite(self.loss)]
        return float(finite.min()) if finite.size else float("inf")


@dataclass(frozen=True)
class Sweep:
    """Many runs on a grid. Arrays have leading axes ``axes`` (grid names, then "seed").

    ``loss``: (*shape, num_steps + 1); ``diverged_at``: (*shape,), −1 where a run did not
    diverge; ``final_params``: the params pytree with leading axes ``shape``; ``params``:
    the full trajectories when ``record_params=True``, else None.
    """

    axes: tuple[str, ...]
    grid: dict[str, np.ndarray]
    loss: np.ndarray
    grad_norm: np.ndarray
    diverged_at: np.ndarray
    final_params: Any
    params: Any = None
    seeds: np.ndarray | None = None

    @property
    def shape(self) -> tuple[int, ...]:
        return self.diverged_at.shape

    @property
    def status(self) -> np.ndarray:
        """"ok" or "diverged" per run."""
        return np.where(self.diverged_at >= 0, "diverged", "ok")

    @property
    def final_loss(self) -> np.ndarray:
        """loss at the last step; +inf where a run diverged (never NaN)."""
        return _summaries(self.loss, self.diverged_at)[0]

    @property
    def best_loss(self) -> np.ndarray:
        """The smallest finite loss of each run."""
        return _summaries(self.loss, self.diverged_at)[1]


# --------------------------------------------------------------------------- the loop


def _objective(loss_fn, has_data: bool, stochastic: bool):
    """Normalise the three loss shapes to f(params, data, key)."""

    def f(params, data, key, **problem):
        args = (params, data) if has_data else (params,)
        return loss_fn(*args, **problem, key=key) if stochastic else loss_fn(*args, **problem)

    return f


def _simulate(objective, evaluate, optimizer, params, data, key, num_steps, factor, record_params):
    """The scan. Pure: jit it for one run, vmap it for a sweep."""
    optimizer = optax.with_extra_args_support(optimizer)
    value_and_grad = jax.value_and_grad(objective)
    step_key = (lambda k: jax.random.fold_in(key, k)) if key is not None else (lambda k: None)

    def measure(p, k):
        shape = jax.eval_shape(objective, p, data, step_key(k)).shape
        if shape != ():
            raise ValueError(f"loss_fn must return a scalar, got shape {shape}")
        value, grad = value_and_grad(p, data, step_key(k))
        recorded = value if evaluate is None else evaluate(p, data, None)
        return value, grad, recorded

    value, grad, loss0 = measure(params, 0)
    threshold = jnp.inf if factor is None else factor * jnp.maximum(jnp.abs(loss0), 1)
    dead0 = ~jnp.isfinite(loss0)

    def step(carry, k):
        params, state, value, grad, dead, dead_at = carry
        value_fn = functools.partial(lambda p, kk: objective(p, data, step_key(kk)), kk=k)
        updates, new_state = optimizer.update(
            grad, state, params, value=value, grad=grad, value_fn=value_fn
        )
        new_params = optax.apply_updates(params, updates)
        new_value, new_grad, recorded = measure(new_params, k + 1)
        bad = ~jnp.isfinite(recorded) | (jnp.abs(recorded) > threshold)
        dead_at = jnp.where(~dead & bad, k + 1, dead_at)
        keep = lambda old, new: jnp.where(dead, old, new)
        carry = (
            jax.tree.map(keep, params, new_params),
            jax.tree.map(keep, state, new_state),
            keep(value, new_value),
            jax.tree.map(keep, grad, new_grad),
            dead | bad,
            dead_at,
        )
        out = {
            "loss": jnp.where(dead, jnp.nan, recorded),
            "grad_norm": jnp.where(dead, jnp.nan, optax.tree.norm(new_grad)),
        }
        if record_params:
            out["params"] = carry[0]
        return carry, out

    init = (params, optimizer.init(params), value, grad, dead0, jnp.where(dead0, 0, -1))
    (final, *_, dead_at), hist = jax.lax.scan(step, init, jnp.arange(num_steps))
    prepend = lambda first, rest: jnp.concatenate([jnp.asarray(first)[None], rest])
    out = {
        "loss": prepend(loss0, hist["loss"]),
        "grad_norm": prepend(optax.tree.norm(grad), hist["grad_norm"]),
        "final_params": final,
        "diverged_at": dead_at,
    }
    if record_params:
        out["params"] = jax.tree.map(prepend, params, hist["params"])
    return out


def _check_steps(num_steps) -> None:
    if isinstance(num_steps, bool) or not isinstance(num_steps, int | np.integer):
        raise ValueError(f"num_steps must be a positive integer, got {num_steps!r}")
    if num_steps < 1:
        raise ValueError(f"num_steps must be >= 1, got {num_steps}")


def _cached(maker):
    """lru_cache that falls back to no caching for unhashable arguments."""
    cached = functools.lru_cache(maxsize=64)(maker)

    @functools.wraps(maker)
    def wrapper(*args):
        try:
            return cached(*args)
        except TypeError:
            return maker(*args)

    wrapper.cache_clear = cached.cache_clear
    return wrapper


@_cached
def _compiled_run(loss_fn, eval_fn, optimizer, num_steps, has_data, stochastic, factor, record):
    objective = _objective(loss_fn, has_data, stochastic)
    evaluate = None if eval_fn is None else _objective(eval_fn, has_data, False)
    return jax.jit(
        lambda params, data, key: _simulate(
            objective, evaluate, optimizer, params, data, key, num_steps, factor, record
        )
    )


def run(
    loss_fn: Callable,
    params,
    optimizer,
    num_steps: int,
    *,
    data=None,
    key=None,
    eval_fn: Callable | None = None,
    divergence_factor: float | None = DIVERGENCE_FACTOR,
    record_params: bool = True,
) -> Trajectory:
    """Run ``num_steps`` updates of ``optimizer`` on ``loss_fn`` from ``params``.

    Args:
      loss_fn: scalar function of params (see the module docstring for data and keys).
      params: the starting point, any pytree of float arrays; dtypes are kept.
      optimizer: an ``optax.GradientTransformation`` (e.g. from ``optimizers.make``).
      num_steps: number of updates (>= 1).
      data: optional data pytree passed as ``loss_fn(params, data)``.
      key: optional PRNG key; then ``loss_fn(..., key=k_t)`` with a fresh key per step.
      eval_fn: optional function recorded instead of loss_fn (e.g. the noise-free loss).
      divergence_factor: explosion threshold relative to max(|loss[0]|, 1); None: only
        non-finite losses count as divergence.
      record_params: keep every iterate (set False to save memory on long runs).

    Example::

        f = lambda x: 0.5 * 4.0 * x**2
        traj = run(f, jnp.array(1.0), optax.sgd(0.1), 10)
        traj.params[k] == (1 - 0.1 * 4.0) ** k          # the closed form
    """
    _check_steps(num_steps)
    optimizer = _optimizers.resolve(optimizer)
    has_data, stochastic = data is not None, key is not None
    compiled = _compiled_run(
        loss_fn, eval_fn, optimizer, num_steps, has_data, stochastic, divergence_factor,
        record_params,
    )
    out = jax.device_get(compiled(params, data, key))
    dead_at = int(out["diverged_at"])
    return Trajectory(
        params=out.get("params"),
        loss=out["loss"],
        grad_norm=out["grad_norm"],
        final_params=out["final_params"],
        diverged_at=None if dead_at < 0 else dead_at,
    )


# --------------------------------------------------------------------------- sweeps


def _grid_arrays(grid: Mapping, dtype) -> dict[str, np.ndarray]:
    if not isinstance(grid, Mapping) or not grid:
        raise ValueError("grid must be a non-empty dict: hyperparameter name -> 1-D values")
    arrays = {}
    for name, values in grid.items():
        values = np.asarray(values, dtype=dtype)
        if values.ndim != 1 or values.size == 0:
            raise ValueError(f"grid[{name!r}] must be a non-empty 1-D sequence, got {values.shape}")
        if not np.all(np.isfinite(values)):
            raise ValueError(f"grid[{name!r}] contains non-finite values")
        arrays[name] = values
    return arrays


def _seed_array(seeds) -> np.ndarray | None:
    if seeds is None:
        return None
    seeds = np.arange(seeds) if np.isscalar(seeds) else np.asarray(seeds)
    if seeds.ndim != 1 or seeds.size == 0 or seeds.dtype.kind not in "iu":
        raise ValueError(f"seeds must be a positive int or a 1-D sequence of ints, got {seeds!r}")
    return seeds


def _float_dtype(params, init_is_fn: bool):
    if init_is_fn:
        params = jax.eval_shape(lambda: params(jax.random.key(0)))
    leaves = [leaf for leaf in jax.tree.leaves(params) if jnp.issubdtype(leaf.dtype, jnp.floating)]
    if not leaves:
        raise ValueError("params must contain at least one floating-point array")
    return jnp.result_type(*leaves)


def _accepts(fn, name: str) -> bool:
    try:
        parameters = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return True
    return name in parameters or any(p.kind is p.VAR_KEYWORD for p in parameters.values())


def _problem_names(factory, names, loss_fn) -> tuple[str, ...]:
    """Grid names the optimizer does not take go to loss_fn as keyword arguments."""
    problem = tuple(n for n in names if not _accepts(factory, n))
    for name in problem:
        if not _accepts(loss_fn, name):
            valid = [p for p in inspect.signature(factory).parameters]
            raise ValueError(
                f"grid name {name!r} is neither a hyperparameter of the optimizer "
                f"(valid: {', '.join(valid)}) nor a keyword argument of loss_fn"
            )
    return problem


def _static(value) -> bool:
    return value is None or isinstance(value, bool | str | optax.GradientTransformation)


@_cached
def _compiled_sweep(
    loss_fn, eval_fn, factory, names, problem_names, fixed, init_fn, num_steps, has_data,
    stochastic, factor, record,
):
    objective = _objective(loss_fn, has_data, stochastic)
    evaluate = None if eval_fn is None else _objective(eval_fn, has_data, False)
    fixed = dict(fixed)
    static = tuple(k for k, v in fixed.items() if _static(v))
    make = optax.inject_hyperparams(factory, static_args=static)

    def one(values, seed, params, data):
        init_key, run_key = jax.random.split(jax.random.key(seed))
        p0 = init_fn(init_key) if init_fn is not None else params
        point = dict(zip(names, values, strict=True))
        optimizer = make(**fixed, **{k: point[k] for k in names if k not in problem_names})
        problem = {k: point[k] for k in problem_names}
        f = functools.partial(objective, **problem)
        g = None if evaluate is None else functools.partial(evaluate, **problem)
        key = run_key if stochastic else None
        return _simulate(f, g, optimizer, p0, data, key, num_steps, factor, record)

    per_seed = jax.vmap(one, in_axes=(None, 0, None, None))
    return jax.jit(jax.vmap(per_seed, in_axes=(0, None, None, None)))


def sweep(
    loss_fn: Callable,
    params,
    optimizer: str | Callable[..., optax.GradientTransformation],
    grid: Mapping[str, Sequence[float]],
    num_steps: int,
    seeds=None,
    *,
    hyperparameters: Mapping[str, Any] | None = None,
    data=None,
    stochastic: bool = False,
    eval_fn: Callable | None = None,
    divergence_factor: float | None = DIVERGENCE_FACTOR,
    record_params: bool = False,
) -> Sweep:
    """Every point of a hyperparameter grid (and every seed) in one compiled, vmapped call.

    The grid is the outer product of ``grid``'s 1-D value lists, in dict order; the
    swept values enter the optimizer as traced numbers through
    ``optax.inject_hyperparams``, so the sweep compiles once whatever its size.

    Args:
      loss_fn, num_steps, data, eval_fn, divergence_factor: as in ``run``.
      params: the start (shared by all runs), or a function ``init(key) -> params`` for
        random starts (one per seed).
      optimizer: an optimizer name (``optimizers.names()``) or a factory
        ``f(**hyperparameters) -> GradientTransformation``.
      grid: {name: 1-D values}; several names give several axes. Names the optimizer
        does not take are passed to ``loss_fn`` as keyword arguments (traced), so a
        problem parameter (an input, a curvature, a noise level) can be swept in the
        same compiled call as the learning rate.
      seeds: None (no seed axis), a count n (seeds 0..n-1) or a list of ints. Each
        seed's key is split into an init key (for ``init(key)``) and a run key (for
        ``stochastic`` losses).
      hyperparameters: fixed (not swept) hyperparameters, e.g. {"momentum": 0.9}.
      stochastic: call ``loss_fn(..., key=k_t)`` with a fresh key per step.
      record_params: keep every iterate of every run (memory: grid × steps × params).

    Returns:
      A ``Sweep`` whose arrays have leading axes (*grid names, ["seed"]).

    Example::

        sw = sweep(f, x0, "sgd", {"learning_rate": np.geomspace(1e-3, 1, 100)}, 50)
        sw.final_loss.shape == (100,)
    """
    _check_steps(num_steps)
    fixed = dict(hyperparameters or {})
    init_fn = params if callable(params) else None
    dtype = _float_dtype(params, init_fn is not None)
    arrays = _grid_arrays(grid, dtype)
    names = tuple(arrays)
    if isinstance(optimizer, str):
        factory = _optimizers.factory(optimizer)
    elif callable(optimizer):
        factory = optimizer
    else:
        raise ValueError(
            f"optimizer must be a name or a factory, got {optimizer!r}; "
            f"valid names: {', '.join(_optimizers.names())}"
        )
    problem_names = _problem_names(factory, names, loss_fn)
    if isinstance(optimizer, str):
        _optimizers.check_hyperparameters(
            optimizer, {**fixed, **{k: arrays[k] for k in names if k not in problem_names}}
        )
    seed_values = _seed_array(seeds)
    if init_fn is not None and seed_values is None:
        raise ValueError("params is an init function: pass seeds= to say which keys to use")
    if stochastic and seed_values is None:
        raise ValueError("a stochastic loss needs seeds= (one key per seed)")
    seed_array = np.asarray(seed_values if seed_values is not None else [0], dtype=np.uint32)
    points = np.stack([m.ravel() for m in np.meshgrid(*arrays.values(), indexing="ij")], axis=-1)
    has_data = data is not None
    p0 = None if init_fn is not None else params
    compiled = _compiled_sweep(
        loss_fn, eval_fn, factory, names, problem_names, tuple(fixed.items()), init_fn,
        num_steps, has_data, stochastic, divergence_factor, record_params,
    )
    out = jax.device_get(compiled(points, seed_array, p0, data))

    shape = tuple(a.size for a in arrays.values())
    axes = names
    if seed_values is not None:
        shape, axes = shape + (seed_values.size,), names + ("seed",)
    reshape = lambda a: np.reshape(a, shape + np.shape(a)[2:])
    return Sweep(
        axes=axes,
        grid=arrays,
        loss=reshape(out["loss"]),
        grad_norm=reshape(out["grad_norm"]),
        diverged_at=reshape(out["diverged_at"]),
        final_params=jax.tree.map(reshape, out["final_params"]),
        params=jax.tree.map(reshape, out["params"]) if record_params else None,
        seeds=seed_values,
    )


def grid_points(grid: Mapping[str, Sequence[float]]) -> list[dict[str, float]]:
    """The outer product of a grid as a list of dicts, in the order ``sweep`` uses."""
    names = list(grid)
    return [dict(zip(names, values, strict=True)) for values in itertools.product(*grid.values())]
