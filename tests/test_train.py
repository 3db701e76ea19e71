"""train.run and train.sweep against closed forms, NumPy recurrences and each other."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from gdlab import optimizers, train

LAM = 4.0


def half_quadratic(x):
    """½·λ·x², curvature λ."""
    return 0.5 * LAM * x**2


def bowl(x):
    """½ xᵀ diag(1, 10) x."""
    return 0.5 * (x[0] ** 2 + 10.0 * x[1] ** 2)


def test_sgd_matches_closed_form_float64():
    eta, x0 = 0.1, 1.5
    traj = train.run(half_quadratic, jnp.asarray(x0), optax.sgd(eta), 25, record_params=True)
    expected = (1 - eta * LAM) ** np.arange(26) * x0
    assert traj.params.dtype == np.float64
    np.testing.assert_allclose(traj.params, expected, rtol=1e-13, atol=0)
    np.testing.assert_allclose(traj.loss, 0.5 * LAM * expected**2, rtol=1e-12)
    np.testing.assert_allclose(traj.grad_norm, np.abs(LAM * expected), rtol=1e-12)
    assert traj.status == "ok" and traj.diverged_at is None
    assert traj.final_loss == pytest.approx(0.5 * LAM * expected[-1] ** 2, rel=1e-12)


def test_momentum_matches_numpy_recurrence():
    eta, beta, steps = 0.05, 0.7, 30
    x0 = np.array([1.0, -2.0])
    traj = train.run(bowl, jnp.asarray(x0), optimizers.make("momentum", learning_rate=eta,
                                                            momentum=beta), steps,
                     record_params=True)
    a = np.array([1.0, 10.0])
    x, v, xs = x0.copy(), np.zeros(2), [x0.copy()]
    for _ in range(steps):
        v = beta * v + a * x
        x = x - eta * v
        xs.append(x.copy())
    np.testing.assert_allclose(traj.params, np.array(xs), rtol=1e-12, atol=1e-15)


def test_dtypes_follow_inputs():
    traj32 = train.run(half_quadratic, jnp.asarray(1.0, jnp.float32), optax.sgd(0.1), 3,
                       record_params=True)
    assert traj32.params.dtype == np.float32 and traj32.loss.dtype == np.float32
    traj64 = train.run(half_quadratic, jnp.asarray(1.0, jnp.float64), optax.sgd(0.1), 3,
                       record_params=True)
    assert traj64.params.dtype == np.float64 and traj64.loss.dtype == np.float64
    sw = train.sweep(half_quadratic, jnp.asarray(1.0, jnp.float32), "sgd",
                     {"learning_rate": [0.1, 0.2]}, 3)
    assert sw.loss.dtype == np.float32


def test_divergence_from_explosion_at_the_right_step():
    # |1 − ηλ| = 3: loss_k = 9^k · loss_0 with loss_0 = 2; the threshold is 1e6 · max(2, 1).
    traj = train.run(half_quadratic, jnp.asarray(1.0), optax.sgd(1.0), 30, record_params=True)
    expected = next(k for k in range(30) if 2.0 * 9.0**k > 2e6)
    assert traj.status == "diverged" and traj.diverged_at == expected
    assert np.all(np.isfinite(traj.loss[: expected + 1]))
    assert np.all(np.isnan(traj.loss[expected + 1 :]))
    assert traj.final_loss == math.inf and math.isfinite(traj.best_loss)
    # frozen after divergence
    np.testing.assert_array_equal(traj.params[expected:], traj.params[expected])


def test_divergence_from_overflow_without_explosion_test():
    # float32, |1 − ηλ| = 2: x_k = (−2)^k, and ½λx² overflows to inf at the first k
    # where NumPy's float32 arithmetic does.
    traj = train.run(lambda x: 0.5 * x * x, jnp.asarray(1.0, jnp.float32), optax.sgd(3.0), 100,
                     divergence_factor=None)
    x, k = np.float32(1.0), 0
    with np.errstate(over="ignore"):
        while np.isfinite(np.float32(0.5) * x * x):
            x, k = np.float32(x - np.float32(3.0) * x), k + 1
    assert traj.diverged_at == k


def test_sweep_equals_separate_runs():
    lrs, moms = [0.01, 0.05, 0.12], [0.0, 0.6]
    sw = train.sweep(bowl, jnp.array([1.0, 1.0]), "momentum",
                     {"learning_rate": lrs, "momentum": moms}, 20)
    assert sw.axes == ("learning_rate", "momentum") and sw.loss.shape == (3, 2, 21)
    for i, lr in enumerate(lrs):
        for j, m in enumerate(moms):
            traj = train.run(bowl, jnp.array([1.0, 1.0]),
                             optimizers.make("momentum", learning_rate=lr, momentum=m), 20)
            np.testing.assert_allclose(sw.loss[i, j], traj.loss, rtol=1e-12, atol=1e-300)
            np.testing.assert_allclose(sw.final_params[i, j], traj.final_params, rtol=1e-12)


def test_sweep_compiles_once_whatever_the_grid_size():
    traces = {"n": 0}

    def counted(x):
        traces["n"] += 1
        return bowl(x)

    per_call = []
    for size in (3, 41):
        before = traces["n"]
        train.sweep(counted, jnp.array([1.0, 1.0]), "sgd",
                    {"learning_rate": np.linspace(0.01, 0.3, size)}, 10)
        per_call.append(traces["n"] - before)
    assert per_call[0] == per_call[1] <= 3  # a fixed number of traces, not one per point
    before = traces["n"]
    train.sweep(counted, jnp.array([1.0, 1.0]), "sgd",
                {"learning_rate": np.linspace(0.01, 0.3, 41)}, 10)
    assert traces["n"] == before  # the same call again reuses the compiled sweep


def test_sweep_divergence_per_lane_and_no_nan_in_summaries():
    lrs = np.array([0.1, 0.4, 0.49, 0.51, 1.0])  # stable iff η < 2/λ = 0.5
    sw = train.sweep(half_quadratic, jnp.asarray(1.0), "sgd", {"learning_rate": lrs}, 200)
    assert list(sw.status) == ["ok", "ok", "ok", "diverged", "diverged"]
    assert not np.isnan(sw.final_loss).any() and not np.isnan(sw.best_loss).any()
    assert np.all(np.isinf(sw.final_loss[3:]))


def test_sweep_problem_parameter_axis():
    # Sweep the curvature λ of ½λx² alongside η: divergence iff ηλ > 2.
    lam = np.array([1.0, 3.0, 10.0])
    lrs = np.array([0.1, 0.5, 1.0])
    sw = train.sweep(lambda x, lam: 0.5 * lam * x**2, jnp.asarray(1.0), "sgd",
                     {"lam": lam, "learning_rate": lrs}, 300)
    expected = np.where(lam[:, None] * lrs[None, :] > 2, "diverged", "ok")
    np.testing.assert_array_equal(sw.status, expected)


def test_sweep_seeds_with_init_function_and_stochastic_loss():
    def init(key):
        return jax.random.normal(key, (2,))

    def noisy(x, key):
        return bowl(x) + jnp.dot(x, jax.random.normal(key, (2,)))

    sw = train.sweep(noisy, init, "sgd", {"learning_rate": [0.05, 0.1]}, 15, seeds=[3, 4, 5],
                     stochastic=True, eval_fn=bowl)
    assert sw.axes == ("learning_rate", "seed") and sw.loss.shape == (2, 3, 16)
    # lane (lr, seed) equals a separate run with the same keys
    init_key, run_key = jax.random.split(jax.random.key(4))
    traj = train.run(noisy, init(init_key), optax.sgd(0.1), 15, key=run_key, eval_fn=bowl,
                     record_params=True)
    np.testing.assert_allclose(sw.loss[1, 1], traj.loss, rtol=1e-12)
    np.testing.assert_allclose(traj.loss[0], bowl(np.asarray(init(init_key))), rtol=1e-12)


def test_data_is_passed_as_argument_least_squares():
    rng = np.random.default_rng(0)
    data = {"x": rng.normal(size=(50, 3)), "y": rng.normal(size=50)}

    def mse(w, d):
        return 0.5 * jnp.mean((d["x"] @ w - d["y"]) ** 2)

    traj = train.run(mse, jnp.zeros(3), optax.sgd(0.5), 400, data=data, record_params=True)
    expected, *_ = np.linalg.lstsq(data["x"], data["y"], rcond=None)
    np.testing.assert_allclose(traj.final_params, expected, rtol=1e-8)


def test_lbfgs_gets_value_and_value_fn():
    def rosenbrock(x):
        return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2

    traj = train.run(rosenbrock, jnp.array([-1.2, 1.0]), optax.lbfgs(), 60, record_params=True)
    np.testing.assert_allclose(traj.final_params, [1.0, 1.0], atol=1e-8)


def test_reduce_on_plateau_sees_the_loss():
    # f = 1 + x − stop_gradient(x): the value stays 1 (a plateau) while the gradient is 1,
    # so every SGD step is −0.1·scale and the steps show what the plateau rule did with
    # the losses train.run handed it. Reference: optax's own loop with value=1.
    opt = optax.chain(optax.sgd(0.1), optax.contrib.reduce_on_plateau(patience=2, factor=0.5))
    f = lambda x: 1.0 + x - jax.lax.stop_gradient(x)
    traj = train.run(f, jnp.asarray(0.0), opt, 12, record_params=True)


    @jax.jit  # one compiled step of optax's loop
    def by_hand(x, state):
        u, state = opt.update(jnp.asarray(1.0), state, x, value=jnp.asarray(1.0))
        return x + u, state

    x, state, expected = jnp.asarray(0.0), opt.init(jnp.asarray(0.0)), [0.0]
    for _ in range(12):
        x, state = by_hand(x, state)
        expected.append(float(x))
    np.testing.assert_allclose(traj.params, expected, rtol=1e-12)
    steps = -np.diff(np.asarray(traj.params))
    assert steps[0] == pytest.approx(0.1) and steps[-1] <= 0.1 * 0.5**2  # halved twice
    assert np.all(np.diff(steps) <= 1e-15)  # the scale only ever falls


def test_record_params_off():
    traj = train.run(half_quadratic, jnp.asarray(1.0), optax.sgd(0.1), 5, record_params=False)
    assert traj.params is None and traj.loss.shape == (6,)


def test_record_grad_norm_off_keeps_the_losses():
    """Without the gradient norm the recorded losses are the closed form's, as with it."""
    eta, x0 = 0.1, 1.5
    expected = 0.5 * LAM * ((1 - eta * LAM) ** np.arange(11) * x0) ** 2
    traj = train.run(half_quadratic, jnp.asarray(x0), optax.sgd(eta), 10, record_grad_norm=False)
    assert traj.grad_norm is None
    np.testing.assert_allclose(traj.loss, expected, rtol=1e-12)
    for record in ("all", 5, "summary"):
        sw = train.sweep(half_quadratic, jnp.asarray(x0), "sgd", {"learning_rate": [eta, 0.2]},
                         10, record=record, record_grad_norm=False)
        assert sw.grad_norm is None
        np.testing.assert_allclose(sw.loss[0], expected[sw.steps], rtol=1e-12)
    with pytest.raises(ValueError, match="record_grad_norm"):
        train.run(half_quadratic, jnp.asarray(x0), optax.sgd(eta), 10, record_grad_norm="no")


def test_steps_to_target():
    loss = np.array([[4.0, 2.0, 1.0, 0.5], [4.0, np.nan, np.nan, np.nan]])
    np.testing.assert_array_equal(train.steps_to_target(loss, 1.0), [2, -1])


@pytest.mark.parametrize("steps", [0, -3, 2.5, True])
def test_bad_num_steps(steps):
    with pytest.raises(ValueError, match="num_steps"):
        train.run(half_quadratic, jnp.asarray(1.0), optax.sgd(0.1), steps)


def test_bad_inputs_raise_value_errors():
    with pytest.raises(ValueError, match="scalar"):
        train.run(lambda x: x, jnp.ones(3), optax.sgd(0.1), 3)
    with pytest.raises(ValueError, match="valid names"):
        train.sweep(half_quadratic, jnp.asarray(1.0), "sgdd", {"learning_rate": [0.1]}, 3)
    with pytest.raises(ValueError, match="learning_rate must be >= 0"):
        train.sweep(half_quadratic, jnp.asarray(1.0), "sgd", {"learning_rate": [-0.1]}, 3)
    with pytest.raises(ValueError, match="neither a hyperparameter"):
        train.sweep(half_quadratic, jnp.asarray(1.0), "sgd", {"lr": [0.1]}, 3)
    with pytest.raises(ValueError, match="non-empty"):
        train.sweep(half_quadratic, jnp.asarray(1.0), "sgd", {"learning_rate": []}, 3)
    with pytest.raises(ValueError, match="seeds"):
        train.sweep(half_quadratic, lambda k: jnp.asarray(1.0), "sgd", {"learning_rate": [0.1]}, 3)
    with pytest.raises(ValueError, match="needs hyperparameters"):
        train.run(half_quadratic, jnp.asarray(1.0), "sgd", 3)


def test_a_sweep_is_one_xla_compilation(xla_compilations):
    with xla_compilations() as compiled:
        train.sweep(bowl, lambda key: jax.random.normal(key, (2,)), "momentum",
                    {"learning_rate": np.linspace(0.01, 0.2, 7), "momentum": [0.0, 0.9]}, 12,
                    seeds=3)
    assert len(compiled) == 1, compiled
