"""Learning-rate schedules by name: pure functions step → value, built on optax's schedules.

A schedule η(t) stands wherever a learning rate does: update t (t = 0, 1, 2, …; optax
counts the updates already made) is w ← w − η(t)·g. ``make(name, **kwargs)`` builds one,
with optax's argument names (I = ``init_value``, P = ``peak_value``, E = ``end_value``)::

    constant            η(t) = value
    piecewise_constant  η(t) = I · ∏_{b ≤ t} s_b          boundaries_and_scales = {b: s_b}
    step_decay          η(t) = I · decay_rate^⌊t / step_size⌋
    exponential         η(t) = I · decay_rate^(t / transition_steps)    (clipped at E)
    polynomial          η(t) = (I − E)·(1 − min(t, T)/T)^power + E,     T = transition_steps
    linear              polynomial with power 1
    inverse_sqrt        η(t) = I / √(1 + t/timescale)
    inverse_time        η(t) = I / (1 + t/timescale)     (Robbins–Monro: Σ η = ∞, Σ η² < ∞)
    cosine              η(t) = I·(α + (1 − α)·c(t)^exponent),  c(t) = ½(1 + cos(π·min(t, T)/T))
    warmup_constant     η(t) = I + (P − I)·min(t, W)/W
    warmup_cosine       linear I → P over W steps, then E + (P − E)·c(t − W) over T − W steps
    linear_onecycle     P/d → P → P/d → P/(d·f), linear pieces ending at pct_start·T,
                        pct_final·T and T                                 (Smith 2017)
    cosine_onecycle     P/d → P → P/(d·f), cosine pieces ending at pct_start·T and T
    sgdr                cosine cycles of T, T·m, T·m², … steps, each restarting at I
                        (Loshchilov & Hutter 2017, warm restarts)

Reduce-on-plateau is not a function of the step: it watches the loss. It is an optax
``GradientTransformation`` that multiplies the updates by a scale (1, then ``factor``,
``factor²``, … after every ``patience`` evaluations without improvement), so it is
chained *after* an optimizer, and ``gdlab.train.run`` passes it the loss::

    opt = optax.chain(gdlab.optimizers.make("sgd", learning_rate=0.1),
                      gdlab.schedules.reduce_on_plateau(factor=0.5, patience=5))

Values (I, P, E, ``value``, ``alpha``) may be traced JAX numbers, so a sweep can vary a
schedule's peak in one compiled call; step counts and shape factors must be Python
numbers. ``optimizer_factory`` makes the factory such a sweep needs;
``table_factory`` runs several schedule *shapes* in one compiled sweep; ``evaluate`` and
``tabulate`` give a schedule's values over a budget of steps. Bad arguments
(negative values, non-positive step counts, unknown names or arguments) raise
``ValueError`` when the schedule is made, not when it is first called.

Example::

    sched = make("cosine", init_value=0.3, decay_steps=100)
    sched(50)                                 # 0.15: halfway, the mean of 0.3 and 0
    opt = gdlab.optimizers.make("sgd", learning_rate=sched)
"""

import functools
import inspect
from collections.abc import Callable, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax

Schedule = Callable[[jax.typing.ArrayLike], jax.Array]

# --------------------------------------------------------------------------- checks


def _concrete(value) -> bool:
    return not isinstance(value, jax.core.Tracer)


def _check_value(name: str, value, *, positive: bool = False) -> None:
    """A value argument: finite and >= 0 (> 0 with ``positive``); tracers pass unchecked."""
    if value is None or not _concrete(value):
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


def _check_steps(name: str, value, *, minimum: int = 1) -> int:
    """A step count: a Python integer >= ``minimum`` (it fixes the schedule's shape)."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{name} must be an integer number of steps, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def _check_number(name: str, value, low: float, high: float, *, low_open: bool = True,
                  high_open: bool = False) -> None:
    """A shape factor: a concrete number in the interval (low, high] (ends as flagged)."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        raise ValueError(f"{name} must be a Python number, got {value!r}")
    too_low = value <= low if low_open else value < low
    too_high = value >= high if high_open else value > high
    if too_low or too_high or not np.isfinite(value):
        brackets = ("(" if low_open else "[") + f"{low:g}, {high:g}" + (")" if high_open else "]")
        raise ValueError(f"{name} must be in {brackets}, got {value!r}")


def _float_steps(builder):
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


# --------------------------------------------------------------------------- schedules


@_float_steps
def constant(value) -> Schedule:
    """η(t) = value."""
    _check_value("value", value)
    return optax.constant_schedule(value)


@_float_steps
def piecewise_constant(init_value, boundaries_and_scales: Mapping[int, float]) -> Schedule:
    """η(t) = I · ∏ s_b over the boundaries b <= t: ``{100: 0.1}`` divides by 10 at step 100."""
    _check_value("init_value", init_value)
    if not isinstance(boundaries_and_scales, Mapping) or not boundaries_and_scales:
        raise ValueError("boundaries_and_scales must be a non-empty dict {step: scale}")
    for boundary, scale in boundaries_and_scales.items():
        _check_steps("a boundary of boundaries_and_scales", boundary, minimum=0)
        _check_value(f"the scale at step {boundary}", scale)
    return optax.piecewise_constant_schedule(init_value, dict(boundaries_and_scales))


@_float_steps
def step_decay(init_value, step_size: int, decay_rate: float = 0.1) -> Schedule:
    """η(t) = I · decay_rate^⌊t / step_size⌋: multiply by ``decay_rate`` every ``step_size``."""
    _check_value("init_value", init_value)
    step_size = _check_steps("step_size", step_size)
    _check_number("decay_rate", decay_rate, 0.0, np.inf, high_open=True)
    return optax.exponential_decay(init_value, step_size, decay_rate, staircase=True)


@_float_steps
def exponential(init_value, transition_steps: int, decay_rate: float,
                transition_begin: int = 0, end_value=None) -> Schedule:
    """η(t) = I · decay_rate^((t − begin) / transition_steps), held at I before ``begin``.

    With ``decay_rate < 1`` the values are clipped from below at ``end_value`` (if given).
    Without an end value the step sizes sum to a finite amount, about I·T/ln(1/rate):
    decay too fast and gradient descent stops short of the optimum.
    """
    _check_value("init_value", init_value)
    _check_value("end_value", end_value)
    transition_steps = _check_steps("transition_steps", transition_steps)
    transition_begin = _check_steps("transition_begin", transition_begin, minimum=0)
    _check_number("decay_rate", decay_rate, 0.0, np.inf, high_open=True)
    return optax.exponential_decay(init_value, transition_steps, decay_rate,
                                   transition_begin=transition_begin, end_value=end_value)


@_float_steps
def polynomial(init_value, end_value, power: float, transition_steps: int,
               transition_begin: int = 0) -> Schedule:
    """η(t) = (I − E)·(1 − min(t − begin, T)/T)^power + E, with T = ``transition_steps``."""
    _check_value("init_value", init_value)
    _check_value("end_value", end_value)
    _check_number("power", power, 0.0, np.inf, high_open=True)
    transition_steps = _check_steps("transition_steps", transition_steps)
    transition_begin = _check_steps("transition_begin", transition_begin, minimum=0)
    return optax.polynomial_schedule(init_value, end_value, power, transition_steps,
                                     transition_begin)


@_float_steps
def linear(init_value, end_value, transition_steps: int, transition_begin: int = 0) -> Schedule:
    """η(t) = I + (E − I)·min(t − begin, T)/T: a straight line from I to E, then E."""
    return polynomial(init_value, end_value, 1, transition_steps, transition_begin)


def _inverse_power(init_value, timescale: float, power: float) -> Schedule:
    _check_value("init_value", init_value)
    _check_number("timescale", timescale, 0.0, np.inf, high_open=True)

    def schedule(count):
        return init_value / (1 + jnp.maximum(count, 0) / timescale) ** power

    return schedule


@_float_steps
def inverse_sqrt(init_value, timescale: float = 1.0) -> Schedule:
    """η(t) = I / √(1 + t/timescale): a quarter of I at t = 15·timescale."""
    return _inverse_power(init_value, timescale, 0.5)


@_float_steps
def inverse_time(init_value, timescale: float = 1.0) -> Schedule:
    """η(t) = I / (1 + t/timescale), the Robbins–Monro rate: Σ η(t) = ∞ but Σ η(t)² < ∞."""
    return _inverse_power(init_value, timescale, 1.0)


@_float_steps
def cosine(init_value, decay_steps: int, alpha=0.0, exponent: float = 1.0) -> Schedule:
    """η(t) = I·(α + (1 − α)·c^exponent), c = ½(1 + cos(π·min(t, T)/T)), T = decay_steps.

    At the midpoint (exponent 1) η = I·(1 + α)/2, the mean of the start and the end.
    """
    _check_value("init_value", init_value)
    decay_steps = _check_steps("decay_steps", decay_steps)
    if _concrete(alpha):
        _check_number("alpha", alpha, 0.0, 1.0, low_open=False)
    _check_number("exponent", exponent, 0.0, np.inf, high_open=True)
    return optax.cosine_decay_schedule(init_value, decay_steps, alpha, exponent)


@_float_steps
def warmup_constant(init_value, peak_value, warmup_steps: int) -> Schedule:
    """η(t) = I + (P − I)·min(t, W)/W: a linear ramp from I to P over W steps, then P."""
    _check_value("init_value", init_value)
    _check_value("peak_value", peak_value)
    warmup_steps = _check_steps("warmup_steps", warmup_steps)
    return optax.warmup_constant_schedule(init_value, peak_value, warmup_steps)


def _cosine_from_to(start, end, steps: int, exponent: float) -> Schedule:
    """end + (start − end)·c(t)^exponent: safe for any traced start and end (even 0)."""
    decay = optax.cosine_decay_schedule(1.0, steps, 0.0, exponent)
    return lambda count: end + (start - end) * decay(count)


@_float_steps
def warmup_cosine(init_value, peak_value, warmup_steps: int, decay_steps: int,
                  end_value=0.0, exponent: float = 1.0) -> Schedule:
    """Linear warmup I → P over W steps, then cosine decay P → E until step ``decay_steps``.

    ``decay_steps`` counts the warmup, as in optax: the cosine lasts decay_steps − W
    steps. Unlike ``optax.warmup_cosine_decay_schedule`` (which tests ``peak_value ==
    0`` in Python), the peak may be a traced number.
    """
    _check_value("init_value", init_value)
    _check_value("peak_value", peak_value)
    _check_value("end_value", end_value)
    warmup_steps = _check_steps("warmup_steps", warmup_steps, minimum=0)
    decay_steps = _check_steps("decay_steps", decay_steps, minimum=warmup_steps + 1)
    _check_number("exponent", exponent, 0.0, np.inf, high_open=True)
    pieces = [
        optax.linear_schedule(init_value, peak_value, warmup_steps),
        _cosine_from_to(peak_value, end_value, decay_steps - warmup_steps, exponent),
    ]
    return optax.join_schedules(pieces, [warmup_steps])


def _check_onecycle(transition_steps, peak_value, pct_start, div_factor, final_div_factor):
    _check_value("peak_value", peak_value)
    transition_steps = _check_steps("transition_steps", transition_steps)
    _check_number("pct_start", pct_start, 0.0, 1.0, high_open=True)
    _check_number("div_factor", div_factor, 0.0, np.inf, high_open=True)
    _check_number("final_div_factor", final_div_factor, 0.0, np.inf, high_open=True)
    if int(pct_start * transition_steps) < 1:
        raise ValueError(f"pct_start·transition_steps = {pct_start * transition_steps:g} "
                         "leaves no warmup step; raise pct_start or transition_steps")
    return transition_steps


@_float_steps
def linear_onecycle(transition_steps: int, peak_value, pct_start: float = 0.3,
                    pct_final: float = 0.85, div_factor: float = 25.0,
                    final_div_factor: float = 1e4) -> Schedule:
    """Linear one-cycle: P/d → P at pct_start·T, → P/d at pct_final·T, → P/(d·f) at T."""
    transition_steps = _check_onecycle(transition_steps, peak_value, pct_start, div_factor,
                                       final_div_factor)
    _check_number("pct_final", pct_final, pct_start, 1.0)
    return optax.linear_onecycle_schedule(transition_steps, peak_value, pct_start, pct_final,
                                          div_factor, final_div_factor)


@_float_steps
def cosine_onecycle(transition_steps: int, peak_value, pct_start: float = 0.3,
                    div_factor: float = 25.0, final_div_factor: float = 1e4) -> Schedule:
    """Cosine one-cycle: P/d → P at pct_start·T, then → P/(d·f) at T, cosine-shaped."""
    transition_steps = _check_onecycle(transition_steps, peak_value, pct_start, div_factor,
                                       final_div_factor)
    return optax.cosine_onecycle_schedule(transition_steps, peak_value, pct_start, div_factor,
                                          final_div_factor)


@_float_steps
def sgdr(init_value, decay_steps: int, num_cycles: int, cycle_mult: int = 1,
         alpha=0.0) -> Schedule:
    """Warm restarts: ``num_cycles`` cosine decays I → α·I of T, T·m, T·m², … steps.

    Cycle k starts at step T·(1 + m + … + m^(k−1)); after the last one η stays at α·I.
    (``optax.sgdr_schedule`` takes a list of warmup-cosine dicts instead.)
    """
    _check_value("init_value", init_value)
    decay_steps = _check_steps("decay_steps", decay_steps)
    num_cycles = _check_steps("num_cycles", num_cycles)
    cycle_mult = _check_steps("cycle_mult", cycle_mult)
    if _concrete(alpha):
        _check_number("alpha", alpha, 0.0, 1.0, low_open=False)
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
    return list(inspect.signature(_builder(name)).parameters)


def _builder(name: str) -> Callable[..., Schedule]:
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
    builder = _builder(name)
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
    num_steps = _check_steps("num_steps", num_steps)
    schedules = list(schedules)
    if not schedules or not all(callable(s) for s in schedules):
        raise ValueError("schedules must be a non-empty sequence of schedules (callables)")
    steps = jnp.arange(num_steps, dtype=jnp.int32)  # optax's update counts

    def table(t):
        return jnp.stack([jnp.broadcast_to(jax.vmap(s)(t), t.shape) for s in schedules])

    return jax.jit(table)(steps)


# --------------------------------------------------------------------------- plateau


def reduce_on_plateau(*, factor: float = 0.1, patience: int = 10, rtol: float = 1e-4,
                      atol: float = 0.0, cooldown: int = 0, accumulation_size: int = 1,
                      min_scale: float = 0.0) -> optax.GradientTransformationExtraArgs:
    """Multiply the updates by a scale that drops by ``factor`` when the loss stops improving.

    ``optax.contrib.reduce_on_plateau``: the loss values passed as ``value=`` are averaged
    over ``accumulation_size`` updates; an average improves if it is below
    (1 − rtol)·best − atol. After ``patience`` averages in a row without improvement,
    scale ← max(scale·factor, min_scale), then ``cooldown`` averages are ignored. Chain
    it after an optimizer, whose updates it scales (the effective learning rate is
    η·scale); ``gdlab.train.run`` and ``sweep`` pass ``value=`` on every update. With a
    stochastic loss, average over about an epoch (``accumulation_size``) so that noise
    does not look like a plateau. ``min_scale`` may be traced (1 switches it off).

    Example::

        opt = optax.chain(optax.sgd(0.1), reduce_on_plateau(factor=0.5, patience=5))
        updates, state = opt.update(grads, state, params, value=loss)
        optax.tree_utils.tree_get(state, "scale")        # the current multiplier
    """
    _check_number("factor", factor, 0.0, 1.0, high_open=True)
    patience = _check_steps("patience", patience)
    _check_value("rtol", rtol)
    _check_value("atol", atol)
    if rtol == 0 and atol == 0:
        raise ValueError("at least one of rtol and atol must be > 0")
    if rtol > 1:
        raise ValueError(f"rtol must be <= 1, got {rtol}")
    cooldown = _check_steps("cooldown", cooldown, minimum=0)
    accumulation_size = _check_steps("accumulation_size", accumulation_size)
    _check_value("min_scale", min_scale)
    return optax.contrib.reduce_on_plateau(factor=factor, patience=patience, rtol=rtol,
                                           atol=atol, cooldown=cooldown,
                                           accumulation_size=accumulation_size,
                                           min_scale=min_scale)


# --------------------------------------------------------------------------- sweeps


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
    _builder(schedule)  # unknown names fail here
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
    num_steps = _check_steps("num_steps", num_steps)
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


__all__ = [
    "PEAK_ARGUMENT",
    "Schedule",
    "arguments",
    "constant",
    "cosine",
    "cosine_onecycle",
    "evaluate",
    "exponential",
    "inverse_sqrt",
    "inverse_time",
    "linear",
    "linear_onecycle",
    "make",
    "names",
    "optimizer_factory",
    "piecewise_constant",
    "polynomial",
    "reduce_on_plateau",
    "sgdr",
    "step_decay",
    "table_factory",
    "tabulate",
    "warmup_constant",
    "warmup_cosine",
]
