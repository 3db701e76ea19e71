"""Tuned alike, no optimizer wins everywhere: the ranking depends on the problem and the cost.

Every optimizer gets the same budget: a shared log grid of step sizes (1e-4…3, four per
decade) times its other key hyperparameter on a small grid, tuned from the standard start
in one compiled sweep; the winner is rerun from 5 random starts and reported as median
[IQR]; diverged runs are failures, never averaged (``gdlab.compare``). Costs are counted
as steps, as evaluations of f or (f, ∇f) (line-search trials and ES/GA populations
count), and as seconds. On the quadratics the measured rates are set against theory:
gradient descent at α = 2/(λmin + λmax) contracts by (κ − 1)/(κ + 1) per step, heavy
ball at α = 4/(√λmax + √λmin)², β = ((√κ − 1)/(√κ + 1))² by (√κ − 1)/(√κ + 1).

Run:    gdlab run optimizer_comparison      (or: python experiments/optimizer_comparison.py --help)
Writes: results/optimizer_comparison/result.json, loss_vs_steps.png, loss_vs_evaluations.png,
        evaluations_to_target.png, wall_clock.png, quadratic_rates.png, paths_<function>.png
Expect: ~8-10 min on a 2-core CPU, most of it XLA compilation (one per optimizer for all
        2-D problems, two for ES/GA, one per optimizer and MNIST-1D bench); measured GD /
        heavy-ball rates within 0.2% of theory for κ = 10, 100, 1000; L-BFGS and CG solve
        Rosenbrock in 16-22 steps (43-114 evaluations) where tuned SGD and Adam do not reach
        1e-6 in 500 (Adam 2 of 5 starts); Newton takes 1 step on quadratics but stalls on
        Beale and Himmelblau; ES and GA pay 20 and 32 evaluations per step; nobody solves
        Rastrigin (GA gets closest).
"""

import math
from dataclasses import dataclass, replace

import matplotlib
import numpy as np
from matplotlib.lines import Line2D

import gdlab
from gdlab import compare, plotting


@dataclass(frozen=True)
class Config:
    optimizers: tuple[str, ...] = (
        "sgd", "momentum", "rmsprop", "adam", "lbfgs", "cg_pr", "cg_fr", "newton", "es", "ga",
    )  # compared on every 2-D problem (~15 s of compilation each; nesterov, adagrad, ... fit too)
    kappas: tuple[float, ...] = (10.0, 100.0, 1000.0)  # condition numbers of the quadratics
    quadratic_angle: float = math.pi / 6  # their eigenvectors are rotated by this angle
    quadratic_x0: tuple[float, float] = (1.0, 1.0)  # their standard start (minimum at 0)
    functions: tuple[str, ...] = ("rosenbrock", "beale", "himmelblau", "rastrigin")
    num_steps: int = 500  # updates per run on the 2-D problems
    seeds: int = 5  # reruns of the tuned setting (random starts 1..seeds)
    radius: float = 0.1  # random starts: x0 + radius·N(0, I)
    target: float = 1e-6  # f − f* that counts as solved (2-D problems)
    step_low: float = 1e-4  # the shared log grid of step sizes ...
    step_high: float = 10.0
    per_decade: int = 4  # ... with this many points per decade (21 points)
    mnist: bool = True  # also compare on the MNIST-1D MLP (full batch and minibatch)
    mnist_optimizers: tuple[str, ...] = ("sgd", "adam", "lbfgs")  # ~20 s of compilation each
    mnist_steps: int = 100  # updates per MNIST-1D run
    mnist_hidden: int = 32  # MLP 40-hidden-10, tanh, float32
    mnist_train_size: int = 1000  # training examples (the first 1000 of MNIST-1D's 4000)
    mnist_batch_size: int = 128  # minibatch bench (drawn with replacement)
    mnist_target: float = 1.0  # training cross entropy that counts as solved (start: 2.3)
    mnist_step_low: float = 1e-3  # MNIST-1D step grid (two points per decade) ...
    mnist_step_high: float = 10.0
    mnist_per_decade: int = 2
    mnist_tune_other: bool = False  # MNIST-1D: tune the second hyperparameter too (3x cost)
    curve_points: int = 100  # stored points per loss curve (tables use every step)


QUICK = {"optimizers": ("sgd", "adam", "cg_pr"), "kappas": (10.0,), "functions": ("rosenbrock",),
         "num_steps": 60, "seeds": 2, "per_decade": 1, "mnist": False}


def _check(config: Config) -> None:
    unknown = [n for n in (*config.optimizers, *config.mnist_optimizers) if n not in compare.SPECS]
    if unknown:
        raise ValueError(f"unknown optimizer(s) {unknown}; valid: {', '.join(compare.SPECS)}")
    for required in ("sgd", "adam"):  # the reference points of every table
        if required not in config.optimizers:
            raise ValueError(f"optimizers must include {required!r} (got {config.optimizers})")
    bad = [f for f in config.functions if f not in compare.SMALL]
    if bad:
        raise ValueError(f"unknown function(s) {bad}; valid: {', '.join(compare.SMALL)}")
    if min(config.num_steps, config.seeds, config.mnist_steps) < 1 or min(config.kappas) < 1:
        raise ValueError("num_steps, seeds, mnist_steps must be >= 1 and kappas >= 1")


def _round(values, digits: int = 5):
    """Arrays to nested lists of floats with ``digits`` significant digits (smaller JSON)."""
    a = np.asarray(values, np.float64)
    flat = [float(f"{v:.{digits}g}") if np.isfinite(v) else float(v) for v in a.ravel()]
    return np.asarray(flat).reshape(a.shape)


def _slim(entry: dict, keep_path: bool) -> dict:
    """What the figures and tables need: rounded curves, one path (2-D functions)."""
    out = {"row": entry["row"], "curves": {k: _round(v) for k, v in entry["curves"].items()}}
    if keep_path and "points" in entry:
        out["path"] = _round(entry["points"][0], 6)
    if "tuning" in entry:
        out["tuning"] = {"grid": entry["tuning"]["grid"],
                         "scores": _round(entry["tuning"]["scores"], 4)}
    return out


def small_benches(config: Config) -> list:
    """Rotated 2-D quadratics (κ = 10, 100, 1000) and the 2-D test functions, one family."""
    starts = config.seeds + 1
    benches = [
        compare.small_bench("quadratic", name=f"quadratic κ={k:g}",
                            A=compare.rotated_quadratic(k, angle=config.quadratic_angle),
                            x0=config.quadratic_x0, radius=config.radius, starts=starts,
                            target=config.target, shared=True)
        for k in config.kappas
    ]
    benches += [compare.small_bench(f, radius=config.radius, starts=starts, target=config.target,
                                    shared=True) for f in config.functions]
    return benches


def fitted_rate(gap: np.ndarray, *, drop: float = 1e-3, floor: float = 1e-24) -> float:
    """The per-step contraction r of ‖x − x*‖ from a loss gap ~ C·k^p·r^(2k).

    Least squares of log gap on (1, k, log k) from the step where the gap first falls
    below ``drop``·gap₀ (the transient is over; at the latest 40% into the run) while it
    stays above ``floor``·gap₀ (float64 rounding of x₀ + d ends near 1e-32);
    r = exp(slope / 2). The log k term absorbs the polynomial factor of a repeated
    eigenvalue, which heavy ball has at its optimal (α, β).
    """
    k = np.arange(gap.size, dtype=float)
    below = np.flatnonzero(gap < drop * gap[0])
    first = min(below[0] if below.size else gap.size, int(0.4 * (gap.size - 1)))
    ok = np.isfinite(gap) & (gap > floor * gap[0]) & (k >= max(first, 1))
    if ok.sum() < 4:
        return float("nan")
    basis = np.stack([np.ones(ok.sum()), k[ok], np.log(k[ok])], axis=1)
    coef = np.linalg.lstsq(basis, np.log(gap[ok]), rcond=None)[0]
    return float(np.exp(coef[1] / 2))


def quadratic_theory(config: Config, benches) -> dict:
    """GD at 2/(λmin + λmax) and heavy ball at its optimal (α, β), measured vs theory."""
    seeds = list(range(1, config.seeds + 1))
    out = []
    for k, bench in zip(config.kappas, benches, strict=False):
        lam = np.linalg.eigvalsh(bench.data["A"])
        lo, hi = lam[0], lam[-1]
        kappa = hi / lo
        gd = {"learning_rate": 2 / (lo + hi)}
        hb = {"learning_rate": 4 / (math.sqrt(hi) + math.sqrt(lo)) ** 2,
              "momentum": ((math.sqrt(kappa) - 1) / (math.sqrt(kappa) + 1)) ** 2}
        root = math.sqrt(kappa)
        entry = {"kappa": k, "eigenvalues": lam}
        for label, name, hp, theory in (("gd", "sgd", gd, (kappa - 1) / (kappa + 1)),
                                        ("heavy_ball", "momentum", hb, (root - 1) / (root + 1))):
            runs = compare.rerun(bench, compare.spec(name), hp, config.num_steps, seeds)
            rates = [fitted_rate(g) for g in runs.gap]
            entry[label] = {"hyperparameters": hp, "theory": theory,
                            "measured": float(np.nanmedian(rates)), "measured_runs": rates,
                            "gap_median": _round(np.nanmedian(runs.gap, axis=0)),
                            "gap0": float(np.median(runs.gap[:, 0]))}
        out.append(entry)
    return out


def mnist_part(config: Config) -> list:
    full, mini = compare.mnist1d_benches(
        hidden=config.mnist_hidden, train_size=config.mnist_train_size,
        batch_size=config.mnist_batch_size, starts=config.seeds + 1, target=config.mnist_target)
    specs = [compare.spec(n) for n in config.mnist_optimizers]
    if not config.mnist_tune_other:
        specs = [replace(s, other=None) for s in specs]
    steps = compare.step_grid(config.mnist_step_low, config.mnist_step_high,
                              config.mnist_per_decade)
    stride = max(1, config.mnist_steps // config.curve_points)
    out = []
    for bench in (full, mini):
        entries = compare.compare(bench, specs, num_steps=config.mnist_steps,
                                  seeds=range(1, config.seeds + 1), steps=steps, joint=True,
                                  timed=True, stride=stride)
        out.append({"name": bench.name, "target": bench.target,
                    "entries": [_slim(e, False) for e in entries]})
    return out


def run(config: Config) -> dict:
    _check(config)
    benches = small_benches(config)
    steps = compare.step_grid(config.step_low, config.step_high, config.per_decade)
    stride = max(1, config.num_steps // config.curve_points)
    small = []
    for bench in benches:
        entries = compare.compare(bench, config.optimizers, num_steps=config.num_steps,
                                  seeds=range(1, config.seeds + 1), steps=steps, joint=True,
                                  stride=stride)
        small.append({"name": bench.name, "problem": bench.problem, "A": bench.data["A"],
                      "target": bench.target,
                      "entries": [_slim(e, bench.problem != "quadratic") for e in entries]})
    theory = quadratic_theory(config, benches[:len(config.kappas)])
    mnist = mnist_part(config) if config.mnist else []
    groups = small + mnist
    rows = [e["row"] for g in groups for e in g["entries"]]

    def winner(group, key):
        best = min(group["entries"], key=lambda e: (e["row"][f"{key}_median"],
                                                     e["row"]["final_gap_median"]))
        value = best["row"][f"{key}_median"]
        return f"{best['row']['optimizer']} ({compare.number(value)})"

    rate_errors = [abs(t[k]["measured"] - t[k]["theory"]) / t[k]["theory"]
                   for t in theory for k in ("gd", "heavy_ball")]
    metrics = {
        "winner_by_steps_to_target": {g["name"]: winner(g, "steps_to_target") for g in groups},
        "winner_by_evals_to_target": {g["name"]: winner(g, "evals_to_target") for g in groups},
        "rates": {f"{k}_kappa_{t['kappa']:g}": {"measured": round(t[k]["measured"], 6),
                                                "theory": round(t[k]["theory"], 6)}
                  for t in theory for k in ("gd", "heavy_ball")},
        "rate_max_relative_error": float(np.nanmax(rate_errors)),
        "runs": len(rows) * config.seeds,
        "runs_diverged": int(sum(r["diverged"] for r in rows)),
        "runs_not_reaching_target": int(sum(r["seeds"] - r["reached"] for r in rows)),
        "evals_per_step": {n: compare.number(np.median(
            [r["evals_per_step"] for r in rows if r["optimizer"] == n]))
            for n in dict.fromkeys(r["optimizer"] for r in rows)},
    }
    if mnist:
        metrics["mnist_seconds_per_run"] = {
            f"{g['name']}/{e['row']['optimizer']}": e["row"]["seconds_per_run"]
            for g in mnist for e in g["entries"]}
    return {"metrics": metrics,
            "series": {"small": small, "theory": theory, "mnist": mnist, "rows": rows,
                       "order": list(dict.fromkeys((*config.optimizers,
                                                    *config.mnist_optimizers)))}}


def tables(result: dict) -> dict[str, str]:
    """The full table as Markdown and CSV (median [q25, q75] over seeds)."""
    rows = result["series"]["rows"]
    return {"table.md": compare.markdown_table(rows), "table.csv": compare.csv_table(rows)}


# --------------------------------------------------------------------------- figures


def _panels(groups, n_cols=3):
    n = len(groups)
    return -(-n // n_cols), min(n, n_cols)


def _curves_figure(groups, order, x, title, xlabel):
    rows, cols = _panels(groups)
    fig, axes = plotting.figure(rows, cols, title=title, width=4.0 * cols + 1.6,
                                height=3.0 * rows + 0.8)
    for ax, g in zip(axes.ravel(), groups, strict=False):
        compare.draw_curves(ax, g["entries"], x=x, order=order)
        ax.axhline(g["target"], color="0.4", linewidth=0.8, linestyle=":")
        ax.set_title(g["name"])
        ax.set(xlabel=xlabel, ylabel="f − f* (log, floored at 1e-16)" if "mnist" not in g["name"]
               else "training loss (log)")
    for ax in axes.ravel()[len(groups):]:
        ax.axis("off")
    handles = [Line2D([], [], label=n, **compare.style_of(i))
               for i, n in enumerate(order)]
    handles.append(Line2D([], [], color="0.4", linewidth=0.8, linestyle=":",
                                       label="target"))
    fig.legend(handles=handles, loc="outside right center")
    return fig


def _heatmap(groups, order):
    names = [g["name"] for g in groups]
    value = np.full((len(order), len(names)), np.nan)
    text = np.full(value.shape, "", dtype=object)
    for j, g in enumerate(groups):
        for e in g["entries"]:
            r = e["row"]
            i = order.index(r["optimizer"])
            med = r["evals_to_target_median"]
            ok = med is not None and math.isfinite(med)
            value[i, j] = math.log10(max(med, 1)) if ok else np.nan
            text[i, j] = (compare.number(med) if ok else "never") + (
                f"\n{r['reached']}/{r['seeds']}" if r["reached"] < r["seeds"] else "")
    fig, axes = plotting.figure(1, 1, title="How many evaluations of f or (f, ∇f) to reach the "
                                "target? (median over reruns; k/n: only k of n reached it)",
                                width=1.25 * len(names) + 3.2, height=0.42 * len(order) + 1.8)
    ax = axes[0, 0]
    cmap = matplotlib.colormaps["viridis_r"].with_extremes(bad="0.85")
    im = ax.imshow(np.ma.masked_invalid(value), cmap=cmap, aspect="auto")
    for (i, j), t in np.ndenumerate(text):
        if t:
            ax.text(j, i, t, ha="center", va="center", fontsize=7.5,
                    color="k" if np.isnan(value[i, j]) or value[i, j] < np.nanmax(value) * 0.6
                    else "w")
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
    ax.set_yticks(range(len(order)), order)
    ax.grid(False)
    fig.colorbar(im, ax=ax, label="log10 evaluations to target")
    return fig


def _rates_figure(theory):
    fig, axes = plotting.figure(1, 2, title="Do tuned-by-theory GD and heavy ball contract at "
                                "(κ−1)/(κ+1) and (√κ−1)/(√κ+1)?", width=11.0, height=4.3)
    ax = axes[0, 0]
    for i, t in enumerate(theory):
        for label, marker in (("gd", "-"), ("heavy_ball", "--")):
            entry = t[label]
            gap = plotting.array(entry["gap_median"])
            k = np.arange(gap.size)
            color = plotting.COLORS[i]
            ax.semilogy(k, gap, marker, color=color,
                        label=f"{'GD' if label == 'gd' else 'heavy ball'}, κ={t['kappa']:g}")
            ax.semilogy(k, entry["gap0"] * entry["theory"] ** (2 * k), color="0.3",
                        linewidth=0.7, linestyle=":")
    ax.plot([], [], color="0.3", linewidth=0.7, linestyle=":", label="theory C·r^(2k)")
    low = min(np.nanmin(np.where(plotting.array(t[k]["gap_median"]) > 0,
                                 plotting.array(t[k]["gap_median"]), np.nan))
              for t in theory for k in ("gd", "heavy_ball"))
    ax.set_ylim(max(low, 1e-300) / 10, 10)
    ax.set(xlabel="step k", ylabel="f − f* (median over reruns)",
           title="measured (lines) and theory (dotted)")
    ax.legend(fontsize=7.5, ncols=2)
    ax = axes[0, 1]
    for label, marker, name in (("gd", "o", "GD, α = 2/(λmin+λmax)"),
                                ("heavy_ball", "s", "heavy ball, optimal α, β")):
        th = np.array([1 - t[label]["theory"] for t in theory])
        me = np.array([1 - t[label]["measured"] for t in theory])
        ax.loglog(th, me, marker, markersize=8, label=name, markerfacecolor="none")
        for t, x, y in zip(theory, th, me, strict=True):
            ax.annotate(f"κ={t['kappa']:g}", (x, y), textcoords="offset points", xytext=(6, -10),
                        fontsize=8)
    lims = np.array(ax.get_xlim())
    ax.plot(lims, lims, **plotting.THEORY, label="measured = theory")
    ax.set(xlabel="1 − r (theory)", ylabel="1 − r (measured)",
           title="per-step rate r: measured vs closed form")
    ax.legend()
    return fig


def _wall_clock(mnist, order):
    fig, axes = plotting.figure(1, len(mnist), title="MNIST-1D MLP: training loss against "
                                "wall-clock seconds (compilation excluded)",
                                width=4.6 * len(mnist) + 1.4)
    for ax, g in zip(axes.ravel(), mnist, strict=True):
        compare.draw_curves(ax, g["entries"], x="seconds", order=order, floor=1e-6)
        ax.axhline(g["target"], color="0.4", linewidth=0.8, linestyle=":")
        ax.set(title=g["name"], xlabel="seconds per run (vmapped over 5 reruns)",
               ylabel="training loss (log)")
        ax.legend(fontsize=8)
    return fig


def _paths(group, order):
    entries = [e for e in group["entries"] if "path" in e]
    n = len(entries)
    cols = min(4, n)
    rows = -(-n // cols)
    fig, axes = plotting.figure(rows, cols, title=f"{group['name']}: the tuned setting of each "
                                "optimizer from the same random start (● start, × end, ★ minima)",
                                width=3.3 * cols + 0.4, height=3.0 * rows + 0.8)
    for ax, e in zip(axes.ravel(), entries, strict=False):
        r = e["row"]
        compare.draw_path(ax, group["problem"], e["path"],
                          color=compare.style_of(order.index(r["optimizer"]))["color"])
        gap = compare.number(r["final_gap_median"])
        status = (f"{r['diverged']}/{r['seeds']} runs diverged" if r["diverged"]
                  else f"median f − f* = {gap}")
        ax.set_title(f"{r['optimizer']}: {status}", fontsize=9)
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    return fig


def plot(result: dict) -> dict:
    s = result["series"]
    groups = s["small"] + s["mnist"]
    present = {e["row"]["optimizer"] for g in groups for e in g["entries"]}
    order = [n for n in s["order"] if n in present]
    figures = {
        "loss_vs_steps": _curves_figure(groups, order, "steps", "Which optimizer gets lowest in "
                                        "the fewest steps? (tuned; median and IQR over reruns)",
                                        "step"),
        "loss_vs_evaluations": _curves_figure(groups, order, "evaluations",
                                              "... and per evaluation of f or (f, ∇f)? "
                                              "(line searches and populations count)",
                                              "evaluations (log)"),
        "evaluations_to_target": _heatmap(groups, order),
    }
    if s["theory"]:
        figures["quadratic_rates"] = _rates_figure(s["theory"])
    if s["mnist"]:
        figures["wall_clock"] = _wall_clock(s["mnist"], order)
    for g in s["small"]:
        if g["problem"] != "quadratic":
            figures[f"paths_{g['problem']}"] = _paths(g, order)
    return figures


if __name__ == "__main__":
    gdlab.experiment.script_main(__file__)
