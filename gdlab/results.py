"""Result files: plain, self-describing JSON and PNG figures, written atomically.

A result is a dict with ``experiment``, ``config``, ``metrics``, ``series`` and ``meta``.
JSON has no NaN or infinity: non-finite numbers are written as ``null`` (read back as
None; ``gdlab.plotting.array`` turns them into NaN for drawing). Every file is written
to a temporary name in the same folder and then renamed, so an interrupted write never
leaves a half-written result behind: the previous file stays intact.
"""

import dataclasses
import json
import math
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

RESULT_FILE = "result.json"


def to_jsonable(value):
    """Convert arrays, dataclasses, tuples and numpy scalars to JSON types; non-finite -> None."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if hasattr(value, "__array__") and not isinstance(value, np.generic | bool | int | float):
        return to_jsonable(np.asarray(value).tolist())
    if isinstance(value, np.generic):
        return to_jsonable(value.item())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, bool | int | str):
        return value
    raise TypeError(f"cannot store {type(value).__name__} in a result: {value!r}")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_STARTED = time.time()  # this process's start (near enough): older temporaries are stale


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True  # someone else's live process (or not a pid): leave its file alone
    return True


def clean_stale_temporaries(path) -> list[Path]:
    """Remove the temporaries a killed writer of ``path`` left behind; returns them.

    Atomic writes go through ``.<name>.<pid>.<random>.tmp`` beside ``path``. A kill -9
    between creating and renaming one leaves it there; this removes every temporary of
    the same target whose writing process is gone (or, for names without a pid, that is
    older than this process). Temporaries of live writers, such as a concurrent run, are
    kept. Folders (staged results) are removed like files.

    Example::

        clean_stale_temporaries("results/weight_update/result.json")
    """
    import glob
    import shutil

    path = Path(path)
    if not path.parent.is_dir():
        return []
    removed = []
    for tmp in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        middle = tmp.name[len(path.name) + 2 : -len(".tmp")]
        pid = middle.split(".", 1)[0]
        if pid.isdigit() and "." in middle:
            stale = int(pid) != os.getpid() and not _alive(int(pid))
        else:
            try:
                stale = tmp.lstat().st_mtime < _STARTED
            except FileNotFoundError:
                continue
        if not stale:
            continue
        try:
            if tmp.is_dir() and not tmp.is_symlink():
                shutil.rmtree(tmp)
            else:
                tmp.unlink()
            removed.append(tmp)
        except FileNotFoundError:  # another process cleaned it first
            pass
    return removed


def _atomic_write(path: Path, write) -> None:
    """Write through ``write(file_object)`` into a temporary file, then rename over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_temporaries(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.",
                               suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
            # mkstemp makes the file private (0600); give it the mode open() would
            os.fchmod(f.fileno(), 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_json(path, obj) -> None:
    """Write ``obj`` as indented JSON, atomically. Raises before touching ``path`` if invalid."""
    text = json.dumps(to_jsonable(obj), indent=1, allow_nan=False) + "\n"
    _atomic_write(Path(path), lambda f: f.write(text.encode()))


def write_text(path, text: str) -> None:
    """Write ``text`` (UTF-8) atomically: a table, a report."""
    _atomic_write(Path(path), lambda f: f.write(text.encode()))


def write_bytes(path, data: bytes) -> None:
    """Write ``data`` atomically (temporary file in the same folder, then rename)."""
    _atomic_write(Path(path), lambda f: f.write(data))


def read_json(path) -> dict:
    with open(path) as f:
        return json.load(f)


def save_figure(path, figure) -> None:
    """Save a matplotlib figure as PNG atomically; byte-identical when redrawn."""
    _atomic_write(
        Path(path), lambda f: figure.savefig(f, format="png", metadata={"Software": None})
    )


def metadata() -> dict:
    """Versions and platform, for the ``meta`` block of a result."""
    import jax
    import optax

    import gdlab

    return {
        "gdlab": gdlab.__version__,
        "jax": jax.__version__,
        "optax": optax.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "backend": jax.default_backend(),
        "x64": bool(jax.config.jax_enable_x64),
    }


def load(path) -> dict:
    """Load a result from its folder or its ``result.json`` path."""
    path = Path(path)
    if path.is_dir():
        path = path / RESULT_FILE
    if not path.exists():
        raise FileNotFoundError(f"no result at {path}: run the experiment first")
    return read_json(path)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux renameat2 RENAME_EXCHANGE); False if unsupported."""
    import ctypes
    import sys

    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    code = renameat2(at_fdcwd, os.fsencode(str(a)), at_fdcwd, os.fsencode(str(b)),
                     rename_exchange)
    return code == 0


def replace_folder(directory, write) -> Path:
    """Write a whole folder as one unit: ``write(staging)`` fills a fresh staging folder
    next to ``directory``, which then replaces ``directory`` in one step.

    A reader sees the complete old folder or the complete new one, never new figures
    beside an old result.json: an interrupted ``write`` leaves ``directory`` untouched
    (its staging folder is removed, or by the next call if the process was killed), and
    concurrent writers each swap in their own complete folder (the last one wins). On
    Linux the swap is an atomic exchange of the two folders; elsewhere two renames under
    a lock, with a moment in which ``directory`` is absent (never half-written).
    """
    import fcntl
    import shutil

    directory = Path(directory)
    parent = directory.parent
    parent.mkdir(parents=True, exist_ok=True)
    for stale in parent.glob(f".{directory.name}.staging.*"):
        pid = stale.name[len(f".{directory.name}.staging."):].split(".")[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)
    staging = Path(tempfile.mkdtemp(dir=parent, prefix=f".{directory.name}.staging.{os.getpid()}.",
                                    suffix=".d"))
    try:
        os.chmod(staging, 0o777 & ~_umask())
        write(staging)
        with open(parent / f".{directory.name}.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not directory.exists():
                os.rename(staging, directory)
            elif not _exchange(staging, directory):
                old = staging.with_name(staging.name + ".old")
                os.rename(directory, old)
                os.rename(staging, directory)
                staging = old
    finally:
        if staging.exists() and staging != directory:
            shutil.rmtree(staging, ignore_errors=True)
    return directory


__all__ = [
    "RESULT_FILE",
    "clean_stale_temporaries",
    "load",
    "metadata",
    "read_json",
    "replace_folder",
    "save_figure",
    "to_jsonable",
    "write_bytes",
    "write_json",
    "write_text",
]
