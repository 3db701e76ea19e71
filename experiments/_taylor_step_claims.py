"""taylor_step's claims, read from the stored result (a private module of
experiments/taylor_step.py, loaded with gdlab.experiment.sibling)."""

from gdlab.claims import above, below, between, close, over_seeds


def claims(result: dict, problems: tuple[str, ...]) -> list[dict]:
    """The findings, read from the stored result. The Taylor-series claims are exact
    arithmetic at one point each; the training claims are over the seeds' runs."""
    m, cfg = result["metrics"], result["config"]
    slow, fast = (f"lr_{lr:g}" for lr in (cfg["learning_rates"][0], cfg["learning_rates"][-1]))
    eta_slow, eta_fast = cfg["learning_rates"][0], cfg["learning_rates"][-1]
    s, f = m["training"][slow], m["training"][fast]
    seeds = m["seeds"]
    # slopes fitted over ε ≤ fit_max·ε*, where the next order still adds a few per cent:
    # a fitted slope is biased by up to ~0.05 (seen at quick size: 2.97)
    out = [close(f"float64, {name}: the first-order model's error falls as ε² (fitted slope)",
                 m["first_order_slope_float64"][name], 2.0, atol=0.05) for name in problems]
    out += [close(f"float64, {name}: the second-order model's error falls as ε³ (fitted slope)",
                  m["second_order_slope_float64"][name], 3.0, atol=0.05)
            for name in ("rosenbrock", "mlp")]
    out += [
        # ½xᵀAx and bᵀx can each exceed |f| many-fold: round-off of a few to tens of ulps
        below("on a quadratic eq. 4.9 is exact: the second-order error is round-off at every "
              "ε, with no ε³ term (max over the grid, in ulps of |f| + |Δf|)",
              m["quadratic_second_order_error_in_ulps"], 100.0),
        below("float64, MLP: the second-order model reaches 1e-9 relative accuracy "
              "(best on the ε grid)", m["best_second_order_relative_error"]["float64"]["mlp"],
              1e-9),
        between("float32, MLP: the measured change f(x − εg) − f(x) is round-off limited at "
                "~machine ε·|f| (its floor over |f|)",
                m["roundoff_floor_over_abs_f"]["float32"]["mlp"], 1e-8, 1e-6),
        above("so in float32 the second-order model's best relative accuracy is ≥ 1000× "
              "worse than in float64: the ε³ law shows only in float64 (ratio of the bests)",
              m["best_second_order_relative_error"]["float32"]["mlp"]
              / m["best_second_order_relative_error"]["float64"]["mlp"], 1e3),
        close("quadratic: ε* = gᵀg/gᵀHg = n/Σλ for this start", m["eps_star"]["quadratic"],
              len(cfg["quadratic_eigenvalues"]) / sum(cfg["quadratic_eigenvalues"]),
              rtol=1e-12),
        close("quadratic: the line search's minimum is ε* (ratio, to the search's resolution)",
              m["line_search_best_over_eps_star"]["quadratic"], 1.0,
              atol=m["line_search_resolution"]),
        above("ε*·λ_max ≥ 1 everywhere (gᵀHg ≤ λ_max·gᵀg): the quadratic model's step is "
              "never shorter than 1/λ_max (smallest over the three problems)",
              min(m["eps_star_times_lambda_max"].values()), 1 - 1e-6),
        below("Rosenbrock and the MLP: the first line-search minimum lies within 50 % of ε* "
              "(largest |line search / ε* − 1|)",
              max(abs(m["line_search_best_over_eps_star"][n] - 1) for n in ("rosenbrock", "mlp")),
              0.5),
        over_seeds(f"η = {eta_fast:g}: curvature takes back most of the first-order gain "
                   "(median over tracked steps of η/(2ε*) = ½η²gᵀHg / ηgᵀg)",
                   f["median_ratio"], lower=0.5, upper=1.5, seeds=seeds),
        over_seeds(f"η = {eta_fast:g}: the first-order model over-predicts the summed decrease "
                   "at least 5-fold (Σ −ηgᵀg / Σ actual change)",
                   f["first_order_over_actual"], lower=5.0, seeds=seeds),
        over_seeds(f"η = {eta_fast:g}: the second-order model is off by more than 50 % per step "
                   "(median relative error): the step is decided by third and higher orders",
                   f["median_relative_error_second_order"], lower=0.5, seeds=seeds),
        over_seeds(f"η = {eta_slow:g}: the second-order model is right per step to 1e-3 "
                   "(median relative error)",
                   s["median_relative_error_second_order"], upper=1e-3, seeds=seeds),
        over_seeds(f"η = {eta_slow:g}, step {s['check_step_mid']}: the gradient lies in flat "
                   "directions, gᵀHg/gᵀg < λ_max/20 (ill-conditioning: stability caps η at "
                   "2/λ_max while ε* along g is far longer)",
                   s["rayleigh_over_lambda_max_mid"], upper=0.05, seeds=seeds),
        over_seeds(f"η = {eta_fast:g} ends lower than η = {eta_slow:g} despite the curvature "
                   "(final loss ratio)", m["final_loss_ratio_last_over_first_lr"], upper=1.0,
                   seeds=seeds),
    ]
    return out
