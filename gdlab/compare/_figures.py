"""Figures shared by ``gdlab compare`` and the optimizer experiments (from stored results)."""

import functools
from collections.abc import Sequence

import jax
import numpy as np

from gdlab import plotting

LINESTYLES = ("-", "--", "-.", ":")


def style_of(index: int) -> dict:
    """Colour and line style of the index-th optimizer (8 colours, then new dashes)."""
    colors = plotting.COLORS
    return {"color": colors[index % len(colors)],
            "linestyle": LINESTYLES[(index // len(colors)) % len(LINESTYLES)]}


def draw_curves(ax, entries: Sequence[dict], *, x: str = "steps", floor: float = 1e-16,
                order: Sequence[str] | None = None) -> None:
    """Median f − f* with its IQR band per optimizer (log y), against steps, evaluations
    or (``x="seconds"``) wall-clock, where a run's time is spread over its steps in
    proportion to its evaluations. ``order``: optimizer names fixing the colours."""
    for i, e in enumerate(entries):
        c = e["curves"]
        med, lo, hi = (np.maximum(plotting.array(c[k]), floor)
                       for k in ("gap_median", "gap_q25", "gap_q75"))
        evals = plotting.array(c["evaluations"])
        if x == "steps":
            xs = plotting.array(c["steps"]) if "steps" in c else np.arange(med.size)
        elif x == "evaluations":
            xs = evals
        else:
            total = e["row"]["seconds_per_run"]
            if total is None:
                continue
            xs = total * evals / max(evals[-1], 1)
        name = e["row"]["optimizer"]
        st = style_of(order.index(name) if order and name in order else i)
        ax.plot(xs, med, label=name, **st)
        ax.fill_between(xs, lo, hi, color=st["color"], alpha=0.12, linewidth=0)
        finite = np.flatnonzero(np.isfinite(med))
        if finite.size and finite[-1] < med.size - 1:  # the median run diverged here
            ax.plot(xs[finite[-1]], med[finite[-1]], **{**plotting.DIVERGED,
                                                        "color": st["color"]})
    ax.set_yscale("log")
    if x == "evaluations":
        ax.set_xscale("log")


@functools.cache
def _grid_loss(problem: str):
    """The problem's loss compiled for the contour grid: one program per problem instead of
    one per primitive (eager jax compiles each operation it meets for the first time)."""
    from gdlab import problems

    return jax.jit(problems.get(problem).loss)


def draw_path(ax, problem: str, points, *, A=None, levels: int = 25,
              color: str = "#D55E00") -> None:
    """Contours of a 2-D problem and one path: start ●, end ×, minima ★.

    ``A``: the matrix of a quadratic bench (contours of ½xᵀAx around 0).
    """
    from gdlab import problems

    p = problems.get(problem)
    pts = plotting.array(points)
    pts = pts[np.all(np.isfinite(pts), axis=-1)]
    if A is not None:
        A = plotting.array(A)
        half = max(1.3 * float(np.max(np.abs(pts))), 0.5)
        domain = ((-half, half), (-half, half))
        f = lambda z: 0.5 * np.einsum("i...,ij,j...->...", z, A, z)
        minima = [np.zeros(2)]
    else:
        domain, minima = p.domain, p.minima
        f = lambda z: np.asarray(_grid_loss(problem)(z))
    plotting.contour(ax, f, domain, levels=levels)
    ax.plot(pts[:, 0], pts[:, 1], ".-", color=color, markersize=2, linewidth=0.9)
    ax.plot(*pts[0], "o", color="k", markersize=5)
    ax.plot(*pts[-1], "x", color="k", markersize=8, markeredgewidth=2)
    for m in minima:
        ax.plot(*np.asarray(m), "*", color="#009E73", markersize=10)
    ax.set_xlim(*domain[0])
    ax.set_ylim(*domain[1])


def figures_for(series: dict) -> dict:
    """The figures of a ``gdlab compare`` result: loss curves, and paths in 2-D."""
    entries = series["entries"]
    figs = {}
    fig, axes = plotting.figure(1, 2, title=f"Which optimizer gets lowest fastest on "
                                f"{series['bench']}? (median and IQR over seeds)")
    draw_curves(axes[0, 0], entries, x="steps")
    axes[0, 0].set(xlabel="step", ylabel="f − f* (log)")
    draw_curves(axes[0, 1], entries, x="evaluations")
    axes[0, 1].set(xlabel="evaluations of f or (f, ∇f) (log)", ylabel="f − f* (log)")
    axes[0, 1].legend(loc="upper left", bbox_to_anchor=(1.02, 1))
    figs["loss"] = fig
    if series.get("problem"):
        n = len(entries)
        cols = min(n, 4)
        rows = -(-n // cols)
        fig, axes = plotting.figure(rows, cols, title=f"Paths on {series['bench']} from the "
                                    "same start (● start, × end, ★ minima)",
                                    width=3.2 * cols + 0.4, height=3.0 * rows + 0.8)
        for i, ax in enumerate(axes.ravel()):
            if i >= n:
                ax.axis("off")
                continue
            draw_path(ax, series["problem"], entries[i]["points"][0], A=series.get("A"),
                      color=style_of(i)["color"])
            r = entries[i]["row"]
            ax.set_title(f"{r['optimizer']}: {r['reached']}/{r['seeds']} reached"
                         + (f", {r['diverged']} diverged" if r["diverged"] else ""), fontsize=9)
        figs["paths"] = fig
    return figs
