"""The figures of update_rules, drawn from its stored result only."""

import numpy as np

from gdlab import plotting

LABELS = {"add": "w + η·g (add)", "multiply": "w·g (multiply)",
          "exp_multiply": "w·exp(−η·g) (multiplicative, w > 0)",
          "subtract": "w − η·g (subtract)", "multiply_other_start": "w·g from another start"}
COLORS = {"add": "#D55E00", "multiply": "#CC79A7", "exp_multiply": "#E69F00",
          "subtract": "#0072B2", "multiply_other_start": "#56B4E9"}


def _below(ax, ncols: int = 1) -> None:
    """The legend under the panel: it never covers data."""
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), fontsize=7.5, ncols=ncols)


def rules(result) -> object:
    cfg = result["config"]
    s1, s2 = result["series"]["rules_1d"], result["series"]["rules_2d"]
    fig, axes = plotting.figure(2, 3, title="Add, multiply or subtract the gradient? "
                                "w − η·g and, for positive weights, w·exp(−η·g) go down "
                                "and stay at the minimum", width=14.5, height=9.6)
    ax = axes[0, 0]
    for name, r in s1["runs"].items():
        w = plotting.array(r["w"])
        ax.plot(np.arange(len(w)), w, "o-", markersize=2.5, label=LABELS[name],
                color=COLORS[name])
    ax.axhline(cfg["optimum"], label=f"minimum w* = {cfg['optimum']:g}", **plotting.THEORY)
    ax.set_yscale("symlog", linthresh=1)
    ax.set_ylim(-1.5, 1e4)
    ax.set(xlabel="step", ylabel="w (symlog)", title=f"f(w) = (w − w*)² from w₀ = "
           f"{cfg['start']:g}, η = {cfg['learning_rate']:g}")
    _below(ax, 2)

    ax = axes[0, 1]
    for r in s1["multiply_starts"]:
        w = plotting.array(r["w"])
        end = "explodes" if r["status"] == "diverged" else f"ends at {w[-1]:.3f}"
        ax.plot(np.arange(len(w)), w, "o-", markersize=2.5, linewidth=1,
                label=f"w₀ = {r['start']:g}: {end}")
    ax.axhline(cfg["optimum"], label="minimum w*", **plotting.THEORY)
    ax.axhspan(-0.5, cfg["optimum"] + 0.5, color="0.9", zorder=0,
               label="(−½, w* + ½): pulled to 0")
    ax.set_yscale("symlog", linthresh=1)
    ax.set_ylim(-1.5, 1e4)  # exploding runs leave through the top
    ax.set(xlabel="step", ylabel="w (symlog)",
           title="w ← w·g from several starts: 0 or ∞, never w*")
    _below(ax, 2)

    ax = axes[0, 2]
    for r in s1["exp_starts"]:
        w = plotting.array(r["w"])
        ax.plot(np.arange(len(w)), w, linewidth=1.3, label=f"w₀ = {r['start']:g}")
    ax.axhline(cfg["optimum"], label="minimum w*", **plotting.THEORY)
    ax.set_yscale("log")
    ax.set(xlabel="step", ylabel="w (log)", title="w ← w·exp(−η·g), η = "
           f"{cfg['learning_rate']:g}: positive weights\nstay positive and settle at w*")
    _below(ax, 3)

    ax = axes[1, 0]
    A = plotting.array(s2["A"])
    opt = plotting.array(s2["optimum"])

    def f(z):
        d = z - opt.reshape(2, *([1] * (z.ndim - 1)))
        return 0.5 * (A[0, 0] * d[0] ** 2 + 2 * A[0, 1] * d[0] * d[1] + A[1, 1] * d[1] ** 2)

    domain = ((-1.5, 3.0), (-2.0, 2.5))
    plotting.contour(ax, f, domain)
    lo, hi = np.array([d[0] for d in domain]), np.array([d[1] for d in domain])
    for name, r in s2["runs"].items():
        w = plotting.array(r["w"])
        w = w[np.all(np.isfinite(w), axis=1)]
        out = np.nonzero(~np.all((w >= lo) & (w <= hi), axis=1))[0]
        shown = w if out.size == 0 else w[: out[0] + 1]
        ax.plot(shown[:, 0], shown[:, 1], "o-", markersize=2.5, linewidth=1,
                color=COLORS[name], label=LABELS[name] + ("" if out.size == 0 else " (leaves)"))
    ax.plot(*opt, "k*", markersize=10, label="minimum")
    ax.plot(0, 0, "kx", markersize=7, label="origin")
    ax.set(xlabel="w₁", ylabel="w₂", title=f"a rotated 2-D quadratic, η = "
           f"{cfg['learning_rate_2d']:g}")
    _below(ax, 2)

    ax = axes[1, 1]
    for name, r in s2["runs"].items():
        gap = plotting.array(r["loss"]) - s2["fmin"]
        ax.semilogy(np.arange(len(gap)), gap, "o-", markersize=2, linewidth=1,
                    color=COLORS[name], label=LABELS[name])
    ax.set_ylim(1e-12, 1e8)  # exploding runs leave through the top
    ax.set_xlim(0, 2 * cfg["rule_steps"])
    ax.set(xlabel="step", ylabel="f(w) − f(w*) (log)",
           title="2-D: the loss gap per rule")
    _below(ax, 2)

    ax = axes[1, 2]
    theory = s1["exp_factor_theory"]
    for r, factor in zip([r for r in s1["exp_starts"] if r["start"] != cfg["optimum"]],
                         s1["exp_factor"], strict=True):
        factor = plotting.array(factor)
        ax.plot(np.arange(1, len(factor) + 1), factor, linewidth=1.2,
                label=f"w₀ = {r['start']:g}")
    ax.axhline(theory, label=f"theory near w*: 1 − 2η·w* = {theory:.3f}", **plotting.THEORY)
    ax.axhline(1 - 2 * cfg["learning_rate"], color="#0072B2", linewidth=0.9, linestyle=":",
               label=f"w − η·g for comparison: 1 − 2η = {1 - 2 * cfg['learning_rate']:.2f}")
    ax.set_ylim(0.5, 1.05)
    ax.set(xlabel="step", ylabel="|w_(t+1) − w*| / |w_t − w*|",
           title="w·exp(−η·g): measured factor per step")
    _below(ax, 2)
    return fig


def fixed_steps(result) -> object:
    cfg = result["config"]
    s = result["series"]["fixed"]
    opt = cfg["optimum"]
    fig, axes = plotting.figure(1, 3, title="Fixed-size steps overshoot forever; a step "
                                "proportional to the gradient slows down as it arrives",
                                width=13.5, height=4.4)
    sign, gd = plotting.array(s["sign"]["w"]), plotting.array(s["gd"]["w"])
    t = np.arange(len(sign))
    ax = axes[0, 0]
    ax.plot(t, sign, "o-", markersize=2, linewidth=1,
            label=f"w − {cfg['sign_step']:g}·sign(g)")
    ax.plot(t, gd, "o-", markersize=2, linewidth=1, label=f"w − {cfg['gd_rate']:g}·g")
    ax.axhline(opt, label=f"optimum {opt:g}", **plotting.THEORY)
    ax.set(xlabel="step", ylabel="w", title=f"from {cfg['start']:g} to {opt:g}")
    ax.legend()
    inset = ax.inset_axes([0.45, 0.4, 0.5, 0.3])
    inset.plot(t[30:], sign[30:], "o-", markersize=2, linewidth=0.8)
    inset.plot(t[30:], gd[30:], "o-", markersize=2, linewidth=0.8)
    inset.axhline(opt, **plotting.THEORY)
    inset.set_title("zoom: the 2-cycle", fontsize=8)
    inset.tick_params(labelsize=7)

    ax = axes[0, 1]
    near, far, _ = s["sign_theory"]
    ax.semilogy(t, np.abs(sign - opt), label="sign steps")
    ax.semilogy(t, np.abs(gd - opt), label="proportional steps")
    ax.semilogy(t, abs(cfg["start"] - opt) * (1 - 2 * cfg["gd_rate"]) ** t,
                label="theory (1 − 2η)^t · |w₀ − w*|", **plotting.THEORY)
    ax.axhline(near, color="#D55E00", linewidth=0.8, linestyle=":",
               label=f"closed-form floor {near:.3g} / {far:.3g}")
    ax.axhline(far, color="#D55E00", linewidth=0.8, linestyle=":")
    grad = plotting.array(s["sign"]["grad_norm"])
    ax.semilogy(t[: len(grad)], grad, color="#009E73", linewidth=1, linestyle="-.",
                label="|g| along the sign steps: it shrinks")
    ax.axhline(cfg["sign_step"], color="#009E73", linewidth=0.8,
               label=f"the sign step's length s = {cfg['sign_step']:g}: it does not")
    ax.set(xlabel="step", ylabel="|w − w*|, |g| (log)",
           title="overshoot from a fixed step, not an exploding\ngradient: "
           "a floor vs a geometric decay")
    ax.legend(loc="lower left", fontsize=7.5)

    ax = axes[0, 2]
    steps = plotting.array(s["step_sizes"])
    near, far = plotting.array(s["theory_near"]), plotting.array(s["theory_far"])
    ax.loglog(steps, plotting.array(s["tail_max_error"]), "o", markersize=4,
              label="farthest in the last 100 steps")
    ax.loglog(steps, plotting.array(s["tail_mean_error"]), "D", markersize=3.5,
              label="average over the last 100 steps")
    ax.loglog(steps, plotting.array(s["tail_min_error"]), "s", markersize=3.5,
              label="nearest in the last 100 steps")
    ax.loglog(steps, far, "-", color="0.3", linewidth=0.7)
    ax.loglog(steps, near, "-", color="0.3", linewidth=0.7,
              label="closed form max/min(r, s − r)")
    ax.loglog(steps, steps / 2, label="s / 2 (the cycle's average)", **plotting.THEORY)
    ax.set(xlabel="step size s (log)", ylabel="remaining error |w − w*| (log)",
           title="the error floor is set by s, not by the loss")
    ax.legend(loc="lower right", fontsize=7.5)
    return fig
