"""What does each instrument cost? Steps with instruments vs plain steps, in one process.

The task: the MNIST-1D MLP (40-32-10 tanh, softmax cross-entropy, float32) trained on
minibatches of 128 drawn inside the loss (``stochastic``), ``--steps`` steps of one
compiled ``train.run``. Each row times a run with some instruments recorded, against
the plain run of the same optimizer (SGD; Adam for the preconditioned sharpness),
warm (compiled once before timing), the median of ``--repeats`` calls, every variant
called in turn (round robin) so that all share the machine's load:

  norms+lr+cosines   "norms", "effective_lr", "cosines" at every step
  noise              per-example gradients of the step's 128 examples, every step
  noise every 10     the same, every 10th step
  alpha              one more value_and_grad at the far end of the step, every step
  sharpness/50       Lanczos on Hessian-vector products every 50 steps: 10 steps from the
                     last row's Ritz vector (the default warm start; 20 from a random
                     vector at the first row), and 20 from a random vector every time
  precond/50         the warm-started one on Adam's P^{-1/2} H P^{-1/2}, every 50 steps

Targets (issue 18): norms, ratios, cosines and effective LR together <= 1.3x a plain
step; per-example gradient instruments <= 3x; sharpness every 50 steps <= 1.5x
amortised. The load average and the device are printed with the table: the two CPU
cores of a shared machine are noisy, so read ratios, not seconds; each time is taken as
wall clock and as the process's CPU seconds (all threads), which load disturbs less.

Run:  .venv/bin/python benchmarks/instruments.py [--steps 5000] [--repeats 7]
Writes benchmarks/out/instruments.json and prints a Markdown table.
"""

import argparse
import json
import os
import time
from pathlib import Path

import jax
import numpy as np
import optax

import gdlab
from gdlab import train
from gdlab.train import _instruments as _inst

BATCH = 128
ROWS = {
    "norms+lr+cosines": dict(instruments=("norms", "effective_lr", "cosines"), every=1),
    "noise (per-example)": dict(instruments=("noise",), every=1),
    "noise every 10": dict(instruments=("noise",), every=10),
    "alpha": dict(instruments=("alpha",), every=1),
    "sharpness every 50": dict(instruments=("sharpness",), every=50),
    "sharpness every 50, 20 random-start steps": dict(
        instruments=train.Instruments(("sharpness",), lanczos_steps=20, warm_start=False),
        every=50),
    "precond. sharpness every 50 (Adam)": dict(instruments=("preconditioned_sharpness",),
                                               every=50, adam=True),
}
TARGETS = {"norms+lr+cosines": 1.3, "noise (per-example)": 3.0, "sharpness every 50": 1.5,
           "precond. sharpness every 50 (Adam)": 1.5}


def setup():
    p = gdlab.problems.get("mnist1d_mlp", batch_size=BATCH, dtype="float32")
    data = {"x": p.data["x"], "y": p.data["y"]}
    size = data["y"].shape[0]

    def examples(data, key):  # the minibatch the step's loss draws with the same key
        index = jax.random.randint(key, (BATCH,), 0, size)
        return {"x": data["x"][index], "y": data["y"][index]}

    def one(params, example):
        return p.loss(params, jax.tree.map(lambda a: a[None], example))

    return p.stochastic, p.init(jax.random.key(0)), data, examples, one


def timed(fn):
    """(wall seconds, CPU seconds of the process, all threads) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    loss, params, data, examples, one = setup()
    key = jax.random.key(1)
    sgd, adam = optax.sgd(0.1), optax.adam(1e-3)

    def call(opt, **kw):
        return lambda: jax.block_until_ready(train.run(
            loss, params, opt, args.steps, data=data, key=key, record=50, record_params=False,
            **kw).best_loss)

    calls = {"plain SGD": call(sgd), "plain Adam": call(adam)}
    for name, spec in ROWS.items():
        calls[name] = call(adam if spec.get("adam") else sgd, instruments=spec["instruments"],
                           instrument_every=spec["every"], per_example=one, examples=examples)
    for fn in calls.values():
        fn()  # compile everything before timing
    times = {name: [] for name in calls}
    for _ in range(args.repeats):  # round robin: every variant sees the same load
        for name, fn in calls.items():
            times[name].append(timed(fn))
    fastest = {name: np.min(t, axis=0) for name, t in times.items()}  # least disturbed
    times = {name: np.median(t, axis=0) for name, t in times.items()}  # (wall, cpu)
    rows = []
    for name, spec in ROWS.items():
        plain = "plain Adam" if spec.get("adam") else "plain SGD"
        base, inst = times[plain], times[name]
        rows.append({"instruments": name, "target": TARGETS.get(name),
                     "plain_ms_per_step": (1e3 * base / args.steps).tolist(),
                     "instrumented_ms_per_step": (1e3 * inst / args.steps).tolist(),
                     "ratio_wall": float(inst[0] / base[0]), "ratio_cpu": float(inst[1] / base[1]),
                     "ratio_fastest_wall": float(fastest[name][0] / fastest[plain][0])})
        print(f"{name}: {inst[0] / base[0]:.2f}x wall, {inst[1] / base[1]:.2f}x CPU", flush=True)
    parts = noise_parts(params, data, key, examples, one)
    load = os.getloadavg()
    meta = {"device": str(jax.devices()[0]), "backend": jax.default_backend(),
            "cpus": os.cpu_count(), "load_average": load, "steps": args.steps,
            "repeats": args.repeats, "batch": BATCH}
    print(f"\n{meta['backend']} ({meta['device']}), {meta['cpus']} CPUs, load average "
          f"{load[0]:.1f}/{load[1]:.1f}/{load[2]:.1f}; {args.steps} steps, median of "
          f"{args.repeats}\n")
    print("| instruments | plain ms/step (wall) | with (wall) | ratio wall | ratio CPU | "
          "ratio, fastest wall | target |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        target = f"<= {r['target']}x" if r["target"] else "-"
        print(f"| {r['instruments']} | {r['plain_ms_per_step'][0]:.3f} | "
              f"{r['instrumented_ms_per_step'][0]:.3f} | {r['ratio_wall']:.2f}x | "
              f"{r['ratio_cpu']:.2f}x | {r['ratio_fastest_wall']:.2f}x | {target} |")
    print("\nWhere a noise step's time goes (one jitted call each, µs, CPU time, median):")
    for name, us in parts.items():
        print(f"  {name:58s} {us:7.1f}")
    out = Path(__file__).parent / "out"
    out.mkdir(exist_ok=True)
    (out / "instruments.json").write_text(json.dumps({"meta": meta, "rows": rows,
                                                      "noise_parts_us": parts}, indent=1))


def noise_parts(params, data, key, examples, one, calls=500):
    """CPU µs per call of the pieces of a step with the noise instrument, each jitted alone."""
    batch = examples(data, key)
    mean_loss = lambda p, b: jax.numpy.mean(jax.vmap(one, in_axes=(None, 0))(p, b))
    pieces = {
        "gradient of the mean loss over the 128 examples": (jax.grad(mean_loss), params, batch),
        "128 per-example gradients, vmap(grad)": (
            jax.vmap(jax.grad(one), in_axes=(None, 0)), params, batch),
        "the noise instrument (per-example gradients + statistics)": (
            lambda p, b: _inst.noise(one, p, b), params, batch),
        "drawing the 128 examples again (examples(data, key))": (examples, data, key),
    }
    out = {}
    for name, (fn, *args) in pieces.items():
        fn = jax.jit(fn)
        jax.block_until_ready(fn(*args))
        runs = []
        for _ in range(5):
            cpu = time.process_time()
            for _ in range(calls):
                result = fn(*args)
            jax.block_until_ready(result)
            runs.append(1e6 * (time.process_time() - cpu) / calls)
        out[name] = float(np.median(runs))
    return out


if __name__ == "__main__":
    main()
