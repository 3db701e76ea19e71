"""The primitives: Hessian-vector products, dense Hessians, losses averaged over batches."""

from functools import partial

import jax
import jax.numpy as jnp
from jax import lax
from jax.flatten_util import ravel_pytree


def hvp(f, x, v):
    """Hessian-vector product H(x)·v of a scalar function ``f``; pytrees in and out.

    Forward-over-reverse, the derivative of the gradient along ``v``::

        H(x) v = d/dt ∇f(x + t v) |_{t=0} = jax.jvp(jax.grad(f), (x,), (v,))[1]

    It costs a small constant number of gradient evaluations and never forms H.

    Args:
      f: scalar function of a pytree ``x`` (data closed over, see ``batched``).
      x: the point, any pytree of float arrays.
      v: the direction, a pytree with the structure, shapes and dtypes of ``x``.

    Returns:
      H(x)·v with the structure of ``x``.

    Example::

      >>> f = lambda p: p["a"] ** 2 * p["b"]           # H = [[2b, 2a], [2a, 0]]
      >>> hvp(f, {"a": 1.0, "b": 3.0}, {"a": 1.0, "b": 0.0})
      {'a': Array(6., ...), 'b': Array(2., ...)}
    """
    return jax.jvp(jax.grad(f), (x,), (v,))[1]


def hessian(f, x, *, batch_size=None):
    """Dense Hessian of ``f`` at ``x`` as an (n, n) matrix over the flattened pytree.

    ``H[i, j] = ∂²f / ∂z_i ∂z_j`` where ``z = ravel_pytree(x)[0]`` (leaves in pytree
    order, each flattened row-major). Memory is n², so keep it to small problems (n of
    a few thousand at most) and use ``hvp`` or the Lanczos functions beyond that.

    Args:
      f: scalar function of the pytree ``x``.
      x: the point.
      batch_size: ``None`` (default) computes all n columns at once with
        ``jax.hessian``, which holds n copies of the intermediates of one HVP. An int
        computes the columns ``H e_i`` by ``hvp`` in chunks of that many
        (``lax.map(..., batch_size=...)``), which bounds that memory.

    Compiled once per ``f`` object and shape.

    Example::

      >>> hessian(lambda p: p["a"] ** 2 * p["b"], {"a": 1.0, "b": 3.0})
      Array([[6., 2.], [2., 0.]], ...)
    """
    if batch_size is not None and int(batch_size) < 1:
        raise ValueError(f"batch_size must be a positive integer or None, got {batch_size}")
    return _hessian(f, x, batch_size=None if batch_size is None else int(batch_size))


@partial(jax.jit, static_argnames=("f", "batch_size"))
def _hessian(f, x, *, batch_size):
    flat, unravel = ravel_pytree(x)
    g = lambda z: f(unravel(z))
    if batch_size is None:
        return jax.hessian(g)(flat)
    column = lambda e: jax.jvp(jax.grad(g), (flat,), (e,))[1]
    return lax.map(column, jnp.eye(flat.shape[0], dtype=flat.dtype), batch_size=batch_size)


def batched(f_batch, batches):
    """A loss averaged over batches, built so its HVP holds one batch at a time.

    Returns ``f(params) = (1/B) Σ_b f_batch(params, batch_b)``, the full-data loss when
    ``f_batch`` is a per-batch mean and the B batches have equal size. The sum runs in a
    ``lax.map`` over the leading axis of ``batches`` with ``f_batch`` rematerialised
    (``jax.checkpoint``), so the gradient and the HVP (and therefore every function of
    this module) keep the activations of one batch, not of the whole data set: data
    whose activations do not fit in memory are fine. (The data arrays themselves are
    closed over and must fit.)

    Data may equally be passed by closure: ``f = lambda p: loss(p, X, Y)`` or
    ``functools.partial``; every function here takes such an ``f(params)``. The
    eigenvalue functions compile once per ``f`` object, so build ``f`` once (outside a
    training loop) and pass the same object each time.

    Args:
      f_batch: ``f_batch(params, batch) -> scalar``.
      batches: a pytree whose leaves share a leading axis of length B (for example
        ``{"x": (B, b, 40), "y": (B, b)}``), or a Python list of B batch pytrees of
        equal shapes, which is stacked.

    Example::

      >>> loss = lambda w, b: jnp.mean((b["x"] @ w - b["y"]) ** 2)
      >>> f = batched(loss, {"x": X.reshape(10, -1, 3), "y": Y.reshape(10, -1)})
      >>> sharpness(f, w)            # same as for lambda w: loss(w, {"x": X, "y": Y})
    """
    if isinstance(batches, list):
        if not batches:
            raise ValueError("batches is an empty list; give at least one batch")
        batches = jax.tree.map(lambda *b: jnp.stack(b), *batches)
    sizes = {jnp.shape(leaf)[0] if jnp.ndim(leaf) else None for leaf in jax.tree.leaves(batches)}
    if not sizes or None in sizes or len(sizes) != 1 or 0 in sizes:
        raise ValueError(
            "batches must be a non-empty pytree whose leaves share a leading (batch) axis "
            f"of positive length, got leading sizes {sorted(sizes, key=str)}"
        )
    step = jax.checkpoint(f_batch)

    def f(params):
        return jnp.mean(lax.map(lambda batch: step(params, batch), batches))

    return f


def flat_operator(f, x):
    """(z, unravel, matvec): ``x`` flattened and v ↦ H(x)·v on flat vectors."""
    flat, unravel = ravel_pytree(x)

    def matvec(v):
        return ravel_pytree(hvp(f, x, unravel(v)))[0]

    return flat, unravel, matvec
