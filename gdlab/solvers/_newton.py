"""Newton's method with a dense jax.hessian: the second-order reference for small problems."""

import jax
import jax.numpy as jnp
import optax
from jax.flatten_util import ravel_pytree

from gdlab import linalg
from gdlab.solvers._counting import EvaluationCost, _needs


def scale_by_newton(
    damping=0.0, saddle_free: bool = False
) -> optax.GradientTransformationExtraArgs:
    """Replace g by the Newton direction (H + δI)⁻¹ g, with H = jax.hessian(f)(θ).

    With ``saddle_free`` the eigenvalues of H are replaced by |λ| + δ (Dauphin et al.
    2014), so the step always descends; plain Newton heads for the nearest stationary
    point, minimum, saddle or maximum alike. Dense: O(n²) memory, O(n³) time, and
    1 + n evaluations per step (a Hessian is n gradient-sized passes).
    """

    def init(params):
        n = ravel_pytree(params)[0].size
        return EvaluationCost(jnp.asarray(1 + n, jnp.int32))

    def update(updates, state, params=None, *, value_fn=None, **extra):
        del extra
        _needs(value_fn, params, "Newton's method")
        flat, unravel = ravel_pytree(params)
        g = ravel_pytree(updates)[0]
        h = jax.hessian(lambda x: value_fn(unravel(x)))(flat)
        if saddle_free:
            lam, q = linalg.eigh(h)
            step = q @ ((q.T @ g) / (jnp.abs(lam) + damping))
        else:
            step = linalg.solve(h + damping * jnp.eye(flat.size, dtype=h.dtype), g)
        return unravel(step.astype(flat.dtype)), state

    return optax.GradientTransformationExtraArgs(init, update)


def newton(learning_rate=1.0, damping=0.0, saddle_free: bool = False):
    """Newton's method u = −η (H + δI)⁻¹ g (η = 1: the pure Newton step).

    One step solves a quadratic exactly; near a minimum with H ≻ 0 convergence is
    quadratic. For small problems (dense Hessian); see ``scale_by_newton``.
    """
    return optax.chain(
        scale_by_newton(damping, saddle_free), optax.scale_by_learning_rate(learning_rate)
    )
