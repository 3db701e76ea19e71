"""The figures of weight_update, drawn from its stored result only."""

import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator, NullFormatter

from gdlab import plotting


def plot(result: dict) -> dict:
    s = result["series"]
    figures = {}

    fig, axes = plotting.figure(1, 2, title="Does w ← w − α·(pred − goal)·input descend? "
                                "The book's runs, step by step")
    ax = axes[0, 0]
    for r in s["book"]:
        err = plotting.array(r["error"])
        product = r["alpha"] * r["input"] ** 2
        label = f"input {r['input']:g}, α = {r['alpha']:g} (α·input² = {product:g})"
        line, = ax.semilogy(np.arange(len(err)), err, "o-", markersize=3, label=label)
        ax.semilogy(np.arange(len(err)), plotting.array(r["theory_error"]),
                    **{**plotting.THEORY, "color": line.get_color(), "linewidth": 0.9})
    ax.plot([], [], label="closed form (1 − α·input²)^(2t)·error₀", **plotting.THEORY)
    ax.set(xlabel="iteration", ylabel="error = (pred − goal)²",
           title="gradient descent: converge, diverge, converge again")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), ncols=1)
    ax = axes[0, 1]
    hot = plotting.array(s["hot_and_cold"]["error"])
    gd = plotting.array(s["book"][0]["error"])
    ax.loglog(np.arange(1, len(hot) + 1), hot, label="hot and cold, step 0.001 (2 probes/step)")
    ax.loglog(np.arange(1, len(gd) + 1), gd, "o-", markersize=3,
              label="gradient descent, α = 1 (1 gradient/step)")
    ax.set(xlabel="iteration (log scale)", ylabel="error = (pred − goal)²",
           title=f"hot and cold needs {len(hot)} iterations, GD {len(gd)}")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22))
    figures["book_runs"] = fig

    eff = s["effects"]
    fig, axes = plotting.figure(1, 2, title="Stopping, negative reversal, scaling: "
                                "what the input does to the update")
    ax = axes[0, 0]
    for x, w in zip(eff["inputs"], eff["weights"], strict=True):
        w = plotting.array(w)
        goal_w = result["config"]["goal"] / x if x else None
        line, = ax.plot(np.arange(len(w)), w, "o-", markersize=3, label=f"input {x:g}")
        if goal_w is not None:
            ax.axhline(goal_w, color=line.get_color(), linewidth=0.8, linestyle=":")
    ax.set(xlabel="iteration", ylabel="weight",
           title="input 0 stops; input < 0 reverses\n(dotted: the optimum goal/input)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend()
    ax = axes[0, 1]
    ax.set_yscale("log")  # the factor spans decades for large α·input² (and never overflows)
    xs = plotting.array(eff["scale_inputs"])
    ax.plot(xs, plotting.array(eff["theory_factor"]), label="theory |1 − α·input²|",
            **plotting.THEORY)
    ax.plot(xs, plotting.array(eff["measured_factor"]), "o", label="measured |e₁ / e₀|")
    ax.axhline(1, color="#D55E00", linewidth=1, label="1: beyond it the error grows")
    alpha = result["config"]["alpha"]
    ax.axvline(np.sqrt(2 / alpha), color="0.5", linewidth=0.8, linestyle=":")
    floor = 1e-2  # the factor 0 at α·input² = 1 (measured: round-off) is drawn at the floor
    factors = plotting.array(eff["theory_factor"])
    top = np.nanmax(np.where(np.isfinite(factors), factors, np.nan), initial=1.0)
    ax.set_ylim(floor, min(max(100.0, 30 * top), 1e300))  # room above for the legend
    ax.annotate("α = 1/input²: factor 0,\none step lands on the goal",
                xy=(1 / np.sqrt(alpha), floor), xytext=(0.03, 0.12), textcoords="axes fraction",
                fontsize=8, arrowprops={"arrowstyle": "->", "color": "0.3"})
    ax.set(xlabel="input", ylabel="factor on pred − goal per step (log)",
           title="bigger input, bigger step (α = 1):\nbeyond input = √2 the error grows")
    ax.legend(loc="upper left", fontsize=8)
    figures["effects"] = fig

    st = s["stability"]
    inputs, alphas = plotting.array(st["inputs"]), plotting.array(st["alphas"])
    outcome = plotting.array(st["outcome"])
    fig, axes = plotting.figure(1, 1, title="Where does gradient descent converge?\n"
                                "measured on a grid (colours) vs theory α = 2/input² (line)",
                                width=7.0, height=5.0)
    ax = axes[0, 0]
    cmap = ListedColormap(["#D55E00", "0.85", "#56B4E9"])
    ax.pcolormesh(inputs, alphas, outcome.T, cmap=cmap, vmin=-1, vmax=1, shading="nearest")
    xs = np.linspace(inputs.min(), inputs.max(), 600)
    xs = xs[np.abs(xs) > 1e-9]
    ax.plot(xs, 2 / xs**2, color="k", linewidth=1.6, label="theory: α = 2 / input²")
    ax.plot(xs, 1 / xs**2, color="k", linewidth=1.0, linestyle="--",
            label="α = 1 / input²: exact in one step")
    ax.set_yscale("log")
    ax.set_ylim(alphas.min(), alphas.max())
    ax.set(xlabel="input", ylabel="learning rate α (log scale)")
    ax.legend(handles=[Patch(color="#56B4E9", label="converges"),
                       Patch(color="#D55E00", label="diverges"),
                       Patch(color="0.85", label="never moves (input 0)"),
                       *ax.get_legend_handles_labels()[0]], loc="upper center",
              bbox_to_anchor=(0.5, -0.13), ncols=3)
    figures["stability_map"] = fig
    figures["leverage"] = _plot_leverage(result)
    return figures


def _plot_leverage(result: dict):
    lev, norm = result["series"]["leverage"], result["series"]["normalisation"]
    cfg = result["config"]
    fig, axes = plotting.figure(2, 2, title="Why does a big input give a big update, and why "
                                "does it overshoot?", width=10.5, height=8.0)
    ax = axes[0, 0]
    dw = np.linspace(-0.3, 0.3, 3)
    for x in (0.5, 1.0, 2.0):
        ax.plot(dw, x * dw, label=f"input {x:g}: Δpred = {x:g}·Δw")
    ax.set(xlabel="change of the weight Δw", ylabel="change of the prediction Δpred",
           title="leverage: the input is d pred/dw, so the gradient\n"
           "(pred − goal)·input credits each weight by its leverage")
    ax.legend(loc="upper left")

    ax = axes[0, 1]
    x = plotting.array(lev["plane_inputs"])
    mn, step = plotting.array(lev["plane_min_norm"]), plotting.array(lev["plane_gd_step"])
    delta = cfg["goal"]
    t = np.linspace(-1.5, 1.5, 3)
    direction = np.array([-x[1], x[0]]) / np.linalg.norm(x)
    line = mn[None, :] + t[:, None] * direction[None, :]
    ax.plot(line[:, 0], line[:, 1], color="0.4",
            label=f"all Δw with Δpred = {delta:g} ({x[0]:g}·Δw₁ + {x[1]:g}·Δw₂)")
    circle = np.linspace(0, 2 * np.pi, 200)
    r = np.linalg.norm(mn)
    ax.plot(r * np.cos(circle), r * np.sin(circle), ":", color="0.6",
            label="smallest ‖Δw‖ that reaches it")
    ax.annotate("", xy=step, xytext=(0, 0), arrowprops={"arrowstyle": "->", "color": "#0072B2",
                                                        "linewidth": 2})
    ax.plot(*step, "o", color="#0072B2", label="gradient step, α = 1/‖input‖²")
    ax.plot(*mn, "x", color="#D55E00", markersize=10, label="minimum norm (NumPy lstsq)")
    ax.set_aspect("equal")
    ax.set(xlim=(-0.8, 0.8), ylim=(-0.45, 0.75), xlabel=f"Δw₁ (input {x[0]:g})",
           ylabel=f"Δw₂ (input {x[1]:g})",
           title="several inputs: the update ∝ input is the\nsmallest change of the weights")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), fontsize=7.5, ncols=2)

    ax = axes[1, 0]
    inputs = plotting.array(lev["inputs"])
    ratio = plotting.array(lev["gd_step"]) / plotting.array(lev["exact_step"])
    fine = np.linspace(0.2, 3.05, 200)
    alpha = cfg["alpha"]
    ax.axhspan(2, 20, color="#D55E00", alpha=0.12, label="> 2: overshoots more, diverges")
    ax.axhspan(1, 2, color="#E69F00", alpha=0.12, label="1–2: overshoots, converges")
    ax.axhspan(0.01, 1, color="#56B4E9", alpha=0.12, label="< 1: undershoots")
    ax.loglog(fine, alpha * fine**2, label=f"theory α·input² (α = {alpha:g})", **plotting.THEORY)
    ax.loglog(inputs, ratio, "o", color="#0072B2", label="measured GD step / exact step")
    ax.axvline(1 / np.sqrt(alpha), color="0.3", linewidth=0.8, linestyle=":")
    ax.text(1 / np.sqrt(alpha) * 1.05, 0.02, "α = 1/input²:\nexact, factor 0", fontsize=8)
    ax.set_xticks([0.25, 0.5, 1, 2, 3], ["0.25", "0.5", "1", "2", "3"])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set(ylim=(0.01, 20), xlabel="input (log)", ylabel="GD step / exact step −error/input",
           title="the exact correction is −error/input, GD's is\n−α·error·input: "
           "α carries units of 1/input²")
    ax.legend(loc="upper left", fontsize=7.5, frameon=True)

    ax = axes[1, 1]
    for name, color in (("normalised", "#009E73"), ("raw", "#D55E00")):
        info = norm[name]
        curve = plotting.array(info["loss"]) / norm["initial_loss"]
        steps = info["best_steps"]
        label = (f"{name} (κ = {info['kappa']:.3g}), its best α = {info['best_alpha']:.3g}: "
                 f"{steps:.0f} steps" if steps is not None else f"{name}: never")
        ax.semilogy(np.arange(len(curve)), curve, color=color, label=label)
    ax.axhline(cfg["feature_target"], label="target", **plotting.THEORY)
    ax.set_xscale("symlog", linthresh=10)
    ax.set_xlim(0, len(curve))
    ax.set_ylim(cfg["feature_target"] / 100, 2)
    ax.set(xlabel="step (linear to 10, then log)", ylabel="loss / initial loss (log)",
           title=f"why inputs are normalised: one feature {cfg['feature_scale']:g}× larger,"
           "\none α for both weights (2 inputs, 1 neuron)")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), fontsize=7.5)
    return fig
