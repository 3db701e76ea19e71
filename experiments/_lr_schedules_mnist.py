"""lr_schedules on the MNIST-1D MLP: every schedule × peak × seed in one sweep per optimizer.

``config`` is lr_schedules' Config (read by attribute: steps, batch_size, hidden, seed,
num_seeds, optimizers, *_peaks, mnist_schedules, warmup_fraction, plateau_*, smooth).
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax

import gdlab
from gdlab import schedules


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


def _replay_plateau(config, values: np.ndarray) -> np.ndarray:
    """The plateau scale at every update, replayed from the losses the runs fed it.

    ``sweep`` records loss[k] = the minibatch loss that update k received as ``value=``,
    so running the same transformation on loss[0..T−1] reproduces its scale exactly.
    ``values``: (runs, T) float32 losses; returns (runs, T) scales.
    """
    return np.asarray(_replayer(config.plateau_factor, config.plateau_patience,
                                config.plateau_rtol, config.plateau_average)(values))


@functools.lru_cache(maxsize=4)
def _replayer(factor, patience, rtol, average):
    plateau = schedules.reduce_on_plateau(factor=factor, patience=patience, rtol=rtol,
                                          accumulation_size=average)
    dummy = jnp.zeros((), jnp.float32)

    def replay(values):
        def step(state, value):
            _, state = plateau.update(dummy, state, dummy, value=value)
            return state, state.scale

        return jax.lax.scan(step, plateau.init(dummy), values)[1]

    return jax.jit(jax.vmap(replay))


def _mnist_problem(config):
    d = gdlab.data.mnist1d(seed=0)
    data = {k: jnp.asarray(v) for k, v in d.items()}  # float32 inputs, int32 labels
    model = gdlab.models.mlp([40, config.hidden, 10], activation="relu", init="he",
                             dtype=jnp.float32)
    objective = gdlab.losses.objective(model.apply, gdlab.losses.softmax_cross_entropy)
    batch = config.batch_size

    def minibatch_loss(params, data, *, key):
        index = jax.random.randint(key, (batch,), 0, data["x"].shape[0])
        return objective(params, {"x": data["x"][index], "y": data["y"][index]})

    def evaluate(params, data):
        scores = {}
        for split, (x, y) in {"train": ("x", "y"), "test": ("x_test", "y_test")}.items():
            logits = model.apply(params, data[x])
            scores[f"{split}_loss"] = gdlab.losses.softmax_cross_entropy(logits, data[y]).mean()
            scores[f"{split}_accuracy"] = gdlab.losses.accuracy(logits, data[y]).mean()
        return scores

    @jax.jit
    def evaluate_all(params, data):  # lax.map in chunks: (runs, 4000, hidden) would not fit
        return jax.lax.map(lambda p: evaluate(p, data), params, batch_size=16)

    train_data = {"x": data["x"], "y": data["y"]}
    return model, minibatch_loss, evaluate_all, data, train_data


def _smooth(loss: np.ndarray, window: int) -> np.ndarray:
    """Means over consecutive windows of steps 1..T (NaN where a run had diverged)."""
    body = loss[..., 1:]
    n = body.shape[-1] // window
    return body[..., : n * window].reshape(*body.shape[:-1], n, window).mean(axis=-1)


def mnist(config) -> dict:
    """Every schedule × peak × seed in one sweep per optimizer; final scores at tuned peaks."""
    model, minibatch_loss, evaluate, data, train_data = _mnist_problem(config)
    shapes = mnist_shapes(config)
    names = list(shapes)
    table = np.asarray(schedules.tabulate(list(shapes.values()), config.steps))
    out = {"schedules": names}
    for opt in config.optimizers:
        peaks = np.asarray(config.sgd_peaks if opt == "sgd" else config.adam_peaks)
        sw = gdlab.train.sweep(
            minibatch_loss, model.init, _mnist_factory(config, opt, names, table),
            {"schedule": np.arange(len(names)), "learning_rate": peaks}, config.steps,
            seeds=_seeds(config), data=train_data, stochastic=True,
        )
        shape = sw.shape  # (schedules, peaks, seeds)
        flat = jax.tree.map(lambda a: a.reshape(-1, *a.shape[3:]), sw.final_params)
        scores = {k: np.asarray(v, dtype=float).reshape(shape)
                  for k, v in evaluate(flat, data).items()}
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
            plateau = {"scale": _replay_plateau(config, sw.loss[i, best[i], :, :-1]),
                       "peak": peaks[best[i]]}
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
