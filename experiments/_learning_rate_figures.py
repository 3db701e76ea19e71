"""The figures of learning_rate, drawn from its stored result only."""

import numpy as np

from gdlab import plotting


def parabola(result) -> object:
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


def paths(result) -> object:
    s = result["series"]["paths"]
    fig, axes = plotting.figure(2, 2, title="Where does each step go? Zig-zag across the "
                                "steep direction, crawl along the flat one", height=8.4,
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
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), fontsize=7.5)
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


def stability(result) -> object:
    s = result["series"]["stability"]
    rates = plotting.array(s["rates"])
    fig, axes = plotting.figure(2, 2, title="Where exactly is the limit, and how fast at best? "
                                f"{len(rates)} rates × {len(s['problems'])} quadratics in one "
                                "sweep, against the Hessian", width=11.5, height=5.6,
                                sharex="col", gridspec_kw={"height_ratios": [1, 6]})
    strip, ax_loss = axes[:, 0]
    axes[0, 1].set_visible(False)
    ax_rate = axes[1, 1]
    every = max(len(rates) // 40, 1)  # thin out markers so lines stay visible
    overflowed = []
    for p in s["problems"]:
        ratio = plotting.array(p["final_over_initial"])
        diverged = ~np.isfinite(ratio)
        shown = np.minimum(ratio[~diverged], 1e45)  # beyond the axis anyway; avoids overflow
        line, = ax_loss.loglog(rates[~diverged], shown, linewidth=1.4,
                               label=f"κ = {p['kappa']:g}")
        color = line.get_color()
        overflowed.append((f"κ = {p['kappa']:g}", rates[diverged][::every], color))
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
                     label=f"(κ − 1)/(κ + 1) = {p['factor_theory']:.4f}")
    plotting.diverged_strip(strip, overflowed, title="the loss overflowed (no finite value)")
    ax_loss.plot([], [], "k--", linewidth=1, label="theory 2/λ_max")
    ax_loss.plot([], [], "k:", linewidth=1, label="theory 2/(λ_min + λ_max)")
    ax_loss.axhline(1, color="0.4", linewidth=0.8)
    ax_loss.set_ylim(1e-40, 1e40)
    ax_loss.set(xlabel="learning rate η (log)",
                ylabel=f"loss after {s['steps']} steps / initial loss (log)",
                title="final loss: below 1 up to 2/λ_max, then it explodes")
    ax_loss.legend(loc="upper left", fontsize=7.5, frameon=True)
    ax_rate.plot([], [], color="0.3", linewidth=1.4, alpha=0.6,
                 label="theory max_i |1 − ηλ_i| (λ from jax.hessian)")
    ax_rate.axhline(1, color="0.4", linewidth=0.8)
    ax_rate.set_xscale("log")
    ax_rate.set_ylim(0.75, 1.05)
    ax_rate.set(xlabel="learning rate η (log)",
                ylabel="asymptotic factor on ‖x − x*‖ per step\n(slowest eigen-direction)",
                title="speed: best factor (κ − 1)/(κ + 1), at 2/(λ_min + λ_max)")
    ax_rate.legend(loc="lower left", fontsize=7.5, frameon=True)
    return fig


def mlp(result) -> object:
    s = result["series"]["mlp"]
    ps = result["metrics"]["mlp"]["per_seed"]
    rates = plotting.array(s["rates"])
    final = plotting.array(s["final_loss"])  # (seed, rate)
    n = len(ps["seeds"])
    fig, axes = plotting.figure(2, 3, title="Does 2/λ_max predict the usable rate on a real "
                                f"network? MLP on MNIST-1D, full-batch GD, {n} seeds",
                                width=15.0, height=5.0, gridspec_kw={"height_ratios": [1, 6]})
    strip, ax = axes[:, 0]
    axes[0, 1].set_visible(False)
    axes[0, 2].set_visible(False)
    strip.sharex(ax)
    for k in range(n):
        ok = np.isfinite(final[k])
        ax.semilogx(rates[ok], final[k][ok], "-", color="#0072B2", linewidth=0.7, alpha=0.5,
                    label="one seed" if k == 0 else None)
    with np.errstate(all="ignore"):
        median = np.median(np.where(np.isfinite(final), final, np.inf), axis=0)
    ok = np.isfinite(median)
    ax.semilogx(rates[ok], median[ok], "o-", color="#0072B2", markersize=3,
                label=f"median over {n} seeds")
    plotting.diverged_strip(strip, [(f"seed {seed}", rates[~np.isfinite(final[k])], "#D55E00")
                                    for k, seed in enumerate(ps["seeds"])],
                            title="diverged (loss not finite)")
    m = result["metrics"]["mlp"]
    ax.axhline(np.median(ps["initial_loss"]), color="0.4", linewidth=0.8, label="initial loss")
    limit = m["median_limit_init_2_over_lambda_max"]
    ax.axvline(limit, label=f"2/λ_max at init = {limit:.2f} (median)", **plotting.THEORY)
    best = m["median_best_rate"]
    ax.axvline(best, color="#009E73", linewidth=1,
               label=f"best rate {best:.2f} ({m['median_best_rate_over_limit_init']:.1f}×)")
    if "median_first_rate_without_progress" in m:
        stop = m["median_first_rate_without_progress"]
        ax.axvline(stop, color="#D55E00", linewidth=1,
                   label=f"no progress from {stop:.1f} "
                   f"({m['median_no_progress_rate_over_limit_init']:.0f}×)")
    ax.set(xlabel="learning rate η (log)", ylabel=f"training loss after "
           f"{len(s['loss'][0]) - 1} steps", title="final loss vs rate: "
           "2/λ_max(init) is a local estimate")
    ax.legend(loc="upper left", fontsize=7.5)

    ax = axes[1, 1]
    loss = plotting.array(s["loss"])  # the first seed's curves
    limit0 = ps["limit_init_2_over_lambda_max"][0]
    pick = np.unique(np.searchsorted(rates, limit0 * np.array([0.25, 1, 3, 10, 30])))
    pick = pick[pick < len(rates)]
    for j in pick:
        ax.plot(np.arange(loss.shape[1]), loss[j], linewidth=1.2,
                label=f"η = {rates[j]:.2f} = {rates[j] / limit0:.1f} × 2/λ₀")
    ax.set_yscale("log")
    ax.set_ylim(*plotting.finite_limits(loss[pick], log=True))
    ax.set(xlabel="step", ylabel="training loss (log)",
           title=f"seed {ps['seeds'][0]}: past 2/λ₀ the loss spikes, yet still falls")
    ax.legend(fontsize=7.5)

    ax = axes[1, 2]
    x = np.arange(n)
    ax.plot(x - 0.12, ps["sharpness_init"], "o", color="0.5", label="λ_max at initialisation")
    ax.plot(x + 0.12, ps["sharpness_after_best_run"], "s", color="#009E73",
            label="λ_max after the best run")
    two_over = [2 / r for r in ps["best_rate"]]
    ax.hlines(two_over, x - 0.35, x + 0.35, color="#D55E00", linewidth=1.6,
              label="2/η of the best run (edge of stability)")
    ax.set_xticks(x, [f"seed {sd}" for sd in ps["seeds"]])
    ax.set_ylim(0, 1.15 * max(max(ps["sharpness_init"]), max(ps["sharpness_after_best_run"])))
    ax.set(ylabel="largest Hessian eigenvalue λ_max",
           title="after the best run λ_max sits at or just above 2/η:\n"
           "the edge of stability, not a flat region")
    ax.legend(loc="lower right", fontsize=7.5, frameon=True)
    return fig
