"""Sweeps that outgrow one device: recording policies, chunks, resumable checkpoints, sharding."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import jax.numpy as jnp
import numpy as np
import optax
import pytest
from _xla import flags as xla_flags

from gdlab import train


def bowl(x):
    """½ xᵀ diag(1, 10) x: stable for η < 0.2."""
    return 0.5 * (x[0] ** 2 + 10.0 * x[1] ** 2)


X0 = jnp.array([1.0, 1.0])
LRS = np.linspace(0.01, 0.25, 10)  # the last few diverge


def _full():
    return train.sweep(bowl, X0, "sgd", {"learning_rate": LRS}, 40, record_params=True)


def test_every_kth_and_summary_policies_agree_with_full_record():
    full = _full()
    every = train.sweep(bowl, X0, "sgd", {"learning_rate": LRS}, 40, record=8, target=1e-3)
    summary = train.sweep(bowl, X0, "sgd", {"learning_rate": LRS}, 40, record="summary",
                          target=1e-3)
    np.testing.assert_array_equal(every.steps, np.arange(0, 41, 8))
    np.testing.assert_array_equal(every.loss, full.loss[:, ::8])
    np.testing.assert_array_equal(summary.steps, [0, 40])
    np.testing.assert_array_equal(summary.loss, full.loss[:, [0, -1]])
    for policy in (every, summary):
        np.testing.assert_array_equal(policy.diverged_at, full.diverged_at)
        np.testing.assert_array_equal(policy.final_loss, full.final_loss)
        # best loss and steps-to-target see every step, whatever is recorded
        finite = np.where(np.isfinite(full.loss), full.loss, np.inf)
        np.testing.assert_array_equal(policy.best_loss, finite.min(axis=-1))
        np.testing.assert_array_equal(policy.steps_to_target,
                                      train.steps_to_target(full.loss, 1e-3))
    assert summary.final_params is None
    assert not np.isnan(summary.best_loss).any()


def test_run_record_policy_matches_closed_form():
    # ½·4·x² with η = 0.1: x_k = 0.6^k.
    traj = train.run(lambda x: 2.0 * x**2, jnp.asarray(1.0), optax.sgd(0.1), 30, record=10,
                     target=1e-4, record_params=True)
    np.testing.assert_allclose(traj.params, 0.6 ** np.array([0, 10, 20, 30]), rtol=1e-13)
    expected_hit = next(k for k in range(31) if 2.0 * 0.36**k <= 1e-4)
    assert traj.steps_to_target == expected_hit
    with pytest.raises(ValueError, match="must divide"):
        train.run(bowl, X0, optax.sgd(0.1), 30, record=7)
    with pytest.raises(ValueError, match="record must be"):
        train.run(bowl, X0, optax.sgd(0.1), 30, record="sometimes")


def test_chunks_equal_one_call_and_compile_once(xla_compilations):
    full = _full()
    with xla_compilations() as compiled:
        chunked = train.sweep(bowl, X0, "sgd", {"learning_rate": LRS}, 40, chunk_size=3,
                              record_params=True)
    assert chunked.chunks_computed == 4 and len(compiled) == 1
    np.testing.assert_array_equal(chunked.loss, full.loss)
    np.testing.assert_array_equal(chunked.params, full.params)


def test_checkpoint_resumes_only_missing_chunks(tmp_path):
    args = (bowl, X0, "sgd", {"learning_rate": LRS}, 40)
    first = train.sweep(*args, chunk_size=3, checkpoint=tmp_path)
    assert first.chunks_computed == 4 and first.chunks_loaded == 0
    (tmp_path / "chunk_000001.npz").unlink()  # as if killed before chunk 1 was written
    (tmp_path / "chunk_000003.npz").write_bytes(b"half a file")  # and a corrupt one
    with pytest.raises(ValueError, match="chunk_000003.npz"):  # refused, never guessed at
        train.sweep(*args, chunk_size=3, checkpoint=tmp_path)
    (tmp_path / "chunk_000003.npz").unlink()  # what the message says to do
    again = train.sweep(*args, chunk_size=3, checkpoint=tmp_path)
    # chunk 1 was recomputed and saved by the refused call, before it reached chunk 3
    assert again.chunks_computed == 1 and again.chunks_loaded == 3
    np.testing.assert_array_equal(again.loss, first.loss)
    np.testing.assert_array_equal(again.final_params, first.final_params)
    resumed = train.sweep(*args, chunk_size=3, checkpoint=tmp_path)
    assert resumed.chunks_computed == 0


@pytest.mark.parametrize(
    "change, field",
    [
        ({"num_steps": 41}, "settings"),
        ({"grid": {"learning_rate": LRS * 1.01}}, "grid"),
        ({"params": jnp.array([1.0, 2.0])}, "params"),
        ({"loss_fn": lambda x: 0.5 * (x[0] ** 2 + 9.0 * x[1] ** 2)}, "loss_fn"),
    ],
)
def test_checkpoint_refuses_a_changed_configuration(tmp_path, change, field):
    base = {"loss_fn": bowl, "params": X0, "optimizer": "sgd",
            "grid": {"learning_rate": LRS}, "num_steps": 40}
    train.sweep(**base, chunk_size=5, checkpoint=tmp_path)
    with pytest.raises(ValueError, match=f"different sweep.*{field}"):
        train.sweep(**{**base, **change}, chunk_size=5, checkpoint=tmp_path)


KILLABLE = textwrap.dedent("""
    import sys
    import jax, jax.numpy as jnp, numpy as np
    jax.config.update("jax_enable_x64", True)
    from gdlab import train

    def bowl(x):
        return 0.5 * (x[0] ** 2 + 10.0 * x[1] ** 2)

    sw = train.sweep(bowl, jnp.array([1.0, 1.0]), "sgd",
                     {"learning_rate": np.linspace(0.01, 0.19, 24)}, 100_000,
                     record="summary", chunk_size=2, checkpoint=sys.argv[1])
    np.save(sys.argv[2], sw.best_loss)
""")


def test_killed_sweep_resumes_to_the_same_result(tmp_path):
    script = tmp_path / "long_sweep.py"
    script.write_text(KILLABLE)
    folder = tmp_path / "ckpt"
    proc = subprocess.Popen([sys.executable, str(script), str(folder), str(tmp_path / "a.npy")])
    deadline = time.time() + 120
    while time.time() < deadline and not list(folder.glob("chunk_*.npz")):
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = sorted(folder.glob("chunk_*.npz"))
    assert 1 <= len(done) < 12, "the kill should land between chunks"
    # Resume in a fresh process, then compare with an uninterrupted run.
    subprocess.run([sys.executable, str(script), str(folder), str(tmp_path / "a.npy")],
                   check=True)
    # the uninterrupted reference needs no fresh process: the same sweep, run here
    fresh = train.sweep(bowl, X0, "sgd", {"learning_rate": np.linspace(0.01, 0.19, 24)},
                        100_000, record="summary", chunk_size=2, checkpoint=tmp_path / "fresh")
    np.testing.assert_array_equal(np.load(tmp_path / "a.npy"), fresh.best_loss)


SHARDED = textwrap.dedent("""
    import json
    import jax, jax.numpy as jnp, numpy as np
    jax.config.update("jax_enable_x64", True)
    from gdlab import train
    from gdlab.train import _sweep

    def bowl(x, scale):
        return 0.5 * scale * (x[0] ** 2 + 10.0 * x[1] ** 2)

    grid = {"learning_rate": np.linspace(0.01, 0.25, 10), "scale": [0.5, 1.0, 2.0]}  # 30 points
    one = train.sweep(bowl, jnp.array([1.0, 1.0]), "momentum", grid, 60, seeds=None,
                      hyperparameters={"momentum": 0.5}, devices=False)
    four = train.sweep(bowl, jnp.array([1.0, 1.0]), "momentum", grid, 60,
                       hyperparameters={"momentum": 0.5})
    two = train.sweep(bowl, jnp.array([1.0, 1.0]), "momentum", grid, 60,
                      hyperparameters={"momentum": 0.5}, devices=2, chunk_size=7)
    placed = _sweep._place(np.zeros((8, 2)), jax.devices())
    print(json.dumps({
        "devices": len(jax.devices()),
        "same4": bool(np.array_equal(one.loss, four.loss, equal_nan=True)),
        "same2": bool(np.array_equal(one.loss, two.loss, equal_nan=True)),
        "status": bool(np.array_equal(one.status, four.status)),
        "spec": placed.sharding.spec == jax.sharding.PartitionSpec("grid"),
        "shards": sorted(s.data.shape[0] for s in placed.addressable_shards),
        "chunks2": two.chunks_computed,
    }))
""")


def test_sharded_sweep_agrees_with_one_device():
    env = {**os.environ, "XLA_FLAGS": xla_flags("--xla_force_host_platform_device_count=4"),
           "JAX_PLATFORMS": "cpu"}
    out = subprocess.run([sys.executable, "-c", SHARDED], capture_output=True, text=True,
                         env=env, check=True)
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["devices"] == 4
    assert report["same4"] and report["same2"] and report["status"]
    assert report["spec"] and report["shards"] == [2, 2, 2, 2]
    assert report["chunks2"] == 4  # 30 points in chunks of 8 (7 rounded up to 2 devices)


def test_bad_scale_arguments():
    with pytest.raises(ValueError, match="chunk_size"):
        train.sweep(bowl, X0, "sgd", {"learning_rate": LRS}, 5, chunk_size=0)
    with pytest.raises(ValueError, match="device"):
        train.sweep(bowl, X0, "sgd", {"learning_rate": LRS}, 5, devices=99)


MULTIHOST = textwrap.dedent("""
    import json, sys
    import jax
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator_address=sys.argv[2], num_processes=2,
                               process_id=int(sys.argv[1]))
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp, numpy as np
    from gdlab import train

    def bowl(x):
        return 0.5 * (x[0] ** 2 + 10.0 * x[1] ** 2)

    sw = train.sweep(bowl, jnp.array([1.0, 1.0]), "sgd",
                     {"learning_rate": np.linspace(0.01, 0.25, 10)}, 40)
    print(json.dumps({"devices": len(jax.devices()), "best": sw.best_loss.tolist(),
                      "diverged_at": sw.diverged_at.tolist()}))
""")


def test_two_process_simulation_of_a_multi_host_sweep():
    """jax.distributed with 2 processes × 2 CPU devices: the same numbers as one process."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{s.getsockname()[1]}"
    env = {**os.environ, "XLA_FLAGS": xla_flags("--xla_force_host_platform_device_count=2"),
           "JAX_PLATFORMS": "cpu"}
    procs = [subprocess.Popen([sys.executable, "-c", MULTIHOST, str(i), address], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
             for i in range(2)]
    outs = [json.loads(p.communicate(timeout=300)[0].strip().splitlines()[-1]) for p in procs]
    single = train.sweep(bowl, X0, "sgd", {"learning_rate": LRS}, 40)
    for out in outs:
        assert out["devices"] == 4
        np.testing.assert_array_equal(out["best"], single.best_loss)
        np.testing.assert_array_equal(out["diverged_at"], single.diverged_at)


BOUNDED = """
import resource, sys
import jax, jax.numpy as jnp, numpy as np
jax.config.update("jax_enable_x64", True)
from gdlab import train
n = 125_000  # 1 MB of float64 params per run: 1,000 runs would keep 1 GB of final params
loss = lambda w: 0.5 * jnp.sum(w * w)
for runs in map(int, sys.argv[1:]):  # one program (chunks of 20) for every grid size
    sw = train.sweep(loss, jnp.ones(n), "sgd", {"learning_rate": np.linspace(0.1, 0.5, runs)},
                     2, record="summary", chunk_size=20)
    assert sw.final_params is None and sw.loss.shape[0] == runs
    del sw
    try:  # this process's own peak so far: ru_maxrss keeps the forking parent's RSS
        with open("/proc/self/status") as f:
            print(next(int(l.split()[1]) for l in f if l.startswith("VmHWM")) // 1024)
    except OSError:
        print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
"""


def _peaks_mib(*runs: int) -> list[int]:
    """The process's peak RSS after each sweep of ``runs`` (run in this order, in one fresh
    process: the peak never falls, so a later sweep that kept more would raise it)."""
    out = subprocess.run([sys.executable, "-c", BOUNDED, *map(str, runs)], capture_output=True,
                         text=True, check=True, env={**os.environ, "JAX_PLATFORMS": "cpu"})
    return [int(line) for line in out.stdout.strip().splitlines()[-len(runs):]]


def test_summary_sweeps_keep_memory_flat_in_the_grid_size():
    """Runs of 1 MB params in chunks of 20: only summaries leave each chunk, so 1,000 runs
    peak where 100 do (~0.34 GiB). Kept final params would add 1 MB per run (0.9 GB here,
    past both bounds; with 2 MB runs the peak was 4 GiB before the fix)."""
    small, large = _peaks_mib(100, 1000)
    message = f"peak RSS {small} MiB at 100 runs, {large} MiB at 1,000"
    assert large - small < 400 and large < 1024, message
