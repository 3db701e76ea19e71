"""The best setting of a swept grid, and whether it sits on the grid's edge.

A "best learning rate" read off a grid means something only when the grid brackets it:
if the argmin is the smallest or largest value swept, the true optimum may lie beyond,
and all the grid says is "at most / at least this value".

>>> import numpy as np
>>> lrs = np.array([0.01, 0.1, 1.0])
>>> b = best([3.0, 1.0, 2.0], {"learning_rate": lrs})
>>> b.setting, b.inside
({'learning_rate': 0.1}, True)
>>> b = best([3.0, 2.0, 1.0], {"learning_rate": lrs})
>>> b.edges, b.describe()
({'learning_rate': 'upper'}, "learning_rate ≥ 1 (the grid's upper edge)")
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

__all__ = ["Best", "best"]


@dataclass(frozen=True)
class Best:
    """The argmin of a metric over a grid.

    ``index``: position in the grid; ``setting``: {name: value} there; ``value``: the
    metric there (+inf if every point failed); ``edges``: {name: "lower" | "upper"} for
    each axis on which the argmin is the first or last grid value (an axis of length 1
    is never an edge: nothing was swept).
    """

    index: tuple[int, ...]
    setting: dict[str, float]
    value: float
    edges: dict[str, str]

    @property
    def inside(self) -> bool:
        """True when the argmin lies strictly inside the grid on every swept axis."""
        return not self.edges

    @property
    def found(self) -> bool:
        """False when no grid point has a finite metric (everything diverged or never)."""
        return bool(np.isfinite(self.value))

    def describe(self, names: Mapping[str, str] | None = None) -> str:
        """``"η = 0.1"``, or ``"η ≥ 3 (the grid's upper edge)"`` when on an edge."""
        names = names or {}
        parts = []
        for name, value in self.setting.items():
            label = names.get(name, name)
            edge = self.edges.get(name)
            if edge is None:
                parts.append(f"{label} = {value:.3g}")
            else:
                sign = "≤" if edge == "lower" else "≥"
                parts.append(f"{label} {sign} {value:.3g} (the grid's {edge} edge)")
        return ", ".join(parts)

    def as_dict(self) -> dict:
        """JSON-ready: setting, value, edges, inside."""
        value = self.value if np.isfinite(self.value) else None
        return {"setting": self.setting, "value": value, "edges": self.edges,
                "inside": self.inside}


def best(values, grid: Mapping[str, np.ndarray], *, reduce: Callable | None = None,
         minimize: bool = True) -> Best:
    """The best point of ``values`` over ``grid`` (axes in the grid's order).

    ``values`` has shape (*[len(v) for v in grid.values()], [extra axes]); extra trailing
    axes (seeds, starts) are reduced with ``reduce`` (default: the median). Non-finite
    values (diverged, never reached: pass steps-to-target with "never" as inf) rank last.
    With ``minimize=False`` the largest value wins.
    """
    grid = {name: np.asarray(v, dtype=float).ravel() for name, v in grid.items()}
    shape = tuple(v.size for v in grid.values())
    values = np.asarray(values, dtype=float)
    if values.shape[: len(shape)] != shape:
        raise ValueError(f"values of shape {values.shape} do not start with the grid's {shape}")
    sign = 1.0 if minimize else -1.0
    values = np.where(np.isfinite(values), sign * values, np.inf)
    if values.ndim > len(shape):
        extra = tuple(range(len(shape), values.ndim))
        values = (reduce or np.median)(values, axis=extra)
    flat = int(np.argmin(values))  # first of ties; all-inf gives index 0
    index = tuple(int(i) for i in np.unravel_index(flat, shape))
    setting = {name: float(v[i]) for (name, v), i in zip(grid.items(), index, strict=True)}
    edges = {}
    for (name, v), i in zip(grid.items(), index, strict=True):
        if v.size > 1 and i == 0:
            edges[name] = "lower" if v[0] <= v[-1] else "upper"
        elif v.size > 1 and i == v.size - 1:
            edges[name] = "upper" if v[-1] >= v[0] else "lower"
    value = float(sign * values[index]) if np.isfinite(values[index]) else float("inf")
    return Best(index, setting, value, edges)
