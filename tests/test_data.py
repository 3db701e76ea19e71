"""MNIST-1D: shapes and dtypes, determinism, the on-disk and in-process caches, and the
callers' global RNG state left untouched. Every test uses its own temporary cache."""

import random

import numpy as np
import pytest

from gdlab import data

SMALL = 200  # examples for the fast tests (160 train, 40 test)


@pytest.fixture(autouse=True)
def fresh_memory(monkeypatch):
    """An empty in-process cache for each test (others' entries are left alone)."""
    monkeypatch.setattr(data, "_MEMORY", {})


@pytest.fixture(scope="module")
def default_set(tmp_path_factory):
    """The default 5000-example set, generated once for this module."""
    return data.mnist1d(0, cache_dir=tmp_path_factory.mktemp("mnist1d"))


def test_default_shapes_dtypes_and_labels(default_set):
    d = default_set
    assert set(d) == {"x", "y", "x_test", "y_test"}
    assert d["x"].shape == (4000, 40) and d["x"].dtype == np.float32
    assert d["y"].shape == (4000,) and d["y"].dtype == np.int32
    assert d["x_test"].shape == (1000, 40) and d["x_test"].dtype == np.float32
    assert d["y_test"].shape == (1000,) and d["y_test"].dtype == np.int32
    for y in (d["y"], d["y_test"]):
        np.testing.assert_array_equal(np.unique(y), np.arange(10))
    # all 10 classes balanced overall: 500 each (num_samples // 10)
    np.testing.assert_array_equal(np.bincount(np.concatenate([d["y"], d["y_test"]])), 500)
    # standardised over the whole set (mean 0, std 1 before the float32 cast)
    everything = np.concatenate([d["x"], d["x_test"]]).astype(np.float64)
    assert abs(everything.mean()) < 1e-6 and abs(everything.std() - 1) < 1e-6
    assert np.all(np.isfinite(everything))


def test_same_seed_same_data_other_seed_other_data(tmp_path):
    a = data.mnist1d(1, num_samples=SMALL, cache_dir=tmp_path / "a")
    data._MEMORY.clear()
    b = data.mnist1d(1, num_samples=SMALL, cache_dir=tmp_path / "b")  # generated again
    c = data.mnist1d(2, num_samples=SMALL, cache_dir=tmp_path / "a")
    assert a["x"].shape == (160, 40) and a["x_test"].shape == (40, 40)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    assert not np.array_equal(a["x"], c["x"])


def test_disk_cache_hit_skips_generation(tmp_path, monkeypatch):
    first = data.mnist1d(3, num_samples=SMALL, cache_dir=tmp_path)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert len(files) == 1 and files[0].endswith(".npz") and "seed3" in files[0]  # no temp left
    data._MEMORY.clear()

    def fail(args):
        raise AssertionError("generated again instead of reading the cache")

    monkeypatch.setattr(data, "_generate", fail)
    second = data.mnist1d(3, num_samples=SMALL, cache_dir=tmp_path)
    for k in first:
        np.testing.assert_array_equal(first[k], second[k])
        assert second[k].dtype == first[k].dtype


def test_memory_cache_hit_and_read_only_arrays(tmp_path):
    first = data.mnist1d(4, num_samples=SMALL, cache_dir=tmp_path)
    for p in tmp_path.iterdir():
        p.unlink()
    second = data.mnist1d(4, num_samples=SMALL, cache_dir=tmp_path)
    assert second is not first and second["x"] is first["x"]  # new dict, same arrays
    assert not list(tmp_path.iterdir())  # served from memory: nothing regenerated or written
    with pytest.raises(ValueError):
        second["x"][0, 0] = 1.0


def test_global_rng_state_unchanged(tmp_path):
    np.random.seed(123)
    random.seed(123)
    expected_np, expected_py = np.random.random(3), random.random()
    np.random.seed(123)
    random.seed(123)
    data.mnist1d(5, num_samples=SMALL, cache_dir=tmp_path)
    assert list(tmp_path.iterdir())  # it really generated (and cached)
    np.testing.assert_array_equal(np.random.random(3), expected_np)
    assert random.random() == expected_py


def test_env_var_sets_cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("GDLAB_CACHE", str(tmp_path))
    data.mnist1d(6, num_samples=SMALL)
    assert [p.suffix for p in tmp_path.iterdir()] == [".npz"]


def test_corrupt_cache_is_regenerated(tmp_path):
    good = data.mnist1d(7, num_samples=SMALL, cache_dir=tmp_path)
    (path,) = tmp_path.iterdir()
    path.write_bytes(b"not an npz file")
    data._MEMORY.clear()
    again = data.mnist1d(7, num_samples=SMALL, cache_dir=tmp_path)
    np.testing.assert_array_equal(again["x"], good["x"])
    with np.load(path) as z:  # and the file was rewritten
        np.testing.assert_array_equal(z["y"], good["y"])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"seed": -1}, "seed"),
        ({"seed": 1.5}, "seed"),
        ({"num_samples": 15}, "multiple of 10"),
        ({"num_samples": 0}, "multiple of 10"),
    ],
)
def test_bad_arguments(kwargs, match, tmp_path):
    with pytest.raises(ValueError, match=match):
        data.mnist1d(cache_dir=tmp_path, **kwargs)


def test_mnist1d_train_is_the_first_training_examples():
    full = data.mnist1d(seed=0)
    first = data.mnist1d_train(100)
    np.testing.assert_array_equal(first["x"], full["x"][:100])
    np.testing.assert_array_equal(first["y"], full["y"][:100])
    assert first["x"].dtype == np.float32 and set(first) == {"x", "y"}
    assert data.mnist1d_train()["x"].shape == (4000, 40)
    for bad in (0, 4001, 2.5):
        with pytest.raises(ValueError, match="num_examples"):
            data.mnist1d_train(bad)
