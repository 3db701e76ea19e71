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

What it claims (checked by ``claims``): the error slopes 2 and 3 in float64, and the
round-off floor that hides the ε³ law in float32; ε* against the line search and
1/λ_max; and along training, over ``num_seeds`` MLP inits: at the large η the curvature
takes back most of the first-order gain, so the first-order model over-predicts the
decrease many-fold and even the second-order model is off by about 100 % per step (the
quadratic model predicts roughly no change: what the step really does is decided by the
third and higher orders, the edge-of-stability regime); at the small η the second-order
model is right, and the phase where η/(2ε*) ≪ 1 is a phase where the gradient lies in
flat directions (gᵀHg/gᵀg ≪ λ_max: ill-conditioning), not one where the gradient is
merely small. The measured numbers are the claims in results/taylor_step/result.json
(`gdlab list`).
"""

import functools
from dataclasses import dataclass
from types import SimpleNamespace

import jax
import jax.numpy as jnp
import numpy as np

import gdlab
from gdlab import taylor


@dataclass(frozen=True)
class Config:
    quadratic_eigenvalues: tuple[float, ...] = (0.1, 1.0, 10.0)  # spectrum of the quadratic's A
    rosenbrock_x0: tuple[float, float] = (-1.2, 1.0)  # the classic start point
    hidden: int = 100  # width of the MLP 40 → hidden → 10 (tanh, Xavier init)
    train_size: int | None = None  # MNIST-1D training examples used (None: all 4000)
    seed: int = 0  # MNIST-1D data seed, the quadratic's rotation and the first MLP init seed
    num_seeds: int = 5  # training runs from MLP inits seed .. seed + num_seeds − 1
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
    "train_size": 1000, "grid_points": 31, "num_steps": 100, "track_every": 10,
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
    if config.num_seeds < 1 or config.seed < 0:
        raise ValueError("need num_seeds >= 1 and seed >= 0")


# --- the MLP: the catalogue's loss f (static: built once per configuration), data passed as
# an argument, so every jit below compiles once per shape and dtype -----------------------------


def _cast(tree, dtype):
    """The same numbers in ``dtype`` (cast on the host: no compiled cast per leaf)."""
    return jax.tree.map(lambda a: jnp.asarray(np.asarray(a).astype(dtype)), tree)


@functools.partial(jax.jit, static_argnums=0)
def _terms_and_value(f, x, eps, data=None):
    """``taylor.gradient_step_terms`` and f(x) in one program (f(x, data) if data given)."""
    value = f(x) if data is None else f(x, data)
    return taylor.gradient_step_terms(f, x, eps, data=data), value


def _mlp_terms(f, params, data, eps):
    return _terms_and_value(f, params, eps, data)[0]


@functools.partial(jax.jit, static_argnums=0, static_argnames=("num_iters",))
def _mlp_sharpness(f, params, data, *, num_iters):
    return gdlab.curvature.sharpness(f, params, num_iters=num_iters, method="lanczos",
                                     data=data)


@functools.partial(jax.jit, static_argnums=0)
def _mlp_track(f, params_stack, data, lrs):
    """At every point of a stack of parameters, the gradient step of size η that training
    took there: its actual change and the terms −ηgᵀg, ½η²gᵀHg (one gradient, one HVP)."""
    one = lambda p_lr: taylor.gradient_step_terms(f, *p_lr, data=data)
    return jax.lax.map(one, (params_stack, lrs))  # one point at a time: see gdlab.taylor


@functools.partial(jax.jit, static_argnums=0, static_argnames=("num_iters",))
def _mlp_sharpness_stack(f, params_stack, data, *, num_iters):
    return jax.lax.map(lambda p: _mlp_sharpness(f, p, data, num_iters=num_iters), params_stack)


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
    """{name: (loss, x0 in float64)}; for the MLP (data64, data32, params in float32), its
    loss and init (the catalogue's MNIST-1D MLP 40-hidden-10, tanh, Xavier). The MLP's
    params are None until ``training`` has run: the point analysed is the start of the
    first seed's training run, read from the sweep (no separate init program)."""
    r = gdlab.problems.rosenbrock(x0=config.rosenbrock_x0)
    mlp = {dtype: gdlab.problems.get("mnist1d_mlp", hidden=config.hidden, dtype=dtype,
                                     train_size=config.train_size, data_seed=config.seed)
           for dtype in (jnp.float32, jnp.float64)}
    train = {dtype: {"x": p.data["x"], "y": p.data["y"]} for dtype, p in mlp.items()}
    return {
        "quadratic": _quadratic(config),
        "rosenbrock": (r.loss, jnp.asarray(r.x0, jnp.float64)),
        "mlp": (train[jnp.float64], train[jnp.float32], None),
        "mlp_loss": mlp[jnp.float32].loss,  # apply reads the sizes and dtype from the params
        "mlp_init": mlp[jnp.float32].init,
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
    return _terms_with_value(problems, name, dtype, eps)[0]


def _terms_with_value(problems, name, dtype, eps):
    """(``_terms``, f at the start point) from one compiled program."""
    f, x = _point(problems, name, dtype)
    eps = jnp.asarray(eps, dtype)
    if f is None:  # the MLP: x is (params, data)
        return _terms_and_value(problems["mlp_loss"], x[0], eps, x[1])
    return _terms_and_value(f, x, eps)


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
            t, value = _terms_with_value(problems, name, dtype, eps)
            actual, first = np.asarray(t.actual, float), np.asarray(t.first_order, float)
            second = first + np.asarray(t.second_order, float)
            f0 = abs(float(value))
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


def _mlp_check(f, params, data, config: Config, lam=None) -> dict:
    """λ_max (Lanczos on HVPs, unless given), ε*, and a line search along −g for the MLP
    at ``params``."""
    if lam is None:
        lam = _mlp_sharpness(f, params, data, num_iters=config.lanczos_iters)
    lam = float(lam)
    dtype = jax.tree.leaves(params)[0].dtype
    change = lambda e: _mlp_terms(f, params, data, jnp.asarray(e, dtype))
    terms = change(np.ones(config.grid_points))
    return {"lambda_max": lam, "lambda_min": None, "gTg": float(terms.gTg),
            "gTHg": float(terms.gTHg),
            "line_search": _line_search(lambda e: change(e).actual, lam, config)}


def step_sizes(problems, config: Config, mlp_check: dict) -> dict:
    """ε*, λ_max and a line search per problem; the MLP's (float32, the dtype the network
    trains in) is ``mlp_check``, the check ``training`` made at step 0 of its first run."""
    out = {}
    for name in _PROBLEMS:
        if name == "mlp":
            check = mlp_check
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


def _train(loss, init, lrs, seeds, data, config: Config):
    """Full-batch GD at every η from every seed's init, recorded every ``track_every``
    steps: ``train.sweep``'s (loss, diverged_at, params) with axes (η, seed, ...).

    Each run is its own call of one compiled sweep program (one η, one seed): a network
    vmapped over runs turns its matmuls into batched ones, which XLA's CPU backend runs
    about 2× slower than the same runs one after another. The first call compiles it;
    the others then run side by side on the CPU cores (the same program: the same numbers)."""
    def one(lr, seed):
        return gdlab.train.sweep(loss, init, "sgd", {"learning_rate": [lr]}, config.num_steps,
                                 seeds=[seed], data=data, record=config.track_every,
                                 record_params=True)

    points = [(lr, seed) for lr in lrs for seed in seeds]
    runs = [one(*points[0])] + gdlab.experiment.in_threads(
        [lambda p=p: one(*p) for p in points[1:]])
    shape = (len(lrs), len(seeds))
    join = lambda *a: np.concatenate(a).reshape(shape + a[0].shape[2:])
    return SimpleNamespace(loss=join(*(r.loss for r in runs)),
                           diverged_at=join(*(r.diverged_at for r in runs)),
                           params=jax.tree.map(join, *(r.params for r in runs)))


def training(problems, config: Config) -> dict:
    """Full-batch GD from ``num_seeds`` inits at every η, recorded every ``track_every``
    steps; at each recorded point the step training takes there (size η) against its
    first- and second-order models, λ_max every ``check_every`` steps, and for the first
    seed a line search along −g at those steps."""
    _, data, _ = problems["mlp"]
    loss = problems["mlp_loss"]
    lrs = np.asarray(config.learning_rates, np.float32)
    seeds = list(range(config.seed, config.seed + config.num_seeds))
    sweep = _train(loss, problems["mlp_init"], lrs, seeds, data, config)
    steps = np.arange(0, config.num_steps + 1, config.track_every)
    every = config.check_every // config.track_every
    shape = (len(lrs), len(seeds), len(steps))  # (η, seed, recorded step)
    flat = jax.tree.map(lambda a: a.reshape((-1,) + a.shape[3:]), sweep.params)
    t = _mlp_track(loss, flat, data, np.repeat(lrs, len(seeds) * len(steps)))
    first, second, actual, gTg, gTHg = (
        np.asarray(v, float).reshape(shape)
        for v in (t.first_order, t.first_order + t.second_order, t.actual, t.gTg, t.gTHg))
    at_checks = jax.tree.map(lambda a: a.reshape(shape + a.shape[1:])[:, :, ::every], flat)
    lam = np.asarray(_mlp_sharpness_stack(
        loss, jax.tree.map(lambda a: a.reshape((-1,) + a.shape[3:]), at_checks), data,
        num_iters=config.lanczos_iters), float).reshape(len(lrs), len(seeds), -1)
    runs, start_check = [], None
    for r, lr in enumerate(config.learning_rates):
        first_seed = [jax.tree.map(lambda a, r=r, c=c: a[r, 0, c], at_checks)
                      for c in range(lam.shape[2])]
        if start_check is None:  # step 0 is the same point for every η: searched once
            start_check = _mlp_check(loss, first_seed[0], data, config, lam=lam[r, 0, 0])
        searches = [start_check["line_search"]["best"]] + [
            _mlp_check(loss, p, data, config, lam=lam[r, 0, c])["line_search"]["best"]
            for c, p in enumerate(first_seed) if c > 0]
        diverged = np.asarray(sweep.diverged_at[r])
        runs.append({
            "learning_rate": float(lr), "seeds": seeds,
            "loss": np.asarray(sweep.loss[r], float),  # (seed, recorded step)
            "diverged_at": [None if d < 0 else int(d) for d in diverged],
            "steps": steps, "gTg": gTg[r], "gTHg": gTHg[r],
            # ½η²gᵀHg / ηgᵀg = η/(2ε*): the share of the first-order gain curvature takes back
            "ratio": 0.5 * lr * gTHg[r] / np.where(gTg[r] > 0, gTg[r], np.nan),
            "step_actual": actual[r], "step_first": first[r], "step_second": second[r],
            "check_steps": steps[::every], "lambda_max": lam[r],
            "best_eps_first_seed": np.array(searches),
        })
    start = jax.tree.map(lambda a: a[0, 0, 0], at_checks)  # seed's init, before any step
    return {"runs": runs, "start": start, "start_check": start_check}


# --- run -----------------------------------------------------------------------------------


def _per_seed(r) -> dict:
    """Per seed (lists over the runs' seeds): what the tracked steps of one η show."""
    k = slice(0, -1)  # every tracked step that training took (the last point has none)
    actual, first, second = (np.asarray(r[n], float)[:, k] for n in (
        "step_actual", "step_first", "step_second"))
    ok = np.isfinite(actual) & (actual != 0)

    def median_rel(predicted):
        rel = np.abs(predicted - actual) / np.abs(np.where(ok, actual, 1.0))
        return [float(np.median(v[o])) if o.any() else None for v, o in zip(rel, ok, strict=True)]

    mid = len(r["check_steps"]) // 2
    rayleigh = r["gTHg"] / np.where(r["gTg"] > 0, r["gTg"], np.nan)
    at_mid = rayleigh[:, np.searchsorted(r["steps"], r["check_steps"][mid])]
    loss = np.asarray(r["loss"], float)
    out = {
        "final_loss": loss[:, -1],
        # median over the tracked steps of η/(2ε*) = ½η²gᵀHg / ηgᵀg
        "median_ratio": np.nanmedian(r["ratio"][:, k], axis=1),
        "sum_actual": actual.sum(axis=1), "sum_first": first.sum(axis=1),
        "sum_second": second.sum(axis=1),
        # how many times the first-order model over-predicts the summed decrease
        "first_order_over_actual": first.sum(axis=1) / actual.sum(axis=1),
        "median_relative_error_first_order": median_rel(first),
        "median_relative_error_second_order": median_rel(second),
        # steps where the second-order model gets even the sign of the change wrong
        "second_order_wrong_sign_fraction": np.mean(np.sign(second) != np.sign(actual), axis=1),
        # curvature along g over the sharpest curvature, at the middle check step
        "check_step_mid": int(r["check_steps"][mid]),
        "rayleigh_over_lambda_max_mid": at_mid / np.asarray(r["lambda_max"])[:, mid],
        "eta_lambda_max_over_2_final": r["learning_rate"] * np.asarray(r["lambda_max"])[:, -1] / 2,
    }
    out["median"] = {k: float(np.nanmedian(np.asarray(v, float))) for k, v in out.items()
                     if k != "check_step_mid"}
    return out


def run(config: Config) -> dict:
    _check(config)
    problems = _problems(config)
    train = training(problems, config)
    data64, data32, _ = problems["mlp"]
    problems["mlp"] = (data64, data32, train.pop("start"))  # the first seed's start
    scaling = error_scaling(problems, config)
    sizes = step_sizes(problems, config, train.pop("start_check"))
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
        "seeds": train["runs"][0]["seeds"],
        "training": {f"lr_{r['learning_rate']:g}": _per_seed(r) for r in train["runs"]},
    }
    runs = train["runs"]
    metrics["final_loss_ratio_last_over_first_lr"] = (
        np.asarray(runs[-1]["loss"], float)[:, -1] / np.asarray(runs[0]["loss"], float)[:, -1])
    series = {"scaling": scaling, "step_sizes": sizes, "training": train}
    return {"metrics": metrics, "series": series}


# --- claims (experiments/_taylor_step_claims.py) -----------------------------------------


def claims(result: dict) -> list[dict]:
    return gdlab.experiment.sibling(__file__, "_taylor_step_claims").claims(result, _PROBLEMS)


# --- plot (experiments/_taylor_step_figures.py) ---------------------------------------------


def plot(result: dict) -> dict:
    return gdlab.experiment.sibling(__file__, "_taylor_step_figures").plot(result)


if __name__ == "__main__":
    gdlab.experiment.script_main(__file__)
