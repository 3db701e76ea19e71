"""Per-layer gradient statistics: where a gradient vanishes, explodes, or underflows.

Backpropagation through an MLP (``models.mlp``: z_ℓ = h_{ℓ−1} W_ℓ + b_ℓ, h_ℓ = φ(z_ℓ))
carries an error signal δ_ℓ = ∂L/∂z_ℓ from the output down, one factor per layer:

    δ_ℓ = (δ_{ℓ+1} W_{ℓ+1}ᵀ) ⊙ φ'(z_ℓ),        ∇W_ℓ = h_{ℓ−1}ᵀ δ_ℓ,        ∇b_ℓ = Σ_batch δ_ℓ

so ‖δ_1‖ / ‖δ_L‖ is a product of L − 1 factors of typical size σ_w·√n·rms φ'(z) (σ_w the
weight std, n the width). Below 1 it vanishes geometrically (sigmoid: φ' ≤ 1/4),
above 1 it explodes. This module measures those products:

* ``layer_stats(grads)``       norm, RMS, max |g|, fraction of exact zeros per layer
* ``error_signals(...)``       δ_ℓ per example and layer, for ``models.mlp`` parameters
* ``activation_stats(...)``    mean, std, fraction saturated of every hidden layer
* ``cosine(a, b)``             the cosine between two pytrees (update vs −gradient)
* ``norm(tree)``               ‖tree‖₂ without underflow or overflow
* ``linear_chain(w, h0, T)``   h_t = Wᵀ h_{t−1}: a signal through t identical linear layers

Norms and cosines are computed after dividing by the largest |entry|, so a float32
gradient of size 1e−30 has a norm of 1e−30, not 0 (squaring it naively gives 1e−60,
which underflows). An entry that is exactly zero stays zero: that is what
``zero_fraction`` counts, and where it reaches 1 the direction is lost, not just small.
Everything is a pure function of its inputs, jit-compatible, and dtypes follow the
inputs.
"""

import math
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from gdlab import models as _models

# --------------------------------------------------------------------------- norms and cosines


def _leaves(tree) -> list[jax.Array]:
    leaves = [jnp.asarray(leaf) for leaf in jax.tree.leaves(tree)]
    if not leaves:
        raise ValueError("expected a pytree with at least one array, got an empty one")
    return leaves


def _max_abs(leaves) -> jax.Array:
    return jnp.max(jnp.stack([jnp.max(jnp.abs(leaf), initial=0) for leaf in leaves]))


def _scaled_sum_squares(leaves, scale) -> jax.Array:
    """Σ (x / scale)² over all leaves (scale > 0), in the leaves' float dtype."""
    return sum(jnp.sum(jnp.square(leaf / scale)) for leaf in leaves)


def norm(tree) -> jax.Array:
    """The Euclidean norm of all entries of a pytree, safe from underflow and overflow.

        ‖t‖₂ = m · sqrt(Σ_i (t_i / m)²),    m = max_i |t_i|    (0 if every entry is 0)

    The same number as ``optax.tree.norm`` where that does not underflow; in float32
    ``optax.tree.norm`` returns 0 for any tree whose entries are all below ~1e−19.

    Example::

        norm({"a": jnp.array([3.0, 0.0]), "b": jnp.array(4.0)})    # 5.0
        norm(jnp.array([3e-30, 4e-30], jnp.float32))              # 5e-30, not 0
    """
    leaves = _leaves(tree)
    m = _max_abs(leaves)
    safe = jnp.where(m > 0, m, 1)
    return m * jnp.sqrt(_scaled_sum_squares(leaves, safe))


def cosine(a, b) -> jax.Array:
    """The cosine of the angle between two pytrees of the same structure and shapes.

        cos(a, b) = ⟨a, b⟩ / (‖a‖ ‖b‖) ∈ [−1, 1],    ⟨a, b⟩ = Σ_leaves Σ_i a_i b_i

    1: same direction; 0: orthogonal; −1: opposite (``cosine(update, −grad) = 1`` for
    plain gradient descent). If either tree is all zeros it has no direction and the
    result is 0. Each tree is divided by its largest |entry| first, so tiny float32
    gradients do not underflow.

    Args:
      a, b: pytrees with identical structure and leaf shapes (dtypes may differ; the
        result has their promoted float dtype).

    Example::

        cosine([jnp.array([1.0, 0.0])], [jnp.array([1.0, 1.0])])    # 0.7071
    """
    tree_a, tree_b = jax.tree.structure(a), jax.tree.structure(b)
    if tree_a != tree_b:
        raise ValueError(f"cosine needs pytrees of the same structure, got {tree_a} and {tree_b}")
    leaves_a, leaves_b = _leaves(a), _leaves(b)
    for x, y in zip(leaves_a, leaves_b, strict=True):
        if x.shape != y.shape:
            raise ValueError(f"cosine needs leaves of equal shapes, got {x.shape} and {y.shape}")
    ma, mb = _max_abs(leaves_a), _max_abs(leaves_b)
    sa, sb = jnp.where(ma > 0, ma, 1), jnp.where(mb > 0, mb, 1)
    dot = sum(jnp.sum((x / sa) * (y / sb)) for x, y in zip(leaves_a, leaves_b, strict=True))
    na = jnp.sqrt(_scaled_sum_squares(leaves_a, sa))
    nb = jnp.sqrt(_scaled_sum_squares(leaves_b, sb))
    has_direction = (ma > 0) & (mb > 0)
    value = dot / jnp.where(has_direction, na * nb, 1)
    return jnp.where(has_direction, jnp.clip(value, -1, 1), 0)


# --------------------------------------------------------------------------- per-layer statistics


def layers(tree) -> list[Any]:
    """Split a pytree into layers: the items of a list or tuple, the values of a dict
    (in its order), or the whole tree as one layer (e.g. a single array).

    ``models.mlp`` parameters (and their gradients) are lists of ``{"w", "b"}`` dicts,
    so layer ℓ is ``tree[ℓ]``; a list of per-layer arrays (e.g. ``error_signals``) works too.
    """
    if isinstance(tree, list | tuple):
        parts = list(tree)
    elif isinstance(tree, Mapping):
        parts = list(tree.values())
    else:
        parts = [tree]
    if not parts:
        raise ValueError("expected at least one layer, got an empty container")
    return parts


class LayerStats(NamedTuple):
    """Statistics of each layer of a pytree; every field has shape (num_layers,).

    Attributes:
      norm: ‖g_ℓ‖₂ over all entries of layer ℓ (underflow-safe, see ``norm``).
      rms: ‖g_ℓ‖₂ / sqrt(size_ℓ), the typical entry.
      max_abs: max |g_ℓ|.
      zero_fraction: fraction of entries that are exactly 0 (underflow or dead units).
      size: number of entries.
    """

    norm: jax.Array
    rms: jax.Array
    max_abs: jax.Array
    zero_fraction: jax.Array
    size: jax.Array


def layer_stats(tree) -> LayerStats:
    """Norm, RMS, max |g| and the fraction of exact zeros of every layer of a pytree.

    Layers are as in ``layers``: for an ``mlp`` gradient, layer ℓ holds ∇W_ℓ and ∇b_ℓ.

        norm_ℓ = ‖g_ℓ‖₂,   rms_ℓ = norm_ℓ / √size_ℓ,   max_ℓ = max|g_ℓ|,
        zero_fraction_ℓ = #{i : g_ℓi = 0} / size_ℓ

    Example::

        grads = jax.grad(loss)(params, data)          # params from models.mlp
        s = layer_stats(grads)
        s.norm[0] / s.norm[-1]                        # first-to-last layer ratio
    """
    norms, rmss, maxes, zeros, sizes = [], [], [], [], []
    for part in layers(tree):
        leaves = _leaves(part)
        size = sum(leaf.size for leaf in leaves)
        if size == 0:
            raise ValueError("every layer needs at least one entry")
        n = norm(leaves)
        norms.append(n)
        rmss.append(n / jnp.sqrt(jnp.asarray(size, n.dtype)))
        maxes.append(_max_abs(leaves))
        zeros.append(sum(jnp.sum(leaf == 0) for leaf in leaves) / size)
        sizes.append(size)
    dtype = jnp.result_type(*norms)
    return LayerStats(
        norm=jnp.stack(norms),
        rms=jnp.stack(rmss),
        max_abs=jnp.stack(maxes).astype(dtype),
        zero_fraction=jnp.stack(zeros).astype(dtype),
        size=jnp.asarray(sizes),
    )


# --------------------------------------------------------------------------- error signals


def _check_mlp_params(params) -> None:
    ok = isinstance(params, list | tuple) and params and all(
        isinstance(layer, Mapping) and "w" in layer and "b" in layer for layer in params
    )
    if not ok:
        raise ValueError('expected models.mlp parameters: a list of {"w", "b"} dicts')


def _check_data(data) -> None:
    if not isinstance(data, Mapping) or "x" not in data or "y" not in data:
        raise ValueError("data must be a mapping with keys 'x' and 'y'")


def error_signals(
    apply: Callable,
    per_example_loss: Callable,
    params: list[dict[str, jax.Array]],
    data: Mapping[str, jax.Array],
) -> list[jax.Array]:
    """The back-propagated error signal δ_ℓ = ∂L/∂z_ℓ of every layer, example by example.

    L is the mean loss of ``losses.objective(apply, per_example_loss)`` over ``data``, and
    z_ℓ = h_{ℓ−1} W_ℓ + b_ℓ the pre-activation of layer ℓ (before any normalisation), so

        δ_ℓ[i] = ∂L/∂z_ℓ[i],    Σ_i δ_ℓ[i] = ∇b_ℓ,    h_{ℓ−1}ᵀ δ_ℓ = ∇W_ℓ.

    Measured as per-example gradients with respect to the biases (b_ℓ enters z_ℓ with
    derivative 1), which needs no hook inside the network.

    Args:
      apply: ``model.apply`` of a ``models.mlp``, called on one example at a time.
      per_example_loss: e.g. ``losses.softmax_cross_entropy``.
      params: ``models.mlp`` parameters, a list of ``{"w", "b"}`` dicts.
      data: ``{"x": (N, in), "y": targets}``.

    Returns:
      One array per layer (hidden layers, then the output layer), shape (N, width_ℓ).

    Example::

        m = models.mlp([40, 64, 64, 10], "sigmoid")
        deltas = error_signals(m.apply, losses.softmax_cross_entropy, params, data)
        layer_stats(deltas).norm              # ‖δ_ℓ‖ per layer, first to last
    """
    _check_mlp_params(params)
    _check_data(data)
    x, y = jnp.asarray(data["x"]), jnp.asarray(data["y"])
    if x.ndim < 2 or y.shape[:1] != x.shape[:1]:
        raise ValueError(f"data needs a leading batch axis on x and y, got {x.shape} and {y.shape}")
    out_shape = jax.eval_shape(lambda: per_example_loss(apply(params, x[0]), y[0])).shape
    entries = x.shape[0] * math.prod(out_shape)

    def example_loss(biases, xi, yi):
        p = [{**layer, "b": b} for layer, b in zip(params, biases, strict=True)]
        return jnp.sum(per_example_loss(apply(p, xi), yi))

    biases = [layer["b"] for layer in params]
    per_example = jax.vmap(jax.grad(example_loss), in_axes=(None, 0, 0))(biases, x, y)
    return [d / entries for d in per_example]


# --------------------------------------------------------------------------- activations


# φ'(z) / max φ', written in terms of the output a = φ(z).
_RELATIVE_SLOPE: dict[str, Callable[[jax.Array], jax.Array]] = {
    "sigmoid": lambda a: 4 * a * (1 - a),  # σ' = σ(1 − σ) ≤ 1/4
    "tanh": lambda a: 1 - a * a,  # tanh' = 1 − tanh² ≤ 1
    "relu": lambda a: (a > 0).astype(a.dtype),  # 0 for a dead unit
    "linear": jnp.ones_like,
}


class ActivationStats(NamedTuple):
    """Statistics of each hidden layer; every field has shape (num_hidden_layers,).

    Attributes:
      mean: mean of h_ℓ over examples and units.
      std: standard deviation of h_ℓ over examples and units.
      saturated: fraction of units (and examples) whose local slope φ'(z) is below
        ``threshold`` times its maximum: a sigmoid or tanh unit pinned near its
        asymptotes, or a relu unit at zero. Such units pass almost no gradient.
    """

    mean: jax.Array
    std: jax.Array
    saturated: jax.Array


def activation_stats(
    params: list[dict[str, jax.Array]],
    x: jax.Array,
    *,
    activation: str = "tanh",
    residual: bool = False,
    normalize: bool = False,
    threshold: float = 0.1,
) -> ActivationStats:
    """Mean, std and fraction saturated of every hidden layer of a ``models.mlp``.

    With h_ℓ the hidden layers of ``models.mlp_forward`` and a_ℓ = φ(z_ℓ) the
    activation output (a_ℓ = h_ℓ − h_{ℓ−1} on a residual layer):

        mean_ℓ = mean(h_ℓ),   std_ℓ = std(h_ℓ),
        saturated_ℓ = fraction of entries with φ'(z_ℓ) < threshold · max φ'

    where the slope is read from the output: sigmoid 4a(1 − a), tanh 1 − a², relu
    1[a > 0], linear 1 (never saturated). With the default threshold 0.1 a sigmoid unit
    is saturated beyond |z| ≈ 3.6 and a tanh unit beyond |z| ≈ 1.8.

    Args:
      params: ``models.mlp`` parameters.
      x: a batch of inputs ``(N, in)``.
      activation, residual, normalize: as the network was built (``models.mlp``).
      threshold: relative slope below which a unit counts as saturated, in (0, 1].

    Example::

        s = activation_stats(params, x, activation="relu")
        s.std ** 2          # activation variance per layer: He init keeps it O(1)
    """
    _check_mlp_params(params)
    if activation not in _RELATIVE_SLOPE:
        raise ValueError(
            f"unknown activation {activation!r}; valid: {', '.join(_RELATIVE_SLOPE)}"
        )
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    x = jnp.asarray(x)
    _, hidden = _models.mlp_forward(
        params, x, activation=activation, residual=residual, normalize=normalize
    )
    if not hidden:
        raise ValueError("the network has no hidden layer")
    slope = _RELATIVE_SLOPE[activation]
    means, stds, saturated = [], [], []
    previous = x
    for layer, h in zip(params[:-1], hidden, strict=True):
        skip = residual and layer["w"].shape[0] == layer["w"].shape[1]
        a = h - previous if skip else h
        means.append(jnp.mean(h))
        stds.append(jnp.std(h))
        saturated.append(jnp.mean(slope(a) < threshold))
        previous = h
    dtype = jnp.result_type(*means)
    return ActivationStats(
        mean=jnp.stack(means),
        std=jnp.stack(stds),
        saturated=jnp.stack(saturated).astype(dtype),
    )


# --------------------------------------------------------------------------- linear chains


def linear_chain(w: jax.Array, h0: jax.Array, num_steps: int) -> jax.Array:
    """A signal through ``num_steps`` identical linear layers: h_t = Wᵀ h_{t−1}.

    So h_t = (Wᵀ)^t h_0. For a symmetric W = Q Λ Qᵀ this is Q Λ^t Qᵀ h_0: the component
    of h_0 along an eigenvector with |λ| < 1 decays as λ^t, with |λ| > 1 it explodes, and
    |λ| = 1 keeps it. Backpropagation through a deep linear network is this recurrence.

    Args:
      w: square matrix (n, n).
      h0: the start, (n,) or (n, k) (with h0 = I the result holds the powers (Wᵀ)^t).
      num_steps: number of layers T >= 0.

    Returns:
      (T + 1, *h0.shape): h_0, h_1, …, h_T.

    Example::

        linear_chain(jnp.diag(jnp.array([0.5, 2.0])), jnp.ones(2), 3)[-1]   # [0.125, 8.]
    """
    w, h0 = jnp.asarray(w), jnp.asarray(h0)
    if w.ndim != 2 or w.shape[0] != w.shape[1]:
        raise ValueError(f"w must be a square matrix, got shape {w.shape}")
    if h0.ndim not in (1, 2) or h0.shape[0] != w.shape[0]:
        raise ValueError(f"h0 must have shape ({w.shape[0]},) or ({w.shape[0]}, k), got {h0.shape}")
    if isinstance(num_steps, bool) or not isinstance(num_steps, int) or num_steps < 0:
        raise ValueError(f"num_steps must be an integer >= 0, got {num_steps!r}")
    dtype = jnp.result_type(w, h0)
    w, h0 = w.astype(dtype), h0.astype(dtype)

    def step(h, _):
        h = w.T @ h
        return h, h

    _, hs = jax.lax.scan(step, h0, None, length=num_steps)
    return jnp.concatenate([h0[None], hs])


__all__ = [
    "ActivationStats",
    "LayerStats",
    "activation_stats",
    "cosine",
    "error_signals",
    "layer_stats",
    "layers",
    "linear_chain",
    "norm",
]
