"""The learning-rate range test (gdlab.train.lr_range_test) against a NumPy re-implementation
of fastai's loop; its suggestions against hand-made curves and a sweep of fixed rates."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import gdlab
from gdlab.train import first_rate_without_progress, lr_range_test, suggest, valley

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
    limit = first_rate_without_progress(rates, sw.final_loss, float(sw.loss[0, 0]))
    below = rates[rates < limit]
    assert below[-1] < 2 / LAM.max() <= limit  # the sweep finds 2/λ_max (GD on λ_max)
    assert t.status == "diverged"
    assert 0 < t.lr_steep < limit and 0 < t.lr_min_over_10 < limit and 0 < t.lr_valley < limit
    assert t.suggestions == {"steep": t.lr_steep, "minimum/10": t.lr_min_over_10,
                             "valley": t.lr_valley}


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


def test_valley_on_hand_made_curves():
    # falls over points 0…6, then rises: e = 6, d_e = 7, s = −1, index −1 + 2 + 1 = 2
    assert valley(range(1, 11), [9, 8, 7, 6, 5, 4, 3, 5, 8, 9], skip_end=0) == 3.0
    # a noisy descent is still one valley (the subsequence need not be consecutive)
    assert valley(range(1, 9), [9, 8, 8.5, 7, 6, 6.5, 5, 9], skip_end=0) == 3.0
    assert valley(range(1, 4), [1.0, 2.0, 3.0], skip_end=0) == 1.0  # never falls: the first
    assert valley([0.1, 0.2], [1.0, np.nan], skip_end=0) is None


def test_first_rate_without_progress_by_hand():
    rates = [0.1, 0.2, 0.4, 0.8]
    assert first_rate_without_progress(rates, [0.5, 0.3, 1.2, np.inf], 1.0) == 0.4
    assert first_rate_without_progress(rates, [0.5, np.nan, 0.2, 0.1], 1.0) == 0.2  # NaN
    assert first_rate_without_progress(rates, [0.5, 1.0, 0.2, 0.1], 1.0) == 0.2  # equal: none
    assert first_rate_without_progress(rates, [0.5, 0.4, 0.3, 0.2], 1.0) is None
    with pytest.raises(ValueError, match="one length"):
        first_rate_without_progress(rates, [0.5], 1.0)
