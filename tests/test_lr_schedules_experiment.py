"""The lr_schedules experiment: its claims at quick size, over other seeds, and its theory.

- ``floor_theory`` and ``mean_loss_theory`` against a NumPy Monte-Carlo of the noisy
  quadratic's recursion (independent of gdlab.train).
- ``warmup_threshold``: a NumPy loop of x ← x(1 − η(λ + x²)) converges just below
  2/(λ + x₀²) and not just above.
- The quick run's claims hold, and so do those of ``--seed S`` for S = 1…4.
"""

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from gdlab import claims, experiment

pytestmark = pytest.mark.xdist_group("lr_schedules")


@pytest.fixture(scope="module")
def module():
    return experiment.load("lr_schedules").module


def test_noise_floor_and_recursion_match_a_numpy_monte_carlo(module):
    rng = np.random.default_rng(0)
    lam, sigma, x0, steps, runs = 1.0, 0.1, 1.0, 400, 20000
    rates = np.full((1, steps), 0.3)
    rates[0, 200:] = 0.03  # a step decay
    x = np.full(runs, x0)
    for t in range(steps):
        x = x - rates[0, t] * (lam * x + sigma * rng.standard_normal(runs))
    measured = 0.5 * lam * np.mean(x**2)
    exact = module.mean_loss_theory(rates, lam, sigma, x0)[0, -1]
    assert measured == pytest.approx(exact, rel=4 * np.sqrt(2 / runs))
    # a constant rate long enough: the stationary floor ησ²/(2(2 − ηλ))
    steady = module.mean_loss_theory(np.full((1, 2000), 0.3), lam, sigma, x0)[0, -1]
    assert steady == pytest.approx(module.floor_theory(0.3, lam, sigma), rel=1e-9)


def test_warmup_threshold_by_iteration(module):
    lam, x0 = 1.0, 3.0
    limit = module.warmup_threshold(lam, x0)

    def converges(eta):
        x = x0
        for _ in range(3000):
            x = x * (1 - eta * (lam + x * x))
            if not abs(x) < 1e6:
                return False
        return abs(x) < 1e-6

    assert converges(0.99 * limit) and not converges(1.01 * limit)


@functools.cache  # one compiled update per plateau setting, not one per call
def _plateau_update(factor, patience, rtol, accumulation_size):
    plateau = optax.contrib.reduce_on_plateau(factor=factor, patience=patience, rtol=rtol,
                                              accumulation_size=accumulation_size)
    dummy = jnp.zeros((), jnp.float32)
    return plateau, jax.jit(
        lambda state, value: plateau.update(dummy, state, dummy, value=value)[1])


def _plateau_by_hand(config, losses: np.ndarray) -> np.ndarray:
    """optax's reduce_on_plateau run by hand on the losses each update received (the sweep
    records loss[k], the minibatch loss update k was fed as ``value=``): its scale after
    every update. ``losses``: (runs, T) -> (runs, T)."""
    plateau, update = _plateau_update(config.plateau_factor, config.plateau_patience,
                                      config.plateau_rtol, config.plateau_average)
    dummy = jnp.zeros((), jnp.float32)
    out = np.empty(losses.shape)
    for r, row in enumerate(losses):
        state = plateau.init(dummy)
        for k, value in enumerate(row):
            state = update(state, jnp.float32(value))
            out[r, k] = state.scale
    return out


@pytest.mark.parametrize(("opt", "peaks"), [("sgd", None), ("adam", (0.008, 0.032, 0.128))])
def test_plateau_scale_instrument_equals_optax_run_by_hand(module, opt, peaks):
    """The plateau scale the effective_lr instrument reads from the optimizer state equals
    optax's reduce_on_plateau run by hand on the recorded losses; for SGD it also equals
    the effective learning rate ‖u‖/‖g‖ over the peak, in every layer."""
    mnist = module._load("mnist")
    config = experiment.load("lr_schedules").default_config(quick=True)
    names = ["constant", "reduce_on_plateau"]
    table = np.ones((2, config.steps))
    problem, _ = mnist._mnist_problem(config)
    peaks = np.asarray(peaks or config.sgd_peaks)
    sw = module.gdlab.train.sweep(
        problem.stochastic, problem.init, mnist._mnist_factory(config, opt, names, table),
        {"schedule": [0, 1], "learning_rate": peaks}, config.steps, seeds=[0, 1],
        data=problem.data, stochastic=True, instruments=("effective_lr",), instrument_every=1)
    ok = np.all(sw.diverged_at < 0, axis=-1)[1]  # peaks where no seed diverged
    assert ok.sum() >= 2
    reduced = False
    for j in np.nonzero(ok)[0]:
        scale = mnist._instrument_scale(sw, 1, j, config.steps)
        by_hand = _plateau_by_hand(config, np.asarray(sw.loss)[1, j, :, :-1])
        np.testing.assert_allclose(scale, by_hand, rtol=1e-6)
        reduced |= bool(np.any(by_hand < 1))
        if opt == "sgd":
            layers = np.asarray(sw.instruments["effective_lr"], float)[1, j, :, : config.steps]
            np.testing.assert_allclose(layers / peaks[j], np.broadcast_to(
                scale[..., None], layers.shape), rtol=1e-5)
    assert reduced, "no reduction in the test's runs: the comparison would be trivial"
    # the constant row never reduces (min_scale = 1 switches the plateau off there)
    np.testing.assert_array_equal(np.asarray(sw.instruments["plateau_scale"])[0][ok], 1.0)


def _claims(module, config, output):
    return experiment.build_result(module, config, output)["claims"]


def test_quick_claims_hold(quick_run):
    loaded, config, output = quick_run("lr_schedules")
    found = _claims(loaded.module, config, output)
    assert len(found) >= 10
    assert not claims.failed(found), claims.markdown(claims.failed(found))


@pytest.mark.slow
@pytest.mark.xdist_group("lr_schedules")
@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_other_seeds_keep_the_claims(seed, quick_run):
    # the quick run's module: its sweeps are cached per configuration, so another seed
    # reuses their compiled programs (a freshly loaded module would compile them again)
    loaded = quick_run("lr_schedules")[0]
    config = dataclasses.replace(loaded.default_config(quick=True), seed=seed)
    with jax.numpy_rank_promotion("allow"):
        output = loaded.module.run(config)
    found = _claims(loaded.module, config, output)
    assert not claims.failed(found), claims.markdown(claims.failed(found))
