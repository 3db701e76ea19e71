"""The lr_schedules experiment: its claims at quick size, over other seeds, and its theory.

- ``floor_theory`` and ``mean_loss_theory`` against a NumPy Monte-Carlo of the noisy
  quadratic's recursion (independent of gdlab.train).
- ``warmup_threshold``: a NumPy loop of x ← x(1 − η(λ + x²)) converges just below
  2/(λ + x₀²) and not just above.
- The quick run's claims hold, and so do those of ``--seed S`` for S = 1…4.
"""

import dataclasses

import jax
import numpy as np
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


def test_plateau_scale_from_the_instruments_equals_the_replay(module):
    """SGD's effective learning rate ‖u‖/‖g‖ (the sweep's instrument, every layer) over the
    peak equals reduce_on_plateau's scale replayed by optax on the recorded losses."""
    mnist = module._load("mnist")
    config = experiment.load("lr_schedules").default_config(quick=True)
    names = ["constant", "reduce_on_plateau"]
    table = np.ones((2, config.steps))
    problem, _ = mnist._mnist_problem(config)
    peaks = np.asarray(config.sgd_peaks)
    sw = module.gdlab.train.sweep(
        problem.stochastic, problem.init, mnist._mnist_factory(config, "sgd", names, table),
        {"schedule": [0, 1], "learning_rate": peaks}, config.steps, seeds=[0, 1],
        data=problem.data, stochastic=True, instruments=("effective_lr",), instrument_every=1)
    effective = np.asarray(sw.instruments["effective_lr"], float)  # (2, peaks, seeds, T+1, L)
    ok = np.all(sw.diverged_at < 0, axis=-1)[1]  # peaks where no seed diverged
    assert ok.sum() >= 2
    replayed, reduced = [], False
    for j in np.nonzero(ok)[0]:
        scale = mnist._instrument_scale(sw, 1, j, peaks[j], config.steps)
        replay = mnist._replay_plateau(config, np.asarray(sw.loss)[1, j, :, :-1])
        np.testing.assert_allclose(scale, replay, rtol=1e-5)
        layers = effective[1, j, :, : config.steps] / peaks[j]
        np.testing.assert_allclose(layers, np.broadcast_to(layers[..., :1], layers.shape),
                                   rtol=1e-5)  # the same in every layer
        reduced |= bool(np.any(replay < 1))
        replayed.append(replay)
    assert reduced, "no reduction in the test's runs: the comparison would be trivial"
    # the constant row never reduces (min_scale = 1 switches the plateau off there)
    row0 = effective[0][ok][..., : config.steps, 0] / peaks[ok][:, None, None]
    np.testing.assert_allclose(row0, 1.0, rtol=1e-5)


def _claims(module, config, output):
    return experiment.build_result(module, config, output)["claims"]


def test_quick_claims_hold(quick_run):
    loaded, config, output = quick_run("lr_schedules")
    found = _claims(loaded.module, config, output)
    assert len(found) >= 10
    assert not claims.failed(found), claims.markdown(claims.failed(found))


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_other_seeds_keep_the_claims(seed):
    loaded = experiment.load("lr_schedules")
    config = dataclasses.replace(loaded.default_config(quick=True), seed=seed)
    with jax.numpy_rank_promotion("allow"):
        output = loaded.module.run(config)
    found = _claims(loaded.module, config, output)
    assert not claims.failed(found), claims.markdown(claims.failed(found))
