"""How good is the one-run LR range test? Its three suggestions against a sweep of fixed rates.

fastai's ``lr_find`` (Smith 2017) trains once while the rate grows geometrically, stops
when the smoothed loss passes 4× its best, and suggests a rate read off the smoothed
curve: the steepest descent ("steep"), the minimum / 10, or, fastai's default since
2.5, "valley" (about half way down the longest descent). ``gdlab.train.lr_range_test``
does exactly that in one compiled loop. Here it runs on an ill-conditioned quadratic
(float64, where GD's limit is 2/λ_max exactly) and on an MLP on MNIST-1D (float32,
minibatches, several seeds: initialisation and minibatch order), with SGD and with
Adam. Next to it, the version fastai cannot afford: every rate of the same range as its
own fixed-rate run, all seeds in one vmapped ``train.sweep``, which gives the true
loss-vs-rate curve, its best rate and its limit. The question is how far below the best
rate each suggestion lands, as a ratio with its spread over seeds.

Run:    gdlab run lr_finder      (or: python experiments/lr_finder.py --help)
Writes: results/lr_finder/result.json, range_test.png
The measured numbers are the claims in results/lr_finder/result.json (`gdlab list`).
"""

import functools
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

import gdlab
from gdlab import claims as C
from gdlab import plotting
from gdlab.train import first_rate_without_progress, lr_range_test

SUGGESTIONS = {"steep": "lr_steep", "minimum/10": "lr_min_over_10", "valley": "lr_valley"}


@dataclass(frozen=True)
class Config:
    # The range test (fastai's defaults: β = 0.98, stop at 4× the best smoothed loss).
    smoothing: float = 0.98
    stop_factor: float = 4.0
    optimizers: tuple[str, ...] = ("sgd", "adam")  # each runs on both problems
    num_rates: int = 30  # fixed rates in each sweep, geomspace over the test's range
    # An ill-conditioned quadratic ½xᵀAx in float64, eigenvalues geomspace(λ_min, λ_max, dim)
    # rotated by a random orthogonal matrix (drawn from `seed`).
    quad_dim: int = 10
    quad_lambda_min: float = 0.1
    quad_lambda_max: float = 10.0
    quad_steps: int = 100  # steps of the range test and of every fixed-rate run
    quad_sgd_range: tuple[float, float] = (1e-4, 10.0)
    quad_adam_range: tuple[float, float] = (1e-3, 1e3)
    # An MLP on MNIST-1D in float32, minibatch steps (gdlab.problems "mnist1d_mlp").
    mlp_hidden: int = 32  # 40-hidden-10, tanh, Xavier init
    mlp_examples: int = 1000  # the first N training examples form the training set
    batch_size: int = 100
    mlp_steps: int = 200
    mlp_sgd_range: tuple[float, float] = (1e-3, 1e3)
    mlp_adam_range: tuple[float, float] = (1e-5, 10.0)
    seed: int = 0  # first seed: quadratic rotation; MLP seeds seed … seed + num_seeds − 1
    num_seeds: int = 5  # MLP seeds (init and minibatch order), each a range test + a sweep


QUICK = {"optimizers": ("sgd",), "num_rates": 12, "quad_steps": 60, "mlp_hidden": 8,
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
    if config.num_rates < 3 or config.batch_size < 1 or config.num_seeds < 1:
        raise ValueError("num_rates must be >= 3, batch_size and num_seeds >= 1")
    if config.batch_size > config.mlp_examples:
        raise ValueError("batch_size must not exceed mlp_examples")
    if config.seed < 0:
        raise ValueError(f"seed must be >= 0, got {config.seed}")


def _test_record(test) -> dict:
    out = {"lrs": test.lrs, "loss": test.loss, "smoothed": test.smoothed_loss,
           "stopped_at": test.stopped_at, "stop_lr": test.stop_lr}
    return {**out, **{key: getattr(test, key) for key in SUGGESTIONS.values()}}


def _compare(test: dict, rates, final, initial) -> dict:
    """One range test's suggestions next to one sweep's best rate and limit."""
    best = gdlab.train.best(final, {"learning_rate": rates})
    limit = first_rate_without_progress(rates, final, initial)
    rate = best.setting["learning_rate"] if best.found else None
    ratios = {name: (None if test[key] is None or rate is None else test[key] / rate)
              for name, key in SUGGESTIONS.items()}
    below = {name: (None if test[key] is None or limit is None else test[key] / limit)
             for name, key in SUGGESTIONS.items()}
    return {"best_rate": rate, "best_edges": best.edges, "best_final_loss": best.value,
            "limit_measured": limit, "over_best": ratios, "over_limit": below}


# --------------------------------------------------------------------------- quadratic


def quadratic(config: Config, optimizer: str, lr_range) -> dict:
    """Range test and fixed-rate sweep of one optimizer on the ill-conditioned quadratic."""
    lam = np.geomspace(config.quad_lambda_min, config.quad_lambda_max, config.quad_dim)
    problem = gdlab.problems.quadratic(lam, key=jax.random.key(config.seed))
    x0 = jnp.asarray(problem.x0, jnp.float64)
    test = _test_record(lr_range_test(
        problem.loss, x0, optimizer, min_lr=lr_range[0], max_lr=lr_range[1],
        num_steps=config.quad_steps, smoothing=config.smoothing,
        stop_factor=config.stop_factor))
    rates = np.geomspace(*lr_range, config.num_rates)
    sweep = gdlab.train.sweep(problem.loss, x0, optimizer, {"learning_rate": rates},
                              config.quad_steps)
    hessian = np.asarray(gdlab.curvature.hessian(problem.loss, x0))  # jax.hessian, jitted
    lam_max = float(np.linalg.eigvalsh(hessian).max())
    initial = float(sweep.loss[0, 0])  # f(x0), every run's step 0
    final = np.where(sweep.diverged_at < 0, sweep.final_loss, np.inf)
    return {**test, **_compare(test, rates, final, initial), "rates": rates,
            "final_loss": final, "initial_loss": initial, "lambda_max": lam_max,
            "two_over_lambda_max": 2 / lam_max}


# --------------------------------------------------------------------------- MLP


def _seeds(config: Config) -> list[int]:
    return list(range(config.seed, config.seed + config.num_seeds))


def _mlp_problem(config: Config):
    return gdlab.problems.mnist1d_mlp(hidden=config.mlp_hidden, train_size=config.mlp_examples,
                                      batch_size=config.batch_size)


@functools.partial(jax.jit, static_argnums=(0, 1))
def _starts(init, loss, seeds, data):
    """Per seed, in one program: the run key and the init params as ``train.sweep``
    derives them (init key, run key = split(key(seed))), the full-batch loss there and
    λ_max of its Hessian (Lanczos on HVPs; the data passed, never closed over). The run
    keys come back as their raw data (``jax.random.wrap_key_data`` makes them keys)."""

    def one(seed):
        init_key, run_key = jax.random.split(jax.random.key(seed))
        params = init(init_key)
        lam = gdlab.curvature.sharpness(loss, params, method="lanczos", data=data)
        return jax.random.key_data(run_key), params, loss(params, data), lam

    return jax.lax.map(one, seeds)  # one seed at a time: no batched matmuls on a CPU


def mlp(config: Config, problem, optimizer: str, lr_range, starts) -> dict:
    """Per seed: a range test and a fixed-rate run at every rate (one vmapped sweep);
    ``starts``: what ``_starts`` gives for the seeds."""
    seeds = _seeds(config)
    data = {"x": problem.data["x"], "y": problem.data["y"]}
    rates = np.geomspace(*lr_range, config.num_rates)
    sweep = gdlab.train.sweep(problem.stochastic, problem.init, optimizer,
                              {"learning_rate": rates}, config.mlp_steps, seeds=seeds,
                              data=data, stochastic=True)
    flat = jax.tree.map(lambda a: a.reshape(-1, *a.shape[2:]), sweep.final_params)
    full = jax.jit(jax.vmap(problem.loss, in_axes=(0, None)))(flat, data)
    full = np.asarray(full, np.float64).reshape(len(rates), len(seeds))
    final = np.where((sweep.diverged_at < 0) & np.isfinite(full), full, np.inf)
    run_keys, start_params, start_loss, _ = jax.device_get(starts)  # NumPy: no eager slicing
    per_seed = []
    for j in range(len(seeds)):
        params = jax.tree.map(lambda a, j=j: a[j], start_params)
        test = _test_record(lr_range_test(
            problem.stochastic, params, optimizer, min_lr=lr_range[0], max_lr=lr_range[1],
            num_steps=config.mlp_steps, smoothing=config.smoothing,
            stop_factor=config.stop_factor, data=data,
            key=jax.random.wrap_key_data(run_keys[j])))
        initial = float(start_loss[j])
        per_seed.append({**test, **_compare(test, rates, final[:, j], initial),
                         "initial_loss": initial})
    pooled = gdlab.train.best(final, {"learning_rate": rates})  # median over seeds
    return {"seeds": seeds, "rates": rates, "final_loss": final, "per_seed": per_seed,
            "best_rate_median_curve": pooled.setting["learning_rate"],
            "best_edges_median_curve": pooled.edges, "best_inside": pooled.inside}




# --------------------------------------------------------------------------- protocol


def _summary(values) -> dict:
    v = np.asarray([np.nan if x is None else x for x in values], dtype=float)
    ok = v[np.isfinite(v)]
    if not ok.size:
        return {"median": None, "min": None, "max": None}
    return {"median": float(np.median(ok)), "min": float(ok.min()), "max": float(ok.max())}


def run(config: Config) -> dict:
    _check(config)
    ranges = {"quadratic": {"sgd": config.quad_sgd_range, "adam": config.quad_adam_range},
              "mlp": {"sgd": config.mlp_sgd_range, "adam": config.mlp_adam_range}}
    panels = {f"quadratic_{name}": quadratic(config, name, ranges["quadratic"][name])
              for name in config.optimizers}
    problem = _mlp_problem(config)
    data = {"x": problem.data["x"], "y": problem.data["y"]}
    starts = _starts(problem.init, problem.loss, np.asarray(_seeds(config)), data)
    for name in config.optimizers:
        panels[f"mlp_{name}"] = mlp(config, problem, name, ranges["mlp"][name], starts)
    lam0 = [float(lam) for lam in np.asarray(starts[3])]
    metrics = {"mlp_two_over_sharpness_init": _summary([2 / x for x in lam0])}
    for name, p in panels.items():
        if name.startswith("quadratic"):
            keys = ("stop_lr", "best_rate", "best_edges", "limit_measured",
                    "two_over_lambda_max", "over_best", "over_limit", *SUGGESTIONS.values())
            metrics[name] = {k: p[k] for k in keys}
            continue
        runs = p["per_seed"]
        metrics[name] = {
            "seeds": p["seeds"],
            "best_rate_median_curve": p["best_rate_median_curve"],
            "best_inside": p["best_inside"],
            "best_rate": _summary([r["best_rate"] for r in runs]),
            "limit_measured": _summary([r["limit_measured"] for r in runs]),
            "stop_lr": _summary([r["stop_lr"] for r in runs]),
            **{key: _summary([r[key] for r in runs]) for key in SUGGESTIONS.values()},
            "over_best": {s: _summary([r["over_best"][s] for r in runs]) for s in SUGGESTIONS},
            "over_limit": {s: _summary([r["over_limit"][s] for r in runs])
                           for s in SUGGESTIONS},
        }
    return {"metrics": metrics, "series": {**panels, "mlp_sharpness_init": lam0}}


# --------------------------------------------------------------------------- claims

# How far below the best fixed rate each suggestion lands on the MLP (ratio = suggestion /
# best rate of the same seed): the finding per optimizer, as (lower, upper, wording).
MLP_RATIO_CLAIMS = {
    "sgd": {"steep": (None, 1.0, "below the best fixed rate"),
            "minimum/10": (None, 1 / 3, "≥ 3× below the best fixed rate"),
            "valley": (None, 1 / 5, "≥ 5× below the best fixed rate")},
    "adam": {"steep": (None, 1.0, "below the best fixed rate"),
             "minimum/10": (1 / 3, 3.0, "within 3× of the best fixed rate"),
             "valley": (None, 1 / 2, "≥ 2× below the best fixed rate")},
}


def _value(x) -> float:
    return np.nan if x is None else float(x)


def _quadratic_claims(name: str, p: dict) -> list[dict]:
    opt = name.split("_", 1)[1]
    edge = p["two_over_lambda_max"]
    rates = np.asarray(p["rates"], dtype=float)
    suggestions = [_value(p[key]) for key in SUGGESTIONS.values()]
    out = [C.fact(f"quadratic, {opt}: the best fixed rate lies inside the grid",
                  p["best_rate"], "not on the grid's edge", not p["best_edges"])]
    if opt == "sgd":
        first_past = float(rates[rates >= edge][0]) if np.any(rates >= edge) else None
        out += [
            C.fact("quadratic, sgd: fixed-rate runs fail from the first grid rate past "
                   "2/λ_max", p["limit_measured"], f"= {first_past:.4g} (first rate ≥ "
                   f"2/λ_max = {edge:.4g})", p["limit_measured"] == first_past),
            C.above("quadratic, sgd: the range test stops only past 2/λ_max (stop rate / "
                    "(2/λ_max); the smoothed loss lags the rate)", _value(p["stop_lr"]) / edge,
                    1.0),
            C.below("quadratic, sgd: all three suggestions lie below 2/λ_max (largest "
                    "suggestion / (2/λ_max))", max(suggestions) / edge, 1.0),
        ]
    else:
        out.append(C.below("quadratic, adam: all three suggestions lie below the best fixed "
                           "rate (largest suggestion / best rate)",
                           max(suggestions) / p["best_rate"], 1.0))
    return out


def _mlp_claims(name: str, p: dict) -> list[dict]:
    opt = name.split("_", 1)[1]
    runs, seeds = p["per_seed"], p["seeds"]
    n = len(runs)
    rates = np.asarray(p["rates"], dtype=float)
    median_final = np.median(np.asarray(plotting.array(p["final_loss"])), axis=1)
    best = gdlab.train.best(median_final, {"learning_rate": rates})
    out = [C.fact(f"MLP, {opt}: the best fixed rate (median final loss over seeds) lies "
                  "inside the grid", best.setting["learning_rate"], "not on the grid's edge "
                  f"({rates[0]:.3g} … {rates[-1]:.3g})", best.inside, seeds=seeds)]
    worst = [max(_value(r["over_limit"][s]) for s in SUGGESTIONS) for r in runs]
    out.append(C.over_seeds(f"MLP, {opt}: every suggestion lies ≥ 2× below the first rate "
                            "whose fixed run fails (largest suggestion / that rate)", worst,
                            upper=0.5, seeds=seeds, require=n))
    for suggestion, (lower, upper, wording) in MLP_RATIO_CLAIMS[opt].items():
        ratios = [_value(r["over_best"][suggestion]) for r in runs]
        out.append(C.over_seeds(f"MLP, {opt}: {suggestion} suggests a rate {wording} "
                                "(suggestion / best rate of the seed)", ratios, lower=lower,
                                upper=upper, seeds=seeds))
    lowest = [_value(r["lr_valley"]) / min(_value(r["lr_steep"]), _value(r["lr_min_over_10"]))
              for r in runs]
    out.append(C.over_seeds(f"MLP, {opt}: valley is the most cautious of the three "
                            "suggestions (valley / the smaller of the other two)", lowest,
                            upper=1.0, seeds=seeds))
    return out


def claims(result: dict) -> list[dict]:
    out = []
    for name, p in result["series"].items():
        if name.startswith("quadratic_"):
            out += _quadratic_claims(name, p)
        elif name.startswith("mlp_") and isinstance(p, dict):
            out += _mlp_claims(name, p)
    return out


# --------------------------------------------------------------------------- figure

TITLES = {
    "quadratic_sgd": "ill-conditioned quadratic (κ = 100), GD",
    "quadratic_adam": "ill-conditioned quadratic (κ = 100), Adam",
    "mlp_sgd": "MLP on MNIST-1D, minibatch SGD",
    "mlp_adam": "MLP on MNIST-1D, minibatch Adam",
}
COLORS = {"steep": "#009E73", "minimum/10": "#CC79A7", "valley": "#E69F00"}
STRIP = 3.0  # the off-scale strip spans [top, STRIP·top] of the log loss axis


def _strip(ax, rates, values, top) -> None:
    """Losses above ``top`` (^) and diverged runs (×) in a shaded strip above the data."""
    ax.axhspan(top, STRIP * top, color="0.93", zorder=0)
    ax.text(0.01, np.sqrt(STRIP) * top, "off scale / diverged", fontsize=7, color="0.4",
            va="center", transform=ax.get_yaxis_transform())
    high = np.isfinite(values) & (values > top)
    ax.plot(rates[high], np.full(high.sum(), np.sqrt(STRIP) * top), "^", color="0.2",
            markersize=4, markerfacecolor="none", linestyle="none")
    bad = ~np.isfinite(values)
    plotting.mark_diverged(ax, rates[bad], np.full(bad.sum(), np.sqrt(STRIP) * top), label="_")


def _panel(ax, p: dict, name: str) -> None:
    mlp = name.startswith("mlp")
    runs = p["per_seed"] if mlp else [p]
    rates = plotting.array(p["rates"])
    final = plotting.array(p["final_loss"])
    final = final if final.ndim == 2 else final[:, None]
    initial = float(np.median([r["initial_loss"] for r in runs]))
    top = 4 * initial
    curves = [plotting.array(r["smoothed"]) for r in runs]
    low = plotting.finite_limits(*curves, final, log=True)[0]
    for i, (r, smooth) in enumerate(zip(runs, curves, strict=True)):
        lrs = plotting.array(r["lrs"])
        if i == 0:
            ax.plot(lrs, np.clip(plotting.array(r["loss"]), None, top), color="#56B4E9",
                    linewidth=0.6, alpha=0.7,
                    label="range test: loss" + (" (first seed)" if mlp else ""))
        ax.plot(lrs, np.clip(smooth, None, top), color="#0072B2", linewidth=1.2, alpha=0.8,
                label="range test: smoothed" + (" (one line per seed)" if mlp else "")
                if i == 0 else "_")
        if r["stop_lr"] is not None:
            ax.plot(r["stop_lr"], min(smooth[r["stopped_at"]], top), "v", color="#D55E00",
                    markersize=6, label="range test stops" if i == 0 else "_")
    med = np.median(final, axis=1)
    shown = np.isfinite(med) & (med <= top)
    if final.shape[1] > 1:
        lo = np.where(np.isfinite(final), final, np.nan)
        with np.errstate(all="ignore"):
            ax.vlines(rates[shown], np.nanmin(lo, 1)[shown], np.clip(np.nanmax(lo, 1), None,
                      top)[shown], color="0.5", linewidth=1)
    ax.plot(rates[shown], med[shown], "o", color="0.15", markersize=3.5,
            markerfacecolor="none", label="sweep: loss after a fixed-rate run"
            + (" (median, min–max)" if final.shape[1] > 1 else ""))
    _strip(ax, rates, med, top)
    for suggestion, key in SUGGESTIONS.items():
        values = np.array([_value(r[key]) for r in runs])
        ok = values[np.isfinite(values)]
        if ok.size:
            ax.axvline(np.median(ok), color=COLORS[suggestion], linewidth=1.3,
                       label=f"suggestion: {suggestion} {np.median(ok):.3g}")
            ax.plot(ok, np.full(ok.size, low * 1.3), "|", color=COLORS[suggestion],
                    markersize=9)
    best = gdlab.train.best(med, {"learning_rate": rates})
    ax.axvline(best.setting["learning_rate"], color="0.15", linestyle="-.", linewidth=1.2,
               label=f"sweep: best fixed rate {best.setting['learning_rate']:.3g}")
    limits = [r["limit_measured"] for r in runs if r["limit_measured"] is not None]
    if limits:
        ax.axvline(np.median(limits), color="#D55E00", linestyle=":", linewidth=1.3,
                   label=f"sweep: first rate that fails {np.median(limits):.3g}")
    if name == "quadratic_sgd":
        ax.axvline(p["two_over_lambda_max"], label=f"2/λ_max = {p['two_over_lambda_max']:.3g} "
                   "(GD's limit)", **plotting.THEORY)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_ylim(low, STRIP * top)
    ax.set(xlabel="learning rate (log)", ylabel="training loss (log)")
    ax.set_title(TITLES[name] + (f" ({len(runs)} seeds; ticks: each seed's suggestions)"
                                 if mlp else ""), fontsize=9)


def plot(result: dict) -> dict:
    names = result["config"]["optimizers"]
    fig, axes = plotting.figure(2, len(names), title="How far below the best fixed rate do the "
                                "range test's suggestions (steep, minimum/10, valley) land?",
                                width=6.2 * len(names), height=12.0)
    order = [f"{problem}_{name}" for problem in ("quadratic", "mlp") for name in names]
    for ax, name in zip(axes.ravel(), order, strict=True):
        _panel(ax, result["series"][name], name)
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), ncols=2, fontsize=7.5)
    return {"range_test": fig}


if __name__ == "__main__":
    gdlab.experiment.script_main(__file__)
