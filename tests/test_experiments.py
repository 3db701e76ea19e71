"""Smoke runs: every experiment's --quick configuration runs and writes a loadable result."""

import json
import math
import os

import jax
import pytest

from gdlab import experiment, results

NAMES = experiment.names()


def _no_nan(value):
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_no_nan(v) for v in value.values())
    if isinstance(value, list):
        return all(_no_nan(v) for v in value)
    return True


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.xdist_group(n))
                                  for n in NAMES])
def test_quick_run_writes_a_loadable_result(name, tmp_path, quick_run):
    loaded, config, output = quick_run(name)
    with jax.numpy_rank_promotion("allow"):  # as the CLI runs them
        out = experiment.store(loaded, config, output, quick=True, out=tmp_path)
    stored = results.load(tmp_path / name)
    assert stored["experiment"] == name and stored["metrics"]
    assert stored["meta"]["quick"] is True
    # strict JSON (no NaN/Infinity tokens) and finite numbers everywhere
    json.loads((tmp_path / name / "result.json").read_text(), parse_constant=_reject)
    assert _no_nan(stored)
    assert all(os.path.isfile(p) for p in out["paths"])  # figures, tables, result.json
    pngs = [p for p in out["paths"] if p.endswith(".png")]
    assert pngs, f"{name} drew no figure"


def _reject(token):
    raise AssertionError(f"non-standard JSON constant {token}")


def test_every_experiment_follows_the_protocol():
    for name in NAMES:
        module = experiment.load(name).module
        doc = module.__doc__ or ""
        assert "Run:" in doc and "Expect:" in doc, f"{name}: docstring lacks Run/Expect"
        assert hasattr(module, "QUICK"), f"{name}: no QUICK overrides"
        module.Config()  # defaults construct
