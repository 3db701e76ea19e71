"""LAPACK decompositions that cannot deadlock a compiled program on a few-core CPU.

On CPU, jaxlib 0.10 runs a *batched* LAPACK call (``jnp.linalg.qr``, ``eigh``,
``solve`` … on a stack of matrices, as ``vmap`` and ``train.sweep`` make them) by
handing the batch to XLA's intra-op thread pool and blocking the calling pool thread
until the batch is done. Two such calls running at once, which XLA does whenever they
are independent (the QRs of an orthogonal init's layers, or the shards of a sweep on
several CPU devices), can each hold a thread of a 2-thread pool while waiting for the
other's work: the program hangs forever (seen with gdb as every pool thread in
``ParallelBatchMap`` → ``BlockingCounter::Wait``; jaxlib ≥ 0.11.1 builds without this
path). A call on ONE matrix runs where it is called and waits for nobody.

So the functions here are the ``jnp.linalg`` ones with ``vmap`` rewritten by
``jax.custom_batching.sequential_vmap``: a batch becomes a loop of single-matrix calls.
Each matrix goes through the same LAPACK routine, so the results are bit-identical to
the batched call; what is lost is the batch's spread over threads (gdlab's matrices are
small, and a sweep on several devices spreads its lanes instead). A ``sequential_vmap``
cannot be transposed, so ``eigh`` carries its own derivative rule and ``solve`` goes
through ``lax.custom_linear_solve``: both differentiate, forward and reverse, as the
``jnp.linalg`` ones do (``qr``, used to draw initial weights, does not).

>>> import jax, jax.numpy as jnp
>>> a = jnp.array([[[2.0, 0.0], [0.0, 1.0]], [[0.0, 1.0], [1.0, 0.0]]])
>>> jax.vmap(eigh)(a)[0].tolist()                 # eigenvalues, ascending
[[1.0, 2.0], [-1.0, 1.0]]
>>> bool(jnp.all(jax.vmap(eigh)(a)[0] == jnp.linalg.eigh(a)[0]))
True
"""

import jax
import jax.numpy as jnp

one_at_a_time = jax.custom_batching.sequential_vmap
"""``f`` unchanged, but ``vmap(f)`` loops over the batch (``lax.map``) instead of
batching f's operations: the wrapper for any function around a LAPACK call."""


@one_at_a_time
def qr(a):
    """(Q, R) = ``jnp.linalg.qr(a)`` (reduced), one matrix at a time under ``vmap``.
    Not differentiable (gdlab draws initial weights with it)."""
    q, r = jnp.linalg.qr(a)
    return q, r


_eigh = one_at_a_time(lambda a: tuple(jnp.linalg.eigh(a)))
_solve = one_at_a_time(jnp.linalg.solve)


@jax.custom_jvp
def eigh(a):
    """(eigenvalues ascending, eigenvectors as columns) = ``jnp.linalg.eigh(a)`` (of
    (a + aᵀ)/2), one matrix at a time under ``vmap``; differentiable like it."""
    return _eigh(a)


@eigh.defjvp
def _eigh_jvp(primals, tangents):
    """jax's rule for distinct eigenvalues: with A = V diag(w) Vᵀ and S = Vᵀ dA V,
    dw = diag(S), dV = V (F ∘ S), F_ij = 1/(w_j − w_i) off the diagonal (0 on it).
    Plain matrix products, so ``grad`` can transpose it (a ``sequential_vmap`` cannot)."""
    (a,), (da,) = primals, tangents
    w, v = eigh(a)
    da = (da + da.T) / 2  # jnp.linalg.eigh symmetrises its input
    eye = jnp.eye(a.shape[-1], dtype=a.dtype)
    f = 1 / (eye + w[None, :] - w[:, None]) - eye
    s = jnp.matmul(v.T, jnp.matmul(da, v, precision="highest"), precision="highest")
    return (w, v), (jnp.diag(s), jnp.matmul(v, f * s, precision="highest"))


def solve(a, b):
    """x with a·x = b (``jnp.linalg.solve``), one system at a time under ``vmap``;
    differentiable in a and b (``lax.custom_linear_solve``, as jnp.linalg.solve is).

    >>> solve(jnp.array([[2.0, 0.0], [0.0, 4.0]]), jnp.array([2.0, 2.0])).tolist()
    [1.0, 0.5]
    """
    return jax.lax.custom_linear_solve(
        lambda x: jnp.matmul(a, x, precision="highest"), b,
        solve=lambda _, y: _solve(a, y), transpose_solve=lambda _, y: _solve(a.T, y))


def orthogonal(key, shape: tuple[int, int], scale=1.0, dtype=jnp.float32):
    """``jax.nn.initializers.orthogonal(scale)(key, shape, dtype)`` (QᵀQ = scale²·I on
    the smaller side), one matrix at a time under ``vmap``.

    >>> w = orthogonal(jax.random.key(0), (4, 3))
    >>> bool(jnp.allclose(w.T @ w, jnp.eye(3), atol=1e-6))
    True
    """
    draw = one_at_a_time(lambda k, s: jax.nn.initializers.orthogonal(scale=s)(k, shape, dtype))
    return draw(key, jnp.asarray(scale, dtype))
