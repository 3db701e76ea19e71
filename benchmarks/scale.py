"""How does a sweep scale? Points per second vs grid size and devices; memory per recording policy.

Four measurements, each in its own subprocess so device counts and peak memory are clean:

  throughput   GD on 2-D Rosenbrock, 200 steps, record="summary": grid sizes 1 to
               100,000 on one device (warm time, compilation excluded, one compilation
               per size), points per second.
  devices      the 100,000-point grid with 1, 2 and 4 devices (forced CPU devices via
               XLA_FLAGS=--xla_force_host_platform_device_count=N on a CPU machine; the
               real devices on a GPU host).
  memory       the MNIST-1D MLP (40-100-10 tanh, full batch, float32):
               a 64-point sweep of 100 steps on 1,000 samples with record="all" + params,
               record=10,
               and record="summary"; peak resident memory of the process and XLA's
               memory analysis of one compiled chunk. From the summary chunk we project a
               100,000-point × 1,000-step sweep in chunks of 64: its memory is one
               chunk's plus 100,000 summaries, whatever the grid size.
  grid memory  that claim measured: the MLP (100 samples, 10 steps) swept over 256, 4,096
               and 65,536 learning rates in chunks of 256 with record="summary"; peak
               resident memory per grid size.

Run:  .venv/bin/python benchmarks/scale.py [--max-points 100000]
Writes benchmarks/out/scale.json and prints Markdown tables.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROSENBROCK_STEPS = 200
GRID_SAMPLES, GRID_STEPS, GRID_CHUNK = 100, 10, 256  # the grid-size memory measurement


def _rosenbrock_sweep(points: int, devices=None, chunk_size=None):
    import jax.numpy as jnp
    import numpy as np

    from gdlab import problems, train

    p = problems.get("rosenbrock")
    lrs = np.geomspace(1e-5, 2e-3, points).astype(np.float32)
    x0 = jnp.asarray(p.x0, jnp.float32)

    def go():
        return train.sweep(p.loss, x0, "sgd", {"learning_rate": lrs}, ROSENBROCK_STEPS,
                           record="summary", devices=devices, chunk_size=chunk_size)

    start = time.perf_counter()
    go()
    cold = time.perf_counter() - start
    warm = min(_timed(go) for _ in range(2))
    return {"points": points, "cold_s": cold, "warm_s": warm, "points_per_s": points / warm}


def _peak_mib() -> float:
    """This process's peak resident memory. VmHWM, not ru_maxrss: Linux carries the forking
    parent's RSS into ru_maxrss across exec."""
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM")) / 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def child_throughput(max_points: int):
    sizes = [n for n in (1, 10, 100, 1_000, 10_000, 100_000) if n <= max_points]
    return [_rosenbrock_sweep(n, devices=False) for n in sizes]


def child_devices(max_points: int):
    import jax

    out = _rosenbrock_sweep(max_points)
    out["devices"] = len(jax.devices())
    return out


def child_memory(policy: str):
    import jax
    import numpy as np

    import gdlab
    from gdlab import train
    from gdlab.train import _sweep

    p = gdlab.problems.get("mnist1d_mlp", hidden=100, train_size=1000)
    data, loss, model = {"x": p.data["x"], "y": p.data["y"]}, p.loss, p.info["model"]
    record = {"all": "all", "every10": 10, "summary": "summary"}[policy]
    lrs = np.geomspace(1e-3, 3.0, 64).astype(np.float32)
    kwargs = dict(data=data, record=record, record_params=policy == "all")
    start = time.perf_counter()
    sw = train.sweep(loss, model.init(jax.random.key(0)), "sgd", {"learning_rate": lrs}, 100,
                     **kwargs)
    seconds = time.perf_counter() - start
    # XLA's own accounting of the compiled chunk: arguments, outputs, temporaries.
    fn = _sweep._compiled_sweep(
        loss, None, gdlab.optimizers.factory("sgd"), ("learning_rate",), (), (), None, 100, True,
        False, train.DIVERGENCE_FACTOR, train._loop.parse_record(record, 100, policy == "all"),
        None,
    )
    analysis = fn.lower(lrs[:, None], np.zeros(1, np.uint32), model.init(jax.random.key(0)),
                        data).compile().memory_analysis()
    xla_bytes = (analysis.argument_size_in_bytes + analysis.output_size_in_bytes
                 + analysis.temp_size_in_bytes)
    return {
        "policy": policy,
        "points": len(lrs),
        "steps": 100,
        "seconds": seconds,
        "peak_rss_mib": _peak_mib(),
        "xla_chunk_mib": xla_bytes / 2**20,
        "loss_array_mib": sw.loss.nbytes / 2**20,
        "params_mib": 0.0 if sw.params is None else sum(
            np.asarray(leaf).nbytes for leaf in jax.tree.leaves(sw.params)) / 2**20,
    }


def child_grid_memory(points: int):
    """Peak memory of a chunked, summary-only MLP sweep: flat in the grid size."""
    import jax
    import numpy as np

    import gdlab
    from gdlab import train

    p = gdlab.problems.get("mnist1d_mlp", hidden=100, train_size=GRID_SAMPLES)
    data, loss, model = {"x": p.data["x"], "y": p.data["y"]}, p.loss, p.info["model"]
    lrs = np.geomspace(1e-3, 3.0, points).astype(np.float32)
    start = time.perf_counter()
    sw = train.sweep(loss, model.init(jax.random.key(0)), "sgd", {"learning_rate": lrs},
                     GRID_STEPS, data=data, record="summary", chunk_size=GRID_CHUNK)
    return {"points": points, "steps": GRID_STEPS, "chunk_size": GRID_CHUNK,
            "seconds": time.perf_counter() - start,
            "peak_rss_mib": _peak_mib(),
            "ok": int(np.sum(sw.diverged_at < 0))}


def _child(mode: str, arg: str, devices: int = 1) -> dict:
    env = {**os.environ, "JAX_PLATFORMS": os.environ.get("JAX_PLATFORMS", "")}
    if devices > 1 or mode == "devices":
        env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    out = subprocess.run([sys.executable, __file__, "--child", mode, arg], env=env,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-points", type=int, default=100_000)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, arg = args.child
        result = {"throughput": child_throughput, "devices": child_devices,
                  "memory": child_memory, "grid_memory": child_grid_memory,
                  }[mode](int(arg) if mode != "memory" else arg)
        print(json.dumps(result))
        return
    if args.max_points < 1:
        parser.error("--max-points must be >= 1")

    import jax

    backend = jax.default_backend()
    throughput = _child("throughput", str(args.max_points))
    if backend == "cpu":
        devices = [_child("devices", str(args.max_points), n) for n in (1, 2, 4)]
    else:  # real accelerators: use what is there
        devices = [_child("devices", str(args.max_points), 1)]
    memory = [_child("memory", policy) for policy in ("all", "every10", "summary")]
    grid_memory = [_child("grid_memory", str(n)) for n in (256, 4_096, 65_536)
                   if n <= max(args.max_points, 256)]
    summary = next(m for m in memory if m["policy"] == "summary")
    chunks = -(-100_000 // summary["points"])
    projection = {
        "points": 100_000, "steps": 1_000, "chunk_size": summary["points"],
        "memory_mib": summary["peak_rss_mib"] + 100_000 * 4 * 8 / 2**20,
        "hours_at_measured_speed": chunks * summary["seconds"] * 10 / 3600,
    }
    report = {"backend": backend, "device": str(jax.devices()[0]), "throughput": throughput,
              "devices": devices, "memory": memory, "grid_memory": grid_memory,
              "projection_100k_mlp": projection}
    out = Path(__file__).parent / "out"
    out.mkdir(exist_ok=True)
    (out / "scale.json").write_text(json.dumps(report, indent=1))

    print(f"backend {backend}, {report['device']}\n")
    print(f"GD on Rosenbrock, {ROSENBROCK_STEPS} steps, record='summary', one device")
    print("| grid points | cold (s) | warm (s) | points/s |\n|---|---|---|---|")
    for r in throughput:
        print(f"| {r['points']:,} | {r['cold_s']:.2f} | {r['warm_s']:.3f} | "
              f"{r['points_per_s']:,.0f} |")
    print(f"\n{args.max_points:,} points over devices\n| devices | warm (s) | points/s |"
          "\n|---|---|---|")
    for r in devices:
        print(f"| {r['devices']} | {r['warm_s']:.3f} | {r['points_per_s']:,.0f} |")
    print("\nMNIST-1D MLP, 64 points x 100 steps, by recording policy\n"
          "| record | peak RSS (MiB) | XLA chunk (MiB) | loss array (MiB) | params kept (MiB) |"
          " time (s) |\n|---|---|---|---|---|---|")
    for m in memory:
        print(f"| {m['policy']} | {m['peak_rss_mib']:.0f} | {m['xla_chunk_mib']:.1f} | "
              f"{m['loss_array_mib']:.2f} | {m['params_mib']:.1f} | {m['seconds']:.1f} |")
    print(f"\nMNIST-1D MLP ({GRID_SAMPLES} samples, {GRID_STEPS} steps), chunks of "
          f"{GRID_CHUNK}, record='summary', by grid size\n"
          "| grid points | peak RSS (MiB) | time (s) |\n|---|---|---|")
    for m in grid_memory:
        print(f"| {m['points']:,} | {m['peak_rss_mib']:.0f} | {m['seconds']:.1f} |")
    print(f"\n100,000 points x 1,000 steps in chunks of {summary['points']} with "
          f"record='summary': ~{projection['memory_mib']:.0f} MiB, "
          f"~{projection['hours_at_measured_speed']:.1f} h at this machine's speed (1,000 samples)")


if __name__ == "__main__":
    main()
