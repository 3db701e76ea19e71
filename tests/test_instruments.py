"""Instruments against independent computations: NumPy per-example gradients and the
population noise of linear regression, α's closed form on quadratics, dense Hessian
eigendecompositions (plain and Adam-preconditioned), separate runs vs one sweep."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from gdlab import compilation, train


def _regression(n=3, size=20000, sigma=0.5, seed=0):
    rng = np.random.default_rng(seed)
    w_star = rng.normal(size=n)
    x = rng.normal(size=(size, n))
    y = x @ w_star + sigma * rng.normal(size=size)
    return w_star, {"x": x, "y": y}


def _one(params, example):
    w = jnp.concatenate([params["a"], params["b"]])
    return 0.5 * (example["x"] @ w - example["y"]) ** 2


def _mean(params, data):
    return jnp.mean(jax.vmap(_one, in_axes=(None, 0))(params, data))


def _noise_at(w, data):
    params = {"a": jnp.asarray(w[:2]), "b": jnp.asarray(w[2:])}
    traj = train.run(_mean, params, optax.sgd(0.0), 1, data=data, instruments=("noise",),
                     per_example=_one)
    return {k: v[0] for k, v in traj.instruments.items()}


def test_noise_matches_numpy_per_example_gradients():
    w_star, data = _regression(size=500)
    w = w_star + np.array([0.3, -0.2, 0.5])
    got = _noise_at(w, data)
    g = data["x"] * (data["x"] @ w - data["y"])[:, None]  # NumPy per-example gradients
    size = len(g)
    for layer, cols in enumerate([slice(0, 2), slice(2, 3)]):
        gl = g[:, cols]
        trace = np.trace(np.cov(gl, rowvar=False, ddof=1).reshape(gl.shape[1], -1))
        signal = np.sum(gl.mean(0) ** 2) - trace / size
        np.testing.assert_allclose(got["trace_cov"][layer], trace, rtol=1e-10)
        np.testing.assert_allclose(got["grad_sq"][layer], signal, rtol=1e-10)
        np.testing.assert_allclose(got["batch_grad_sq"][layer], np.sum(gl.mean(0) ** 2),
                                   rtol=1e-10)
        np.testing.assert_allclose(got["gsnr"][layer], signal / trace, rtol=1e-10)
    total = np.trace(np.cov(g, rowvar=False, ddof=1))
    signal = np.sum(g.mean(0) ** 2) - total / size
    np.testing.assert_allclose(got["noise_scale"], total / signal, rtol=1e-10)


def test_noise_scale_matches_the_population_value():
    # x ~ N(0, I_n), y = x·w* + σε, d = w − w*: G = d and, per layer l (n_l coordinates),
    # tr Σ_l = n_l (‖d‖² + σ²) + ‖d_l‖², so B_simple = (n + 1) + n σ²/‖d‖².
    sigma = 0.5
    w_star, data = _regression(sigma=sigma, size=200000, seed=1)
    d = np.array([0.3, -0.2, 0.5])
    got = _noise_at(w_star + d, data)
    dd = np.sum(d**2)
    np.testing.assert_allclose(got["noise_scale"], 4 + 3 * sigma**2 / dd, rtol=0.03)
    trace = [2 * (dd + sigma**2) + np.sum(d[:2] ** 2), (dd + sigma**2) + d[2] ** 2]
    np.testing.assert_allclose(got["trace_cov"], trace, rtol=0.03)
    np.testing.assert_allclose(got["gsnr"], [np.sum(d[:2] ** 2) / trace[0], d[2] ** 2 / trace[1]],
                               rtol=0.06)


@pytest.mark.parametrize(("eta_lambda", "alpha"), [(2.0, 1.0), (1.0, 0.0), (0.5, -0.5),
                                                   (1.5, 0.5)])
def test_alpha_on_a_quadratic_is_eta_lambda_minus_one(eta_lambda, alpha):
    lam = 3.0  # 1-D: t* = 1/(ηλ) in units of the step, α = 1/t* − 1 = ηλ − 1
    f = lambda x: 0.5 * lam * x**2
    traj = train.run(f, jnp.array(1.3), optax.sgd(eta_lambda / lam), 3, instruments=("alpha",))
    moved = 1 if eta_lambda == 1.0 else 3  # at the minimum after one step: no more steps
    np.testing.assert_allclose(traj.instruments["alpha"][:moved], alpha, atol=1e-9)


def test_alpha_on_an_ill_conditioned_quadratic_matches_its_closed_form():
    h = np.array([1.0, 10.0, 100.0])
    x0, eta = np.array([1.0, 1.0, 1.0]), 0.015
    f = lambda x: 0.5 * jnp.sum(jnp.asarray(h) * x**2)
    traj = train.run(f, jnp.asarray(x0), optax.sgd(eta), 1, instruments=("alpha",))
    g = h * x0  # along u = −ηg the quadratic's minimum sits at t* = gᵀg / (η gᵀHg)
    t_star = g @ g / (eta * g @ (h * g))
    np.testing.assert_allclose(traj.instruments["alpha"][0], 1 / t_star - 1, rtol=1e-10)


@jax.jit  # one program, not an eager compilation per primitive
def _net_params(key):
    return [{"w": 0.5 * jax.random.normal(key, (3, 4))},
            {"w": 0.5 * jax.random.normal(jax.random.fold_in(key, 1), (4, 1))}]


def _net():
    params = _net_params(jax.random.key(3))
    x = np.random.default_rng(0).normal(size=(16, 3))
    data = {"x": x, "y": np.sin(x.sum(1, keepdims=True))}

    def loss(p, d):
        return 0.5 * jnp.mean((jnp.tanh(d["x"] @ p[0]["w"]) @ p[1]["w"] - d["y"]) ** 2)

    return loss, params, data


def test_sharpness_and_adams_preconditioned_sharpness_match_dense_eigendecompositions():
    loss, params, data = _net()
    b1, b2, eps, lr, steps = 0.9, 0.999, 1e-8, 0.05, 6
    inst = train.Instruments(("sharpness", "preconditioned_sharpness"), lanczos_steps=16)
    traj = train.run(loss, params, optax.adam(lr, b1=b1, b2=b2, eps=eps), steps, data=data,
                     record_params=True, instruments=inst)
    unravel = jax.flatten_util.ravel_pytree(params)[1]
    f = lambda z, d: loss(unravel(z), d)
    flat = jax.vmap(lambda p: jax.flatten_util.ravel_pytree(p)[0])
    # the dense gradients and Hessians at every recorded iterate, in one program
    gs, hessians = jax.jit(lambda ps, d: jax.vmap(
        lambda z: (jax.grad(f)(z, d), jax.hessian(f)(z, d)))(flat(ps)))(traj.params, data)
    v = np.zeros(16)
    for k in range(steps):
        g, hess = np.asarray(gs[k]), np.asarray(hessians[k])
        v = b2 * v + (1 - b2) * g**2  # Adam's second moment after update k (t = k + 1)
        t = k + 1
        p = (1 - b1**t) * (np.sqrt(v / (1 - b2**t)) + eps)
        scaled = hess / np.sqrt(np.outer(p, p))  # P^{-1/2} H P^{-1/2}
        np.testing.assert_allclose(traj.instruments["sharpness"][k],
                                   np.linalg.eigvalsh(hess)[-1], rtol=1e-8)
        np.testing.assert_allclose(traj.instruments["preconditioned_sharpness"][k],
                                   np.linalg.eigvalsh(scaled)[-1], rtol=1e-8)


def test_norms_cosines_and_effective_lr_against_numpy():
    loss, params, data = _net()
    opt = optax.inject_hyperparams(optax.sgd)(learning_rate=0.1, momentum=0.9)
    traj = train.run(loss, params, opt, 4, data=data, record_params=True,
                     instruments=("norms", "effective_lr", "cosines"))
    at = lambda k: jax.tree.map(lambda a: np.asarray(a[k]), traj.params)
    grad = jax.jit(jax.grad(loss))  # one program for the five reference gradients
    grads = [jax.device_get(grad(at(k), data)) for k in range(5)]
    ups = [jax.tree.map(np.subtract, at(k + 1), at(k)) for k in range(4)]
    norm = lambda t: np.array([np.linalg.norm(layer["w"]) for layer in t])
    vec = lambda t: np.concatenate([np.ravel(layer["w"]) for layer in t])
    cos = lambda a, b: a @ b / np.linalg.norm(a) / np.linalg.norm(b)
    got = traj.instruments
    for k in range(4):
        np.testing.assert_allclose(got["grad_norm"][k], norm(grads[k]), rtol=1e-10)
        np.testing.assert_allclose(got["update_norm"][k], norm(ups[k]), rtol=1e-10)
        np.testing.assert_allclose(got["update_ratio"][k], norm(ups[k]) / norm(at(k)), rtol=1e-10)
        np.testing.assert_allclose(got["effective_lr"][k], norm(ups[k]) / norm(grads[k]),
                                   rtol=1e-10)
        np.testing.assert_allclose(got["distance"][k], np.linalg.norm(vec(at(k)) - vec(at(0))),
                                   atol=1e-12)
        np.testing.assert_allclose(got["cos_descent"][k], cos(vec(ups[k]), -vec(grads[k])),
                                   rtol=1e-10)
        if k:
            np.testing.assert_allclose(got["cos_previous"][k], cos(vec(ups[k]), vec(ups[k - 1])),
                                       rtol=1e-10)
    assert np.isnan(got["cos_previous"][0])
    np.testing.assert_allclose(got["scheduled_lr"], 0.1)
    np.testing.assert_allclose(got["effective_lr"][0], 0.1, rtol=1e-12)  # heavy ball's first step
    assert train.layer_names(params) == ["0", "1"]


def test_a_sweep_records_what_separate_runs_record_in_one_compilation(xla_compilations):
    loss, params, data = _net()
    names = ("norms", "effective_lr", "cosines", "alpha", "sharpness")
    lrs = [0.05, 0.3]
    with xla_compilations() as log:
        sw = train.sweep(loss, params, "momentum", {"learning_rate": lrs}, 10, data=data,
                         hyperparameters={"momentum": 0.5}, instruments=names,
                         instrument_every=2)
    assert len(log) <= 1  # 0 when the persistent cache has it
    np.testing.assert_array_equal(sw.instrument_steps, [0, 2, 4, 6, 8, 10])
    for i, lr in enumerate(lrs):
        opt = optax.inject_hyperparams(optax.sgd)(learning_rate=lr, momentum=0.5)
        traj = train.run(loss, params, opt, 10, data=data, instruments=names,
                         instrument_every=2)
        for name in traj.instruments:
            np.testing.assert_allclose(sw.instruments[name][i], traj.instruments[name],
                                       rtol=1e-9, atol=1e-12, err_msg=name)
    with compilation.count() as again:  # other rates, the same program
        train.sweep(loss, params, "momentum", {"learning_rate": [0.1, 0.2]}, 10, data=data,
                    hyperparameters={"momentum": 0.5}, instruments=names, instrument_every=2)
    assert (again.compilations, again.cache_hits) == (0, 0)


def test_history_follows_the_record_policy_and_divergence_is_nan():
    f = lambda x: 0.5 * 10.0 * jnp.sum(x**2)
    traj = train.run(f, jnp.ones(2), optax.sgd(0.5), 20, record="summary", instruments=("norms",))
    np.testing.assert_array_equal(traj.instrument_steps, [0, 20])
    assert traj.instruments["grad_norm"].shape == (2, 1)
    assert traj.status == "diverged"
    assert np.isnan(traj.instruments["grad_norm"][-1]).all()
    traj = train.run(f, jnp.ones(2), optax.sgd(0.01), 20, record=5, instruments=("norms",))
    np.testing.assert_array_equal(traj.instrument_steps, [0, 5, 10, 15, 20])
    every_step = train.Instruments(("norms",), every=1)  # its own policy beats record's
    traj = train.run(f, jnp.ones(2), optax.sgd(0.01), 20, record=5, instruments=every_step)
    np.testing.assert_array_equal(traj.instrument_steps, np.arange(21))
    traj = train.run(f, jnp.ones(2), optax.sgd(0.01), 20, record=5, instruments=every_step,
                     instrument_every=10)
    np.testing.assert_array_equal(traj.instrument_steps, [0, 10, 20])


def test_bad_instrument_arguments_are_refused():
    f = lambda x: jnp.sum(x**2)
    with pytest.raises(ValueError, match="valid: norms"):
        train.run(f, jnp.ones(2), optax.sgd(0.1), 2, instruments=("nrms",))
    with pytest.raises(ValueError, match="per_example"):
        train.run(f, jnp.ones(2), optax.sgd(0.1), 2, instruments=("noise",))
    with pytest.raises(ValueError, match="instrument_every"):
        train.run(f, jnp.ones(2), optax.sgd(0.1), 2, instruments=("norms",), instrument_every=0)


def test_edges():
    assert train.edge(0.01, b1=0.9) == pytest.approx(3800.0)  # 38/η
    assert train.edge(0.1, momentum=0.9) == pytest.approx(38.0)  # 2(1 + β)/η
    assert train.edge(0.5) == pytest.approx(4.0)


def test_plateau_scale_equals_optax_run_by_hand():
    # Adam then reduce_on_plateau on a quadratic that Adam's large rate keeps bouncing on:
    # the loss stalls, the plateau cuts the scale; a hand-written optax loop is the reference.
    f = lambda x: 0.5 * jnp.sum(jnp.array([1.0, 4.0]) * x**2)
    opt = optax.chain(optax.adam(0.5), optax.contrib.reduce_on_plateau(factor=0.5, patience=2))
    steps = 40
    traj = train.run(f, jnp.array([1.0, -2.0]), opt, steps,
                     instruments=("effective_lr",))

    @jax.jit  # one compiled step, called from a Python loop
    def by_hand(x, state):
        value, grad = jax.value_and_grad(f)(x)
        updates, state = opt.update(grad, state, x, value=value)
        return optax.apply_updates(x, updates), state

    x, state, scales = jnp.array([1.0, -2.0]), opt.init(jnp.zeros(2)), []
    for _ in range(steps + 1):  # the instrument's last row: the update after the last step
        x, state = by_hand(x, state)
        scales.append(float(state[1].scale))
    assert min(scales) < 0.1  # several reductions: the comparison is not trivial
    np.testing.assert_allclose(traj.instruments["plateau_scale"], scales, rtol=1e-6)
    plain = train.run(f, jnp.array([1.0, -2.0]), optax.adam(0.5), 2, instruments=("effective_lr",))
    assert np.isnan(plain.instruments["plateau_scale"]).all()  # no plateau in the state


def test_memory_estimate_counts_the_instrument_rows():
    w_star, data = _regression(size=64)
    params = {"a": jnp.zeros(2), "b": jnp.zeros(1)}
    names = train.INSTRUMENTS
    kw = dict(data=data, record="summary", per_example=_one, instrument_every=2)
    sw = train.sweep(_mean, params, "adam", {"learning_rate": [0.01, 0.1]}, 20, seeds=3,
                     instruments=names, **kw)
    per_run = sum(np.asarray(v)[0, 0].size for v in sw.instruments.values())
    assert per_run == len(sw.instrument_steps) * train.Instruments(names).floats(params)
    kept = sum(np.asarray(v).nbytes for v in sw.instruments.values())  # what came back
    plain = train._checks.estimate_bytes(runs=6, recorded=2, num_params=3, record_params=False,
                                         itemsize=8, final_params=False)
    limit = train._checks.OVERHEAD * (plain + kept / 2)  # fits without the rows, not with them
    train._checks.memory("sweep", 6, 20, train._loop.parse_record("summary", 20, False), params,
                         limit)  # no instruments: accepted
    with pytest.raises(ValueError, match="instrument float"):
        train.sweep(_mean, params, "adam", {"learning_rate": [0.01, 0.1]}, 20, seeds=3,
                    memory_limit=limit, instruments=names, **kw)
    with pytest.raises(ValueError, match="instrument_every"):
        train.run(_mean, params, optax.adam(0.1), 20, memory_limit=limit / 6, instruments=names,
                  **kw)


def _one_shifted(params, example, shift=0.0):
    return _one(params, example) + shift * jnp.sum(params["a"] ** 2) ** 1.5


def _mean_shifted(params, data, shift=0.0):
    return jnp.mean(jax.vmap(_one_shifted, in_axes=(None, 0, None))(params, data, shift))


def test_a_sweep_over_a_loss_parameter_gives_per_example_the_same_value():
    # "shift" is not an Adam hyperparameter: the sweep passes it to the loss, and the noise
    # instrument's per-example loss must see the same value (separate runs are the reference).
    _, data = _regression(size=64, seed=2)
    params = {"a": jnp.array([0.5, -1.0]), "b": jnp.array([2.0])}
    names = ("noise", "preconditioned_sharpness", "norms")
    grid = {"learning_rate": [0.1], "shift": [0.0, 3.0]}
    sw = train.sweep(_mean_shifted, params, "adam", grid, 6, data=data, instruments=names,
                     per_example=_one_shifted, instrument_every=2)
    # the separate runs read the shift from their data (a copy per example), so both
    # shifts share one compiled program
    mean = lambda p, d: _mean_shifted(p, d, d["shift"][0])
    one = lambda p, e: _one_shifted(p, e, e["shift"])
    for i, lr in enumerate(grid["learning_rate"]):
        opt = optax.inject_hyperparams(optax.adam)(learning_rate=lr)
        for j, shift in enumerate(grid["shift"]):
            shifted = {**data, "shift": np.full(len(data["y"]), shift)}
            traj = train.run(mean, params, opt, 6, data=shifted, instruments=names,
                             instrument_every=2, per_example=one)
            for name, value in traj.instruments.items():
                np.testing.assert_allclose(sw.instruments[name][i, j], value, rtol=1e-9,
                                           atol=1e-12, err_msg=f"{name} at {lr}, {shift}")
    assert not np.allclose(sw.instruments["trace_cov"][0, 0], sw.instruments["trace_cov"][0, 1])
    with pytest.raises(ValueError, match="per_example must take"):
        train.sweep(_mean_shifted, params, "adam", grid, 6, data=data, instruments=names,
                    per_example=_one, instrument_every=2)


def test_warm_started_sharpness_matches_dense_eigh_along_a_training_run():
    # A 212-parameter tanh net trained by GD at η = 0.5, at its edge 2/η = 4 (the top
    # eigenvector keeps turning): 10 Lanczos steps from the last row's Ritz vector (20 from
    # a random start at the first row) against NumPy's eigvalsh of the dense Hessian.
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 8))
    data = {"x": x, "y": np.tanh(x @ rng.normal(size=(8, 4)))}
    params = jax.jit(lambda key: [  # one program, not an eager compilation per primitive
        {"w": 0.6 * jax.random.normal(key, (8, 16)), "b": jnp.zeros(16)},
        {"w": 0.6 * jax.random.normal(jax.random.fold_in(key, 1), (16, 4))}])(jax.random.key(0))

    def loss(p, d):
        hidden = jnp.tanh(d["x"] @ p[0]["w"] + p[0]["b"][None])
        return 0.5 * jnp.mean(jnp.sum((hidden @ p[1]["w"] - d["y"]) ** 2, -1))

    got = {}
    for warm in (True, False):
        inst = train.Instruments(("sharpness",), lanczos_steps=10, warm_start=warm)
        traj = train.run(loss, params, optax.sgd(0.5), 200, data=data, record=20,
                         instruments=inst)
        got[warm] = traj.instruments["sharpness"]
    unravel = jax.flatten_util.ravel_pytree(params)[1]
    hessian = jax.jit(lambda p, d: jax.hessian(lambda z: loss(unravel(z), d))(
        jax.flatten_util.ravel_pytree(p)[0]))
    exact = np.array([np.linalg.eigvalsh(hessian(jax.tree.map(lambda a, i=i: a[i], traj.params),
                                                 data))[-1] for i in range(11)])
    assert exact[-1] > 0.95 * train.edge(0.5)  # at the edge: the run is not a trivial one
    warm_error, cold_error = (np.abs(got[w] - exact) / exact for w in (True, False))
    assert warm_error.max() < 1e-4, warm_error
    assert np.median(warm_error[1:]) < 0.1 * np.median(cold_error[1:])  # the warm start helps
