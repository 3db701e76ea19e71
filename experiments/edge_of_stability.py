"""Full-batch GD at rate η drives the sharpness up to 2/η and then hovers there (edge of stability).

Cohen, Kaur, Li, Kolter & Talwalkar (ICLR 2021): on a neural network trained by full-batch
gradient descent with step η, the sharpness λ_max(∇²L) first rises ("progressive
sharpening") until it reaches 2/η, the threshold beyond which GD on a quadratic would
diverge, and then stays near 2/η while the loss keeps falling over the long run, but
not monotonically. Here: a 40-32-10 tanh MLP (1642 float32 parameters) with square loss
½‖f(x) − onehot(y)‖² on 500 MNIST-1D examples; the sharpness of every recorded iterate
is measured by Lanczos on Hessian-vector products (gdlab.curvature.sharpness). A run with
a small η stands in for gradient flow: plotted against time η·t it shows the sharpness
rising straight past the edges where the larger-η runs stop.

Run:    gdlab run edge_of_stability      (or: python experiments/edge_of_stability.py --help)
Writes: results/edge_of_stability/result.json, sharpness.png
Expect: ~11 s on an idle 2-core CPU (2.5 min when it was loaded); for η = 0.3, 0.25, 0.2 the
        sharpness (11.4 at init) returns to 0.9·2/η at steps 240, 380, 860 and the mean of
        sharpness·η/2 over the second half of 2000 steps is 1.025, 1.014, 0.992; the loss
        rises on 30%, 18%, 4% of steps; the gradient-flow reference (η = 0.1) ends at
        sharpness 12.1, 1.2-1.8 × each 2/η.
"""

import functools
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

import gdlab
from gdlab import plotting


@dataclass(frozen=True)
class Config:
    num_examples: int = 500  # MNIST-1D training examples (full batch)
    hidden: int = 32  # width of the single tanh hidden layer (40-hidden-10)
    learning_rates: tuple[float, ...] = (0.3, 0.25, 0.2)  # GD step sizes η; edges 2/η
    num_steps: int = 2000  # GD steps per run
    record_every: int = 20  # measure the sharpness every k steps
    flow_learning_rate: float = 0.1  # small η (2/η far above the sharpness) as gradient flow
    flow_time: float = 500.0  # gradient-flow time η·t covered by the reference run
    flow_record_every: int = 100  # measure the flow's sharpness every k of its steps
    lanczos_iters: int = 20  # Lanczos steps per sharpness measurement
    edge_fraction: float = 0.9  # "reached the edge" = sharpness ≥ this·2/η
    seed: int = 0  # initialisation seed


QUICK = {"num_examples": 200, "learning_rates": (0.25,), "num_steps": 400, "record_every": 40,
         "flow_time": 20.0, "flow_record_every": 40}


def _check(config: Config) -> None:
    if config.num_examples < 10 or config.hidden < 1:
        raise ValueError("num_examples must be >= 10 and hidden >= 1")
    if not config.learning_rates or min(config.learning_rates) <= 0:
        raise ValueError("learning_rates must be a non-empty tuple of positive numbers")
    if config.flow_learning_rate <= 0 or config.flow_time <= 0:
        raise ValueError("flow_learning_rate and flow_time must be > 0")
    if min(config.record_every, config.flow_record_every) < 1:
        raise ValueError("record_every and flow_record_every must be >= 1")
    if config.num_steps % config.record_every:
        raise ValueError("record_every must divide num_steps")
    if not 0 < config.edge_fraction <= 1:
        raise ValueError("edge_fraction must be in (0, 1]")


def _per_example(pred, target):
    """½‖pred − target‖² per example (summed over the 10 outputs, as in Cohen et al.)."""
    return 0.5 * jnp.sum((pred - target) ** 2, axis=-1)


def problem(config: Config):
    """The full-batch loss f(params) and float32 initial parameters."""
    d = gdlab.data.mnist1d(seed=0)
    x = jnp.asarray(d["x"][: config.num_examples], jnp.float32)
    y = jax.nn.one_hot(d["y"][: config.num_examples], 10, dtype=jnp.float32)
    model = gdlab.models.mlp([x.shape[1], config.hidden, 10], "tanh", dtype=jnp.float32)
    loss = gdlab.losses.objective(model.apply, _per_example)
    f = functools.partial(loss, data={"x": x, "y": y})
    return f, model.init(jax.random.key(config.seed))


def trace(f, params, learning_rate: float, num_steps: int, k: int, config: Config) -> dict:
    """One GD run; loss at every step, sharpness at every ``record_every``-th iterate."""
    traj = gdlab.train.run(f, params, gdlab.optimizers.make("sgd", learning_rate=learning_rate),
                           num_steps, record="all", record_params=True, divergence_factor=None)
    recorded = jax.tree.map(lambda a: a[::k], traj.params)  # every k-th iterate
    count = jax.tree.leaves(recorded)[0].shape[0]
    key = jax.random.key(config.seed)
    sharp = np.array([
        float(gdlab.curvature.sharpness(f, jax.tree.map(lambda a, i=i: a[i], recorded),
                                        key=key, method="lanczos",
                                        num_iters=config.lanczos_iters))
        for i in range(count)
    ])
    return {"learning_rate": learning_rate, "edge": 2 / learning_rate,
            "steps": np.arange(count) * k, "sharpness": sharp,
            "loss": np.asarray(traj.loss, dtype=float), "status": traj.status}


def run(config: Config) -> dict:
    _check(config)
    f, params = problem(config)
    runs = [trace(f, params, lr, config.num_steps, config.record_every, config)
            for lr in config.learning_rates]
    flow_steps = int(round(config.flow_time / config.flow_learning_rate))
    k = config.flow_record_every
    flow = trace(f, params, config.flow_learning_rate, max(flow_steps - flow_steps % k, k), k,
                 config)

    metrics = {"parameters": int(sum(a.size for a in jax.tree.leaves(params))),
               "initial_sharpness": float(runs[0]["sharpness"][0])}
    for r in runs:
        name = f"eta_{r['learning_rate']:g}"
        ratio = r["sharpness"] * r["learning_rate"] / 2
        half = ratio[len(ratio) // 2:]
        # The edge is reached when the sharpness comes back up to edge_fraction·2/η after
        # the initial drop (at initialisation it may start above the edge).
        low = int(np.argmin(ratio))
        reached = low + np.nonzero(ratio[low:] >= config.edge_fraction)[0]
        loss = r["loss"]
        metrics[name] = {
            "edge_2_over_eta": r["edge"],
            "status": r["status"],
            "mean_ratio_second_half": float(np.mean(half)),
            "std_ratio_second_half": float(np.std(half)),
            "final_ratio": float(ratio[-1]),
            "mean_ratio_after_edge": float(np.mean(ratio[reached[0]:])) if reached.size else None,
            "step_reaching_edge": int(r["steps"][reached[0]]) if reached.size else None,
            "fraction_loss_increases": float(np.mean(np.diff(loss) > 0)),
            "final_loss": float(loss[-1]),
        }
    flow_time = flow["steps"] * flow["learning_rate"]
    metrics["flow"] = {
        "learning_rate": config.flow_learning_rate,
        "final_sharpness": float(flow["sharpness"][-1]),
        "final_sharpness_over_edge": {
            f"eta_{r['learning_rate']:g}": float(flow["sharpness"][-1] / r["edge"]) for r in runs
        },
    }
    series = {"runs": runs, "flow": flow, "flow_time": flow_time}
    return {"metrics": metrics, "series": series}


def plot(result: dict) -> dict:
    s = result["series"]
    m = result["metrics"]
    fig, axes = plotting.figure(1, 3, title="Does gradient descent sit at the edge of "
                                "stability? Sharpness rises to 2/η and stays there",
                                width=15.0, height=4.6)
    ax_s, ax_l, ax_t = axes[0]
    for r in s["runs"]:
        lr = r["learning_rate"]
        steps = plotting.array(r["steps"])
        sharp = plotting.array(r["sharpness"])
        mean = m[f"eta_{lr:g}"]["mean_ratio_second_half"]
        line, = ax_s.plot(steps, sharp, label=f"GD η = {lr:g}  (mean λη/2 = {mean:.3f})")
        ax_s.axhline(2 / lr, **{**plotting.THEORY, "color": line.get_color()})
        loss = plotting.array(r["loss"])
        ax_l.plot(np.arange(len(loss)), loss, color=line.get_color(), linewidth=0.9,
                  label=f"η = {lr:g}")
        ax_t.plot(steps * lr, sharp, color=line.get_color(), label=f"GD η = {lr:g}")
        ax_t.axhline(2 / lr, **{**plotting.THEORY, "color": line.get_color()})
    ax_s.plot([], [], label="2/η (dashed)", **plotting.THEORY)
    ax_s.set(xlabel="GD step", ylabel="sharpness λ_max(∇²L)",
             title="sharpness vs step; dashed: 2/η")
    ax_s.legend(loc="lower right", fontsize=8)
    ax_l.set_yscale("log")
    ax_l.set(xlabel="GD step", ylabel="training loss (log)",
             title="loss falls overall, but not monotonically")
    ax_l.legend(fontsize=8)
    fl = s["flow"]
    ax_t.plot(plotting.array(s["flow_time"]), plotting.array(fl["sharpness"]), color="k",
              linewidth=2, label=f"gradient flow (η = {fl['learning_rate']:g})")
    ax_t.set(xlabel="time η·t", ylabel="sharpness λ_max(∇²L)",
             title="gradient flow keeps sharpening past 2/η")
    ax_t.legend(loc="lower right", fontsize=8)
    return {"sharpness": fig}


if __name__ == "__main__":
    gdlab.experiment.script_main(__file__)
