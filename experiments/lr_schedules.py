"""A constant learning rate stalls at a noise floor ∝ η; decaying schedules go below it.

SGD with noisy gradients never settles: on f(x) = ½λx² with gradient λx + σξ
(ξ ~ N(0, 1) fresh each step) the iterate x_{t+1} = (1 − ηλ)x_t − ησξ_t has
E[x_{t+1}²] = (1 − ηλ)² E[x_t²] + η²σ², whose fixed point is the noise floor

    Var(x) = η²σ² / (1 − (1 − ηλ)²) = ησ² / (λ(2 − ηλ)),    E[f] = ½λ·Var(x) = ησ² / (2(2 − ηλ)),

about ησ²/4 for small η: halve the rate, halve the floor (and take twice as long to get
there). A schedule that lowers η(t) slowly enough follows the floor down; the same
recursion with η_t gives every schedule's exact E[f_t] to draw next to the measurement.
Decay too fast (Σ η(t) < ∞) and the mean E[x_t] = x₀ ∏(1 − η_t λ) stops short of 0.

Then a real network: an MLP on MNIST-1D with minibatch SGD and Adam, every schedule at
its own tuned peak rate (one vmapped sweep over peaks × schedules × 5 seeds per optimizer;
schedules as rows of ``gdlab.schedules.table_factory``; each tuned peak chosen with
``gdlab.train.best`` and strictly inside its grid). And warmup: on ½λx² + ¼x⁴, whose
curvature falls on the way down, a constant rate converges only below 2/(λ + x₀²) while
a linear warmup reaches 2/λ, and no further; on the MNIST MLP, constant vs warmup at
large peaks (early loss spikes, divergence).

Run:    gdlab run lr_schedules      (or: python experiments/lr_schedules.py --help)
Writes: results/lr_schedules/result.json, shapes.png, noise_floor.png, mnist.png,
        mnist_curves.png, warmup.png
The measured numbers are the claims in results/lr_schedules/result.json (`gdlab list`).
"""

import functools
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import optax

import gdlab
from gdlab import claims as C
from gdlab import plotting, schedules


@dataclass(frozen=True)
class Config:
    # The noisy quadratic f(x) = ½·curvature·x², gradient curvature·x + noise·ξ (float64).
    curvature: float = 1.0  # λ
    noise: float = 0.1  # σ, standard deviation of the gradient noise
    x0: float = 1.0  # start of every run
    quad_steps: int = 3000  # updates per run
    quad_seeds: int = 200  # independent noise sequences per rate
    floor_rate_min: float = 0.01  # noise-floor sweep: rates geomspace(min, max, count)
    floor_rate_max: float = 1.9  # (ηλ < 2 for stability)
    floor_rate_count: int = 14
    floor_window: float = 0.5  # the floor is the mean loss over this last fraction of steps
    quad_peak: float = 0.5  # η₀ of every schedule on the quadratic
    quad_fast_decay: int = 20  # "too fast": exponential decay by 1e-3 every this many steps
    # The MNIST-1D MLP [40, hidden, 10], ReLU, He init, float32, minibatches with replacement.
    steps: int = 600  # updates per run: the budget every schedule shares (~5 epochs)
    batch_size: int = 32
    hidden: int = 100
    seed: int = 0  # first seed of the MNIST runs: seeds seed … seed + num_seeds − 1
    num_seeds: int = 5  # init and minibatch order; every claim about the MLP is over them
    optimizers: tuple[str, ...] = ("sgd", "adam")
    # Peak rates swept (every schedule's tuned peak must lie strictly inside its grid).
    sgd_peaks: tuple[float, ...] = (0.1, 0.2, 0.4, 0.8, 1.6, 3.2)
    adam_peaks: tuple[float, ...] = (0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256)
    mnist_schedules: tuple[str, ...] = (
        "constant", "warmup_constant", "step_decay", "exponential", "inverse_sqrt", "cosine",
        "warmup_cosine", "linear_onecycle", "cosine_onecycle", "sgdr", "reduce_on_plateau",
    )
    warmup_fraction: float = 0.05  # warmups: linear 0 → peak over this part of the budget
    plateau_factor: float = 0.3  # reduce_on_plateau: scale ← scale·factor ...
    plateau_patience: int = 2  # ... after this many averages without improvement,
    plateau_rtol: float = 0.01  # improvement = 1% below the best average,
    plateau_average: int = 62  # averages over this many minibatch losses (half an epoch)
    smooth: int = 20  # steps averaged per point of the plotted MNIST training curves
    # Warmup on f(x) = ½·curvature·x² + ¼x⁴ from warm_x0 (float64, no noise): the curvature
    # falls from curvature + 3·x0² to curvature on the way down.
    warm_x0: float = 3.0
    warm_steps: int = 300
    warm_warmup: int = 50  # linear warmup 0 → peak over this many steps
    warm_rate_count: int = 60  # peaks geomspace(0.05, 2.5) / curvature (past 2/λ)


QUICK = {
    "quad_steps": 300, "quad_seeds": 20, "floor_rate_count": 4, "steps": 40, "hidden": 16,
    "optimizers": ("sgd",), "sgd_peaks": (0.1, 0.4, 1.6, 6.4), "warmup_fraction": 0.25,
    "mnist_schedules": ("constant", "warmup_constant", "cosine", "reduce_on_plateau"),
    "plateau_average": 5, "smooth": 10, "warm_steps": 60, "warm_warmup": 10,
    "warm_rate_count": 8,
}


def _check(config: Config) -> None:
    if min(config.curvature, config.noise, config.quad_peak, config.floor_rate_min) <= 0:
        raise ValueError("curvature, noise, quad_peak and floor_rate_min must be > 0")
    if not config.floor_rate_min < config.floor_rate_max < 2 / config.curvature:
        raise ValueError("need floor_rate_min < floor_rate_max < 2 / curvature (stability)")
    if not 0 < config.floor_window < 1:
        raise ValueError(f"floor_window must be in (0, 1), got {config.floor_window}")
    if not 0 < config.warmup_fraction < 1:
        raise ValueError(f"warmup_fraction must be in (0, 1), got {config.warmup_fraction}")
    if config.steps < 2 * config.smooth or config.smooth < 1:
        raise ValueError("need 1 <= smooth <= steps / 2")
    if not 0 < config.warm_warmup < config.warm_steps or config.warm_rate_count < 2:
        raise ValueError("need 0 < warm_warmup < warm_steps and warm_rate_count >= 2")
    if config.seed < 0 or config.num_seeds < 1:
        raise ValueError("seed must be >= 0 and num_seeds >= 1")
    peaks = {"sgd": config.sgd_peaks, "adam": config.adam_peaks}
    for name in config.optimizers:
        if name not in peaks:
            raise ValueError(f"unknown optimizer {name!r}; valid: sgd, adam")
        if min(peaks[name]) <= 0:
            raise ValueError(f"{name}_peaks must be > 0")
    valid = [*schedules.names(), "reduce_on_plateau"]
    for name in config.mnist_schedules:
        if name not in valid:
            raise ValueError(f"unknown schedule {name!r}; valid: {', '.join(valid)}")


# --------------------------------------------------------------------------- quadratic


def floor_theory(rate, curvature: float, noise: float):
    """E[f] at stationarity for SGD on ½λx² with gradient noise σ: ησ² / (2(2 − ηλ))."""
    rate = np.asarray(rate, dtype=float)
    return rate * noise**2 / (2 * (2 - rate * curvature))


def mean_loss_theory(rates: np.ndarray, curvature: float, noise: float, x0: float) -> np.ndarray:
    """Exact E[f_t] for SGD with rates η_t (rows): m ← (1 − η_t λ)² m + η_t² σ², f = ½λm."""
    m = np.full(rates.shape[:-1], x0**2, dtype=float)
    out = [m]
    for t in range(rates.shape[-1]):
        m = (1 - rates[..., t] * curvature) ** 2 * m + rates[..., t] ** 2 * noise**2
        out.append(m)
    return 0.5 * curvature * np.stack(out, axis=-1)


def _quad_seeds(config: Config) -> np.ndarray:
    """The noise sequences of the quadratic runs: a block of quad_seeds per ``seed``."""
    return np.arange(config.quad_seeds) + config.seed * config.quad_seeds


def _quadratic(config: Config):
    curvature, noise = config.curvature, config.noise

    def noisy(x, *, key):  # gradient curvature·x + noise·ξ
        return 0.5 * curvature * x**2 + noise * jax.random.normal(key, dtype=x.dtype) * x

    def exact(x):
        return 0.5 * curvature * x**2

    return noisy, exact


def noise_floor(config: Config) -> dict:
    """Constant rates on the noisy quadratic: measured floor vs ησ²/(2(2 − ηλ))."""
    noisy, exact = _quadratic(config)
    rates = np.geomspace(config.floor_rate_min, config.floor_rate_max, config.floor_rate_count)
    sw = gdlab.train.sweep(
        noisy, jnp.asarray(config.x0, jnp.float64), "sgd", {"learning_rate": rates},
        config.quad_steps, seeds=_quad_seeds(config), stochastic=True, eval_fn=exact,
    )
    start = int(round((1 - config.floor_window) * config.quad_steps))
    per_seed = sw.loss[..., start:].mean(axis=-1)  # (rates, seeds): time averages
    measured = per_seed.mean(axis=-1)
    stderr = per_seed.std(axis=-1, ddof=1) / np.sqrt(per_seed.shape[-1])
    theory = floor_theory(rates, config.curvature, config.noise)
    small = rates * config.curvature < 0.2
    slope = np.polyfit(np.log(rates[small]), np.log(measured[small]), 1)[0] if small.sum() > 1 \
        else None
    return {
        "rates": rates, "measured": measured, "stderr": stderr, "theory": theory,
        "slope": slope, "diverged": int((sw.diverged_at >= 0).sum()),
    }


def _quad_schedules(config: Config) -> dict:
    """The schedules run on the quadratic, each with peak 1 (scaled by quad_peak)."""
    T = config.quad_steps
    return {
        "constant": schedules.make("constant", value=1.0),
        "step_decay (×0.1 every T/3)": schedules.make(
            "step_decay", init_value=1.0, step_size=max(T // 3, 1), decay_rate=0.1),
        "exponential (×1e-3 over T)": schedules.make(
            "exponential", init_value=1.0, transition_steps=T, decay_rate=1e-3),
        f"exponential, too fast (×1e-3 per {config.quad_fast_decay})": schedules.make(
            "exponential", init_value=1.0, transition_steps=config.quad_fast_decay,
            decay_rate=1e-3),
        "inverse_time (1/(1 + t/10))": schedules.make(
            "inverse_time", init_value=1.0, timescale=10.0),
        "cosine": schedules.make("cosine", init_value=1.0, decay_steps=T),
    }


def quadratic_schedules(config: Config) -> dict:
    """Every schedule at the same peak on the noisy quadratic; measured vs exact E[f_t]."""
    noisy, exact = _quadratic(config)
    shapes = _quad_schedules(config)
    T = config.quad_steps
    table = np.asarray(schedules.tabulate(list(shapes.values()), T))
    sw = gdlab.train.sweep(
        noisy, jnp.asarray(config.x0, jnp.float64), schedules.table_factory("sgd", table, T),
        {"schedule": np.arange(len(shapes)), "learning_rate": [config.quad_peak]},
        T, seeds=_quad_seeds(config), stochastic=True, eval_fn=exact,
    )
    loss = sw.loss[:, 0]  # (schedules, seeds, T + 1)
    rates = config.quad_peak * table
    theory = mean_loss_theory(rates, config.curvature, config.noise, config.x0)
    bias = 0.5 * config.curvature * (config.x0 * np.prod(1 - rates * config.curvature, -1)) ** 2
    show = np.unique(np.geomspace(1, T + 1, 200).astype(int) - 1)
    final = loss[..., -1]
    return {
        "names": list(shapes), "steps": show, "rate": rates[:, show[:-1]],
        "mean": loss.mean(axis=1)[:, show],
        "stderr": loss.std(axis=1, ddof=1)[:, show] / np.sqrt(loss.shape[1]),
        "theory": theory[:, show],
        "final": final.mean(axis=-1),
        "final_stderr": final.std(axis=-1, ddof=1) / np.sqrt(final.shape[-1]),
        "final_theory": theory[:, -1], "bias_only": bias, "sum_of_rates": rates.sum(axis=-1),
        "diverged": int((sw.diverged_at >= 0).sum()),
    }


# --------------------------------------------------------------------------- MNIST-1D


def _seeds(config: Config) -> list[int]:
    return list(range(config.seed, config.seed + config.num_seeds))


def _warmup_steps(config: Config) -> int:
    return max(int(config.warmup_fraction * config.steps), 1)


def _mnist_shapes(config: Config) -> dict:
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


def _plateau(config: Config, min_scale=0.0):
    return schedules.reduce_on_plateau(
        factor=config.plateau_factor, patience=config.plateau_patience,
        rtol=config.plateau_rtol, accumulation_size=config.plateau_average, min_scale=min_scale)


def _mnist_factory(config: Config, optimizer: str, names: list, table: np.ndarray):
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


def _replay_plateau(config: Config, values: np.ndarray) -> np.ndarray:
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


def _mnist_problem(config: Config):
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


def mnist(config: Config) -> dict:
    """Every schedule × peak × seed in one sweep per optimizer; final scores at tuned peaks."""
    model, minibatch_loss, evaluate, data, train_data = _mnist_problem(config)
    shapes = _mnist_shapes(config)
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


# --------------------------------------------------------------------------- warmup


def warmup_threshold(curvature: float, x0: float) -> float:
    """Largest constant η that converges on ½λx² + ¼x⁴ from x0: 2 / (λ + x0²).

    The step is x ← x·(1 − η(λ + x²)), so |x| shrinks iff η(λ + x²) < 2; from x0 it then
    keeps shrinking (λ + x² only falls), and beyond it |x| grows without bound. The
    relevant curvature is the secant λ + x², not f''(x0) = λ + 3x0².
    """
    return 2 / (curvature + x0**2)


def quartic_warmup(config: Config) -> dict:
    """Constant vs linear warmup on ½λx² + ¼x⁴: which peaks converge, against theory."""
    lam = config.curvature

    def loss(x):
        return 0.5 * lam * x**2 + 0.25 * x**4

    shapes = [schedules.make("constant", value=1.0),
              schedules.make("warmup_constant", init_value=0.0, peak_value=1.0,
                             warmup_steps=config.warm_warmup)]
    peaks = np.geomspace(0.05, 2.5, config.warm_rate_count) / lam
    sw = gdlab.train.sweep(
        loss, jnp.asarray(config.warm_x0, jnp.float64),
        schedules.table_factory("sgd", shapes, config.warm_steps),
        {"schedule": [0, 1], "learning_rate": peaks}, config.warm_steps,
    )
    target = 1e-8 * float(loss(config.warm_x0))
    steps = gdlab.train.steps_to_target(sw.loss, target)
    # Converged = below the target at the end and not growing again: past 2/λ a run that
    # reached ~1e-20 during the warmup climbs away from the (now unstable) minimum by
    # |1 − ηλ| per step, which a 300-step budget may not show as divergence.
    final = np.where(sw.diverged_at < 0, sw.final_loss, np.inf)
    growing = final > 10 * np.asarray(sw.best_loss)
    converged = (sw.diverged_at < 0) & (final <= target) & ~growing
    largest = [float(peaks[row].max()) if row.any() else None for row in converged]
    return {
        "peaks": peaks, "steps_to_target": steps, "diverged": sw.diverged_at >= 0,
        "converged": converged, "left_the_minimum": (steps >= 0) & ~converged
                                                    & (sw.diverged_at < 0),
        "largest_converging": largest,
        "theory_constant": warmup_threshold(lam, config.warm_x0), "theory_limit": 2 / lam,
    }


def all_shapes(config: Config) -> dict:
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
    used = _mnist_shapes(config)
    names = schedules.names()
    table = schedules.tabulate([used[n] if n in used else schedules.make(n, **examples[n])
                                for n in names], T)
    return dict(zip(names, np.asarray(table), strict=True))


# --------------------------------------------------------------------------- run


def _finite(x):
    x = float(x)
    return x if np.isfinite(x) else None


def run(config: Config) -> dict:
    _check(config)
    floor = noise_floor(config)
    quad = quadratic_schedules(config)
    net = mnist(config)
    warm = quartic_warmup(config)

    rel = np.abs(floor["measured"] / floor["theory"] - 1)
    z = np.abs(floor["measured"] - floor["theory"]) / floor["stderr"]
    constant_floor = float(floor_theory(config.quad_peak, config.curvature, config.noise))
    metrics = {
        "noise_floor": {
            "rates": floor["rates"], "measured": floor["measured"], "theory": floor["theory"],
            "max_relative_error": float(rel.max()), "max_standard_errors": float(z.max()),
            "loglog_slope_small_rates": floor["slope"], "diverged_runs": floor["diverged"],
        },
        "quadratic_final_loss": {
            n: {"measured": float(m), "stderr": float(s), "theory": float(t),
                "below_constant_floor_by": constant_floor / float(m),
                "sum_of_rates": float(r)}
            for n, m, s, t, r in zip(quad["names"], quad["final"], quad["final_stderr"],
                                     quad["final_theory"], quad["sum_of_rates"], strict=True)
        },
        "quadratic_constant_floor_theory": constant_floor,
        "too_fast_exponential_bias_floor": float(
            quad["bias_only"][[i for i, n in enumerate(quad["names"]) if "too fast" in n][0]]),
    }
    for opt in config.optimizers:
        r = net[opt]
        metrics[f"mnist_{opt}"] = {
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
            metrics[f"mnist_{opt}"]["reduce_on_plateau"]["reductions"] = [
                int(np.round(np.log(s[-1]) / np.log(config.plateau_factor))) for s in scale]
    peaks, largest = warm["peaks"], warm["largest_converging"]
    metrics["warmup"] = {"quartic": {
        "largest_converging_constant_peak": largest[0],
        "theory_constant_2_over_(lambda+x0^2)": warm["theory_constant"],
        "largest_converging_warmup_peak": largest[1],
        "theory_limit_2_over_lambda": warm["theory_limit"],
        "grid_ratio": float(peaks[1] / peaks[0]),
    }}
    names = net["schedules"]
    if "constant" in names and "warmup_constant" in names:
        for opt in config.optimizers:
            r = net[opt]
            metrics["warmup"][f"mnist_{opt}"] = {
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
    series = {"floor": floor, "quadratic": quad, "mnist": net, "warmup": warm,
              "shapes": all_shapes(config)}
    return {"metrics": metrics, "series": series}


# --------------------------------------------------------------------------- claims


def _forgot_x0(cfg: dict, rates: np.ndarray) -> np.ndarray:
    """Rates whose runs have forgotten x₀ by the averaging window: the bias term
    ½λx₀²(1 − ηλ)^(2·start) is below 1% of the floor there."""
    start = int(round((1 - cfg["floor_window"]) * cfg["quad_steps"]))
    lam, x0 = cfg["curvature"], cfg["x0"]
    bias = 0.5 * lam * x0**2 * (1 - rates * lam) ** (2 * start)
    return bias < 0.01 * floor_theory(rates, lam, cfg["noise"])


def _quadratic_claims(result: dict) -> list[dict]:
    cfg, m, s = result["config"], result["metrics"], result["series"]
    floor = s["floor"]
    rates = plotting.array(floor["rates"])
    measured, theory = plotting.array(floor["measured"]), plotting.array(floor["theory"])
    z = np.abs(measured - theory) / plotting.array(floor["stderr"])
    ok = _forgot_x0(cfg, rates)
    n = cfg["quad_seeds"]
    out = [C.below(f"the noise floor of a constant rate is ησ²/(2(2 − ηλ)) at every rate that "
                   f"has forgotten x₀ ({int(ok.sum())}/{ok.size} rates; largest deviation in "
                   f"standard errors of {n} noise sequences)", float(z[ok].max()) if ok.any()
                   else None, 4.0)]
    small = ok & (rates * cfg["curvature"] < 0.2)
    if small.sum() >= 2:
        slope = np.polyfit(np.log(rates[small]), np.log(measured[small]), 1)[0]
        out.append(C.close(f"the floor is ∝ η at small rates (log-log slope over the "
                           f"{int(small.sum())} rates with ηλ < 0.2 that forgot x₀)", slope,
                           1.0, atol=0.1))
    q = s["quadratic"]
    constant = m["quadratic_constant_floor_theory"]
    finals = m["quadratic_final_loss"]
    decaying = [k for k in finals if k != "constant" and "too fast" not in k]
    worst = min(finals[k]["below_constant_floor_by"] for k in decaying)
    out.append(C.above(f"from η₀ = {cfg['quad_peak']:g}, every slowly decaying schedule "
                       f"({len(decaying)}) ends ≥ 10× below the constant rate's floor "
                       "(smallest factor)", worst, 10.0))
    fast = [k for k in finals if "too fast" in k][0]
    out.append(C.above("decay that is too fast (Σ η < ∞) stalls above the constant rate's "
                       "floor (its final E[f] / the floor)", finals[fast]["measured"] / constant,
                       1.0))
    out.append(C.above("... because E[x_t] = x₀∏(1 − η_tλ) stops short of 0: the bias "
                       "½λ(E[x_T])² alone / the floor", m["too_fast_exponential_bias_floor"]
                       / constant, 1.0))
    # Standard errors from theory: x_T is Gaussian with mean μ (½λμ² = the bias) and
    # variance v = m − μ² (m = E[x_T]², the recursion), so Var(½λx²) = ¼λ²(2v² + 4μ²v).
    # (Sample standard errors of a chi-square mean over few seeds are biased low exactly
    # when the sample mean is low.)
    lam = cfg["curvature"]
    mu2 = 2 * plotting.array(q["bias_only"]) / lam
    v = np.maximum(2 * plotting.array(q["final_theory"]) / lam - mu2, 0)
    se = 0.5 * lam * np.sqrt(2 * v**2 + 4 * mu2 * v) / np.sqrt(n)
    zs = np.abs(plotting.array(q["final"]) - plotting.array(q["final_theory"])) / se
    out.append(C.below(f"every schedule's final E[f] matches the exact mean-square recursion "
                       f"(largest deviation in standard errors of the mean of {n} sequences)",
                       float(zs.max()), 4.0))
    return out


def _warmup_claims(result: dict) -> list[dict]:
    cfg, w = result["config"], result["series"]["warmup"]
    peaks = plotting.array(w["peaks"])
    converged = plotting.array(w["converged"]) > 0
    ratio = float(peaks[1] / peaks[0])
    out = []
    for row, name, limit, text in ((0, "a constant rate", w["theory_constant"],
                                    "2/(λ + x₀²)"),
                                   (1, "a linear warmup", w["theory_limit"], "2/λ")):
        largest = w["largest_converging"][row]
        above = peaks[~converged[row] & (peaks > (largest or 0))]
        first_bad = float(above[0]) if above.size else None
        holds = (largest is not None and first_bad is not None
                 and largest <= limit < first_bad * (1 + 1e-12))
        out.append(C.fact(f"quartic ½λx² + ¼x⁴ from x₀ = {cfg['warm_x0']:g}: {name} converges "
                          f"up to {text} = {limit:.3g} and not one grid step ({ratio:.3f}×) "
                          "beyond", largest, f"largest converging ≤ {limit:.4g} < first "
                          f"failing ({first_bad if first_bad is None else f'{first_bad:.4g}'})",
                          holds))
    return out


def _mnist_claims(result: dict, opt: str) -> list[dict]:
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


def claims(result: dict) -> list[dict]:
    out = _quadratic_claims(result) + _warmup_claims(result)
    for opt in result["config"]["optimizers"]:
        if opt in result["series"]["mnist"]:
            out += _mnist_claims(result, opt)
    return out


# --------------------------------------------------------------------------- plots


# Okabe–Ito, then Tol's wine, teal, olive and indigo, then grey: up to 13 distinct lines.
_MORE_COLORS = [*plotting.COLORS, "#882255", "#44AA99", "#999933", "#332288", "#888888"]


def _colors(n: int):
    if n > len(_MORE_COLORS):
        raise ValueError(f"at most {len(_MORE_COLORS)} colours, asked for {n}")
    return _MORE_COLORS[:n]


def _plot_shapes(result: dict):
    net = result["series"]["mnist"]
    names = net["schedules"]
    steps = result["config"]["steps"]
    shapes = result["series"]["shapes"]
    extra = [n for n in shapes if n not in names]
    cols = 4
    rows = -(-(len(names) + len(extra)) // cols)
    fig, axes = plotting.figure(rows, cols, title="What does each schedule do to the learning "
                                f"rate? η(t) / peak over the same {steps}-step budget",
                                width=13.0, height=2.2 * rows + 0.8, sharex=True)
    t = np.arange(steps)
    opt = "sgd" if "sgd" in net else (result["config"]["optimizers"] or [None])[0]
    plateau = net.get(opt, {}).get("plateau") if opt else None
    for ax, name in zip(axes.flat, names + extra, strict=False):
        if name == "reduce_on_plateau":
            if plateau is not None:
                scale = plotting.array(plateau["scale"])
                for s in scale:
                    ax.plot(t, s, linewidth=1.2)
                ax.set_title(f"{name}\n(replayed from the {opt} runs: loss-driven)", fontsize=9)
        elif name in names:
            ax.plot(t, plotting.array(shapes[name]), color="#0072B2")
            ax.set_title(name + "  (used on MNIST-1D)", fontsize=9)
        else:
            ax.plot(t, plotting.array(shapes[name]), color="0.4")
            ax.set_title(name, fontsize=9)
        ax.set_ylim(-0.05, 1.1)
    for ax in axes.flat[len(names) + len(extra):]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel("step t")
    for ax in axes[:, 0]:
        ax.set_ylabel("η(t) / peak")
    return fig


def _plot_noise_floor(result: dict):
    cfg = result["config"]
    floor, quad = result["series"]["floor"], result["series"]["quadratic"]
    fig, axes = plotting.figure(1, 3, title="Where does noisy SGD stop? A constant rate stalls "
                                "at a floor ∝ η; decaying rates go below it "
                                f"(f = ½λx², λ = {cfg['curvature']:g}, gradient noise "
                                f"σ = {cfg['noise']:g}, {cfg['quad_seeds']} seeds)",
                                width=15.0, height=4.6)
    ax = axes[0, 0]
    rates = plotting.array(floor["rates"])
    fine = np.geomspace(rates.min(), rates.max(), 300)
    ax.loglog(fine, floor_theory(fine, cfg["curvature"], cfg["noise"]),
              label="theory ησ² / (2(2 − ηλ))", **plotting.THEORY)
    ax.loglog(fine, fine * cfg["noise"] ** 2 / 4, color="0.6", linestyle=":", linewidth=1,
              label="small-η limit ησ²/4")
    ax.errorbar(rates, plotting.array(floor["measured"]), yerr=2 * plotting.array(
        floor["stderr"]), fmt="o", markersize=4, color="#0072B2",
        label="measured (mean ± 2 s.e.)")
    slope = floor["slope"]
    ax.set(xlabel="learning rate η (log)", ylabel="E[f] at stationarity (log)",
           title="noise floor vs constant rate" + (f": slope {slope:.3f}" if slope else ""))
    ax.legend(loc="upper left")

    ax = axes[0, 1]
    steps = plotting.array(quad["steps"]) + 1
    colors = _colors(len(quad["names"]))
    for name, mean, se, theory, c in zip(quad["names"], quad["mean"], quad["stderr"],
                                         quad["theory"], colors, strict=True):
        mean, se = plotting.array(mean), plotting.array(se)
        ax.fill_between(steps, np.maximum(mean - 2 * se, mean / 3), mean + 2 * se, color=c,
                        alpha=0.2, linewidth=0)
        ax.loglog(steps, mean, color=c, label=name)
        ax.loglog(steps, plotting.array(theory), color=c, linestyle="--", linewidth=0.9)
    floor0 = floor_theory(cfg["quad_peak"], cfg["curvature"], cfg["noise"])
    ax.axhline(floor0, color="0.3", linewidth=0.8, linestyle=":",
               label=f"constant-rate floor at η₀ (theory) = {floor0:.2g}")
    ax.plot([], [], label="exact E[f_t] (recursion)", **plotting.THEORY)
    ax.set(xlabel="step t + 1 (log)", ylabel="E[f(x_t)] (log)",
           title=f"schedules from the same peak η₀ = {cfg['quad_peak']:g}")
    ax.legend(loc="lower left", fontsize=7.5)

    ax = axes[0, 2]
    for name, rate, c in zip(quad["names"], quad["rate"], colors, strict=True):
        ax.loglog(steps[:-1], plotting.array(rate), color=c, label=name)
    ax.set(xlabel="step t + 1 (log)", ylabel="η(t) (log)", title="the rates they use")
    ax.set_ylim(1e-7 * cfg["quad_peak"], 2 * cfg["quad_peak"])
    return fig


_OPT_COLORS = {"sgd": "#0072B2", "adam": "#D55E00"}


def _plot_mnist(result: dict):
    """Tuning the peak (one heat map per optimizer) and test accuracy at the tuned peaks."""
    net, cfg = result["series"]["mnist"], result["config"]
    opts = [o for o in cfg["optimizers"] if o in net]
    names = net["schedules"]
    fig, axes = plotting.figure(
        1, len(opts) + 1, title="Which schedule trains the MNIST-1D MLP best? Each at its own "
        f"tuned peak rate ({cfg['steps']} steps, batch {cfg['batch_size']}, "
        f"{cfg['num_seeds']} seeds)", width=5.0 * len(opts) + 6.5,
        height=0.36 * len(names) + 2.6, gridspec_kw={"width_ratios": [1] * len(opts) + [1.2]})
    for ax, opt in zip(axes[0], opts, strict=False):
        r = net[opt]
        peaks = plotting.array(r["peaks"])
        table = plotting.array(r["mean_final_train_loss"])  # (schedules, peaks), inf: diverged
        finite = np.where(np.isfinite(table), table, np.nan)
        image = ax.imshow(np.log10(finite), aspect="auto", cmap="viridis_r")
        fig.colorbar(image, ax=ax, label="log₁₀ final train loss (mean of seeds)", shrink=0.8)
        bad = np.argwhere(~np.isfinite(table))
        ax.plot(bad[:, 1], bad[:, 0], "x", color="#D55E00", markersize=6, linestyle="none",
                label="a seed diverged")
        best = np.asarray(r["best_index"], int)
        ax.plot(best, np.arange(len(names)), "s", markersize=11, markerfacecolor="none",
                markeredgecolor="white", markeredgewidth=1.8, linestyle="none",
                label="tuned peak (white square)")
        ax.set_xticks(np.arange(len(peaks)), [f"{p:g}" for p in peaks], fontsize=7.5)
        ax.set_yticks(np.arange(len(names)), names, fontsize=8)
        ax.set(xlabel="peak learning rate", title=f"{opt}: tuning the peak")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncols=2, fontsize=7.5)
    ax = axes[0, -1]
    width = 0.8 / len(opts)
    y = np.arange(len(names))
    for k, opt in enumerate(opts):
        acc = plotting.array(net[opt]["tuned"]["test_accuracy"])  # (schedules, seeds)
        med = np.nanmedian(acc, axis=1)
        lo, hi = med - np.nanmin(acc, axis=1), np.nanmax(acc, axis=1) - med
        offset = (k - (len(opts) - 1) / 2) * width
        ax.barh(y + offset, med, height=width, xerr=[lo, hi], color=_OPT_COLORS[opt],
                alpha=0.85, label=f"{opt} (median, min–max of seeds)", error_kw={"lw": 0.8})
    ax.axvline(0.1, label="chance (10 classes)", **plotting.THEORY)
    ax.set_yticks(y, names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set(xlabel="test accuracy at the tuned peak", title="held-out accuracy (axis from 0)")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncols=2, fontsize=7.5)
    return fig


def _plot_mnist_curves(result: dict):
    """Small multiples: each schedule's training curve at its tuned peak, constant as reference."""
    net, cfg = result["series"]["mnist"], result["config"]
    opts = [o for o in cfg["optimizers"] if o in net]
    names = net["schedules"]
    cols = 4
    rows = -(-len(names) // cols)
    fig, axes = plotting.figure(rows, cols, title="How does each schedule train the MNIST-1D "
                                "MLP at its tuned peak? (median of seeds, band: min–max; grey: "
                                "the constant rate)", width=14.0, height=2.7 * rows + 0.8,
                                sharex=True, sharey=True)
    for ax, i in zip(axes.flat, range(len(names)), strict=False):
        for opt in opts:
            r = net[opt]
            t = plotting.array(r["curve_steps"])
            curves = plotting.array(r["curves"])  # (schedules, seeds, points)
            if "constant" in names and names[i] != "constant":
                ax.plot(t, np.nanmedian(curves[names.index("constant")], 0), color="0.6",
                        linewidth=0.9, linestyle="--")
            ax.fill_between(t, np.nanmin(curves[i], 0), np.nanmax(curves[i], 0),
                            color=_OPT_COLORS[opt], alpha=0.2, linewidth=0)
            ax.plot(t, np.nanmedian(curves[i], 0), color=_OPT_COLORS[opt], linewidth=1.3,
                    label=f"{opt} (peak {r['best_peak'][i]:g})")
        ax.set_yscale("log")
        ax.set_title(names[i], fontsize=9)
        ax.legend(fontsize=7, loc="upper right")
    for ax in axes.flat[len(names):]:
        ax.set_visible(False)
    for col in range(cols):  # the lowest visible panel of each column carries the x axis
        shown = [ax for ax in axes[:, col] if ax.get_visible()]
        if shown:
            shown[-1].set_xlabel("step")
            shown[-1].xaxis.set_tick_params(labelbottom=True)
    for ax in axes[:, 0]:
        ax.set_ylabel(f"minibatch loss (log, mean of {cfg['smooth']} steps)", fontsize=8)
    return fig


def _plot_warmup(result: dict):
    cfg = result["config"]
    w = result["series"]["warmup"]
    net = result["series"]["mnist"]
    names = net["schedules"]
    opts = [o for o in cfg["optimizers"] if o in net]
    both = "constant" in names and "warmup_constant" in names
    panels = 1 + (len(opts) if both else 0)
    fig, axes = plotting.figure(1, panels, title="What does a linear warmup buy? The rate "
                                "grows while the curvature falls;\nit does not move the "
                                "edge of stability", width=5.2 * panels + 0.6, height=4.8)
    styles = {0: ("constant", "-", "#D55E00"), 1: ("warmup", "--", "#0072B2")}
    ax = axes[0, 0]
    peaks = plotting.array(w["peaks"])
    steps = plotting.array(w["steps_to_target"])
    for i, (label, style, color) in styles.items():
        ok = plotting.array(w["converged"][i]) > 0
        best = w["largest_converging"][i]
        ax.loglog(peaks[ok], steps[i][ok], style, color=color, marker="o", markersize=3,
                  label=f"{label}: converges up to η = {best:.3g}" if best else label)
        dead = plotting.array(w["diverged"][i]) > 0
        plotting.mark_diverged(ax, peaks[dead], np.full(dead.sum(), cfg["warm_steps"] * 1.5),
                               label="_")
        if "left_the_minimum" in w:
            left = plotting.array(w["left_the_minimum"][i]) > 0
            ax.plot(peaks[left], steps[i][left], "s", color=color, markerfacecolor="none",
                    markersize=5, linestyle="none", label=f"{label}: reached the target, then "
                    "grew again (unstable)" if left.any() else "_")
    lam, x0 = cfg["curvature"], cfg["warm_x0"]
    ax.axvline(w["theory_constant"], label=f"2/(λ + x₀²) = {w['theory_constant']:.3g}",
               **plotting.THEORY)
    ax.axvline(2 / (lam + 3 * x0**2), color="0.6", linestyle=":", linewidth=1,
               label=f"2/f''(x₀) = {2 / (lam + 3 * x0**2):.3g}")
    ax.axvline(w["theory_limit"], color="0.25", linestyle="-.", linewidth=1,
               label=f"2/λ = {w['theory_limit']:.3g} (at the minimum)")
    ax.plot([], [], label="diverged", **plotting.DIVERGED)
    ax.set(xlabel="peak rate η (log)", ylabel="steps to f < 1e-8·f(x₀) (log)",
           title=f"½λx² + ¼x⁴ from x₀ = {x0:g} (λ = {lam:g}); "
                 f"warmup over {cfg['warm_warmup']} steps")
    ax.set_ylim(top=cfg["warm_steps"] * 6)
    ax.legend(fontsize=7, loc="upper center", ncols=2)

    if both:
        rows = {0: names.index("constant"), 1: names.index("warmup_constant")}
        for ax, opt in zip(axes[0, 1:], opts, strict=True):
            r = net[opt]
            peaks = plotting.array(r["peaks"])
            spike = plotting.array(r["early_spike"])  # (schedules, peaks, seeds)
            finite = spike[np.isfinite(spike)]
            ceiling = (finite.max() if finite.size else 1.0) * 2
            for i, (label, style, color) in styles.items():
                s = spike[rows[i]]
                worst = np.where(np.all(np.isfinite(s), -1), s.max(-1), np.nan)
                ax.loglog(peaks, worst, style, color=color, marker="o", markersize=4,
                          label=label + (" (0 → peak linearly)" if i else ""))
                dead = plotting.array(r["diverged_at"])[rows[i]]
                for j, p in enumerate(peaks):
                    if np.any(dead[j] >= 0):
                        ax.plot(p, ceiling * (1.6 if i else 1), **plotting.DIVERGED)
                        ax.annotate(f"step {int(np.min(dead[j][dead[j] >= 0]))}",
                                    (p, ceiling * (1.6 if i else 1)), textcoords="offset points",
                                    xytext=(-10, 6), fontsize=7, color=color)
            ax.axhline(1, color="0.5", linewidth=0.8)
            _peak_ticks(ax, peaks)
            ax.plot([], [], label="diverged (first step noted)", **plotting.DIVERGED)
            ax.set(xlabel="peak rate (log)",
                   ylabel=f"max loss in the first {_warm_steps(cfg)} steps / initial loss",
                   title=f"MNIST-1D MLP, {opt}: early spikes (worst seed)")
            ax.set_ylim(top=ceiling * 4)
            ax.legend(fontsize=7.5, loc="upper left")
    return fig


def _peak_ticks(ax, peaks) -> None:
    """Label a log x-axis exactly at the swept peaks (no minor-tick clutter)."""
    ax.set_xscale("log")
    ax.set_xticks(peaks, [f"{p:g}" for p in peaks])
    ax.minorticks_off()


def _warm_steps(cfg: dict) -> int:
    return max(int(cfg["warmup_fraction"] * cfg["steps"]), 1)


def plot(result: dict) -> dict:
    return {
        "shapes": _plot_shapes(result),
        "noise_floor": _plot_noise_floor(result),
        "mnist": _plot_mnist(result),
        "mnist_curves": _plot_mnist_curves(result),
        "warmup": _plot_warmup(result),
    }


if __name__ == "__main__":
    gdlab.experiment.script_main(__file__)
