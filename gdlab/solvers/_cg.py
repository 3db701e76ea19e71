"""Nonlinear conjugate gradients (PR+, FR) on optax's zoom line search; a sweepable L-BFGS."""

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax


def _strongly_typed(transformation):
    """The same transformation whose ``init`` returns no weakly typed scalars.

    optax's zoom line search starts its state from Python scalars (weakly typed) and its
    first update returns strongly typed ones, so a jitted step would compile twice.
    """

    def init(params):
        state = transformation.init(params)
        return jax.tree.map(lambda a: jnp.array(a, dtype=jnp.asarray(a).dtype), state)

    return transformation._replace(init=init)


CG_VARIANTS = ("pr+", "fr")


class ConjugateGradientState(NamedTuple):
    """Previous gradient g_{k−1} and direction p_{k−1} (ascent form, p = −d)."""

    grad: Any
    direction: Any
    count: jax.Array


def scale_by_conjugate_gradient(variant: str = "pr+") -> optax.GradientTransformation:
    """The conjugate direction p_k = g_k + β_k p_{k−1} (descent is d_k = −p_k).

        Fletcher–Reeves  β = ‖g_k‖² / ‖g_{k−1}‖²
        Polak–Ribière+   β = max(0, g_kᵀ(g_k − g_{k−1}) / ‖g_{k−1}‖²)

    β = 0 on the first step, and the direction restarts at g_k whenever p_kᵀg_k ≤ 0
    (not a descent direction). On a quadratic with exact line searches both are
    linear CG and finish in n steps.
    """
    if variant not in CG_VARIANTS:
        raise ValueError(f"unknown CG variant {variant!r}; valid: {', '.join(CG_VARIANTS)}")

    def init(params):
        zeros = optax.tree.zeros_like(params)
        return ConjugateGradientState(zeros, zeros, jnp.zeros((), jnp.int32))

    def update(grad, state, params=None):
        del params
        previous = optax.tree.vdot(state.grad, state.grad)
        if variant == "fr":
            top = optax.tree.vdot(grad, grad)
        else:
            top = optax.tree.vdot(grad, optax.tree.sub(grad, state.grad))
        beta = top / jnp.where(previous > 0, previous, 1)
        beta = jnp.where((state.count == 0) | (previous <= 0), 0, beta)
        if variant == "pr+":
            beta = jnp.maximum(beta, 0)
        direction = optax.tree.add_scale(grad, beta, state.direction)
        descent = optax.tree.vdot(direction, grad) > 0
        direction = jax.tree.map(lambda p, g: jnp.where(descent, p, g), direction, grad)
        return direction, ConjugateGradientState(grad, direction, state.count + 1)

    return optax.GradientTransformation(init, update)


def conjugate_gradient(
    learning_rate=1.0, *, variant: str = "pr+", max_linesearch_steps: int = 30,
    curv_rtol: float = 0.1,
) -> optax.GradientTransformationExtraArgs:
    """Nonlinear conjugate gradients with optax's zoom line search (strong Wolfe).

    u_k = α_k d_k, with d_k from ``scale_by_conjugate_gradient`` and α_k found by
    ``optax.scale_by_zoom_linesearch`` starting from the previous step size (η on the
    first step). ``curv_rtol`` is Wolfe's c₂: below ½ as Fletcher–Reeves needs
    (Nocedal & Wright, Numerical Optimization, ch. 5).

    Example::

        opt = conjugate_gradient(variant="fr")
        train.run(problems.get("rosenbrock").loss, x0, opt, 100)
    """
    return _strongly_typed(optax.chain(
        scale_by_conjugate_gradient(variant),
        optax.scale_by_learning_rate(learning_rate),
        optax.scale_by_zoom_linesearch(
            max_linesearch_steps, curv_rtol=curv_rtol, initial_guess_strategy="keep"
        ),
    ))


def cg_pr(learning_rate=1.0) -> optax.GradientTransformationExtraArgs:
    """Polak–Ribière+ conjugate gradients with a zoom line search (see ``conjugate_gradient``)."""
    return conjugate_gradient(learning_rate, variant="pr+")


def cg_fr(learning_rate=1.0) -> optax.GradientTransformationExtraArgs:
    """Fletcher–Reeves conjugate gradients with a zoom line search (see ``conjugate_gradient``)."""
    return conjugate_gradient(learning_rate, variant="fr")


def lbfgs(learning_rate=None, memory_size: int | None = None) -> optax.GradientTransformation:
    """``optax.lbfgs`` (zoom line search, memory 10), with defaults a sweep can trace.

    ``memory_size`` is a shape, so it defaults to None (meaning 10) rather than an int:
    ``optax.inject_hyperparams`` would turn an int default into a traced value.
    """
    memory = 10 if memory_size is None else memory_size
    return _strongly_typed(optax.lbfgs(learning_rate, memory_size=memory))
