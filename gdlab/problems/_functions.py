"""Test functions with known answers: the 2-D classics and the 1-D lessons.

Every loss takes ``x`` of shape ``(n,)`` (a scalar in 1-D) or a grid ``(n, ...)`` and
returns the values ``(...)``, so ``loss(jnp.stack([X, Y]))`` draws contours. A second
argument (the problem's ``data``, None here) is accepted and ignored, so these losses
fit ``loss(params, data)`` code too.
"""

import math

import jax.numpy as jnp
import numpy as np

from gdlab.problems._record import Problem, float_input, make


def rosenbrock(*, a: float = 1.0, b: float = 100.0, x0=(-1.2, 1.0)) -> Problem:
    """Rosenbrock's banana: f(x) = (a − x₁)² + b (x₂ − x₁²)², min 0 at (a, a²).

    A curved narrow valley: the gradient points across it, not along it. The start
    (−1.2, 1) is Rosenbrock's (1960).
    """
    a, b = float(a), float(b)

    def loss(x, data=None):
        del data
        x = float_input(x, 2, "rosenbrock")
        return (a - x[0]) ** 2 + b * (x[1] - x[0] ** 2) ** 2

    return make(
        "rosenbrock",
        loss,
        x0=x0,
        argmin=(a, a * a),
        fmin=0.0,
        domain=((-2.0, 2.0), (-1.0, 3.0)),
        description=f"(a − x1)² + b(x2 − x1²)², a={a:g}, b={b:g}: a curved narrow valley",
    )


def beale(*, x0=(1.0, 1.5)) -> Problem:
    """Beale's function, min 0 at (3, 0.5):

    f(x) = (1.5 − x₁ + x₁x₂)² + (2.25 − x₁ + x₁x₂²)² + (2.625 − x₁ + x₁x₂³)².

    Flat plateaus and sharp ridges; from (1, 1.5) gradient descent reaches (3, 0.5).
    """

    def loss(x, data=None):
        del data
        x = float_input(x, 2, "beale")
        x1, x2 = x[0], x[1]
        return (
            (1.5 - x1 + x1 * x2) ** 2
            + (2.25 - x1 + x1 * x2**2) ** 2
            + (2.625 - x1 + x1 * x2**3) ** 2
        )

    return make(
        "beale",
        loss,
        x0=x0,
        argmin=(3.0, 0.5),
        fmin=0.0,
        domain=((-4.5, 4.5), (-4.5, 4.5)),
        description="Beale: plateaus and steep ridges, minimum 0 at (3, 0.5)",
    )


HIMMELBLAU_MINIMA = (
    (3.0, 2.0),
    (-2.805118086952745, 3.131312518250573),
    (-3.779310253377747, -3.2831859912861696),
    (3.5844283403304917, -1.8481265269644034),
)
"""The four global minima of Himmelblau's function (all with f = 0; Newton-refined)."""


def himmelblau(*, x0=(0.0, 0.0)) -> Problem:
    """Himmelblau's function f(x) = (x₁² + x₂ − 11)² + (x₁ + x₂² − 7)².

    Four global minima, all f = 0 (``HIMMELBLAU_MINIMA``, also in ``minima``); which
    one an optimiser finds depends on the start. ``argmin`` is (3, 2), the one
    gradient descent with a small step reaches from (0, 0).
    """

    def loss(x, data=None):
        del data
        x = float_input(x, 2, "himmelblau")
        return (x[0] ** 2 + x[1] - 11) ** 2 + (x[0] + x[1] ** 2 - 7) ** 2

    return make(
        "himmelblau",
        loss,
        x0=x0,
        argmin=HIMMELBLAU_MINIMA[0],
        fmin=0.0,
        domain=((-5.0, 5.0), (-5.0, 5.0)),
        description="Himmelblau: four global minima (f = 0); the start picks which",
        minima=HIMMELBLAU_MINIMA,
    )


def rastrigin(*, amplitude: float = 10.0, x0=(2.2, -1.8)) -> Problem:
    """Rastrigin's function in 2-D: f(x) = 2A + Σ_i (x_i² − A cos 2πx_i), A = 10.

    A bowl covered in local minima near every integer point; the global minimum is
    0 at the origin. Gradient descent stops in the nearest local minimum.
    """
    amp = float(amplitude)

    def loss(x, data=None):
        del data
        x = float_input(x, 2, "rastrigin")
        return 2 * amp + jnp.sum(x**2 - amp * jnp.cos(2 * jnp.pi * x), axis=0)

    return make(
        "rastrigin",
        loss,
        x0=x0,
        argmin=(0.0, 0.0),
        fmin=0.0,
        domain=((-5.12, 5.12), (-5.12, 5.12)),
        description=f"Rastrigin (A={amp:g}): a bowl of local minima, global minimum 0 at 0",
    )


# --------------------------------------------------------------------------- 1-D


def _local_minima_1d(f, df, d2f, lo, hi, num=20001):
    """Interior local minima of f on [lo, hi]: a dense grid, then Newton on f'."""
    xs = np.linspace(lo, hi, num)
    fx = f(xs)
    idx = np.nonzero((fx[1:-1] < fx[:-2]) & (fx[1:-1] <= fx[2:]))[0] + 1
    found = []
    for x in xs[idx]:
        for _ in range(50):
            x = x - df(x) / d2f(x)
        if lo < x < hi and d2f(x) > 0 and abs(df(x)) < 1e-10 * max(1.0, abs(x)):
            if not any(abs(x - y) < 1e-8 for y in found):
                found.append(float(x))
    return sorted(found)


def x_cos(c: float = 0.15 * math.pi, *, x0: float = 10.0, domain=(-10.0, 10.0)) -> Problem:
    """f(x) = x cos(c x) on a bounded interval: non-convex, with local minima.

    The example of d2l's gradient-descent chapter (c = 0.15π, x₀ = 10). ``minima``
    are all interior local minima on ``domain`` (a dense grid refined by Newton's
    method on f'(x) = cos(cx) − c x sin(cx)); ``argmin`` is the lowest of them.
    For the defaults that is x* ≈ 7.2694, f* ≈ −6.9781: the global minimum on
    [−10, 10] and the local minimum gradient descent with a small step reaches from
    x₀ = 10; the other one is x ≈ −1.8257 (f ≈ −1.1907).
    """
    c = float(c)
    lo, hi = (float(v) for v in domain)
    if not lo < hi:
        raise ValueError(f"domain must be (lo, hi) with lo < hi, got {domain!r}")
    minima = _local_minima_1d(
        lambda x: x * np.cos(c * x),
        lambda x: np.cos(c * x) - c * x * np.sin(c * x),
        lambda x: -2 * c * np.sin(c * x) - c * c * x * np.cos(c * x),
        lo,
        hi,
    )
    if not minima:
        raise ValueError(f"x·cos({c:g}·x) has no interior local minimum on {domain}")
    best = min(minima, key=lambda x: x * math.cos(c * x))

    def loss(x, data=None):
        del data
        x = float_input(x, None, "x_cos")
        return x * jnp.cos(c * x)

    return make(
        "x_cos",
        loss,
        x0=x0,
        argmin=best,
        fmin=best * math.cos(c * best),
        domain=((lo, hi),),
        description=f"x·cos({c:.4g}·x) on [{lo:g}, {hi:g}]: non-convex, {len(minima)} local minima",
        minima=minima,
        info={"c": c},
        widen=False,  # the domain is the search box: keep it as given
    )


def x_squared(*, x0: float = 10.0) -> Problem:
    """f(x) = x², min 0 at 0: the learning-rate lesson.

    f'(x) = 2x, so a step is x ← (1 − 2α) x: slow for small α, one step for α = ½,
    oscillating for ½ < α < 1, stuck bouncing at α = 1 and diverging for α > 1.
    """

    def loss(x, data=None):
        del data
        x = float_input(x, None, "x_squared")
        return x**2

    half = 1.2 * max(abs(float(x0)), 1.0)
    return make(
        "x_squared",
        loss,
        x0=x0,
        argmin=0.0,
        fmin=0.0,
        domain=((-half, half),),
        description="x²: the step x ← (1 − 2α)x converges iff 0 < α < 1",
    )
