"""One run: a ``lax.scan`` of optimizer updates that records what the policy asks for."""

import functools
from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from gdlab import optimizers as _optimizers
from gdlab.solvers._counting import calls_loss
from gdlab.train import _checks
from gdlab.train import _instruments as _inst

DIVERGENCE_FACTOR = 1e6


@dataclass(frozen=True)
class Record:
    """What a run keeps. ``every``: record loss/grad_norm at steps 0, k, 2k, …, num_steps
    (None: only step 0 and the last, the "summary" policy); ``params``: keep iterates too;
    ``grad_norm``: the gradient norm too (off: the program does not compute it)."""

    every: int | None = 1
    params: bool = True
    grad_norm: bool = True

    def steps(self, num_steps: int) -> np.ndarray:
        if self.every is None:
            return np.array([0, num_steps])
        return np.arange(0, num_steps + 1, self.every)


def parse_record(record, num_steps: int, record_params: bool,
                 record_grad_norm: bool = True) -> Record:
    """``record``: "all" | "summary" | a positive int k dividing num_steps."""
    for name, flag in (("record_params", record_params), ("record_grad_norm", record_grad_norm)):
        if not isinstance(flag, bool | np.bool_):
            raise ValueError(f"{name} must be True or False, got {flag!r}")
    if record == "all":
        return Record(1, bool(record_params), bool(record_grad_norm))
    if record == "summary":
        return Record(None, False, bool(record_grad_norm))
    if isinstance(record, int | np.integer) and not isinstance(record, bool) and record >= 1:
        if num_steps % record:
            raise ValueError(f"record={record} must divide num_steps={num_steps}")
        return Record(int(record), bool(record_params), bool(record_grad_norm))
    raise ValueError(f"record must be 'all', 'summary' or a positive int, got {record!r}")


def steps_to_target(loss, target: float) -> np.ndarray:
    """First recorded index with loss[..., k] <= target, or -1 where the run never gets there."""
    loss = np.asarray(loss)
    hit = np.isfinite(loss) & (loss <= target)
    return np.where(hit.any(axis=-1), hit.argmax(axis=-1), -1)


@dataclass(frozen=True)
class Trajectory:
    """One run. ``loss[i]`` and ``params[i]`` belong to step ``steps[i]`` (all steps by default,
    so index k = after k updates); ``best_loss`` and ``steps_to_target`` see every step.

    ``diverged_at`` is the divergence step, or None when the run did not diverge (the
    public contract of ``gdlab.train.run``; ``Sweep.diverged_at`` holds the same steps in
    an array, with −1 for "never" since an array cannot hold None). ``steps_to_target`` is
    the first step at or below ``target``, −1 (never) or None (no target). ``params`` holds
    the iterates (the default ``record_params=True``); None with ``record_params=False``.
    """

    params: Any
    loss: np.ndarray
    grad_norm: np.ndarray | None  # None with record_grad_norm=False
    final_params: Any
    diverged_at: int | None
    steps: np.ndarray
    best_loss: float
    steps_to_target: int | None = None
    instruments: dict | None = None  # name -> (len(instrument_steps), ...); see gdlab.train
    instrument_steps: np.ndarray | None = None

    @property
    def status(self) -> str:
        return "ok" if self.diverged_at is None else "diverged"

    @property
    def num_steps(self) -> int:
        return int(self.steps[-1])

    @property
    def final_loss(self) -> float:
        """The loss after the last update, or +inf if the run diverged."""
        return float("inf") if self.diverged_at is not None else float(self.loss[-1])


def objective(loss_fn, has_data: bool, stochastic: bool):
    """Normalise the three loss shapes to f(params, data, key, **problem)."""

    def f(params, data, key, **problem):
        args = (params, data) if has_data else (params,)
        value = loss_fn(*args, **problem, key=key) if stochastic else loss_fn(*args, **problem)
        return jnp.asarray(value)  # a Python float (a constant loss) becomes a 0-d array

    return f


class Carry(NamedTuple):
    """What the scan carries into step k (one run; a sweep vmaps it)."""

    params: Any  # params[k]: frozen at the divergence step when the caller keeps params
    state: Any  # the optimizer state after k updates
    threshold: jax.Array  # the explosion threshold, set at step 0 from loss[0]
    diverged_at: jax.Array  # the step whose loss was non-finite or exploded; -1: none yet
    best_loss: jax.Array  # the smallest recorded loss before divergence (+inf: none)
    steps_to_target: jax.Array  # the first step with loss <= target; -1: not yet
    recorded: dict  # record="summary" or every k-th step: the recorded values so far
    probe: Any = None  # instruments only: their rows, the start, the last update


def _slots(record: Record, num_steps: int):
    """(is step k recorded?, its row) for the policies that keep rows in the carry."""
    if record.every is None:
        return (lambda k: (k == 0) | (k == num_steps)), (lambda k: (k == num_steps).astype(int))
    return (lambda k: k % record.every == 0), (lambda k: k // record.every)


def _row(params, dtype, record: Record) -> dict:
    """The shapes of one recorded row, as ``measure`` writes it: read off the params and
    the loss's dtype instead of tracing the model a second time."""
    row = {"loss": jax.ShapeDtypeStruct((), dtype)}
    if record.grad_norm:
        row["grad_norm"] = jax.eval_shape(optax.tree.norm, params)
    return {**row, "params": jax.eval_shape(lambda p: p, params)} if record.params else row


def simulate(objective, evaluate, optimizer, params, data, key, num_steps, factor, record,
             target=None, *, freeze=True, instruments=None):
    """The scan. Pure: jit it for one run, vmap it for a sweep.

    Step k = 0..num_steps measures params[k] (value and gradient of the objective, the
    recorded loss), records what the policy asks, tests divergence and, unless the run
    is over, applies update k. One ``value_and_grad`` per step, as in a hand-written
    loop; the rest is scalars, plus what is read only where it is read: the gradient
    norm at recorded steps, ``eval_fn`` only when given, and the freeze of a diverged
    run's params only when ``freeze`` (the caller keeps params; otherwise a dead run
    runs on and its numbers are masked). ``instruments`` (an ``Instruments``, or None:
    the program is unchanged) adds their rows under "instruments".
    """
    optimizer = optax.with_extra_args_support(optimizer)
    value_and_grad = jax.value_and_grad(objective)
    step_key = (lambda k: jax.random.fold_in(key, k)) if key is not None else (lambda k: None)
    shape = jax.eval_shape(objective, params, data, step_key(0))
    if shape.shape != ():
        raise ValueError(f"loss_fn must return a scalar, got shape {shape.shape}")
    dtype = shape.dtype if evaluate is None else jax.eval_shape(evaluate, params, data, None).dtype
    reached = (lambda loss: loss <= target) if target is not None else (lambda loss: False)

    def measure(carry: Carry, k):
        value, grad = value_and_grad(carry.params, data, step_key(k))
        loss = value if evaluate is None else evaluate(carry.params, data, None)
        dead = carry.diverged_at >= 0  # before this step
        threshold = jnp.where(k == 0, jnp.inf if factor is None else
                              factor * jnp.maximum(jnp.abs(loss), 1), carry.threshold)
        bad = ~jnp.isfinite(loss) | (jnp.abs(loss) > threshold)
        alive = ~dead & ~bad
        out = {"loss": jnp.where(dead, jnp.nan, loss)}
        if record.grad_norm:
            out["grad_norm"] = jnp.where(dead, jnp.nan, optax.tree.norm(grad))
        if record.params:
            out["params"] = carry.params
        carry = carry._replace(
            threshold=threshold,
            diverged_at=jnp.where(~dead & bad, k, carry.diverged_at),
            best_loss=jnp.where(alive, jnp.minimum(carry.best_loss, loss), carry.best_loss),
            steps_to_target=jnp.where((carry.steps_to_target < 0) & alive & reached(loss),
                                      k, carry.steps_to_target),
        )
        return carry, value, grad, out

    def propose(carry: Carry, k, value, grad):
        value_fn = functools.partial(lambda p, kk: objective(p, data, step_key(kk)), kk=k)
        return optimizer.update(
            grad, carry.state, carry.params, value=value, grad=grad, value_fn=value_fn
        )

    def update(carry: Carry, k, value, grad, proposed=None) -> Carry:
        # The update after the last step is computed and dropped by a select rather than
        # skipped by a lax.cond (except for optimizers that evaluate the loss): a cond
        # splits the step into computations XLA neither fuses nor compiles as fast; the
        # select is one pass over params and state, merged with the freeze of a
        # diverged run, and costs one update in num_steps.
        updates, state = propose(carry, k, value, grad) if proposed is None else proposed
        params = optax.apply_updates(carry.params, updates)
        stop = (k == num_steps) | (carry.diverged_at >= 0) if freeze else k == num_steps
        keep = lambda old, new: jnp.where(stop, old, new)
        params, state = jax.tree.map(keep, carry.params, params), jax.tree.map(
            keep, carry.state, state)
        return carry._replace(params=params, state=state)

    def step(carry: Carry, k):
        carry, value, grad, out = measure(carry, k)
        if record.every != 1:  # write the row in place; nothing leaves the scan per step
            recorded, row = _slots(record, num_steps)
            write = lambda buf, new: jax.lax.dynamic_update_index_in_dim(
                buf, jnp.where(recorded(k), new, buf[row(k)]), row(k), 0)
            carry = carry._replace(recorded=jax.tree.map(write, carry.recorded, out))
            out = None
        if instruments is not None:  # the last step's update is computed, not applied
            proposed = propose(carry, k, value, grad)
            carry = carry._replace(probe=_inst.observe(
                instruments, carry.probe, k, *(f(k) for f in _slots(instruments, num_steps)),
                carry.diverged_at >= 0, **context(carry, k, value, grad, proposed)))
            return update(carry, k, value, grad, proposed), out
        if evaluates:  # skip the last update: its line search would call the loss for nothing
            return jax.lax.cond(k < num_steps, lambda c: update(c, k, value, grad),
                                lambda c: c, carry), out
        return update(carry, k, value, grad), out

    def context(carry, k, value, grad, proposed):
        """What an instrument may read at step k."""
        loss = lambda p: objective(p, data, step_key(k))
        noise_free = loss if evaluate is None else (lambda p: evaluate(p, data, None))
        return {"params": carry.params, "grad": grad, "updates": proposed[0],
                "state": proposed[1], "value": value, "loss": loss, "curvature": noise_free,
                "data": data, "key": step_key(k), "dtype": dtype}

    rows = len(record.steps(num_steps))
    evaluates = calls_loss(jax.eval_shape(optimizer.init, params))
    carry = Carry(
        params, optimizer.init(params), jnp.asarray(jnp.inf, dtype), jnp.int32(-1),
        jnp.asarray(jnp.inf, dtype), jnp.int32(-1),
        {} if record.every == 1 else jax.tree.map(
            lambda s: jnp.zeros((rows, *s.shape), s.dtype), _row(params, dtype, record)),
    )
    if instruments is not None:
        shapes = jax.eval_shape(lambda c: _inst.values(
            instruments, _inst.init(instruments, params, num_steps, {}),
            **context(c, 0, *measure(c, 0)[1:3], propose(c, 0, *measure(c, 0)[1:3]))), carry)
        carry = carry._replace(probe=_inst.init(instruments, params, num_steps, shapes))
    carry, hist = jax.lax.scan(step, carry, jnp.arange(num_steps + 1, dtype=jnp.int32))
    return {
        **(hist if record.every == 1 else carry.recorded),
        **({} if instruments is None else {"instruments": carry.probe["rows"]}),
        "final_params": carry.params,
        "diverged_at": carry.diverged_at,
        "best_loss": carry.best_loss,
        "steps_to_target": carry.steps_to_target,
    }


def check_steps(num_steps) -> None:
    if isinstance(num_steps, bool) or not isinstance(num_steps, int | np.integer):
        raise ValueError(f"num_steps must be a positive integer, got {num_steps!r}")
    if num_steps < 1:
        raise ValueError(f"num_steps must be >= 1, got {num_steps}")


def cached(maker):
    """lru_cache that falls back to no caching for unhashable arguments."""
    memo = functools.lru_cache(maxsize=64)(maker)

    @functools.wraps(maker)
    def wrapper(*args):
        try:
            return memo(*args)
        except TypeError:
            return maker(*args)

    wrapper.cache_clear = memo.cache_clear
    return wrapper


@cached
def _compiled_run(loss_fn, eval_fn, optimizer, num_steps, has_data, stochastic, factor, record,
                  target, instruments=None):
    f = objective(loss_fn, has_data, stochastic)
    g = None if eval_fn is None else objective(eval_fn, has_data, False)
    return jax.jit(
        lambda params, data, key: simulate(
            f, g, optimizer, params, data, key, num_steps, factor, record, target,
            instruments=instruments,
        )
    )


def run(
    loss_fn,
    params,
    optimizer,
    num_steps: int,
    *,
    data=None,
    key=None,
    eval_fn=None,
    divergence_factor: float | None = DIVERGENCE_FACTOR,
    record="all",
    record_params: bool = True,
    record_grad_norm: bool = True,
    target: float | None = None,
    memory_limit: float | None = None,
    instruments=(),
    instrument_every: int | None = None,
    per_example=None,
    examples=None,
) -> Trajectory:
    """Run ``num_steps`` updates of ``optimizer`` on ``loss_fn`` from ``params``.

    Args:
      loss_fn: scalar function of params (see ``gdlab.train`` for data and keys).
      params: the starting point, any pytree of float arrays; dtypes are kept.
      optimizer: an ``optax.GradientTransformation`` (e.g. from ``optimizers.make``).
      num_steps: number of updates (>= 1).
      data: optional data pytree passed as ``loss_fn(params, data)``.
      key: optional PRNG key; then ``loss_fn(..., key=k_t)`` with a fresh key per step.
      eval_fn: optional function recorded instead of loss_fn (e.g. the noise-free loss).
      divergence_factor: explosion threshold relative to max(|loss[0]|, 1); None: only
        non-finite losses count as divergence.
      record: "all" steps, every k-th step (an int dividing num_steps), or "summary"
        (only the first and last loss; best loss, divergence and target steps are
        still exact). Bounded memory for long runs.
      record_params: keep the iterates at the recorded steps (``traj.params``, on by
        default: one run's trajectory is what ``run`` is for). ``sweep`` defaults to off,
        since every iterate of every run of a grid rarely fits; ``final_params`` is always
        kept by ``run``.
      record_grad_norm: record ‖∇loss_fn‖ at the recorded steps (``traj.grad_norm``);
        False: None, and the compiled program does not compute it.
      target: if given, ``steps_to_target`` is the first step with loss <= target.
      memory_limit: refuse (ValueError, before compiling) a run whose recorded outputs
        are estimated above this many bytes (None: 2 GiB); see ``record``.
      instruments: names from ``gdlab.train.INSTRUMENTS`` (or an ``Instruments``),
        recorded inside the scan into ``traj.instruments`` at ``traj.instrument_steps``;
        () (the default) compiles the plain program.
      instrument_every: record the instruments every k steps (None: as ``record``).
      per_example: ``loss(params, example)`` of one example, for "noise".
      examples: ``examples(data, key) -> batch`` (leading batch axis): the examples
        the step sees, for "noise" (None: ``data``).

    Example::

        f = lambda x: 0.5 * 4.0 * x**2
        traj = run(f, jnp.array(1.0), optax.sgd(0.1), 10, record_params=True)
        traj.params[k] == (1 - 0.1 * 4.0) ** k          # the closed form
    """
    check_steps(num_steps)
    _checks.divergence_factor(divergence_factor)
    _checks.target(target)
    policy = parse_record(record, num_steps, record_params, record_grad_norm)
    probes = _inst.parse(instruments, instrument_every, per_example, examples, policy, num_steps)
    _checks.memory("run", 1, num_steps, policy, params, memory_limit, probes)
    optimizer = _optimizers.resolve(optimizer)
    compiled = _compiled_run(
        loss_fn, eval_fn, optimizer, num_steps, data is not None, key is not None,
        divergence_factor, policy, target, *(() if probes is None else (probes,)),
    )
    out = jax.device_get(compiled(params, data, key))
    dead_at, hit = int(out["diverged_at"]), int(out["steps_to_target"])
    return Trajectory(
        params=out.get("params"),
        loss=out["loss"],
        grad_norm=out.get("grad_norm"),
        final_params=out["final_params"],
        diverged_at=None if dead_at < 0 else dead_at,
        steps=policy.steps(num_steps),
        best_loss=float(out["best_loss"]),
        steps_to_target=None if target is None else hit,
        instruments=out.get("instruments"),
        instrument_steps=None if probes is None else probes.steps(num_steps),
    )
