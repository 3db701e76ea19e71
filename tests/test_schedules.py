"""gdlab.schedules against closed forms, SGD's noise floor against theory, and bad arguments.

Every expected value is computed here from the schedule's formula (math / NumPy), never
from the code under test; the noise floor is compared with ησ²/(2(2 − ηλ)) within a
tolerance set by the measured standard error.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import gdlab
from gdlab import schedules

I, P, E = 0.8, 1.5, 0.1  # init, peak and end values used below


def at(schedule, *steps):
    """The schedule at integer steps (int32 counts, as optax calls it), as NumPy."""
    return np.asarray(jax.jit(jax.vmap(schedule))(jnp.asarray(steps, jnp.int32)))


# --------------------------------------------------------------------------- closed forms

# name, kwargs, {step: expected value from the formula}
CLOSED_FORMS = [
    ("constant", dict(value=I), {0: I, 17: I, 10**6: I}),
    ("piecewise_constant", dict(init_value=I, boundaries_and_scales={30: 0.1, 60: 0.5}),
     {0: I, 29: I, 30: 0.1 * I, 59: 0.1 * I, 60: 0.05 * I, 999: 0.05 * I}),
    ("step_decay", dict(init_value=I, step_size=25, decay_rate=0.5),
     {0: I, 24: I, 25: I / 2, 49: I / 2, 50: I / 4, 103: I / 16}),
    ("exponential", dict(init_value=I, transition_steps=40, decay_rate=0.01),
     {0: I, 20: I * 0.1, 40: I * 0.01, 60: I * 1e-3}),
    ("exponential", dict(init_value=I, transition_steps=40, decay_rate=0.01,
                         transition_begin=10, end_value=I * 0.05),
     {0: I, 10: I, 30: I * 0.1, 50: I * 0.05, 500: I * 0.05}),
    ("polynomial", dict(init_value=I, end_value=E, power=2, transition_steps=100),
     {0: I, 50: (I - E) * 0.25 + E, 75: (I - E) / 16 + E, 100: E, 400: E}),
    ("linear", dict(init_value=I, end_value=E, transition_steps=100),
     {0: I, 50: (I + E) / 2, 100: E, 200: E}),
    ("inverse_sqrt", dict(init_value=I, timescale=4.0), {0: I, 12: I / 2, 60: I / 4}),
    ("inverse_time", dict(init_value=I, timescale=4.0), {0: I, 4: I / 2, 36: I / 10}),
    ("cosine", dict(init_value=I, decay_steps=90, alpha=0.2),
     {0: I, 30: I * (0.2 + 0.8 * 0.75), 45: I * (1 + 0.2) / 2, 60: I * (0.2 + 0.8 * 0.25),
      90: 0.2 * I, 1000: 0.2 * I}),
    ("cosine", dict(init_value=I, decay_steps=90, exponent=2.0), {45: I / 4, 30: I * 0.5625}),
    ("warmup_constant", dict(init_value=E, peak_value=P, warmup_steps=20),
     {0: E, 10: (E + P) / 2, 20: P, 500: P}),
    ("warmup_cosine", dict(init_value=0.0, peak_value=P, warmup_steps=20, decay_steps=120,
                           end_value=E),
     {0: 0.0, 5: P / 4, 20: P, 70: (P + E) / 2, 120: E, 300: E}),
    ("linear_onecycle", dict(transition_steps=100, peak_value=P, pct_start=0.3,
                             pct_final=0.8, div_factor=10.0, final_div_factor=100.0),
     {0: P / 10, 15: (P / 10 + P) / 2, 30: P, 55: (P + P / 10) / 2, 80: P / 10,
      90: (P / 10 + P / 1000) / 2, 100: P / 1000}),
    ("cosine_onecycle", dict(transition_steps=100, peak_value=P, pct_start=0.2,
                             div_factor=10.0, final_div_factor=100.0),
     {0: P / 10, 10: (P / 10 + P) / 2, 20: P, 60: (P + P / 1000) / 2, 100: P / 1000}),
    ("sgdr", dict(init_value=P, decay_steps=20, num_cycles=3, cycle_mult=2, alpha=0.1),
     {0: P, 10: P * 0.55, 19: P * (0.1 + 0.9 * (1 + math.cos(math.pi * 19 / 20)) / 2),
      20: P, 40: P * 0.55, 60: P, 100: P * 0.55, 140: 0.1 * P, 1000: 0.1 * P}),
]


@pytest.mark.parametrize(("name", "kwargs", "expected"), CLOSED_FORMS,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CLOSED_FORMS)])
def test_schedule_matches_its_closed_form(name, kwargs, expected):
    values = at(schedules.make(name, **kwargs), *expected)
    np.testing.assert_allclose(values, list(expected.values()), rtol=1e-12, atol=1e-15)


def test_every_name_has_a_closed_form_test():
    assert {c[0] for c in CLOSED_FORMS} == set(schedules.names())
    assert "reduce_on_plateau" not in schedules.names()


def test_evaluate_and_tabulate_give_the_rates_of_num_steps_updates():
    linear = schedules.make("linear", init_value=1.0, end_value=0.0, transition_steps=4)
    np.testing.assert_allclose(schedules.evaluate(linear, 6), [1, 0.75, 0.5, 0.25, 0, 0],
                               atol=1e-15)
    table = schedules.tabulate([linear, schedules.make("constant", value=0.3)], 6)
    assert table.shape == (2, 6)
    np.testing.assert_allclose(table[1], np.full(6, 0.3), rtol=1e-15)
    with pytest.raises(ValueError, match="non-empty"):
        schedules.tabulate([], 6)


def test_dtypes_follow_the_values():
    cos64 = schedules.make("cosine", init_value=jnp.float64(0.3), decay_steps=7)
    cos32 = schedules.make("cosine", init_value=jnp.float32(0.3), decay_steps=7)
    linear = schedules.make("linear", init_value=1.0, end_value=0.0, transition_steps=3)
    # optax counts in int32, and int32 / int is float32 in JAX: the count is cast first.
    v64, v32, lin = jax.jit(lambda t: (cos64(t), cos32(t), linear(t)))(jnp.int32(3))
    assert (v64.dtype, v32.dtype, lin.dtype) == (jnp.float64, jnp.float32, jnp.float64)
    assert float(v64) == pytest.approx(0.3 * (1 + math.cos(math.pi * 3 / 7)) / 2, rel=1e-14)
    assert abs(float(lin)) < 1e-15  # (XLA may divide by 3 as a multiply by 1/3)
    assert float(at(linear, 1)[0]) == pytest.approx(2 / 3, rel=1e-15)  # not float32's 2/3


# --------------------------------------------------------------------------- traced peaks


def test_traced_peaks_work_inside_every_schedule():
    # optax.warmup_cosine_decay_schedule and optax.sgdr_schedule test the peak in Python
    # and fail on a traced one; every gdlab schedule must accept it (sweeps trace it).
    # Each example is rebuilt inside jit + vmap with its peak traced and checked against
    # the closed-form values above.
    examples = {n: (k, e) for n, k, e in reversed(CLOSED_FORMS)}  # first example of each
    peaks = {n: k[schedules.PEAK_ARGUMENT[n]] for n, (k, _) in examples.items()}

    @jax.jit
    @jax.vmap
    def traced(p):
        out = {}
        for name, (kwargs, expected) in examples.items():
            schedule = schedules.make(name, **{**kwargs, schedules.PEAK_ARGUMENT[name]: p[name]})
            out[name] = jax.vmap(schedule)(jnp.asarray(list(expected), jnp.int32))
        return out

    got = traced({n: jnp.full(2, v) for n, v in peaks.items()})
    for name, (_, expected) in examples.items():
        np.testing.assert_allclose(got[name], [list(expected.values())] * 2, rtol=1e-12,
                                   atol=1e-15, err_msg=name)


def _cosine_rates(peak, steps, decay_steps):
    t = np.minimum(np.arange(steps), decay_steps)
    return peak * 0.5 * (1 + np.cos(np.pi * t / decay_steps))


def test_optimizer_factory_sweeps_the_peak_of_a_schedule():
    # GD on ½λx²: x_T = x0 · ∏_t (1 − η_t λ), with η_t the closed-form cosine.
    lam, x0, T = 1.5, 1.0, 30
    peaks = np.array([0.1, 0.6, 1.2])
    factory = schedules.optimizer_factory("sgd", "cosine", decay_steps=20)
    sw = gdlab.train.sweep(lambda x: 0.5 * lam * x**2, jnp.asarray(x0), factory,
                           {"learning_rate": peaks}, T)
    expected = [x0 * np.prod(1 - _cosine_rates(p, T, 20) * lam) for p in peaks]
    np.testing.assert_allclose(sw.final_params, expected, rtol=1e-12, atol=1e-300)


def test_table_factory_runs_several_shapes_in_one_sweep():
    lam, x0, T = 1.5, 1.0, 30
    shapes = [schedules.make("constant", value=1.0),
              schedules.make("step_decay", init_value=1.0, step_size=10, decay_rate=0.1),
              schedules.make("cosine", init_value=1.0, decay_steps=20)]
    factory = schedules.table_factory("momentum", shapes, T)
    assert schedules.table_factory("sgd", np.ones((2, T)), T) is not None  # a ready table
    with pytest.raises(ValueError, match=r"must be \(k >= 1, 30\)"):
        schedules.table_factory("sgd", np.ones((2, T - 1)), T)
    with pytest.raises(ValueError, match="finite values >= 0"):
        schedules.table_factory("sgd", -np.ones((1, T)), T)
    peaks = np.array([0.2, 0.9])
    sw = gdlab.train.sweep(lambda x: 0.5 * lam * x**2, jnp.asarray(x0), factory,
                           {"schedule": [0, 1, 2], "learning_rate": peaks}, T,
                           hyperparameters={"momentum": 0.0})
    unit = [np.ones(T), 0.1 ** (np.arange(T) // 10), _cosine_rates(1.0, T, 20)]
    expected = [[x0 * np.prod(1 - p * u * lam) for p in peaks] for u in unit]
    np.testing.assert_allclose(sw.final_params, expected, rtol=1e-12, atol=1e-300)


def test_a_schedule_stands_where_a_learning_rate_does_and_keeps_float32():
    sched = schedules.make("step_decay", init_value=0.5, step_size=3, decay_rate=0.5)
    traj = gdlab.train.run(lambda x: 0.5 * x**2, jnp.float32(1.0),
                           gdlab.optimizers.make("sgd", learning_rate=sched), 8, record_params=True)
    rates = 0.5 * 0.5 ** (np.arange(8) // 3)
    np.testing.assert_allclose(traj.params, np.concatenate([[1.0], np.cumprod(1 - rates)]),
                               rtol=1e-6)
    assert traj.final_params.dtype == jnp.float32


# --------------------------------------------------------------------------- noise floor


def test_constant_rate_noise_floor_scales_with_the_rate():
    """SGD on ½λx² with gradient λx + σξ: stationary E[f] = ησ² / (2(2 − ηλ)).

    x_{t+1} = (1 − ηλ)x_t − ησξ_t, so V = (1 − ηλ)²V + η²σ², V = ησ²/(λ(2 − ηλ)) and
    E[f] = ½λV. Per seed we average f over the last steps (started at x = 0, so the
    variance has built up after ~1/(ηλ) steps); the tolerance is 4 standard errors of
    the mean over seeds.
    """
    lam, sigma, T, burn = 2.0, 0.3, 600, 100
    rates = np.array([0.05, 0.2, 0.8])

    def noisy(x, *, key):
        return 0.5 * lam * x**2 + sigma * jax.random.normal(key, dtype=x.dtype) * x

    sw = gdlab.train.sweep(noisy, jnp.asarray(0.0), "sgd", {"learning_rate": rates}, T,
                           seeds=64, stochastic=True, eval_fn=lambda x: 0.5 * lam * x**2)
    assert sw.loss.dtype == np.float64
    per_seed = sw.loss[..., burn:].mean(axis=-1)  # (rates, seeds)
    measured = per_seed.mean(axis=-1)
    stderr = per_seed.std(axis=-1, ddof=1) / np.sqrt(per_seed.shape[-1])
    theory = rates * sigma**2 / (2 * (2 - rates * lam))
    np.testing.assert_array_less(np.abs(measured - theory), 4 * stderr)
    assert np.all(stderr < 0.1 * theory)  # the test has the power to see a 40% error
    # the floor grows with the rate: 16× the rate gives (16·1.9/0.4)× the floor
    ratio, theory_ratio = measured[2] / measured[0], theory[2] / theory[0]
    ratio_err = ratio * np.hypot(stderr[2] / measured[2], stderr[0] / measured[0])
    assert abs(ratio - theory_ratio) < 4 * ratio_err
    assert 50 < ratio < 100  # far from "no dependence" (1) and from linear in η (16)


# --------------------------------------------------------------------------- plateau


def test_reduce_on_plateau_cuts_the_rate_when_the_loss_stops_improving():
    # ηλ = 2: x flips sign every step, so f(x) never improves. After the first value
    # (an improvement on +inf) come `patience` values without improvement, and at that
    # update the scale drops to `factor`; from then on x shrinks by (1 − 2·factor).
    lam, eta, patience, factor, T = 1.0, 2.0, 4, 0.1, 12
    f = lambda x: 0.5 * lam * x**2

    def plateau(min_scale):
        return optax.chain(optax.sgd(eta), schedules.reduce_on_plateau(
            factor=factor, patience=patience, min_scale=min_scale))

    @jax.jit
    def scales(min_scale):  # the scale after each update, straight from the state
        opt = plateau(min_scale)

        def step(carry, _):
            x, state = carry
            updates, state = opt.update(jax.grad(f)(x), state, x, value=f(x))
            return (optax.apply_updates(x, updates), state), optax.tree_utils.tree_get(
                state, "scale")

        x0 = jnp.asarray(1.0)
        return jax.lax.scan(step, (x0, opt.init(x0)), length=T)[1]

    both = np.asarray(jax.vmap(scales)(jnp.array([0.0, 1.0])))
    np.testing.assert_allclose(both[0], [1.0] * patience + [factor] * (T - patience))
    np.testing.assert_allclose(both[1], 1.0)  # min_scale = 1 switches it off

    traj = gdlab.train.run(f, jnp.asarray(1.0), plateau(0.0), T)  # train.run passes value=
    shrink = (1 - eta * factor * lam) ** 2
    expected = [0.5] * (patience + 1) + [0.5 * shrink**k for k in range(1, T - patience + 1)]
    np.testing.assert_allclose(traj.loss, expected, rtol=1e-12)


# --------------------------------------------------------------------------- bad arguments


@pytest.mark.parametrize(("name", "kwargs", "match"), [
    ("cosine", dict(init_value=-0.1, decay_steps=10), "init_value must be >= 0"),
    ("cosine", dict(init_value=0.1, decay_steps=0), "decay_steps must be >= 1"),
    ("cosine", dict(init_value=0.1, decay_steps=10.5), "integer number of steps"),
    ("cosine", dict(init_value=0.1, decay_steps=10, alpha=1.5), r"alpha must be in \[0, 1\]"),
    ("cosine", dict(init_value=float("nan"), decay_steps=10), "finite"),
    ("cosine", dict(init_value=0.1, decay_step=10), "no argument 'decay_step'.*decay_steps"),
    ("cosine", dict(init_value=0.1), "needs decay_steps"),
    ("exponential", dict(init_value=0.1, transition_steps=10, decay_rate=0.0),
     r"decay_rate must be in \(0, inf\)"),
    ("exponential", dict(init_value=0.1, transition_steps=-5, decay_rate=0.5), ">= 1"),
    ("step_decay", dict(init_value=0.1, step_size=0), "step_size must be >= 1"),
    ("piecewise_constant", dict(init_value=0.1, boundaries_and_scales={10: -0.5}),
     "scale at step 10 must be >= 0"),
    ("piecewise_constant", dict(init_value=0.1, boundaries_and_scales={}), "non-empty"),
    ("polynomial", dict(init_value=1.0, end_value=0.0, power=-1, transition_steps=5),
     "power"),
    ("inverse_sqrt", dict(init_value=1.0, timescale=0.0), "timescale"),
    ("warmup_cosine", dict(init_value=0.0, peak_value=1.0, warmup_steps=10, decay_steps=10),
     "decay_steps must be >= 11"),
    ("warmup_constant", dict(init_value=0.0, peak_value=-1.0, warmup_steps=10),
     "peak_value must be >= 0"),
    ("linear_onecycle", dict(transition_steps=100, peak_value=1.0, pct_start=0.5,
                             pct_final=0.4), "pct_final"),
    ("cosine_onecycle", dict(transition_steps=100, peak_value=1.0, pct_start=1.0),
     "pct_start"),
    ("cosine_onecycle", dict(transition_steps=2, peak_value=1.0, pct_start=0.3),
     "no warmup step"),
    ("sgdr", dict(init_value=1.0, decay_steps=10, num_cycles=0), "num_cycles must be >= 1"),
])
def test_bad_arguments_raise_early(name, kwargs, match):
    with pytest.raises(ValueError, match=match):
        schedules.make(name, **kwargs)


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(ValueError, match="valid names: constant, cosine, cosine_onecycle"):
        schedules.make("cosin", init_value=0.1, decay_steps=10)
    with pytest.raises(ValueError, match="not a schedule: chain gdlab.schedules.reduce_on"):
        schedules.make("reduce_on_plateau")
    with pytest.raises(ValueError, match="valid names"):
        schedules.optimizer_factory("sgd", "nope")
    with pytest.raises(ValueError, match="unknown optimizer 'sgdd'"):
        schedules.optimizer_factory("sgdd", "cosine", decay_steps=10)


@pytest.mark.parametrize(("kwargs", "match"), [
    (dict(factor=1.0), r"factor must be in \(0, 1\)"),
    (dict(factor=0.0), "factor"),
    (dict(patience=0), "patience must be >= 1"),
    (dict(rtol=0.0, atol=0.0), "at least one of rtol and atol"),
    (dict(rtol=-1e-3), "rtol must be >= 0"),
    (dict(cooldown=-1), "cooldown must be >= 0"),
    (dict(accumulation_size=0), "accumulation_size must be >= 1"),
    (dict(min_scale=-0.1), "min_scale must be >= 0"),
])
def test_reduce_on_plateau_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        schedules.reduce_on_plateau(**kwargs)


def test_factories_reject_bad_arguments():
    with pytest.raises(ValueError, match="init_value is the swept learning_rate"):
        schedules.optimizer_factory("sgd", "cosine", init_value=0.1, decay_steps=10)
    with pytest.raises(ValueError, match="decay_steps must be >= 1"):
        schedules.optimizer_factory("sgd", "cosine", decay_steps=0)
    with pytest.raises(ValueError, match="non-empty"):
        schedules.table_factory("sgd", [], 10)
    with pytest.raises(ValueError, match="num_steps must be >= 1"):
        schedules.table_factory("sgd", [schedules.make("constant", value=1.0)], 0)
    with pytest.raises(ValueError, match="takes no learning_rate"):
        schedules.optimizer_factory("hot_and_cold", "cosine", decay_steps=10)
