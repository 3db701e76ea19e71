"""vanishing_gradients at initialisation: per-layer gradients and error signals, float32 vs
float64, the scalar chain ŷ = x·w₁⋯w_l and the matrix chain W^t = QΛ^tQᵀ.

Every network measurement is one jitted call per architecture (activation, residual,
normalize), vmapped over inits × seeds × depths on the stacked network of
``_vanishing_gradients_net`` (a depth is a traced number there, so one compilation
serves them all).
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
from _vanishing_gradients_net import architecture, init_stack, measure, select, spread, weights

from gdlab import gradients, models


@jax.jit
def _measure_all(params, data, depths, arch):
    """measure() for params with leading axes (inits, seeds) at every depth: (I, S, D, …);
    ``arch``: the traced architecture (``net.architecture``), so one compilation serves
    every architecture."""
    one = functools.partial(measure, **arch)
    at_depths = jax.vmap(one, in_axes=(None, None, 0))
    return jax.vmap(jax.vmap(at_depths, in_axes=(0, None, None)), in_axes=(0, None, None))(
        params, data, depths)


def init_params(config, inits, max_depth: int, gain, dtype=jnp.float32):
    """float32 params of every init (axis 0) and seed (axis 1); the seeds are
    config.seed … config.seed + config.seeds − 1 (keys as train.sweep makes them) and
    every init uses the same keys."""
    return init_stack(np.asarray(seeds(config)), inits=tuple((i, gain(config, i)) for i in inits),
                      width=config.width, max_depth=max_depth, dtype=dtype)


def seeds(config) -> list[int]:
    return list(range(config.seed, config.seed + config.seeds))


def profiles(config, data, inits, gain, archs) -> dict:
    """{(activation, residual, normalize): measurements (inits, seeds, depths, …)} for
    every architecture of ``archs``, plus the depths measured."""
    depths = sorted(set(config.depths) | set(config.remedy_ratio_depths))
    params = init_params(config, inits, max(depths), gain)
    out = {}
    for act, residual, normalize in dict.fromkeys(archs):
        raw = _measure_all(params, data, jnp.asarray(depths, jnp.float32),
                           architecture(act, residual, normalize))
        out[act, residual, normalize] = jax.tree.map(lambda a: np.asarray(a, np.float64),
                                                     jax.device_get(raw))
    return {"depths": depths, "raw": out}


def per_layer(raw: dict, key: str, depth_index: int, depth: int) -> np.ndarray:
    """(inits, seeds, depth) values of one depth's layers."""
    return select(raw[key][:, :, depth_index], depth)


def ratio(norms: np.ndarray):
    """First over last along the last axis; NaN where the first is exactly 0 (underflow:
    reported as such, never as a measured factor 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        r = norms[..., 0] / norms[..., -1]
    return np.where(norms[..., 0] > 0, r, np.nan)


def forward_spread(config, data) -> dict:
    """The training networks (width train_width, the first train_size examples, xavier) at
    init: spread of the last hidden layer over that of the first, (activations, depths,
    seeds), for every depth trained (train_depths and adam_depths)."""
    depths = sorted(set(config.train_depths) | set(config.adam_depths))
    params = jax.tree.map(lambda a: np.asarray(a)[0], init_stack(  # NumPy: no eager slicing
        np.asarray(seeds(config)), inits=(("xavier", 1.0),), width=config.train_width,
        max_depth=max(depths)))
    x = np.asarray(data["x"])[: config.train_size]
    out = {"depths": depths}
    for act in config.train_activations:
        out[act] = np.asarray(_spread(params, x, jnp.asarray(depths), activation=act),
                              np.float64).T  # (depths, seeds)
    return out


@functools.partial(jax.jit, static_argnames="activation")
def _spread(params, x, depths, *, activation):
    one = functools.partial(spread, activation=activation)
    return jax.vmap(jax.vmap(one, in_axes=(None, None, 0)), in_axes=(0, None, None))(
        params, x, depths)


# --------------------------------------------------------------------------- precision


def precision(config, data) -> dict:
    """Per-layer ∇W of one sigmoid/xavier network (seed config.seed) in float32 and in
    float64 from the same (float32, hence exactly representable) weights."""
    depth = config.precision_depth
    p32 = jax.tree.map(lambda a: np.asarray(a)[0, 0], init_stack(  # NumPy: no eager ops
        np.asarray([config.seed]), inits=(("xavier", 1.0),), width=config.width,
        max_depth=depth))
    p64 = jax.tree.map(lambda a: a.astype(np.float64), p32)
    data64 = {"x": np.asarray(data["x"], np.float64), "y": np.asarray(data["y"])}
    g32, g64 = _grads(p32, data, depth), _grads(p64, data64, depth)
    s32, s64, cos = _compare(g32, g64)
    crossed = depth - np.arange(1, depth + 1)  # layers between layer ℓ and the output
    zero32 = np.asarray(s32[1], np.float64)
    return {
        "depth": depth, "layers_crossed": crossed,
        "norm32": np.asarray(s32[0], np.float64), "norm64": np.asarray(s64[0], np.float64),
        "zero_fraction32": zero32, "zero_fraction64": np.asarray(s64[1], np.float64),
        "cosine": np.asarray(cos, np.float64),
        "first_any_zero": first(crossed, zero32 > 0),
        "first_all_zero": first(crossed, zero32 == 1),
        "float32_tiny": float(jnp.finfo(jnp.float32).tiny),
    }


@functools.partial(jax.jit, static_argnums=2)
def _grads(params, data, depth):
    from _vanishing_gradients_net import loss

    return jax.grad(loss("sigmoid"))(params, data, depth)


def _per_layer(tree) -> list:
    """The weight gradients W_1, W_2 … W_{M−1}, W_L as float64 NumPy rows (exact: every
    float32 number, subnormals included, is a float64 number far from its limits)."""
    first, hidden, last = (np.asarray(w, np.float64) for w in weights(jax.device_get(tree)))
    return [first.ravel(), *hidden.reshape(hidden.shape[0], -1), last.ravel()]


def _compare(g32, g64):
    """Per layer: (‖g‖, fraction of exact zeros) of each gradient and cos(g32, g64) (0 where
    either is all zero), in NumPy float64."""
    w32, w64 = _per_layer(g32), _per_layer(g64)

    def stats(rows):
        return (np.array([np.linalg.norm(r) for r in rows]),
                np.array([np.mean(r == 0) for r in rows]))

    with np.errstate(invalid="ignore", divide="ignore"):
        cos = np.array([a @ b / (np.linalg.norm(a) * np.linalg.norm(b)) for a, b in
                        zip(w32, w64, strict=True)])
    return stats(w32), stats(w64), np.nan_to_num(cos, nan=0.0)


def first(values: np.ndarray, mask: np.ndarray) -> int:
    """The smallest value where ``mask`` holds (−1: nowhere)."""
    return int(values[mask].min()) if mask.any() else -1


# --------------------------------------------------------------------------- chains


@functools.partial(jax.jit, static_argnums=0)
def _chain_gradients(length: int, weights, x):
    """∂ŷ/∂w₁ of ŷ = x·w₁⋯w_l for l = 1..length, for each row of ``weights``.

    Row l − 1 holds the chain's weights for depth l: l copies of w, then exact 1s, which
    leave the product (and every rounding) unchanged.
    """
    chain = models.deep_chain(length)
    return jax.vmap(lambda w: jax.grad(chain.apply)(w, x)[0])(weights)


def chain(config) -> dict:
    """The scalar chain in float64 and float32 against the closed form x·w^(l−1)."""
    length = config.chain_depth
    ws = list(config.chain_weights) + list(config.precision_chain_weights)
    active = np.arange(1, length + 1)[:, None] > np.arange(length)[None, :]
    rows = np.concatenate([np.where(active, w, 1.0) for w in ws])
    x = config.chain_input
    g64 = _chain_gradients(length, jnp.asarray(rows, jnp.float64), jnp.float64(x))
    g32 = _chain_gradients(length, jnp.asarray(rows, jnp.float32), jnp.float32(x))
    depth = np.arange(1, length + 1)
    shape = (len(ws), length)
    closed = x * np.asarray(ws)[:, None] ** (depth[None, :] - 1.0)
    f64 = np.reshape(np.asarray(g64), shape)
    return {"depth": depth, "weights": ws,
            "float64": f64, "float32": np.reshape(np.asarray(g32, np.float64), shape),
            "closed_form": closed,
            "max_rel_error": float(np.max(np.abs(f64 - closed) / np.abs(closed)))}


def matrix_chain(config) -> dict:
    """h_t = Wᵀh_{t−1} with W = QΛQᵀ: components along eigenvectors scale as λ^t."""
    lam = np.asarray(config.eigenvalues, np.float64)
    n, t = lam.size, np.arange(config.matrix_steps + 1)
    # a random orthogonal Q (QR of a Gaussian matrix, signs fixed), drawn in NumPy
    a = np.random.default_rng(config.seed).standard_normal((n, n))
    q, r = np.linalg.qr(a)
    q = q * np.sign(np.diag(r))
    w = q @ np.diag(lam) @ q.T
    # h₀ = [I | Q·1]: the first n columns give (Wᵀ)^t, the last one a vector with unit
    # components along every eigenvector.
    h0 = np.concatenate([np.eye(n), (q @ np.ones(n))[:, None]], axis=1)
    hs = np.asarray(gradients.linear_chain(jnp.asarray(w), jnp.asarray(h0), config.matrix_steps))
    powers, vector = hs[:, :, :n], hs[:, :, n]
    expected = np.einsum("ij,tj,kj->tik", q, lam[None, :] ** t[:, None], q)  # Q Λ^t Qᵀ
    rel = np.linalg.norm(powers - expected, axis=(1, 2)) / np.linalg.norm(expected, axis=(1, 2))
    return {"t": t, "eigenvalues": lam, "components": vector @ q,
            "theory": lam[None, :] ** t[:, None], "power_max_rel_error": float(rel.max())}
