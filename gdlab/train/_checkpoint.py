"""Resumable sweeps: each finished chunk is a file; a fingerprint refuses mixed configurations.

Layout of a checkpoint folder::

    manifest.json        {"fingerprint": {field: sha256, ...}, "chunks": n, ...}
    chunk_000000.npz     the outputs of grid points [0, chunk) (leaves of the output pytree)
    chunk_000001.npz     ...

Every file is written atomically (temporary name, then rename), so a killed process
leaves only whole chunks behind; rerunning the same sweep loads them and computes the
rest. The fingerprint hashes everything that determines the numbers: grid values,
seeds, steps, recording policy, chunk size, hyperparameters, the code of the loss and
the optimizer factory, the starting params and the data. Values a loss function closes
over are not visible to it: pass data with ``data=`` so that a change is detected.
"""

import hashlib
import inspect
import io
import json
from pathlib import Path

import jax
import numpy as np

from gdlab import results

MANIFEST = "manifest.json"


def _code_hash(fn) -> str:
    """A stable description of a function: qualified name, source or bytecode, defaults."""
    target = getattr(fn, "func", fn)  # functools.partial
    parts = [getattr(target, "__module__", ""), getattr(target, "__qualname__", repr(target))]
    try:
        parts.append(inspect.getsource(target))
    except (OSError, TypeError):
        code = getattr(target, "__code__", None)
        parts.append(code.co_code.hex() if code is not None else repr(target))
    if fn is not target:
        parts.append(repr(getattr(fn, "args", ())) + repr(sorted(getattr(fn, "keywords", {}))))
    return _sha(" ".join(map(str, parts)).encode())


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _tree_hash(tree) -> str:
    h = hashlib.sha256()
    leaves, treedef = jax.tree.flatten(tree)
    h.update(str(treedef).encode())
    for leaf in leaves:
        a = np.asarray(leaf)
        h.update(f"{a.dtype}{a.shape}".encode())
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def fingerprint(*, loss_fn, eval_fn, optimizer, grid, seeds, params, data, settings) -> dict:
    """Per-field hashes of everything that determines a sweep's numbers."""
    return {
        "loss_fn": _code_hash(loss_fn),
        "eval_fn": _code_hash(eval_fn) if eval_fn is not None else "none",
        "optimizer": optimizer if isinstance(optimizer, str) else _code_hash(optimizer),
        "grid": _tree_hash({k: np.asarray(v) for k, v in grid.items()}) + ",".join(grid),
        "seeds": _tree_hash(seeds),
        "params": _code_hash(params) if callable(params) else _tree_hash(params),
        "data": _tree_hash(data),
        "settings": _sha(json.dumps(settings, sort_keys=True, default=repr).encode()),
    }


def open_folder(folder, stamp: dict, num_chunks: int) -> Path:
    """Create the folder and manifest, or check an existing manifest matches ``stamp``."""
    folder = Path(folder)
    manifest = folder / MANIFEST
    if manifest.exists():
        stored = results.read_json(manifest)
        differ = sorted(k for k in stamp if stored["fingerprint"].get(k) != stamp[k])
        if differ or stored.get("chunks") != num_chunks:
            raise ValueError(
                f"checkpoint {folder} was written by a different sweep (differs in: "
                f"{', '.join(differ) or 'number of chunks'}); use a new folder or delete it"
            )
    else:
        results.write_json(manifest, {"fingerprint": stamp, "chunks": num_chunks})
    return folder


def chunk_path(folder: Path, index: int) -> Path:
    return Path(folder) / f"chunk_{index:06d}.npz"


def save_chunk(folder: Path, index: int, leaves) -> None:
    buffer = io.BytesIO()
    np.savez(buffer, *[np.asarray(leaf) for leaf in leaves])
    results._atomic_write(chunk_path(folder, index), lambda f: f.write(buffer.getvalue()))


def load_chunk(folder: Path, index: int, num_leaves: int):
    """The leaves of a stored chunk, or None if it is missing or unreadable (recompute it)."""
    path = chunk_path(folder, index)
    if not path.exists():
        return None
    try:
        with np.load(path) as stored:
            leaves = [stored[f"arr_{i}"] for i in range(num_leaves)]
    except (OSError, KeyError, ValueError):
        return None
    return leaves
