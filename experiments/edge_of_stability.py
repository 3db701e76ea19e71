"""Does full-batch GD at rate η drive the sharpness up to 2/η and hover there (edge of stability)?

Cohen, Kaur, Li, Kolter & Talwalkar (ICLR 2021): on a neural network trained by full-batch
gradient descent with step η, the sharpness λ_max(∇²L) first rises ("progressive
sharpening") until it reaches 2/η, the threshold beyond which GD on a quadratic would
diverge, and then stays near 2/η while the loss keeps falling over the long run, but
not monotonically. Here: a 40-32-10 tanh MLP (1642 float32 parameters, Xavier init) with
square loss ½‖f(x) − onehot(y)‖² on 500 MNIST-1D examples (``gdlab.problems``
"mnist1d_mlp", loss="mse"); every rate × seed runs in one vmapped ``train.sweep`` (shared
with the heavy-ball runs: heavy ball with β = 0 is GD), whose "sharpness" instrument
measures λ_max every k steps by Lanczos on Hessian-vector products inside the compiled
run. A run with a small η stands in
for gradient flow: plotted against time η·t it shows the sharpness rising straight past
the edges where the larger-η runs stop.

Beside plain GD, the same question for the stability edges of two other optimizers,
read from the sweep's instruments (``gdlab.train`` ``instruments=``, Lanczos inside the
compiled run): heavy-ball momentum β, whose plain sharpness has the edge 2(1 + β)/η
(Cohen et al. 2021), and Adam, whose *preconditioned* sharpness λ_max(P⁻¹H), P the
bias-corrected (√v̂ + ε)(1 − β₁ᵗ), has the edge (2 + 2β₁)/((1 − β₁)η) = 38/η at
β₁ = 0.9 (Cohen et al. 2022, "Adaptive gradient methods at the edge of stability").

The dynamics at the edge are chaotic: single runs (and one run on two CPUs) differ step
by step. The claims are what is robust: medians over seeds of the sharpness over the
last part of training, within a band around 2/η.

Run:    gdlab run edge_of_stability      (or: python experiments/edge_of_stability.py --help)
Writes: results/edge_of_stability/result.json, sharpness.png, edges.png
The measured numbers are the claims in results/edge_of_stability/result.json
(`gdlab list`).
"""

import functools
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import optax

import gdlab
from gdlab import claims as C
from gdlab import plotting


@dataclass(frozen=True)
class Config:
    num_examples: int = 500  # MNIST-1D training examples (full batch)
    hidden: int = 32  # width of the single tanh hidden layer (40-hidden-10)
    learning_rates: tuple[float, ...] = (0.3, 0.25, 0.2)  # GD step sizes η; edges 2/η
    num_steps: int = 2000  # GD steps per run
    record_every: int = 40  # measure the sharpness every k steps
    flow_learning_rate: float = 0.1  # small η (2/η far above the sharpness) as gradient flow
    flow_time: float = 500.0  # gradient-flow time η·t covered by the reference run
    flow_record_every: int = 100  # measure the flow's sharpness every k of its steps
    lanczos_iters: int = 20  # Lanczos steps per sharpness measurement
    edge_fraction: float = 0.9  # "reached the edge" = sharpness ≥ this·2/η
    settle_window: float = 0.5  # "settled" = the last this fraction of the steps
    band: float = 0.1  # claim: the settled sharpness·η/2 lies within 1 ± band
    momentum: float = 0.9  # heavy ball's β; its edge is 2(1 + β)/η
    momentum_learning_rates: tuple[float, ...] = (0.3, 0.2)  # heavy-ball step sizes η
    b1: float = 0.9  # Adam's β₁; its preconditioned edge is (2 + 2β₁)/((1 − β₁)η)
    adam_learning_rates: tuple[float, ...] = (0.02, 0.01)  # Adam step sizes η
    seed: int = 0  # first seed (initialisation); seeds seed … seed + num_seeds − 1
    num_seeds: int = 5


# The quick flow covers as many steps as the GD runs (η·t = 40 at η = 0.1), so it shares
# their compiled sweep.
QUICK = {"num_examples": 200, "learning_rates": (0.25,), "num_steps": 400, "record_every": 40,
         "flow_time": 40.0, "flow_record_every": 40, "momentum_learning_rates": (0.2,),
         "adam_learning_rates": (0.06,)}


def _check(config: Config) -> None:
    if config.num_examples < 10 or config.hidden < 1:
        raise ValueError("num_examples must be >= 10 and hidden >= 1")
    for name in ("learning_rates", "momentum_learning_rates", "adam_learning_rates"):
        rates = getattr(config, name)
        if not rates or not all(np.isfinite(r) and r > 0 for r in rates):
            raise ValueError(f"{name} must be a non-empty tuple of positive numbers")
    if not 0 <= config.momentum < 1 or not 0 <= config.b1 < 1:
        raise ValueError("momentum and b1 must be in [0, 1)")
    if config.flow_learning_rate <= 0 or config.flow_time <= 0:
        raise ValueError("flow_learning_rate and flow_time must be > 0")
    if min(config.record_every, config.flow_record_every) < 1:
        raise ValueError("record_every and flow_record_every must be >= 1")
    if config.num_steps % config.record_every:
        raise ValueError("record_every must divide num_steps")
    if not 0 < config.edge_fraction <= 1:
        raise ValueError("edge_fraction must be in (0, 1]")
    if not 0 < config.settle_window <= 1 or not 0 < config.band < 1:
        raise ValueError("settle_window must be in (0, 1] and band in (0, 1)")
    if config.seed < 0 or config.num_seeds < 1:
        raise ValueError("seed must be >= 0 and num_seeds >= 1")


def problem(config: Config):
    """The MLP problem record (square loss, full batch) and its training data."""
    p = gdlab.problems.mnist1d_mlp(hidden=config.hidden, activation="tanh", loss="mse",
                                   train_size=config.num_examples)
    return p, {"x": p.data["x"], "y": p.data["y"]}


def _seeds(config: Config) -> list[int]:
    return list(range(config.seed, config.seed + config.num_seeds))


def trace(p, data, learning_rates, num_steps: int, k: int, config: Config, *,
          optimizer: str = "sgd", hyperparameters=None, instrument: str = "sharpness",
          record="all") -> dict:
    """Every rate × seed in one sweep; the sharpness (or, for Adam, the preconditioned
    sharpness λ_max(P⁻¹H)) every k-th step from the sweep's instruments (Lanczos on
    Hessian-vector products inside the compiled run); the loss as ``record`` says."""
    probe = gdlab.train.Instruments((instrument,), lanczos_steps=config.lanczos_iters,
                                    b1=config.b1 if optimizer == "adam" else None)
    sw = gdlab.train.sweep(p.loss, p.init, optimizer, {"learning_rate": list(learning_rates)},
                           num_steps, seeds=_seeds(config), data=data,
                           hyperparameters=hyperparameters, record=record,
                           divergence_factor=None, instruments=probe, instrument_every=k)
    return {"learning_rates": np.asarray(learning_rates, float),
            "steps": np.asarray(sw.instrument_steps),
            "sharpness": np.asarray(sw.instruments[instrument], float),  # (rates, seeds, points)
            "loss": np.asarray(sw.loss, float),  # (rates, seeds, recorded steps)
            "diverged": (np.asarray(sw.diverged_at) >= 0)}


@functools.cache
def _heavy_ball(rates: tuple[float, ...], betas: tuple[float, ...]):
    """A factory ``make(run)``: heavy ball (``optax.sgd`` with momentum) at the learning
    rate and β of row ``run`` of the table, ``run`` a traced number swept as the grid, so
    only the runs asked for are run, in one compiled program."""

    def make(run):
        i, dtype = jnp.asarray(run).astype(jnp.int32), jnp.asarray(run).dtype
        return optax.sgd(jnp.asarray(rates, dtype)[i], momentum=jnp.asarray(betas, dtype)[i])

    return make


def heavy_ball_traces(p, data, groups: dict, num_steps: int, k: int, config: Config) -> dict:
    """Several groups of heavy-ball runs, {name: (learning rates, β)}, every run × seed in
    one sweep, so one compiled program serves them all. Heavy ball with β = 0 is plain GD
    (v ← 0·v + g = g exactly). Returns ``trace``'s dict per group; the loss is recorded at
    every step."""
    table = [(float(lr), float(beta)) for lrs, beta in groups.values() for lr in lrs]
    probe = gdlab.train.Instruments(("sharpness",), lanczos_steps=config.lanczos_iters)
    sw = gdlab.train.sweep(p.loss, p.init, _heavy_ball(*map(tuple, zip(*table, strict=True))),
                           {"run": np.arange(len(table))}, num_steps, seeds=_seeds(config),
                           data=data, divergence_factor=None, instruments=probe,
                           instrument_every=k)
    out, first = {}, 0
    for name, (lrs, _) in groups.items():
        rows = slice(first, first + len(lrs))
        first += len(lrs)
        out[name] = {"learning_rates": np.asarray(lrs, float),
                     "steps": np.asarray(sw.instrument_steps),
                     "sharpness": np.asarray(sw.instruments["sharpness"], float)[rows],
                     "loss": np.asarray(sw.loss, float)[rows],
                     "diverged": (np.asarray(sw.diverged_at) >= 0)[rows]}
    return out


def _settled(sharpness, edge, config: Config) -> float:
    """Median of sharpness / edge over the settle window (the last part of the run)."""
    ratio = np.asarray(sharpness, float) / edge
    return float(np.median(ratio[int(np.floor((1 - config.settle_window) * len(ratio))):]))


def _per_run(steps, sharpness, loss, lr, config: Config) -> dict:
    """One run's numbers: settled sharpness·η/2, when it reached the edge, loss rises."""
    ratio = sharpness * lr / 2
    start = int(np.floor((1 - config.settle_window) * len(ratio)))
    # The edge is reached when the sharpness comes back up to edge_fraction·2/η after the
    # initial drop (at initialisation it may start above the edge).
    low = int(np.argmin(ratio))
    reached = low + np.nonzero(ratio[low:] >= config.edge_fraction)[0]
    return {"median_ratio_settled": float(np.median(ratio[start:])),
            "step_reaching_edge": int(steps[reached[0]]) if reached.size else None,
            "fraction_loss_increases": float(np.mean(np.diff(loss) > 0)),
            "final_over_initial_loss": float(loss[-1] / loss[0]),
            "initial_sharpness": float(sharpness[0])}


def _summary(values) -> dict:
    v = np.asarray([np.nan if x is None else x for x in values], dtype=float)
    ok = v[np.isfinite(v)]
    if not ok.size:
        return {"median": None, "min": None, "max": None, "count": 0}
    return {"median": float(np.median(ok)), "min": float(ok.min()), "max": float(ok.max()),
            "count": int(ok.size)}


def run(config: Config) -> dict:
    _check(config)
    p, data = problem(config)
    k = config.record_every
    groups = {"runs": (config.learning_rates, 0.0),
              "heavy_ball": (config.momentum_learning_rates, config.momentum)}
    flow_k = config.flow_record_every
    flow_steps = int(round(config.flow_time / config.flow_learning_rate))
    flow_steps = max(flow_steps - flow_steps % flow_k, flow_k)
    shared = (flow_steps, flow_k) == (config.num_steps, k)  # then the flow joins the sweep
    if shared:
        groups["flow"] = ((config.flow_learning_rate,), 0.0)
    traced = heavy_ball_traces(p, data, groups, config.num_steps, k, config)
    runs, heavy = traced["runs"], traced["heavy_ball"]
    heavy["loss"] = heavy["loss"][..., ::k]  # heavy ball's loss: every k-th step is enough
    flow = traced["flow"] if shared else trace(p, data, [config.flow_learning_rate],
                                               flow_steps, flow_k, config)
    params = jax.tree.leaves(jax.eval_shape(p.init, jax.random.key(0)))
    metrics = {"parameters": int(sum(a.size for a in params)), "seeds": _seeds(config),
               "initial_sharpness": _summary(runs["sharpness"][0, :, 0])}
    per_run = {}
    for i, lr in enumerate(config.learning_rates):
        rows = [_per_run(runs["steps"], runs["sharpness"][i, j], runs["loss"][i, j], lr, config)
                for j in range(config.num_seeds)]
        per_run[f"eta_{lr:g}"] = rows
        metrics[f"eta_{lr:g}"] = {
            "edge_2_over_eta": 2 / lr,
            "diverged_runs": int(runs["diverged"][i].sum()),
            **{key: _summary([r[key] for r in rows]) for key in rows[0]},
        }
    final = flow["sharpness"][0, :, -1]
    metrics["flow"] = {
        "learning_rate": config.flow_learning_rate, "time": float(flow["steps"][-1]
                                                                  * config.flow_learning_rate),
        "final_sharpness": _summary(final),
        "final_sharpness_over_largest_edge": _summary(final / (2 / min(config.learning_rates))),
    }
    adam = trace(p, data, config.adam_learning_rates, config.num_steps, k, config,
                 optimizer="adam", hyperparameters={"b1": config.b1},
                 instrument="preconditioned_sharpness", record=k)
    edges = {"heavy_ball": lambda lr: gdlab.train.edge(lr, momentum=config.momentum),
             "adam": lambda lr: gdlab.train.edge(lr, b1=config.b1)}
    for name, out in (("heavy_ball", heavy), ("adam", adam)):
        for i, lr in enumerate(out["learning_rates"]):
            edge = float(edges[name](lr))
            ratios = [_settled(out["sharpness"][i, j], edge, config)
                      for j in range(config.num_seeds)]
            per_run[f"{name}_{lr:g}"] = [{"settled_over_edge": r} for r in ratios]
            metrics[f"{name}_{lr:g}"] = {
                "edge": edge, "diverged_runs": int(out["diverged"][i].sum()),
                "settled_over_edge": _summary(ratios),
                "settled_times_eta_over_2": _summary(np.asarray(ratios) * edge * lr / 2)}
    return {"metrics": metrics, "series": {"runs": runs, "flow": flow, "heavy_ball": heavy,
                                           "adam": adam, "per_run": per_run}}


# --------------------------------------------------------------------------- claims


def claims(result: dict) -> list[dict]:
    cfg, s = result["config"], result["series"]
    seeds = result["metrics"]["seeds"]
    band, window = cfg["band"], cfg["settle_window"]
    out = []
    for lr in cfg["learning_rates"]:
        rows = s["per_run"][f"eta_{lr:g}"]
        out.append(C.over_seeds(
            f"η = {lr:g}: the sharpness settles within {band:.0%} of 2/η = {2 / lr:.3g} "
            f"(median of λ_max·η/2 over the last {window:.0%} of {cfg['num_steps']} steps)",
            [r["median_ratio_settled"] for r in rows], lower=1 - band, upper=1 + band,
            seeds=seeds))
        out.append(C.over_seeds(
            f"η = {lr:g}: after its initial drop the sharpness climbs back to "
            f"{cfg['edge_fraction']:g}·2/η within the {cfg['num_steps']} steps (step reached)",
            [np.inf if r["step_reaching_edge"] is None else r["step_reaching_edge"]
             for r in rows], upper=cfg["num_steps"], strict=False, seeds=seeds))
        out.append(C.over_seeds(
            f"η = {lr:g}: the loss still falls overall (final / initial loss)",
            [r["final_over_initial_loss"] for r in rows], upper=0.5, seeds=seeds))
    largest = max(cfg["learning_rates"])
    rises = [r["fraction_loss_increases"] for r in s["per_run"][f"eta_{largest:g}"]]
    out.append(C.over_seeds(f"η = {largest:g}: but not monotonically (fraction of steps on "
                            "which the loss rises)", rises, lower=0.01, seeds=seeds))
    steps, beta, b1 = cfg["num_steps"], cfg["momentum"], cfg["b1"]
    for lr in cfg["adam_learning_rates"]:
        edge = (2 + 2 * b1) / ((1 - b1) * lr)
        out.append(C.over_seeds(
            f"Adam η = {lr:g}, β₁ = {b1:g}: the preconditioned sharpness λ_max(P⁻¹H) settles "
            f"within {band:.0%} of (2 + 2β₁)/((1 − β₁)η) = {edge:.4g} (median of λ/edge over "
            f"the last {window:.0%} of {steps} steps)",
            [r["settled_over_edge"] for r in s["per_run"][f"adam_{lr:g}"]],
            lower=1 - band, upper=1 + band, seeds=seeds))
    for lr in cfg["momentum_learning_rates"]:
        edge = 2 * (1 + beta) / lr
        rows = s["per_run"][f"heavy_ball_{lr:g}"]
        out.append(C.over_seeds(
            f"heavy ball η = {lr:g}, β = {beta:g}: within {steps} steps the sharpness does not "
            f"reach its edge 2(1 + β)/η = {edge:.3g}, though it climbs past half of it "
            f"(median of λ/edge over the last {window:.0%})",
            [r["settled_over_edge"] for r in rows], lower=0.5, upper=1.0, seeds=seeds))
        out.append(C.over_seeds(
            f"heavy ball η = {lr:g}: momentum lets the sharpness settle above plain GD's edge "
            f"2/η = {2 / lr:.3g} (median of λ·η/2 over the last {window:.0%})",
            [r["settled_over_edge"] * edge * lr / 2 for r in rows], lower=1.0, seeds=seeds))
    final = np.asarray(plotting.array(s["flow"]["sharpness"]))[0, :, -1]
    edge = 2 / min(cfg["learning_rates"])
    out.append(C.over_seeds(
        f"gradient flow (η = {cfg['flow_learning_rate']:g}) sharpens past every edge: its "
        f"final sharpness / the largest edge 2/η = {edge:.3g}", final / edge, lower=1.0,
        seeds=seeds))
    return out


# --------------------------------------------------------------------------- figure


def _band(ax, x, values, color, label):
    """Median over seeds (line) and min–max (shaded) of ``values`` (seeds, points)."""
    ax.fill_between(x, np.nanmin(values, 0), np.nanmax(values, 0), color=color, alpha=0.2,
                    linewidth=0)
    return ax.plot(x, np.nanmedian(values, 0), color=color, label=label)[0]


def plot(result: dict) -> dict:
    s, cfg = result["series"], result["config"]
    runs, flow = s["runs"], s["flow"]
    n = len(result["metrics"]["seeds"])
    fig, axes = plotting.figure(1, 3, title="Does full-batch gradient descent sit at the edge "
                                f"of stability, sharpness ≈ 2/η? (median and min–max of {n} "
                                "seeds)", width=15.5, height=4.8)
    ax_s, ax_l, ax_t = axes[0]
    steps = plotting.array(runs["steps"])
    sharp = plotting.array(runs["sharpness"])
    loss = plotting.array(runs["loss"])
    for i, (lr, color) in enumerate(zip(cfg["learning_rates"], plotting.COLORS, strict=False)):
        settled = result["metrics"][f"eta_{lr:g}"]["median_ratio_settled"]["median"]
        _band(ax_s, steps, sharp[i], color,
              f"GD η = {lr:g}: settled λη/2 = {settled:.3f} (median)")
        ax_s.axhline(2 / lr, **{**plotting.THEORY, "color": color})
        ax_l.plot(np.arange(loss.shape[-1]), loss[i, 0], color=color, linewidth=0.8,
                  label=f"η = {lr:g}")
        _band(ax_t, steps * lr, sharp[i], color, f"GD η = {lr:g}")
        ax_t.axhline(2 / lr, **{**plotting.THEORY, "color": color})
    start = (1 - cfg["settle_window"]) * cfg["num_steps"]
    ax_s.axvspan(start, cfg["num_steps"], color="0.92", zorder=0,
                 label=f"settled window (last {cfg['settle_window']:.0%})")
    ax_s.plot([], [], label="2/η (dashed)", **plotting.THEORY)
    ax_s.set(xlabel="GD step", ylabel="sharpness λ_max(∇²L)",
             title="sharpness vs step; dashed: 2/η")
    ax_s.legend(loc="upper right", fontsize=7.5)
    ax_l.set_yscale("log")
    ax_l.set(xlabel="GD step", ylabel="training loss (log)",
             title="loss falls overall, but not monotonically "
                   f"(seed {result['metrics']['seeds'][0]})")
    ax_l.legend(fontsize=8)
    lr = flow["learning_rates"][0]
    _band(ax_t, plotting.array(flow["steps"]) * lr, plotting.array(flow["sharpness"])[0], "k",
          f"gradient flow stand-in (η = {lr:g})")
    ax_t.set(xlabel="time η·t", ylabel="sharpness λ_max(∇²L)",
             title="gradient flow keeps sharpening past 2/η")
    ax_t.legend(loc="lower right", fontsize=8)
    return {"sharpness": fig, "edges": _edges_figure(result)}


def _edges_figure(result: dict):
    """Sharpness / its edge over steps for GD, heavy ball and Adam (seed bands)."""
    s, cfg = result["series"], result["config"]
    n = len(result["metrics"]["seeds"])
    beta, b1 = cfg["momentum"], cfg["b1"]
    fig, axes = plotting.figure(1, 3, title="Does each optimizer's sharpness sit at its own "
                                f"stability edge? (median and min–max of {n} seeds)",
                                width=15.5, height=4.8)
    panels = [
        (s["runs"], lambda lr: 2 / lr, "GD", "λ_max(H) / (2/η)"),
        (s["heavy_ball"], lambda lr: 2 * (1 + beta) / lr, f"heavy ball β = {beta:g}",
         "λ_max(H) / (2(1 + β)/η)"),
        (s["adam"], lambda lr: (2 + 2 * b1) / ((1 - b1) * lr), f"Adam β₁ = {b1:g}",
         "λ_max(P⁻¹H) / ((2 + 2β₁)/((1 − β₁)η))"),
    ]
    start = (1 - cfg["settle_window"]) * cfg["num_steps"]
    for ax, (out, edge, name, ylabel) in zip(axes[0], panels, strict=True):
        steps = plotting.array(out["steps"])
        sharp = plotting.array(out["sharpness"])
        for i, (lr, color) in enumerate(zip(out["learning_rates"], plotting.COLORS,
                                            strict=False)):
            _band(ax, steps, sharp[i] / edge(lr), color, f"η = {lr:g}")
        ax.axhline(1.0, **plotting.THEORY, label="edge")
        ax.axvspan(start, cfg["num_steps"], color="0.92", zorder=0, label="settled window")
        ax.set_yscale("log")
        ax.set(xlabel="step", ylabel=f"{ylabel} (log)", title=f"{name}: sharpness / its edge")
        ax.legend(loc="lower right", fontsize=8)
    return fig


if __name__ == "__main__":
    gdlab.experiment.script_main(__file__)
