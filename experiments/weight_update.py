"""(pred − goal)·input is the gradient of ½(pred − goal)²; GD diverges exactly when α·input² > 2.

Grokking Deep Learning, chapter 4: for the neuron pred = input·weight, gradient descent
updates weight ← weight − alpha·(pred − goal)·input. That is d/dw ½(input·w − goal)²,
and the curvature d²/dw² is input², so pred − goal shrinks by the factor
(1 − alpha·input²) each step: it converges when alpha·input² < 2 and diverges beyond.

Why does a big input give a big update? Δpred = input·Δw: the input is the weight's
*leverage* on the prediction, and the gradient error·input assigns each weight credit in
proportion to it. With several inputs, the update ∝ input is the smallest change of the
weights (minimum norm) that moves the prediction by a given amount. But the exact
one-step correction is Δw = −error/input, *inversely* proportional to the input: alpha
carries units of 1/input². alpha = 1/input² is the exact correction (the factor
1 − alpha·input² is 0, one step lands on the goal); a fixed alpha with growing inputs
overshoots more and more and, past input² = 2/alpha, "goes out of control". That is why
inputs are normalised: with features of different scales no single alpha suits all the
weights, and rescaling each feature to unit size makes one alpha fit them all.

Run:    gdlab run weight_update      (or: python experiments/weight_update.py --help)
Writes: results/weight_update/result.json, book_runs.png, effects.png, leverage.png,
        stability_map.png
The measured numbers are the claims in results/weight_update/result.json (`gdlab list`).
"""

import dataclasses
import functools
import math
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

import gdlab


@dataclass(frozen=True)
class Config:
    weight: float = 0.5  # the book's start weight
    input: float = 0.5  # the book's input
    goal: float = 0.8  # the book's goal_pred
    alpha: float = 1.0  # the book's learning rate
    num_steps: int = 20  # the book's 20 iterations
    big_input: float = 2.0  # "what if the input is 2?": alpha·input² = 4 > 2, divergence
    small_alpha: float = 0.1  # ... and the cure: alpha·input² = 0.4
    hot_cold_step: float = 0.001  # chapter 3's hot-and-cold step_amount
    hot_cold_iterations: int = 1101  # the book's loop length
    effect_inputs: tuple[float, ...] = (0.5, 0.0, -0.5)  # positive, stopping, reversal
    map_inputs: int = 61  # inputs on the stability map, linspace(-map_max_input, +)
    map_max_input: float = 3.0
    map_alphas: int = 241  # alphas on the stability map, geomspace(alpha_min, alpha_max)
    alpha_min: float = 1e-2
    alpha_max: float = 1e2
    map_steps: int = 200  # steps per run on the map
    # Several inputs: the minimum-norm change of the weights for a change in prediction.
    multi_inputs: tuple[float, ...] = (0.5, 2.0, -1.0)
    # Normalisation: a 2-weight neuron on examples (x₁, x₂), x₂ scaled by `feature_scale`.
    feature_scale: float = 10.0  # the raw feature's scale (normalised: 1)
    feature_examples: int = 16
    feature_alphas: int = 61  # alphas: geomspace(1e-3, 10, feature_alphas)
    feature_steps: int = 3000
    feature_target: float = 1e-8  # "trained": loss ≤ feature_target · initial loss
    verbose: bool = False  # print every iteration as the book does


QUICK = {"map_inputs": 13, "map_alphas": 41, "map_steps": 60, "feature_alphas": 31}
MAX_MAP_RUNS = 1_000_000  # map_inputs × map_alphas: ~0.1 GB of results, a few minutes


def _check(config: Config) -> None:
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        for v in value if isinstance(value, tuple) else (value,):
            if isinstance(v, float) and not math.isfinite(v):
                raise ValueError(f"{field.name} must be finite, got {value!r}")
    for name in ("alpha", "small_alpha"):
        if getattr(config, name) > 1e6:
            raise ValueError(f"{name} must be <= 1e6 (the book's are 1 and 0.1; larger ones "
                             f"overflow float64 within the run), got {getattr(config, name)!r}")
    runs = config.map_inputs * config.map_alphas
    if runs > MAX_MAP_RUNS:
        raise ValueError(f"the stability map would run map_inputs × map_alphas = {runs:,} "
                         f"runs (about {runs * 72 / 2**30:.1f} GiB of results); at most "
                         f"{MAX_MAP_RUNS:,}: pass smaller --map-inputs / --map-alphas")
    if not config.effect_inputs or 0.0 in config.multi_inputs or len(config.multi_inputs) < 2:
        raise ValueError("effect_inputs must not be empty; multi_inputs needs >= 2 nonzero "
                         "inputs")
    if config.feature_scale <= 0 or not 0 < config.feature_target < 1:
        raise ValueError("feature_scale must be > 0 and feature_target in (0, 1)")
    if min(config.feature_examples, config.feature_alphas, config.feature_steps) < 3:
        raise ValueError("feature_examples, feature_alphas and feature_steps must be >= 3")
    if config.alpha <= 0 or config.small_alpha <= 0:
        raise ValueError("alpha and small_alpha must be > 0")
    if config.hot_cold_step <= 0:
        raise ValueError(f"hot_cold_step must be > 0, got {config.hot_cold_step}")
    if not 0 < config.alpha_min < config.alpha_max:
        raise ValueError("need 0 < alpha_min < alpha_max")
    if min(config.map_inputs, config.map_alphas, config.map_steps, config.num_steps) < 2:
        raise ValueError("map_inputs, map_alphas, map_steps and num_steps must be >= 2")


def loss(weight, input, goal):
    """½(pred − goal)² for pred = input·weight."""
    return 0.5 * (gdlab.models.linear_neuron().apply(weight, input) - goal) ** 2


def _book_loss(weight, data, *, input):
    """The chapter's loss with the input swept (traced) and the goal as data: one function
    object, so every book-style sweep of the same grid size shares one compiled program."""
    return loss(weight, input, data["goal"])


@jax.jit
def _book_grads(weights, inputs, goal):
    """jax.grad of ½(pred − goal)² at every recorded weight: weights (inputs, alphas, T)."""
    grad = jax.vmap(jax.grad(loss), in_axes=(0, None, None))  # over the steps
    return jax.vmap(jax.vmap(grad, in_axes=(0, None, None)), in_axes=(0, 0, None))(
        weights, inputs, goal)


_BOOK_INPUTS = 24  # book-style sweeps pad their inputs to a multiple of this (one program)


def book_runs(config: Config, pairs, *, weight: float | None = None) -> list[dict]:
    """The chapter's loop for every (input, alpha) of ``pairs``, from ``weight`` (default:
    the config's), in one ``gdlab.train.sweep`` over inputs × alphas (the input enters
    the loss as a traced number); errors and predictions per iteration."""
    weight = config.weight if weight is None else weight
    inputs = list(dict.fromkeys(float(x) for x, _ in pairs))
    alphas = list(dict.fromkeys(float(a) for _, a in pairs))
    size = -(-len(inputs) // _BOOK_INPUTS) * _BOOK_INPUTS
    grid_inputs = np.asarray(inputs + [inputs[-1]] * (size - len(inputs)))
    grid_alphas = np.asarray((alphas + [alphas[-1]])[:max(2, len(alphas))])
    sweep = gdlab.train.sweep(
        _book_loss, jnp.asarray(weight, dtype=jnp.float64), "sgd",
        {"input": grid_inputs, "learning_rate": grid_alphas}, config.num_steps - 1,
        data={"goal": jnp.asarray(config.goal, dtype=jnp.float64)},
        divergence_factor=None,  # the book prints the whole divergent run
        record_params=True,
    )
    all_weights = np.asarray(sweep.params)  # (inputs, alphas, iterations)
    all_grads = np.asarray(_book_grads(all_weights, grid_inputs, config.goal))
    runs = []
    for input, alpha in pairs:
        i, j = inputs.index(float(input)), alphas.index(float(alpha))
        weights, grads = all_weights[i, j], all_grads[i, j]
        pred = input * weights
        error = (pred - config.goal) ** 2
        # The book's own arithmetic, for the check "update == gradient".
        book_update = (pred - config.goal) * input
        theory = (1 - alpha * input**2) ** (2 * np.arange(len(error))) * error[0]
        runs.append({
            "input": input, "alpha": alpha, "weight": weights, "prediction": pred,
            "error": error, "theory_error": theory,
            "update_minus_grad": np.max(np.abs(book_update - grads)),
        })
    return runs


def book_run(config: Config, input: float, alpha: float) -> dict:
    """The chapter's loop (one run of ``book_runs``)."""
    return book_runs(config, [(input, alpha)])[0]


def hot_and_cold(config: Config) -> dict:
    """Chapter 3's hot-and-cold loop: probe weight ± step, keep the better one."""
    traj = gdlab.train.run(
        lambda w: loss(w, config.input, config.goal),
        jnp.asarray(config.weight, dtype=jnp.float64),
        gdlab.optimizers.make("hot_and_cold", step_size=config.hot_cold_step),
        config.hot_cold_iterations - 1,
        record_params=True,
    )
    pred = config.input * np.asarray(traj.params)
    return {"prediction": pred, "error": (pred - config.goal) ** 2}


@jax.jit
def _hessians(weight, inputs, goal):
    """d²/dw² of ½(pred − goal)² (jax.hessian) at ``weight`` for every input."""
    return jax.vmap(jax.hessian(loss), in_axes=(None, 0, None))(weight, inputs, goal)


def stability_map(config: Config) -> dict:
    """One sweep over (input, alpha): does pred − goal shrink, grow, or stay put?"""
    inputs = np.linspace(-config.map_max_input, config.map_max_input, config.map_inputs)
    alphas = np.geomspace(config.alpha_min, config.alpha_max, config.map_alphas)
    sweep = gdlab.train.sweep(
        lambda w, input: loss(w, input, config.goal),
        jnp.asarray(0.0, dtype=jnp.float64),  # pred − goal = −goal ≠ 0 for every input
        "sgd",
        {"input": inputs, "learning_rate": alphas},
        config.map_steps,
        record=config.map_steps,  # the first and last loss (divergence is seen every step)
    )
    first, last = sweep.loss[..., 0], sweep.loss[..., -1]
    # 1 = converges (error shrinks), -1 = diverges (grows or blows up), 0 = never moves.
    outcome = np.where(sweep.diverged_at >= 0, -1, np.sign(first - last)).astype(int)
    hessian = _hessians(config.weight, inputs, config.goal)
    boundary, brackets, rel_error = [], [], []
    for i, x in enumerate(inputs):
        bad = np.nonzero(outcome[i] != 1)[0]
        if x == 0 or bad.size == 0 or bad[0] == 0:
            boundary.append(None)
            continue
        j = bad[0]
        theory = 2 / x**2
        boundary.append(alphas[j])
        brackets.append(bool(alphas[j - 1] < theory <= alphas[j]))
        rel_error.append(abs(alphas[j] - theory) / theory)
    return {
        "inputs": inputs, "alphas": alphas, "outcome": outcome, "measured_boundary": boundary,
        "hessian": np.asarray(hessian), "brackets": brackets, "rel_error": rel_error,
        "alpha_ratio": alphas[1] / alphas[0],
    }


def effects(config: Config) -> dict:
    """Weight trajectories for positive, zero and negative inputs; per-step shrink factors."""
    runs = book_runs(config, [(x, config.alpha) for x in config.effect_inputs])
    scale_inputs = np.linspace(0.1, 2.0, 20)
    # pred − goal = −goal ≠ 0 at the start
    scaled = book_runs(config, [(float(x), config.alpha) for x in scale_inputs], weight=0.0)
    factors = [abs((r["prediction"][1] - config.goal) / (r["prediction"][0] - config.goal))
               for r in scaled]
    return {
        "inputs": list(config.effect_inputs),
        "weights": [r["weight"] for r in runs],
        "scale_inputs": scale_inputs,
        "measured_factor": np.array(factors),
        "theory_factor": np.abs(1 - config.alpha * scale_inputs**2),
    }


@functools.partial(jax.jit, static_argnums=0)
def _leverage_derivatives(apply, w0, inputs, goal, w, multi, plane):
    """jax.grad in one program: d pred/dw of the model and d/dw ½(pred − goal)² per input;
    the gradients of ½(w·x − goal)² for several inputs (at w) and for two (at 0)."""
    lever = jax.vmap(jax.grad(apply), in_axes=(None, 0))(w0, inputs)
    grads = jax.vmap(jax.grad(loss), in_axes=(None, 0, None))(w0, inputs, goal)
    several = lambda v, x: 0.5 * (v @ x - goal) ** 2
    return (lever, grads, jax.grad(several)(w, multi),
            jax.grad(several)(jnp.zeros_like(plane), plane))


def leverage(config: Config) -> dict:
    """Why a big input gives a big update, and why that overshoots.

    The leverage d pred/dw (jax.grad of the model) is the input; the gradient is
    error × leverage. The exact one-step correction is Δw = −error/input; GD's step is
    −alpha·error·input, so alpha = 1/input² is exact (measured: one step lands on goal).
    With several inputs the gradient step is the minimum-norm Δw for its change in
    prediction (compared with the least-squares solution of NumPy's lstsq).
    """
    model = gdlab.models.linear_neuron()
    w0, goal = 0.0, config.goal  # pred − goal = −goal ≠ 0 for every input
    inputs = np.linspace(0.25, 3.0, 12)
    x = np.asarray(config.multi_inputs, dtype=np.float64)
    w = np.full_like(x, w0)
    plane = x[:2]  # the same with the first two inputs, for the picture
    lever, grads, g, plane_g = map(np.asarray, _leverage_derivatives(
        model.apply, w0, inputs, goal, jnp.asarray(w), x, plane))
    error = inputs * w0 - goal
    exact_alpha = 1 / inputs**2
    after = inputs * (w0 - exact_alpha * grads) - goal  # pred − goal after that one step

    multi_error = float(x @ w - goal)
    step = -g / (x @ x)  # alpha = 1/‖x‖²
    min_norm = np.linalg.lstsq(x[None, :], np.array([-multi_error]), rcond=None)[0]
    return {
        "inputs": inputs, "leverage": np.asarray(lever), "error": error,
        "gd_step": -config.alpha * grads, "exact_step": -error / inputs,
        "exact_alpha": exact_alpha, "error_after_exact_alpha": after,
        "multi_inputs": x, "multi_error": multi_error, "multi_gd_step": step,
        "multi_min_norm": min_norm,
        "multi_cosine": float(-g @ min_norm / (np.linalg.norm(g) * np.linalg.norm(min_norm))),
        "multi_error_after": float(x @ (w + step) - goal),
        "plane_inputs": plane, "plane_gd_step": -plane_g / (plane @ plane),
        "plane_min_norm": np.linalg.lstsq(plane[None, :], np.array([goal]), rcond=None)[0],
    }


def _mse(w, data, scale):
    """½·mean((x·w − y)²) with the second feature multiplied by ``scale``."""
    x = data["x"] * jnp.stack([jnp.ones_like(scale), scale])[None, :]
    return 0.5 * jnp.mean((x @ w - data["y"]) ** 2)


@jax.jit
def _mse_at(w0, data, scales):
    """The loss at w0 (scale 1) and its Hessian (jax.hessian) at w0 for every scale."""
    return _mse(w0, data, 1.0), jax.vmap(jax.hessian(_mse), in_axes=(None, None, 0))(
        w0, data, jnp.asarray(scales))


def normalisation(config: Config) -> dict:
    """A 2-weight neuron on correlated unit features, the second one raw (× scale) or
    normalised: steps to the target at each one's best alpha, and the Hessian's κ."""
    n = config.feature_examples
    theta = 2 * np.pi * np.arange(n) / n + 0.3
    features = np.stack([np.cos(theta), np.sin(theta) + 0.5 * np.cos(theta)], axis=1)
    features /= np.sqrt(np.mean(features**2, axis=0))  # unit root-mean-square
    target = features @ np.array([0.3, -0.5])
    data = {"x": jnp.asarray(features), "y": jnp.asarray(target)}
    scales = np.array([1.0, config.feature_scale])
    alphas = np.geomspace(1e-3, 10.0, config.feature_alphas)
    w0 = jnp.zeros(2, dtype=jnp.float64)
    initial, hessians = _mse_at(w0, data, scales)
    initial = float(initial)
    sweep = gdlab.train.sweep(_mse, w0, "sgd", {"scale": scales, "learning_rate": alphas},
                              config.feature_steps, data=data,
                              target=config.feature_target * initial)
    steps = np.where(sweep.steps_to_target >= 0, sweep.steps_to_target, np.inf)
    out = {"scales": scales, "alphas": alphas, "initial_loss": initial, "steps": steps}
    for name, i in (("normalised", 0), ("raw", 1)):
        best = gdlab.train.best(steps[i], {"learning_rate": alphas})
        lam = np.linalg.eigvalsh(np.asarray(hessians[i]))
        out[name] = {"best_alpha": best.setting["learning_rate"], "best_inside": best.inside,
                     "best_steps": best.value, "best_index": best.index[0],
                     "kappa": float(lam.max() / lam.min()), "limit": float(2 / lam.max()),
                     "eigenvalues": lam, "loss": sweep.loss[i, best.index[0]]}
    return out


def _print_book(title: str, errors, predictions) -> None:
    print(title)
    for e, p in zip(errors, predictions, strict=True):
        print(f"Error:{float(e)!s} Prediction:{float(p)!s}")


def run(config: Config) -> dict:
    _check(config)
    book = book_runs(config, [(config.input, config.alpha), (config.big_input, config.alpha),
                              (config.big_input, config.small_alpha)])
    hot = hot_and_cold(config)
    stab = stability_map(config)
    eff = effects(config)
    lev = leverage(config)
    norm = normalisation(config)
    if config.verbose:
        for r in book:
            _print_book(f"-- input {r['input']}, alpha {r['alpha']}", r["error"], r["prediction"])
        _print_book("-- hot and cold", hot["error"], hot["prediction"])
    inputs = stab["inputs"]
    moved = [np.ptp(w) for w in eff["weights"]]
    metrics = {
        "update_minus_grad_max_abs": max(r["update_minus_grad"] for r in book),
        "hessian_minus_input_squared_max_abs": float(np.max(np.abs(stab["hessian"] - inputs**2))),
        "final_error": {
            f"input_{r['input']:g}_alpha_{r['alpha']:g}": float(r["error"][-1]) for r in book
        },
        "hot_and_cold_final_error": float(hot["error"][-1]),
        "hot_and_cold_iterations": config.hot_cold_iterations,
        "zero_input_weight_change": float(moved[list(config.effect_inputs).index(0.0)])
        if 0.0 in config.effect_inputs else None,
        "negative_input_final_weight": float(eff["weights"][-1][-1]),
        "boundary_inputs_tested": len(stab["brackets"]),
        "boundary_bracketed_fraction": float(np.mean(stab["brackets"])),
        "boundary_max_relative_error": float(np.max(stab["rel_error"])),
        "alpha_grid_ratio": float(stab["alpha_ratio"]),
        "book_closed_form_max_rel_error": max(float(np.max(np.abs(
            r["error"] - r["theory_error"]) / r["theory_error"])) for r in book),
        "shrink_factor_max_abs_error": float(
            np.max(np.abs(eff["measured_factor"] - eff["theory_factor"]))
        ),
    }
    metrics["leverage"] = {
        "dpred_dw_minus_input_max_abs": float(np.max(np.abs(lev["leverage"] - lev["inputs"]))),
        "one_step_at_alpha_1_over_input2_max_abs_error": float(
            np.max(np.abs(lev["error_after_exact_alpha"]))),
        "gd_over_exact_step_at_largest_input": float(lev["gd_step"][-1] / lev["exact_step"][-1]),
        "multi_cosine_gd_vs_min_norm": lev["multi_cosine"],
        "multi_step_minus_min_norm_max_abs": float(np.max(np.abs(
            lev["multi_gd_step"] - lev["multi_min_norm"]))),
        "multi_error_after_one_step": lev["multi_error_after"],
    }
    metrics["normalisation"] = {
        "feature_scale": config.feature_scale,
        **{f"{name}_{key}": norm[name][key] for name in ("normalised", "raw")
           for key in ("kappa", "limit", "best_alpha", "best_inside", "best_steps")},
        "steps_ratio_raw_over_normalised": norm["raw"]["best_steps"]
        / norm["normalised"]["best_steps"],
    }
    series = {"book": book, "hot_and_cold": hot, "stability": stab, "effects": eff,
              "leverage": lev, "normalisation": norm}
    return {"metrics": metrics, "series": series}


def claims(result: dict) -> list[dict]:
    from gdlab import claims as c

    m, cfg = result["metrics"], result["config"]
    final = m["final_error"]
    book = [final[f"input_{cfg['input']:g}_alpha_{cfg['alpha']:g}"],
            final[f"input_{cfg['big_input']:g}_alpha_{cfg['alpha']:g}"],
            final[f"input_{cfg['big_input']:g}_alpha_{cfg['small_alpha']:g}"]]
    lev, norm = m["leverage"], m["normalisation"]
    tested = m["boundary_inputs_tested"]
    return [
        c.close("the book's update (pred − goal)·input equals jax.grad of ½(pred − goal)² "
                "(max abs difference, every step)", m["update_minus_grad_max_abs"], 0.0),
        c.close("the curvature d²/dw² (jax.hessian) is input² (max abs difference)",
                m["hessian_minus_input_squared_max_abs"], 0.0),
        c.below("the book's runs follow error_t = (1 − α·input²)^(2t)·error₀ "
                "(max relative error)", m["book_closed_form_max_rel_error"], 1e-9),
        c.below(f"input {cfg['input']:g}, α = {cfg['alpha']:g} converges (error after "
                f"{cfg['num_steps']} iterations)", book[0], 1e-4),
        c.above(f"input {cfg['big_input']:g}, α = {cfg['alpha']:g} (α·input² > 2) diverges "
                f"(error after {cfg['num_steps']} iterations)", book[1], 1e10),
        c.below(f"α = {cfg['small_alpha']:g} cures input {cfg['big_input']:g}",
                book[2], 1e-8),
        c.close(f"hot and cold ends at the book's printed error after "
                f"{m['hot_and_cold_iterations']} iterations", m["hot_and_cold_final_error"],
                1.0799505792475652e-27, rtol=1e-12),
        c.close("input 0 never moves the weight (stopping)", m["zero_input_weight_change"], 0.0),
        c.below("a negative input reverses the update: the weight goes negative, towards "
                "goal/input", m["negative_input_final_weight"], 0.0),
        c.below("the measured per-step factor |e₁/e₀| is |1 − α·input²| (max abs error)",
                m["shrink_factor_max_abs_error"], 1e-12),
        c.fact("the measured divergence boundary brackets 2/input² within one α grid step, "
               "for every nonzero input whose boundary lies in the grid",
               m["boundary_bracketed_fraction"], f"= 1 over {tested} inputs",
               m["boundary_bracketed_fraction"] == 1.0 and tested > 0),
        c.close("leverage: d pred/dw (jax.grad of the model) is the input (max abs difference)",
                lev["dpred_dw_minus_input_max_abs"], 0.0),
        c.below("α = 1/input² is the exact correction −error/input: one step lands on the "
                "goal (max |pred − goal| after it)",
                lev["one_step_at_alpha_1_over_input2_max_abs_error"], 1e-14),
        c.close(f"GD's step / the exact step is α·input²: at input 3 with α = {cfg['alpha']:g} "
                f"it is {cfg['alpha'] * 9:g}× too long", lev["gd_over_exact_step_at_largest_input"],
                cfg["alpha"] * 9, rtol=1e-12),
        c.below("several inputs: the gradient step (α = 1/‖input‖²) is the minimum-norm "
                "change of the weights (NumPy lstsq; max abs difference)",
                lev["multi_step_minus_min_norm_max_abs"], 1e-15),
        c.fact("normalisation: each one's best α lies strictly inside the α grid",
               [norm["normalised_best_inside"], norm["raw_best_inside"]], "both inside",
               bool(norm["normalised_best_inside"] and norm["raw_best_inside"])),
        c.above(f"normalisation: a feature {cfg['feature_scale']:g}× larger makes κ ≈ "
                f"{cfg['feature_scale']:g}²; even at its best α the raw neuron needs > 10× the "
                f"steps of the normalised one (steps ratio)",
                norm["steps_ratio_raw_over_normalised"], 10.0),
    ]


def _figures():
    """experiments/_weight_update_figures.py (a private module beside this script)."""
    return gdlab.experiment.sibling(__file__, "_weight_update_figures")


def plot(result: dict) -> dict:
    return _figures().plot(result)


if __name__ == "__main__":
    gdlab.experiment.script_main(__file__)
