"""Batch normalisation in the linear chain, measured (deep_chain's part 3).

Hidden layers h ← γ·(z − mean z)/√(var z + ε) + β with z = w·h, statistics over a batch,
then ŷ = w_l·h = w_l·(γ·x̂ + β) whatever w₁..w_(l−1) are: the higher orders of a step go
away because the lower weights no longer matter. A private module of
experiments/deep_chain.py.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np

from gdlab import taylor


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


def _bn_cost(params, data):
    """A gradient of 1 on ŷ of the first input, whose batch statistics include the rest;
    ``data``: {"batch", "active", "bn_eps"}."""
    return _bn_output(params, data["batch"], data["active"], data["bn_eps"])[0]


@functools.partial(jax.jit, static_argnames=("bn_eps",))
def _bn_measure(params, active, batch, target, fixed_eps, bn_eps):
    def one(params, active):
        data = {"batch": batch, "active": active, "bn_eps": bn_eps}
        g = jax.grad(_bn_cost)(params, data)
        gTg = sum(jnp.sum(leaf**2) for leaf in jax.tree.leaves(g))
        terms = taylor.gradient_step_terms(_bn_cost, params,
                                           jnp.stack([target / gTg, fixed_eps]), data=data)
        lower = (jnp.sum(g["w"][:-2] ** 2) + jnp.sum(g["gamma"][:-1] ** 2)
                 + jnp.sum(g["beta"][:-1] ** 2) + g["w"][-2] ** 2)
        return terms, lower / gTg

    return jax.vmap(one)(params, active)


@functools.partial(jax.jit, static_argnames=("bn_eps",))
def _bn_rescaled_change(params, active, batch, factors, bn_eps):
    """max |ŷ' − ŷ| / max |ŷ| over the batch when w₁..w_(l−1) are multiplied by
    ``factors``: with batch norm ŷ = w_l·(γ·x̂ + β) whatever they are, up to bn's ε."""

    def one(params, active, factors):
        scaled = {**params, "w": params["w"].at[:-1].multiply(factors)}
        before = _bn_output(params, batch, active, bn_eps)
        after = _bn_output(scaled, batch, active, bn_eps)
        return jnp.max(jnp.abs(after - before)) / jnp.max(jnp.abs(before))

    return jax.vmap(one)(params, active, factors)


@functools.partial(jax.jit, static_argnames=("batch_size", "shape"))
def _draws(seed, x, log_r, *, batch_size, shape):
    """The random numbers, drawn in one program: the batch (x, then batch_size − 1
    standard normals from key(seed)) and log-uniform factors in [−log r, log r] from
    fold_in(key(seed), 1)."""
    key = jax.random.key(seed)
    batch = jnp.concatenate([jnp.asarray([x], jnp.float64),
                             jax.random.normal(key, (batch_size - 1,), jnp.float64)])
    return batch, jax.random.uniform(jax.random.fold_in(key, 1), shape, jnp.float64,
                                     -log_r, log_r)


def batch_norm(config, sets: dict, weights, rules) -> dict:
    """Every depth 2..max_depth and weight pattern of ``sets`` (``weights(pattern, depth)``
    gives w₁..w_l), normalised over a batch: the step's terms for each rule in ``rules``
    (ε = target/gᵀg, fixed ε), the lower layers' share of gᵀg, and how much ŷ moves when
    w₁..w_(l−1) are multiplied by random factors in [1/rescale, rescale]."""
    top = config.max_depth
    n = len(sets) * (top - 1)
    r = config.rescale
    batch, log_factors = _draws(config.seed, config.x, np.log(r), batch_size=config.batch_size,
                                shape=(n, top - 1))
    depths = np.arange(2, top + 1)
    w = np.ones((len(sets), len(depths), top))
    active = np.zeros((len(sets), len(depths), top - 1), bool)
    for i, pattern in enumerate(sets.values()):
        for j, depth in enumerate(depths):
            w[i, j, top - depth:] = weights(pattern, depth)  # w₁..w_l in the last l slots
            active[i, j, top - depth:] = True  # the l − 1 hidden layers before w_out
    params = {"w": w.reshape(n, top), "gamma": np.ones((n, top - 1)),
              "beta": np.zeros((n, top - 1))}
    active = jnp.asarray(active.reshape(n, top - 1))
    terms, lower = jax.device_get(_bn_measure(params, active, batch, config.target_decrease,
                                              config.fixed_eps, config.bn_eps))
    shape = (len(sets), len(depths))
    # the lower weights w₁..w_(l−1) times random factors in [1/r, r]: what does ŷ notice?
    factors = np.exp(np.asarray(log_factors))
    factors = np.where(np.asarray(active), factors, 1.0)  # only the layers that exist
    normed = np.asarray(_bn_rescaled_change(params, active, batch, jnp.asarray(factors),
                                            config.bn_eps)).reshape(shape)
    with np.errstate(divide="ignore"):
        plain = np.log10(np.abs(np.expm1(np.sum(np.log(factors), axis=1)))).reshape(shape)
    out = {"depths": depths, "sets": list(sets), "lower_gradient_share":
           np.asarray(lower).reshape(shape), "rescaled_change_normed": normed,
           "rescaled_change_plain_log10": plain, "rules": {}}
    for r, rule in enumerate(rules):
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
