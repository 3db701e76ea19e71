"""gdlab.curvature against independent references.

References: jax.hessian of the flattened function and central finite differences (for
HVPs), NumPy's eigh / eigvalsh / trace of matrices built as A = Q diag(λ) Qᵀ (for the
eigenvalue, trace and density estimators), and closed forms (Hutchinson's variance).
Everything runs in float64 (conftest) unless a test passes float32 on purpose.
"""


import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _xla import quick_compiles
from jax.flatten_util import ravel_pytree

from gdlab import curvature

# ----------------------------------------------------------------------------- helpers

SHAPES = {"a": (7,), "b": (4, 5), "c": (3, 3)}  # a pytree of n = 36 parameters
N_TREE = 36


def _orthogonal(n, seed):
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(n, n)))
    return q * np.sign(np.diag(r))


def _matrix(eigenvalues, seed=0):
    """A = Q diag(λ) Qᵀ with a random orthogonal Q, as NumPy float64."""
    lam = np.asarray(eigenvalues, dtype=np.float64)
    q = _orthogonal(lam.size, seed)
    return (q * lam) @ q.T


def _tree_quadratic(a):
    """f(x) = ½ zᵀ A z on the flattened dict pytree z = ravel(x): its Hessian is A."""
    a = jnp.asarray(a)
    return lambda x: 0.5 * ravel_pytree(x)[0] @ a @ ravel_pytree(x)[0]


def _zeros_tree(dtype=jnp.float64):
    return {k: jnp.zeros(s, dtype) for k, s in SHAPES.items()}


def _flat_quadratic(a):
    a = jnp.asarray(a)
    return lambda w: 0.5 * w @ a @ w


# Spectra used below (ascending for NumPy comparisons).
RNG = np.random.default_rng(42)
# Pytree problem: separated top and bottom ends, an indefinite middle.
LAM_TREE = np.sort(np.concatenate([[9.0, 7.0, 6.0, -4.0, -3.0], RNG.uniform(-1, 2, N_TREE - 5)]))
A_TREE = _matrix(LAM_TREE, seed=1)
F_TREE = _tree_quadratic(A_TREE)

# Larger problem (n = 300, above DENSE_MAX_SIZE): a bulk plus outliers at both ends.
N_BIG = 300
LAM_BIG = np.sort(
    np.concatenate(
        [
            RNG.uniform(-1.0, -0.2, 120),
            RNG.uniform(0.1, 2.0, 150),
            RNG.uniform(3.0, 6.0, 25),
            [20.0, 15.0, 12.0, -8.0, -6.0],
        ]
    )
)
A_BIG = _matrix(LAM_BIG, seed=2)
F_BIG = _flat_quadratic(A_BIG)
X_BIG = jnp.zeros(N_BIG)

# Indefinite with |λ_min| > λ_max: power iteration must return the negative one.
LAM_NEG = np.sort(np.concatenate([[-10.0, 6.0], np.linspace(-3, 3, 48)]))
F_NEG = _flat_quadratic(_matrix(LAM_NEG, seed=3))
X_NEG = jnp.zeros(50)


def _mlp_problem():
    """A tanh two-layer network with square loss on fixed data: n = 4·6 + 6 + 6·2 + 2 = 44."""
    rng = np.random.default_rng(7)
    params = {
        "w1": jnp.asarray(rng.normal(size=(4, 6)) / 2),
        "b1": jnp.asarray(rng.normal(size=(6,)) / 4),
        "w2": jnp.asarray(rng.normal(size=(6, 2)) / 2),
        "b2": jnp.zeros(2),
    }
    x = jnp.asarray(rng.normal(size=(32, 4)))
    y = jnp.asarray(rng.normal(size=(32, 2)))

    def loss(p, batch):
        bx, by = batch
        h = jnp.tanh(bx @ p["w1"] + p["b1"][None, :])
        return jnp.mean((h @ p["w2"] + p["b2"][None, :] - by) ** 2)

    return params, loss, (x, y)


MLP_PARAMS, MLP_LOSS, MLP_DATA = _mlp_problem()
MLP_F = lambda p: MLP_LOSS(p, MLP_DATA)


def _dense_reference(f, x):
    """Hessian by jax.hessian of the flattened function, as a NumPy array."""
    flat, unravel = ravel_pytree(x)
    return np.asarray(jax.jit(jax.hessian(lambda z: f(unravel(z))))(flat))


H_MLP = _dense_reference(MLP_F, MLP_PARAMS)
V_MLP = jax.tree.map(
    lambda p: jnp.asarray(np.random.default_rng(p.size).normal(size=p.shape)), MLP_PARAMS
)


# ----------------------------------------------------------------------- hvp, hessian


def test_hvp_equals_dense_hessian_times_v_on_a_pytree():
    eps = 1e-5

    @jax.jit  # the HVP and its finite-difference reference: one program
    def hvp_and_gradients(v, d):
        def grad(s):  # ∇f at MLP_PARAMS + s·eps·v, flattened
            moved = jax.tree.map(lambda p, w: p + s * eps * w, MLP_PARAMS, v)
            return ravel_pytree(jax.grad(MLP_LOSS)(moved, d))[0]

        return curvature.hvp(MLP_LOSS, MLP_PARAMS, v, data=d), grad(1.0), grad(-1.0)

    out, plus, minus = hvp_and_gradients(V_MLP, MLP_DATA)
    assert jax.tree.structure(out) == jax.tree.structure(MLP_PARAMS)
    expected = H_MLP @ np.asarray(ravel_pytree(V_MLP)[0])
    np.testing.assert_allclose(ravel_pytree(out)[0], expected, rtol=1e-10, atol=1e-12)
    # and a second, derivative-free reference: central differences of the gradient
    fd = (np.asarray(plus) - np.asarray(minus)) / (2 * eps)
    np.testing.assert_allclose(ravel_pytree(out)[0], fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("batch_size", [None, 5])
def test_hessian_of_a_quadratic_is_its_matrix(batch_size):
    h = curvature.hessian(F_TREE, _zeros_tree(), batch_size=batch_size)
    assert h.shape == (N_TREE, N_TREE) and h.dtype == jnp.float64
    np.testing.assert_allclose(h, A_TREE, atol=1e-12)


# ---------------------------------------------------------- extreme eigenvalues


def test_lanczos_top_and_bottom_on_a_pytree_with_eigenvectors():
    x = _zeros_tree()
    top, vecs = curvature.top_eigenvalues(
        F_TREE, x, k=3, method="lanczos", num_iters=30, return_vectors=True
    )
    np.testing.assert_allclose(top, LAM_TREE[::-1][:3], rtol=1e-9)
    assert jax.tree.structure(vecs) == jax.tree.structure(x)
    assert vecs["b"].shape == (3, 4, 5)
    # (3, n) rows in ravel_pytree's order (sorted keys, row-major), by NumPy
    flat = np.concatenate([np.asarray(vecs[k]).reshape(3, -1) for k in sorted(vecs)], axis=1)
    np.testing.assert_allclose(flat @ flat.T, np.eye(3), atol=1e-8)  # orthonormal
    np.testing.assert_allclose(flat @ A_TREE, top[:, None] * flat, atol=1e-6)  # A u = λ u

    bottom = curvature.bottom_eigenvalues(F_TREE, x, k=2, method="lanczos", num_iters=30)
    np.testing.assert_allclose(bottom, LAM_TREE[:2], rtol=1e-9)  # -4, -3: ascending


def test_dense_method_gives_the_whole_spectrum():
    values = curvature.top_eigenvalues(F_TREE, _zeros_tree(), k=N_TREE, method="dense")
    np.testing.assert_allclose(values, np.linalg.eigvalsh(A_TREE)[::-1], atol=1e-10)


def test_lanczos_recovers_both_ends_of_a_large_spectrum():
    # 60 steps recover the separated ends of a 300-dimensional spectrum
    top = curvature.top_eigenvalues(F_BIG, X_BIG, k=3, method="lanczos", num_iters=60)
    np.testing.assert_allclose(top, [20.0, 15.0, 12.0], rtol=1e-8)
    bottom = curvature.bottom_eigenvalues(F_BIG, X_BIG, k=2, method="lanczos", num_iters=60)
    np.testing.assert_allclose(bottom, [-8.0, -6.0], rtol=1e-8)


def test_lanczos_survives_invariant_subspaces_and_compiles_once_per_function():
    # three distinct eigenvalues: the Krylov space is exhausted after 3 steps, twice,
    # so only restarts recover the multiplicities
    a = jnp.asarray(_matrix([5.0, 5.0, 3.0, 3.0, 3.0] + [1.0] * 15, seed=6))
    traces = []

    def f(w):
        traces.append(None)
        return 0.5 * w @ a @ w

    top = curvature.top_eigenvalues(f, jnp.zeros(20), k=5, method="lanczos", num_iters=12)
    np.testing.assert_allclose(top, [5, 5, 3, 3, 3], rtol=1e-9)
    first = len(traces)
    # another point, another key, the other end of the spectrum: no retracing
    bottom = curvature.bottom_eigenvalues(
        f, jnp.ones(20), k=3, key=jax.random.key(9), method="lanczos", num_iters=12
    )
    np.testing.assert_allclose(bottom, [1, 1, 1], rtol=1e-9)
    assert len(traces) == first


def test_power_iteration_finds_the_largest_magnitude_even_when_negative():
    res = curvature.power_iteration(F_NEG, X_NEG, key=jax.random.key(1), num_iters=500, tol=1e-10)
    np.testing.assert_allclose(res.value, -10.0, rtol=1e-9)
    assert float(res.residual) <= 1e-10 and 1 < int(res.num_iters) < 500
    # ... whereas the sharpness is the largest algebraic eigenvalue
    np.testing.assert_allclose(curvature.sharpness(F_NEG, X_NEG, method="lanczos"), 6.0, rtol=1e-9)
    bottom = curvature.bottom_eigenvalues(F_NEG, X_NEG, k=2, method="lanczos")
    np.testing.assert_allclose(bottom, [-10.0, -3.0], rtol=1e-9)


def test_power_iteration_on_a_positive_dominant_spectrum_and_a_pytree():
    res = curvature.power_iteration(F_TREE, _zeros_tree(), key=jax.random.key(2), num_iters=2000)
    np.testing.assert_allclose(res.value, 9.0, rtol=1e-9)
    u = np.asarray(ravel_pytree(res.vector)[0])
    np.testing.assert_allclose(abs(u @ np.linalg.eigh(A_TREE)[1][:, -1]), 1.0, atol=1e-5)


def test_sharpness_of_a_tanh_mlp_equals_dense_eigvalsh():
    expected = np.linalg.eigvalsh(H_MLP).max()
    got = curvature.sharpness(MLP_LOSS, MLP_PARAMS, method="lanczos", num_iters=30,
                              data=MLP_DATA)
    np.testing.assert_allclose(got, expected, rtol=1e-9)


# 15 programs (3 per estimator), each run once; the check (bound and passed data agree,
# nothing recompiles) does not depend on how well XLA optimised, both sides compiled alike
@quick_compiles()
def test_data_is_an_argument_new_data_reuses_the_compilation(xla_compilations):
    # every estimator with data=: the same numbers as with the data bound by hand, and a
    # second data set of the same shapes compiles nothing new (closed-over data would)
    x, y = MLP_DATA
    other = (x[::-1] * 0.5, y[::-1])
    key = jax.random.key(0)
    calls = {
        "hessian": lambda f, **kw: curvature.hessian(f, MLP_PARAMS, **kw),
        # num_iters as in the sharpness test above: a worker that ran it compiled this
        "top": lambda f, **kw: curvature.top_eigenvalues(f, MLP_PARAMS, 2, method="lanczos",
                                                         num_iters=30, **kw),
        "power": lambda f, **kw: curvature.power_iteration(f, MLP_PARAMS, num_iters=20, **kw),
        "trace": lambda f, **kw: curvature.hutchinson_trace(f, MLP_PARAMS, key=key,
                                                            num_samples=4, **kw),
        "density": lambda f, **kw: curvature.spectral_density(f, MLP_PARAMS, key=key, **kw),
    }
    for name, call in calls.items():
        for data in (MLP_DATA, other):
            bound = jax.tree.leaves(call(lambda p, data=data: MLP_LOSS(p, data)))
            passed = jax.tree.leaves(call(MLP_LOSS, data=data))
            for a, b in zip(bound, passed, strict=True):
                np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12, err_msg=name)
    with xla_compilations() as compiled:
        for call in calls.values():
            call(MLP_LOSS, data=(x * 2.0, y))
    assert compiled == []


def test_batched_loss_has_the_full_data_curvature():
    x, y = MLP_DATA
    batches = (x.reshape(4, 8, 4), y.reshape(4, 8, 2))
    f = curvature.batched(MLP_LOSS)
    assert curvature.batched(MLP_LOSS) is f  # one function per f_batch: compiles once
    # the batched and the full-batch loss and the HVP: one program, the data arguments
    value, full, out = jax.jit(lambda v, d, whole: (
        f(MLP_PARAMS, d), MLP_LOSS(MLP_PARAMS, whole), curvature.hvp(f, MLP_PARAMS, v, data=d)
    ))(V_MLP, batches, MLP_DATA)
    np.testing.assert_allclose(value, full, rtol=1e-12)
    expected = H_MLP @ np.asarray(ravel_pytree(V_MLP)[0])
    np.testing.assert_allclose(ravel_pytree(out)[0], expected, rtol=1e-10)
    got = curvature.sharpness(f, MLP_PARAMS, method="dense", data=batches)
    np.testing.assert_allclose(got, np.linalg.eigvalsh(H_MLP).max(), rtol=1e-9)
    with pytest.raises(ValueError, match="leading"):
        f(MLP_PARAMS, (x.reshape(4, 8, 4), y))


def test_batched_hvp_holds_one_batch_of_activations():
    # XLA's memory analysis: the HVP of the batched loss needs a fraction of the memory
    # of the full-batch one (16 batches: activations of one batch at a time)
    rng = np.random.default_rng(8)
    x, y = jnp.asarray(rng.normal(size=(4096, 4))), jnp.asarray(rng.normal(size=(4096, 2)))
    batches = (x.reshape(16, 256, 4), y.reshape(16, 256, 2))

    def temp_bytes(f, data):
        hvp = jax.jit(lambda p, v, d: curvature.hvp(f, p, v, data=d))
        return hvp.lower(MLP_PARAMS, V_MLP, data).compile().memory_analysis().temp_size_in_bytes

    assert temp_bytes(curvature.batched(MLP_LOSS), batches) < temp_bytes(MLP_LOSS, (x, y)) / 4


# ------------------------------------------------------------- trace and density


def test_hutchinson_trace_within_four_standard_errors():
    m = 400
    est = curvature.hutchinson_trace(F_BIG, X_BIG, key=jax.random.key(3), num_samples=m)
    trace, stderr = float(est.trace), float(est.stderr)  # Python floats: no eager jax ops
    assert abs(trace - np.trace(A_BIG)) <= 4 * stderr
    # the standard error matches the closed-form variance 2 Σ_{i≠j} A_ij² of one probe
    off = A_BIG - np.diag(np.diag(A_BIG))
    assert 0.8 < stderr / np.sqrt(2 * np.sum(off**2) / m) < 1.25


def test_hutchinson_is_exact_for_a_diagonal_hessian():
    d = np.arange(1.0, 11.0)
    est = curvature.hutchinson_trace(
        _flat_quadratic(np.diag(d)), jnp.zeros(10), key=jax.random.key(4)
    )
    np.testing.assert_allclose(est.trace, d.sum(), rtol=1e-12)
    assert est.stderr == 0.0


def test_slq_density_integrates_to_one_and_matches_a_dense_histogram():
    sd = curvature.spectral_density(
        F_BIG, X_BIG, key=jax.random.key(5), num_probes=10, num_iters=60, method="lanczos"
    )
    assert sd.nodes.shape == sd.weights.shape == (10, 60) and sd.grid.shape == (512,)
    # NumPy from here on (eager jax ops on new shapes would each compile)
    nodes, weights, grid, density = map(np.asarray, (sd.nodes, sd.weights, sd.grid, sd.density))
    np.testing.assert_allclose(np.trapezoid(density, grid), 1.0, atol=1e-3)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=1e-10)
    assert nodes.min() >= LAM_BIG.min() - 1e-8 and nodes.max() <= LAM_BIG.max() + 1e-8
    # mass of the broadened density below thresholds in the gaps and inside a bulk
    cdf = np.concatenate([[0.0], np.cumsum(np.diff(grid) * (density[1:] + density[:-1]) / 2)])
    for threshold in (-0.6, 0.0, 1.0, 2.5, 8.0):
        estimated = np.interp(threshold, grid, cdf)
        assert abs(estimated - np.mean(LAM_BIG < threshold)) < 0.05, threshold
    # and the raw quadrature gives the fraction of negative eigenvalues
    negative = np.mean(np.sum(weights * (nodes < 0), axis=1))
    assert abs(negative - np.mean(LAM_BIG < 0)) < 0.05


def test_dense_density_is_the_exact_histogram_broadened():
    grid = np.linspace(-12.0, 14.0, 2001)
    sd = curvature.spectral_density(
        F_TREE, _zeros_tree(), key=jax.random.key(0), grid=grid, sigma=0.05
    )
    np.testing.assert_allclose(sd.nodes[0], np.linalg.eigvalsh(A_TREE), atol=1e-10)
    np.testing.assert_allclose(np.trapezoid(sd.density, grid), 1.0, atol=1e-6)
    in_bins = [
        np.trapezoid(np.where((grid >= lo) & (grid < hi), sd.density, 0), grid)
        for lo, hi in ((-5, -2.5), (5.5, 10))
    ]
    np.testing.assert_allclose(in_bins, [2 / N_TREE, 3 / N_TREE], atol=0.01)


# --------------------------------------------------------- dtypes, compilation


def test_float32_in_float32_out_and_float64_keeps_its_digits():
    x32 = _zeros_tree(jnp.float32)
    f32 = _tree_quadratic(A_TREE.astype(np.float32))
    values, vecs = curvature.top_eigenvalues(
        f32, x32, k=2, method="lanczos", num_iters=30, return_vectors=True
    )
    assert values.dtype == jnp.float32 and all(
        v.dtype == jnp.float32 for v in jax.tree.leaves(vecs)
    )
    np.testing.assert_allclose(values, [9.0, 7.0], rtol=1e-4)
    # the other estimators, traced only (eval_shape: dtypes without compiling)
    key = jax.random.key(0)
    outputs = jax.eval_shape(
        lambda x: (
            curvature.hutchinson_trace(f32, x, key=key),
            curvature.spectral_density(f32, x, key=key, method="lanczos", num_iters=8),
            curvature.power_iteration(f32, x).value,
            curvature.hessian(f32, x),
        ),
        x32,
    )
    assert {leaf.dtype for leaf in jax.tree.leaves(outputs)} == {jnp.dtype(jnp.float32)}
    top64 = curvature.top_eigenvalues(F_TREE, _zeros_tree(), k=1, method="lanczos", num_iters=30)
    assert top64.dtype == jnp.float64 and abs(top64[0] - 9.0) < 1e-12  # beyond float32


def test_usable_under_an_outer_jit():
    jitted = jax.jit(lambda w: curvature.sharpness(F_NEG, w))
    np.testing.assert_allclose(jitted(X_NEG), 6.0, rtol=1e-9)


# ---------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: curvature.top_eigenvalues(F_NEG, X_NEG, k=51), "k=51"),
        (lambda: curvature.top_eigenvalues(F_NEG, X_NEG, k=0), "k=0"),
        (
            lambda: curvature.top_eigenvalues(F_NEG, X_NEG, k=5, method="lanczos", num_iters=4),
            "num_iters=4",
        ),
        (
            lambda: curvature.bottom_eigenvalues(F_NEG, X_NEG, method="lanczos", num_iters=51),
            "exceeds",
        ),
        (lambda: curvature.sharpness(F_NEG, X_NEG, method="arnoldi"), "auto, dense, lanczos"),
        (lambda: curvature.power_iteration(F_NEG, X_NEG, num_iters=0), "num_iters"),
        (lambda: curvature.power_iteration(F_NEG, X_NEG, tol=-1.0), "tol"),
        (
            lambda: curvature.hutchinson_trace(F_NEG, X_NEG, key=jax.random.key(0), num_samples=1),
            "num_samples",
        ),
        (
            lambda: curvature.spectral_density(F_NEG, X_NEG, key=jax.random.key(0), sigma=0.0),
            "sigma",
        ),
        (
            lambda: curvature.spectral_density(F_NEG, X_NEG, key=jax.random.key(0), num_probes=0),
            "num_probes",
        ),
        (
            lambda: curvature.spectral_density(
                F_NEG, X_NEG, key=jax.random.key(0), grid=np.ones((2, 2))
            ),
            "grid",
        ),
        (lambda: curvature.hessian(F_NEG, X_NEG, batch_size=0), "batch_size"),
        (lambda: curvature.batched(MLP_LOSS)(MLP_PARAMS, []), "leading"),
        (lambda: curvature.batched(MLP_LOSS)(MLP_PARAMS, (jnp.ones((4, 2)), jnp.ones((3, 2)))),
         "leading"),
    ],
)
def test_bad_input_raises_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()
