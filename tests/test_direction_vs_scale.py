"""direction_vs_scale: its 2-D family against closed forms, and its claims at quick size
(also for other seeds: other random starts)."""

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from gdlab import experiment

pytestmark = pytest.mark.xdist_group("direction_vs_scale")


@pytest.fixture(scope="module")
def module():
    return experiment.load("direction_vs_scale").module


def test_the_family_is_the_rotated_scaled_quadratic_and_rosenbrock(module):
    config = module.Config(starts=5)
    table = module.cases(config)
    starts = module.start_points(config)
    np.testing.assert_allclose(np.linalg.norm(starts, axis=1), math.hypot(*config.x0))
    np.testing.assert_array_equal(starts[0], config.x0)
    data = {"lam": jnp.asarray(config.eigenvalues), "starts": jnp.asarray(starts),
            "cases": jnp.asarray(list(table.values()), jnp.float64)}
    d = np.array([0.3, -0.7])
    for j, (c, gamma, angle, kind) in enumerate(table.values()):
        value = float(module.family(jnp.asarray(d), data, start=2, case=j))
        if kind == 1:
            x = np.array([-1.2, 1.0]) + d
            expected = (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2
        else:
            r = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
            a = r @ np.diag(np.multiply(config.eigenvalues, [1.0, gamma])) @ r.T
            x = r @ starts[2] + d
            expected = c * 0.5 * x @ a @ x
        assert value == pytest.approx(expected, rel=1e-12)


def _claims(module, config, output):
    return experiment.build_result(module, config, output)["claims"]


def test_quick_claims_hold(quick_run):
    loaded, config, output = quick_run("direction_vs_scale")
    found = _claims(loaded.module, config, output)
    assert len(found) >= 15
    assert [c["statement"] for c in found if not c["holds"]] == []


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_claims_hold_for_other_starts(seed, quick_run):
    """Other seeds draw other random starts; the sweeps are compiled already."""
    loaded, config, _ = quick_run("direction_vs_scale")
    config = dataclasses.replace(config, seed=seed)
    with jax.numpy_rank_promotion("allow"):  # as the CLI runs it
        output = loaded.module.run(config)
    found = _claims(loaded.module, config, output)
    assert [c["statement"] for c in found if not c["holds"]] == []


def test_switch_applies_exactly_the_chosen_optimizers_updates(module):
    # one transformation for every optimizer: with `which` = i its updates must be those of
    # optimizer i alone (optax's own transformation, same gradients), step after step
    names = ("sgd", "adagrad", "adam", "sign_descent")
    grads = np.random.default_rng(0).normal(size=(4, 3))
    params = jnp.asarray([0.5, -1.0, 2.0])
    for i, name in enumerate(names):
        mixed = module.switch(names)(jnp.asarray(float(i)), jnp.asarray(0.1))
        alone = {"sgd": optax.sgd(0.1), "adam": optax.adam(0.1),
                 "adagrad": optax.adagrad(0.1, initial_accumulator_value=0.0),
                 "sign_descent": optax.chain(optax.scale_by_sign(), optax.scale(-0.1))}[name]
        s_mixed, s_alone = mixed.init(params), alone.init(params)
        for g in grads:
            u_mixed, s_mixed = mixed.update(jnp.asarray(g), s_mixed, params)
            u_alone, s_alone = alone.update(jnp.asarray(g), s_alone, params)
            np.testing.assert_allclose(u_mixed, u_alone, rtol=1e-12, atol=0, err_msg=name)
    # one fixed rate per optimizer: the factory takes `which` only
    per_rate = module.switch(("sgd", "adam"), (0.5, 0.01))(jnp.asarray(0.0))
    update, _ = per_rate.update(jnp.asarray(grads[0]), per_rate.init(params), params)
    np.testing.assert_allclose(update, -0.5 * grads[0], rtol=1e-12)
