"""update_rules: the multiplicative update against its NumPy recurrence, and the claims."""


import jax.numpy as jnp
import numpy as np
import pytest

import gdlab
from gdlab import experiment


def test_exponentiated_gradient_follows_its_recurrence():
    optimum, eta = 0.437, 0.1
    traj = gdlab.train.run(lambda w: (w - optimum) ** 2, jnp.asarray(0.833),
                           gdlab.optimizers.make("exponentiated_gradient", learning_rate=eta), 30,
                           record_params=True)
    w, expected = 0.833, [0.833]
    for _ in range(30):
        w = w * np.exp(-eta * 2 * (w - optimum))  # w ← w·exp(−η·g), g = 2(w − w*)
        expected.append(w)
    np.testing.assert_allclose(np.asarray(traj.params), expected, rtol=1e-13)


def test_exponentiated_gradient_is_invariant_at_the_minimum_and_keeps_signs():
    opt = gdlab.optimizers.make("exponentiated_gradient", learning_rate=0.5)
    traj = gdlab.train.run(lambda w: jnp.sum((w - 0.3) ** 2), jnp.array([0.3, 1e-3, 4.0]),
                           opt, 50, divergence_factor=None, record_params=True)
    w = np.asarray(traj.params)
    assert np.all(w[:, 0] == 0.3)  # exp(0) = 1: it stays at the minimum
    assert np.all(w > 0)  # (a step exp(−η·g) can only underflow to 0 for huge η·g)


@pytest.mark.xdist_group("update_rules")
def test_quick_claims_hold(quick_run):
    loaded, config, output = quick_run("update_rules")
    found = experiment.build_result(loaded, config, output)["claims"]
    assert len(found) >= 15
    assert [c["statement"] for c in found if not c["holds"]] == []


@pytest.mark.parametrize("field", ["optimum", "start", "sign_step", "learning_rate"])
def test_nan_options_are_refused_naming_the_option(field):
    module = experiment.load("update_rules").module
    with pytest.raises(ValueError, match=field):
        module.run(module.Config(**{field: float("nan")}))


def test_exp_starts_must_be_positive():
    module = experiment.load("update_rules").module
    with pytest.raises(ValueError, match="exp_starts"):
        module.run(module.Config(exp_starts=(0.5, -0.1)))
