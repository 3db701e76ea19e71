"""Models as pairs of pure functions: ``Model(init, apply)``.

Like optax's ``GradientTransformation(init, update)``, a model is two pure functions:

    params = model.init(key)          # a pytree of arrays
    pred   = model.apply(params, x)   # the prediction for input x

Three families, from the textbook neuron to a real network:

* ``linear_neuron()``      pred = input · weight           (one scalar weight)
* ``deep_chain(depth)``    ŷ = x · w₁ · w₂ ⋯ w_depth       (a product of scalars)
* ``mlp(sizes, ...)``      a fully connected network; ``mlp_forward`` also returns
                           every hidden layer, for per-layer statistics.

Every builder takes ``dtype=None``: the parameters are made in that dtype, by default
JAX's default float (float64 when ``jax_enable_x64`` is on, float32 otherwise), decided
when ``init`` runs. ``apply`` never casts: dtypes follow the inputs.

Example::

    m = mlp([40, 100, 10], activation="tanh", init="xavier")
    params = m.init(jax.random.key(0))
    logits = m.apply(params, x)       # x: (40,) -> (10,), or (batch, 40) -> (batch, 10)
"""

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from gdlab import linalg

Params = Any  # a pytree of arrays


class Model(NamedTuple):
    """A model as two pure functions.

    Attributes:
      init: ``init(key) -> params``, a pytree of arrays.
      apply: ``apply(params, x) -> prediction``.
    """

    init: Callable[[jax.Array], Params]
    apply: Callable[[Params, jax.Array], jax.Array]


def _float_dtype(dtype):
    """``dtype`` as a NumPy dtype; ``None`` is JAX's default float at call time."""
    dtype = jnp.result_type(float) if dtype is None else jnp.dtype(dtype)
    if not jnp.issubdtype(dtype, jnp.floating):
        raise ValueError(f"dtype must be a floating dtype, got {dtype}")
    return dtype


# --------------------------------------------------------------------------- neurons


def linear_neuron(*, weight: float = 0.5, dtype=None) -> Model:
    """The one-weight neuron of the textbook: pred = input · weight.

    With the loss ½(pred − goal)², the gradient in w is (pred − goal) · input and the
    curvature is input², so gradient descent updates w ← w − α · (pred − goal) · input.

    Args:
      weight: the start weight ``init`` returns (deterministic; the key is accepted for
        the common ``init(key)`` interface and ignored).
      dtype: dtype of the weight (default: JAX's default float).

    Returns:
      ``Model`` whose params are a 0-d array, the weight; ``apply(w, x) = x * w``
      works elementwise for any shape of ``x``.

    Example::

        m = linear_neuron()
        m.apply(m.init(None), 2.0)    # 1.0 = 2.0 * 0.5
    """

    def init(key=None):
        del key
        return jnp.asarray(weight, dtype=_float_dtype(dtype))

    def apply(params, x):
        return x * params

    return Model(init, apply)


def deep_chain(depth: int, *, scale: float = 1.0, noise: float = 0.0, dtype=None) -> Model:
    """A deep product of scalars: ŷ = x · w₁ · w₂ ⋯ w_depth.

    The simplest deep network: the gradient in w_i is x · ∏_{j≠i} w_j, a product of
    ``depth − 1`` factors, so it vanishes (|w| < 1) or explodes (|w| > 1) geometrically
    with depth, and a step changes ŷ at every order up to ``depth`` in the step size.

    The product is written as explicit multiplications in a Python loop (not
    ``jnp.prod``) so ``jax.experimental.jet`` can take its Taylor series.

    Args:
      depth: number of weights, at least 1.
      scale: every weight starts at ``scale`` ...
      noise: ... plus ``noise · N(0, 1)`` (0 by default: ``init`` is deterministic
        and ignores the key).
      dtype: dtype of the weights (default: JAX's default float).

    Returns:
      ``Model`` whose params are an array of shape ``(depth,)``; ``apply`` works
      elementwise for any shape of ``x``.

    Example::

        m = deep_chain(3, scale=0.5)
        m.apply(m.init(jax.random.key(0)), 2.0)   # 0.25 = 2 · 0.5³
    """
    if not isinstance(depth, int) or isinstance(depth, bool) or depth < 1:
        raise ValueError(f"depth must be an integer >= 1, got {depth!r}")
    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise}")

    def init(key=None):
        dt = _float_dtype(dtype)
        w = jnp.full((depth,), scale, dtype=dt)
        if noise:
            if key is None:
                raise ValueError("deep_chain with noise > 0 needs a key")
            w = w + noise * jax.random.normal(key, (depth,), dt)
        return w

    def apply(params, x):
        out = x
        for i in range(depth):
            out = out * params[i]
        return out

    return Model(init, apply)


# --------------------------------------------------------------------------- mlp

_NORM_EPS = 1e-5  # layer-norm epsilon: (z − mean) / sqrt(var + eps)

_ACTIVATION_FNS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "sigmoid": jax.nn.sigmoid,  # 1 / (1 + e^{−z}); derivative ≤ 1/4
    "tanh": jnp.tanh,  # derivative ≤ 1, equal to 1 only at 0
    "relu": lambda z: jnp.maximum(z, 0),  # not jax.nn.relu (custom_jvp): jet works
    "linear": lambda z: z,
}

ACTIVATIONS: tuple[str, ...] = tuple(_ACTIVATION_FNS)
"""Activation names ``mlp`` accepts."""

INITS: tuple[str, ...] = ("normal", "xavier", "he", "orthogonal")
"""Weight initialisation names ``mlp`` accepts (biases always start at zero)."""


def get_activation(name: str) -> Callable[[jax.Array], jax.Array]:
    """The elementwise activation function called ``name`` (one of ``ACTIVATIONS``)."""
    try:
        return _ACTIVATION_FNS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown activation {name!r}; valid: {', '.join(ACTIVATIONS)}") from None


def init_weight(
    fan_in: int, fan_out: int, init: str = "xavier", *, key: jax.Array, scale=1.0, dtype=None
) -> jax.Array:
    """One (fan_in, fan_out) weight matrix drawn from ``key`` by the rule called ``init``.

    ======================  =============================================
    ``"normal"``            w ~ N(0, scale²)
    ``"xavier"`` (Glorot)   w ~ N(0, scale² · 2 / (fan_in + fan_out))
    ``"he"`` (Kaiming)      w ~ N(0, scale² · 2 / fan_in)
    ``"orthogonal"``        WᵀW = scale² · I  (fan_in ≥ fan_out; else WWᵀ = scale² · I)
    ======================  =============================================

    With the default ``scale=1`` these are the published rules (untruncated normals).
    """
    dtype = _float_dtype(dtype)
    if init == "orthogonal":
        return linalg.orthogonal(key, (fan_in, fan_out), scale, dtype)
    stds = {
        "normal": 1.0,
        "xavier": (2.0 / (fan_in + fan_out)) ** 0.5,
        "he": (2.0 / fan_in) ** 0.5,
    }
    if init not in stds:
        raise ValueError(f"unknown init {init!r}; valid: {', '.join(INITS)}")
    return scale * stds[init] * jax.random.normal(key, (fan_in, fan_out), dtype)


def _layer_norm(z):
    """(z − mean) / sqrt(var + eps) over the last (feature) axis; no learned scale."""
    mean = jnp.mean(z, axis=-1, keepdims=True)
    var = jnp.mean(jnp.square(z - mean), axis=-1, keepdims=True)
    return (z - mean) * jax.lax.rsqrt(var + _NORM_EPS)


def _dense(layer, h):
    """h @ w + b with the bias broadcast explicitly over the leading axes of ``h``."""
    z = h @ layer["w"]
    return z + jnp.expand_dims(layer["b"], tuple(range(z.ndim - 1)))


def mlp_forward(
    params: list[dict[str, jax.Array]],
    x: jax.Array,
    *,
    activation: str = "tanh",
    residual: bool = False,
    normalize: bool = False,
) -> tuple[jax.Array, list[jax.Array]]:
    """Run an ``mlp`` and also return every hidden layer.

    For hidden layers ℓ = 1 … L−1, with h₀ = x:

        z_ℓ = h_{ℓ−1} W_ℓ + b_ℓ
        z_ℓ ← (z_ℓ − mean(z_ℓ)) / sqrt(var(z_ℓ) + 1e-5)      if normalize
        h_ℓ = act(z_ℓ)                                        (+ h_{ℓ−1} if residual and
                                                               the width is unchanged)

    and the output layer is linear: out = h_{L−1} W_L + b_L.

    Args:
      params: list of ``{"w": (fan_in, fan_out), "b": (fan_out,)}``, as ``mlp`` makes.
      x: one example ``(in,)`` or a batch ``(..., in)``.
      activation, residual, normalize: as for ``mlp`` (pass the same values).

    Returns:
      ``(output, hidden)``: output ``(..., out)`` and the list ``[h₁, …, h_{L−1}]``
      of hidden activations (after the activation and any skip connection), each
      ``(..., width_ℓ)``. The list is empty for a network without hidden layers.
    """
    act = get_activation(activation)
    x = jnp.asarray(x)
    fan_in = params[0]["w"].shape[0]
    if x.ndim < 1 or x.shape[-1] != fan_in:
        raise ValueError(f"input must have shape (..., {fan_in}), got {x.shape}")
    h, hidden = x, []
    for layer in params[:-1]:
        z = _dense(layer, h)
        if normalize:
            z = _layer_norm(z)
        a = act(z)
        h = h + a if residual and layer["w"].shape[0] == layer["w"].shape[1] else a
        hidden.append(h)
    return _dense(params[-1], h), hidden


def mlp(
    sizes: Sequence[int],
    activation: str = "tanh",
    init: str = "xavier",
    *,
    init_scale: float = 1.0,
    residual: bool = False,
    normalize: bool = False,
    dtype=None,
) -> Model:
    """A fully connected network with ``len(sizes) − 1`` layers.

    ``sizes = [in, h₁, …, out]``; hidden layers apply ``activation``, the last layer is
    linear (logits or a regression output). See ``mlp_forward`` for the exact maths.

    Args:
      sizes: layer widths, at least two positive integers.
      activation: one of ``ACTIVATIONS``: "sigmoid", "tanh", "relu", "linear".
      init: one of ``INITS``, the weight rule (see ``init_weight``); biases are zero.
      init_scale: multiplies the weight standard deviation ("normal": std =
        init_scale; "xavier"/"he": a gain on the Glorot/He std; "orthogonal": gain).
      residual: skip connections h ← h + act(z) on hidden layers whose width is
        unchanged (a remedy for vanishing gradients).
      normalize: normalise each hidden pre-activation over the feature axis
        (layer norm without learned scale; another remedy).
      dtype: dtype of the parameters (default: JAX's default float).

    Returns:
      ``Model``: ``init(key)`` gives a list of ``{"w": (fan_in, fan_out), "b":
      (fan_out,)}`` dicts; ``apply(params, x)`` maps ``(in,)`` to ``(out,)`` and a
      batch ``(..., in)`` to ``(..., out)``.

    Example::

        m = mlp([40, 100, 10], activation="relu", init="he")
        params = m.init(jax.random.key(0))
        m.apply(params, jnp.zeros((32, 40))).shape     # (32, 10)
    """
    sizes = tuple(sizes)
    if len(sizes) < 2 or not all(
        isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in sizes
    ):
        raise ValueError(f"sizes must be at least two positive integers, got {sizes!r}")
    get_activation(activation)  # fail early on a bad name
    if init not in INITS:
        raise ValueError(f"unknown init {init!r}; valid: {', '.join(INITS)}")
    weight_rule = init

    def init_params(key):
        dt = _float_dtype(dtype)
        keys = jax.random.split(key, len(sizes) - 1)
        return [
            {
                "w": init_weight(n_in, n_out, weight_rule, key=k, scale=init_scale, dtype=dt),
                "b": jnp.zeros((n_out,), dt),
            }
            for k, n_in, n_out in zip(keys, sizes[:-1], sizes[1:], strict=True)
        ]

    def apply(params, x):
        out, _ = mlp_forward(
            params, x, activation=activation, residual=residual, normalize=normalize
        )
        return out

    return Model(init_params, apply)


__all__ = [
    "ACTIVATIONS",
    "INITS",
    "Model",
    "deep_chain",
    "get_activation",
    "init_weight",
    "linear_neuron",
    "mlp",
    "mlp_forward",
]
