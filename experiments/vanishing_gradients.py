"""Deep gradients are products of per-layer factors: they vanish, explode, or underflow to 0.

The learner's question: "if backpropagation keeps the direction, can't we always finish
training, just slowly?" No, and not only because it is slow. Even exact, unlimited
gradient descent converges at best to a stationary point (a saddle or a local minimum),
not to "the optimal answer": a non-convex loss has many (see the Rastrigin paths of
optimizer_comparison). And in a deep network backpropagation multiplies the error signal
by one factor per layer, δ_ℓ = (δ_{ℓ+1} W_{ℓ+1}ᵀ) ⊙ φ'(z_ℓ), of typical size g·rms φ'
(g = σ_w·√width, the init's gain; sigmoid φ' ≤ 1/4). Three different things then get in
the way:

1. the *scale* of the step: when every layer's gradient is off by the same factor (relu
   with gain 2, whose loss starts huge), a smaller learning rate fixes it;
2. the *ratio* between layers, (g·φ')^depth: sigmoid's first layer gets a vanishing
   fraction of the last layer's gradient, tanh with gain 2 a growing multiple of it.
   One learning rate then moves one end too fast or the other too slowly, and the steps
   to a target grow with depth past the budget tried; per-coordinate scaling (Adam) undoes the
   ratio, but not a forward signal that has already collapsed;
3. finite *precision*: in float32 a gradient below ~1e−38 becomes exactly 0, and then
   the direction is lost, not just small: no budget moves those weights.

Measured at initialisation (per-layer gradient profiles over init seeds, the scalar chain
ŷ = x·w₁⋯w_l, W^t = QΛ^tQᵀ, float32 vs float64), in training (steps to a target loss vs
depth from one budget sweep per activation, Adam, the two exploding networks with the
per-layer update/weight ratios from the sweep's instruments, the remedies), each over
init seeds seed … seed + seeds − 1.

Run:    gdlab run vanishing_gradients      (or: python experiments/vanishing_gradients.py --help)
Writes: results/vanishing_gradients/result.json, chain.png, profile.png, ratio_vs_depth.png,
        precision.png, finish.png, exploding.png, rates.png, remedies.png

The measured numbers are the claims in results/vanishing_gradients/result.json
(`gdlab list`).
"""

import math
from dataclasses import dataclass

import numpy as np

import gdlab
from gdlab import models


def _sibling(name: str):
    """experiments/<name>.py, a private module beside this script (registered under its
    name, so the siblings import each other)."""
    return gdlab.experiment.sibling(__file__, name)


net = _sibling("_vanishing_gradients_net")
at_init = _sibling("_vanishing_gradients_init")
training = _sibling("_vanishing_gradients_train")

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
INITS = tuple(net.RULES)


@dataclass(frozen=True)
class Config:
    seed: int = 0  # first init seed: the seeds measured are seed … seed + seeds − 1
    seeds: int = 5  # init seeds of every network (at init and in training)
    data_seed: int = 0  # MNIST-1D generator seed
    batch_size: int = 256  # MNIST-1D training examples for every measurement at init
    width: int = 64  # hidden width at init (the first layer is 40 -> width, the last -> 10)
    activations: tuple[str, ...] = ("sigmoid", "tanh", "relu", "linear")
    # normal_small/large: w ~ N(0, (scale/√width)²), gain = scale; xavier: gain 1 (square
    # layers); he: gain √2; orthogonal: gain 1 exactly
    inits: tuple[str, ...] = INITS
    small_scale: float = 0.5  # gain of normal_small
    large_scale: float = 2.0  # gain of normal_large (also both exploding networks)
    depths: tuple[int, ...] = (5, 10, 20, 50)  # depths profiled at init; heat map at the last
    remedy_ratio_depths: tuple[int, ...] = (20, 50)  # depths of the remedies' gradient ratio
    chain_depth: int = 50  # scalar chain ŷ = x·w₁⋯w_l for l = 1..chain_depth
    chain_weights: tuple[float, ...] = (0.5, 0.9, 1.0, 1.1, 2.0)  # every w_i of one chain
    precision_chain_weights: tuple[float, ...] = (0.1, 10.0)  # chains shown in float32 too
    chain_input: float = 1.0  # x
    eigenvalues: tuple[float, ...] = (0.5, 0.9, 1.0, 1.1)  # Λ of W = QΛQᵀ
    matrix_steps: int = 40  # h_t = Wᵀh_{t−1} for t = 0..matrix_steps
    precision_depth: int = 70  # sigmoid/xavier network compared in float32 and float64
    # training: full-batch, on the first train_size examples, hidden width train_width
    train_width: int = 16
    train_size: int = 32
    target_loss: float = 1.0  # cross-entropy target (chance level is ln 10 ≈ 2.30)
    train_activations: tuple[str, ...] = ("sigmoid", "tanh")  # "can we always finish?"
    train_depths: tuple[int, ...] = (2, 3, 4, 6, 8, 11, 15, 20)  # ... at these depths (xavier)
    sigmoid_learning_rates: tuple[float, ...] = (1.0, 3.0, 10.0, 30.0)  # sigmoid's grid
    num_steps: int = 10_000  # sigmoid's budget: one sweep, steps to the target inside it
    learning_rates: tuple[float, ...] = (0.03, 0.1, 0.3, 1.0, 3.0, 10.0)  # tanh, remedies
    short_steps: int = 1000  # budget of the other activations and of the remedies
    record_every: int = 100  # loss curves recorded every k steps (steps to target: exact)
    adam_depths: tuple[int, ...] = (6, 8, 20)  # Adam at a tuned rate, sigmoid/xavier
    adam_learning_rates: tuple[float, ...] = (3e-3, 1e-2, 3e-2, 1e-1)
    adam_steps: int = 2000  # Adam's budget
    remedies: tuple[str, ...] = tuple(REMEDIES)  # which REMEDIES to measure
    remedy_depth: int = 20  # depth at which the remedies are trained; also the relu network
    train_remedies: bool = True  # train the remedies and the exploding networks
    explode_steps: int = 300  # budget of the exploding networks (hidden width: width)
    explode_size: int = 128  # ... trained on the first explode_size examples
    explode_learning_rates: tuple[float, ...] = (1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2)
    clip_learning_rates: tuple[float, ...] = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0)
    clip_norm: float = 1.0  # optax.clip_by_global_norm threshold
    ratio_depth: int = 50  # the tanh network with gain large_scale
    ratio_learning_rates: tuple[float, ...] = (1e-5, 1e-4, 1e-3, 1e-2, 1e-1)
    ratio_every: int = 10  # its update/weight ratios measured every k steps (instruments)


QUICK = {
    "inits": ("xavier", "he", "normal_large"),
    "activations": ("sigmoid", "relu"),
    "depths": (20,),
    "remedy_ratio_depths": (20,),
    "remedies": ("sigmoid_xavier", "relu_he"),
    "batch_size": 64,
    "explode_size": 64,
    "matrix_steps": 10,
    "precision_depth": 20,
    "train_depths": (2, 6),
    "train_activations": ("sigmoid",),
    "sigmoid_learning_rates": (1.0, 3.0, 10.0, 30.0),
    "num_steps": 200,
    "short_steps": 100,
    "record_every": 10,
    "adam_depths": (6,),
    "adam_steps": 200,
    "train_remedies": False,
}


def _check(config: Config) -> None:
    for name in config.activations + config.train_activations:
        models.get_activation(name)
    for field, valid in (("inits", INITS), ("remedies", tuple(REMEDIES))):
        bad = sorted(set(getattr(config, field)) - set(valid))
        if bad:
            raise ValueError(f"unknown {field} {bad}; valid: {', '.join(valid)}")
    if min(config.depths + config.remedy_ratio_depths) < 3:
        raise ValueError("profile depths must be >= 3 (two hidden layers for a ratio)")
    if min(config.train_depths + config.adam_depths + (config.remedy_depth,)) < 2:
        raise ValueError("training depths must be >= 2")
    if config.width < 1 or config.train_width < 1 or config.seeds < 1:
        raise ValueError("width, train_width and seeds must be >= 1")
    if not 1 <= min(config.train_size, config.explode_size) <= max(
            config.train_size, config.explode_size) <= config.batch_size:
        raise ValueError("need 1 <= train_size, explode_size <= batch_size")
    if config.precision_depth < 3 or config.chain_depth < 2 or config.matrix_steps < 1:
        raise ValueError("precision_depth >= 3, chain_depth >= 2 and matrix_steps >= 1 needed")
    if config.ratio_depth < 3 or config.ratio_every < 1:
        raise ValueError("ratio_depth must be >= 3 and ratio_every >= 1")
    rates = (config.learning_rates + config.sigmoid_learning_rates + config.adam_learning_rates
             + config.explode_learning_rates
             + config.clip_learning_rates + config.ratio_learning_rates)
    if not all(np.isfinite(rates)) or min(rates) <= 0 or config.clip_norm <= 0:
        raise ValueError("learning rates and clip_norm must be finite and > 0")
    steps = (config.num_steps, config.adam_steps, config.short_steps, config.explode_steps)
    if min(steps) < 1 or config.record_every < 1 or config.num_steps % config.record_every:
        raise ValueError("budgets must be >= 1 and record_every must divide num_steps")


def gain(config: Config, init: str) -> float:
    """σ_w·√width of a square hidden layer: the factor it applies to a signal's norm."""
    return {"normal_small": config.small_scale, "normal_large": config.large_scale,
            "xavier": 1.0, "he": math.sqrt(2.0), "orthogonal": 1.0}[init]


def batch(config: Config) -> dict:
    """The first batch_size training examples of the catalogue's MNIST-1D problem (float32).
    The network is this experiment's own stacked MLP (``_vanishing_gradients_net``)."""
    p = gdlab.problems.get("mnist1d_mlp", train_size=config.batch_size,
                           data_seed=config.data_seed)
    return {"x": np.asarray(p.data["x"]), "y": np.asarray(p.data["y"])}  # sliced in NumPy


# --------------------------------------------------------------------------- run


def _all_inits(config: Config) -> tuple[str, ...]:
    """The profiled inits, then any other init a remedy needs."""
    return tuple(dict.fromkeys(config.inits + tuple(REMEDIES[n][1] for n in config.remedies)))


def _architectures(config: Config) -> list:
    archs = [(a, False, False) for a in config.activations]
    return archs + [(REMEDIES[n][0], REMEDIES[n][2], REMEDIES[n][3]) for n in config.remedies]


def _profile_series(config: Config, prof: dict, inits) -> dict:
    """Per depth: per-layer ‖∂L/∂W_ℓ‖, ‖W_ℓ‖, ‖δ_ℓ‖ (seed config.seed) and the ratios over
    every seed (first over last layer; NaN where the first underflowed to exactly 0)."""
    settings = [(a, i) for a in config.activations for i in config.inits]
    rows = [inits.index(i) for i in config.inits]
    by_depth = []
    for d in config.depths:
        k = prof["depths"].index(d)
        parts = [prof["raw"][a, False, False] for a in config.activations]

        def cat(key, parts=parts, k=k, d=d):
            return np.concatenate([at_init.per_layer(r, key, k, d)[rows] for r in parts])

        grad, weight, delta = cat("grad_norm"), cat("weight_norm"), cat("delta_norm")
        loss = np.concatenate([r["loss"][rows][:, :, k] for r in parts])
        by_depth.append({
            "depth": d, "loss": loss, "grad_norm": grad[:, 0], "weight_norm": weight[:, 0],
            "zero_fraction": cat("zero_fraction")[:, 0],
            "grad_ratio": at_init.ratio(grad),  # (settings, seeds)
            # first hidden layer over the last hidden one: depth − 2 backprop factors
            "signal_ratio": at_init.ratio(delta[..., :-1]),
            "first_grad_zero": grad[..., 0] == 0,
            # relative update per unit learning rate of one gradient step, per layer
            "update_per_rate": grad / weight,
        })
    return {
        "settings": [f"{a}_{i}" for a, i in settings],
        "activation": [a for a, _ in settings], "init": [i for _, i in settings],
        "gain": [gain(config, i) for _, i in settings],
        "rate": [gain(config, i) * SLOPE[a] for a, i in settings],
        "rate_is_bound": [SLOPE_IS_BOUND[a] for a, _ in settings],
        "seeds": at_init.seeds(config), "by_depth": by_depth,
    }


def _remedy_series(config: Config, prof: dict, inits) -> dict:
    out = {}
    for name in config.remedies:
        act, init, residual, normalize = REMEDIES[name]
        raw = prof["raw"][act, residual, normalize]
        grads = [at_init.per_layer(raw, "grad_norm", prof["depths"].index(d), d)[
            inits.index(init)] for d in config.remedy_ratio_depths]
        out[name] = {"grad_norm": [g[0] for g in grads],
                     "grad_ratio": [at_init.ratio(g) for g in grads]}  # (depths, seeds)
    return out


def _at_init(config: Config, data: dict) -> dict:
    """The small measurements at initialisation (forward spread, precision, chains)."""
    return {"collapse": at_init.forward_spread(config, data),
            "precision": at_init.precision(config, data),
            "chain": at_init.chain(config), "matrix": at_init.matrix_chain(config)}


def run(config: Config) -> dict:
    _check(config)
    data = batch(config)
    inits = _all_inits(config)
    train_data = {k: v[: config.train_size] for k, v in data.items()}
    # The independent studies side by side on the CPU cores, the budget sweeps first (each
    # runs the programs it would run alone: the numbers do not depend on the threads).
    jobs = {("finish", k): job for k, job in training.finish_jobs(config, train_data).items()}
    if config.train_remedies:
        jobs[("update_ratio",)] = lambda: training.update_ratios(config, data)
        jobs |= {("exploding", k): job
                 for k, job in training.exploding_jobs(config, data).items()}
    jobs[("profile",)] = lambda: at_init.profiles(config, data, inits, gain,
                                                   _architectures(config))
    if config.train_remedies:
        jobs |= {("remedy", k): job
                 for k, job in training.remedy_jobs(config, train_data, REMEDIES).items()}
    jobs[("at_init",)] = lambda: _at_init(config, data)
    done = dict(zip(jobs, gdlab.experiment.in_threads(jobs.values()), strict=True))

    def part(kind):
        return {key[1]: value for key, value in done.items() if key[0] == kind}

    prof = done[("profile",)]
    series: dict = {
        "profile": _profile_series(config, prof, inits),
        "remedy_init": _remedy_series(config, prof, inits),
        **done[("at_init",)],
        "finish": part("finish"),
        "exploding": part("exploding"),
        "update_ratio": done.get(("update_ratio",), {}),
    }
    series["remedy_train"] = (training.remedies(config, REMEDIES, series["finish"],
                                                part("remedy"))
                              if config.train_remedies else {})
    return {"metrics": _metrics(config, series), "series": series}


# --------------------------------------------------------------------------- metrics


def _median(values):
    """Median over seeds, or None when every value is NaN (underflow, never reached)."""
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    return float(np.median(v)) if v.size else None


def _steps_median(steps):
    """Median steps to the target over seeds; "never" counts as +inf; None if the median
    is never."""
    s = np.asarray(steps, float)
    m = float(np.median(np.where(s >= 0, s, np.inf)))
    return m if np.isfinite(m) else None


def _study_metrics(s: dict) -> dict:
    """Per depth: median steps to the target at the best rate (None: never within the
    budget), the best rate and whether it sits on the grid's edge."""
    return {str(d): {"steps": _steps_median(np.asarray(s["steps"])[b["index"], j]),
                     "best": b["describe"], "inside": not b["edges"], "reached": b["reached"]}
            for j, (d, b) in enumerate(zip(s["depths"], s["best"], strict=True))}


def _budget_depth(s: dict, budgets) -> dict:
    """The deepest depth whose median steps (best rate) fit each budget (0: none)."""
    per_depth = _study_metrics(s)
    out = {}
    for b in budgets:
        ok = [int(d) for d, m in per_depth.items() if m["steps"] is not None and m["steps"] <= b]
        out[str(b)] = max(ok, default=0)
    return out


def _metrics(config: Config, s: dict) -> dict:
    prof = s["profile"]
    deepest = prof["by_depth"][-1]
    depth = deepest["depth"]
    chain32 = np.asarray(s["chain"]["float32"])
    ws = s["chain"]["weights"]
    budgets = [b for b in (10, 30, 100, 300, 1000, 3000, 10_000, 30_000)
               if b <= config.num_steps]
    metrics = {
        "chain_grad_max_rel_error": s["chain"]["max_rel_error"],
        "matrix_power_max_rel_error": s["matrix"]["power_max_rel_error"],
        "gradient_ratio": {f"depth_{p['depth']}": dict(zip(
            prof["settings"], map(_median, p["grad_ratio"]), strict=True))
            for p in prof["by_depth"]},
        "underflow": {f"depth_{p['depth']}": [k for k, z in zip(
            prof["settings"], np.asarray(p["first_grad_zero"]).any(axis=1), strict=True) if z]
            for p in prof["by_depth"]},
        f"signal_factor_per_layer_depth_{depth}": {
            k: {"measured": None if m is None else m ** (1 / (depth - 2)), "theory": rate,
                "theory_is_bound": bound}
            for k, m, rate, bound in zip(prof["settings"], map(_median, deepest["signal_ratio"]),
                                         prof["rate"], prof["rate_is_bound"], strict=True)},
        "float32_zero_layers_crossed": {
            "sigmoid_mlp_first_zero_entry": s["precision"]["first_any_zero"],
            "sigmoid_mlp_all_zero": s["precision"]["first_all_zero"]},
        "float32_chain_depth": {
            f"w_{v:g}_first_zero": at_init.first(s["chain"]["depth"], chain32[i] == 0)
            for i, v in enumerate(ws) if v < 1
        } | {
            f"w_{v:g}_first_inf": at_init.first(s["chain"]["depth"], ~np.isfinite(chain32[i]))
            for i, v in enumerate(ws) if v > 1
        },
        "forward_spread": {act: dict(zip(map(str, s["collapse"]["depths"]),
                                         map(_median, s["collapse"][act]), strict=True))
                           for act in config.train_activations},
        "finish": {act: _study_metrics(s["finish"][act]) for act in config.train_activations},
        "finish_budget": {"budget": config.num_steps,
                          "deepest_depth_within": {act: _budget_depth(s["finish"][act], budgets)
                                                   for act in config.train_activations}},
        "adam": _study_metrics(s["finish"]["adam"]),
    }
    if s["exploding"]:
        e = s["exploding"]
        metrics["exploding"] = {
            name: {"initial_loss": _median(np.asarray(e[name]["initial_loss"])[0, 0]),
                   "diverged_runs": int(np.sum(np.asarray(e[name]["diverged_at"]) >= 0)),
                   "runs": int(np.asarray(e[name]["diverged_at"]).size),
                   **_study_metrics(e[name])[str(e[name]["depths"][0])]}
            for name in e}
    if s["update_ratio"]:
        u = s["update_ratio"]
        ratio = np.asarray(u["update_ratio"])  # (lrs, seeds, L)
        metrics["update_ratio"] = {
            f"lr_{lr:g}": {"first_layer": _median(ratio[i, :, 0]),
                           "last_layer": _median(ratio[i, :, -1]),
                           "first_over_last": _median(ratio[i, :, 0] / ratio[i, :, -1])}
            for i, lr in enumerate(u["learning_rates"])}
    if s["remedy_train"]:
        metrics["remedies"] = {
            name: {**{f"gradient_ratio_depth_{d}": _median(r)
                      for d, r in zip(config.remedy_ratio_depths,
                                      s["remedy_init"][name]["grad_ratio"], strict=True)},
                   **_study_metrics(s["remedy_train"][name])[str(config.remedy_depth)]}
            for name in config.remedies}
    return metrics


# --------------------------------------------------------------------------- claims and plots


def claims(result: dict) -> list:
    """The findings (experiments/_vanishing_gradients_claims.py)."""
    return _sibling("_vanishing_gradients_claims").claims(result)


def plot(result: dict) -> dict:
    return _sibling("_vanishing_gradients_plots").plot(result)


if __name__ == "__main__":
    gdlab.experiment.script_main(__file__)
