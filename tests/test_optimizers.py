"""Named optimizers: hyperparameters are optax's, updates follow the textbook formulas."""

import jax.numpy as jnp
import numpy as np
import optax
import pytest

from gdlab import optimizers, train


def test_names_and_unknown_name():
    for name in ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw",
                 "sign_descent", "normalized_gd", "lbfgs"):
        assert name in optimizers.names()
    with pytest.raises(ValueError, match="valid names: .*adam"):
        optimizers.make("adma", learning_rate=0.1)


def test_unknown_hyperparameter_lists_valid_ones():
    with pytest.raises(ValueError, match="valid: learning_rate, momentum"):
        optimizers.make("momentum", learning_rate=0.1, beta=0.9)


def test_negative_learning_rate():
    with pytest.raises(ValueError, match="learning_rate must be >= 0"):
        optimizers.make("adam", learning_rate=-1e-3)


def _first_update(opt, g, w):
    state = opt.init(w)
    update, _ = opt.update(g, state, w)
    return np.asarray(update)


def test_first_updates_match_formulas():
    g = jnp.array([3.0, -4.0, 0.0])
    w = jnp.array([1.0, 1.0, 1.0])
    eta = 0.1
    np.testing.assert_allclose(_first_update(optimizers.make("sgd", learning_rate=eta), g, w),
                               -eta * np.array([3.0, -4.0, 0.0]))
    np.testing.assert_allclose(
        _first_update(optimizers.make("sign_descent", learning_rate=eta), g, w),
        -eta * np.array([1.0, -1.0, 0.0]))
    np.testing.assert_allclose(
        _first_update(optimizers.make("normalized_gd", learning_rate=eta), g, w),
        -eta * np.array([0.6, -0.8, 0.0]), rtol=1e-12)
    # Adam's first step is −η·sign(g) up to eps (bias-corrected m̂ = g, v̂ = g²).
    np.testing.assert_allclose(
        _first_update(optimizers.make("adam", learning_rate=eta, eps=0.0), g[:2], w[:2]),
        -eta * np.array([1.0, -1.0]), rtol=1e-12)


def test_hot_and_cold_reproduces_the_book():
    """Grokking Deep Learning ch. 3, hot and cold: 1101 iterations print a final error of
    1.0799505792475652e-27 (the book's output); a pure-Python loop gives the same."""
    weight, inp, goal, step = 0.5, 0.5, 0.8, 0.001
    for _ in range(1100):
        up = (goal - inp * (weight + step)) ** 2
        down = (goal - inp * (weight - step)) ** 2
        if down < up:
            weight -= step
        if down > up:
            weight += step
    book_error = (inp * weight - goal) ** 2
    assert book_error == 1.0799505792475652e-27
    traj = train.run(lambda w: 0.5 * (inp * w - goal) ** 2, jnp.asarray(0.5),
                     optimizers.make("hot_and_cold", step_size=step), 1100, record_params=True)
    assert float((inp * traj.final_params - goal) ** 2) == book_error


def test_any_optax_transformation_is_accepted():
    opt = optax.chain(optax.clip_by_global_norm(1.0), optax.sgd(0.1))
    traj = train.run(lambda x: jnp.sum(x**2), jnp.array([10.0, 0.0]), opt, 3, record_params=True)
    # clipped gradient has norm 1: each step moves exactly 0.1 while ‖g‖ > 1
    np.testing.assert_allclose(traj.params[:, 0], [10.0, 9.9, 9.8, 9.7], rtol=1e-12)
