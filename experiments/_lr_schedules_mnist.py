"""lr_schedules on the MNIST-1D MLP: every schedule × peak × seed in one sweep per optimizer,
the metrics and claims read from it, and the schedule shapes drawn in shapes.png.

The network and its minibatch loss are the catalogue's
``gdlab.problems.get("mnist1d_mlp", activation="relu", init="he", batch_size=...)``.

``config`` is lr_schedules' Config (read by attribute: steps, batch_size, hidden, seed,
num_seeds, optimizers, *_peaks, mnist_schedules, warmup_fraction, plateau_*, smooth).
"""

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax

import gdlab
from gdlab import claims as C
from gdlab import plotting, schedules


def _seeds(config) -> list[int]:
    return list(range(config.seed, config.seed + config.num_seeds))


def _warmup_steps(config) -> int:
    return max(int(config.warmup_fraction * config.steps), 1)


def mnist_shapes(config) -> dict:
    """Each MNIST schedule with peak 1 over the budget ``steps``; plateau: a constant base."""
    T = config.steps
    warmup = _warmup_steps(config)
    builders = {
        "constant": lambda: schedules.make("constant", value=1.0),
        "warmup_constant": lambda: schedules.make("warmup_constant", init_value=0.0,
                                                  peak_value=1.0, warmup_steps=warmup),
        "step_decay": lambda: schedules.make("step_decay", init_value=1.0,
                                             step_size=max(T // 3, 1), decay_rate=0.1),
        "exponential": lambda: schedules.make("exponential", init_value=1.0,
                                              transition_steps=T, decay_rate=0.01),
        "inverse_sqrt": lambda: schedules.make("inverse_sqrt", init_value=1.0,
                                               timescale=T / 50),
        "cosine": lambda: schedules.make("cosine", init_value=1.0, decay_steps=T),
        "warmup_cosine": lambda: schedules.make("warmup_cosine", init_value=0.0,
                                                peak_value=1.0, warmup_steps=warmup,
                                                decay_steps=T),
        "linear_onecycle": lambda: schedules.make("linear_onecycle", transition_steps=T,
                                                  peak_value=1.0),
        "cosine_onecycle": lambda: schedules.make("cosine_onecycle", transition_steps=T,
                                                  peak_value=1.0),
        "sgdr": lambda: schedules.make("sgdr", init_value=1.0, decay_steps=max(T // 7, 1),
                                       num_cycles=3, cycle_mult=2),
        "reduce_on_plateau": lambda: schedules.make("constant", value=1.0),
    }
    return {name: builders[name]() for name in config.mnist_schedules}


def _plateau(config, min_scale=0.0):
    return schedules.reduce_on_plateau(
        factor=config.plateau_factor, patience=config.plateau_patience,
        rtol=config.plateau_rtol, accumulation_size=config.plateau_average, min_scale=min_scale)


def _mnist_factory(config, optimizer: str, names: list, table: np.ndarray):
    """factory(learning_rate, schedule): row ``schedule`` of the table, times the peak.

    reduce_on_plateau is chained in every run so that all rows share one compilation;
    min_scale = 1 switches it off (the scale can never drop below 1) except in its row.
    """
    base = schedules.table_factory(optimizer, table, config.steps)
    plateau_row = names.index("reduce_on_plateau") if "reduce_on_plateau" in names else -1

    def factory(learning_rate, schedule):
        off = jnp.where(jnp.round(schedule) == plateau_row, 0.0, 1.0)
        return optax.chain(base(learning_rate, schedule), _plateau(config, min_scale=off))

    return factory


def _instrument_scale(sw, row: int, peak_index: int, steps: int) -> np.ndarray:
    """The plateau scale at updates 0 … T−1 of a sweep's row, read from the optimizer
    state by the ``effective_lr`` instrument ("plateau_scale"). (seeds, T)."""
    return np.asarray(sw.instruments["plateau_scale"], float)[row, peak_index, :, :steps]


def _mnist_problem(config):
    """The catalogue's MLP [40, hidden, 10] (ReLU, He, float32) with minibatches of batch_size,
    and its evaluation vmapped over runs (lax.map in chunks: (runs, 4000, hidden) would not
    fit)."""
    return _problem(config.hidden, config.batch_size)


@functools.cache
def _problem(hidden: int, batch_size: int):
    # one object per network: a rerun (another seed) reuses the compiled evaluation
    p = gdlab.problems.get("mnist1d_mlp", hidden=hidden, activation="relu", init="he",
                           batch_size=batch_size)
    evaluate_all = jax.jit(lambda params, data: jax.lax.map(
        lambda q: p.evaluate(q, data), params, batch_size=16))
    return p, evaluate_all


@functools.cache
def _factory(config, optimizer: str):
    """One optimizer's sweep factory, built once per configuration (``mnist`` passes it
    with the seed set to 0): ``train.sweep`` knows a factory by identity, so a rerun with
    another seed reuses the compiled sweep."""
    shapes = mnist_shapes(config)
    table = np.asarray(schedules.tabulate(list(shapes.values()), config.steps))
    return _mnist_factory(config, optimizer, list(shapes), table)


def _smooth(loss: np.ndarray, window: int) -> np.ndarray:
    """Means over consecutive windows of steps 1..T (NaN where a run had diverged)."""
    body = loss[..., 1:]
    n = body.shape[-1] // window
    return body[..., : n * window].reshape(*body.shape[:-1], n, window).mean(axis=-1)


def mnist(config) -> dict:
    """Every schedule × peak × seed in one sweep per optimizer; final scores at tuned peaks."""
    problem, evaluate = _mnist_problem(config)
    seedless = dataclasses.replace(config, seed=0)
    names = list(mnist_shapes(config))
    out = {"schedules": names}
    for opt in config.optimizers:
        factory = _factory(seedless, opt)
        peaks = np.asarray(config.sgd_peaks if opt == "sgd" else config.adam_peaks)
        # The plateau's scale is read from the run itself: the effective_lr instrument
        # records the scale reduce_on_plateau holds in the optimizer state at every step.
        probe = {"instruments": ("effective_lr",), "instrument_every": 1} if (
            "reduce_on_plateau" in names) else {}
        sw = gdlab.train.sweep(
            problem.stochastic, problem.init, factory,
            {"schedule": np.arange(len(names)), "learning_rate": peaks}, config.steps,
            seeds=_seeds(config), data=problem.data, stochastic=True, **probe,
        )
        shape = sw.shape  # (schedules, peaks, seeds)
        flat = jax.tree.map(lambda a: a.reshape(-1, *a.shape[3:]), sw.final_params)
        scores = {k: np.asarray(v, dtype=float).reshape(shape)
                  for k, v in evaluate(flat, problem.data).items()}
        bad = (sw.diverged_at >= 0) | ~np.isfinite(scores["train_loss"])
        for k in scores:
            scores[k] = np.where(bad, np.inf if k.endswith("loss") else np.nan, scores[k])
        mean_train = np.where(bad.any(-1), np.inf, scores["train_loss"].mean(-1))
        # tuned peak per schedule: the smallest mean final train loss (a diverged seed: inf)
        tuned = [gdlab.train.best(row, {"learning_rate": peaks}) for row in mean_train]
        best = np.array([b.index[0] for b in tuned])
        rows = np.arange(len(names))
        curves = _smooth(sw.loss, config.smooth)
        plateau = None
        if "reduce_on_plateau" in names:
            i = names.index("reduce_on_plateau")
            plateau = {"scale": _instrument_scale(sw, i, best[i], config.steps),
                       "peak": peaks[best[i]], "source": "optimizer state"}
        early = sw.loss[..., 1: _warmup_steps(config) + 1]
        spike = np.where(np.isfinite(early), early, np.inf).max(-1) / sw.loss[..., 0]
        out[opt] = {
            "peaks": peaks, "best_peak": peaks[best], "best_index": best,
            "best_edge": [b.edges.get("learning_rate") for b in tuned],  # None: inside
            "early_spike": spike,  # (schedules, peaks, seeds): max early loss / initial loss
            "diverged_at": sw.diverged_at,
            "mean_final_train_loss": mean_train,  # (schedules, peaks), inf if any seed diverged
            "diverged": (sw.diverged_at >= 0).sum(-1),
            "tuned": {k: v[rows, best] for k, v in scores.items()},  # (schedules, seeds)
            "curve_steps": config.smooth * (np.arange(curves.shape[-1]) + 0.5),
            "curves": curves[rows, best],  # (schedules, seeds, points)
            "plateau": plateau,
        }
    return out


def _finite(x):
    x = float(x)
    return x if np.isfinite(x) else None


def metrics(config, net: dict) -> tuple[dict, dict]:
    """Per optimizer: each schedule's tuned peak and scores; and constant vs warmup per peak."""
    per_optimizer = {}
    for opt in config.optimizers:
        r = net[opt]
        per_optimizer[f"mnist_{opt}"] = {
            name: {
                "best_peak": float(r["best_peak"][i]),
                "best_peak_edge": r["best_edge"][i],  # None: strictly inside the grid
                "train_loss": _finite(np.mean(r["tuned"]["train_loss"][i])),
                "test_loss": _finite(np.mean(r["tuned"]["test_loss"][i])),
                "test_accuracy": _finite(np.median(r["tuned"]["test_accuracy"][i])),
                "test_accuracy_min": _finite(np.min(r["tuned"]["test_accuracy"][i])),
                "test_accuracy_max": _finite(np.max(r["tuned"]["test_accuracy"][i])),
                "diverged_runs": int(r["diverged"][i].sum()),
            }
            for i, name in enumerate(net["schedules"])
        }
        if r["plateau"] is not None:
            scale = r["plateau"]["scale"]
            per_optimizer[f"mnist_{opt}"]["reduce_on_plateau"]["reductions"] = [
                int(np.round(np.log(s[-1]) / np.log(config.plateau_factor))) for s in scale]
    warmup = {}
    names = net["schedules"]
    if "constant" in names and "warmup_constant" in names:
        for opt in config.optimizers:
            r = net[opt]
            warmup[f"mnist_{opt}"] = {
                f"peak_{p:g}": {
                    name: {
                        "max_early_loss_over_initial": _finite(
                            r["early_spike"][names.index(name), j].max()),
                        "final_train_loss": _finite(
                            r["mean_final_train_loss"][names.index(name), j]),
                        "diverged_seeds": int((r["diverged_at"][names.index(name), j] >= 0)
                                              .sum()),
                    }
                    for name in ("constant", "warmup_constant")
                }
                for j, p in enumerate(r["peaks"])
            }
    return per_optimizer, warmup


def all_shapes(config) -> dict:
    """η(t)/peak over the MNIST budget for every schedule: the MNIST ones as run, the rest
    as typical instances."""
    T = config.steps
    examples = {
        "piecewise_constant": dict(init_value=1.0, boundaries_and_scales={T // 2: 0.3,
                                                                           3 * T // 4: 0.3}),
        "polynomial": dict(init_value=1.0, end_value=0.0, power=2, transition_steps=T),
        "linear": dict(init_value=1.0, end_value=0.0, transition_steps=T),
        "inverse_time": dict(init_value=1.0, timescale=T / 50),
        "warmup_constant": dict(init_value=0.0, peak_value=1.0, warmup_steps=max(T // 10, 1)),
        "constant": dict(value=1.0),
        "step_decay": dict(init_value=1.0, step_size=max(T // 3, 1), decay_rate=0.1),
        "exponential": dict(init_value=1.0, transition_steps=T, decay_rate=0.01),
        "inverse_sqrt": dict(init_value=1.0, timescale=T / 50),
        "cosine": dict(init_value=1.0, decay_steps=T),
        "warmup_cosine": dict(init_value=0.0, peak_value=1.0, warmup_steps=max(T // 20, 1),
                              decay_steps=T),
        "linear_onecycle": dict(transition_steps=T, peak_value=1.0),
        "cosine_onecycle": dict(transition_steps=T, peak_value=1.0),
        "sgdr": dict(init_value=1.0, decay_steps=max(T // 7, 1), num_cycles=3, cycle_mult=2),
    }
    used = mnist_shapes(config)
    names = schedules.names()
    table = schedules.tabulate([used[n] if n in used else schedules.make(n, **examples[n])
                                for n in names], T)
    return dict(zip(names, np.asarray(table), strict=True))


def claims(result: dict, opt: str) -> list[dict]:
    """The claims about optimizer ``opt`` on the MLP, read from the stored result."""
    cfg, m = result["config"], result["metrics"][f"mnist_{opt}"]
    r = result["series"]["mnist"][opt]
    names = result["series"]["mnist"]["schedules"]
    seeds = list(range(cfg["seed"], cfg["seed"] + cfg["num_seeds"]))
    edges = [n for n in names if m[n]["best_peak_edge"] is not None]
    out = [C.fact(f"MNIST-1D, {opt}: every schedule's tuned peak (mean final train loss over "
                  f"{len(seeds)} seeds) lies strictly inside the peak grid", edges or "none on "
                  "an edge", f"{len(names)}/{len(names)} inside", not edges, seeds=seeds)]
    acc = plotting.array(r["tuned"]["test_accuracy"])  # (schedules, seeds)
    if "constant" in names and "cosine" in names:
        c, k = names.index("constant"), names.index("cosine")
        out.append(C.over_seeds(f"MNIST-1D, {opt}: cosine decay beats a constant rate, each at "
                                "its tuned peak (test accuracy difference, paired by seed)",
                                acc[k] - acc[c], lower=0.0, seeds=seeds))
        out.append(C.fact(f"MNIST-1D, {opt}: cosine tunes to a higher peak than the constant "
                          "rate (ratio of tuned peaks)", m["cosine"]["best_peak"]
                          / m["constant"]["best_peak"], "> 1",
                          m["cosine"]["best_peak"] > m["constant"]["best_peak"], seeds=seeds))
    if "constant" in names and "warmup_constant" in names:
        c, w = names.index("constant"), names.index("warmup_constant")
        dead = plotting.array(r["diverged_at"]) >= 0  # (schedules, peaks, seeds)
        peaks = plotting.array(r["peaks"])
        safe = np.nonzero(~dead[c].any(-1))[0]
        if safe.size:
            j = int(safe[-1])  # the largest peak at which no constant-rate seed diverged
            spike = plotting.array(r["early_spike"])
            out.append(C.over_seeds(
                f"MNIST-1D, {opt}: warmup cuts the early loss spike at peak {peaks[j]:g}, the "
                "largest at which the constant rate never diverged (max early loss, constant "
                "/ warmup)", spike[c, j] / spike[w, j], lower=1.0, seeds=seeds))
        first = [float(peaks[np.argmax(dead[i].any(-1))]) if dead[i].any() else None
                 for i in (c, w)]
        if first[0] is not None:
            out.append(C.fact(f"MNIST-1D, {opt}: warmup does not move the edge: it diverges "
                              "(on some seed) from the same peak as the constant rate",
                              first[1], f"= {first[0]:g}", first[1] == first[0], seeds=seeds))
    return out
