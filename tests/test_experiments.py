"""Smoke runs: every experiment's --quick configuration runs and writes a loadable result."""

import json
import os

import jax
import numpy as np
import pytest

from gdlab import experiment, results

NAMES = experiment.names()


def _nan_paths(value, path="metrics") -> list[str]:
    """Where a NaN sits in what run() returned (before JSON turns it into null): floats,
    NumPy scalars and arrays, inside dicts, lists and tuples."""
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _nan_paths(v, f"{path}.{k}")]
    if isinstance(value, list | tuple):
        return [p for i, v in enumerate(value) for p in _nan_paths(v, f"{path}[{i}]")]
    if isinstance(value, float | np.floating | np.ndarray) or hasattr(value, "__array__"):
        array = np.asarray(value)
        if array.dtype.kind in "fc" and np.isnan(array).any():
            return [path]
    return []


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.xdist_group(n))
                                  for n in NAMES])
def test_quick_run_writes_a_loadable_result(name, tmp_path, quick_run):
    loaded, config, output = quick_run(name)
    with jax.numpy_rank_promotion("allow"):  # as the CLI runs them
        out = experiment.store(loaded, config, output, quick=True, out=tmp_path)
    stored = results.load(tmp_path / name)
    assert stored["experiment"] == name and stored["metrics"]
    assert stored["meta"]["quick"] is True
    # strict JSON (no NaN/Infinity tokens), and the headline numbers run() returned hold
    # no NaN: a summary never averages one (a diverged run is +inf or a status, and a NaN
    # would otherwise be written as null and read back as "no value")
    json.loads((tmp_path / name / "result.json").read_text(), parse_constant=_reject)
    assert _nan_paths(output["metrics"]) == []
    assert all(os.path.isfile(p) for p in out["paths"])  # figures, tables, result.json
    pngs = [p for p in out["paths"] if p.endswith(".png")]
    assert pngs, f"{name} drew no figure"


def _reject(token):
    raise AssertionError(f"non-standard JSON constant {token}")


def test_every_experiment_follows_the_protocol():
    for name in NAMES:
        module = experiment.load(name).module
        doc = module.__doc__ or ""
        # (no "Expect:": measured numbers live in result.json's claims, not in docstrings)
        assert "Run:" in doc and "Writes:" in doc, f"{name}: docstring lacks Run/Writes"
        assert hasattr(module, "QUICK"), f"{name}: no QUICK overrides"
        module.Config()  # defaults construct
