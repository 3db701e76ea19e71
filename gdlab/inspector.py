"""``gdlab inspect``: one problem, one optimizer (or a small sweep), every instrument.

    gdlab inspect --problem NAME_OR_REF --optimizer NAME_OR_REF [--learning-rate η]
                  [--steps n] [--every k] [--seed s] [--sweep learning_rate=1e-3:1:8]
                  [--instruments norms,alpha,...] [--out DIR]

Runs ``train.run`` (or ``train.sweep``) with the instruments recorded inside the
compiled scan, and writes ``result.json`` and ``dashboard.png`` (loss; per-layer
update/parameter ratio over steps; effective learning rate; the step-quality α
histogram over time; GSNR and B_simple; sharpness against its stability edge) into
``<out or results_dir()>/inspect/<problem>/`` as one unit (``results.replace_folder``).

The problem comes from ``gdlab.problems.get`` (names and ``file.py:NAME`` references);
the optimizer is a name from ``gdlab.optimizers.names()`` (built through
``optax.inject_hyperparams``, so the scheduled rate and Adam's β₁ are read from its
state) or a reference ``file.py:NAME`` to a GradientTransformation or a factory
``f(learning_rate=...)``. Per-example gradients ("noise") are used when the problem's
data is ``{"x": (N, ...), "y": (N, ...)}`` and its loss a mean over examples (as
``gdlab.losses.objective`` builds it): the first ``NOISE_EXAMPLES`` examples.
"""

import argparse
import re
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import jax
import numpy as np
import optax

from gdlab import optimizers, problems, train

NOISE_EXAMPLES = 512
ADAPTIVE_DEFAULT_LR = 1e-3  # Adam-like optimizers; 0.1 for the rest


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise ValueError(f"inspect: {message}")


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog="gdlab inspect", description="One run (or a small sweep) with every "
                "instrument recorded inside the compiled loop, and a dashboard figure.")
    p.add_argument("--problem", required=True, help="a gdlab.problems name or your own "
                   "problem: path/to/file.py:NAME or module.path:NAME")
    p.add_argument("--optimizer", default="sgd", help="an optimizer name "
                   f"({', '.join(optimizers.names())}) or path/to/file.py:NAME")
    p.add_argument("--learning-rate", type=float, default=None,
                   help=f"step size (default {ADAPTIVE_DEFAULT_LR} for adam/adamw/rmsprop/"
                   "adagrad, else 0.1)")
    p.add_argument("--momentum", type=float, default=None, help="for momentum/nesterov")
    p.add_argument("--steps", type=int, default=200, help="updates (default 200)")
    p.add_argument("--every", type=int, default=None,
                   help="record the instruments every k steps (default steps/50)")
    p.add_argument("--seed", type=int, default=0, help="init seed of random starts")
    p.add_argument("--sweep", default=None,
                   help="NAME=LOW:HIGH:N, N log-spaced values of one hyperparameter")
    p.add_argument("--instruments", default=None,
                   help=f"comma-separated from {', '.join(train.INSTRUMENTS)} (default: "
                   "all that apply)")
    return p


def slug(problem: str) -> str:
    """A folder name for a problem: the name, or ``file.NAME`` for a reference."""
    where, _, name = problem.rpartition(":")
    if where:
        problem = f"{Path(where).stem if where.endswith('.py') else where}.{name}"
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", problem).strip("._") or "problem"


def parse_sweep(text: str) -> tuple[str, np.ndarray]:
    """``"learning_rate=1e-3:1:8"`` -> ("learning_rate", 8 log-spaced values)."""
    match = re.fullmatch(r"([A-Za-z_]\w*)=([^:]+):([^:]+):(\d+)", text or "")
    if not match:
        raise ValueError(f"--sweep {text!r}: expected NAME=LOW:HIGH:N, e.g. "
                         "learning_rate=1e-3:1:8")
    name, low, high, count = match.groups()
    try:
        low, high = float(low), float(high)
    except ValueError:
        raise ValueError(f"--sweep {text!r}: LOW and HIGH must be numbers") from None
    count = int(count)
    if not (np.isfinite(low) and np.isfinite(high) and 0 < low < high and 1 <= count <= 64):
        raise ValueError(f"--sweep {text!r}: need 0 < LOW < HIGH (finite) and 1 <= N <= 64")
    return name, np.geomspace(low, high, count)


def _load_optimizer(reference: str):
    """A reference ``file.py:NAME`` -> a GradientTransformation or a factory."""
    from gdlab.problems._references import _import_file, _import_module

    where, _, attr = reference.rpartition(":")
    is_file = where.endswith(".py") or "/" in where
    module = _import_file(where) if is_file else _import_module(where)
    obj = getattr(module, attr, None)
    if not (isinstance(obj, optax.GradientTransformation) or callable(obj)):
        raise ValueError(f"optimizer reference {reference!r}: not a GradientTransformation or "
                         "a factory")
    return obj


def _hyperparameters(opts) -> dict:
    lr = opts.learning_rate
    if lr is None:
        lr = ADAPTIVE_DEFAULT_LR if opts.optimizer in ("adam", "adamw", "rmsprop",
                                                        "adagrad") else 0.1
    if not (np.isfinite(lr) and lr > 0):
        raise ValueError(f"--learning-rate must be a positive number, got {lr}")
    hyper = {"learning_rate": float(lr)}
    if opts.momentum is not None:
        if not (np.isfinite(opts.momentum) and 0 <= opts.momentum < 1):
            raise ValueError(f"--momentum must be in [0, 1), got {opts.momentum}")
        hyper["momentum"] = float(opts.momentum)
    return hyper


def _per_example(problem):
    """(per_example, examples) for mean losses over ``data["x"], data["y"]``; else None."""
    data = problem.data
    if not (isinstance(data, Mapping) and "x" in data and "y" in data):
        return None
    count = min(NOISE_EXAMPLES, np.shape(data["x"])[0])
    if np.shape(data["y"])[0] != np.shape(data["x"])[0]:
        return None
    one = lambda params, example: problem.loss(params, jax.tree.map(lambda a: a[None], example))
    examples = lambda data, key: {"x": data["x"][:count], "y": data["y"][:count]}
    try:
        jax.eval_shape(one, problem.start(jax.random.key(0)) if problem.init else problem.x0,
                       jax.tree.map(lambda a: a[0], examples(data, None)))
    except Exception:  # a loss that is not a mean over examples: no noise instrument
        return None
    return one, examples


def _names(opts, optimizer_is_adam: bool, noise: bool) -> tuple[str, ...]:
    if opts.instruments:
        names = tuple(n.strip() for n in opts.instruments.split(",") if n.strip())
        bad = [n for n in names if n not in train.INSTRUMENTS]
        if bad or not names:
            raise ValueError(f"unknown instrument(s) {', '.join(bad) or '(none)'}; valid: "
                             f"{', '.join(train.INSTRUMENTS)}")
        return names
    names = ["norms", "effective_lr", "cosines", "alpha", "sharpness"]
    if noise:
        names.append("noise")
    if optimizer_is_adam:
        names.append("preconditioned_sharpness")
    return tuple(names)


def _check(opts) -> None:
    if opts.steps < 1 or opts.steps > 100_000:
        raise ValueError(f"--steps must be in [1, 100000], got {opts.steps}")
    if opts.every is not None and not 1 <= opts.every <= opts.steps:
        raise ValueError(f"--every must be in [1, --steps], got {opts.every}")
    if opts.seed < 0:
        raise ValueError(f"--seed must be >= 0, got {opts.seed}")


def prepare(opts) -> dict:
    """Check everything ``opts`` asks for and build the run (nothing is computed yet)."""
    _check(opts)
    problem = problems.get(opts.problem)
    hyper = _hyperparameters(opts)
    sweep = parse_sweep(opts.sweep) if opts.sweep is not None else None
    is_ref = ":" in opts.optimizer
    optimizer = _load_optimizer(opts.optimizer) if is_ref else optimizers.factory(opts.optimizer)
    if isinstance(optimizer, optax.GradientTransformation) and sweep is not None:
        raise ValueError("--sweep needs an optimizer name or a factory, not a transformation")
    if not is_ref:
        optimizers.check_hyperparameters(opts.optimizer, hyper)
    params = problem.start(jax.random.key(opts.seed)) if problem.init else problem.x0
    if isinstance(optimizer, optax.GradientTransformation):
        transform = optimizer
    else:
        transform = optax.inject_hyperparams(optimizer)(**hyper)
    state = jax.eval_shape(transform.init, params)
    adam = any(isinstance(s, optax.ScaleByAdamState) for s in jax.tree.leaves(
        state, is_leaf=lambda s: isinstance(s, optax.ScaleByAdamState)))
    noise = _per_example(problem)
    names = _names(opts, adam, noise is not None)
    if "noise" in names and noise is None:
        raise ValueError(f"instrument noise: problem {problem.name!r} has no per-example "
                         "data {'x': (N, ...), 'y': (N, ...)}")
    every = opts.every or max(1, opts.steps // 50)
    common = dict(data=problem.data, instruments=names, instrument_every=every,
                  per_example=noise[0] if noise else None, examples=noise[1] if noise else None)
    return dict(opts=opts, problem=problem, hyper=hyper, sweep=sweep, optimizer=optimizer,
                transform=transform, params=params, adam=adam, names=names, every=every,
                common=common)


def inspect(opts, progress=None, plan=None) -> dict:
    """Run what ``opts`` asks; returns the result (JSON-ready after ``to_jsonable``)."""
    plan = prepare(opts) if plan is None else plan
    problem, hyper, sweep, optimizer = (plan[k] for k in ("problem", "hyper", "sweep",
                                                          "optimizer"))
    transform, params, adam, names = (plan[k] for k in ("transform", "params", "adam", "names"))
    every, common = plan["every"], plan["common"]
    if progress:
        progress(f"{problem.name}: {opts.steps} steps, instruments every {every}")
    start = time.perf_counter()
    if sweep is None:
        traj = train.run(problem.loss, params, transform, opts.steps, record_params=False,
                         **common)
        grid, loss = {}, traj.loss[None]
        inst = {k: v[None] for k, v in traj.instruments.items()}
        status = [traj.status]
        diverged_at = [-1 if traj.diverged_at is None else traj.diverged_at]
        steps, inst_steps = traj.steps, traj.instrument_steps
    else:
        name, values = sweep
        fixed = {k: v for k, v in hyper.items() if k != name}
        sw = train.sweep(problem.loss, params, optimizer, {name: values}, opts.steps,
                         hyperparameters=fixed, progress=progress is not None,
                         chunk_size=1 if progress is not None else None, **common)
        grid, loss, inst = {name: values}, sw.loss, sw.instruments
        status, diverged_at = list(sw.status), list(sw.diverged_at)
        steps, inst_steps = sw.steps, sw.instrument_steps
    seconds = time.perf_counter() - start
    edge = _edges(hyper, grid, adam)
    final = np.where(np.asarray(diverged_at) >= 0, np.inf, loss[:, -1])
    metrics = {"seconds": seconds, "final_loss": final.tolist(), "status": status,
               "diverged_at": [int(d) for d in diverged_at]}
    for key, value in _summaries(inst, edge).items():
        metrics[key] = value
    return {
        "experiment": "inspect",
        "config": {**vars(opts), "instruments": list(names), "every": every},
        "metrics": metrics,
        "series": {"problem": problem.name, "optimizer": opts.optimizer, "hyperparameters": hyper,
                   "grid": grid, "steps": steps, "loss": loss, "instrument_steps": inst_steps,
                   "diverged_at": [int(d) for d in diverged_at],
                   "instruments": inst, "layers": train.layer_names(params), "edge": edge,
                   "edge_of": "preconditioned_sharpness" if adam else "sharpness",
                   "adam": adam},
    }


def _edges(hyper, grid, adam) -> list[float]:
    """The stability edge per lane: 2(1 + β)/η, or (2 + 2β₁)/((1 − β₁)η) for Adam."""
    rates = grid.get("learning_rate", [hyper["learning_rate"]])
    momenta = grid.get("momentum", [hyper.get("momentum", 0.0)])
    if adam:
        return [float(train.edge(lr, b1=hyper.get("b1", 0.9))) for lr in rates]
    if len(momenta) > 1:
        return [float(train.edge(hyper["learning_rate"], momentum=m)) for m in momenta]
    return [float(train.edge(lr, momentum=momenta[0])) for lr in rates]


def _summaries(inst, edge) -> dict:
    """Headline numbers per lane, medians over the recorded steps (finite values only)."""
    out = {}
    median = lambda a: [float(np.nanmedian(r)) if np.isfinite(r).any() else None for r in a]
    if "alpha" in inst:
        out["median_alpha"] = median(inst["alpha"])
    for key in ("sharpness", "preconditioned_sharpness"):
        if key in inst:
            last = [float(r[np.isfinite(r)][-1]) if np.isfinite(r).any() else None
                    for r in inst[key]]
            out[f"last_{key}"] = last
    key = "preconditioned_sharpness" if "preconditioned_sharpness" in inst else "sharpness"
    if key in inst:
        out["last_sharpness_over_edge"] = [None if v is None else v / e for v, e in
                                           zip(out[f"last_{key}"], edge, strict=True)]
    if "noise_scale" in inst:
        trace = np.nansum(inst["trace_cov"], axis=(-1, -2))
        signal = np.nansum(inst["grad_sq"], axis=(-1, -2))
        out["noise_scale_over_run"] = [float(t / s) if s > 0 else None
                                       for t, s in zip(trace, signal, strict=True)]
    return out


def main(args: Sequence[str], *, out=None) -> int:
    """``gdlab inspect ARGS``: run, then write result.json and dashboard.png as one unit."""
    from tqdm import tqdm

    from gdlab import plotting, results
    from gdlab.experiment import results_dir
    from gdlab.inspector_figure import dashboard

    opts = parser().parse_args(list(args))
    jax.config.update("jax_enable_x64", True)
    plan = prepare(opts)  # bad input: one line, exit 2, before anything is shown or written
    bar = tqdm(total=3, desc="inspect", unit="stage", leave=False)
    bar.set_postfix_str("compile and run")
    result = inspect(opts, progress=lambda text: bar.write(text), plan=plan)
    bar.update()
    stored = results.to_jsonable({**result, "meta": results.metadata()})
    folder = Path(out or results_dir()) / "inspect" / slug(opts.problem)

    def write(staging: Path):
        bar.set_postfix_str("dashboard")
        fig = dashboard(stored["series"])
        bar.update()
        try:
            results.save_figure(staging / "dashboard.png", fig)
        finally:
            plotting.close({"dashboard": fig})
        results.write_json(staging / results.RESULT_FILE, stored)
        bar.set_postfix_str("written")
        bar.update()

    results.replace_folder(folder, write)
    bar.close()
    finals = ", ".join(f"{v:.4g}" for v in result["metrics"]["final_loss"])
    print(f"final loss {finals} in {result['metrics']['seconds']:.1f} s; wrote {folder}/")
    return 0


__all__ = ["inspect", "main", "parse_sweep", "parser", "prepare", "slug"]
