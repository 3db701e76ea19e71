"""Randomised estimates of the whole spectrum: Hutchinson's trace, stochastic Lanczos quadrature."""

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from gdlab.curvature._eigen import _size, default_num_iters, dense_eigh, resolve_method
from gdlab.curvature._lanczos import ritz
from gdlab.curvature._operators import bind, flat_operator


class TraceEstimate(NamedTuple):
    """Hutchinson estimate of tr(H) and its standard error (std of the samples / √m)."""

    trace: jax.Array
    stderr: jax.Array


class SpectralDensity(NamedTuple):
    """Gaussian-broadened spectral density of the Hessian and its quadrature.

    grid: (num_points,) eigenvalue axis t.
    density: (num_points,) φ(t), integrating to 1 (∫φ = 1 up to the grid's reach).
    nodes: (num_probes, m) Gauss quadrature nodes θ (Ritz values), per probe.
    weights: (num_probes, m) their weights w ≥ 0, each row summing to 1.

    The mass below a threshold c, e.g. the fraction of negative eigenvalues (c = 0), is
    ``jnp.mean(jnp.sum(weights * (nodes < c), axis=1))``.
    """

    grid: jax.Array
    density: jax.Array
    nodes: jax.Array
    weights: jax.Array


@partial(jax.jit, static_argnames=("f", "num_samples"))
def _hutchinson(f, x, data, key, *, num_samples):
    f = bind(f, data)
    flat, _, matvec = flat_operator(f, x)

    def sample(k):
        z = jax.random.rademacher(k, flat.shape, flat.dtype)
        return jnp.vdot(z, matvec(z))

    samples = lax.map(sample, jax.random.split(key, num_samples))
    return TraceEstimate(jnp.mean(samples), jnp.std(samples, ddof=1) / jnp.sqrt(num_samples))


def hutchinson_trace(f, x, *, key, num_samples=100, data=None):
    """Hutchinson's estimate of the Hessian trace, tr(H) ≈ (1/m) Σᵢ zᵢᵀ H zᵢ.

    With Rademacher probes z (entries ±1) each term is unbiased, E[zᵀHz] = tr(H), with
    variance 2 Σ_{i≠j} H_ij² (zero for a diagonal H). The standard error reported is
    the sample standard deviation over √m, so the truth lies within ±2·stderr about
    95% of the time. Costs m HVPs, run one after another (memory of one HVP).

    Args:
      f: scalar function ``f(x)``, or ``f(x, data)`` with ``data=``.
      x: the point.
      key: PRNG key of the probes (required: the answer is random).
      data: optional data pytree passed as ``f(x, data)``.
      num_samples: number of probes m ≥ 2.

    Returns:
      ``TraceEstimate(trace, stderr)``, scalars in x's dtype.

    Example::

      >>> key = jax.random.key(0)
      >>> est = hutchinson_trace(lambda w: jnp.sum(w ** 2), jnp.ones(10), key=key)
      >>> est.trace, est.stderr                  # 20 exactly: H = 2·I is diagonal
      (Array(20., ...), Array(0., ...))
    """
    if int(num_samples) < 2:
        raise ValueError(f"num_samples must be at least 2 for a standard error, got {num_samples}")
    return _hutchinson(f, x, data, key, num_samples=int(num_samples))


@partial(jax.jit, static_argnames=("f", "num_probes", "num_iters", "num_points", "method"))
def _slq(f, x, data, key, grid, sigma, *, num_probes, num_iters, num_points, method):
    f = bind(f, data)
    flat, _, matvec = flat_operator(f, x)
    n = flat.shape[0]
    if method == "dense":
        nodes = dense_eigh(f, x)[0][None, :]
        weights = jnp.full((1, n), 1 / n, flat.dtype)
    else:

        def probe(k):
            v0 = jax.random.rademacher(k, (n,), flat.dtype) / jnp.sqrt(n).astype(flat.dtype)
            theta, s, _ = ritz(matvec, v0, num_iters)
            return theta, s[0] ** 2

        nodes, weights = lax.map(probe, jax.random.split(key, num_probes))
    lo, hi = jnp.min(nodes), jnp.max(nodes)
    if sigma is None:
        spread = jnp.where(hi > lo, hi - lo, jnp.maximum(jnp.abs(hi), 1))
        sigma = 0.01 * spread
    if grid is None:
        grid = jnp.linspace(lo - 5 * sigma, hi + 5 * sigma, num_points)
    z = (grid[:, None] - nodes.reshape(1, -1)) / sigma
    kernel = jnp.exp(-0.5 * z**2) / (sigma * jnp.sqrt(2 * jnp.pi))
    density = kernel @ weights.reshape(-1) / nodes.shape[0]
    return SpectralDensity(grid, density, nodes, weights)


def spectral_density(
    f,
    x,
    *,
    key,
    num_probes=8,
    num_iters=None,
    grid=None,
    num_points=512,
    sigma=None,
    method="auto",
    data=None,
):
    """Spectral density of the Hessian by stochastic Lanczos quadrature (SLQ).

    The density φ(t) = (1/n) Σᵢ δ(t − λᵢ) is estimated as in Ghorbani, Krishnan & Xiao
    (2019) and PyHessian (Yao et al. 2020): for each random unit probe v (Rademacher
    entries ±1/√n), m Lanczos steps from v give nodes θ_j (eigenvalues of T) and
    weights w_j = (first component of T's j-th eigenvector)², a Gauss quadrature with
    vᵀ g(H) v ≈ Σ_j w_j g(θ_j) and E[vᵀ g(H) v] = (1/n) tr g(H). Averaging over probes
    and broadening each node by a Gaussian of width σ gives

        φ(t) ≈ (1/P) Σ_p Σ_j w_{p,j} exp(−(t − θ_{p,j})²/2σ²) / (σ√(2π)).

    Small problems (n ≤ ``DENSE_MAX_SIZE``) use the exact eigenvalues (one "probe", all
    weights 1/n) unless ``method="lanczos"``.

    Args:
      f: scalar function ``f(x)``, or ``f(x, data)`` with ``data=``.
      x: the point.
      key: PRNG key of the probes (required: the answer is random).
      data: optional data pytree passed as ``f(x, data)``.
      num_probes: number of probes P ≥ 1.
      num_iters: Lanczos steps m per probe, 1 ≤ m ≤ n; default min(n, 80).
      grid: where to evaluate φ; default ``num_points`` points from the smallest node
        − 5σ to the largest + 5σ.
      num_points: size of the default grid.
      sigma: Gaussian width σ > 0; default 1% of the spread of the nodes.
      method: "auto", "dense" or "lanczos" (as in ``top_eigenvalues``).

    Returns:
      ``SpectralDensity(grid, density, nodes, weights)``.

    Example::

      >>> f = lambda w: 0.5 * jnp.sum(jnp.array([-1.0, 1.0, 2.0, 3.0]) * w**2)
      >>> sd = spectral_density(f, jnp.zeros(4), key=jax.random.key(0))   # exact: n ≤ 128
      >>> sd.nodes                               # the eigenvalues, each with weight 1/4
      Array([[-1., 1., 2., 3.]], ...)
      >>> float(jnp.mean(jnp.sum(sd.weights * (sd.nodes < 0), axis=1)))   # mass below 0
      0.25
    """
    n = _size(x)
    method = resolve_method(method, n)
    if int(num_probes) < 1:
        raise ValueError(f"num_probes must be at least 1, got {num_probes}")
    if grid is None and int(num_points) < 2:
        raise ValueError(f"num_points must be at least 2, got {num_points}")
    if sigma is not None and not isinstance(sigma, jax.Array) and not sigma > 0:
        raise ValueError(f"sigma must be positive, got {sigma}")
    if grid is not None:
        grid = jnp.asarray(grid)
        if grid.ndim != 1:
            raise ValueError(f"grid must be one-dimensional, got shape {grid.shape}")
    num_iters = default_num_iters(num_iters, n, 1, at_least=80) if method == "lanczos" else None
    return _slq(
        f,
        x,
        data,
        key,
        grid,
        sigma,
        num_probes=int(num_probes),
        num_iters=num_iters,
        num_points=int(num_points),
        method=method,
    )
