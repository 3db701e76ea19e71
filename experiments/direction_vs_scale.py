"""Per-coordinate scaling turns the step away from −g; what it buys is invariance to rescaling
coordinates one by one, and that pays off only on axis-aligned valleys.

Multiplying a gradient by one number keeps its direction; rescaling coordinates one by
one does not (the seed's g = [10, 20, 40] against [1, 2, 100], Adam's first step sign(g)).
Along real runs (an ill-conditioned quadratic, Rosenbrock, an MLP on MNIST-1D over several
initialisations) we measure cos(update, −g) for SGD, normalised GD (both exactly 1),
momentum, Adagrad, RMSProp, Adam and sign descent.

Invariance to multiplying the loss by c does not need a bent direction: normalised GD,
u = −η g/‖g‖, keeps −g's direction and its steps ignore c just as Adam's do, while SGD's
step grows c× (its tuned learning rate shrinks c×). What per-coordinate scaling adds is
invariance to rescaling *one coordinate's* curvature, the way one big input multiplies its
weight's curvature by input² (weight_update): Adagrad's, RMSProp's, Adam's and sign
descent's paths do not move, while SGD and normalised GD, tuned, slow down with the
condition number. And that is a win only when the valley is aligned with the axes: rotate
the same quadratic by 45° and, over random starts, the advantage is gone.

Run:    gdlab run direction_vs_scale      (or: python experiments/direction_vs_scale.py --help)
Writes: results/direction_vs_scale/result.json, seed_example.png, cosine_along_runs.png,
        scale_invariance.png, coordinate_scaling.png, axis_aligned_vs_rotated.png
Expect: every claim holds ("claims: n/n hold"); the measured numbers are the claims in
        results/direction_vs_scale/result.json
(`gdlab list`); `--seed S` draws other starts and initialisations (seeds S…S+n−1).
"""

import functools
import math
import warnings
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import optax

import gdlab
from gdlab import claims as C
from gdlab import compare, gradients, optimizers, train

PER_COORDINATE = ("adagrad", "rmsprop", "adam", "sign_descent")
KEEP_DIRECTION = ("sgd", "normalized_gd")
ROSENBROCK = gdlab.problems.get("rosenbrock")
FIXED = {"adagrad": {"initial_accumulator_value": 0.0}}
"""Adagrad as Duchi et al. write it: the accumulator starts at 0 (optax's default 0.1 is a
floor on the denominator that no longer scales with the gradient)."""


@dataclass(frozen=True)
class Config:
    vector: tuple[float, ...] = (10.0, 20.0, 40.0)  # the seed's gradient ...
    rescaled: tuple[float, ...] = (1.0, 2.0, 100.0)  # ... and its element-wise rescaling
    dimension: int = 1000  # random rescalings: a Gaussian vector of this size ...
    spreads: int = 25  # ... times log-uniform factors in [1/r, r], r = 1 … max_spread
    max_spread: float = 1000.0
    trials: int = 200  # random vectors per spread
    optimizers: tuple[str, ...] = ("sgd", "normalized_gd", "momentum", "adagrad", "rmsprop",
                                   "adam", "sign_descent")
    eigenvalues: tuple[float, float] = (0.2, 4.0)  # the ill-conditioned quadratic (d2l's)
    x0: tuple[float, float] = (-5.0, -2.0)  # start 0 (paths); the others: same distance
    starts: int = 9  # random starts x on the circle |x| = |x0|, angles from seeds seed…
    angle: float = math.pi / 4  # the rotated copy: same eigenvalues, axes turned by this
    scales: tuple[float, ...] = (1.0, 10.0, 100.0, 1000.0)  # loss × c; 2nd curvature × c
    num_steps: int = 300  # updates per 2-D run (the budget of every "never")
    target: float = 1e-6  # (f − f*)/c counted as solved
    step_low: float = 1e-7  # shared log grid of learning rates (tuned on every problem)
    step_high: float = 1e4
    per_decade: int = 4
    mnist: bool = True  # also the MLP on MNIST-1D (full batch, float32)
    mnist_seeds: int = 5  # initialisations (keys seed … seed + mnist_seeds − 1)
    mnist_steps: int = 200
    mnist_hidden: int = 32  # MLP 40-32-10, tanh, Xavier init
    mnist_train_size: int = 1000  # the first 1000 training examples
    mnist_learning_rates: tuple[float, ...] = (0.5, 0.5, 0.05, 0.1, 0.003, 0.01, 0.001)
    seed: int = 0  # random rescalings, starts and initialisations


QUICK = {"optimizers": ("sgd", "normalized_gd", "adagrad", "adam"), "scales": (1.0, 1000.0),
         "num_steps": 150, "per_decade": 2, "mnist": False, "trials": 20, "spreads": 7,
         "starts": 5}


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
    if min(config.eigenvalues) <= 0 or 1.0 not in config.scales or min(config.scales) <= 0:
        raise ValueError("eigenvalues and scales must be > 0, and scales must include 1.0")
    if config.starts < 5 or (config.mnist and config.mnist_seeds < 1):
        raise ValueError("starts must be >= 5 (claims over starts) and mnist_seeds >= 1")


# ------------------------------------------------------------ the 2-D quadratic family


def _rotation(angle, xp=jnp):
    """The 2-D rotation by ``angle`` (traced with xp = jnp, on the host with xp = np)."""
    c, s = xp.cos(angle), xp.sin(angle)
    return xp.stack([xp.stack([c, -s]), xp.stack([s, c])])


@functools.cache
def switch(names: tuple[str, ...], learning_rates: tuple[float, ...] | None = None):
    """A factory of one optax transformation that runs every optimizer of ``names`` side
    by side (each on its own state, all fed the same gradient) and applies the update of
    optimizer number ``which``, a traced number: swept as a grid axis, every optimizer
    shares one compiled sweep. Each update is computed exactly as the optimizer alone
    computes it; the others are discarded (selected, never mixed in).

    ``learning_rates``: one fixed rate per optimizer (the factory then takes ``which``
    only); None: the factory takes ``(which, learning_rate)``.
    """

    def build(which, learning_rate):
        index = jnp.asarray(which).astype(jnp.int32)
        if learning_rates is not None:
            learning_rate = jnp.asarray(learning_rates, jnp.asarray(which).dtype)[index]
        parts = [optimizers.factory(n)(learning_rate=learning_rate, **FIXED.get(n, {}))
                 for n in names]

        def init(params):
            return tuple(part.init(params) for part in parts)

        def update(updates, state, params=None):
            outs = [part.update(updates, s, params) for part, s in zip(parts, state, strict=True)]
            chosen = jax.tree.map(lambda *u: jnp.stack(u)[index], *(u for u, _ in outs))
            return chosen, tuple(s for _, s in outs)

        return optax.GradientTransformation(init, update)

    if learning_rates is None:
        return build
    return lambda which: build(which, None)


_rosenbrock_grads = jax.jit(jax.vmap(jax.grad(ROSENBROCK.loss)))


def family(d, data, *, start, case):
    """Case ``case`` of the 2-D family from start ``start``, displaced by d.

    A row of ``data["cases"]`` is (c, γ, angle, kind): kind 0 is c · ½ zᵀ diag(λ₁, γλ₂) z
    with z = Rᵀx and x = R·starts[start] + d (the start turns with the problem, so SGD
    sees the same problem); kind 1 is Rosenbrock from its standard start. One loss for
    every case: with ``switch``, one compiled sweep for every optimizer.
    """
    c, gamma, angle, kind = data["cases"][jnp.asarray(case).astype(jnp.int32)]
    rot = _rotation(angle)
    z = data["starts"][jnp.asarray(start).astype(jnp.int32)] + rot.T @ d
    quad = c * 0.5 * jnp.sum(data["lam"] * jnp.stack([1.0, gamma]) * z * z)
    return jnp.where(kind == 1, ROSENBROCK.loss(ROSENBROCK.x0 + d), quad)


def cases(config: Config) -> dict[str, tuple[float, float, float, float]]:
    """name -> (loss factor c, factor γ on the second curvature, rotation angle, kind)."""
    out = {"axis-aligned": (1.0, 1.0, 0.0, 0), "rotated": (1.0, 1.0, config.angle, 0)}
    out.update({f"loss ×{c:g}": (c, 1.0, 0.0, 0) for c in config.scales if c != 1.0})
    out.update({f"coordinate ×{c:g}": (1.0, c, 0.0, 0) for c in config.scales if c != 1.0})
    out["rosenbrock"] = (1.0, 1.0, 0.0, 1)
    return out


def start_points(config: Config) -> np.ndarray:
    """Start 0 is x0; start i ≥ 1 has |x0| and an angle drawn from default_rng(seed + i)."""
    radius = float(np.hypot(*config.x0))
    angles = [np.random.default_rng(config.seed + i).uniform(0, 2 * np.pi)
              for i in range(1, config.starts)]
    return np.stack([np.asarray(config.x0)]
                    + [radius * np.array([np.cos(a), np.sin(a)]) for a in angles])


def _gradient(x, row, lam) -> np.ndarray:
    """∇f at points x (..., 2): c·R diag(λ₁, γλ₂) Rᵀ x, or Rosenbrock's gradient."""
    c, gamma, angle, kind = row
    if kind == 1:
        return np.asarray(_rosenbrock_grads(jnp.asarray(x.reshape(-1, 2)))).reshape(x.shape)
    rot = _rotation(angle, np)
    return c * np.einsum("ij,...j->...i", rot @ np.diag(lam * [1.0, gamma]) @ rot.T, x)


def _summary(cos) -> dict:
    """cos (runs, steps) -> per-step median over runs, each run's median, the overall
    median and the largest |cos − 1| (what the figures and claims read)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN steps: every run converged
        return {"per_step": np.nanmedian(cos, axis=0), "per_run": np.nanmedian(cos, axis=1),
                "median": float(np.nanmedian(cos)),
                "max_deviation": float(np.nanmax(np.abs(cos - 1)))}


def _cosines(updates, grads, *, floor=1e-10) -> np.ndarray:
    """cos(u_k, −g_k) along the last-but-one axis; NaN where ‖g‖ fell below floor·‖g₀‖."""
    u, g = np.asarray(updates), -np.asarray(grads)
    nu, ng = np.linalg.norm(u, axis=-1), np.linalg.norm(g, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = np.sum(u * g, axis=-1) / (nu * ng)
    return np.where(ng > floor * ng[..., :1], cos, np.nan)


def quadratic_runs(config: Config) -> dict:
    """Every learning rate × optimizer × case × start in one compiled sweep (``switch``).

    The rate is tuned per case on the median over starts of the protocol's score (mean
    log10 of (f − f*)/c along the run, ``compare.score``); each tuned rate comes with
    ``train.best``'s edge flags. Also kept: the runs of every case at the rate tuned on
    the axis-aligned case (same η), and the score curves.
    """
    table = cases(config)
    rows = np.asarray(list(table.values()), np.float64)
    fmin = np.where(rows[:, 3] == 1, float(ROSENBROCK.fmin), 0.0)
    starts = start_points(config)
    lam = np.asarray(config.eigenvalues, np.float64)
    data = {"lam": jnp.asarray(lam), "starts": jnp.asarray(starts), "cases": jnp.asarray(rows)}
    steps = compare.step_grid(config.step_low, config.step_high, config.per_decade)
    names = tuple(config.optimizers)
    grid = {"learning_rate": steps, "which": np.arange(len(names)), "case": np.arange(len(rows)),
            "start": np.arange(len(starts))}
    rots = np.stack([_rotation(a, np) for a in rows[:, 2]])
    x_start = np.einsum("cij,sj->csi", rots, starts)  # (case, start, 2)
    x_start[rows[:, 3] == 1] = ROSENBROCK.x0
    sw = train.sweep(family, jnp.zeros(2, jnp.float64), switch(names), grid, config.num_steps,
                     data=data, record_params=True)
    out = {}
    for w, name in enumerate(names):
        gap = (np.asarray(sw.loss)[:, w] - fmin[None, :, None, None]) / rows[None, :, 0, None, None]
        dead = np.asarray(sw.diverged_at)[:, w]  # (lr, case, start)
        score = compare.score(gap, dead, 1e-12)
        hit = train.steps_to_target(gap, config.target).astype(float)
        hit = np.where(hit >= 0, hit, np.inf)
        x = np.asarray(sw.params)[:, w] + x_start[None, :, :, None, :]  # (lr, case, start, step, 2)
        entries, axis_at = {}, None
        for j, case in enumerate(table):
            b = train.best(score[:, j], {"learning_rate": steps})
            i = b.index[0]
            axis_at = i if case == "axis-aligned" else axis_at
            path = x[i, j]
            entries[case] = {"best": b.as_dict(), "learning_rate": b.setting["learning_rate"],
                             "steps_to_target": hit[i, j],
                             "median_score": np.median(score[:, j], axis=-1)}
            if case in ("axis-aligned", "rotated"):
                entries[case]["path"] = path[0]
            if case in ("axis-aligned", "rosenbrock"):
                entries[case]["cosine"] = _summary(_cosines(
                    np.diff(path, axis=1), _gradient(path[:, :-1], rows[j], lam)))
        for j, case in enumerate(table):  # every case at every rate, against axis-aligned
            span = np.maximum(np.max(np.linalg.norm(x[:, [0, j]], axis=-1), axis=(1, 2, 3)),
                              np.hypot(*config.x0))
            with np.errstate(invalid="ignore"):
                diff = np.max(np.abs(x[:, j] - x[:, 0]), axis=(1, 2, 3)) / span
            ok = np.all((dead[:, j] < 0) & (dead[:, 0] < 0), axis=-1) & np.isfinite(diff)
            entries[case]["same_rate"] = {"diverged": int(np.sum(dead[axis_at, j] >= 0)),
                                          "path_difference": np.where(ok, diff, np.inf)}
            if case in ("axis-aligned", f"loss ×{max(config.scales):g}"):  # the figure's
                entries[case]["same_rate"]["gap"] = gap[axis_at, j, 0]
        out[name] = entries
    return {"cases": {k: list(v) for k, v in table.items()}, "steps": steps, "starts": starts,
            "runs": out}


def mnist_runs(config: Config) -> dict:
    """Full-batch runs of an MLP on MNIST-1D (float32) at fixed learning rates from
    ``mnist_seeds`` initialisations; the cosine of every update with −∇f at its start."""
    problem = gdlab.problems.get("mnist1d_mlp", hidden=config.mnist_hidden,
                                 train_size=config.mnist_train_size)  # tanh, Xavier
    loss, data = problem.loss, {"x": problem.data["x"], "y": problem.data["y"]}

    @jax.jit
    def cosines(history, data):
        updates = jax.tree.map(lambda a: a[1:] - a[:-1], history)
        grads = jax.vmap(jax.grad(loss), in_axes=(0, None))(
            jax.tree.map(lambda a: a[:-1], history), data)
        return jax.vmap(gradients.cosine)(updates, jax.tree.map(lambda g: -g, grads))

    seeds = list(range(config.seed, config.seed + config.mnist_seeds))
    names, rates = tuple(config.optimizers), tuple(config.mnist_learning_rates)
    sw = train.sweep(loss, problem.init, switch(names, rates), {"which": np.arange(len(names))},
                     config.mnist_steps, seeds=seeds, data=data, record_params=True)
    out = {}
    for w, (name, lr) in enumerate(zip(names, rates, strict=True)):
        cos = np.stack([np.asarray(cosines(jax.tree.map(lambda a, w=w, k=k: a[w, k], sw.params),
                                           data)) for k in range(len(seeds))])
        out[name] = {"learning_rate": lr, "cosine": _summary(cos),
                     "final_loss": np.asarray(sw.final_loss)[w],
                     "diverged": int(np.sum(np.asarray(sw.diverged_at)[w] >= 0))}
    return {"seeds": seeds, "runs": out}


def first_steps(config: Config, quad: dict) -> dict:
    """Length of the first update for the loss c·f (same hyperparameters), over c = 1e-3…1e3."""
    x0 = np.asarray(config.x0, np.float64)
    g = np.asarray(config.eigenvalues, np.float64) * x0  # ∇(½xᵀΛx) at x0
    cs = np.geomspace(1e-3, 1e3, 13)
    names = tuple(n for n in ("sgd", "normalized_gd", "adam") if n in config.optimizers)
    rates = np.asarray([quad["runs"][n]["axis-aligned"]["learning_rate"] for n in names])
    lengths = np.asarray(_first_step_lengths(names, rates, cs, g, x0))  # (optimizer, c)
    one = int(np.argmin(np.abs(cs - 1)))
    return {"c": cs, "ratio": {n: lengths[i] / lengths[i, one] for i, n in enumerate(names)}}


@functools.partial(jax.jit, static_argnums=0)
def _first_step_lengths(names, rates, cs, g, x0):
    """‖first update‖ of each optimizer (its rate from ``rates``) for the gradients c·g."""
    out = []
    for name, rate in zip(names, rates, strict=True):
        opt = optimizers.factory(name)(learning_rate=rate, **FIXED.get(name, {}))
        out.append(jax.vmap(lambda c, opt=opt: jnp.linalg.norm(
            opt.update(c * g, opt.init(x0), x0)[0]))(cs))
    return jnp.stack(out)


def run(config: Config) -> dict:
    _check(config)
    example = _private("seed")
    seed = example.seed_example(config)
    quad = quadratic_runs(config)
    mnist = mnist_runs(config) if config.mnist else {}
    first = first_steps(config, quad)
    runs = quad["runs"]
    metrics = {
        "seed_angle_deg": seed["angles"][f"the seed's {example.fmt(config.rescaled)}"],
        "sign_angle_deg": seed["angles"]["sign(g): Adam's first step"],
        "random_angle_at_max_spread": {"median": float(seed["angle_median"][-1]),
                                       "theory": float(seed["angle_theory"][-1])},
        "first_step_ratio_at_c_max": {n: float(v[-1]) for n, v in first["ratio"].items()},
        "tuned_learning_rate": {n: {c: e["learning_rate"] for c, e in runs[n].items()}
                                for n in runs},
        "tuned_on_edge": {f"{n} / {c}": e["best"]["edges"] for n in runs
                          for c, e in runs[n].items() if e["best"]["edges"]},
        "steps_to_target_median": {c: {n: _median(runs[n][c]["steps_to_target"]) for n in runs}
                                   for c in quad["cases"]},
        "steps_ratio_to_sgd_median": {c: {n: _ratio(runs[n][c], runs["sgd"][c], config)
                                           for n in runs} for c in ("axis-aligned", "rotated")},
        "median_cosine": {c: {n: runs[n][c]["cosine"]["median"] for n in runs}
                          for c in ("axis-aligned", "rosenbrock")},
    }
    if mnist:
        metrics["median_cosine"]["mnist1d"] = {n: e["cosine"]["median"]
                                               for n, e in mnist["runs"].items()}
    return {"metrics": metrics,
            "series": {"seed": seed, "quadratic": quad, "mnist": mnist,
                       "first_steps": first, "order": list(config.optimizers)}}


def _ratio(entry, sgd, config) -> float | None:
    """Median over starts of steps / SGD's steps (a miss counts as the budget + 1)."""
    steps = [np.where(np.isfinite(e["steps_to_target"]), e["steps_to_target"],
                      config.num_steps + 1) for e in (entry, sgd)]
    return _median(steps[0] / steps[1])


def _median(values) -> float | None:
    m = float(np.median(values))
    return m if math.isfinite(m) else None


# --------------------------------------------------------------------------- claims


def _angle(a, b) -> float:
    """NumPy's angle in degrees: the independent reference for the seed module's ``degrees``."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    return math.degrees(math.acos(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b))))


def _steps(entry, budget) -> np.ndarray:
    """Steps to target per start; a start that misses it counts as budget + 1 (a lower
    bound on its steps: right for "at least", conservative for "at most" claims)."""
    s = np.asarray(entry["steps_to_target"], float)
    return np.where(np.isfinite(s), s, budget + 1)


def _shift_claim(name, runs, steps, c, per_decade) -> dict:
    """Score curves at c = 1 and at c (in units of c) against each other: SGD's moves by
    log10(c) decades of η, the invariant optimizers' does not move at all."""
    base = np.asarray(runs[name]["axis-aligned"]["median_score"], float)
    scaled = np.asarray(runs[name][f"loss ×{c:g}"]["median_score"], float)
    shift = int(round(math.log10(c) * per_decade)) if name in ("sgd", "momentum") else 0
    a, b = (base, scaled) if shift == 0 else (base[shift:], scaled[:-shift])
    both = np.isfinite(a) & np.isfinite(b)
    gap = float(np.max(np.abs(a[both] - b[both]))) if both.any() else None
    what = f"moves {math.log10(c):g} decades of η down" if shift else "does not move"
    return C.below(f"{name}: the tuning curve score(η) of the loss ×{c:g} {what} "
                   f"(max difference in log10 f, where both runs converge or not)",
                   gap, 1e-3)


def claims(result: dict) -> list[dict]:
    cfg, s, m = result["config"], result["series"], result["metrics"]
    runs, budget = s["quadratic"]["runs"], cfg["num_steps"]
    seeds = list(range(cfg["seed"], cfg["seed"] + cfg["starts"]))
    big = max(cfg["scales"])
    out = [
        C.close("the seed's [1, 2, 100] is this many degrees from [10, 20, 40] (NumPy: "
                "expected)", m["seed_angle_deg"], _angle(cfg["vector"], cfg["rescaled"]),
                rtol=1e-9),
        C.close("Adam's first step −η·sign(g) is this many degrees off −g", m["sign_angle_deg"],
                _angle(cfg["vector"], np.sign(cfg["vector"])), rtol=1e-9),
        C.close(f"random log-uniform factors in [1/{cfg['max_spread']:g}, "
                f"{cfg['max_spread']:g}] turn a {cfg['dimension']}-D Gaussian g by "
                "arccos(E[s]/√E[s²]) (median of the trials, degrees)",
                m["random_angle_at_max_spread"]["median"],
                m["random_angle_at_max_spread"]["theory"], atol=1.0),
    ]
    cos = [runs[n]["axis-aligned"]["cosine"] for n in KEEP_DIRECTION if n in runs]
    cos += [runs[n]["rosenbrock"]["cosine"] for n in KEEP_DIRECTION if n in runs]
    if s["mnist"]:
        cos += [s["mnist"]["runs"][n]["cosine"] for n in KEEP_DIRECTION]
    deviation = max(c["max_deviation"] for c in cos)
    out.append(C.below("SGD and normalised GD step exactly along −g: max |cos(u, −g) − 1| "
                       "over every step of every run (quadratic, Rosenbrock, float32 MLP "
                       "from every initialisation)", deviation, 1e-5))
    if s["mnist"]:
        mn = s["mnist"]["runs"]
        for name, bound in (("adam", 0.95), ("sign_descent", 0.9)):
            if name in mn:
                per_seed = np.asarray(mn[name]["cosine"]["per_run"], float)
                out.append(C.over_seeds(f"{name} bends the step away from −g on the MNIST-1D "
                                        "MLP: median cos(u, −g) along the run",
                                        per_seed, upper=bound, seeds=s["mnist"]["seeds"]))
    ratio = m["first_step_ratio_at_c_max"]
    out.append(C.close("multiply the loss by c = 1000: SGD's first step grows 1000×",
                       ratio["sgd"], 1000.0, rtol=1e-9))
    for name in ("normalized_gd", "adam"):
        if name in ratio:
            out.append(C.close(f"multiply the loss by c = 1000: {name}'s first step does "
                               "not change", ratio[name], 1.0, rtol=1e-6))
    for name in runs:
        if f"loss ×{big:g}" in runs[name]:
            out.append(_shift_claim(name, runs, np.asarray(s["quadratic"]["steps"]), big,
                                    cfg["per_decade"]))
    same = runs["sgd"][f"loss ×{big:g}"]["same_rate"]
    n = cfg["starts"]
    out.append(C.fact(f"SGD at the loss ×{big:g} with the rate tuned at c = 1 diverges "
                      "(starts)", f"{same['diverged']}/{n}", f"{n}/{n} diverge",
                      same["diverged"] == n))
    rates = list(range(len(s["quadratic"]["steps"])))
    for name, case in [(n, "loss") for n in ("normalized_gd", "adam") if n in runs] + [
            (n, "coordinate") for n in PER_COORDINATE if n in runs]:
        what = ("the loss" if case == "loss" else "the second coordinate's curvature")
        diff = runs[name][f"{case} ×{big:g}"]["same_rate"]["path_difference"]
        out.append(C.over_seeds(f"{name} follows the same path when {what} is ×{big:g} "
                                "(same η; max |Δx| / the path's extent, over steps and starts, "
                                "per rate of the grid; a diverged run fails)", diff, upper=1e-6,
                                seeds=rates))
    for name in [n for n in KEEP_DIRECTION if n in runs]:
        hit = _steps(runs[name][f"coordinate ×{big:g}"], budget)
        out.append(C.over_seeds(f"{name}, tuned, is slowed by the second coordinate's "
                                f"curvature ×{big:g}: steps to (f − f*) ≤ {cfg['target']:g} "
                                f"(a miss counts as the budget {budget} + 1)", hit,
                                lower=budget, strict=False, seeds=seeds))
    sgd_axis = _steps(runs["sgd"]["axis-aligned"], budget)
    sgd_rot = _steps(runs["sgd"]["rotated"], budget)
    for name, bound in (("adagrad", 1 / 3), ("rmsprop", 0.75)):
        if name in runs:
            r = _steps(runs[name]["axis-aligned"], budget) / sgd_axis
            out.append(C.over_seeds(f"axis-aligned valley: {name} (tuned) needs a fraction of "
                                    "tuned SGD's steps to target (per start)", r, upper=bound,
                                    seeds=seeds))
    for name in [n for n in PER_COORDINATE if n in runs and n != "sign_descent"]:
        r = _steps(runs[name]["rotated"], budget) / sgd_rot
        out.append(C.over_seeds(f"rotated by {math.degrees(cfg['angle']):g}°: {name} (tuned) "
                                "has no advantage left, steps to target / tuned SGD's "
                                "(per start)", r, lower=0.8, seeds=seeds))
    inside = [f"{n} / {c}: {e}" for n, entries in runs.items() for c, e in entries.items()
              if e["best"]["edges"]]
    out.append(C.fact("every tuned rate (every optimizer, every case) lies strictly inside the "
                      "grid", inside or "all inside", "all inside", not inside))
    return out


def _private(topic: str):
    """experiments/_direction_vs_scale_<topic>.py, a private module beside this script."""
    return gdlab.experiment.sibling(__file__, f"_direction_vs_scale_{topic}")


def plot(result: dict) -> dict:
    s, cfg = result["series"], result["config"]
    fig, order, budget = _private("figures"), s["order"], cfg["num_steps"]
    return {
        "seed_example": fig.seed_figure(s["seed"]),
        "cosine_along_runs": fig.cosine_figure(s["quadratic"]["runs"], s["mnist"], order),
        "scale_invariance": fig.scale_figure(s["quadratic"], s["first_steps"], order,
                                             max(cfg["scales"])),
        "coordinate_scaling": fig.coordinate_figure(s["quadratic"], order, cfg["scales"],
                                                    budget),
        "axis_aligned_vs_rotated": fig.aligned_figure(s["quadratic"], order,
                                                      math.degrees(cfg["angle"]), budget,
                                                      cfg["eigenvalues"]),
    }


if __name__ == "__main__":
    gdlab.experiment.script_main(__file__)
