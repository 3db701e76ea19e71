"""The lr_schedules experiment: its claims at quick size, over other seeds, and its theory.

- ``floor_theory`` and ``mean_loss_theory`` against a NumPy Monte-Carlo of the noisy
  quadratic's recursion (independent of gdlab.train).
- ``warmup_threshold``: a NumPy loop of x ← x(1 − η(λ + x²)) converges just below
  2/(λ + x₀²) and not just above.
- The quick run's claims hold, and so do those of ``--seed S`` for S = 1…4.
"""

import dataclasses
import json

import jax
import numpy as np
import pytest

from gdlab import claims, experiment, results

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


def _claims(mod, config, output):
    result = json.loads(json.dumps(results.to_jsonable(
        {"config": dataclasses.asdict(config), **output})))
    return mod.claims(result)


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
