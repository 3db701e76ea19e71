"""The experiments taylor_step and deep_chain against independent references.

gdlab.taylor itself is tested in test_taylor.py; here the experiments' own arithmetic is
checked: the exact log-space series of a deep-chain step against exact rational
arithmetic (``fractions``, any size), the book's all-ones closed form 1 − (1 − 0.1/l)^l,
the batch-normalised chain against its closed form w_l·(γ·x̂ + β), the fall of the
higher-order share under batch norm, the "gradient of c on ŷ" closed forms, and the
line search and ε* of taylor_step against a quadratic's exact minimiser.
"""

import math
from fractions import Fraction

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gdlab

DEEP = gdlab.experiment.load("deep_chain").module
STEP = gdlab.experiment.load("taylor_step").module
RNG = np.random.default_rng(0)
SWEEP_DEPTH = 12


def exact_step(w, x, eps):
    """Exact rationals: ŷ, the new ŷ, and the coefficients c_k of t ↦ x·∏(w_i − t·ε·g_i)."""
    w = [Fraction(v) for v in w]
    x, eps = Fraction(x), Fraction(eps)
    y = x * math.prod(w)
    g = [y / wi for wi in w]
    poly = [x]  # low order first
    for wi, gi in zip(w, g, strict=True):
        step = -eps * gi
        poly = [a * wi + b * step for a, b in zip(poly + [0], [0] + poly, strict=True)]
    return y, x * math.prod(wi - eps * gi for wi, gi in zip(w, g, strict=True)), poly


def log10_abs(q: Fraction) -> float:
    return math.log10(abs(q.numerator)) - math.log10(q.denominator)


# --- deep_chain: the exact series --------------------------------------------------------------


@pytest.mark.parametrize("pattern, depth, rule", [
    ((0.5,), 50, "tied"),  # terms ~10^600: far beyond float64
    ((1.5,), 50, "fixed"),  # ~10^314
    ((0.5, 0.5, 2.0, 2.0, 2.0), 37, "fixed"),
    ((1.1,), 20, "tied"),  # U ≪ 1: the first order is nearly right
])
def test_step_series_matches_exact_rationals(pattern, depth, rule):
    config = DEEP.Config(fixed_eps=0.01)
    w = DEEP.weights(pattern, depth)
    g = np.prod(w) / w
    eps = DEEP.rule_eps(rule, g, config)
    s = DEEP.step_series(w, 1.0, eps, g)
    y, new, poly = exact_step(w, 1.0, eps)
    first = poly[1]
    # every order: log10 |c_k| and the sign (−1)^k
    np.testing.assert_allclose(s["log10_terms"], [log10_abs(c) for c in poly], rtol=1e-12,
                               atol=1e-11)
    assert all((c > 0) == (k % 2 == 0) for k, c in enumerate(poly))
    # the sum of all orders is the actual change, and actual/predicted follows
    assert sum(poly[1:]) == new - y
    ratio = (new - y) / first
    assert s["ratio_sign"] == (1 if ratio > 0 else -1)
    np.testing.assert_allclose(s["ratio_log10"], log10_abs(ratio), rtol=1e-10, atol=1e-12)
    net = ratio - 1
    assert s["net_sign"] == (1 if net > 0 else -1)
    np.testing.assert_allclose(s["net_log10"], log10_abs(net), rtol=1e-10, atol=1e-9)
    higher = sum(abs(c) for c in poly[2:]) / abs(first)
    np.testing.assert_allclose(s["H_log10"], log10_abs(higher), rtol=1e-11, atol=1e-11)
    assert s["H_log10"] <= s["H_bound_log10"] + 1e-9
    # the book's term ε²g₁g₂w₃⋯w_l is ŷ·u₁u₂; the whole second order is c_2
    book = Fraction(eps) ** 2 * (y / Fraction(w[0])) * (y / Fraction(w[1])) * math.prod(
        Fraction(v) for v in w[2:])
    np.testing.assert_allclose(s["book_term_log10"], log10_abs(book), rtol=1e-12)
    np.testing.assert_allclose(s["second_order_log10"], log10_abs(poly[2]), rtol=1e-12)


@pytest.mark.xdist_group("deep_chain")
def test_all_ones_closed_form_every_depth(quick_run):
    # the quick run's depth sweep (depths 2..12, uniform weights 1 among its sets): read,
    # not computed again
    _, config, output = quick_run("deep_chain")
    sweep = output["series"]["sweep"]
    depths = sweep["depths"]
    assert 1.0 in config.scales and depths[-1] == config.max_depth >= SWEEP_DEPTH
    ones = sweep["sets"].index("1")
    r = sweep["rules"]["tied"]
    expected = (1 - (1 - 0.1 / depths) ** depths) / 0.1  # actual / predicted decrease
    np.testing.assert_allclose(r["ratio_sign"][ones], 1)
    np.testing.assert_allclose(10.0 ** r["ratio_log10"][ones], expected, rtol=1e-13)
    # ½ε²gᵀHg by HVP: C(l, 2)·(0.1/l)² for ŷ = 1
    np.testing.assert_allclose(r["second_order_hvp"][ones],
                               [math.comb(int(l), 2) * (0.1 / l) ** 2 for l in depths],
                               rtol=1e-12)


@pytest.mark.xdist_group("deep_chain")
def test_book_experiment_orders_sum_to_the_actual_change(quick_run):
    # the quick run's book experiment (depth 5, every weight set): read, not computed again
    _, config, output = quick_run("deep_chain")
    book, depth = output["series"]["book"], config.book_depth
    assert book["depth"] == depth >= 3 and {"1", "0.5"} <= set(book["weights"])
    ones = book["rules"]["tied"]["1"]
    np.testing.assert_allclose(-ones["actual_change"], 1 - (1 - 0.1 / depth) ** depth,
                               rtol=1e-13)
    np.testing.assert_allclose(ones["predicted_change"], -0.1, rtol=1e-14)
    for rule in DEEP.RULES:
        for name, row in book["rules"][rule].items():
            w = book["weights"][name]
            y, new, poly = exact_step(w, 1.0, row["eps"])
            np.testing.assert_allclose(row["terms"], [float(c) for c in poly[1:]],
                                       rtol=1e-12)
            np.testing.assert_allclose(row["actual_change"], float(new - y), rtol=1e-12)
            np.testing.assert_allclose(np.sum(row["terms"]), row["actual_change"],
                                       rtol=1e-12)
            np.testing.assert_allclose(row["second_order_hessian"], float(poly[2]),
                                       rtol=1e-12)
            # uniform weights: the book's term is one of C(l, 2) equal pairs
            if name in ("1", "0.5"):
                np.testing.assert_allclose(row["book_term_fraction_of_second"],
                                           1 / math.comb(depth, 2), rtol=1e-12)


# --- deep_chain: batch normalisation and the cost ------------------------------------------


def test_batch_norm_chain_is_the_closed_form_w_top_times_gamma_xhat_plus_beta():
    depth_slots, batch = 6, jnp.asarray(RNG.normal(size=9))
    w = jnp.asarray(RNG.uniform(0.3, 2.0, size=depth_slots) * np.array([1, -1, 1, 1, -1, 1]))
    gamma = jnp.asarray(RNG.uniform(0.5, 1.5, size=depth_slots - 1))
    beta = jnp.asarray(RNG.normal(size=depth_slots - 1))
    active = jnp.asarray([False, True, True, True, True])  # depth 5: 4 hidden layers
    out = DEEP._bn._bn_output({"w": w, "gamma": gamma, "beta": beta}, batch, active, 0.0)
    xs = np.asarray(batch)
    h = xs
    for i in range(1, depth_slots - 1):  # NumPy reference, layer by layer
        z = float(w[i]) * h
        h = float(gamma[i]) * (z - z.mean()) / z.std() + float(beta[i])
    np.testing.assert_allclose(out, float(w[-1]) * h, rtol=1e-12, atol=1e-12)
    # ... which is w_l·(γ·s·x̂ + β) with s = ± the sign of the lower weights and γ's
    x_hat = (xs - xs.mean()) / xs.std()
    sign = np.prod(np.sign(np.asarray(w[1:-1]))) * np.prod(np.sign(np.asarray(gamma[1:-1])))
    np.testing.assert_allclose(out, float(w[-1]) * (float(gamma[-1]) * sign * x_hat
                                                    + float(beta[-1])), rtol=1e-12, atol=1e-12)


@pytest.mark.xdist_group("deep_chain")
def test_batch_norm_share_is_degree_two_and_flat_in_depth_while_plain_explodes(quick_run):
    # the quick run's batch-norm and plain sweeps (depths 2..12, batch 16, every uniform
    # weight set and the mixed pattern): read, not computed again
    _, config, output = quick_run("deep_chain")
    bn, sweep = output["series"]["batch_norm"], output["series"]["sweep"]
    assert config.max_depth == SWEEP_DEPTH and config.batch_size == 16
    assert bn["sets"] == sweep["sets"] and {"0.5", "1.5"} <= set(bn["sets"])
    uniform_rows = [i for i, name in enumerate(bn["sets"]) if not name.startswith("mixed")]
    for rule in DEEP.RULES:
        net, second = bn["rules"][rule]["net"], bn["rules"][rule]["second_share"]
        np.testing.assert_allclose(net, -second, atol=1e-10)  # nothing beyond order 2
        assert np.max(np.abs(net)) < 0.1  # one bounded second-order term
        uniform = net[uniform_rows]  # the uniform weight sets: the same share at every depth
        np.testing.assert_allclose(uniform, uniform[:, :1] * np.ones_like(uniform),
                                   rtol=1e-6)
    assert np.max(bn["lower_gradient_share"]) < 1e-7
    # without normalisation the higher orders of the tied rule explode for w = 0.5 ...
    plain = sweep["rules"]["tied"]["net_log10"][sweep["sets"].index("0.5")]
    assert plain[-1] > 10 and np.all(np.diff(plain[3:]) > 0)
    # ... and those of the fixed rule for w = 1.5, by depth 12
    assert sweep["rules"]["fixed"]["H_log10"][sweep["sets"].index("1.5"), -1] > 0


def test_cost_gradient_closed_forms():
    config = DEEP.Config(cost_depth=6, cost_points=7)
    out = DEEP.cost_gradient(config)
    c, depth = out["c"], 6
    assert out["grad_cost_minus_grad_y_at_c1"] == 0.0  # ∂cost/∂ŷ = 1: ∇cost = ∇ŷ
    dy = (1 - 0.1 / (c * depth)) ** depth - 1  # ŷ = 1 moves by ~ −0.1/c
    np.testing.assert_allclose(out["linear"]["y_ratio"], dy / (-0.1 / c), rtol=1e-12)
    np.testing.assert_allclose(out["squared"]["y_ratio"], dy / (-0.1 / c), rtol=1e-12)
    np.testing.assert_allclose(out["linear"]["cost_ratio"], c * dy / -0.1, rtol=1e-12)
    # ½(c + Δŷ)² − ½c² loses ~c²·1e-16 to cancellation: 1e-12 of the 0.1 at c = 100
    np.testing.assert_allclose(out["squared"]["cost_ratio"], (c * dy + 0.5 * dy**2) / -0.1,
                               rtol=1e-10)


# --- taylor_step: ε* and the line search ---------------------------------------------------


def test_quadratic_start_gives_eps_star_n_over_trace_and_the_line_search_finds_it():
    config = STEP.Config(grid_points=61)
    f, x = STEP._quadratic(config)
    lam = np.asarray(config.quadratic_eigenvalues)
    change = lambda e: STEP._terms({"quadratic": (f, x)}, "quadratic", jnp.float64, e)
    terms = change(np.ones(config.grid_points))
    eps_star = STEP._eps_star(float(terms.gTg), float(terms.gTHg))
    np.testing.assert_allclose(eps_star, lam.size / lam.sum(), rtol=1e-13)
    assert 1 / lam.max() < eps_star < 1 / lam.min()
    search = STEP._line_search(lambda e: change(e).actual, lam.max(), config)
    assert abs(search["best"] / eps_star - 1) <= search["resolution"]
    assert STEP._eps_star(1.0, 0.0) == np.inf and STEP._eps_star(1.0, -2.0) == np.inf


def test_line_search_takes_the_first_dip_not_a_deeper_one_further_out():
    # f(x − εg) − f(x) along a line: a dip at ε = 1, a slightly deeper one at ε = 20
    phi = lambda e: -np.exp(-np.log(e) ** 2 * 8) - 1.05 * np.exp(-(np.log(e / 20)) ** 2 * 8)
    search = STEP._line_search(phi, 1.0, STEP.Config(grid_points=101))
    np.testing.assert_allclose(search["best"], 1.0, rtol=2e-3)
    np.testing.assert_allclose(search["global_best"], 20.0, rtol=0.05)


def test_fit_slope_recovers_a_power_law_above_the_floor():
    config = STEP.Config()
    rel = np.geomspace(1e-8, 10, 91)
    err = 3.0 * rel**3 + 1e-16  # ε³ law above a round-off floor of 1e-16
    slope, window = STEP._fit_slope(rel, err, 1e-16, config)
    assert abs(slope - 3) < 2e-3 and window[1] <= config.fit_max
    assert STEP._fit_slope(rel, np.full_like(rel, 1e-16), 1e-16, config) == (None, None)


def test_configs_reject_bad_values():
    with pytest.raises(ValueError, match="positive"):
        DEEP._check(DEEP.Config(scales=(0.5, -1.0)))
    with pytest.raises(ValueError, match="book_depth"):
        DEEP._check(DEEP.Config(book_depth=60))
    with pytest.raises(ValueError, match="learning_rates"):
        STEP._check(STEP.Config(learning_rates=()))
    with pytest.raises(ValueError, match="grid_points"):
        STEP._check(STEP.Config(grid_points=3))


def test_quick_configs_are_valid_and_never_larger():
    for module in (DEEP, STEP):
        module._check(module.Config(**module.QUICK))
        default = module.Config()
        for name, quick in module.QUICK.items():  # --quick shrinks sizes, never grows them
            full = getattr(default, name)
            if full is None:  # None: no limit (e.g. all examples), so any quick size is smaller
                continue
            if isinstance(quick, int | float) and not isinstance(quick, bool):
                assert quick <= full, (module.__name__, name)
            elif isinstance(quick, tuple):
                assert len(quick) <= len(full), (module.__name__, name)


# --- batch norm: the lower weights can neither hurt nor help ----------------------------------


def test_batch_norm_output_ignores_the_lower_weights_up_to_bn_eps():
    n, top = 4, 7
    batch = jnp.asarray(RNG.normal(size=12))
    params = {"w": jnp.asarray(RNG.uniform(0.3, 2.0, size=(n, top))),
              "gamma": jnp.asarray(RNG.uniform(0.5, 1.5, size=(n, top - 1))),
              "beta": jnp.asarray(RNG.normal(size=(n, top - 1)))}
    active = jnp.asarray(np.arange(top - 1) >= np.array([[0], [2], [4], [5]]))
    factors = jnp.asarray(RNG.uniform(0.5, 2.0, size=(n, top - 1)))
    # with bn's ε = 0, ŷ = w_l·(γ·x̂ + β) exactly: the lower weights change nothing
    exact = DEEP._bn._bn_rescaled_change(params, active, batch, factors, 0.0)
    assert np.max(np.asarray(exact)) < 1e-13
    # with ε = 1e-5 they act only through ε/var(z): a change of order ε, never zero
    eps = np.asarray(DEEP._bn._bn_rescaled_change(params, active, batch, factors, 1e-5))
    assert np.all((eps > 1e-9) | ~np.asarray(active).any(axis=1)) and np.max(eps) < 1e-3
    # the top weight is not irrelevant: doubling it doubles ŷ (NumPy reference)
    y = np.asarray(DEEP._bn._bn_output(jax.tree.map(lambda a: a[0], params), batch, active[0], 0.0))
    doubled = {**jax.tree.map(lambda a: a[0], params)}
    doubled["w"] = doubled["w"].at[-1].multiply(2.0)
    np.testing.assert_allclose(DEEP._bn._bn_output(doubled, batch, active[0], 0.0), 2 * y,
                               rtol=1e-13)


# --- claims at quick size (and other seeds) ----------------------------------------------------


def _claims(module, config, output):
    return gdlab.experiment.build_result(module, config, output)["claims"]


@pytest.mark.xdist_group("deep_chain")
def test_deep_chain_quick_claims_hold(quick_run):
    loaded, config, output = quick_run("deep_chain")
    found = _claims(loaded.module, config, output)
    assert len(found) >= 15
    assert not gdlab.claims.failed(found), gdlab.claims.markdown(gdlab.claims.failed(found))


@pytest.mark.xdist_group("taylor_step")
def test_taylor_step_quick_claims_hold(quick_run):
    loaded, config, output = quick_run("taylor_step")
    found = _claims(loaded.module, config, output)
    assert len(found) >= 15
    assert sum(c.get("held_for") is not None for c in found) >= 6  # the training claims
    assert not gdlab.claims.failed(found), gdlab.claims.markdown(gdlab.claims.failed(found))


@pytest.mark.slow
@pytest.mark.parametrize("name", ["taylor_step", "deep_chain"])
@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_other_seeds_keep_the_claims(name, seed):
    import dataclasses

    loaded = gdlab.experiment.load(name)
    config = dataclasses.replace(loaded.default_config(quick=True), seed=seed)
    with jax.numpy_rank_promotion("allow"):
        output = loaded.module.run(config)
    found = _claims(loaded.module, config, output)
    assert not gdlab.claims.failed(found), gdlab.claims.markdown(gdlab.claims.failed(found))


def test_the_analysis_at_init_looks_at_the_seeds_xavier_init():
    # taylor_step analyses the MLP at the start of the first seed's training run (read from
    # the sweep); that start is the Xavier init of the key train.sweep documents for the seed
    config = STEP.Config(hidden=4, train_size=5, seed=3, num_seeds=2, num_steps=2,
                         track_every=1, check_every=2, lanczos_iters=2, grid_points=8)
    problems = STEP._problems(config)
    start = STEP.training(problems, config)["start"]
    model = gdlab.models.mlp([40, 4, 10], activation="tanh", init="xavier", dtype=jnp.float32)
    expected = model.init(jax.random.split(jax.random.key(config.seed))[0])
    for a, b in zip(jax.tree.leaves(start), jax.tree.leaves(expected), strict=True):
        np.testing.assert_allclose(a, b, rtol=3e-7, atol=1e-7)  # same draws, 1 ulp apart
