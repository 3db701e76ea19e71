"""Instruments: what a step does, measured inside the compiled scan (one function each).

A run (or every lane of a sweep) asked for ``instruments=("norms", ...)`` records, at
the steps k = 0, e, 2e, … (``every = e``; None: the first and last step), arrays of
shape (rows, …) under ``traj.instruments[name]``. Step k sees params p = params[k], the
gradient g = ∇f(p) (the minibatch's when the loss is stochastic), the update
u = optimizer(g) that takes p to params[k+1] (the last step's update is computed for
the instruments but never applied) and the optimizer state after that update. A
*layer* is a top-level child of the params pytree (a list's items, a dict's keys,
the whole array for a bare array); per-layer values have a last axis of length L,
named by ``layer_names(params)``. After divergence every value is NaN.

    "norms"             grad_norm, update_norm, param_norm ‖g_l‖, ‖u_l‖, ‖p_l‖ (L,);
                        update_ratio ‖u_l‖/‖p_l‖ (the "1e-3 rule"); distance ‖p − p₀‖
                        (whole model, scalar)
    "effective_lr"      effective_lr ‖u_l‖/‖g_l‖ (L,): the step per unit gradient an
                        optimizer really takes; scheduled_lr: the "learning_rate" held
                        by ``optax.inject_hyperparams`` in the state (NaN where absent);
                        plateau_scale: the multiplier ``reduce_on_plateau`` holds after
                        update k, the one update k was scaled by (the product if several
                        are chained; NaN without one); see ``plateau_scale``
    "cosines"           cos_previous cos(u_k, u_{k−1}) (NaN at k = 0); cos_descent
                        cos(u_k, −g_k) (1 for plain gradient descent)
    "noise"             from per-example gradients g_i, i = 1..B (``per_example``):
                        grad_sq ‖G_l‖², batch_grad_sq ‖Ḡ_l‖² and trace_cov tr Σ_l
                        (L,), gsnr = ‖G_l‖²/tr Σ_l
                        (L,), noise_scale B_simple = tr Σ/‖G‖² (scalar); see ``noise``
    "alpha"             Cockpit's step quality α (scalar); see ``step_quality``
    "sharpness"         λ_max(H) of the loss at p by Lanczos (scalar)
    "preconditioned_sharpness"  λ_max(P⁻¹H) for Adam's preconditioner P (scalar)

Stability edges to draw next to the sharpness (Cohen et al. 2021, 2022): gradient
descent 2/η, heavy-ball momentum β 2(1 + β)/η, Adam (preconditioned) (2 + 2β₁)/((1 − β₁)η),
38/η at β₁ = 0.9 (``edge``).
"""

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass, replace

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.flatten_util import ravel_pytree

from gdlab.curvature._lanczos import ritz

NAMES = ("norms", "effective_lr", "cosines", "noise", "alpha", "sharpness",
         "preconditioned_sharpness")
# floats one row of each instrument holds: (per layer, whole model), as ``values`` returns
SIZES = {"norms": (4, 1), "effective_lr": (1, 2), "cosines": (0, 2), "noise": (4, 1),
         "alpha": (0, 1), "sharpness": (0, 1), "preconditioned_sharpness": (0, 1)}
EXPENSIVE = ("noise", "alpha", "sharpness", "preconditioned_sharpness")


@dataclass(frozen=True)
class Instruments:
    """Which instruments a run records, how often, and their settings.

    ``every``: record at steps 0, e, 2e, … (None: first and last step; "record": as the
    run's recording policy, unless ``instrument_every`` says otherwise); ``per_example``:
    ``loss(params, example) -> scalar`` for one example (needed by "noise");
    ``examples``: ``examples(data, key) -> batch`` with a leading batch axis, the
    examples step k sees (None: ``data`` itself, the full batch); ``lanczos_steps``: m
    for the sharpnesses; ``warm_start``: start each sharpness' Lanczos from the top Ritz
    vector of the previous recorded step (kept in the probe) with m steps, and the first
    row from a random vector with 2m steps (False: every row random, m steps; a lane
    whose vector went non-finite restarts at random); ``b1``, ``eps``: Adam's β₁ and ε
    where the optimizer state does not hold them (an ``inject_hyperparams`` state does;
    else optax's defaults).

    Lanczos's Ritz value approaches λ_max from below with an error that shrinks with
    the square of the tangent of the start's angle to the top eigenvector (Saad 2011,
    thm. 6.4); the last row's vector is already close to it when the Hessian moves
    little between rows, so m = 10 warm steps do what 20 random-start steps do at half
    the cost (tests/test_instruments.py checks them against a dense eigendecomposition
    along a training run).
    """

    names: tuple[str, ...]
    every: int | None | str = "record"
    per_example: Callable | None = None
    examples: Callable | None = None
    lanczos_steps: int = 10
    b1: float | None = None
    eps: float | None = None
    warm_start: bool = True

    def steps(self, num_steps: int) -> np.ndarray:
        if self.every is None:
            return np.array([0, num_steps])
        return np.arange(0, num_steps + 1, self.every)

    def floats(self, params) -> int:
        """Floats one recorded row holds for ``params`` (any pytree of arrays or shapes)
        with L layers: Σ over the names of (per-layer values)·L + whole-model values."""
        num_layers = len(layers(params))
        return sum(SIZES[n][0] * num_layers + SIZES[n][1] for n in self.names)


def parse(instruments, every, per_example, examples, record, num_steps) -> Instruments | None:
    """``run``/``sweep``'s arguments -> an ``Instruments`` (None: no instruments).

    ``every`` None follows the recording policy ``record`` (a ``Record``)."""
    if instruments is None or (isinstance(instruments, tuple | list) and not instruments):
        return None
    if isinstance(instruments, str):
        instruments = (instruments,)
    if not isinstance(instruments, Instruments):
        instruments = Instruments(tuple(instruments))
    names = tuple(instruments.names)
    unknown = [n for n in names if n not in NAMES]
    if unknown or not names:
        raise ValueError(f"unknown instrument(s) {unknown or names!r}; valid: {', '.join(NAMES)}")
    if every is None:
        every = record.every if instruments.every == "record" else instruments.every
    if every is not None and (isinstance(every, bool) or not isinstance(every, int | np.integer)
                              or every < 1):
        raise ValueError(f"instrument_every must be a positive int or None, got {every!r}")
    per_example = per_example or instruments.per_example
    if "noise" in names and per_example is None:
        raise ValueError('instrument "noise" needs per_example=loss(params, example)')
    if per_example is not None and not callable(per_example):
        raise ValueError(f"per_example must be callable, got {per_example!r}")
    steps = int(instruments.lanczos_steps)
    if steps < 1:
        raise ValueError(f"lanczos_steps must be >= 1, got {steps}")
    return Instruments(names, None if every is None else int(every), per_example,
                       examples or instruments.examples, steps, instruments.b1, instruments.eps,
                       bool(instruments.warm_start))


def bind(inst: Instruments | None, problem: dict) -> Instruments | None:
    """``inst`` with ``per_example`` given a sweep lane's problem parameters (the grid
    names that go to the loss as keywords), so that "noise" sees the same loss as the
    step. A per-example loss that does not take one of them is refused."""
    if inst is None or not problem or "noise" not in inst.names:
        return inst
    try:
        parameters = inspect.signature(inst.per_example).parameters
    except (TypeError, ValueError):  # no signature to read: pass them and let it say
        parameters = None
    if parameters is not None and not any(p.kind is p.VAR_KEYWORD for p in parameters.values()):
        missing = [name for name in problem if name not in parameters]
        if missing:
            raise ValueError(f"the sweep passes {missing} to loss_fn, so per_example must take "
                             f"them as keyword arguments too (it takes {list(parameters)})")
    return replace(inst, per_example=functools.partial(inst.per_example, **problem))


# --------------------------------------------------------------------------- helpers


def layers(tree) -> list:
    """The top-level children of a params pytree (the tree itself if it is one array)."""
    return jax.tree_util.tree_flatten(tree, is_leaf=lambda node: node is not tree)[0]


def layer_names(tree) -> list[str]:
    """Labels of ``layers(tree)``: "0", "1", … for lists, the keys for dicts."""
    paths = jax.tree_util.tree_flatten_with_path(tree, is_leaf=lambda node: node is not tree)[0]
    names = [jax.tree_util.keystr(path).strip("[]'.") for path, _ in paths]
    return [name or "params" for name in names]


def _squares(tree) -> jax.Array:
    """Σ x² per layer, shape (L,)."""
    return jnp.stack([sum(jnp.sum(jnp.square(x)) for x in jax.tree.leaves(layer))
                      for layer in layers(tree)])


def _dot(a, b) -> jax.Array:
    return sum(jnp.vdot(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b),
                                                strict=True))


def _ratio(a, b):
    return a / jnp.where(b > 0, b, jnp.nan)


def _cosine(a, b):
    return _ratio(_dot(a, b), jnp.sqrt(_dot(a, a) * _dot(b, b)))


def _get(state, name):
    """A hyperparameter held in the optimizer state, or None (absent or ambiguous)."""
    try:
        return optax.tree_utils.tree_get(state, name, None)
    except KeyError:
        return None


def edge(learning_rate, *, momentum: float = 0.0, b1: float | None = None):
    """The stability edge of the sharpness: 2/η (GD), 2(1 + β)/η (heavy ball β),
    (2 + 2β₁)/((1 − β₁)η) for Adam's preconditioned sharpness (``b1=``).

    >>> float(edge(0.01, b1=0.9))
    3800.0...
    """
    if b1 is not None:
        return (2 + 2 * b1) / ((1 - b1) * learning_rate)
    return 2 * (1 + momentum) / learning_rate


# --------------------------------------------------------------------------- instruments


def layer_products(pairs: dict, like) -> dict:
    """{name: Σ_{i ∈ layer} a_i·b_i, shape (L,)} for every pair (a, b) of pytrees like
    ``like``: the pairs flattened and stacked, then one reduction per layer (a handful
    of fused loops instead of one small reduction per leaf and pair)."""
    sizes = [sum(int(np.size(x)) for x in jax.tree.leaves(layer)) for layer in layers(like)]
    ends = np.cumsum(sizes)
    flat = lambda t: ravel_pytree(t)[0]
    rows = jnp.stack([flat(a) * flat(b) for a, b in pairs.values()])
    sums = jnp.stack([jnp.sum(rows[:, e - n:e], axis=1) for n, e in zip(sizes, ends,
                                                                         strict=True)], -1)
    return dict(zip(pairs, sums, strict=True))


def norms(s):
    """Per-layer ‖g‖, ‖u‖, ‖p‖, ‖u‖/‖p‖ and the distance ‖p − p₀‖ from the start, from
    the layer sums ``s`` (gg = Σg², uu, pp, dd = Σ(p − p₀)²)."""
    gn, un, pn = (jnp.sqrt(s[k]) for k in ("gg", "uu", "pp"))
    return {"grad_norm": gn, "update_norm": un, "param_norm": pn,
            "update_ratio": _ratio(un, pn), "distance": jnp.sqrt(jnp.sum(s["dd"]))}


def plateau_scale(state):
    """The scale ``optax.contrib.reduce_on_plateau`` (``gdlab.schedules.reduce_on_plateau``)
    holds in an optimizer state, found by its state's name (``optax.tree_utils``), or NaN
    when the state has none. Several plateaus chained: the product of their scales (what
    the updates are multiplied by). The state after update k holds the scale that update
    k was multiplied by: the loss k was fed first.

    >>> opt = optax.chain(optax.sgd(0.1), optax.contrib.reduce_on_plateau())
    >>> float(plateau_scale(opt.init(jnp.zeros(2))))
    1.0
    """
    found = optax.tree_utils.tree_get_all_with_path(state, "ReduceLROnPlateauState")
    scales = [jnp.asarray(s.scale) for _, s in found]
    return jnp.prod(jnp.stack(scales)) if scales else jnp.nan


def effective_lr(s, state, dtype):
    """‖u_l‖/‖g_l‖ per layer, the scheduled rate held in the state and the plateau's
    scale (NaN: none)."""
    rate = _get(state, "learning_rate")
    rate = jnp.nan if rate is None or jnp.ndim(rate) else rate
    return {"effective_lr": jnp.sqrt(_ratio(s["uu"], s["gg"])),
            "scheduled_lr": jnp.asarray(rate, dtype),
            "plateau_scale": jnp.asarray(plateau_scale(state), dtype)}


def cosines(s):
    """cos(u_k, u_{k−1}) and cos(u_k, −g_k) over the whole model (ug = Σu·g, uv = Σu·v,
    vv = Σv², v the previous update)."""
    total = {k: jnp.sum(v) for k, v in s.items()}
    return {"cos_previous": _ratio(total["uv"], jnp.sqrt(total["uu"] * total["vv"])),
            "cos_descent": _ratio(-total["ug"], jnp.sqrt(total["uu"] * total["gg"]))}


def _pairs(inst, probe, p, g, u) -> dict:
    """The products the cheap instruments asked for need."""
    names, pairs = inst.names, {}
    if {"norms", "effective_lr", "cosines"} & set(names):
        pairs.update(gg=(g, g), uu=(u, u))
    if "norms" in names:
        d = jax.tree.map(jnp.subtract, p, probe["start"])
        pairs.update(pp=(p, p), dd=(d, d))
    if "cosines" in names:
        pairs.update(ug=(u, g), uv=(u, probe["last"]), vv=(probe["last"], probe["last"]))
    return pairs


def noise(per_example, params, batch):
    """Gradient noise from B per-example gradients g_i = ∇ℓ(params, example_i).

    With Ḡ the batch mean and m₂ = (1/B) Σ‖g_i‖² (per layer), the unbiased estimates

        tr Σ  = B/(B − 1) · (m₂ − ‖Ḡ‖²)      Σ: covariance of ONE example's gradient
        ‖G‖²  = ‖Ḡ‖² − tr Σ / B              G: the true (population) mean gradient

    (McCandlish et al. 2018, app. A, with B_small = 1, B_big = B). Then
    ``gsnr`` = ‖G_l‖²/tr Σ_l per layer (Liu et al. 2020's signal-to-noise ratio, summed
    over a layer's coordinates before dividing) and ``noise_scale``
    B_simple = tr Σ/‖G‖² over the whole model: the batch size at which the gradient's
    noise (tr Σ/B) equals its signal (‖G‖²). The covariance of a batch-B mean is Σ/B;
    noise_scale is in examples, not batches. ‖G‖² can come out ≤ 0 when the noise
    swamps the signal (then gsnr ≤ 0 and B_simple is NaN: average numerator and
    denominator over steps before dividing, as McCandlish et al. do). ``batch_grad_sq``
    is ‖Ḡ_l‖² itself: when the examples are a whole finite training set (full-batch
    training), Ḡ is the exact gradient and tr Σ/‖Ḡ‖² the training set's own noise scale.
    """
    def one(params, example):  # each example's squared norms next to its gradient: XLA
        g = jax.grad(per_example)(params, example)  # then fuses them (~20 % faster on CPU)
        return g, _squares(g)

    grads, squares = jax.vmap(one, in_axes=(None, 0))(params, batch)
    size = squares.shape[0]
    mean = jax.tree.map(lambda a: jnp.mean(a, axis=0), grads)
    second = jnp.mean(squares, axis=0)
    mean_sq = _squares(mean)
    trace = size / (size - 1) * (second - mean_sq)
    signal = mean_sq - trace / size
    return {"grad_sq": signal, "batch_grad_sq": mean_sq, "trace_cov": trace,
            "gsnr": _ratio(signal, trace), "noise_scale": _ratio(jnp.sum(trace), jnp.sum(signal))}


def step_quality(f0, d0, f1, d1):
    """Cockpit's α from the loss f and the slope d = ∇f·u at both ends of the step u.

    Fit q(t) = c + b t + a t² by least squares to q(0) = f0, q'(0) = d0, q(1) = f1,
    q'(1) = d1 (exact on a quadratic); its minimum is t* = −b/(2a), and

        α = 1/t* − 1:   −1 stayed put (t* ≫ 1), 0 landed at the minimum, +1 mirrored
                        to the other side (t* = 1/2); a concave fit (a ≤ 0) gives −1.

    On f = λx²/2 a gradient step of η = 1/λ gives α = 0, η = 2/λ gives α = 1.
    """
    design = np.array([[1, 0, 0], [0, 1, 0], [1, 1, 1], [0, 1, 2]], dtype=float)
    c, b, a = jnp.asarray(np.linalg.pinv(design), jnp.result_type(f0)) @ jnp.stack(
        [f0, d0, f1, d1])
    return jnp.where(a > 0, -2 * a / jnp.where(b != 0, b, jnp.nan) - 1, -1.0)


def top_eigenvalue(matvec, flat, key, steps, start=None):
    """(λ_max, its unit Ritz vector) of a symmetric operator on flat vectors by ``steps``
    Lanczos iterations, from ``start`` (a warm start: zeros or non-finite -> a random
    unit vector drawn with ``key``)."""
    v0 = jax.random.normal(key, flat.shape, flat.dtype)
    v0 = v0 / jnp.linalg.norm(v0)
    if start is not None:
        size = jnp.linalg.norm(start)
        usable = jnp.isfinite(size) & (size > 0)
        v0 = jnp.where(usable, start / jnp.where(usable, size, 1), v0)
    theta, s, basis = ritz(matvec, v0, min(steps, flat.shape[0]))
    vector = s[:, -1] @ basis
    return theta[-1], vector / jnp.linalg.norm(vector)


def sharpness(loss, params, key, steps, start=None):
    """(λ_max, Ritz vector) of the Hessian of ``loss`` at ``params`` (Lanczos on
    Hessian-vector products, from ``start`` if given)."""
    flat, unravel = ravel_pytree(params)
    hvp = lambda v: ravel_pytree(jax.jvp(jax.grad(loss), (params,), (unravel(v),))[1])[0]
    return top_eigenvalue(hvp, flat, key, steps, start)


def adam_preconditioner(state, b1, eps):
    """Adam's diagonal preconditioner P = (1 − β₁ᵗ)(√v̂ + ε), v̂ = ν/(1 − β₂ᵗ), as a
    pytree, and t (Cohen et al. 2022: Adam is then p ← p − η P⁻¹ m with m the EMA of
    gradients, whose edge is (2 + 2β₁)/((1 − β₁)η))."""
    found = [s for s in jax.tree.leaves(state, is_leaf=lambda s: isinstance(
        s, optax.ScaleByAdamState)) if isinstance(s, optax.ScaleByAdamState)]
    if len(found) != 1:
        raise ValueError('instrument "preconditioned_sharpness" needs an Adam state '
                         f"(optax.ScaleByAdamState), found {len(found)}")
    adam = found[0]
    held_b1, held_eps, b2 = _get(state, "b1"), _get(state, "eps"), _get(state, "b2")
    b1 = held_b1 if held_b1 is not None else (0.9 if b1 is None else b1)
    eps = held_eps if held_eps is not None else (1e-8 if eps is None else eps)
    b2 = 0.999 if b2 is None else b2
    t = adam.count.astype(jnp.result_type(float))
    return jax.tree.map(lambda nu: (1 - b1**t) * (jnp.sqrt(nu / (1 - b2**t)) + eps),
                        adam.nu), t


def preconditioned_sharpness(loss, params, state, key, steps, b1, eps, start=None):
    """(λ_max(P⁻¹H) = λ_max(P^{-1/2} H P^{-1/2}) for Adam's P, Ritz vector) by Lanczos."""
    precond, _ = adam_preconditioner(state, b1, eps)
    flat, unravel = ravel_pytree(params)
    scale = 1 / jnp.sqrt(ravel_pytree(precond)[0].astype(flat.dtype))

    def matvec(v):
        hv = jax.jvp(jax.grad(loss), (params,), (unravel(scale * v),))[1]
        return scale * ravel_pytree(hv)[0]

    return top_eigenvalue(matvec, flat, key, steps, start)


# --------------------------------------------------------------------------- the probe


SHARPNESSES = ("sharpness", "preconditioned_sharpness")


def _warm(inst: Instruments) -> list[str]:
    """The sharpnesses whose last Ritz vector the probe keeps (under the same name)."""
    return [n for n in SHARPNESSES if n in inst.names] if inst.warm_start else []


def init(inst: Instruments, params, num_steps: int, shapes) -> dict:
    """The probe's part of the scan carry: the start, the last update, the row buffers,
    the last top Ritz vectors (zeros: none yet)."""
    rows = len(inst.steps(num_steps))
    probe = {"rows": jax.tree.map(lambda s: jnp.full((rows, *s.shape), jnp.nan, s.dtype),
                                  shapes)}
    if "norms" in inst.names:
        probe["start"] = params
    if "cosines" in inst.names:
        probe["last"] = jax.tree.map(jnp.zeros_like, params)
    if _warm(inst):
        flat = ravel_pytree(params)[0]
        probe["ritz"] = {n: jnp.zeros_like(flat) for n in _warm(inst)}
    return probe


def values(inst: Instruments, probe, **context):
    """Every instrument's values at one step (cheap ones always, the rest as asked)."""
    return measure(inst, probe, **context)[0]


def _lanczos(inst: Instruments, top, start, first):
    """(λ_max, Ritz vector) from ``top(steps, start)``: with a warm start, 2m steps from a
    random vector at the first row and m from ``start`` after (a ``lax.cond`` on the row,
    which every lane of a sweep shares)."""
    m = inst.lanczos_steps
    if start is None:
        return top(m, None)
    return jax.lax.cond(first, lambda: top(2 * m, None), lambda: top(m, start))


def measure(inst: Instruments, probe, *, params, grad, updates, state, value, loss, curvature,
            data, key, dtype, first=True):
    """(``values``, the sharpnesses' top Ritz vectors for the next warm start); ``first``:
    is this the first recorded row."""
    out, ritz_vectors = {}, {}
    start = probe.get("ritz", {})
    pairs = _pairs(inst, probe, params, grad, updates)
    sums = layer_products(pairs, params) if pairs else {}
    if "norms" in inst.names:
        out.update(norms(sums))
    if "effective_lr" in inst.names:
        out.update(effective_lr(sums, state, dtype))
    if "cosines" in inst.names:
        out.update(cosines(sums))
    if "noise" in inst.names:
        batch = data if inst.examples is None else inst.examples(data, key)
        out.update(noise(inst.per_example, params, batch))
    if "alpha" in inst.names:
        f1, g1 = jax.value_and_grad(loss)(optax.apply_updates(params, updates))
        out["alpha"] = step_quality(value, _dot(grad, updates), f1, _dot(g1, updates))
    lanczos_key = jax.random.key(0) if key is None else key
    if "sharpness" in inst.names:
        out["sharpness"], ritz_vectors["sharpness"] = _lanczos(inst, lambda m, v: sharpness(
            curvature, params, lanczos_key, m, v), start.get("sharpness"), first)
    if "preconditioned_sharpness" in inst.names:
        out["preconditioned_sharpness"], ritz_vectors["preconditioned_sharpness"] = _lanczos(
            inst, lambda m, v: preconditioned_sharpness(
                curvature, params, state, lanczos_key, m, inst.b1, inst.eps, v),
            start.get("preconditioned_sharpness"), first)
    out = jax.tree.map(lambda v: jnp.asarray(v, dtype), out)
    return out, {n: ritz_vectors[n].astype(start[n].dtype) for n in start}


def observe(inst: Instruments, probe, k, recorded, row, dead, **context):
    """Step k: where k is recorded, compute the values and write their row, all inside
    one ``lax.cond`` (k is the same in every lane of a sweep, so a skipped step costs
    one branch that passes the probe through)."""

    def record(probe):
        new, ritz_vectors = measure(inst, probe, first=row == 0, **context)
        write = lambda buf, v: jax.lax.dynamic_update_index_in_dim(
            buf, jnp.where(dead, jnp.nan, v), row, 0)
        probe = {**probe, "rows": jax.tree.map(write, probe["rows"], new)}
        return {**probe, "ritz": ritz_vectors} if "ritz" in probe else probe

    probe = jax.lax.cond(recorded, record, lambda probe: probe, probe)
    if "last" in probe:
        probe = {**probe, "last": context["updates"]}
    return probe
