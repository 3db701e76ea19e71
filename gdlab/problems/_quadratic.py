"""Quadratics f(x) = ½ xᵀAx − bᵀx: any spectrum, rotated, and a noisy (minibatch) variant."""

import dataclasses
import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from gdlab.problems._record import Problem, box, cover, float_input, make


def _rotation(n: int, angle: float | None, key: jax.Array | None) -> np.ndarray:
    if angle is not None and key is not None:
        raise ValueError("pass at most one of angle (2-D) and key (random rotation)")
    if angle is not None:
        if n != 2:
            raise ValueError(f"angle rotates 2-D quadratics only, got {n} eigenvalues")
        c, s = math.cos(angle), math.sin(angle)
        return np.array([[c, -s], [s, c]])
    if key is not None:
        # Haar-random orthogonal: QR of a Gaussian matrix, signs fixed by diag(R).
        # Drawn in float32 so the rotation does not depend on the x64 flag.
        g = np.asarray(jax.random.normal(key, (n, n), jnp.float32), np.float64)
        q, r = np.linalg.qr(g)
        return q * np.sign(np.diag(r))
    return np.eye(n)


def quadratic(
    eigenvalues: Sequence[float] | None = None,
    *,
    A=None,
    b=None,
    x0=None,
    angle: float | None = None,
    key: jax.Array | None = None,
    noise: float = 0.0,
) -> Problem:
    """The quadratic f(x) = ½ xᵀAx − bᵀx, with x* = A⁻¹b and f* = −½ bᵀA⁻¹b.

    The Hessian is A everywhere, so gradient descent with step α converges iff
    α < 2/λ_max(A), and its speed is set by the condition number λ_max/λ_min.

    Args:
      eigenvalues: eigenvalues of A (all > 0); A = Q diag(λ) Qᵀ with Q the identity
        (diagonal A) unless ``angle`` or ``key`` rotates it. Default (1, 10).
      A: a symmetric positive definite matrix instead of ``eigenvalues``.
      b: the linear term (default zero, so x* = 0).
      x0: start point (default x* + (1, …, 1)).
      angle: rotate a 2-D quadratic by this angle (radians): Q = [[c, −s], [s, c]].
      key: rotate by a Haar-random orthogonal Q drawn from this key (any n).
      noise: σ ≥ 0 of a noisy variant: ``stochastic(x, data, key=k)`` is
        f(x) + σ ξᵀ(x − x*) with ξ ~ N(0, I) drawn from k, so its gradient is the true
        gradient plus N(0, σ²I) noise (an unbiased, minibatch-like gradient).

    ``info`` holds ``A``, ``b``, ``eigenvalues`` (ascending), ``condition_number`` and
    ``noise``.

    Example:

    >>> q = quadratic(eigenvalues=[0.01, 0.1, 1.0], b=[1.0, 1.0, 1.0])
    >>> round(float(q.loss(q.argmin)), 6) == round(q.fmin, 6) == -55.5    # −½ bᵀA⁻¹b
    True
    """
    if not (np.isfinite(noise) and noise >= 0):
        raise ValueError(f"noise must be a finite number >= 0, got {noise}")
    if A is not None:
        if eigenvalues is not None or angle is not None or key is not None:
            raise ValueError("pass either A or eigenvalues (with an optional rotation)")
        A = np.asarray(A, np.float64)
        if A.ndim != 2 or A.shape[0] != A.shape[1] or A.shape[0] == 0:
            raise ValueError(f"A must be a square matrix, got shape {A.shape}")
        if not np.allclose(A, A.T, rtol=1e-12, atol=1e-12 * np.abs(A).max()):
            raise ValueError("A must be symmetric")
        A = (A + A.T) / 2
        lam = np.linalg.eigvalsh(A)
    else:
        lam = np.asarray((1.0, 10.0) if eigenvalues is None else eigenvalues, np.float64)
        if lam.ndim != 1 or lam.size == 0:
            raise ValueError(f"eigenvalues must be a non-empty 1-D sequence, got {lam!r}")
        q = _rotation(lam.size, angle, key)
        A = q @ np.diag(lam) @ q.T
        A = (A + A.T) / 2
    if not (np.all(np.isfinite(lam)) and lam.min() > 0):
        raise ValueError(f"A must be positive definite; eigenvalues {np.sort(lam)}")
    n = A.shape[0]
    b = np.zeros(n) if b is None else np.asarray(b, np.float64)
    if b.shape != (n,):
        raise ValueError(f"b must have shape ({n},), got {b.shape}")
    argmin = np.linalg.solve(A, b)
    x0 = argmin + 1.0 if x0 is None else np.asarray(x0, np.float64)
    if x0.shape != (n,):
        raise ValueError(f"x0 must have shape ({n},), got {x0.shape}")
    A_ro, b_ro = A.copy(), b.copy()
    A_ro.flags.writeable = b_ro.flags.writeable = False

    def loss(x, data=None):
        del data
        x = float_input(x, n, "quadratic")
        A_x = jnp.asarray(A_ro, x.dtype)
        b_x = jnp.asarray(b_ro, x.dtype)
        return 0.5 * jnp.sum(x * jnp.tensordot(A_x, x, axes=1), axis=0) - jnp.tensordot(
            b_x, x, axes=1
        )

    def noisy(x, data=None, *, key):
        x = float_input(x, n, "quadratic")
        xi = jax.random.normal(key, x.shape, x.dtype)
        return loss(x) + noise * jnp.sum(xi * (x - jnp.asarray(argmin_ro, x.dtype)))

    argmin_ro = argmin.copy()
    argmin_ro.flags.writeable = False
    lam = np.sort(lam)
    lam.flags.writeable = False
    problem = make(
        "quadratic",
        loss,
        x0=x0,
        argmin=argmin,
        fmin=-0.5 * b @ argmin,
        domain=box([x0, argmin]) if n <= 2 else None,
        description=f"½xᵀAx − bᵀx in {n}-D, eigenvalues {lam[0]:.3g}…{lam[-1]:.3g} "
        f"(condition number {lam[-1] / lam[0]:.3g})",
        info={
            "A": A_ro,
            "b": b_ro,
            "eigenvalues": lam,
            "condition_number": float(lam[-1] / lam[0]),
            "noise": float(noise),
        },
    )
    return dataclasses.replace(problem, stochastic=noisy) if noise else problem


def quadratic_deep(*, noise: float = 0.0, seed: int = 42) -> Problem:
    """DeepOBS's ``quadratic_deep`` (Schneider et al. 2019): a 100-D quadratic whose Hessian
    has 90 eigenvalues uniform in (0, 1) and 10 uniform in (30, 60), rotated by a Haar-random
    orthogonal matrix; minimum 0 at 0, start (1, …, 1). ``noise``: the noisy (minibatch-like)
    variant of ``quadratic``. Spectrum and rotation are drawn from ``key(seed)``.

    >>> p = quadratic_deep()
    >>> p.info["eigenvalues"].size, round(p.info["condition_number"]) > 30
    (100, True)
    """
    k_small, k_large, k_rot = jax.random.split(jax.random.key(seed), 3)
    lam = np.concatenate([
        np.asarray(jax.random.uniform(k_small, (90,), jnp.float32), np.float64),
        np.asarray(jax.random.uniform(k_large, (10,), jnp.float32, 30.0, 60.0), np.float64)])
    p = quadratic(lam, key=k_rot, noise=noise)
    return dataclasses.replace(p, name="quadratic_deep")


def ill_conditioned(*, x0=(-5.0, -2.0)) -> Problem:
    """f(x) = 0.1 x₁² + 2 x₂² = ½ xᵀ diag(0.2, 4) x: curvatures 0.2 and 4, κ = 20.

    Gradient descent converges iff α < 2/4 = 0.5 and crawls along x₁ (factor
    1 − 0.2α per step) while it zig-zags along x₂ (factor 1 − 4α). The start
    (−5, −2) is the one of d2l's gradient-descent chapter.
    """
    q = quadratic(eigenvalues=(0.2, 4.0), x0=x0)
    return dataclasses.replace(
        q,
        name="ill_conditioned",
        domain=cover(((-5.5, 5.5), (-3.0, 3.0)), [q.x0, q.argmin]),
        description="0.1·x1² + 2·x2² (Hessian eigenvalues 0.2 and 4, condition number 20)",
    )
