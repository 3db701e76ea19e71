"""The experiment protocol: every script in ``experiments/`` has the same shape.

    '''<the claim>.  Run: ...  Writes: ...'''
    @dataclass(frozen=True)
    class Config: ...                         # every knob, with gallery defaults
    QUICK = {"num_steps": 10, ...}           # overrides for --quick smoke runs
    def run(config) -> dict: ...              # {"metrics": {...}, "series": {...}}
    def claims(result) -> list[dict]: ...     # the findings as data (gdlab.claims)
    def plot(result) -> dict[str, Figure]: ...   # draws only from the stored result
    def tables(result) -> dict[str, str]: ...    # optional: {"table.md": text, ...}

Experiments run with float64 enabled (``jax_enable_x64``), so textbook checks can be
exact; each experiment picks its dtypes explicitly (float32 for network training).

``execute`` runs one: it calls ``run``, turns the output into plain JSON types (so
``claims`` and ``plot`` see exactly what ``gdlab plot`` will load later), evaluates the
claims, draws, and replaces ``<results>/<name>/`` (result.json, figures, tables) as one
unit. Measured numbers live in result.json only: docstrings carry none, and the README
gallery renders them from the stored results (``tools/build_readme.py``).
"""

import dataclasses
import os
import sys
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from threadpoolctl import threadpool_limits

from gdlab import compilation, plotting, results
from gdlab._modules import import_file

__all__ = ["Experiment", "build_result", "draw", "evaluate_claims", "execute", "experiments_dir",
           "format_metrics", "in_threads", "load", "load_result", "names", "replot", "results_dir",
           "script_main", "sibling", "store", "stored_claims"]

ROOT = Path(__file__).resolve().parent.parent


def experiments_dir() -> Path:
    """Where experiment scripts live: $GDLAB_EXPERIMENTS, else the repository's experiments/."""
    return Path(os.environ.get("GDLAB_EXPERIMENTS") or ROOT / "experiments")


def results_dir(quick: bool = False) -> Path:
    """Where results go: $GDLAB_RESULTS, else results/ (results-quick/ for --quick runs)."""
    default = ROOT / ("results-quick" if quick else "results")
    return Path(os.environ.get("GDLAB_RESULTS") or default)


def names() -> list[str]:
    """The experiment names, from the scripts in ``experiments_dir()``."""
    folder = experiments_dir()
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.py") if not p.stem.startswith("_"))


@dataclass(frozen=True)
class Experiment:
    name: str
    module: ModuleType

    @property
    def Config(self):  # noqa: N802 (it is a class)
        return self.module.Config

    @property
    def summary(self) -> str:
        """The docstring's first line: the claim."""
        return (self.module.__doc__ or "").strip().splitlines()[0] if self.module.__doc__ else ""

    def default_config(self, quick: bool = False):
        overrides = getattr(self.module, "QUICK", {}) if quick else {}
        return self.Config(**overrides)


def load(name: str) -> Experiment:
    """Import ``experiments/<name>.py``; unknown names raise ValueError listing the valid ones."""
    import jax

    jax.config.update("jax_enable_x64", True)
    valid = names()
    if name not in valid:
        raise ValueError(f"unknown experiment {name!r}; valid: {', '.join(valid) or '(none)'}")
    path = experiments_dir() / f"{name}.py"
    try:
        module = import_file(path, f"gdlab_experiments.{name}")
    except Exception as error:
        raise ValueError(f"experiments/{name}.py cannot be loaded: "
                         f"{type(error).__name__}: {error}") from error
    for attribute in ("Config", "run", "plot"):
        if not hasattr(module, attribute):
            raise ValueError(f"experiments/{name}.py does not define {attribute}")
    return Experiment(name, module)


def sibling(script: str, name: str) -> ModuleType:
    """The private module ``<name>.py`` beside an experiment script (names starting with
    "_" are not experiments), loaded once and registered as ``name`` so siblings can import
    each other. Experiments split by what they study use it::

        _figures = gdlab.experiment.sibling(__file__, "_weight_update_figures")
    """
    if name not in sys.modules:
        import_file(Path(script).with_name(f"{name}.py"), name)
    return sys.modules[name]


def in_threads(jobs, workers: int | None = None) -> list:
    """Call the independent callables ``jobs`` side by side on threads; their results, in
    order. When a job fails, the jobs not yet started are dropped, the running ones end,
    and the exception of the first failed job (in order) is raised here.

    XLA compiles and runs with Python's GIL released, and the CPU runs two programs of one
    device at once, so an experiment's independent parts keep every core busy. Each job
    runs the same compiled programs as it would alone: its numbers are bit for bit those
    of running the jobs one after another (unlike sharding over forced devices, which
    compiles other programs). ``workers``: threads (default: one per CPU core, at most
    4; 1 runs the jobs here, in order). jax's thread-local settings an experiment may
    have entered (rank promotion, default device, matmul precision) are carried into the
    workers.

    >>> in_threads([lambda: 1, lambda: 2, lambda: 3], workers=2)
    [1, 2, 3]
    """
    import jax

    jobs = list(jobs)
    workers = min(4, os.cpu_count() or 1) if workers is None else workers
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be an integer >= 1, got {workers!r}")
    if workers == 1 or len(jobs) <= 1:
        return [job() for job in jobs]
    promotion = jax.config.jax_numpy_rank_promotion
    device = jax.config.jax_default_device
    precision = jax.config.jax_default_matmul_precision

    def call(job):
        with (jax.numpy_rank_promotion(promotion), jax.default_device(device),
              jax.default_matmul_precision(precision)):
            return job()

    with ThreadPoolExecutor(min(workers, len(jobs))) as pool:
        futures = [pool.submit(call, job) for job in jobs]
        wait(futures, return_when=FIRST_EXCEPTION)
        for future in futures:  # after a failure, start nothing new
            future.cancel()
    failed = [f for f in futures if not f.cancelled() and f.exception() is not None]
    if failed:
        raise failed[0].exception()
    return [f.result() for f in futures]


def _loaded(experiment) -> Experiment:
    return experiment if isinstance(experiment, Experiment) else load(experiment)


def evaluate_claims(experiment: Experiment, result: dict) -> list[dict]:
    """The experiment's ``claims(result)`` (``[]`` if it states none), checked for shape."""
    make = getattr(experiment.module, "claims", None)
    found = list(make(result)) if make else []
    required = {"statement", "measured", "expected", "holds"}
    for claim in found:
        if not isinstance(claim, dict) or not required <= claim.keys():
            raise ValueError(f"{experiment.name}: a claim must be a dict with "
                             f"{sorted(required)} (use gdlab.claims), got {claim!r}")
    return results.to_jsonable(found)


def stored_claims(name: str, *, quick: bool = False, out: Path | None = None) -> list | None:
    """The claims stored in ``<results>/<name>/result.json`` (``[]`` for a result stored
    without claims); None when there is no readable result."""
    try:
        return results.load(Path(out or results_dir(quick)) / name).get("claims") or []
    except (OSError, ValueError, AttributeError):
        return None


def draw(experiment: Experiment, result: dict, directory: Path) -> list[Path]:
    """Draw the figures (and the optional ``tables``) of a stored result into ``directory``."""
    figures = experiment.module.plot(result)
    try:
        paths = [_save(directory / f"{name}.png", fig) for name, fig in figures.items()]
    finally:
        plotting.close(figures)
    tables = getattr(experiment.module, "tables", None)
    for filename, text in (tables(result) if tables else {}).items():
        results.write_text(directory / filename, text)
        paths.append(directory / filename)
    return paths


def _save(path: Path, fig) -> Path:
    results.save_figure(path, fig)
    return path


def execute(experiment, config=None, *, quick: bool = False, out: Path | None = None) -> dict:
    """Run an experiment (a name or a loaded ``Experiment``) with ``config`` (default: its
    Config, or its QUICK overrides).

    Replaces ``<out>/<name>/`` (result.json with claims, figures, tables) as one unit;
    returns the stored result with ``paths`` (the files written) added.
    """
    experiment = _loaded(experiment)
    config = config if config is not None else experiment.default_config(quick)
    # NumPy/SciPy linear algebra on one BLAS thread: the experiments' matrices are small,
    # and OpenBLAS threads spinning against XLA's made an 826² eigvalsh take 5-15 s
    # instead of 0.15 s on a busy 2-core machine.
    with compilation.count() as cost, threadpool_limits(1, user_api="blas"):
        output = experiment.module.run(config)
    return store(experiment, config, output, quick=quick, out=out, seconds=cost.seconds,
                 compiled=cost.as_meta())


def build_result(experiment: Experiment | ModuleType, config, output: dict, *,
                 quick: bool = False, seconds: float | None = None,
                 compiled: dict | None = None) -> dict:
    """What ``store`` writes as result.json, without writing it: ``run``'s output as plain
    JSON types (non-finite numbers become None), the config, ``meta``, and the claims
    evaluated on exactly those numbers (tests use it to check claims at quick size).
    ``experiment``: a loaded ``Experiment`` or its script's module."""
    if isinstance(experiment, ModuleType):
        experiment = Experiment(experiment.__name__.rsplit(".", 1)[-1], experiment)
    result = results.to_jsonable(
        {
            "experiment": experiment.name,
            "config": dataclasses.asdict(config),
            "metrics": output.get("metrics", {}),
            "series": output.get("series", {}),
            "meta": {**results.metadata(), "quick": quick,
                     "seconds": None if seconds is None else round(seconds, 2),
                     **(compiled or {})},
        }
    )
    result["claims"] = evaluate_claims(experiment, result)
    return result


def store(experiment: Experiment, config, output: dict, *, quick: bool = False,
          out: Path | None = None, seconds: float | None = None,
          compiled: dict | None = None) -> dict:
    """Store what ``run(config)`` returned: plain JSON types (exactly what ``gdlab plot``
    loads later), the claims evaluated on them, figures and tables drawn from them.
    ``compiled``: what ``compilation.count()`` measured during run (goes into ``meta``).

    Returns the stored result with ``paths`` (the files written) added.
    """
    result = build_result(experiment, config, output, quick=quick, seconds=seconds,
                          compiled=compiled)
    directory = Path(out or results_dir(quick)) / experiment.name
    return {**result, "paths": [str(directory / p.name) for p in _write(experiment, result,
                                                                         directory)]}


def _write(experiment: Experiment, result: dict, directory: Path) -> list[Path]:
    """Replace ``directory`` with the result's figures, tables and result.json, as one unit."""
    written = []

    def write(staging: Path):
        written.extend(draw(experiment, result, staging))
        results.write_json(staging / results.RESULT_FILE, result)
        written.append(staging / results.RESULT_FILE)

    results.replace_folder(directory, write)
    return written


def load_result(name: str, directory: Path) -> dict:
    """The stored result of ``name`` in ``directory``; ValueError naming the file when it
    is missing, not JSON, or not a ``name`` result."""
    path = Path(directory) / results.RESULT_FILE
    try:
        result = results.read_json(path)
    except FileNotFoundError:
        raise ValueError(f"no result at {path}: run `gdlab run {name}` first") from None
    except (OSError, ValueError, RecursionError) as error:
        raise ValueError(f"{path} is not readable JSON ({type(error).__name__})") from None
    keys = {"experiment", "config", "metrics", "series"}
    if not (isinstance(result, dict) and result.get("experiment") == name
            and keys <= result.keys()):
        raise ValueError(f"{path} is not a {name} result")
    return result


def replot(name: str, *, quick: bool = False, out: Path | None = None) -> list[Path]:
    """Redraw the figures of ``name`` from its saved result.json, without recomputing, and
    re-evaluate its claims from the same numbers; the folder is replaced as one unit."""
    experiment = load(name)
    directory = Path(out or results_dir(quick)) / name
    result = load_result(name, directory)
    result["claims"] = evaluate_claims(experiment, result)
    return [directory / p.name for p in _write(experiment, result, directory)]


def format_metrics(metrics: dict, indent: str = "  ") -> str:
    """Headline metrics as aligned 'name: value' lines (nested dicts flattened with '.')."""
    flat = {}

    def walk(prefix, value):
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        else:
            flat[prefix] = value

    walk("", metrics)
    width = max((len(k) for k in flat), default=0)
    lines = []
    for key, value in flat.items():
        if hasattr(value, "dtype") and getattr(value, "shape", None) == ():
            value = value.item()  # a NumPy scalar: print it like the Python number
        if isinstance(value, float) and value != value:  # NaN is never printed as "nan"
            value = None
        if isinstance(value, float):
            value = f"{value:.6g}"
        elif value is None:
            value = "n/a (non-finite)"
        elif isinstance(value, list) and len(value) > 8:
            value = f"[{len(value)} values]"
        lines.append(f"{indent}{key:<{width}}  {value}")
    return "\n".join(lines)


def script_main(path: str) -> None:
    """``python experiments/<name>.py [options]`` behaves like ``gdlab run <name> [options]``."""
    from gdlab import cli

    sys.exit(cli.main(["run", Path(path).stem, *sys.argv[1:]]))
