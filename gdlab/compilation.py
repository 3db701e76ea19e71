"""Compile once per machine, and see what compiling cost.

Almost all of gdlab's waiting is XLA compilation, and without help every new process
compiles the same programs again. Two tools:

``enable_cache()`` turns on JAX's persistent compilation cache, so a program compiled
once is loaded from disk by every later process (the CLI, the tests and the
benchmarks call it at start-up). The folder is ``$GDLAB_CACHE_DIR``, or
``$XDG_CACHE_HOME/gdlab`` (default ``~/.cache/gdlab``); ``GDLAB_CACHE_DIR=off``
(or ``gdlab --no-cache``) turns the cache off. The thresholds are lowered to zero so
that gdlab's many small programs (a sweep on a 2-D problem compiles in a fraction of
a second) are cached too; an entry costs a few kB to a few MB.

``count()`` measures a block through ``jax.monitoring``'s compile events::

    with count() as c:
        gdlab.train.sweep(f, x0, "sgd", {"learning_rate": lrs}, 100)
    c.compilations      # XLA programs compiled in the block (cache hits excluded)
    c.cache_hits        # programs loaded from the persistent cache instead
    c.compile_seconds   # wall seconds with a trace, lowering, XLA compilation or cache
                        # load under way (in any thread; overlapping ones counted once)
    c.compute_seconds   # the rest of the block's wall time: running, and Python

A program that jax finds in its in-memory cache (the same jitted function called
again with the same shapes) is neither a compilation nor a cache hit: it costs
nothing to count.
"""

import contextlib
import dataclasses
import os
import threading
import time
from pathlib import Path

import jax
from jax import monitoring
from jax.experimental.compilation_cache import compilation_cache as _jax_cache

ENV = "GDLAB_CACHE_DIR"
OFF = ("off", "0", "none", "false", "")

_COMPILE = "/jax/core/compile/backend_compile_duration"  # a compilation or a cache load
_TRACE = "/jax/core/compile/jaxpr_trace_duration"
_LOWER = "/jax/core/compile/jaxpr_to_mlir_module_duration"
_HIT = "/jax/compilation_cache/cache_hits"


def cache_dir() -> Path | None:
    """The persistent cache folder the environment asks for, or None when it is "off"."""
    value = os.environ.get(ENV)
    if value is not None:
        return None if value.strip().lower() in OFF else Path(value).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "gdlab"


def enable_cache(directory: str | os.PathLike | None = None) -> Path | None:
    """Turn on JAX's persistent compilation cache; returns the folder, or None if off.

    ``directory``: where to keep compiled programs (default: ``cache_dir()``, which
    honours ``$GDLAB_CACHE_DIR`` and ``$XDG_CACHE_HOME``). It may be called at any
    time: JAX decides once per process whether to use a cache, so the decision is reset.

    Example::

        enable_cache("/tmp/gdlab-cache")     # later processes load what this one compiles
    """
    path = cache_dir() if directory is None else Path(directory).expanduser()
    if path is None:
        disable_cache()
        return None
    path.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_enable_compilation_cache", True)
    # gdlab's programs are small and compile fast: cache them all, whatever their size.
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
    _jax_cache.reset_cache()
    return path


def disable_cache() -> None:
    """Turn the persistent compilation cache off for this process."""
    jax.config.update("jax_enable_compilation_cache", False)
    _jax_cache.reset_cache()


@dataclasses.dataclass(eq=False)  # identity: nested blocks' counters may be equal
class Compilations:
    """What a ``count()`` block spent: see the module docstring for each field."""

    compilations: int = 0
    cache_hits: int = 0
    compile_seconds: float = 0.0
    seconds: float = 0.0
    # (start, end) of every compile event while open; compile_seconds is their union
    spans: list = dataclasses.field(default_factory=list, repr=False, compare=False)

    @property
    def compute_seconds(self) -> float:
        return max(self.seconds - self.compile_seconds, 0.0)

    def as_meta(self) -> dict:
        """The fields a result.json's ``meta`` records (seconds rounded to ms)."""
        return {
            "compilations": self.compilations,
            "cache_hits": self.cache_hits,
            "compile_seconds": round(self.compile_seconds, 3),
            "compute_seconds": round(self.compute_seconds, 3),
        }

    def summary(self) -> str:
        """One line, e.g. "3 compilations (1 from cache), 1.2 s compiling, 0.4 s computing"."""
        plural = "" if self.compilations == 1 else "s"
        hits = f" + {self.cache_hits} loaded from cache" if self.cache_hits else ""
        return (f"{self.compilations} compilation{plural}{hits}, "
                f"{self.compile_seconds:.1f} s compiling, {self.compute_seconds:.1f} s computing")


_active: list[Compilations] = []
_lock = threading.Lock()
_installed = False


def _on_duration(event: str, duration: float, **_) -> None:
    if event not in (_COMPILE, _TRACE, _LOWER):
        return
    end = time.perf_counter()  # the event is reported when the work ends
    with _lock:
        for counter in _active:
            counter.spans.append((end - duration, end))
            counter.compile_seconds = _union(counter.spans)
            if event == _COMPILE:
                counter.compilations += 1


def _union(spans: list) -> float:
    """Total length of a union of intervals: compilations in several threads overlap, and
    a trace may run inside another's (the wall time they took, not their sum).

    >>> _union([(0.0, 2.0), (1.0, 3.0), (5.0, 6.0)])
    4.0
    """
    total, reach = 0.0, float("-inf")
    for start, end in sorted(spans):
        if end > reach:
            total += end - max(start, reach)
            reach = end
    return total


def _on_event(event: str, **_) -> None:
    if event != _HIT:
        return
    with _lock:
        for counter in _active:  # the compile event that follows counted it: undo that
            counter.cache_hits += 1
            counter.compilations -= 1


def _install() -> None:
    global _installed
    with _lock:
        if not _installed:
            monitoring.register_event_duration_secs_listener(_on_duration)
            monitoring.register_event_listener(_on_event)
            _installed = True


@contextlib.contextmanager
def count():
    """Count the XLA compilations, persistent-cache hits and compile seconds of a block.

    Blocks may nest; each counter sees everything compiled while it is open (in any
    thread).
    """
    _install()
    counter = Compilations()
    start = time.perf_counter()
    with _lock:
        _active.append(counter)
    try:
        yield counter
    finally:
        with _lock:
            _active.remove(counter)
        counter.seconds = time.perf_counter() - start
