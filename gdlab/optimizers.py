"""Optimizers by name: every one is an ``optax.GradientTransformation``.

A step of any optimizer here is ``w ← w + u`` with ``u = update(g, state, w)``; the
minus sign of descent lives in exactly one transform, ``optax.scale_by_learning_rate``,
as in optax itself. The named optimizers are optax's own aliases, with hyperparameter
names exactly as optax spells them::

    sgd         u = −η g
    momentum    v ← β v + g,  u = −η v                       (heavy ball, Polyak 1964)
    nesterov    v ← β v + g,  u = −η (β v + g)               (Sutskever et al. 2013 form)
    adagrad     s ← s + g²,   u = −η g / (√s + ε)
    rmsprop     s ← ρ s + (1 − ρ) g²,  u = −η g / √(s + ε)
    adam        m, v moving averages of g, g²; u = −η m̂ / (√v̂ + ε)
    adamw       adam plus decoupled weight decay −η λ w
    sign_descent        u = −η sign(g)                       (fixed-size steps)
    normalized_gd       u = −η g / ‖g‖                        (direction only)
    lbfgs       quasi-Newton with optax's zoom line search (needs value, grad, value_fn)
    hot_and_cold        u_i = ∓s by probing f(w ± s e_i)       (no gradient at all)
    add_gradient        u = +η g                              (wrong: climbs the loss)
    multiply_gradient   w ← w ⊙ g, i.e. u = w ⊙ g − w          (wrong: moves off the minimum)
    exponentiated_gradient  w ← w ⊙ exp(−η g)                 (right, for positive weights)

and the solvers of ``gdlab.solvers``, registered under the same roof::

    cg_pr, cg_fr        nonlinear conjugate gradient (Polak–Ribière+, Fletcher–Reeves)
                        on optax's zoom line search (needs value, grad, value_fn)
    newton      u = −η H⁻¹ g with H = jax.hessian (small problems; needs value_fn)
    es          antithetic Gaussian evolution strategy (no gradient; f evaluations)
    ga          a genetic algorithm: truncation selection + Gaussian mutation

The defaults are optax's, which are not always the textbook's (optax's Adagrad starts
its accumulator at 0.1, for instance): pass textbook values explicitly when
reproducing a book. Wherever gdlab takes an optimizer, any optax transformation works.
Concrete hyperparameters are checked before anything runs (``RANGES``): finite, the
learning rate >= 0 (0 is allowed: a run that stands still is a useful control),
momentum, b1, b2 and decay in [0, 1), eps and weight decay >= 0.

Example::

    opt = gdlab.optimizers.make("momentum", learning_rate=0.6, momentum=0.5)
"""

import inspect
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.flatten_util import ravel_pytree

from gdlab import solvers as _solvers


def scale_by_sign() -> optax.GradientTransformation:
    """Replace each gradient coordinate by its sign: g ↦ sign(g)."""
    return optax.stateless_with_tree_map(lambda g, _: jnp.sign(g))


def scale_by_inverse_norm(eps: float = 1e-12) -> optax.GradientTransformation:
    """Rescale the whole gradient to unit global norm: g ↦ g / (‖g‖ + eps)."""

    def update(updates, params=None):
        del params
        norm = optax.tree.norm(updates)
        return jax.tree.map(lambda g: g / (norm + eps), updates)

    return optax.stateless(update)


def sign_descent(learning_rate) -> optax.GradientTransformation:
    """Sign descent, u = −η·sign(g): every coordinate moves exactly η per step."""
    return optax.chain(scale_by_sign(), optax.scale_by_learning_rate(learning_rate))


def normalized_gd(learning_rate, eps: float = 1e-12) -> optax.GradientTransformation:
    """Normalised gradient descent, u = −η·g/‖g‖: the step length is always η."""
    return optax.chain(scale_by_inverse_norm(eps), optax.scale_by_learning_rate(learning_rate))


def momentum(learning_rate, momentum: float = 0.9) -> optax.GradientTransformation:
    """Heavy-ball momentum: v ← β·v + g, u = −η·v (``optax.sgd`` with ``momentum``)."""
    return optax.sgd(learning_rate, momentum=momentum)


def nesterov(learning_rate, momentum: float = 0.9) -> optax.GradientTransformation:
    """Nesterov momentum: v ← β·v + g, u = −η·(β·v + g)."""
    return optax.sgd(learning_rate, momentum=momentum, nesterov=True)


def sgd(learning_rate) -> optax.GradientTransformation:
    """Plain gradient descent, u = −η·g."""
    return optax.sgd(learning_rate)


def hot_and_cold(step_size) -> optax.GradientTransformationExtraArgs:
    """"Hot and cold" learning: probe f(w ± s·e_i) and move each coordinate by ±s.

    No gradient at all (Grokking Deep Learning, ch. 3): per coordinate, the update is
    −s if f(w − s·e_i) < f(w + s·e_i), +s if it is greater, 0 on a tie. It needs the
    loss itself (``value_fn``), costs 2n evaluations per step, and with a fixed s it can
    never settle closer than s to the optimum.
    """

    def init(params):
        del params
        return optax.EmptyState()

    def update(updates, state, params=None, *, value_fn=None, **extra):
        del updates, extra
        if value_fn is None or params is None:
            raise ValueError("hot_and_cold needs params and value_fn (gdlab.train.run passes both)")
        flat, unravel = ravel_pytree(params)
        probes = jnp.eye(flat.size, dtype=flat.dtype) * step_size
        up = jax.vmap(lambda e: value_fn(unravel(flat + e)))(probes)
        down = jax.vmap(lambda e: value_fn(unravel(flat - e)))(probes)
        step = jnp.where(down < up, -step_size, jnp.where(down > up, step_size, 0.0))
        return unravel(step.astype(flat.dtype)), state

    return optax.GradientTransformationExtraArgs(init, update)


def add_gradient(learning_rate=1.0) -> optax.GradientTransformation:
    """The beginner's "add the gradient": u = +η·g, so w ← w + η·g (gradient *ascent*).

    ``optax.scale_by_learning_rate`` with the minus sign left out. The gradient points
    uphill, so every step raises the loss: on f(w) = (w − w*)², w − w* grows by the
    factor 1 + 2η per step. Only the sign separates it from ``sgd``.

    Example: ``make("add_gradient")`` on f(w) = w² from w = 1 gives 3, 9, 27, ...
    """
    return optax.scale_by_learning_rate(learning_rate, flip_sign=False)


def replace_by_product() -> optax.GradientTransformation:
    """Turn a step w ← w ⊙ g into an update: g ↦ w ⊙ g − w (needs ``params``)."""

    def update(updates, params=None):
        if params is None:
            raise ValueError("replace_by_product needs params (gdlab.train.run passes them)")
        return jax.tree.map(lambda g, w: w * g - w, updates, params)

    return optax.stateless(update)


def multiply_gradient() -> optax.GradientTransformation:
    """The beginner's "multiply by the gradient": w ← w ⊙ g (element-wise), u = w ⊙ g − w.

    No learning rate and no descent: the new weight is the product, so at the minimum
    (g = 0) the weight jumps to 0, and elsewhere the step depends on the sign and the
    size of w. On f(w) = (w − w*)² the map is w ← 2w(w − w*), whose fixed points are 0
    and w* + ½, never the minimum w* (unless w* = 0).

    Example: ``make("multiply_gradient")`` on f(w) = (w − 0.4)² from w = 1 gives
    w = 1·2·0.6 = 1.2, then 1.92, ...
    """
    return replace_by_product()


def exponentiated_gradient(learning_rate) -> optax.GradientTransformation:
    """Multiply, done right: w ← w ⊙ exp(−η·g), u = w ⊙ (exp(−η·g) − 1).

    The multiplicative (exponentiated-gradient) update of Kivinen & Warmuth (1997):
    gradient descent on log w with the gradient in w, log w ← log w − η·g (mirror descent
    with the entropy). A positive weight stays positive, and at the minimum (g = 0) it
    stays put; near w* > 0 on f(w) = (w − w*)² the error shrinks by 1 − 2η·w* per step.
    The minus sign lives in ``optax.scale_by_learning_rate`` as everywhere else.

    Example: ``make("exponentiated_gradient", learning_rate=0.1)`` on f(w) = (w − 0.4)²
    from w = 1 gives w = exp(−0.12) = 0.887, ...
    """

    def update(updates, params=None):
        if params is None:
            raise ValueError("exponentiated_gradient needs params (gdlab.train.run passes "
                             "them)")
        return jax.tree.map(lambda u, w: w * jnp.expm1(u), updates, params)

    return optax.chain(optax.scale_by_learning_rate(learning_rate), optax.stateless(update))


_FACTORIES: dict[str, Callable[..., optax.GradientTransformation]] = {
    "sgd": sgd,
    "momentum": momentum,
    "nesterov": nesterov,
    "adagrad": optax.adagrad,
    "rmsprop": optax.rmsprop,
    "adam": optax.adam,
    "adamw": optax.adamw,
    "sign_descent": sign_descent,
    "normalized_gd": normalized_gd,
    "lbfgs": _solvers.lbfgs,
    "hot_and_cold": hot_and_cold,
    "add_gradient": add_gradient,
    "multiply_gradient": multiply_gradient,
    "exponentiated_gradient": exponentiated_gradient,
    "cg_pr": _solvers.cg_pr,
    "cg_fr": _solvers.cg_fr,
    "es": _solvers.evolution_strategy,
    "ga": _solvers.genetic_algorithm,
    "newton": _solvers.newton,
}


def names() -> list[str]:
    """The optimizer names ``make`` knows, sorted."""
    return sorted(_FACTORIES)


def factory(name: str) -> Callable[..., optax.GradientTransformation]:
    """The function behind ``name``: hyperparameters in, transformation out."""
    if name not in _FACTORIES:
        raise ValueError(f"unknown optimizer {name!r}; valid names: {', '.join(names())}")
    return _FACTORIES[name]


def hyperparameter_names(name: str) -> list[str]:
    """The keyword arguments optimizer ``name`` accepts (optax's names)."""
    return list(inspect.signature(factory(name)).parameters)


# Valid ranges of numeric hyperparameters (optax's names): (low, high, low closed, high closed).
# Every concrete number must also be finite: NaN passes no comparison, so it would
# otherwise slip through a check written as ``x < 0``.
RANGES = {
    "learning_rate": (0.0, np.inf, True, False),   # 0 allowed: a run that stands still
    "momentum": (0.0, 1.0, True, False),           # β = 1 never forgets, > 1 explodes
    "b1": (0.0, 1.0, True, False),
    "b2": (0.0, 1.0, True, False),
    "decay": (0.0, 1.0, True, False),
    "eps": (0.0, np.inf, True, False),
    "eps_root": (0.0, np.inf, True, False),
    "initial_accumulator_value": (0.0, np.inf, True, False),
    "initial_scale": (0.0, np.inf, True, False),
    "weight_decay": (0.0, np.inf, True, False),
    "damping": (0.0, np.inf, True, False),
    "sigma": (0.0, np.inf, False, False),
    "mutation_scale": (0.0, np.inf, False, False),
    "step_size": (0.0, np.inf, False, False),
}


def _interval(low, high, closed_low, closed_high) -> str:
    if high == np.inf:
        return f"{'>=' if closed_low else '>'} {low:g}"
    return f"in {'[' if closed_low else '('}{low:g}, {high:g}{']' if closed_high else ')'}"


def _concrete(value) -> np.ndarray | None:
    """``value`` as a real NumPy array, or None if it is not a concrete number (a schedule,
    a tracer, a dtype, a mask, a bool flag)."""
    if value is None or callable(value) or isinstance(value, bool | jax.core.Tracer):
        return None
    try:
        array = np.asarray(value)
    except Exception:
        return None
    return array if array.dtype.kind in "iuf" else None


def check_value(name: str, value) -> None:
    """Raise ``ValueError`` if a concrete ``value`` of hyperparameter ``name`` is NaN,
    infinite or outside ``RANGES[name]``; schedules and traced values pass unchecked.

    Example::

        check_value("momentum", 0.9)      # fine
        check_value("b1", 2.0)            # ValueError: b1 must be in [0, 1), got 2.0
    """
    array = _concrete(value)
    if array is None or array.size == 0:
        return
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if name not in RANGES:
        return
    low, high, closed_low, closed_high = RANGES[name]
    ok = (array >= low if closed_low else array > low) & (
        array <= high if closed_high else array < high)
    if not np.all(ok):
        bad = array[~ok].ravel()[0] if array.ndim else array.item()
        raise ValueError(f"{name} must be {_interval(*RANGES[name])}, got {bad!r}")


def check_hyperparameters(name: str, hyperparameters: dict) -> None:
    """Raise ``ValueError`` for unknown names or values outside their valid ranges.

    Concrete numbers (and arrays of swept values) must be finite and inside
    ``RANGES`` (learning_rate >= 0, momentum/b1/b2/decay in [0, 1), eps >= 0, ...).
    """
    valid = hyperparameter_names(name)
    unknown = sorted(set(hyperparameters) - set(valid))
    if unknown:
        raise ValueError(
            f"optimizer {name!r} has no hyperparameter {', '.join(map(repr, unknown))}; "
            f"valid: {', '.join(valid)}"
        )
    for key, value in hyperparameters.items():
        check_value(key, value)


def make(name: str, **hyperparameters) -> optax.GradientTransformation:
    """The optimizer ``name`` with the given hyperparameters (optax's names).

    Example::

        make("adam", learning_rate=1e-3, b1=0.9)
        make("sgd", learning_rate=gdlab.schedules.make("cosine", init_value=0.3,
                                                       decay_steps=100))
    """
    check_hyperparameters(name, hyperparameters)
    missing = [p.name for p in inspect.signature(factory(name)).parameters.values()
               if p.default is p.empty and p.kind is not p.VAR_KEYWORD
               and p.name not in hyperparameters]
    if missing:
        raise ValueError(f"optimizer {name!r} needs hyperparameters (missing: "
                         f"{', '.join(missing)}); use gdlab.optimizers.make({name!r}, "
                         f"{missing[0]}=...)")
    return factory(name)(**hyperparameters)


def resolve(optimizer) -> optax.GradientTransformation:
    """Accept a name (default hyperparameters) or any optax transformation."""
    if isinstance(optimizer, str):
        try:
            return make(optimizer)
        except TypeError as error:
            raise ValueError(
                f"optimizer {optimizer!r} needs hyperparameters ({error}); "
                f"use gdlab.optimizers.make({optimizer!r}, learning_rate=...)"
            ) from None
    if isinstance(optimizer, optax.GradientTransformation):
        return optimizer
    raise ValueError(
        f"expected an optimizer name or an optax.GradientTransformation, got {optimizer!r}; "
        f"valid names: {', '.join(names())}"
    )


__all__ = [
    "RANGES",
    "add_gradient",
    "check_hyperparameters",
    "check_value",
    "exponentiated_gradient",
    "factory",
    "hot_and_cold",
    "hyperparameter_names",
    "make",
    "momentum",
    "multiply_gradient",
    "names",
    "nesterov",
    "normalized_gd",
    "replace_by_product",
    "resolve",
    "scale_by_inverse_norm",
    "scale_by_sign",
    "sgd",
    "sign_descent",
]
