"""Real data, generated locally (never downloaded) and cached: MNIST-1D.

MNIST-1D (Greydanus, "Scaling down deep learning", 2020) is a 1-D stand-in for MNIST:
ten hand-made templates, one per digit, each a 12-point curve, turned into examples
by random padding, translation, shear, scaling, correlated and i.i.d. noise, then
resampled to 40 points and standardised (mean 0, std 1 over the whole set). Classes
are balanced. It is small enough to train on a laptop CPU in seconds, yet models
separate clearly: the paper reports roughly 32% test accuracy for logistic
regression, 68% for an MLP and 94% for a CNN.

The cache (``.npz``) is written through ``gdlab.results`` like every file gdlab writes:
atomically, a temporary file and then a rename.
"""

import hashlib
import importlib.metadata
import io
import json
import os
import random
import warnings
import zipfile

import numpy as np

_KEYS = ("x", "y", "x_test", "y_test")
_FORMAT = 1  # bump when the cached arrays change meaning
_MEMORY: dict[tuple, dict[str, np.ndarray]] = {}  # in-process cache


def _is_int(value) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def _cache_dir(cache_dir) -> str:
    """``cache_dir``, else ``$GDLAB_CACHE``, else ``~/.cache/gdlab``."""
    if cache_dir is None:
        cache_dir = os.environ.get("GDLAB_CACHE") or os.path.join("~", ".cache", "gdlab")
    return os.path.expanduser(os.fspath(cache_dir))


def _generate(args) -> dict[str, np.ndarray]:
    """Run the mnist1d generator, leaving numpy's and Python's global RNGs as they were.

    ``mnist1d.data.make_dataset`` seeds and draws from the global ``np.random`` and
    ``random`` states; we save and restore both so callers' randomness is untouched.
    """
    from mnist1d.data import make_dataset  # heavy (scipy, matplotlib): import lazily

    np_state, py_state = np.random.get_state(), random.getstate()
    try:
        raw = make_dataset(args)
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
    return {
        "x": np.asarray(raw["x"], np.float32),
        "y": np.asarray(raw["y"], np.int32),
        "x_test": np.asarray(raw["x_test"], np.float32),
        "y_test": np.asarray(raw["y_test"], np.int32),
    }


def _load(path: str, expected: dict[str, tuple]) -> dict[str, np.ndarray] | None:
    """The arrays cached at ``path`` if they match ``{name: (shape, dtype)}``, else None."""
    try:
        with np.load(path) as z:
            arrays = {k: z[k] for k in _KEYS}
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None
    ok = all((a.shape, a.dtype) == expected[k] for k, a in arrays.items())
    return arrays if ok else None


def _save(path: str, arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` to ``path`` atomically through ``gdlab.results``; warn (do not
    fail) if we cannot."""
    from gdlab import results

    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    try:
        results.write_bytes(path, buffer.getvalue())
    except OSError as e:
        warnings.warn(f"gdlab.data: could not write cache {path}: {e}", stacklevel=3)


def mnist1d(seed: int = 0, *, num_samples: int = 5000, cache_dir=None) -> dict[str, np.ndarray]:
    """The MNIST-1D data set, generated locally by the ``mnist1d`` package and cached.

    Args:
      seed: the generator's seed (the package's own default is 42; we default to 0).
        The same seed gives the same arrays, bit for bit.
      num_samples: total examples, a positive multiple of 10 (balanced classes);
        80% train, 20% test as in the package.
      cache_dir: where the ``.npz`` cache lives; default ``$GDLAB_CACHE`` or
        ``~/.cache/gdlab``. The file name carries the seed and a hash of the
        generator's arguments and version. Results are also cached in-process.

    Returns:
      A new dict of read-only NumPy arrays: ``x`` (0.8·N, 40) float32, ``y`` (0.8·N,)
      int32 labels in 0…9, ``x_test`` (0.2·N, 40) float32, ``y_test`` (0.2·N,) int32;
      with the default N = 5000 that is 4000 training and 1000 test examples.

    Example::

        d = mnist1d(seed=0)
        d["x"].shape, d["y"].dtype        # (4000, 40), int32
    """
    if not _is_int(seed) or not 0 <= seed < 2**32:
        raise ValueError(f"seed must be an integer in [0, 2**32), got {seed!r}")
    if not _is_int(num_samples) or num_samples < 10 or num_samples % 10:
        raise ValueError(f"num_samples must be a positive multiple of 10, got {num_samples!r}")
    seed, num_samples = int(seed), int(num_samples)

    from mnist1d.data import get_dataset_args

    args = get_dataset_args()
    args.seed, args.num_samples = seed, num_samples
    spec = {k: v for k, v in vars(args).items() if k != "url"}
    spec["mnist1d_version"] = importlib.metadata.version("mnist1d")
    spec["format"] = _FORMAT
    digest = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:12]

    key = (seed, num_samples, digest)
    if key not in _MEMORY:
        n_train = int(num_samples * args.train_split)
        n_test, length = num_samples - n_train, args.final_seq_length
        expected = {
            "x": ((n_train, length), np.float32),
            "y": ((n_train,), np.int32),
            "x_test": ((n_test, length), np.float32),
            "y_test": ((n_test,), np.int32),
        }
        name = f"mnist1d_seed{seed}_n{num_samples}_{digest}.npz"
        path = os.path.join(_cache_dir(cache_dir), name)
        arrays = _load(path, expected)
        if arrays is None:
            arrays = _generate(args)
            _save(path, arrays)
        for a in arrays.values():
            a.flags.writeable = False
        _MEMORY[key] = arrays
    return dict(_MEMORY[key])


__all__ = ["mnist1d"]


def mnist1d_train(num_examples: int | None = None, *, seed: int = 0) -> dict[str, np.ndarray]:
    """The first ``num_examples`` MNIST-1D training examples as ``{"x", "y"}``.

    ``x`` (n, 40) float32 and ``y`` (n,) int32, ready to pass as ``data=`` to
    ``train.run``/``sweep`` (NumPy arrays become jit arguments, never constants).
    None: all 4000.

    Example::

        data = mnist1d_train(1000)
        data["x"].shape                    # (1000, 40)
    """
    d = mnist1d(seed=seed)
    if num_examples is not None and not (_is_int(num_examples)
                                         and 1 <= num_examples <= len(d["y"])):
        raise ValueError(f"num_examples must be an int in [1, {len(d['y'])}], "
                         f"got {num_examples!r}")
    return {"x": d["x"][:num_examples], "y": d["y"][:num_examples]}
