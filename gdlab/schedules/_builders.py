"""The schedules themselves (pure step → value functions), the registry and tabulation."""

import inspect
from collections.abc import Callable, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax

from gdlab.schedules._checks import (
    check_number,
    check_steps,
    check_value,
    concrete,
    float_steps,
)

Schedule = Callable[[jax.typing.ArrayLike], jax.Array]


@float_steps
def constant(value) -> Schedule:
    """η(t) = value."""
    check_value("value", value)
    return optax.constant_schedule(value)


@float_steps
def piecewise_constant(init_value, boundaries_and_scales: Mapping[int, float]) -> Schedule:
    """η(t) = I · ∏ s_b over the boundaries b <= t: ``{100: 0.1}`` divides by 10 at step 100."""
    check_value("init_value", init_value)
    if not isinstance(boundaries_and_scales, Mapping) or not boundaries_and_scales:
        raise ValueError("boundaries_and_scales must be a non-empty dict {step: scale}")
    for boundary, scale in boundaries_and_scales.items():
        check_steps("a boundary of boundaries_and_scales", boundary, minimum=0)
        check_value(f"the scale at step {boundary}", scale)
    return optax.piecewise_constant_schedule(init_value, dict(boundaries_and_scales))


@float_steps
def step_decay(init_value, step_size: int, decay_rate: float = 0.1) -> Schedule:
    """η(t) = I · decay_rate^⌊t / step_size⌋: multiply by ``decay_rate`` every ``step_size``."""
    check_value("init_value", init_value)
    step_size = check_steps("step_size", step_size)
    check_number("decay_rate", decay_rate, 0.0, np.inf, high_open=True)
    return optax.exponential_decay(init_value, step_size, decay_rate, staircase=True)


@float_steps
def exponential(init_value, transition_steps: int, decay_rate: float,
                transition_begin: int = 0, end_value=None) -> Schedule:
    """η(t) = I · decay_rate^((t − begin) / transition_steps), held at I before ``begin``.

    With ``decay_rate < 1`` the values are clipped from below at ``end_value`` (if given).
    Without an end value the step sizes sum to a finite amount, about I·T/ln(1/rate):
    decay too fast and gradient descent stops short of the optimum.
    """
    check_value("init_value", init_value)
    check_value("end_value", end_value)
    transition_steps = check_steps("transition_steps", transition_steps)
    transition_begin = check_steps("transition_begin", transition_begin, minimum=0)
    check_number("decay_rate", decay_rate, 0.0, np.inf, high_open=True)
    return optax.exponential_decay(init_value, transition_steps, decay_rate,
                                   transition_begin=transition_begin, end_value=end_value)


@float_steps
def polynomial(init_value, end_value, power: float, transition_steps: int,
               transition_begin: int = 0) -> Schedule:
    """η(t) = (I − E)·(1 − min(t − begin, T)/T)^power + E, with T = ``transition_steps``."""
    check_value("init_value", init_value)
    check_value("end_value", end_value)
    check_number("power", power, 0.0, np.inf, high_open=True)
    transition_steps = check_steps("transition_steps", transition_steps)
    transition_begin = check_steps("transition_begin", transition_begin, minimum=0)
    return optax.polynomial_schedule(init_value, end_value, power, transition_steps,
                                     transition_begin)


@float_steps
def linear(init_value, end_value, transition_steps: int, transition_begin: int = 0) -> Schedule:
    """η(t) = I + (E − I)·min(t − begin, T)/T: a straight line from I to E, then E."""
    return polynomial(init_value, end_value, 1, transition_steps, transition_begin)


def _inverse_power(init_value, timescale: float, power: float) -> Schedule:
    check_value("init_value", init_value)
    check_number("timescale", timescale, 0.0, np.inf, high_open=True)

    def schedule(count):
        return init_value / (1 + jnp.maximum(count, 0) / timescale) ** power

    return schedule


@float_steps
def inverse_sqrt(init_value, timescale: float = 1.0) -> Schedule:
    """η(t) = I / √(1 + t/timescale): a quarter of I at t = 15·timescale."""
    return _inverse_power(init_value, timescale, 0.5)


@float_steps
def inverse_time(init_value, timescale: float = 1.0) -> Schedule:
    """η(t) = I / (1 + t/timescale), the Robbins–Monro rate: Σ η(t) = ∞ but Σ η(t)² < ∞."""
    return _inverse_power(init_value, timescale, 1.0)


@float_steps
def cosine(init_value, decay_steps: int, alpha=0.0, exponent: float = 1.0) -> Schedule:
    """η(t) = I·(α + (1 − α)·c^exponent), c = ½(1 + cos(π·min(t, T)/T)), T = decay_steps.

    At the midpoint (exponent 1) η = I·(1 + α)/2, the mean of the start and the end.
    """
    check_value("init_value", init_value)
    decay_steps = check_steps("decay_steps", decay_steps)
    if concrete(alpha):
        check_number("alpha", alpha, 0.0, 1.0, low_open=False)
    check_number("exponent", exponent, 0.0, np.inf, high_open=True)
    return optax.cosine_decay_schedule(init_value, decay_steps, alpha, exponent)


@float_steps
def warmup_constant(init_value, peak_value, warmup_steps: int) -> Schedule:
    """η(t) = I + (P − I)·min(t, W)/W: a linear ramp from I to P over W steps, then P."""
    check_value("init_value", init_value)
    check_value("peak_value", peak_value)
    warmup_steps = check_steps("warmup_steps", warmup_steps)
    return optax.warmup_constant_schedule(init_value, peak_value, warmup_steps)


def _cosine_from_to(start, end, steps: int, exponent: float) -> Schedule:
    """end + (start − end)·c(t)^exponent: safe for any traced start and end (even 0)."""
    decay = optax.cosine_decay_schedule(1.0, steps, 0.0, exponent)
    return lambda count: end + (start - end) * decay(count)


@float_steps
def warmup_cosine(init_value, peak_value, warmup_steps: int, decay_steps: int,
                  end_value=0.0, exponent: float = 1.0) -> Schedule:
    """Linear warmup I → P over W steps, then cosine decay P → E until step ``decay_steps``.

    ``decay_steps`` counts the warmup, as in optax: the cosine lasts decay_steps − W
    steps. Unlike ``optax.warmup_cosine_decay_schedule`` (which tests ``peak_value ==
    0`` in Python), the peak may be a traced number.
    """
    check_value("init_value", init_value)
    check_value("peak_value", peak_value)
    check_value("end_value", end_value)
    warmup_steps = check_steps("warmup_steps", warmup_steps, minimum=0)
    decay_steps = check_steps("decay_steps", decay_steps, minimum=warmup_steps + 1)
    check_number("exponent", exponent, 0.0, np.inf, high_open=True)
    pieces = [
        optax.linear_schedule(init_value, peak_value, warmup_steps),
        _cosine_from_to(peak_value, end_value, decay_steps - warmup_steps, exponent),
    ]
    return optax.join_schedules(pieces, [warmup_steps])


def _check_onecycle(transition_steps, peak_value, pct_start, div_factor, final_div_factor):
    check_value("peak_value", peak_value)
    transition_steps = check_steps("transition_steps", transition_steps)
    check_number("pct_start", pct_start, 0.0, 1.0, high_open=True)
    check_number("div_factor", div_factor, 0.0, np.inf, high_open=True)
    check_number("final_div_factor", final_div_factor, 0.0, np.inf, high_open=True)
    if int(pct_start * transition_steps) < 1:
        raise ValueError(f"pct_start·transition_steps = {pct_start * transition_steps:g} "
                         "leaves no warmup step; raise pct_start or transition_steps")
    return transition_steps


@float_steps
def linear_onecycle(transition_steps: int, peak_value, pct_start: float = 0.3,
                    pct_final: float = 0.85, div_factor: float = 25.0,
                    final_div_factor: float = 1e4) -> Schedule:
    """Linear one-cycle: P/d → P at pct_start·T, → P/d at pct_final·T, → P/(d·f) at T."""
    transition_steps = _check_onecycle(transition_steps, peak_value, pct_start, div_factor,
                                       final_div_factor)
    check_number("pct_final", pct_final, pct_start, 1.0)
    return optax.linear_onecycle_schedule(transition_steps, peak_value, pct_start, pct_final,
                                          div_factor, final_div_factor)


@float_steps
def cosine_onecycle(transition_steps: int, peak_value, pct_start: float = 0.3,
                    div_factor: float = 25.0, final_div_factor: float = 1e4) -> Schedule:
    """Cosine one-cycle: P/d → P at pct_start·T, then → P/(d·f) at T, cosine-shaped."""
    transition_steps = _check_onecycle(transition_steps, peak_value, pct_start, div_factor,
                                       final_div_factor)
    return optax.cosine_onecycle_schedule(transition_steps, peak_value, pct_start, div_factor,
                                          final_div_factor)


@float_steps
def sgdr(init_value, decay_steps: int, num_cycles: int, cycle_mult: int = 1,
         alpha=0.0) -> Schedule:
    """Warm restarts: ``num_cycles`` cosine decays I → α·I of T, T·m, T·m², … steps.

    Cycle k starts at step T·(1 + m + … + m^(k−1)); after the last one η stays at α·I.
    (``optax.sgdr_schedule`` takes a list of warmup-cosine dicts instead.)
    """
    check_value("init_value", init_value)
    decay_steps = check_steps("decay_steps", decay_steps)
    num_cycles = check_steps("num_cycles", num_cycles)
    cycle_mult = check_steps("cycle_mult", cycle_mult)
    if concrete(alpha):
        check_number("alpha", alpha, 0.0, 1.0, low_open=False)
    lengths = [decay_steps * cycle_mult**k for k in range(num_cycles)]
    pieces = [optax.cosine_decay_schedule(init_value, n, alpha) for n in lengths]
    return optax.join_schedules(pieces, list(np.cumsum(lengths)[:-1].tolist()))


_BUILDERS: dict[str, Callable[..., Schedule]] = {
    "constant": constant,
    "piecewise_constant": piecewise_constant,
    "step_decay": step_decay,
    "exponential": exponential,
    "polynomial": polynomial,
    "linear": linear,
    "inverse_sqrt": inverse_sqrt,
    "inverse_time": inverse_time,
    "cosine": cosine,
    "warmup_constant": warmup_constant,
    "warmup_cosine": warmup_cosine,
    "linear_onecycle": linear_onecycle,
    "cosine_onecycle": cosine_onecycle,
    "sgdr": sgdr,
}

PEAK_ARGUMENT: dict[str, str] = {
    name: ("value" if name == "constant"
           else "peak_value" if "peak_value" in inspect.signature(builder).parameters
           else "init_value")
    for name, builder in _BUILDERS.items()
}
"""The argument of each schedule that sets its scale (its largest value, for the decays)."""


def names() -> list[str]:
    """The schedule names ``make`` knows, sorted (reduce-on-plateau: ``reduce_on_plateau``)."""
    return sorted(_BUILDERS)


def arguments(name: str) -> list[str]:
    """The keyword arguments schedule ``name`` accepts (optax's names)."""
    return list(inspect.signature(lookup(name)).parameters)


def lookup(name: str) -> Callable[..., Schedule]:
    if name == "reduce_on_plateau":
        raise ValueError(
            "reduce_on_plateau depends on the loss, not on the step, so it is not a schedule: "
            "chain gdlab.schedules.reduce_on_plateau(...) after an optimizer, e.g. "
            "optax.chain(gdlab.optimizers.make('sgd', learning_rate=0.1), "
            "gdlab.schedules.reduce_on_plateau(patience=5))"
        )
    if not isinstance(name, str) or name not in _BUILDERS:
        raise ValueError(f"unknown schedule {name!r}; valid names: {', '.join(names())}")
    return _BUILDERS[name]


def make(name: str, **kwargs) -> Schedule:
    """The schedule ``name`` (see ``names()``) with optax's argument names.

    Example::

        make("warmup_cosine", init_value=0.0, peak_value=0.1, warmup_steps=50,
             decay_steps=1000)
        make("step_decay", init_value=0.1, step_size=300, decay_rate=0.1)
    """
    builder = lookup(name)
    parameters = inspect.signature(builder).parameters
    unknown = sorted(set(kwargs) - set(parameters))
    if unknown:
        raise ValueError(f"schedule {name!r} has no argument {', '.join(map(repr, unknown))}; "
                         f"valid: {', '.join(parameters)}")
    missing = [p for p, spec in parameters.items()
               if spec.default is inspect.Parameter.empty and p not in kwargs]
    if missing:
        raise ValueError(f"schedule {name!r} needs {', '.join(missing)} "
                         f"(valid: {', '.join(parameters)})")
    return builder(**kwargs)


def evaluate(schedule: Schedule, num_steps: int) -> jax.Array:
    """η(0), …, η(num_steps − 1) as one array (the learning rates of num_steps updates)."""
    return tabulate([schedule], num_steps)[0]


def tabulate(schedules: Sequence[Schedule], num_steps: int) -> jax.Array:
    """Several schedules over steps 0 … num_steps − 1: shape (len(schedules), num_steps).

    One compilation for all of them (each schedule alone would cost one).
    """
    num_steps = check_steps("num_steps", num_steps)
    schedules = list(schedules)
    if not schedules or not all(callable(s) for s in schedules):
        raise ValueError("schedules must be a non-empty sequence of schedules (callables)")
    steps = jnp.arange(num_steps, dtype=jnp.int32)  # optax's update counts

    def table(t):
        return jnp.stack([jnp.broadcast_to(jax.vmap(s)(t), t.shape) for s in schedules])

    return jax.jit(table)(steps)
