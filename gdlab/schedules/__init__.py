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

Files: ``_builders`` (the schedules, ``make``, ``evaluate``, ``tabulate``), ``_plateau``
(``reduce_on_plateau``), ``_sweeps`` (``optimizer_factory``, ``table_factory``),
``_checks`` (argument checks, float step counts).

Example::

    sched = make("cosine", init_value=0.3, decay_steps=100)
    sched(50)                                 # 0.15: halfway, the mean of 0.3 and 0
    opt = gdlab.optimizers.make("sgd", learning_rate=sched)
"""

from gdlab.schedules._builders import (
    PEAK_ARGUMENT,
    Schedule,
    arguments,
    constant,
    cosine,
    cosine_onecycle,
    evaluate,
    exponential,
    inverse_sqrt,
    inverse_time,
    linear,
    linear_onecycle,
    make,
    names,
    piecewise_constant,
    polynomial,
    sgdr,
    step_decay,
    tabulate,
    warmup_constant,
    warmup_cosine,
)
from gdlab.schedules._plateau import reduce_on_plateau
from gdlab.schedules._sweeps import optimizer_factory, table_factory

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
