"""Outside reference rows: SciPy's Nelder–Mead and L-BFGS-B from the same held-out starts.

Not optax and not tuned (SciPy's defaults, tolerances tightened so that the target, not
the stopping rule, ends a run). Costs are SciPy's own: every call of f (Nelder–Mead) or
of (f, ∇f) (L-BFGS-B) is one evaluation, and the evaluation at which a run first
reaches the target is read off the recorded values; ``nfev`` is SciPy's total.

Example::

    row = scipy_row(small_bench("rosenbrock", starts=13), "nelder_mead", range(3, 13))
"""

import functools
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree
from threadpoolctl import threadpool_limits

from gdlab.compare._benches import Bench
from gdlab.compare._scores import bootstrap_ci

METHODS = {"nelder_mead": "Nelder-Mead", "lbfgsb": "L-BFGS-B"}


@functools.cache
def _jitted(loss):
    """f and (f, ∇f) of a bench loss as functions of the flat point x, compiled whole.

    The flattening, the shift to the start row and the gradient's flattening all run
    inside the jit: one dispatch per SciPy evaluation (done eagerly they were several
    small programs each). The start row, the origin and the params template are
    traced arguments: one compilation serves every row (and every bench of a family).
    """
    def at(x, params, origin, data, start):
        unravel = ravel_pytree(params)[1]
        return loss(unravel(x - origin), data, start=start)

    def value_and_grad(x, params, origin, data, start):
        return jax.value_and_grad(at)(x, params, origin, data, start)

    return jax.jit(at), jax.jit(value_and_grad)


def _origin(bench: Bench, row: int) -> np.ndarray:
    """The start point itself (SciPy's initial simplex depends on where x₀ is)."""
    if bench.x0 is not None:
        return np.asarray(bench.start_points([row])[0], np.float64)
    start = jax.tree.map(lambda a: np.asarray(a)[row], bench.data["starts"])
    return np.asarray(ravel_pytree(start)[0], np.float64)


def _objective(bench: Bench, row: int):
    """x₀ and f, (f, ∇f) as functions of x (the bench moves d = x − x₀ from its start row)."""
    f, fg = _jitted(bench.loss)
    data = jax.tree.map(jnp.asarray, bench.data)
    origin = _origin(bench, row)
    args = (bench.params, origin, data, np.int32(row))

    def value(x):
        return f(x, *args)

    def value_and_grad(x):
        return fg(x, *args)

    return origin, value, value_and_grad


def _one(bench: Bench, method: str, row: int, max_evaluations: int, optimize):
    x0, f, fg = _objective(bench, row)
    trace = []
    if method == "nelder_mead":
        def fun(x):
            v = float(f(x))
            trace.append(v)
            return v
        res = optimize.minimize(fun, x0, method="Nelder-Mead", options={
            "maxfev": max_evaluations, "xatol": 1e-14, "fatol": 1e-16})
    else:
        def fun(x):
            v, g = fg(x)
            trace.append(float(v))
            return float(v), np.asarray(g, np.float64)
        res = optimize.minimize(fun, x0, jac=True, method="L-BFGS-B", options={
            "maxfun": max_evaluations, "maxiter": max_evaluations, "ftol": 1e-16,
            "gtol": 1e-14})
    return np.asarray(trace) - bench.fmin, int(res.nfev)


def scipy_runs(bench: Bench, method: str, rows: Sequence[int], *,
               max_evaluations: int = 5000) -> dict:
    """Per held-out row: the gap after each evaluation, SciPy's nfev, the final gap."""
    from scipy import optimize

    if method not in METHODS:
        raise ValueError(f"unknown SciPy method {method!r}; valid: {', '.join(METHODS)}")
    if bench.stochastic:
        raise ValueError("SciPy reference rows need a deterministic (full-batch) problem")
    gaps, nfev = [], []
    # SciPy's L-BFGS-B and Nelder-Mead do tiny dense algebra per evaluation: on one BLAS
    # thread it is 50x faster than with OpenBLAS's threads spinning against JAX's on a
    # busy 2-core CPU (23 s -> 0.4 s for two 100-D L-BFGS-B runs)
    with threadpool_limits(1, user_api="blas"):
        for row in rows:
            gap, count = _one(bench, method, int(row), max_evaluations, optimize)
            gaps.append(gap)
            nfev.append(count)
    return {"method": METHODS[method], "gaps": gaps, "nfev": nfev}


def scipy_row(bench: Bench, method: str, rows: Sequence[int], *,
              max_evaluations: int = 5000) -> dict:
    """A table row (the protocol's fields) for SciPy ``method``, marked ``optax: False``."""
    out = scipy_runs(bench, method, rows, max_evaluations=max_evaluations)
    hit = []
    for gap in out["gaps"]:
        first = np.flatnonzero(np.isfinite(gap) & (gap <= bench.target))
        hit.append(float(first[0] + 1) if first.size else np.inf)
    final = [float(np.nanmin(np.where(np.isfinite(g), g, np.nan))) for g in out["gaps"]]
    row = {"bench": bench.name, "optimizer": f"scipy {out['method']}", "track": "defaults",
           "hyperparameters": {}, "configs_tried": 0, "tuning_evaluations": 0,
           "tuning_seconds": 0, "seeds": len(hit), "reached": int(np.sum(np.isfinite(hit))),
           "diverged": 0, "target": bench.target, "evals_per_step": None,
           "seconds_per_run": None, "edge": "", "effective_lr": None, "optax": False,
           "nfev_median": float(np.median(out["nfev"]))}
    for key, values in (("evals_to_target", hit), ("steps_to_target", [np.inf] * len(hit)),
                        ("final_gap", final)):
        ci = bootstrap_ci(values)
        row.update({f"{key}_median": ci["median"], f"{key}_lo": ci["lo"],
                    f"{key}_hi": ci["hi"]})
    row["steps_to_target_median"] = None
    row["curve"] = [np.minimum.accumulate(np.where(np.isfinite(g), g, np.inf))
                    for g in out["gaps"]]
    return row
