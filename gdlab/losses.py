"""Per-example losses (the caller reduces) and ``objective``, which turns a model into f(params).

As in ``optax.losses``, every loss returns one value per example (per entry) and
the caller takes the mean; hyperparameters, where there are any, are keyword-only.

The loss behind the textbook weight update: for pred = input · w and

    L(w) = ½ (pred − goal)²,
    dL/dw = (pred − goal) · input,        d²L/dw² = input²,

so gradient descent is w ← w − α (pred − goal) · input: no input, no change; a
negative input reverses the step; a big input makes a big step (and diverges unless
α < 2 / input²).
"""

from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import optax


def squared_error(pred: jax.Array, target: jax.Array) -> jax.Array:
    """Elementwise (pred − target)²; shapes must match (``optax.losses.squared_error``).

    Example: ``squared_error(jnp.array([1., 3.]), jnp.array([0., 1.]))`` is ``[1., 4.]``.
    """
    return optax.losses.squared_error(pred, target)


def half_squared_error(pred: jax.Array, target: jax.Array) -> jax.Array:
    """Elementwise ½(pred − target)², whose derivative in pred is (pred − target).

    The textbook loss: for pred = input · w its gradient in w is (pred − goal) · input.
    Shapes must match (no broadcasting). Same as ``optax.losses.l2_loss``.

    Example: ``half_squared_error(jnp.array(3.), jnp.array(1.))`` is ``2.0``.
    """
    return 0.5 * squared_error(pred, target)


def softmax_cross_entropy(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """Per-example cross entropy −log softmax(logits)[label], with integer labels.

        ℓ(z, y) = log Σ_j exp(z_j) − z_y

    Args:
      logits: ``(..., num_classes)`` unnormalised log-probabilities.
      labels: ``(...)`` integers in ``[0, num_classes)``.

    Returns:
      ``(...)`` losses (``optax.losses.softmax_cross_entropy_with_integer_labels``).
    """
    return optax.losses.softmax_cross_entropy_with_integer_labels(logits, labels)


def accuracy(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """Per-example correctness 1[argmax_j logits_j = label], in the dtype of ``logits``.

    The mean over examples is the accuracy. Ties go to the first maximal class.

    Args:
      logits: ``(..., num_classes)``.
      labels: ``(...)`` integers.
    """
    logits = jnp.asarray(logits)
    return (jnp.argmax(logits, axis=-1) == labels).astype(logits.dtype)


def objective(
    model_apply: Callable[[Any, jax.Array], jax.Array],
    per_example_loss: Callable[[jax.Array, jax.Array], jax.Array],
) -> Callable[[Any, Mapping[str, jax.Array]], jax.Array]:
    """Turn a model and a per-example loss into ``loss(params, data)``, the mean loss.

        loss(params, data) = mean_i ℓ(apply(params, x_i), y_i)

    where ``data = {"x": inputs, "y": targets}`` (the mean is over every entry the
    per-example loss returns). Data is an argument rather than closed over: a jitted
    function that closes over a large array bakes it in as a compile-time constant,
    which XLA folds slowly. Bind it when you need ``f(params)``::

        loss = objective(linear_neuron().apply, half_squared_error)
        f = functools.partial(loss, data={"x": xs, "y": goals})
        jax.grad(f)(w)      # = mean((xs * w − goals) · xs)
    """

    def loss(params, data):
        if not isinstance(data, Mapping) or "x" not in data or "y" not in data:
            raise ValueError("data must be a mapping with keys 'x' and 'y'")
        return jnp.mean(per_example_loss(model_apply(params, data["x"]), data["y"]))

    return loss


__all__ = [
    "accuracy",
    "half_squared_error",
    "objective",
    "softmax_cross_entropy",
    "squared_error",
]
