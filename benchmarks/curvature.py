"""How fast is the top Hessian eigenvalue? Lanczos vs dense jax.hessian + eigh, and HVP cost.

Model: a tanh MLP 40 → h → 10 (n = 51h + 10 parameters) with square loss on one-hot
labels, full batch of the first --examples MNIST-1D training points (gdlab.data; a
Gaussian stand-in if that is unavailable), float32, at initialisation.

For each size n:
  grad, hvp   one gradient and one Hessian-vector product (forward-over-reverse), timed
              side by side: the HVP's cost in gradients. Inside the Lanczos loop XLA
              hoists the primal pass out of the loop, so a Lanczos step can cost less
              than a standalone HVP: "Lanczos step / grad" = run / (m · grad).
  history     --steps Lanczos steps from the same start vector as the public call; the
              top Ritz value after j steps is the eigenvalue estimate of a j-step run.
  dense       (n ≤ --max-dense) jax.hessian of the flattened loss (in column chunks when
              n copies of one HVP's intermediates would not fit in --dense-memory) and
              jnp.linalg.eigvalsh: the reference λ_max. Above the cap the reference is the
              --steps Lanczos value and the dense column says "skipped".
  lanczos     gdlab.curvature.top_eigenvalues(method="lanczos", num_iters=m) with m the
              fewest steps reaching 1e-3 relative error against the reference.

Every program is compiled ahead of time (jit(...).lower(...).compile()): "compile" is
that time, "run" the best of the calls (other processes only add time), "total" compile
+ first call. Dense sizes whose predicted time (the last dense run scaled by n³) exceeds
--dense-budget seconds are skipped and reported as such.
Memory is XLA's compiled memory analysis (arguments + outputs + temporaries; LAPACK's
own eigh workspace is not in it), plus the process's peak RSS at the end.

Run:    .venv/bin/python benchmarks/curvature.py [--quick] [--max-dense 5000] [--max-size 1000000]
Writes: benchmarks/out/curvature.json; prints a table and its Markdown.
Expect: a few minutes on an idle 2-core CPU, most of it the dense 5k eigh and the 1M
        Lanczos runs (a loaded machine is several times slower; --dense-budget then skips
        the dense 5k, say --max-size 6000 --dense-budget 2000 to force it). Targets: at
        5k parameters Lanczos ≥ 20× faster than dense at 1e-3; an HVP ≤ 4 gradients.
"""

import argparse
import json
import os
import platform
import resource
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from gdlab import curvature
from gdlab.curvature._eigen import start_vector
from gdlab.curvature._lanczos import tridiagonalize
from gdlab.curvature._operators import flat_operator

OUT = Path(__file__).parent / "out" / "curvature.json"
SIZES = (1_000, 2_000, 5_000, 10_000, 20_000, 100_000, 1_000_000)
QUICK_SIZES = (1_000, 2_000, 10_000)
TOLERANCE = 1e-3
KEY = jax.random.key(0)


def load_data(examples):
    try:
        from gdlab import data

        d = data.mnist1d(seed=0)
        x, labels, source = np.asarray(d["x"]), np.asarray(d["y"]), "MNIST-1D (gdlab.data)"
    except Exception as error:  # the data module is optional for this benchmark
        rng = np.random.default_rng(0)
        x, labels = rng.normal(size=(4000, 40)), rng.integers(0, 10, 4000)
        source = f"synthetic Gaussian (gdlab.data unavailable: {type(error).__name__})"
    x = jnp.asarray(x[:examples], jnp.float32)
    y = jax.nn.one_hot(jnp.asarray(labels[:examples]), 10, dtype=jnp.float32)
    return x, y, source


def make_problem(n_target, x, y):
    """Loss and initial parameters of a 40-h-10 tanh MLP with about n_target parameters."""
    hidden = max(1, round((n_target - 10) / 51))
    k1, k2 = jax.random.split(jax.random.key(hidden))
    params = {
        "w1": jax.random.normal(k1, (40, hidden), jnp.float32) / np.sqrt(40),
        "b1": jnp.zeros((hidden,), jnp.float32),
        "w2": jax.random.normal(k2, (hidden, 10), jnp.float32) / np.sqrt(hidden),
        "b2": jnp.zeros((10,), jnp.float32),
    }

    def loss(p):
        h = jnp.tanh(x @ p["w1"] + p["b1"][None, :])
        return 0.5 * jnp.mean(jnp.sum((h @ p["w2"] + p["b2"][None, :] - y) ** 2, axis=1))

    return loss, params, hidden


def compiled(fn, *args):
    start = time.perf_counter()
    exe = jax.jit(fn).lower(*args).compile()
    return exe, time.perf_counter() - start


def memory_bytes(exe):
    m = exe.memory_analysis()
    peak = getattr(m, "peak_memory_in_bytes", 0) or 0
    total = m.argument_size_in_bytes + m.output_size_in_bytes + m.temp_size_in_bytes
    return int(max(peak, total))


def measure(fn, *args, budget_s=1.0, max_repeats=5):
    """Compile ahead of time, call once (warm-up), then repeat while under budget_s."""
    exe, compile_s = compiled(fn, *args)
    start = time.perf_counter()
    out = jax.block_until_ready(exe(*args))
    first = time.perf_counter() - start
    runs = []
    while len(runs) < max_repeats and sum(runs) + first < budget_s:
        start = time.perf_counter()
        jax.block_until_ready(exe(*args))
        runs.append(time.perf_counter() - start)
    run = min(runs + [first])  # best of: other processes only ever add time
    return out, {
        "compile_s": compile_s,
        "run_s": run,
        "total_s": compile_s + first,
        "memory_bytes": memory_bytes(exe),
    }


def grad_vs_hvp(loss, params):
    v = jax.tree.map(jnp.ones_like, params)
    g_exe, _ = compiled(jax.grad(loss), params)
    h_exe, _ = compiled(lambda p, d: curvature.hvp(loss, p, d), params, v)
    jax.block_until_ready((g_exe(params), h_exe(params, v)))
    grads, hvps = [], []
    for _ in range(7):  # interleaved, so both see the same machine load
        start = time.perf_counter()
        jax.block_until_ready(g_exe(params))
        grads.append(time.perf_counter() - start)
        start = time.perf_counter()
        jax.block_until_ready(h_exe(params, v))
        hvps.append(time.perf_counter() - start)
    g, h = min(grads), min(hvps)
    temp = h_exe.memory_analysis().temp_size_in_bytes
    return {"grad_s": g, "hvp_s": h, "hvp_in_grads": h / g, "hvp_temp_bytes": int(temp)}


def lanczos_history(loss, params, steps):
    """Top Ritz value after j = 1..steps steps, from the public call's start vector."""

    def run(p):
        flat, _, matvec = flat_operator(loss, p)
        v0 = start_vector(KEY, flat.shape[0], flat.dtype)
        return tridiagonalize(matvec, v0, steps)[:2]

    (alpha, beta), timing = measure(run, params, budget_s=0)
    alpha, beta = np.asarray(alpha, np.float64), np.asarray(beta, np.float64)
    t = np.diag(alpha) + np.diag(beta, 1) + np.diag(beta, -1)
    tops = [float(np.linalg.eigvalsh(t[:j, :j])[-1]) for j in range(1, steps + 1)]
    return tops, timing


def dense_top(loss, params, n, hvp_temp_bytes, memory_budget):
    chunk = None if n * hvp_temp_bytes <= memory_budget else max(1, memory_budget // hvp_temp_bytes)
    chunk = None if chunk is None else int(min(n, 2 ** int(np.log2(chunk))))

    def run(p):
        h = curvature.hessian(loss, p, batch_size=chunk)
        return jnp.linalg.eigvalsh(h)[-1]

    value, timing = measure(run, params, budget_s=0)
    return float(value), {**timing, "hessian_columns_at_once": chunk or n}


def lanczos_top(loss, params, num_iters):
    def run(p):
        return curvature.top_eigenvalues(loss, p, method="lanczos", num_iters=num_iters, key=KEY)[0]

    value, timing = measure(run, params)
    return float(value), timing


def first_within(tops, reference):
    for j, value in enumerate(tops, start=1):
        if abs(value - reference) <= TOLERANCE * abs(reference):
            return j
    return None


def dense_skip_reason(n, args, last_dense):
    """Why the dense run at n is skipped (None: run it); last_dense = (n, seconds) or None."""
    if n > args.max_dense:
        return f"n > --max-dense {args.max_dense}"
    if last_dense:
        predicted = last_dense[1] * (n / last_dense[0]) ** 3
        if predicted > args.dense_budget:
            return f"predicted {predicted:.0f} s > --dense-budget {args.dense_budget:.0f} s"
    return None


def bench_size(n_target, x, y, args, last_dense):
    loss, params, hidden = make_problem(n_target, x, y)
    n = sum(p.size for p in jax.tree.leaves(params))
    row = {"n": n, "hidden": hidden, **grad_vs_hvp(loss, params)}
    steps = min(args.steps, n)
    tops, row["history"] = lanczos_history(loss, params, steps)
    row["dense_skipped"] = dense_skip_reason(n, args, last_dense)
    if row["dense_skipped"] is None:
        reference, row["dense"] = dense_top(
            loss, params, n, row["hvp_temp_bytes"], args.dense_memory
        )
        row["reference"] = "dense eigvalsh"
    else:
        reference, row["dense"] = tops[-1], None
        row["reference"] = f"Lanczos, {steps} steps"
    m = first_within(tops, reference) or steps
    value, row["lanczos"] = lanczos_top(loss, params, m)
    row.update(
        lambda_max=reference,
        steps_to_tolerance=m,
        lanczos_value=value,
        relative_error=abs(value - reference) / abs(reference),
        relative_error_by_steps=[abs(t - reference) / abs(reference) for t in tops],
        lanczos_step_in_grads=row["lanczos"]["run_s"] / (m * row["grad_s"]),
    )
    if row["dense"]:
        row["speedup_run"] = row["dense"]["run_s"] / row["lanczos"]["run_s"]
        row["speedup_total"] = row["dense"]["total_s"] / row["lanczos"]["total_s"]
    return row


def fmt_s(s):
    return f"{s * 1e3:.0f} ms" if s < 1 else f"{s:.1f} s"


def fmt_mb(b):
    return f"{b / 2**20:.0f} MB" if b >= 2**20 else f"{b / 2**10:.0f} kB"


HEADER = (
    "n",
    "dense run / total",
    "dense mem",
    "Lanczos m",
    "Lanczos run / total",
    "Lanczos mem",
    "rel. err",
    "speedup run / total",
    "HVP / grad",
    "Lanczos step / grad",
)


def table_rows(rows):
    for r in rows:
        d, lz = r["dense"], r["lanczos"]
        yield (
            f"{r['n']:,}",
            f"{fmt_s(d['run_s'])} / {fmt_s(d['total_s'])}" if d else "skipped",
            fmt_mb(d["memory_bytes"]) if d else "-",
            str(r["steps_to_tolerance"]),
            f"{fmt_s(lz['run_s'])} / {fmt_s(lz['total_s'])}",
            fmt_mb(lz["memory_bytes"]),
            f"{r['relative_error']:.1e}" + ("" if d else " *"),
            f"{r['speedup_run']:.0f}× / {r['speedup_total']:.0f}×" if d else "-",
            f"{r['hvp_in_grads']:.2f}",
            f"{r['lanczos_step_in_grads']:.2f}",
        )


def print_tables(rows):
    body = list(table_rows(rows))
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(HEADER)]
    line = lambda cells: "  ".join(c.rjust(w) for c, w in zip(cells, widths, strict=True))
    print(line(HEADER))
    for b in body:
        print(line(b))
    print("\nMarkdown:\n")
    print("| " + " | ".join(HEADER) + " |")
    print("|" + "|".join("---:" for _ in HEADER) + "|")
    for b in body:
        print("| " + " | ".join(b) + " |")
    print(
        "\n* no dense reference: error against the longest Lanczos run. "
        "run = compiled call, total = compile + first call."
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="sizes 1k, 2k, 10k only")
    parser.add_argument("--max-dense", type=int, default=6_000, help="largest n for dense eigh")
    parser.add_argument("--max-size", type=int, default=1_000_000, help="largest n for Lanczos")
    parser.add_argument("--examples", type=int, default=1000, help="full-batch size")
    parser.add_argument("--steps", type=int, default=40, help="Lanczos steps of the history")
    parser.add_argument("--dense-budget", type=float, default=300.0, help="seconds per dense run")
    parser.add_argument("--dense-memory", type=int, default=2**31, help="bytes for Hessian columns")
    args = parser.parse_args()

    x, y, source = load_data(args.examples)
    sizes = [s for s in (QUICK_SIZES if args.quick else SIZES) if s <= args.max_size]
    print(f"data: {source}, {x.shape[0]} examples; float32; {jax.devices()[0].platform}")
    load_start = os.getloadavg()[0]
    print(f"load average at start: {load_start:.1f} on {os.cpu_count()} cores\n")
    start, rows, last_dense = time.perf_counter(), [], None
    for size in sizes:
        t0 = time.perf_counter()
        r = bench_size(size, x, y, args, last_dense)
        rows.append(r)
        if r["dense"]:
            last_dense = (r["n"], r["dense"]["total_s"])
        print(
            f"  n={r['n']:,}: λ_max={r['lambda_max']:.4f}, m={r['steps_to_tolerance']}, "
            f"HVP={r['hvp_in_grads']:.2f} grads ({time.perf_counter() - t0:.0f} s)"
            + (f"; dense skipped: {r['dense_skipped']}" if r["dense_skipped"] else ""),
            flush=True,
        )
    print()
    print_tables(rows)
    result = {
        "benchmark": "curvature",
        "config": {
            **vars(args),
            "sizes": sizes,
            "tolerance": TOLERANCE,
            "dtype": "float32",
        },
        "meta": {
            "data": source,
            "jax": jax.__version__,
            "platform": jax.devices()[0].platform,
            "machine": platform.platform(),
            "cpu_count": os.cpu_count(),
            "load_average_start_end": [load_start, os.getloadavg()[0]],
            "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            "wall_s": time.perf_counter() - start,
            "python": sys.version.split()[0],
        },
        "rows": rows,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    tmp = OUT.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=1))
    tmp.replace(OUT)
    print(
        f"\nwall {result['meta']['wall_s']:.0f} s, peak RSS "
        f"{fmt_mb(result['meta']['peak_rss_bytes'])}; wrote {OUT}"
    )


if __name__ == "__main__":
    main()
