"""The learning rate sets the step: too small crawls, too large oscillates, past 2/λ_max diverges.

Gradient descent w ← w − η·∇f(w) on a quadratic moves every Hessian eigen-direction
by the factor 1 − ηλ_i per step: it converges iff η < 2/λ_max, fastest at
η* = 2/(λ_min + λ_max), where the factor is (κ − 1)/(κ + 1), κ = λ_max/λ_min. This
experiment measures all of it: f(x) = x² step by step against x_t = (1 − 2η)^t·x₀;
paths on 0.1·x₁² + 2·x₂² and on x·cos(cx); one vmapped sweep of 600 rates on
quadratics of condition number 10, 100 and 1000 (limits and speeds measured, then
compared with the Hessian from ``jax.hessian``); and an MLP on MNIST-1D, where
2/λ_max of the Hessian at initialisation is only a local estimate of the usable rate.

Run:    gdlab run learning_rate      (or: python experiments/learning_rate.py --help)
Writes: results/learning_rate/result.json, parabola.png, paths.png, stability.png, mlp.png
Expect: ~30 s on a 2-core CPU. x² iterates = (1 − 2η)^t·10 to 1e-15; measured limits
        bracket 2/λ_max = 0.2, 0.02, 0.002 within one grid step (1.5%); per-direction
        factors = |1 − ηλ_i| to 5e-12; best factors 0.8185, 0.9805, 0.9979 against
        (κ − 1)/(κ + 1) = 0.8182, 0.9802, 0.9980. MLP: 2/λ_max(init) = 1.76, yet the best
        rate is 4.6 (2.6×) and the loss stops improving only at 31 (18×): the curvature
        changes as the network trains (λ_max = 0.53 after the best run).
"""

import functools
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

import gdlab
from gdlab import plotting


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
    seed: int = 0  # rotation of the quadratics and the MLP initialisation


QUICK = {
    "num_rates": 150, "sweep_steps": 300, "mlp_sizes": (40, 8, 10), "mlp_examples": 200,
    "mlp_num_rates": 8, "mlp_steps": 40, "parabola_steps": 10, "valley_steps": 15,
    "xcos_steps": 15,
}


def _check(config: Config) -> None:
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
    curvature = float(gdlab.curvature.hessian(xcos.loss, xcos.argmin)[0, 0])  # f''(x*), jitted
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
        measured = per_step_rate(curve)
        best = int(np.nanargmin(np.where(converges, measured, np.nan)))
        theory_factor = np.max(np.abs(1 - rates[:, None] * lam[None, :]), axis=1)
        # Per eigen-direction: |c_T,i / c_0,i|^(1/k) with c = Vᵀx, k the last step run.
        steps = np.where(sweep.diverged_at[i] >= 0, sweep.diverged_at[i], T)
        c0 = vectors.T @ np.asarray(x0)
        cT = np.asarray(sweep.final_params[i]) @ vectors
        # Only directions well above the leakage of the others (eigh's vectors are exact
        # to ~1e-16) and above underflow: there the ratio is exact to ~1e-10 / steps.
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            norm = np.linalg.norm(cT, axis=1, keepdims=True)
            valid = ((sweep.diverged_at[i] < 0)[:, None] & (np.abs(cT) > 1e-6 * norm)
                     & (np.abs(cT) > 1e-250) & np.isfinite(cT))
            direction = np.abs(cT / c0) ** (1 / steps[:, None])
        direction_error = np.abs(direction - np.abs(1 - rates[:, None] * lam[None, :]))
        per_kappa.append({
            "kappa": float(kappa), "eigenvalues": lam,
            "limit_theory": float(limit),
            "limit_measured": None if j is None else float(rates[j]),
            "limit_brackets": bool(j is not None and j > 0 and rates[j - 1] < limit <= rates[j]),
            "best_rate_theory": float(2 / (lam.min() + lam.max())),
            "best_rate_measured": float(rates[best]),
            "factor_theory": float((lam.max() / lam.min() - 1) / (lam.max() / lam.min() + 1)),
            "factor_measured": float(measured[best]),
            "factor_theory_at_best": float(theory_factor[best]),
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


@functools.partial(jax.jit, static_argnames="loss")
def _sharpness(loss, params, data):
    """λ_max of the Hessian of loss(·, data) by Lanczos on HVPs (data stays a jit argument:
    closed over, it would be folded into the compiled code as a constant, slowly)."""
    return gdlab.curvature.sharpness(lambda p: loss(p, data), params, method="lanczos")


def mlp(config: Config) -> dict:
    """Full-batch GD on MNIST-1D over a range of rates, against 2/λ_max at initialisation."""
    data = jax.tree.map(jnp.asarray, gdlab.data.mnist1d_train(config.mlp_examples))
    model = gdlab.models.mlp(list(config.mlp_sizes), activation="tanh", init="xavier",
                             dtype=jnp.float32)
    params = jax.jit(model.init)(jax.random.key(config.seed))  # one compile, not op by op
    loss = gdlab.losses.objective(model.apply, gdlab.losses.softmax_cross_entropy)
    lam0 = float(_sharpness(loss, params, data))
    rates = np.geomspace(config.mlp_rate_min, config.mlp_rate_max, config.mlp_num_rates)
    sweep = gdlab.train.sweep(loss, params, "sgd", {"learning_rate": rates}, config.mlp_steps,
                              data=data)
    initial = float(sweep.loss[0, 0])
    final = sweep.final_loss
    improves = np.isfinite(final) & (final < initial)
    bad = np.nonzero(~improves)[0]
    best = int(np.argmin(final))
    best_params = jax.tree.map(lambda a: a[best], sweep.final_params)
    lam_best = float(_sharpness(loss, best_params, data))
    return {
        "rates": rates, "loss": sweep.loss, "final_loss": final, "initial_loss": initial,
        "diverged_at": sweep.diverged_at,
        "sharpness_init": lam0, "limit_init": 2 / lam0,
        "first_rate_without_progress": float(rates[bad[0]]) if bad.size else None,
        "best_rate": float(rates[best]), "best_final_loss": float(final[best]),
        "sharpness_after_best": lam_best, "num_params": sum(p.size for p in
                                                             jax.tree.leaves(params)),
    }


# --------------------------------------------------------------------------- protocol


def run(config: Config) -> dict:
    _check(config)
    par = parabola(config)
    pth = paths(config)
    stab = stability(config)
    net = mlp(config)
    problems = stab["problems"]
    limit_init = net["limit_init"]
    no_progress = net["first_rate_without_progress"]
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
            }
            for p in problems
        },
        "all_limits_bracketed": all(p["limit_brackets"] for p in problems),
        "mlp": {
            "num_params": net["num_params"],
            "initial_loss": net["initial_loss"],
            "sharpness_init": net["sharpness_init"],
            "limit_init_2_over_lambda_max": limit_init,
            "best_rate": net["best_rate"],
            "best_rate_over_limit_init": net["best_rate"] / limit_init,
            "best_final_loss": net["best_final_loss"],
            "first_rate_without_progress": no_progress,
            "no_progress_rate_over_limit_init": None if no_progress is None
            else no_progress / limit_init,
            "sharpness_after_best_run": net["sharpness_after_best"],
            "two_over_sharpness_after_best_run": 2 / net["sharpness_after_best"],
        },
    }
    series = {"parabola": par, "paths": pth, "stability": stab, "mlp": net}
    return {"metrics": metrics, "series": series}


# --------------------------------------------------------------------------- figures


def _plot_parabola(result) -> object:
    runs = result["series"]["parabola"]["runs"]
    fig, axes = plotting.figure(1, 2, title="How big a step on f(x) = x²? The factor 1 − 2η "
                                "decides: crawl, converge, oscillate, diverge")
    for r in runs:
        x, theory = plotting.array(r["x"]), plotting.array(r["theory"])
        t = np.arange(len(x))
        line, = axes[0, 0].plot(t, x, "o-", markersize=3,
                                label=f"η = {r['rate']:g}  (1 − 2η = {1 - 2 * r['rate']:+.2f})")
        axes[0, 1].semilogy(t, np.abs(x), "o", markersize=3, color=line.get_color())
        axes[0, 1].semilogy(t, np.abs(theory), color=line.get_color(), linewidth=0.9,
                            linestyle="--")
    axes[0, 1].plot([], [], label="closed form |1 − 2η|^t · x₀", **plotting.THEORY)
    axes[0, 1].plot([], [], "o", color="0.4", markersize=3, label="gradient descent")
    axes[0, 0].axhline(0, color="0.3", linewidth=0.8)
    axes[0, 0].set(xlabel="step t", ylabel="x_t", title="iterates from x₀ = 10 "
                   "(the limit is η = 1)")
    axes[0, 0].legend(loc="upper left", fontsize=8)
    axes[0, 1].set(xlabel="step t", ylabel="|x_t| (log scale)",
                   title="straight lines: a constant factor per step")
    axes[0, 1].legend(loc="lower left")
    return fig


def _inside(x, domain):
    """The path up to and including its first point outside the box (then it has left)."""
    lo, hi = np.asarray(domain)[:, 0], np.asarray(domain)[:, 1]
    out = np.nonzero(~np.all((x >= lo) & (x <= hi), axis=1))[0]
    return x if out.size == 0 else x[: out[0] + 1]


def _plot_paths(result) -> object:
    s = result["series"]["paths"]
    fig, axes = plotting.figure(2, 2, title="Where does each step go? Zig-zag across the "
                                "steep direction, crawl along the flat one", height=7.6,
                                width=10.5)
    (x_lo, _), y_range = (tuple(d) for d in s["valley_domain"])
    domain = [(x_lo, 1.0), y_range]  # the paths stay left of the minimum
    lam = plotting.array(s["valley_eigenvalues"])
    f = lambda z: 0.5 * (lam[0] * z[0] ** 2 + lam[1] * z[1] ** 2)
    groups = [s["valley"][:2], s["valley"][2:]]
    limit = s["valley_limit"]
    titles = [f"rates well below 2/λ_max = {limit:g}", f"rates near and past 2/λ_max = {limit:g}"]
    for ax, runs, title in zip(axes[0], groups, titles, strict=True):
        plotting.contour(ax, f, domain)
        for r in runs:
            x = plotting.array(r["x"])
            shown = _inside(x, domain)
            factors = ", ".join(f"{1 - r['rate'] * v:+.2f}" for v in lam)
            note = "" if len(shown) == len(x) else f", leaves at step {len(shown) - 1}"
            ax.plot(shown[:, 0], shown[:, 1], "o-", markersize=2.5, linewidth=1,
                    label=f"η = {r['rate']:g}: factors {factors}{note}")
        ax.plot(0, 0, "k*", markersize=9, label="minimum")
        ax.set(xlabel="x₁ (curvature 0.2)", ylabel="x₂ (curvature 4)",
               title=f"0.1·x₁² + 2·x₂²: {title}")
        ax.legend(loc="lower right", fontsize=7.5, frameon=True)
    c = s["xcos_c"]
    grid = np.linspace(-10, 10, 400)
    minima = plotting.array(s["xcos_minima"])
    groups = [s["xcos"][:2], s["xcos"][2:]]
    local = s["xcos_local_limit"]
    titles = [f"rates below 2/f''(x*) = {local:.2f}", f"rates above 2/f''(x*) = {local:.2f}"]
    for ax, runs, title in zip(axes[1], groups, titles, strict=True):
        ax.plot(grid, grid * np.cos(c * grid), color="0.5", linewidth=1.2,
                label="f(x) = x·cos(0.15π·x)")
        for r in runs:
            x = plotting.array(r["x"])
            ax.plot(x, x * np.cos(c * x), "o-", markersize=3, linewidth=0.8,
                    label=f"η = {r['rate']:g}: at x = {x[-1]:.2f} after {len(x) - 1} steps")
        ax.plot(minima, minima * np.cos(c * minima), "k*", markersize=9, label="local minima")
        ax.set(xlabel="x", ylabel="f(x)", title=f"x·cos(cx) from x₀ = 10: {title}")
        ax.legend(loc="upper center", fontsize=7.5)
        ax.set_ylim(-11, 14)
    return fig


def _plot_stability(result) -> object:
    s = result["series"]["stability"]
    rates = plotting.array(s["rates"])
    fig, axes = plotting.figure(1, 2, title="Where exactly is the limit? 600 rates × 3 "
                                "quadratics in one sweep, against the Hessian", width=11.5,
                                height=4.8)
    ax_loss, ax_rate = axes[0]
    top = 1e35
    every = max(len(rates) // 40, 1)  # thin out markers so lines stay visible
    for i, p in enumerate(s["problems"]):
        ratio = plotting.array(p["final_over_initial"])
        diverged = ~np.isfinite(ratio)
        shown = np.minimum(ratio[~diverged], 1e45)  # beyond the axis anyway; avoids overflow
        line, = ax_loss.loglog(rates[~diverged], shown, linewidth=1.4,
                               label=f"κ = {p['kappa']:g}")
        color = line.get_color()
        idx = np.nonzero(diverged)[0][::every]
        ax_loss.plot(rates[idx], np.full(idx.size, top / 1e3**i), "x", color=color, markersize=4)
        for ax in (ax_loss, ax_rate):
            ax.axvline(p["limit_theory"], color=color, linestyle="--", linewidth=1)
            ax.axvline(p["best_rate_theory"], color=color, linestyle=":", linewidth=1)
        ax_rate.plot(rates, plotting.array(p["theory_factor"]), color=color, linewidth=1.4,
                     alpha=0.6)
        ax_rate.plot(rates[::every], plotting.array(p["measured_factor"])[::every], "o",
                     markersize=3.5, markerfacecolor="none", color=color,
                     label=f"κ = {p['kappa']:g}: measured")
        ax_rate.plot(p["best_rate_theory"], p["factor_theory"], "*", color=color,
                     markersize=11, markeredgecolor="k",
                     label=f"(κ − 1)/(κ + 1) = {p['factor_theory']:.3f}")
    ax_loss.plot([], [], "x", color="0.3", label="loss overflowed (drawn at the top)")
    ax_loss.plot([], [], "k--", linewidth=1, label="theory 2/λ_max")
    ax_loss.plot([], [], "k:", linewidth=1, label="theory 2/(λ_min + λ_max)")
    ax_loss.axhline(1, color="0.4", linewidth=0.8)
    ax_loss.set_ylim(1e-40, 1e40)
    ax_loss.set(xlabel="learning rate η (log)",
                ylabel=f"loss after {s['steps']} steps / initial loss (log)",
                title="final loss: below 1 up to 2/λ_max, then it explodes")
    ax_loss.legend(loc="lower left", fontsize=7.5, frameon=True)
    ax_rate.plot([], [], color="0.3", linewidth=1.4, alpha=0.6,
                 label="theory max_i |1 − ηλ_i| (λ from jax.hessian)")
    ax_rate.axhline(1, color="0.4", linewidth=0.8)
    ax_rate.set_xscale("log")
    ax_rate.set_ylim(0.75, 1.15)
    ax_rate.set(xlabel="learning rate η (log)", ylabel="per-step factor on ‖x − x*‖",
                title="speed: best factor (κ − 1)/(κ + 1), at 2/(λ_min + λ_max)")
    ax_rate.legend(loc="lower left", fontsize=7.5, frameon=True)
    return fig


def _plot_mlp(result) -> object:
    s = result["series"]["mlp"]
    m = result["metrics"]["mlp"]
    rates = plotting.array(s["rates"])
    final = plotting.array(s["final_loss"])
    fig, axes = plotting.figure(1, 2, title="Does 2/λ_max predict the limit on a real network? "
                                "MLP on MNIST-1D, full-batch GD", width=11.0)
    ax = axes[0, 0]
    ok = np.isfinite(final)
    ax.semilogx(rates[ok], final[ok], "o-", markersize=3,
                label=f"loss after {len(s['loss'][0]) - 1} steps")
    top = np.nanmax(final[ok]) * 1.05 if ok.any() else 1.0
    plotting.mark_diverged(ax, rates[~ok], np.full((~ok).sum(), top))
    ax.axhline(s["initial_loss"], color="0.4", linewidth=0.8, label="initial loss")
    ax.axvline(s["limit_init"], label=f"2/λ_max at init = {s['limit_init']:.2f}",
               **plotting.THEORY)
    ax.axvline(s["best_rate"], color="#009E73", linewidth=1,
               label=f"best rate {s['best_rate']:.2f} ({m['best_rate_over_limit_init']:.1f}×)")
    if s["first_rate_without_progress"] is not None:
        ax.axvline(s["first_rate_without_progress"], color="#D55E00", linewidth=1,
                   label=f"no progress from {s['first_rate_without_progress']:.1f} "
                   f"({m['no_progress_rate_over_limit_init']:.0f}×)")
    ax.set(xlabel="learning rate η (log)", ylabel="training loss (cross entropy)",
           title="final loss vs rate: 2/λ_max(init) is a local estimate")
    ax.legend(loc="upper left", fontsize=7.5)
    ax = axes[0, 1]
    loss = plotting.array(s["loss"])
    pick = np.unique(np.searchsorted(rates, s["limit_init"] * np.array([0.25, 1, 3, 10, 30])))
    pick = pick[pick < len(rates)]
    for j in pick:
        ax.plot(np.arange(loss.shape[1]), loss[j], linewidth=1.2,
                label=f"η = {rates[j]:.2f} = {rates[j] / s['limit_init']:.1f} × 2/λ₀")
    ax.set_yscale("log")
    ax.set_ylim(*plotting.finite_limits(loss[pick], log=True))
    ax.set(xlabel="step", ylabel="training loss (log)",
           title="loss curves: past 2/λ₀ the loss spikes, yet still falls")
    ax.legend(fontsize=7.5)
    return fig


def plot(result: dict) -> dict:
    return {
        "parabola": _plot_parabola(result),
        "paths": _plot_paths(result),
        "stability": _plot_stability(result),
        "mlp": _plot_mlp(result),
    }


if __name__ == "__main__":
    gdlab.experiment.script_main(__file__)
