"""gdlab.taylor against independent references: NumPy polynomials, closed forms, scipy.

Every reference here is computed without gdlab: NumPy polynomial algebra for the
coefficients of polynomials and of the deep chain, closed-form derivatives of exp and
sin, NumPy linear algebra for quadratics, ``scipy.optimize`` for line minimisers.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.optimize
from numpy.polynomial import polynomial as P

from gdlab import taylor

RNG = np.random.default_rng(0)


def rosenbrock(x):
    return (1.0 - x[0]) ** 2 + 100.0 * (x[1] - x[0] ** 2) ** 2


def chain(x_in):
    """ŷ = x · w_1 ⋯ w_l written as explicit multiplications (jet has no reduce_prod)."""

    def f(w):
        y = x_in
        for i in range(w.shape[0]):
            y = y * w[i]
        return y

    return f


def chain_reference(x_in, w, d):
    """NumPy: coefficients (low order first) of t ↦ x·∏(w_i + t d_i)."""
    poly = np.array([x_in])
    for wi, di in zip(w, d, strict=True):
        poly = np.polymul(poly, [di, wi])  # np.polymul: highest order first
    return poly[::-1]


# --- coefficients against closed forms -------------------------------------------------


def multivariate_poly(x):
    return x[0] ** 2 * x[1] + 3.0 * x[1] ** 3 - 2.0 * x[0] * x[1] * x[2] + x[2] - 0.5


def multivariate_reference(x, d):
    """NumPy polynomial algebra on the lines x_i + t·d_i."""
    line = [np.array([xi, di]) for xi, di in zip(x, d, strict=True)]
    terms = [
        P.polymul(P.polymul(line[0], line[0]), line[1]),
        3.0 * P.polymul(P.polymul(line[1], line[1]), line[1]),
        -2.0 * P.polymul(P.polymul(line[0], line[1]), line[2]),
        line[2],
        np.array([-0.5]),
    ]
    total = np.zeros(4)
    for term in terms:
        total = P.polyadd(total, term)
    return total


@pytest.mark.parametrize("method", ["auto", "jvp"])
def test_polynomial_coefficients_match_numpy(method):
    x, d = RNG.normal(size=3), RNG.normal(size=3)
    expected = multivariate_reference(x, d)  # degree 3
    order = 5 if method != "jvp" else 4
    got = taylor.coefficients(multivariate_poly, jnp.asarray(x), jnp.asarray(d), order,
                              method=method)
    assert got.shape == (order + 1,) and got.dtype == jnp.float64
    np.testing.assert_allclose(got[:4], expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got[4:], 0.0, atol=1e-12)


def test_composed_polynomial_matches_numpy_composition():
    p = np.array([0.3, -1.0, 2.0, 0.5, -0.25, 0.1])  # degree 5, low order first
    u = RNG.normal(size=4)
    x, d = RNG.normal(size=4), RNG.normal(size=4)
    f = lambda z: jnp.polyval(jnp.asarray(p[::-1]), jnp.dot(jnp.asarray(u), z))
    inner = np.polynomial.Polynomial([u @ x, u @ d])
    expected = np.polynomial.Polynomial(p)(inner).coef
    got = taylor.coefficients(f, jnp.asarray(x), jnp.asarray(d), 7)
    np.testing.assert_allclose(got[:6], expected, rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(got[6:], 0.0, atol=1e-10)


def pytree_point():
    x = {"a": jnp.asarray(RNG.normal(size=3) * 0.3), "b": (jnp.asarray(0.2), jnp.ones((2, 2)))}
    d = {"a": jnp.asarray(RNG.normal(size=3)), "b": (jnp.asarray(-0.7), jnp.full((2, 2), 0.1))}
    u = {"a": jnp.asarray([0.5, -1.0, 0.25]), "b": (jnp.asarray(2.0), jnp.eye(2) * 0.3)}
    return x, d, u


def tree_dot(a, b):
    return sum(float(np.sum(np.asarray(p) * np.asarray(q)))
               for p, q in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True))


def linear_form(u):
    return lambda z: sum(jnp.sum(p * q) for p, q in
                         zip(jax.tree.leaves(u), jax.tree.leaves(z), strict=True))


@pytest.mark.parametrize("method", ["auto", "jvp"])  # auto: jet at order 8
def test_exp_and_sin_along_a_line_on_pytrees(method):
    x, d, u = pytree_point()
    a, b = tree_dot(u, x), tree_dot(u, d)
    order = 8 if method != "jvp" else 5
    k = np.arange(order + 1)
    fact = np.array([math.factorial(i) for i in k], dtype=float)
    lin = linear_form(u)

    got_exp = taylor.coefficients(lambda z: jnp.exp(lin(z)), x, d, order, method=method)
    np.testing.assert_allclose(got_exp, np.exp(a) * b**k / fact, rtol=1e-12, atol=1e-15)

    got_sin = taylor.coefficients(lambda z: jnp.sin(lin(z)), x, d, order, method=method)
    np.testing.assert_allclose(got_sin, np.sin(a + k * np.pi / 2) * b**k / fact,
                               rtol=1e-12, atol=1e-14)


def test_second_order_is_half_dHd():
    x = jnp.asarray(RNG.normal(size=5))
    d = jnp.asarray(RNG.normal(size=5))
    w = jnp.asarray(RNG.normal(size=(5, 5)))
    f = lambda z: jnp.sum(jnp.tanh(w @ z) ** 2) + jnp.exp(0.1 * z[0] * z[1])
    value, grad, hess = jax.jit(lambda z: (f(z), jax.grad(f)(z), jax.hessian(f)(z)))(x)
    expected = [value, np.asarray(grad) @ d, 0.5 * d @ np.asarray(hess) @ d]
    for method in taylor.METHODS:
        got = taylor.coefficients(f, x, d, 2, method=method)
        np.testing.assert_allclose(got, expected, rtol=1e-12, err_msg=method)


def test_hessian_and_hvp_paths_agree_on_a_larger_pytree():
    # a two-layer tanh network on a fixed batch: 20·15 + 15 + 15 + 1 = 331 parameters
    params = {
        "w1": 0.3 * RNG.normal(size=(20, 15)),
        "b1": np.zeros(15),
        "w2": 0.3 * RNG.normal(size=15),
        "b2": np.asarray(0.0),
    }
    direction = {k: RNG.normal(size=np.shape(v)) for k, v in params.items()}
    inputs, targets = jnp.asarray(RNG.normal(size=(8, 20))), jnp.asarray(RNG.normal(size=8))

    def loss(p):
        hidden = jnp.tanh(inputs @ p["w1"] + p["b1"][None, :])
        return 0.5 * jnp.mean((hidden @ p["w2"] + p["b2"] - targets) ** 2)

    by_hessian = taylor.coefficients(loss, params, direction, 2, method="hessian")
    by_hvp = taylor.coefficients(loss, params, direction, 2, method="hvp")
    by_jet = taylor.coefficients(loss, params, direction, 2, method="jet")
    np.testing.assert_allclose(by_hvp, by_hessian, rtol=1e-11)
    np.testing.assert_allclose(by_jet, by_hessian, rtol=1e-11)
    # and c_2 against a central finite difference of the directional derivative
    h = 1e-5
    shifted = lambda s: taylor.coefficients(
        loss, {k: params[k] + s * direction[k] for k in params}, direction, 1)[1]
    fd = (shifted(h) - shifted(-h)) / (2 * h) / 2
    np.testing.assert_allclose(by_hvp[2], fd, rtol=1e-6)


# --- the deep chain ----------------------------------------------------------------------


@pytest.mark.parametrize("depth", [3, 8])
def test_deep_chain_every_order_matches_numpy_polynomial(depth):
    x_in = 1.3
    w = RNG.uniform(0.5, 1.8, size=depth)
    g = np.array([x_in * np.prod(np.delete(w, i)) for i in range(depth)])  # ∇_w ŷ
    expected = chain_reference(x_in, w, -g)
    got = taylor.coefficients(chain(x_in), jnp.asarray(w), jnp.asarray(-g), depth + 2)
    scale = np.max(np.abs(expected))
    np.testing.assert_allclose(got[: depth + 1], expected, rtol=1e-12, atol=1e-13 * scale)
    np.testing.assert_allclose(got[depth + 1:], 0.0, atol=1e-13 * scale)


def test_deep_chain_all_ones_closed_form_and_sum_of_orders():
    depth = 10
    w = jnp.ones(depth)
    g = jnp.ones(depth)  # ∇_w ŷ at w = 1, x = 1
    eps = 0.1 / depth  # ε = 0.1 / gᵀg: the first-order model predicts a decrease of 0.1
    step = -eps * g
    f = chain(1.0)
    exact = (1.0 - 0.1 / depth) ** depth - 1.0
    np.testing.assert_allclose(taylor.predicted_change(f, w, step, depth), exact, rtol=1e-13)
    np.testing.assert_allclose(taylor.predicted_change(f, w, step, 1), -0.1, rtol=1e-14)
    terms = taylor.coefficients(f, w, step, depth)[1:]
    np.testing.assert_allclose(terms, [math.comb(depth, k) * (-eps) ** k
                                       for k in range(1, depth + 1)], rtol=1e-12, atol=1e-30)


def test_fallback_handles_prod_and_relu():
    depth, x_in = 4, 0.7
    w = RNG.uniform(0.5, 1.5, size=depth)
    d = RNG.normal(size=depth)
    expected = chain_reference(x_in, w, d)
    prod_chain = lambda v: x_in * jnp.prod(v)  # jet has no rule for reduce_prod
    relu_chain = lambda v: x_in * jnp.prod(jax.nn.relu(v))  # nor for custom_jvp (relu)
    for f in (prod_chain, relu_chain):
        with pytest.raises(Exception):  # noqa: B017 - whatever jet raises, auto falls back
            taylor.coefficients(f, jnp.asarray(w), jnp.asarray(d), depth, method="jet")
        got = jax.jit(lambda v, e, f=f: taylor.coefficients(f, v, e, depth))(
            jnp.asarray(w), jnp.asarray(d))
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14)


def test_auto_refuses_a_hopeless_fallback_order_with_advice():
    with pytest.raises(ValueError, match="reduce_prod.*method='jvp'"):
        taylor.coefficients(lambda v: jnp.prod(v), jnp.ones(3), jnp.ones(3), 12)


# --- predicted change, optimal step, Newton step -----------------------------------------


def random_quadratic(n=5):
    m = RNG.normal(size=(n, n))
    a = m @ m.T + 0.5 * np.eye(n)
    b = RNG.normal(size=n)
    f = lambda x: 0.5 * x @ jnp.asarray(a) @ x - jnp.asarray(b) @ x
    f_np = lambda x: 0.5 * x @ a @ x - b @ x
    return a, b, f, f_np


def test_quadratic_second_order_prediction_is_exact():
    a, b, f, f_np = random_quadratic()
    x, step = RNG.normal(size=5), RNG.normal(size=5)
    actual = f_np(x + step) - f_np(x)
    got = taylor.predicted_change(f, jnp.asarray(x), jnp.asarray(step), 2)
    np.testing.assert_allclose(got, actual, rtol=1e-13)
    first = taylor.predicted_change(f, jnp.asarray(x), jnp.asarray(step), 1)
    np.testing.assert_allclose(first, (a @ x - b) @ step, rtol=1e-13)
    assert float(taylor.predicted_change(f, jnp.asarray(x), jnp.asarray(step), 0)) == 0.0

    eps = np.geomspace(1e-3, 10.0, 7)
    terms = taylor.gradient_step_terms(f, jnp.asarray(x), jnp.asarray(eps))
    g = a @ x - b
    np.testing.assert_allclose(terms.actual, [f_np(x - e * g) - f_np(x) for e in eps],
                               rtol=1e-11)
    np.testing.assert_allclose(terms.first_order + terms.second_order, terms.actual,
                               rtol=1e-11)
    np.testing.assert_allclose(terms.first_order, -eps * (g @ g), rtol=1e-13)


def test_optimal_step_is_the_exact_line_minimiser_on_a_quadratic():
    a, b, f, f_np = random_quadratic()
    x = RNG.normal(size=5)
    g = a @ x - b
    result = taylor.optimal_step(f, jnp.asarray(x))
    np.testing.assert_allclose(result.epsilon, (g @ g) / (g @ a @ g), rtol=1e-13)
    np.testing.assert_allclose(result.gTg, g @ g, rtol=1e-13)
    np.testing.assert_allclose(result.gTHg, g @ a @ g, rtol=1e-13)
    line = scipy.optimize.minimize_scalar(lambda e: f_np(x - e * g), bracket=(0.0, 1.0),
                                          tol=1e-12)
    np.testing.assert_allclose(result.epsilon, line.x, rtol=1e-6)
    # it lies between 1/λ_max and 1/λ_min
    lam = np.linalg.eigvalsh(a)
    assert 1 / lam[-1] <= float(result.epsilon) <= 1 / lam[0]


def test_optimal_step_without_positive_curvature_is_inf():
    saddle = lambda x: x[0] ** 2 - 3.0 * x[1] ** 2
    x = jnp.asarray([0.1, 1.0])  # g = (0.2, −6): gᵀHg = 2·0.04 − 6·36 < 0
    result = taylor.optimal_step(saddle, x)
    assert np.isinf(float(result.epsilon)) and float(result.epsilon) > 0
    np.testing.assert_allclose(result.gTg, 0.04 + 36.0, rtol=1e-14)
    np.testing.assert_allclose(result.gTHg, 2 * 0.04 - 6 * 36.0, rtol=1e-14)
    linear = taylor.optimal_step(lambda x: 2.0 * x[0] - x[1], x)  # gᵀHg = 0
    assert np.isinf(float(linear.epsilon)) and float(linear.gTHg) == 0.0
    # and it is positive curvature, not the sign of the function, that decides
    bowl = taylor.optimal_step(lambda x: x[0] ** 2 - 3.0 * x[1] ** 2, jnp.asarray([1.0, 0.0]))
    np.testing.assert_allclose(bowl.epsilon, 0.5, rtol=1e-14)


def test_data_is_an_argument_and_new_data_compiles_nothing(xla_compilations):
    # least squares f(w, data) = ½ mean (X w − y)²: g = Xᵀ(Xw − y)/m, H = XᵀX/m (NumPy)
    rng = np.random.default_rng(5)
    X, y, w = rng.normal(size=(20, 3)), rng.normal(size=20), rng.normal(size=3)
    f = lambda w, data: 0.5 * jnp.mean((data["X"] @ w - data["y"]) ** 2)

    def check(X, y):
        data = {"X": jnp.asarray(X), "y": jnp.asarray(y)}
        H, g = X.T @ X / len(y), X.T @ (X @ w - y) / len(y)
        step = taylor.optimal_step(f, jnp.asarray(w), data=data)
        np.testing.assert_allclose(step.epsilon, (g @ g) / (g @ H @ g), rtol=1e-12)
        np.testing.assert_allclose(taylor.newton_step(f, jnp.asarray(w), data=data),
                                   -np.linalg.solve(H, g), rtol=1e-10)
        c = taylor.coefficients(f, jnp.asarray(w), jnp.asarray(g), 2, data=data)
        np.testing.assert_allclose(c[1:], [g @ g, 0.5 * g @ H @ g], rtol=1e-12)
        terms = taylor.gradient_step_terms(f, jnp.asarray(w), jnp.asarray([0.1]), data=data)
        np.testing.assert_allclose(terms.gTHg, g @ H @ g, rtol=1e-12)
        np.testing.assert_allclose(taylor.predicted_change(f, jnp.asarray(w), jnp.asarray(g),
                                                           1, data=data), g @ g, rtol=1e-12)

    check(X, y)
    with xla_compilations() as compiled:
        check(2.0 * X, -y)  # same shapes: every function reuses its compilation
    assert compiled == []


def test_newton_step():
    a, b, f, _ = random_quadratic()
    x = RNG.normal(size=5)
    step = taylor.newton_step(f, jnp.asarray(x))
    np.testing.assert_allclose(x + step, np.linalg.solve(a, b), rtol=1e-11)
    # on pytrees: one step to the minimum of a separable quadratic
    tree = {"u": jnp.asarray([1.0, 2.0]), "v": jnp.asarray(-1.0)}
    sep = lambda p: jnp.sum((p["u"] - 3.0) ** 2) + 4.0 * (p["v"] - 0.5) ** 2
    tstep = taylor.newton_step(sep, tree)
    np.testing.assert_allclose(tstep["u"], [2.0, 1.0], rtol=1e-13)
    np.testing.assert_allclose(tstep["v"], 1.5, rtol=1e-13)
    # indefinite H: Newton jumps to the saddle, as documented
    saddle = lambda z: (z[0] - 1.0) ** 2 - (z[1] + 2.0) ** 2
    np.testing.assert_allclose(jnp.asarray([0.3, 0.4]) + taylor.newton_step(
        saddle, jnp.asarray([0.3, 0.4])), [1.0, -2.0], rtol=1e-13)
    # singular H: NaN
    flat_valley = lambda z: (z[0] + z[1]) ** 2
    assert np.all(np.isnan(taylor.newton_step(flat_valley, jnp.asarray([1.0, 2.0]))))


# --- non-quadratic: error scaling with ε --------------------------------------------------


def test_rosenbrock_is_quartic_along_any_line():
    x, d = RNG.normal(size=2), RNG.normal(size=2)
    actual = float(rosenbrock(x + d) - rosenbrock(x))
    got = taylor.coefficients(rosenbrock, jnp.asarray(x), jnp.asarray(d), 6)
    np.testing.assert_allclose(float(jnp.sum(got[1:5])), actual, rtol=1e-12)
    np.testing.assert_allclose(got[4], 100.0 * d[0] ** 4, rtol=1e-13)  # 100 (d0²)²
    np.testing.assert_allclose(got[5:], 0.0, atol=1e-10)


def loglog_slope(eps, err):
    return np.polyfit(np.log(eps), np.log(np.abs(err)), 1)[0]


def test_rosenbrock_error_scaling_first_order_eps2_second_order_eps3():
    x = jnp.asarray([-0.5, 0.5])
    eps2 = np.geomspace(1e-7, 1e-4, 13)  # three decades each, where the next term is < 1 %
    eps3 = np.geomspace(1e-6, 1e-3, 13)
    t2 = taylor.gradient_step_terms(rosenbrock, x, jnp.asarray(eps2))
    t3 = taylor.gradient_step_terms(rosenbrock, x, jnp.asarray(eps3))
    first_error = np.asarray(t2.actual - t2.first_order)
    second_error = np.asarray(t3.actual - t3.first_order - t3.second_order)
    assert abs(loglog_slope(eps2, first_error) - 2.0) < 0.03
    assert abs(loglog_slope(eps3, second_error) - 3.0) < 0.03
    # the ε³ constant is the third Taylor coefficient along −g (NumPy reference: a quartic)
    g = np.asarray(jax.grad(rosenbrock)(x))
    xs = np.asarray(x)
    phi = lambda e: (1 - (xs[0] - e * g[0])) ** 2 + 100 * (xs[1] - e * g[1]
                                                            - (xs[0] - e * g[0]) ** 2) ** 2
    c = np.polynomial.polynomial.polyfit(np.linspace(-1, 1, 9), [phi(e) for e in
                                         np.linspace(-1, 1, 9)], 4)
    np.testing.assert_allclose(second_error[0] / eps3[0] ** 3, c[3], rtol=1e-3)


# --- dtypes and input checks ------------------------------------------------------------


def test_float32_stays_float32():  # float64 in, float64 out is checked everywhere above
    x = jnp.asarray([0.3, -0.2], jnp.float32)
    d = jnp.asarray([1.0, 0.5], jnp.float64)  # the direction is taken in x's precision
    f = lambda z: jnp.sum(jnp.exp(z) * z)
    for method in taylor.METHODS:
        order = 2 if method in ("hvp", "hessian") else 3
        assert taylor.coefficients(f, x, d, order, method=method).dtype == jnp.float32
    terms = taylor.gradient_step_terms(f, x, np.geomspace(1e-3, 1e-1, 3))  # float64 ε
    assert all(v.dtype == jnp.float32 for v in terms)
    assert taylor.optimal_step(f, x).epsilon.dtype == jnp.float32
    assert taylor.newton_step(f, x).dtype == jnp.float32


@pytest.mark.parametrize("order", [-1, 1.5, 2.0, True, "2", None])
def test_bad_order_raises(order):
    with pytest.raises(ValueError, match="order"):
        taylor.coefficients(jnp.exp, 0.0, 1.0, order)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="valid methods: auto, jet, jvp, hvp, hessian"):
        taylor.coefficients(jnp.exp, 0.0, 1.0, 2, method="finite_differences")
    with pytest.raises(ValueError, match="up to 2"):
        taylor.coefficients(jnp.exp, 0.0, 1.0, 3, method="hessian")
    with pytest.raises(ValueError, match="structure"):
        taylor.coefficients(lambda p: p["a"], {"a": 1.0}, {"b": 1.0}, 2)
    with pytest.raises(ValueError, match="shapes"):
        taylor.coefficients(jnp.sum, jnp.ones(3), jnp.ones(2), 2)
    with pytest.raises(ValueError, match="scalar"):
        taylor.coefficients(jnp.exp, jnp.ones(3), jnp.ones(3), 2)
