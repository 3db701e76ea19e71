"""The exact series of one gradient step on ŷ = x·w₁⋯w_l, in log space (deep_chain).

With u_i = ε·g_i/w_i the step multiplies ŷ by ∏(1 − u_i), so the order-k term is
c_k = (−1)^k·ŷ·e_k(u), e_k the elementary symmetric polynomials. Terms reach 10^600, so
everything is kept as signs and log₁₀ sizes. A private module of experiments/deep_chain.py.
"""

import math

import numpy as np


def log10_elementary(u: np.ndarray) -> np.ndarray:
    """log₁₀ e_k(u) for k = 0..n: the coefficients of ∏(1 + u_i t), for positive u.

    The recursion e_k ← e_k + u_i·e_(k−1) adds positive numbers only, so it runs in log
    space with ``logaddexp`` without losing accuracy (e_k reaches 10^600 here, and e_2
    can be 10^-600 times the largest e_k: no scaling of the plain numbers keeps both).
    """
    log_e = np.full(len(u) + 1, -np.inf)
    log_e[0] = 0.0
    for i, log_u in enumerate(np.log(u)):
        log_e[1 : i + 2] = np.logaddexp(log_e[1 : i + 2], log_u + log_e[: i + 1])
    return log_e / math.log(10)


def _log10_sum(logs: np.ndarray) -> float:
    """log₁₀ Σ 10^logs without overflow."""
    logs = logs[np.isfinite(logs)]
    if logs.size == 0:
        return -np.inf
    top = logs.max()
    return float(top + np.log10(np.sum(10.0 ** (logs - top))))


def _signed_log(value: float) -> tuple[int, float]:
    return int(np.sign(value)), float(np.log10(abs(value))) if value else -np.inf


def step_series(w: np.ndarray, x: float, eps: float, g: np.ndarray | None = None) -> dict:
    """Everything about the step w − εg on ŷ = x·∏w_i, exactly, as signs and log₁₀ sizes.

    ``g`` is ∇_w ŷ (backprop's answer; computed as ŷ/w_i if not given). Returns U, the
    log₁₀ sizes of the order-k terms c_k = (−1)^k ŷ e_k(u) (k = 0..l), the ratio actual /
    predicted = (1 − ∏(1 − u_i))/U and the net higher-order part ratio − 1 = Σ_{k≥2}
    c_k/c_1 (each as a sign and log₁₀|·|), and H = Σ_{k≥2}|c_k|/|c_1| with its bound
    ``log10_uniform_share(U, l)``.
    """
    w = np.asarray(w, np.float64)
    y = x * np.prod(w)
    g = y / w if g is None else np.asarray(g, np.float64)
    u = eps * g / w
    U = float(np.sum(u))
    log_e = log10_elementary(u)
    log_y = math.log10(abs(y))
    # the product ∏(1 − u_i) = ŷ(ε)/ŷ, as a sign and a log₁₀ size
    one_minus = 1.0 - u
    p_sign = int(np.prod(np.sign(one_minus)))
    with np.errstate(divide="ignore"):
        p_log = float(np.sum(np.log10(np.abs(one_minus))))
    if U < 1:  # every u_i < 1: no overflow, and expm1/log1p keep the small differences
        s = float(np.sum(np.log1p(-u)))
        ratio = -math.expm1(s) / U
        k = np.arange(2, len(u) + 1)
        net = float(np.sum((-1.0) ** (k + 1) * 10.0 ** (log_e[2:] - math.log10(U))))
        ratio_sign, ratio_log = _signed_log(ratio)
        net_sign, net_log = _signed_log(net)
    elif p_log < 300:
        ratio = (1.0 - p_sign * 10.0**p_log) / U
        ratio_sign, ratio_log = _signed_log(ratio)
        net_sign, net_log = _signed_log(ratio - 1.0)
    else:  # |∏(1 − u_i)| > 1e300: the change is the product itself
        ratio_sign, ratio_log = -p_sign, p_log - math.log10(U)
        net_sign, net_log = ratio_sign, ratio_log
    log_h = _log10_sum(log_e[2:]) - math.log10(U)
    return {
        "y": y, "g": g, "u": u, "U": U, "eps": eps,
        "log10_terms": log_y + log_e,  # log₁₀|c_k|, k = 0..l (sign of c_k: (−1)^k)
        "ratio_sign": ratio_sign, "ratio_log10": ratio_log,
        "net_sign": net_sign, "net_log10": net_log,
        "H_log10": log_h, "H_bound_log10": log10_uniform_share(U, len(u)),
        "book_term_log10": log_y + math.log10(u[0]) + math.log10(u[1]) if len(u) > 1 else None,
        "second_order_log10": log_y + log_e[2] if len(u) > 1 else None,
        "product_sign": p_sign, "product_log10": p_log,
    }


def log10_uniform_share(U: float, depth: int) -> float:
    """log₁₀ of ((1 + U/l)^l − 1 − U)/U, the most the higher orders can weigh for a given U.

    For fixed U = Σu_i, ∏(1 + u_i) is largest when the u_i are equal (AM–GM), so this is
    Σ_{k≥2}|c_k|/|c_1| for uniform weights and an upper bound for any others. It is
    ≈ U/2 for U ≪ 1, ≈ e^U/U for 1 ≪ U ≪ l and ≈ (U/l)^l/U for U ≫ l.
    """
    log_e = log10_elementary(np.full(depth, U / depth))
    return _log10_sum(log_e[2:]) - math.log10(U)
