"""Curvature of a loss: Hessian-vector products, dense Hessians, eigenvalues, spectra.

Everything is built on one primitive, the Hessian-vector product

    H(x) v = d/dt ∇f(x + t v) |_{t=0}          (forward-over-reverse: jvp of grad)

which costs a few gradient evaluations and never forms H. On top of it:

- ``hessian``: the dense (n, n) matrix, for small problems and as a reference;
- ``top_eigenvalues`` / ``bottom_eigenvalues`` / ``sharpness``: the ends of the spectrum
  by Lanczos with full reorthogonalisation (dense ``eigh`` when n ≤ ``DENSE_MAX_SIZE``,
  or by ``method=``), scaling to millions of parameters;
- ``power_iteration``: the textbook baseline, largest |λ|;
- ``hutchinson_trace`` and ``spectral_density`` (stochastic Lanczos quadrature): the
  whole spectrum, estimated from random probes;
- ``batched``: a loss averaged over batches so that all of the above hold one batch
  of activations at a time.

Every function takes ``f(params) -> scalar`` and a pytree ``params``, or
``f(params, data)`` with the data passed as ``data=`` (as ``gdlab.train`` takes it: a jit
argument, never closed over, so new data reuses the compilation). Vectors come back as
pytrees like ``params``; dtypes follow ``params``; randomness comes only from
keyword-only ``key=`` arguments.

    >>> import jax.numpy as jnp
    >>> A = jnp.diag(jnp.array([4.0, 3.0, 2.0, 1.0]))
    >>> f = lambda w, data: 0.5 * w @ data["A"] @ w
    >>> top_eigenvalues(f, jnp.zeros(4), k=3, data={"A": A})   # three largest of A
    Array([4., 3., 2.], ...)
"""


from gdlab.curvature._eigen import (
    DENSE_MAX_SIZE,
    PowerIteration,
    bottom_eigenvalues,
    power_iteration,
    sharpness,
    top_eigenvalues,
)
from gdlab.curvature._operators import batched, hessian, hvp
from gdlab.curvature._stochastic import (
    SpectralDensity,
    TraceEstimate,
    hutchinson_trace,
    spectral_density,
)

__all__ = [
    "DENSE_MAX_SIZE",
    "PowerIteration",
    "SpectralDensity",
    "TraceEstimate",
    "batched",
    "bottom_eigenvalues",
    "hessian",
    "hutchinson_trace",
    "hvp",
    "power_iteration",
    "sharpness",
    "spectral_density",
    "top_eigenvalues",
]
