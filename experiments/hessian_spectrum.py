"""Lanczos and stochastic Lanczos quadrature see the same Hessian spectrum as dense eigh.

The loss Hessian of a small MNIST-1D MLP (40-16-10 tanh, 826 parameters, softmax
cross-entropy on 500 examples) is small enough to form densely and diagonalise, so the
matrix-free estimates of gdlab.curvature can be checked against the exact spectrum:
the top eigenvalues by Lanczos, the trace by Hutchinson's estimator, and the whole
density by stochastic Lanczos quadrature (SLQ, Ghorbani et al. 2019), at initialisation
and after training. The spectrum is a bulk near zero plus a tail of larger outliers;
training moves it to the right and removes most of the negative curvature.

Run:    gdlab run hessian_spectrum      (or: python experiments/hessian_spectrum.py --help)
Writes: results/hessian_spectrum/result.json, spectrum.png
Expect: ~13 s on an idle 2-core CPU (2.5 min when it was loaded). Init → trained (loss 2.58 →
        0.184): λ_max 0.879 → 1.90, trace 10.4 → 58.3 (Hutchinson 10.8 ± 0.33, 57.7 ± 0.52),
        negative eigenvalues 47.2% → 9.2% (SLQ: 58% → 10%); Lanczos top-10 eigenvalues match
        dense eigh to 2e-7 relative.
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
    hidden: int = 16  # width of the tanh hidden layer (40-hidden-10)
    train_steps: int = 1500  # full-batch GD steps before the "trained" spectrum
    learning_rate: float = 0.5  # GD step size
    top_k: int = 10  # how many top eigenvalues to compare
    lanczos_iters: int = 60  # Lanczos steps for the top eigenvalues
    slq_probes: int = 10  # SLQ probe vectors
    slq_iters: int = 60  # Lanczos steps per SLQ probe
    hutchinson_samples: int = 200  # probes for the trace estimate
    bins: int = 80  # histogram bins of the dense eigenvalues
    seed: int = 0  # initialisation and probe seed


QUICK = {"num_examples": 100, "hidden": 8, "train_steps": 100, "top_k": 5, "lanczos_iters": 30,
         "slq_probes": 4, "slq_iters": 30, "hutchinson_samples": 50}


def _check(config: Config) -> None:
    if config.num_examples < 10 or config.hidden < 1 or config.train_steps < 1:
        raise ValueError("num_examples >= 10, hidden >= 1 and train_steps >= 1 are required")
    if config.learning_rate <= 0:
        raise ValueError(f"learning_rate must be > 0, got {config.learning_rate}")
    if not 1 <= config.top_k <= config.lanczos_iters:
        raise ValueError("need 1 <= top_k <= lanczos_iters")


def problem(config: Config):
    """Full-batch cross-entropy f(params) and float32 initial parameters."""
    d = gdlab.data.mnist1d(seed=0)
    x = jnp.asarray(d["x"][: config.num_examples], jnp.float32)
    y = jnp.asarray(d["y"][: config.num_examples])
    model = gdlab.models.mlp([x.shape[1], config.hidden, 10], "tanh", dtype=jnp.float32)
    loss = gdlab.losses.objective(model.apply, gdlab.losses.softmax_cross_entropy)
    return functools.partial(loss, data={"x": x, "y": y}), model.init(jax.random.key(config.seed))


def analyse(f, params, config: Config, key) -> dict:
    """Dense spectrum vs Lanczos top-k, Hutchinson trace and SLQ density at ``params``."""
    k_trace, k_slq = jax.random.split(key)
    h = np.asarray(gdlab.curvature.hessian(f, params), dtype=np.float64)
    dense = np.linalg.eigvalsh((h + h.T) / 2)  # ascending, float64 reference
    lanczos = np.asarray(gdlab.curvature.top_eigenvalues(
        f, params, config.top_k, key=key, num_iters=config.lanczos_iters, method="lanczos"))
    trace = gdlab.curvature.hutchinson_trace(f, params, key=k_trace,
                                             num_samples=config.hutchinson_samples)
    sd = gdlab.curvature.spectral_density(f, params, key=k_slq, num_probes=config.slq_probes,
                                          num_iters=config.slq_iters, method="lanczos")
    nodes, weights = np.asarray(sd.nodes), np.asarray(sd.weights)
    top_dense = dense[::-1][: config.top_k]
    return {
        "loss": float(f(params)),
        "dense_eigenvalues": dense,
        "lanczos_top": lanczos,
        "dense_top": top_dense,
        "top_relative_error": float(np.max(np.abs(lanczos - top_dense) / np.abs(top_dense))),
        "dense_trace": float(np.sum(dense)),
        "hutchinson_trace": float(trace.trace),
        "hutchinson_stderr": float(trace.stderr),
        "negative_fraction_dense": float(np.mean(dense < 0)),
        "negative_fraction_slq": float(np.mean(np.sum(weights * (nodes < 0), axis=1))),
        "slq_grid": np.asarray(sd.grid, dtype=float),
        "slq_density": np.asarray(sd.density, dtype=float),
    }


def run(config: Config) -> dict:
    _check(config)
    f, params = problem(config)
    key = jax.random.key(config.seed + 1)
    gd = gdlab.optimizers.make("sgd", learning_rate=config.learning_rate)
    traj = gdlab.train.run(f, params, gd, config.train_steps, record="summary", record_params=False)
    stages = {"initialisation": analyse(f, params, config, key),
              "trained": analyse(f, traj.final_params, config, key)}
    metrics = {"parameters": int(sum(a.size for a in jax.tree.leaves(params))),
               "train_status": traj.status}
    for name, s in stages.items():
        metrics[name] = {
            "loss": s["loss"],
            "top_eigenvalues_dense": [float(v) for v in s["dense_top"][:5]],
            "top_relative_error_lanczos": s["top_relative_error"],
            "trace_dense": s["dense_trace"],
            "trace_hutchinson": s["hutchinson_trace"],
            "trace_hutchinson_stderr": s["hutchinson_stderr"],
            "trace_error_in_stderrs": abs(s["hutchinson_trace"] - s["dense_trace"])
            / max(s["hutchinson_stderr"], 1e-30),
            "negative_fraction_dense": s["negative_fraction_dense"],
            "negative_fraction_slq": s["negative_fraction_slq"],
            "most_negative_eigenvalue": float(s["dense_eigenvalues"][0]),
        }
    return {"metrics": metrics, "series": stages}


def plot(result: dict) -> dict:
    s = result["series"]
    m = result["metrics"]
    fig, axes = plotting.figure(1, 3, title="What does the loss Hessian's spectrum look like, "
                                "and do matrix-free estimates see it?", width=15.0, height=4.6)
    for ax, name in zip(axes[0, :2], ("initialisation", "trained"), strict=True):
        st = s[name]
        eig = plotting.array(st["dense_eigenvalues"])
        ax.hist(eig, bins=result["config"]["bins"], density=True, color="0.75",
                label=f"dense eigh ({eig.size} eigenvalues)")
        ax.plot(plotting.array(st["slq_grid"]), plotting.array(st["slq_density"]), color="C0",
                linewidth=1.5, label="SLQ density (Lanczos)")
        ax.set_yscale("log")
        ax.set_ylim(bottom=1e-4)
        neg = m[name]["negative_fraction_dense"]
        ax.set(xlabel="Hessian eigenvalue λ", ylabel="density (log)",
               title=f"{name}: loss {m[name]['loss']:.3f}, {100 * neg:.1f}% negative\n"
               f"trace {m[name]['trace_dense']:.3g} (Hutchinson "
               f"{m[name]['trace_hutchinson']:.3g} ± {m[name]['trace_hutchinson_stderr']:.2g})")
        ax.legend(fontsize=8)
    ax = axes[0, 2]
    for i, name in enumerate(("initialisation", "trained")):
        st = s[name]
        dense, lanczos = plotting.array(st["dense_top"]), plotting.array(st["lanczos_top"])
        idx = np.arange(1, dense.size + 1)
        ax.semilogy(idx, dense, "o", color=f"C{i + 1}", markersize=8, fillstyle="none",
                    label=f"{name}: dense eigh")
        ax.semilogy(idx, lanczos, "x", color=f"C{i + 1}", markersize=6,
                    label=f"{name}: Lanczos")
    ax.set_xticks(idx)
    ax.set(xlabel="rank i", ylabel="λ_i (log)", title="top eigenvalues: Lanczos vs dense")
    ax.legend(fontsize=8)
    return {"spectrum": fig}


if __name__ == "__main__":
    gdlab.experiment.script_main(__file__)
