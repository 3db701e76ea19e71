"""Losses against NumPy formulas; objective's gradient against the textbook update."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gdlab import losses, models

RNG = np.random.default_rng(1)
CE = jax.jit(losses.softmax_cross_entropy)  # jitted: one compile per shape, not per op


def np_cross_entropy(logits, labels):
    """−log softmax(z)[y] with a max shift (stable for large logits)."""
    z = logits - logits.max(-1, keepdims=True)
    logsumexp = np.log(np.exp(z).sum(-1))
    return logsumexp - np.take_along_axis(z, labels[..., None], -1)[..., 0]


def test_squared_errors_match_numpy():
    p, t = RNG.normal(size=(4, 3)), RNG.normal(size=(4, 3))
    np.testing.assert_allclose(losses.squared_error(p, t), (p - t) ** 2, rtol=1e-15)
    np.testing.assert_allclose(losses.half_squared_error(p, t), 0.5 * (p - t) ** 2, rtol=1e-15)
    assert float(losses.half_squared_error(jnp.array(3.0), jnp.array(1.0))) == 2.0


def test_squared_error_keeps_float32_and_rejects_shape_mismatch():
    p = jnp.ones(3, jnp.float32)
    assert losses.half_squared_error(p, jnp.zeros(3, jnp.float32)).dtype == jnp.float32
    with pytest.raises(ValueError):
        losses.half_squared_error(jnp.ones(3), jnp.ones((2, 3)))


def test_softmax_cross_entropy_matches_numpy():
    logits = RNG.normal(size=(6, 10)) * 3
    labels = RNG.integers(0, 10, size=6)
    np.testing.assert_allclose(CE(logits, labels), np_cross_entropy(logits, labels), rtol=1e-13)
    # large logits stay finite and exact
    big = np.array([[1000.0, 0.0, -1000.0]])
    np.testing.assert_allclose(CE(big, np.array([1])), [1000.0])
    # uniform logits: log(num_classes)
    np.testing.assert_allclose(CE(np.zeros((1, 10)), np.array([3])), [np.log(10)], rtol=1e-15)


def test_accuracy_matches_numpy():
    logits = RNG.normal(size=(50, 4))
    labels = RNG.integers(0, 4, size=50)
    acc = jax.jit(losses.accuracy)(logits, labels)
    np.testing.assert_array_equal(acc, (logits.argmax(-1) == labels).astype(float))
    assert 0 < float(acc.mean()) < 1
    assert losses.accuracy(jnp.ones((2, 3), jnp.float32), jnp.array([0, 1])).dtype == jnp.float32


def test_objective_gradient_is_pred_minus_goal_times_input():
    """For pred = input·w and ½(pred − goal)²: dL/dw = (pred − goal)·input, d²L/dw² = input²."""
    loss = losses.objective(models.linear_neuron().apply, losses.half_squared_error)
    grad, hess = jax.jit(jax.grad(loss)), jax.jit(jax.hessian(loss))
    for inp, goal, w in [(2.0, 0.8, 0.5), (-1.5, 1.0, 0.3), (0.0, 1.0, 0.7)]:
        data = {"x": jnp.array([inp]), "y": jnp.array([goal])}
        pred = inp * w
        np.testing.assert_allclose(loss(w, data), 0.5 * (pred - goal) ** 2, rtol=1e-15)
        np.testing.assert_allclose(grad(jnp.asarray(w), data), (pred - goal) * inp, rtol=1e-15)
        np.testing.assert_allclose(hess(w, data), inp**2, rtol=1e-15)


def test_objective_is_mean_over_examples():
    x, y, w = RNG.normal(size=20), RNG.normal(size=20), 0.37
    loss = losses.objective(models.linear_neuron().apply, losses.half_squared_error)
    data = {"x": jnp.asarray(x), "y": jnp.asarray(y)}
    np.testing.assert_allclose(loss(w, data), np.mean(0.5 * (x * w - y) ** 2), rtol=1e-14)
    np.testing.assert_allclose(
        jax.jit(jax.grad(loss))(jnp.asarray(w), data), np.mean((x * w - y) * x), rtol=1e-14
    )
    # data is an argument: partial binds it, and new data changes the value
    f = functools.partial(loss, data=data)
    other = {"x": data["x"], "y": data["y"] + 1.0}
    assert float(f(w)) != float(loss(w, other))


def test_objective_with_mlp_and_cross_entropy():
    m = models.mlp([5, 8, 3])
    params = [  # drawn by NumPy: no need to compile the initialiser here
        {"w": jnp.asarray(RNG.normal(size=(a, b))), "b": jnp.asarray(RNG.normal(size=b))}
        for a, b in [(5, 8), (8, 3)]
    ]
    x, y = RNG.normal(size=(12, 5)), RNG.integers(0, 3, size=12)
    loss = jax.jit(losses.objective(m.apply, losses.softmax_cross_entropy))
    logits = np.asarray(jax.jit(m.apply)(params, jnp.asarray(x)))
    np.testing.assert_allclose(
        loss(params, {"x": x, "y": y}), np_cross_entropy(logits, y).mean(), rtol=1e-13
    )


def test_objective_rejects_bad_data():
    loss = losses.objective(models.linear_neuron().apply, losses.half_squared_error)
    with pytest.raises(ValueError, match="'x' and 'y'"):
        loss(0.5, {"inputs": jnp.ones(2), "y": jnp.ones(2)})
