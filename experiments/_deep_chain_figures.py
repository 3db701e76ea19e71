"""The figures of deep_chain, drawn from its stored result only (a private module of
experiments/deep_chain.py)."""

import numpy as np

from gdlab import plotting

RULES = ("tied", "fixed")  # as in deep_chain.py: ε = target/gᵀg, and a fixed ε
_RULE_TITLES = {"tied": "ε = 0.1/gᵀg (the book's rule)", "fixed": "fixed ε"}
_BOOK_TERM = "book's term ε²g₁g₂·w₃⋯w_l"


def _colors(names):
    return {n: plotting.COLORS[i % len(plotting.COLORS)] for i, n in enumerate(names)}


def _rule_label(rule, config):
    return _RULE_TITLES[rule] if rule == "tied" else f"fixed ε = {config['fixed_eps']:g}"


def _plot_orders(result):
    book = result["series"]["book"]
    depth = book["depth"]
    fig, axes = plotting.figure(1, 2, title=f"What does one step do to ŷ = x·w₁⋯w_{depth}? "
                                "The contribution of every order (gdlab.taylor, jet)",
                                height=5.0, width=12.0)
    k = np.arange(1, depth + 1)
    for ax, rule in zip(axes[0], RULES, strict=True):
        rows = book["rules"][rule]
        colors = _colors(list(rows))
        for name, r in rows.items():
            ax.semilogy(k, np.abs(plotting.array(r["exact_terms"])), color=colors[name],
                        linewidth=1.0, alpha=0.7)
            ax.semilogy(k, np.abs(plotting.array(r["terms"])), "o", color=colors[name],
                        markersize=4, label=f"w = {name}: actual/predicted = {r['ratio']:.3g}")
            ax.semilogy([2], [abs(r["book_term"])], "*", color=colors[name], markersize=11,
                        markeredgecolor="k", markeredgewidth=0.5)
        ax.plot([], [], "*", color="0.6", markeredgecolor="k", markersize=11, label=_BOOK_TERM)
        ax.plot([], [], color="0.4", linewidth=1.0, label="exact ŷ·e_k(u) (lines)")
        ax.set(xlabel="order k  (the terms alternate in sign: (−1)^k)",
               ylabel="|contribution of order k to Δŷ|",
               title=f"{_rule_label(rule, result['config'])}\n"
                     "markers: jet; all orders sum to the actual change")
        ax.set_xticks(k)
        ax.legend(fontsize=7.5, loc="lower left")
    return fig


def _plot_sweep(result):
    sw = result["series"]["sweep"]
    depths = plotting.array(sw["depths"])
    colors = _colors(sw["sets"])
    top = 40.0  # log₁₀ of the share drawn; lines beyond leave the panel, their end is written
    fig, axes = plotting.figure(1, 3, title="When do the higher orders of one step outweigh the "
                                "first? Every depth, both rules for ε, computed exactly",
                                height=5.0, width=15.5)
    for ax, rule in zip(axes[0, :2], RULES, strict=True):
        r = sw["rules"][rule]
        gone = []
        for i, name in enumerate(sw["sets"]):
            h = plotting.array(r["H_log10"][i])
            ax.plot(depths, np.where(h <= top, h, np.nan), color=colors[name], linewidth=1.6,
                    label=f"w = {name}")
            if np.nanmax(h) > top:
                gone.append(f"w = {name}: 10^{h[-1]:.0f} at l = {int(depths[-1])}")
        ax.axhline(0, **plotting.THEORY, label="0: higher orders = the first")
        ax.axhspan(0, top + 5, color="0.5", alpha=0.07, linewidth=0)
        h_all = plotting.array(r["H_log10"])
        ax.set_ylim(max(-20.0, np.nanmin(h_all)) - 1, min(top, np.nanmax(h_all)) + 5)
        if gone:
            ax.text(0.03, 0.97, "off the top:\n" + "\n".join(gone), transform=ax.transAxes,
                    ha="left", va="top", fontsize=8,
                    bbox=dict(facecolor="white", edgecolor="0.8"))
        ax.set(xlabel="depth l", ylabel="log₁₀ (Σ_k≥2 |c_k|) / |c_1|",
               title=f"{_rule_label(rule, result['config'])}\n"
                     "above 0 (shaded): the first-order prediction is meaningless")
    ax = axes[0, 2]
    for rule, marker in zip(RULES, ("o", "s"), strict=True):
        r = sw["rules"][rule]
        ax.plot(np.log10(plotting.array(r["U"]).ravel()), plotting.array(r["H_log10"]).ravel(),
                marker, markersize=3, alpha=0.5, linestyle="none",
                label=f"every depth and w, {_rule_label(rule, result['config'])}")
    theory = sw["bounds"]
    for depth, values, style in zip(theory["depths"], theory["log10_share"], (":", "-.", "--"),
                                    strict=False):
        ax.plot(plotting.array(theory["log10_U"]), plotting.array(values), color="0.25",
                linestyle=style, linewidth=1.1, label=f"theory, equal weights, l = {depth}")
    ax.axhline(0, color="0.6", linewidth=0.8)
    ax.set(xlabel="log₁₀ U,  U = εgᵀg/|ŷ|: the relative change asked of ŷ",
           ylabel="log₁₀ (Σ_k≥2 |c_k|) / |c_1|",
           title="one number decides, U = εgᵀg/|ŷ|\n"
                 "lines: ((1 + U/l)^l − 1 − U)/U, a bound for any w")
    ax.legend(fontsize=7, loc="upper left")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=len(labels))
    return fig


def _plot_batch_norm(result):
    s = result["series"]
    bn, sw = s["batch_norm"], s["sweep"]
    depths = plotting.array(bn["depths"])
    colors = _colors(bn["sets"])
    top = 2.0
    fig, axes = plotting.figure(1, 3, title="Batch normalisation's answer (measured): the "
                                "higher-order share stops depending on depth, because "
                                "w₁…w_(l−1) no longer matter: they can neither hurt nor help",
                                height=4.8, width=15.5)
    for ax, rule in zip(axes[0, :2], RULES, strict=True):
        gone = []
        for i, name in enumerate(bn["sets"]):
            plain = plotting.array(sw["rules"][rule]["net_log10"][i])
            normed = np.log10(np.abs(plotting.array(bn["rules"][rule]["net"][i])))
            ax.plot(depths, np.where(plain <= top, plain, np.nan), color=colors[name],
                    label=f"w = {name}")
            ax.plot(depths, normed, "--", color=colors[name], linewidth=1.3)
            if np.nanmax(plain) > top:
                gone.append(f"w = {name}: 10^{np.nanmax(plain):.0f}")
        ax.plot([], [], color="0.4", label="plain chain (solid)")
        ax.plot([], [], "--", color="0.4", label="batch-normalised (dashed)")
        ax.axhline(0, **plotting.THEORY)
        ax.set_ylim(None, top + 0.5)
        if gone:
            ax.text(0.98, 0.97, "plain, off the top (max):\n" + "\n".join(gone),
                    transform=ax.transAxes, ha="right", va="top", fontsize=7.5,
                    bbox=dict(facecolor="white", edgecolor="0.8"))
        ax.set(xlabel="depth l", ylabel="log₁₀ |actual/predicted − 1|",
               title=f"{_rule_label(rule, result['config'])}: the higher-order share")
        ax.legend(fontsize=7, loc="lower left", ncols=2)
    ax = axes[0, 2]
    r = result["config"]["rescale"]
    plain = plotting.array(bn["rescaled_change_plain_log10"])
    normed = np.log10(np.maximum(plotting.array(bn["rescaled_change_normed"]), 1e-300))
    share = np.log10(np.maximum(plotting.array(bn["lower_gradient_share"]), 1e-300))
    for values, label, color in (
            (plain, "plain chain: relative change of ŷ", "0.35"),
            (normed, "batch-normalised: relative change of ŷ", plotting.COLORS[0]),
            (share, "batch-normalised: share of gᵀg below the top", plotting.COLORS[3])):
        ax.fill_between(depths, np.nanmin(values, axis=0), np.nanmax(values, axis=0),
                        color=color, alpha=0.2, linewidth=0)
        ax.plot(depths, np.nanmedian(values, axis=0), color=color, label=label)
    ax.set_ylim(None, np.nanmax(plain) + 5)  # room for the legend above the data
    ax.set(xlabel="depth l", ylabel="log₁₀ (median line, band: all weight sets)",
           title=f"why: w₁…w_(l−1) times random factors in [1/{r:g}, {r:g}]\n"
                 "barely move the normalised ŷ, and get no gradient")
    ax.legend(fontsize=7, loc="upper right")
    return fig


def _plot_cost(result):
    c = result["series"]["cost"]
    cs = plotting.array(c["c"])
    depth = result["config"]["cost_depth"]
    fig, axes = plotting.figure(1, 2, title="\"A gradient of 1 on ŷ\" means ∂cost/∂ŷ = 1: "
                                "what changes when it is c instead?", height=4.2, width=11.0)
    ax = axes[0, 0]
    ax.semilogx(cs, plotting.array(c["linear"]["cost_ratio"]), label="cost = c·ŷ (the chain only)")
    ax.semilogx(cs, plotting.array(c["squared"]["cost_ratio"]), "--",
                label="cost = ½(ŷ − y)² at ŷ − y = c\n(the chain plus the cost's own ½Δŷ²)")
    ax.axvline(1, color="0.5", linewidth=0.8, linestyle=":")
    ax.axhline(1, **plotting.THEORY, label="1: first order is right")
    ax.axhline(0, color="0.6", linewidth=0.8)
    ax.set(xlabel="c = ∂cost/∂ŷ (dotted: the book's c = 1)",
           ylabel="actual Δcost / predicted Δcost (−0.1)",
           title=f"ε = 0.1/‖∇_w cost‖², depth {depth}, all weights 1")
    ax.legend(fontsize=7.5)
    ax = axes[0, 1]
    ax.semilogx(cs, plotting.array(c["linear"]["y_ratio"]), label="measured (either cost)")
    ax.semilogx(cs, plotting.array(c["theory_y_ratio"]), **plotting.THEORY,
                label="closed form (1 − (1 − 0.1/(c·l))^l) / (0.1/c)")
    ax.axvline(1, color="0.5", linewidth=0.8, linestyle=":")
    ax.set(xlabel="c = ∂cost/∂ŷ", ylabel="actual Δŷ / first-order Δŷ (= −0.1/c)",
           title="the rule asks ŷ to move by 0.1/c:\nsmall c, big move, big higher orders")
    ax.legend(fontsize=7.5)
    return fig


def plot(result: dict) -> dict:
    """Every figure of deep_chain."""
    return {"orders": _plot_orders(result), "depth_sweep": _plot_sweep(result),
            "batch_norm": _plot_batch_norm(result), "cost_gradient": _plot_cost(result)}
