"""Does spreading a sweep over forced CPU devices use the other cores?

XLA's CPU backend runs a program on one thread (only large matrix products fan out),
so a vmapped sweep of small networks keeps one core busy. ``train.sweep`` shards its
grid axis over every visible device; on a CPU, ``XLA_FLAGS=
--xla_force_host_platform_device_count=n`` makes n devices of the one CPU, each
running its share of the grid on a thread of its own. Measured here, each device count
in a fresh process (the flag is read once, at start-up), warm (compiled) calls, best of
``--repeats``:

  mlp     the benchmarks/sweep.py workload at 1024 samples: 32 rates × 300 SGD steps,
          40-64-10 tanh MLP on MNIST-1D (float32), loss curves recorded
  deep    a 20-layer, width-16 tanh MLP (vanishing_gradients' training network) on 32
          examples: 4 rates × 3 depths × 5 seeds, 1000 steps (many tiny batched GEMMs)

and the largest difference between a run's loss curves on 1 and n devices (and its median
over the runs). The deep network's runs at η ≥ 0.1 and depth ≥ 15 train at the edge of
stability, where a rounding difference (the per-device batch changes which elements
fall in vectorised loops) grows until the curves part (largest difference 2.1); the median
run's curves differ by ~6e-3, the shallow, slow runs' by ~1e-5.
Measured on the project's 2-core CPU (27 Nov 2026): see the README's "Sweeps that
outgrow one device". gdlab does not force devices by default: results would then depend
on the device count (see the README's Speed section).

Run:  .venv/bin/python benchmarks/forced_devices.py [--repeats 3] [--devices N]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

_CHILD = """
import json, sys, time
import numpy as np, jax, jax.numpy as jnp
import gdlab
from gdlab import compilation, train
compilation.disable_cache()
sys.path.insert(0, {experiments!r})
import _vanishing_gradients_net as net

def mlp():
    p = gdlab.problems.get("mnist1d_mlp", hidden=64, train_size=1024)
    data = {{"x": p.data["x"], "y": p.data["y"]}}
    params = p.init(jax.random.key(0))
    lrs = np.geomspace(1e-3, 10.0, 32).astype(np.float32)
    return lambda: train.sweep(p.loss, params, "sgd", {{"learning_rate": lrs}}, 300,
                               data=data, record_grad_norm=False).loss

def deep():
    p = gdlab.problems.get("mnist1d_mlp", train_size=32)
    data = {{"x": np.asarray(p.data["x"]), "y": np.asarray(p.data["y"])}}
    init = net.init_fn("xavier", width=16, max_depth=20, gain=1.0)
    grid = {{"learning_rate": np.asarray([0.03, 0.1, 0.2, 0.3]),
            "depth": np.asarray([11.0, 15.0, 20.0])}}
    return lambda: train.sweep(net.loss("tanh"), init, "sgd", grid, 1000, seeds=5,
                               data=data, record=100, record_grad_norm=False).loss

fn = {{"mlp": mlp, "deep": deep}}[{workload!r}]()
curves = np.asarray(fn())  # compile
times = []
for _ in range({repeats}):
    start = time.perf_counter()
    jax.block_until_ready(fn())
    times.append(time.perf_counter() - start)
np.save({path!r}, curves)
print(json.dumps({{"devices": len(jax.devices()), "warm": min(times)}}))
"""


def measure(workload: str, devices: int, repeats: int, folder: str) -> dict:
    path = str(Path(folder) / f"{workload}_{devices}.npy")
    code = _CHILD.format(experiments=str(Path(__file__).parents[1] / "experiments"),
                         workload=workload, repeats=repeats, path=path)
    env = {**os.environ, "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}"}
    out = subprocess.run([sys.executable, "-c", code], env=env, check=True,
                         capture_output=True, text=True).stdout
    import numpy as np

    return json.loads(out.strip().splitlines()[-1]) | {"curves": np.load(path)}


def main() -> None:
    import numpy as np

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--devices", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    if args.repeats < 1 or args.devices < 2:
        parser.error("need --repeats >= 1 and --devices >= 2")
    print(f"{os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.1f}")
    print("| workload | warm sweep, 1 device | n devices | speed-up | "
          "largest difference in a loss curve |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        for workload in ("mlp", "deep"):
            one = measure(workload, 1, args.repeats, folder)
            many = measure(workload, args.devices, args.repeats, folder)
            a, b = one["curves"], many["curves"]
            same = np.array_equal(np.isfinite(a), np.isfinite(b))
            gap = np.abs(np.where(np.isfinite(a) & np.isfinite(b), a - b, 0.0))
            per_run = gap.reshape(-1, gap.shape[-1]).max(axis=-1)  # over recorded steps
            print(f"| {workload} | {one['warm']:.3f} s | {many['warm']:.3f} s "
                  f"({many['devices']}) | {one['warm'] / many['warm']:.2f}× | "
                  f"{per_run.max():.1e} (median run {np.median(per_run):.1e})"
                  f"{'' if same else ' (different runs diverged)'} |")
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
