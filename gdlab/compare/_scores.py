"""Scores a referee recognises: bootstrap intervals, performance profiles, budget curves.

- ``bootstrap_ci``: the median over reruns with a seeded percentile-bootstrap interval
  (failures count as +inf, so an interval's end is +inf when half the resamples fail).
- ``separated``: "A beats B" only when A's interval lies wholly below B's.
- ``performance_profile`` (Dolan & Moré 2002): ρ_s(τ) = fraction of problems that solver
  s solves within τ × the best solver's cost; ``area_score`` its normalised area for
  τ ∈ [1, τ_max] (AlgoPerf's benchmark score uses τ_max = 4).
- ``expected_best``: the expected held-out score of the trial a search of k random
  trials would pick (by its tuning score), bootstrapped from the trials actually run.

>>> ci = bootstrap_ci([3.0, 1.0, 2.0, 4.0, 5.0])
>>> ci["median"]
3.0
>>> separated({"lo": 1, "hi": 2}, {"lo": 3, "hi": 4})
True
>>> performance_profile({"a": [1.0, 4.0], "b": [2.0, 2.0]}, [1.0, 2.0])["a"].tolist()
[0.5, 1.0]
"""

from collections.abc import Mapping, Sequence

import numpy as np


def bootstrap_ci(values, *, resamples: int = 2000, level: float = 0.95, seed: int = 0) -> dict:
    """{"median", "lo", "hi"}: the median and a percentile-bootstrap interval (NaN = +inf)."""
    v = np.asarray(values, np.float64).ravel()
    v = np.where(np.isnan(v), np.inf, v)
    if v.size == 0:
        raise ValueError("bootstrap_ci needs at least one value")
    rng = np.random.default_rng(seed)
    draws = v[rng.integers(0, v.size, (resamples, v.size))]
    medians = np.quantile(draws, 0.5, axis=1, method="nearest")
    lo, hi = np.quantile(medians, [(1 - level) / 2, (1 + level) / 2], method="nearest")
    return {"median": float(np.quantile(v, 0.5, method="nearest")), "lo": float(lo),
            "hi": float(hi)}


def separated(a: Mapping, b: Mapping) -> bool:
    """True when interval a lies wholly below interval b (a is better: lower cost)."""
    return bool(np.isfinite(a["hi"]) and a["hi"] < b["lo"])


def performance_profile(costs: Mapping[str, Sequence[float]], taus) -> dict[str, np.ndarray]:
    """ρ_s(τ) for every solver s; costs[s][p] is s's cost on problem p (+inf: unsolved)."""
    names = list(costs)
    c = np.asarray([costs[n] for n in names], np.float64)
    c = np.where(np.isnan(c), np.inf, c)
    best = np.min(c, axis=0)
    solvable = np.isfinite(best)
    ratio = np.where(solvable[None], c / np.where(solvable, best, 1.0)[None], np.inf)
    taus = np.asarray(taus, np.float64)
    n = c.shape[1]
    return {name: np.sum(ratio[i][None, :] <= taus[:, None], axis=1) / n
            for i, name in enumerate(names)}


def area_score(costs: Mapping[str, Sequence[float]], *, tau_max: float = 4.0,
               points: int = 301) -> dict[str, float]:
    """The area under ρ_s(τ) for τ ∈ [1, τ_max], divided by τ_max − 1 (1: best everywhere)."""
    taus = np.linspace(1.0, tau_max, points)
    profile = performance_profile(costs, taus)
    return {k: float(np.trapezoid(v, taus) / (tau_max - 1)) for k, v in profile.items()}


def expected_best(tune_score, heldout_score, ks: Sequence[int], *, resamples: int = 1000,
                  seed: int = 0) -> dict:
    """Budget curve: for each k, draw k of the trials (with replacement), pick the one
    with the lowest tuning score, and record its held-out score. Returns {"k", "mean",
    "median", "lo", "hi"} over the draws (5-95 % band; a diverged pick is +inf, which makes
    the mean +inf: the median stays finite while most picks converge)."""
    t = np.asarray(tune_score, np.float64)
    h = np.asarray(heldout_score, np.float64)[: t.size]
    rng = np.random.default_rng(seed)
    out = {"k": [], "mean": [], "median": [], "lo": [], "hi": []}
    for k in ks:
        idx = rng.integers(0, t.size, (resamples, int(k)))
        pick = idx[np.arange(resamples), np.argmin(t[idx], axis=1)]
        got = h[pick]
        out["k"].append(int(k))
        out["mean"].append(float(np.mean(got)))
        out["median"].append(float(np.quantile(got, 0.5, method="nearest")))
        lo, hi = np.quantile(got, [0.05, 0.95], method="nearest")
        out["lo"].append(float(lo))
        out["hi"].append(float(hi))
    return out
