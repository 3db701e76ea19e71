"""Tune on start 0, rerun the winner on starts 1..S, summarise with medians and IQRs."""

import functools
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jax
import numpy as np

from gdlab import solvers, train
from gdlab.compare._benches import Bench
from gdlab.compare._specs import Spec, factory, spec, tuning_grid

_counted_lock = threading.Lock()


@functools.cache
def _counted_once(fn):
    return None if fn is None else solvers.counted(fn)


def _counted(fn):
    """The counted loss of ``fn``, the same object on every call, from any thread (the
    compiled sweeps are cached by it: two copies would compile the same program twice)."""
    with _counted_lock:
        return _counted_once(fn)


def _sweep(bench: Bench, s: Spec, grid: dict, num_steps: int, record: bool):
    """One compiled sweep: grid = hyperparameters, then "start" (and "seed" for ES/GA)."""
    swept = tuple(k for k in grid if k != "start")
    fixed = tuple(sorted((k, v) for k, v in s.fixed.items() if k not in grid))
    return train.sweep(
        _counted(bench.loss), solvers.with_count(bench.params), factory(s.name, swept, fixed),
        grid, num_steps, [0] if bench.stochastic else None, data=bench.data,
        stochastic=bench.stochastic, eval_fn=_counted(bench.eval_fn), record_params=record,
    )


def _grid(s: Spec, hyperparameters: Mapping, rows: np.ndarray) -> dict:
    grid = {k: np.atleast_1d(np.asarray(v, float)) for k, v in hyperparameters.items()}
    grid["start"] = rows.astype(float)
    if s.seeded:
        grid["seed"] = rows.astype(float)
    return grid


def _by_run(a, n: int, s: Spec, stochastic: bool) -> np.ndarray:
    """(*hp, start, [seed], [key seed], ...) -> (*hp, run, ...); run i = start i (and seed i).

    ES and GA have their own seed as a grid axis; run i pairs start i with seed i
    (the diagonal), not every combination.
    """
    a = np.asarray(a)
    if stochastic:
        a = np.take(a, 0, axis=n + (2 if s.seeded else 1))
    if s.seeded:
        a = np.moveaxis(np.diagonal(a, axis1=n, axis2=n + 1), -1, n)
    return a


def score(gap: np.ndarray, diverged_at: np.ndarray, floor: float) -> np.ndarray:
    """Tuning score: mean_k log10(max(gap_k, floor)); +inf for diverged runs. Lower wins.

    It rewards a low loss *early* (the area under the log-gap curve) and ties runs
    once they are below ``floor``.
    """
    gap = np.where(np.isfinite(gap), gap, np.inf)
    value = np.mean(np.log10(np.maximum(gap, floor)), axis=-1)
    return np.where((np.asarray(diverged_at) >= 0) | ~np.isfinite(value), np.inf, value)


@dataclass(frozen=True)
class Tuning:
    """The tuning runs on start 0: the grid, each point's score, and the winner."""

    grid: dict[str, np.ndarray]
    scores: np.ndarray
    best: dict[str, float]
    diverged: int


@dataclass(frozen=True)
class Runs:
    """The reruns of one setting; arrays have a leading run axis (one per start).

    ``gap``: f − fmin per step (NaN after divergence); ``evaluations``: cumulative
    evaluations per step; ``points``: 2-D benches only, the iterates x₀ + offset + d;
    ``displacements``: the params d at every step (a pytree, leading axes run, step);
    ``seconds``: wall-clock per run without compilation (None if not timed).
    """

    hyperparameters: dict[str, float]
    starts: np.ndarray
    gap: np.ndarray
    evaluations: np.ndarray
    diverged_at: np.ndarray
    points: np.ndarray | None
    final_params: Any
    seconds: float | None
    displacements: Any = None


def _views(bench: Bench, s: Spec, sw, n: int):
    by_run = functools.partial(_by_run, n=n, s=s, stochastic=bench.stochastic)
    gap = by_run(np.asarray(sw.loss, np.float64) - bench.fmin)
    return by_run, gap, by_run(sw.diverged_at)


def _tuning(bench: Bench, s: Spec, sw, hp_grid: dict) -> Tuning:
    by_run, gap, dead = _views(bench, s, sw, len(hp_grid))
    scores = score(gap[..., 0, :], dead[..., 0], bench.floor)
    index = np.unravel_index(int(np.argmin(scores)), scores.shape)  # ties: the first
    best = {k: float(v[i]) for (k, v), i in zip(hp_grid.items(), index, strict=True)}
    return Tuning(hp_grid, scores, best, int(np.sum(dead[..., 0] >= 0)))


def _runs(bench: Bench, s: Spec, sw, hp: dict, at: tuple, positions: np.ndarray,
          rows: np.ndarray, seconds) -> Runs:
    """The runs at grid index ``at`` and run ``positions``, which started from ``rows``."""
    by_run, gap, dead = _views(bench, s, sw, len(hp))
    pick = lambda a: a[at][positions]
    displacements = jax.tree.map(lambda a: pick(by_run(a)), sw.params.params)
    points = None
    if bench.x0 is not None:
        points = displacements + bench.start_points(rows)[:, None, :]
    final = jax.tree.map(lambda a: pick(by_run(a)), sw.final_params.params)
    return Runs({k: float(v) for k, v in hp.items()}, rows, pick(gap),
                pick(by_run(sw.params.evaluations)), pick(dead), points, final, seconds,
                displacements)


def _check_rows(bench: Bench, seeds) -> np.ndarray:
    rows = np.asarray(seeds, int)
    if rows.ndim != 1 or rows.size == 0 or rows.min() < 1 or rows.max() >= bench.starts:
        raise ValueError(f"{bench.name} has starts 1..{bench.starts - 1} for reruns "
                         f"(0 is the tuning start), got {list(rows)}")
    return rows


def tune(bench: Bench, s: Spec, steps: Sequence[float], num_steps: int) -> Tuning:
    """Sweep the tuning grid on start 0 (one compiled call); the lowest score wins."""
    hp_grid = tuning_grid(s, steps)
    sw = _sweep(bench, s, _grid(s, hp_grid, np.array([0])), num_steps, record=False)
    return _tuning(bench, s, sw, hp_grid)


def _timed_sweep(bench: Bench, s: Spec, grid: dict, num_steps: int, timed: bool):
    """The recorded sweep, and with ``timed`` the seconds per run of a second, compiled call."""
    sw = _sweep(bench, s, grid, num_steps, record=True)
    if not timed:
        return sw, None
    start = time.perf_counter()
    _sweep(bench, s, grid, num_steps, record=True)
    return sw, (time.perf_counter() - start) / sw.diverged_at.size


def rerun(bench: Bench, s: Spec, hyperparameters: Mapping[str, float], num_steps: int,
          seeds: Sequence[int], *, timed: bool = False) -> Runs:
    """Run one setting from start rows ``seeds`` in one compiled sweep.

    With ``timed`` the compiled sweep runs a second time, timed: seconds per run
    exclude compilation (runs are vmapped, so a line search waits for the slowest run).
    """
    rows = _check_rows(bench, seeds)
    hp = {k: float(v) for k, v in hyperparameters.items()}
    grid = _grid(s, hp, rows)
    sw, seconds = _timed_sweep(bench, s, grid, num_steps, timed)
    return _runs(bench, s, sw, hp, (0,) * len(hp), np.arange(rows.size), rows, seconds)


def tune_and_rerun(bench: Bench, s: Spec, steps: Sequence[float], num_steps: int,
                   seeds: Sequence[int], *, timed: bool = False) -> tuple[Tuning, Runs]:
    """``tune`` then ``rerun`` in a single compiled sweep over starts (0, *seeds).

    Every grid point runs from every start; the choice sees start 0 only and the
    reported runs are the chosen point's other starts: the same numbers as ``tune``
    then ``rerun``, one compilation instead of two. Costs (grid size) × (starts) runs,
    and for ES/GA (whose own seed is a grid axis too) × (starts) again, so ``compare``
    uses it for the other optimizers only. With ``timed``, the compiled sweep runs a
    second time: seconds per run = that time / number of runs in the sweep.
    """
    rows = _check_rows(bench, seeds)
    hp_grid = tuning_grid(s, steps)
    grid = _grid(s, hp_grid, np.concatenate([[0], rows]))
    sw, seconds = _timed_sweep(bench, s, grid, num_steps, timed)
    tuning = _tuning(bench, s, sw, hp_grid)
    at = tuple(int(np.flatnonzero(hp_grid[k] == v)[0]) for k, v in tuning.best.items())
    runs = _runs(bench, s, sw, tuning.best, at, np.arange(1, rows.size + 1), rows, seconds)
    return tuning, runs


def quantiles(values: np.ndarray, axis: int = 0) -> np.ndarray:
    """(25%, 50%, 75%) along ``axis`` as actual values; NaN and failures count as +inf."""
    values = np.where(np.isnan(values), np.inf, values)
    return np.quantile(values, [0.25, 0.5, 0.75], axis=axis, method="nearest")


def summarize(bench: Bench, name: str, runs: Runs, tuning: Tuning | None = None) -> dict:
    """One table row: medians and IQRs over runs; a failure counts as +inf, never averaged."""
    hit = train.steps_to_target(runs.gap, bench.target)
    steps = np.where(hit >= 0, hit, np.inf)
    at_hit = np.take_along_axis(runs.evaluations, np.maximum(hit, 0)[:, None], axis=1)[:, 0]
    evals = np.where(hit >= 0, at_hit, np.inf)
    final = np.where(runs.diverged_at >= 0, np.inf, runs.gap[:, -1])
    row = {"bench": bench.name, "optimizer": name,
           "hyperparameters": dict(runs.hyperparameters),
           "configs_tried": None if tuning is None else int(tuning.scores.size),
           "tuning_diverged": None if tuning is None else tuning.diverged,
           "seeds": int(runs.starts.size), "diverged": int(np.sum(runs.diverged_at >= 0)),
           "reached": int(np.sum(hit >= 0)), "target": bench.target}
    for key, values in (("final_gap", final), ("steps_to_target", steps),
                        ("evals_to_target", evals)):
        q = quantiles(values)
        row.update({f"{key}_q25": float(q[0]), f"{key}_median": float(q[1]),
                    f"{key}_q75": float(q[2])})
    # per step actually taken: a diverged run stops counting where it stopped
    taken = np.where(runs.diverged_at >= 0, runs.diverged_at, runs.gap.shape[1] - 1)
    spent = np.take_along_axis(runs.evaluations, taken[:, None], axis=1)[:, 0]
    row["evals_per_step"] = float(np.median(spent / np.maximum(taken, 1)))
    row["seconds_per_run"] = runs.seconds
    return row


def curves(runs: Runs, *, stride: int = 1) -> dict:
    """Median and IQR of the gap (diverged = +inf) and the median cumulative evaluations,
    at steps 0, stride, 2·stride, … (and the last step)."""
    steps = np.unique(np.append(np.arange(0, runs.gap.shape[1], stride), runs.gap.shape[1] - 1))
    q = quantiles(runs.gap[:, steps], axis=0)
    return {"steps": steps, "gap_q25": q[0], "gap_median": q[1], "gap_q75": q[2],
            "evaluations": np.median(runs.evaluations[:, steps], axis=0)}


def compare(bench: Bench, names: Sequence[str | Spec], *, num_steps: int,
            seeds: Sequence[int], steps: Sequence[float] | None = None,
            overrides: Mapping[str, float] | None = None, timed: bool = True,
            joint: bool = False, stride: int = 1) -> list[dict]:
    """Compare optimizers ``names`` (names or ``Spec``s) on ``bench``.

    Tuned over the step grid ``steps`` (and each optimizer's other hyperparameter) if
    given, else each optimizer's defaults (``overrides``: {"step": η} sets every step
    size). ``joint``: tune and rerun in one sweep (``tune_and_rerun``; ES and GA still
    tune, then rerun), else ``tune`` then ``rerun``. ``timed``: measure seconds per run
    on a second call of the compiled reruns.

    Returns one dict per optimizer: ``row`` (``summarize``), ``curves`` (every
    ``stride``-th step), ``points`` (2-D benches: iterates of every run), ``tuning``
    (grid and scores, when tuned).
    """
    out = []
    for name in names:
        s = name if isinstance(name, Spec) else spec(name)
        name = s.name
        tuning = None
        if steps is not None and joint and not s.seeded:
            tuning, runs = tune_and_rerun(bench, s, steps, num_steps, seeds, timed=timed)
        else:
            if steps is not None:
                tuning = tune(bench, s, steps, num_steps)
                hp = tuning.best
            else:
                hp = dict(s.default)
                for key, value in (overrides or {}).items():
                    hp[s.step if key == "step" else key] = value
            runs = rerun(bench, s, hp, num_steps, seeds, timed=timed)
        entry = {"row": summarize(bench, name, runs, tuning),
                 "curves": curves(runs, stride=stride)}
        if runs.points is not None:
            entry["points"] = runs.points
        if tuning is not None:
            entry["tuning"] = {"grid": tuning.grid, "scores": tuning.scores}
        out.append(entry)
    return out
