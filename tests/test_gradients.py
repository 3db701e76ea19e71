"""gdlab.gradients against NumPy, hand-written backpropagation and closed forms (the
vanishing_gradients experiment's own tests are in test_vanishing_gradients.py)."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gdlab import gradients, losses, models

RNG = np.random.default_rng(0)


def random_tree(dtype=np.float64):
    return {
        "a": jnp.asarray(RNG.normal(size=(3, 4)), dtype),
        "b": [jnp.asarray(RNG.normal(size=5), dtype), jnp.asarray(RNG.normal(), dtype)],
    }


def pairs(sizes):
    return zip(sizes[:-1], sizes[1:], strict=True)


def flat(tree) -> np.ndarray:
    return np.concatenate([np.ravel(np.asarray(x, np.float64)) for x in jax.tree.leaves(tree)])


# --------------------------------------------------------------------------- norm and cosine


def test_norm_matches_numpy_and_survives_underflow_and_overflow():
    norm = jax.jit(gradients.norm)
    tree = random_tree()
    np.testing.assert_allclose(norm(tree), np.linalg.norm(flat(tree)), rtol=1e-14)
    tiny = jnp.array([3e-30, 4e-30], jnp.float32)
    assert float(jnp.sqrt(jnp.sum(tiny**2))) == 0.0  # the naive norm underflows ...
    np.testing.assert_allclose(norm(tiny), 5e-30, rtol=1e-6)  # ... this one does not
    huge = jnp.array([3e30, 4e30], jnp.float32)
    assert not np.isfinite(float(jnp.sqrt(jnp.sum(huge**2))))
    np.testing.assert_allclose(norm(huge), 5e30, rtol=1e-6)
    assert norm(tiny).dtype == jnp.float32
    assert float(norm([jnp.zeros(3), jnp.zeros((2, 2))])) == 0.0
    with pytest.raises(ValueError, match="empty"):
        gradients.norm({})


def test_cosine_matches_numpy_and_its_special_values():
    a, b = random_tree(), random_tree()
    fa, fb = flat(a), flat(b)
    expected = fa @ fb / (np.linalg.norm(fa) * np.linalg.norm(fb))
    cos = jax.jit(gradients.cosine)
    np.testing.assert_allclose(cos(a, b), expected, rtol=1e-13)
    np.testing.assert_allclose(cos(a, a), 1.0, rtol=1e-15)
    np.testing.assert_allclose(cos(a, jax.tree.map(lambda x: -3 * x, a)), -1.0, rtol=1e-15)
    assert float(cos([jnp.array([1.0, 0.0])], [jnp.array([0.0, 2.0])])) == 0.0
    assert float(cos(a, jax.tree.map(jnp.zeros_like, a))) == 0.0  # no direction
    np.testing.assert_allclose(
        cos([jnp.array([1.0, 0.0])], [jnp.array([1.0, 1.0])]), 1 / math.sqrt(2)
    )


def test_cosine_of_tiny_float32_trees_keeps_the_direction():
    a, b = random_tree(np.float32), random_tree(np.float32)
    expected = flat(a) @ flat(b) / (np.linalg.norm(flat(a)) * np.linalg.norm(flat(b)))
    tiny = jax.tree.map(lambda x: x * np.float32(1e-30), a)
    squares = sum(float(jnp.sum(jnp.square(x))) for x in jax.tree.leaves(tiny))
    assert squares == 0.0  # the naive formula would divide 0 by 0
    cos = jax.jit(gradients.cosine)(tiny, b)
    np.testing.assert_allclose(cos, expected, rtol=1e-5)
    assert cos.dtype == jnp.float32


def test_cosine_rejects_mismatched_trees():
    with pytest.raises(ValueError, match="structure"):
        gradients.cosine([jnp.ones(2)], {"a": jnp.ones(2)})
    with pytest.raises(ValueError, match="shapes"):
        gradients.cosine([jnp.ones(2)], [jnp.ones(3)])


# --------------------------------------------------------------------------- layer statistics


def test_layer_stats_against_numpy():
    layers = [
        {"w": RNG.normal(size=(4, 3)), "b": np.zeros(3)},
        {"w": RNG.normal(size=(3, 3)) * 1e-3, "b": RNG.normal(size=3)},
        {"w": np.where(RNG.random((3, 2)) < 0.5, 0.0, RNG.normal(size=(3, 2))), "b": np.ones(2)},
    ]
    tree = jax.tree.map(jnp.asarray, layers)
    layer_stats = jax.jit(gradients.layer_stats)
    s = layer_stats(tree)
    for i, layer in enumerate(layers):
        v = np.concatenate([layer["b"].ravel(), layer["w"].ravel()])
        np.testing.assert_allclose(s.norm[i], np.linalg.norm(v), rtol=1e-14)
        np.testing.assert_allclose(s.rms[i], np.sqrt(np.mean(v**2)), rtol=1e-14)
        np.testing.assert_allclose(s.max_abs[i], np.max(np.abs(v)), rtol=0)
        np.testing.assert_allclose(s.zero_fraction[i], np.mean(v == 0), rtol=0)
        assert int(s.size[i]) == v.size
    assert float(s.zero_fraction[0]) == 3 / 15  # the zero bias
    f32 = layer_stats([jnp.ones(2, jnp.float32), jnp.zeros(3, jnp.float32)])
    assert f32.norm.dtype == jnp.float32 and list(np.asarray(f32.zero_fraction)) == [0.0, 1.0]
    one = layer_stats(jnp.array([3.0, 4.0]))  # a lone array is one layer
    assert one.norm.shape == (1,) and float(one.norm[0]) == 5.0
    by_name = layer_stats({"first": jnp.ones(4), "second": jnp.zeros(1)})
    assert list(np.asarray(by_name.norm)) == [2.0, 0.0]


# --------------------------------------------------------------------------- error signals


def numpy_backprop(params, x, y, num_classes):
    """δ_ℓ = ∂L/∂z_ℓ for a tanh MLP and the mean softmax cross entropy, by hand."""
    ws = [np.asarray(p["w"]) for p in params]
    bs = [np.asarray(p["b"]) for p in params]
    hs, h = [x], x
    for w, b in zip(ws[:-1], bs[:-1], strict=True):
        h = np.tanh(h @ w + b)
        hs.append(h)
    logits = h @ ws[-1] + bs[-1]
    p = np.exp(logits - logits.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    delta = (p - np.eye(num_classes)[y]) / len(x)  # ∂ mean CE / ∂ logits
    deltas = [delta]
    for ell in range(len(ws) - 2, -1, -1):
        delta = (delta @ ws[ell + 1].T) * (1 - hs[ell + 1] ** 2)
        deltas.insert(0, delta)
    return deltas, hs


def test_error_signals_match_hand_written_backprop():
    sizes = [5, 7, 6, 4]
    m = models.mlp(sizes, "tanh")
    params = [{"w": jnp.asarray(RNG.normal(size=(a, b)) / math.sqrt(a)),
               "b": jnp.asarray(RNG.normal(size=b) * 0.1)} for a, b in pairs(sizes)]
    x, y = RNG.normal(size=(9, 5)), RNG.integers(0, 4, size=9)
    data = {"x": jnp.asarray(x), "y": jnp.asarray(y)}
    signals = jax.jit(gradients.error_signals, static_argnums=(0, 1))
    deltas = signals(m.apply, losses.softmax_cross_entropy, params, data)
    expected, hs = numpy_backprop(params, x, y, 4)
    assert [d.shape for d in deltas] == [(9, 7), (9, 6), (9, 4)]
    for d, e in zip(deltas, expected, strict=True):
        np.testing.assert_allclose(d, e, rtol=1e-10, atol=1e-15)
    # and the textbook identities: ∇b_ℓ = Σ_i δ_ℓ[i], ∇W_ℓ = h_{ℓ−1}ᵀ δ_ℓ
    grads = jax.jit(jax.grad(losses.objective(m.apply, losses.softmax_cross_entropy)))(params,
                                                                                        data)
    for g, d, h in zip(grads, expected, hs, strict=True):
        np.testing.assert_allclose(g["b"], d.sum(0), rtol=1e-10, atol=1e-15)
        np.testing.assert_allclose(g["w"], h.T @ d, rtol=1e-10, atol=1e-15)


def test_error_signals_divide_by_every_entry_of_a_vector_loss():
    """L = mean over examples AND outputs of ½(pred − y)²: δ_out = (pred − y) / (N·K)."""
    m = models.mlp([3, 2], "linear")
    params = [{"w": jnp.asarray(RNG.normal(size=(3, 2))), "b": jnp.asarray(RNG.normal(size=2))}]
    x, y = RNG.normal(size=(6, 3)), RNG.normal(size=(6, 2))
    (delta,) = gradients.error_signals(m.apply, losses.half_squared_error, params,
                                       {"x": jnp.asarray(x), "y": jnp.asarray(y)})
    pred = x @ np.asarray(params[0]["w"]) + np.asarray(params[0]["b"])
    np.testing.assert_allclose(delta, (pred - y) / 12, rtol=1e-12)


def test_error_signals_rejects_non_mlp_params():
    with pytest.raises(ValueError, match="mlp"):
        gradients.error_signals(lambda p, x: x, losses.squared_error, jnp.ones(3),
                                {"x": jnp.ones((2, 3)), "y": jnp.ones((2, 3))})
    m = models.mlp([2, 2])
    with pytest.raises(ValueError, match="'x' and 'y'"):
        gradients.error_signals(m.apply, losses.squared_error, m.init(jax.random.key(0)), {})


# --------------------------------------------------------------------------- activations


STATIC = ("activation", "residual", "normalize", "threshold")


def test_activation_stats_against_numpy():
    sizes = [4, 6, 6, 6, 3]
    params = [{"w": jnp.asarray(RNG.normal(size=(a, b)) * 2.0),
               "b": jnp.asarray(RNG.normal(size=b))} for a, b in pairs(sizes)]
    x = RNG.normal(size=(50, 4))
    sigmoid = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    for activation, residual, slope in [
        ("sigmoid", False, lambda z: 4 * sigmoid(z) * (1 - sigmoid(z))),
        ("tanh", True, lambda z: 1 - np.tanh(z) ** 2),
        ("relu", False, lambda z: (z > 0).astype(float)),
    ]:
        act = {"sigmoid": sigmoid, "tanh": np.tanh, "relu": lambda z: np.maximum(z, 0)}[activation]
        s = jax.jit(gradients.activation_stats, static_argnames=STATIC)(
            params, jnp.asarray(x), activation=activation, residual=residual, threshold=0.2)
        h = x
        for i, layer in enumerate(params[:-1]):
            w, b = np.asarray(layer["w"]), np.asarray(layer["b"])
            z = h @ w + b
            h = h + act(z) if residual and w.shape[0] == w.shape[1] else act(z)
            np.testing.assert_allclose(s.mean[i], h.mean(), rtol=1e-12)
            np.testing.assert_allclose(s.std[i], h.std(), rtol=1e-12)
            np.testing.assert_allclose(s.saturated[i], np.mean(slope(z) < 0.2), atol=1e-12)
        assert 0 < float(np.max(s.saturated)) < 1  # weights ×2: some units saturate
    with pytest.raises(ValueError, match="valid"):
        gradients.activation_stats(params, jnp.asarray(x), activation="swish")
    with pytest.raises(ValueError, match="threshold"):
        gradients.activation_stats(params, jnp.asarray(x), threshold=0.0)


@pytest.mark.parametrize("init, scale, per_layer", [("he", 1.0, 1.0), ("normal", 0.5, 0.125)])
def test_relu_activation_variance_he_keeps_it_normal_half_shrinks_it(init, scale, per_layer):
    """Deep relu nets at init: var(h_ℓ) = (1 − 1/π)·q_ℓ with q_ℓ = E[h_ℓ²] and

        q_ℓ = (n σ_w² / 2) · q_{ℓ−1}:   He (σ_w² = 2/n) keeps q_ℓ = q_0, while
        N(0, (0.5/√n)²) multiplies it by 0.5²/2 = 1/8 every layer.

    For a width n, one relu layer's ‖h‖² has relative fluctuation √(5/n) (the fourth
    moment of relu(z) is 3/2·s⁴), so after ℓ layers log q_ℓ strays by ~√(5ℓ/n) (and
    drifts by −5ℓ/(2n)): the tolerance is 4 of those standard deviations plus the drift.
    """
    n, depth, batch = 512, 24, 64
    std = scale * math.sqrt(2 / n) if init == "he" else scale / math.sqrt(n)
    m = models.mlp([n] * (depth + 1) + [1], "relu", init, init_scale=scale if init == "he"
                   else std)
    params = m.init(jax.random.key(0))
    x = RNG.normal(size=(batch, n))
    stats = jax.jit(gradients.activation_stats, static_argnames="activation")
    s = stats(params, jnp.asarray(x), activation="relu")
    var = np.asarray(s.std) ** 2
    ell = np.arange(1, depth + 1)
    q0 = np.mean(x**2)
    s2 = n * std**2 * q0 * per_layer ** (ell - 1)  # pre-activation variance of layer ℓ
    theory = s2 * (0.5 - 0.5 / math.pi)
    tolerance = 4 * np.sqrt(5 * ell / n) + 5 * ell / (2 * n) + 0.05
    np.testing.assert_array_less(np.abs(np.log(var / theory)), tolerance)
    if init == "he":  # O(1) through 24 layers
        assert 0.1 < var[-1] < 10 and abs(np.log(var[-1] / var[0])) < tolerance[-1]
    else:  # geometric: 24 layers shrink it by 8^23 ≈ 6e20
        assert var[-1] / var[0] < 1e-18


# --------------------------------------------------------------------------- chains


def test_scalar_chain_gradients_are_the_closed_form_products():
    """∂ŷ/∂w_i = x · ∏_{j≠i} w_j for ŷ = x·w₁⋯w_l, in every coordinate."""
    for depth in (1, 7, 30):
        w = RNG.uniform(0.3, 1.7, size=depth)
        x = 1.3
        g = jax.jit(jax.grad(models.deep_chain(depth).apply))(jnp.asarray(w), x)
        expected = [x * np.prod(np.delete(w, i)) for i in range(depth)]
        np.testing.assert_allclose(g, expected, rtol=1e-13)


def test_linear_chain_powers_equal_q_lambda_t_qt():
    """W^t = Q Λ^t Qᵀ for symmetric W: |λ| < 1 decays, > 1 explodes, = 1 stays."""
    lam = np.array([0.5, 0.9, 1.0, 1.1, -1.2])
    q, _ = np.linalg.qr(RNG.normal(size=(5, 5)))
    w = q @ np.diag(lam) @ q.T
    steps = 30
    powers = np.asarray(gradients.linear_chain(jnp.asarray(w), jnp.eye(5), steps))
    assert powers.shape == (steps + 1, 5, 5)
    evals, evecs = np.linalg.eigh(w)  # NumPy's own decomposition of W
    for t in (0, 1, 7, 30):
        expected = evecs @ np.diag(evals**t) @ evecs.T
        np.testing.assert_allclose(powers[t], expected, rtol=1e-11, atol=1e-12)
        np.testing.assert_allclose(powers[t], np.linalg.matrix_power(w, t), rtol=1e-11,
                                   atol=1e-12)
    hs = np.asarray(gradients.linear_chain(jnp.asarray(w), jnp.asarray(q @ np.ones(5)), steps))
    components = hs @ q  # along each eigenvector: λ^t
    np.testing.assert_allclose(components, lam[None, :] ** np.arange(steps + 1)[:, None],
                               rtol=1e-11, atol=1e-13)
    with pytest.raises(ValueError, match="square"):
        gradients.linear_chain(jnp.ones((2, 3)), jnp.ones(2), 1)
    with pytest.raises(ValueError, match="num_steps"):
        gradients.linear_chain(jnp.eye(2), jnp.ones(2), -1)
