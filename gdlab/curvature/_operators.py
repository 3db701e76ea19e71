"""The primitives: Hessian-vector products, dense Hessians, losses averaged over batches."""

from functools import cache, partial

import jax
import jax.numpy as jnp
from jax import lax
from jax.flatten_util import ravel_pytree


def bind(f, data):
    """``f`` itself when ``data`` is None, else ``p ↦ f(p, data)`` (inside a jit, with
    ``data`` one of its arguments, so the arrays stay arguments, never constants)."""
    if data is None:
        return f
    return lambda p: f(p, data)


def hvp(f, x, v, *, data=None):
    """Hessian-vector product H(x)·v of a scalar function ``f``; pytrees in and out.

    Forward-over-reverse, the derivative of the gradient along ``v``::

        H(x) v = d/dt ∇f(x + t v) |_{t=0} = jax.jvp(jax.grad(f), (x,), (v,))[1]

    It costs a small constant number of gradient evaluations and never forms H.

    Args:
      f: scalar function ``f(x)``, or ``f(x, data)`` with ``data=``.
      x: the point, any pytree of float arrays.
      v: the direction, a pytree with the structure, shapes and dtypes of ``x``.
      data: optional data pytree passed as ``f(x, data)`` (never closed over).

    Returns:
      H(x)·v with the structure of ``x``.

    Example::

      >>> f = lambda p: p["a"] ** 2 * p["b"]           # H = [[2b, 2a], [2a, 0]]
      >>> hvp(f, {"a": 1.0, "b": 3.0}, {"a": 1.0, "b": 0.0})
      {'a': Array(6., ...), 'b': Array(2., ...)}
      >>> loss = lambda w, d: 0.5 * jnp.mean((d["x"] * w - d["y"]) ** 2)   # H = mean x²
      >>> hvp(loss, 1.0, 1.0, data={"x": jnp.array([1.0, 3.0]), "y": jnp.zeros(2)})
      Array(5., ...)
    """
    return jax.jvp(jax.grad(bind(f, data)), (x,), (v,))[1]


def hessian(f, x, *, batch_size=None, data=None):
    """Dense Hessian of ``f`` at ``x`` as an (n, n) matrix over the flattened pytree.

    ``H[i, j] = ∂²f / ∂z_i ∂z_j`` where ``z = ravel_pytree(x)[0]`` (leaves in pytree
    order, each flattened row-major). Memory is n², so keep it to small problems (n of
    a few thousand at most) and use ``hvp`` or the Lanczos functions beyond that.

    Args:
      f: scalar function ``f(x)``, or ``f(x, data)`` with ``data=``.
      x: the point.
      data: optional data pytree passed as ``f(x, data)`` (a jit argument).
      batch_size: ``None`` (default) computes all n columns at once with
        ``jax.hessian``, which holds n copies of the intermediates of one HVP. An int
        computes the columns ``H e_i`` by ``hvp`` in chunks of that many
        (``lax.map(..., batch_size=...)``), which bounds that memory.

    Compiled once per ``f`` object and shape.

    Example::

      >>> hessian(lambda p: p["a"] ** 2 * p["b"], {"a": 1.0, "b": 3.0})
      Array([[6., 2.],
             [2., 0.]], ...)
    """
    if batch_size is not None and int(batch_size) < 1:
        raise ValueError(f"batch_size must be a positive integer or None, got {batch_size}")
    out = jax.eval_shape(lambda x, data: f(x) if data is None else f(x, data), x, data)
    if getattr(out, "shape", None) != ():
        raise ValueError(f"f must return a scalar, got {getattr(out, 'shape', out)}")
    return _hessian(f, x, data, batch_size=None if batch_size is None else int(batch_size))


@partial(jax.jit, static_argnames=("f", "batch_size"))
def _hessian(f, x, data, *, batch_size):
    return dense_hessian(bind(f, data), x, batch_size=batch_size)


def dense_hessian(f, x, *, batch_size=None):
    """The (n, n) Hessian of ``f(x)`` over the flattened pytree (to call inside a jit)."""
    flat, unravel = ravel_pytree(x)
    g = lambda z: f(unravel(z))
    if batch_size is None:
        return jax.hessian(g)(flat)
    column = lambda e: jax.jvp(jax.grad(g), (flat,), (e,))[1]
    return lax.map(column, jnp.eye(flat.shape[0], dtype=flat.dtype), batch_size=batch_size)


@cache  # the same f_batch gives the same f: the jitted functions here reuse compilations
def batched(f_batch):
    """A loss averaged over batches, built so its HVP holds one batch at a time.

    Returns ``f(params, batches) = (1/B) Σ_b f_batch(params, batch_b)``, the full-data
    loss when ``f_batch`` is a per-batch mean and the B batches have equal size. Pass the
    batches as ``data=`` to any function here. The sum runs in a ``lax.map`` over the
    leading axis of ``batches`` with ``f_batch`` rematerialised (``jax.checkpoint``), so
    the gradient and the HVP (and therefore every function of this module) keep the
    activations of one batch, not of the whole data set: data whose activations do not
    fit in memory are fine (the data arrays themselves must fit).

    Args:
      f_batch: ``f_batch(params, batch) -> scalar``.

    ``batches`` (the data) is a pytree whose leaves share a leading axis of length B, for
    example ``{"x": (B, b, 40), "y": (B, b)}``.

    Example::

      >>> loss = lambda w, b: jnp.mean((b["x"] @ w - b["y"]) ** 2)
      >>> X, Y = jnp.arange(60.0).reshape(20, 3) / 60, jnp.ones(20)
      >>> f = batched(loss)
      >>> a = hessian(f, jnp.zeros(3), data={"x": X.reshape(4, 5, 3), "y": Y.reshape(4, 5)})
      >>> b = hessian(loss, jnp.zeros(3), data={"x": X, "y": Y})
      >>> bool(jnp.allclose(a, b, rtol=1e-5))
      True
    """
    step = jax.checkpoint(f_batch)

    def f(params, batches):
        sizes = {jnp.shape(leaf)[0] if jnp.ndim(leaf) else None
                 for leaf in jax.tree.leaves(batches)}
        if not sizes or None in sizes or len(sizes) != 1 or 0 in sizes:
            raise ValueError(
                "batches must be a non-empty pytree whose leaves share a leading (batch) "
                f"axis of positive length, got leading sizes {sorted(sizes, key=str)}"
            )
        return jnp.mean(lax.map(lambda batch: step(params, batch), batches))

    return f


def flat_operator(f, x):
    """(z, unravel, matvec): ``x`` flattened and v ↦ H(x)·v on flat vectors."""
    flat, unravel = ravel_pytree(x)

    def matvec(v):
        return ravel_pytree(hvp(f, x, unravel(v)))[0]

    return flat, unravel, matvec
