"""Argument checks shared by the schedules: values, step counts, shape factors."""

import functools
import inspect

import jax
import jax.numpy as jnp
import numpy as np


def concrete(value) -> bool:
    return not isinstance(value, jax.core.Tracer)


def check_value(name: str, value, *, positive: bool = False) -> None:
    """A value argument: finite and >= 0 (> 0 with ``positive``); tracers pass unchecked."""
    if value is None or not concrete(value):
        return
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if positive and not np.all(array > 0):
        raise ValueError(f"{name} must be > 0, got {value!r}")
    if not np.all(array >= 0):
        raise ValueError(f"{name} must be >= 0, got {value!r}")


def check_steps(name: str, value, *, minimum: int = 1) -> int:
    """A step count: a Python integer >= ``minimum`` (it fixes the schedule's shape)."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{name} must be an integer number of steps, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def check_number(name: str, value, low: float, high: float, *, low_open: bool = True,
                  high_open: bool = False) -> None:
    """A shape factor: a concrete number in the interval (low, high] (ends as flagged)."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        raise ValueError(f"{name} must be a Python number, got {value!r}")
    too_low = value <= low if low_open else value < low
    too_high = value >= high if high_open else value > high
    if too_low or too_high or not np.isfinite(value):
        brackets = ("(" if low_open else "[") + f"{low:g}, {high:g}" + (")" if high_open else "]")
        raise ValueError(f"{name} must be in {brackets}, got {value!r}")


def float_steps(builder):
    """Evaluate the built schedule at a float step count, in the dtype of its value arguments.

    optax counts updates in int32, and int32 / int is float32 in JAX even with float64
    enabled; converting the count first keeps float64 schedules float64 (and float32 ones
    float32: the dtype is that of the typed value arguments, else JAX's default float).
    """
    signature = inspect.signature(builder)

    @functools.wraps(builder)
    def wrapped(*args, **kwargs):
        schedule = builder(*args, **kwargs)
        typed = [v for v in signature.bind(*args, **kwargs).arguments.values()
                 if hasattr(v, "dtype") and jnp.issubdtype(v.dtype, jnp.floating)]

        def at(count):
            return schedule(jnp.asarray(count, dtype=jnp.result_type(*typed, float)))

        return at

    return wrapped
