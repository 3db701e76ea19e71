"""hessian_spectrum: the logit-shift zero modes against jax.hessian in float64, and the
claims at quick size (also from other initialisations)."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

from gdlab import experiment

pytestmark = pytest.mark.xdist_group("hessian_spectrum")


@pytest.fixture(scope="module")
def module():
    return experiment.load("hessian_spectrum").module


def test_zero_modes_are_the_null_space_of_the_float64_hessian(module):
    config = module.Config(num_examples=200, hidden=3)
    f, data, model = module.problem(config)
    # one compiled program each (eager init and an eager jax.hessian compile every
    # primitive on its own); the data is an argument, not a constant folded by XLA
    params = jax.jit(lambda key: jax.tree.map(lambda a: a.astype(jnp.float64),
                                              model.init(key)))(jax.random.key(3))
    data = {"x": data["x"].astype(jnp.float64), "y": data["y"]}
    flat, unravel = ravel_pytree(params)
    h = np.asarray(jax.jit(jax.hessian(lambda z, d: f(unravel(z), d)))(flat, data))
    null = module.zero_modes(params)
    assert null.shape == (flat.size, config.hidden + 1)
    np.testing.assert_allclose(null.T @ null, np.eye(config.hidden + 1), atol=1e-12)
    assert np.linalg.norm(h @ null) <= 1e-12 * np.linalg.norm(h)
    # and nothing else is null: exactly hidden + 1 eigenvalues vanish
    eig = np.abs(np.linalg.eigvalsh(h))
    assert np.sum(eig < 1e-10 * eig.max()) == config.hidden + 1


def _failed(module, config, output):
    found = experiment.build_result(module, config, output)["claims"]
    return [c["statement"] for c in found if not c["holds"]]


def test_quick_claims_hold(quick_run):
    loaded, config, output = quick_run("hessian_spectrum")
    assert _failed(loaded.module, config, output) == []


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_claims_hold_from_other_initialisations(seed, quick_run):
    loaded, config, _ = quick_run("hessian_spectrum")
    config = dataclasses.replace(config, seed=seed)
    with jax.numpy_rank_promotion("allow"):  # as the CLI runs it
        output = loaded.module.run(config)
    assert _failed(loaded.module, config, output) == []
