"""One figure style for every experiment, and the helpers figures share.

Colours are the Okabe–Ito palette (safe for the common colour-vision deficiencies).
Figures are drawn with the Agg backend and saved without a timestamp, so redrawing a
result gives byte-identical PNGs. Non-finite values never reach an axis limit:
``array`` maps JSON nulls to NaN (matplotlib leaves gaps), ``finite_limits`` ignores them.
"""

import contextlib

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from cycler import cycler  # noqa: E402

# Okabe & Ito (2008), "Color universal design".
COLORS = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]
THEORY = dict(color="0.25", linestyle="--", linewidth=1.2)
DIVERGED = dict(marker="x", color="#D55E00", linestyle="none", markersize=7)

STYLE = {
    "figure.dpi": 100,
    "savefig.dpi": 110,
    "savefig.bbox": "tight",
    "font.size": 10,
    "axes.titlesize": 10.5,
    "axes.labelsize": 10,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.prop_cycle": cycler(color=COLORS),
    "legend.frameon": False,
    "legend.fontsize": 8.5,
    "lines.linewidth": 1.6,
    "image.cmap": "viridis",
    "svg.hashsalt": "gdlab",
}


@contextlib.contextmanager
def style():
    """Context manager applying gdlab's matplotlib style."""
    with plt.rc_context(STYLE):
        yield


def figure(nrows: int = 1, ncols: int = 1, *, title: str, width: float | None = None,
           height: float | None = None, squeeze: bool = False, **kwargs):
    """A figure with gdlab's style and a suptitle stating its question; returns (fig, axes)."""
    with style():
        width = width or 4.2 * ncols + 0.6
        height = height or 3.4 * nrows + 0.6
        fig, axes = plt.subplots(nrows, ncols, figsize=(width, height), squeeze=squeeze,
                                 layout="constrained", **kwargs)
        fig.suptitle(title, fontsize=11.5, fontweight="bold")
    return fig, axes


def array(values) -> np.ndarray:
    """A float array from JSON data: None (a stored NaN or inf) becomes NaN."""

    def clean(v):
        return [clean(x) for x in v] if isinstance(v, list) else (np.nan if v is None else v)

    return np.asarray(clean(values), dtype=float)


def finite_limits(*arrays, pad: float = 0.05, log: bool = False):
    """(low, high) over the finite (and, with ``log``, positive) entries of the arrays."""
    values = np.concatenate([np.ravel(np.asarray(a, dtype=float)) for a in arrays])
    values = values[np.isfinite(values) & ((values > 0) if log else True)]
    if values.size == 0:
        return (1e-3, 1.0) if log else (0.0, 1.0)
    low, high = values.min(), values.max()
    if log:
        return low / 10 ** (pad * 4), high * 10 ** (pad * 4)
    span = (high - low) or abs(high) or 1.0
    return low - pad * span, high + pad * span


def mark_diverged(ax, x, y, label: str = "diverged") -> None:
    """Mark diverged runs with red crosses at (x, y) (y: a finite stand-in, e.g. the top)."""
    x, y = np.atleast_1d(x), np.atleast_1d(y)
    if x.size:
        ax.plot(x, y, label=label, **DIVERGED)


def contour(ax, f, domain, *, levels: int = 30, log: bool = True, resolution: int = 200):
    """Filled contours of a 2-D function ``f(np.ndarray (2,)) -> float`` over ``domain``.

    ``f`` receives the whole grid at once, an array of shape (2, r, r), so any loss
    written with broadcasting operations (jnp or np) works. With ``log``, levels are spaced
    logarithmically above the minimum (good for valleys such as Rosenbrock's).
    """
    (x0, x1), (y0, y1) = domain
    xs, ys = np.linspace(x0, x1, resolution), np.linspace(y0, y1, resolution)
    gx, gy = np.meshgrid(xs, ys)
    z = np.asarray(f(np.stack([gx, gy])), dtype=float)
    if log:
        shifted = z - np.nanmin(z) + 1e-3 * (np.nanmax(z) - np.nanmin(z) + 1e-12)
        level_values = np.geomspace(np.nanmin(shifted), np.nanmax(shifted), levels)
        ax.contour(gx, gy, shifted, levels=level_values, cmap="Greys", linewidths=0.6,
                   alpha=0.8)
    else:
        ax.contour(gx, gy, z, levels=levels, cmap="Greys", linewidths=0.6, alpha=0.8)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("auto")


def close(figures) -> None:
    """Release figures (a dict or list) once saved."""
    for fig in figures.values() if isinstance(figures, dict) else figures:
        plt.close(fig)


def diverged_strip(strip, rows, *, title: str = "diverged") -> None:
    """Mark diverged (or overflowed, never-reached) runs in their own thin axis ``strip``
    (e.g. a short row above the data axis, sharing its x): one labelled row of crosses per
    ``(label, x values, colour)``. A category, not a value: nothing reads it as a height.

    >>> fig, (strip, ax) = plt.subplots(2, 1, sharex=True, height_ratios=[1, 6])
    >>> diverged_strip(strip, [("κ = 10", [0.3, 0.5], "C0"), ("κ = 100", [0.05], "C1")])
    >>> [t.get_text() for t in strip.get_yticklabels()]
    ['κ = 10', 'κ = 100']
    >>> plt.close(fig)
    """
    for i, (_, xs, color) in enumerate(rows):
        xs = np.atleast_1d(np.asarray(xs, dtype=float))
        strip.plot(xs, np.full(xs.size, i), **{**DIVERGED, "color": color, "markersize": 5})
    if not any(np.size(xs) for _, xs, _ in rows):
        strip.text(0.5, 0.5, "none", transform=strip.transAxes, ha="center", va="center",
                   fontsize=8, color="0.4")
    strip.set_yticks(range(len(rows)), [r[0] for r in rows], fontsize=7.5)
    strip.set_ylim(len(rows) - 0.4, -0.6)
    strip.tick_params(axis="x", labelbottom=False, length=0)
    strip.grid(False)
    strip.set_title(title, fontsize=8.5, loc="left")


__all__ = [
    "COLORS",
    "DIVERGED",
    "STYLE",
    "THEORY",
    "array",
    "close",
    "contour",
    "diverged_strip",
    "figure",
    "finite_limits",
    "mark_diverged",
    "style",
]
