"""Solvers against closed forms: CG conjugacy, Newton's one-step solve, ES's unbiased
estimate, optimal GD / heavy-ball rates; every optimizer on problems with known minima;
evaluation counts against an independent call counter; no recompilation."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from _xla import quick_compiles

from gdlab import optimizers, problems, solvers, train

QUAD = problems.quadratic([1.0, 10.0], x0=[1.0, 1.0])  # minimum at 0, κ = 10
ROSEN = problems.get("rosenbrock")

# name: (hyperparameters, steps, tolerance on ‖x − x*‖ for the quadratic, for Rosenbrock)
TABLE = {
    "sgd": ({"learning_rate": 0.18}, 300, 1e-8, None),  # < 2/λmax = 0.2: converges
    "momentum": ({"learning_rate": 0.05, "momentum": 0.5}, 300, 1e-8, None),
    "nesterov": ({"learning_rate": 0.05, "momentum": 0.5}, 300, 1e-8, None),
    "adagrad": ({"learning_rate": 0.5}, 300, 1e-3, None),
    "rmsprop": ({"learning_rate": 0.01}, 300, 5e-2, None),  # constant steps: O(η) ball
    "adam": ({"learning_rate": 0.01}, 300, 5e-3, None),
    "lbfgs": ({}, 300, 1e-10, 1e-8),
    "cg_pr": ({}, 300, 1e-10, 1e-8),
    "cg_fr": ({}, 300, 1e-10, 1e-6),
    "newton": ({}, 300, 1e-12, 1e-10),
    "es": ({"learning_rate": 0.003, "sigma": 0.03}, 300, 2e-2, None),
    "ga": ({"mutation_scale": 0.03}, 300, 2e-2, None),
}


def _distance(problem, name, hyperparameters, steps):
    traj = train.run(problem.loss, problem.x0, optimizers.make(name, **hyperparameters), steps,
                     record_params=False)
    assert traj.status == "ok"
    return float(np.linalg.norm(np.asarray(traj.final_params) - np.asarray(problem.argmin)))


@pytest.mark.parametrize("name", list(TABLE))
def test_every_optimizer_reaches_the_known_minimum(name):
    hp, steps, tol_quad, tol_rosen = TABLE[name]
    assert _distance(QUAD, name, hp, steps) < tol_quad
    if tol_rosen is not None:  # the second-order methods also solve Rosenbrock
        assert _distance(ROSEN, name, hp, steps) < tol_rosen


def test_es_and_ga_solve_rosenbrock_in_2d():
    """Rank-shaped ES takes constant-size steps: it creeps along the valley and needs a
    decaying step size to settle (CG's Rosenbrock check is in the table above)."""
    slow = optax.cosine_decay_schedule(0.002, 3000)
    assert _distance(ROSEN, "es", {"learning_rate": slow, "sigma": 0.01}, 3000) < 0.05
    assert _distance(ROSEN, "ga", TABLE["ga"][0], 300) < 0.05


def _rate(norms, lo, hi):
    """r from ‖x_k‖ ~ C·k^p·r^k by least squares on (1, k, log k) over steps lo..hi."""
    k = np.arange(lo, hi, dtype=float)
    basis = np.stack([np.ones_like(k), k, np.log(k)], axis=1)
    return math.exp(np.linalg.lstsq(basis, np.log(norms[lo:hi]), rcond=None)[0][1])


def test_gd_and_heavy_ball_rates_match_the_closed_forms():
    """GD at 2/(λmin+λmax): (κ−1)/(κ+1); heavy ball at its optimal α, β: (√κ−1)/(√κ+1)."""
    kappa = 30.0
    lo, hi = 1.0 / kappa, 1.0
    q = problems.quadratic([lo, hi], angle=0.5, x0=[1.0, -0.5])
    root = math.sqrt(kappa)
    hb = {"learning_rate": 4 / (math.sqrt(hi) + math.sqrt(lo)) ** 2,
          "momentum": ((root - 1) / (root + 1)) ** 2}
    for name, hp, theory in (("sgd", {"learning_rate": 2 / (lo + hi)}, (kappa - 1) / (kappa + 1)),
                             ("momentum", hb, (root - 1) / (root + 1))):
        traj = train.run(q.loss, q.x0, optimizers.make(name, **hp), 300, record_params=True)
        norms = np.linalg.norm(np.asarray(traj.params), axis=-1)
        end = int(np.argmax(norms < 1e-140)) or norms.size
        assert _rate(norms, 20, end) == pytest.approx(theory, rel=5e-3)


def test_cg_directions_are_conjugate_with_exact_line_searches():
    """Linear CG: with exact line searches on ½xᵀAx both β formulas give d₁ᵀAd₀ = 0."""
    rng = np.random.default_rng(0)
    m = rng.normal(size=(4, 4))
    A = m @ m.T + 4 * np.eye(4)
    x = rng.normal(size=4)
    for variant in solvers.CG_VARIANTS:
        t = solvers.scale_by_conjugate_gradient(variant)
        update = jax.jit(t.update)
        state = t.init(jnp.zeros(4))
        g0 = A @ x
        p0, state = update(jnp.asarray(g0), state)
        d0 = -np.asarray(p0)
        x1 = x + (-(g0 @ d0) / (d0 @ A @ d0)) * d0  # the exact minimiser along d0
        p1, _ = update(jnp.asarray(A @ x1), state)
        d1 = -np.asarray(p1)
        assert abs(d1 @ A @ d0) < 1e-10 * np.linalg.norm(d1) * np.linalg.norm(A @ d0)
        np.testing.assert_allclose(d0, -g0)


def test_cg_beta_formulas_and_pr_plus_restart():
    g0, g1 = np.array([1.0, 0.0]), np.array([0.5, 1.0])
    for variant, beta in (("fr", (g1 @ g1) / (g0 @ g0)),
                          ("pr+", max(0.0, g1 @ (g1 - g0) / (g0 @ g0)))):
        t = solvers.scale_by_conjugate_gradient(variant)
        _, state = t.update(jnp.asarray(g0), t.init(jnp.zeros(2)))
        p1, _ = t.update(jnp.asarray(g1), state)
        np.testing.assert_allclose(p1, g1 + beta * g0, rtol=1e-12)
    # PR+: a negative β (g1 mostly undoes g0) is clipped to 0, a steepest-descent restart.
    t = solvers.scale_by_conjugate_gradient("pr+")
    _, state = t.update(jnp.asarray(g0), t.init(jnp.zeros(2)))
    p1, _ = t.update(jnp.asarray(np.array([0.5, 0.1])), state)  # β_PR = −0.24 < 0
    np.testing.assert_allclose(p1, [0.5, 0.1])
    with pytest.raises(ValueError, match="valid: pr\\+, fr"):
        solvers.scale_by_conjugate_gradient("hs")


def test_newton_solves_a_quadratic_in_one_step():
    rng = np.random.default_rng(1)
    m = rng.normal(size=(3, 3))
    A, b = m @ m.T + np.eye(3), rng.normal(size=3)
    f = lambda x: 0.5 * x @ (A @ x) - b @ x
    x0 = jnp.asarray(rng.normal(size=3))

    @jax.jit
    def newton_step(x):
        opt = optimizers.make("newton")
        return x + opt.update(jax.grad(f)(x), opt.init(x), x, value_fn=f)[0]

    np.testing.assert_allclose(newton_step(x0), np.linalg.solve(A, b), rtol=1e-10)

    # On f = x² − y² plain Newton jumps to the saddle; with |H| (saddle-free) it descends.
    @jax.jit
    def saddle_steps(z):
        g = lambda z: z[0] ** 2 - z[1] ** 2
        out = []
        for saddle_free in (False, True):
            t = solvers.newton(1.0, saddle_free=saddle_free)
            out.append(z + t.update(jax.grad(g)(z), t.init(z), z, value_fn=g)[0])
        return out

    plain, saddle_free = saddle_steps(jnp.array([1.0, 1.0]))
    np.testing.assert_allclose(plain, [0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(saddle_free, [0.0, 2.0], atol=1e-12)


def test_es_estimate_is_unbiased_on_a_quadratic():
    """Antithetic differences are exact on a quadratic: E ĝ = A x (= ∇f)."""
    A = np.array([[2.0, 0.5], [0.5, 1.0]])
    f = lambda x: 0.5 * x @ (jnp.asarray(A) @ x)
    x = jnp.array([0.3, -0.7])
    t = solvers.scale_by_evolution_strategy(sigma=0.5, population=20000, rank_shaping=False)
    g, _ = jax.jit(lambda x, s: t.update(None, s, x, value_fn=f))(x, t.init(x))
    np.testing.assert_allclose(g, A @ np.asarray(x), atol=4 * np.linalg.norm(A @ x) / 100)
    with pytest.raises(ValueError, match="even"):
        solvers.scale_by_evolution_strategy(population=3)


def test_centered_ranks():
    ranks = jax.jit(solvers.centered_ranks)
    np.testing.assert_allclose(ranks(jnp.array([3.0, 1.0, 2.0])), [0.5, -0.5, 0.0])
    np.testing.assert_allclose(ranks(jnp.array([jnp.nan, 1.0, 2.0])), [0.5, -0.5, 0.0])


def test_ga_never_gets_worse_and_keys_are_pure():
    opt = optimizers.make("ga", mutation_scale=0.1)
    first = train.run(ROSEN.loss, ROSEN.x0, opt, 60).loss
    assert np.all(np.diff(first) <= 0)  # elitism: the best loss never increases
    np.testing.assert_array_equal(first, train.run(ROSEN.loss, ROSEN.x0, opt, 60).loss)


def test_evaluation_counts_match_an_independent_call_counter():
    """Count every call of the loss at run time; train.run's own measurements (one per
    iterate) are the difference to the algorithm's count."""
    calls = []
    p = problems.get("rosenbrock")

    def f(x):
        # Under vmap (ES samples) the callback runs once per batch, with the batch.
        jax.debug.callback(lambda z: calls.append(max(1, np.asarray(z).size // 2)), x)
        return p.loss(x)

    steps = 25
    for name, hp in (("lbfgs", {}), ("sgd", {"learning_rate": 1e-3}),
                     ("es", {"learning_rate": 0.01, "population": 6})):
        calls.clear()
        traj = train.run(solvers.counted(f), solvers.with_count(p.x0),
                         solvers.count_evaluations(optimizers.make(name, **hp)), steps,
                         record_params=True)
        counted = np.asarray(traj.params.evaluations)
        measured = len(calls) - (steps + 1)  # minus train.run's f at every iterate
        if name == "lbfgs":
            assert counted[-1] == measured + 1  # + ∇f(w₀), which train.run computed for it
        elif name == "sgd":
            np.testing.assert_array_equal(counted, np.arange(steps + 1))
            assert measured == 0
        else:
            np.testing.assert_array_equal(counted, 6 * np.arange(steps + 1))
            assert measured == 6 * steps


def test_step_evaluations_reads_states():
    x = jnp.zeros(3)
    newton = optimizers.make("newton")
    assert int(solvers.step_evaluations(newton.init(x))) == 1 + 3
    assert int(solvers.step_evaluations(optax.sgd(0.1).init(x))) == 1
    es = optimizers.make("es", learning_rate=0.1, population=8)
    assert int(solvers.step_evaluations(es.init(x))) == 8


@pytest.mark.parametrize("name", ["cg_pr", "ga", "lbfgs"])
def test_no_recompilation_on_the_second_step(name):
    traces = []
    f = problems.get("rosenbrock").loss
    opt = optimizers.make(name, **TABLE[name][0])

    @jax.jit
    def step(x, state):
        traces.append(1)
        value, grad = jax.value_and_grad(f)(x)
        u, state = opt.update(grad, state, x, value=value, grad=grad, value_fn=f)
        return x + u, state

    x = jnp.array([-1.2, 1.0])
    state = opt.init(x)
    x, state = step(x, state)
    x, state = step(x, state)
    assert len(traces) == 1 and bool(jnp.all(jnp.isfinite(x)))


def test_lbfgs_sweeps_by_name():
    """memory_size defaults to None, so inject_hyperparams does not trace a shape."""
    p = problems.get("rosenbrock")
    sw = train.sweep(p.loss, p.x0, "lbfgs", {"learning_rate": [0.5, 1.0]}, 60)
    assert np.all(sw.final_loss < 1e-8)


def test_solvers_dtypes_follow_float32_inputs():
    f = lambda x: jnp.sum((x - 1) ** 2)
    x = jnp.zeros(3, jnp.float32)
    for name, hp in (("cg_pr", {}), ("es", {"learning_rate": 0.1}), ("ga", {}), ("newton", {})):
        opt = optimizers.make(name, **hp)

        def step(x, opt=opt):
            return opt.update(jax.grad(f)(x), opt.init(x), x, value=f(x), grad=jax.grad(f)(x),
                              value_fn=f)[0]

        assert jax.eval_shape(step, x).dtype == jnp.float32, name


# four sweeps, each its own program run once: compiling is the cost; the final losses
# agree to ~1e-14 with and without it, far inside the factor-of-10 comparisons
@quick_compiles()
def test_hand_written_ga_and_es_match_evosax_at_equal_budgets():
    """Same problem, population, width and generations: the hand-written GA and ES end
    within a factor of 10 of evosax's SimpleGA and OpenES (median over 6 seeds), and all
    four cut the start's loss at least 10-fold (measured: GA 1.4e-5 vs SimpleGA 2.8e-5,
    ES 0.088 vs OpenES 0.095, from f0 = 5.5)."""
    x64 = jax.config.jax_enable_x64  # conftest turns it on for the whole session
    jax.config.update("jax_enable_x64", True)
    try:
        q = problems.get("quadratic", eigenvalues=[1.0, 10.0])
        x0 = jnp.asarray(q.x0, jnp.float64)
        seeds = {"seed": np.arange(6.0)}
        factories = {
            "ga": lambda *, seed: solvers.genetic_algorithm(0.1, population=32, seed=seed),
            "simple_ga": lambda *, seed: solvers.simple_ga(0.1, population=32, seed=seed),
            "es": lambda *, seed: solvers.evolution_strategy(0.05, sigma=0.05, population=20,
                                                             seed=seed),
            "open_es": lambda *, seed: solvers.open_es(0.05, sigma=0.05, population=20,
                                                       seed=seed),
        }
        final = {n: float(np.median(train.sweep(q.loss, x0, f, seeds, 100).final_loss))
                 for n, f in factories.items()}
        f0 = float(q.loss(x0))
        assert all(v < 0.1 * f0 for v in final.values()), final
        assert 0.1 < final["ga"] / final["simple_ga"] < 10, final
        assert 0.1 < final["es"] / final["open_es"] < 10, final
    finally:
        jax.config.update("jax_enable_x64", x64)
