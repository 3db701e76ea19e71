"""Lanczos tridiagonalisation with full reorthogonalisation, compiled as one loop.

After m steps from a unit vector v₀, Lanczos has built an orthonormal basis
V = [v₀, …, v_{m-1}] of the Krylov space span{v₀, Av₀, …, A^{m-1}v₀} and the
tridiagonal T = VᵀAV (diagonal α, off-diagonal β). The eigenvalues of T (Ritz values)
converge to the extreme eigenvalues of A first, and the squared first components of
T's eigenvectors are the Gauss quadrature weights of the spectral measure of A seen
from v₀ (stochastic Lanczos quadrature uses them).
"""

import jax
import jax.numpy as jnp
from jax import lax

from gdlab import linalg


def _orthogonalize(w, basis):
    """w minus its projection on the rows of ``basis``, Gram–Schmidt twice (CGS2)."""
    for _ in range(2):
        w = w - basis.T @ (basis @ w)
    return w


def tridiagonalize(matvec, v0, num_iters):
    """m = ``num_iters`` Lanczos steps on the symmetric operator ``matvec`` from unit ``v0``.

    Each step: w = A v_j; α_j = v_jᵀw; w ← w − VVᵀw (twice, against every basis vector
    so far: full reorthogonalisation, which keeps V orthonormal in floating point);
    β_j = ‖w‖; v_{j+1} = w / β_j. If β_j ≤ √eps·‖A v_j‖ the Krylov space is invariant
    (an exact breakdown, e.g. a repeated eigenvalue): β_j is set to 0 and the next
    vector is the coordinate vector e_i least covered by V (smallest Σ_j V_ji², so at
    least 1 − (j+1)/n of it lies outside span V), orthogonalised. T = VᵀAV stays exact
    and block diagonal, and the blocks after a breakdown carry zero quadrature weight.

    Returns (alpha (m,), beta (m-1,), basis (m, n)); requires 1 ≤ m ≤ n (checked by
    the callers, which know n statically).
    """
    n = v0.shape[0]
    dtype = v0.dtype
    threshold = jnp.sqrt(jnp.finfo(dtype).eps)

    def step(j, carry):
        basis, alpha, beta = carry
        v = basis[j]
        w = matvec(v)
        a = jnp.vdot(v, w)
        scale = jnp.linalg.norm(w)
        w = _orthogonalize(w, basis)
        b = jnp.linalg.norm(w)
        breakdown = (b <= threshold * scale) & (j + 1 < num_iters)

        def restart(_):
            least_covered = jnp.argmin(jnp.sum(basis**2, axis=0))
            r = _orthogonalize(jax.nn.one_hot(least_covered, n, dtype=dtype), basis)
            return r / jnp.linalg.norm(r), jnp.zeros((), dtype)

        def proceed(_):
            return w / jnp.where(b > 0, b, 1), b

        v_next, b = lax.cond(breakdown, restart, proceed, None)
        return basis.at[j + 1].set(v_next), alpha.at[j].set(a), beta.at[j].set(b)

    basis = jnp.zeros((num_iters + 1, n), dtype).at[0].set(v0)
    zeros = jnp.zeros((num_iters,), dtype)
    basis, alpha, beta = lax.fori_loop(0, num_iters, step, (basis, zeros, zeros))
    return alpha, beta[: num_iters - 1], basis[:num_iters]


def ritz(matvec, v0, num_iters):
    """Ritz values (ascending), their eigenvectors in T's coordinates, and the basis.

    Returns (theta (m,), s (m, m) with columns the eigenvectors of T, basis (m, n)); the
    Ritz vectors are ``s.T @ basis`` and the quadrature weights ``s[0] ** 2``.
    """
    alpha, beta, basis = tridiagonalize(matvec, v0, num_iters)
    t = jnp.diag(alpha) + jnp.diag(beta, 1) + jnp.diag(beta, -1)
    theta, s = linalg.eigh(t)
    return theta, s, basis
