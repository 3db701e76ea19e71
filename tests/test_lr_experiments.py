"""Step-size claims against closed forms.

Covers the teaching rules add_gradient / multiply_gradient and the claims of the
learning_rate, update_rules and lr_finder experiments (their --quick smoke runs are in
test_experiments.py; the range test itself is in test_lr_finder.py).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gdlab
from gdlab import experiment

LAM = np.array([0.5, 2.0, 10.0])  # a diagonal quadratic: 2/λ_max = 0.2


def quad(w):
    return 0.5 * jnp.sum(jnp.asarray(LAM, w.dtype) * w**2)


# --------------------------------------------------------------------------- teaching rules


def test_add_and_multiply_rules_follow_their_recurrences():
    w0 = np.array([1.0, -2.0, 0.5])
    add = gdlab.train.run(quad, jnp.asarray(w0), gdlab.optimizers.make(
        "add_gradient", learning_rate=0.1), 5, divergence_factor=None, record_params=True)
    mul = gdlab.train.run(quad, jnp.asarray(w0), gdlab.optimizers.make("multiply_gradient"),
                          5, divergence_factor=None, record_params=True)
    w_add, w_mul = [w0], [w0]
    for _ in range(5):
        w_add.append(w_add[-1] + 0.1 * LAM * w_add[-1])  # w + η·g
        w_mul.append(w_mul[-1] * (LAM * w_mul[-1]))  # w ⊙ g
    np.testing.assert_allclose(add.params, np.array(w_add), rtol=1e-14)
    np.testing.assert_allclose(mul.params, np.array(w_mul), rtol=1e-14)
    assert np.all(np.diff(add.loss) > 0)  # adding the gradient climbs


def test_multiply_rule_needs_params():
    opt = gdlab.optimizers.make("multiply_gradient")
    with pytest.raises(ValueError, match="params"):
        opt.update(jnp.ones(2), opt.init(jnp.ones(2)))


# --------------------------------------------------------------------------- learning_rate


@pytest.fixture(scope="module")
def learning_rate():
    return experiment.load("learning_rate").module


def test_measured_limits_and_speeds_match_the_eigenvalues(learning_rate):
    config = learning_rate.Config(kappas=(10.0, 100.0), num_rates=160, sweep_steps=400)
    with jax.numpy_rank_promotion("allow"):
        out = learning_rate.stability(config)
    ratio = out["grid_ratio"]
    for p in out["problems"]:
        kappa = p["kappa"]  # eigenvalues κ^(i/(dim−1)): λ_min = 1, λ_max = κ exactly
        assert p["limit_brackets"]
        assert 2 / kappa <= p["limit_measured"] < 2 / kappa * ratio
        assert p["factor_theory"] == pytest.approx((kappa - 1) / (kappa + 1), rel=1e-12)
        # the best grid rate is within one grid step of 2/(λ_min + λ_max)
        assert abs(np.log(p["best_rate_measured"] * (1 + kappa) / 2)) <= np.log(ratio)
        assert p["factor_measured"] == pytest.approx(p["factor_theory_at_best"], abs=2e-3)
        assert p["direction_max_abs_error"] < 1e-9 and p["directions_checked"] > 100


def test_per_direction_factor_is_one_minus_eta_lambda_every_step():
    rates = np.array([0.05, 0.15, 0.19, 0.21, 0.3])
    sw = gdlab.train.sweep(quad, jnp.array([1.0, -1.0, 0.5]), "sgd", {"learning_rate": rates},
                           15, record_params=True, divergence_factor=None)
    x = np.asarray(sw.params)  # (rates, steps + 1, 3)
    measured = x[:, 1:, :] / x[:, :-1, :]
    expected = 1 - rates[:, None, None] * LAM[None, None, :]
    np.testing.assert_allclose(measured, np.broadcast_to(expected, measured.shape),
                               rtol=1e-12, atol=1e-14)


def test_parabola_and_valley_follow_the_closed_form(learning_rate):
    config = learning_rate.Config(**learning_rate.QUICK)
    par = learning_rate.parabola(config)
    for r in par["runs"]:
        t = np.arange(len(r["x"]))
        np.testing.assert_allclose(r["x"], (1 - 2 * r["rate"]) ** t * config.x0, rtol=1e-12)
    assert learning_rate.per_step_rate(np.array([[4.0, 1.0, 0.25, 0.0625, 1 / 64]]))[0] \
        == pytest.approx(0.5)


# --------------------------------------------------------------------------- update_rules


def test_fixed_size_steps_never_get_closer_than_the_step_allows_and_never_settle():
    start, optimum = 0.833, 0.437
    steps = np.geomspace(1.3e-3, 0.2, 30)
    sw = gdlab.train.sweep(lambda w: (w - optimum) ** 2, jnp.asarray(start), "sign_descent",
                           {"learning_rate": steps}, 800, record_params=True,
                           divergence_factor=None)
    w = np.asarray(sw.params)
    distance = start - optimum
    r = distance - np.floor(distance / steps) * steps  # lattice w0 − k·s around w*
    floor = np.minimum(r, steps - r)
    error = np.abs(w - optimum)
    assert np.all(error.min(axis=1) >= floor - 1e-12)  # never closer than s allows
    np.testing.assert_allclose(error[:, -50:].min(axis=1), floor, atol=1e-12)
    np.testing.assert_allclose(np.abs(np.diff(w, axis=1)), np.broadcast_to(
        steps[:, None], (len(steps), w.shape[1] - 1)), rtol=1e-9)  # every move is exactly s
    tail = w[:, -50:]
    np.testing.assert_allclose(tail[:, 2:], tail[:, :-2], atol=1e-12)  # a 2-cycle forever


def test_update_rules_closed_form_floor():
    module = experiment.load("update_rules").module
    near, far, arrival = module.sign_floor(0.833, 0.437, 0.01)
    assert (near, far, arrival) == (pytest.approx(0.004, abs=1e-12),
                                    pytest.approx(0.006, abs=1e-12), 40)
    # a brute-force walk in Python floats: first pass below w* and the 2-cycle
    w, path = 0.833, []
    for _ in range(80):
        w -= 0.01 if w > 0.437 else -0.01
        path.append(w)
    assert next(i for i, v in enumerate(path) if v < 0.437) + 1 == arrival
    assert sorted({round(abs(v - 0.437), 12) for v in path[45:]}) == [0.004, 0.006]
