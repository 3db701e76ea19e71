"""Factories that put schedules into ``train.sweep``: a traced peak, or a table of shapes."""

import inspect
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from gdlab.schedules._builders import PEAK_ARGUMENT, lookup, make, tabulate
from gdlab.schedules._checks import check_steps


def _optimizer_parts(optimizer) -> tuple[Callable, list[inspect.Parameter]]:
    """The optimizer factory and its parameters other than learning_rate."""
    from gdlab import optimizers

    factory = optimizers.factory(optimizer) if isinstance(optimizer, str) else optimizer
    if not callable(factory):
        raise ValueError(f"optimizer must be a name or a factory, got {optimizer!r}; "
                         f"valid names: {', '.join(optimizers.names())}")
    parameters = inspect.signature(factory).parameters
    if "learning_rate" not in parameters:
        raise ValueError(f"optimizer {optimizer!r} takes no learning_rate")
    rest = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for n, p in parameters.items()
            if n != "learning_rate"]
    return factory, rest


def _signed(function, names: Sequence[str], rest: list[inspect.Parameter]):
    """Give ``function`` an explicit signature, so ``train.sweep`` sees which names it takes."""
    leading = [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in names]
    function.__signature__ = inspect.Signature(leading + rest)
    return function


def optimizer_factory(optimizer, schedule: str, **schedule_kwargs) -> Callable:
    """A factory ``f(learning_rate, **hyperparameters)`` whose learning rate is a schedule.

    ``learning_rate`` becomes the schedule's scale (``PEAK_ARGUMENT[schedule]``: the
    ``value`` of a constant, the ``peak_value`` of a warmup or one-cycle, else
    ``init_value``); ``schedule_kwargs`` fix the rest. It is what ``train.sweep``
    needs to tune a schedule's peak in one compiled call (the peak is traced).

    Args:
      optimizer: an optimizer name (``gdlab.optimizers.names()``) or a factory
        ``g(learning_rate, **hyperparameters) -> GradientTransformation``.
      schedule: a schedule name (``names()``).
      schedule_kwargs: the schedule's other arguments, checked now.

    Example::

        f = optimizer_factory("sgd", "cosine", decay_steps=1000)
        sweep(loss, x0, f, {"learning_rate": np.geomspace(0.01, 1, 8)}, 1000)
    """
    factory, rest = _optimizer_parts(optimizer)
    peak = PEAK_ARGUMENT.get(schedule)
    lookup(schedule)  # unknown names fail here
    if peak in schedule_kwargs:
        raise ValueError(f"{peak} is the swept learning_rate; do not pass it in schedule_kwargs")
    make(schedule, **{peak: 1.0}, **schedule_kwargs)  # bad arguments fail now, not traced

    def build(learning_rate, **hyperparameters):
        rate = make(schedule, **{peak: learning_rate}, **schedule_kwargs)
        return factory(learning_rate=rate, **hyperparameters)

    return _signed(build, ["learning_rate"], rest)


def table_factory(optimizer, shapes, num_steps: int) -> Callable:
    """Several schedule shapes in one compiled sweep: ``f(learning_rate, schedule, **hyper)``.

    Each shape s_k (a schedule with peak 1, e.g. ``make("cosine", init_value=1.0,
    decay_steps=T)``) is tabulated over ``num_steps`` steps (``shapes`` may also be
    that table already, an array (k, num_steps) from ``tabulate``); the optimizer's rate is
    η(t) = learning_rate · s_k(t) with k = round(schedule) (held at s_k(num_steps − 1)
    after the table ends). Both names are ordinary traced hyperparameters, so
    ``train.sweep(..., {"schedule": range(len(shapes)), "learning_rate": peaks})``
    tunes the peak of every shape in one compilation.

    Example::

        shapes = [make("constant", value=1.0), make("cosine", init_value=1.0, decay_steps=T)]
        f = table_factory("sgd", shapes, T)
        sweep(loss, x0, f, {"schedule": [0, 1], "learning_rate": peaks}, T)
    """
    factory, rest = _optimizer_parts(optimizer)
    num_steps = check_steps("num_steps", num_steps)
    if isinstance(shapes, np.ndarray | jax.Array):
        table = np.asarray(shapes, dtype=np.float64)
        if table.ndim != 2 or table.shape[0] < 1 or table.shape[1] != num_steps:
            raise ValueError(f"a table of shapes must be (k >= 1, {num_steps}), got {table.shape}")
    else:
        if not shapes:
            raise ValueError("shapes must be a non-empty sequence of schedules")
        table = np.asarray(tabulate(shapes, num_steps), dtype=np.float64)
    if not np.all(np.isfinite(table)) or np.any(table < 0):
        raise ValueError("every shape must give finite values >= 0 over num_steps steps")

    def build(learning_rate, schedule, **hyperparameters):
        row = jnp.clip(jnp.round(schedule).astype(jnp.int32), 0, len(table) - 1)
        values = jnp.asarray(table, dtype=jnp.result_type(learning_rate))

        def rate(count):
            return learning_rate * values[row, jnp.minimum(count, num_steps - 1)]

        return factory(learning_rate=rate, **hyperparameters)

    return _signed(build, ["learning_rate", "schedule"], rest)
