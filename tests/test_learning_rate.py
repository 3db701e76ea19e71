"""learning_rate: the claims at quick size, for the seeds the CLI's --seed 1..4 would measure,
and the asymptotic factor against (κ − 1)/(κ + 1)."""

import dataclasses

import jax
import pytest

from gdlab import experiment


@pytest.fixture(scope="module")
def module():
    return experiment.load("learning_rate").module


def _claims(loaded, config, output):
    return experiment.build_result(loaded, config, output)["claims"]


@pytest.mark.xdist_group("learning_rate")
def test_quick_claims_hold(quick_run):
    found = _claims(*quick_run("learning_rate"))
    assert len(found) >= 18
    assert [c["statement"] for c in found if not c["holds"]] == []
    mlp = [c for c in found if c["statement"].startswith("MLP")]
    assert all(c["seeds"] == [0, 1, 2, 3, 4] for c in mlp)


@pytest.mark.xdist_group("learning_rate")
def test_the_mlp_claims_hold_for_seeds_1_to_4(quick_run):
    """``gdlab run learning_rate --quick --seed S`` measures seeds S…S+4: the runs at seeds
    1…5 and 4…8 give them all (the quick run's shapes: its compiled programs are reused);
    the quadratics' claims do not depend on the MLP seeds."""
    loaded, config, output = quick_run("learning_rate")
    module = loaded.module  # the module object whose jitted functions the quick run compiled
    n = config.mlp_seeds
    assert n >= 3  # two runs of n seeds from 1 and 4 cover seeds 1…8
    rows = {}
    with jax.numpy_rank_promotion("allow"):
        for first in (4, 1):  # seeds in both runs keep the values of the run from 1
            net = module.mlp(dataclasses.replace(config, seed=first))
            rows.update({row["seed"]: row for row in net["per_seed"]})
    assert sorted(rows) == list(range(1, n + 4))
    for start in range(4):
        part = {**net, "per_seed": [rows[seed] for seed in range(start + 1, start + 1 + n)]}
        metrics = {**output["metrics"], "mlp": module._mlp_metrics(part)}
        found = _claims(loaded, dataclasses.replace(config, seed=start + 1),
                        {**output, "metrics": metrics})
        failed = [c["statement"] for c in found if not c["holds"]]
        assert failed == [], f"seed {start + 1}: {failed}"


@pytest.mark.parametrize("field", ["x0", "rate_min", "mlp_rate_max"])
def test_nan_options_are_refused_naming_the_option(module, field):
    with pytest.raises(ValueError, match=field):
        module.run(module.Config(**{field: float("nan")}))


def test_nan_in_a_tuple_option_is_refused(module):
    with pytest.raises(ValueError, match="kappas"):
        module.run(module.Config(kappas=(10.0, float("nan"))))


def test_asymptotic_factor_never_beats_the_optimum(module):
    kappa = 1000.0
    config = module.Config(kappas=(kappa,), num_rates=120, rate_min=1e-3, rate_max=3e-3)
    with jax.numpy_rank_promotion("allow"):
        p = module.stability(config)["problems"][0]
    optimum = (kappa - 1) / (kappa + 1)  # λ from 1 to κ exactly
    assert p["factor_measured"] >= optimum - 1e-12
    assert p["factor_measured"] == pytest.approx(p["factor_theory_at_best"], abs=1e-9)
    # the loss fitted over the last quarter is a transient here: it reads below the optimum
    assert p["loss_fit_factor_at_best"] < optimum
