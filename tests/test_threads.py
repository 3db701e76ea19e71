"""``gdlab.experiment.in_threads``: an experiment's independent parts side by side, with
the numbers they give one after another."""

import threading

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gdlab.experiment import in_threads


@jax.jit
def _tanh_chain(w, h):
    """300 steps of h ← tanh(h W) for a batch of 16×16 systems (the shapes of a sweep)."""
    def body(h, _):
        return jnp.tanh(jnp.einsum("bij,bjk->bik", h, w)), None
    return jax.lax.scan(body, h, None, length=300)[0]


def test_jobs_come_back_in_order_with_the_callers_thread_local_settings():
    def job(i):
        return lambda: (i, jax.config.jax_numpy_rank_promotion,
                        jax.config.jax_default_matmul_precision,
                        threading.current_thread() is threading.main_thread())

    # thread-local in jax: the workers must inherit them
    with jax.numpy_rank_promotion("raise"), jax.default_matmul_precision("highest"):
        got = in_threads([job(i) for i in range(7)], 3)
    assert [g[:3] for g in got] == [(i, "raise", "highest") for i in range(7)]
    assert not any(g[3] for g in got)  # they did run on other threads
    here = (jax.config.jax_numpy_rank_promotion, jax.config.jax_default_matmul_precision, True)
    assert in_threads([job(0), job(1)], 1) == [(0, *here), (1, *here)]  # here, in order
    assert in_threads([]) == []


def test_threads_give_bit_for_bit_the_numbers_of_one_after_another():
    keys = jax.random.split(jax.random.key(0), 8)
    args = [(jax.random.normal(k, (12, 16, 16), jnp.float32) * 0.3,
             jax.random.normal(k, (12, 32, 16), jnp.float32)) for k in keys]
    alone = [np.asarray(_tanh_chain(w, h)) for w, h in args]
    side_by_side = in_threads([lambda a=a: np.asarray(_tanh_chain(*a)) for a in args], 4)
    for a, b in zip(alone, side_by_side, strict=True):
        np.testing.assert_array_equal(a, b)
    assert all(np.isfinite(a).all() and np.abs(a).max() > 0.1 for a in alone)


def test_a_failure_drops_the_jobs_not_started_and_waits_for_the_running_ones():
    failed, ran = threading.Event(), []

    def running():  # started beside the failing job, still running when it fails
        failed.wait(5)
        threading.Event().wait(0.2)
        ran.append("running")

    def fail(message):
        def job():
            failed.set()
            raise RuntimeError(message)
        return job

    def later(name):
        def job():
            threading.Event().wait(0.3)
            ran.append(name)
        return job

    with pytest.raises(RuntimeError, match="first"):
        in_threads([running, fail("first"), fail("second"), later("a"), later("b")], 2)
    # "running" ended before the raise; at most one later job slipped in before the
    # failure was seen (a worker freed by it), the others never started
    assert "running" in ran and len(ran) <= 2 and "b" not in ran


@pytest.mark.parametrize("workers", [0, -1, 1.5, True, "2"])
def test_bad_worker_counts_are_refused(workers):
    with pytest.raises(ValueError, match="workers"):
        in_threads([lambda: 1], workers)
