"""Do independent sweeps on Python threads use the other cores, with the same numbers?

``gdlab.experiment.in_threads`` runs an experiment's independent parts side by side:
XLA compiles and runs with Python's lock released, and XLA:CPU's thread pool (one
thread per core) runs two programs of one device at once. Unlike sharding a sweep over
forced devices (``benchmarks/forced_devices.py``), each part runs exactly the program it
would run alone, so its numbers cannot change. Measured here, in one process, warm
(compiled) calls, best of ``--repeats``, for ``--jobs`` independent sweeps (seeds 0, 1, …)
of each workload:

  mlp     the benchmarks/sweep.py workload at 1024 samples: 32 rates × 300 SGD steps,
          40-64-10 tanh MLP on MNIST-1D (float32), loss curves recorded
  deep    a 20-layer, width-16 tanh MLP (vanishing_gradients' training network) on 32
          examples: 4 rates × 3 depths × 5 seeds, 1000 steps (many tiny batched GEMMs)

one after another and on ``in_threads`` (wall-clock seconds and the process's CPU
seconds), the speed-up, and whether every loss curve is bit for bit the same both ways.
Measured on the project's 2-core CPU: see the README's Speed section.

Run:  .venv/bin/python benchmarks/threads.py [--repeats 3] [--jobs 2]
"""

import argparse
import sys
import time
from pathlib import Path

import jax
import numpy as np

import gdlab
from gdlab import compilation, train
from gdlab.experiment import in_threads

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "experiments"))
import _vanishing_gradients_net as net  # noqa: E402


def mlp(seed: int):
    p = gdlab.problems.get("mnist1d_mlp", hidden=64, train_size=1024)
    data = {"x": np.asarray(p.data["x"]), "y": np.asarray(p.data["y"])}
    lrs = np.geomspace(1e-3, 10.0, 32).astype(np.float32)
    return lambda: np.asarray(train.sweep(p.loss, p.init, "sgd", {"learning_rate": lrs}, 300,
                                          seeds=[seed], data=data,
                                          record_grad_norm=False).loss)


def deep(seed: int):
    p = gdlab.problems.get("mnist1d_mlp", train_size=32)
    data = {"x": np.asarray(p.data["x"]), "y": np.asarray(p.data["y"])}
    init = net.init_fn("xavier", width=16, max_depth=20, gain=1.0)
    grid = {"learning_rate": np.asarray([0.03, 0.1, 0.2, 0.3]),
            "depth": np.asarray([11.0, 15.0, 20.0])}
    return lambda: np.asarray(train.sweep(net.loss("tanh"), init, "sgd", grid, 1000,
                                          seeds=range(5 * seed, 5 * seed + 5), data=data,
                                          record=100, record_grad_norm=False).loss)


def timed(fn, repeats: int):
    """(best wall seconds, that call's CPU seconds, the result)."""
    best = None
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        out = fn()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        if best is None or wall < best[0]:
            best = (wall, cpu, out)
    return best


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.jobs < 2:
        parser.error("--repeats must be >= 1 and --jobs >= 2")
    compilation.disable_cache()
    print(f"{jax.devices()[0].device_kind}, {len(jax.devices())} device(s); "
          f"{args.jobs} independent sweeps per workload, warm, best of {args.repeats}")
    print("| workload | one after another: wall (CPU) | in_threads: wall (CPU) | speed-up "
          "| same numbers |")
    print("|---|---|---|---|---|")
    for name, make in (("mlp", mlp), ("deep", deep)):
        jobs = [make(seed) for seed in range(args.jobs)]
        for job in jobs:  # compile (the seeds share one program) and warm up
            job()
        seq = timed(lambda jobs=jobs: [job() for job in jobs], args.repeats)
        par = timed(lambda jobs=jobs: in_threads(jobs, args.jobs), args.repeats)
        same = all(np.array_equal(a, b, equal_nan=True) for a, b in zip(seq[2], par[2],
                                                                       strict=True))
        print(f"| {name} | {seq[0]:.2f} s ({seq[1]:.2f} s) | {par[0]:.2f} s ({par[1]:.2f} s) "
              f"| {seq[0] / par[0]:.2f}× | {'yes' if same else 'NO'} |")


if __name__ == "__main__":
    main()
