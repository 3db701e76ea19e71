"""Training loops: one run as a ``lax.scan``, a sweep as ``vmap`` of runs, one compilation.

A run of ``num_steps`` updates of an optax optimizer records, for every k = 0..num_steps,

    params[k]   the parameters after k updates (params[0] is the start)
    loss[k]     loss_fn(params[k])
    grad_norm[k] ‖∇loss_fn(params[k])‖₂

Divergence is an outcome, not a crash. A run diverges at the first step k whose loss
is non-finite or exceeds ``divergence_factor · max(|loss[0]|, 1)``; from then on the
parameters are frozen at params[k], and loss[j], grad_norm[j] are NaN for j > k.
Summaries (``final_loss``, ``best_loss``) never contain NaN: a diverged run's
``final_loss`` is +inf, and ``status`` says "diverged" with ``diverged_at = k`` (never:
None for one run, as DESIGN.md's contract says, −1 in a sweep's array). ``run`` keeps the
iterates by default (``traj.params``, the trajectory); ``sweep`` keeps them only when asked
(``record_params=True``): every iterate of every run of a grid rarely fits in memory.

Loss functions come in three shapes, chosen by keywords:

    loss_fn(params)                       the default
    loss_fn(params, data)                 with ``data=``: data is passed as a jit argument,
                                          never closed over (closed-over arrays become
                                          compile-time constants that XLA folds slowly)
    loss_fn(params, [data,] key=key)      with ``key=`` (run) or ``stochastic=True``
                                          (sweep): a fresh key every step, e.g. minibatches

Optimizers whose update needs the loss itself (``optax.lbfgs``'s line search,
``optax.contrib.reduce_on_plateau``) get it: every update is called as
``update(grad, state, params, value=, grad=, value_fn=)``.
Recording policy (``record=``): every step ("all", the default), every k-th step (an
int), or "summary" (first and last loss only); the best loss, the divergence step and
the first step at or below ``target`` are exact whatever the policy. Long sweeps can be
spread over devices (``devices=``), cut into equal chunks (``chunk_size=``, one
compilation for all chunks) and made resumable (``checkpoint=`` a folder).

Instruments (``instruments=("norms", "alpha", ...)``, default none: the plain program)
record what each step does inside the same scan, every ``instrument_every`` steps, per
layer where it applies: norms and update/parameter ratios, effective learning rate,
cosines, gradient noise (GSNR, B_simple), Cockpit's step quality α, sharpness and Adam's
preconditioned sharpness (``gdlab.train._instruments`` has each one's definition).

The learning-rate range test (``lr_range_test``: one run with a growing rate, fastai's
suggestions) runs on the same engine; ``first_rate_without_progress`` reads the limit
it should be compared with off a sweep of fixed rates.
"""

from gdlab.train._best import Best, best
from gdlab.train._instruments import NAMES as INSTRUMENTS
from gdlab.train._instruments import Instruments, edge, layer_names
from gdlab.train._loop import (
    DIVERGENCE_FACTOR,
    Record,
    Trajectory,
    run,
    steps_to_target,
)
from gdlab.train._range_test import (
    RangeTest,
    first_rate_without_progress,
    lr_range_test,
    suggest,
    valley,
)
from gdlab.train._sweep import Sweep, grid_points, sweep

__all__ = [
    "DIVERGENCE_FACTOR",
    "INSTRUMENTS",
    "Best",
    "Instruments",
    "RangeTest",
    "Record",
    "Sweep",
    "Trajectory",
    "best",
    "edge",
    "first_rate_without_progress",
    "grid_points",
    "layer_names",
    "lr_range_test",
    "run",
    "steps_to_target",
    "suggest",
    "sweep",
    "valley",
]
