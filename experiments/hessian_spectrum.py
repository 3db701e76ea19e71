"""Lanczos and stochastic Lanczos quadrature see the same Hessian spectrum as dense eigh.

The loss Hessian of a small MNIST-1D MLP (40-16-10 tanh, 826 parameters, softmax
cross-entropy on 500 examples) is small enough to form densely and diagonalise, so the
matrix-free estimates of gdlab.curvature can be checked against the exact spectrum:
the top eigenvalues by Lanczos, the trace by Hutchinson's estimator, and the whole
density by stochastic Lanczos quadrature (SLQ, Ghorbani et al. 2019), at initialisation
and after training, from several initialisations. Accuracy is measured against a float64
dense Hessian (two float32 computations agreeing only shows they round alike).

Softmax is unchanged when the same number is added to every logit, so the output layer's
bias shift and its per-hidden-unit weight shifts (hidden + 1 = 17 directions) are exact
zero modes of the Hessian; float32 rounding makes them look slightly positive or
negative. They are identified from the symmetry, checked to be null, and left out of the
fraction of negative curvature. The spectrum is a bulk near zero plus a tail of larger
outliers; training moves it to the right and removes most of the negative curvature.

Run:    gdlab run hessian_spectrum      (or: python experiments/hessian_spectrum.py --help)
Writes: results/hessian_spectrum/result.json, spectrum.png
Expect: every claim holds ("claims: n/n hold"); the measured numbers are the claims in
        results/hessian_spectrum/result.json (`gdlab list`);
`--seed S` uses initialisations S … S + seeds − 1.
"""

from dataclasses import dataclass
from functools import cache, partial

import jax
import jax.numpy as jnp
import numpy as np
from threadpoolctl import threadpool_limits

import gdlab
from gdlab import claims as C
from gdlab import plotting


@dataclass(frozen=True)
class Config:
    num_examples: int = 500  # MNIST-1D training examples (full batch)
    hidden: int = 16  # width of the tanh hidden layer (40-hidden-10)
    train_steps: int = 1500  # full-batch GD steps before the "trained" spectrum
    learning_rate: float = 0.5  # GD step size
    seeds: int = 5  # initialisations seed … seed + seeds − 1
    top_k: int = 10  # how many top eigenvalues to compare
    lanczos_iters: int = 60  # Lanczos steps for the top eigenvalues
    slq_probes: int = 10  # SLQ probe vectors
    slq_iters: int = 60  # Lanczos steps per SLQ probe
    hutchinson_samples: int = 200  # probes for the trace estimate
    bins: int = 80  # histogram bins of the dense eigenvalues
    seed: int = 0  # the first initialisation (and probe) seed


QUICK = {"num_examples": 100, "hidden": 8, "train_steps": 400, "top_k": 5, "lanczos_iters": 30,
         "slq_probes": 4, "slq_iters": 30, "hutchinson_samples": 50}


def _check(config: Config) -> None:
    if config.num_examples < 10 or config.hidden < 1 or config.train_steps < 1:
        raise ValueError("num_examples >= 10, hidden >= 1 and train_steps >= 1 are required")
    if config.learning_rate <= 0:
        raise ValueError(f"learning_rate must be > 0, got {config.learning_rate}")
    if not 1 <= config.top_k <= config.lanczos_iters:
        raise ValueError("need 1 <= top_k <= lanczos_iters")
    if config.seeds < 1:
        raise ValueError(f"seeds must be >= 1, got {config.seeds}")


def problem(config: Config):
    """The full-batch cross-entropy f(params, data), its float32 training data and the model
    (the catalogue's MLP 40-hidden-10, tanh, Xavier, on the first num_examples examples)."""
    p = gdlab.problems.get("mnist1d_mlp", hidden=config.hidden, train_size=config.num_examples)
    return p.loss, {"x": p.data["x"], "y": p.data["y"]}, p.info["model"]


def zero_modes(params) -> np.ndarray:
    """Orthonormal basis (n, hidden + 1) of the logit-shift directions: the output bias
    b += c·1 and the output weights W[i, :] += a_i·1 add a·h + c to every logit alike,
    which softmax ignores, so H v = 0 exactly for each of them. Built in NumPy, in the
    order of ``ravel_pytree`` (the leaves in pytree order, each flattened row-major)."""
    hidden = params[-1]["w"].shape[0]
    modes = []
    for i in range(hidden + 1):
        v = jax.tree.map(lambda a: np.zeros(np.shape(a)), params)
        if i < hidden:
            v[-1]["w"][i] = 1.0
        else:
            v[-1]["b"][:] = 1.0
        modes.append(np.concatenate([a.ravel() for a in jax.tree.leaves(v)]))
    q, _ = np.linalg.qr(np.stack(modes, axis=1))
    return q


@partial(jax.jit, static_argnames=("f", "top_k", "lanczos_iters", "hutchinson_samples"))
def _matrix_free(f, params, data, key, *, top_k, lanczos_iters, hutchinson_samples):
    """One compiled program per point (float32): the loss, the dense Hessian, Lanczos's top
    eigenvalues and Hutchinson's trace."""
    k_trace, _ = jax.random.split(key)
    lanczos = gdlab.curvature.top_eigenvalues(f, params, top_k, key=key, num_iters=lanczos_iters,
                                              method="lanczos", data=data)
    trace = gdlab.curvature.hutchinson_trace(f, params, key=k_trace, data=data,
                                             num_samples=hutchinson_samples)
    return f(params, data), gdlab.curvature.hessian(f, params, data=data), lanczos, trace


def _float64(tree):
    return jax.tree.map(lambda a: np.asarray(a, np.float64)
                        if jnp.issubdtype(a.dtype, jnp.floating) else np.asarray(a), tree)


def analyse(f, params, data, config: Config, key, *, spectra: bool) -> dict:
    """Dense spectra (float32 and float64 Hessians), Lanczos top-k, Hutchinson's trace and,
    with ``spectra``, the SLQ density, at ``params``."""
    _, k_slq = jax.random.split(key)
    loss, h32, lanczos, trace = jax.device_get(_matrix_free(
        f, params, data, key, top_k=config.top_k, lanczos_iters=config.lanczos_iters,
        hutchinson_samples=config.hutchinson_samples))
    h32 = np.asarray(h32, np.float64)
    lanczos = np.asarray(lanczos, np.float64)
    h64 = np.asarray(gdlab.curvature.hessian(f, _float64(params), data=_float64(data)))
    null = zero_modes(params)
    dense32 = np.linalg.eigvalsh((h32 + h32.T) / 2)
    dense = np.linalg.eigvalsh((h64 + h64.T) / 2)  # ascending: the float64 reference
    complement = np.linalg.svd(null.T)[2][null.shape[1]:].T  # orthonormal, ⟂ zero modes
    reduced = np.linalg.eigvalsh(complement.T @ h64 @ complement)
    top = dense[::-1][: config.top_k]
    out = {
        "loss": float(loss),
        "dense_eigenvalues": dense,
        "lanczos_top": lanczos,
        "dense_top": top,
        "lambda_max": float(top[0]),
        "lanczos_error_vs_float64": float(np.max(np.abs(lanczos - top) / np.abs(top))),
        "lanczos_error_vs_float32": float(np.max(np.abs(lanczos - dense32[::-1][: config.top_k])
                                                 / np.abs(top))),
        "float32_dense_error": float(np.max(np.abs(dense32 - dense)) / np.max(np.abs(dense))),
        "zero_mode_residual": float(np.linalg.norm(h64 @ null) / np.linalg.norm(h64)),
        "zero_modes_in_float32": {"negative": int(np.sum(dense32[np.argsort(np.abs(dense32))]
                                                          [: null.shape[1]] < 0)),
                                  "count": int(null.shape[1])},
        "trace_dense": float(np.sum(dense)),
        "hutchinson_trace": float(trace.trace),
        "hutchinson_stderr": float(trace.stderr),
        "negative_fraction": float(np.mean(reduced < 0)),
        "negative_fraction_counting_zero_modes": float(np.mean(dense32 < 0)),
        "most_negative_eigenvalue": float(reduced[0]),
    }
    if spectra:
        sd = jax.device_get(gdlab.curvature.spectral_density(
            f, params, key=k_slq, data=data, num_probes=config.slq_probes,
            num_iters=config.slq_iters, method="lanczos"))
        nodes, weights = np.asarray(sd.nodes), np.asarray(sd.weights)
        out.update({"negative_fraction_slq": float(np.mean(np.sum(weights * (nodes < 0),
                                                                   axis=1))),
                    "slq_grid": np.asarray(sd.grid, dtype=float),
                    "slq_density": np.asarray(sd.density, dtype=float)})
    return out


def run(config: Config) -> dict:
    """The NumPy linear algebra (eigvalsh, QR, SVD of 826 × 826 matrices) runs on one BLAS
    thread: OpenBLAS's threads spin against JAX's and other processes' threads, which made
    each ``eigvalsh`` take 5–15 s instead of 0.15 s on a loaded 2-core machine."""
    _check(config)
    with threadpool_limits(1, user_api="blas"):
        return _run(config)


@cache  # one object per rate: train.run reuses its compiled loop (cached by identity)
def _gradient_descent(learning_rate):
    return gdlab.optimizers.make("sgd", learning_rate=learning_rate)


def _run(config: Config) -> dict:
    f, data, model = problem(config)
    gd = _gradient_descent(config.learning_rate)
    seeds = list(range(config.seed, config.seed + config.seeds))
    init = jax.jit(model.init)
    stages = {"initialisation": [], "trained": []}
    status = []
    for i, seed in enumerate(seeds):
        params = init(jax.random.key(seed))
        traj = gdlab.train.run(f, params, gd, config.train_steps, data=data, record="summary",
                               record_params=False)
        status.append(traj.status)
        key = jax.random.key(seed + 1000)
        for name, p in (("initialisation", params), ("trained", traj.final_params)):
            stages[name].append(analyse(f, p, data, config, key, spectra=i == 0))
    keys = ("loss", "lanczos_error_vs_float64", "lanczos_error_vs_float32",
            "float32_dense_error", "zero_mode_residual", "trace_dense", "hutchinson_trace",
            "hutchinson_stderr", "negative_fraction", "negative_fraction_counting_zero_modes",
            "most_negative_eigenvalue", "lambda_max")
    metrics = {"parameters": int(stages["initialisation"][0]["dense_eigenvalues"].size),
               "zero_modes": config.hidden + 1, "seeds": seeds, "train_status": status}
    for name, per_seed in stages.items():
        metrics[name] = {k: [s[k] for s in per_seed] for k in keys}
        metrics[name]["top_eigenvalues"] = [float(v) for v in per_seed[0]["dense_top"][:5]]
        metrics[name]["median"] = {k: float(np.median(metrics[name][k])) for k in keys}
        metrics[name]["negative_fraction_slq"] = per_seed[0]["negative_fraction_slq"]
        metrics[name]["zero_modes_negative_in_float32"] = [
            s["zero_modes_in_float32"]["negative"] for s in per_seed]
    return {"metrics": metrics, "series": {k: v[0] for k, v in stages.items()}}


def claims(result: dict) -> list[dict]:
    m = result["metrics"]
    seeds = m["seeds"]
    init, trained = m["initialisation"], m["trained"]
    out = [C.fact("GD trains every initialisation without diverging", m["train_status"],
                  "all ok", all(s == "ok" for s in m["train_status"]), seeds=seeds)]
    for name, st in (("initialisation", init), ("trained", trained)):
        out += [
            C.over_seeds(f"{name}: the {m['zero_modes']} logit-shift directions are null: "
                         "‖H N‖/‖H‖ (float64)", st["zero_mode_residual"], upper=1e-12,
                         seeds=seeds, require=len(seeds)),
            C.over_seeds(f"{name}: Lanczos (float32, {result['config']['lanczos_iters']} "
                         f"HVPs) gives the top {result['config']['top_k']} eigenvalues of the "
                         "float64 Hessian (max relative error)", st["lanczos_error_vs_float64"],
                         upper=1e-4, seeds=seeds),
            C.over_seeds(f"{name}: Hutchinson's trace lies within 3 standard errors of the "
                         "float64 trace (|error| / stderr)",
                         np.abs(np.subtract(st["hutchinson_trace"], st["trace_dense"]))
                         / np.asarray(st["hutchinson_stderr"]), upper=3.0, seeds=seeds),
        ]
    out += [
        C.over_seeds("at initialisation a large share of the curvature is negative (fraction "
                     "of eigenvalues < 0, zero modes left out)", init["negative_fraction"],
                     lower=0.3, seeds=seeds),
        C.over_seeds("after training far less is: negative fraction (zero modes left out)",
                     trained["negative_fraction"], upper=0.15, seeds=seeds),
        C.over_seeds("training shrinks the negative fraction (trained / initial)",
                     np.divide(trained["negative_fraction"], init["negative_fraction"]),
                     upper=0.5, seeds=seeds),
        C.over_seeds("training moves the spectrum right: trace after / at initialisation",
                     np.divide(trained["trace_dense"], init["trace_dense"]), lower=2.0,
                     seeds=seeds),
        C.over_seeds("the negative eigenvalues left after training are small: "
                     "|λ_min| / λ_max", np.abs(trained["most_negative_eigenvalue"])
                     / np.asarray(trained["lambda_max"]), upper=0.05, seeds=seeds),
    ]
    return out


def plot(result: dict) -> dict:
    s = result["series"]
    m = result["metrics"]
    fig, axes = plotting.figure(1, 3, title="What does the loss Hessian's spectrum look like, "
                                "and do matrix-free estimates see it?", width=15.0, height=4.6)
    for ax, name in zip(axes[0, :2], ("initialisation", "trained"), strict=True):
        st = s[name]
        eig = plotting.array(st["dense_eigenvalues"])
        ax.hist(eig, bins=result["config"]["bins"], density=True, color="0.75",
                label=f"dense eigh, float64 ({eig.size} eigenvalues)")
        ax.plot(plotting.array(st["slq_grid"]), plotting.array(st["slq_density"]), color="C0",
                linewidth=1.5, label="SLQ density (Lanczos, float32)")
        ax.set_yscale("log")
        ax.set_ylim(bottom=1e-4)
        neg = st["negative_fraction"]
        ax.set(xlabel="Hessian eigenvalue λ", ylabel="density (log)",
               title=f"{name} (seed {m['seeds'][0]}): loss {st['loss']:.3f}\n"
               f"{100 * neg:.1f}% negative ({m['zero_modes']} zero modes left out)\n"
               f"trace {st['trace_dense']:.3g}, Hutchinson {st['hutchinson_trace']:.3g} ± "
               f"{st['hutchinson_stderr']:.2g}")
        ax.legend(fontsize=8)
    ax = axes[0, 2]
    for i, name in enumerate(("initialisation", "trained")):
        st = s[name]
        dense, lanczos = plotting.array(st["dense_top"]), plotting.array(st["lanczos_top"])
        idx = np.arange(1, dense.size + 1)
        ax.semilogy(idx, dense, "o", color=f"C{i + 1}", markersize=8, fillstyle="none",
                    label=f"{name}: dense eigh (float64)")
        ax.semilogy(idx, lanczos, "x", color=f"C{i + 1}", markersize=6,
                    label=f"{name}: Lanczos (float32)")
    ax.set_xticks(idx)
    ax.set(xlabel="rank i", ylabel="λ_i (log)",
           title=f"top eigenvalues (seed {m['seeds'][0]}): Lanczos\nvs the float64 dense Hessian")
    ax.legend(fontsize=8)
    return {"spectrum": fig}


if __name__ == "__main__":
    gdlab.experiment.script_main(__file__)
