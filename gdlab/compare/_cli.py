"""``gdlab compare``: an ad-hoc comparison on one problem, printed and written to a folder."""

import argparse
import re
import time
from collections.abc import Sequence
from pathlib import Path

import jax

from gdlab.compare._benches import SMALL, bench_for
from gdlab.compare._figures import figures_for
from gdlab.compare._protocol import compare
from gdlab.compare._specs import SPECS, step_grid
from gdlab.compare._tables import csv_table, markdown_table

PROBLEMS = (*SMALL, "mnist1d", "mnist1d_minibatch")


def _slug(problem: str) -> str:
    """A folder name for a problem: the name, or ``file.NAME`` for a reference."""
    where, _, name = problem.rpartition(":")
    if where:
        problem = f"{Path(where).stem if where.endswith('.py') else where}.{name}"
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", problem).strip("._") or "problem"


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise ValueError(f"compare: {message}")


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog="gdlab compare", description="Compare optimizers on one problem: "
                "median and IQR over seeds, steps and evaluations to a target.")
    p.add_argument("--problem", required=True,
                   help=f"one of {', '.join(PROBLEMS)}, another gdlab.problems name, or your "
                   "own problem: path/to/file.py:NAME or module.path:NAME (a Problem, or a "
                   "function returning one)")
    p.add_argument("--optimizers", default="sgd,momentum,adam,lbfgs",
                   help=f"comma-separated, from {', '.join(SPECS)}")
    p.add_argument("--steps", type=int, default=500, help="updates per run (default 500)")
    p.add_argument("--seeds", type=int, default=1,
                   help="runs per optimizer from random starts around x0 (default 1)")
    p.add_argument("--tune", action="store_true", help="the referee's protocol: --trials "
                   "quasi-random trials per optimizer over its search space, tuned on "
                   "--tune-starts starts, reported (tuned and defaults, bootstrap 95%% CIs) "
                   "on --seeds held-out starts; also takes optax.NAME, optax.contrib.NAME, "
                   "file.py:NAME, evosax's cma_es/open_es/simple_ga, scipy.nelder_mead and "
                   "scipy.lbfgsb")
    p.add_argument("--trials", type=int, default=20,
                   help="with --tune: trials per optimizer (default 20, equal for all)")
    p.add_argument("--tune-starts", type=int, default=3,
                   help="with --tune: starts used for choosing (default 3)")
    p.add_argument("--learning-rate", type=float, default=None,
                   help="without --tune: this step size for every optimizer")
    p.add_argument("--radius", type=float, default=0.1,
                   help="2-D problems: starts x0 + radius·N(0, I) (default 0.1)")
    p.add_argument("--target", type=float, default=None,
                   help="f − f* that counts as solved (default 1e-6; MNIST-1D: loss 0.5)")
    return p


def _store(opts, bench, series: dict, seconds: float, table_md: str, table_csv: str,
           out) -> Path:
    """Write result.json, the tables and the figures of one comparison into
    ``<results>/compare/<problem>/`` as one unit (never new tables beside old figures)."""
    from gdlab import plotting, results
    from gdlab.experiment import results_dir

    folder = Path(out or results_dir()) / "compare" / _slug(opts.problem)
    stored = results.to_jsonable({
        "experiment": "compare", "config": vars(opts), "metrics": {"seconds": seconds},
        "series": {"bench": bench.name, "problem": bench.problem,
                   "A": bench.data.get("A") if bench.x0 is not None else None, **series},
        "meta": results.metadata(),
    })

    def write(staging: Path):
        figures = figures_for(stored["series"])
        try:
            for name, fig in figures.items():
                results.save_figure(staging / f"{name}.png", fig)
        finally:
            plotting.close(figures)
        results.write_text(staging / "table.csv", table_csv)
        results.write_text(staging / "table.md", table_md)
        results.write_json(staging / results.RESULT_FILE, stored)

    results.replace_folder(folder, write)
    return folder


def main(args: Sequence[str], *, out=None) -> int:
    """Run ``gdlab compare ARGS``: print the table; write result.json, table.csv, table.md
    and figures to ``<out or results_dir()>/compare/<problem>/`` (a reference
    ``dir/file.py:NAME`` becomes ``file.NAME``). Returns the exit code."""

    opts = parser().parse_args(list(args))
    names = [n.strip() for n in opts.optimizers.split(",") if n.strip()]
    if opts.tune:
        return _tuned_main(opts, names, out)
    bad = [n for n in names if n not in SPECS]
    if bad or not names:
        raise ValueError(f"unknown optimizer(s) {', '.join(bad) or '(none given)'}; "
                         f"valid: {', '.join(SPECS)}")
    if opts.steps < 1 or opts.seeds < 1:
        raise ValueError("--steps and --seeds must be >= 1")
    _check_options(opts, names)
    jax.config.update("jax_enable_x64", True)
    bench = bench_for(opts.problem, radius=opts.radius, starts=opts.seeds + 1,
                      target=opts.target)
    start = time.perf_counter()
    entries = compare(
        bench, names, num_steps=opts.steps, seeds=range(1, opts.seeds + 1),
        steps=step_grid() if opts.tune else None,
        overrides=None if opts.learning_rate is None else {"step": opts.learning_rate},
        joint=True, timed=True,
    )
    seconds = time.perf_counter() - start
    rows = [e["row"] for e in entries]
    table = markdown_table(rows)
    print(table, end="")
    folder = _store(opts, bench, {"entries": entries}, seconds, table, csv_table(rows), out)
    print(f"{len(names)} optimizers in {seconds:.1f} s; wrote {folder}/")
    return 0


def _tuned_main(opts, names: list[str], out) -> int:
    """``gdlab compare --tune``: the quasi-random protocol (``compare.benchmark``)."""
    from gdlab.compare._protocol import curves
    from gdlab.compare._scipy import METHODS, scipy_row
    from gdlab.compare._search import resolve
    from gdlab.compare._tables import ci_csv_table, ci_markdown_table
    from gdlab.compare._tuned import benchmark, rows

    if not names:
        raise ValueError("--optimizers is empty")
    if opts.steps < 1 or opts.seeds < 1 or opts.trials < 1 or opts.tune_starts < 1:
        raise ValueError("--steps, --seeds, --trials and --tune-starts must be >= 1")
    _check_options(opts, names)
    scipy_names = [n for n in names if n.startswith("scipy.")]
    bad = [n for n in scipy_names if n[len("scipy."):] not in METHODS]
    if bad:
        raise ValueError(f"unknown SciPy method(s) {', '.join(bad)}; valid: "
                         f"{', '.join('scipy.' + m for m in METHODS)}")
    specs = [resolve(n) for n in names if n not in scipy_names]  # bad names: ValueError
    jax.config.update("jax_enable_x64", True)
    bench = bench_for(opts.problem, radius=opts.radius, starts=opts.tune_starts + opts.seeds,
                      target=opts.target)
    tune = range(opts.tune_starts)
    heldout = range(opts.tune_starts, opts.tune_starts + opts.seeds)
    start = time.perf_counter()
    table_rows, entries = [], []
    for s in specs:
        entry = benchmark(bench, s, trials_count=opts.trials, num_steps=opts.steps, tune=tune,
                          heldout=heldout)
        got = rows(bench, entry)
        table_rows += got
        item = {"row": got[0], "curves": curves(entry["tuned"]),
                "tuning": {"table": entry["table"], "names": entry["names"],
                           "tune_score": entry["tune_score"],
                           "heldout_score": entry["heldout_score"]}}
        if entry["tuned"].points is not None:
            item["points"] = entry["tuned"].points
        entries.append(item)
    for n in scipy_names:
        row = scipy_row(bench, n[len("scipy."):], heldout)
        row.pop("curve")
        table_rows.append(row)
    seconds = time.perf_counter() - start
    table = ci_markdown_table(table_rows)
    print(table, end="")
    folder = _store(opts, bench, {"entries": entries, "rows": table_rows}, seconds, table,
                    ci_csv_table(table_rows), out)
    edges = [f"{r['optimizer']}: {r['edge']}" for r in table_rows if r.get("edge")]
    for line in edges:
        print(f"warning: tuned optimum on the search space's edge ({line})")
    print(f"{len(names)} optimizers, {opts.trials} trials each, in {seconds:.1f} s; "
          f"wrote {folder}/")
    return 0


MAX_SEEDS = 10_000
# Peak memory per recorded step of one run: RSS grew by 1.7 GB for --steps 1000000 on
# rosenbrock (one optimizer, one seed), paths and float64 copies included.
BYTES_PER_STEP = 2000


def _check_options(opts, names: list[str]) -> None:
    """Refuse what would run wrongly or pointlessly, before anything is computed."""
    import math

    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"--optimizers lists {', '.join(twice)} more than once")
    if opts.seeds > MAX_SEEDS:
        raise ValueError(f"--seeds must be <= {MAX_SEEDS}, got {opts.seeds}")
    from gdlab.train._checks import MEMORY_LIMIT

    need = (opts.steps + 1) * opts.seeds * BYTES_PER_STEP
    if need > MEMORY_LIMIT:
        fits = MEMORY_LIMIT // (opts.seeds * BYTES_PER_STEP) - 1
        raise ValueError(f"--steps {opts.steps} with --seeds {opts.seeds} would need about "
                         f"{need / 2**30:.1f} GiB of memory (about {BYTES_PER_STEP} bytes per "
                         f"step and run), over {MEMORY_LIMIT / 2**30:.1f} GiB; use --steps "
                         f"<= {fits} or fewer --seeds")
    for option, value, low, closed in (("--learning-rate", opts.learning_rate, 0.0, False),
                                       ("--radius", opts.radius, 0.0, True),
                                       ("--target", opts.target, 0.0, True)):
        if value is None:
            continue
        if not math.isfinite(value) or (value < low if closed else value <= low):
            raise ValueError(f"{option} must be a finite number {'>=' if closed else '>'} "
                             f"{low:g}, got {value}")
