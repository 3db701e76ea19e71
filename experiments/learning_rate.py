"""The learning rate sets the step: too small crawls, too large oscillates, past 2/λ_max diverges.

Gradient descent w ← w − η·∇f(w) on a quadratic moves every Hessian eigen-direction
by the factor 1 − ηλ_i per step: it converges iff η < 2/λ_max, fastest at
η* = 2/(λ_min + λ_max), where the factor is (κ − 1)/(κ + 1), κ = λ_max/λ_min. This
experiment measures all of it: f(x) = x² step by step against x_t = (1 − 2η)^t·x₀;
paths on 0.1·x₁² + 2·x₂² and on x·cos(cx); one vmapped sweep of many rates on
quadratics of condition number 10, 100 and 1000 (limits and asymptotic speeds measured
per eigen-direction, then compared with the Hessian from ``jax.hessian``); and an MLP on
MNIST-1D over several seeds, where 2/λ_max of the Hessian at initialisation is only a
local estimate of the usable rate: the best run ends at the edge of stability
(λ_max ≈ 2/η, see ``edge_of_stability``), not in a region flat enough to be stable.

The speed is the asymptotic per-step factor: for each eigen-direction
|c_T,i / c_0,i|^(1/T) (exact for a quadratic), and its maximum over directions. A fit of
the loss over the last steps is not asymptotic for κ = 1000: the λ_max direction weighs
κ times more in the loss and still dominates it, so such a fit can "beat" the optimum.

Run:    gdlab run learning_rate      (or: python experiments/learning_rate.py --help)
Writes: results/learning_rate/result.json, parabola.png, paths.png, stability.png, mlp.png
The measured numbers are the claims in results/learning_rate/result.json (`gdlab list`).
"""

import dataclasses
import functools
import math
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

import gdlab


@dataclass(frozen=True)
class Config:
    # f(x) = x² from x0: its limit is η = 1 (λ = 2), its one-step rate η = 0.5.
    x0: float = 10.0
    parabola_rates: tuple[float, ...] = (0.05, 0.3, 0.95, 1.05)  # small, right, below, above
    parabola_steps: int = 20
    # Paths on 0.1·x1² + 2·x2² (limit 0.5) and x·cos(0.15π·x) (local limit ≈ 1.10).
    valley_rates: tuple[float, ...] = (0.05, 0.3, 0.45, 0.51)
    valley_steps: int = 40
    xcos_rates: tuple[float, ...] = (0.1, 0.6, 1.2, 2.0)
    xcos_steps: int = 40
    # Stability sweep: quadratics ½ yᵀdiag(λ)y, y = Qᵀx (Q random), λ_i = κ^(i/(dim−1)).
    kappas: tuple[float, ...] = (10.0, 100.0, 1000.0)  # condition numbers (λ from 1 to κ)
    dim: int = 10  # dimension of each quadratic
    rate_min: float = 1e-4  # rates: geomspace(rate_min, rate_max, num_rates)
    rate_max: float = 1.0
    num_rates: int = 600
    sweep_steps: int = 1000  # steps per run of the sweep
    # An MLP on MNIST-1D, full-batch GD in float32.
    mlp_sizes: tuple[int, ...] = (40, 32, 10)  # layer widths (tanh, Xavier init)
    mlp_examples: int = 1000  # the first N training examples form the full batch
    mlp_rate_min: float = 0.1
    mlp_rate_max: float = 64.0
    mlp_num_rates: int = 28
    mlp_steps: int = 200
    mlp_seeds: int = 5  # initialisations seed, seed + 1, …: claims hold over them
    seed: int = 0  # rotation of the quadratics and the first MLP initialisation


QUICK = {
    "num_rates": 150, "sweep_steps": 300, "mlp_sizes": (40, 8, 10), "mlp_examples": 200,
    "mlp_num_rates": 8, "mlp_steps": 40, "parabola_steps": 10, "valley_steps": 15,
    "xcos_steps": 15,
}


def _check(config: Config) -> None:
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        for v in value if isinstance(value, tuple) else (value,):
            if isinstance(v, float) and not math.isfinite(v):
                raise ValueError(f"{field.name} must be finite, got {value!r}")
    if len(config.mlp_sizes) < 3 or (config.mlp_sizes[0], config.mlp_sizes[-1]) != (40, 10):
        raise ValueError(f"mlp_sizes must be (40, hidden…, 10) for MNIST-1D, got "
                         f"{config.mlp_sizes}")
    if config.mlp_seeds < 1 or config.seed < 0:
        raise ValueError("mlp_seeds must be >= 1 and seed >= 0")
    if not 0 < config.rate_min < config.rate_max:
        raise ValueError("need 0 < rate_min < rate_max")
    if not 0 < config.mlp_rate_min < config.mlp_rate_max:
        raise ValueError("need 0 < mlp_rate_min < mlp_rate_max")
    if min(config.kappas) < 1:
        raise ValueError(f"condition numbers must be >= 1, got {config.kappas}")
    if min(config.num_rates, config.mlp_num_rates, config.sweep_steps, config.dim) < 2:
        raise ValueError("num_rates, mlp_num_rates, sweep_steps and dim must be >= 2")


def _sgd_paths(problem, rates, steps):
    """Every rate in one sweep: iterates (len(rates), steps + 1, ...) and losses."""
    sweep = gdlab.train.sweep(problem.loss, problem.x0, "sgd", {"learning_rate": rates}, steps,
                              divergence_factor=None, record_params=True)
    return np.asarray(sweep.params), np.asarray(sweep.loss)


# --------------------------------------------------------------------------- x²


def parabola(config: Config) -> dict:
    """GD on x² against the closed form x_t = (1 − 2η)^t·x₀."""
    problem = gdlab.problems.x_squared(x0=config.x0)
    t = np.arange(config.parabola_steps + 1)
    runs = []
    iterates, _ = _sgd_paths(problem, config.parabola_rates, config.parabola_steps)
    for rate, xs in zip(config.parabola_rates, iterates, strict=True):
        theory = (1 - 2 * rate) ** t * config.x0
        runs.append({"rate": rate, "x": xs, "theory": theory,
                     "rel_error": float(np.max(np.abs(xs - theory)) / config.x0)})
    return {"runs": runs}


# --------------------------------------------------------------------------- paths


def paths(config: Config) -> dict:
    """Paths on the ill-conditioned valley and on x·cos(cx), one train.run per rate."""
    valley = gdlab.problems.ill_conditioned()
    lam = np.asarray(valley.info["eigenvalues"])  # A = diag(0.2, 4)
    t = np.arange(config.valley_steps + 1)[:, None]
    valley_runs = []
    for rate, xs, loss in zip(config.valley_rates, *_sgd_paths(valley, config.valley_rates,
                                                               config.valley_steps), strict=True):
        theory = (1 - rate * lam) ** t * np.asarray(valley.x0)
        valley_runs.append({"rate": rate, "x": xs, "loss": loss,
                            "rel_error": float(np.max(np.abs(xs - theory)) / 5)})
    xcos = gdlab.problems.x_cos()
    curvature = float(np.asarray(gdlab.curvature.hessian(xcos.loss, xcos.argmin))[0, 0])  # f''(x*)
    xcos_runs = []
    for rate, xs, loss in zip(config.xcos_rates, *_sgd_paths(xcos, config.xcos_rates,
                                                             config.xcos_steps), strict=True):
        xcos_runs.append({"rate": rate, "x": xs, "loss": loss})
    return {
        "valley": valley_runs, "valley_eigenvalues": lam, "valley_domain": valley.domain,
        "valley_limit": float(2 / lam.max()), "xcos": xcos_runs,
        "xcos_minima": np.asarray(xcos.minima), "xcos_curvature": curvature,
        "xcos_local_limit": 2 / curvature, "xcos_c": xcos.info["c"],
    }


# --------------------------------------------------------------------------- stability


def quadratic_family(dim: int, seed: int):
    """f(x; κ) = ½ Σ_i λ_i(κ)·(Qᵀx)_i², λ_i = κ^(i/(dim−1)): eigenvalues 1 … κ, rotated by Q."""
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(dim, dim)))
    q = q * np.sign(np.diag(r))
    powers = np.arange(dim) / (dim - 1)

    def loss(x, kappa):
        y = jnp.asarray(q.T, x.dtype) @ x
        return 0.5 * jnp.sum(kappa ** jnp.asarray(powers, x.dtype) * y**2)

    x0 = q @ np.ones(dim)  # one unit along every eigen-direction
    return loss, jnp.asarray(x0, jnp.float64)


def per_step_rate(loss, floor: float = 1e-280) -> np.ndarray:
    """Measured per-step factor of ‖x − x*‖ from loss curves (…, T+1).

    (L_b / L_a)^(1/(2(b − a))) with b the last step whose loss is finite and above
    ``floor`` (no underflow) and a = 3b/4: the asymptotic rate of the run, once the
    slowest eigen-direction dominates the loss. NaN if b < 4.
    """
    loss = np.asarray(loss, dtype=np.float64)
    ok = np.isfinite(loss) & (loss > floor)
    steps = np.arange(loss.shape[-1])
    b = np.where(ok, steps, -1).max(axis=-1)
    a = (3 * b) // 4
    lb = np.take_along_axis(loss, np.maximum(b, 0)[..., None], -1)[..., 0]
    la = np.take_along_axis(loss, np.maximum(a, 0)[..., None], -1)[..., 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = (lb / la) ** (1 / (2 * np.maximum(b - a, 1)))
    return np.where(b >= 4, rate, np.nan)


def stability(config: Config) -> dict:
    """One sweep over (κ, η); measured limits and speeds against the Hessian's eigenvalues."""
    loss, x0 = quadratic_family(config.dim, config.seed)
    kappas = np.asarray(config.kappas, dtype=np.float64)
    rates = np.geomspace(config.rate_min, config.rate_max, config.num_rates)
    T = config.sweep_steps
    sweep = gdlab.train.sweep(loss, x0, "sgd", {"kappa": kappas, "learning_rate": rates}, T,
                              divergence_factor=None)  # run on until the loss overflows
    hessian = jax.jit(jax.hessian(loss))
    per_kappa = []
    for i, kappa in enumerate(kappas):
        lam, vectors = np.linalg.eigh(np.asarray(hessian(x0, kappa)))
        curve = sweep.loss[i]
        converges = (sweep.diverged_at[i] < 0) & (curve[:, -1] < curve[:, 0])
        bad = np.nonzero(~converges)[0]
        j = int(bad[0]) if bad.size else None
        limit = 2 / lam.max()
        theory_factor = np.max(np.abs(1 - rates[:, None] * lam[None, :]), axis=1)
        # Per eigen-direction: |c_T,i / c_0,i|^(1/k) with c = Vᵀx, k the last step run.
        steps = np.where(sweep.diverged_at[i] >= 0, sweep.diverged_at[i], T)
        c0 = vectors.T @ np.asarray(x0)
        cT = np.asarray(sweep.final_params[i]) @ vectors
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            norm = np.linalg.norm(cT, axis=1, keepdims=True)
            alive = (sweep.diverged_at[i] < 0)[:, None] & (np.abs(cT) > 1e-250) & np.isfinite(cT)
            direction = np.abs(cT / c0) ** (1 / steps[:, None])
        # The asymptotic factor is the slowest direction's (the others have died out by
        # comparison); directions that underflowed are faster still and left out.
        measured = np.where(np.any(alive, axis=1),
                            np.max(np.where(alive, direction, -np.inf), axis=1), np.nan)
        measured = np.where(converges, measured, np.nan)
        best = int(np.nanargmin(measured))
        # Error check only where a direction is well above the leakage of the others
        # (eigh's vectors are exact to ~1e-16): there the ratio is exact to ~1e-10 / steps.
        valid = alive & (np.abs(cT) > 1e-6 * norm)
        direction_error = np.abs(direction - np.abs(1 - rates[:, None] * lam[None, :]))
        per_kappa.append({
            "kappa": float(kappa), "eigenvalues": lam,
            "limit_theory": float(limit),
            "limit_measured": None if j is None else float(rates[j]),
            "limit_brackets": bool(j is not None and j > 0 and rates[j - 1] < limit <= rates[j]),
            "best_rate_theory": float(2 / (lam.min() + lam.max())),
            "best_rate_measured": float(rates[best]),
            "best_rate_inside": gdlab.train.best(np.where(converges, measured, np.inf),
                                                 {"learning_rate": rates}).inside,
            "factor_theory": float((lam.max() / lam.min() - 1) / (lam.max() / lam.min() + 1)),
            "factor_measured": float(measured[best]),
            "factor_theory_at_best": float(theory_factor[best]),
            # the loss fitted over the last quarter: transient for large κ (see docstring)
            "loss_fit_factor_at_best": float(per_step_rate(curve[best])),
            "direction_max_abs_error": float(np.max(direction_error[valid])),
            "directions_checked": int(valid.sum()),
            "final_over_initial": np.where(sweep.diverged_at[i] < 0, curve[:, -1] / curve[:, 0],
                                           np.inf),
            "diverged_at": sweep.diverged_at[i],
            "measured_factor": measured,
            "theory_factor": theory_factor,
        })
    return {"rates": rates, "grid_ratio": float(rates[1] / rates[0]), "steps": T,
            "problems": per_kappa}


# --------------------------------------------------------------------------- MLP


@functools.partial(jax.jit, static_argnums=(0, 1))
def _per_seed(init, loss, seeds, best_params, data):
    """Per seed, in one program: the loss at the init ``train.sweep`` draws for it
    (init key = split(key(seed))[0], recomputed here), and λ_max of the Hessian (Lanczos
    on HVPs; the data passed, never closed over) at that init and at ``best_params``."""

    starts = jax.vmap(lambda seed: init(jax.random.split(jax.random.key(seed))[0]))(seeds)
    both = jax.tree.map(lambda a, b: jnp.concatenate([a, b.astype(a.dtype)]), starts, best_params)
    # one point at a time (no batched matmuls), one Lanczos loop for all 2 × seeds points
    lam = jax.lax.map(lambda p: gdlab.curvature.sharpness(loss, p, data=data,
                                                          method="lanczos"), both)
    return jax.lax.map(lambda p: loss(p, data), starts), lam[:len(seeds)], lam[len(seeds):]


def mlp(config: Config) -> dict:
    """Full-batch GD on MNIST-1D over a range of rates and seeds, against 2/λ_max at
    initialisation and after the best run (per seed)."""
    problem = gdlab.problems.get("mnist1d_mlp", hidden=list(config.mlp_sizes[1:-1]),
                                 train_size=config.mlp_examples)
    seeds = np.arange(config.seed, config.seed + config.mlp_seeds)
    rates = np.geomspace(config.mlp_rate_min, config.mlp_rate_max, config.mlp_num_rates)
    sweep = gdlab.train.sweep(problem.loss, problem.init, "sgd", {"learning_rate": rates},
                              config.mlp_steps, seeds=seeds, data=problem.data)
    final = sweep.final_loss  # (rates, seeds)
    bests = [gdlab.train.best(final[:, k], {"learning_rate": rates}) for k in range(len(seeds))]
    best_index = np.asarray([b.index[0] for b in bests])
    best_params = jax.tree.map(lambda a: a[best_index, np.arange(len(seeds))], sweep.final_params)
    recomputed, sharpness_init, sharpness_best = map(np.asarray, _per_seed(
        problem.init, problem.loss, seeds, best_params, problem.data))
    per_seed = []
    for k, (seed, best, j) in enumerate(zip(seeds, bests, best_index, strict=True)):
        initial = float(sweep.loss[0, k, 0])
        per_seed.append({
            "seed": int(seed), "initial_loss": initial,
            "initial_loss_recomputed": float(recomputed[k]),
            "sharpness_init": float(sharpness_init[k]),
            "best_rate": float(rates[j]), "best_inside": best.inside,
            "best_final_loss": float(final[j, k]),
            "first_rate_without_progress": gdlab.train.first_rate_without_progress(
                rates, final[:, k], initial),
            "sharpness_after_best": float(sharpness_best[k]),
        })
    return {
        "rates": rates, "seeds": seeds, "loss": sweep.loss[:, 0],  # (rate, t): the first seed
        "final_loss": final.T, "diverged_at": sweep.diverged_at.T, "per_seed": per_seed,
        "num_params": sum(p.size for p in jax.tree.leaves(sweep.final_params)) // final.size,
    }


def _mlp_metrics(net: dict) -> dict:
    """Per-seed lists (in seed order) and their medians."""
    rows = net["per_seed"]

    def col(name):
        return [r[name] for r in rows]

    def ratio(top, bottom):
        return [None if a is None or b is None else a / b
                for a, b in zip(top, bottom, strict=True)]

    limit_init = [2 / lam for lam in col("sharpness_init")]
    per_seed = {
        "seeds": col("seed"),
        "initial_loss": col("initial_loss"),
        "initial_loss_recomputed": col("initial_loss_recomputed"),
        "sharpness_init": col("sharpness_init"),
        "limit_init_2_over_lambda_max": limit_init,
        "best_rate": col("best_rate"),
        "best_rate_inside_grid": col("best_inside"),
        "two_over_best_rate": [2 / r for r in col("best_rate")],
        "best_final_loss": col("best_final_loss"),
        "best_rate_over_limit_init": ratio(col("best_rate"), limit_init),
        "first_rate_without_progress": col("first_rate_without_progress"),
        "no_progress_rate_over_limit_init": ratio(col("first_rate_without_progress"),
                                                  limit_init),
        "sharpness_after_best_run": col("sharpness_after_best"),
        "sharpness_after_over_init": ratio(col("sharpness_after_best"), col("sharpness_init")),
        # η·λ_max/2 after the best run: 1 is the edge of stability λ_max = 2/η
        "eta_times_sharpness_over_2": [r["best_rate"] * r["sharpness_after_best"] / 2
                                       for r in rows],
    }
    medians = {f"median_{k}": float(np.median([v for v in vals if v is not None]))
               for k, vals in per_seed.items()
               if k not in ("seeds", "best_rate_inside_grid") and any(v is not None for v in vals)}
    return {"num_params": net["num_params"], **medians, "per_seed": per_seed}


# --------------------------------------------------------------------------- protocol


def run(config: Config) -> dict:
    _check(config)
    par = parabola(config)
    pth = paths(config)
    stab = stability(config)
    net = mlp(config)
    problems = stab["problems"]
    metrics = {
        "parabola_closed_form_max_rel_error": max(r["rel_error"] for r in par["runs"]),
        "parabola_final_abs_x": {f"rate_{r['rate']:g}": float(abs(r["x"][-1]))
                                 for r in par["runs"]},
        "valley_closed_form_max_rel_error": max(r["rel_error"] for r in pth["valley"]),
        "valley_final_loss": {f"rate_{r['rate']:g}": float(r["loss"][-1])
                              for r in pth["valley"]},
        "xcos_local_limit_2_over_curvature": pth["xcos_local_limit"],
        "xcos_final_x": {f"rate_{r['rate']:g}": float(r["x"][-1]) for r in pth["xcos"]},
        "rate_grid_ratio": stab["grid_ratio"],
        "quadratics": {
            f"kappa_{p['kappa']:g}": {
                "limit_theory_2_over_lambda_max": p["limit_theory"],
                "limit_measured": p["limit_measured"],
                "limit_bracketed_by_grid": p["limit_brackets"],
                "best_rate_theory": p["best_rate_theory"],
                "best_rate_measured": p["best_rate_measured"],
                "factor_theory_(k-1)/(k+1)": p["factor_theory"],
                "factor_measured": p["factor_measured"],
                "factor_theory_at_that_rate": p["factor_theory_at_best"],
                "direction_factor_max_abs_error": p["direction_max_abs_error"],
                "best_rate_inside_grid": p["best_rate_inside"],
                "loss_fit_factor_at_best_rate": p["loss_fit_factor_at_best"],
            }
            for p in problems
        },
        "all_limits_bracketed": all(p["limit_brackets"] for p in problems),
        "mlp": _mlp_metrics(net),
    }
    series = {"parabola": par, "paths": pth, "stability": stab, "mlp": net}
    return {"metrics": metrics, "series": series}


def _valley_claim(paths: dict) -> dict:
    from gdlab import claims as c

    limit = paths["valley_limit"]
    grows = {r["rate"]: (r["loss"][-1] is None or r["loss"][-1] > r["loss"][0])
             for r in paths["valley"]}
    right = all(g == (rate > limit) for rate, g in grows.items())
    return c.fact(f"on the valley the loss falls at every rate below 2/λ_max = {limit:g} and "
                  f"grows at every rate above it", {f"{k:g}": "grows" if g else "falls"
                                                    for k, g in grows.items()},
                  "falls iff η < 2/λ_max", right)


def claims(result: dict) -> list[dict]:
    from gdlab import claims as c

    m = result["metrics"]
    ratio = m["rate_grid_ratio"]
    out = [
        c.below("GD on x² follows x_t = (1 − 2η)^t·x₀ (max relative error)",
                m["parabola_closed_form_max_rel_error"], 1e-12),
        c.below("GD on 0.1·x₁² + 2·x₂² follows (1 − ηλ_i)^t per coordinate",
                m["valley_closed_form_max_rel_error"], 1e-12),
        _valley_claim(result["series"]["paths"]),
    ]
    for name, q in m["quadratics"].items():
        kappa = name.removeprefix("kappa_")
        limit, eta_star = q["limit_theory_2_over_lambda_max"], q["best_rate_theory"]
        optimum = q["factor_theory_(k-1)/(k+1)"]
        lam_min = 2 / eta_star - 2 / limit  # λ_min + λ_max − λ_max
        out += [
            c.between(f"κ = {kappa}: the first rate that fails lies within one grid step "
                      f"above 2/λ_max (jax.hessian)", q["limit_measured"], limit, limit * ratio),
            c.below(f"κ = {kappa}: every eigen-direction shrinks by |1 − ηλ_i| per step "
                    f"(max abs error)", q["direction_factor_max_abs_error"], 1e-9),
            c.between(f"κ = {kappa}: the fastest grid rate / 2/(λ_min + λ_max) lies within "
                      f"one grid step of 1", q["best_rate_measured"] / eta_star, 1 / ratio, ratio),
            # nothing beats the optimum; the grid costs at most η*·λ_min·(r − 1)
            c.between(f"κ = {kappa}: the best asymptotic factor is (κ − 1)/(κ + 1) up to "
                      f"the grid's resolution, never below it", q["factor_measured"],
                      optimum - 1e-12, optimum + eta_star * lam_min * (ratio - 1)),
        ]
    n = m["mlp"]
    ps = n["per_seed"]
    seeds = ps["seeds"]
    out += [
        c.fact("MLP: the initial loss the sweep records is the loss of the recomputed "
               "initialisation (so λ_max(init) is measured where the runs start)",
               max(abs(a - b) for a, b in zip(ps["initial_loss"], ps["initial_loss_recomputed"],
                                              strict=True)),
               "≤ 1e-5 for every seed", all(abs(a - b) <= 1e-5 for a, b in zip(
                   ps["initial_loss"], ps["initial_loss_recomputed"], strict=True)),
               seeds=seeds),
        c.fact("MLP: each seed's best rate lies strictly inside the rate grid",
               sum(ps["best_rate_inside_grid"]), f"= {len(seeds)} seeds",
               all(ps["best_rate_inside_grid"]), seeds=seeds),
        c.over_seeds("MLP: the best rate lies above 2/λ_max at initialisation "
                     "(best rate / (2/λ₀))", ps["best_rate_over_limit_init"], lower=1.0,
                     seeds=seeds),
        c.over_seeds("MLP: the loss still improves at rates far past 2/λ₀ (first rate "
                     "without progress / (2/λ₀))", ps["no_progress_rate_over_limit_init"],
                     lower=5.0, seeds=seeds),
        c.over_seeds("MLP: the best run ends at the edge of stability, not in a stable "
                     "flat region: η·λ_max/2 ≈ 1 (λ_max ≈ 2/η, see edge_of_stability)",
                     ps["eta_times_sharpness_over_2"], lower=0.8, upper=2.5, seeds=seeds),
    ]
    return out


# --------------------------------------------------------------------------- figures


def _figures():
    """experiments/_learning_rate_figures.py (a private module beside this script)."""
    return gdlab.experiment.sibling(__file__, "_learning_rate_figures")


def plot(result: dict) -> dict:
    fig = _figures()
    return {"parabola": fig.parabola(result), "paths": fig.paths(result),
            "stability": fig.stability(result), "mlp": fig.mlp(result)}


if __name__ == "__main__":
    gdlab.experiment.script_main(__file__)
