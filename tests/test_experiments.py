"""Smoke runs: every experiment's --quick configuration runs and writes a loadable result."""

import json
import math

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


@pytest.mark.parametrize("name", NAMES)
def test_quick_run_writes_a_loadable_result(name, tmp_path):
    # Experiments run as the CLI runs them: default rank promotion, float64 enabled.
    with jax.numpy_rank_promotion("allow"):
        out = experiment.execute(name, quick=True, out=tmp_path)
    stored = results.load(tmp_path / name)
    assert stored["experiment"] == name and stored["metrics"]
    assert stored["meta"]["quick"] is True
    # strict JSON (no NaN/Infinity tokens) and finite numbers everywhere
    json.loads((tmp_path / name / "result.json").read_text(), parse_constant=_reject)
    assert _no_nan(stored)
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
