"""gdlab.linalg: the jnp.linalg decompositions, bit for bit, without the batched-LAPACK hang."""

import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gdlab import linalg


def _symmetric(n, batch):
    a = np.random.default_rng(0).normal(size=(batch, n, n))
    return a + np.swapaxes(a, 1, 2)


def test_batched_decompositions_equal_jnp_linalg_bit_for_bit_and_numpy_closely():
    a = _symmetric(9, 6)
    b = np.random.default_rng(1).normal(size=(6, 9))
    w, v = jax.jit(jax.vmap(linalg.eigh))(a)
    w_ref, v_ref = jax.jit(jax.vmap(jnp.linalg.eigh))(a)
    assert np.array_equal(w, w_ref) and np.array_equal(v, v_ref)
    np.testing.assert_allclose(w, np.linalg.eigvalsh(a), rtol=1e-5, atol=1e-5)
    q, r = jax.jit(jax.vmap(linalg.qr))(a)
    q_ref, r_ref = jax.jit(jax.vmap(jnp.linalg.qr))(a)
    assert np.array_equal(q, q_ref) and np.array_equal(r, r_ref)
    x = jax.jit(jax.vmap(linalg.solve))(a, b)
    assert np.array_equal(x, jax.jit(jax.vmap(jnp.linalg.solve))(a, b))
    np.testing.assert_allclose(x, np.linalg.solve(a, b[..., None])[..., 0], rtol=1e-3, atol=1e-4)


def test_eigh_and_solve_differentiate_like_jnp_linalg():
    """Reverse mode through a vmap (what a sequential_vmap alone cannot do), float64,
    against jax's own rules; and an eigenvalue's gradient against finite differences."""
    a = jnp.asarray(_symmetric(6, 4), jnp.float64)
    b = jnp.asarray(np.random.default_rng(1).normal(size=(4, 6)), jnp.float64)

    def objectives(eigh, solve):
        def f(a, b):
            w, v = eigh(a)
            return jnp.sum(w**3) + jnp.sum(jnp.abs(v[:, -1])) + jnp.sum(solve(a, b) ** 2)

        return jax.jit(jax.vmap(jax.grad(f, argnums=(0, 1))))

    ours = objectives(linalg.eigh, linalg.solve)(a, b)
    ref = objectives(jnp.linalg.eigh, jnp.linalg.solve)(a, b)
    for g, r in zip(ours, ref, strict=True):
        np.testing.assert_allclose(g, r, rtol=1e-10, atol=1e-10)
    top = lambda m: float(np.linalg.eigvalsh(m)[-1])  # noqa: E731
    e, h = np.zeros((6, 6)), 1e-6
    e[1, 2] = e[2, 1] = 1.0
    fd = (top(np.asarray(a[0]) + h * e) - top(np.asarray(a[0]) - h * e)) / (2 * h)
    grad = jax.grad(lambda m: linalg.eigh(m)[0][-1])(a[0])
    np.testing.assert_allclose(float(jnp.sum(grad * e)), fd, rtol=1e-6)


SHAPES = ((40, 16), (10, 16))  # tall and wide


@jax.jit
def _orthogonal_both_ways(keys):
    """gdlab.linalg.orthogonal and jax's initializer, vmapped, for every shape (one
    program: an eager vmap would compile each primitive on its own)."""
    ours = [jax.vmap(lambda k, s=s: linalg.orthogonal(k, s, 0.5))(keys) for s in SHAPES]
    jaxs = [jax.vmap(lambda k, s=s: jax.nn.initializers.orthogonal(0.5)(k, s, jnp.float32))(keys)
            for s in SHAPES]
    return ours, jaxs


def test_orthogonal_is_jaxs_initializer_and_orthonormal_on_the_smaller_side():
    ours, jaxs = _orthogonal_both_ways(jax.random.split(jax.random.key(3), 4))
    for shape, w, ref in zip(SHAPES, ours, jaxs, strict=True):
        assert np.array_equal(w, ref), shape
        w = np.asarray(w, np.float64)
        gram = np.swapaxes(w, 1, 2) @ w if shape[0] >= shape[1] else w @ np.swapaxes(w, 1, 2)
        np.testing.assert_allclose(gram, np.broadcast_to(0.25 * np.eye(min(shape)), gram.shape),
                                   atol=1e-6)


def test_a_vmapped_deep_orthogonal_init_finishes():
    """jit(vmap(init)) of a 13-layer orthogonal MLP: 13 independent batched QRs. With
    jnp.linalg.qr (jax.nn.initializers.orthogonal) this hung 3/3 on a 2-core CPU (every
    intra-op pool thread waiting in jaxlib's ParallelBatchMap); in a subprocess so a hang
    is a failure, not a stuck test run."""
    code = textwrap.dedent("""
        import jax
        from gdlab import models
        m = models.mlp([8] + [32] * 12 + [4], activation="tanh", init="orthogonal")
        params = jax.jit(jax.vmap(m.init))(jax.random.split(jax.random.key(0), 8))
        print(len(jax.block_until_ready(params)))
    """)
    try:
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("a vmapped orthogonal init hung (batched LAPACK QRs deadlocked)")
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[-1] == "13"  # layers
