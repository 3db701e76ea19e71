"""The claims of vanishing_gradients: its findings as data, read from the stored result."""

import numpy as np

from gdlab.claims import below, fact, over_seeds
from gdlab.plotting import array as _a


def _setting(result: dict, depth: int, name: str):
    """(by_depth entry, index of setting ``name``) or (None, None) if not measured."""
    prof = result["series"]["profile"]
    for p in prof["by_depth"]:
        if p["depth"] == depth and name in prof["settings"]:
            return p, prof["settings"].index(name)
    return None, None


def _best_steps(study: dict, depth: int) -> np.ndarray:
    """Steps to the target per seed at the depth's best rate, never = +inf."""
    j = study["depths"].index(depth)
    steps = _a(study["steps"])[study["best"][j]["index"], j]
    return np.where(steps >= 0, steps, np.inf)


def _init_claims(result: dict, seeds) -> list:
    c, m, s = result["config"], result["metrics"], result["series"]
    out = [
        below("jax.grad of the scalar chain ŷ = x·w₁⋯w_l equals the closed form x·w^(l−1) "
              "(max relative error, float64)", m["chain_grad_max_rel_error"], 1e-13),
        below("h_t = Wᵀh_(t−1) with W = QΛQᵀ: (Wᵀ)^t equals QΛ^tQᵀ (max relative error)",
              m["matrix_power_max_rel_error"], 1e-12),
    ]
    chain = m["float32_chain_depth"]
    if "w_0.1_first_zero" in chain and "w_10_first_inf" in chain:
        zero, inf = chain["w_0.1_first_zero"], chain["w_10_first_inf"]
        out.append(fact("float32 scalar chain: 0.1^(l−1) becomes exactly 0 from l = 39 (below "
                        "the smallest normal, flushed) or 47 (below the smallest subnormal), "
                        "10^(l−1) becomes inf from l = 40", [zero, inf], "[39 or 47, 40]",
                        zero in (39, 47) and inf == 40))
    deepest = s["profile"]["by_depth"][-1]["depth"]
    p, i = _setting(result, deepest, "sigmoid_xavier")
    if p is not None:
        factor = _a(p["signal_ratio"])[i] ** (1 / (deepest - 2))
        out.append(over_seeds(f"sigmoid/xavier at init: the error signal shrinks by a factor "
                              f"≤ 1/4 per layer (σ' ≤ 1/4; depth {deepest})", factor,
                              lower=0.15, upper=0.25, strict=False, seeds=seeds))
    p, i = _setting(result, 20, "sigmoid_xavier")
    if p is not None:
        out.append(over_seeds("sigmoid/xavier at depth 20: the first layer's gradient is "
                              "< 1e-8 of the last layer's (vanishing)", _a(p["grad_ratio"])[i],
                              upper=1e-8, seeds=seeds))
    for name in ("relu_he", "tanh_xavier"):
        p, i = _setting(result, 20, name)
        if p is not None:
            out.append(over_seeds(f"{name.replace('_', '/')} at depth 20: first-to-last "
                                  "gradient ratio stays O(1), in [1/30, 30]",
                                  _a(p["grad_ratio"])[i], lower=1 / 30, upper=30, seeds=seeds))
    p, i = _setting(result, c["remedy_depth"], "relu_normal_large")
    if p is not None:
        out.append(over_seeds(f"relu with gain {c['large_scale']:g} at depth {c['remedy_depth']}:"
                              " the gradients are uniformly large, first-to-last ratio in "
                              "[1/30, 30] (a scale problem, not a ratio problem)",
                              _a(p["grad_ratio"])[i], lower=1 / 30, upper=30, seeds=seeds))
        out.append(over_seeds("... and its loss at init is > 100 (chance: ln 10 ≈ 2.3)",
                              _a(p["loss"])[i], lower=100, seeds=seeds))
    p, i = _setting(result, c["ratio_depth"], "tanh_normal_large")
    if p is not None:
        out.append(over_seeds(f"tanh with gain {c['large_scale']:g} at depth {c['ratio_depth']}:"
                              " the first layer's gradient is > 100× the last layer's "
                              "(a ratio problem)", _a(p["grad_ratio"])[i], lower=100,
                              seeds=seeds))
        u = _a(p["update_per_rate"])[i]  # (seeds, layers)
        out.append(over_seeds("... so no single rate suits both ends: one gradient step's "
                              "relative update η‖∇W_ℓ‖/‖W_ℓ‖ differs by > 100× between its "
                              "fastest and slowest layer at every η", u.max(-1) / u.min(-1),
                              lower=100, seeds=seeds))
    for p in s["profile"]["by_depth"]:
        zero = np.asarray(p["first_grad_zero"], bool)
        for k in np.flatnonzero(zero.any(axis=1)):
            name = s["profile"]["settings"][k]
            ratio = m["gradient_ratio"][f"depth_{p['depth']}"][name]
            out.append(fact(f"{name} at depth {p['depth']}: the first layer's float32 gradient "
                            f"is exactly 0 for {zero[k].sum()}/{zero[k].size} seeds, reported "
                            "as underflow (no ratio), not as a factor 0",
                            ratio, "ratio None or > 0 (never 0)", ratio is None or ratio > 0))
    prec = s["precision"]
    crossed, n64 = _a(prec["layers_crossed"]), _a(prec["norm64"])
    lost = crossed >= prec["first_all_zero"]
    if prec["first_all_zero"] >= 0:
        out.append(fact(f"lost, not slow: in float32 the sigmoid/xavier gradient of a "
                        f"{prec['depth']}-layer MLP is exactly 0 in every layer ≥ "
                        f"{prec['first_all_zero']} layers below the output (float64: > 0 "
                        "there), so gradient descent never moves them, at any budget",
                        prec["first_all_zero"], "≥ 0 layers, float64 norm > 0 there",
                        bool(np.all(n64[lost] > 0))))
    return out


def _training_claims(result: dict, seeds) -> list:
    c, m, s = result["config"], result["metrics"], result["series"]
    out = []
    for act in c["train_activations"]:
        st = s["finish"][act]
        budget = st["num_steps"]
        per = m["finish"][act]
        reached = [d for d in st["depths"] if per[str(d)]["steps"] is not None]
        steps = [per[str(d)]["steps"] for d in reached]
        if len(reached) > 1:
            out.append(fact(f"{act}: the median steps to loss {c['target_loss']:g} (best rate, "
                            "gradient descent) grow with depth, depths "
                            + ", ".join(map(str, reached)), steps, "strictly increasing",
                            bool(np.all(np.diff(steps) > 0))))
        edge = [f"{d}: {per[str(d)]['best']}" for d in reached if not per[str(d)]["inside"]]
        out.append(fact(f"{act}: the best rate of every depth that reaches the target lies "
                        "inside the grid", edge or "all inside", "no edge", not edge))
        never = [d for d in st["depths"] if per[str(d)]["steps"] is None]
        if never:
            d0 = min(never)
            beyond = all(d in never for d in st["depths"] if d >= d0)
            worst = np.concatenate([_best_steps(st, d) for d in never])
            out.append(fact(f"{act}: never within the budget of {budget} steps from depth "
                            f"{d0} on (median over seeds at every rate of "
                            f"{len(st['learning_rates'])}; {int(np.isinf(worst).sum())}/"
                            f"{worst.size} runs at the best rates never reach it)",
                            d0, f"every depth ≥ {d0} never", beyond))
        else:
            out.append(over_seeds(f"{act}: reaches loss {c['target_loss']:g} at depth "
                                  f"{max(st['depths'])} within {budget} steps",
                                  _best_steps(st, max(st["depths"])), upper=budget,
                                  strict=False, seeds=seeds))
    adam, sgd = s["finish"]["adam"], s["finish"].get("sigmoid")
    ab = c["adam_steps"]
    for d in adam["depths"]:
        a = _best_steps(adam, d)
        if np.median(a) <= ab:
            if sgd is not None and d in sgd["depths"]:
                gm = float(np.median(_best_steps(sgd, d)))
                need = f"more than {sgd['num_steps']}" if np.isinf(gm) else f"{gm:g}"
                out.append(over_seeds(f"Adam at a tuned rate trains sigmoid depth {d} within "
                                      f"{ab} steps, where gradient descent (best rate) needs "
                                      f"{need} (median)", a, upper=min(ab, gm), strict=False,
                                      seeds=seeds))
        else:
            j = adam["depths"].index(d)
            final = _a(adam["final_loss"])[adam["best"][j]["index"], j]
            spread = _a(s["collapse"]["sigmoid"])[s["collapse"]["depths"].index(d)]
            out.append(over_seeds(f"Adam fails too at sigmoid depth {d}: loss after {ab} "
                                  f"steps at its best rate stays above {c['target_loss']:g}",
                                  final, lower=c["target_loss"], seeds=seeds))
            out.append(over_seeds(f"... because the forward signal has collapsed: at init the "
                                  f"last hidden layer's spread over examples is < 1% of the "
                                  f"first's (sigmoid depth {d})", spread, upper=0.01,
                                  seeds=seeds))
    return out


def _exploding_claims(result: dict, seeds) -> list:
    c, m, s = result["config"], result["metrics"], result["series"]
    e = s["exploding"]
    if not e:
        return []
    d = c["remedy_depth"]
    sgd, clip = m["exploding"]["sgd"], m["exploding"]["clipped"]
    out = [fact(f"relu gain {c['large_scale']:g} depth {d}: plain gradient descent's best rate "
                f"(fastest median to loss {c['target_loss']:g}) lies inside the grid "
                f"{c['explode_learning_rates'][0]:g}…{c['explode_learning_rates'][-1]:g}",
                sgd["best"], "inside", sgd["inside"]),
           over_seeds(f"... and a smaller rate fixes it: gradient descent at that rate reaches "
                      f"the target within {c['explode_steps']} steps, no slower than clipping "
                      f"the norm to {c['clip_norm']:g} at its best rate (median "
                      f"{clip['steps']})", _best_steps(e["sgd"], d),
                      upper=clip["steps"] if clip["steps"] is not None else c["explode_steps"],
                      strict=False, seeds=seeds)]
    lrs = np.asarray(c["explode_learning_rates"])
    div = _a(e["sgd"]["diverged_at"])[:, 0] >= 0  # (lrs, seeds)
    big = lrs >= 0.03
    out.append(fact("... while every rate ≥ 0.03 (the old grid was 0.03…30) diverges",
                    f"{int(div[big].sum())}/{div[big].size} runs", "all diverged",
                    bool(big.any()) and bool(div[big].all())))
    return out


def _update_ratio_claims(result: dict, seeds) -> list:
    """The ratio problem measured by the sweep's "norms" instrument (update/weight ratio
    ‖ΔW_ℓ‖/‖W_ℓ‖ per layer and recorded step)."""
    c, u = result["config"], result["series"]["update_ratio"]
    if not u:
        return []
    lrs = list(u["learning_rates"])
    ends = _a(u["ends"])  # (lrs, seeds, rows, 2): layer 1, layer L
    name = f"tanh gain {c['large_scale']:g} depth {u['depth']}, gradient descent"
    at_start = ends[:, :, 0, 0] / ends[:, :, 0, 1]  # (lrs, seeds)
    out = [over_seeds(f"{name}: at the first step the first layer's update/weight ratio "
                      "‖ΔW₁‖/‖W₁‖ is > 100× the last layer's at every rate (a rate scales "
                      "every layer alike), so no rate puts both ends inside the 1e-3 rule's "
                      "band [1e-4, 1e-2] (smallest ratio over the rates, per seed)",
                      at_start.min(axis=0), lower=100, seeds=seeds)]
    ratio = _a(u["update_ratio"])  # (lrs, seeds, L): median over the recorded steps
    first_over_last = ratio[..., 0] / ratio[..., -1]
    apart = np.maximum(first_over_last, 1 / first_over_last)
    for i, lr in enumerate(lrs):
        out.append(over_seeds(f"{name} at η = {lr:g}: over {u['num_steps']} steps (median of "
                              f"the ratio every {c['ratio_every']} steps) the first and last "
                              "layers' update/weight ratios still differ by > 10× (either "
                              "way)", apart[i], lower=10, seeds=seeds))
    med = np.median(first_over_last, axis=1)
    slow, fast = [lr for lr in lrs if lr <= 1e-3], [lr for lr in lrs if lr >= 1e-2]
    if slow and fast:
        flips = all(med[lrs.index(lr)] > 1 for lr in slow) and all(
            med[lrs.index(lr)] < 1 for lr in fast)
        out.append(fact(f"{name}: which end moves faster flips with the rate: over the run "
                        f"the first layer's ratio exceeds the last's at η ≤ 1e-3 and falls "
                        "below it at η ≥ 1e-2 (first/last, median over seeds, per rate)",
                        [float(v) for v in med], "> 1 for η ≤ 1e-3, < 1 for η ≥ 1e-2",
                        bool(flips), seeds=seeds))
    return out


def _remedy_claims(result: dict, seeds) -> list:
    c, s = result["config"], result["series"]
    out = []
    d = c["remedy_depth"]
    for name, st in s["remedy_train"].items():
        steps = _best_steps(st, d)
        budget = st["num_steps"]
        if name in ("sigmoid_xavier_residual", "relu_he", "tanh_xavier"):
            out.append(over_seeds(f"{name} at depth {d} reaches loss {c['target_loss']:g} within "
                                  f"{budget} steps (best rate)", steps, upper=budget,
                                  strict=False, seeds=seeds))
        elif name in ("sigmoid_xavier", "sigmoid_he", "sigmoid_orthogonal"):
            out.append(fact(f"{name} at depth {d} never reaches loss {c['target_loss']:g} "
                            f"within {budget} steps (every rate, every seed)",
                            f"{int(np.isinf(steps).sum())}/{steps.size} seeds never",
                            "all never", bool(np.all(_a(st["steps"]) < 0))))
    return out


def claims(result: dict) -> list:
    c = result["config"]
    seeds = list(range(c["seed"], c["seed"] + c["seeds"]))
    return (_init_claims(result, seeds) + _training_claims(result, seeds)
            + _exploding_claims(result, seeds) + _update_ratio_claims(result, seeds)
            + _remedy_claims(result, seeds))
