"""Deep gradients are products of per-layer factors: they vanish, explode, or underflow to 0.

The learner's question: "if backpropagation keeps the direction, can't we always finish
training, just slowly?" Backpropagation multiplies the error signal by one factor per
layer, δ_ℓ = (δ_{ℓ+1} W_{ℓ+1}ᵀ) ⊙ φ'(z_ℓ), of typical size g·rms φ' (g = σ_w·√width, the
init's gain; sigmoid φ' ≤ 1/4). Three different things then get in the way:
(1) the *scale* of the step, which a learning rate can fix only if every layer's
gradient is off by the same factor; (2) the *ratio* between layers, which grows like
(g/4)^depth for sigmoid, so no single learning rate suits both ends; (3) finite
*precision*: in float32 a gradient below ~1e−38 becomes exactly 0 and the direction is
lost, not just small. Measured here at initialisation (per-layer gradient profiles,
the deep scalar chain, W^t = QΛ^tQᵀ), in training (steps to a target loss with the best
learning rate of a sweep, vs depth), and for the standard remedies.

Run:    gdlab run vanishing_gradients      (or: python experiments/vanishing_gradients.py --help)
Writes: results/vanishing_gradients/result.json, chain.png, profile.png, ratio_vs_depth.png,
        precision.png, finish.png, exploding.png, remedies.png
Expect: ~2-3.5 min on an idle 2-core CPU (most of it XLA compiling the 13 training sweeps).
        Sigmoid/xavier at init: first-to-last layer gradient ratio ~1e−12 at depth 20 and
        ~1e−31 at depth 50, the error signal shrinking 0.235 per layer (bound 1/4);
        relu/he and tanh/xavier stay O(1). Sigmoid reaches loss 1.0 in 24, 104, 236 steps at
        depth 2, 3, 4 and never (300 steps, best of 7 learning rates) from depth 6 on; tanh
        finishes at every depth to 20 (58 steps). In float32 the sigmoid gradient has exact
        zeros 54 layers below the output and is all zero from 57 (float64 still ~1e−38 there).
        Residual connections and relu/he lift the depth-20 ratio from 1e−12 to 3e−3..0.3 and
        train (60, 131 steps); layer norm does not rescue sigmoid (1e−8); clipping the global
        norm turns relu with gain 2 from 7/7 diverged runs into loss 0.27.
"""

import math
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import optax

import gdlab
from gdlab import gradients, losses, models, plotting, train

# Backprop factor per layer is gain · slope: slope = rms φ'(z) for relu (exactly 1/√2)
# and linear (1); an upper bound for sigmoid (φ' ≤ 1/4) and tanh (φ' ≤ 1).
SLOPE = {"sigmoid": 0.25, "tanh": 1.0, "relu": 1 / math.sqrt(2), "linear": 1.0}
SLOPE_IS_BOUND = {"sigmoid": True, "tanh": True, "relu": False, "linear": False}

# The remedies, trained at Config.remedy_depth: (activation, init, residual, normalize).
REMEDIES = {
    "sigmoid_xavier": ("sigmoid", "xavier", False, False),
    "sigmoid_he": ("sigmoid", "he", False, False),
    "sigmoid_orthogonal": ("sigmoid", "orthogonal", False, False),
    "tanh_xavier": ("tanh", "xavier", False, False),
    "relu_he": ("relu", "he", False, False),
    "sigmoid_xavier_residual": ("sigmoid", "xavier", True, False),
    "sigmoid_xavier_layernorm": ("sigmoid", "xavier", False, True),
}
BASELINE = "sigmoid_xavier"
INITS = ("normal_small", "normal_large", "xavier", "he", "orthogonal")


@dataclass(frozen=True)
class Config:
    seed: int = 0  # MNIST-1D generator seed and the init key
    batch_size: int = 256  # MNIST-1D training examples for every measurement at init
    width: int = 64  # every hidden layer (the first layer is 40 -> width, the last width -> 10)
    activations: tuple[str, ...] = ("sigmoid", "tanh", "relu", "linear")
    # normal_small/large: w ~ N(0, (scale/√width)²), gain = scale; xavier: gain 1 (square
    # layers); he: gain √2; orthogonal: gain 1 exactly
    inits: tuple[str, ...] = ("normal_small", "normal_large", "xavier", "he", "orthogonal")
    small_scale: float = 0.5  # gain of normal_small
    large_scale: float = 2.0  # gain of normal_large (also the exploding relu network)
    depths: tuple[int, ...] = (5, 10, 20, 50)  # depths profiled at init; heat map at the last
    remedy_ratio_depths: tuple[int, ...] = (20, 50)  # depths of the remedies' gradient ratio
    chain_depth: int = 50  # scalar chain ŷ = x·w₁⋯w_l for l = 1..chain_depth
    chain_weights: tuple[float, ...] = (0.5, 0.9, 1.0, 1.1, 2.0)  # every w_i of one chain
    precision_chain_weights: tuple[float, ...] = (0.1, 10.0)  # chains shown in float32 too
    chain_input: float = 1.0  # x
    eigenvalues: tuple[float, ...] = (0.5, 0.9, 1.0, 1.1)  # Λ of W = QΛQᵀ
    matrix_steps: int = 40  # h_t = Wᵀh_{t−1} for t = 0..matrix_steps
    precision_depth: int = 70  # sigmoid/xavier network compared in float32 and float64
    train_size: int = 128  # full-batch training set: the first examples of the batch
    train_depths: tuple[int, ...] = (2, 3, 4, 6, 20)  # "can we always finish?" depths
    train_activations: tuple[str, ...] = ("sigmoid", "tanh")  # ... for these (xavier init)
    learning_rates: tuple[float, ...] = (0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0)  # the sweep
    num_steps: int = 300  # training budget (full-batch gradient descent steps)
    target_loss: float = 1.0  # cross-entropy target (chance level is ln 10 ≈ 2.30)
    remedies: tuple[str, ...] = tuple(REMEDIES)  # which REMEDIES to measure
    remedy_depth: int = 20  # depth at which the remedies are trained
    train_remedies: bool = True  # train the remedies and the exploding network
    clip_norm: float = 1.0  # optax.clip_by_global_norm threshold for the exploding network


QUICK = {
    "inits": ("xavier", "he"),
    "activations": ("sigmoid", "relu"),
    "depths": (20,),
    "remedy_ratio_depths": (20,),
    "remedies": ("sigmoid_xavier", "sigmoid_he", "relu_he", "sigmoid_xavier_residual"),
    "batch_size": 64,
    "matrix_steps": 10,
    "precision_depth": 20,
    "train_size": 32,
    "train_depths": (2,),
    "train_activations": ("sigmoid",),
    "learning_rates": (1.0, 10.0),
    "num_steps": 20,
    "train_remedies": False,
}


def _check(config: Config) -> None:
    for name in config.activations:
        models.get_activation(name)
    bad = sorted(set(config.inits) - set(INITS))
    if bad:
        raise ValueError(f"unknown inits {bad}; valid: {', '.join(INITS)}")
    bad = sorted(set(config.remedies) - set(REMEDIES))
    if bad:
        raise ValueError(f"unknown remedies {bad}; valid: {', '.join(REMEDIES)}")
    bad = sorted(set(config.train_activations) - {"sigmoid", "tanh", "relu", "linear"})
    if bad:
        raise ValueError(f"unknown train_activations {bad}; valid: {', '.join(models.ACTIVATIONS)}")
    if min(config.depths + config.remedy_ratio_depths) < 3:
        raise ValueError("profile depths must be >= 3 (two hidden layers for a ratio)")
    if min(config.train_depths + (config.remedy_depth,)) < 1:
        raise ValueError("training depths must be >= 1")
    if config.width < 1 or config.batch_size < config.train_size or config.train_size < 1:
        raise ValueError("need width >= 1 and 1 <= train_size <= batch_size")
    if config.precision_depth < 3 or config.chain_depth < 2 or config.matrix_steps < 1:
        raise ValueError("precision_depth >= 3, chain_depth >= 2 and matrix_steps >= 1 needed")
    if min(config.learning_rates) <= 0 or config.num_steps < 1 or config.clip_norm <= 0:
        raise ValueError("learning rates and clip_norm must be > 0, num_steps >= 1")


# --------------------------------------------------------------------------- networks


def gain(config: Config, init: str) -> float:
    """σ_w·√width of a square hidden layer: the factor it applies to a signal's norm."""
    return {
        "normal_small": config.small_scale,
        "normal_large": config.large_scale,
        "xavier": 1.0,
        "he": math.sqrt(2.0),
        "orthogonal": 1.0,
    }[init]


def network(config: Config, depth: int, activation: str, init: str, *, residual=False,
            normalize=False, dtype=jnp.float32) -> models.Model:
    """An MNIST-1D MLP: 40 -> width × (depth − 1) -> 10, i.e. ``depth`` weight layers."""
    rule, scale = init, 1.0
    if init.startswith("normal_"):
        rule, scale = "normal", gain(config, init) / math.sqrt(config.width)
    sizes = [40] + [config.width] * (depth - 1) + [10]
    return models.mlp(sizes, activation, rule, init_scale=scale, residual=residual,
                      normalize=normalize, dtype=dtype)


def batch(config: Config, dtype=jnp.float32) -> dict:
    d = gdlab.data.mnist1d(seed=config.seed)
    return {"x": jnp.asarray(d["x"][: config.batch_size], dtype),
            "y": jnp.asarray(d["y"][: config.batch_size])}


# --------------------------------------------------------------------------- at initialisation
#
# The measurements at initialisation are one-off evaluations, so they run eagerly: every
# hidden layer has the same shapes, so each operation compiles once and is then reused by
# every depth and activation, whereas jit would compile each network anew (seconds each
# on a CPU). Everything is vmapped over the same list of inits for the same reason.


def _all_inits(config: Config) -> tuple[str, ...]:
    """The profiled inits, then any other init a remedy needs."""
    return tuple(dict.fromkeys(config.inits + tuple(REMEDIES[n][1] for n in config.remedies)))


def _init_params(config: Config, depth: int):
    """float32 parameters of a ``depth``-layer MLP for every init, stacked on axis 0
    (the init does not depend on the activation; every init uses the same key)."""
    key = jax.random.key(config.seed)
    trees = [network(config, depth, "linear", i).init(key) for i in _all_inits(config)]
    return jax.tree.map(lambda *a: jnp.stack(a), *trees)


def _layer_measurements(apply, stacked, data, *, signals: bool = True) -> dict:
    """For every init (axis 0): loss, per-layer ‖∇W_ℓ‖ and fraction of exact zeros, and
    per-layer ‖δ_ℓ‖ (``signals``)."""
    loss = losses.objective(apply, losses.softmax_cross_entropy)

    def one(params):
        value, grads = jax.value_and_grad(loss)(params, data)
        w = gradients.layer_stats([layer["w"] for layer in grads])
        out = {"loss": value, "grad_norm": w.norm, "zero_fraction": w.zero_fraction}
        if signals:
            deltas = gradients.error_signals(apply, losses.softmax_cross_entropy, params, data)
            out["delta_norm"] = gradients.layer_stats(deltas).norm
        return out

    return jax.device_get(jax.vmap(one)(stacked))


def _chain_gradients(length: int, weights, x):
    """∂ŷ/∂w₁ of ŷ = x·w₁⋯w_l for l = 1..length, for each row of ``weights``.

    Row l − 1 holds the chain's weights for depth l: l copies of w, then exact 1s, which
    leave the product (and every rounding) unchanged.
    """
    chain = models.deep_chain(length)
    return jax.vmap(lambda w: jax.grad(chain.apply)(w, x)[0])(weights)


def measure_at_init(config: Config, data: dict) -> dict:
    """Profiles of every (activation, init, depth), the remedies, the float32/float64
    comparison, the scalar chain and the matrix chain."""
    inits = _all_inits(config)
    params = {}

    def stacked(depth):
        if depth not in params:
            params[depth] = _init_params(config, depth)
        return params[depth]

    def apply(depth, act, residual=False, normalize=False):
        return network(config, depth, act, "xavier", residual=residual,
                       normalize=normalize).apply

    profile = {(act, d): _layer_measurements(apply(d, act), stacked(d), data)
               for d in config.depths for act in config.activations}
    remedy = {}
    for name in config.remedies:
        act, init, residual, normalize = REMEDIES[name]
        for d in config.remedy_ratio_depths:
            if not (residual or normalize) and (act, d) in profile:
                raw = profile[act, d]
            else:
                raw = _layer_measurements(apply(d, act, residual, normalize), stacked(d), data,
                                          signals=False)
            remedy[name, d] = np.asarray(raw["grad_norm"][inits.index(init)], np.float64)
    # float32 vs float64 from the same (float32, hence exactly representable) numbers
    d = config.precision_depth
    p32 = network(config, d, "sigmoid", "xavier").init(jax.random.key(config.seed))
    p64 = jax.tree.map(lambda a: a.astype(jnp.float64), p32)
    data64 = {"x": data["x"].astype(jnp.float64), "y": data["y"]}
    loss = losses.objective(apply(d, "sigmoid"), losses.softmax_cross_entropy)
    g32 = [layer["w"] for layer in jax.grad(loss)(p32, data)]
    g64 = [layer["w"] for layer in jax.grad(loss)(p64, data64)]
    length = config.chain_depth
    chain_weights = list(config.chain_weights) + list(config.precision_chain_weights)
    active = np.arange(1, length + 1)[:, None] > np.arange(length)[None, :]
    rows = np.concatenate([np.where(active, w, 1.0) for w in chain_weights])
    chain = jax.jit(_chain_gradients, static_argnums=0)
    x = config.chain_input
    c64 = chain(length, jnp.asarray(rows, jnp.float64), jnp.float64(x))
    c32 = chain(length, jnp.asarray(rows, jnp.float32), jnp.float32(x))
    return {
        "profile": _profile_series(config, profile, inits),
        "remedy_init": {name: {"grad_norm": [remedy[name, d] for d in config.remedy_ratio_depths],
                               "grad_ratio": [float(_ratio(remedy[name, d]))
                                              for d in config.remedy_ratio_depths]}
                        for name in config.remedies},
        "precision": _precision_series(config, *jax.device_get(_compare(g32, g64))),
        "chain": _chain_series(config, chain_weights, c64, c32),
        "matrix": matrix_chain(config),
    }


def matrix_chain(config: Config) -> dict:
    """h_t = Wᵀh_{t−1} with W = QΛQᵀ: components along eigenvectors scale as λ^t."""
    lam = np.asarray(config.eigenvalues, np.float64)
    n, t = lam.size, np.arange(config.matrix_steps + 1)
    q = np.asarray(jax.random.orthogonal(jax.random.key(config.seed), n, dtype=jnp.float64))
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


def _ratio(norms: np.ndarray) -> np.ndarray:
    """Norm of the first layer over the last one, along the last axis."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return norms[..., 0] / norms[..., -1]


def _profile_series(config: Config, raw: dict, inits) -> dict:
    settings = [(a, i) for a in config.activations for i in config.inits]
    rows = [inits.index(i) for i in config.inits]
    by_depth = []
    for d in config.depths:
        parts = [raw[a, d] for a in config.activations]
        cat = {k: np.concatenate([np.asarray(r[k], np.float64)[rows] for r in parts])
               for k in parts[0]}
        by_depth.append({
            "depth": d, "loss": cat["loss"], "grad_norm": cat["grad_norm"],
            "zero_fraction": cat["zero_fraction"], "delta_norm": cat["delta_norm"],
            "grad_ratio": _ratio(cat["grad_norm"]),
            # first hidden layer over the last hidden one: depth − 2 backprop factors
            "signal_ratio": _ratio(cat["delta_norm"][:, :-1]),
        })
    return {
        "settings": [f"{a}_{i}" for a, i in settings],
        "activation": [a for a, _ in settings], "init": [i for _, i in settings],
        "gain": [gain(config, i) for _, i in settings],
        "rate": [gain(config, i) * SLOPE[a] for a, i in settings],
        "rate_is_bound": [SLOPE_IS_BOUND[a] for a, _ in settings],
        "by_depth": by_depth,
    }


@jax.jit
def _compare(g32: list, g64: list):
    """Per-layer statistics of two gradients and the cosine between them, layer by layer."""
    cosines = jnp.stack([gradients.cosine(a, b) for a, b in zip(g32, g64, strict=True)])
    return gradients.layer_stats(g32), gradients.layer_stats(g64), cosines


def _precision_series(config: Config, s32, s64, cosines) -> dict:
    """Per-layer ∇W of the same sigmoid/xavier network in float32 and float64."""
    depth = config.precision_depth
    crossed = depth - np.arange(1, depth + 1)  # layers between layer ℓ and the output
    zero32 = np.asarray(s32.zero_fraction, np.float64)
    return {
        "depth": depth, "layers_crossed": crossed,
        "norm32": np.asarray(s32.norm, np.float64), "norm64": np.asarray(s64.norm),
        "zero_fraction32": zero32, "zero_fraction64": np.asarray(s64.zero_fraction),
        "cosine": np.asarray(cosines, np.float64),
        "first_any_zero": _first(crossed, zero32 > 0),
        "first_all_zero": _first(crossed, zero32 == 1),
        "float32_tiny": float(jnp.finfo(jnp.float32).tiny),
    }


def _first(values: np.ndarray, mask: np.ndarray) -> int:
    """The smallest value where ``mask`` holds (−1: nowhere)."""
    return int(values[mask].min()) if mask.any() else -1


def _chain_series(config: Config, weights, g64, g32) -> dict:
    depth = np.arange(1, config.chain_depth + 1)
    shape = (len(weights), config.chain_depth)
    closed = config.chain_input * np.asarray(weights)[:, None] ** (depth[None, :] - 1.0)
    f64 = np.reshape(np.asarray(g64), shape)
    return {"depth": depth, "weights": weights, "float64": f64,
            "float32": np.reshape(np.asarray(g32, np.float64), shape), "closed_form": closed,
            "max_rel_error": float(np.max(np.abs(f64 - closed) / np.abs(closed)))}


# --------------------------------------------------------------------------- training


def clipped_sgd(learning_rate, max_norm=1.0) -> optax.GradientTransformation:
    """Gradient descent on the gradient rescaled to global norm ≤ max_norm."""
    return optax.chain(optax.clip_by_global_norm(max_norm), optax.sgd(learning_rate))


class Trainer:
    """Learning-rate sweeps of full-batch gradient descent, one compile per architecture."""

    def __init__(self, config: Config, data: dict):
        self.config = config
        self.data = {k: v[: config.train_size] for k, v in data.items()}
        self._losses = {}

    def loss(self, depth, activation, residual, normalize):
        key = (depth, activation, residual, normalize)
        if key not in self._losses:  # one loss object per architecture: sweeps share a compile
            net = network(self.config, depth, activation, "xavier", residual=residual,
                          normalize=normalize)
            self._losses[key] = losses.objective(net.apply, losses.softmax_cross_entropy)
        return self._losses[key]

    def sweep(self, depth, activation, init, *, residual=False, normalize=False,
              optimizer="sgd", hyperparameters=None) -> dict:
        """One train.sweep over the learning rates; the best is the fastest to the target."""
        c = self.config
        params = network(c, depth, activation, init, residual=residual,
                         normalize=normalize).init(jax.random.key(c.seed))
        sw = train.sweep(self.loss(depth, activation, residual, normalize), params, optimizer,
                         {"learning_rate": c.learning_rates}, c.num_steps, data=self.data,
                         hyperparameters=hyperparameters)
        steps = train.steps_to_target(sw.loss, c.target_loss)
        reached = steps >= 0
        best = int(np.argmin(np.where(reached, steps, np.iinfo(np.int64).max)) if reached.any()
                   else np.argmin(sw.best_loss))
        return {
            "learning_rates": np.asarray(c.learning_rates), "steps": steps,
            "diverged_at": sw.diverged_at, "final_loss": sw.final_loss,
            "best_loss": sw.best_loss, "best": best,
            "best_steps": int(steps[best]), "best_lr": float(c.learning_rates[best]),
            "best_at_grid_edge": best in (0, len(c.learning_rates) - 1),
            "curve": sw.loss[best],
        }


def finish(config: Config, trainer: Trainer) -> dict:
    """Steps to the target loss vs depth, sigmoid and tanh (xavier), best learning rate."""
    return {act: [trainer.sweep(d, act, "xavier") for d in config.train_depths]
            for act in config.train_activations}


def exploding(config: Config, trainer: Trainer) -> dict:
    """relu with large weights: plain gradient descent vs clipping the global norm."""
    d = config.remedy_depth
    return {
        "sgd": trainer.sweep(d, "relu", "normal_large"),
        "clipped": trainer.sweep(d, "relu", "normal_large", optimizer=clipped_sgd,
                                 hyperparameters={"max_norm": config.clip_norm}),
    }


def remedies(config: Config, trainer: Trainer, finished: dict) -> dict:
    out = {}
    for name in config.remedies:
        act, init, residual, normalize = REMEDIES[name]
        if (init == "xavier" and not residual and not normalize and act in finished
                and config.remedy_depth in config.train_depths):
            out[name] = finished[act][config.train_depths.index(config.remedy_depth)]
        else:
            out[name] = trainer.sweep(config.remedy_depth, act, init, residual=residual,
                                      normalize=normalize)
    return out


# --------------------------------------------------------------------------- run


def _steps(result: dict) -> int:
    return result["best_steps"]


def run(config: Config) -> dict:
    _check(config)
    data = batch(config)
    at_init = measure_at_init(config, data)
    chain, matrix, prof = at_init["chain"], at_init["matrix"], at_init["profile"]
    rem_init, prec = at_init["remedy_init"], at_init["precision"]
    trainer = Trainer(config, data)
    fin = finish(config, trainer)
    rem_train = remedies(config, trainer, fin) if config.train_remedies else {}
    expl = exploding(config, trainer) if config.train_remedies else {}

    deepest = prof["by_depth"][-1]
    chain32 = np.array(chain["float32"])
    w = chain["weights"]
    metrics = {
        "chain_grad_max_rel_error": chain["max_rel_error"],
        "matrix_power_max_rel_error": matrix["power_max_rel_error"],
        "gradient_ratio": {
            f"depth_{d}": {k: float(v) for k, v in zip(prof["settings"], p["grad_ratio"],
                                                       strict=True)}
            for d, p in zip(config.depths, prof["by_depth"], strict=True)
        },
        f"signal_factor_per_layer_depth_{deepest['depth']}": {
            k: {"measured": float(r ** (1 / (deepest["depth"] - 2))) if r > 0 else 0.0,
                "theory": rate, "theory_is_bound": bound}
            for k, r, rate, bound in zip(prof["settings"], deepest["signal_ratio"], prof["rate"],
                                         prof["rate_is_bound"], strict=True)
        },
        "float32_zero_layers_crossed": {
            "sigmoid_mlp_first_zero_entry": prec["first_any_zero"],
            "sigmoid_mlp_all_zero": prec["first_all_zero"],
        },
        "float32_chain_depth": {
            f"w_{v:g}_first_zero": _first(chain["depth"], chain32[i] == 0)
            for i, v in enumerate(w) if v < 1
        } | {
            f"w_{v:g}_first_inf": _first(chain["depth"], ~np.isfinite(chain32[i]))
            for i, v in enumerate(w) if v > 1
        },
        "steps_to_target": {
            act: {str(d): _steps(r) for d, r in zip(config.train_depths, runs, strict=True)}
            for act, runs in fin.items()
        },
        "best_learning_rate": {
            act: {str(d): r["best_lr"] for d, r in zip(config.train_depths, runs, strict=True)}
            for act, runs in fin.items()
        },
        "remedies": {
            name: {
                **{f"gradient_ratio_depth_{d}": v
                   for d, v in zip(config.remedy_ratio_depths, rem_init[name]["grad_ratio"],
                                   strict=True)},
                **({f"steps_to_target_depth_{config.remedy_depth}": _steps(rem_train[name]),
                    "best_learning_rate": rem_train[name]["best_lr"]} if rem_train else {}),
            }
            for name in config.remedies
        },
    }
    if expl:
        metrics["exploding_relu_large"] = {
            name: {"diverged_runs": int(np.sum(r["diverged_at"] >= 0)),
                   "runs": len(r["learning_rates"]),
                   "best_final_loss": float(np.min(r["final_loss"])),
                   "steps_to_target": _steps(r), "best_learning_rate": r["best_lr"]}
            for name, r in expl.items()
        }
    series = {"chain": chain, "matrix": matrix, "profile": prof, "remedy_init": rem_init,
              "precision": prec, "finish": fin, "remedy_train": rem_train, "exploding": expl}
    return {"metrics": metrics, "series": series}


# --------------------------------------------------------------------------- plots

INIT_COLORS = dict(zip(INITS, plotting.COLORS, strict=False))
NEVER_LABEL = "never within the budget"


def _pretty(name: str) -> str:
    """"sigmoid_normal_small" -> "sigmoid · normal small", "sigmoid_xavier_residual" ->
    "sigmoid + residual"."""
    name = name.replace("normal_", "normal ").replace("layernorm", "layer norm")
    return name.replace("_xavier_", " + ").replace("_", " · ")


def plot_chain(result: dict):
    s = result["series"]
    fig, axes = plotting.figure(1, 2, title="Why do deep products vanish or explode? "
                                "ŷ = x·w₁⋯w_l and h_t = Wᵀh_(t−1)")
    ax = axes[0, 0]
    ch = s["chain"]
    depth = plotting.array(ch["depth"])
    every = max(1, len(depth) // 25)
    for w, g, closed in zip(ch["weights"], ch["float64"], ch["closed_form"], strict=True):
        if w not in result["config"]["chain_weights"]:
            continue
        line, = ax.semilogy(depth[::every], np.abs(plotting.array(g))[::every], "o",
                            markersize=3.5, label=f"w = {w:g}: jax.grad")
        ax.semilogy(depth, np.abs(plotting.array(closed)),
                    **{**plotting.THEORY, "color": line.get_color(), "linewidth": 0.9})
    ax.plot([], [], label="closed form x·w^(l−1)", **plotting.THEORY)
    ax.set(xlabel="depth l (number of weights)", ylabel="|∂ŷ/∂w₁| (float64, log)",
           title="scalar chain: below 1 vanishes, above 1 explodes")
    ax.legend(fontsize=7.5, ncols=2)
    ax = axes[0, 1]
    m = s["matrix"]
    t = plotting.array(m["t"])
    comps, theory = np.abs(plotting.array(m["components"])), plotting.array(m["theory"])
    for i, lam in enumerate(m["eigenvalues"]):
        line, = ax.semilogy(t, comps[:, i], "o", markersize=3.5, label=f"λ = {lam:g}")
        ax.semilogy(t, np.abs(theory[:, i]),
                    **{**plotting.THEORY, "color": line.get_color(), "linewidth": 0.9})
    ax.plot([], [], label="theory λ^t (Q Λ^t Qᵀ)", **plotting.THEORY)
    err = result["metrics"]["matrix_power_max_rel_error"]
    ax.set(xlabel="layer t", ylabel="|q_iᵀ h_t| (log)",
           title=f"matrix chain W = QΛQᵀ: q_iᵀh_t = λ_i^t\n"
                 f"(Wᵀ)^t vs QΛ^tQᵀ: max rel. error {err:.1e}")
    ax.legend()
    return fig


def plot_profile(result: dict):
    s = result["series"]
    prof = s["profile"]
    deepest = prof["by_depth"][-1]
    depth = deepest["depth"]
    rows = [_pretty(k) for k in prof["settings"]]
    norms = [plotting.array(deepest["grad_norm"])]
    for name, r in s["remedy_init"].items():
        ratio_depths = result["config"]["remedy_ratio_depths"]
        if depth in ratio_depths and name.endswith(("residual", "layernorm")):
            norms.append(plotting.array(r["grad_norm"][ratio_depths.index(depth)])[None, :])
            rows.append(_pretty(name))
    grid = np.concatenate(norms)
    with np.errstate(divide="ignore"):
        logs = np.log10(grid)
    zero = grid == 0
    fig, axes = plotting.figure(1, 1, title=f"Where does the gradient vanish? ‖∂L/∂W_ℓ‖ per layer "
                                f"of {depth}-layer MLPs at init (MNIST-1D)",
                                width=10.5, height=0.28 * len(rows) + 2.2)
    ax = axes[0, 0]
    finite = logs[np.isfinite(logs)]
    lo, hi = (np.floor(finite.min()), np.ceil(finite.max())) if finite.size else (-1, 1)
    layers = np.arange(1, grid.shape[1] + 1)
    image = ax.pcolormesh(layers, np.arange(len(rows)), np.where(zero, np.nan, logs),
                          cmap="viridis", vmin=lo, vmax=hi, shading="nearest")
    if zero.any():
        from matplotlib.colors import ListedColormap

        ax.pcolormesh(layers, np.arange(len(rows)), np.where(zero, 1.0, np.nan),
                      cmap=ListedColormap(["#D55E00"]), shading="nearest")
        ax.plot([], [], "s", color="#D55E00", label="exactly 0 in float32 (underflow)")
        ax.legend(loc="upper left", bbox_to_anchor=(0.0, -0.1), frameon=False)
    ax.set_yticks(np.arange(len(rows)), rows)
    ax.invert_yaxis()
    ax.grid(False)
    ax.set(xlabel="layer ℓ (1 = input side, last = output layer)")
    fig.colorbar(image, ax=ax, label="log10 ‖∂L/∂W_ℓ‖", pad=0.01)
    return fig


def plot_ratio(result: dict):
    prof = result["series"]["profile"]
    activations = list(dict.fromkeys(prof["activation"]))
    ncols = 2 if len(activations) > 1 else 1
    nrows = math.ceil(len(activations) / ncols)
    fig, axes = plotting.figure(nrows, ncols, title="How fast does the error signal shrink with "
                                "depth? ‖δ₁‖/‖δ_(L−1)‖ (first over last hidden layer) at init")
    depths = np.array([p["depth"] for p in prof["by_depth"]], float)
    ratios = np.array([plotting.array(p["signal_ratio"]) for p in prof["by_depth"]])  # (D, S)
    dense = np.linspace(min(depths.min(), 3), depths.max(), 100)
    for k, act in enumerate(activations):
        ax = axes.flat[k]
        zeros = []
        for j, (a, init) in enumerate(zip(prof["activation"], prof["init"], strict=True)):
            if a != act:
                continue
            color = INIT_COLORS.get(init)
            r = ratios[:, j]
            ok = np.isfinite(r) & (r > 0)
            ax.semilogy(depths[ok], r[ok], "o-", color=color, markersize=4,
                        label=f"{init.replace('_', ' ')} (g = {prof['gain'][j]:.2g})")
            if (~ok).any():
                zeros.extend(depths[~ok])
            ax.semilogy(dense, prof["rate"][j] ** (dense - 2),
                        **{**plotting.THEORY, "color": color, "linewidth": 0.9})
        bound = "≤ " if SLOPE_IS_BOUND[act] else ""
        slope = {"sigmoid": "1/4", "tanh": "1", "relu": "1/√2", "linear": "1"}[act]
        ax.plot([], [], label=f"theory {bound}(g·{slope})^(L−2)", **plotting.THEORY)
        finite = ratios[:, [j for j, a in enumerate(prof["activation"]) if a == act]]
        lo, hi = plotting.finite_limits(finite, log=True)
        lo, hi = max(lo / 10, 1e-300), hi * 10
        ax.set_ylim(lo, hi)
        if zeros:
            plotting.mark_diverged(ax, zeros, np.full(len(zeros), lo * 3),
                                   label="exactly 0 in float32 (underflow)")
        ax.set(xlabel="depth L (weight layers)", ylabel="‖δ₁‖ / ‖δ_(L−1)‖ (log)", title=act)
        ax.legend(fontsize=7)
    for ax in axes.flat[len(activations):]:
        ax.set_visible(False)
    return fig


def plot_precision(result: dict):
    s = result["series"]
    p = s["precision"]
    fig, axes = plotting.figure(1, 3, title="Slow, or lost? In float32 a vanishing gradient "
                                "becomes exactly 0 (float64 keeps it)", width=15.0)
    ax = axes[0, 0]
    ch = s["chain"]
    depth = plotting.array(ch["depth"])
    for w, g64, g32 in zip(ch["weights"], ch["float64"], ch["float32"], strict=True):
        if w not in result["config"]["precision_chain_weights"]:
            continue
        g32 = np.abs(plotting.array(g32))
        line, = ax.semilogy(depth, np.abs(plotting.array(g64)), label=f"w = {w:g}, float64")
        ok = np.isfinite(g32) & (g32 > 0)
        ax.semilogy(depth[ok], g32[ok], "--", color=line.get_color(), linewidth=2.2,
                    label=f"w = {w:g}, float32")
        bad = ~ok
        if bad.any():
            first = depth[bad][0]
            what = "0" if w < 1 else "inf"
            ax.axvline(first, color=line.get_color(), linewidth=0.8, linestyle=":")
            ax.annotate(f"float32 = {what}\nfrom l = {first:.0f}", (first, 1e-40 if w < 1
                        else 1e40), xytext=(-4, 0), textcoords="offset points", ha="right",
                        fontsize=8, color=line.get_color())
    ax.axhline(p["float32_tiny"], color="0.5", linewidth=0.8)
    ax.axhline(1 / p["float32_tiny"], color="0.5", linewidth=0.8)
    ax.set(xlabel="depth l", ylabel="|∂ŷ/∂w₁| (log)",
           title="scalar chain ŷ = x·w₁⋯w_l\n(grey: float32 smallest normal, its inverse)")
    ax.legend(fontsize=7.5)
    ax = axes[0, 1]
    crossed = plotting.array(p["layers_crossed"])
    n64, n32 = plotting.array(p["norm64"]), plotting.array(p["norm32"])
    ax.semilogy(crossed, n64, "-", label="float64")
    ok = n32 > 0
    ax.semilogy(crossed[ok], n32[ok], "--", linewidth=2.2, label="float32")
    if (~ok).any():
        bottom = np.nanmin(n64[n64 > 0]) / 10
        plotting.mark_diverged(ax, crossed[~ok], np.full((~ok).sum(), bottom),
                               label="float32 exactly 0")
    ax.axhline(p["float32_tiny"], color="0.5", linewidth=0.8,
               label=f"float32 smallest normal {p['float32_tiny']:.1e}")
    ax.set(xlabel="layers between layer ℓ and the output",
           ylabel="‖∂L/∂W_ℓ‖ (log)",
           title=f"sigmoid/xavier MLP, {p['depth']} layers, same weights")
    ax.legend(fontsize=7.5)
    ax = axes[0, 2]
    ax.plot(crossed, plotting.array(p["cosine"]), "o-", markersize=3,
            label="cos(∇W_ℓ float32, ∇W_ℓ float64)")
    ax.plot(crossed, plotting.array(p["zero_fraction32"]), "s-", markersize=3,
            label="fraction of exact zeros, float32")
    ax.plot(crossed, plotting.array(p["zero_fraction64"]), ":", label="... float64")
    if p["first_any_zero"] >= 0:
        ax.axvline(p["first_any_zero"], color="0.5", linewidth=0.8, linestyle=":")
    ax.set(xlabel="layers between layer ℓ and the output", ylim=(-0.05, 1.05),
           title="direction: intact, then lost\n"
                 f"first zero entries {p['first_any_zero']} layers down, "
                 f"all zero from {p['first_all_zero']}")
    ax.legend(fontsize=7.5, loc="center left")
    return fig


def _steps_or_never(steps: np.ndarray, budget: int):
    steps = np.asarray(steps, float)
    return np.where(steps >= 0, steps, np.nan), steps < 0


def plot_finish(result: dict):
    s = result["series"]["finish"]
    c = result["config"]
    budget, target = c["num_steps"], c["target_loss"]
    depths = np.array(c["train_depths"], float)
    fig, axes = plotting.figure(1, 1 + len(s), title="Can we always finish, just slowly? "
                                f"Full-batch gradient descent to loss {target:g}, best of "
                                f"{len(c['learning_rates'])} learning rates",
                                width=5.0 * (1 + len(s)))
    ax = axes[0, 0]
    for act, marker in zip(s, "osD^", strict=False):
        runs = s[act]
        steps, never = _steps_or_never([r["best_steps"] for r in runs], budget)
        line, = ax.plot(depths, steps, marker + "-", label=f"{act} (xavier)")
        if never.any():
            ax.plot(depths[never], np.full(never.sum(), budget * 1.25), marker,
                    color=line.get_color(), markerfacecolor="none", markersize=9)
        for d, r in zip(depths, runs, strict=True):
            y = r["best_steps"] if r["best_steps"] >= 0 else budget * 1.25
            ax.annotate(f"{r['best_lr']:g}", (d, y), xytext=(4, 3 if act == "sigmoid" else -9),
                        textcoords="offset points", fontsize=7, color=line.get_color())
    ax.axhline(budget, color="#D55E00", linewidth=1, label=f"budget {budget} steps")
    ax.plot([], [], "o", markerfacecolor="none", color="0.3", label=NEVER_LABEL)
    ax.set_yscale("log")
    ax.set_ylim(top=budget * 2)
    ax.set(xlabel="depth (weight layers)", ylabel="steps to the target (log)",
           title="steps to target vs depth (labels: best learning rate)")
    ax.legend(fontsize=7.5, loc="lower right")
    for ax, act in zip(axes[0, 1:], s, strict=True):
        for d, r in zip(depths, s[act], strict=True):
            curve = plotting.array(r["curve"])
            ax.plot(np.arange(len(curve)), curve, label=f"depth {d:.0f} (lr {r['best_lr']:g})")
        ax.axhline(target, color="0.3", linewidth=0.8, linestyle=":", label="target")
        ax.axhline(np.log(10), color="0.6", linewidth=0.8, linestyle="--",
                   label="ln 10 (chance)")
        top = min(plotting.finite_limits(*[r["curve"] for r in s[act]])[1], 2 * np.log(10))
        ax.set(xlabel="step", ylabel="training loss",
               title=f"{act}: loss of the best learning rate per depth", ylim=(0, top))
        ax.legend(fontsize=7)
    return fig


def plot_exploding(result: dict):
    s = result["series"]["exploding"]
    c = result["config"]
    fig, axes = plotting.figure(1, 2, title=f"Exploding: relu with large weights (gain "
                                f"{c['large_scale']:g}, depth {c['remedy_depth']}); "
                                f"clipping the global norm to {c['clip_norm']:g}")
    ax = axes[0, 0]
    labels = {"sgd": "gradient descent", "clipped": "clip_by_global_norm + gradient descent"}
    colors = {"sgd": plotting.COLORS[0], "clipped": plotting.COLORS[1]}
    top = 0
    for name, marker in (("sgd", "o"), ("clipped", "s")):
        r = s[name]
        lrs, final = plotting.array(r["learning_rates"]), plotting.array(r["final_loss"])
        ok = np.isfinite(final)
        if ok.any():
            ax.plot(lrs[ok], final[ok], marker + "-", color=colors[name], label=labels[name])
        top = max(top, np.nanmax(np.where(ok, final, np.nan), initial=1.0))
    for (name, marker), lift in zip((("sgd", "x"), ("clipped", "+")), (3, 2), strict=True):
        r = s[name]
        lrs, final = plotting.array(r["learning_rates"]), plotting.array(r["final_loss"])
        bad = ~np.isfinite(final)
        if bad.any():
            ax.plot(lrs[bad], np.full(bad.sum(), top * lift),
                    **{**plotting.DIVERGED, "marker": marker},
                    label=f"diverged: {labels[name]}")
    ax.axhline(c["target_loss"], color="0.3", linewidth=0.8, linestyle=":", label="target")
    ax.set(xscale="log", yscale="log", xlabel="learning rate", ylabel="loss after the budget",
           title="final loss per learning rate")
    ax.legend(fontsize=7.5)
    ax = axes[0, 1]
    for name in ("sgd", "clipped"):
        r = s[name]
        curve = plotting.array(r["curve"])
        ax.semilogy(np.arange(len(curve)), curve, color=colors[name],
                    label=f"{labels[name]}, best lr {r['best_lr']:g}")
    ax.axhline(c["target_loss"], color="0.3", linewidth=0.8, linestyle=":", label="target")
    ax.set(xlabel="step", ylabel="training loss (log)", title="best run of each")
    ax.legend(fontsize=7.5)
    return fig


def plot_remedies(result: dict):
    s = result["series"]
    c = result["config"]
    names = list(s["remedy_init"])
    depths = c["remedy_ratio_depths"]
    trained = bool(s["remedy_train"])
    fig, axes = plotting.figure(1, 2 if trained else 1, title="What do the remedies buy? "
                                "Gradient ratio at init and steps to the target",
                                width=12.0 if trained else 7.0, height=4.6)
    ax = axes[0, 0]
    y = np.arange(len(names))
    h = 0.8 / len(depths)
    for k, d in enumerate(depths):
        ratios = np.array([s["remedy_init"][n]["grad_ratio"][k] or np.nan for n in names], float)
        ax.barh(y + (k - (len(depths) - 1) / 2) * h, ratios, height=h, label=f"depth {d}")
    ax.set_xscale("log")
    ax.axvline(1, color="0.3", linewidth=0.8)
    ax.set_yticks(y, [_pretty(n) for n in names])
    ax.invert_yaxis()
    ax.set(xlabel="‖∂L/∂W₁‖ / ‖∂L/∂W_L‖ at init (log; 1 = no vanishing)",
           title="first-to-last layer gradient ratio")
    ax.legend(fontsize=8)
    if trained:
        ax = axes[0, 1]
        budget = c["num_steps"]
        steps = np.array([s["remedy_train"][n]["best_steps"] for n in names], float)
        never = steps < 0
        ax.barh(y, np.where(never, budget, steps), color=np.where(never, "0.85", "#009E73"),
                edgecolor="0.3")
        for yi, n, st in zip(y, names, steps, strict=True):
            lr = s["remedy_train"][n]["best_lr"]
            text = f"never (lr {lr:g})" if st < 0 else f"{st:.0f} (lr {lr:g})"
            ax.annotate(text, (budget if st < 0 else st, yi), xytext=(3, -3),
                        textcoords="offset points", fontsize=8)
        ax.set_yticks(y, [""] * len(names))
        ax.invert_yaxis()
        ax.set_xlim(0, budget * 1.35)
        ax.set(xlabel=f"steps to loss {c['target_loss']:g} (budget {budget})",
               title=f"training at depth {c['remedy_depth']}, best learning rate")
    return fig


def plot(result: dict) -> dict:
    figures = {"chain": plot_chain(result), "profile": plot_profile(result),
               "ratio_vs_depth": plot_ratio(result), "precision": plot_precision(result),
               "finish": plot_finish(result), "remedies": plot_remedies(result)}
    if result["series"]["exploding"]:
        figures["exploding"] = plot_exploding(result)
    return figures


if __name__ == "__main__":
    gdlab.experiment.script_main(__file__)
