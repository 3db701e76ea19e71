"""Problems against closed-form values, gradients and Hessians (NumPy, float64),
central finite differences, np.linalg.solve, dense grids and published minima."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gdlab import problems

RNG = np.random.default_rng(2)
C = 0.15 * np.pi  # x_cos default


# --------------------------------------------------------------------------- references


def _beale_parts(x):
    x1, x2 = x
    c = (1.5, 2.25, 2.625)
    r = [c[i - 1] - x1 + x1 * x2**i for i in (1, 2, 3)]
    dr = [np.array([x2**i - 1, i * x1 * x2 ** (i - 1)]) for i in (1, 2, 3)]
    d2r = [
        np.array(
            [[0, i * x2 ** (i - 1)], [i * x2 ** (i - 1), i * (i - 1) * x1 * x2 ** max(i - 2, 0)]]
        )
        for i in (1, 2, 3)
    ]
    return r, dr, d2r


def _beale(x):
    r, dr, d2r = _beale_parts(x)
    f = sum(ri**2 for ri in r)
    g = sum(2 * ri * dri for ri, dri in zip(r, dr, strict=True))
    H = sum(2 * (np.outer(dri, dri) + ri * d2) for ri, dri, d2 in zip(r, dr, d2r, strict=True))
    return f, g, H


def _rosenbrock(x, a=1.0, b=100.0):
    x1, x2 = x
    f = (a - x1) ** 2 + b * (x2 - x1**2) ** 2
    g = np.array([-2 * (a - x1) - 4 * b * x1 * (x2 - x1**2), 2 * b * (x2 - x1**2)])
    H = np.array([[2 - 4 * b * (x2 - x1**2) + 8 * b * x1**2, -4 * b * x1], [-4 * b * x1, 2 * b]])
    return f, g, H


def _himmelblau(x):
    x1, x2 = x
    u, v = x1**2 + x2 - 11, x1 + x2**2 - 7
    f = u**2 + v**2
    g = np.array([4 * x1 * u + 2 * v, 2 * u + 4 * x2 * v])
    H = np.array(
        [[4 * u + 8 * x1**2 + 2, 4 * x1 + 4 * x2], [4 * x1 + 4 * x2, 2 + 4 * v + 8 * x2**2]]
    )
    return f, g, H


def _rastrigin(x):
    f = 20 + np.sum(x**2 - 10 * np.cos(2 * np.pi * x))
    g = 2 * x + 20 * np.pi * np.sin(2 * np.pi * x)
    H = np.diag(2 + 40 * np.pi**2 * np.cos(2 * np.pi * x))
    return f, g, H


def _diag_quadratic(lam):
    lam = np.asarray(lam)
    return lambda x: (0.5 * np.sum(lam * x**2), lam * x, np.diag(lam))


REFERENCE = {
    "quadratic": _diag_quadratic([1.0, 10.0]),
    "ill_conditioned": lambda x: (
        0.1 * x[0] ** 2 + 2 * x[1] ** 2,
        *_diag_quadratic([0.2, 4.0])(x)[1:],
    ),
    "rosenbrock": _rosenbrock,
    "beale": _beale,
    "himmelblau": _himmelblau,
    "rastrigin": _rastrigin,
    "x_cos": lambda x: (
        x * np.cos(C * x),
        np.cos(C * x) - C * x * np.sin(C * x),
        -2 * C * np.sin(C * x) - C**2 * x * np.cos(C * x),
    ),
    "x_squared": lambda x: (x**2, 2 * x, 2.0),
}
NAMES = sorted(REFERENCE)


@functools.cache
def _vgh(name):
    """Jitted, vmapped (value, gradient, Hessian) of the default problem ``name``."""
    loss = problems.get(name).loss
    one = lambda x: (loss(x), jax.grad(loss)(x), jax.hessian(loss)(x))
    return jax.jit(jax.vmap(one))


@functools.cache
def _evaluated(name):
    """Points (4 random in the domain, argmin, x0) and value, gradient, Hessian there."""
    p = problems.get(name)
    lo, hi = np.array(p.domain).T
    shape = p.x0.shape
    pts = [RNG.uniform(lo, hi).reshape(shape) for _ in range(4)]
    pts = np.stack([*pts, np.asarray(p.argmin), np.asarray(p.x0)])
    return pts, *(np.asarray(a) for a in _vgh(name)(jnp.asarray(pts)))


# --------------------------------------------------------------------------- every problem


def test_names_cover_the_required_problems():
    required = {"quadratic", "ill_conditioned", "rosenbrock", "beale", "himmelblau"}
    required |= {"rastrigin", "x_cos", "x_squared"}
    required |= {"linear_neuron", "deep_chain", "mnist1d_mlp"}
    assert required <= set(problems.names())
    assert set(problems.TEST_FUNCTIONS) == set(REFERENCE)  # each has a reference here


@pytest.mark.parametrize("name", NAMES)
def test_value_gradient_hessian_match_closed_forms(name):
    pts, val, grad, hess = _evaluated(name)
    for k, x in enumerate(pts):
        f, g, H = REFERENCE[name](x)
        scale = 1.0 + abs(f)
        np.testing.assert_allclose(val[k], f, rtol=1e-12, atol=1e-12 * scale)
        np.testing.assert_allclose(grad[k], g, rtol=1e-11, atol=1e-11 * scale)
        np.testing.assert_allclose(hess[k], H, rtol=1e-11, atol=1e-11 * scale)


@pytest.mark.parametrize("name", NAMES)
def test_gradient_matches_central_differences(name):
    pts, _, grad, _ = _evaluated(name)
    loss, h = problems.get(name).loss, 1e-6
    for k, x in enumerate(pts[:4]):
        flat = np.atleast_1d(x)
        fd = []
        for i in range(flat.size):
            e = np.zeros_like(flat)
            e[i] = h
            up, down = (jnp.asarray((flat + s * e).reshape(x.shape)) for s in (1, -1))
            fd.append((float(loss(up)) - float(loss(down))) / (2 * h))
        scale = 1.0 + np.abs(grad[k]).max()
        np.testing.assert_allclose(np.atleast_1d(grad[k]), fd, rtol=1e-6, atol=1e-6 * scale)


@pytest.mark.parametrize("name", NAMES)
def test_argmin_is_a_minimum_with_value_fmin(name):
    p = problems.get(name)
    pts, val, grad, hess = _evaluated(name)
    assert p.x0.dtype == jnp.float64 and p.argmin.dtype == jnp.float64
    assert isinstance(p.fmin, float) and p.description
    np.testing.assert_allclose(val[4], p.fmin, rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(grad[4], 0.0, atol=1e-9)
    assert np.all(np.linalg.eigvalsh(np.atleast_2d(hess[4])) > 0)
    assert val[5] > p.fmin  # the start is not the answer
    lo, hi = np.array(p.domain).T
    for point in (p.x0, p.argmin, *p.minima):
        assert np.all(lo <= np.atleast_1d(point)) and np.all(np.atleast_1d(point) <= hi)


@pytest.mark.parametrize("name", NAMES)
def test_losses_keep_float32(name):
    p = problems.get(name)
    assert p.loss(p.x0.astype(jnp.float32)).dtype == jnp.float32


@pytest.mark.parametrize("name", NAMES)
def test_loss_on_a_grid_is_pointwise(name):
    p = problems.get(name)
    (x_lo, x_hi), *rest = p.domain
    if rest:
        (y_lo, y_hi) = rest[0]
        grid = np.stack(np.meshgrid(np.linspace(x_lo, x_hi, 4), np.linspace(y_lo, y_hi, 3)))
        points = grid.reshape(2, -1).T
    else:
        grid = np.linspace(x_lo, x_hi, 7)
        points = grid
    expected = [REFERENCE[name](x)[0] for x in points]
    values = np.asarray(p.loss(jnp.asarray(grid))).reshape(-1)
    np.testing.assert_allclose(values, expected, rtol=1e-12, atol=1e-12)


# --------------------------------------------------------------------------- quadratics


def test_quadratic_with_given_A_and_b_matches_numpy_solve():
    n = 5
    M = RNG.normal(size=(n, n))
    A, b = M @ M.T + n * np.eye(n), RNG.normal(size=n)
    q = problems.quadratic(A=A, b=b)
    x_star = np.linalg.solve(A, b)
    np.testing.assert_allclose(q.argmin, x_star, rtol=1e-12)
    np.testing.assert_allclose(q.fmin, -0.5 * b @ x_star, rtol=1e-12)
    np.testing.assert_allclose(q.x0, x_star + 1.0, rtol=1e-12)
    x = RNG.normal(size=n)
    np.testing.assert_allclose(q.loss(x), 0.5 * x @ A @ x - b @ x, rtol=1e-12)
    np.testing.assert_allclose(jax.jit(jax.grad(q.loss))(jnp.asarray(x)), A @ x - b, rtol=1e-12)
    np.testing.assert_allclose(q.loss(q.argmin), q.fmin, rtol=1e-12)
    np.testing.assert_allclose(q.info["eigenvalues"], np.linalg.eigvalsh(A), rtol=1e-12)
    assert q.domain is None  # no plot box above 2-D


def test_quadratic_eigenvalues_diagonal_and_rotated():
    lam = [0.01, 0.1, 1.0]
    q = problems.quadratic(eigenvalues=lam)
    np.testing.assert_allclose(jax.jit(jax.hessian(q.loss))(q.x0), np.diag(lam), rtol=1e-15)
    np.testing.assert_allclose(q.info["condition_number"], 100.0, rtol=1e-12)

    theta = np.pi / 6
    R = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    qa = problems.quadratic(eigenvalues=[1.0, 4.0], angle=theta)
    np.testing.assert_allclose(
        jax.jit(jax.hessian(qa.loss))(qa.x0), R @ np.diag([1.0, 4.0]) @ R.T, atol=1e-14
    )

    qk = problems.quadratic(eigenvalues=lam, key=jax.random.key(0))
    H = np.asarray(jax.jit(jax.hessian(qk.loss))(qk.x0))
    np.testing.assert_allclose(H, H.T, atol=1e-15)
    np.testing.assert_allclose(np.linalg.eigvalsh(H), lam, rtol=1e-12, atol=1e-14)
    assert np.abs(H - np.diag(np.diag(H))).max() > 1e-3  # really rotated
    other = problems.quadratic(eigenvalues=lam, key=jax.random.key(1))
    assert not np.allclose(other.info["A"], qk.info["A"])


def test_ill_conditioned_is_point_one_x1_squared_plus_two_x2_squared():
    p = problems.get("ill_conditioned")
    np.testing.assert_allclose(jax.jit(jax.hessian(p.loss))(p.x0), np.diag([0.2, 4.0]), rtol=1e-15)
    np.testing.assert_allclose(p.loss(p.x0), 0.1 * 25 + 2 * 4, rtol=1e-15)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"eigenvalues": [1.0, -1.0]}, "positive definite"),
        ({"eigenvalues": [1.0, 0.0]}, "positive definite"),
        ({"A": [[1.0, 2.0], [0.0, 1.0]]}, "symmetric"),
        ({"A": [[1.0, 2.0], [2.0, 1.0]]}, "positive definite"),
        ({"A": np.eye(2), "eigenvalues": [1.0, 2.0]}, "either"),
        ({"eigenvalues": [1.0, 2.0, 3.0], "angle": 0.3}, "2-D"),
        ({"eigenvalues": [1.0, 2.0], "angle": 0.3, "key": jax.random.key(0)}, "at most one"),
        ({"eigenvalues": [1.0, 2.0], "b": [1.0, 2.0, 3.0]}, "b must have shape"),
        ({"eigenvalues": [1.0, 2.0], "x0": [1.0]}, "x0 must have shape"),
    ],
)
def test_quadratic_rejects_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        problems.quadratic(**kwargs)


# --------------------------------------------------------------------------- the others


def test_himmelblau_has_four_published_minima():
    published = [(3.0, 2.0), (-2.805118, 3.131312), (-3.779310, -3.283186), (3.584428, -1.848126)]
    p = problems.get("himmelblau")
    assert len(p.minima) == 4
    np.testing.assert_allclose(np.array(p.minima), published, atol=1e-6)
    for m in p.minima:
        f, g, _ = _himmelblau(np.asarray(m))
        assert abs(f) < 1e-20 and np.abs(g).max() < 1e-12
    np.testing.assert_array_equal(p.argmin, [3.0, 2.0])


def test_rosenbrock_parameters_move_the_minimum():
    p = problems.get("rosenbrock", a=2.0, x0=(0.0, 0.0))
    np.testing.assert_array_equal(p.argmin, [2.0, 4.0])
    np.testing.assert_array_equal(p.x0, [0.0, 0.0])
    assert p.x0.dtype == jnp.float64
    np.testing.assert_allclose(_rosenbrock(np.array([2.0, 4.0]), a=2.0)[1], 0.0)
    assert float(p.loss(p.argmin)) == 0.0
    lo, hi = np.array(p.domain).T
    assert np.all(lo <= [2.0, 4.0]) and np.all([2.0, 4.0] <= hi)


@pytest.mark.parametrize("c", [C, 1.0])
def test_x_cos_argmin_is_the_lowest_point_of_a_dense_grid(c):
    p = problems.x_cos(c)
    ((lo, hi),) = p.domain
    xs = np.linspace(lo, hi, 200_001)
    fs = xs * np.cos(c * xs)
    assert p.fmin <= fs.min() + 1e-12
    assert abs(float(p.argmin) - xs[fs.argmin()]) <= xs[1] - xs[0]
    for m in p.minima:  # every listed minimum is a true local minimum
        m = float(m)
        assert abs(np.cos(c * m) - c * m * np.sin(c * m)) < 1e-10
        assert -2 * c * np.sin(c * m) - c**2 * m * np.cos(c * m) > 0


def test_x_cos_default_is_where_small_step_gradient_descent_goes():
    p = problems.get("x_cos")
    assert float(p.x0) == 10.0 and len(p.minima) == 2
    x = 10.0
    for _ in range(2000):
        x -= 0.1 * (np.cos(C * x) - C * x * np.sin(C * x))
    np.testing.assert_allclose(x, float(p.argmin), rtol=1e-10)
    np.testing.assert_allclose(float(p.argmin), 7.2694, atol=1e-4)


def test_x_squared_starts_at_ten():
    p = problems.get("x_squared")
    assert p.x0.shape == () and float(p.x0) == 10.0 and float(p.loss(p.x0)) == 100.0


# --------------------------------------------------------------------------- bad input


def test_unknown_problem_lists_valid_names():
    with pytest.raises(ValueError, match="rosenbrock"):
        problems.get("rosenbrok")


def test_bad_keyword_lists_valid_ones():
    with pytest.raises(ValueError, match="x0"):
        problems.get("rosenbrock", c=1.0)


def test_wrong_input_shape():
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        problems.get("rosenbrock").loss(jnp.ones(3))


def test_x_cos_domain_without_interior_minimum():
    with pytest.raises(ValueError, match="no interior local minimum"):
        problems.x_cos(domain=(0.0, 1.0))


# --------------------------------------------------------------------------- with data


def test_noisy_quadratic_gradient_is_unbiased_with_sigma_noise():
    q = problems.quadratic([1.0, 10.0], noise=0.3)
    x = jnp.asarray([0.5, -1.0])
    grads = jax.vmap(lambda k: jax.grad(q.stochastic)(x, None, key=k))(
        jax.random.split(jax.random.key(0), 4000))
    g = np.asarray(grads)
    np.testing.assert_allclose(g.mean(0), [0.5, -10.0], atol=4 * 0.3 / np.sqrt(4000))
    np.testing.assert_allclose(g.std(0), [0.3, 0.3], rtol=0.05)
    assert problems.quadratic([1.0, 10.0]).stochastic is None
    with pytest.raises(ValueError, match="noise"):
        problems.quadratic([1.0], noise=-1.0)


def test_linear_neuron_and_deep_chain_against_numpy():
    x, y = np.array([0.5, -1.0, 2.0]), np.array([0.8, -1.5, 3.0])
    p = problems.linear_neuron(inputs=x, goals=y, weight=0.25)
    w = np.linspace(-2, 2, 9)
    f = [float(p.loss(jnp.asarray(v), p.data)) for v in w]
    np.testing.assert_allclose(f, [np.mean(0.5 * (x * v - y) ** 2) for v in w], rtol=1e-12)
    w_star = np.linalg.lstsq(x[:, None], y, rcond=None)[0][0]
    np.testing.assert_allclose(float(p.argmin), w_star, rtol=1e-12)
    np.testing.assert_allclose(p.fmin, np.mean(0.5 * (x * w_star - y) ** 2), rtol=1e-12)
    assert float(jax.grad(p.loss)(p.argmin, p.data)) == pytest.approx(0.0, abs=1e-12)
    c = problems.deep_chain(4, inputs=x, goals=y, scale=0.9)
    ws = np.array([0.9, 1.1, -0.7, 1.3])
    np.testing.assert_allclose(float(c.loss(jnp.asarray(ws), c.data)),
                               np.mean(0.5 * (x * np.prod(ws) - y) ** 2), rtol=1e-12)
    np.testing.assert_allclose(c.fmin, p.fmin, rtol=1e-12)  # the product takes any value
    np.testing.assert_array_equal(c.x0, np.full(4, 0.9))


def _numpy_mlp_cross_entropy(params, x, y, act):
    h = np.asarray(x, np.float64)
    for layer in params[:-1]:
        h = act(h @ np.asarray(layer["w"], np.float64) + np.asarray(layer["b"], np.float64))
    z = h @ np.asarray(params[-1]["w"], np.float64) + np.asarray(params[-1]["b"], np.float64)
    z = z - z.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return -np.mean(logp[np.arange(len(y)), y])


def test_mnist1d_mlp_is_the_numpy_network_on_the_first_examples():
    p = problems.get("mnist1d_mlp", hidden=(16, 8), activation="relu", init="he",
                     train_size=300, batch_size=50, dtype=jnp.float64)
    # the problem's functions are what train.sweep jits: called eagerly they would
    # compile each primitive on its own (~110 programs); jitted, one program each
    params = jax.jit(p.init)(jax.random.key(2))
    assert p.info["sizes"] == (40, 16, 8, 10) and p.dtype == jnp.float64
    from gdlab import data

    d = data.mnist1d(seed=0)
    np.testing.assert_array_equal(p.data["x"], d["x"][:300])
    relu = lambda z: np.maximum(z, 0)
    np.testing.assert_allclose(float(jax.jit(p.loss)(params, p.data)),
                               _numpy_mlp_cross_entropy(params, d["x"][:300], d["y"][:300],
                                                        relu), rtol=1e-12)
    # the minibatch: batch_size examples drawn with replacement by randint(key)
    key = jax.random.key(7)
    idx = np.asarray(jax.random.randint(key, (50,), 0, 300))
    np.testing.assert_allclose(float(jax.jit(p.stochastic)(params, p.data, key=key)),
                               _numpy_mlp_cross_entropy(params, d["x"][idx], d["y"][idx], relu),
                               rtol=1e-12)
    scores = jax.jit(p.evaluate)(params, p.data)
    np.testing.assert_allclose(float(scores["test_loss"]), _numpy_mlp_cross_entropy(
        params, d["x_test"], d["y_test"], relu), rtol=1e-12)
    assert 0 <= float(scores["test_accuracy"]) <= 1
    # asking twice gives the same functions (one compilation), float32 by default
    again = problems.get("mnist1d_mlp", hidden=(16, 8), activation="relu", init="he",
                         train_size=300, batch_size=50, dtype=jnp.float64)
    assert again.loss is p.loss and again.stochastic is p.stochastic
    assert problems.get("mnist1d_mlp").dtype == jnp.float32


@pytest.mark.parametrize("kwargs, match", [
    ({"activation": "swish"}, "valid: sigmoid"),
    ({"init": "glorot"}, "valid: normal"),
    ({"loss": "hinge"}, "valid: cross_entropy"),
    ({"train_size": 0}, "train_size"),
    ({"batch_size": 0}, "batch_size"),
    ({"hidden": (8, 0)}, "hidden"),
])
def test_mnist1d_mlp_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        problems.get("mnist1d_mlp", **kwargs)


def test_problem_record_checks_itself():
    loss = lambda x: jnp.sum(x**2)
    with pytest.raises(ValueError, match="x0 .* or init"):
        problems.Problem(name="p", loss=loss)
    with pytest.raises(ValueError, match="target must be > 0"):
        problems.Problem(name="p", loss=loss, x0=jnp.ones(2), target=0.0)
    with pytest.raises(ValueError, match="pass key="):
        problems.Problem(name="p", loss=loss, init=lambda k: jnp.ones(2)).start()
    p = problems.Problem(name="p", loss=loss, x0=jnp.ones(3, jnp.float32))
    assert p.dtype == jnp.float32 and float(p.value(p.start())) == 3.0
