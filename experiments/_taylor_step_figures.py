"""The figures of taylor_step, drawn from its stored result only (a private module of
experiments/taylor_step.py)."""

import numpy as np

from gdlab import plotting

_PROBLEMS = ("quadratic", "rosenbrock", "mlp")  # as in taylor_step.py

def _titles(config):
    lam = ", ".join(f"{v:g}" for v in config["quadratic_eigenvalues"])
    x0 = ", ".join(f"{v:g}" for v in config["rosenbrock_x0"])
    return {"quadratic": f"quadratic (H constant, λ = {lam})",
            "rosenbrock": f"Rosenbrock at ({x0})", "mlp": "MNIST-1D MLP at init"}


def _guide(ax, x, y_at, power, anchor, label):
    """A reference line ∝ ε^power through (x[anchor], 30·y_at): parallel, just above."""
    ax.loglog(x, 30 * y_at * (x / x[anchor]) ** power, color="0.45", linestyle=":",
              linewidth=1.2, label=label)


def _positive(values):
    """For log axes: exact zeros (a step lost to round-off) become gaps, not −∞."""
    v = plotting.array(values)
    return np.where(v > 0, v, np.nan)


def _plot_scaling(s, titles):
    fig, axes = plotting.figure(1, 3, title="How wrong are the first- and second-order "
                                "predictions of a step? Error against ε on log-log axes",
                                height=4.4)
    for ax, name in zip(axes[0], _PROBLEMS, strict=True):
        e = s["scaling"][name]
        rel = plotting.array(e["rel_eps"])
        for dtype, style in (("float64", "-"), ("float32", "--")):
            d = e[dtype]
            lw = 1.6 if dtype == "float64" else 1.1
            ax.loglog(rel, _positive(d["actual"]), style, color="0.3", linewidth=lw,
                      label=f"|actual change| ({dtype})")
            ax.loglog(rel, _positive(d["first_error"]), style, color=plotting.COLORS[0],
                      linewidth=lw, label=f"first-order error ({dtype})")
            ax.loglog(rel, _positive(d["second_error"]), style, color=plotting.COLORS[3],
                      linewidth=lw, label=f"second-order error ({dtype})")
            ax.axhline(d["floor"], color="0.6", linewidth=0.8, linestyle=(0, (1, 3)))
        d = e["float64"]
        anchor = int(np.argmin(np.abs(rel - 1e-3)))
        _guide(ax, rel, plotting.array(d["first_error"])[anchor], 2, anchor,
               "guides ∝ ε² and ∝ ε³")
        if d["second_slope"] is not None:
            anchor = int(np.argmin(np.abs(rel - 1e-2)))
            _guide(ax, rel, plotting.array(d["second_error"])[anchor], 3, anchor, None)
        slope = lambda v: "–" if v is None else f"{v:.2f}"
        second = (f"second {slope(d['second_slope'])}" if d["second_slope"] is not None
                  else f"second: round-off ({d['second_error_ulps']:.1f} ulp)")
        ax.set(xlabel="ε / ε*", ylabel="|f(x − εg) − f(x) − model|",
               title=f"{titles[name]}\nslopes (float64): first {slope(d['first_slope'])}, "
                     f"{second}")
        lo, hi = plotting.finite_limits(*(_positive(e[t][k]) for t in ("float64", "float32")
                                          for k in ("actual", "first_error")), log=True)
        ax.set_ylim(max(lo, 1e-19), hi)
        ax.text(0.03, 0.97, "grey dots: machine ε·|f(x)|\n(float32 upper, float64 lower)",
                transform=ax.transAxes, ha="left", va="top", fontsize=7.5, color="0.4")
    handles, labels = axes[0, 1].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=4)
    return fig


def _plot_step_size(s, titles):
    fig, axes = plotting.figure(1, 3, title="Which step size? The quadratic model's ε* = "
                                "gᵀg/gᵀHg against a line search, 1/λ_max and 2/λ_max",
                                height=4.4)
    for ax, name in zip(axes[0], _PROBLEMS, strict=True):
        e = s["step_sizes"][name]
        ls = e["line_search"]
        star = e["eps_star"]
        eps = plotting.array(ls["eps_grid"])
        # up to 10 ε* (or the first minimum): Rosenbrock's loss shoots up beyond, across
        # the valley, and dips again far out; the walk from ε = 0 stops at the first dip
        shown = eps <= 10 * max(star, ls["best"])
        x = eps[shown] / star
        ax.semilogx(x, plotting.array(ls["change"])[shown], color="0.15", linewidth=1.8,
                    label="actual f(x − εg) − f(x)")
        ax.semilogx(x, plotting.array(e["model_first"])[shown], color=plotting.COLORS[0],
                    linewidth=1.1, label="first order −εgᵀg")
        ax.semilogx(x, plotting.array(e["model_second"])[shown], "--", color=plotting.COLORS[3],
                    linewidth=1.3, label="second order −εgᵀg + ½ε²gᵀHg")
        ax.plot([1], [-0.5 * e["gTg"] ** 2 / e["gTHg"]], "o", color=plotting.COLORS[3],
                markersize=8, markerfacecolor="none", markeredgewidth=1.6,
                label="ε*: the second-order model's minimum")
        ax.plot([ls["best"] / star], [ls["best_change"]], "x", color="0.1", markersize=9,
                markeredgewidth=2, label="line search: first minimum")
        low = min(ls["best_change"], float(np.nanmin(plotting.array(e["model_second"]))))
        ax.set_ylim(1.6 * low, -0.9 * low)
        for value, label, color in ((e["one_over_lambda_max"], "1/λ_max", plotting.COLORS[2]),
                                    (e["two_over_lambda_max"], "2/λ_max", plotting.COLORS[4])):
            ax.axvline(value / star, color=color, linewidth=1.1, linestyle=":", label=label)
        beyond = ls["global_best"] / star
        note = (f"\nfurther out (off the plot) a deeper dip at {beyond:.3g} ε*"
                if beyond > 10 * max(1, ls["best"] / star) else "")
        ax.set(xlabel="step size ε / ε*", ylabel="change of the loss",
               title=f"{titles[name]}\nline search / ε* = {e['best_over_eps_star']:.3g}, "
                     f"ε*·λ_max = {e['eps_star'] * e['lambda_max']:.3g}{note}")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=4)
    return fig


def _plot_training(s):
    runs = s["training"]["runs"]
    seeds = runs[0]["seeds"]
    fig, axes = plotting.figure(2, 3, title="Along a real run (MNIST-1D MLP, full-batch GD, "
                                "float32): how much of what the gradient promises does a step "
                                f"deliver? (lines: seed {seeds[0]}; claims over seeds "
                                f"{seeds[0]}…{seeds[-1]})", height=8.0, width=15.5)
    for i, r in enumerate(runs):
        color = plotting.COLORS[i % len(plotting.COLORS)]
        lab = f"η = {r['learning_rate']:g}"
        steps = plotting.array(r["steps"])
        loss = plotting.array(r["loss"])
        gTg, gTHg = plotting.array(r["gTg"])[0], plotting.array(r["gTHg"])[0]
        for other in loss[1:]:  # the other seeds, thin
            axes[0, 0].semilogy(steps, other, color=color, linewidth=0.6, alpha=0.45)
        axes[0, 0].semilogy(steps, loss[0], color=color, label=lab)
        crashed = [(d, seed) for d, seed in zip(r["diverged_at"], seeds, strict=True)
                   if d is not None]
        if crashed:
            plotting.mark_diverged(axes[0, 0], [d for d, _ in crashed],
                                   np.full(len(crashed), np.nanmax(loss)))
        axes[0, 1].semilogy(steps, gTg, color=color, label=f"gᵀg, {lab}")
        axes[0, 1].semilogy(steps, gTHg, color=color, linestyle="--", label=f"gᵀHg, {lab}")
        axes[0, 2].semilogy(steps, plotting.array(r["ratio"])[0], color=color, label=lab)
        ax = axes[1, 0]
        chk = plotting.array(r["check_steps"])
        ax.semilogy(steps, np.where(gTHg > 0, gTg / gTHg, np.nan), color=color,
                    linewidth=1.1, label=f"ε* = gᵀg/gᵀHg, {lab}")
        ax.semilogy(chk, plotting.array(r["best_eps_first_seed"]), "o", color=color,
                    markersize=7, markerfacecolor="none", label=f"line search, {lab}")
        ax.semilogy(chk, 2 / plotting.array(r["lambda_max"])[0], "v", color=color,
                    markersize=5, label=f"2/λ_max, {lab}")
        ax.axhline(r["learning_rate"], color=color, linewidth=0.9, linestyle=":")
        # per step: what the step delivered over what each model promised
        k = steps[:-1]  # the steps training took (the last recorded point takes none)
        actual, first, second = (plotting.array(r[n])[0][:-1] for n in (
            "step_actual", "step_first", "step_second"))
        axes[1, 1].plot(k, actual / first, "o", color=color, markersize=3.5, label=lab)
        axes[1, 1].plot(k, 1 - plotting.array(r["ratio"])[0][:-1], "-", color=color,
                        linewidth=0.9, alpha=0.8)
        for model, marker, name in ((first, "o", "first"), (second, "s", "second")):
            axes[1, 2].semilogy(k, np.abs(model / actual - 1), marker, color=color,
                                markersize=3.2 if marker == "o" else 3.8,
                                markerfacecolor=color if marker == "o" else "none",
                                label=f"{name} order, {lab}")
    axes[0, 0].set(xlabel="step", ylabel="training loss (cross-entropy)",
                   title="the loss falls, faster with the larger η\n(thin: the other seeds)")
    axes[0, 1].set(xlabel="step", ylabel="gᵀg (solid), gᵀHg (dashed)",
                   title="gradient size and curvature along g")
    axes[0, 2].axhline(1, **plotting.THEORY, label="1: the second-order gain is zero")
    axes[0, 2].set(xlabel="step", ylabel="½η²gᵀHg / ηgᵀg  =  η / (2ε*)",
                   title="how much of the first-order gain the curvature\ntakes back "
                         "(≪ 1: g lies in flat directions)")
    axes[1, 0].set(xlabel="step", ylabel="step size",
                   title="ε* against the line search and 2/λ_max\n(dotted: the η in use)")
    axes[1, 1].axhline(1, **plotting.THEORY, label="1: first order is right")
    axes[1, 1].axhline(0, color="0.6", linewidth=0.8)
    axes[1, 1].plot([], [], "-", color="0.4", linewidth=0.9,
                    label="second-order model of it: 1 − η/(2ε*)")
    axes[1, 1].set_ylim(-1.0, 1.15)  # the legend sits below −0.5, clear of the dots
    axes[1, 1].set(xlabel="step (every tracked step)",
                   ylabel="actual change / (−ηgᵀg)",
                   title="what a step delivers of the first-order promise\n"
                         "(dots: measured; lines: the second-order model)")
    axes[1, 2].set(xlabel="step (every tracked step)",
                   ylabel="|predicted / actual − 1|",
                   title="relative error per step of each model\n(~1: wrong by ~100 %)")
    axes[1, 2].axhline(1, **plotting.THEORY)
    axes[1, 2].set_ylim(None, 1e3 * np.nanmax([axes[1, 2].get_ylim()[1], 1.0]))  # legend room
    for ax in axes.ravel():
        ax.legend(fontsize=7, loc={id(axes[1, 1]): "lower right", id(axes[1, 2]): "upper center"}
                  .get(id(ax), "best"), ncols=2 if ax is axes[1, 2] else 1)
    return fig


def plot(result: dict) -> dict:
    s = result["series"]
    titles = _titles(result["config"])
    return {"error_scaling": _plot_scaling(s, titles), "step_size": _plot_step_size(s, titles),
            "training": _plot_training(s)}
