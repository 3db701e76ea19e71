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
    return _quadratic_losses(float(config.curvature), float(config.noise))


@functools.cache
def _quadratic_losses(curvature: float, noise: float):
    # one pair of functions per quadratic: a rerun (another seed) reuses the compiled sweeps
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


def _quad_schedules(T: int, fast_decay: int) -> dict:
    """The schedules run on the quadratic over T steps, each with peak 1 (scaled by
    quad_peak)."""
    return {
        "constant": schedules.make("constant", value=1.0),
        "step_decay (×0.1 every T/3)": schedules.make(
            "step_decay", init_value=1.0, step_size=max(T // 3, 1), decay_rate=0.1),
        "exponential (×1e-3 over T)": schedules.make(
            "exponential", init_value=1.0, transition_steps=T, decay_rate=1e-3),
        f"exponential, too fast (×1e-3 per {fast_decay})": schedules.make(
            "exponential", init_value=1.0, transition_steps=fast_decay,
            decay_rate=1e-3),
        "inverse_time (1/(1 + t/10))": schedules.make(
            "inverse_time", init_value=1.0, timescale=10.0),
        "cosine": schedules.make("cosine", init_value=1.0, decay_steps=T),
    }


@functools.cache
def _quad_table(steps: int, fast_decay: int):
    """(schedules, their table, the sweep's factory), built once per budget: ``train.sweep``
    knows a factory by identity, so a rerun with another seed reuses the compiled sweep."""
    shapes = _quad_schedules(steps, fast_decay)
    table = np.asarray(schedules.tabulate(list(shapes.values()), steps))
    return shapes, table, schedules.table_factory("sgd", table, steps)


def quadratic_schedules(config: Config) -> dict:
    """Every schedule at the same peak on the noisy quadratic; measured vs exact E[f_t]."""
    noisy, exact = _quadratic(config)
    T = config.quad_steps
    shapes, table, factory = _quad_table(T, config.quad_fast_decay)
    sw = gdlab.train.sweep(
        noisy, jnp.asarray(config.x0, jnp.float64), factory,
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


@functools.cache
def _load(name: str):
    """A private module of this experiment (experiments/_lr_schedules_<name>.py)."""
    return gdlab.experiment.sibling(__file__, f"_lr_schedules_{name}")


def mnist(config: Config) -> dict:
    """Every schedule × peak × seed in one sweep per optimizer (_lr_schedules_mnist.py)."""
    return _load("mnist").mnist(config)


# --------------------------------------------------------------------------- warmup


def warmup_threshold(curvature: float, x0: float) -> float:
    """Largest constant η that converges on ½λx² + ¼x⁴ from x0: 2 / (λ + x0²).

    The step is x ← x·(1 − η(λ + x²)), so |x| shrinks iff η(λ + x²) < 2; from x0 it then
    keeps shrinking (λ + x² only falls), and beyond it |x| grows without bound. The
    relevant curvature is the secant λ + x², not f''(x0) = λ + 3x0².
    """
    return 2 / (curvature + x0**2)


@functools.cache
def _quartic(lam: float, warmup: int, steps: int):
    """(loss ½λx² + ¼x⁴, factory of constant vs linear warmup), built once per setting."""

    def loss(x):
        return 0.5 * lam * x**2 + 0.25 * x**4

    shapes = [schedules.make("constant", value=1.0),
              schedules.make("warmup_constant", init_value=0.0, peak_value=1.0,
                             warmup_steps=warmup)]
    return loss, schedules.table_factory("sgd", shapes, steps)


def quartic_warmup(config: Config) -> dict:
    """Constant vs linear warmup on ½λx² + ¼x⁴: which peaks converge, against theory."""
    lam = config.curvature
    loss, factory = _quartic(float(lam), config.warm_warmup, config.warm_steps)
    peaks = np.geomspace(0.05, 2.5, config.warm_rate_count) / lam
    sw = gdlab.train.sweep(
        loss, jnp.asarray(config.warm_x0, jnp.float64), factory,
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


# --------------------------------------------------------------------------- run


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
    per_optimizer, warmup = _load("mnist").metrics(config, net)
    metrics.update(per_optimizer)
    peaks, largest = warm["peaks"], warm["largest_converging"]
    metrics["warmup"] = {"quartic": {
        "largest_converging_constant_peak": largest[0],
        "theory_constant_2_over_(lambda+x0^2)": warm["theory_constant"],
        "largest_converging_warmup_peak": largest[1],
        "theory_limit_2_over_lambda": warm["theory_limit"],
        "grid_ratio": float(peaks[1] / peaks[0]),
    }}
    metrics["warmup"].update(warmup)
    series = {"floor": floor, "quadratic": quad, "mnist": net, "warmup": warm,
              "shapes": _load("mnist").all_shapes(config)}
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


def claims(result: dict) -> list[dict]:
    out = _quadratic_claims(result) + _warmup_claims(result)
    for opt in result["config"]["optimizers"]:
        if opt in result["series"]["mnist"]:
            out += _load("mnist").claims(result, opt)
    return out


# --------------------------------------------------------------------------- plots


def plot(result: dict) -> dict:
    fig = _load("figures")
    return {
        "shapes": fig.shapes(result),
        "noise_floor": fig.noise_floor(result, floor_theory),
        "mnist": fig.mnist(result),
        "mnist_curves": fig.mnist_curves(result),
        "warmup": fig.warmup(result),
    }


if __name__ == "__main__":
    gdlab.experiment.script_main(__file__)
