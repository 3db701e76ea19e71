"""Models against NumPy forward passes, closed-form derivatives and init statistics."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.experimental import jet

from gdlab import models

RNG = np.random.default_rng(0)


# --------------------------------------------------------------------------- numpy reference

NP_ACT = {
    "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)),
    "tanh": np.tanh,
    "relu": lambda z: np.maximum(z, 0.0),
    "linear": lambda z: z,
}


def np_forward(params, x, activation, residual=False, normalize=False):
    """Plain NumPy MLP: returns (output, hidden list)."""
    h, hidden = np.asarray(x, np.float64), []
    for layer in params[:-1]:
        w, b = np.asarray(layer["w"]), np.asarray(layer["b"])
        z = h @ w + b
        if normalize:
            mu = z.mean(-1, keepdims=True)
            z = (z - mu) / np.sqrt(((z - mu) ** 2).mean(-1, keepdims=True) + 1e-5)
        a = NP_ACT[activation](z)
        h = h + a if residual and w.shape[0] == w.shape[1] else a
        hidden.append(h)
    return h @ np.asarray(params[-1]["w"]) + np.asarray(params[-1]["b"]), hidden


def random_params(sizes, rng=RNG):
    """Parameters drawn by NumPy (non-zero biases), independent of mlp's init."""
    return [
        {
            "w": jnp.asarray(rng.normal(size=(a, b)) / math.sqrt(a)),
            "b": jnp.asarray(rng.normal(size=b)),
        }
        for a, b in zip(sizes[:-1], sizes[1:], strict=True)
    ]


# --------------------------------------------------------------------------- linear neuron


def test_linear_neuron_is_input_times_weight():
    m = models.linear_neuron()
    w = m.init(jax.random.key(0))
    assert w.shape == () and w.dtype == jnp.float64 and float(w) == 0.5
    x = RNG.normal(size=7)
    np.testing.assert_allclose(m.apply(jnp.asarray(-1.3), x), -1.3 * x, rtol=1e-15)
    w32 = models.linear_neuron(weight=2.0, dtype=jnp.float32).init(None)
    assert w32.dtype == jnp.float32 and float(w32) == 2.0


# --------------------------------------------------------------------------- deep chain


def test_deep_chain_is_x_times_product_of_weights():
    depth = 6
    m = models.deep_chain(depth)
    w = RNG.uniform(0.5, 1.5, size=depth)
    x = RNG.normal(size=(3, 4))
    np.testing.assert_allclose(m.apply(jnp.asarray(w), jnp.asarray(x)), x * np.prod(w), rtol=1e-14)


def test_deep_chain_init_and_gradient_closed_form():
    m = models.deep_chain(5, scale=0.8)
    w0 = m.init(jax.random.key(0))
    assert w0.shape == (5,) and w0.dtype == jnp.float64
    np.testing.assert_array_equal(w0, np.full(5, 0.8))
    # ∂ŷ/∂w_i = x · ∏_{j≠i} w_j
    w = RNG.uniform(0.5, 1.5, size=5)
    x = 1.7
    expected = [x * np.prod(np.delete(w, i)) for i in range(5)]
    np.testing.assert_allclose(jax.jit(jax.grad(m.apply))(jnp.asarray(w), x), expected, rtol=1e-14)
    noisy = models.deep_chain(5, scale=0.8, noise=0.1).init(jax.random.key(1))
    assert not np.allclose(noisy, 0.8) and np.all(np.abs(noisy - 0.8) < 0.6)


def test_deep_chain_works_with_jet():
    """f(t) = x (s + t)^L along d = 1: the k-th derivative is x L!/(L−k)! s^(L−k)."""
    depth, s, x = 4, 0.9, 2.0
    m = models.deep_chain(depth, scale=s)
    w = m.init(None)
    f = lambda t: m.apply(w + t, x)
    primal, series = jet.jet(f, (0.0,), ((1.0, 0.0, 0.0, 0.0),))
    expected = [x * math.perm(depth, k) * s ** (depth - k) for k in range(1, 5)]
    np.testing.assert_allclose(primal, x * s**depth, rtol=1e-14)
    np.testing.assert_allclose(series, expected, rtol=1e-13)


@pytest.mark.parametrize("depth", [0, -1, 2.0, True])
def test_deep_chain_rejects_bad_depth(depth):
    with pytest.raises(ValueError, match="depth"):
        models.deep_chain(depth)


# --------------------------------------------------------------------------- mlp: forward


@pytest.mark.parametrize("activation", models.ACTIVATIONS)
def test_mlp_matches_numpy_forward(activation):
    sizes = [5, 7, 7, 3]
    params = random_params(sizes)
    x = RNG.normal(size=(4, 5))
    m = models.mlp(sizes, activation=activation)
    np.testing.assert_allclose(
        m.apply(params, jnp.asarray(x)),
        np_forward(params, x, activation)[0],
        rtol=1e-12,
        atol=1e-13,
    )


@pytest.mark.parametrize("residual, normalize", [(True, False), (False, True), (True, True)])
def test_mlp_remedies_match_numpy(residual, normalize):
    sizes = [4, 6, 6, 6, 2]
    params = random_params(sizes)
    x = RNG.normal(size=(3, 4))
    m = models.mlp(sizes, "tanh", residual=residual, normalize=normalize)
    expected = np_forward(params, x, "tanh", residual=residual, normalize=normalize)[0]
    np.testing.assert_allclose(m.apply(params, jnp.asarray(x)), expected, rtol=1e-12, atol=1e-13)
    # the remedy changes the function (so the test could fail)
    plain = np_forward(params, x, "tanh")[0]
    assert not np.allclose(expected, plain)


def test_mlp_shapes_single_and_batched():
    m = models.mlp([40, 16, 10])
    shapes = jax.eval_shape(m.init, jax.random.key(0))  # shapes only: nothing to compile
    assert [(p["w"].shape, p["b"].shape) for p in shapes] == [((40, 16), (16,)), ((16, 10), (10,))]
    assert all(leaf.dtype == jnp.float64 for leaf in jax.tree.leaves(shapes))
    params, apply = random_params([40, 16, 10]), jax.jit(m.apply)
    x = RNG.normal(size=(2, 3, 40))
    single, batched = apply(params, jnp.asarray(x[1, 2])), apply(params, jnp.asarray(x))
    assert single.shape == (10,) and batched.shape == (2, 3, 10)
    # batched entries equal single-example calls
    np.testing.assert_allclose(batched[1, 2], single, rtol=1e-13)


def test_mlp_dtype_float32_explicit():
    m = models.mlp([4, 8, 2], dtype=jnp.float32)
    params = jax.eval_shape(m.init, jax.random.key(0))
    assert all(leaf.dtype == jnp.float32 for leaf in jax.tree.leaves(params))
    assert jax.eval_shape(m.apply, params, jnp.ones(4, jnp.float32)).dtype == jnp.float32
    # dtypes follow the inputs: float32 params with float64 input give float64
    assert jax.eval_shape(m.apply, params, jnp.ones(4)).dtype == jnp.float64


def test_mlp_forward_returns_hidden_layers():
    sizes = [3, 5, 4, 2]
    params = random_params(sizes)
    x = RNG.normal(size=(6, 3))
    out, hidden = models.mlp_forward(params, jnp.asarray(x), activation="sigmoid")
    ref_out, ref_hidden = np_forward(params, x, "sigmoid")
    assert [h.shape for h in hidden] == [(6, 5), (6, 4)]
    for h, r in zip(hidden, ref_hidden, strict=True):
        np.testing.assert_allclose(h, r, rtol=1e-13)
    np.testing.assert_allclose(out, ref_out, rtol=1e-12)
    _, none = models.mlp_forward(random_params([3, 2]), jnp.ones(3))
    assert none == []


def test_mlp_relu_works_with_jet():
    """jet through a relu network: first coefficient = directional derivative (jvp),
    second = central second difference of f(t) = loss(params + t·d).

    f is piecewise quadratic in t, so the differences are exact unless a relu kink lies
    within ±h: the draws come from a generator of this test's own (the module's shared one
    depends on which tests ran first in the worker, and one order put a kink there)."""
    rng = np.random.default_rng(7)
    m = models.mlp([3, 6, 6, 1], "relu")
    params = random_params([3, 6, 6, 1], rng)
    x = jnp.asarray(rng.normal(size=(5, 3)))
    d = jax.tree.map(lambda a: jnp.asarray(rng.normal(size=a.shape)), params)
    f = jax.jit(lambda t: jnp.sum(m.apply(jax.tree.map(lambda p, v: p + t * v, params, d), x) ** 2))
    _, (d1, d2) = jax.jit(lambda: jet.jet(f, (0.0,), ((1.0, 0.0),)))()
    h = 1e-4
    np.testing.assert_allclose(d1, (f(h) - f(-h)) / (2 * h), rtol=1e-6)
    np.testing.assert_allclose(d2, (f(h) - 2 * f(0.0) + f(-h)) / h**2, rtol=1e-4)


# --------------------------------------------------------------------------- mlp: init


def sample_var_tol(var, n, sigmas=5.0):
    """Tolerance on a sample variance of n normal draws: sd = var·sqrt(2/n)."""
    return sigmas * var * math.sqrt(2.0 / n)


@pytest.mark.parametrize(
    "init, scale, var",
    [
        ("normal", 0.3, 0.3**2),
        ("xavier", 1.0, 2.0 / (400 + 600)),
        ("xavier", 2.0, 4.0 * 2.0 / (400 + 600)),
        ("he", 1.0, 2.0 / 400),
    ],
)
def test_init_variance(init, scale, var):
    fan_in, fan_out = 400, 600
    w = np.asarray(models.init_weight(fan_in, fan_out, init, key=jax.random.key(3), scale=scale))
    n = w.size
    assert abs(w.mean()) < 5 * math.sqrt(var / n)
    assert abs(w.var() - var) < sample_var_tol(var, n)


def test_mlp_uses_init_rule_and_distinct_layer_keys():
    m = models.mlp([400, 600, 400, 600], "relu", "he")
    p = m.init(jax.random.key(0))
    w0, w2 = np.asarray(p[0]["w"]), np.asarray(p[2]["w"])
    assert abs(w0.var() - 2 / 400) < sample_var_tol(2 / 400, w0.size)
    assert not np.allclose(w0, w2)  # same shape, different keys
    assert all(np.all(np.asarray(layer["b"]) == 0) for layer in p)


@pytest.mark.parametrize("shape", [(300, 200), (200, 300)])
def test_orthogonal_init(shape):
    gain = 1.7
    w = np.asarray(models.init_weight(*shape, "orthogonal", key=jax.random.key(0), scale=gain))
    gram = w.T @ w if shape[0] >= shape[1] else w @ w.T
    np.testing.assert_allclose(gram, gain**2 * np.eye(min(shape)), atol=1e-12)


# --------------------------------------------------------------------------- bad input


def test_bad_names_list_valid_ones():
    with pytest.raises(ValueError, match="tanh"):
        models.mlp([2, 2], activation="swish")
    with pytest.raises(ValueError, match="xavier"):
        models.mlp([2, 2], init="lecun")
    with pytest.raises(ValueError, match="orthogonal"):
        models.init_weight(2, 2, "zeros", key=jax.random.key(0))
    with pytest.raises(ValueError, match="relu"):
        models.get_activation("gelu")


@pytest.mark.parametrize("sizes", [[3], [], [3, 0], [3, 2.5]])
def test_bad_sizes(sizes):
    with pytest.raises(ValueError, match="sizes"):
        models.mlp(sizes)


def test_bad_input_shape():
    m = models.mlp([4, 3])
    with pytest.raises(ValueError, match=r"\(\.\.\., 4\)"):
        m.apply(random_params([4, 3]), jnp.ones(5))


def test_bad_dtype():
    with pytest.raises(ValueError, match="floating"):
        models.mlp([2, 2], dtype=jnp.int32).init(jax.random.key(0))
