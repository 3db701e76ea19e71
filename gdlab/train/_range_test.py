"""The learning-rate range test (Smith 2017; fastai's ``lr_find``): one run, a growing rate.

One run of ``num_steps`` updates in which the learning rate grows geometrically,

    η_k = η_min · (η_max / η_min)^(k / (num_steps − 1)),        k = 0 … num_steps − 1,

records the loss each update produced, L_k = f(w_{k+1}) with w_{k+1} = w_k + u(η_k),
and its bias-corrected exponential moving average (fastai's ``smooth_loss``)

    a_k = β·a_{k−1} + (1 − β)·L_k,   a_{−1} = 0,        S_k = a_k / (1 − β^{k+1}).

The run stops at the first k where L_k is not finite or S_k > stop_factor · min_{j≤k} S_j
(the loss has blown up: by then the rate is past what the problem tolerates). The
suggestions are read off the smoothed curve after dropping its first ``num_steps // 10``
and last 5 points, as fastai does:

    steep             η at the most negative slope (S_{k+1} − S_k) / (log η_{k+1} − log η_k)
    minimum / 10      (η at the smallest S_k) / 10
    valley            fastai's default since 2.5 (ESRI's suggester): in the longest strictly
                      decreasing subsequence of S, ending at index e and spanning
                      s = e − len … e, the point s + ⌊(e − s)/3⌋ + ⌊(e − s)/6⌋, about half
                      way down the valley (see ``valley``)

Unlike fastai, each η_k is paired with the loss *after* the step taken with it, not the
loss of the batch it was applied to; and the test is one compiled ``lax.while_loop``
that really stops at divergence. The rate is set through ``optax.inject_hyperparams``,
so any optax optimizer that takes a ``learning_rate`` works, unchanged.

Both suggestions are heuristics, not limits: on a quadratic the run diverges only
once η has passed 2/λ_max for a while, and the smoothed curve lags the rate by about
1/(1 − β) steps. Compare with a sweep of fixed rates (``gdlab.train.sweep``) when
you can afford one.

The test reuses the engine of ``run`` and ``sweep``: the same loss shapes
(``objective``), the same compile cache (``cached``), the same name resolution and dtype
checks. ``first_rate_without_progress`` reads the honest limit off a sweep of fixed
rates, to compare the suggestions with.

Example:

>>> import jax.numpy as jnp
>>> f = lambda w: 0.5 * 4.0 * w**2                  # λ = 4, so GD diverges above η = 0.5
>>> t = lr_range_test(f, jnp.array(1.0), "sgd", min_lr=1e-3, max_lr=10.0, num_steps=200)
>>> t.status, t.stop_lr > 0.5, t.lr_steep < 0.5
('diverged', True, True)
"""

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from gdlab import optimizers as _optimizers
from gdlab.train._loop import cached, check_steps, objective
from gdlab.train._sweep import _accepts, _float_dtype, _static, resolve_factory

SKIP_END = 5  # fastai drops the last 5 recorded points before suggesting


@dataclass(frozen=True)
class RangeTest:
    """The record of one range test (arrays have length ``num_steps``).

    Attributes:
      lrs: η_k, the rate of update k (geometric from min_lr to max_lr).
      loss: L_k = f(w_{k+1}), the loss after update k; NaN after the stop.
      smoothed_loss: S_k, the bias-corrected moving average of L; NaN after the stop.
      initial_loss: f(w_0), before any update.
      stopped_at: the k at which the run stopped on divergence, or None if it ran
        through all ``num_steps`` updates.
      lr_steep: the rate of steepest descent of S (None if too few points were left).
      lr_min_over_10: the rate of the smallest S, divided by 10 (None likewise).
      lr_valley: fastai's "valley" suggestion on the same points (None likewise).
    """

    lrs: np.ndarray
    loss: np.ndarray
    smoothed_loss: np.ndarray
    initial_loss: float
    stopped_at: int | None
    lr_steep: float | None
    lr_min_over_10: float | None
    lr_valley: float | None = None

    @property
    def status(self) -> str:
        """"diverged" if the run stopped on divergence, else "ok"."""
        return "ok" if self.stopped_at is None else "diverged"

    @property
    def num_evaluated(self) -> int:
        """How many updates ran (stopped_at + 1, or num_steps)."""
        return len(self.lrs) if self.stopped_at is None else self.stopped_at + 1

    @property
    def stop_lr(self) -> float | None:
        """η at the stop, or None if the run did not stop."""
        return None if self.stopped_at is None else float(self.lrs[self.stopped_at])

    @property
    def suggestions(self) -> dict[str, float | None]:
        """{"steep": lr_steep, "minimum/10": lr_min_over_10, "valley": lr_valley}."""
        return {"steep": self.lr_steep, "minimum/10": self.lr_min_over_10,
                "valley": self.lr_valley}


def _curve(lrs, smoothed_loss, skip_start: int, skip_end: int):
    """The finite prefix of the curve without its first ``skip_start`` and last
    ``skip_end`` points, in float64."""
    lrs = np.asarray(lrs, dtype=np.float64)
    loss = np.asarray(smoothed_loss, dtype=np.float64)
    if lrs.shape != loss.shape or lrs.ndim != 1:
        raise ValueError(f"lrs and smoothed_loss must be 1-D of one length, got "
                         f"{lrs.shape} and {loss.shape}")
    bad = np.nonzero(~np.isfinite(loss))[0]
    n = bad[0] if bad.size else loss.size
    keep = slice(skip_start, max(n - skip_end, 0))
    return lrs[keep], loss[keep]


def first_rate_without_progress(rates, final_loss, initial_loss) -> float | None:
    """The first rate (in the given order) whose run ends no lower than it started.

    A run makes progress when its final loss is finite and below ``initial_loss``; a
    diverged run (final loss +inf or NaN) makes none. With rates in increasing order this
    is the measured limit a range test's suggestions should stay below. None: every run
    made progress.

    >>> first_rate_without_progress([0.1, 0.2, 0.4, 0.8], [0.5, 0.3, 1.2, float("inf")], 1.0)
    0.4
    """
    rates = np.asarray(rates, dtype=np.float64)
    final = np.asarray(final_loss, dtype=np.float64)
    if rates.shape != final.shape or rates.ndim != 1:
        raise ValueError(f"rates and final_loss must be 1-D of one length, got "
                         f"{rates.shape} and {final.shape}")
    bad = np.nonzero(~(np.isfinite(final) & (final < initial_loss)))[0]
    return float(rates[bad[0]]) if bad.size else None


def suggest(lrs, smoothed_loss, *, skip_start: int = 0, skip_end: int = SKIP_END):
    """The two suggestions from a loss-vs-rate curve: (steepest-descent η, argmin η / 10).

    Only the finite prefix of ``smoothed_loss`` counts; ``skip_start`` points are dropped
    from its start and ``skip_end`` from its end. The steep rate is η_k for the k that
    minimises (S_{k+1} − S_k) / (log η_{k+1} − log η_k) (the left end of the steepest
    segment, as in fastai). Returns (None, None) when fewer than two points are left.

    Example: ``suggest([0.1, 0.2, 0.4], [3.0, 1.0, 0.9])`` is ``(0.1, 0.04)``.
    """
    lrs, loss = _curve(lrs, smoothed_loss, skip_start, skip_end)
    if loss.size < 2:
        return None, None
    slopes = np.diff(loss) / np.diff(np.log(lrs))
    return float(lrs[np.argmin(slopes)]), float(lrs[np.argmin(loss)] / 10)


def valley(lrs, smoothed_loss, *, skip_start: int = 0, skip_end: int = SKIP_END):
    """fastai's ``valley`` suggestion (its ``lr_find`` default): η about half way down the
    longest valley of the loss-vs-rate curve; None when fewer than two points are left.

    On the same points as ``suggest`` (finite prefix, ``skip_start``/``skip_end`` dropped),
    with S the smoothed losses: d_i = 1 + max{d_j : j < i, S_i < S_j} is the length of the
    longest strictly decreasing subsequence ending at i (d_i = 1 if none); e = the first
    argmax of d, s = e − d_e (s = e = 0 if the curve never falls), and the suggestion is
    η at s + ⌊(e − s)/3⌋ + ⌊(e − s)/6⌋.
    (As in fastai, s is one before the valley's first point, and the points of the
    subsequence need not be consecutive: a noisy descent still counts as one valley.)

    Example: on a curve that falls over points 0…6 and then rises,
    ``valley(range(1, 11), [9, 8, 7, 6, 5, 4, 3, 5, 8, 9], skip_end=0)`` is 3.0
    (e = 6, d_e = 7, s = −1, index −1 + ⌊7/3⌋ + ⌊7/6⌋ = 2).
    """
    lrs, loss = _curve(lrs, smoothed_loss, skip_start, skip_end)
    if loss.size < 2:
        return None
    depth = np.ones(loss.size, dtype=int)
    for i in range(1, loss.size):
        lower = loss[i] < loss[:i]
        if lower.any():
            depth[i] = depth[:i][lower].max() + 1
    end = int(np.argmax(depth))
    start = end - int(depth[end]) if depth[end] > 1 else 0  # no descent at all: the first
    sections = (end - start) / 3
    # max(…, 0): where fastai's index is −1 (a two-point valley at the very start) Python
    # would wrap round to the *last* rate; the first is meant.
    return float(lrs[max(start + int(sections) + int(sections / 2), 0)])


# --------------------------------------------------------------------------- the loop


class _Carry(NamedTuple):
    """What the while loop carries from update k to k + 1."""

    k: jax.Array  # updates done so far
    params: Any
    state: Any  # the optimizer state (its learning_rate is set to η_k before update k)
    value: jax.Array  # f at params (given to the optimizer as value=)
    grad: Any  # ∇f at params
    average: jax.Array  # a_k, the biased moving average of the losses
    best: jax.Array  # min_j S_j so far
    loss: jax.Array  # L_0 … L_{num_steps−1} (NaN where not reached)
    smoothed: jax.Array  # S_0 … S_{num_steps−1}
    stop: jax.Array  # the loss blew up at the last update


@cached
def _compiled(loss_fn, factory, fixed, num_steps, has_data, stochastic):
    fixed = dict(fixed)
    make = optax.inject_hyperparams(factory, static_args=tuple(k for k, v in fixed.items()
                                                                if _static(v)))
    f = objective(loss_fn, has_data, stochastic)
    value_and_grad = jax.value_and_grad(f)

    def test(params, data, key, lrs, smoothing, stop_factor):
        step_key = (lambda k: jax.random.fold_in(key, k)) if stochastic else (lambda k: None)
        optimizer = optax.with_extra_args_support(make(learning_rate=lrs[0], **fixed))
        value0, grad0 = value_and_grad(params, data, step_key(0))
        dtype = value0.dtype
        smoothing = smoothing.astype(dtype)
        nan = jnp.full((num_steps,), jnp.nan, dtype)

        def cond(c: _Carry):
            return (c.k < num_steps) & ~c.stop

        def body(c: _Carry) -> _Carry:
            k = c.k
            state = c.state._replace(hyperparams={**c.state.hyperparams, "learning_rate": lrs[k]})
            value_fn = functools.partial(lambda p, kk: f(p, data, step_key(kk)), kk=k)
            updates, state = optimizer.update(
                c.grad, state, c.params, value=c.value, grad=c.grad, value_fn=value_fn
            )
            params = optax.apply_updates(c.params, updates)
            value, grad = value_and_grad(params, data, step_key(k + 1))
            average = smoothing * c.average + (1 - smoothing) * value
            smoothed = average / (1 - smoothing ** (k + 1).astype(dtype))
            best = jnp.minimum(c.best, smoothed)
            stop = ~jnp.isfinite(value) | ~(smoothed <= stop_factor * best)
            return _Carry(k + 1, params, state, value, grad, average, best,
                          c.loss.at[k].set(value), c.smoothed.at[k].set(smoothed), stop)

        start = _Carry(jnp.zeros((), jnp.int32), params, optimizer.init(params), value0, grad0,
                       jnp.zeros((), dtype), jnp.full((), jnp.inf, dtype), nan, nan,
                       jnp.zeros((), bool))
        end = jax.lax.while_loop(cond, body, start)
        return {"initial_loss": value0, "loss": end.loss, "smoothed": end.smoothed,
                "stopped_at": jnp.where(end.stop, end.k - 1, -1)}

    return jax.jit(test)


def _factory(optimizer, fixed: Mapping[str, Any]):
    """The optimizer factory; it must take a learning_rate (a built transformation has
    its rate fixed, so it is refused)."""
    if isinstance(optimizer, optax.GradientTransformation) or not (
            isinstance(optimizer, str) or callable(optimizer)):
        raise ValueError(
            f"optimizer must be a name or a factory f(learning_rate, ...) -> "
            f"GradientTransformation (a built transformation has its rate fixed), got "
            f"{optimizer!r}; valid names: {', '.join(_optimizers.names())}"
        )
    factory = resolve_factory(optimizer)
    if isinstance(optimizer, str):
        _optimizers.check_hyperparameters(optimizer, {**fixed, "learning_rate": 1.0})
    elif not _accepts(factory, "learning_rate"):
        raise ValueError("the optimizer factory must take a learning_rate argument")
    return factory


def _check(min_lr, max_lr, num_steps, smoothing, stop_factor) -> None:
    check_steps(num_steps)
    if num_steps < 2:
        raise ValueError(f"num_steps must be >= 2, got {num_steps}")
    if not (np.isfinite(min_lr) and np.isfinite(max_lr) and 0 < min_lr < max_lr):
        raise ValueError(f"need 0 < min_lr < max_lr (finite), got {min_lr} and {max_lr}")
    if not 0 <= smoothing < 1:
        raise ValueError(f"smoothing must be in [0, 1), got {smoothing}")
    if stop_factor is not None and not stop_factor > 1:
        raise ValueError(f"stop_factor must be > 1 (or None: stop only on NaN/inf), "
                         f"got {stop_factor}")


def lr_range_test(
    loss_fn: Callable,
    params,
    optimizer: str | Callable[..., optax.GradientTransformation],
    *,
    min_lr: float,
    max_lr: float,
    num_steps: int,
    smoothing: float = 0.98,
    stop_factor: float | None = 4.0,
    data=None,
    key=None,
    hyperparameters: Mapping[str, Any] | None = None,
    skip_start: int | None = None,
    skip_end: int = SKIP_END,
) -> RangeTest:
    """Run the learning-rate range test of ``optimizer`` on ``loss_fn`` from ``params``.

    Args:
      loss_fn: scalar loss, ``loss_fn(params)``, ``loss_fn(params, data)`` with ``data=``,
        and with ``key=`` also ``key=k_t`` (a fresh key per step: minibatches).
      params: the start, any pytree of float arrays (dtypes are kept).
      optimizer: a name from ``gdlab.optimizers.names()`` or a factory
        ``f(learning_rate, **hyperparameters) -> optax.GradientTransformation``
        (e.g. ``optax.adam``).
      min_lr, max_lr: the first and last rate, 0 < min_lr < max_lr.
      num_steps: the number of updates (>= 2); η grows by (max_lr/min_lr)^(1/(num_steps−1))
        per step.
      smoothing: β of the moving average, in [0, 1) (0: no smoothing).
      stop_factor: stop when S_k > stop_factor · min S; None stops only on NaN/inf.
      data: optional data pytree passed as ``loss_fn(params, data)``.
      key: optional PRNG key for stochastic losses (``loss_fn(..., key=k_t)``).
      hyperparameters: fixed hyperparameters of the optimizer, e.g. {"b1": 0.9}.
      skip_start, skip_end: points dropped before suggesting (default num_steps // 10
        and 5, as fastai).

    Returns:
      A ``RangeTest`` (rates, raw and smoothed losses, stop step, suggestions).

    Example:

    >>> import jax.numpy as jnp
    >>> f = lambda w: 0.5 * jnp.sum(jnp.array([1.0, 100.0]) * w**2)   # 2/λ_max = 0.02
    >>> t = lr_range_test(f, jnp.ones(2), "sgd", min_lr=1e-4, max_lr=1.0, num_steps=100)
    >>> t.status, t.stop_lr > 0.02, t.lr_steep < 0.02
    ('diverged', True, True)
    """
    _check(min_lr, max_lr, num_steps, smoothing, stop_factor)
    fixed = dict(hyperparameters or {})
    if "learning_rate" in fixed:
        raise ValueError("the range test sets learning_rate itself: leave it out of "
                         "hyperparameters")
    factory = _factory(optimizer, fixed)
    params = jax.tree.map(jnp.asarray, params)
    dtype = _float_dtype(params, False)
    has_data, stochastic = data is not None, key is not None
    try:
        out = jax.eval_shape(objective(loss_fn, has_data, stochastic), params, data, key)
    except TypeError as error:
        raise ValueError(f"loss_fn could not be called on these params: {error}") from None
    if getattr(out, "shape", None) != ():
        raise ValueError(f"loss_fn must return a scalar, got shape {getattr(out, 'shape', out)}")

    lrs = np.geomspace(min_lr, max_lr, num_steps)
    compiled = _compiled(loss_fn, factory, tuple(fixed.items()), int(num_steps), has_data,
                         stochastic)
    out = jax.device_get(compiled(
        params, data, key, jnp.asarray(lrs, dtype), jnp.asarray(smoothing, dtype),
        jnp.asarray(np.inf if stop_factor is None else stop_factor, dtype),
    ))
    stopped_at = int(out["stopped_at"])
    smoothed = np.asarray(out["smoothed"])
    skip_start = num_steps // 10 if skip_start is None else skip_start
    steep, minimum = suggest(lrs, smoothed, skip_start=skip_start, skip_end=skip_end)
    lr_valley = valley(lrs, smoothed, skip_start=skip_start, skip_end=skip_end)
    return RangeTest(
        lrs=np.asarray(lrs, dtype=np.result_type(dtype)),
        loss=np.asarray(out["loss"]),
        smoothed_loss=smoothed,
        initial_loss=float(out["initial_loss"]),
        stopped_at=None if stopped_at < 0 else stopped_at,
        lr_steep=steep,
        lr_min_over_10=minimum,
        lr_valley=lr_valley,
    )


__all__ = ["RangeTest", "first_rate_without_progress", "lr_range_test", "suggest", "valley"]
