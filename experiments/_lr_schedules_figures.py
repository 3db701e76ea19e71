"""The figures of lr_schedules, drawn from its stored result only."""

import numpy as np

from gdlab import plotting

# Okabe–Ito, then Tol's wine, teal, olive and indigo, then grey: up to 13 distinct lines.
_MORE_COLORS = [*plotting.COLORS, "#882255", "#44AA99", "#999933", "#332288", "#888888"]


def _colors(n: int):
    if n > len(_MORE_COLORS):
        raise ValueError(f"at most {len(_MORE_COLORS)} colours, asked for {n}")
    return _MORE_COLORS[:n]


def shapes(result: dict):
    net = result["series"]["mnist"]
    names = net["schedules"]
    steps = result["config"]["steps"]
    shapes = result["series"]["shapes"]
    extra = [n for n in shapes if n not in names]
    cols = 4
    rows = -(-(len(names) + len(extra)) // cols)
    fig, axes = plotting.figure(rows, cols, title="What does each schedule do to the learning "
                                f"rate? η(t) / peak over the same {steps}-step budget",
                                width=13.0, height=2.2 * rows + 0.8, sharex=True)
    t = np.arange(steps)
    opt = "sgd" if "sgd" in net else (result["config"]["optimizers"] or [None])[0]
    plateau = net.get(opt, {}).get("plateau") if opt else None
    for ax, name in zip(axes.flat, names + extra, strict=False):
        if name == "reduce_on_plateau":
            if plateau is not None:
                scale = plotting.array(plateau["scale"])
                for s in scale:
                    ax.plot(t, s, linewidth=1.2)
                how = {"instruments": "effective LR ‖u‖/‖g‖ ÷ peak",
                       "optimizer state": "scale in the optimizer state"}.get(
                           plateau.get("source"), "replayed")
                ax.set_title(f"{name}\n({how}, {opt} runs: loss-driven)", fontsize=9)
        elif name in names:
            ax.plot(t, plotting.array(shapes[name]), color="#0072B2")
            ax.set_title(name + "  (used on MNIST-1D)", fontsize=9)
        else:
            ax.plot(t, plotting.array(shapes[name]), color="0.4")
            ax.set_title(name, fontsize=9)
        ax.set_ylim(-0.05, 1.1)
    for ax in axes.flat[len(names) + len(extra):]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel("step t")
    for ax in axes[:, 0]:
        ax.set_ylabel("η(t) / peak")
    return fig


def noise_floor(result: dict, floor_theory):
    cfg = result["config"]
    floor, quad = result["series"]["floor"], result["series"]["quadratic"]
    fig, axes = plotting.figure(1, 3, title="Where does noisy SGD stop? A constant rate stalls "
                                "at a floor ∝ η; decaying rates go below it "
                                f"(f = ½λx², λ = {cfg['curvature']:g}, gradient noise "
                                f"σ = {cfg['noise']:g}, {cfg['quad_seeds']} seeds)",
                                width=15.0, height=4.6)
    ax = axes[0, 0]
    rates = plotting.array(floor["rates"])
    fine = np.geomspace(rates.min(), rates.max(), 300)
    ax.loglog(fine, floor_theory(fine, cfg["curvature"], cfg["noise"]),
              label="theory ησ² / (2(2 − ηλ))", **plotting.THEORY)
    ax.loglog(fine, fine * cfg["noise"] ** 2 / 4, color="0.6", linestyle=":", linewidth=1,
              label="small-η limit ησ²/4")
    ax.errorbar(rates, plotting.array(floor["measured"]), yerr=2 * plotting.array(
        floor["stderr"]), fmt="o", markersize=4, color="#0072B2",
        label="measured (mean ± 2 s.e.)")
    slope = floor["slope"]
    ax.set(xlabel="learning rate η (log)", ylabel="E[f] at stationarity (log)",
           title="noise floor vs constant rate" + (f": slope {slope:.3f}" if slope else ""))
    ax.legend(loc="upper left")

    ax = axes[0, 1]
    steps = plotting.array(quad["steps"]) + 1
    colors = _colors(len(quad["names"]))
    for name, mean, se, theory, c in zip(quad["names"], quad["mean"], quad["stderr"],
                                         quad["theory"], colors, strict=True):
        mean, se = plotting.array(mean), plotting.array(se)
        ax.fill_between(steps, np.maximum(mean - 2 * se, mean / 3), mean + 2 * se, color=c,
                        alpha=0.2, linewidth=0)
        ax.loglog(steps, mean, color=c, label=name)
        ax.loglog(steps, plotting.array(theory), color=c, linestyle="--", linewidth=0.9)
    floor0 = floor_theory(cfg["quad_peak"], cfg["curvature"], cfg["noise"])
    ax.axhline(floor0, color="0.3", linewidth=0.8, linestyle=":",
               label=f"constant-rate floor at η₀ (theory) = {floor0:.2g}")
    ax.plot([], [], label="exact E[f_t] (recursion)", **plotting.THEORY)
    ax.set(xlabel="step t + 1 (log)", ylabel="E[f(x_t)] (log)",
           title=f"schedules from the same peak η₀ = {cfg['quad_peak']:g}")
    ax.legend(loc="lower left", fontsize=7.5)

    ax = axes[0, 2]
    for name, rate, c in zip(quad["names"], quad["rate"], colors, strict=True):
        ax.loglog(steps[:-1], plotting.array(rate), color=c, label=name)
    ax.set(xlabel="step t + 1 (log)", ylabel="η(t) (log)", title="the rates they use")
    ax.set_ylim(1e-7 * cfg["quad_peak"], 2 * cfg["quad_peak"])
    return fig


_OPT_COLORS = {"sgd": "#0072B2", "adam": "#D55E00"}


def mnist(result: dict):
    """Tuning the peak (one heat map per optimizer) and test accuracy at the tuned peaks."""
    net, cfg = result["series"]["mnist"], result["config"]
    opts = [o for o in cfg["optimizers"] if o in net]
    names = net["schedules"]
    fig, axes = plotting.figure(
        1, len(opts) + 1, title="Which schedule trains the MNIST-1D MLP best? Each at its own "
        f"tuned peak rate ({cfg['steps']} steps, batch {cfg['batch_size']}, "
        f"{cfg['num_seeds']} seeds)", width=5.0 * len(opts) + 6.5,
        height=0.36 * len(names) + 2.6, gridspec_kw={"width_ratios": [1] * len(opts) + [1.2]})
    for ax, opt in zip(axes[0], opts, strict=False):
        r = net[opt]
        peaks = plotting.array(r["peaks"])
        table = plotting.array(r["mean_final_train_loss"])  # (schedules, peaks), inf: diverged
        finite = np.where(np.isfinite(table), table, np.nan)
        image = ax.imshow(np.log10(finite), aspect="auto", cmap="viridis_r")
        fig.colorbar(image, ax=ax, label="log₁₀ final train loss (mean of seeds)", shrink=0.8)
        bad = np.argwhere(~np.isfinite(table))
        ax.plot(bad[:, 1], bad[:, 0], "x", color="#D55E00", markersize=6, linestyle="none",
                label="a seed diverged")
        best = np.asarray(r["best_index"], int)
        ax.plot(best, np.arange(len(names)), "s", markersize=11, markerfacecolor="none",
                markeredgecolor="white", markeredgewidth=1.8, linestyle="none", label="_")
        ax.plot([], [], "s", markersize=9, markerfacecolor="none", markeredgecolor="0.3",
                linestyle="none", label="tuned peak (white square)")
        ax.set_xticks(np.arange(len(peaks)), [f"{p:g}" for p in peaks], fontsize=7.5)
        ax.set_yticks(np.arange(len(names)), names, fontsize=8)
        ax.set(xlabel="peak learning rate", title=f"{opt}: tuning the peak")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncols=2, fontsize=7.5)
    ax = axes[0, -1]
    width = 0.8 / len(opts)
    y = np.arange(len(names))
    for k, opt in enumerate(opts):
        acc = plotting.array(net[opt]["tuned"]["test_accuracy"])  # (schedules, seeds)
        med = np.nanmedian(acc, axis=1)
        lo, hi = med - np.nanmin(acc, axis=1), np.nanmax(acc, axis=1) - med
        offset = (k - (len(opts) - 1) / 2) * width
        ax.barh(y + offset, med, height=width, xerr=[lo, hi], color=_OPT_COLORS[opt],
                alpha=0.85, label=f"{opt} (median, min–max of seeds)", error_kw={"lw": 0.8})
    ax.axvline(0.1, label="chance (10 classes)", **plotting.THEORY)
    ax.set_yticks(y, names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set(xlabel="test accuracy at the tuned peak", title="held-out accuracy (axis from 0)")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncols=2, fontsize=7.5)
    return fig


def mnist_curves(result: dict):
    """Small multiples: each schedule's training curve at its tuned peak, constant as reference."""
    net, cfg = result["series"]["mnist"], result["config"]
    opts = [o for o in cfg["optimizers"] if o in net]
    names = net["schedules"]
    cols = 4
    rows = -(-len(names) // cols)
    fig, axes = plotting.figure(rows, cols, title="How does each schedule train the MNIST-1D "
                                "MLP at its tuned peak? (median of seeds, band: min–max; grey: "
                                "the constant rate)", width=14.0, height=2.7 * rows + 0.8,
                                sharex=True, sharey=True)
    for ax, i in zip(axes.flat, range(len(names)), strict=False):
        for opt in opts:
            r = net[opt]
            t = plotting.array(r["curve_steps"])
            curves = plotting.array(r["curves"])  # (schedules, seeds, points)
            if "constant" in names and names[i] != "constant":
                ax.plot(t, np.nanmedian(curves[names.index("constant")], 0), color="0.6",
                        linewidth=0.9, linestyle="--")
            ax.fill_between(t, np.nanmin(curves[i], 0), np.nanmax(curves[i], 0),
                            color=_OPT_COLORS[opt], alpha=0.2, linewidth=0)
            ax.plot(t, np.nanmedian(curves[i], 0), color=_OPT_COLORS[opt], linewidth=1.3,
                    label=f"{opt} (peak {r['best_peak'][i]:g})")
        ax.set_yscale("log")
        ax.set_title(names[i], fontsize=9)
        ax.legend(fontsize=7, loc="upper right")
    for ax in axes.flat[len(names):]:
        ax.set_visible(False)
    for col in range(cols):  # the lowest visible panel of each column carries the x axis
        shown = [ax for ax in axes[:, col] if ax.get_visible()]
        if shown:
            shown[-1].set_xlabel("step")
            shown[-1].xaxis.set_tick_params(labelbottom=True)
    for ax in axes[:, 0]:
        ax.set_ylabel(f"minibatch loss (log, mean of {cfg['smooth']} steps)", fontsize=8)
    return fig


def warmup(result: dict):
    cfg = result["config"]
    w = result["series"]["warmup"]
    net = result["series"]["mnist"]
    names = net["schedules"]
    opts = [o for o in cfg["optimizers"] if o in net]
    both = "constant" in names and "warmup_constant" in names
    panels = 1 + (len(opts) if both else 0)
    fig, axes = plotting.figure(1, panels, title="What does a linear warmup buy? The rate "
                                "grows while the curvature falls;\nit does not move the "
                                "edge of stability", width=5.2 * panels + 0.6, height=4.8)
    styles = {0: ("constant", "-", "#D55E00"), 1: ("warmup", "--", "#0072B2")}
    ax = axes[0, 0]
    peaks = plotting.array(w["peaks"])
    steps = plotting.array(w["steps_to_target"])
    for i, (label, style, color) in styles.items():
        ok = plotting.array(w["converged"][i]) > 0
        best = w["largest_converging"][i]
        ax.loglog(peaks[ok], steps[i][ok], style, color=color, marker="o", markersize=3,
                  label=f"{label}: converges up to η = {best:.3g}" if best else label)
        dead = plotting.array(w["diverged"][i]) > 0
        plotting.mark_diverged(ax, peaks[dead], np.full(dead.sum(), cfg["warm_steps"] * 1.5),
                               label="_")
        if "left_the_minimum" in w:
            left = plotting.array(w["left_the_minimum"][i]) > 0
            ax.plot(peaks[left], steps[i][left], "s", color=color, markerfacecolor="none",
                    markersize=5, linestyle="none", label=f"{label}: reached the target, then "
                    "grew again (unstable)" if left.any() else "_")
    lam, x0 = cfg["curvature"], cfg["warm_x0"]
    ax.axvline(w["theory_constant"], label=f"2/(λ + x₀²) = {w['theory_constant']:.3g}",
               **plotting.THEORY)
    ax.axvline(2 / (lam + 3 * x0**2), color="0.6", linestyle=":", linewidth=1,
               label=f"2/f''(x₀) = {2 / (lam + 3 * x0**2):.3g}")
    ax.axvline(w["theory_limit"], color="0.25", linestyle="-.", linewidth=1,
               label=f"2/λ = {w['theory_limit']:.3g} (at the minimum)")
    ax.plot([], [], label="diverged", **plotting.DIVERGED)
    ax.set(xlabel="peak rate η (log)", ylabel="steps to f < 1e-8·f(x₀) (log)",
           title=f"½λx² + ¼x⁴ from x₀ = {x0:g} (λ = {lam:g}); "
                 f"warmup over {cfg['warm_warmup']} steps")
    ax.set_ylim(top=cfg["warm_steps"] * 6)
    ax.legend(fontsize=7, loc="upper center", ncols=2)

    if both:
        rows = {0: names.index("constant"), 1: names.index("warmup_constant")}
        for ax, opt in zip(axes[0, 1:], opts, strict=True):
            r = net[opt]
            peaks = plotting.array(r["peaks"])
            spike = plotting.array(r["early_spike"])  # (schedules, peaks, seeds)
            finite = spike[np.isfinite(spike)]
            ceiling = (finite.max() if finite.size else 1.0) * 2
            for i, (label, style, color) in styles.items():
                s = spike[rows[i]]
                worst = np.where(np.all(np.isfinite(s), -1), s.max(-1), np.nan)
                ax.loglog(peaks, worst, style, color=color, marker="o", markersize=4,
                          label=label + (" (0 → peak linearly)" if i else ""))
                dead = plotting.array(r["diverged_at"])[rows[i]]
                for j, p in enumerate(peaks):
                    if np.any(dead[j] >= 0):
                        ax.plot(p, ceiling * (1.6 if i else 1), **plotting.DIVERGED)
                        ax.annotate(f"step {int(np.min(dead[j][dead[j] >= 0]))}",
                                    (p, ceiling * (1.6 if i else 1)), textcoords="offset points",
                                    xytext=(-10, 6), fontsize=7, color=color)
            ax.axhline(1, color="0.5", linewidth=0.8)
            _peak_ticks(ax, peaks)
            ax.plot([], [], label="diverged (first step noted)", **plotting.DIVERGED)
            ax.set(xlabel="peak rate (log)",
                   ylabel=f"max loss in the first {_warm_steps(cfg)} steps / initial loss",
                   title=f"MNIST-1D MLP, {opt}: early spikes (worst seed)")
            ax.set_ylim(top=ceiling * 4)
            ax.legend(fontsize=7.5, loc="upper left")
    return fig


def _peak_ticks(ax, peaks) -> None:
    """Label a log x-axis exactly at the swept peaks (no minor-tick clutter)."""
    ax.set_xscale("log")
    ax.set_xticks(peaks, [f"{p:g}" for p in peaks])
    ax.minorticks_off()


def _warm_steps(cfg: dict) -> int:
    return max(int(cfg["warmup_fraction"] * cfg["steps"]), 1)
