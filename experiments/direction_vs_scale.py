"""Per-coordinate scaling turns the step away from −g; it pays off only on axis-aligned valleys.

Multiplying a gradient by one number keeps its direction; rescaling coordinates one by
one does not: g = [10, 20, 40] and [1, 2, 100] are 27.9° apart, and Adam's first step
sign(g) is 28.1° off −g. Along real runs (an ill-conditioned quadratic, Rosenbrock, an
MLP on MNIST-1D) we measure cos(update, −g) for SGD (exactly 1), momentum, Adagrad,
RMSProp, Adam and sign descent. The payoff is scale invariance: multiply the loss by
1000 and SGD's step grows 1000× (its tuned learning rate shrinks 1000×) while Adam's
step and tuned learning rate do not move. And per-coordinate scaling is a win only when
the valley is aligned with the axes: rotate the same quadratic by 45° and it is gone.

Run:    gdlab run direction_vs_scale      (or: python experiments/direction_vs_scale.py --help)
Writes: results/direction_vs_scale/result.json, seed_example.png, cosine_along_runs.png,
        scale_invariance.png, axis_aligned_vs_rotated.png
Expect: ~1 min on a 2-core CPU; angle([10,20,40], [1,2,100]) = 27.9°, sign(g) 28.1°;
        SGD's cosine is 1 to rounding (1.8e-7 on the float32 MLP); SGD's first step scales
        exactly ×c, Adam's by 1 ± 1e-6; SGD's tuned learning rate falls ~1000× from c = 1 to
        c = 1000 (965× on the grid) while Adam's, Adagrad's, RMSProp's and sign descent's stay
        put. Axis-aligned quadratic: Adagrad 10 steps and RMSProp 30 vs tuned SGD 118; the
        same quadratic rotated by 45°: Adagrad 110, RMSProp 97, SGD 118 (Adam 117 / 130).
"""

import math
from dataclasses import dataclass, replace

import jax
import jax.numpy as jnp
import numpy as np

import gdlab
from gdlab import compare, gradients, optimizers, plotting


@dataclass(frozen=True)
class Config:
    vector: tuple[float, ...] = (10.0, 20.0, 40.0)  # the seed's gradient ...
    rescaled: tuple[float, ...] = (1.0, 2.0, 100.0)  # ... and its element-wise rescaling
    dimension: int = 1000  # random rescalings: a Gaussian vector of this size ...
    spreads: int = 25  # ... times log-uniform factors in [1/r, r], r = 1 … max_spread
    max_spread: float = 1000.0
    trials: int = 200  # random vectors per spread
    optimizers: tuple[str, ...] = ("sgd", "momentum", "adagrad", "rmsprop", "adam",
                                   "sign_descent")
    eigenvalues: tuple[float, float] = (0.2, 4.0)  # the ill-conditioned quadratic (d2l's)
    x0: tuple[float, float] = (-5.0, -2.0)  # its start
    angle: float = math.pi / 4  # the rotated copy: same eigenvalues, axes turned by this
    scales: tuple[float, ...] = (1.0, 10.0, 100.0, 1000.0)  # the loss multiplied by c
    num_steps: int = 300  # updates per 2-D run
    target: float = 1e-6  # f − f* counted as solved
    step_low: float = 1e-4  # shared log grid of learning rates (tuned on every problem)
    step_high: float = 3.0
    per_decade: int = 4
    mnist: bool = True  # also the MLP on MNIST-1D (full batch, float32)
    mnist_steps: int = 200
    mnist_hidden: int = 32  # MLP 40-32-10, tanh, Xavier init (key 1)
    mnist_train_size: int = 1000  # the first 1000 training examples
    mnist_learning_rates: tuple[float, ...] = (0.5, 0.05, 0.1, 0.003, 0.01, 0.001)  # per optimizer
    seed: int = 0  # the random rescalings


QUICK = {"optimizers": ("sgd", "adam"), "scales": (1.0, 1000.0), "num_steps": 60,
         "per_decade": 1, "mnist": False, "trials": 20, "spreads": 7}


def _check(config: Config) -> None:
    if len(config.vector) != len(config.rescaled) or len(config.vector) < 2:
        raise ValueError("vector and rescaled must have the same length >= 2")
    unknown = [n for n in config.optimizers if n not in compare.SPECS]
    if unknown:
        raise ValueError(f"unknown optimizer(s) {unknown}; valid: {', '.join(compare.SPECS)}")
    if "sgd" not in config.optimizers or "adam" not in config.optimizers:
        raise ValueError("optimizers must include sgd and adam (the scale-invariance check)")
    if config.mnist and len(config.mnist_learning_rates) != len(config.optimizers):
        raise ValueError("mnist_learning_rates needs one learning rate per optimizer")
    if min(config.eigenvalues) <= 0 or 1.0 not in config.scales:
        raise ValueError("eigenvalues must be > 0 and scales must include 1.0")


def degrees(a, b) -> float:
    """The angle between two vectors in degrees (via ``gdlab.gradients.cosine``)."""
    return math.degrees(math.acos(float(gradients.cosine(jnp.asarray(a), jnp.asarray(b)))))


def _fmt(vector) -> str:
    return "[" + ", ".join(f"{v:g}" for v in vector) + "]"


def seed_example(config: Config) -> dict:
    """The seed's vectors, and the angle of random per-coordinate rescalings vs theory.

    For s_i log-uniform on [1/r, r] independent of g, cos(g, s⊙g) → E[s]/√E[s²] as the
    dimension grows, with E[s] = (r − 1/r)/(2 ln r) and E[s²] = (r² − r⁻²)/(4 ln r).
    """
    g = np.asarray(config.vector, np.float64)
    cases = {
        f"uniform ×0.1 = {_fmt(g * 0.1)}": g * 0.1,
        f"the seed's {_fmt(config.rescaled)}": np.asarray(config.rescaled, np.float64),
        "sign(g): Adam's first step": np.sign(g),
        "g ⊙ (1, 1, 10)": g * np.array([1.0] * (g.size - 1) + [10.0]),
    }
    angles = {name: degrees(g, v) for name, v in cases.items()}
    rng = np.random.default_rng(config.seed)
    spreads = np.geomspace(1.0, config.max_spread, config.spreads)
    measured = []
    for r in spreads:
        x = rng.normal(size=(config.trials, config.dimension))
        s = np.exp(rng.uniform(-np.log(r), np.log(r), size=x.shape))
        cos = np.sum(x * s * x, axis=1) / (np.linalg.norm(x, axis=1)
                                            * np.linalg.norm(s * x, axis=1))
        measured.append(np.degrees(np.arccos(np.clip(cos, -1, 1))))
    measured = np.array(measured)
    log_r = np.log(np.maximum(spreads, 1 + 1e-12))
    mean_s = np.where(spreads > 1, (spreads - 1 / spreads) / (2 * log_r), 1.0)
    mean_s2 = np.where(spreads > 1, (spreads**2 - spreads**-2) / (4 * log_r), 1.0)
    theory = np.degrees(np.arccos(np.clip(mean_s / np.sqrt(mean_s2), -1, 1)))
    return {"vector": g, "cases": {k: list(v) for k, v in cases.items()}, "angles": angles,
            "spreads": spreads, "angle_q25": np.percentile(measured, 25, axis=1),
            "angle_median": np.median(measured, axis=1),
            "angle_q75": np.percentile(measured, 75, axis=1), "angle_theory": theory}


def _benches(config: Config) -> dict:
    lam = np.diag(config.eigenvalues)
    c, s = math.cos(config.angle), math.sin(config.angle)
    rot = np.array([[c, -s], [s, c]])
    make = lambda name, problem, **kw: compare.small_bench(
        problem, name=name, radius=0.0, starts=2, target=config.target, shared=True, **kw)
    benches = {"axis-aligned quadratic": make("axis-aligned quadratic", "quadratic", A=lam,
                                              x0=config.x0),
               "rotated quadratic": make("rotated quadratic", "quadratic",
                                         A=rot @ lam @ rot.T, x0=rot @ np.asarray(config.x0)),
               "rosenbrock": make("rosenbrock", "rosenbrock")}
    for scale in config.scales:
        if scale != 1.0:
            benches[f"quadratic ×{scale:g}"] = make(f"quadratic ×{scale:g}", "quadratic",
                                                     A=scale * lam, x0=config.x0)
    return benches


def _specs(config: Config):
    """The optimizers with their second hyperparameter at its default (only η is tuned)."""
    return [replace(compare.spec(n), other=None) for n in config.optimizers]


def _cosines(updates, grads, *, scale_floor=1e-10) -> np.ndarray:
    """cos(u_k, −g_k) per step (vmapped ``gradients.cosine``); NaN where ‖g‖ is ~0."""
    cos = np.asarray(jax.vmap(gradients.cosine)(updates, jax.tree.map(lambda g: -g, grads)))
    norms = np.asarray(jax.vmap(gradients.norm)(grads))
    return np.where(norms > scale_floor * norms[0], cos, np.nan)


def _grad_2d(bench):
    """∇f at a batch of points of a 2-D bench (f at x: the family loss at start 0, d = x − x₀)."""
    f = lambda x: bench.loss(x - bench.data["x0"], bench.data, start=0)
    return jax.jit(jax.vmap(jax.grad(f)))


def small_runs(config: Config) -> dict:
    steps = compare.step_grid(config.step_low, config.step_high, config.per_decade)
    out = {}
    for name, bench in _benches(config).items():
        entries = {}
        for s in _specs(config):
            tuning, runs = compare.tune_and_rerun(bench, s, steps, config.num_steps, [1])
            pts = runs.points[0]
            entry = {"hyperparameters": tuning.best, "row": compare.summarize(bench, s.name, runs,
                                                                              tuning),
                     "gap": runs.gap[0], "path": pts}
            if not name.startswith("quadratic ×"):
                ok = np.all(np.isfinite(pts), axis=-1)
                grads = np.asarray(_grad_2d(bench)(jnp.asarray(np.where(ok[:, None], pts, 0))))
                cos = _cosines(jnp.asarray(np.diff(pts, axis=0)), jnp.asarray(grads[:-1]))
                entry["cosine"] = np.where(ok[1:], cos, np.nan)
            entries[s.name] = entry
        out[name] = {"problem": bench.problem, "A": bench.data["A"], "entries": entries}
    return out


def scale_runs(config: Config, small: dict) -> dict:
    """First-step lengths for a loss multiplied by c, and runs at c with η tuned at c = 1."""
    lam = np.asarray(config.eigenvalues)
    x0 = jnp.asarray(config.x0, jnp.float64)
    g = jnp.asarray(lam) * x0  # ∇(½xᵀΛx) at x0
    cs = np.geomspace(1e-3, 1e3, 13)
    first = {}
    for name in ("sgd", "adam"):
        hp = small["axis-aligned quadratic"]["entries"][name]["hyperparameters"]
        opt = optimizers.make(name, **hp)
        lengths = [float(jnp.linalg.norm(opt.update(c * g, opt.init(x0), x0)[0])) for c in cs]
        first[name] = np.asarray(lengths) / lengths[int(np.argmin(np.abs(cs - 1)))]
    big = max(config.scales)
    bench = _benches(config)[f"quadratic ×{big:g}"]
    same = {}
    for name in ("sgd", "adam"):
        hp = small["axis-aligned quadratic"]["entries"][name]["hyperparameters"]
        runs = compare.rerun(bench, replace(compare.spec(name), other=None), hp,
                             config.num_steps, [1])
        base = np.asarray(small["axis-aligned quadratic"]["entries"][name]["path"])
        diff = np.nanmax(np.abs(runs.points[0] - base)) if runs.diverged_at[0] < 0 else None
        same[name] = {"gap": runs.gap[0] / big, "diverged_at": int(runs.diverged_at[0]),
                      "path": runs.points[0], "max_path_difference": diff}
    tuned = {name: [small["axis-aligned quadratic" if c == 1.0 else f"quadratic ×{c:g}"]
                    ["entries"][name]["hyperparameters"]["learning_rate"]
                    for c in config.scales] for name in config.optimizers}
    return {"c": cs, "first_step_ratio": first, "scale": big, "same_hyperparameters": same,
            "tuned_lr": tuned, "scales": list(config.scales)}


def mnist_runs(config: Config) -> dict:
    """Full-batch runs of an MLP on MNIST-1D (float32) at fixed learning rates; the cosine of
    every update with −∇f at the step's start."""
    d = gdlab.data.mnist1d(seed=0)
    data = {"x": jnp.asarray(d["x"][:config.mnist_train_size]),
            "y": jnp.asarray(d["y"][:config.mnist_train_size])}
    model = gdlab.models.mlp([40, config.mnist_hidden, 10], dtype=jnp.float32)
    loss = gdlab.losses.objective(model.apply, gdlab.losses.softmax_cross_entropy)
    params = model.init(jax.random.key(1))
    grads_at = jax.jit(jax.vmap(jax.grad(loss), in_axes=(0, None)))
    out = {}
    for name, lr in zip(config.optimizers, config.mnist_learning_rates, strict=True):
        traj = gdlab.train.run(loss, params, optimizers.make(name, learning_rate=lr),
                               config.mnist_steps, data=data)
        history = jax.tree.map(jnp.asarray, traj.params)
        updates = jax.tree.map(lambda a: a[1:] - a[:-1], history)
        grads = grads_at(jax.tree.map(lambda a: a[:-1], history), data)
        out[name] = {"hyperparameters": {"learning_rate": lr}, "cosine": _cosines(updates, grads),
                     "loss": traj.loss}
    return out


def run(config: Config) -> dict:
    _check(config)
    seed = seed_example(config)
    small = small_runs(config)
    scale = scale_runs(config, small)
    mnist = mnist_runs(config) if config.mnist else {}
    axis, rot = small["axis-aligned quadratic"]["entries"], small["rotated quadratic"]["entries"]

    def steps_to_target(entry):
        value = entry["row"]["steps_to_target_median"]
        return value if math.isfinite(value) else None

    def median_cos(entries):
        return {n: float(np.nanmedian(e["cosine"])) for n, e in entries.items()}

    sgd_cos = np.concatenate([small[k]["entries"]["sgd"]["cosine"]
                              for k in ("axis-aligned quadratic", "rosenbrock")])
    if mnist:
        sgd_cos = np.concatenate([sgd_cos, mnist["sgd"]["cosine"]])
    big = scale["scale"]
    ratio = scale["tuned_lr"]
    metrics = {
        "seed_angle_deg": round(seed["angles"][f"the seed's {_fmt(config.rescaled)}"], 3),
        "sign_angle_deg": round(seed["angles"]["sign(g): Adam's first step"], 3),
        "sgd_cosine_max_deviation_from_1": float(np.nanmax(np.abs(sgd_cos - 1))),
        "median_cosine": {k: median_cos(small[k]["entries"])
                          for k in ("axis-aligned quadratic", "rosenbrock")},
        "first_step_ratio_at_c_1000": {n: float(v[-1]) for n, v in
                                       scale["first_step_ratio"].items()},
        "tuned_lr_ratio_c1_over_c_max": {n: float(v[0] / v[-1]) for n, v in ratio.items()},
        f"sgd_at_c_{big:g}_with_c1_lr": "diverged" if scale["same_hyperparameters"]["sgd"][
            "diverged_at"] >= 0 else "ok",
        f"adam_at_c_{big:g}_max_path_difference": scale["same_hyperparameters"]["adam"][
            "max_path_difference"],
        "steps_to_target_axis_aligned": {n: steps_to_target(e) for n, e in axis.items()},
        "steps_to_target_rotated": {n: steps_to_target(e) for n, e in rot.items()},
    }
    if mnist:
        metrics["median_cosine"]["mnist1d"] = median_cos(mnist)
    return {"metrics": metrics,
            "series": {"seed": seed, "small": small, "scale": scale, "mnist": mnist,
                       "order": list(config.optimizers)}}


# --------------------------------------------------------------------------- figures


def _color(order, name):
    return compare.style_of(order.index(name))


def _seed_figure(seed):
    fig, axes = plotting.figure(1, 2, title="Does rescaling a gradient change its direction? "
                                "Uniformly: no. Coordinate by coordinate: yes", width=11.0)
    ax = axes[0, 0]
    names = list(seed["angles"])
    values = [seed["angles"][n] for n in names]
    bars = ax.barh(range(len(names)), values, color=plotting.COLORS[:len(names)])
    ax.bar_label(bars, [f"{v:.1f}°" for v in values], padding=3)
    ax.set_yticks(range(len(names)), names)
    ax.invert_yaxis()
    ax.set_xlim(0, max(values + [1]) * 1.3)
    ax.set(xlabel=f"angle to g = {_fmt(seed['vector'])} (degrees)",
           title="the seed's example")
    ax = axes[0, 1]
    r = plotting.array(seed["spreads"])
    ax.fill_between(r, plotting.array(seed["angle_q25"]), plotting.array(seed["angle_q75"]),
                    alpha=0.25, label="measured IQR")
    ax.plot(r, plotting.array(seed["angle_median"]), "o", markersize=4, label="measured median")
    ax.plot(r, plotting.array(seed["angle_theory"]), **plotting.THEORY,
            label="theory arccos(E[s] / √E[s²])")
    ax.set_xscale("log")
    ax.set(xlabel="spread r of the factors s_i ~ log-uniform[1/r, r]",
           ylabel="angle between g and s ⊙ g (degrees)",
           title="random per-coordinate factors, 1000-D Gaussian g")
    ax.legend()
    return fig


def _cosine_figure(small, mnist, order):
    panels = [("axis-aligned quadratic", small["axis-aligned quadratic"]["entries"]),
              ("rosenbrock", small["rosenbrock"]["entries"])]
    if mnist:
        panels.append(("MNIST-1D MLP (full batch, float32, fixed η)", mnist))
    fig, axes = plotting.figure(2, len(panels), title="How far from −g does each optimizer "
                                "step? cos(update, −gradient) along tuned runs",
                                width=4.3 * len(panels) + 1.6, height=7.4)
    for j, (title, entries) in enumerate(panels):
        ax = axes[0, j]
        names = [n for n in order if n in entries]
        for name in names:
            cos = plotting.array(entries[name]["cosine"])
            ax.plot(np.arange(cos.size), cos, label=name, linewidth=0.9, alpha=0.85,
                    **_color(order, name))
        ax.set(title=title, xlabel="step k", ylabel="cos(u_k, −g_k)", ylim=(-1.05, 1.05))
        ax = axes[1, j]
        data = [plotting.array(entries[n]["cosine"]) for n in names]
        data = [c[np.isfinite(c)] for c in data]
        box = ax.boxplot(data, tick_labels=names, showfliers=False, patch_artist=True,
                         medianprops={"color": "k"})
        for patch, name in zip(box["boxes"], names, strict=True):
            patch.set_facecolor(_color(order, name)["color"])
            patch.set_alpha(0.6)
        ax.set_ylim(-1.05, 1.05)
        ax.tick_params(axis="x", rotation=30)
        ax.set(ylabel="cos over all steps", title="distribution over the run")
    axes[0, -1].legend(loc="upper left", bbox_to_anchor=(1.02, 1))
    return fig


def _scale_figure(scale, small, order):
    fig, axes = plotting.figure(1, 3, title="Multiply the loss by c: SGD's step grows c×, "
                                "Adam's does not", width=14.0, height=4.2)
    ax = axes[0, 0]
    cs = plotting.array(scale["c"])
    for name, ratio in scale["first_step_ratio"].items():
        ax.loglog(cs, plotting.array(ratio), marker="o", markersize=4, label=name,
                  **_color(order, name))
    ax.loglog(cs, cs, **plotting.THEORY, label="∝ c")
    ax.set(xlabel="loss multiplied by c", ylabel="first step length / at c = 1",
           title="first step, same hyperparameters")
    ax.legend()
    ax = axes[0, 1]
    scales = scale["scales"]
    for name, lrs in scale["tuned_lr"].items():
        ax.loglog(scales, plotting.array(lrs), marker="o", markersize=5, label=name,
                  **_color(order, name))
    ax.set(xlabel="loss multiplied by c", ylabel="tuned learning rate",
           title="the learning rate each optimizer needs")
    ax.legend(fontsize=7.5)
    ax = axes[0, 2]
    big = scale["scale"]
    for name, entry in scale["same_hyperparameters"].items():
        base = plotting.array(small["axis-aligned quadratic"]["entries"][name]["gap"])
        line, = ax.semilogy(np.maximum(base, 1e-30), label=f"{name}, c = 1",
                            **_color(order, name))
        gap = plotting.array(entry["gap"])
        ax.semilogy(np.maximum(gap, 1e-30), linestyle=":", linewidth=2.5, color=line.get_color(),
                    label=f"{name}, c = {big:g} (loss / c)")
        if entry["diverged_at"] >= 0:
            plotting.mark_diverged(ax, [entry["diverged_at"]], [np.nanmax(base)],
                                   label=f"{name} diverged at c = {big:g}")
    ax.set(xlabel="step", ylabel="f − f* (in units of c = 1)",
           title=f"same η at c = 1 and c = {big:g}")
    ax.legend(fontsize=7.5)
    return fig


def _aligned_figure(small, order):
    fig, axes = plotting.figure(1, 3, title="Per-coordinate scaling helps only on axis-aligned "
                                "valleys: the same quadratic, turned by 45°", width=14.0,
                                height=4.3)
    ax = axes[0, 0]
    names = [n for n in order if n in small["axis-aligned quadratic"]["entries"]]
    width = 0.38
    for j, key in enumerate(("axis-aligned quadratic", "rotated quadratic")):
        values = [small[key]["entries"][n]["row"]["steps_to_target_median"] for n in names]
        shown = [v if v is not None and math.isfinite(v) else np.nan for v in values]
        top = small[key]["entries"][names[0]]["gap"]
        x = np.arange(len(names)) + (j - 0.5) * width
        ax.bar(x, np.nan_to_num(shown, nan=len(plotting.array(top))), width,
               label=key, color=plotting.COLORS[j], alpha=0.85,
               hatch=None)
        for xi, v in zip(x, shown, strict=True):
            ax.text(xi, (v if np.isfinite(v) else len(plotting.array(top))) + 3,
                    f"{v:.0f}" if np.isfinite(v) else "never", ha="center", fontsize=7,
                    rotation=0 if np.isfinite(v) else 90, va="bottom")
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
    ax.set(ylabel="steps to f − f* ≤ 1e-6 (tuned η)", title="steps to target (bar at the "
           "top: never)")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.22), ncols=2)
    for ax, key in zip(axes[0, 1:], ("axis-aligned quadratic", "rotated quadratic"), strict=True):
        group = small[key]
        paths = {n: plotting.array(group["entries"][n]["path"]) for n in names}
        A = plotting.array(group["A"])
        half = 1.15 * max(float(np.nanmax(np.abs(p))) for p in paths.values())
        plotting.contour(ax, lambda z, A=A: 0.5 * np.einsum("i...,ij,j...->...", z, A, z),
                         ((-half, half), (-half, half)), levels=20)
        for n in ("sgd", "adam", "sign_descent", "adagrad"):
            if n in paths:
                p = paths[n][np.all(np.isfinite(paths[n]), axis=-1)]
                ax.plot(p[:, 0], p[:, 1], marker=".", markersize=2, linewidth=1, label=n,
                        **_color(order, n))
        ax.plot(0, 0, "*", color="#009E73", markersize=10)
        ax.set_aspect("equal")
        ax.set(title=f"{key}: paths (tuned η)")
        ax.legend(fontsize=7.5, loc="lower right")
    return fig


def plot(result: dict) -> dict:
    s = result["series"]
    order = s["order"]
    return {
        "seed_example": _seed_figure(s["seed"]),
        "cosine_along_runs": _cosine_figure(s["small"], s["mnist"], order),
        "scale_invariance": _scale_figure(s["scale"], s["small"], order),
        "axis_aligned_vs_rotated": _aligned_figure(s["small"], order),
    }


if __name__ == "__main__":
    gdlab.experiment.script_main(__file__)
