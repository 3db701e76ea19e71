"""A gradient step changes the loss by −ε·gᵀg + ½ε²·gᵀHg + O(ε³); the best step is ε* = gᵀg/gᵀHg.

Deep Learning book §4.3.1: along the gradient step x − εg,

    f(x − εg) = f(x) − ε gᵀg + ½ ε² gᵀHg + O(ε³)                  (eq. 4.9)

so the first-order model errs by ~ε² and the second-order one by ~ε³ (exactly 0 on a
quadratic), and when gᵀHg > 0 the quadratic model is lowest at ε* = gᵀg / gᵀHg
(eq. 4.10), which lies between 1/λ_max and 1/λ_min. Three problems: a rotated
quadratic, Rosenbrock at (−1.2, 1) and a tanh MLP on MNIST-1D (float64 for the scaling
laws; float32 copies show the round-off floor). Then §8.2.1: along a real full-batch
training run of the MLP (float32), gᵀg and gᵀHg are tracked with Hessian-vector
products. The ratio ½η²gᵀHg / ηgᵀg = η / (2ε*) says how much of the first-order gain
the curvature takes back: at 1 a step gains nothing to second order, beyond 1 it loses.

Run:    gdlab run taylor_step      (or: python experiments/taylor_step.py --help)
Writes: results/taylor_step/result.json, error_scaling.png, step_size.png, training.png
Expect: ~70 s of CPU on a 2-core machine (--quick ~30 s, mostly compiling). Float64 error
        slopes 2.00 (first order) and 3.00 (second order) on Rosenbrock and the MLP; on
        the quadratic the second-order model is exact to 2 ulp. Float32 measures the
        change f(x − εg) − f(x) only to ~1e-7·|f|, so its second-order model is never
        better than 2e-7 (quadratic) to 1e-5 (MLP) relative, against 1e-15 to 1e-11 in
        float64. ε* = 0.270 = 3/Σλ on the quadratic, where the line search agrees to
        3e-6, and ε*·λ_max = 2.7: the best single step lies beyond 2/λ_max. The line
        search's first minimum is 1.19 ε* on Rosenbrock and 1.07 ε* on the MLP.
        Training with η = 2: η/(2ε*) has median 0.98 over the second half, so the
        curvature takes back nearly all of the first-order gain (summed over the 100
        tracked steps, first order predicts −29.9 and the loss changes by −0.49), yet
        η = 2 ends at loss 0.080 against 0.47 for η = 0.5. With η = 0.5 the ratio stays
        below 1e-3 from step 100 to 700 (slow from small gradients, not from curvature)
        until gᵀHg grows 1e5-fold around step 750 and the ratio joins η = 2's at ~1.
"""

import functools
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

import gdlab
from gdlab import plotting, taylor


@dataclass(frozen=True)
class Config:
    quadratic_eigenvalues: tuple[float, ...] = (0.1, 1.0, 10.0)  # spectrum of the quadratic's A
    rosenbrock_x0: tuple[float, float] = (-1.2, 1.0)  # the classic start point
    hidden: int = 100  # width of the MLP 40 → hidden → 10 (tanh, Xavier init)
    seed: int = 0  # MNIST-1D data seed, MLP init key and the quadratic's rotation
    eps_min: float = 1e-8  # error-scaling grid: ε / ε* from eps_min ...
    eps_max: float = 10.0  # ... to eps_max
    grid_points: int = 91  # points on every ε grid (the scaling grid, each line-search zoom)
    fit_max: float = 1e-2  # fit slopes only where ε/ε* ≤ fit_max (next term ≲ 1 %) ...
    fit_floor: float = 1e3  # ... and the error exceeds fit_floor × machine-ε × |f(x)|
    search_decades: tuple[float, float] = (-2.0, 3.0)  # line-search grid: ε·λ_max in 10^[a, b]
    learning_rates: tuple[float, ...] = (0.5, 2.0)  # full-batch GD runs (float32)
    num_steps: int = 1000  # updates per run
    track_every: int = 10  # gᵀg, gᵀHg every this many steps (HVPs, no dense Hessian)
    check_every: int = 200  # λ_max (Lanczos) and a line search every this many steps
    lanczos_iters: int = 20  # Lanczos steps for λ_max of the MLP


QUICK = {
    "hidden": 16, "grid_points": 31, "num_steps": 100, "track_every": 10,
    "check_every": 50, "lanczos_iters": 10,
}

_PROBLEMS = ("quadratic", "rosenbrock", "mlp")


def _check(config: Config) -> None:
    if not 0 < config.eps_min < config.fit_max < config.eps_max:
        raise ValueError("need 0 < eps_min < fit_max < eps_max")
    if config.grid_points < 8:
        raise ValueError(f"grid_points must be >= 8, got {config.grid_points}")
    if config.search_decades[0] >= config.search_decades[1]:
        raise ValueError("search_decades must be (low, high) with low < high")
    if not config.learning_rates or min(config.learning_rates) <= 0:
        raise ValueError("learning_rates must be a non-empty tuple of positive numbers")
    if config.num_steps < config.check_every or config.check_every % config.track_every:
        raise ValueError("need track_every | check_every <= num_steps")
    if min(config.quadratic_eigenvalues) <= 0:
        raise ValueError("quadratic_eigenvalues must be positive")


# --- the MLP: one loss object, data passed as an argument ------------------------------------

# mlp(...).apply reads the sizes from the params, so one loss object serves every width and
# every jit below compiles once per shape and dtype.
mlp_loss = gdlab.losses.objective(
    gdlab.models.mlp([1, 1], activation="tanh").apply, gdlab.losses.softmax_cross_entropy
)


def _cast(tree, dtype):
    """The same numbers in ``dtype`` (cast on the host: no compiled cast per leaf)."""
    return jax.tree.map(lambda a: jnp.asarray(np.asarray(a).astype(dtype)), tree)


@functools.partial(jax.jit, static_argnums=0)
def _value(f, *args):
    return f(*args)


@jax.jit
def _mlp_terms(params, data, eps):
    return taylor.gradient_step_terms(functools.partial(mlp_loss, data=data), params, eps)


@functools.partial(jax.jit, static_argnames=("num_iters",))
def _mlp_sharpness(params, data, *, num_iters):
    f = functools.partial(mlp_loss, data=data)
    return gdlab.curvature.sharpness(f, params, num_iters=num_iters, method="lanczos")


@jax.jit
def _mlp_track(params_stack, data):
    """gᵀg and gᵀHg (one gradient, one HVP) at every point of a stack of parameters."""
    f = functools.partial(mlp_loss, data=data)
    out = jax.lax.map(lambda p: taylor.optimal_step(f, p), params_stack)  # one at a time
    return out.gTg, out.gTHg


# --- part 1: error of the first- and second-order models against ε ---------------------------


def _quadratic(config: Config):
    """The rotated quadratic and a start where the gradient has the same size along every
    eigenvector (x0 − x* = QΛ⁻¹1, g = Q1), so ε* = n/Σλ lies strictly inside
    (1/λ_max, 1/λ_min): (loss, x0 in float64)."""
    key = jax.random.key(config.seed)
    q = gdlab.problems.quadratic(config.quadratic_eigenvalues, key=key)
    lam, vecs = np.linalg.eigh(q.info["A"])
    q = gdlab.problems.quadratic(config.quadratic_eigenvalues, key=key,
                                 x0=q.argmin + vecs @ (1 / lam))
    return q.loss, jnp.asarray(q.x0, jnp.float64)


def _problems(config: Config):
    """{name: (loss, x0 in float64)} and, for the MLP, (data64, data32, params in float32)."""
    r = gdlab.problems.rosenbrock(x0=config.rosenbrock_x0)
    d = gdlab.data.mnist1d(seed=config.seed)
    model = gdlab.models.mlp([40, config.hidden, 10], activation="tanh", init="xavier",
                             dtype=jnp.float32)
    p32 = jax.jit(model.init)(jax.random.key(config.seed))  # the same point in both dtypes
    data32 = {"x": jnp.asarray(d["x"], jnp.float32), "y": jnp.asarray(d["y"])}
    data64 = {"x": jnp.asarray(d["x"], jnp.float64), "y": jnp.asarray(d["y"])}
    return {
        "quadratic": _quadratic(config),
        "rosenbrock": (r.loss, jnp.asarray(r.x0, jnp.float64)),
        "mlp": (data64, data32, p32),
    }


def _point(problems, name, dtype):
    """(f, x) in ``dtype``; for the MLP f is None and x is (params, data)."""
    if name == "mlp":
        data64, data32, p32 = problems["mlp"]
        return None, (_cast(p32, dtype), data64 if dtype == jnp.float64 else data32)
    f, x = problems[name]
    return f, _cast(x, dtype)


def _terms(problems, name, dtype, eps):
    """``taylor.gradient_step_terms`` at the problem's start point, in ``dtype``.

    Every call passes ``grid_points`` step sizes, so each (problem, dtype) compiles once.
    """
    f, x = _point(problems, name, dtype)
    eps = jnp.asarray(eps, dtype)
    return _mlp_terms(*x, eps) if f is None else taylor.gradient_step_terms(f, x, eps)


def _fit_slope(rel_eps, err, floor, config: Config):
    """Least-squares slope of log|err| against log ε over the clean window, or None."""
    ok = np.isfinite(err) & (err > config.fit_floor * floor) & (rel_eps <= config.fit_max)
    if ok.sum() < 4:
        return None, None
    slope = np.polyfit(np.log(rel_eps[ok]), np.log(err[ok]), 1)[0]
    return float(slope), [float(rel_eps[ok].min()), float(rel_eps[ok].max())]


def error_scaling(problems, config: Config) -> dict:
    rel = np.geomspace(config.eps_min, config.eps_max, config.grid_points)
    out = {}
    for name in _PROBLEMS:
        probe = _terms(problems, name, jnp.float64, rel)  # same shape as below: no recompile
        eps_star = _eps_star(float(probe.gTg), float(probe.gTHg))  # both dtypes use this grid
        eps = rel * eps_star
        entry = {"eps_star": eps_star, "rel_eps": rel, "eps": eps}
        for label, dtype in (("float64", jnp.float64), ("float32", jnp.float32)):
            t = _terms(problems, name, dtype, eps)
            actual, first = np.asarray(t.actual, float), np.asarray(t.first_order, float)
            second = first + np.asarray(t.second_order, float)
            f, x = _point(problems, name, dtype)
            f0 = abs(float(_value(mlp_loss, *x) if f is None else _value(f, x)))
            floor = float(jnp.finfo(dtype).eps) * f0
            err1, err2 = np.abs(actual - first), np.abs(actual - second)
            slope1, window1 = _fit_slope(rel, err1, floor, config)
            slope2, window2 = _fit_slope(rel, err2, floor, config)
            small = rel <= 1e-5  # deep in the round-off regime for every problem here
            rel_err2 = err2 / np.maximum(np.abs(actual), np.finfo(float).tiny)
            entry[label] = {
                # the error in units of the round-off of the measured change, eps·(|f| + |Δf|)
                "second_error_ulps": float(np.max(
                    err2 / (float(jnp.finfo(dtype).eps) * (f0 + np.abs(actual))))),
                "actual": np.abs(actual), "first_error": err1, "second_error": err2,
                "floor": floor, "first_slope": slope1, "first_window": window1,
                "second_slope": slope2, "second_window": window2,
                # the round-off floor of the measured change f(x − εg) − f(x), over |f(x)|
                "floor_measured": float(np.median(err2[small]) / f0) if small.any() else None,
                # the best relative accuracy the second-order model reaches on the grid
                "best_second_relative": float(np.min(rel_err2[rel <= 1.0])),
            }
        out[name] = entry
    return out


# --- part 2: ε* against the line-search minimiser, 1/λ_max and 2/λ_max ------------------------


def _eps_star(gTg, gTHg):
    """eq. 4.10, as ``taylor.optimal_step`` defines it: gᵀg/gᵀHg, or inf when gᵀHg ≤ 0."""
    return gTg / gTHg if gTHg > 0 else float("inf")


def _line_search(change, lam_max, config: Config):
    """The first minimum of ε ↦ f(x − εg) − f(x) on a log grid, refined by two zooms.

    ``change(eps)`` evaluates the change on ``grid_points`` step sizes at once (one
    vmapped call). A line search walks out from ε = 0, so the answer is the first local
    minimum of the grid that reaches at least half of the deepest decrease: Rosenbrock
    has a second, slightly deeper dip along −g at ~18 ε*, across the valley, which a
    walk from 0 does not reach. The result is good to ``resolution`` (relative).
    """
    lo, hi = config.search_decades
    coarse = np.geomspace(10.0**lo, 10.0**hi, config.grid_points) / lam_max
    values = np.asarray(change(coarse), float)
    v = np.where(np.isfinite(values), values, np.inf)
    deep = v <= 0.5 * v.min()
    local = np.r_[v[:-1] <= v[1:], True] & np.r_[True, v[1:] <= v[:-1]]
    i = int(np.flatnonzero(deep & local)[0])
    at_edge = i in (0, len(coarse) - 1)
    ratio = coarse[1] / coarse[0]
    best, best_change = coarse[i], v[i]
    for _ in range(2):  # zoom: the neighbouring grid points bracket the minimum
        grid = np.geomspace(best / ratio, best * ratio, config.grid_points)
        fine = np.asarray(change(grid), float)
        fine = np.where(np.isfinite(fine), fine, np.inf)
        j = int(np.argmin(fine))
        best, best_change, ratio = grid[j], fine[j], grid[1] / grid[0]
    return {
        "eps_grid": coarse, "change": values, "best": float(best),
        "best_change": float(best_change), "resolution": float(ratio - 1), "at_edge": at_edge,
        "global_best": float(coarse[int(np.argmin(v))]),
    }


def _mlp_check(params, data, config: Config) -> dict:
    """λ_max (Lanczos on HVPs), ε*, and a line search along −g for the MLP at ``params``."""
    lam = float(_mlp_sharpness(params, data, num_iters=config.lanczos_iters))
    dtype = jax.tree.leaves(params)[0].dtype
    change = lambda e: _mlp_terms(params, data, jnp.asarray(e, dtype))
    terms = change(np.ones(config.grid_points))
    return {"lambda_max": lam, "lambda_min": None, "gTg": float(terms.gTg),
            "gTHg": float(terms.gTHg),
            "line_search": _line_search(lambda e: change(e).actual, lam, config)}


def step_sizes(problems, config: Config) -> dict:
    out = {}
    for name in _PROBLEMS:
        if name == "mlp":  # float32, the dtype the network trains in (same point as step 0)
            _, (params, data) = _point(problems, name, jnp.float32)
            check = _mlp_check(params, data, config)
        else:
            f, x = problems[name]
            # the quadratic's spectrum is known exactly; Rosenbrock's 2 × 2 Hessian is dense
            lam = (np.asarray(config.quadratic_eigenvalues) if name == "quadratic" else
                   np.linalg.eigvalsh(np.asarray(gdlab.curvature.hessian(f, x))))
            change = lambda e, name=name: _terms(problems, name, jnp.float64, e)
            terms = change(np.ones(config.grid_points))
            check = {"lambda_max": float(lam.max()), "lambda_min": float(lam.min()),
                     "gTg": float(terms.gTg), "gTHg": float(terms.gTHg),
                     "line_search": _line_search(lambda e, c=change: c(e).actual,
                                                 float(lam.max()), config)}
        search, lam = check["line_search"], check["lambda_max"]
        gTg, gTHg = check["gTg"], check["gTHg"]
        eps_star = _eps_star(gTg, gTHg)
        grid = search["eps_grid"]
        out[name] = {
            "eps_star": eps_star, "gTg": gTg, "gTHg": gTHg,
            "lambda_max": lam, "lambda_min": check["lambda_min"],
            "one_over_lambda_max": 1 / lam, "two_over_lambda_max": 2 / lam,
            "line_search": search, "best_over_eps_star": search["best"] / eps_star,
            # the first- and second-order models along −g, drawn next to the measured change
            "model_first": -grid * gTg,
            "model_second": -grid * gTg + 0.5 * grid**2 * gTHg,
        }
    return out


# --- part 3: gᵀg and gᵀHg along a real training run --------------------------------------------


def training(problems, config: Config) -> dict:
    _, data, p0 = problems["mlp"]
    lrs = np.asarray(config.learning_rates, np.float32)
    sweep = gdlab.train.sweep(
        mlp_loss, p0, "sgd", {"learning_rate": lrs}, config.num_steps, data=data,
        record_params=True,
    )
    steps = np.arange(0, config.num_steps + 1, config.track_every)
    checks = np.arange(0, config.num_steps + 1, config.check_every)
    runs = []
    for r, lr in enumerate(config.learning_rates):
        params = jax.tree.map(lambda a, r=r: a[r], sweep.params)
        tracked = jax.tree.map(lambda a: a[steps], params)
        gTg, gTHg = (np.asarray(v, float) for v in _mlp_track(tracked, data))
        loss = np.asarray(sweep.loss[r], float)
        # the real step from k to k + 1, against its first- and second-order predictions
        k = steps[steps < config.num_steps]
        first = -lr * gTg[: len(k)]
        second = first + 0.5 * lr**2 * gTHg[: len(k)]
        found = [_mlp_check(jax.tree.map(lambda a, c=c: a[c], params), data, config)
                 for c in checks]
        diverged = int(sweep.diverged_at[r])
        ratio = np.where(gTg > 0, 0.5 * lr * gTHg / np.where(gTg > 0, gTg, 1), np.nan)
        runs.append({
            "learning_rate": float(lr), "loss": loss,
            "diverged_at": None if diverged < 0 else diverged,
            "steps": steps, "gTg": gTg, "gTHg": gTHg, "ratio": ratio,
            "step_actual": loss[k + 1] - loss[k], "step_first": first, "step_second": second,
            "check_steps": checks,
            "lambda_max": np.array([c["lambda_max"] for c in found]),
            "best_eps": np.array([c["line_search"]["best"] for c in found]),
            "eps_star": np.array([_eps_star(c["gTg"], c["gTHg"]) for c in found]),
        })
    return {"runs": runs}


# --- run -----------------------------------------------------------------------------------


def _median_rel(predicted, r):
    actual = np.asarray(r["step_actual"])
    ok = np.isfinite(actual) & (actual != 0)
    return float(np.median(np.abs(np.asarray(predicted)[ok] - actual[ok]) / np.abs(actual[ok])))


def run(config: Config) -> dict:
    _check(config)
    problems = _problems(config)
    scaling = error_scaling(problems, config)
    sizes = step_sizes(problems, config)
    train = training(problems, config)
    q = scaling["quadratic"]["float64"]
    metrics = {
        "first_order_slope_float64": {n: scaling[n]["float64"]["first_slope"] for n in _PROBLEMS},
        "second_order_slope_float64": {
            n: scaling[n]["float64"]["second_slope"] for n in ("rosenbrock", "mlp")},
        # eq. 4.9 is exact on a quadratic: its error is round-off, in units of eps·|f|
        "quadratic_second_order_error_in_ulps": q["second_error_ulps"],
        "roundoff_floor_over_abs_f": {
            d: {n: scaling[n][d]["floor_measured"] for n in _PROBLEMS}
            for d in ("float64", "float32")},
        "best_second_order_relative_error": {
            d: {n: scaling[n][d]["best_second_relative"] for n in _PROBLEMS}
            for d in ("float64", "float32")},
        "eps_star": {n: sizes[n]["eps_star"] for n in _PROBLEMS},
        "line_search_best_over_eps_star": {n: sizes[n]["best_over_eps_star"] for n in _PROBLEMS},
        "eps_star_times_lambda_max": {
            n: sizes[n]["eps_star"] * sizes[n]["lambda_max"] for n in _PROBLEMS},
        "line_search_resolution": sizes["quadratic"]["line_search"]["resolution"],
        "training": {
            f"lr_{r['learning_rate']:g}": {
                "final_loss": float(r["loss"][-1]) if r["diverged_at"] is None else None,
                "median_ratio_second_half": float(np.nanmedian(
                    r["ratio"][len(r["ratio"]) // 2:])),
                "fraction_ratio_above_half": float(np.nanmean(r["ratio"] > 0.5)),
                # per tracked step: how far each model is from the real change of the loss
                "median_relative_error_first_order": _median_rel(r["step_first"], r),
                "median_relative_error_second_order": _median_rel(r["step_second"], r),
                "tracked_steps_sum_actual_first_second": [
                    float(np.sum(r[k])) for k in ("step_actual", "step_first", "step_second")],
                "gTg_first_last": [float(r["gTg"][0]), float(r["gTg"][-1])],
                "gTHg_first_last": [float(r["gTHg"][0]), float(r["gTHg"][-1])],
                "lambda_max_first_last": [float(r["lambda_max"][0]),
                                          float(r["lambda_max"][-1])],
            }
            for r in train["runs"]
        },
    }
    series = {"scaling": scaling, "step_sizes": sizes, "training": train}
    return {"metrics": metrics, "series": series}


# --- plot -----------------------------------------------------------------------------------

def _titles(config):
    lam = ", ".join(f"{v:g}" for v in config["quadratic_eigenvalues"])
    x0 = ", ".join(f"{v:g}" for v in config["rosenbrock_x0"])
    return {"quadratic": f"quadratic (H constant, λ = {lam})",
            "rosenbrock": f"Rosenbrock at ({x0})", "mlp": "MNIST-1D MLP at init"}


def _guide(ax, x, y_at, power, anchor, label):
    """A reference line ∝ ε^power through (x[anchor], 30·y_at): parallel, just above."""
    ax.loglog(x, 30 * y_at * (x / x[anchor]) ** power, color="0.45", linestyle=":",
              linewidth=1.2, label=label)


def _positive(values):
    """For log axes: exact zeros (a step lost to round-off) become gaps, not −∞."""
    v = plotting.array(values)
    return np.where(v > 0, v, np.nan)


def _plot_scaling(s, titles):
    fig, axes = plotting.figure(1, 3, title="How wrong are the first- and second-order "
                                "predictions of a step? Error against ε on log-log axes",
                                height=4.4)
    for ax, name in zip(axes[0], _PROBLEMS, strict=True):
        e = s["scaling"][name]
        rel = plotting.array(e["rel_eps"])
        for dtype, style in (("float64", "-"), ("float32", "--")):
            d = e[dtype]
            lw = 1.6 if dtype == "float64" else 1.1
            ax.loglog(rel, _positive(d["actual"]), style, color="0.3", linewidth=lw,
                      label=f"|actual change| ({dtype})")
            ax.loglog(rel, _positive(d["first_error"]), style, color=plotting.COLORS[0],
                      linewidth=lw, label=f"first-order error ({dtype})")
            ax.loglog(rel, _positive(d["second_error"]), style, color=plotting.COLORS[3],
                      linewidth=lw, label=f"second-order error ({dtype})")
            ax.axhline(d["floor"], color="0.6", linewidth=0.8, linestyle=(0, (1, 3)))
        d = e["float64"]
        anchor = int(np.argmin(np.abs(rel - 1e-3)))
        _guide(ax, rel, plotting.array(d["first_error"])[anchor], 2, anchor,
               "guides ∝ ε² and ∝ ε³")
        if d["second_slope"] is not None:
            anchor = int(np.argmin(np.abs(rel - 1e-2)))
            _guide(ax, rel, plotting.array(d["second_error"])[anchor], 3, anchor, None)
        slope = lambda v: "–" if v is None else f"{v:.2f}"
        second = (f"second {slope(d['second_slope'])}" if d["second_slope"] is not None
                  else f"second: round-off ({d['second_error_ulps']:.1f} ulp)")
        ax.set(xlabel="ε / ε*", ylabel="|f(x − εg) − f(x) − model|",
               title=f"{titles[name]}\nslopes (float64): first {slope(d['first_slope'])}, "
                     f"{second}")
        lo, hi = plotting.finite_limits(*(_positive(e[t][k]) for t in ("float64", "float32")
                                          for k in ("actual", "first_error")), log=True)
        ax.set_ylim(max(lo, 1e-19), hi)
        ax.text(0.03, 0.97, "grey dots: machine ε·|f(x)|\n(float32 upper, float64 lower)",
                transform=ax.transAxes, ha="left", va="top", fontsize=7.5, color="0.4")
    handles, labels = axes[0, 1].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=4)
    return fig


def _plot_step_size(s, titles):
    fig, axes = plotting.figure(1, 3, title="Which step size? The quadratic model's ε* = gᵀg/gᵀHg "
                                "against a line search, 1/λ_max and 2/λ_max", height=4.2)
    for ax, name in zip(axes[0], _PROBLEMS, strict=True):
        e = s["step_sizes"][name]
        ls = e["line_search"]
        eps = plotting.array(ls["eps_grid"])
        ax.semilogx(eps, plotting.array(ls["change"]), color="0.2",
                    label="actual f(x − εg) − f(x)")
        ax.semilogx(eps, plotting.array(e["model_first"]), color=plotting.COLORS[0],
                    linewidth=1.1, label="first order −εgᵀg")
        ax.semilogx(eps, plotting.array(e["model_second"]), color=plotting.COLORS[3],
                    linewidth=1.1, label="second order −εgᵀg + ½ε²gᵀHg")
        marks = [
            (e["eps_star"], "ε* = gᵀg/gᵀHg", dict(color=plotting.COLORS[1], linestyle="-",
                                                  linewidth=2.4, alpha=0.8)),
            (ls["best"], "line search (first minimum)", dict(color="0.1", linestyle=":")),
            (e["one_over_lambda_max"], "1/λ_max", dict(color=plotting.COLORS[2],
                                                      linestyle="--")),
            (e["two_over_lambda_max"], "2/λ_max", dict(color=plotting.COLORS[4],
                                                      linestyle="--")),
        ]
        for x, label, style in marks:
            if x is not None and np.isfinite(x):
                ax.axvline(x, label=label, **{"linewidth": 1.2, **style})
        low = min(ls["best_change"], float(np.nanmin(plotting.array(e["model_second"]))))
        ax.set_ylim(1.6 * low, -0.9 * low)
        ax.set(xlabel="step size ε", ylabel="change of the loss",
               title=f"{titles[name]}\nline search / ε* = {e['best_over_eps_star']:.3g}, "
                     f"ε*·λ_max = {e['eps_star'] * e['lambda_max']:.3g}")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=4)
    return fig


def _plot_training(s):
    runs = s["training"]["runs"]
    fig, axes = plotting.figure(2, 3, title="Along a real run (MNIST-1D MLP, full-batch GD, "
                                "float32): does curvature catch up with the gradient?",
                                height=7.8, width=15.0)
    for i, r in enumerate(runs):
        color = plotting.COLORS[i % len(plotting.COLORS)]
        lab = f"η = {r['learning_rate']:g}"
        loss = plotting.array(r["loss"])
        steps = plotting.array(r["steps"])
        gTg, gTHg = plotting.array(r["gTg"]), plotting.array(r["gTHg"])
        axes[0, 0].semilogy(np.arange(len(loss)), loss, color=color, label=lab)
        if r["diverged_at"] is not None:
            plotting.mark_diverged(axes[0, 0], r["diverged_at"], np.nanmax(loss))
        axes[0, 1].semilogy(steps, gTg, color=color, label=f"gᵀg, {lab}")
        axes[0, 1].semilogy(steps, gTHg, color=color, linestyle="--", label=f"gᵀHg, {lab}")
        axes[0, 2].semilogy(steps, plotting.array(r["ratio"]), color=color, label=lab)
        chk = plotting.array(r["check_steps"])
        ax = axes[1, 0]
        ax.semilogy(steps, np.where(gTHg > 0, gTg / gTHg, np.nan), color=color,
                    linewidth=1.1, label=f"ε* = gᵀg/gᵀHg, {lab}")
        ax.semilogy(chk, plotting.array(r["best_eps"]), "o", color=color, markersize=7,
                    markerfacecolor="none", label=f"line search, {lab}")
        ax.semilogy(chk, 2 / plotting.array(r["lambda_max"]), "v", color=color, markersize=5,
                    label=f"2/λ_max, {lab}")
        ax.axhline(r["learning_rate"], color=color, linewidth=0.9, linestyle=":")
        actual = plotting.array(r["step_actual"])
        for ax, key in ((axes[1, 1], "step_first"), (axes[1, 2], "step_second")):
            ax.plot(plotting.array(r[key]), actual, "o", color=color, markersize=3.5,
                    alpha=0.7, label=lab)
    axes[0, 0].set(xlabel="step", ylabel="training loss (cross-entropy)",
                   title="the loss falls (faster with the larger η)")
    axes[0, 1].set(xlabel="step", ylabel="gᵀg (solid), gᵀHg (dashed)",
                   title="gradient size and curvature along g")
    axes[0, 2].axhline(1, **plotting.THEORY, label="1: the second-order gain is zero")
    axes[0, 2].set(xlabel="step", ylabel="½η²gᵀHg / ηgᵀg  =  η / (2ε*)",
                   title="how much of the first-order gain\nthe curvature takes back")
    axes[1, 0].set(xlabel="step", ylabel="step size",
                   title="ε* against the line search and 2/λ_max\n(dotted: the η in use)")
    for ax, order in ((axes[1, 1], "first-order −ηgᵀg"),
                      (axes[1, 2], "second-order −ηgᵀg + ½η²gᵀHg")):
        lim = plotting.finite_limits(*(plotting.array(r[k]) for r in runs for k in (
            "step_actual", "step_first")))
        ax.plot(lim, lim, **plotting.THEORY, label="actual = predicted")
        ax.set_xscale("symlog", linthresh=1e-3)
        ax.set_yscale("symlog", linthresh=1e-3)
        ax.set(xlabel=f"predicted change per step: {order}",
               ylabel="actual change f(θ_(k+1)) − f(θ_k)",
               title=f"every {int(runs[0]['steps'][1])}th step: actual vs {order.split()[0]}")
    for ax in axes.ravel():
        ax.legend(fontsize=7.5)
    return fig


def plot(result: dict) -> dict:
    s = result["series"]
    titles = _titles(result["config"])
    return {"error_scaling": _plot_scaling(s, titles), "step_size": _plot_step_size(s, titles),
            "training": _plot_training(s)}


if __name__ == "__main__":
    gdlab.experiment.script_main(__file__)
