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
small, and a sweep on several devices spreads its lanes instead).

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
    """(Q, R) = ``jnp.linalg.qr(a)`` (reduced), one matrix at a time under ``vmap``."""
    q, r = jnp.linalg.qr(a)
    return q, r


@one_at_a_time
def eigh(a):
    """(eigenvalues ascending, eigenvectors as columns) = ``jnp.linalg.eigh(a)``, one
    matrix at a time under ``vmap``."""
    w, v = jnp.linalg.eigh(a)
    return w, v


@one_at_a_time
def solve(a, b):
    """x with a·x = b (``jnp.linalg.solve``), one system at a time under ``vmap``.

    >>> solve(jnp.array([[2.0, 0.0], [0.0, 4.0]]), jnp.array([2.0, 2.0])).tolist()
    [1.0, 0.5]
    """
    return jnp.linalg.solve(a, b)


def orthogonal(key, shape: tuple[int, int], scale=1.0, dtype=jnp.float32):
    """``jax.nn.initializers.orthogonal(scale)(key, shape, dtype)`` (QᵀQ = scale²·I on
    the smaller side), one matrix at a time under ``vmap``.

    >>> w = orthogonal(jax.random.key(0), (4, 3))
    >>> bool(jnp.allclose(w.T @ w, jnp.eye(3), atol=1e-6))
    True
    """
    draw = one_at_a_time(lambda k, s: jax.nn.initializers.orthogonal(scale=s)(k, shape, dtype))
    return draw(key, jnp.asarray(scale, dtype))
