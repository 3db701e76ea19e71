"""The one-run LR range test suggests a rate below the true limit; a vmapped sweep shows how far.

fastai's ``lr_find`` (Smith 2017) trains once while the rate grows geometrically, stops
when the smoothed loss passes 4× its best, and suggests the rate of steepest descent of
the smoothed loss, or the rate of its minimum / 10. ``gdlab.lr_finder.lr_range_test``
does exactly that in one compiled loop. Here it runs on an ill-conditioned quadratic
(float64, where GD's limit is 2/λ_max exactly) and on an MLP on MNIST-1D (float32,
minibatches), with SGD and with Adam. Next to it, the version fastai cannot afford:
every rate of the same range as its own fixed-rate run, all in one vmapped
``train.sweep``, which gives the true loss-vs-rate curve, its best rate and its limit.

Run:    gdlab run lr_finder      (or: python experiments/lr_finder.py --help)
Writes: results/lr_finder/result.json, range_test.png
Expect: ~60 s on a 2-core CPU. Every suggestion lies below the measured limit. Quadratic
        (2/λ_max = 0.2), SGD: the test stops at 1.38, suggests 0.085 (steep) and 0.077
        (min/10); the best fixed rate is 0.19. MLP, SGD: suggests 0.20 / 0.27; the best
        fixed rate is 2.0 (2/λ_max at init 1.76), runs fail from 8.5. MLP, Adam: 0.0073 /
        0.031; the best fixed rate is 0.033. Safe suggestions, 2-10× below the best rate.
"""

import functools
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

import gdlab
from gdlab import plotting
from gdlab.lr_finder import lr_range_test


@dataclass(frozen=True)
class Config:
    # The range test (fastai's defaults: β = 0.98, stop at 4× the best smoothed loss).
    smoothing: float = 0.98
    stop_factor: float = 4.0
    optimizers: tuple[str, ...] = ("sgd", "adam")  # each runs on both problems
    num_rates: int = 30  # fixed rates in each sweep, geomspace over the test's range
    # An ill-conditioned quadratic ½xᵀAx in float64, eigenvalues geomspace(λ_min, λ_max, dim)
    # rotated by a random orthogonal matrix.
    quad_dim: int = 10
    quad_lambda_min: float = 0.1
    quad_lambda_max: float = 10.0
    quad_steps: int = 100  # steps of the range test and of every fixed-rate run
    quad_sgd_range: tuple[float, float] = (1e-4, 10.0)
    quad_adam_range: tuple[float, float] = (1e-3, 1e3)
    # An MLP on MNIST-1D in float32, minibatch steps (the network of `learning_rate`).
    mlp_sizes: tuple[int, ...] = (40, 32, 10)  # tanh, Xavier init
    mlp_examples: int = 1000  # the first N training examples form the training set
    batch_size: int = 100
    mlp_steps: int = 200
    mlp_sgd_range: tuple[float, float] = (1e-3, 1e3)
    mlp_adam_range: tuple[float, float] = (1e-5, 10.0)
    seed: int = 0  # rotation, initialisation, minibatches


QUICK = {"optimizers": ("sgd",), "num_rates": 8, "quad_steps": 60, "mlp_sizes": (40, 8, 10),
         "mlp_examples": 200, "mlp_steps": 60}


def _check(config: Config) -> None:
    for name in ("quad_sgd_range", "quad_adam_range", "mlp_sgd_range", "mlp_adam_range"):
        lo, hi = getattr(config, name)
        if not 0 < lo < hi:
            raise ValueError(f"{name} must be (low, high) with 0 < low < high")
    unknown = set(config.optimizers) - {"sgd", "adam"}
    if unknown or not config.optimizers:
        raise ValueError(f"optimizers must be a non-empty subset of ('sgd', 'adam'), got "
                         f"{config.optimizers}")
    if config.num_rates < 2 or config.batch_size < 1:
        raise ValueError("num_rates must be >= 2 and batch_size >= 1")
    if config.batch_size > config.mlp_examples:
        raise ValueError("batch_size must not exceed mlp_examples")


def _limit(rates, final, initial) -> float | None:
    """The first rate whose run ends no lower than it started (or diverged)."""
    bad = np.nonzero(~(np.isfinite(final) & (final < initial)))[0]
    return float(rates[bad[0]]) if bad.size else None


def _compare(test, rates, final, initial, limit_theory) -> dict:
    """The range test's numbers next to the sweep's."""
    best = int(np.argmin(final))
    limit = _limit(rates, final, initial)
    suggestions = [test.lr_steep, test.lr_min_over_10]
    below = None if limit is None else all(s is not None and s < limit for s in suggestions)
    return {
        "lrs": test.lrs, "loss": test.loss, "smoothed": test.smoothed_loss,
        "stopped_at": test.stopped_at, "stop_lr": test.stop_lr,
        "lr_steep": test.lr_steep, "lr_min_over_10": test.lr_min_over_10,
        "rates": rates, "final_loss": final, "initial_loss": float(initial),
        "best_rate": float(rates[best]), "best_final_loss": float(final[best]),
        "limit_measured": limit, "suggestions_below_limit": below,
        "two_over_lambda_max": limit_theory,
    }


# --------------------------------------------------------------------------- quadratic


def quadratic(config: Config, optimizer: str, lr_range) -> dict:
    """Range test and fixed-rate sweep of one optimizer on the ill-conditioned quadratic."""
    lam = np.geomspace(config.quad_lambda_min, config.quad_lambda_max, config.quad_dim)
    problem = gdlab.problems.quadratic(lam, key=jax.random.key(config.seed))
    x0 = jnp.asarray(problem.x0, jnp.float64)
    test = lr_range_test(problem.loss, x0, optimizer, min_lr=lr_range[0], max_lr=lr_range[1],
                         num_steps=config.quad_steps, smoothing=config.smoothing,
                         stop_factor=config.stop_factor)
    rates = np.geomspace(*lr_range, config.num_rates)
    sweep = gdlab.train.sweep(problem.loss, x0, optimizer, {"learning_rate": rates},
                              config.quad_steps)
    hessian = np.asarray(gdlab.curvature.hessian(problem.loss, x0))  # jax.hessian, jitted
    lam_max = float(np.linalg.eigvalsh(hessian).max())
    initial = float(problem.loss(x0))
    out = _compare(test, rates, sweep.final_loss, initial, 2 / lam_max)
    return {**out, "lambda_max": lam_max}


# --------------------------------------------------------------------------- MLP


@functools.partial(jax.jit, static_argnames="loss")
def _sharpness(loss, params, data):
    """λ_max of the full-data loss Hessian (Lanczos on HVPs; data as a jit argument)."""
    return gdlab.curvature.sharpness(lambda p: loss(p, data), params, method="lanczos")


def _mlp_setup(config: Config):
    data = jax.tree.map(jnp.asarray, gdlab.data.mnist1d_train(config.mlp_examples))
    model = gdlab.models.mlp(list(config.mlp_sizes), activation="tanh", init="xavier",
                             dtype=jnp.float32)
    params = jax.jit(model.init)(jax.random.key(config.seed))  # one compile, not op by op
    full = gdlab.losses.objective(model.apply, gdlab.losses.softmax_cross_entropy)
    batch = config.batch_size

    def minibatch(params, data, *, key):
        idx = jax.random.randint(key, (batch,), 0, data["y"].shape[0])
        return full(params, {"x": data["x"][idx], "y": data["y"][idx]})

    return data, params, full, minibatch


def mlp(config: Config, setup, optimizer: str, lr_range, limit_theory) -> dict:
    """Range test and fixed-rate sweep of one optimizer on the MLP, minibatch steps."""
    data, params, full, minibatch = setup
    key = jax.random.key(config.seed + 1)
    test = lr_range_test(minibatch, params, optimizer, min_lr=lr_range[0], max_lr=lr_range[1],
                         num_steps=config.mlp_steps, smoothing=config.smoothing,
                         stop_factor=config.stop_factor, data=data, key=key)
    rates = np.geomspace(*lr_range, config.num_rates)
    sweep = gdlab.train.sweep(minibatch, params, optimizer, {"learning_rate": rates},
                              config.mlp_steps, seeds=[config.seed + 1], data=data,
                              stochastic=True)
    final_params = jax.tree.map(lambda a: a[:, 0], sweep.final_params)
    full_loss = np.asarray(jax.jit(jax.vmap(full, in_axes=(0, None)))(final_params, data),
                           dtype=np.float64)
    final = np.where((sweep.diverged_at[:, 0] < 0) & np.isfinite(full_loss), full_loss, np.inf)
    initial = float(full(params, data))
    return _compare(test, rates, final, initial, limit_theory)


# --------------------------------------------------------------------------- protocol


def run(config: Config) -> dict:
    _check(config)
    ranges = {"quadratic": {"sgd": config.quad_sgd_range, "adam": config.quad_adam_range},
              "mlp": {"sgd": config.mlp_sgd_range, "adam": config.mlp_adam_range}}
    panels = {f"quadratic_{name}": quadratic(config, name, ranges["quadratic"][name])
              for name in config.optimizers}
    setup = _mlp_setup(config)
    data, params, full, _ = setup
    lam0 = float(_sharpness(full, params, data))
    for name in config.optimizers:
        panels[f"mlp_{name}"] = mlp(config, setup, name, ranges["mlp"][name], 2 / lam0)
    keys = ("lr_steep", "lr_min_over_10", "stop_lr", "best_rate", "limit_measured",
            "suggestions_below_limit", "two_over_lambda_max", "initial_loss", "best_final_loss")
    metrics = {name: {k: p[k] for k in keys} for name, p in panels.items()}
    metrics["all_suggestions_below_measured_limit"] = all(
        p["suggestions_below_limit"] is not False for p in panels.values()
    )
    metrics["mlp_sharpness_init"] = lam0
    return {"metrics": metrics, "series": panels}


# --------------------------------------------------------------------------- figure

TITLES = {
    "quadratic_sgd": "ill-conditioned quadratic (κ = 100), SGD",
    "quadratic_adam": "ill-conditioned quadratic (κ = 100), Adam",
    "mlp_sgd": "MLP on MNIST-1D, minibatch SGD",
    "mlp_adam": "MLP on MNIST-1D, minibatch Adam",
}


def _panel(ax, p, *, log_loss: bool) -> None:
    lrs = plotting.array(p["lrs"])
    raw, smooth = plotting.array(p["loss"]), plotting.array(p["smoothed"])
    rates, final = plotting.array(p["rates"]), plotting.array(p["final_loss"])
    ax.plot(lrs, raw, color="#56B4E9", linewidth=0.8, alpha=0.8, label="range test: loss")
    ax.plot(lrs, smooth, color="#0072B2", linewidth=1.8, label="range test: smoothed")
    ok = np.isfinite(final)
    ax.plot(rates[ok], final[ok], "o", color="0.2", markersize=3.5, markerfacecolor="none",
            label="sweep: loss after a fixed-rate run")
    values = np.concatenate([raw, smooth, final[ok]])
    cap = 4 * max(p["initial_loss"], np.nanmin(np.where(np.isfinite(values), values, np.nan)))
    low, high = plotting.finite_limits(np.clip(values, None, cap), log=log_loss)
    plotting.mark_diverged(ax, rates[~ok], np.full((~ok).sum(), high), label="sweep: diverged")
    if p["stop_lr"] is not None:
        k = p["stopped_at"]
        ax.plot(p["stop_lr"], min(smooth[k], high), "v", color="#D55E00", markersize=8,
                label=f"test stops at {p['stop_lr']:.3g}")
    lines = [
        (p["lr_steep"], "#009E73", "-", "suggestion: steep"),
        (p["lr_min_over_10"], "#CC79A7", "-", "suggestion: minimum / 10"),
        (p["best_rate"], "0.2", "-.", "sweep: best fixed rate"),
        (p["limit_measured"], "#D55E00", ":", "sweep: first rate that fails"),
    ]
    if "sgd" in p.get("name", ""):
        lines.append((p["two_over_lambda_max"], "0.4", "--", "2/λ_max (GD's limit)"))
    for value, color, style, label in lines:
        if value is not None:
            ax.axvline(value, color=color, linestyle=style, linewidth=1.2,
                       label=f"{label} {value:.3g}")
    ax.set_xscale("log")
    if log_loss:
        ax.set_yscale("log")
    ax.set_ylim(low, high * (1.5 if log_loss else 1.05))
    ax.set(xlabel="learning rate (log)", ylabel="training loss" + (" (log)" if log_loss else ""))


def plot(result: dict) -> dict:
    names = result["config"]["optimizers"]
    fig, axes = plotting.figure(2, len(names), title="Which rate does the one-run range test "
                                "suggest, and what would a sweep of fixed rates choose?",
                                width=6.0 * len(names), height=11.5)
    order = [f"{problem}_{name}" for problem in ("quadratic", "mlp") for name in names]
    for ax, name in zip(axes.ravel(), order, strict=True):
        p = result["series"][name]
        _panel(ax, {**p, "name": name}, log_loss=name.startswith("quadratic"))
        ax.set_title(TITLES[name])
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncols=2, fontsize=7.5)
    return {"range_test": fig}


if __name__ == "__main__":
    gdlab.experiment.script_main(__file__)
