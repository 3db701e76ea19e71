"""edge_of_stability against independent references.

- The quick edge-of-stability run ends with its sharpness within 10% of 2/η (issue 8), and
  the sharpness it reports equals scipy's eigsh on finite-difference Hessian-vector products.
"""


import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree
from scipy.sparse.linalg import LinearOperator, eigsh

pytestmark = pytest.mark.xdist_group("edge_of_stability")


@pytest.fixture(scope="module")
def eos(quick_run):
    loaded, config, result = quick_run("edge_of_stability")
    return loaded.module, config, result


def test_quick_sharpness_ends_at_the_edge(eos):
    _, config, result = eos
    for lr in config.learning_rates:
        m = result["metrics"][f"eta_{lr:g}"]
        assert m["status"] == "ok"
        assert abs(m["final_ratio"] - 1) < 0.10, m
        assert m["step_reaching_edge"] is not None


def test_sharpness_matches_scipy_on_finite_differences(eos):
    module, config, result = eos
    f, params = module.problem(config)
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
    measured = result["series"]["runs"][0]["sharpness"][0]
    assert measured == pytest.approx(top, rel=1e-3)
