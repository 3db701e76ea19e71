"""Many runs: a vmapped, jitted grid of runs; sharded over devices, chunked, resumable."""

import functools
import inspect
import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from gdlab import optimizers as _optimizers
from gdlab.train import _checkpoint, _checks
from gdlab.train import _instruments as _inst
from gdlab.train._best import Best, best
from gdlab.train._loop import (
    DIVERGENCE_FACTOR,
    cached,
    check_steps,
    objective,
    parse_record,
    simulate,
)


@dataclass(frozen=True)
class Sweep:
    """Many runs on a grid. Arrays have leading axes ``axes`` (grid names, then "seed").

    ``loss``: (*shape, len(steps)), the loss at the recorded ``steps``; ``diverged_at``:
    (*shape,), −1 where a run did not diverge; ``best_loss``: the smallest finite loss
    over every step; ``steps_to_target``: first step at or below ``target`` (−1: never);
    ``final_params``: the params pytree with leading axes ``shape`` (None with
    record="summary"); ``params``: the trajectories when ``record_params=True``.
    """

    axes: tuple[str, ...]
    grid: dict[str, np.ndarray]
    loss: np.ndarray
    grad_norm: np.ndarray | None  # None with record_grad_norm=False
    diverged_at: np.ndarray
    best_loss: np.ndarray
    steps: np.ndarray
    final_params: Any = None
    params: Any = None
    seeds: np.ndarray | None = None
    steps_to_target: np.ndarray | None = None
    chunks_computed: int = 1
    chunks_loaded: int = 0
    instruments: dict | None = None  # name -> (*shape, len(instrument_steps), ...)
    instrument_steps: np.ndarray | None = None

    @property
    def shape(self) -> tuple[int, ...]:
        return self.diverged_at.shape

    @property
    def status(self) -> np.ndarray:
        """"ok" or "diverged" per run."""
        return np.where(self.diverged_at >= 0, "diverged", "ok")

    @property
    def final_loss(self) -> np.ndarray:
        """The loss after the last update; +inf where a run diverged (never NaN)."""
        return np.where(self.diverged_at >= 0, np.inf, self.loss[..., -1])

    def best(self, metric: str = "final_loss", *, reduce=None) -> "Best":
        """The best grid point by ``metric`` ("final_loss", "best_loss" or
        "steps_to_target", where "never" ranks last), the seed axis reduced by the median
        (or ``reduce``), with the grid edges it sits on (see ``gdlab.train.best``)."""
        if metric not in ("final_loss", "best_loss", "steps_to_target"):
            raise ValueError(f"unknown metric {metric!r}; valid: final_loss, best_loss, "
                             "steps_to_target")
        if getattr(self, metric) is None:
            raise ValueError(f"this sweep has no {metric}: pass target= to sweep()")
        values = np.asarray(getattr(self, metric), dtype=float)
        if metric == "steps_to_target":
            values = np.where(values < 0, np.inf, values)
        return best(values, self.grid, reduce=reduce)


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
    if seeds.ndim != 1 or seeds.size == 0 or seeds.dtype.kind not in "iu" or np.any(seeds < 0):
        raise ValueError(f"seeds must be a count or a 1-D sequence of ints >= 0, got {seeds!r}")
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
            valid = list(inspect.signature(factory).parameters)
            raise ValueError(
                f"grid name {name!r} is neither a hyperparameter of the optimizer "
                f"(valid: {', '.join(valid)}) nor a keyword argument of loss_fn"
            )
    return problem


def resolve_factory(optimizer):
    """A name (``optimizers.names()``) or a factory ``f(**hyperparameters)`` -> the factory."""
    if isinstance(optimizer, str):
        return _optimizers.factory(optimizer)  # unknown names: ValueError with the list
    if callable(optimizer):
        return optimizer
    raise ValueError(
        f"optimizer must be a name or a factory, got {optimizer!r}; "
        f"valid names: {', '.join(_optimizers.names())}"
    )


def _static(value) -> bool:
    return value is None or isinstance(value, bool | str | optax.GradientTransformation)


@cached
def _compiled_sweep(
    loss_fn, eval_fn, factory, names, problem_names, fixed, init_fn, num_steps, has_data,
    stochastic, factor, record, target, instruments=None,
):
    f = objective(loss_fn, has_data, stochastic)
    g = None if eval_fn is None else objective(eval_fn, has_data, False)
    fixed = dict(fixed)
    make = optax.inject_hyperparams(factory, static_args=tuple(k for k, v in fixed.items()
                                                                if _static(v)))

    def one(values, seed, params, data):
        if init_fn is not None or stochastic:  # no key arithmetic in sweeps that need none
            init_key, run_key = jax.random.split(jax.random.key(seed))
        p0 = init_fn(init_key) if init_fn is not None else params
        point = dict(zip(names, values, strict=True))
        optimizer = make(**fixed, **{k: point[k] for k in names if k not in problem_names})
        problem = {k: point[k] for k in problem_names}
        fp = functools.partial(f, **problem)
        gp = None if g is None else functools.partial(g, **problem)
        key = run_key if stochastic else None
        out = simulate(fp, gp, optimizer, p0, data, key, num_steps, factor, record, target,
                       freeze=record.every is not None or record.params,
                       instruments=_inst.bind(instruments, problem))
        if record.every is None:  # summaries only: no per-parameter array leaves the device
            out = {k: v for k, v in out.items() if k != "final_params"}
        return out

    def per_point(values, seeds, params, data):
        if seeds.shape[0] == 1:  # one seed: no size-1 batch axis inside the loop
            return jax.tree.map(lambda a: a[None], one(values, seeds[0], params, data))
        return jax.vmap(one, in_axes=(None, 0, None, None))(values, seeds, params, data)

    return jax.jit(jax.vmap(per_point, in_axes=(0, None, None, None)))


def _devices(devices) -> list:
    """The devices a sweep's grid axis is spread over (empty: no sharding)."""
    if devices is False:
        return []
    if devices is None:
        found = jax.devices()
        return found if len(found) > 1 else []
    if isinstance(devices, int) and not isinstance(devices, bool):
        found = jax.devices()
        if not 1 <= devices <= len(found):
            raise ValueError(f"devices={devices}, but {len(found)} device(s) are visible")
        return found[:devices] if devices > 1 else []
    return list(devices) if len(devices) > 1 else []


def _place(points: np.ndarray, devices: list):
    """Put the grid points on the devices, sharded along the grid axis (Auto axis types)."""
    if not devices:
        return points
    mesh = jax.sharding.Mesh(np.array(devices), ("grid",),
                             axis_types=(jax.sharding.AxisType.Auto,))
    sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("grid"))
    return jax.make_array_from_callback(points.shape, sharding, lambda index: points[index])


def _fetch(tree):
    """Device arrays to NumPy, gathering across hosts under jax.distributed."""
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        return multihost_utils.process_allgather(tree, tiled=True)
    return jax.device_get(tree)


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
    record="all",
    record_params: bool = False,
    record_grad_norm: bool = True,
    target: float | None = None,
    devices=None,
    chunk_size: int | None = None,
    checkpoint=None,
    progress: bool = False,
    memory_limit: float | None = None,
    instruments=(),
    instrument_every: int | None = None,
    per_example=None,
    examples=None,
) -> Sweep:
    """Every point of a hyperparameter grid (and every seed) in one compiled, vmapped call.

    The grid is the outer product of ``grid``'s 1-D value lists, in dict order; the
    swept values enter the optimizer as traced numbers through
    ``optax.inject_hyperparams``, so the sweep compiles once whatever its size.

    Args:
      loss_fn, num_steps, data, eval_fn, divergence_factor, record, target: as in ``run``.
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
      record_params: keep every recorded iterate of every run (grid × steps × params).
      record_grad_norm: as in ``run`` (False: ``sw.grad_norm`` is None, not computed).
      devices: None (every visible device if there are several), False (one device),
        an int n (the first n) or a list of devices. The grid axis is sharded over a
        ``Mesh`` with Auto axis types, padded to a multiple of the device count.
      chunk_size: at most this many grid points per compiled call (rounded up to a
        multiple of the device count); every chunk has the same shape, so one
        compilation serves them all. None: one chunk.
      checkpoint: a folder; each finished chunk is written there atomically, and a
        rerun of the same sweep resumes from the missing chunks (a different
        configuration is refused with a ValueError naming what differs).
      progress: show a progress bar over chunks.
      memory_limit: refuse (ValueError, before compiling) a sweep whose recorded
        outputs are estimated above this many bytes (None: 2 GiB).
      instruments, instrument_every, per_example, examples: as in ``run``; every lane
        records them (``sw.instruments[name]``: (*shape, len(sw.instrument_steps), ...)),
        in the same single compilation.

    Returns:
      A ``Sweep`` whose arrays have leading axes (*grid names, ["seed"]).

    Example::

        sw = sweep(f, x0, "sgd", {"learning_rate": np.geomspace(1e-3, 1, 100)}, 50)
        sw.final_loss.shape == (100,)
    """
    check_steps(num_steps)
    _checks.seeds(seeds)
    _checks.divergence_factor(divergence_factor)
    _checks.target(target)
    policy = parse_record(record, num_steps, record_params, record_grad_norm)
    probes = _inst.parse(instruments, instrument_every, per_example, examples, policy, num_steps)
    fixed = dict(hyperparameters or {})
    init_fn = params if callable(params) else None
    arrays = _grid_arrays(grid, _float_dtype(params, init_fn is not None))
    names = tuple(arrays)
    factory = resolve_factory(optimizer)
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
    _checks.memory("sweep", math.prod(a.size for a in arrays.values()) * seed_array.size,
                   num_steps, policy, params, memory_limit, probes)
    points = np.stack([m.ravel() for m in np.meshgrid(*arrays.values(), indexing="ij")], axis=-1)
    p0 = None if init_fn is not None else params

    compiled = _compiled_sweep(
        loss_fn, eval_fn, factory, names, problem_names, tuple(fixed.items()), init_fn,
        num_steps, data is not None, stochastic, divergence_factor, policy, target,
        *(() if probes is None else (probes,)),
    )
    stamp = None
    if checkpoint is not None:
        stamp = functools.partial(
            _checkpoint.fingerprint, loss_fn=loss_fn, eval_fn=eval_fn, optimizer=optimizer,
            grid=arrays, seeds=seed_array, params=params, data=data,
            settings={"num_steps": num_steps,
                      "record": [policy.every, policy.params, policy.grad_norm],
                      "fixed": repr(sorted(fixed.items())), "stochastic": stochastic,
                      "divergence_factor": divergence_factor, "target": target,
                      "seeded": seed_values is not None, "chunk_size": chunk_size,
                      **({} if probes is None else {"instruments": [
                          list(probes.names), probes.every, probes.lanczos_steps,
                          probes.warm_start]})},
        )
    out, computed, loaded = _run_chunks(
        compiled, points, seed_array, p0, data, _devices(devices), chunk_size, progress, stamp,
        checkpoint,
    )

    shape = tuple(a.size for a in arrays.values())
    axes = names
    if seed_values is not None:
        shape, axes = shape + (seed_values.size,), names + ("seed",)
    reshape = lambda a: np.reshape(a, shape + np.shape(a)[2:])
    return Sweep(
        axes=axes,
        grid=arrays,
        loss=reshape(out["loss"]),
        grad_norm=reshape(out["grad_norm"]) if policy.grad_norm else None,
        diverged_at=reshape(out["diverged_at"]),
        best_loss=reshape(out["best_loss"]),
        steps=policy.steps(num_steps),
        final_params=None if policy.every is None else jax.tree.map(reshape, out["final_params"]),
        params=jax.tree.map(reshape, out["params"]) if policy.params else None,
        seeds=seed_values,
        steps_to_target=reshape(out["steps_to_target"]) if target is not None else None,
        chunks_computed=computed,
        chunks_loaded=loaded,
        instruments=None if probes is None else jax.tree.map(reshape, out["instruments"]),
        instrument_steps=None if probes is None else probes.steps(num_steps),
    )


def _run_chunks(compiled, points, seeds, p0, data, devices, chunk_size, progress, stamp,
                checkpoint):
    """Evaluate the grid in equal chunks; returns (outputs, chunks computed, chunks loaded)."""
    total = len(points)
    multiple = max(len(devices), 1)
    if chunk_size is not None and (isinstance(chunk_size, bool) or
                                   not isinstance(chunk_size, int) or chunk_size < 1):
        raise ValueError(f"chunk_size must be a positive int or None, got {chunk_size!r}")
    size = min(chunk_size or total, total)
    size = -(-size // multiple) * multiple
    num_chunks = -(-total // size)
    padded = np.concatenate([points, np.repeat(points[-1:], num_chunks * size - total, axis=0)])
    structure = jax.eval_shape(compiled, padded[:size], seeds, p0, data)
    leaves_def = jax.tree.structure(structure)
    folder = None
    if checkpoint is not None:
        folder = _checkpoint.open_folder(checkpoint, stamp(), num_chunks)

    pieces, computed, loaded = [], 0, 0
    indices = range(num_chunks)
    if progress and num_chunks > 1:
        from tqdm import tqdm

        indices = tqdm(indices, desc="sweep", unit="chunk")
    for index in indices:
        leaves = None
        if folder is not None:
            leaves = _checkpoint.load_chunk(folder, index, jax.tree.leaves(structure))
        if leaves is None:
            chunk = _place(padded[index * size:(index + 1) * size], devices)
            leaves = jax.tree.leaves(_fetch(compiled(chunk, seeds, p0, data)))
            computed += 1
            if folder is not None and jax.process_index() == 0:  # one writer per sweep
                _checkpoint.save_chunk(folder, index, leaves)
        else:
            loaded += 1
        pieces.append(leaves)
    joined = [np.concatenate(parts)[:total] for parts in zip(*pieces, strict=True)]
    return jax.tree.unflatten(leaves_def, joined), computed, loaded


def grid_points(grid: Mapping[str, Sequence[float]]) -> list[dict[str, float]]:
    """The outer product of a grid as a list of dicts, in the order ``sweep`` uses."""
    names = list(grid)
    return [dict(zip(names, values, strict=True)) for values in itertools.product(*grid.values())]
