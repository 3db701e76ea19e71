"""Resumable sweeps: each finished chunk is a file; a fingerprint refuses mixed configurations.

Layout of a checkpoint folder::

    manifest.json        {"fingerprint": {field: sha256, ...}, "chunks": n, "digest": sha256}
    chunk_000000.npz     the outputs of grid points [0, chunk) (leaves of the output pytree)
    chunk_000001.npz     ...                                    and a "meta" record

Every file is written atomically (temporary name, then rename, through
``gdlab.results``), so a killed process leaves only whole chunks behind; rerunning the
same sweep loads them and computes the rest. The fingerprint hashes everything that
determines the numbers: grid values, seeds, steps, recording policy, chunk size,
hyperparameters, the code of the loss and the optimizer factory, the starting params
and the data. Values a loss function closes over are not visible to it: pass data with
``data=`` so that a change is detected.

Nothing foreign is ever mixed in. Each chunk carries the manifest's digest, its own
index, the shape and dtype of every leaf and a sha256 of their bytes; a chunk that is
unreadable, belongs to another sweep or another index, or has the wrong shape or dtype
is refused with a ``ValueError`` naming the file (delete it and rerun to recompute it).
Chunks in a folder without a manifest are refused too: nothing says whose they are.
"""

import hashlib
import inspect
import io
import json
import zipfile
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


CHUNK_GLOB = "chunk_*.npz"
META = "meta"


def digest(stamp: dict, num_chunks: int) -> str:
    """One sha256 for a fingerprint and chunk count: what every chunk of the sweep carries."""
    return _sha(json.dumps([stamp, num_chunks], sort_keys=True).encode())


def _refuse(path: Path, problem: str) -> ValueError:
    return ValueError(
        f"checkpoint file {path} {problem}; delete it (or the whole folder) to recompute"
    )


def _read_manifest(path: Path) -> dict:
    try:
        stored = results.read_json(path)
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise _refuse(path, f"is unreadable ({type(error).__name__}: {error})") from None
    if (not isinstance(stored, dict) or not isinstance(stored.get("fingerprint"), dict)
            or not isinstance(stored.get("chunks"), int)):
        raise _refuse(path, "is not a gdlab checkpoint manifest")
    return stored


def open_folder(folder, stamp: dict, num_chunks: int) -> Path:
    """Create the folder and manifest, or check an existing manifest matches ``stamp``.

    Raises ``ValueError`` if the manifest belongs to another sweep, is unreadable, or is
    missing while chunk files are present (they could be anyone's).
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"checkpoint {folder} is not a folder")
    manifest = folder / MANIFEST
    if manifest.exists():
        stored = _read_manifest(manifest)
        differ = sorted(k for k in stamp if stored["fingerprint"].get(k) != stamp[k])
        if differ or stored.get("chunks") != num_chunks:
            raise ValueError(
                f"checkpoint {folder} was written by a different sweep (differs in: "
                f"{', '.join(differ) or 'number of chunks'}); use a new folder or delete it"
            )
    else:
        orphans = sorted(folder.glob(CHUNK_GLOB)) if folder.is_dir() else []
        if orphans:
            raise ValueError(
                f"checkpoint {folder} holds {len(orphans)} chunk file(s) (e.g. "
                f"{orphans[0].name}) but no {MANIFEST}, so nothing says which sweep wrote "
                f"them; delete them or use a new folder"
            )
        results.write_json(manifest, {"fingerprint": stamp, "chunks": num_chunks,
                                      "digest": digest(stamp, num_chunks)})
    return folder


def chunk_path(folder: Path, index: int) -> Path:
    return Path(folder) / f"chunk_{index:06d}.npz"


def _folder_digest(folder: Path) -> str:
    stored = _read_manifest(Path(folder) / MANIFEST)
    return digest(stored["fingerprint"], stored["chunks"])


def _content_hash(leaves) -> str:
    h = hashlib.sha256()
    for leaf in leaves:
        h.update(np.ascontiguousarray(leaf).tobytes())
    return h.hexdigest()


def save_chunk(folder: Path, index: int, leaves) -> None:
    """Write chunk ``index`` (its leaves plus the meta record that ``load_chunk`` checks)."""
    leaves = [np.asarray(leaf) for leaf in leaves]
    meta = {
        "digest": _folder_digest(folder), "index": index,
        "leaves": [[list(a.shape), a.dtype.str] for a in leaves],
        "sha256": _content_hash(leaves),
    }
    buffer = io.BytesIO()
    np.savez(buffer, *leaves, **{META: np.array(json.dumps(meta))})
    results.write_bytes(chunk_path(folder, index), buffer.getvalue())


def load_chunk(folder: Path, index: int, expected):
    """The leaves of stored chunk ``index``, or None if there is none yet.

    ``expected``: the leaves' shapes and dtypes (anything with ``.shape`` and ``.dtype``,
    e.g. ``jax.eval_shape`` output), or just their number. Raises ``ValueError`` naming
    the file if it is unreadable, from another sweep or index, or of the wrong shape.
    """
    path = chunk_path(folder, index)
    if not path.exists():
        return None
    count = expected if isinstance(expected, int) else len(expected)
    if not zipfile.is_zipfile(path):
        raise _refuse(path, "is not an .npz archive (truncated or overwritten?)")
    try:
        with np.load(path, allow_pickle=False) as stored:
            meta = json.loads(str(stored[META][()])) if META in stored.files else None
            leaves = [stored[f"arr_{i}"] for i in range(count) if f"arr_{i}" in stored.files]
            extra = len([n for n in stored.files if n != META]) - count
    except Exception as error:  # zip, CRC, EOF, pickle, JSON: all mean "corrupt"
        raise _refuse(path, f"is unreadable ({type(error).__name__}: {error})") from None
    if not isinstance(meta, dict):
        raise _refuse(path, "carries no gdlab chunk record (written by another program?)")
    if meta.get("digest") != _folder_digest(folder):
        raise _refuse(path, "was written by a different sweep than its folder's manifest")
    if meta.get("index") != index:
        raise _refuse(path, f"holds chunk {meta.get('index')!r}, not chunk {index}")
    if len(leaves) != count or extra:
        raise _refuse(path, f"holds {len(leaves) + max(extra, 0)} arrays, expected {count}")
    recorded = [[list(a.shape), a.dtype.str] for a in leaves]
    if meta.get("leaves") != recorded or meta.get("sha256") != _content_hash(leaves):
        raise _refuse(path, "does not match its own record (modified after it was written)")
    if not isinstance(expected, int):
        for i, (leaf, want) in enumerate(zip(leaves, expected, strict=True)):
            if leaf.shape != tuple(want.shape) or leaf.dtype != np.dtype(want.dtype):
                raise _refuse(path, f"array {i} is {leaf.dtype}{list(leaf.shape)}, expected "
                                    f"{np.dtype(want.dtype)}{list(want.shape)}")
    return leaves
