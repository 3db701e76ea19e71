"""Figures of optimizer_comparison, drawn from the stored result only.

One colour per optimizer in every figure (``colors``); deterministic full-batch SGD on
the 2-D problems is "gd"; SciPy's rows are dashed and marked "not optax".
"""

import math

import matplotlib
import numpy as np
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from gdlab import compare, plotting

EXTRA = ["#882255", "#44AA99", "#999933", "#117733", "#AA4499", "#332288"]

# Stationary points that are not minima (where a gradient method can stop):
# Beale's saddle at (0, 1); Himmelblau's local maximum and four saddles.
SADDLES = {"beale": [(0.0, 1.0)],
           "himmelblau": [(-0.2708, -0.9230), (0.0867, 2.8843), (-3.0731, -0.0814),
                          (3.3852, 0.0739), (-0.1280, -1.9537)]}


def names_of(result: dict) -> list[str]:
    s = result["series"]
    scipy = [r["row"]["optimizer"] for g in s["groups"] for r in g["scipy"]]
    return list(dict.fromkeys([*s["order"], *scipy]))


def colors(result: dict) -> dict[str, str]:
    palette = list(plotting.COLORS) + EXTRA
    return {n: palette[i % len(palette)] for i, n in enumerate(names_of(result))}


def _short(name: str) -> str:
    return name.replace("optax.contrib.", "").replace("scipy ", "scipy:")


def _legend(fig, result, extra=(), *, scipy=True):
    col = {n: c for n, c in colors(result).items() if scipy or not n.startswith("scipy")}
    handles = [Line2D([], [], color=c, linestyle="--" if n.startswith("scipy") else "-",
                      label=_short(n) + (" (not optax)" if n.startswith("scipy") else ""))
               for n, c in col.items()]
    fig.legend(handles=[*handles, *extra], loc="outside right center", fontsize=8)


def _grid(n: int, cols: int = 3):
    return -(-n // cols), min(n, cols)


def _curves(result: dict, x: str) -> "matplotlib.figure.Figure":
    groups = result["series"]["groups"]
    col = colors(result)
    rows, cols = _grid(len(groups))
    title = ("Which optimizer gets lowest in the fewest steps? (tuned; median and IQR over "
             "held-out starts; ▼ median steps to target)" if x == "steps" else
             "... and per evaluation of f or (f, ∇f)? (line searches and populations count; "
             "▼ median evaluations to target)")
    fig, axes = plotting.figure(rows, cols, title=title, width=4.2 * cols + 2.4,
                                height=3.1 * rows + 0.9)
    for ax, g in zip(axes.ravel(), groups, strict=False):
        for e in g["entries"]:
            c, r = e["curves"], e["rows"][0]
            steps = plotting.array(c["steps"])
            xs = steps + 1 if x == "steps" else np.maximum(plotting.array(c["evaluations"]), 1)
            med = np.maximum(plotting.array(c["gap_median"]), 1e-16)
            lo = np.maximum(plotting.array(c["gap_q25"]), 1e-16)
            hi = np.maximum(plotting.array(c["gap_q75"]), 1e-16)
            color = col[e["optimizer"]]
            ax.plot(xs, med, color=color, linewidth=1.3)
            ax.fill_between(xs, lo, np.where(np.isfinite(hi), hi, np.nan), color=color,
                            alpha=0.12, linewidth=0)
            key = "steps_to_target_median" if x == "steps" else "evals_to_target_median"
            hit = r.get(key)
            if hit is not None and math.isfinite(hit):
                ax.plot(hit + (1 if x == "steps" else 0), g["target"], "v", color=color,
                        markersize=6, markeredgecolor="k", markeredgewidth=0.4)
            finite = np.flatnonzero(np.isfinite(med))
            if finite.size and finite[-1] < med.size - 1:
                ax.plot(xs[finite[-1]], med[finite[-1]], **{**plotting.DIVERGED, "color": color})
        if x == "evaluations":
            for s in g["scipy"]:
                ax.plot(plotting.array(s["evaluations"]),
                        np.maximum(plotting.array(s["gap_median"]), 1e-16), linestyle="--",
                        color=col[s["row"]["optimizer"]], linewidth=1.2)
        ax.axhline(g["target"], color="0.4", linewidth=0.8, linestyle=":")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(g["name"], fontsize=10)
        ax.set(xlabel="step + 1 (log)" if x == "steps" else "evaluations (log)",
               ylabel="f − f* (median, floored at 1e-16)")
    for ax in axes.ravel()[len(groups):]:
        ax.axis("off")
    _legend(fig, result, [Line2D([], [], color="0.4", linestyle=":", label="target"),
                          Line2D([], [], **plotting.DIVERGED, label="median run diverged")],
            scipy=x != "steps")  # SciPy's rows count evaluations, not optax steps
    return fig


def _heatmap(result: dict):
    groups = result["series"]["groups"]
    order = names_of(result)
    names = [g["name"] for g in groups]
    value = np.full((len(order), len(names)), np.nan)
    state = np.zeros(value.shape, int)  # 0 not run, 1 never, 2 reached
    text = np.full(value.shape, "", dtype=object)
    for j, g in enumerate(groups):
        rows = [e["rows"][0] for e in g["entries"]] + [s["row"] for s in g["scipy"]]
        for r in rows:
            i = order.index(r["optimizer"])
            med, lo, hi = (r.get(f"evals_to_target_{q}") for q in ("median", "lo", "hi"))
            if med is not None and math.isfinite(med):
                value[i, j] = math.log10(max(med, 1))
                state[i, j] = 2
                top = "∞" if hi is None or not math.isfinite(hi) else compare.number(hi)
                text[i, j] = f"{compare.number(med)}\n[{compare.number(lo)}, {top}]"
            else:
                state[i, j] = 1
                text[i, j] = f"never\n{r['reached']}/{r['seeds']}"
    fig, axes = plotting.figure(1, 1, title="How many evaluations to reach the target?\n(tuned; "
                                "median [bootstrap 95 % CI] over held-out starts; k/n reached)",
                                width=1.35 * len(names) + 3.6, height=0.5 * len(order) + 2.0)
    ax = axes[0, 0]
    cmap = matplotlib.colormaps["viridis_r"]
    im = ax.imshow(np.ma.masked_invalid(value), cmap=cmap, aspect="auto")
    for (i, j), s in np.ndenumerate(state):
        if s == 1:
            ax.add_patch(matplotlib.patches.Rectangle((j - 0.5, i - 0.5), 1, 1, color="0.55"))
        elif s == 0:
            ax.add_patch(matplotlib.patches.Rectangle((j - 0.5, i - 0.5), 1, 1, facecolor="white",
                                                      hatch="///", edgecolor="0.8"))
        if text[i, j]:
            span = max(np.nanmax(value) - np.nanmin(value), 1e-9)
            dark = s == 2 and (value[i, j] - np.nanmin(value)) / span > 0.5
            ax.text(j, i, text[i, j], ha="center", va="center", fontsize=6.5,
                    color="w" if dark or s == 1 else "k")
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
    ax.set_yticks(range(len(order)), [_short(n) for n in order])
    ax.grid(False)
    fig.colorbar(im, ax=ax, label="log10 evaluations to target")
    ax.legend(handles=[Patch(color="0.55", label="never (within the budget)"),
                       Patch(facecolor="white", hatch="///", edgecolor="0.6", label="not run")],
              loc="upper center", bbox_to_anchor=(0.5, -0.28), ncols=2, fontsize=8)
    return fig


def _profile(result: dict):
    s = result["series"]
    col = colors(result)
    tau = plotting.array(s["profile"]["tau"])
    area = result["metrics"]["area_score_tau4"]
    fig, axes = plotting.figure(1, 1, title="Which optimizer is within τ × the best evaluation "
                                "count on most problems?\n(Dolan–Moré profile of the tuned "
                                "medians, problems someone solves)", width=9.6, height=4.8)
    ax = axes[0, 0]
    for n in s["order"]:
        if n not in s["profile"]:
            continue
        ax.step(tau, plotting.array(s["profile"][n]), where="post", color=col[n],
                label=f"{_short(n)} (area τ≤4: {area.get(n, float('nan')):.2f})")
    ax.axvline(4.0, color="0.5", linestyle=":", linewidth=0.8)
    ax.set_xscale("log")
    ax.set(xlabel="τ (cost ≤ τ × the best optimizer's, log)",
           ylabel="fraction of problems solved", ylim=(-0.02, 1.02))
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1), fontsize=8)
    return fig


def _budget(result: dict):
    groups = result["series"]["groups"]
    col = colors(result)
    rows, cols = _grid(len(groups))
    fig, axes = plotting.figure(rows, cols, title="How much does the ranking depend on the tuning "
                                "budget?\n(held-out score of the best of k random trials: median "
                                "and 5-95 % band over bootstrap draws; lower is better)",
                                width=4.2 * cols + 2.4, height=3.0 * rows + 0.9)
    for ax, g in zip(axes.ravel(), groups, strict=False):
        for e in g["entries"]:
            b = e["budget"]
            k = plotting.array(b["k"])
            mean, lo, hi = (plotting.array(b[q]) for q in ("median", "lo", "hi"))
            ok = np.isfinite(mean)
            color = col[e["optimizer"]]
            ax.plot(k[ok], mean[ok], "o-", color=color, markersize=3)
            band = np.isfinite(lo) & np.isfinite(hi)
            ax.fill_between(k[band], lo[band], hi[band], color=color, alpha=0.1, linewidth=0)
        ax.set_xscale("log", base=2)
        ax.set_title(g["name"], fontsize=10)
        ax.set(xlabel="tuning trials k (log)", ylabel="held-out mean log10(f − f*)")
    for ax in axes.ravel()[len(groups):]:
        ax.axis("off")
    _legend(fig, result, scipy=False)
    return fig


def _rates(result: dict):
    theory = result["series"]["theory"]
    fig, axes = plotting.figure(1, 2, title="Do GD and heavy ball, tuned by theory, contract at "
                                "(κ−1)/(κ+1) and (√κ−1)/(√κ+1)? (held-out starts)",
                                width=12.0, height=4.5)
    ax = axes[0, 0]
    for i, t in enumerate(theory):
        color = plotting.COLORS[i]
        for label, ls in (("gd", "-"), ("heavy_ball", "--")):
            gap = plotting.array(t[label]["gap_median"])
            k = np.arange(gap.size)
            ok = gap > 0
            ax.semilogy(k[ok], gap[ok], ls, color=color, linewidth=1.3)
            ax.semilogy(k[ok], gap[0] * t[label]["theory"] ** (2 * k[ok]), color=color,
                        linewidth=0.7, linestyle=":")
    handles = [Line2D([], [], color=plotting.COLORS[i], label=f"κ = {t['kappa']:g}")
               for i, t in enumerate(theory)]
    handles += [Line2D([], [], color="k", linestyle="-", label="GD (measured)"),
                Line2D([], [], color="k", linestyle="--", label="heavy ball (measured)"),
                Line2D([], [], color="k", linestyle=":", linewidth=0.7, label="gap₀·r^(2k) theory")]
    ax.legend(handles=handles, fontsize=7.5, loc="lower left")
    ax.set_ylim(1e-32, 10)
    ax.set(xlabel="step k", ylabel="f − f* (median over held-out starts)")
    ax = axes[0, 1]
    for label, marker, name in (("gd", "o", "GD, α = 2/(λmin+λmax)"),
                                ("heavy_ball", "s", "heavy ball, optimal α, β")):
        th = np.array([1 - t[label]["theory"] for t in theory])
        runs = [1 - plotting.array(t[label]["rates"]) for t in theory]
        for i, (x, r) in enumerate(zip(th, runs, strict=True)):
            ax.loglog(np.full(r.size, x), r, marker, markersize=7, markerfacecolor="none",
                      color=plotting.COLORS[i], alpha=0.6,
                      label=name if i == 0 else None)
    lims = np.array([min(1 - t["gd"]["theory"] for t in theory) / 2, 1.0])
    ax.plot(lims, lims, **plotting.THEORY, label="measured = theory")
    ax.set(xlabel="1 − r (closed form)", ylabel="1 − r (fitted, every held-out start)",
           title="colour: κ as on the left")
    ax.legend(fontsize=8, loc="upper left")
    return fig


def _paths(result: dict, g: dict):
    col = colors(result)
    entries = [e for e in g["entries"] if "paths" in e]
    n = len(entries)
    cols = min(4, n)
    rows = -(-n // cols)
    fig, axes = plotting.figure(rows, cols, title=f"{g['name']}: every held-out run of each tuned "
                                "optimizer (faint) and the median run (bold); ● start, × end, "
                                "★ minima, ◆ saddles/maxima", width=3.4 * cols + 0.4,
                                height=3.1 * rows + 0.9)
    for ax, e in zip(axes.ravel(), entries, strict=False):
        paths = plotting.array(e["paths"])
        color = col[e["optimizer"]]
        compare.draw_path(ax, g["problem"], paths[e["median_run"]], color=color)
        for p in paths:
            p = p[np.all(np.isfinite(p), axis=-1)]
            ax.plot(p[:, 0], p[:, 1], color=color, alpha=0.25, linewidth=0.6)
        for sx, sy in SADDLES.get(g["problem"], []):
            ax.plot(sx, sy, "D", color="#CC79A7", markersize=5, markeredgecolor="k",
                    markeredgewidth=0.4)
        r = e["rows"][0]
        gap = compare.number(r["final_gap_median"])
        state = f"{r['reached']}/{r['seeds']} reached" + (
            f", {r['diverged']} diverged" if r["diverged"] else f"; median f − f* {gap}")
        ax.set_title(f"{_short(e['optimizer'])}: {state}", fontsize=8.5)
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    return fig


def figures(result: dict) -> dict:
    s = result["series"]
    out = {"loss_vs_steps": _curves(result, "steps"),
           "loss_vs_evaluations": _curves(result, "evaluations"),
           "evaluations_to_target": _heatmap(result)}
    if s["profile"].get("tau") is not None and len(s["profile"]) > 1:
        out["performance_profile"] = _profile(result)
    out["budget"] = _budget(result)
    if s["theory"]:
        out["quadratic_rates"] = _rates(result)
    for g in s["groups"]:
        if g["problem"] and g["problem"] != "quadratic" and any("paths" in e for e in g["entries"]):
            out[f"paths_{g['problem']}"] = _paths(result, g)
    return out
