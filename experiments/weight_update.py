"""(pred − goal)·input is the gradient of ½(pred − goal)²; GD diverges exactly when α·input² > 2.

Grokking Deep Learning, chapter 4: for the neuron pred = input·weight, gradient descent
updates weight ← weight − alpha·(pred − goal)·input. That is d/dw ½(input·w − goal)²,
and the curvature d²/dw² is input², so pred − goal shrinks by the factor
(1 − alpha·input²) each step: it converges when alpha·input² < 2 and diverges beyond.

Run:    gdlab run weight_update      (or: python experiments/weight_update.py --help)
Writes: results/weight_update/result.json, book_runs.png, effects.png, stability_map.png
Expect: ~10 s on a 2-core CPU; update == jax.grad to 0 ulp; the book's runs reproduced
        (final errors 1.0e-14, 3.3e+18, 7.4e-25; hot and cold ends at 1.08e-27 after
        1101 probes); the measured stability boundary brackets 2/input² for every input.
"""

import dataclasses
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

import gdlab
from gdlab import plotting


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
    verbose: bool = False  # print every iteration as the book does


QUICK = {"map_inputs": 13, "map_alphas": 41, "map_steps": 60}


def _check(config: Config) -> None:
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


def book_run(config: Config, input: float, alpha: float) -> dict:
    """The chapter's loop through gdlab.train.run; errors and predictions per iteration."""
    traj = gdlab.train.run(
        lambda w: loss(w, input, config.goal),
        jnp.asarray(config.weight, dtype=jnp.float64),
        gdlab.optimizers.make("sgd", learning_rate=alpha),
        config.num_steps - 1,
        divergence_factor=None,  # the book prints the whole divergent run
    )
    weights = np.asarray(traj.params)
    pred = input * weights
    error = (pred - config.goal) ** 2
    # The book's own arithmetic, for the check "update == gradient".
    book_update = (pred - config.goal) * input
    grads = np.asarray(jax.vmap(jax.grad(loss), in_axes=(0, None, None))(weights, input,
                                                                          config.goal))
    theory = (1 - alpha * input**2) ** (2 * np.arange(len(error))) * error[0]
    return {
        "input": input, "alpha": alpha, "weight": weights, "prediction": pred, "error": error,
        "theory_error": theory, "update_minus_grad": np.max(np.abs(book_update - grads)),
    }


def hot_and_cold(config: Config) -> dict:
    """Chapter 3's hot-and-cold loop: probe weight ± step, keep the better one."""
    traj = gdlab.train.run(
        lambda w: loss(w, config.input, config.goal),
        jnp.asarray(config.weight, dtype=jnp.float64),
        gdlab.optimizers.make("hot_and_cold", step_size=config.hot_cold_step),
        config.hot_cold_iterations - 1,
    )
    pred = config.input * np.asarray(traj.params)
    return {"prediction": pred, "error": (pred - config.goal) ** 2}


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
    )
    first, last = sweep.loss[..., 0], sweep.loss[..., -1]
    # 1 = converges (error shrinks), -1 = diverges (grows or blows up), 0 = never moves.
    outcome = np.where(sweep.diverged_at >= 0, -1, np.sign(first - last)).astype(int)
    hessian = jax.vmap(jax.hessian(loss), in_axes=(None, 0, None))(config.weight, inputs,
                                                                   config.goal)
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
    runs = [book_run(config, x, config.alpha) for x in config.effect_inputs]
    scale_inputs = np.linspace(0.1, 2.0, 20)
    factors = []
    from_zero = dataclasses.replace(config, weight=0.0)  # pred − goal = −goal ≠ 0 at the start
    for x in scale_inputs:
        err = book_run(from_zero, float(x), config.alpha)["prediction"] - config.goal
        factors.append(abs(err[1] / err[0]))
    return {
        "inputs": list(config.effect_inputs),
        "weights": [r["weight"] for r in runs],
        "scale_inputs": scale_inputs,
        "measured_factor": np.array(factors),
        "theory_factor": np.abs(1 - config.alpha * scale_inputs**2),
    }


def _print_book(title: str, errors, predictions) -> None:
    print(title)
    for e, p in zip(errors, predictions, strict=True):
        print(f"Error:{float(e)!s} Prediction:{float(p)!s}")


def run(config: Config) -> dict:
    _check(config)
    book = [
        book_run(config, config.input, config.alpha),
        book_run(config, config.big_input, config.alpha),
        book_run(config, config.big_input, config.small_alpha),
    ]
    hot = hot_and_cold(config)
    stab = stability_map(config)
    eff = effects(config)
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
        "shrink_factor_max_abs_error": float(
            np.max(np.abs(eff["measured_factor"] - eff["theory_factor"]))
        ),
    }
    series = {"book": book, "hot_and_cold": hot, "stability": stab, "effects": eff}
    return {"metrics": metrics, "series": series}


def plot(result: dict) -> dict:
    s = result["series"]
    figures = {}

    fig, axes = plotting.figure(1, 2, title="Does w ← w − α·(pred − goal)·input descend? "
                                "The book's runs, step by step")
    ax = axes[0, 0]
    for r in s["book"]:
        err = plotting.array(r["error"])
        product = r["alpha"] * r["input"] ** 2
        label = f"input {r['input']:g}, α = {r['alpha']:g} (α·input² = {product:g})"
        line, = ax.semilogy(np.arange(len(err)), err, "o-", markersize=3, label=label)
        ax.semilogy(np.arange(len(err)), plotting.array(r["theory_error"]),
                    **{**plotting.THEORY, "color": line.get_color(), "linewidth": 0.9})
    ax.plot([], [], label="closed form (1 − α·input²)^(2t)·error₀", **plotting.THEORY)
    ax.set(xlabel="iteration", ylabel="error = (pred − goal)²",
           title="gradient descent: converge, diverge, converge again")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncols=1)
    ax = axes[0, 1]
    hot = plotting.array(s["hot_and_cold"]["error"])
    gd = plotting.array(s["book"][0]["error"])
    ax.semilogy(np.arange(len(hot)), hot, label="hot and cold, step 0.001 (2 probes/step)")
    ax.semilogy(np.arange(len(gd)), gd, "o-", markersize=3,
                label="gradient descent, α = 1 (1 gradient/step)")
    ax.set(xlabel="iteration", ylabel="error = (pred − goal)²",
           title=f"hot and cold needs {len(hot)} iterations")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16))
    figures["book_runs"] = fig

    eff = s["effects"]
    fig, axes = plotting.figure(1, 2, title="Stopping, negative reversal, scaling: "
                                "what the input does to the update")
    ax = axes[0, 0]
    for x, w in zip(eff["inputs"], eff["weights"], strict=True):
        w = plotting.array(w)
        goal_w = result["config"]["goal"] / x if x else None
        line, = ax.plot(np.arange(len(w)), w, "o-", markersize=3, label=f"input {x:g}")
        if goal_w is not None:
            ax.axhline(goal_w, color=line.get_color(), linewidth=0.8, linestyle=":")
    ax.set(xlabel="iteration", ylabel="weight",
           title="input 0 stops; input < 0 reverses\n(dotted: the optimum goal/input)")
    ax.legend()
    ax = axes[0, 1]
    xs = plotting.array(eff["scale_inputs"])
    ax.plot(xs, plotting.array(eff["theory_factor"]), label="theory |1 − α·input²|",
            **plotting.THEORY)
    ax.plot(xs, plotting.array(eff["measured_factor"]), "o", label="measured |e₁ / e₀|")
    ax.axhline(1, color="#D55E00", linewidth=1, label="1: beyond it the error grows")
    ax.axvline(np.sqrt(2 / result["config"]["alpha"]), color="0.5", linewidth=0.8, linestyle=":")
    ax.set(xlabel="input", ylabel="factor on pred − goal per step",
           title="bigger input, bigger step (α = 1):\nbeyond input = √2 the error grows")
    ax.legend()
    figures["effects"] = fig

    st = s["stability"]
    inputs, alphas = plotting.array(st["inputs"]), plotting.array(st["alphas"])
    outcome = plotting.array(st["outcome"])
    fig, axes = plotting.figure(1, 1, title="Where does gradient descent converge?\n"
                                "measured on a grid (colours) vs theory α = 2/input² (line)",
                                width=7.0, height=5.0)
    ax = axes[0, 0]
    from matplotlib.colors import ListedColormap

    cmap = ListedColormap(["#D55E00", "0.85", "#56B4E9"])
    ax.pcolormesh(inputs, alphas, outcome.T, cmap=cmap, vmin=-1, vmax=1, shading="nearest")
    xs = np.linspace(inputs.min(), inputs.max(), 600)
    xs = xs[np.abs(xs) > 1e-9]
    ax.plot(xs, 2 / xs**2, color="k", linewidth=1.6, label="theory: α = 2 / input²")
    ax.set_yscale("log")
    ax.set_ylim(alphas.min(), alphas.max())
    ax.set(xlabel="input", ylabel="learning rate α (log scale)")
    from matplotlib.patches import Patch

    ax.legend(handles=[Patch(color="#56B4E9", label="converges"),
                       Patch(color="#D55E00", label="diverges"),
                       Patch(color="0.85", label="never moves (input 0)"),
                       *ax.get_legend_handles_labels()[0]], loc="upper right", frameon=True)
    figures["stability_map"] = fig
    return figures


if __name__ == "__main__":
    gdlab.experiment.script_main(__file__)
