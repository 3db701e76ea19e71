"""direction_vs_scale, the seed's question: does rescaling a gradient change its direction?"""

import math

import jax
import jax.numpy as jnp
import numpy as np

from gdlab import gradients

_cosine = jax.jit(gradients.cosine)  # one program for every pair (not one per primitive)


def degrees(a, b) -> float:
    """The angle between two vectors in degrees (via ``gdlab.gradients.cosine``)."""
    return math.degrees(math.acos(float(_cosine(jnp.asarray(a), jnp.asarray(b)))))


def fmt(vector) -> str:
    return "[" + ", ".join(f"{v:g}" for v in vector) + "]"


def seed_example(config) -> dict:
    """The seed's vectors, and the angle of random per-coordinate rescalings vs theory.

    For s_i log-uniform on [1/r, r] independent of g, cos(g, s⊙g) → E[s]/√E[s²] as the
    dimension grows, with E[s] = (r − 1/r)/(2 ln r) and E[s²] = (r² − r⁻²)/(4 ln r).
    """
    g = np.asarray(config.vector, np.float64)
    cases = {
        f"uniform ×0.1 = {fmt(g * 0.1)}": g * 0.1,
        f"the seed's {fmt(config.rescaled)}": np.asarray(config.rescaled, np.float64),
        "sign(g): Adam's first step": np.sign(g),
        "g ⊙ (1, 1, 10)": g * np.array([1.0] * (g.size - 1) + [10.0]),
    }
    angles = {name: degrees(g, v) for name, v in cases.items()}
    rng = np.random.default_rng(config.seed)
    spreads = np.geomspace(1.0, config.max_spread, config.spreads)
    measured = []
    for r in spreads:
        x = rng.normal(size=(config.trials, config.dimension))
        s = np.exp(rng.uniform(-np.log(r), np.log(r), size=x.shape))
        cos = np.sum(x * s * x, axis=1) / (np.linalg.norm(x, axis=1)
                                            * np.linalg.norm(s * x, axis=1))
        measured.append(np.degrees(np.arccos(np.clip(cos, -1, 1))))
    measured = np.array(measured)
    log_r = np.log(np.maximum(spreads, 1 + 1e-12))
    mean_s = np.where(spreads > 1, (spreads - 1 / spreads) / (2 * log_r), 1.0)
    mean_s2 = np.where(spreads > 1, (spreads**2 - spreads**-2) / (4 * log_r), 1.0)
    theory = np.degrees(np.arccos(np.clip(mean_s / np.sqrt(mean_s2), -1, 1)))
    return {"vector": g, "cases": {k: list(v) for k, v in cases.items()}, "angles": angles,
            "spreads": spreads, "angle_q25": np.percentile(measured, 25, axis=1),
            "angle_median": np.median(measured, axis=1),
            "angle_q75": np.percentile(measured, 75, axis=1), "angle_theory": theory}
