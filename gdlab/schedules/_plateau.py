"""Reduce-on-plateau: a loss-driven scale on the updates (not a function of the step)."""

import optax

from gdlab.schedules._checks import check_number, check_steps, check_value


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
    check_number("factor", factor, 0.0, 1.0, high_open=True)
    patience = check_steps("patience", patience)
    check_value("rtol", rtol)
    check_value("atol", atol)
    if rtol == 0 and atol == 0:
        raise ValueError("at least one of rtol and atol must be > 0")
    if rtol > 1:
        raise ValueError(f"rtol must be <= 1, got {rtol}")
    cooldown = check_steps("cooldown", cooldown, minimum=0)
    accumulation_size = check_steps("accumulation_size", accumulation_size)
    check_value("min_scale", min_scale)
    return optax.contrib.reduce_on_plateau(factor=factor, patience=patience, rtol=rtol,
                                           atol=atol, cooldown=cooldown,
                                           accumulation_size=accumulation_size,
                                           min_scale=min_scale)
