"""Curvature of a loss: Hessian-vector products, dense Hessians, extreme eigenvalues.

Everything is built on one primitive, the Hessian-vector product

    H(x) v = d/dt ∇f(x + t v) |_{t=0}          (forward-over-reverse: jvp of grad)

which costs a small constant number of gradient evaluations and never forms H.
"""

import jax
from jax.flatten_util import ravel_pytree


def hvp(f, x, v):
    """Hessian-vector product H(x)·v of a scalar function ``f``; pytrees in and out.

    Forward-over-reverse: ``jax.jvp(jax.grad(f), (x,), (v,))[1]``. ``v`` must have the
    structure of ``x``; the result has it too.
    """
    return jax.jvp(jax.grad(f), (x,), (v,))[1]


def hessian(f, x):
    """Dense Hessian of ``f`` at ``x`` as an (n, n) matrix over the flattened pytree.

    Uses ``jax.hessian``; memory is n², so keep it to small problems (n of a few
    thousand at most) and use ``hvp`` beyond that.
    """
    flat, unravel = ravel_pytree(x)
    return jax.hessian(lambda z: f(unravel(z)))(flat)


__all__ = ["hvp", "hessian"]
