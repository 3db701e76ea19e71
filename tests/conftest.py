"""Strict JAX for every test: float64 on, implicit rank promotion is an error.

float64 is on so closed-form checks can be exact; tests of float32 behaviour pass
float32 arrays explicitly (dtypes follow the inputs everywhere in gdlab).

``quick_run(name)`` runs an experiment's --quick configuration once per test process:
the smoke test (tests/test_experiments.py) and the experiment's own claim tests share
it. Tests that use it carry ``xdist_group(name)`` marks, and ``make test`` runs
``pytest -n 2 --dist loadgroup``, so they land on the same worker and it runs once.
"""

import contextlib
import functools
import logging
import os

import jax
import pytest
from _xla import flags as xla_flags

from gdlab import compilation

# Tests run each program for milliseconds, so LLVM's heavier optimisations cost more than
# they save: at level 1 the whole suite from an empty cache took 242 and 255 s against
# 285 s at the default level (27 Nov 2026, same tree, back to back). Speed is measured
# in benchmarks/, under the default flags; the persistent cache keys on the flags. (XLA
# reads XLA_FLAGS when the backend starts, at the first computation, not at import.)
if "xla_backend_optimization_level" not in os.environ.get("XLA_FLAGS", ""):  # yours wins
    os.environ["XLA_FLAGS"] = xla_flags("--xla_backend_optimization_level=1")
jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_rank_promotion", "raise")
# Compile once per machine, as the CLI does; GDLAB_CACHE_DIR=off (or an empty folder)
# runs every test from scratch, which is how CI proves the suite needs no cache.
compilation.enable_cache()


@functools.cache
def _quick_run(name: str):
    from gdlab import experiment

    loaded = experiment.load(name)
    config = loaded.default_config(quick=True)
    # experiments run as the CLI runs them: default rank promotion, float64 enabled
    with jax.numpy_rank_promotion("allow"):
        output = loaded.module.run(config)
    return loaded, config, output


def pytest_collection_modifyitems(config, items):
    """Refuse a test that uses ``quick_run`` without an ``xdist_group`` mark: it could land
    on a worker that has not run that experiment and run it a second time there."""
    lost = [item.nodeid for item in items if "quick_run" in getattr(item, "fixturenames", ())
            and item.get_closest_marker("xdist_group") is None]
    if lost:
        raise pytest.UsageError("tests using quick_run need @pytest.mark.xdist_group(NAME) "
                                f"(NAME: the experiment): {', '.join(lost)}")


@pytest.fixture(scope="session")
def quick_run():
    """``quick_run(name) -> (Experiment, config, run(config))``, computed once per process.

    The output is shared: tests must not modify it.
    """
    return _quick_run


@contextlib.contextmanager
def _xla_compilations():
    """Collect jax's "Finished XLA compilation" log lines of the block into a list."""
    compiled = []

    class Log(logging.Handler):
        def emit(self, record):
            if record.getMessage().startswith("Finished XLA compilation"):
                compiled.append(record.getMessage())

    handler, logger = Log(), logging.getLogger("jax")
    logger.addHandler(handler)
    jax.config.update("jax_log_compiles", True)
    try:
        yield compiled
    finally:
        jax.config.update("jax_log_compiles", False)
        logger.removeHandler(handler)


@pytest.fixture
def xla_compilations():
    """``with xla_compilations() as compiled:`` lists the XLA compilations of the block."""
    return _xla_compilations
