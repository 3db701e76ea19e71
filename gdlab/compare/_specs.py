"""What each optimizer is tuned over: the shared step grid and one more hyperparameter."""

import functools
import inspect
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gdlab import optimizers, solvers


@dataclass(frozen=True)
class Spec:
    """How the protocol tunes one optimizer.

    Attributes:
      name: the ``gdlab.optimizers`` name.
      step: its hyperparameter on the shared log grid (``learning_rate``; a GA's
        ``mutation_scale``).
      other: its other key hyperparameter and that small grid, or None.
      fixed: fixed hyperparameters, e.g. shapes such as an ES population.
      seeded: it has a noise stream of its own (a ``seed`` hyperparameter).
      default: hyperparameters used without tuning (``gdlab compare`` without --tune).
      space: the declared search space (``gdlab.compare._search.Dim``s) of the
        quasi-random protocol (``benchmark``).
      lr_free: a learning-rate-free method (its learning_rate is a multiplier, default 1).
    """

    name: str
    step: str = "learning_rate"
    other: tuple[str, tuple[float, ...]] | None = None
    fixed: Mapping[str, Any] = field(default_factory=dict)
    seeded: bool = False
    default: Mapping[str, Any] = field(default_factory=dict)
    space: tuple = ()
    lr_free: bool = False


SPECS: dict[str, Spec] = {
    s.name: s
    for s in (
        Spec("sgd", default={"learning_rate": 1e-3}),
        Spec("momentum", other=("momentum", (0.5, 0.9, 0.99)),
             default={"learning_rate": 1e-3, "momentum": 0.9}),
        Spec("nesterov", other=("momentum", (0.5, 0.9, 0.99)),
             default={"learning_rate": 1e-3, "momentum": 0.9}),
        Spec("adagrad", default={"learning_rate": 0.1}),
        Spec("rmsprop", other=("decay", (0.9, 0.99, 0.999)),
             default={"learning_rate": 1e-2, "decay": 0.9}),
        Spec("adam", other=("b1", (0.5, 0.9, 0.99)), default={"learning_rate": 1e-2, "b1": 0.9}),
        Spec("sign_descent", default={"learning_rate": 1e-2}),
        Spec("normalized_gd", default={"learning_rate": 1e-2}),
        Spec("lbfgs", default={"learning_rate": 1.0}),
        Spec("cg_pr", default={"learning_rate": 1.0}),
        Spec("cg_fr", default={"learning_rate": 1.0}),
        Spec("newton", default={"learning_rate": 1.0}),
        Spec("es", other=("sigma", (0.01, 0.1, 0.3)), fixed={"population": 20}, seeded=True,
             default={"learning_rate": 0.02, "sigma": 0.05}),
        Spec("ga", step="mutation_scale", fixed={"population": 32}, seeded=True,
             default={"mutation_scale": 0.05}),
    )
}
"""The tuning space of every optimizer the protocol knows. (AdamW is left out: the
benches move a displacement from the start, and weight decay would pull it to 0.)"""


def spec(name: str) -> Spec:
    """The tuning spec of optimizer ``name``; unknown names list the valid ones."""
    if name not in SPECS:
        raise ValueError(f"unknown optimizer {name!r}; valid: {', '.join(SPECS)}")
    return SPECS[name]


def step_grid(low: float = 1e-4, high: float = 3.0, per_decade: int = 4) -> np.ndarray:
    """The shared log grid of step sizes: ``per_decade`` points per decade from low to high.

    Example: ``step_grid(1e-2, 1, 2)`` is [0.01, 0.0316, 0.1, 0.316, 1].
    """
    if not 0 < low < high or per_decade < 1:
        raise ValueError(f"need 0 < low < high and per_decade >= 1, got {low}, {high}, "
                         f"{per_decade}")
    count = int(round(math.log10(high / low) * per_decade)) + 1
    return np.geomspace(low, high, count)


def tuning_grid(s: Spec, steps: Sequence[float]) -> dict[str, np.ndarray]:
    """The grid one optimizer is tuned on: the shared steps × its other hyperparameter."""
    grid = {s.step: np.asarray(steps, float)}
    if s.other is not None:
        grid[s.other[0]] = np.asarray(s.other[1], float)
    return grid


@functools.lru_cache(maxsize=256)
def factory(name: str, swept: tuple[str, ...], fixed: tuple) -> Callable:
    """``f(**swept) -> count_evaluations(make(name, **swept, **fixed))``, cached.

    Its signature names only the swept hyperparameters, so ``optax.inject_hyperparams``
    traces exactly those while the fixed ones (shapes such as a population) stay Python
    values; the cache hands ``train.sweep`` the same object every time, so its compiled
    function is reused.
    """

    def make(**hyperparameters):
        return solvers.count_evaluations(optimizers.make(name, **dict(fixed), **hyperparameters))

    make.__signature__ = inspect.Signature(
        [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY) for n in swept]
    )
    return make
