"""Extreme Hessian eigenvalues: Lanczos (or dense eigh when small), power iteration, sharpness."""

from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax import lax
from jax.flatten_util import ravel_pytree

from gdlab import linalg
from gdlab.curvature._lanczos import ritz
from gdlab.curvature._operators import bind, dense_hessian, flat_operator

DENSE_MAX_SIZE = 128
"""``method="auto"`` forms the dense Hessian when the parameter count n ≤ this.

Dense costs n HVPs and an O(n³) ``eigh`` but is exact; Lanczos costs min(n, 40) HVPs.
Above ~100 parameters Lanczos is already the faster of the two (benchmarks/curvature.py).
"""

METHODS = ("auto", "dense", "lanczos")
_DENSE_BATCH = 128  # Hessian columns computed at once on the dense path


class PowerIteration(NamedTuple):
    """Result of ``power_iteration``.

    value: the Rayleigh quotient vᵀHv (an eigenvalue of largest |λ| once converged).
    vector: the unit-norm iterate v, a pytree like x.
    residual: ‖Hv − value·v‖ / |value|, the relative residual at v.
    num_iters: the number of HVPs spent.
    """

    value: jax.Array
    vector: Any
    residual: jax.Array
    num_iters: jax.Array


def _size(x):
    return sum(jnp.size(leaf) for leaf in jax.tree.leaves(x))


def resolve_method(method, n):
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; valid methods: {', '.join(METHODS)}")
    if method == "auto":
        return "dense" if n <= DENSE_MAX_SIZE else "lanczos"
    return method


def default_num_iters(num_iters, n, k, *, at_least=40):
    """Lanczos steps: the given count (validated), else min(n, max(at_least, 3k))."""
    if num_iters is None:
        return min(n, max(at_least, 3 * k))
    num_iters = int(num_iters)
    if num_iters < k:
        raise ValueError(f"num_iters={num_iters} must be at least k={k} (Lanczos needs k steps)")
    if num_iters > n:
        raise ValueError(
            f"num_iters={num_iters} exceeds the parameter count n={n}; "
            "at most n Lanczos steps exist (n steps are already exact)"
        )
    return num_iters


def dense_eigh(f, x):
    """Eigenvalues (ascending) and eigenvectors (columns) of the symmetrised dense Hessian."""
    h = dense_hessian(f, x, batch_size=_DENSE_BATCH)
    return linalg.eigh((h + h.T) / 2)


def start_vector(key, n, dtype):
    v = jax.random.normal(key, (n,), dtype)
    return v / jnp.linalg.norm(v)


@partial(jax.jit, static_argnames=("f", "method", "num_iters"))
def _spectrum(f, x, data, key, *, method, num_iters):
    """Ritz values θ (ascending) and (coords, basis) with Ritz vectors = coords.T @ basis.

    Dense: θ = all eigenvalues, coords = the eigenvector matrix, basis = None.
    """
    f = bind(f, data)
    flat, _, matvec = flat_operator(f, x)
    if method == "dense":
        theta, vectors = dense_eigh(f, x)
        return theta, vectors, None
    return ritz(matvec, start_vector(key, flat.shape[0], flat.dtype), num_iters)


def _eigenvalues(f, x, k, key, num_iters, method, return_vectors, largest, data):
    n = _size(x)
    k = int(k)
    if not 1 <= k <= n:
        raise ValueError(f"k={k} must satisfy 1 <= k <= n, the parameter count n={n}")
    method = resolve_method(method, n)
    num_iters = default_num_iters(num_iters, n, k) if method == "lanczos" else None
    key = jax.random.key(0) if key is None else key
    theta, coords, basis = _spectrum(f, x, data, key, method=method, num_iters=num_iters)
    pick = slice(None, -k - 1, -1) if largest else slice(None, k)  # descending / ascending
    if not return_vectors:
        return theta[pick]
    vectors = coords[:, pick].T if basis is None else coords[:, pick].T @ basis
    return theta[pick], jax.vmap(ravel_pytree(x)[1])(vectors)


def top_eigenvalues(f, x, k=1, *, key=None, num_iters=None, method="auto", return_vectors=False,
                    data=None):
    """The k largest eigenvalues λ₁ ≥ … ≥ λ_k of the Hessian of ``f`` at ``x``.

    Lanczos with full reorthogonalisation on Hessian-vector products: m steps build an
    orthonormal basis V of the Krylov space span{v, Hv, …, H^{m−1}v} and T = VᵀHV
    (tridiagonal); the eigenvalues of T approximate the extreme eigenvalues of H first,
    with an error in λ₁ falling like exp(−4m√γ), γ = (λ₁ − λ₂)/(λ₂ − λ_n) (Kaniel–Paige).
    m steps cost m HVPs and m·n memory; for networks a few tens of steps usually give
    λ₁ to 1e-3 whatever n (benchmarks/curvature.py). Small problems
    (n ≤ ``DENSE_MAX_SIZE``) use the dense Hessian and ``eigh`` instead (exact).

    Args:
      f: scalar function ``f(x)``, or ``f(x, data)`` with ``data=`` (e.g. ``batched``).
      x: the point.
      data: optional data pytree passed as ``f(x, data)``: a jit argument, so a new
        batch reuses the compilation (data closed over would be a compile-time constant).
      k: how many eigenvalues, 1 ≤ k ≤ n (n = number of scalars in x).
      key: PRNG key for the random start vector; ``None`` uses ``jax.random.key(0)``.
      num_iters: Lanczos steps m, k ≤ m ≤ n; default min(n, max(40, 3k)).
      method: "auto" (dense if n ≤ ``DENSE_MAX_SIZE``, else Lanczos), "dense", or
        "lanczos".
      return_vectors: also return the eigenvectors.

    Returns:
      values, shape (k,), descending, in x's dtype; with ``return_vectors=True`` the
      pair (values, vectors) where ``vectors`` is a pytree like x with a leading axis
      of k unit vectors (vectors[i] belongs to values[i]; the sign is arbitrary).

    The function is compiled once per ``f`` object and shape: pass the same ``f``
    again to reuse it (a new lambda each call recompiles).

    Example::

      >>> A = jnp.diag(jnp.array([3.0, -5.0, 1.0]))
      >>> top_eigenvalues(lambda w: 0.5 * w @ A @ w, jnp.zeros(3), k=2)
      Array([3., 1.], ...)
    """
    return _eigenvalues(f, x, k, key, num_iters, method, return_vectors, True, data)


def bottom_eigenvalues(f, x, k=1, *, key=None, num_iters=None, method="auto", return_vectors=False,
                       data=None):
    """The k smallest (most negative) eigenvalues λ_n ≤ … of the Hessian, ascending.

    Same algorithm, arguments and returns as ``top_eigenvalues``, taken from the other
    end of the same Lanczos spectrum: negative values mean directions of negative
    curvature (a saddle or a maximum along them).

    Example::

      >>> A = jnp.diag(jnp.array([3.0, -5.0, 1.0]))
      >>> bottom_eigenvalues(lambda w: 0.5 * w @ A @ w, jnp.zeros(3))
      Array([-5.], ...)
    """
    return _eigenvalues(f, x, k, key, num_iters, method, return_vectors, False, data)


def sharpness(f, x, *, key=None, num_iters=None, method="auto", data=None):
    """Sharpness: the largest (algebraic) eigenvalue λ_max of the Hessian of f at x.

    Gradient descent with step η is stable on a quadratic only while η·λ_max < 2,
    which makes λ_max the curvature that matters for step sizes (the edge of stability
    is sharpness ≈ 2/η). Arguments as in ``top_eigenvalues``; returns a scalar.

    Example::

      >>> sharpness(lambda w: jnp.sum(w ** 2), jnp.ones(5))     # H = 2·I
      Array(2., ...)
    """
    return top_eigenvalues(f, x, 1, key=key, num_iters=num_iters, method=method, data=data)[0]


@partial(jax.jit, static_argnames=("f", "num_iters"))
def _power(f, x, data, key, tol, *, num_iters):
    f = bind(f, data)
    flat, unravel, matvec = flat_operator(f, x)
    v0 = start_vector(key, flat.shape[0], flat.dtype)
    zero = jnp.zeros((), flat.dtype)

    def cond(carry):
        i, _, _, _, _, done = carry
        return (i < num_iters) & ~done

    def body(carry):
        i, v, _, _, _, _ = carry
        w = matvec(v)
        value = jnp.vdot(v, w)
        residual = jnp.linalg.norm(w - value * v) / jnp.abs(value)
        done = ~(residual > tol)  # also stops on Hv = 0 (residual nan)
        norm = jnp.linalg.norm(w)
        v_next = jnp.where(norm > 0, w / jnp.where(norm > 0, norm, 1), v)
        return i + 1, v_next, v, value, residual, done

    init = (jnp.zeros((), jnp.int32), v0, v0, zero, zero, jnp.zeros((), bool))
    i, _, v, value, residual, _ = lax.while_loop(cond, body, init)
    residual = jnp.where(jnp.isnan(residual), jnp.zeros_like(residual), residual)
    return PowerIteration(value, unravel(v), residual, i)


def power_iteration(f, x, *, key=None, num_iters=100, tol=1e-6, data=None):
    """The eigenvalue of largest magnitude |λ| of the Hessian, by power iteration.

    Iterates v ← Hv / ‖Hv‖ from a random unit v and reports the Rayleigh quotient
    vᵀHv. It converges to the eigenvalue of largest *absolute value*, which is negative
    when |λ_min| > λ_max (so it is not the sharpness there: use ``sharpness``), at the
    rate |λ₂/λ₁| per step; with λ₁ = −λ₂ it does not converge at all (check
    ``residual``). It stops when ‖Hv − (vᵀHv)v‖ ≤ tol·|vᵀHv| or after ``num_iters``
    HVPs. This is the textbook baseline (PyHessian uses it); Lanczos is at least as
    accurate for the same number of HVPs, since the power iterate lies in the Krylov
    space over which Lanczos optimises the Rayleigh quotient.

    Args:
      f: scalar function ``f(x)``, or ``f(x, data)`` with ``data=``.
      x: the point.
      data: optional data pytree passed as ``f(x, data)``.
      key: PRNG key of the random start; ``None`` uses ``jax.random.key(0)``.
      num_iters: maximum number of HVPs (≥ 1).
      tol: relative residual at which to stop (≥ 0).

    Returns:
      ``PowerIteration(value, vector, residual, num_iters)``.

    Example::

      >>> A = jnp.diag(jnp.array([3.0, -5.0, 1.0]))
      >>> power_iteration(lambda w: 0.5 * w @ A @ w, jnp.zeros(3)).value
      Array(-5., ...)
    """
    if int(num_iters) < 1:
        raise ValueError(f"num_iters must be at least 1, got {num_iters}")
    if not isinstance(tol, jax.Array) and not tol >= 0:
        raise ValueError(f"tol must be non-negative, got {tol}")
    key = jax.random.key(0) if key is None else key
    return _power(f, x, data, key, tol, num_iters=int(num_iters))
