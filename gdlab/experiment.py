"""The experiment protocol: every script in ``experiments/`` has the same shape.

    '''<the claim>.  Run: ...  Writes: ...  Expect: ...'''
    @dataclass(frozen=True)
    class Config: ...                         # every knob, with gallery defaults
    QUICK = {"num_steps": 10, ...}           # overrides for --quick smoke runs
    def run(config) -> dict: ...              # {"metrics": {...}, "series": {...}}
    def plot(result) -> dict[str, Figure]: ...   # draws only from the stored result
    def tables(result) -> dict[str, str]: ...    # optional: {"table.md": text, ...}

Experiments run with float64 enabled (``jax_enable_x64``), so textbook checks can be
exact; each experiment picks its dtypes explicitly (float32 for network training).

``execute`` runs one: it calls ``run``, turns the output into plain JSON types (so
``plot`` sees exactly what ``gdlab plot`` will load later), draws, and writes
``result.json`` and the figures atomically into ``<results>/<name>/``.
"""

import dataclasses
import importlib.util
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from gdlab import plotting, results

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
    module_name = f"gdlab_experiments.{name}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    for attribute in ("Config", "run", "plot"):
        if not hasattr(module, attribute):
            raise ValueError(f"experiments/{name}.py does not define {attribute}")
    return Experiment(name, module)


def draw(experiment: Experiment, result: dict, directory: Path) -> list[Path]:
    """Draw the figures (and the optional ``tables``) of a stored result and write them
    atomically into ``directory``."""
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


def execute(name: str, config=None, *, quick: bool = False, out: Path | None = None) -> dict:
    """Run experiment ``name`` with ``config`` (default: its Config, or QUICK overrides).

    Writes ``<out>/<name>/result.json`` and figures; returns the stored result with
    ``paths`` (the files written) added.
    """
    experiment = load(name)
    config = config if config is not None else experiment.default_config(quick)
    start = time.perf_counter()
    output = experiment.module.run(config)
    seconds = time.perf_counter() - start
    return store(experiment, config, output, quick=quick, out=out, seconds=seconds)


def store(experiment: Experiment, config, output: dict, *, quick: bool = False,
          out: Path | None = None, seconds: float | None = None) -> dict:
    """Store what ``run(config)`` returned: plain JSON types (exactly what ``gdlab plot``
    loads later), figures and tables drawn from them, ``result.json`` written last.

    Returns the stored result with ``paths`` (the files written) added.
    """
    result = results.to_jsonable(
        {
            "experiment": experiment.name,
            "config": dataclasses.asdict(config),
            "metrics": output.get("metrics", {}),
            "series": output.get("series", {}),
            "meta": {**results.metadata(), "quick": quick,
                     "seconds": None if seconds is None else round(seconds, 2)},
        }
    )
    directory = Path(out or results_dir(quick)) / experiment.name
    paths = draw(experiment, result, directory)
    results.write_json(directory / results.RESULT_FILE, result)
    return {**result, "paths": [str(p) for p in [*paths, directory / results.RESULT_FILE]]}


def replot(name: str, *, out: Path | None = None) -> list[Path]:
    """Redraw the figures of ``name`` from its saved result.json, without recomputing."""
    experiment = load(name)
    directory = Path(out or results_dir()) / name
    return draw(experiment, results.load(directory), directory)


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
