"""Problems with data: the linear neuron, the deep chain and the MNIST-1D MLP family.

Each loss is ``loss(params, data)`` with the data in ``problem.data`` (never closed
over). Functions are built once per configuration (``functools.cache``), so asking
the catalogue for the same problem twice gives the same function objects, and
``gdlab.train`` / ``curvature`` / ``taylor`` reuse their compilations.
"""

import functools
import types
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from gdlab.problems._record import Problem, default_float

LOSSES = ("cross_entropy", "mse")
"""Per-example losses of ``mnist1d_mlp``: softmax cross entropy on integer labels, or
½‖logits − onehot(y)‖² summed over the 10 outputs (Cohen et al.'s edge-of-stability
setting)."""


def _float(dtype):
    dtype = default_float() if dtype is None else jnp.dtype(dtype)
    if not jnp.issubdtype(dtype, jnp.floating):
        raise ValueError(f"dtype must be a floating dtype, got {dtype}")
    if dtype == jnp.float64 and not jax.config.jax_enable_x64:
        raise ValueError("dtype float64 needs jax.config.update('jax_enable_x64', True)")
    return dtype


def _examples(inputs, goals, dtype):
    x = np.atleast_1d(np.asarray(inputs, np.float64))
    y = np.atleast_1d(np.asarray(goals, np.float64))
    if x.ndim != 1 or x.shape != y.shape or x.size == 0:
        raise ValueError(f"inputs and goals must be non-empty 1-D sequences of one length, "
                         f"got shapes {x.shape} and {y.shape}")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError("inputs and goals must be finite")
    if not np.any(x):
        raise ValueError("at least one input must be non-zero")
    return x, y, {"x": jnp.asarray(x, dtype), "y": jnp.asarray(y, dtype)}


@functools.cache
def _neuron_loss(depth: int | None):
    """mean ½(x·w − y)² (depth None: one weight) or mean ½(x·w₁⋯w_depth − y)²."""
    from gdlab import losses, models

    model = models.linear_neuron() if depth is None else models.deep_chain(depth)
    return losses.objective(model.apply, losses.half_squared_error)


def _best_scale(x, y):
    """c* = Σxy/Σx² minimises mean ½(c·x − y)²; returns (c*, the minimum)."""
    c = float(x @ y / (x @ x))
    return c, float(np.mean(0.5 * (c * x - y) ** 2))


def linear_neuron(*, inputs=(0.5,), goals=(0.8,), weight: float = 0.5, dtype=None) -> Problem:
    """The textbook neuron pred = input · w with f(w) = mean_i ½(x_i w − y_i)².

    f'(w) = mean (x_i w − y_i) x_i (the "(pred − goal) · input" update) and f'' = mean
    x_i², so gradient descent converges iff α < 2 / mean x². The defaults are the book's
    (input 0.5, goal 0.8, start 0.5); w* = Σxy/Σx².

    >>> p = linear_neuron()
    >>> float(p.argmin), p.fmin            # 0.8 / 0.5
    (1.6, 0.0)
    """
    dtype = _float(dtype)
    x, y, data = _examples(inputs, goals, dtype)
    w_star, fmin = _best_scale(x, y)
    return Problem(
        name="linear_neuron", loss=_neuron_loss(None), x0=jnp.asarray(weight, dtype),
        argmin=jnp.asarray(w_star, dtype), fmin=fmin, data=data, target=1e-6,
        description=f"mean ½(x·w − y)² over {x.size} example(s): curvature mean x² = "
                    f"{np.mean(x * x):.3g}",
        info=types.MappingProxyType({"curvature": float(np.mean(x * x))}),
    )


def deep_chain(depth: int = 10, *, inputs=(1.0,), goals=(0.5,), scale: float = 1.0,
               dtype=None) -> Problem:
    """The deepest simplest network: ŷ = x·w₁⋯w_depth, f(w) = mean_i ½(ŷ_i − y_i)².

    Every weight starts at ``scale``. The gradient in w_i carries the product of the
    other depth − 1 weights, so it vanishes or explodes geometrically with depth. The
    product c = ∏w takes any real value, so f* = min_c mean ½(c x − y)² (0 when the
    goals are one multiple of the inputs); minimisers form a surface (argmin None).

    >>> p = deep_chain(3, scale=0.5)
    >>> float(p.value(p.x0)), p.fmin      # ½(1·0.125 − 0.5)²
    (0.0703125, 0.0)
    """
    if not isinstance(depth, int) or isinstance(depth, bool) or depth < 1:
        raise ValueError(f"depth must be an integer >= 1, got {depth!r}")
    dtype = _float(dtype)
    x, y, data = _examples(inputs, goals, dtype)
    return Problem(
        name="deep_chain", loss=_neuron_loss(depth), x0=jnp.full((depth,), scale, dtype),
        fmin=_best_scale(x, y)[1], data=data, target=1e-6,
        description=f"½(x·w1⋯w{depth} − y)²: a product of {depth} weights",
        info=types.MappingProxyType({"depth": depth}),
    )


# --------------------------------------------------------------------------- MNIST-1D


def _mse(logits, onehot):
    return 0.5 * jnp.sum((logits - onehot) ** 2, axis=-1)


@functools.cache
def _mlp_functions(sizes, activation, init, init_scale, residual, normalize, loss, batch_size,
                   dtype):
    """(model, loss, stochastic, evaluate) of one MLP configuration, built once."""
    from gdlab import losses, models

    model = models.mlp(list(sizes), activation, init, init_scale=init_scale, residual=residual,
                       normalize=normalize, dtype=dtype)
    per_example = losses.softmax_cross_entropy if loss == "cross_entropy" else _mse
    full = losses.objective(model.apply, per_example)

    def minibatch(params, data, *, key):
        """The loss on ``batch_size`` training examples drawn with replacement by ``key``."""
        index = jax.random.randint(key, (batch_size,), 0, data["y"].shape[0])
        return full(params, {"x": data["x"][index], "y": data["y"][index]})

    def evaluate(params, data):
        """Loss and accuracy on the training data and on the test split."""
        scores = {}
        for split, (x, y) in {"train": ("x", "y"), "test": ("x_test", "y_test")}.items():
            logits = model.apply(params, data[x])
            labels = data[y] if loss == "cross_entropy" else jnp.argmax(data[y], axis=-1)
            scores[f"{split}_loss"] = jnp.mean(per_example(logits, data[y]))
            scores[f"{split}_accuracy"] = jnp.mean(losses.accuracy(logits, labels))
        return scores

    return model, full, None if batch_size is None else minibatch, evaluate


def _widths(hidden) -> tuple[int, ...]:
    widths = (hidden,) if isinstance(hidden, int | np.integer) else tuple(hidden)
    if not all(isinstance(h, int | np.integer) and not isinstance(h, bool) and h > 0
               for h in widths):
        raise ValueError(f"hidden must be a positive int or a sequence of them, got {hidden!r}")
    return tuple(int(h) for h in widths)


def mnist1d_mlp(
    *,
    hidden: int | Sequence[int] = 32,
    activation: str = "tanh",
    init: str = "xavier",
    init_scale: float = 1.0,
    residual: bool = False,
    normalize: bool = False,
    loss: str = "cross_entropy",
    train_size: int | None = None,
    batch_size: int | None = None,
    dtype=jnp.float32,
    data_seed: int = 0,
) -> Problem:
    """An MLP 40 → hidden… → 10 on MNIST-1D: the network every experiment trains.

    f(θ) = mean_i ℓ(mlp_θ(x_i), y_i) over the first ``train_size`` training examples,
    with ℓ the softmax cross entropy (``loss="cross_entropy"``, labels y) or
    ½‖mlp_θ(x) − onehot(y)‖² (``loss="mse"``). Cross entropy is ≥ 0 and has no
    minimiser (f* = 0 is approached as the logits grow), so ``fmin`` is 0 and the
    default ``target`` is a training loss of 0.5.

    Args:
      hidden: the hidden width, or a sequence of widths (one per hidden layer).
      activation, init, init_scale, residual, normalize: as in ``gdlab.models.mlp``.
      loss: one of ``LOSSES``.
      train_size: the first N of the 4000 training examples (None: all).
      batch_size: None (deterministic), or the minibatch size of ``stochastic``:
        ``stochastic(params, data, key=k)`` is the loss on ``batch_size`` examples
        drawn with replacement by ``jax.random.randint(k, ...)``.
      dtype: of the parameters and the inputs (float32 by default, the dtype networks
        train in; float64 needs x64).
      data_seed: the seed of the MNIST-1D generator (``gdlab.data.mnist1d``).

    ``data`` holds ``x``, ``y`` (train) and ``x_test``, ``y_test``; ``init(key)`` draws
    the weights; ``evaluate(params, data)`` gives train and test loss and accuracy;
    ``info`` holds ``sizes`` and the ``model`` (``Model(init, apply)``).

    >>> p = mnist1d_mlp(hidden=16, train_size=100, batch_size=10)
    >>> params = p.init(jax.random.key(0))
    >>> p.info["sizes"], p.data["x"].shape, p.dtype
    ((40, 16, 10), (100, 40), dtype('float32'))
    >>> bool(abs(p.loss(params, p.data) - np.log(10)) < 0.5)    # near chance at init
    True
    """
    from gdlab import data as gdata
    from gdlab import models

    sizes = (40, *_widths(hidden), 10)
    dtype = _float(dtype)
    if activation not in models.ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; valid: "
                         f"{', '.join(models.ACTIVATIONS)}")
    if init not in models.INITS:
        raise ValueError(f"unknown init {init!r}; valid: {', '.join(models.INITS)}")
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; valid: {', '.join(LOSSES)}")
    d = gdata.mnist1d(seed=data_seed)
    n = d["y"].shape[0]
    if train_size is not None and not (isinstance(train_size, int | np.integer)
                                       and 1 <= train_size <= n):
        raise ValueError(f"train_size must be an int in [1, {n}] or None, got {train_size!r}")
    if batch_size is not None and not (isinstance(batch_size, int | np.integer)
                                       and batch_size >= 1):
        raise ValueError(f"batch_size must be a positive int or None, got {batch_size!r}")
    model, full, minibatch, evaluate = _mlp_functions(
        sizes, activation, init, float(init_scale), bool(residual), bool(normalize), loss,
        None if batch_size is None else int(batch_size), dtype)

    def labels(y):
        return jnp.asarray(y) if loss == "cross_entropy" else jax.nn.one_hot(y, 10, dtype=dtype)

    data = {"x": jnp.asarray(d["x"][:train_size].astype(dtype)), "y": labels(d["y"][:train_size]),
            "x_test": jnp.asarray(d["x_test"].astype(dtype)), "y_test": labels(d["y_test"])}
    size = n if train_size is None else int(train_size)
    batch = "full batch" if batch_size is None else f"minibatches of {batch_size}"
    return Problem(
        name="mnist1d_mlp", loss=full, init=model.init, data=data, dtype=dtype, fmin=0.0,
        target=0.5, stochastic=minibatch, evaluate=evaluate,
        description=f"MLP {'-'.join(map(str, sizes))} ({activation}, {init}) on {size} "
                    f"MNIST-1D examples, {loss}, {batch}, {jnp.dtype(dtype).name}",
        info=types.MappingProxyType({"sizes": sizes, "model": model, "activation": activation,
                                     "train_size": size, "batch_size": batch_size}),
    )
