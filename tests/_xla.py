"""XLA settings shared by tests."""

import contextlib
import os

import jax


def flags(*extra: str) -> str:
    """This process's ``XLA_FLAGS`` followed by ``extra`` (for the test process itself, or a
    subprocess that must compile as it does: numbers compared bit for bit need the same
    optimisation level)."""
    return " ".join(filter(None, [os.environ.get("XLA_FLAGS"), *extra]))


@contextlib.contextmanager
def quick_compiles():
    """XLA with most optimisations off inside the block: compiles in about half the time and
    runs the same arithmetic (results agree to ~1e-14). For tests of programs that each run
    once, whose check does not depend on how well XLA optimised. A program it compiled stays
    in jit's cache (not in the persistent cache: the optimisation level is part of its key)."""
    before = jax.config.read("jax_disable_most_optimizations")
    jax.config.update("jax_disable_most_optimizations", True)
    try:
        yield
    finally:
        jax.config.update("jax_disable_most_optimizations", before)
