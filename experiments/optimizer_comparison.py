"""Tuned alike by a referee's protocol, which optimizer wins? It depends on the problem and
the cost, and a difference counts only where the bootstrap intervals separate.

The protocol (``gdlab.compare.benchmark``): every optimizer gets the same number of
quasi-random trials (Halton) over its declared search space (log-uniform step size and
its key hyperparameters), all in one compiled sweep; it is tuned on 3 starts and reported
on 10 held-out starts, tuned and at its literature defaults; costs are steps, evaluations
of f or (f, ∇f) (line-search trials and populations count) and seconds, with the tuning
cost beside the final runs'. Medians carry seeded bootstrap 95 % intervals; "A beats B"
is claimed only when the intervals separate. Across problems: Dolan–Moré performance
profiles with an AlgoPerf-style area score, and the expected held-out result of the best
of k random trials (the budget curve). SciPy's Nelder–Mead and L-BFGS-B run from the same
held-out starts as outside reference rows (not optax). On rotated quadratics the measured
rates are set against the closed forms: GD at α = 2/(λmin + λmax) contracts by
(κ − 1)/(κ + 1) per step, heavy ball at its optimal (α, β) by (√κ − 1)/(√κ + 1).

Run:    gdlab run optimizer_comparison      (or: python experiments/optimizer_comparison.py --help)
Writes: results/optimizer_comparison/result.json, table.md, table.csv, loss_vs_steps.png,
        loss_vs_evaluations.png, evaluations_to_target.png, performance_profile.png,
        budget.png, quadratic_rates.png, paths_<function>.png
The measured numbers are the claims in results/optimizer_comparison/result.json
(`gdlab list`); `--seed S` draws other held-out starts and other trials.
"""

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

import gdlab
from gdlab import claims as C
from gdlab import compare


def _figures():
    """experiments/_optimizer_comparison_figures.py (a private module beside this script)."""
    return gdlab.experiment.sibling(__file__, "_optimizer_comparison_figures")


@dataclass(frozen=True)
class Config:
    optimizers: tuple[str, ...] = (
        "gd", "momentum", "adam", "lbfgs", "cg_pr", "newton", "optax.contrib.prodigy", "cma_es",
    )  # on every 2-D problem (one compilation each, shared by all of them)
    scipy: tuple[str, ...] = ("nelder_mead", "lbfgsb")  # outside reference rows (not optax)
    kappas: tuple[float, ...] = (10.0, 100.0, 1000.0)  # condition numbers of the quadratics
    quadratic_angle: float = math.pi / 6  # their eigenvectors are rotated by this angle
    quadratic_x0: tuple[float, float] = (1.0, 1.0)  # their standard start (minimum at 0)
    functions: tuple[str, ...] = ("rosenbrock", "beale", "himmelblau", "rastrigin")
    num_steps: int = 500  # updates per run on the 2-D problems
    trials: int = 20  # quasi-random tuning trials per optimizer (equal for all)
    tune_starts: int = 3  # starts the tuning chooses on (row 0 = the standard start)
    heldout: int = 10  # held-out starts every reported number is measured on
    radius: float = 0.1  # random starts: x0 + radius·N(0, I)
    target: float = 1e-6  # f − f* that counts as solved
    deep: bool = True  # also DeepOBS quadratic_deep (100-D) and its noisy version
    deep_optimizers: tuple[str, ...] = ("gd", "momentum", "adam")
    deep_steps: int = 300
    deep_noise: float = 1.0  # σ of the noisy quadratic_deep gradient
    deep_target: float = 1e-3
    timed: tuple[str, ...] = ("rosenbrock",)  # problems whose sweeps are timed (a 2nd call)
    seed: int = 0  # held-out starts and trials: seed S draws other ones


QUICK = {"optimizers": ("gd", "adam", "lbfgs"), "kappas": (10.0,), "functions": ("rosenbrock",),
         "num_steps": 60, "trials": 4, "heldout": 5, "deep": False, "scipy": ("nelder_mead",)}


_SLOW_TO_BUILD = ("cg_pr", "lbfgs", "cma_es", "newton")  # line searches, evosax: started first


def _check(config: Config) -> None:
    for name in (*config.optimizers, *config.deep_optimizers):
        compare.resolve(name)  # unknown names: ValueError listing the valid ones
    for required in ("gd", "adam"):  # the reference points of every table
        if required not in config.optimizers:
            raise ValueError(f"optimizers must include {required!r} (got {config.optimizers})")
    bad = [f for f in config.functions if f not in compare.SMALL]
    if bad:
        raise ValueError(f"unknown function(s) {bad}; valid: {', '.join(compare.SMALL)}")
    if config.heldout < 5 or config.tune_starts < 1 or config.trials < 1:
        raise ValueError("need heldout >= 5 (claims over starts), tune_starts >= 1, trials >= 1")
    if min(config.num_steps, config.deep_steps) < 1 or min(config.kappas) < 1:
        raise ValueError("num_steps and deep_steps must be >= 1 and kappas >= 1")


def _round(values, digits: int = 4):
    a = np.asarray(values, np.float64)
    flat = [float(f"{v:.{digits}g}") if np.isfinite(v) else float(v) for v in a.ravel()]
    return np.asarray(flat).reshape(a.shape)


def _log_steps(n: int, count: int = 120) -> np.ndarray:
    """Steps 0..n: every step up to 30, then log-spaced (curves and paths stay small)."""
    return np.unique(np.concatenate([np.arange(min(n, 30) + 1),
                                     np.geomspace(1, n, count).astype(int), [n]]))


def _rows(config: Config) -> tuple[range, range]:
    return range(config.tune_starts), range(config.tune_starts,
                                            config.tune_starts + config.heldout)


def _reseed(bench, config: Config):
    """Held-out starts drawn from keys seed·1000 + i (row 0, the standard start, stays)."""
    if config.seed == 0 or "offsets" not in bench.data:
        return bench
    rows = compare.offsets(bench.starts + config.seed * 1000, config.radius)
    table = np.concatenate([rows[:1], rows[config.seed * 1000 + 1:]])
    return dataclasses.replace(bench, data={**bench.data, "offsets": table})


def small_benches(config: Config) -> list:
    starts = config.tune_starts + config.heldout
    kw = {"radius": config.radius, "starts": starts, "target": config.target, "shared": True}
    benches = [compare.small_bench("quadratic", name=f"quadratic κ={k:g}", x0=config.quadratic_x0,
                                   A=compare.rotated_quadratic(k, angle=config.quadratic_angle),
                                   **kw) for k in config.kappas]
    benches += [compare.small_bench(f, **kw) for f in config.functions]
    return [_reseed(b, config) for b in benches]


def _entry(bench, e: dict, keep_paths: bool) -> dict:
    """What tables and figures need from one ``benchmark`` result."""
    rows = compare.rows(bench, e)
    steps = _log_steps(e["tuned"].gap.shape[1] - 1)
    tuned = e["tuned"]
    q = compare.quantiles(tuned.gap[:, steps], axis=0)
    out = {"optimizer": e["spec"].name, "rows": rows,
           "curves": {"steps": steps, "gap_q25": _round(q[0]), "gap_median": _round(q[1]),
                      "gap_q75": _round(q[2]),
                      "evaluations": np.median(tuned.evaluations[:, steps], axis=0)},
           "budget": compare.expected_best(e["tune_score"], e["heldout_score"],
                                           [1, 2, 4, 8, 16, max(len(e["tune_score"]), 1)]),
           "trials": {"names": e["names"], "table": _round(e["table"]),
                      "tune_score": _round(e["tune_score"]),
                      "heldout_score": _round(e["heldout_score"])},
           "sweep_seconds": e["sweep_seconds"], "first_call_seconds": e["sweep_seconds_first_call"]}
    if keep_paths and tuned.points is not None:
        out["paths"] = _round(tuned.points[:, steps], 5)
        final = np.where(tuned.diverged_at >= 0, np.inf, tuned.gap[:, -1])
        out["median_run"] = int(np.argsort(final, kind="stable")[(final.size - 1) // 2])
    return out


def _scipy_rows(bench, config: Config, methods, num_steps: int) -> list:
    """SciPy's rows from the held-out starts, their median curves over evaluations."""
    _, heldout = _rows(config)
    outside = []
    for method in methods:
        row = compare.scipy_row(bench, method, heldout, max_evaluations=5 * num_steps)
        curve = row.pop("curve")
        grid = np.unique(np.geomspace(1, 5 * num_steps, 80).astype(int))
        padded = [np.concatenate([c, np.full(max(0, grid[-1] - c.size), c[-1])]) for c in curve]
        outside.append({"row": row, "evaluations": grid,
                        "gap_median": _round(np.median([p[grid - 1] for p in padded], axis=0))})
    return outside


def _benchmark(bench, config: Config, name: str, num_steps: int) -> dict:
    tune, heldout = _rows(config)
    e = compare.benchmark(bench, name, trials_count=config.trials, num_steps=num_steps,
                          tune=tune, heldout=heldout, seed=config.seed, record_params=True,
                          timed=bench.name in config.timed)
    return _entry(bench, e, bench.x0 is not None and bench.problem != "quadratic")


def _plan(config: Config, benches: list) -> list[tuple]:
    """(bench, optimizer names, steps, SciPy methods) per group, in the tables' order."""
    plan = [(b, config.optimizers, config.num_steps, config.scipy) for b in benches]
    if config.deep:
        starts = config.tune_starts + config.heldout
        for noise in (0.0, config.deep_noise):
            p = gdlab.problems.get("quadratic_deep", noise=noise)
            bench = compare.problem_bench(p, starts=starts, radius=0.5, target=config.deep_target,
                                          name="quadratic_deep" + (" noisy" if noise else ""))
            plan.append((bench, config.deep_optimizers, config.deep_steps,
                         () if noise else ("lbfgsb",)))
    return plan


def _groups(config: Config, benches: list) -> tuple[list, list]:
    """Every group's entries and SciPy rows, and the quadratic-theory reruns.

    One job per optimizer runs its sweeps on every untimed bench, one after another (so
    each compiled program is built once, in one thread); SciPy's rows and the theory
    reruns are two more jobs. The jobs share the CPU cores; the timed benches run after
    them, alone, so their seconds are not measured against the other jobs."""
    plan = _plan(config, benches)
    names = list(dict.fromkeys(n for _, group, *_ in plan for n in group))

    def optimizer_job(name):
        return lambda: {(i, name): _benchmark(b, config, name, steps)
                        for i, (b, group, steps, _) in enumerate(plan)
                        if name in group and b.name not in config.timed}

    def scipy_job():
        return {i: _scipy_rows(b, config, methods, steps)
                for i, (b, _, steps, methods) in enumerate(plan)}

    theory_job = lambda: quadratic_theory(config, benches[:len(config.kappas)])  # noqa: E731
    slow = sorted(names, key=lambda n: n not in _SLOW_TO_BUILD)  # longest jobs first
    jobs = [optimizer_job(n) for n in slow] + [scipy_job, theory_job]
    *done, outside, theory = gdlab.experiment.in_threads(jobs)
    entries = {k: v for d in done for k, v in d.items()}
    for i, (b, group, steps, _) in enumerate(plan):  # the timed benches, alone
        if b.name in config.timed:
            entries.update({(i, n): _benchmark(b, config, n, steps) for n in group})
    groups = [{"name": b.name, "problem": b.problem, "target": b.target,
               "A": b.data.get("A") if b.x0 is not None else None,
               "entries": [entries[i, n] for n in group], "scipy": outside[i]}
              for i, (b, group, _, _) in enumerate(plan)]
    return groups, theory


def fitted_rate(gap: np.ndarray, *, drop: float = 1e-3, floor: float = 1e-24) -> float:
    """The per-step contraction r of ‖x − x*‖ from a loss gap ~ C·k^p·r^(2k).

    Least squares of log gap on (1, k, log k) from the step where the gap first falls
    below ``drop``·gap₀ (at the latest 40 % into the run) while it stays above
    ``floor``·gap₀; r = exp(slope / 2). The log k term absorbs the polynomial factor of
    a repeated eigenvalue, which heavy ball has at its optimal (α, β).
    """
    k = np.arange(gap.size, dtype=float)
    below = np.flatnonzero(gap < drop * gap[0])
    first = min(below[0] if below.size else gap.size, int(0.4 * (gap.size - 1)))
    ok = np.isfinite(gap) & (gap > floor * gap[0]) & (k >= max(first, 1))
    if ok.sum() < 4:
        return float("nan")
    basis = np.stack([np.ones(ok.sum()), k[ok], np.log(k[ok])], axis=1)
    coef = np.linalg.lstsq(basis, np.log(gap[ok]), rcond=None)[0]
    return float(np.exp(coef[1] / 2))


def quadratic_theory(config: Config, benches) -> list:
    """GD at 2/(λmin + λmax) and heavy ball at its optimal (α, β) on the held-out starts.

    Both run as optax's heavy ball, GD with β = 0 (v ← g + 0·v is g exactly, bit for bit
    the same runs as "sgd"), so one compiled sweep serves the two."""
    _, heldout = _rows(config)
    out = []
    for k, bench in zip(config.kappas, benches, strict=False):
        lam = np.linalg.eigvalsh(bench.data["A"])
        lo, hi = lam[0], lam[-1]
        root = math.sqrt(hi / lo)
        cases = (("gd", "momentum", {"learning_rate": 2 / (lo + hi), "momentum": 0.0},
                  (hi / lo - 1) / (hi / lo + 1)),
                 ("heavy_ball", "momentum",
                  {"learning_rate": 4 / (math.sqrt(hi) + math.sqrt(lo)) ** 2,
                   "momentum": ((root - 1) / (root + 1)) ** 2}, (root - 1) / (root + 1)))
        entry = {"kappa": k}
        for label, name, hp, theory in cases:
            runs = compare.rerun(bench, compare.spec(name), hp, config.num_steps, list(heldout))
            rates = [fitted_rate(g) for g in runs.gap]
            entry[label] = {"theory": theory, "rates": rates,
                            "gap_median": _round(np.median(runs.gap, axis=0), 5)}
        out.append(entry)
    return out


def run(config: Config) -> dict:
    _check(config)
    benches = small_benches(config)
    with threadpool_limits(1, user_api="blas"):  # see gdlab.compare.scipy_runs
        groups, theory = _groups(config, benches)
    order = list(dict.fromkeys(e["optimizer"] for g in groups for e in g["entries"]))
    costs = {n: [] for n in order}
    for g in groups:
        tuned = {e["optimizer"]: e["rows"][0] for e in g["entries"]}
        for n in order:
            r = tuned.get(n)
            costs[n].append(math.inf if r is None else r["evals_to_target_median"])
    solved = [i for i in range(len(groups)) if any(math.isfinite(costs[n][i]) for n in order)]
    solved_costs = {n: [costs[n][i] for i in solved] for n in order}
    taus = np.geomspace(1, 1e3, 200)
    profile = compare.performance_profile(solved_costs, taus) if solved else {}
    metrics = {
        "area_score_tau4": compare.area_score(solved_costs, tau_max=4.0) if solved else {},
        "area_score_tau100": compare.area_score(solved_costs, tau_max=100.0) if solved else {},
        "rates": {f"{lab}_kappa_{t['kappa']:g}": {"median": float(np.nanmedian(t[lab]["rates"])),
                                                  "theory": t[lab]["theory"]}
                  for t in theory for lab in ("gd", "heavy_ball")},
        "problems_in_profile": [groups[i]["name"] for i in solved],
        "timed_sweep_seconds": sum(e["sweep_seconds"] or 0 for g in groups for e in g["entries"]),
    }
    metrics["summary_table"] = _summary_table(groups, order)
    return {"metrics": metrics,
            "series": {"groups": groups, "theory": theory, "order": order,
                       "profile": {"tau": taus, **{n: v for n, v in profile.items()}}}}


def _summary_table(groups: list, order: list) -> str:
    """Evaluations to target, median [95 % CI] (tuned), optimizers × problems, Markdown."""
    scipy = list(dict.fromkeys(x["row"]["optimizer"] for g in groups for x in g["scipy"]))
    head = "| evaluations to target, median [95 % CI] | " + " | ".join(
        g["name"] for g in groups) + " |"
    lines = [head, "|" + "---|" * (len(groups) + 1)]
    for n in [*order, *scipy]:
        cells = []
        for g in groups:
            rows = [e["rows"][0] for e in g["entries"] if e["optimizer"] == n]
            rows += [x["row"] for x in g["scipy"] if x["row"]["optimizer"] == n]
            if not rows:
                cells.append("not run")
                continue
            r = rows[0]
            med, lo, hi = (r.get(f"evals_to_target_{q}") for q in ("median", "lo", "hi"))
            if med is None or not math.isfinite(med):
                cells.append(f"never ({r['reached']}/{r['seeds']})")
            else:
                top = "∞" if hi is None or not math.isfinite(hi) else compare.number(hi)
                cells.append(f"{compare.number(med)} [{compare.number(lo)}, {top}]"
                             + ("" if r["reached"] == r["seeds"] else
                                f" ({r['reached']}/{r['seeds']})"))
        label = n + (" (not optax)" if n.startswith("scipy") else "")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _all_rows(result: dict) -> list[dict]:
    return [r for g in result["series"]["groups"]
            for r in [*(x for e in g["entries"] for x in e["rows"]),
                      *(s["row"] for s in g["scipy"])]]


def tables(result: dict) -> dict[str, str]:
    """The full table (tuned and defaults tracks, bootstrap 95 % intervals), Markdown and CSV."""
    rows = _all_rows(result)
    return {"table.md": compare.ci_markdown_table(rows), "table.csv": compare.ci_csv_table(rows)}


def _row(result: dict, bench: str, name: str, track: str = "tuned") -> dict | None:
    for g in result["series"]["groups"]:
        if g["name"] != bench:
            continue
        for e in g["entries"]:
            if e["optimizer"] == name:
                return next(r for r in e["rows"] if r["track"] == track)
        for x in g["scipy"]:
            if x["row"]["optimizer"] == name:
                return x["row"]
    return None


def _interval(r: dict, key: str) -> dict:
    inf = lambda v: math.inf if v is None else v  # noqa: E731  (stored +inf is None)
    return {q: inf(r.get(f"{key}_{q}")) for q in ("median", "lo", "hi")}


def _text(name: str, ci: dict) -> str:
    show = lambda v: compare.number(v)  # noqa: E731
    return f"{name} {show(ci['median'])} [{show(ci['lo'])}, {show(ci['hi'])}]"


def _beats(result, bench, a, b, key="evals_to_target", ta="tuned", tb="tuned", what=None):
    """Claim: a's bootstrap interval lies wholly below b's (a ranking; else not claimed)."""
    ra, rb = _row(result, bench, a, ta), _row(result, bench, b, tb)
    if ra is None or rb is None:
        return None
    ia, ib = _interval(ra, key), _interval(rb, key)
    what = what or key.replace("_", " ")
    label = lambda n, t: f"{n}{' (defaults)' if t == 'defaults' else ''}"  # noqa: E731
    return C.fact(f"{bench}: {label(a, ta)} beats {label(b, tb)} on {what} (95 % bootstrap "
                  f"intervals over {ra['seeds']} held-out starts separate)",
                  f"{_text(label(a, ta), ia)} vs {_text(label(b, tb), ib)}",
                  "a's upper end < b's lower end", compare.separated(ia, ib),
                  seeds=list(range(ra["seeds"])))


def _tie(result, bench, a, b, key="evals_to_target"):
    """Claim: neither interval lies below the other, so no ranking is claimed."""
    ra, rb = _row(result, bench, a), _row(result, bench, b)
    if ra is None or rb is None:
        return None
    ia, ib = _interval(ra, key), _interval(rb, key)
    tie = not compare.separated(ia, ib) and not compare.separated(ib, ia)
    return C.fact(f"{bench}: {a} vs {b} on {key.replace('_', ' ')}: the 95 % intervals overlap, "
                  "so no ranking is claimed", f"{_text(a, ia)} vs {_text(b, ib)}",
                  "intervals overlap", tie, seeds=list(range(ra["seeds"])))


def claims(result: dict) -> list[dict]:
    cfg, s = result["config"], result["series"]
    heldout = list(range(cfg["tune_starts"], cfg["tune_starts"] + cfg["heldout"]))
    out = []
    for t in s["theory"]:
        for label, name, tol in (("gd", "GD at 2/(λmin+λmax)", 2e-3),
                                 ("heavy_ball", "heavy ball at its optimal (α, β)", 5e-3)):
            th = t[label]["theory"]
            out.append(C.over_seeds(
                f"κ = {t['kappa']:g}: {name} contracts by the closed-form rate "
                f"{'(κ−1)/(κ+1)' if label == 'gd' else '(√κ−1)/(√κ+1)'} = {th:.6g} "
                f"(within {tol:.1%}, every held-out start)", t[label]["rates"],
                lower=th * (1 - tol), upper=th * (1 + tol), seeds=heldout,
                require=len(heldout)))
    names = {e["optimizer"] for g in s["groups"] for e in g["entries"]}
    functions = {g["name"] for g in s["groups"]}
    wanted = [("rosenbrock", "lbfgs", "adam"), ("rosenbrock", "lbfgs", "gd"),
              ("rosenbrock", "scipy Nelder-Mead", "adam"),
              ("quadratic κ=1000", "lbfgs", "gd"), ("quadratic κ=1000", "momentum", "gd"),
              ("quadratic κ=100", "lbfgs", "adam"), ("beale", "lbfgs", "gd"),
              ("quadratic_deep", "scipy L-BFGS-B", "gd")]
    for bench, a, b in wanted:
        if bench in functions and (a in names or a.startswith("scipy")) and b in names:
            c = _beats(result, bench, a, b)
            if c is not None:
                out.append(c)
    if "beale" in functions and {"lbfgs", "cg_pr"} <= names:
        out.append(_tie(result, "beale", "lbfgs", "cg_pr"))
    for bench, a, b, least in (("rosenbrock", "cma_es", "adam", 9),
                               ("quadratic_deep", "momentum", "gd", 1)):
        ra, rb = _row(result, bench, a), _row(result, bench, b)
        if ra is None or rb is None:
            continue
        out.append(C.fact(f"{bench}: tuned {a} reaches the target from ≥ {least} of the "
                          f"held-out starts, tuned {b} from fewer (at most a fifth)",
                          {a: f"{ra['reached']}/{ra['seeds']}",
                           b: f"{rb['reached']}/{rb['seeds']}"},
                          f"{a} ≥ {least}, {b} ≤ {rb['seeds'] // 5} and fewer",
                          ra["reached"] >= least and rb["reached"] <= rb["seeds"] // 5
                          and ra["reached"] > rb["reached"], seeds=heldout))
    for bench, name in (("rosenbrock", "adam"), ("quadratic κ=100", "adam")):
        c = _beats(result, bench, name, name, key="final_gap", tb="defaults",
                   what="final f − f* (tuned vs literature defaults)")
        if c is not None:
            out.append(c)
    if "rastrigin" in functions:
        reached = {e["optimizer"]: e["rows"][0]["reached"] for g in s["groups"]
                   if g["name"] == "rastrigin" for e in g["entries"]}
        gradient = {k: v for k, v in reached.items() if k not in compare.EVOSAX_NAMES}
        out.append(C.fact(f"rastrigin: no tuned gradient-based optimizer reaches f − f* ≤ "
                          f"{cfg['target']:g} from a held-out start within {cfg['num_steps']} "
                          "steps (they stop in the start's local minimum; a population method "
                          "such as CMA-ES with a wide σ can jump basins)", reached,
                          "0 reached for every gradient-based one",
                          all(v == 0 for v in gradient.values()), seeds=heldout))
    newton = {b: _row(result, b, "newton") for b in ("beale", "himmelblau")}
    if all(newton.values()):
        out.append(C.fact("beale, himmelblau: tuned Newton's median held-out run never "
                          "reaches the target (H⁻¹g also points at saddles and maxima: ◆ in "
                          "the path figures)",
                          {b: f"{r['reached']}/{r['seeds']}" for b, r in newton.items()},
                          "fewer than half reached on both",
                          all(2 * r["reached"] < r["seeds"] for r in newton.values()),
                          seeds=heldout))
    for g in s["groups"]:
        free = [e for e in g["entries"] if e["rows"][0].get("lr_free")]
        gd = _row(result, g["name"], "gd")
        if g["name"] == "rosenbrock" and free and gd:
            r = free[0]["rows"]
            eff = {"tuned": r[0]["effective_lr"], "defaults": r[1]["effective_lr"],
                   "gd tuned η": gd["hyperparameters"]["learning_rate"]}
            out.append(C.fact(f"rosenbrock: learning-rate-free {free[0]['optimizer']} at its "
                              "defaults takes steps ‖Δx‖/‖∇f‖ of the same order as the swept GD "
                              "optimum (within 10×)", eff, "ratio in [0.1, 10]",
                              0.1 <= eff["defaults"] / eff["gd tuned η"] <= 10))
    edges = {f"{g['name']}/{e['optimizer']}": e["rows"][0]["edge"] for g in s["groups"]
             for e in g["entries"] if e["rows"][0]["edge"]}
    out.append(C.fact("tuned optima in the outer 5 % of a search range are flagged in the table "
                      "(the optimum may lie outside: read those rankings as 'at least')",
                      edges or "none", "listed", True))
    for g in s["groups"]:
        budget = {e["optimizer"]: e["budget"] for e in g["entries"]}
        if g["name"] == "rosenbrock" and "adam" in budget:
            b = budget["adam"]
            out.append(C.below(f"rosenbrock: the best of {b['k'][-1]} trials beats the best of 1 "
                               "for Adam (median held-out mean log10 gap over bootstrap "
                               "draws; budget curve)", b["median"][-1], b["median"][0]))
    area = result["metrics"]["area_score_tau4"]
    if area:
        top = max(area, key=area.get)
        out.append(C.fact("performance profile over the problems someone solves: the "
                          "largest AlgoPerf-style area (τ ≤ 4) is " + top, area,
                          f"{top} largest", True))
    return out


def plot(result: dict) -> dict:
    return _figures().figures(result)


if __name__ == "__main__":
    gdlab.experiment.script_main(__file__)
