"""The figures of vanishing_gradients, drawn from the stored result only."""

import math

import _vanishing_gradients_net as net  # noqa: I001
import numpy as np
from matplotlib.colors import ListedColormap

from gdlab import plotting

INIT_COLORS = dict(zip(net.RULES, plotting.COLORS, strict=False))
NEVER = "#999999"


def _a(values) -> np.ndarray:
    return plotting.array(values)


def _pretty(name: str) -> str:
    """"sigmoid_normal_small" -> "sigmoid · normal small", "sigmoid_xavier_residual" ->
    "sigmoid + residual"."""
    name = name.replace("normal_", "normal ").replace("layernorm", "layer norm")
    return name.replace("_xavier_", " + ").replace("_", " · ")


def _strip(ax, *, top: bool, label: str, log: bool = True, left: bool = False):
    """Reserve a shaded strip at the top (or bottom) of a log axis for runs that have no
    value (diverged, never, underflow); returns the y at which to draw their markers."""
    lo, hi = ax.get_ylim()
    span = math.log10(hi / lo) if log else hi - lo
    if top:
        edge, far = hi, hi * 10 ** (0.16 * span) if log else hi + 0.16 * span
    else:
        edge, far = lo, lo / 10 ** (0.16 * span) if log else lo - 0.16 * span
    ax.axhspan(min(edge, far), max(edge, far), color="0.93", zorder=0)
    y = math.sqrt(edge * far) if log else (edge + far) / 2
    ax.text(0.01 if left else 0.99, y, label, transform=ax.get_yaxis_transform(),
            ha="left" if left else "right", va="center", fontsize=7, color="0.35")
    ax.set_ylim(min(lo, far), max(hi, far))
    return y


def chain(result: dict):
    s = result["series"]
    fig, axes = plotting.figure(1, 2, title="Why do deep products vanish or explode? "
                                "ŷ = x·w₁⋯w_l and h_t = Wᵀh_(t−1)")
    ax = axes[0, 0]
    ch = s["chain"]
    depth = plotting.array(ch["depth"])
    every = max(1, len(depth) // 25)
    for w, g, closed in zip(ch["weights"], ch["float64"], ch["closed_form"], strict=True):
        if w not in result["config"]["chain_weights"]:
            continue
        line, = ax.semilogy(depth[::every], np.abs(plotting.array(g))[::every], "o",
                            markersize=3.5, label=f"w = {w:g}: jax.grad")
        ax.semilogy(depth, np.abs(plotting.array(closed)),
                    **{**plotting.THEORY, "color": line.get_color(), "linewidth": 0.9})
    ax.plot([], [], label="closed form x·w^(l−1)", **plotting.THEORY)
    ax.set(xlabel="depth l (number of weights)", ylabel="|∂ŷ/∂w₁| (float64, log)",
           title="scalar chain: below 1 vanishes, above 1 explodes")
    ax.legend(fontsize=7.5, ncols=2)
    ax = axes[0, 1]
    m = s["matrix"]
    t = plotting.array(m["t"])
    comps, theory = np.abs(plotting.array(m["components"])), plotting.array(m["theory"])
    for i, lam in enumerate(m["eigenvalues"]):
        line, = ax.semilogy(t, comps[:, i], "o", markersize=3.5, label=f"λ = {lam:g}")
        ax.semilogy(t, np.abs(theory[:, i]),
                    **{**plotting.THEORY, "color": line.get_color(), "linewidth": 0.9})
    ax.plot([], [], label="theory λ^t (Q Λ^t Qᵀ)", **plotting.THEORY)
    err = result["metrics"]["matrix_power_max_rel_error"]
    ax.set(xlabel="layer t", ylabel="|q_iᵀ h_t| (log)",
           title=f"matrix chain W = QΛQᵀ: q_iᵀh_t = λ_i^t\n"
                 f"(Wᵀ)^t vs QΛ^tQᵀ: max rel. error {err:.1e}")
    ax.legend()
    return fig


def profile(result: dict):
    s = result["series"]
    prof = s["profile"]
    deepest = prof["by_depth"][-1]
    depth = deepest["depth"]
    rows = [_pretty(k) for k in prof["settings"]]
    norms = [plotting.array(deepest["grad_norm"])]
    for name, r in s["remedy_init"].items():
        ratio_depths = result["config"]["remedy_ratio_depths"]
        if depth in ratio_depths and name.endswith(("residual", "layernorm")):
            norms.append(plotting.array(r["grad_norm"][ratio_depths.index(depth)])[None, :])
            rows.append(_pretty(name))
    grid = np.concatenate(norms)
    with np.errstate(divide="ignore"):
        logs = np.log10(grid)
    zero = grid == 0
    fig, axes = plotting.figure(1, 1, title=f"Where does the gradient vanish? ‖∂L/∂W_ℓ‖ per layer "
                                f"of {depth}-layer MLPs at init (MNIST-1D, init seed "
                                f"{prof['seeds'][0]})",
                                width=10.5, height=0.28 * len(rows) + 2.2)
    ax = axes[0, 0]
    finite = logs[np.isfinite(logs)]
    lo, hi = (np.floor(finite.min()), np.ceil(finite.max())) if finite.size else (-1, 1)
    layers = np.arange(1, grid.shape[1] + 1)
    image = ax.pcolormesh(layers, np.arange(len(rows)), np.where(zero, np.nan, logs),
                          cmap="viridis", vmin=lo, vmax=hi, shading="nearest")
    if zero.any():
        ax.pcolormesh(layers, np.arange(len(rows)), np.where(zero, 1.0, np.nan),
                      cmap=ListedColormap(["#D55E00"]), shading="nearest")
        ax.plot([], [], "s", color="#D55E00", label="exactly 0 in float32 (underflow)")
        ax.legend(loc="upper left", bbox_to_anchor=(0.0, -0.1), frameon=False)
    ax.set_yticks(np.arange(len(rows)), rows)
    ax.invert_yaxis()
    ax.grid(False)
    ax.set(xlabel="layer ℓ (1 = input side, last = output layer)")
    fig.colorbar(image, ax=ax, label="log10 ‖∂L/∂W_ℓ‖", pad=0.01)
    return fig


def precision(result: dict):
    s = result["series"]
    p = s["precision"]
    fig, axes = plotting.figure(1, 3, title="Slow, or lost? In float32 a vanishing gradient "
                                "becomes exactly 0 (float64 keeps it)", width=15.0)
    ax = axes[0, 0]
    ch = s["chain"]
    depth = plotting.array(ch["depth"])
    for w, g64, g32 in zip(ch["weights"], ch["float64"], ch["float32"], strict=True):
        if w not in result["config"]["precision_chain_weights"]:
            continue
        g32 = np.abs(plotting.array(g32))
        line, = ax.semilogy(depth, np.abs(plotting.array(g64)), label=f"w = {w:g}, float64")
        ok = np.isfinite(g32) & (g32 > 0)
        ax.semilogy(depth[ok], g32[ok], "--", color=line.get_color(), linewidth=2.2,
                    label=f"w = {w:g}, float32")
        bad = ~ok
        if bad.any():
            first = depth[bad][0]
            what = "0" if w < 1 else "inf"
            ax.axvline(first, color=line.get_color(), linewidth=0.8, linestyle=":")
            ax.annotate(f"float32 = {what}\nfrom l = {first:.0f}", (first, 1e-40 if w < 1
                        else 1e40), xytext=(-4, 0), textcoords="offset points", ha="right",
                        fontsize=8, color=line.get_color())
    ax.axhline(p["float32_tiny"], color="0.5", linewidth=0.8)
    ax.axhline(1 / p["float32_tiny"], color="0.5", linewidth=0.8)
    ax.set(xlabel="depth l", ylabel="|∂ŷ/∂w₁| (log)",
           title="scalar chain ŷ = x·w₁⋯w_l\n(grey: float32 smallest normal, its inverse)")
    ax.legend(fontsize=7.5)
    ax = axes[0, 1]
    crossed = plotting.array(p["layers_crossed"])
    n64, n32 = plotting.array(p["norm64"]), plotting.array(p["norm32"])
    ax.semilogy(crossed, n64, "-", label="float64")
    ok = n32 > 0
    ax.semilogy(crossed[ok], n32[ok], "--", linewidth=2.2, label="float32")
    if (~ok).any():
        bottom = np.nanmin(n64[n64 > 0]) / 10
        plotting.mark_diverged(ax, crossed[~ok], np.full((~ok).sum(), bottom),
                               label="float32 exactly 0")
    ax.axhline(p["float32_tiny"], color="0.5", linewidth=0.8,
               label=f"float32 smallest normal {p['float32_tiny']:.1e}")
    ax.set(xlabel="layers between layer ℓ and the output",
           ylabel="‖∂L/∂W_ℓ‖ (log)",
           title=f"sigmoid/xavier MLP, {p['depth']} layers, same weights")
    ax.legend(fontsize=7.5)
    ax = axes[0, 2]
    ax.plot(crossed, plotting.array(p["cosine"]), "o-", markersize=3,
            label="cos(∇W_ℓ float32, ∇W_ℓ float64)")
    ax.plot(crossed, plotting.array(p["zero_fraction32"]), "s-", markersize=3,
            label="fraction of exact zeros, float32")
    ax.plot(crossed, plotting.array(p["zero_fraction64"]), ":", label="... float64")
    if p["first_any_zero"] >= 0:
        ax.axvline(p["first_any_zero"], color="0.5", linewidth=0.8, linestyle=":")
    ax.set(xlabel="layers between layer ℓ and the output", ylim=(-0.05, 1.05),
           title="direction: intact, then lost\n"
                 f"first zero entries {p['first_any_zero']} layers down, "
                 f"all zero from {p['first_all_zero']}")
    ax.legend(fontsize=7.5, loc="center left")
    return fig



def ratio(result: dict):
    prof = result["series"]["profile"]
    activations = list(dict.fromkeys(prof["activation"]))
    ncols = 2 if len(activations) > 1 else 1
    nrows = math.ceil(len(activations) / ncols)
    n = len(prof["seeds"])
    fig, axes = plotting.figure(nrows, ncols, width=13.0, title="How fast does the error "
                                "signal shrink with depth? ‖δ₁‖/‖δ_(L−1)‖ (first over last "
                                f"hidden layer) at init, median and range over {n} init seeds")
    depths = np.array([p["depth"] for p in prof["by_depth"]], float)
    ratios = np.array([_a(p["signal_ratio"]) for p in prof["by_depth"]])  # (D, settings, seeds)
    dense = np.linspace(min(depths.min(), 3), depths.max(), 100)
    for k, act in enumerate(activations):
        ax = axes.flat[k]
        cols = [j for j, a in enumerate(prof["activation"]) if a == act]
        underflow = []
        for j in cols:
            init = prof["init"][j]
            color = INIT_COLORS.get(init)
            r = ratios[:, j]  # (D, seeds); NaN: the first layer underflowed to 0
            with np.errstate(all="ignore"):
                med = np.nanmedian(r, axis=1)
            ok = np.isfinite(med) & np.isfinite(r).all(axis=1)
            ax.semilogy(depths[ok], med[ok], "o-", color=color, markersize=4,
                        label=f"{init.replace('_', ' ')} (g = {prof['gain'][j]:.2g})")
            if n > 1 and ok.any():
                ax.fill_between(depths[ok], np.nanmin(r[ok], 1), np.nanmax(r[ok], 1),
                                color=color, alpha=0.2, linewidth=0)
            underflow += [(d, color) for d in depths[~ok]]
        lo, hi = plotting.finite_limits(ratios[:, cols], log=True)
        lo, hi = max(lo / 10, 1e-300), hi * 10
        for j in cols:  # theory, clipped to the data's range (never into the strip)
            theory = prof["rate"][j] ** (dense - 2)
            ax.semilogy(dense, np.where((theory >= lo) & (theory <= hi), theory, np.nan),
                        **{**plotting.THEORY, "color": INIT_COLORS.get(prof["init"][j]),
                           "linewidth": 0.9})
        bound = "≤ " if prof["rate_is_bound"][cols[0]] else ""
        slope = {"sigmoid": "1/4", "tanh": "1", "relu": "1/√2", "linear": "1"}[act]
        ax.plot([], [], label=f"theory {bound}(g·{slope})^(L−2)", **plotting.THEORY)
        ax.set_ylim(lo, hi)
        if underflow:
            y = _strip(ax, top=False, left=True,
                       label="underflow: δ₁ exactly 0 in float32 (no ratio)")
            for d, color in underflow:
                ax.plot(d, y, "v", color=color, markersize=7, markeredgecolor="k")
        ax.set(xlabel="depth L (weight layers)", ylabel="‖δ₁‖ / ‖δ_(L−1)‖ (log)", title=act)
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    for ax in axes.flat[len(activations):]:
        ax.set_visible(False)
    return fig


def _steps(study: dict) -> np.ndarray:
    """(depths, seeds) steps at each depth's best rate; never = NaN."""
    steps = _a(study["steps"])
    out = np.array([steps[b["index"], j] for j, b in enumerate(study["best"])])
    return np.where(out >= 0, out, np.nan)


def finish(result: dict):
    s, c = result["series"]["finish"], result["config"]
    target = c["target_loss"]
    acts = c["train_activations"]
    fig, axes = plotting.figure(1, 3, width=16.0, title="Can we always finish, just slowly? "
                                f"Full-batch training to loss {target:g} (MNIST-1D, width "
                                f"{c['train_width']}, {c['train_size']} examples), "
                                f"{c['seeds']} init seeds")
    ax = axes[0, 0]
    runs = [(act, s[act], "o", c["num_steps"] if act == "sigmoid" else c["short_steps"])
            for act in acts] + [("sigmoid, Adam", s["adam"], "D", c["adam_steps"])]
    never = []
    for (name, st, marker, budget), color in zip(runs, plotting.COLORS, strict=False):
        depths, steps = np.array(st["depths"], float), _steps(st)
        med = np.median(np.where(np.isnan(steps), np.inf, steps), axis=1)
        ok = np.isfinite(med)
        ax.plot(depths[ok], med[ok], marker + "-", color=color,
                label=f"{name}: median (budget {budget})")
        for j, d in enumerate(depths):
            ax.plot(np.full(steps.shape[1], d), steps[j], ".", color=color, alpha=0.5)
        never += [(d, color, marker, budget) for d in depths[~ok]]
    ax.set_yscale("log")
    ax.set_ylim(1, c["num_steps"] * 1.5)
    for b in (100, 1000, 10_000):
        if b <= c["num_steps"]:
            ax.axhline(b, color="0.6", linewidth=0.7, linestyle=":")
    if never:
        y = _strip(ax, top=True, left=True, label="median never within its budget")
        for d, color, marker, _ in never:
            ax.plot(d, y, marker, color=color, markerfacecolor="none", markersize=8)
    ax.set(xlabel="depth (weight layers)", ylabel="steps to the target at the best rate (log)",
           title="steps to target vs depth (dots: seeds)")
    ax.legend(fontsize=7, loc="lower right")
    ax = axes[0, 1]
    within = result["metrics"]["finish_budget"]["deepest_depth_within"]
    for (act, table), color in zip(within.items(), plotting.COLORS, strict=False):
        budgets = np.array([int(b) for b in table], float)
        ax.step(budgets, list(table.values()), where="post", color=color, marker="o",
                label=act)
    ax.set_xscale("log")
    ax.set(xlabel="budget (steps, log)", ylabel="deepest depth finished (median seed)",
           title="the same sweeps read as a budget scaling:\nmore steps buy little depth")
    ax.legend(fontsize=8)
    ax = axes[0, 2]
    st = s[acts[0]]
    t = _a(st["recorded_steps"])
    for j, (d, color) in enumerate(zip(st["depths"], plotting.COLORS * 2, strict=False)):
        curve = np.median(_a(st["curve"])[j], axis=0)
        ax.plot(np.maximum(t, 1), curve, color=color,
                label=f"depth {d} (η = {st['best'][j]['learning_rate']:g})")
    ax.axhline(target, color="0.3", linewidth=0.8, linestyle=":", label="target")
    ax.axhline(np.log(10), color="0.6", linewidth=0.8, linestyle="--", label="ln 10 (chance)")
    ax.set_xscale("log")
    ax.set(xlabel="step (log)", ylabel="training loss (median seed)", ylim=(0, 2 * np.log(10)),
           title=f"{acts[0]}: loss at each depth's best rate")
    ax.legend(fontsize=6.5, loc="upper right", ncols=3)
    return fig


def exploding(result: dict):
    e, c = result["series"]["exploding"], result["config"]
    d = c["remedy_depth"]
    fig, axes = plotting.figure(1, 2, width=12.0, title=f"Exploding by scale: relu with gain "
                                f"{c['large_scale']:g} at depth {d}. A smaller rate fixes it; "
                                f"so does clipping the global norm to {c['clip_norm']:g}")
    ax = axes[0, 0]
    labels = {"sgd": "gradient descent", "clipped": "clip_by_global_norm + gradient descent"}
    diverged = []
    for (name, marker), color in zip((("sgd", "o"), ("clipped", "s")), plotting.COLORS,
                                     strict=False):
        r = e[name]
        lrs, final = _a(r["learning_rates"]), _a(r["final_loss"])[:, 0]  # (lrs, seeds)
        dead = _a(r["diverged_at"])[:, 0] >= 0
        with np.errstate(all="ignore"):
            med = np.nanmedian(np.where(dead, np.nan, final), axis=1)
        ok = ~dead.all(axis=1)
        ax.plot(lrs[ok], med[ok], marker + "-", color=color, label=f"{labels[name]} (median)")
        best = r["best"][0]
        ax.plot(best["learning_rate"], med[best["index"]], marker, markersize=13,
                markerfacecolor="none", color=color,
                label=f"best: fewest median steps to loss {c['target_loss']:g}")
        diverged += [(lr, color, marker, int(k)) for lr, k in zip(lrs, dead.sum(1), strict=True)
                     if k]
    ax.axhline(c["target_loss"], color="0.3", linewidth=0.8, linestyle=":", label="target")
    ax.set(xscale="log", yscale="log", xlabel="learning rate",
           ylabel=f"loss after {c['explode_steps']} steps (log)",
           title="final loss per rate (the old grid started at 0.03)")
    if diverged:
        y = _strip(ax, top=True, label="diverged (number of seeds)")
        for lr, color, _, k in diverged:
            ax.plot(lr, y, "x", color=color, markersize=8)
            ax.annotate(f"{k}", (lr, y), xytext=(4, 3), textcoords="offset points", fontsize=7,
                        color=color)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(0.0, -0.2), ncols=2)
    ax = axes[0, 1]
    for name, color in zip(("sgd", "clipped"), plotting.COLORS, strict=False):
        r = e[name]
        curve = np.median(_a(r["curve"])[0], axis=0)
        ax.semilogy(_a(r["recorded_steps"]), curve, color=color,
                    label=f"{labels[name]}, best η = {r['best'][0]['learning_rate']:g}")
    ax.axhline(c["target_loss"], color="0.3", linewidth=0.8, linestyle=":", label="target")
    ax.set(xlabel="step", ylabel="training loss (median seed, log)",
           title="best rate of each = fewest median steps to the target")
    ax.legend(fontsize=7.5)
    return fig


def rates(result: dict):
    s, c = result["series"], result["config"]
    prof = s["profile"]
    fig, axes = plotting.figure(1, 2, width=13.0, height=4.8,
                                title="Does one learning rate suit every layer? The update/"
                                "weight ratio ‖ΔW_ℓ‖/‖W_ℓ‖ per layer (median over seeds)")
    ax = axes[0, 0]
    shown = []
    for name, depth, style in (("tanh_normal_large", c["ratio_depth"], "-"),
                               ("relu_normal_large", c["remedy_depth"], "--")):
        p = next((p for p in prof["by_depth"] if p["depth"] == depth), None)
        if p is None or name not in prof["settings"]:
            continue
        u = np.median(_a(p["update_per_rate"])[prof["settings"].index(name)], axis=0)
        for lr, color in zip((1e-4, 1e-3, 1e-2), plotting.COLORS, strict=False):
            ax.semilogy(np.arange(1, len(u) + 1), lr * u, style, color=color,
                        label=f"{_pretty(name)}, depth {depth}, η = {lr:g}")
        shown.append(name)
    ax.axhspan(1e-4, 1e-2, color="#009E73", alpha=0.08)
    ax.text(0.01, 1e-3, "useful, safe steps ~1e-4…1e-2", transform=ax.get_yaxis_transform(),
            fontsize=7, color="#009E73", va="center")
    ax.set(xlabel="layer ℓ (1 = input side)", ylabel="η‖∇W_ℓ‖/‖W_ℓ‖ of one step at init (log)",
           title="one gradient step at init: a rate shifts every layer alike")
    ax.legend(fontsize=6.5, loc="upper right")
    ax = axes[0, 1]
    u = s["update_ratio"]
    if u:
        ratio = _a(u["update_ratio"])  # (lrs, seeds, L): median over the recorded steps
        dead = (_a(u["diverged_at"]) >= 0).sum(1)
        layer = np.arange(1, ratio.shape[-1] + 1)
        for k, (lr, color) in enumerate(zip(u["learning_rates"], plotting.COLORS * 2,
                                            strict=False)):
            note = f" ({dead[k]} of {ratio.shape[1]} diverged)" if dead[k] else ""
            with np.errstate(all="ignore"):
                lo, mid, hi = (np.nanmin(ratio[k], 0), np.nanmedian(ratio[k], 0),
                               np.nanmax(ratio[k], 0))
            ax.fill_between(layer, lo, hi, color=color, alpha=0.15, linewidth=0)
            ax.semilogy(layer, mid, color=color, label=f"η = {lr:g}{note}")
        ax.axhline(1e-3, **plotting.THEORY, label="rule of thumb 1e-3 (band: 1e-4…1e-2)")
        ax.axhspan(1e-4, 1e-2, color="#009E73", alpha=0.08)
        ax.set(xlabel="layer ℓ (1 = input side)",
               ylabel="‖ΔW_ℓ‖/‖W_ℓ‖ per step (log)",
               title=f"tanh, gain {c['large_scale']:g}, depth {u['depth']}: measured in "
                     f"training (instrument \"norms\"),\nmedian over {u['num_steps']} "
                     f"steps; line: median, band: min–max over {ratio.shape[1]} seeds")
        ax.legend(fontsize=7, loc="lower left", ncols=2)
    else:
        ax.set_visible(False)
    return fig


def remedies(result: dict):
    s, c = result["series"], result["config"]
    names = list(s["remedy_init"])
    depths = c["remedy_ratio_depths"]
    trained = bool(s["remedy_train"])
    fig, axes = plotting.figure(1, 2 if trained else 1, title="What do the remedies buy? "
                                "Gradient ratio at init and steps to the target "
                                f"(median over {c['seeds']} seeds)",
                                width=12.0 if trained else 7.0, height=4.6)
    ax = axes[0, 0]
    y = np.arange(len(names))
    h = 0.8 / len(depths)
    for k, d in enumerate(depths):
        ratios = np.array([np.nanmedian(_a(s["remedy_init"][n]["grad_ratio"][k]))
                           for n in names], float)
        ax.barh(y + (k - (len(depths) - 1) / 2) * h, ratios, height=h, label=f"depth {d}")
    ax.set_xscale("log")
    ax.axvline(1, color="0.3", linewidth=0.8)
    ax.set_yticks(y, [_pretty(n) for n in names])
    ax.invert_yaxis()
    ax.set(xlabel="‖∂L/∂W₁‖ / ‖∂L/∂W_L‖ at init (log; 1 = no vanishing)",
           title="first-to-last layer gradient ratio")
    ax.legend(fontsize=8)
    if trained:
        ax = axes[0, 1]
        budget = c["short_steps"]
        steps = np.array([np.median(np.where(np.isnan(v := _steps(s["remedy_train"][n])[0]),
                                             np.inf, v)) for n in names])
        never = ~np.isfinite(steps)
        ax.barh(y, np.where(never, budget, steps), color=np.where(never, "0.85", "#009E73"),
                edgecolor="0.3")
        for yi, n, st in zip(y, names, steps, strict=True):
            r = s["remedy_train"][n]
            lr = r["best"][0]["learning_rate"]
            text = (f"never within {r['num_steps']} (η {lr:g})" if not np.isfinite(st)
                    else f"{st:.0f} (η {lr:g})")
            ax.annotate(text, (budget if not np.isfinite(st) else st, yi), xytext=(3, -3),
                        textcoords="offset points", fontsize=8)
        ax.set_yticks(y, [""] * len(names))
        ax.invert_yaxis()
        ax.set_xlim(0, budget * 1.6)
        ax.set(xlabel=f"steps to loss {c['target_loss']:g} (grey: never within the budget)",
               title=f"training at depth {c['remedy_depth']}, best learning rate")
    return fig


def plot(result: dict) -> dict:
    figures = {"chain": chain(result), "profile": profile(result),
               "ratio_vs_depth": ratio(result), "precision": precision(result),
               "finish": finish(result), "rates": rates(result), "remedies": remedies(result)}
    if result["series"]["exploding"]:
        figures["exploding"] = exploding(result)
    return figures
