"""Only w − η·g descends: w + g climbs, w·g leaves the minimum, fixed-size steps never settle.

Given the gradient g at w, a beginner might try w + g, w·g (element-wise) or w − η·g.
Each is an optax transformation here (``add_gradient``, ``multiply_gradient``, ``sgd``;
fixed-size steps are ``sign_descent``) and runs through the same ``train.run``:

* w + η·g is gradient *ascent*: on f(w) = (w − w*)², w − w* grows by 1 + 2η per step.
* w ← w·g is a map whose fixed points are 0 and w* + ½, not w*: started *at* the
  minimum (g = 0) it jumps to 0; from (−½, w* + ½) it settles at 0, elsewhere it explodes.
* "Multiply" has one legitimate reading: the multiplicative (exponentiated-gradient)
  update w ← w·exp(−η·g) for positive weights (``exponentiated_gradient``), gradient
  descent on log w. It keeps weights positive, stays at the minimum (exp(0) = 1) and
  shrinks w − w* by 1 − 2η·w* per step near w*.
* w − η·g shrinks w − w* by 1 − 2η per step and stops where g = 0.
* w ← w − s·sign(g) moves exactly s every step: from 0.833 towards 0.437 it walks,
  overshoots, and then bounces around the optimum forever at a distance set by s, while
  a step proportional to the gradient slows down as it arrives. That bounce is
  fixed-step overshoot, not an exploding gradient: the gradient is many times smaller
  while it bounces than at the start. The floor is the step size itself (the "hot and
  cold" problem in another form).

Run:    gdlab run update_rules      (or: python experiments/update_rules.py --help)
Writes: results/update_rules/result.json, rules.png, fixed_steps.png
The measured numbers are the claims in results/update_rules/result.json (`gdlab list`).
"""

import dataclasses
import math
from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np

import gdlab


@dataclass(frozen=True)
class Config:
    optimum: float = 0.437  # w* of the 1-D loss f(w) = (w − w*)²
    start: float = 0.833  # w0 of the 1-D runs
    learning_rate: float = 0.1  # η for w + η·g and w − η·g in 1-D (limit 1)
    rule_steps: int = 40  # steps of the rule comparison
    multiply_starts: tuple[float, ...] = (-0.7, -0.3, 0.2, 0.437, 0.833, 1.0)  # w0 for w·g
    # w ← w·exp(−η·g) for positive weights, from these positive starts
    exp_starts: tuple[float, ...] = (0.02, 0.2, 0.437, 0.833, 2.0)
    exp_steps: int = 200  # enough for 1 − 2η·w* ≈ 0.91 per step to reach 1e-6
    # 2-D: ½(w − w*)ᵀA(w − w*), A with eigenvalues (0.5, 1) rotated by `angle`.
    optimum_2d: tuple[float, float] = (1.0, 0.5)
    start_2d: tuple[float, float] = (2.0, -1.0)
    eigenvalues_2d: tuple[float, float] = (0.5, 1.0)
    angle_2d: float = 0.5  # radians
    learning_rate_2d: float = 0.5  # η in 2-D (limit 2/λ_max = 2)
    extra_start_2d: tuple[float, float] = (-0.5, 1.5)  # a start from which w·g explodes
    exp_start_2d: tuple[float, float] = (2.0, 0.1)  # a positive start for w·exp(−η·g)
    # Fixed-size steps w ← w − s·sign(g) against w ← w − η·g.
    sign_step: float = 0.01  # s
    gd_rate: float = 0.05  # η of the proportional step (factor 1 − 2η = 0.9)
    fixed_steps: int = 100
    sweep_min_step: float = 1.3e-3  # step sizes: geomspace(min, max, num), none dividing 0.396
    sweep_max_step: float = 0.2
    sweep_num_steps: int = 50
    sweep_iterations: int = 1000  # enough to arrive: (start − optimum) / min step = 305
    tail: int = 100  # the last `tail` iterates measure where a run ends up


QUICK = {"sweep_num_steps": 12, "sweep_iterations": 500}


def _check(config: Config) -> None:
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        for v in value if isinstance(value, tuple) else (value,):
            if isinstance(v, float) and not math.isfinite(v):
                raise ValueError(f"{field.name} must be finite, got {value!r}")
    if not config.exp_starts or min(config.exp_starts) <= 0 or min(config.exp_start_2d) <= 0:
        raise ValueError("exp_starts and exp_start_2d must be positive (w·exp(−η·g) is an "
                         "update for positive weights)")
    if config.optimum <= 0 or min(config.optimum_2d) <= 0:
        raise ValueError("optimum and optimum_2d must be positive (so that the positive "
                         "weights of w·exp(−η·g) can reach them)")
    if not config.multiply_starts or config.exp_steps < 10:
        raise ValueError("multiply_starts must not be empty; exp_steps must be >= 10")
    if config.sign_step <= 0 or config.learning_rate <= 0 or config.gd_rate <= 0:
        raise ValueError("sign_step, learning_rate and gd_rate must be > 0")
    if not 0 < config.sweep_min_step < config.sweep_max_step:
        raise ValueError("need 0 < sweep_min_step < sweep_max_step")
    distance = abs(config.start - config.optimum)
    if config.sweep_iterations - config.tail < distance / config.sweep_min_step + 2:
        raise ValueError("sweep_iterations too small for the smallest step to arrive and "
                         "then stay for `tail` iterates")
    if config.tail < 2 or config.rule_steps < 2:
        raise ValueError("tail and rule_steps must be >= 2")


def _run(loss, start, optimizer, steps):
    """One train.run; iterates (NaN after a divergence), losses, and the status."""
    traj = gdlab.train.run(loss, jnp.asarray(start, jnp.float64), optimizer, steps,
                           divergence_factor=None,  # show a climb until it overflows
                           record_params=True)
    params = np.array(traj.params, dtype=np.float64)  # a writable copy
    if traj.status == "diverged":
        params[traj.diverged_at:] = np.nan
    return {"w": params, "loss": np.asarray(traj.loss), "grad_norm": np.asarray(traj.grad_norm),
            "status": traj.status}


def rules_1d(config: Config) -> dict:
    """w + η·g, w·g and w − η·g on f(w) = (w − w*)² from the same start."""
    optimum = config.optimum
    loss = lambda w: (w - optimum) ** 2
    rules = {
        "add": gdlab.optimizers.make("add_gradient", learning_rate=config.learning_rate),
        "multiply": gdlab.optimizers.make("multiply_gradient"),
        "exp_multiply": gdlab.optimizers.make("exponentiated_gradient",
                                              learning_rate=config.learning_rate),
        "subtract": gdlab.optimizers.make("sgd", learning_rate=config.learning_rate),
    }
    runs = {name: _run(loss, config.start, opt, config.rule_steps) for name, opt in rules.items()}
    starts = {w0: _run(loss, w0, rules["multiply"], config.rule_steps)
              for w0 in config.multiply_starts}
    exp_runs = [{"start": w0, **_run(loss, w0, rules["exp_multiply"], config.exp_steps)}
                for w0 in config.exp_starts]
    add = runs["add"]["w"] - optimum
    with np.errstate(divide="ignore", invalid="ignore"):
        exp_factor = [np.abs((r["w"][1:] - optimum) / (r["w"][:-1] - optimum)) for r in exp_runs
                      if r["start"] != optimum]
    return {"runs": runs, "multiply_starts": [
        {"start": w0, **r} for w0, r in starts.items()
    ], "add_growth": np.abs(add[1:] / add[:-1]), "exp_starts": exp_runs,
        "exp_factor": exp_factor, "exp_factor_theory": 1 - 2 * config.learning_rate * optimum}


def rules_2d(config: Config) -> dict:
    """The three rules on a rotated 2-D quadratic with its minimum away from the origin."""
    A = gdlab.problems.quadratic(eigenvalues=config.eigenvalues_2d,
                                 angle=config.angle_2d).info["A"]
    optimum = np.asarray(config.optimum_2d)
    problem = gdlab.problems.quadratic(A=A, b=A @ optimum, x0=config.start_2d)
    eta = config.learning_rate_2d
    rules = {
        "add": gdlab.optimizers.make("add_gradient", learning_rate=eta),
        "multiply": gdlab.optimizers.make("multiply_gradient"),
        "subtract": gdlab.optimizers.make("sgd", learning_rate=eta),
    }
    runs = {name: _run(problem.loss, problem.x0, opt, config.rule_steps)
            for name, opt in rules.items()}
    runs["multiply_other_start"] = _run(problem.loss, config.extra_start_2d, rules["multiply"],
                                        config.rule_steps)
    runs["exp_multiply"] = _run(problem.loss, config.exp_start_2d, gdlab.optimizers.make(
        "exponentiated_gradient", learning_rate=eta), config.exp_steps)
    return {"runs": runs, "optimum": optimum, "A": A, "fmin": problem.fmin}


def sign_floor(start: float, optimum: float, step: float) -> tuple[float, float, int]:
    """Closed form for w ← w − s·sign(w − w*): the 2-cycle (near, far distance) and arrival.

    The iterates are w0 − k·s until they pass w*; with d = |w0 − w*| = k*·s + r
    (0 ≤ r < s) they then bounce between w* ± r and w* ∓ (s − r): distances min(r, s − r)
    and max(r, s − r), first below w* at step k* + 1.
    """
    distance = abs(start - optimum)
    k = np.floor(distance / step)
    r = distance - k * step
    return float(min(r, step - r)), float(max(r, step - r)), int(k) + 1


def fixed_steps(config: Config) -> dict:
    """Sign steps of size s vs proportional steps; the error floor for many step sizes."""
    optimum = config.optimum
    loss = lambda w: (w - optimum) ** 2
    sign = _run(loss, config.start, gdlab.optimizers.make("sign_descent",
                learning_rate=config.sign_step), config.fixed_steps)
    gd = _run(loss, config.start, gdlab.optimizers.make("sgd", learning_rate=config.gd_rate),
              config.fixed_steps)
    steps = np.geomspace(config.sweep_min_step, config.sweep_max_step, config.sweep_num_steps)
    sweep = gdlab.train.sweep(loss, jnp.asarray(config.start, jnp.float64), "sign_descent",
                              {"learning_rate": steps}, config.sweep_iterations,
                              record_params=True, divergence_factor=None)
    w = np.asarray(sweep.params)  # (num, T + 1)
    error = np.abs(w - optimum)
    tail = error[:, -config.tail:]
    moves = np.abs(np.diff(w, axis=1))
    theory = np.array([sign_floor(config.start, optimum, s) for s in steps])
    return {
        "sign": sign, "gd": gd, "sign_theory": sign_floor(config.start, optimum, config.sign_step),
        "step_sizes": steps,
        "tail_min_error": tail.min(axis=1), "tail_max_error": tail.max(axis=1),
        "tail_mean_error": tail.mean(axis=1),
        "min_error_ever_after_arrival": np.array([
            error[i, int(theory[i, 2]):].min() for i in range(len(steps))
        ]),
        "theory_near": theory[:, 0], "theory_far": theory[:, 1], "theory_arrival": theory[:, 2],
        "move_minus_step_max_abs": float(np.max(np.abs(moves - steps[:, None]))),
    }


def run(config: Config) -> dict:
    _check(config)
    one = rules_1d(config)
    two = rules_2d(config)
    fixed = fixed_steps(config)
    r1, r2 = one["runs"], two["runs"]
    start_at_min = next(r for r in one["multiply_starts"] if r["start"] == config.optimum)
    sign_err = np.abs(fixed["sign"]["w"] - config.optimum)
    near, far, arrival = fixed["sign_theory"]
    metrics = {
        "rules_1d": {
            name: {"final_w": None if r["status"] == "diverged" else float(r["w"][-1]),
                   "final_loss": None if r["status"] == "diverged" else float(r["loss"][-1]),
                   "status": r["status"]}
            for name, r in r1.items()
        },
        "add_growth_per_step_measured": float(np.median(one["add_growth"])),
        "add_growth_per_step_theory_1+2eta": 1 + 2 * config.learning_rate,
        "multiply_from_the_minimum_first_step": float(start_at_min["w"][1]),
        "multiply_final_w_by_start": {
            f"w0_{r['start']:g}": None if r["status"] == "diverged" else float(r["w"][-1])
            for r in one["multiply_starts"]
        },
        "rules_2d_final_loss_minus_fmin": {
            name: None if r["status"] == "diverged" else float(r["loss"][-1] - two["fmin"])
            for name, r in r2.items()
        },
        "rules_2d_multiply_final_w": [float(v) for v in r2["multiply"]["w"][-1]],
        "exp": _exp_metrics(one, two, config),
        "sign_step": config.sign_step,
        "sign_first_pass_step": int(np.argmax(fixed["sign"]["w"] < config.optimum)),
        "sign_first_pass_step_theory": arrival,
        "sign_errors_after_arrival": [float(sign_err[arrival:].min()),
                                      float(sign_err[arrival:].max())],
        "sign_errors_after_arrival_theory": [near, far],
        "gd_final_error": float(abs(fixed["gd"]["w"][-1] - config.optimum)),
        "gd_final_error_theory": abs(config.start - config.optimum)
        * abs(1 - 2 * config.gd_rate) ** config.fixed_steps,
        "sign_grad_norm_at_start": float(fixed["sign"]["grad_norm"][0]),
        "sign_grad_norm_max_after_arrival": float(np.max(fixed["sign"]["grad_norm"][arrival:])),
        "sign_grad_norm_max_over_start": float(np.max(fixed["sign"]["grad_norm"])
                                               / fixed["sign"]["grad_norm"][0]),
        "sweep_step_sizes": len(fixed["step_sizes"]),
        "sweep_floor_minus_closed_form_max_abs": float(np.max(np.abs(
            fixed["tail_min_error"] - fixed["theory_near"]))),
        "sweep_closer_than_closed_form_count": int(np.sum(
            fixed["min_error_ever_after_arrival"] < fixed["theory_near"] - 1e-12)),
        "sweep_move_minus_step_max_abs": fixed["move_minus_step_max_abs"],
    }
    return {"metrics": metrics, "series": {"rules_1d": one, "rules_2d": two, "fixed": fixed}}


def _exp_metrics(one: dict, two: dict, config: Config) -> dict:
    """w ← w·exp(−η·g): positivity, arrival, the factor near w*, the 2-D run."""
    runs, optimum = one["exp_starts"], config.optimum
    main = next((r for r in runs if r["start"] == config.start), runs[-1])
    error = np.abs(main["w"] - optimum)
    near = int(np.argmax(error < 1e-4))  # close enough that the map is linear (to 1e-4)
    at_min = [r for r in runs if r["start"] == optimum]
    w2 = two["runs"]["exp_multiply"]
    return {
        "starts": [r["start"] for r in runs],
        "min_w_over_all_starts": float(min(np.nanmin(r["w"]) for r in runs)),
        "all_ok": all(r["status"] == "ok" for r in runs),
        "final_error_max": float(max(abs(r["w"][-1] - optimum) for r in runs)),
        "moves_from_the_minimum": float(np.max(np.abs(at_min[0]["w"] - optimum)))
        if at_min else None,
        "factor_near_optimum": float(error[near + 1] / error[near]) if near else None,
        "factor_theory_1-2eta_w*": 1 - 2 * config.learning_rate * optimum,
        "final_loss_minus_fmin_2d": None if w2["status"] == "diverged"
        else float(w2["loss"][-1] - two["fmin"]),
        "min_w_2d": float(np.nanmin(w2["w"])),
    }


def claims(result: dict) -> list[dict]:
    from gdlab import claims as c

    m, cfg = result["metrics"], result["config"]
    eta, opt = cfg["learning_rate"], cfg["optimum"]
    r1, ex = m["rules_1d"], m["exp"]
    by_start = m["multiply_final_w_by_start"]
    inside = [w0 for w0 in cfg["multiply_starts"] if -0.5 < w0 < opt + 0.5]
    mult_right = all((by_start[f"w0_{w0:g}"] is not None and abs(by_start[f"w0_{w0:g}"]) < 1e-3)
                     == (w0 in inside) for w0 in cfg["multiply_starts"])
    near, far = m["sign_errors_after_arrival_theory"]
    return [
        c.close("w + η·g climbs: w − w* grows by 1 + 2η per step (median measured factor)",
                m["add_growth_per_step_measured"], 1 + 2 * eta, rtol=1e-9),
        c.close("w ← w·g started at the minimum (g = 0) jumps to 0",
                m["multiply_from_the_minimum_first_step"], 0.0),
        c.fact(f"w ← w·g ends near 0 (|w| < 1e-3) from starts in (−½, w* + ½) and "
               f"explodes from the others, after {cfg['rule_steps']} steps", by_start,
               "→ 0 iff −½ < w₀ < w* + ½", mult_right),
        c.below("w ← w·g on the 2-D quadratic also ends at the origin, not the minimum "
                "(max |w|)", max(abs(v) for v in m["rules_2d_multiply_final_w"]), 1e-6),
        c.close(f"w − η·g: |w − w*| after {cfg['fixed_steps']} steps of η = {cfg['gd_rate']:g} "
                f"is (1 − 2η)^t·|w₀ − w*|", m["gd_final_error"], m["gd_final_error_theory"],
                rtol=1e-6),
        c.close(f"w − η·g from {cfg['start']:g}: |w − w*| after {cfg['rule_steps']} steps of "
                f"η = {eta:g} is (1 − 2η)^t·|w₀ − w*|", abs(r1["subtract"]["final_w"] - opt),
                abs(cfg["start"] - opt) * (1 - 2 * eta) ** cfg["rule_steps"], rtol=1e-6),
        c.above("w ← w·exp(−η·g) keeps every weight positive (smallest w over all runs)",
                ex["min_w_over_all_starts"], 0.0),
        c.below(f"w ← w·exp(−η·g) reaches w* from every positive start (max |w − w*| after "
                f"{cfg['exp_steps']} steps)", ex["final_error_max"], 1e-6),
        c.close("w ← w·exp(−η·g) started at the minimum stays there (max |w − w*|)",
                ex["moves_from_the_minimum"], 0.0, atol=1e-15),
        c.close("w ← w·exp(−η·g) shrinks w − w* by 1 − 2η·w* per step near w*",
                ex["factor_near_optimum"], ex["factor_theory_1-2eta_w*"], rtol=1e-3),
        c.below("w ← w·exp(−η·g) from a positive 2-D start reaches the minimum (f − f*)",
                ex["final_loss_minus_fmin_2d"], 1e-10),
        c.close(f"sign steps of {cfg['sign_step']:g} first pass w* at the closed-form step",
                m["sign_first_pass_step"], m["sign_first_pass_step_theory"]),
        c.close("after that they stay at the closed-form distances min(r, s − r) from w* "
                "(nearest)", m["sign_errors_after_arrival"][0], near, atol=1e-12),
        c.close(f"... and max(r, s − r) (farthest), to the end of the run ({cfg['fixed_steps']} "
                f"steps: a 2-cycle)", m["sign_errors_after_arrival"][1], far, atol=1e-12),
        c.below("0.833 → 0.437 bouncing is fixed-step overshoot, not an exploding gradient: "
                "the largest |g| while bouncing / |g| at the start",
                m["sign_grad_norm_max_after_arrival"] / m["sign_grad_norm_at_start"], 0.1),
        c.close("the gradient never grows along the sign-step run (max |g| / |g₀|)",
                m["sign_grad_norm_max_over_start"], 1.0, atol=1e-12),
        c.below(f"over {m['sweep_step_sizes']} step sizes s the floor is the closed form "
                f"min(r, s − r) (max abs error)", m["sweep_floor_minus_closed_form_max_abs"],
                1e-12),
        c.close("no iterate ever gets closer than the closed form allows (count)",
                m["sweep_closer_than_closed_form_count"], 0),
        c.below("every move has length s exactly (max abs error)",
                m["sweep_move_minus_step_max_abs"], 1e-12),
    ]


# --------------------------------------------------------------------------- figures


def _figures():
    """experiments/_update_rules_figures.py (a private module beside this script)."""
    return gdlab.experiment.sibling(__file__, "_update_rules_figures")


def plot(result: dict) -> dict:
    fig = _figures()
    return {"rules": fig.rules(result), "fixed_steps": fig.fixed_steps(result)}


if __name__ == "__main__":
    gdlab.experiment.script_main(__file__)
