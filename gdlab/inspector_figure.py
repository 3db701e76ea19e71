"""The ``gdlab inspect`` dashboard, drawn from a stored result's ``series`` only.

Six panels in Cockpit's spirit: the loss; ‖update‖/‖param‖ per layer over steps (a
heat map, the "1e-3 rule" in the colour bar); the effective learning rate per layer
(with the scheduled rate); the histogram of step quality α over time; GSNR per layer
and B_simple; the sharpness against its stability edge. A sweep draws every lane in
the loss and sharpness panels and its best lane (lowest final loss) in the others.
"""

import numpy as np
from matplotlib import colors

from gdlab import plotting


def _lane_labels(series) -> list[str]:
    grid = series["grid"]
    if not grid:
        rate = series["hyperparameters"]["learning_rate"]
        return [f"η = {rate:g}"]
    (name, values), = grid.items()
    short = {"learning_rate": "η", "momentum": "β"}.get(name, name)
    return [f"{short} = {v:.3g}" for v in values]


def _best_lane(loss) -> int:
    final = loss[:, -1]
    final = np.where(np.isfinite(final), final, np.inf)
    return int(np.argmin(final))


def _positive(a):
    a = np.asarray(a, dtype=float)
    return np.where(a > 0, a, np.nan)


def _empty(ax, text):
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="0.4")
    ax.set_xticks([])
    ax.set_yticks([])


def dashboard(series):
    """The six-panel figure of one inspected run or sweep."""
    loss = plotting.array(series["loss"])
    steps = np.asarray(series["steps"])
    isteps = np.asarray(series["instrument_steps"])
    inst = {k: plotting.array(v) for k, v in series["instruments"].items()}
    labels = _lane_labels(series)
    best = _best_lane(loss)
    layers = series["layers"]
    title = (f"What does {series['optimizer']} do on {series['problem']}, step by step? "
             f"(instruments{'' if len(labels) == 1 else f'; lane {labels[best]}'})")
    fig, axes = plotting.figure(2, 3, title=title, width=15.5, height=8.2)
    palette = plotting.COLORS

    ax = axes[0, 0]
    for i, label in enumerate(labels):
        ax.plot(steps, _positive(loss[i]), color=palette[i % len(palette)], label=label)
    dead = np.asarray(series.get("diverged_at", [-1] * len(labels)))
    low, high = plotting.finite_limits(_positive(loss), log=True)
    plotting.mark_diverged(ax, steps[np.clip(dead[dead >= 0], 0, len(steps) - 1)],
                           np.full(int(np.sum(dead >= 0)), high))
    ax.set(yscale="log", xlabel="step", ylabel="loss", title="Loss (x: diverged)")
    ax.set_ylim(low, high * 3)
    ax.legend(fontsize=7, loc="best", ncol=1 + len(labels) // 5)

    ax = axes[0, 1]
    if "update_ratio" in inst:
        ratio = _positive(inst["update_ratio"][best]).T  # (layers, steps)
        low, high = plotting.finite_limits(ratio, log=True, pad=0)
        image = ax.pcolormesh(isteps, np.arange(len(layers)), np.ma.masked_invalid(ratio),
                              norm=colors.LogNorm(low, high), cmap="viridis", shading="nearest")
        fig.colorbar(image, ax=ax, label="‖update‖ / ‖param‖ (the 1e-3 rule of thumb)")
        ax.set_yticks(np.arange(len(layers)), [f"layer {n}" for n in layers])
        ax.set(xlabel="step", title="Update/parameter ratio per layer")
    else:
        _empty(ax, 'no "norms" instrument')

    ax = axes[0, 2]
    if "effective_lr" in inst:
        for j, name in enumerate(layers):
            ax.plot(isteps, _positive(inst["effective_lr"][best][:, j]),
                    color=palette[j % len(palette)], label=f"layer {name}")
        scheduled = inst["scheduled_lr"][best]
        if np.isfinite(scheduled).any():
            ax.plot(isteps, scheduled, **plotting.THEORY, label="scheduled rate")
        ax.set(yscale="log", xlabel="step", ylabel="‖update_l‖ / ‖grad_l‖",
               title="Effective learning rate")
        ax.set_ylim(*plotting.finite_limits(_positive(inst["effective_lr"][best]),
                                            _positive(scheduled), log=True))
        ax.legend(fontsize=7, loc="best")
    else:
        _empty(ax, 'no "effective_lr" instrument')

    ax = axes[1, 0]
    if "alpha" in inst:
        alpha = inst["alpha"][best]
        keep = np.isfinite(alpha)
        bins_t = np.linspace(isteps[0], isteps[-1] + 1, min(25, len(isteps)) + 1)
        bins_a = np.linspace(-2, 2, 33)
        hist, _, _ = np.histogram2d(isteps[keep], np.clip(alpha[keep], -2, 2), [bins_t, bins_a])
        image = ax.pcolormesh(bins_t, bins_a, hist.T, cmap="Greys")
        fig.colorbar(image, ax=ax, label="steps")
        for level, text in ((-1, "stayed"), (0, "at the minimum"), (1, "mirrored")):
            ax.axhline(level, **{**plotting.THEORY, "linewidth": 0.8})
            ax.text(isteps[-1], level + 0.05, text, ha="right", va="bottom", fontsize=7,
                    color="0.3")
        ax.set(xlabel="step", ylabel="α (clipped to ±2)",
               title="Step quality α over time (Cockpit)")
    else:
        _empty(ax, 'no "alpha" instrument')

    ax = axes[1, 1]
    if "gsnr" in inst:
        for j, name in enumerate(layers):
            ax.plot(isteps, _positive(inst["gsnr"][best][:, j]), color=palette[j % len(palette)],
                    label=f"GSNR layer {name}")
        ax.set(yscale="log", xlabel="step", ylabel="GSNR = ‖G_l‖² / tr Σ_l",
               title="Gradient noise (gaps: noise swamps the mean)", xlim=(isteps[0],
                                                                          isteps[-1]))
        ax.set_ylim(*plotting.finite_limits(_positive(inst["gsnr"][best]), log=True))
        twin = ax.twinx()
        twin.plot(isteps, _positive(inst["noise_scale"][best]), color="k", linestyle=":",
                  label="B_simple = tr Σ / ‖G‖²")
        twin.set(yscale="log", ylabel="B_simple (examples)")
        twin.set_ylim(*plotting.finite_limits(_positive(inst["noise_scale"][best]), log=True))
        lines = ax.get_legend_handles_labels()
        more = twin.get_legend_handles_labels()
        ax.legend(lines[0] + more[0], lines[1] + more[1], fontsize=7, loc="best")
    else:
        _empty(ax, "no per-example gradients for this problem")

    ax = axes[1, 2]
    key = series["edge_of"] if series["edge_of"] in inst else "sharpness"
    if key in inst:
        edge = np.asarray(series["edge"], dtype=float)
        for i, label in enumerate(labels):
            color = palette[i % len(palette)]
            ax.plot(isteps, _positive(inst[key][i]), color=color, label=label)
            ax.axhline(edge[i] if edge.size == len(labels) else edge[0], color=color,
                       linestyle="--", linewidth=1)
        name = "λ_max(P⁻¹H)" if key == "preconditioned_sharpness" else "λ_max(H)"
        rule = "(2 + 2β₁)/((1 − β₁)η)" if key == "preconditioned_sharpness" else "2(1 + β)/η"
        ax.plot([], [], color="0.3", linestyle="--", linewidth=1, label=f"edge {rule}")
        ax.set(yscale="log", xlabel="step", ylabel=name, title="Sharpness vs its stability edge")
        ax.set_ylim(*plotting.finite_limits(_positive(inst[key]), edge, log=True))
        ax.legend(fontsize=7, loc="best")
    else:
        _empty(ax, 'no "sharpness" instrument')
    return fig
