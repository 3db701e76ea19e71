"""Honest evaluation counts: what each step spent, read from any optimizer's state."""

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax


class Counted(NamedTuple):
    """Parameters with a running count of evaluations riding along (no loss reads it)."""

    params: Any
    evaluations: jax.Array


def with_count(params) -> Counted:
    """``Counted(params, 0)``, the count in the params' float dtype."""
    dtype = jnp.result_type(*jax.tree.leaves(params))
    return Counted(params, jnp.zeros((), dtype))


def counted(loss_fn: Callable) -> Callable:
    """``loss_fn`` on ``Counted`` parameters: ``counted(f)(Counted(p, n), ...) = f(p, ...)``."""

    def loss(params: Counted, *args, **kwargs):
        return loss_fn(params.params, *args, **kwargs)

    return loss


class CountingState(NamedTuple):
    inner: Any
    count: jax.Array  # steps taken


def _has_evaluations(node) -> bool:
    return isinstance(node, tuple) and "evaluations" in getattr(node, "_fields", ())


_LINESEARCH = (optax.ScaleByZoomLinesearchState, optax.ScaleByBacktrackingLinesearchState)


def _counts(node) -> bool:
    return _has_evaluations(node) or isinstance(node, _LINESEARCH)


def calls_loss(state) -> bool:
    """Whether the optimizer with this state calls the loss in its update: optax's line
    searches, and gdlab's solvers (their states count ``evaluations``).

    >>> calls_loss(optax.sgd(0.1).init(jnp.zeros(2))), calls_loss(optax.lbfgs().init(jnp.zeros(2)))
    (False, True)
    """
    return any(_counts(node) for node in jax.tree.leaves(state, is_leaf=_counts))


def step_evaluations(state, *, first_step=False) -> jax.Array:
    """Evaluations of f or (f, ∇f) spent by the step that produced ``state``.

    Reads any optax state: gdlab solver states carry ``evaluations``; optax's zoom
    line search reports its trials (each (f, ∇f); +1 on the first step for ∇f(w₀));
    a backtracking search its trials (f only) + 1 gradient; anything else counts 1.
    """
    nodes = jax.tree.leaves(state, is_leaf=_counts)
    total, known = jnp.zeros((), jnp.int32), False
    for node in nodes:
        if isinstance(node, optax.ScaleByZoomLinesearchState):
            trials = jnp.asarray(node.info.num_linesearch_steps, jnp.int32)
            total, known = total + trials + jnp.asarray(first_step, jnp.int32), True
        elif isinstance(node, optax.ScaleByBacktrackingLinesearchState):
            trials = jnp.asarray(node.info.num_linesearch_steps, jnp.int32)
            total, known = total + trials + 1, True
        elif _has_evaluations(node):
            total, known = total + jnp.asarray(node.evaluations, jnp.int32), True
    return total if known else jnp.ones((), jnp.int32)


def count_evaluations(optimizer) -> optax.GradientTransformationExtraArgs:
    """Wrap ``optimizer`` to act on ``Counted`` params, adding each step's evaluations.

    The inner optimizer sees only ``params.params``; the update of the count leaf is
    ``step_evaluations`` of the new inner state, so after k steps
    ``params.evaluations`` is the total spent (see the module docstring).
    """
    inner = optax.with_extra_args_support(optimizer)

    def init(params: Counted):
        return CountingState(inner.init(params.params), jnp.zeros((), jnp.int32))

    def update(updates: Counted, state: CountingState, params: Counted | None = None, **extra):
        if params is None:
            raise ValueError("count_evaluations needs params (gdlab.train.run passes them)")
        if isinstance(extra.get("grad"), Counted):
            extra["grad"] = extra["grad"].params
        if extra.get("value_fn") is not None:
            value_fn, count = extra["value_fn"], params.evaluations
            extra["value_fn"] = lambda p: value_fn(Counted(p, count))
        u, new_inner = inner.update(updates.params, state.inner, params.params, **extra)
        spent = step_evaluations(new_inner, first_step=state.count == 0)
        return (Counted(u, spent.astype(params.evaluations.dtype)),
                CountingState(new_inner, state.count + 1))

    return optax.GradientTransformationExtraArgs(init, update)


class EvaluationCost(NamedTuple):
    """State of a stateless solver whose step costs a fixed number of evaluations."""

    evaluations: jax.Array


def _needs(value_fn, params, name):
    if value_fn is None or params is None:
        raise ValueError(f"{name} needs params and value_fn (gdlab.train.run passes both)")
