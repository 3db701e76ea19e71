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

Batch normalisation's answer, measured: normalise each hidden layer over a batch of
inputs, h ← γ·(z − mean z)/√(var z + 1e-5) + β with z = w·h, and ŷ = w_l·h no longer
depends on the scale of w₁..w_(l−1) (their gradient vanishes); ŷ is of degree 2 in the
weights that matter, so the higher-order share is one second-order term, the same at
every depth.

Run:    gdlab run deep_chain      (or: python experiments/deep_chain.py --help)
Writes: results/deep_chain/result.json, orders.png, depth_sweep.png, batch_norm.png,
        cost_gradient.png
Expect: ~30 s of CPU on a 2-core machine (--quick ~10 s). Depth 10, ε = 0.1/gᵀg: weights
        1 lower ŷ by 0.0956 = 1 − (1 − 0.01)^10, weights 1.5 by 0.09992, weights 0.5
        raise it by 4.4e6 (U = 102); the jet's orders sum to the actual change (7.6e-13
        relative) and match ŷ·e_k(u) to 4e-14; ½ε²gᵀHg from jax.hessian is 45× the
        book's term for equal weights. At depth 50 the higher orders reach 10^604 times
        the first for ε = 0.1/gᵀg with weights 0.5, and 10^314 for ε = 0.01 with
        weights 1.5. With batch norm |actual/predicted − 1| is 0.04 or less at every
        depth and scale, exactly its one second-order term (to 5e-12).
"""

import functools
import math
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

import gdlab
from gdlab import plotting, taylor


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
    if config.batch_size < 2 or config.bn_eps < 0:
        raise ValueError("need batch_size >= 2 and bn_eps >= 0")
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


# --- the exact series of one step, in log space (terms reach 10^600) -------------------------


def log10_elementary(u: np.ndarray) -> np.ndarray:
    """log₁₀ e_k(u) for k = 0..n: the coefficients of ∏(1 + u_i t), for positive u.

    The recursion e_k ← e_k + u_i·e_(k−1) adds positive numbers only, so it runs in log
    space with ``logaddexp`` without losing accuracy (e_k reaches 10^600 here, and e_2
    can be 10^-600 times the largest e_k: no scaling of the plain numbers keeps both).
    """
    log_e = np.full(len(u) + 1, -np.inf)
    log_e[0] = 0.0
    for i, log_u in enumerate(np.log(u)):
        log_e[1 : i + 2] = np.logaddexp(log_e[1 : i + 2], log_u + log_e[: i + 1])
    return log_e / math.log(10)


def _log10_sum(logs: np.ndarray) -> float:
    """log₁₀ Σ 10^logs without overflow."""
    logs = logs[np.isfinite(logs)]
    if logs.size == 0:
        return -np.inf
    top = logs.max()
    return float(top + np.log10(np.sum(10.0 ** (logs - top))))


def _signed_log(value: float) -> tuple[int, float]:
    return int(np.sign(value)), float(np.log10(abs(value))) if value else -np.inf


def step_series(w: np.ndarray, x: float, eps: float, g: np.ndarray | None = None) -> dict:
    """Everything about the step w − εg on ŷ = x·∏w_i, exactly, as signs and log₁₀ sizes.

    ``g`` is ∇_w ŷ (backprop's answer; computed as ŷ/w_i if not given). Returns U, the
    log₁₀ sizes of the order-k terms c_k = (−1)^k ŷ e_k(u) (k = 0..l), the ratio actual /
    predicted = (1 − ∏(1 − u_i))/U and the net higher-order part ratio − 1 = Σ_{k≥2}
    c_k/c_1 (each as a sign and log₁₀|·|), and H = Σ_{k≥2}|c_k|/|c_1| with its bound
    ``log10_uniform_share(U, l)``.
    """
    w = np.asarray(w, np.float64)
    y = x * np.prod(w)
    g = y / w if g is None else np.asarray(g, np.float64)
    u = eps * g / w
    U = float(np.sum(u))
    log_e = log10_elementary(u)
    log_y = math.log10(abs(y))
    # the product ∏(1 − u_i) = ŷ(ε)/ŷ, as a sign and a log₁₀ size
    one_minus = 1.0 - u
    p_sign = int(np.prod(np.sign(one_minus)))
    with np.errstate(divide="ignore"):
        p_log = float(np.sum(np.log10(np.abs(one_minus))))
    if U < 1:  # every u_i < 1: no overflow, and expm1/log1p keep the small differences
        s = float(np.sum(np.log1p(-u)))
        ratio = -math.expm1(s) / U
        k = np.arange(2, len(u) + 1)
        net = float(np.sum((-1.0) ** (k + 1) * 10.0 ** (log_e[2:] - math.log10(U))))
        ratio_sign, ratio_log = _signed_log(ratio)
        net_sign, net_log = _signed_log(net)
    elif p_log < 300:
        ratio = (1.0 - p_sign * 10.0**p_log) / U
        ratio_sign, ratio_log = _signed_log(ratio)
        net_sign, net_log = _signed_log(ratio - 1.0)
    else:  # |∏(1 − u_i)| > 1e300: the change is the product itself
        ratio_sign, ratio_log = -p_sign, p_log - math.log10(U)
        net_sign, net_log = ratio_sign, ratio_log
    log_h = _log10_sum(log_e[2:]) - math.log10(U)
    return {
        "y": y, "g": g, "u": u, "U": U, "eps": eps,
        "log10_terms": log_y + log_e,  # log₁₀|c_k|, k = 0..l (sign of c_k: (−1)^k)
        "ratio_sign": ratio_sign, "ratio_log10": ratio_log,
        "net_sign": net_sign, "net_log10": net_log,
        "H_log10": log_h, "H_bound_log10": log10_uniform_share(U, len(u)),
        "book_term_log10": log_y + math.log10(u[0]) + math.log10(u[1]) if len(u) > 1 else None,
        "second_order_log10": log_y + log_e[2] if len(u) > 1 else None,
        "product_sign": p_sign, "product_log10": p_log,
    }


def log10_uniform_share(U: float, depth: int) -> float:
    """log₁₀ of ((1 + U/l)^l − 1 − U)/U, the most the higher orders can weigh for a given U.

    For fixed U = Σu_i, ∏(1 + u_i) is largest when the u_i are equal (AM–GM), so this is
    Σ_{k≥2}|c_k|/|c_1| for uniform weights and an upper bound for any others. It is
    ≈ U/2 for U ≪ 1, ≈ e^U/U for 1 ≪ U ≪ l and ≈ (U/l)^l/U for U ≫ l.
    """
    log_e = log10_elementary(np.full(depth, U / depth))
    return _log10_sum(log_e[2:]) - math.log10(U)


def rule_eps(rule: str, g: np.ndarray, config: Config) -> float:
    """ε for a rule: the book's target/gᵀg, or the fixed ε."""
    return config.target_decrease / float(g @ g) if rule == "tied" else config.fixed_eps


# --- part 1: the book's experiment at one depth, every order from gdlab.taylor --------------


def book_experiment(config: Config) -> dict:
    depth = config.book_depth
    model = gdlab.models.deep_chain(depth)
    f = functools.partial(_chain_value, model.apply, config.x)
    sets = weight_sets(config)
    ws = jnp.asarray(np.stack([weights(p, depth) for p in sets.values()]))
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
    return out


# --- part 3: batch normalisation's answer, measured -------------------------------------------


def _bn_output(params, batch, active, bn_eps):
    """ŷ for every input of ``batch``: hidden layers h ← γ·(z − mean z)/√(var z + ε) + β
    with z = w·h, statistics over the batch, where ``active`` (inactive layers pass h on);
    then ŷ = w_out·h. Written with lax.scan: one compile serves every depth."""

    def layer(h, p):
        w, gamma, beta, on = p
        z = w * h
        n = (z - jnp.mean(z)) / jnp.sqrt(jnp.var(z) + bn_eps)
        return jnp.where(on, gamma * n + beta, h), None

    h, _ = jax.lax.scan(layer, batch, (params["w"][:-1], params["gamma"], params["beta"],
                                       active))
    return params["w"][-1] * h


def _bn_cost(params, batch, active, bn_eps):
    """A gradient of 1 on ŷ of the first input, whose batch statistics include the rest."""
    return _bn_output(params, batch, active, bn_eps)[0]


@functools.partial(jax.jit, static_argnames=("bn_eps",))
def _bn_measure(params, active, batch, target, fixed_eps, bn_eps):
    def one(params, active):
        f = functools.partial(_bn_cost, batch=batch, active=active, bn_eps=bn_eps)
        g = jax.grad(f)(params)
        gTg = sum(jnp.sum(leaf**2) for leaf in jax.tree.leaves(g))
        terms = taylor.gradient_step_terms(f, params, jnp.stack([target / gTg, fixed_eps]))
        lower = (jnp.sum(g["w"][:-2] ** 2) + jnp.sum(g["gamma"][:-1] ** 2)
                 + jnp.sum(g["beta"][:-1] ** 2) + g["w"][-2] ** 2)
        return terms, lower / gTg

    return jax.vmap(one)(params, active)


def batch_norm(config: Config) -> dict:
    top = config.max_depth
    batch = jnp.concatenate([jnp.asarray([config.x]), jax.random.normal(
        jax.random.key(config.seed), (config.batch_size - 1,), jnp.float64)])
    sets = weight_sets(config)
    depths = np.arange(2, top + 1)
    w = np.ones((len(sets), len(depths), top))
    active = np.zeros((len(sets), len(depths), top - 1), bool)
    for i, pattern in enumerate(sets.values()):
        for j, depth in enumerate(depths):
            w[i, j, top - depth:] = weights(pattern, depth)  # w₁..w_l in the last l slots
            active[i, j, top - depth:] = True  # the l − 1 hidden layers before w_out
    n = len(sets) * len(depths)
    params = {"w": jnp.asarray(w.reshape(n, top)), "gamma": jnp.ones((n, top - 1)),
              "beta": jnp.zeros((n, top - 1))}
    terms, lower = _bn_measure(params, jnp.asarray(active.reshape(n, top - 1)), batch,
                               config.target_decrease, config.fixed_eps, config.bn_eps)
    shape = (len(sets), len(depths))
    out = {"depths": depths, "sets": list(sets), "lower_gradient_share":
           np.asarray(lower).reshape(shape), "rules": {}}
    for r, rule in enumerate(RULES):
        first = np.asarray(terms.first_order[:, r]).reshape(shape)
        actual = np.asarray(terms.actual[:, r]).reshape(shape)
        second = np.asarray(terms.second_order[:, r]).reshape(shape)
        out["rules"][rule] = {
            "eps": np.asarray(terms.epsilon[:, r]).reshape(shape),
            "predicted": first, "actual": actual,
            "net": actual / first - 1.0,  # Σ_{k≥2} c_k / c_1, measured
            "second_share": second / np.abs(first),  # ½ε²gᵀHg / εgᵀg
        }
    return out


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


# --- plot ------------------------------------------------------------------------------------

_RULE_TITLES = {"tied": "ε = 0.1/gᵀg (the book's rule)", "fixed": "fixed ε"}
_BOOK_TERM = "book's term ε²g₁g₂·w₃⋯w_l"


def _colors(names):
    return {n: plotting.COLORS[i % len(plotting.COLORS)] for i, n in enumerate(names)}


def _rule_label(rule, config):
    return _RULE_TITLES[rule] if rule == "tied" else f"fixed ε = {config['fixed_eps']:g}"


def _plot_orders(result):
    book = result["series"]["book"]
    depth = book["depth"]
    fig, axes = plotting.figure(1, 2, title=f"What does one step do to ŷ = x·w₁⋯w_{depth}? "
                                "The contribution of every order (gdlab.taylor, jet)",
                                height=5.0, width=12.0)
    k = np.arange(1, depth + 1)
    for ax, rule in zip(axes[0], RULES, strict=True):
        rows = book["rules"][rule]
        colors = _colors(list(rows))
        for name, r in rows.items():
            ax.semilogy(k, np.abs(plotting.array(r["exact_terms"])), color=colors[name],
                        linewidth=1.0, alpha=0.7)
            ax.semilogy(k, np.abs(plotting.array(r["terms"])), "o", color=colors[name],
                        markersize=4, label=f"w = {name}: actual/predicted = {r['ratio']:.3g}")
            ax.semilogy([2], [abs(r["book_term"])], "*", color=colors[name], markersize=11,
                        markeredgecolor="k", markeredgewidth=0.5)
        ax.plot([], [], "*", color="0.6", markeredgecolor="k", markersize=11, label=_BOOK_TERM)
        ax.plot([], [], color="0.4", linewidth=1.0, label="exact ŷ·e_k(u) (lines)")
        ax.set(xlabel="order k  (the terms alternate in sign: (−1)^k)",
               ylabel="|contribution of order k to Δŷ|",
               title=f"{_rule_label(rule, result['config'])}\n"
                     "markers: jet; all orders sum to the actual change")
        ax.set_xticks(k)
        ax.legend(fontsize=7.5, loc="lower left")
    return fig


def _plot_sweep(result):
    sw = result["series"]["sweep"]
    depths = plotting.array(sw["depths"])
    colors = _colors(sw["sets"])
    clip = 3.0
    fig, axes = plotting.figure(2, 3, title="When are the higher orders of a step exponentially "
                                "large? Every depth, both rules for ε, exactly", height=8.4,
                                width=15.5)
    for row, rule in enumerate(RULES):
        r = sw["rules"][rule]
        label = _rule_label(rule, result["config"])
        ax = axes[row, 0]
        for i, name in enumerate(sw["sets"]):
            log10 = plotting.array(r["ratio_log10"][i])
            value = plotting.array(r["ratio_sign"][i]) * 10.0 ** np.minimum(log10, clip)
            off = log10 > clip
            ax.plot(depths, np.where(off, np.nan, value), color=colors[name], label=f"w = {name}")
            ax.plot(depths[off & (value > 0)], value[off & (value > 0)], "^",
                    color=colors[name], markersize=4)
            ax.plot(depths[off & (value < 0)], value[off & (value < 0)], "v",
                    color=colors[name], markersize=4)
        ax.set_yscale("symlog", linthresh=1.0)
        ax.set_ylim(-1.6 * 10**clip, 1.6 * 10**clip)
        ax.axhline(1, **plotting.THEORY, label="1: first order is right")
        ax.set(xlabel="depth l", ylabel="actual Δŷ / predicted Δŷ",
               title=f"{label}\nactual over predicted (▲▼: beyond ±10³, sign alternates)")
        ax.legend(fontsize=7.5, loc="upper right", bbox_to_anchor=(1.0, 0.93), ncols=2)
        ax = axes[row, 1]
        for i, name in enumerate(sw["sets"]):
            ax.plot(depths, plotting.array(r["H_log10"][i]), color=colors[name],
                    label=f"w = {name}")
        ax.axhline(0, **plotting.THEORY, label="0: higher orders = first order")
        ax.set(xlabel="depth l", ylabel="log₁₀ (Σ_k≥2 |c_k|) / |c_1|",
               title=f"{label}\nsize of all higher orders over the first")
        ax.legend(fontsize=7.5)
    ax = axes[0, 2]
    lows, highs = [], []
    for rule, marker in zip(RULES, ("o", "s"), strict=True):
        r = sw["rules"][rule]
        U = np.log10(plotting.array(r["U"]).ravel())
        H = plotting.array(r["H_log10"]).ravel()
        lows.append(U.min())
        highs.append(U.max())
        ax.plot(U, H, marker, markersize=3, alpha=0.5, label=f"every depth and w, "
                f"{_rule_label(rule, result['config'])}")
    logu = np.linspace(min(lows), max(highs), 300)
    for depth, style in ((2, ":"), (10, "-."), (int(depths[-1]), "--")):
        bound = [_uniform_share_for_plot(10.0**v, depth) for v in logu]
        ax.plot(logu, bound, color="0.25", linestyle=style, linewidth=1.1,
                label=f"equal weights, l = {depth}: ((1 + U/l)^l − 1 − U)/U")
    ax.set_ylim(-20, None)
    ax.set(xlabel="log₁₀ U,  U = εgᵀg/|ŷ|: the relative change asked of ŷ",
           ylabel="log₁₀ (Σ_k≥2 |c_k|) / |c_1|",
           title="one number decides: U ≪ 1 → ≈ U/2;\nU ≫ l → up to (U/l)^l / U")
    ax.legend(fontsize=7, loc="upper left")
    ax = axes[1, 2]
    r = sw["rules"]["fixed"]
    for i, name in enumerate(sw["sets"]):
        second = np.log10(np.abs(plotting.array(r["second_order_hvp"][i])))
        ax.plot(depths, second, color=colors[name], label=f"w = {name}")
        ax.plot(depths, plotting.array(r["book_term_log10"][i]), "--", color=colors[name],
                linewidth=1.0)
    ax.plot([], [], color="0.4", label="whole second order ½ε²gᵀHg (HVP)")
    ax.plot([], [], "--", color="0.4", linewidth=1.0, label=_BOOK_TERM)
    ax.set(xlabel="depth l", ylabel="log₁₀ |second-order change of ŷ|",
           title=f"{_rule_label('fixed', result['config'])}: the book's term "
                 "and the whole\nsecond order grow exponentially iff w > 1")
    ax.legend(fontsize=7)
    return fig


def _uniform_share_for_plot(U, depth):
    return log10_uniform_share(U, depth) if U > 0 else np.nan


def _plot_batch_norm(result):
    s = result["series"]
    bn, sw = s["batch_norm"], s["sweep"]
    depths = plotting.array(bn["depths"])
    colors = _colors(bn["sets"])
    top = 2.0
    fig, axes = plotting.figure(1, 3, title="Batch normalisation's answer (measured): the "
                                "higher-order share stops depending on depth and on the lower "
                                "weights",
                                height=4.8, width=15.5)
    for ax, rule in zip(axes[0, :2], RULES, strict=True):
        gone = []
        for i, name in enumerate(bn["sets"]):
            plain = plotting.array(sw["rules"][rule]["net_log10"][i])
            normed = np.log10(np.abs(plotting.array(bn["rules"][rule]["net"][i])))
            ax.plot(depths, np.where(plain <= top, plain, np.nan), color=colors[name],
                    label=f"w = {name}")
            ax.plot(depths, normed, "--", color=colors[name], linewidth=1.3)
            if np.nanmax(plain) > top:
                gone.append(f"w = {name}: 10^{np.nanmax(plain):.0f}")
        ax.plot([], [], color="0.4", label="plain chain (solid)")
        ax.plot([], [], "--", color="0.4", label="batch-normalised (dashed)")
        ax.axhline(0, **plotting.THEORY)
        ax.set_ylim(None, top + 0.5)
        if gone:
            ax.text(0.98, 0.97, "plain, off the top (max):\n" + "\n".join(gone),
                    transform=ax.transAxes, ha="right", va="top", fontsize=7.5,
                    bbox=dict(facecolor="white", edgecolor="0.8"))
        ax.set(xlabel="depth l", ylabel="log₁₀ |actual/predicted − 1|",
               title=f"{_rule_label(rule, result['config'])}: the higher-order share")
        ax.legend(fontsize=7, loc="lower left", ncols=2)
    ax = axes[0, 2]
    for i, name in enumerate(bn["sets"]):
        ax.semilogy(depths, np.maximum(plotting.array(bn["lower_gradient_share"][i]), 1e-30),
                    color=colors[name], label=f"w = {name}")
    worst = float(np.nanmax(plotting.array(bn["lower_gradient_share"])))
    ax.set(xlabel="depth l", ylabel="share of gᵀg below the top layer",
           title=f"why: the gradient below the top is ≤ {worst:.0e} of gᵀg\n"
                 "(left by bn ε alone); ŷ = w_l·(γ·x̂ + β) has degree 2")
    ax.set_ylim(None, worst * 1e3)
    ax.legend(fontsize=7, loc="upper right", ncols=3)
    return fig


def _plot_cost(result):
    c = result["series"]["cost"]
    cs = plotting.array(c["c"])
    depth = result["config"]["cost_depth"]
    fig, axes = plotting.figure(1, 2, title="\"A gradient of 1 on ŷ\" means ∂cost/∂ŷ = 1: "
                                "what changes when it is c instead?", height=4.2, width=11.0)
    ax = axes[0, 0]
    ax.semilogx(cs, plotting.array(c["linear"]["cost_ratio"]), label="cost = c·ŷ (the chain only)")
    ax.semilogx(cs, plotting.array(c["squared"]["cost_ratio"]), "--",
                label="cost = ½(ŷ − y)² at ŷ − y = c\n(the chain plus the cost's own ½Δŷ²)")
    ax.axvline(1, color="0.5", linewidth=0.8, linestyle=":")
    ax.axhline(1, **plotting.THEORY, label="1: first order is right")
    ax.axhline(0, color="0.6", linewidth=0.8)
    ax.set(xlabel="c = ∂cost/∂ŷ (dotted: the book's c = 1)",
           ylabel="actual Δcost / predicted Δcost (−0.1)",
           title=f"ε = 0.1/‖∇_w cost‖², depth {depth}, all weights 1")
    ax.legend(fontsize=7.5)
    ax = axes[0, 1]
    ax.semilogx(cs, plotting.array(c["linear"]["y_ratio"]), label="measured (either cost)")
    ax.semilogx(cs, plotting.array(c["theory_y_ratio"]), **plotting.THEORY,
                label="closed form (1 − (1 − 0.1/(c·l))^l) / (0.1/c)")
    ax.axvline(1, color="0.5", linewidth=0.8, linestyle=":")
    ax.set(xlabel="c = ∂cost/∂ŷ", ylabel="actual Δŷ / first-order Δŷ (= −0.1/c)",
           title="the rule asks ŷ to move by 0.1/c:\nsmall c, big move, big higher orders")
    ax.legend(fontsize=7.5)
    return fig


def plot(result: dict) -> dict:
    return {"orders": _plot_orders(result), "depth_sweep": _plot_sweep(result),
            "batch_norm": _plot_batch_norm(result), "cost_gradient": _plot_cost(result)}


if __name__ == "__main__":
    gdlab.experiment.script_main(__file__)
