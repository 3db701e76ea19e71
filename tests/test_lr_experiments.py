"""The range test against a NumPy re-implementation; step-size claims against closed forms.

Covers gdlab.lr_finder, the teaching rules add_gradient / multiply_gradient, and the claims
of the learning_rate, update_rules and lr_finder experiments (their --quick smoke runs
are in test_experiments.py).
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import gdlab
from gdlab import experiment
from gdlab.lr_finder import lr_range_test, suggest

LAM = np.array([0.5, 2.0, 10.0])  # a diagonal quadratic: 2/λ_max = 0.2


def quad(w):
    return 0.5 * jnp.sum(jnp.asarray(LAM, w.dtype) * w**2)


def numpy_range_test(w0, lrs, smoothing, stop_factor):
    """fastai's loop, written out in NumPy for SGD on ½Σλw² (the reference)."""
    w, avg, best = np.array(w0, dtype=np.float64), 0.0, np.inf
    loss, smooth = [], []
    for k, lr in enumerate(lrs):
        w = w - lr * LAM * w
        value = 0.5 * np.sum(LAM * w**2)
        avg = smoothing * avg + (1 - smoothing) * value
        s = avg / (1 - smoothing ** (k + 1))
        best = min(best, s)
        loss.append(value)
        smooth.append(s)
        if not np.isfinite(value) or s > stop_factor * best:
            return np.array(loss), np.array(smooth), k
    return np.array(loss), np.array(smooth), None


# --------------------------------------------------------------------------- lr_range_test


def test_matches_numpy_loop_and_stops_past_the_limit():
    w0 = np.ones(3)
    t = lr_range_test(quad, jnp.asarray(w0), "sgd", min_lr=1e-3, max_lr=3.0, num_steps=120)
    lrs = np.geomspace(1e-3, 3.0, 120)
    np.testing.assert_allclose(t.lrs, lrs, rtol=1e-14)
    assert np.allclose(t.lrs[1:] / t.lrs[:-1], (3.0 / 1e-3) ** (1 / 119), rtol=1e-12)
    loss, smooth, stop = numpy_range_test(w0, lrs, 0.98, 4.0)
    assert t.stopped_at == stop and t.status == "diverged"
    n = stop + 1
    np.testing.assert_allclose(t.loss[:n], loss, rtol=1e-12)
    np.testing.assert_allclose(t.smoothed_loss[:n], smooth, rtol=1e-12)
    assert np.all(np.isnan(t.loss[n:])) and np.all(np.isnan(t.smoothed_loss[n:]))
    # it can only blow up once the rate has passed 2/λ_max
    assert t.stop_lr > 2 / LAM.max()
    assert t.initial_loss == pytest.approx(0.5 * LAM.sum(), rel=1e-15)


def test_suggestions_lie_below_the_measured_limit():
    t = lr_range_test(quad, jnp.ones(3), "sgd", min_lr=1e-4, max_lr=10.0, num_steps=100)
    rates = np.geomspace(1e-4, 10.0, 120)
    sw = gdlab.train.sweep(quad, jnp.ones(3), "sgd", {"learning_rate": rates}, 100)
    fails = ~(np.isfinite(sw.final_loss) & (sw.final_loss < sw.loss[:, 0]))
    limit = rates[np.argmax(fails)]
    assert rates[np.argmax(fails) - 1] < 2 / LAM.max() <= limit  # the sweep finds 2/λ_max
    assert t.status == "diverged"
    assert 0 < t.lr_steep < limit and 0 < t.lr_min_over_10 < limit
    assert t.suggestions == {"steep": t.lr_steep, "minimum/10": t.lr_min_over_10}


def test_no_stop_below_the_limit_and_monotone_descent():
    t = lr_range_test(quad, jnp.ones(3), "sgd", min_lr=1e-3, max_lr=0.09, num_steps=50)
    assert t.stopped_at is None and t.status == "ok" and t.stop_lr is None
    assert t.num_evaluated == 50
    assert np.all(np.diff(t.loss) < 0)  # every factor 1 − ηλ is in (0, 1)


def test_stop_factor_none_stops_only_when_the_loss_overflows():
    t = lr_range_test(quad, jnp.ones(3), "sgd", min_lr=1.0, max_lr=1e4, num_steps=400,
                      stop_factor=None)
    assert t.stopped_at is not None and not np.isfinite(t.loss[t.stopped_at])
    assert np.all(np.isfinite(t.loss[: t.stopped_at]))


def test_float32_stays_float32():
    f = lambda w: 0.5 * jnp.sum(jnp.asarray(LAM, jnp.float32) * w**2)
    t = lr_range_test(f, jnp.ones(3, jnp.float32), "sgd", min_lr=1e-3, max_lr=1.0,
                      num_steps=20)
    assert t.loss.dtype == np.float32 and t.smoothed_loss.dtype == np.float32
    assert t.lrs.dtype == np.float32


def test_adam_first_step_is_a_sign_step_by_name_and_by_factory():
    # Adam's first update is −η·m̂/(√v̂ + ε) = −η·g/(|g| + ε): a sign step of size η.
    w0 = np.array([1.0, -2.0, 0.5])
    by_name = lr_range_test(quad, jnp.asarray(w0), "adam", min_lr=0.01, max_lr=1.0,
                            num_steps=10, hyperparameters={"b1": 0.8})
    by_factory = lr_range_test(quad, jnp.asarray(w0), optax.adam, min_lr=0.01, max_lr=1.0,
                               num_steps=10, hyperparameters={"b1": 0.8})
    np.testing.assert_array_equal(by_name.loss, by_factory.loss)
    g = LAM * w0
    w1 = w0 - 0.01 * g / (np.abs(g) + 1e-8)
    assert by_name.loss[0] == pytest.approx(0.5 * np.sum(LAM * w1**2), rel=1e-12)


def test_minibatches_follow_the_key():
    x = np.random.default_rng(0).normal(size=(64, 3))
    data = {"x": jnp.asarray(x), "y": jnp.asarray(x @ np.array([1.0, -1.0, 2.0]))}

    def loss(w, data, *, key):
        idx = jax.random.randint(key, (8,), 0, 64)
        return 0.5 * jnp.mean((data["x"][idx] @ w - data["y"][idx]) ** 2)

    run = lambda key: lr_range_test(loss, jnp.zeros(3), "sgd", min_lr=1e-3, max_lr=1.0,
                                    num_steps=30, data=data, key=key)
    a, b, c = run(jax.random.key(0)), run(jax.random.key(0)), run(jax.random.key(1))
    np.testing.assert_array_equal(a.loss, b.loss)
    assert not np.array_equal(a.loss, c.loss)
    # the first recorded loss: one step on batch 0, evaluated on batch 1 (NumPy)
    batch = jax.jit(lambda k: jax.random.randint(jax.random.fold_in(jax.random.key(0), k),
                                                 (8,), 0, 64))
    idx = [np.asarray(batch(k)) for k in (0, 1)]
    grad = x[idx[0]].T @ (x[idx[0]] @ np.zeros(3) - np.asarray(data["y"])[idx[0]]) / 8
    w1 = -1e-3 * grad
    expected = 0.5 * np.mean((x[idx[1]] @ w1 - np.asarray(data["y"])[idx[1]]) ** 2)
    assert a.loss[0] == pytest.approx(expected, rel=1e-12)


def test_second_call_does_not_retrace():
    traces = []

    def f(w):
        traces.append(1)
        return 0.5 * jnp.sum(jnp.asarray(LAM) * w**2)

    lr_range_test(f, jnp.ones(3), "sgd", min_lr=1e-3, max_lr=1.0, num_steps=20)
    count = len(traces)
    lr_range_test(f, jnp.asarray(np.full(3, 2.0)), "sgd", min_lr=1e-2, max_lr=5.0,
                  num_steps=20, smoothing=0.9, stop_factor=10.0)
    assert len(traces) == count + 1  # only the shape check (jax.eval_shape) traces again


def test_suggest_on_a_hand_made_curve():
    assert suggest([0.1, 0.2, 0.4, 0.8], [3.0, 1.0, 0.9, 2.0], skip_end=0) == (0.1, 0.04)
    # the NaN tail is ignored; skip_end drops the last finite points
    assert suggest([0.1, 0.2, 0.4, 0.8], [3.0, 1.0, np.nan, np.nan], skip_end=0) == (0.1, 0.02)
    assert suggest([0.1, 0.2, 0.4], [3.0, 1.0, 0.5], skip_end=2) == (None, None)


@pytest.mark.parametrize("kwargs, match", [
    ({"min_lr": 1.0, "max_lr": 0.1}, "min_lr < max_lr"),
    ({"num_steps": 1}, "num_steps"),
    ({"smoothing": 1.0}, "smoothing"),
    ({"stop_factor": 1.0}, "stop_factor"),
    ({"optimizer": "sdg"}, "valid names: .*sgd"),
    ({"optimizer": optax.sgd(0.1)}, "factory"),
    ({"hyperparameters": {"learning_rate": 0.1}}, "learning_rate"),
    ({"hyperparameters": {"beta": 0.1}}, "no hyperparameter 'beta'"),
])
def test_bad_input_raises(kwargs, match):
    args = {"optimizer": "sgd", "min_lr": 1e-3, "max_lr": 1.0, "num_steps": 10, **kwargs}
    optimizer = args.pop("optimizer")
    with pytest.raises(ValueError, match=match):
        lr_range_test(quad, jnp.ones(3), optimizer, **args)


# --------------------------------------------------------------------------- teaching rules


def test_add_and_multiply_rules_follow_their_recurrences():
    w0 = np.array([1.0, -2.0, 0.5])
    add = gdlab.train.run(quad, jnp.asarray(w0), gdlab.optimizers.make(
        "add_gradient", learning_rate=0.1), 5, divergence_factor=None)
    mul = gdlab.train.run(quad, jnp.asarray(w0), gdlab.optimizers.make("multiply_gradient"),
                          5, divergence_factor=None)
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
