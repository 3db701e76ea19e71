"""Are vmapped network runs faster than the same runs one after another on a CPU?

Not always: vmapping a network over runs (learning rates, seeds, points of a stack of
parameters) turns each of its matmuls into a *batched* matmul with a batch axis on the
weights, and XLA's CPU backend runs those several times slower than the same matmuls
one at a time (which go to its threaded GEMM). Measured here on the MNIST-1D MLP that
taylor_step trains (40-100-10, tanh, 4000 examples, float32), warm (compiled) calls,
best of ``--repeats``:

  value_and_grad  10 parameter sets: jit(vmap(value_and_grad)) vs jit(lax.map(...))
  step terms      ``gdlab.taylor.gradient_step_terms`` at 10 points: vmap vs lax.map
  sweep           ``gdlab.train.sweep``: one call over 2 rates × 5 seeds (vmapped) vs 10
                  calls of one compiled single-run program (``--steps`` steps each)

The load average is printed next to the times: the machine may be shared, and a ratio
taken back to back is more trustworthy than either time alone. Measured on the project's
2-core CPU (27 Nov 2026): value_and_grad and step terms 2.1-2.2× slower vmapped at load 5
(5-7× at load 11); the whole sweep 1.1× at load 5, 2.2× at load 11.

Run:  .venv/bin/python benchmarks/batched_vs_sequential.py [--repeats 3] [--steps 100]
"""

import argparse
import time

import jax
import jax.numpy as jnp

import gdlab
from gdlab import compilation, taylor


def _best(fn, repeats: int) -> float:
    jax.block_until_ready(fn())  # compile (and warm up) first
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - start)
    return min(times)


def _load() -> str:
    with open("/proc/loadavg") as f:
        return f.read().split()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=100)
    args = parser.parse_args()
    compilation.disable_cache()
    p = gdlab.problems.get("mnist1d_mlp", hidden=100, dtype=jnp.float32, data_seed=0)
    data = {"x": p.data["x"], "y": p.data["y"]}
    f = p.loss
    params = jax.jit(jax.vmap(p.init))(jax.random.split(jax.random.key(0), 10))

    vg = jax.value_and_grad(f)
    terms = lambda q, d: taylor.gradient_step_terms(f, q, jnp.float32(0.5), data=d)
    pairs = {
        "value_and_grad": (jax.jit(jax.vmap(vg, in_axes=(0, None))),
                           jax.jit(lambda s, d: jax.lax.map(lambda q: vg(q, d), s))),
        "step terms": (jax.jit(jax.vmap(terms, in_axes=(0, None))),
                       jax.jit(lambda s, d: jax.lax.map(lambda q: terms(q, d), s))),
    }
    print("| what (10 runs) | vmapped | one at a time | ratio | load |\n|---|---|---|---|---|")
    for name, (batched, sequential) in pairs.items():
        b = _best(lambda fn=batched: fn(params, data), args.repeats)
        s = _best(lambda fn=sequential: fn(params, data), args.repeats)
        print(f"| {name} | {b * 1e3:.1f} ms | {s * 1e3:.1f} ms | {b / s:.2f}× | {_load()} |")

    def sweep(rates, seeds):
        return gdlab.train.sweep(f, p.init, "sgd", {"learning_rate": rates}, args.steps,
                                 seeds=seeds, data=data, record=10, record_params=True).loss

    b = _best(lambda: sweep([0.5, 2.0], [0, 1, 2, 3, 4]), args.repeats)
    s = _best(lambda: [sweep([lr], [seed]) for lr in (0.5, 2.0) for seed in range(5)],
              args.repeats)
    print(f"| sweep, {args.steps} steps | {b:.2f} s | {s:.2f} s | {b / s:.2f}× | {_load()} |")


if __name__ == "__main__":
    main()
