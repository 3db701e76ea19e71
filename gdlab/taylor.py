"""What a step really does: the Taylor series of a loss along a direction.

Along a line through ``x`` in direction ``d`` the loss is a function of one number,

    φ(t) = f(x + t·d) = Σ_k c_k t^k,    c_0 = f(x),  c_1 = ∇f(x)·d,  c_2 = ½ dᵀH d,  ...

so the change made by a step is ``f(x + step) − f(x) = Σ_{k≥1} c_k`` with ``d = step``
and ``t = 1``. For the gradient step ``x − εg`` this is the book's eq. 4.9,

    f(x − εg) ≈ f(x) − ε gᵀg + ½ ε² gᵀH g,

whose minimiser in ε (when gᵀHg > 0) is ε* = gᵀg / gᵀHg (eq. 4.10). In a deep product
ŷ = x·w₁⋯w_l, φ is a polynomial of degree l and every order up to l matters.

The coefficients come from one of four exact methods:

* ``"jet"``      Taylor-mode AD (``jax.experimental.jet``), any order at ~order² cost;
                 it has no rule for some primitives (``reduce_prod``, ``scan``, ``cond``,
                 ``sort``, ``atan``, custom-jvp functions such as ``jax.nn.relu``).
* ``"jvp"``      nested ``jax.jvp`` of φ: c_k = φ⁽ᵏ⁾(0)/k!; works for every function
                 JAX can differentiate, but costs about 3^order evaluations of f.
* ``"hvp"``      order ≤ 2: c_1 by ``jax.jvp``, c_2 = ½ d·(H d) by a Hessian-vector
                 product (``gdlab.curvature.hvp``); never forms H, so x may be large.
* ``"hessian"``  order ≤ 2: c_2 = ½ dᵀ H d with the dense Hessian (small x only).

``"auto"`` (the default) uses ``"hvp"`` for order ≤ 2 and ``"jet"`` above, falling
back on ``"jvp"`` when the first choice fails (up to order 8, where its cost is still
modest; beyond that it explains what to rewrite instead of compiling for minutes).

Every public function is jitted with ``f`` (and ``order``, ``method``) static, like
``gdlab.curvature``: a call with the same f and shapes reuses the compiled program. A
loss with data is ``f(x, data)`` with ``data=`` passed (a jit argument, never closed over,
as in ``gdlab.train``), so new data of the same shapes reuses it too.

Steps, directions and step sizes are taken in the precision of the parameters: ``d``
is cast to the dtype of ``x`` leaf by leaf and ε to the dtype of the loss, so float32
parameters give a float32 experiment and float64 stays float64.
"""

import math
import operator
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax.experimental import jet
from jax.flatten_util import ravel_pytree

from gdlab import linalg
from gdlab.curvature import hvp
from gdlab.curvature._operators import bind, dense_hessian

METHODS = ("auto", "jet", "jvp", "hvp", "hessian")
_SECOND_ORDER_METHODS = ("hvp", "hessian")
_MAX_AUTO_JVP_ORDER = 8  # nested jvp costs ~3**order: order 8 compiles in seconds, 10 in ~40 s


class OptimalStep(NamedTuple):
    """The best step size along −g under the quadratic model (eq. 4.10).

    ``epsilon = gTg / gTHg`` when ``gTHg > 0``; otherwise ``inf``: the model is flat or
    curves down along −g, so it has no minimum there and "the longer the better".
    """

    epsilon: jax.Array  # ε*, or inf when gTHg ≤ 0
    gTg: jax.Array  # gᵀg: the first-order decrease per unit ε
    gTHg: jax.Array  # gᵀHg: the curvature along g, times |g|²


class StepTerms(NamedTuple):
    """Terms of eq. 4.9 for the gradient steps x − εg; arrays shaped like ``epsilon``.

    The first-order prediction of the change is ``first_order``; the second-order one is
    ``first_order + second_order``; ``actual`` is the measured f(x − εg) − f(x).
    """

    epsilon: jax.Array  # the step sizes, in the loss's dtype
    first_order: jax.Array  # −ε gᵀg
    second_order: jax.Array  # ½ ε² gᵀHg (the term alone)
    actual: jax.Array  # f(x − εg) − f(x)
    gTg: jax.Array  # scalar gᵀg
    gTHg: jax.Array  # scalar gᵀHg


@partial(jax.jit, static_argnames=("f", "order", "method"))
def coefficients(f, x, d, order, *, method="auto", data=None):
    """Taylor coefficients c_0..c_order of t ↦ f(x + t·d) = Σ_k c_k t^k, exactly.

    c_k = φ⁽ᵏ⁾(0) / k! for φ(t) = f(x + t·d): c_0 = f(x), c_1 = ∇f(x)·d,
    c_2 = ½ dᵀ∇²f(x) d, c_3 = (1/6) ∇³f(x)[d, d, d], ...

    Args:
      f: scalar function of a pytree.
      x: the point, a pytree of float arrays.
      d: the direction, a pytree with the structure and shapes of ``x`` (cast to the
        dtypes of ``x``).
      order: highest order, a non-negative int (static: not traced).
      method: one of ``METHODS``; see the module docstring. ``"hvp"`` and ``"hessian"``
        need ``order ≤ 2``.
      data: optional data pytree; then f is called as ``f(x, data)``.

    Returns:
      Array of shape ``(order + 1,)`` in f's dtype.

    Example:
      >>> coefficients(jnp.exp, 0.0, 2.0, 3).tolist()   # e^{2t} = 1 + 2t + 2t² + (4/3)t³
      [1.0, 2.0, 2.0, 1.333333]
      >>> f = lambda w, data: jnp.mean((data["x"] * w) ** 2)     # mean x² · w²
      >>> coefficients(f, 1.0, 1.0, 2, data={"x": jnp.array([1.0, 3.0])}).tolist()
      [5.0, 10.0, 5.0]
    """
    f = bind(f, data)
    order = _check_order(order)
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; valid methods: {', '.join(METHODS)}")
    if method in _SECOND_ORDER_METHODS and order > 2:
        raise ValueError(f"method {method!r} gives orders up to 2, not {order}; "
                         "use 'jet' or 'jvp' for higher orders")
    x, d = _check_point_and_direction(f, x, d)
    if order == 0:
        return jnp.stack([f(x)])
    if method != "auto":
        return _METHOD_FNS[method](f, x, d, order)

    first = "hvp" if order <= 2 else "jet"
    try:
        return _METHOD_FNS[first](f, x, d, order)
    except Exception as err:  # jet lacks a rule, or f is not reverse-differentiable
        if order > _MAX_AUTO_JVP_ORDER:
            raise ValueError(
                f"method {first!r} failed ({_describe(err)}), and the nested-jvp fallback "
                f"costs about 3**order evaluations of f: at order {order} > "
                f"{_MAX_AUTO_JVP_ORDER} it is not tried automatically. Write f with "
                "jet-friendly operations (explicit products or jnp.cumprod instead of "
                "jnp.prod, jnp.maximum(x, 0) instead of jax.nn.relu, a Python loop instead "
                "of lax.scan/fori_loop, jnp.where instead of lax.cond), or pass "
                "method='jvp' to force it."
            ) from err
        return _jvp_coefficients(f, x, d, order)


@partial(jax.jit, static_argnames=("f", "order", "method"))
def predicted_change(f, x, step, order, *, method="auto", data=None):
    """Taylor model of f(x + step) − f(x) up to ``order``: Σ_{k=1..order} c_k.

    The c_k are ``coefficients(f, x, step, order)`` (t = 1). Order 1 is ∇f·step, order
    2 adds ½ stepᵀH step; if f is a polynomial of degree ≤ order the model is exact.

    Example:
      >>> float(predicted_change(lambda x: x**3, 1.0, 0.5, 2))   # 3·0.5 + 3·0.25
      2.25
    """
    return jnp.sum(coefficients(f, x, step, order, method=method, data=data)[1:])


@partial(jax.jit, static_argnames=("f",))
def optimal_step(f, x, *, data=None):
    """ε* = gᵀg / gᵀHg, the best gradient step under the quadratic model (eq. 4.10).

    Minimises −ε gᵀg + ½ ε² gᵀHg over ε. gᵀHg comes from one Hessian-vector product;
    no Hessian is formed. When gᵀHg ≤ 0 (negative curvature, a linear f, or g = 0) the
    model has no minimum along −g and ``epsilon`` is ``inf``: check ``gTHg``.

    Returns:
      ``OptimalStep(epsilon, gTg, gTHg)``, scalars in f's dtype.

    Example:
      >>> float(optimal_step(lambda x: 2.0 * x**2, 1.0).epsilon)    # g = 4, H = 4: ε* = 1/4
      0.25
    """
    _, _, _, gTg, gTHg = _gradient_quantities(bind(f, data), x)
    curved_up = gTHg > 0
    epsilon = jnp.where(curved_up, gTg / jnp.where(curved_up, gTHg, 1), jnp.inf)
    return OptimalStep(epsilon.astype(gTg.dtype), gTg, gTHg)


@partial(jax.jit, static_argnames=("f",))
def gradient_step_terms(f, x, epsilon, *, data=None):
    """First-order, second-order and actual change of f for the steps x − εg (eq. 4.9).

        first_order = −ε gᵀg,   second_order = ½ ε² gᵀHg,   actual = f(x − εg) − f(x)

    g, gᵀg and gᵀHg are computed once (one gradient, one Hessian-vector product); the
    actual changes are one compiled loop over all ε (``lax.map``: one evaluation of f at
    a time), so a grid of thousands of step sizes costs one compile. (A vmapped batch
    would turn a network's matmuls into batched ones, which XLA's CPU backend runs
    several times slower than the same matmuls one after another.) ε is cast to the
    dtype of f(x) and each step to the dtype of its parameter leaf.

    Args:
      f: scalar function of a pytree.
      x: the point, a pytree of float arrays.
      epsilon: step sizes, a scalar or an array of any shape.
      data: optional data pytree; then f is called as ``f(x, data)``.

    Returns:
      ``StepTerms``; ``epsilon``, ``first_order``, ``second_order`` and ``actual`` have
      the shape of ``epsilon``.

    Example:
      >>> t = gradient_step_terms(lambda x: x**2, 1.0, jnp.array([0.1, 0.5]))
      >>> t.actual.tolist()   # = −ε·4 + ½ε²·8 exactly on a quadratic, up to round-off
      [-0.36, -1.0]
    """
    f = bind(f, data)
    x, f0, g, gTg, gTHg = _gradient_quantities(f, x)
    eps = jnp.asarray(epsilon).astype(f0.dtype)

    def change(e):
        return f(jax.tree.map(lambda xl, gl: xl - e.astype(xl.dtype) * gl, x, g)) - f0

    actual = jax.lax.map(change, eps.reshape(-1)).reshape(eps.shape)
    return StepTerms(eps, -eps * gTg, 0.5 * eps**2 * gTHg, actual, gTg, gTHg)


@partial(jax.jit, static_argnames=("f",))
def newton_step(f, x, *, data=None):
    """The Newton step −H⁻¹g, with the dense Hessian (small problems only).

    It jumps to the stationary point of the quadratic model f + gᵀs + ½ sᵀHs: a minimum
    when H is positive definite, a saddle or maximum otherwise (the step is returned
    all the same; check the curvature with ``gdlab.curvature``). When H is singular
    (some |λ| ≤ n·eps·max|λ|) the step is undefined and every entry is NaN, so the
    function stays usable under ``jit`` and ``vmap``.

    Returns:
      The step, a pytree shaped like ``x``.

    Example:
      >>> float(newton_step(lambda x: (x - 3.0)**2, 1.0))     # one step to the minimum
      2.0
    """
    f = bind(f, data)
    x = _as_arrays(x)
    flat_g, unravel = ravel_pytree(jax.grad(f)(x))
    lam, q = linalg.eigh(dense_hessian(f, x))
    tol = lam.shape[0] * jnp.finfo(lam.dtype).eps * jnp.max(jnp.abs(lam))
    singular = jnp.min(jnp.abs(lam)) <= tol
    step = -q @ ((q.T @ flat_g) / jnp.where(singular, 1, lam))
    return unravel(jnp.where(singular, jnp.nan, step))


# --- the four methods ------------------------------------------------------------------


def _jet_coefficients(f, x, d, order):
    """Taylor mode: push the input series x + t·d (c_1 = d, higher 0) through f."""
    leaves, treedef = jax.tree.flatten(x)
    series = [[dl] + [jnp.zeros_like(dl)] * (order - 1) for dl in treedef.flatten_up_to(d)]
    fun = lambda *ls: f(jax.tree.unflatten(treedef, ls))
    y0, ys = jet.jet(fun, leaves, series, factorial_scaled=False)
    return jnp.stack([y0, *ys])


def _jvp_coefficients(f, x, d, order):
    """Nested forward mode on φ(t) = f(x + t·d): c_k = φ⁽ᵏ⁾(0) / k!."""

    def phi(t):
        return f(jax.tree.map(lambda xl, dl: xl + t.astype(xl.dtype) * dl, x, d))

    def derivatives(k):  # t ↦ [φ(t), φ'(t), ..., φ⁽ᵏ⁾(t)]
        if k == 0:
            return lambda t: [phi(t)]
        lower = derivatives(k - 1)

        def upto_k(t):
            values, tangents = jax.jvp(lower, (t,), (jnp.ones_like(t),))
            return values + [tangents[-1]]

        return upto_k

    t0 = jnp.zeros((), jnp.result_type(*jax.tree.leaves(x)))
    values = derivatives(order)(t0)
    return jnp.stack([v / math.factorial(k) for k, v in enumerate(values)])


def _hvp_coefficients(f, x, d, order):
    """c_1 by one jvp, c_2 = ½ d·(H d) by one Hessian-vector product."""
    c0, c1 = jax.jvp(f, (x,), (d,))
    if order == 1:
        return jnp.stack([c0, c1])
    return jnp.stack([c0, c1, 0.5 * optax.tree.vdot(d, hvp(f, x, d))])


def _hessian_coefficients(f, x, d, order):
    """c_1 = ∇f·d from the gradient, c_2 = ½ dᵀ H d with the dense Hessian."""
    c0, g = jax.value_and_grad(f)(x)
    c1 = optax.tree.vdot(g, d)
    if order == 1:
        return jnp.stack([c0, c1])
    flat_d, _ = ravel_pytree(d)
    hd = jnp.dot(dense_hessian(f, x), flat_d, precision=jax.lax.Precision.HIGHEST)
    return jnp.stack([c0, c1, 0.5 * jnp.vdot(flat_d, hd, precision=jax.lax.Precision.HIGHEST)])


_METHOD_FNS = {
    "jet": _jet_coefficients,
    "jvp": _jvp_coefficients,
    "hvp": _hvp_coefficients,
    "hessian": _hessian_coefficients,
}


# --- helpers ---------------------------------------------------------------------------


def _gradient_quantities(f, x):
    """x as arrays, f(x), g = ∇f(x), gᵀg and gᵀHg (one gradient, one HVP)."""
    x = _as_arrays(x)
    f0, g = jax.value_and_grad(f)(x)
    return x, f0, g, optax.tree.vdot(g, g), optax.tree.vdot(g, hvp(f, x, g))


def _as_arrays(tree):
    return jax.tree.map(jnp.asarray, tree)


def _check_order(order):
    if isinstance(order, bool):
        raise ValueError(f"order must be a non-negative int, got {order!r}")
    try:
        order = operator.index(order)
    except TypeError:
        raise ValueError(f"order must be a non-negative int, got {order!r}") from None
    if order < 0:
        raise ValueError(f"order must be a non-negative int, got {order}")
    return order


def _check_point_and_direction(f, x, d):
    """Arrays for x and d (d in x's dtypes); same structure and shapes; scalar f."""
    x, d = _as_arrays(x), _as_arrays(d)
    x_def, d_def = jax.tree.structure(x), jax.tree.structure(d)
    if x_def != d_def:
        raise ValueError(f"x and d must have the same pytree structure, got {x_def} and {d_def}")
    for xl, dl in zip(jax.tree.leaves(x), jax.tree.leaves(d), strict=True):
        if xl.shape != dl.shape:
            raise ValueError(f"x and d must have the same shapes, got {xl.shape} and {dl.shape}")
    out = jax.eval_shape(f, x)
    if getattr(out, "shape", None) != ():
        raise ValueError(f"f must return a scalar, got {out}")
    return x, jax.tree.map(lambda xl, dl: dl.astype(xl.dtype), x, d)


def _describe(err):
    if isinstance(err, KeyError):
        return f"jet has no rule for the primitive {err.args[0]}"
    return f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"


__all__ = [
    "METHODS",
    "OptimalStep",
    "StepTerms",
    "coefficients",
    "gradient_step_terms",
    "newton_step",
    "optimal_step",
    "predicted_change",
]
