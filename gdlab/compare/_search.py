"""Search spaces, quasi-random trials and optimizers by name or reference.

Every optimizer declares a search space: a log-uniform step size and its other key
hyperparameters (a momentum-like β is drawn with 1 − β log-uniform, as in AlgoPerf's
external-tuning spaces). ``trials`` draws the same number of points for every optimizer
from a scrambled Halton sequence (``scipy.stats.qmc``; seeded, so a rerun draws the same
trials), and appends the literature defaults as one more row: the "defaults" track,
never used for choosing. ``trial_factory`` makes a factory ``f(*, trial[, seed])`` that
looks its hyperparameters up in that table, so *all* trials of one optimizer run in one
compiled ``train.sweep`` over a 1-D "trial" axis.

Names: the built-in ones (``SPECS``, plus "gd" = full-batch sgd and evosax's "cma_es",
"open_es", "simple_ga"), ``optax.NAME`` and ``optax.contrib.NAME`` (its
``learning_rate`` is the tuned step; learning-rate-free methods such as Prodigy or DoG
tune it as a multiplier around 1), and references ``module.path:NAME`` /
``path/to/file.py:NAME`` to a GradientTransformation (defaults only) or a factory of one
(tuned over its ``learning_rate`` if it takes one).

>>> s = resolve("adam")
>>> [d.name for d in s.space]
['learning_rate', 'b1', 'b2']
>>> table = trials(s, 4)
>>> table.shape          # 4 trials + the defaults row
(5, 3)
"""

import dataclasses
import functools
import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np
import optax

from gdlab import optimizers, solvers
from gdlab.compare._specs import SPECS, Spec


@dataclass(frozen=True)
class Dim:
    """One searched hyperparameter: ``scale`` "log" (log-uniform in [low, high]) or
    "log1m" (1 − value log-uniform: β in [low, high] with most draws near 1)."""

    name: str
    low: float
    high: float
    scale: str = "log"

    def value(self, u):
        """The value at unit coordinate u ∈ [0, 1]."""
        if self.scale == "log":
            return math.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low)))
        a, b = math.log(1 - self.low), math.log(1 - self.high)
        return 1 - math.exp(a + u * (b - a))

    def unit(self, v) -> float:
        """The unit coordinate of value v (inverse of ``value``)."""
        if self.scale == "log":
            return (math.log(v) - math.log(self.low)) / (math.log(self.high) - math.log(self.low))
        a, b = math.log(1 - self.low), math.log(1 - self.high)
        return (math.log(1 - v) - a) / (b - a)


LR = Dim("learning_rate", 1e-4, 10.0)
LR_FREE = Dim("learning_rate", 0.1, 10.0)
BETA = Dim("momentum", 0.5, 0.999, "log1m")

SPACES: dict[str, tuple[Dim, ...]] = {
    "sgd": (LR,), "gd": (LR,), "adagrad": (LR,), "sign_descent": (LR,),
    "normalized_gd": (LR,), "lbfgs": (LR,), "cg_pr": (LR,), "cg_fr": (LR,), "newton": (LR,),
    "momentum": (LR, BETA), "nesterov": (LR, BETA),
    "rmsprop": (LR, Dim("decay", 0.5, 0.999, "log1m")),
    "adam": (LR, Dim("b1", 0.5, 0.99, "log1m"), Dim("b2", 0.9, 0.9999, "log1m")),
    "es": (LR, Dim("sigma", 1e-3, 1.0)),
    "ga": (Dim("mutation_scale", 1e-3, 3.0),),
    "cma_es": (Dim("sigma", 1e-3, 3.0),),
    "simple_ga": (Dim("sigma", 1e-3, 3.0),),
    "open_es": (Dim("learning_rate", 1e-4, 1.0), Dim("sigma", 1e-3, 1.0)),
}
"""The declared search space of every built-in optimizer."""

DEFAULTS: dict[str, dict[str, float]] = {
    "sgd": {"learning_rate": 1e-2}, "gd": {"learning_rate": 1e-2},
    "momentum": {"learning_rate": 1e-2, "momentum": 0.9},
    "nesterov": {"learning_rate": 1e-2, "momentum": 0.9},
    "adagrad": {"learning_rate": 1e-2}, "rmsprop": {"learning_rate": 1e-3, "decay": 0.9},
    "adam": {"learning_rate": 1e-3, "b1": 0.9, "b2": 0.999},
    "cma_es": {"sigma": 1.0}, "simple_ga": {"sigma": 0.1},
    "open_es": {"learning_rate": 0.05, "sigma": 0.1},
}
"""Literature defaults (Adam: Kingma & Ba; CMA-ES: evosax's σ₀ = 1), used untuned."""

EVOSAX_NAMES = ("cma_es", "open_es", "simple_ga", "es", "ga")
"""Derivative-free methods (populations of f evaluations, no gradient)."""
EVOSAX = {"cma_es": solvers.cma_es, "open_es": solvers.open_es, "simple_ga": solvers.simple_ga}
_BUILDERS: dict[str, Callable] = {}


def _optax_object(name: str):
    """``optax.NAME`` or ``optax.contrib.NAME`` (None if ``name`` is neither)."""
    for prefix, module in (("optax.contrib.", optax.contrib), ("optax.", optax)):
        if name.startswith(prefix):
            obj = getattr(module, name[len(prefix):], None)
            if obj is None or not callable(obj):
                valid = [n for n in dir(module) if not n.startswith("_")][:40]
                raise ValueError(f"unknown optimizer {name!r}: {module.__name__} has no "
                                 f"{name[len(prefix):]!r}; e.g. {', '.join(valid)}")
            return obj
    return None


def _reference(name: str):
    from gdlab.problems._references import _import_file, _import_module

    where, _, attr = name.rpartition(":")
    if not where or not attr.isidentifier():
        raise ValueError(f"bad optimizer reference {name!r}: expected 'module.path:NAME' or "
                         "'path/to/file.py:NAME'")
    is_file = where.endswith(".py") or "/" in where
    module = _import_file(where) if is_file else _import_module(where)
    if not hasattr(module, attr):
        raise ValueError(f"optimizer reference {name!r}: {where} has no {attr!r}")
    return getattr(module, attr)


def _schedule_free(make: Callable) -> Callable:
    """Wrap an ``optax.contrib.schedule_free_*`` factory so that the params the loop
    records are the averaged point x (``schedule_free_eval_params``) while the method
    takes its gradients at its own point y (kept in the state)."""

    def factory(**hyperparameters):
        inner = make(**hyperparameters)

        def init(params):
            return (inner.init(params), params)

        def update(updates, state, params=None, *, value_fn=None, **extra):
            del updates, extra
            import jax

            inner_state, y = state
            g = jax.grad(value_fn)(y)
            u, inner_state = inner.update(g, inner_state, y)
            y = optax.apply_updates(y, u)
            x = optax.contrib.schedule_free_eval_params(inner_state, y)
            return jax.tree.map(lambda a, b: a - b, x, params), (inner_state, y)

        return optax.GradientTransformationExtraArgs(init, update)

    factory.__signature__ = inspect.signature(make)
    return factory


LR_FREE_NAMES = ("prodigy", "dadapt_adamw", "dog", "dowg", "mechanize", "momo", "momo_adam")
"""optax.contrib's learning-rate-free methods: learning_rate is a multiplier (default 1)."""


def _mechanize(learning_rate=1.0):
    """Mechanic (optax.contrib.mechanize) around SGD at base rate ``learning_rate``."""
    return optax.contrib.mechanize(optax.sgd(learning_rate))


def _from_factory(name: str, make: Callable, *, label: str | None = None) -> Spec:
    """A Spec for a factory of transformations, tuned over its learning_rate if it has one."""
    try:
        params = inspect.signature(make).parameters
    except (TypeError, ValueError):
        params = {}
    lr = params.get("learning_rate")
    if lr is None:
        space, default = (), {}
    else:
        known = lr.default if isinstance(lr.default, int | float) else None
        lr_free = name.rpartition(".")[2] in LR_FREE_NAMES
        space = (LR_FREE if lr_free else LR,)
        default = {"learning_rate": 1.0 if lr_free else (known or 1e-3)}
    if "schedule_free" in name:
        make = _schedule_free(make)
    spec = Spec(label or name, default=default)
    spec = dataclasses.replace(spec, space=space,
                               lr_free=name.rpartition(".")[2] in LR_FREE_NAMES)
    _BUILDERS[spec.name] = make
    return spec


def resolve(name: str) -> Spec:
    """The Spec (search space, defaults, builder) of an optimizer name or reference."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"optimizer must be a non-empty name, got {name!r}")
    if name in SPACES:
        base = SPECS.get("sgd" if name == "gd" else name)
        if name in EVOSAX:
            base = Spec(name, step="sigma", seeded=True)
            _BUILDERS[name] = EVOSAX[name]
        else:
            _BUILDERS[name] = functools.partial(optimizers.make, base.name)
        default = DEFAULTS.get(name, dict(base.default))
        return dataclasses.replace(base, name=name, space=SPACES[name], default=default,
                                   other=None)
    obj = _mechanize if name == "optax.contrib.mechanize" else _optax_object(name)
    if obj is None and ":" in name:
        obj = _reference(name)
        if isinstance(obj, optax.GradientTransformation):
            tx = obj
            obj = lambda: tx  # noqa: E731  (a fixed transformation: defaults only)
    if obj is None:
        valid = sorted(SPACES)
        raise ValueError(f"unknown optimizer {name!r}; valid: {', '.join(valid)}, "
                         "optax.NAME, optax.contrib.NAME, module.path:NAME or file.py:NAME")
    return _from_factory(name, obj)


def builder(s: Spec) -> Callable:
    """``f(**hyperparameters) -> GradientTransformation`` for a resolved Spec."""
    if s.name not in _BUILDERS:
        resolve(s.name)
    return _BUILDERS[s.name]


def trials(s: Spec, count: int, *, seed: int = 0) -> np.ndarray:
    """(count + 1, dims): ``count`` scrambled-Halton points of ``s.space``, then the defaults."""
    from scipy.stats import qmc

    if count < 1:
        raise ValueError(f"need at least 1 trial, got {count}")
    dims = s.space
    if not dims:
        return np.zeros((count + 1, 0))
    units = qmc.Halton(len(dims), scramble=True, seed=seed).random(count)
    rows = [[d.value(u) for d, u in zip(dims, row, strict=True)] for row in units]
    rows.append([s.default.get(d.name, d.value(0.5)) for d in dims])
    return np.asarray(rows, np.float64)


def on_edge(s: Spec, point: dict, margin: float = 0.05) -> list[str]:
    """Names of the dimensions where ``point`` lies in the outer ``margin`` of the range
    (in the space's own log coordinates): a tuned optimum there may lie outside."""
    out = []
    for d in s.space:
        u = d.unit(point[d.name])
        if u < margin:
            out.append(f"{d.name} at the low edge ({d.low:g})")
        elif u > 1 - margin:
            out.append(f"{d.name} at the high edge ({d.high:g})")
    return out


@functools.lru_cache(maxsize=256)
def trial_factory(name: str, names: tuple[str, ...], table: tuple, fixed: tuple,
                  seeded: bool) -> Callable:
    """``f(*, trial[, seed])``: the optimizer at row ``trial`` of ``table``, counted.

    The table is a small constant of the compiled sweep; the trial index is traced, so
    one compilation serves every trial (and the same table, e.g. a rerun, reuses it).
    """
    build = _BUILDERS[name]
    values = np.asarray(table, np.float64).reshape(len(table), len(names))

    def make(**swept):
        index = jnp.round(jnp.asarray(swept["trial"])).astype(jnp.int32)
        row = jnp.asarray(values)[index]
        hp = {n: row[i] for i, n in enumerate(names)}
        if seeded:  # one noise stream per trial (a seed axis would multiply the runs)
            hp["seed"] = index
        return solvers.count_evaluations(build(**dict(fixed), **hp))

    keys = ["trial"]
    make.__signature__ = inspect.Signature(
        [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY) for n in keys])
    return make
