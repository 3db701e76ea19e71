"""In ŷ = x·w₁⋯w_l a step changes ŷ at every order up to l; first order holds iff εgᵀg ≪ |ŷ|.

Deep Learning book §8.7.1, the thought experiment behind batch normalisation: one unit
per layer, no activation, ŷ = x·w₁·w₂⋯w_l. "Suppose the cost puts a gradient of 1 on ŷ":
that is ∂cost/∂ŷ = 1, true for cost = ŷ itself (we want ŷ smaller) and for
cost = ½(ŷ − y)² at a point where ŷ − y = 1. Then ∇_w cost = ∂cost/∂ŷ·∇_w ŷ = g with
g_i = ∂ŷ/∂w_i = ŷ/w_i (backprop), and the step w ← w − εg with ε = 0.1/gᵀg should, to
first order, lower ŷ by ε·gᵀg = 0.1. If instead ∂cost/∂ŷ = c, the gradient is c·g; the
same rule (ε = 0.1/‖∇cost‖² = 0.1/(c²gᵀg)) still predicts the cost to fall by 0.1, but now
asks ŷ to move by 0.1/c (upwards when c < 0), so a small c means a big move and big
higher orders; and a curved cost such as ½(ŷ − y)² adds its own ½Δŷ² on top of the
chain's terms (cost_gradient.png measures both).

What the step does is exact and short. With u_i = ε·g_i/w_i = ε·ŷ/w_i²,

    ŷ(ε) = x·∏(w_i − εg_i) = ŷ·∏(1 − u_i),   order k:  c_k = (−1)^k · ŷ · e_k(u₁..u_l),

e_k the elementary symmetric polynomials. The first-order term is −ŷ·U with
U = Σu_i = ε·gᵀg/ŷ, the relative change of ŷ the first-order model asks for, and

    Σ_{k≥2} |c_k| / |c_1| = (∏(1 + u_i) − 1 − U) / U  ≤  ((1 + U/l)^l − 1 − U) / U,

with equality for equal weights. So the higher orders are negligible exactly when U ≪ 1
(together at most ≈ U/2 of the first order), can reach e^U/U for 1 ≪ U ≪ l, and
(U/l)^l/U, exponential in the depth, once U ≫ l. The book's example term ε²·g₁g₂·w₃⋯w_l
is the (1, 2) member ŷ·u₁u₂ of the second order ŷ·e₂(u) = ½ε²gᵀHg. Which weights make
U large depends on the rule for ε. With a fixed ε, U = ε·Σ_i ŷ/w_i² grows like
l·w^(l−2): weights above 1 make the higher orders exponentially large in depth (the
book's case). With ε = 0.1/gᵀg, U = 0.1/|ŷ| = 0.1·w^(−l): weights *below* 1 blow up,
while weights above 1 make the first-order prediction ever more accurate.

Batch normalisation's answer, and its price (the book says both): normalise each hidden
layer over a batch of inputs, h ← γ·(z − mean z)/√(var z + 1e-5) + β with z = w·h, and
ŷ = w_l·(γ·x̂ + β) whatever w₁..w_(l−1) are. The higher orders go away because the lower
weights become irrelevant: their gradient vanishes (up to bn's ε), rescaling them leaves ŷ
unchanged, and so they can neither hurt nor help. ŷ is of degree 2 in the weights that
still matter, so the higher-order share is one second-order term, the same at every
depth. In this linear chain that is not a free fix: normalisation removed everything the
lower layers could do (a linear network can only move the mean and the scale, which batch
norm resets); in a real network they keep the nonlinear part.

Run:    gdlab run deep_chain      (or: python experiments/deep_chain.py --help)
Writes: results/deep_chain/result.json, orders.png, depth_sweep.png, batch_norm.png,
        cost_gradient.png

The measured numbers are the claims in results/deep_chain/result.json (`gdlab list`).
"""

import functools
import math
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

import gdlab
from gdlab import taylor
from gdlab.claims import above, below, between, close, fact


@dataclass(frozen=True)
class Config:
    x: float = 1.0  # the input; ŷ = x·w₁⋯w_l (the first example of the batch-norm batch)
    target_decrease: float = 0.1  # the book's rule ε = target/gᵀg: first order lowers ŷ by it
    fixed_eps: float = 0.01  # the other rule: one ε for every depth and weight scale
    scales: tuple[float, ...] = (0.5, 0.9, 1.0, 1.1, 1.5)  # uniform weights w_i = scale
    mixed: tuple[float, ...] = (0.5, 0.5, 2.0, 2.0, 2.0)  # mixed weights: this pattern, tiled
    max_depth: int = 50  # the sweep covers depths 2..max_depth
    book_depth: int = 10  # every order of the book's experiment via gdlab.taylor (jet)
    batch_size: int = 64  # inputs of the batch-normalised chain: x, then N(0, 1) draws
    bn_eps: float = 1e-5  # batch norm's ε in √(var + ε)
    rescale: float = 2.0  # the lower weights are multiplied by random factors in [1/r, r]
    cost_depth: int = 10  # depth for the "gradient of c on ŷ" comparison (weights 1)
    cost_gradients: tuple[float, float] = (0.01, 100.0)  # range of c = ∂cost/∂ŷ (log grid)
    cost_points: int = 41  # points on that grid
    seed: int = 0  # key for the batch


QUICK = {"max_depth": 12, "book_depth": 5, "batch_size": 16, "cost_depth": 5,
         "cost_points": 9}

RULES = ("tied", "fixed")  # ε = target/gᵀg, and ε = fixed_eps


def _check(config: Config) -> None:
    if config.max_depth < 2 or not 2 <= config.book_depth <= config.max_depth:
        raise ValueError("need max_depth >= 2 and 2 <= book_depth <= max_depth")
    if min(config.scales, default=0) <= 0 or min(config.mixed, default=0) <= 0:
        raise ValueError("scales and mixed must be non-empty and positive (the exact "
                         "series below uses u_i = ε·g_i/w_i > 0)")
    if config.x <= 0:
        raise ValueError(f"x must be > 0, got {config.x}")
    if config.fixed_eps <= 0 or config.target_decrease <= 0:
        raise ValueError("fixed_eps and target_decrease must be > 0")
    if config.batch_size < 2 or config.bn_eps < 0 or not config.rescale > 1:
        raise ValueError("need batch_size >= 2, bn_eps >= 0 and rescale > 1")
    lo, hi = config.cost_gradients
    if not 0 < lo < hi or config.cost_points < 2 or config.cost_depth < 1:
        raise ValueError("need 0 < cost_gradients[0] < cost_gradients[1], cost_points >= 2, "
                         "cost_depth >= 1")


def weight_sets(config: Config) -> dict[str, tuple[float, ...]]:
    """Name -> the per-layer pattern: uniform scales, and the mixed pattern (tiled)."""
    sets = {f"{s:g}": (float(s),) for s in config.scales}
    sets["mixed " + "/".join(f"{m:g}" for m in config.mixed)] = tuple(config.mixed)
    return sets


def weights(pattern, depth: int) -> np.ndarray:
    """w₁..w_depth: ``pattern`` repeated (a single value gives uniform weights)."""
    return np.resize(np.asarray(pattern, np.float64), depth)


# --- the parts that live beside this script ----------------------------------------------------


def _private(name: str):
    """experiments/<name>.py, a private module beside this script (not an experiment)."""
    return gdlab.experiment.sibling(__file__, name)


_series = _private("_deep_chain_series")  # the exact series of a step, in log space
_bn = _private("_deep_chain_batch_norm")  # the batch-normalised chain
step_series, log10_elementary = _series.step_series, _series.log10_elementary
log10_uniform_share = _series.log10_uniform_share


def rule_eps(rule: str, g: np.ndarray, config: Config) -> float:
    """ε for a rule: the book's target/gᵀg, or the fixed ε."""
    return config.target_decrease / float(g @ g) if rule == "tied" else config.fixed_eps


# --- part 1: the book's experiment at one depth, every order from gdlab.taylor --------------


def book_experiment(config: Config) -> dict:
    depth = config.book_depth
    model = gdlab.models.deep_chain(depth)
    f = functools.partial(_chain_value, model.apply, config.x)
    sets = weight_sets(config)
    ws = np.stack([weights(p, depth) for p in sets.values()])
    grads = np.asarray(jax.jit(jax.vmap(jax.grad(f)))(ws))  # backprop: g = ∇_w ŷ

    @jax.jit
    def measure(ws, steps):
        coeffs = jax.vmap(lambda w, d: taylor.coefficients(f, w, d, depth))(ws, steps)
        hess = jax.vmap(jax.hessian(f))(ws)  # for ½ε²gᵀHg = ½ stepᵀ H step
        quad = jnp.einsum("ni,nij,nj->n", steps, hess, steps)
        return coeffs, 0.5 * quad, jax.vmap(f)(ws + steps)

    out = {}
    for rule in RULES:
        eps = np.array([rule_eps(rule, g, config) for g in grads])
        steps = -eps[:, None] * grads
        coeffs, second, new = (np.asarray(a) for a in measure(ws, jnp.asarray(steps)))
        rows = {}
        for i, name in enumerate(sets):
            w = np.asarray(ws[i])
            exact = step_series(w, config.x, float(eps[i]), grads[i])
            predicted = float(-eps[i] * grads[i] @ grads[i])
            actual = float(new[i] - coeffs[i, 0])
            c = coeffs[i, 1:]  # the contribution of orders 1..l (jet), t = 1
            exact_terms = (-1.0) ** np.arange(1, depth + 1) * 10.0 ** exact["log10_terms"][1:]
            book_term = eps[i] ** 2 * grads[i, 0] * grads[i, 1] * np.prod(w[2:]) * config.x
            rows[name] = {
                "eps": float(eps[i]), "y": float(coeffs[i, 0]), "U": exact["U"],
                "predicted_change": predicted, "actual_change": actual,
                "ratio": actual / predicted, "terms": c, "exact_terms": exact_terms,
                "sum_rel_error": float(abs(np.sum(c) - actual) / max(abs(actual), abs(c[0]))),
                "jet_vs_exact_max_rel": float(np.max(np.abs(c - exact_terms)
                                                     / np.abs(exact_terms))),
                "book_term": float(book_term), "second_order_hessian": float(second[i]),
                "second_order_jet": float(c[1]),
                "book_term_fraction_of_second": float(book_term / second[i]),
            }
        out[rule] = rows
    return {"depth": depth, "weights": {n: np.asarray(ws[i]) for i, n in enumerate(sets)},
            "rules": out}


def _chain_value(apply, x, w):
    return apply(w, x)


# --- part 2: depths 2..max_depth, both rules, exactly -----------------------------------------


@jax.jit
def _padded_grads_and_gHg(w, mask, x):
    """g = ∇_w ŷ (zero on the padding) and gᵀHg (one HVP) for each row of ``w``.

    The chain is deep_chain(top) with the weights passed as a tuple of scalars (no
    gathers or scatters to compile); compiled once per shape.
    """
    apply = gdlab.models.deep_chain(w.shape[1]).apply
    f = lambda ws: apply(ws, x)

    def one(ws, m):
        g = tuple(gi * mi for gi, mi in zip(jax.grad(f)(ws), m, strict=True))
        hg = gdlab.curvature.hvp(f, ws, g)  # H·g without the l × l matrix
        return jnp.stack(g), sum(gi * hi for gi, hi in zip(g, hg, strict=True))

    columns = lambda a: tuple(jnp.unstack(a, axis=1))
    return jax.vmap(one)(columns(w), columns(mask.astype(w.dtype)))


def depth_sweep(config: Config) -> dict:
    """Every depth and weight set: g by backprop and ½ε²gᵀHg by a Hessian-vector product
    on one padded chain (weights past the depth are 1 and not stepped: the same ŷ, g and
    second order), then the exact series in log space. (jax.hessian gives the same number
    at the book's depth; on a 50-layer chain its compile alone takes minutes.)"""
    top = config.max_depth
    sets = weight_sets(config)
    depths = np.arange(2, top + 1)
    padded = np.ones((len(sets), len(depths), top))
    for i, pattern in enumerate(sets.values()):
        for j, depth in enumerate(depths):
            padded[i, j, :depth] = weights(pattern, depth)
    mask = np.broadcast_to(np.arange(top) < depths[:, None], padded.shape).reshape(-1, top)
    grads, quad = _padded_grads_and_gHg(padded.reshape(-1, top), mask, config.x)
    grads = np.asarray(grads).reshape(padded.shape)
    quad = np.asarray(quad).reshape(padded.shape[:2])
    out = {"depths": depths, "sets": list(sets), "rules": {}}
    for rule in RULES:
        fields = {}
        for i in range(len(sets)):
            for j, depth in enumerate(depths):
                g = grads[i, j, :depth]
                eps = rule_eps(rule, g, config)
                s = step_series(padded[i, j, :depth], config.x, eps, g)
                s["second_order_hvp"] = 0.5 * eps**2 * quad[i, j]
                for key in ("U", "ratio_sign", "ratio_log10", "net_sign", "net_log10",
                            "H_log10", "H_bound_log10", "book_term_log10",
                            "second_order_log10", "second_order_hvp", "eps", "y"):
                    fields.setdefault(key, np.zeros((len(sets), len(depths))))[i, j] = s[key]
        out["rules"][rule] = fields
    # the theory next to it: ((1 + U/l)^l − 1 − U)/U for equal weights over the U measured
    log_u = np.log10(np.concatenate([out["rules"][r]["U"].ravel() for r in RULES]))
    grid = np.linspace(log_u.min(), log_u.max(), 300)
    shown = sorted({2, min(10, top), top})
    out["bounds"] = {"log10_U": grid, "depths": shown, "log10_share": [
        [log10_uniform_share(10.0**v, d) for v in grid] for d in shown]}
    return out


# --- part 3: batch normalisation's answer, measured (experiments/_deep_chain_batch_norm.py) ---


def batch_norm(config: Config) -> dict:
    return _bn.batch_norm(config, weight_sets(config), weights, RULES)


# --- part 4: what "a gradient of 1 on ŷ" means -----------------------------------------------


def cost_gradient(config: Config) -> dict:
    """ŷ at weights 1; the costs c·ŷ and ½(ŷ − y)² with ŷ − y = c both put ∂cost/∂ŷ = c on
    ŷ. The book's rule ε = 0.1/‖∇_w cost‖² on each: first order says the cost falls by 0.1."""
    depth = config.cost_depth
    model = gdlab.models.deep_chain(depth)
    f = functools.partial(_chain_value, model.apply, config.x)
    w = jnp.ones(depth)
    y_hat = config.x  # ŷ = x·1⋯1
    cs = np.geomspace(*config.cost_gradients, config.cost_points)

    def measure(c, kind):
        cost = (lambda v: c * f(v)) if kind == "linear" else (
            lambda v: 0.5 * (f(v) - (y_hat - c)) ** 2)
        g = jax.grad(cost)(w)
        eps = config.target_decrease / (g @ g)
        new = w - eps * g
        return cost(new) - cost(w), f(new) - y_hat

    @jax.jit
    def measure_all(cs):
        squared_at_1 = jax.grad(lambda v: 0.5 * (f(v) - (y_hat - 1.0)) ** 2)(w)
        return ({kind: jax.vmap(lambda c, kind=kind: measure(c, kind))(cs)
                 for kind in ("linear", "squared")},
                jnp.max(jnp.abs(squared_at_1 - jax.grad(f)(w))))

    measured, grad_gap = measure_all(jnp.asarray(cs))
    out = {"c": cs, "y_hat": float(y_hat), "grad_cost_minus_grad_y_at_c1": float(grad_gap)}
    for kind, (d_cost, d_y) in measured.items():
        out[kind] = {"cost_ratio": np.asarray(d_cost) / -config.target_decrease,
                     "y_ratio": np.asarray(d_y) / (-config.target_decrease / cs)}
    # the chain alone at c: ŷ moves by 0.1/c, so u_i = 0.1/(c·l) and Δŷ = (1 − u)^l − 1
    u = config.target_decrease / (cs * depth)
    out["theory_y_ratio"] = ((1 - u) ** depth - 1) / (-config.target_decrease / cs)
    return out


# --- run -------------------------------------------------------------------------------------


def _first_depth(depths, values, threshold):
    hit = np.flatnonzero(np.asarray(values) > threshold)
    return int(depths[hit[0]]) if hit.size else f"never (depth <= {int(depths[-1])})"


def run(config: Config) -> dict:
    _check(config)
    book = book_experiment(config)
    sweep = depth_sweep(config)
    bn = batch_norm(config)
    cost = cost_gradient(config)
    depths = sweep["depths"]
    rows = book["rules"]
    metrics = {
        "book_depth": book["depth"],
        "book_decrease_of_y": {  # first order predicts target_decrease for the tied rule
            rule: {n: -r["actual_change"] for n, r in rows[rule].items()} for rule in RULES},
        "book_actual_over_predicted": {
            rule: {n: r["ratio"] for n, r in rows[rule].items()} for rule in RULES},
        "book_U": {rule: {n: r["U"] for n, r in rows[rule].items()} for rule in RULES},
        "jet_sum_of_orders_max_rel_error": max(
            r["sum_rel_error"] for rule in RULES for r in rows[rule].values()),
        "jet_vs_exact_series_max_rel": max(
            r["jet_vs_exact_max_rel"] for rule in RULES for r in rows[rule].values()),
        "hessian_vs_jet_second_order_max_rel": max(
            abs(r["second_order_hessian"] / r["second_order_jet"] - 1)
            for rule in RULES for r in rows[rule].values()),
        "book_term_fraction_of_second_order_tied": {
            n: r["book_term_fraction_of_second"] for n, r in rows["tied"].items()},
        "first_depth_higher_orders_exceed_first": {
            rule: {n: _first_depth(depths, sweep["rules"][rule]["H_log10"][i], 0.0)
                   for i, n in enumerate(sweep["sets"])} for rule in RULES},
        "max_depth_log10_sum_higher_over_first": {
            rule: {n: float(sweep["rules"][rule]["H_log10"][i, -1])
                   for i, n in enumerate(sweep["sets"])} for rule in RULES},
        "sum_higher_within_uniform_bound_everywhere": bool(all(
            np.all(sweep["rules"][r]["H_log10"] <= sweep["rules"][r]["H_bound_log10"] + 1e-9)
            for r in RULES)),
        "hvp_vs_exact_second_order_max_rel": float(max(np.max(np.abs(
            sweep["rules"][r]["second_order_hvp"]
            / 10.0 ** sweep["rules"][r]["second_order_log10"] - 1)) for r in RULES)),
        "batch_norm_max_abs_net_higher_order": {
            rule: float(np.max(np.abs(bn["rules"][rule]["net"]))) for rule in RULES},
        "plain_max_log10_abs_net_higher_order": {
            rule: float(np.max(sweep["rules"][rule]["net_log10"])) for rule in RULES},
        "batch_norm_lower_layer_gradient_share_max": float(np.max(bn["lower_gradient_share"])),
        # w₁..w_(l−1) times random factors in [1/r, r]: ŷ's relative change over the batch
        "batch_norm_rescaled_lower_change_max": float(np.max(bn["rescaled_change_normed"])),
        "plain_rescaled_lower_change_median_log10": float(np.median(
            bn["rescaled_change_plain_log10"])),
        "plain_rescaled_lower_change_median": float(10.0 ** np.median(
            bn["rescaled_change_plain_log10"])),
        # with batch norm ŷ is of degree 2 in the weights that matter: no order above 2
        "batch_norm_net_plus_second_share_max_abs": float(max(np.max(np.abs(
            bn["rules"][r]["net"] + bn["rules"][r]["second_share"])) for r in RULES)),
        "cost_grad_minus_y_grad_at_c1": cost["grad_cost_minus_grad_y_at_c1"],
        "cost_ratio_at_c1": {
            kind: float(np.interp(0.0, np.log(cost["c"]), cost[kind]["cost_ratio"]))
            for kind in ("linear", "squared")},
    }
    return {"metrics": metrics, "series": {"book": book, "sweep": sweep, "batch_norm": bn,
                                           "cost": cost}}


# --- claims ----------------------------------------------------------------------------------


def claims(result: dict) -> list[dict]:
    """The findings, read from the stored result (exact arithmetic: no seeds involved,
    except the batch-norm batch and the random rescaling factors, drawn from ``seed``)."""
    m, cfg = result["metrics"], result["config"]
    l, top = m["book_depth"], cfg["max_depth"]
    ratio = m["book_actual_over_predicted"]["tied"]
    first = m["first_depth_higher_orders_exceed_first"]
    uniform = {f"{s:g}" for s in cfg["scales"]}
    never = lambda rule, keep: sorted(n for n in first[rule] if n in uniform and keep(float(n)))
    hits = lambda rule, n: isinstance(first[rule].get(n), int)
    tied_ok, fixed_ok = never("tied", lambda w: w >= 1), never("fixed", lambda w: w <= 1)
    show = lambda rule, names: "; ".join(f"w = {n}: {first[rule].get(n)}" for n in names)
    return [
        close(f"depth {l}, weights 1, ε = 0.1/gᵀg: ŷ falls by 1 − (1 − 0.1/l)^l, "
                     "not by the promised 0.1",
                     m["book_decrease_of_y"]["tied"]["1"], 1 - (1 - 0.1 / l) ** l, rtol=1e-12),
        between(f"depth {l}, weights 1.5, ε = 0.1/gᵀg: the first-order prediction is "
                       "nearly exact (actual/predicted)", ratio.get("1.5"), 0.99, 1.0),
        above(f"depth {l}, weights 0.5, ε = 0.1/gᵀg: the first-order prediction fails "
                     "(|actual/predicted − 1|)", abs(ratio.get("0.5", np.nan) - 1), 0.5),
        below("every order from the jet sums to the actual change (max relative "
                     "error)", m["jet_sum_of_orders_max_rel_error"], 1e-10),
        below("the jet's orders equal the exact series ŷ·e_k(u) (max relative error)",
                     m["jet_vs_exact_series_max_rel"], 1e-12),
        below("½ε²gᵀHg: jax.hessian = jet's second order (max relative error)",
                     m["hessian_vs_jet_second_order_max_rel"], 1e-12),
        below("½ε²gᵀHg by one Hessian-vector product = the exact second order at every "
                     "depth (max relative error)", m["hvp_vs_exact_second_order_max_rel"],
                     1e-12),
        close(f"equal weights: the book's term ε²g₁g₂w₃⋯w_l is 1/C({l}, 2) of the "
                     "second order", m["book_term_fraction_of_second_order_tied"]["1"],
                     1 / math.comb(l, 2), rtol=1e-12),
        fact("every depth and weight set: Σ_k≥2 |c_k| ≤ ((1 + U/l)^l − 1 − U)/U "
                    "(equality for equal weights)",
                    m["sum_higher_within_uniform_bound_everywhere"], "true",
                    m["sum_higher_within_uniform_bound_everywhere"]),
        above(f"ε = 0.1/gᵀg, weights 0.5: the higher orders grow faster than a decade "
                     f"per layer (log₁₀ Σ_k≥2|c_k|/|c_1| at depth {top}, bound: the depth)",
                     m["max_depth_log10_sum_higher_over_first"]["tied"].get("0.5"), top),
        fact(f"ε = 0.1/gᵀg: for weights ≥ 1 the higher orders never outweigh the first "
                    f"(budget: depth ≤ {top})", show("tied", tied_ok),
                    "never, for every uniform weight ≥ 1",
                    bool(tied_ok) and not any(hits("tied", n) for n in tied_ok)),
        fact(f"fixed ε = {cfg['fixed_eps']:g}: weights 1.5 make the higher orders "
                    "outweigh the first from some depth on, weights ≤ 1 never "
                    f"(budget: depth ≤ {top})",
                    show("fixed", ["1.5", *fixed_ok]),
                    "a depth for 1.5; never for ≤ 1",
                    hits("fixed", "1.5") and bool(fixed_ok)
                    and not any(hits("fixed", n) for n in fixed_ok)),
        below("batch norm: w₁…w_(l−1) get almost no gradient (largest share of gᵀg, "
                     "left by bn's ε alone)", m["batch_norm_lower_layer_gradient_share_max"],
                     1e-7),
        below(f"batch norm: multiplying w₁…w_(l−1) by random factors in "
                     f"[1/{cfg['rescale']:g}, {cfg['rescale']:g}] leaves ŷ unchanged: they can "
                     "neither hurt nor help (max relative change of ŷ)",
                     m["batch_norm_rescaled_lower_change_max"], 1e-3),
        above("plain chain, the same factors: ŷ moves by more than 10 % (median log₁₀ of the "
              "relative change)",
                     m["plain_rescaled_lower_change_median_log10"], -1.0),
        below("batch norm: |actual/predicted − 1| at every depth, weight set and rule "
                     "(one second-order term)",
                     max(m["batch_norm_max_abs_net_higher_order"].values()), 0.1),
        below("batch norm: that term is all there is, nothing beyond order 2 "
                     "(|net + ½ε²gᵀHg/εgᵀg|, max)",
                     m["batch_norm_net_plus_second_share_max_abs"], 1e-9),
        close("∂cost/∂ŷ = 1: ∇cost = ∇ŷ exactly for ½(ŷ − y)² at ŷ − y = 1 (max gap)",
                     m["cost_grad_minus_y_grad_at_c1"], 0.0, atol=1e-15),
        close(f"c = 1, cost = ŷ, depth {cfg['cost_depth']}: the cost falls by "
                     "(1 − (1 − 0.1/l)^l)/0.1 of the promise",
                     m["cost_ratio_at_c1"]["linear"],
                     (1 - (1 - 0.1 / cfg["cost_depth"]) ** cfg["cost_depth"]) / 0.1, rtol=1e-9),
    ]


# --- plot ------------------------------------------------------------------------------------


def plot(result: dict) -> dict:
    return _private("_deep_chain_figures").plot(result)


if __name__ == "__main__":
    gdlab.experiment.script_main(__file__)
