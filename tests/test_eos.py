"""edge_of_stability against independent references.

- The quick edge-of-stability run's claims hold (median over 5 seeds of the settled
  sharpness within 10% of 2/η, ...), and so do those of ``--seed S`` for S = 1…4.
- The sharpness it reports (the sweep's "sharpness" instrument, for GD and heavy ball)
  equals scipy's eigsh on finite-difference Hessian-vector products at the initial point
  (float64, independent of gdlab.curvature and gdlab.train's instruments).
- The claims include Adam's preconditioned sharpness against (2 + 2β₁)/((1 − β₁)η) and
  heavy ball's sharpness against 2(1 + β)/η.
"""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree
from scipy.sparse.linalg import LinearOperator, eigsh

from gdlab import claims, experiment

pytestmark = pytest.mark.xdist_group("edge_of_stability")


@pytest.fixture(scope="module")
def eos(quick_run):
    loaded, config, result = quick_run("edge_of_stability")
    return loaded.module, config, result


def _claims(module, config, output):
    return experiment.build_result(module, config, output)["claims"]


def test_quick_claims_hold(eos):
    module, config, output = eos
    found = _claims(module, config, output)
    assert len(found) >= 5
    statements = " ".join(c["statement"] for c in found)
    assert "Adam" in statements and "heavy ball" in statements
    assert not claims.failed(found), claims.markdown(claims.failed(found))
    for lr in config.learning_rates:
        assert output["metrics"][f"eta_{lr:g}"]["diverged_runs"] == 0


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_other_seeds_keep_the_claims(seed):
    loaded = experiment.load("edge_of_stability")
    config = dataclasses.replace(loaded.default_config(quick=True), seed=seed)
    with jax.numpy_rank_promotion("allow"):
        output = loaded.module.run(config)
    found = _claims(loaded.module, config, output)
    assert not claims.failed(found), claims.markdown(claims.failed(found))


def test_sharpness_matches_scipy_on_finite_differences(eos):
    module, config, result = eos
    p, data = module.problem(config)
    params = p.init(jax.random.split(jax.random.key(config.seed))[0])  # the sweep's init key

    def f(params):
        return p.loss(params, data)

    params64 = jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), params)
    flat, unravel = ravel_pytree(params64)
    grad = jax.jit(jax.grad(lambda v: f(unravel(v))))
    eps = 1e-5

    def hv(v):  # central difference of float64 gradients: independent of gdlab.curvature
        v = np.asarray(v, np.float64).ravel()
        return np.asarray(grad(flat + eps * v) - grad(flat - eps * v)) / (2 * eps)

    n = flat.shape[0]
    op = LinearOperator((n, n), matvec=hv, dtype=np.float64)
    top = eigsh(op, k=1, which="LA", tol=1e-6, return_eigenvectors=False)[0]
    for series in ("runs", "heavy_ball"):  # GD's and heavy ball's sweep instruments
        measured = result["series"][series]["sharpness"][0, 0, 0]  # first rate, seed, step
        assert measured == pytest.approx(top, rel=1e-3), series
