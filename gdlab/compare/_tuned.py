"""The referee's protocol: equal quasi-random budgets, tune on some starts, report on others.

For each optimizer, ONE compiled ``train.sweep`` runs every trial of its search space
(``_search.trials``: the same number for every optimizer, plus the defaults row) from
every start row: rows ``tune`` choose, rows ``heldout`` report. A trial's tuning score
is the mean over the tuning starts of ``score`` (mean log10 gap along the run; +inf if
it diverged on any of them: a rate that survives one start only is not chosen). The
winner's held-out runs are the "tuned" track, the defaults row's are the "defaults"
track. Because every trial also ran on the held-out starts, the budget curve (expected
held-out result of the best of k random trials) is computed from the same sweep.

Costs: the tuning cost is the evaluations spent by every trial on the tuning starts
and their share of the timed sweep's seconds; the final cost is per held-out run.

Example::

    bench = small_bench("rosenbrock", starts=13)
    entry = benchmark(bench, "adam", trials=20, num_steps=500, tune=range(3),
                      heldout=range(3, 13))
    entry["best"], entry["edge"], entry["tuning_cost"]
"""

import time
from collections.abc import Sequence

import jax
import numpy as np

from gdlab import solvers, train
from gdlab.compare._benches import Bench
from gdlab.compare._protocol import Runs, _by_run, _counted, score
from gdlab.compare._search import on_edge, resolve, trial_factory, trials
from gdlab.compare._specs import Spec

_UNSEEDED = Spec("unseeded")  # the trial index seeds ES-family noise: no seed axis


def _check_rows(bench: Bench, tune, heldout) -> tuple[np.ndarray, np.ndarray]:
    tune, heldout = np.asarray(list(tune), int), np.asarray(list(heldout), int)
    rows = np.concatenate([tune, heldout])
    if tune.size < 1 or heldout.size < 1 or rows.min() < 0 or rows.max() >= bench.starts:
        raise ValueError(f"{bench.name} has start rows 0..{bench.starts - 1}; need at least "
                         f"one tuning and one held-out row, got {list(tune)} / {list(heldout)}")
    if np.unique(rows).size != rows.size:
        raise ValueError("tuning and held-out starts must be distinct rows")
    return tune, heldout


def _sweep(bench: Bench, s: Spec, table: np.ndarray, rows: np.ndarray, num_steps: int,
           record: bool):
    names = tuple(d.name for d in s.space)
    fixed = tuple(sorted(s.fixed.items()))
    factory = trial_factory(s.name, names, tuple(map(tuple, table)), fixed, s.seeded)
    grid = {"trial": np.arange(len(table), dtype=float), "start": rows.astype(float)}
    return train.sweep(
        _counted(bench.loss), solvers.with_count(bench.params), factory, grid, num_steps,
        [0] if bench.stochastic else None, data=bench.data, stochastic=bench.stochastic,
        eval_fn=_counted(bench.eval_fn), record_params=record)


def _effective_lr(displacements, grad_norm: np.ndarray) -> float:
    """median over runs of median_k ‖x_{k+1} − x_k‖ / ‖∇f(x_k)‖ (finite steps only)."""
    leaves = [np.asarray(a, np.float64) for a in jax.tree.leaves(displacements)]
    moves = [np.diff(a, axis=1).reshape(a.shape[0], a.shape[1] - 1, -1) for a in leaves]
    step = np.sqrt(sum(np.sum(m ** 2, axis=-1) for m in moves))
    g = grad_norm[:, :-1]
    ratio = np.where((g > 1e-12) & np.isfinite(step) & (step > 0), step / np.where(g > 0, g, 1),
                     np.nan)
    per_run = [np.nanmedian(r) for r in ratio if np.any(np.isfinite(r))]
    return float(np.median(per_run)) if per_run else float("nan")


def benchmark(bench: Bench, optimizer: str | Spec, *, trials_count: int = 20, num_steps: int,
              tune: Sequence[int] = (0, 1, 2), heldout: Sequence[int] = range(3, 13),
              seed: int = 0, record_params: bool | None = None, timed: bool = True) -> dict:
    """Tune ``optimizer`` by ``trials_count`` quasi-random trials on start rows ``tune``
    and report the winner and the defaults on rows ``heldout``, in one compiled sweep.

    Without recorded iterates (``record_params=False``; the default for problems that are
    not 2-D) the per-step evaluation counts are each run's total spread evenly over its
    steps: exact for one evaluation per step, an approximation for line searches.

    Returns a dict: ``spec``, ``table`` (trials × dims, last row = defaults), ``names``,
    ``tune_score`` (per trial; +inf if it diverged on a tuning start), ``heldout_score``
    (per trial, median over held-out starts), ``best`` (index), ``hyperparameters``,
    ``edge`` (dimensions whose optimum lies in the outer 5 % of the range), ``tuned`` and
    ``defaults`` (``Runs`` on the held-out starts), ``tuning_cost`` and ``final_cost``
    ({"evaluations", "seconds"}), ``effective_lr`` (tuned and defaults, when iterates
    are recorded).
    """
    s = optimizer if isinstance(optimizer, Spec) else resolve(optimizer)
    tune, heldout = _check_rows(bench, tune, heldout)
    rows = np.concatenate([tune, heldout])
    table = trials(s, trials_count, seed=seed) if s.space else np.zeros((1, 0))
    record = bench.x0 is not None if record_params is None else record_params
    start = time.perf_counter()
    sw = _sweep(bench, s, table, rows, num_steps, record)
    first = time.perf_counter() - start
    seconds = None
    if timed:
        start = time.perf_counter()
        _sweep(bench, s, table, rows, num_steps, record)
        seconds = time.perf_counter() - start
    by_run = lambda a: _by_run(a, 1, _UNSEEDED, bench.stochastic)  # noqa: E731
    gap = by_run(np.asarray(sw.loss, np.float64) - bench.fmin)  # (trial, run, step)
    dead = by_run(sw.diverged_at)
    evals = by_run(np.asarray(sw.params.evaluations)) if sw.params is not None else None
    if evals is None:  # iterates not recorded: spread each run's total evenly over its steps
        total = by_run(np.asarray(sw.final_params.evaluations, np.float64))
        taken = np.where(dead >= 0, np.maximum(dead, 1), gap.shape[-1] - 1)
        k = np.arange(gap.shape[-1])
        evals = np.round(total[..., None] * np.minimum(k, taken[..., None]) / taken[..., None])
    scores = score(gap, dead, bench.floor)  # (trial, run)
    n_tune = tune.size
    searched = len(table) - 1 if s.space else 0
    tune_score = np.mean(scores[:searched, :n_tune], axis=1) if searched else np.zeros(0)
    heldout_score = np.median(scores[:, n_tune:], axis=1)
    best = int(np.argmin(tune_score)) if searched else len(table) - 1
    names = [d.name for d in s.space]
    hp = {n: float(table[best, i]) for i, n in enumerate(names)}
    defaults_hp = {n: float(table[-1, i]) for i, n in enumerate(names)}

    def runs(index: int, hyperparameters: dict) -> Runs:
        pick = lambda a: np.asarray(a)[index, n_tune:]  # noqa: E731
        displacements = None
        points = None
        if sw.params is not None:
            displacements = jax.tree.map(lambda a: pick(by_run(a)), sw.params.params)
            if bench.x0 is not None:
                points = displacements + bench.start_points(heldout)[:, None, :]
        final = jax.tree.map(lambda a: pick(by_run(a)), sw.final_params.params)
        total = sw.diverged_at.size
        return Runs(hyperparameters, heldout, pick(gap), pick(evals), pick(dead), points, final,
                    None if seconds is None else seconds / total, displacements)

    tuned, defaults = runs(best, hp), runs(len(table) - 1, defaults_hp)
    spent = evals[:searched, :n_tune, -1]  # evaluations of every tuning run (final count)
    total_runs = sw.diverged_at.size
    tuning_runs = searched * n_tune
    out = {
        "spec": s, "names": names, "table": table, "tune_score": tune_score,
        "heldout_score": heldout_score, "best": best, "hyperparameters": hp,
        "defaults_hyperparameters": defaults_hp,
        "edge": on_edge(s, hp) if searched else [],
        "tuned": tuned, "defaults": defaults,
        "tuning_cost": {"trials": searched, "runs": searched * n_tune,
                        "evaluations": float(np.sum(spent)),
                        "seconds": None if seconds is None
                        else seconds * tuning_runs / total_runs},
        "final_cost": {"evaluations_per_run": float(np.median(tuned.evaluations[:, -1])),
                       "seconds_per_run": tuned.seconds},
        "sweep_seconds_first_call": first, "sweep_seconds": seconds,
        "effective_lr": None,
    }
    if sw.params is not None:
        grad_norm = by_run(np.asarray(sw.grad_norm, np.float64))
        out["effective_lr"] = {
            "tuned": _effective_lr(tuned.displacements, grad_norm[best, n_tune:]),
            "defaults": _effective_lr(defaults.displacements, grad_norm[-1, n_tune:])}
    return out


def rows(bench: Bench, entry: dict, *, resamples: int = 2000) -> list[dict]:
    """Table rows of one ``benchmark`` entry: the tuned track and the defaults track, each
    with medians and seeded bootstrap 95 % intervals over the held-out runs."""
    from gdlab.compare._protocol import summarize
    from gdlab.compare._scores import bootstrap_ci

    s = entry["spec"]
    out = []
    for track in ("tuned", "defaults"):
        runs = entry[track]
        if track == "defaults" and not s.space:
            continue
        row = summarize(bench, s.name, runs)
        hit = train.steps_to_target(runs.gap, bench.target)
        at = np.take_along_axis(runs.evaluations, np.maximum(hit, 0)[:, None], axis=1)[:, 0]
        final = np.where(runs.diverged_at >= 0, np.inf, runs.gap[:, -1])
        for key, values in (("steps_to_target", np.where(hit >= 0, hit, np.inf)),
                            ("evals_to_target", np.where(hit >= 0, at, np.inf)),
                            ("final_gap", final)):
            ci = bootstrap_ci(values, resamples=resamples)
            row[f"{key}_lo"], row[f"{key}_hi"] = ci["lo"], ci["hi"]
        row.update({
            "track": track, "configs_tried": entry["tuning_cost"]["trials"] if track == "tuned"
            else 0,
            "tuning_evaluations": entry["tuning_cost"]["evaluations"] if track == "tuned" else 0,
            "tuning_seconds": entry["tuning_cost"]["seconds"] if track == "tuned" else 0,
            "edge": "; ".join(entry["edge"]) if track == "tuned" else "",
            "effective_lr": (entry["effective_lr"] or {}).get(track),
            "lr_free": s.lr_free, "optax": True,
        })
        out.append(row)
    return out
