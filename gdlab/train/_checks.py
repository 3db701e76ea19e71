"""Argument checks shared by ``run`` and ``sweep``: refused before anything is compiled.

These are checked here, each with a ``ValueError`` that says what to pass instead:

- ``seeds``: a count or ints in [0, 2³²), the range of ``jax.random.key``'s seed
  (a larger seed would silently wrap around to a small one);
- ``divergence_factor``: None, or a number >= 1 (inf: only non-finite losses count);
  NaN would silently switch divergence detection off;
- ``target``: None or finite (a NaN target is never reached);
- memory: what a call will record, estimated from shapes alone,

      recorded ≈ runs · (recorded steps · (2 + P·[record params]) + P·[final] + 4
                         + instrument rows · F) · itemsize

  with P the number of parameters ([final]: a sweep with record="summary" keeps no
  final params) and F the floats an instruments row holds (rows × layers × values per
  layer, plus the whole-model values: ``Instruments.floats``). While it runs a call
  holds about ``OVERHEAD`` = 3 copies of that (the scan's output buffers, the joined
  chunks, the host copy; peak RSS grew by 3.0 to 4.8 times ``recorded`` for 1 to 100
  runs of 2·10⁴ to 2·10⁶ steps on a 2-D problem), which must stay under ``memory_limit`` (default
  ``MEMORY_LIMIT`` = 2 GiB). Above it the call is refused with the estimate and the
  options that shrink it (``record=k``, ``record="summary"``, ``record_params=False``,
  ``instrument_every=k``).

Example::

    >>> estimate_bytes(runs=10, recorded=101, num_params=2, record_params=True, itemsize=8)
    ... # 10 runs · (101 · (2 + 2) + 2 + 4) · 8 bytes
    32800
"""

import math

import numpy as np

MEMORY_LIMIT = 2 * 2**30
OVERHEAD = 3
SEED_LIMIT = 2**32


def seeds(value) -> None:
    """Refuse seed counts or seeds outside [0, 2³²) (``jax.random.key`` takes uint32)."""
    if value is None:
        return
    if np.isscalar(value):
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise ValueError(f"seeds must be a count or a 1-D sequence of ints, got {value!r}")
        if not 1 <= value <= SEED_LIMIT:
            raise ValueError(f"seeds={value}: a count must be in [1, 2**32]")
        return
    array = np.asarray(value)
    if array.dtype.kind == "O":  # Python ints beyond int64
        raise ValueError(f"seeds must be ints in [0, 2**32), got {value!r}")
    if array.dtype.kind in "iu" and array.size and (array.min() < 0 or array.max() >= SEED_LIMIT):
        raise ValueError(
            f"seeds must be in [0, 2**32) (jax.random.key's range; larger ones would wrap "
            f"around), got min {array.min()}, max {array.max()}"
        )


def _real(value) -> float | None:
    """``value`` as a Python float if it is one real number (a 0-d array too), else None."""
    if isinstance(value, bool | str):
        return None
    try:
        array = np.asarray(value)
    except Exception:
        return None
    return float(array) if array.shape == () and array.dtype.kind in "iuf" else None


def divergence_factor(value) -> None:
    """None, or a real number >= 1 (inf allowed); NaN and bools refused."""
    if value is None:
        return
    number = _real(value)
    if number is None or math.isnan(number) or number < 1:
        raise ValueError(
            f"divergence_factor must be None or a number >= 1 (the loss may grow this many "
            f"times past max(|loss[0]|, 1) before a run counts as diverged), got {value!r}"
        )


def target(value) -> None:
    """None or a finite number: a NaN target would never be reached, silently."""
    if value is None:
        return
    number = _real(value)
    if number is None or not math.isfinite(number):
        raise ValueError(f"target must be None or a finite number, got {value!r}")


def memory_limit(value) -> float:
    """The limit in bytes: None -> ``MEMORY_LIMIT``; otherwise a positive number."""
    if value is None:
        return MEMORY_LIMIT
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValueError(f"memory_limit must be a positive number of bytes, got {value!r}")
    return value


def estimate_bytes(*, runs: int, recorded: int, num_params: int, record_params: bool,
                   itemsize: int, final_params: bool = True, instrument_floats: int = 0,
                   grad_norm: bool = True) -> int:
    """Bytes of what ``runs`` runs keep: per recorded step the loss and gradient norm
    (and the params if recorded), plus the final params (not kept by a sweep with
    record="summary"), four per-run summaries and ``instrument_floats`` per run (the
    instruments' rows: rows · floats per row)."""
    per_step = 1 + int(grad_norm) + (num_params if record_params else 0)
    return runs * (recorded * per_step + (num_params if final_params else 0) + 4
                   + instrument_floats) * itemsize


def _size(nbytes: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if nbytes < 1024 or unit == "TiB":
            return f"{nbytes:.1f} {unit}" if unit != "bytes" else f"{int(nbytes)} bytes"
        nbytes /= 1024
    raise AssertionError


def memory(what: str, runs: int, num_steps: int, policy, params, limit,
           instruments=None) -> None:
    """Refuse a call whose recorded outputs would exceed ``limit`` bytes; say what fits.

    ``policy``: the ``Record``; ``params``: the start (or ``init(key)``), for P;
    ``instruments``: the ``Instruments`` recorded (None: none)."""
    limit = memory_limit(limit)
    num_params, itemsize = count_params(params)
    recorded = len(policy.steps(num_steps))
    probe_floats = 0
    if instruments is not None:
        probe_floats = len(instruments.steps(num_steps)) * instruments.floats(_shapes(params))
    kept = estimate_bytes(runs=runs, recorded=recorded, num_params=num_params,
                          record_params=policy.params, itemsize=itemsize,
                          final_params=what == "run" or policy.every is not None,
                          instrument_floats=probe_floats,
                          grad_norm=getattr(policy, "grad_norm", True))
    need = OVERHEAD * kept
    if need <= limit:
        return
    hints = []
    if policy.params:
        hints.append("record_params=False")
    if policy.every is not None:
        fits = math.ceil(need / limit) * max(policy.every, 1)
        divisor = next((k for k in range(fits, num_steps + 1) if num_steps % k == 0), None)
        if divisor is not None and divisor < num_steps:
            hints.append(f"record={divisor}")
        hints.append('record="summary"')
    if probe_floats:
        hints.append("fewer instruments or a larger instrument_every")
    hints.append("fewer runs or steps")
    hints.append(f"memory_limit={int(need * 1.1)} if the machine has the memory")
    raise ValueError(
        f"{what} would need about {_size(need)} of memory ({runs} run(s) x {recorded} "
        f"recorded step(s), {num_params} parameter(s)"
        f"{f', {probe_floats} instrument float(s) per run' if probe_floats else ''}, "
        f"{itemsize}-byte floats: "
        f"{_size(kept)} kept, x{OVERHEAD} while running), over the {_size(limit)} limit; "
        f"pass {', or '.join(hints)}"
    )


def _shapes(params):
    """The params pytree, or the shapes an ``init(key)`` function returns (nothing computed)."""
    if callable(params):
        import jax

        return jax.eval_shape(lambda: params(jax.random.key(0)))
    return params


def count_params(params) -> tuple[int, int]:
    """(number of floating-point parameters, bytes per float) of a params pytree or of
    what an ``init(key)`` function returns."""
    import jax
    import jax.numpy as jnp

    if callable(params):  # an init(key) function: its output's shapes, nothing computed
        params = jax.eval_shape(lambda: params(jax.random.key(0)))
    dtype = lambda leaf: np.dtype(getattr(leaf, "dtype", None) or jnp.result_type(leaf))
    leaves = [leaf for leaf in jax.tree.leaves(params) if jnp.issubdtype(dtype(leaf), jnp.floating)]
    count = sum(int(np.prod(np.shape(leaf))) for leaf in leaves)
    itemsize = max((dtype(leaf).itemsize for leaf in leaves), default=4)
    return count, itemsize
