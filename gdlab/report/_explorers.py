"""The explorers' data: every value a slider can show, measured by compiled JAX sweeps.

Nothing is computed in the browser: each explorer's page looks values up in arrays
computed here (Distill's momentum article computes its paths in hand-written
JavaScript; here they are gdlab's own runs, the same code as the experiments).

    paths      2-D problems × optimizers: one ``train.sweep`` over (learning rate, β) each
    neuron     seed 000's neuron: one sweep over (input, goal, α), the error per iteration
    depth      activation × init × depth: per-layer gradient norms of an MLP at init
    taylor     the change of the loss along −g: actual, first- and second-order, over ε

Large arrays are stored as float16 (paths, log-errors) with their exact float32 values
recoverable to float16 precision (relative 2⁻¹¹ ≈ 5e-4); ``decode`` reads them back.
"""

import base64
import math

import jax
import jax.numpy as jnp
import numpy as np

from gdlab import models, problems, taylor, train

__all__ = ["PATH_OPTIMIZERS", "PATH_PROBLEMS", "compute", "decode", "encode"]

# name shown -> (gdlab optimizer, the hyperparameter on the second slider or None, its values)
BETAS = (0.0, 0.5, 0.8, 0.9, 0.95, 0.99)
PATH_OPTIMIZERS = {
    "gd": ("sgd", None, (0.0,)),
    "momentum": ("momentum", "momentum", BETAS),
    "nesterov": ("nesterov", "momentum", BETAS),
    "adam": ("adam", "b1", BETAS),
    "rmsprop": ("rmsprop", "decay", (0.5, 0.8, 0.9, 0.95, 0.99, 0.999)),
    "sign_descent": ("sign_descent", None, (0.0,)),
}
PATH_PROBLEMS = ("quadratic κ=10", "quadratic κ=100", "rosenbrock", "beale", "himmelblau",
                 "rastrigin")


def encode(values, dtype=np.float16) -> dict:
    """An array as {"dtype", "shape", "b64"} (little-endian); values beyond the dtype's
    range become ±inf, NaN stays NaN."""
    little = np.dtype(dtype).newbyteorder("<")
    with np.errstate(over="ignore", invalid="ignore"):
        a = np.ascontiguousarray(np.asarray(values, dtype=np.float64).astype(little))
    return {"dtype": np.dtype(dtype).name, "shape": list(a.shape),
            "b64": base64.b64encode(a.tobytes()).decode("ascii")}


def decode(blob: dict) -> np.ndarray:
    """The inverse of ``encode``.

    >>> decode(encode([1.0, 0.5, np.inf])).tolist()
    [1.0, 0.5, inf]
    """
    dtype = np.dtype(blob["dtype"]).newbyteorder("<")
    return np.frombuffer(base64.b64decode(blob["b64"]), dtype=dtype).reshape(blob["shape"])


def _problem(name: str):
    if name.startswith("quadratic"):
        kappa = float(name.split("=")[1])
        return problems.quadratic(eigenvalues=[1.0, kappa], angle=math.pi / 6,
                                  x0=(1.0, 1.0))
    return problems.get(name)


def _contour(problem, resolution: int = 60) -> dict:
    (x_lo, x_hi), (y_lo, y_hi) = problem.domain
    xs, ys = np.linspace(x_lo, x_hi, resolution), np.linspace(y_lo, y_hi, resolution)
    grid = jnp.asarray(np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2), jnp.float32)
    z = np.asarray(jax.jit(jax.vmap(problem.loss))(grid)).reshape(resolution, resolution)
    gap = np.maximum(z - float(problem.fmin or 0.0), 1e-12)
    return {"x": xs.tolist(), "y": ys.tolist(), "log10_gap": np.round(np.log10(gap), 3).tolist()}


def _shared_loss(losses):
    """One loss for several 2-D problems, chosen by a swept index, so that one compiled
    sweep per optimizer serves every problem; the variable is the offset d from the
    problem's start x0, so every run starts at d = 0."""
    def loss(d, problem, x0_x, x0_y):
        x = d + jnp.stack([x0_x, x0_y]).astype(d.dtype)
        return jax.lax.switch(problem.astype(jnp.int32), losses, x)
    return loss


def paths(*, num_steps: int = 60, num_rates: int = 24, low: float = 1e-4,
          high: float = 2.0) -> dict:
    """Per problem and optimizer, the paths x_k and log10(f(x_k) − f*) for every
    (learning rate, β) of a log grid of rates × the optimizer's β values: one compiled
    sweep per optimizer over (problem, rate, β)."""
    rates = np.geomspace(low, high, num_rates)
    out = {"rates": rates.tolist(), "num_steps": num_steps, "problems": {},
           "optimizers": {k: {"optimizer": v[0], "beta": v[1], "betas": list(v[2])}
                          for k, v in PATH_OPTIMIZERS.items()}}
    found = [_problem(name) for name in PATH_PROBLEMS]
    x0 = np.asarray([np.asarray(p.x0, np.float64) for p in found])
    fmin = np.asarray([float(p.fmin or 0.0) for p in found])
    loss = _shared_loss([p.loss for p in found])
    runs = {}
    for label, (optimizer, beta, betas) in PATH_OPTIMIZERS.items():
        # (problem, x0_x, x0_y) move together: sweep the problem index and look the start
        # up from it inside the loss instead of a product grid
        grid = {"problem": np.arange(len(found), dtype=float), "learning_rate": rates}
        if beta is not None:
            grid[beta] = np.asarray(betas)
        sw = train.sweep(lambda d, problem, **hp: loss(
            d, problem, jnp.asarray(x0[:, 0])[problem.astype(jnp.int32)],
            jnp.asarray(x0[:, 1])[problem.astype(jnp.int32)]), jnp.zeros(2, jnp.float32),
            optimizer, grid, num_steps, record_params=True)
        d = np.asarray(sw.params, np.float64)
        loss_values = np.asarray(sw.loss, np.float64)
        diverged = np.asarray(sw.diverged_at)
        if beta is None:
            d, loss_values, diverged = d[:, :, None], loss_values[:, :, None], diverged[:, :, None]
        runs[label] = (d + x0[:, None, None, None, :], loss_values, diverged)
    for i, (name, problem) in enumerate(zip(PATH_PROBLEMS, found, strict=True)):
        minima = problem.minima if problem.minima is not None else [problem.argmin]
        entry = {"contour": _contour(problem), "x0": x0[i].tolist(),
                 "minima": np.asarray(minima, np.float64).reshape(-1, 2).tolist(), "runs": {}}
        for label, (xs, loss_values, diverged) in runs.items():
            gap = np.log10(np.maximum(loss_values[i] - fmin[i], 1e-30))
            entry["runs"][label] = {"path": encode(xs[i]), "log10_gap": encode(gap),
                                    "diverged_at": diverged[i].tolist()}
        out["problems"][name] = entry
    return out


def neuron(*, num_steps: int = 20) -> dict:
    """Seed 000's neuron pred = input·w from w₀ = 0.5: the squared error per iteration for
    every (input, goal, α) on the grid; the book's setting is input 0.5, goal 0.8, α 1."""
    inputs = np.round(np.linspace(-3.0, 3.0, 25), 6)
    goals = np.asarray([-1.0, -0.5, 0.0, 0.5, 0.8, 1.0])
    alphas = 10.0 ** (np.arange(-20, 11) / 10)  # 0.01 … 10, 10 per decade: 0.1 and 1 on it

    def loss(w, input, goal):
        return 0.5 * (input * w - goal) ** 2

    sw = train.sweep(loss, jnp.asarray(0.5, jnp.float64), "sgd",
                     {"input": inputs, "goal": goals, "learning_rate": alphas}, num_steps,
                     divergence_factor=None, record_params=True)
    w = np.asarray(sw.params, np.float64)
    error = (inputs[:, None, None, None] * w - goals[None, :, None, None]) ** 2
    return {"inputs": inputs.tolist(), "goals": goals.tolist(), "alphas": alphas.tolist(),
            "num_steps": num_steps, "w0": 0.5,
            "log10_error": encode(np.log10(np.maximum(error, 1e-300)).clip(-300, 300),
                                  np.float32)}


def depth(*, depths=(2, 4, 6, 8, 10, 15, 20, 30, 40, 50), width: int = 32,
          examples: int = 256, seed: int = 0) -> dict:
    """‖∂loss/∂W_l‖ per layer l at initialisation, for each activation × init × depth:
    an MLP of ``depth`` layers (depth − 1 hidden layers of width ``width``, a linear
    output) on Gaussian inputs with Gaussian regression targets (squared error).

    One compilation per activation: the deepest network is built once and a depth-d
    network uses its first d − 1 hidden layers (the others pass h through unchanged and
    get zero gradient), so depth is a traced value.
    """
    activations, inits = ("sigmoid", "tanh", "relu"), ("xavier", "he", "orthogonal")
    key_x, key_y, key_w = jax.random.split(jax.random.key(seed), 3)
    x = jax.random.normal(key_x, (examples, width), jnp.float32)
    y = jax.random.normal(key_y, (examples, 1), jnp.float32)
    deepest = max(depths)
    out = {"activations": activations, "inits": inits, "depths": list(depths), "norms": {}}
    weights = {init: models.mlp([width] * deepest + [1], init=init, dtype=jnp.float32)
               .init(key_w) for init in inits}
    for activation in activations:
        act = models.get_activation(activation)

        def loss(hidden, output, depth, x, y, act=act):
            def layer(h, wbl):
                w, b, index = wbl
                return jnp.where(index < depth - 1, act(h @ w + b[None, :]), h), None

            h, _ = jax.lax.scan(layer, x, (*hidden, jnp.arange(hidden[0].shape[0])))
            return 0.5 * jnp.mean((h @ output["w"] + output["b"][None, :] - y) ** 2)

        per_depth = jax.jit(jax.vmap(jax.grad(loss, argnums=(0, 1)),
                                     in_axes=(None, None, 0, None, None)))
        for init in inits:
            params = weights[init]
            hidden = (jnp.stack([p["w"] for p in params[:-1]]),
                      jnp.stack([p["b"] for p in params[:-1]]))
            (g_hidden, _), g_out = per_depth(hidden, params[-1], jnp.asarray(depths), x, y)
            hidden_norms = np.sqrt(np.sum(np.asarray(g_hidden, np.float64) ** 2, axis=(2, 3)))
            out_norms = np.sqrt(np.sum(np.asarray(g_out["w"], np.float64) ** 2, axis=(1, 2)))
            for j, d in enumerate(depths):
                norms = [*hidden_norms[j, : d - 1], out_norms[j]]  # active layers, then output
                out["norms"][f"{activation}/{init}/{d}"] = [float(v) for v in norms]
    return out


def taylor_along_step(*, num_eps: int = 81, seed: int = 0) -> dict:
    """f(x − εg) − f(x) for a tanh MLP on MNIST-like data at init, beside −εgᵀg and
    −εgᵀg + ½ε²gᵀHg (float64), with ε* = gᵀg/gᵀHg."""
    key_w, key_x, key_y = jax.random.split(jax.random.key(seed), 3)
    m = models.mlp([8, 16, 1], activation="tanh", dtype=jnp.float64)
    x = jax.random.normal(key_x, (64, 8), jnp.float64)
    y = jnp.sin(x.sum(axis=1, keepdims=True))
    params = m.init(key_w)

    def f(p):
        return 0.5 * jnp.mean((m.apply(p, x) - y) ** 2)

    star = taylor.optimal_step(f, params)
    eps_star = float(star.epsilon)
    eps = eps_star * np.geomspace(1e-2, 1e2, num_eps)
    terms = taylor.gradient_step_terms(f, params, jnp.asarray(eps))
    first = np.asarray(terms.first_order)
    return {"epsilon": eps.tolist(), "epsilon_star": eps_star,
            "actual": np.asarray(terms.actual).tolist(), "first_order": first.tolist(),
            "second_order": (first + np.asarray(terms.second_order)).tolist(),
            "gTg": float(terms.gTg), "gTHg": float(terms.gTHg)}


def compute(*, quick: bool = False) -> dict:
    """All four explorers' data (``quick``: coarser grids, for tests)."""
    if quick:
        return {"paths": paths(num_steps=20, num_rates=6), "neuron": neuron(num_steps=8),
                "depth": depth(depths=(2, 6, 10)), "taylor": taylor_along_step(num_eps=21)}
    return {"paths": paths(), "neuron": neuron(), "depth": depth(),
            "taylor": taylor_along_step()}
