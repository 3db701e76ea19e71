"""The figures of direction_vs_scale, drawn from its stored result only."""

import numpy as np

from gdlab import compare, plotting


def _color(order, name) -> dict:
    return compare.style_of(order.index(name))


def _fmt(vector) -> str:
    return "[" + ", ".join(f"{v:g}" for v in vector) + "]"


def seed_figure(seed):
    fig, axes = plotting.figure(1, 2, title="Does rescaling a gradient change its direction? "
                                "Uniformly: no. Coordinate by coordinate: yes", width=11.0)
    ax = axes[0, 0]
    names = list(seed["angles"])
    values = [seed["angles"][n] for n in names]
    bars = ax.barh(range(len(names)), values, color=plotting.COLORS[:len(names)])
    ax.bar_label(bars, [f"{v:.1f}°" for v in values], padding=3)
    ax.set_yticks(range(len(names)), names)
    ax.invert_yaxis()
    ax.set_xlim(0, max(values + [1]) * 1.3)
    ax.set(xlabel=f"angle to g = {_fmt(seed['vector'])} (degrees)", title="the seed's example")
    ax = axes[0, 1]
    r = plotting.array(seed["spreads"])
    ax.fill_between(r, plotting.array(seed["angle_q25"]), plotting.array(seed["angle_q75"]),
                    alpha=0.25, label="measured IQR")
    ax.plot(r, plotting.array(seed["angle_median"]), "o", markersize=4, label="measured median")
    ax.plot(r, plotting.array(seed["angle_theory"]), **plotting.THEORY,
            label="theory arccos(E[s] / √E[s²])")
    ax.set_xscale("log")
    ax.set(xlabel="spread r of the factors s_i ~ log-uniform[1/r, r]",
           ylabel="angle between g and s ⊙ g (degrees)",
           title="random per-coordinate factors, 1000-D Gaussian g")
    ax.legend()
    return fig


def _running_median(y, window=9):
    y = np.asarray(y, float)
    half = window // 2
    out = np.full(y.size, np.nan)
    for k in range(y.size):
        part = y[max(0, k - half):k + half + 1]
        part = part[np.isfinite(part)]
        if part.size and np.isfinite(y[k]):
            out[k] = np.median(part)
    return out


def cosine_figure(runs, mnist, order):
    """One panel per optimizer: the cosine along runs on each problem (median over starts
    or initialisations per step, thin; its running median over 9 steps, thick)."""
    problems = [("axis-aligned quadratic", lambda n: runs[n]["axis-aligned"]["cosine"], "C0"),
                ("Rosenbrock", lambda n: runs[n]["rosenbrock"]["cosine"], "C1")]
    if mnist:
        problems.append(("MNIST-1D MLP (float32, fixed η)",
                         lambda n: mnist["runs"][n]["cosine"], "C2"))
    ncols = 4
    nrows = -(-(len(order) + 1) // ncols)
    fig, axes = plotting.figure(nrows, ncols, title="How far from −g does each optimizer step? "
                                "cos(update, −gradient) along its runs (thin: per-step median "
                                "over starts or initialisations; thick: running median of 9)",
                                width=15.0, height=3.0 * nrows + 0.9, sharey=True)
    colors = dict(zip([p[0] for p in problems], plotting.COLORS, strict=False))
    for ax, name in zip(axes.flat, order, strict=False):
        for label, get, _ in problems:
            per_step = plotting.array(get(name)["per_step"])
            steps = np.arange(1, per_step.size + 1)
            ax.plot(steps, per_step, linewidth=0.6, alpha=0.35, color=colors[label])
            ax.plot(steps, _running_median(per_step), linewidth=2.0, color=colors[label],
                    label=label)
        ax.axhline(0, color="0.5", linewidth=0.6)
        ax.set_xscale("log")
        ax.set(title=name, ylim=(-1.05, 1.05), xlabel="step k (log)")
    for ax in axes[:, 0]:
        ax.set_ylabel("cos(u_k, −g_k)")
    ax = axes.flat[len(order)]
    width = 0.8 / len(problems)
    for j, (label, get, _) in enumerate(problems):
        med = [get(n)["median"] for n in order]
        ax.bar(np.arange(len(order)) + (j - (len(problems) - 1) / 2) * width, med, width,
               color=colors[label], label=label)
    ax.set_xticks(range(len(order)), order, rotation=35, ha="right", fontsize=8)
    ax.set(title="median over every step and run", ylim=(-1.05, 1.05))
    ax.axhline(0, color="0.5", linewidth=0.6)
    for extra in axes.flat[len(order) + 1:]:
        extra.set_visible(False)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=len(problems))
    return fig


def scale_figure(quad, first, order, big):
    runs, steps = quad["runs"], plotting.array(quad["steps"])
    fig, axes = plotting.figure(1, 3, title="Multiply the loss by c: SGD's step grows c×; "
                                "normalised GD's and Adam's do not", width=15.0, height=4.4)
    ax = axes[0, 0]
    cs = plotting.array(first["c"])
    for name, ratio in first["ratio"].items():
        ax.loglog(cs, plotting.array(ratio), marker="o", markersize=4, label=name,
                  **_color(order, name))
    ax.loglog(cs, cs, **plotting.THEORY, label="∝ c")
    ax.set(xlabel="loss multiplied by c", ylabel="first step length / at c = 1",
           title="first step, same hyperparameters")
    ax.legend()
    ax = axes[0, 1]
    for name in [n for n in ("sgd", "normalized_gd", "adagrad", "adam") if n in runs]:
        base = plotting.array(runs[name]["axis-aligned"]["median_score"])
        scaled = plotting.array(runs[name][f"loss ×{big:g}"]["median_score"])
        line, = ax.semilogx(steps, base, label=f"{name}, c = 1", **_color(order, name))
        ax.semilogx(steps, scaled, linestyle=":", linewidth=2.6, color=line.get_color(),
                    label=f"{name}, c = {big:g}")
    ax.set(xlabel="learning rate η (log)", ylabel="median score: mean log10((f − f*)/c)",
           title="tuning curves (missing: the runs diverged)")
    ax.legend(fontsize=7, ncols=2, loc="upper left")
    ax = axes[0, 2]
    for name in [n for n in ("sgd", "normalized_gd", "adam") if n in runs]:
        base = plotting.array(runs[name]["axis-aligned"]["same_rate"]["gap"])
        entry = runs[name][f"loss ×{big:g}"]["same_rate"]
        line, = ax.semilogy(np.maximum(base, 1e-30), label=f"{name}, c = 1",
                            **_color(order, name))
        gap = plotting.array(entry["gap"])
        ax.semilogy(np.maximum(gap, 1e-30), linestyle=":", linewidth=2.6,
                    color=line.get_color(), label=f"{name}, c = {big:g}")
        if entry["diverged"]:
            last = int(np.flatnonzero(np.isfinite(gap))[-1])
            plotting.mark_diverged(ax, [last], [gap[last]],
                                   label=f"{name} at c = {big:g}: diverged")
    ax.set(xlabel="step", ylabel="(f − f*)/c (log)",
           title=f"same η (tuned at c = 1), c = 1 vs {big:g}, start 0")
    ax.legend(fontsize=7, loc="lower left")
    return fig


def coordinate_figure(quad, order, scales, budget):
    runs, steps = quad["runs"], plotting.array(quad["steps"])
    big = max(scales)
    fig, axes = plotting.figure(1, 2, title="Multiply ONE coordinate's curvature by γ (a big "
                                "input does, ×input²): who notices?", width=13.0, height=4.6)
    ax = axes[0, 0]
    for name in order:
        diff = plotting.array(runs[name][f"coordinate ×{big:g}"]["same_rate"]["path_difference"])
        ok = np.isfinite(diff)
        ax.loglog(steps[ok], np.maximum(diff[ok], 1e-17), marker="o", markersize=3, label=name,
                  **_color(order, name))
    ax.set(xlabel="learning rate η (log)", ylabel="max |x_γ − x_1| / path extent (log; 0 at 1e-17)",
           title=f"same η: path at γ = {big:g} vs γ = 1 (missing: diverged)")
    ax.legend(fontsize=7.5, ncols=2)
    grid = fig.axes[1].get_subplotspec()
    fig.delaxes(axes[0, 1])
    sub = grid.subgridspec(2, 1, height_ratios=[1, 5], hspace=0.05)
    strip, ax = fig.add_subplot(sub[0]), fig.add_subplot(sub[1])
    never = []
    for name in order:
        med, lo, hi, reached = [], [], [], []
        for g in scales:
            key = "axis-aligned" if g == 1 else f"coordinate ×{g:g}"
            s = plotting.array(runs[name][key]["steps_to_target"])
            s = np.where(np.isfinite(s), s, np.inf)
            with np.errstate(invalid="ignore"):  # between two never-reached runs: inf − inf
                q = np.quantile(s, [0.25, 0.5, 0.75])
            q = np.where(np.isnan(q), np.inf, q)  # that quantile is never reached either
            med.append(q[1]), lo.append(q[0]), hi.append(q[2])
            reached.append(np.isfinite(q[1]))
        med, lo, hi, reached = map(np.asarray, (med, lo, hi, reached))
        xs = np.asarray(scales, float)
        if reached.any():
            ax.errorbar(xs[reached], med[reached], yerr=[med[reached] - lo[reached],
                        np.where(np.isfinite(hi[reached]), hi[reached], med[reached])
                        - med[reached]], marker="o", capsize=3, label=name,
                        **_color(order, name))
        if (~reached).any():
            never.append((name, xs[~reached], _color(order, name)["color"]))
    plotting.diverged_strip(strip, never or [("—", [], "k")],
                            title=f"median start misses the target within {budget} steps")
    strip.set_xscale("log")
    ax.set_xscale("log")
    ax.set_yscale("log")
    strip.set_xlim(ax.get_xlim())
    ax.set(xlabel="factor γ on the second curvature (κ = 20γ)",
           ylabel="steps to (f − f*) ≤ target, tuned (median, IQR)")
    ax.legend(fontsize=7.5, ncols=2)
    return fig


def aligned_figure(quad, order, angle_deg, budget, eigenvalues):
    runs = quad["runs"]
    fig, axes = plotting.figure(1, 3, title="Per-coordinate scaling helps only on axis-aligned "
                                f"valleys: the same quadratic, turned by {angle_deg:g}°",
                                width=15.0, height=4.6)
    ax = axes[0, 0]
    width = 0.38
    for j, key in enumerate(("axis-aligned", "rotated")):
        for i, name in enumerate(order):
            s = plotting.array(runs[name][key]["steps_to_target"])
            s = np.where(np.isfinite(s), s, budget + 1)
            q = np.quantile(s, [0.25, 0.5, 0.75])
            x = i + (j - 0.5) * width
            if q[1] > budget:
                ax.bar(x, budget, width, color="none", edgecolor=plotting.COLORS[j],
                       hatch="//", label=None)
                ax.text(x, budget * 1.03, "never", ha="center", fontsize=7, rotation=90,
                        va="bottom")
                continue
            ax.bar(x, q[1], width, color=plotting.COLORS[j], alpha=0.85,
                   label=key if i == 0 else None)
            ax.errorbar(x, q[1], yerr=[[q[1] - q[0]], [min(q[2], budget) - q[1]]], color="k",
                        capsize=2, linewidth=0.8)
    ax.set_xticks(range(len(order)), order, rotation=30, ha="right")
    ax.set_ylim(0, budget * 1.25)
    ax.set(ylabel=f"steps to f − f* ≤ target (tuned η; ≤ {budget})",
           title="median, IQR over starts (hatched: never)")
    ax.legend(fontsize=8, loc="upper left")
    starts = plotting.array(quad["starts"])
    for ax, key in zip(axes[0, 1:], ("axis-aligned", "rotated"), strict=True):
        c, gamma, angle, _ = quad["cases"][key]
        rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        lam = np.asarray(eigenvalues, float) * [1.0, gamma]
        A = rot @ np.diag(lam) @ rot.T
        paths = {n: plotting.array(runs[n][key]["path"]) for n in order}
        half = 1.15 * float(np.max(np.abs(starts)))
        plotting.contour(ax, lambda z, A=A: 0.5 * np.einsum("i...,ij,j...->...", z, A, z),
                         ((-half, half), (-half, half)), levels=20)
        for n in [n for n in ("sgd", "adam", "rmsprop", "adagrad") if n in paths]:
            p = paths[n][np.all(np.isfinite(paths[n]), axis=-1)]
            ax.plot(p[:, 0], p[:, 1], marker=".", markersize=2, linewidth=1, label=n,
                    **_color(order, n))
        ax.plot(0, 0, "*", color="#009E73", markersize=10)
        ax.set_aspect("equal")
        ax.set(title=f"{key}: paths from start 0 (tuned η;\nsteps that leave the panel overshoot)")
        ax.legend(fontsize=7.5, loc="lower right")
    return fig
