"""Compile once: the compile counter against jax's own compile log, the persistent cache
across processes, and the costs a result.json records. No timing is asserted."""

import dataclasses
import json
import os
import subprocess
import sys
import types

import jax.numpy as jnp
import numpy as np
import pytest

from gdlab import compilation, experiment, train


def _quadratic(x, lam):
    return 0.5 * lam * jnp.sum(x * x)


def test_a_sweep_is_one_compilation_as_the_compile_log_counts_it(xla_compilations):
    loss = lambda x, lam: _quadratic(x, lam) + 0.0  # a new function: nothing cached in memory
    x0 = jnp.array([1.0, -2.0])
    grid = {"lam": [1.0, 3.0], "learning_rate": np.linspace(0.01, 0.5, 21)}
    with xla_compilations() as log, compilation.count() as first:
        train.sweep(loss, x0, "sgd", grid, 30)
    # each program is either compiled or loaded from the persistent cache, never both
    assert first.compilations + first.cache_hits == len(log) == 1, log
    with compilation.count() as again:  # another grid of the same shape: the same program
        train.sweep(loss, x0, "sgd", {"lam": [2.0, 5.0], "learning_rate": grid["learning_rate"]},
                    30)
    assert (again.compilations, again.cache_hits) == (0, 0)


def test_nested_blocks_each_count_what_compiled_inside(xla_compilations):
    loss = lambda x, lam: _quadratic(x, lam) + 1.0  # a new function: nothing cached in memory
    x0, grid = jnp.array([1.0, -2.0]), {"lam": [1.0], "learning_rate": [0.1, 0.2]}
    with compilation.count() as outer:
        with xla_compilations() as log, compilation.count() as inner:
            train.sweep(loss, x0, "sgd", grid, 5)
    assert inner.compilations + inner.cache_hits == len(log) == 1, log
    assert (outer.compilations, outer.cache_hits) == (inner.compilations, inner.cache_hits)
    assert outer.seconds >= inner.seconds


_CHILD = """
import jax.numpy as jnp, numpy as np
from gdlab import compilation, train
compilation.enable_cache()
with compilation.count() as c:
    sw = train.sweep(lambda x: 0.5 * jnp.sum(x * x), jnp.ones(3), "adam",
                     {"learning_rate": np.geomspace(1e-3, 1, 16)}, 50)
print(c.compilations, c.cache_hits, float(sw.final_loss.min()))
"""


def _child(cache):
    env = {**os.environ, "GDLAB_CACHE_DIR": str(cache)}
    done = subprocess.run([sys.executable, "-c", _CHILD], env=env, capture_output=True,
                          text=True, timeout=300, check=True)
    compiled, hits, best = done.stdout.split()
    return int(compiled), int(hits), float(best)


def test_a_second_process_with_a_warm_cache_compiles_nothing(tmp_path):
    cold = _child(tmp_path / "cache")
    assert cold[0] >= 1 and cold[1] == 0
    assert any((tmp_path / "cache").iterdir())
    warm = _child(tmp_path / "cache")
    assert warm[0] == 0 and warm[1] == cold[0]  # every program loaded instead of compiled
    assert warm[2] == cold[2]  # and it computes the same numbers


def test_cache_off_and_folder_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("GDLAB_CACHE_DIR", "off")
    assert compilation.cache_dir() is None
    monkeypatch.delenv("GDLAB_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert compilation.cache_dir() == tmp_path / "gdlab"


@dataclasses.dataclass(frozen=True)
class _Config:
    num_steps: int = 20


def _tiny_run(config):
    sw = train.sweep(_quadratic, jnp.ones(2), "sgd",
                     {"lam": [1.0], "learning_rate": [0.1, 0.2]}, config.num_steps)
    return {"metrics": {"best": float(sw.final_loss.min())}}


def test_result_meta_records_compilations_and_seconds(tmp_path):
    module = types.ModuleType("tiny")
    module.Config, module.run, module.plot = _Config, _tiny_run, lambda result: {}
    tiny = experiment.Experiment("tiny", module)
    first = experiment.execute(tiny, out=tmp_path)["meta"]
    assert first["compilations"] + first["cache_hits"] >= 1
    assert first["compile_seconds"] >= 0 and first["compute_seconds"] >= 0
    assert first["compile_seconds"] + first["compute_seconds"] == pytest.approx(
        first["seconds"], abs=0.02)
    stored = json.loads((tmp_path / "tiny" / "result.json").read_text())["meta"]
    assert stored["compilations"] == first["compilations"]
    again = experiment.execute(tiny, out=tmp_path)["meta"]  # compiled in memory already
    assert (again["compilations"], again["cache_hits"]) == (0, 0)
