"""Nothing lost, nothing mixed (issue 14): one regression test per defect found by probing.

Each test reproduces a defect of the probe report (the number in its name) and checks
the fix: foreign or corrupt checkpoint chunks refused naming the file, bad numbers
refused before anything runs (library: ValueError; CLI: one line, exit 2, nothing
written), unbounded memory refused with what to pass instead, stale temporaries
cleaned. Result folders swapped as one unit, ``gdlab plot`` errors and ``gdlab list``
with a broken script are covered in tests/test_cli.py.
"""

import json
import os
import shutil
import subprocess
import sys
import zipfile

import jax.numpy as jnp
import numpy as np
import optax
import pytest

import gdlab
from gdlab import cli, experiment, optimizers, results, train
from gdlab.train import _checkpoint

LRS = np.geomspace(1e-3, 2, 8)


def bowl(x):
    return jnp.sum(x**2)


def _sweep(folder, momentum=0.9, **kw):
    """The issue's reproduction: 4 chunks of 2 learning rates, 3 of 8 runs diverge."""
    return train.sweep(bowl, jnp.ones(2), "momentum", {"learning_rate": LRS}, 50,
                       hyperparameters={"momentum": momentum}, record="summary",
                       chunk_size=2, checkpoint=folder, **kw)


# --- 1, 2, 14: checkpoints ---------------------------------------------------------------

def test_1_a_chunk_copied_from_another_sweep_is_refused(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    reference = _sweep(a)
    _sweep(b, momentum=0.5)
    assert _sweep(a).chunks_loaded == 4  # resuming the same sweep still works
    shutil.copy(b / "chunk_000001.npz", a / "chunk_000001.npz")
    with pytest.raises(ValueError, match=r"chunk_000001\.npz.*different sweep"):
        _sweep(a)
    shutil.copy(a / "chunk_000002.npz", a / "chunk_000001.npz")  # right sweep, wrong index
    with pytest.raises(ValueError, match=r"chunk_000001\.npz holds chunk 2"):
        _sweep(a)
    (a / "chunk_000001.npz").unlink()
    again = _sweep(a)
    assert again.chunks_computed == 1
    np.testing.assert_array_equal(again.best_loss, reference.best_loss)


@pytest.mark.parametrize("change", ["rows", "dtype", "count"])
def test_1_a_chunk_of_the_wrong_shape_or_dtype_is_refused(tmp_path, change):
    """A chunk with 8 rows instead of 2 used to shift every later grid point; a float64
    chunk with NaN reached best_loss. Written with the right digest and index, so only
    the shape/dtype check can catch it."""
    _sweep(tmp_path)
    with np.load(tmp_path / "chunk_000001.npz") as stored:
        leaves = [stored[f"arr_{i}"] for i in range(len(stored.files) - 1)]
    if change == "rows":
        leaves = [np.concatenate([leaf] * 4) for leaf in leaves]
    elif change == "dtype":
        leaves = [np.full(leaf.shape, np.nan, np.float32) if leaf.dtype.kind == "f" else leaf
                  for leaf in leaves]
    else:
        leaves = leaves[:-1]
    _checkpoint.save_chunk(tmp_path, 1, leaves)
    with pytest.raises(ValueError, match=r"chunk_000001\.npz"):
        _sweep(tmp_path)


def test_2_chunks_without_a_manifest_are_never_reused(tmp_path):
    _sweep(tmp_path, momentum=0.5)
    (tmp_path / "manifest.json").unlink()
    with pytest.raises(ValueError, match="no manifest.json"):
        _sweep(tmp_path, momentum=0.9)  # used to return momentum=0.5's numbers


def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _flip_a_byte(path):
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z:
        info = z.getinfo("arr_0.npy")
    offset = info.header_offset + 30 + len(info.filename) + len(info.extra) + 100
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("name, corrupt", [
    ("chunk_000002.npz", lambda p: p.write_bytes(b"")),                  # EOFError
    ("chunk_000002.npz", _truncate),                                      # BadZipFile
    ("chunk_000002.npz", _flip_a_byte),                                   # Bad CRC-32
    ("chunk_000002.npz", lambda p: p.write_bytes(b"\x93NUMPY garbage")),  # not a zip
    ("manifest.json", lambda p: p.write_text("{not json")),               # JSONDecodeError
    ("manifest.json", lambda p: p.write_text("[1, 2]")),                  # TypeError
])
def test_14_corrupt_checkpoint_files_are_refused_naming_the_file(tmp_path, name, corrupt):
    _sweep(tmp_path)
    corrupt(tmp_path / name)
    with pytest.raises(ValueError, match=rf"{name}.*delete it"):
        _sweep(tmp_path)


# --- 5, 15, 16: library arguments --------------------------------------------------------

def test_5_seeds_beyond_the_key_range_are_refused():
    """2**32 used to be cast to uint32 = 0: the runs of seed 0 reported as seed 2**32."""
    args = (bowl, jnp.ones(2), "sgd", {"learning_rate": [0.1]}, 3)
    with pytest.raises(ValueError, match=r"\[0, 2\*\*32\)"):
        train.sweep(*args, seeds=[2**32, 2**32 + 1])
    with pytest.raises(ValueError, match="seeds"):
        train.sweep(*args, seeds=2**40)  # a count: would allocate 8 TB of seeds
    assert train.sweep(*args, seeds=[2**32 - 1]).seeds.tolist() == [2**32 - 1]


@pytest.mark.parametrize("name, hyperparameters, needle", [
    ("sgd", {"learning_rate": float("nan")}, "learning_rate must be finite"),
    ("sgd", {"learning_rate": np.inf}, "learning_rate must be finite"),
    ("sgd", {"learning_rate": -1.0}, "learning_rate must be >= 0"),
    ("adam", {"learning_rate": 0.1, "b1": 2.0}, r"b1 must be in \[0, 1\)"),
    ("adam", {"learning_rate": 0.1, "b2": 1.0}, r"b2 must be in \[0, 1\)"),
    ("adam", {"learning_rate": 0.1, "eps": -1e-8}, "eps must be >= 0"),
    ("momentum", {"learning_rate": 0.1, "momentum": -5.0}, r"momentum must be in \[0, 1\)"),
    ("rmsprop", {"learning_rate": 0.1, "decay": float("nan")}, "decay must be finite"),
])
def test_15_hyperparameters_outside_their_range_are_refused(name, hyperparameters, needle):
    with pytest.raises(ValueError, match=needle):
        optimizers.make(name, **hyperparameters)


def test_15_swept_values_are_checked_too():
    with pytest.raises(ValueError, match=r"momentum must be in \[0, 1\)"):
        train.sweep(bowl, jnp.ones(2), "momentum", {"learning_rate": [0.1], "momentum": [0.5, 1.5]},
                    3)


def test_15_learning_rate_zero_is_allowed_and_stands_still():
    traj = train.run(bowl, jnp.ones(2), optimizers.make("sgd", learning_rate=0.0), 3)
    np.testing.assert_array_equal(traj.loss, [2.0, 2.0, 2.0, 2.0])


@pytest.mark.parametrize("factor", [float("nan"), 0.5, -1.0, True, "big"])
def test_15_divergence_factor_nan_or_below_one_is_refused(factor):
    """NaN used to switch divergence detection off silently (no comparison is true)."""
    with pytest.raises(ValueError, match="divergence_factor"):
        train.run(bowl, jnp.ones(2), optax.sgd(0.1), 3, divergence_factor=factor)
    with pytest.raises(ValueError, match="divergence_factor"):
        train.sweep(bowl, jnp.ones(2), "sgd", {"learning_rate": [0.1]}, 3,
                    divergence_factor=factor)


def test_15_a_loss_returning_a_python_float_is_accepted():
    """Used to fail with "'float' object has no attribute 'dtype'". A constant loss has
    zero gradient, so SGD stands still: the closed form is params[k] = params[0]."""
    traj = train.run(lambda x: 1.0, jnp.array([1.0, 2.0]), optax.sgd(0.1), 3)
    assert traj.status == "ok" and traj.best_loss == 1.0
    np.testing.assert_array_equal(traj.final_params, [1.0, 2.0])


def test_16_hessian_of_a_vector_valued_function_is_refused():
    with pytest.raises(ValueError, match="scalar"):
        gdlab.curvature.hessian(lambda x: x**2, jnp.ones(3))
    np.testing.assert_allclose(gdlab.curvature.hessian(bowl, jnp.ones(3)), 2 * np.eye(3))


# --- 9: memory ---------------------------------------------------------------------------

def test_9_a_sweep_too_big_for_memory_is_refused_before_compiling(xla_compilations):
    """4·10⁸ runs of the weight_update map used to pass 4 GB in 11 s."""
    grid = {"learning_rate": np.geomspace(1e-2, 1, 20000), "momentum": np.linspace(0, 0.9, 20000)}
    with xla_compilations() as compiled, pytest.raises(ValueError) as error:
        train.sweep(bowl, jnp.ones(2), "momentum", grid, 200)
    message = str(error.value)
    assert "GiB" in message and "record=" in message and "memory_limit=" in message
    # jax may compile a cast or two on the way; the sweep itself (a vmap of the scan, the
    # one big compilation) must not have been
    assert all(any(op in c for op in ("convert_element_type", "broadcast_in_dim"))
               for c in compiled), compiled


def test_9_a_long_run_is_refused_and_record_k_makes_it_fit():
    # 10⁶ steps of a 2-D float64 run: (2 + 2) floats · 8 bytes · 10⁶ ≈ 32 MB kept, ×3 ≈ 96 MB
    args = (bowl, jnp.ones(2), optax.sgd(0.1), 10**6)
    with pytest.raises(ValueError, match=r"record=\d+") as error:
        train.run(*args, record_params=True, memory_limit=50 * 2**20)
    k = int(str(error.value).split("record=")[1].split(",")[0].split(" ")[0])
    assert 10**6 % k == 0
    train._checks.memory("run", 1, 10**6, train._loop.parse_record(k, 10**6, True),
                         jnp.ones(2), 50 * 2**20)  # the suggestion fits


def test_9_compare_refuses_ten_million_steps_at_once(tmp_path, capsys):
    code = cli.main(["compare", "--problem", "rosenbrock", "--optimizers", "sgd",
                     "--steps", "10000000", "--out", str(tmp_path / "out")])
    assert code == 2 and "--steps <=" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


# --- 3, 8, 10, 11: the command line -------------------------------------------------------

@pytest.fixture
def no_run(monkeypatch):
    """Fail the test if an experiment actually starts: validation must come first."""
    def execute(*args, **kwargs):
        raise AssertionError("the experiment ran although its options are invalid")

    monkeypatch.setattr(experiment, "execute", execute)


@pytest.fixture
def previous(tmp_path):
    """An output folder holding a previous result, to check that nothing is touched."""
    folder = tmp_path / "out" / "weight_update"
    folder.mkdir(parents=True)
    (folder / "result.json").write_text('{"previous": true}\n')
    return tmp_path / "out"


def _snapshot(folder):
    return {p: p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("argv, option", [
    (["weight_update", "--quick", "--weight", "nan"], "--weight"),
    (["learning_rate", "--quick", "--x0", "nan"], "--x0"),
    (["weight_update", "--alpha", "nan"], "--alpha"),
    (["weight_update", "--input", "inf"], "--input"),
    (["weight_update", "--goal", "inf"], "--goal"),
    (["weight_update", "--effect-inputs", "0.5", "-inf"], "--effect-inputs"),
    (["deep_chain", "--scales", "nan"], "--scales"),
])
def test_3_non_finite_options_exit_2_naming_the_option(argv, option, no_run, previous, capsys):
    before = _snapshot(previous)
    assert cli.main(["run", *argv, "--out", str(previous)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and option in err[0] and "finite" in err[0]
    assert _snapshot(previous) == before


@pytest.mark.parametrize("argv, needle", [
    (["weight_update", "--effect-inputs"], "--effect-inputs needs at least one value"),
    (["deep_chain", "--seed", "99999999999999999999"], "--seed is out of range"),
])
def test_11_empty_tuples_and_overflowing_ints_exit_2(argv, needle, no_run, previous, capsys):
    before = _snapshot(previous)
    assert cli.main(["run", *argv, "--out", str(previous)]) == 2
    assert needle in capsys.readouterr().err
    assert _snapshot(previous) == before


def test_3_the_experiments_own_check_runs_before_anything(no_run, previous, capsys):
    assert cli.main(["run", "weight_update", "--alpha", "-1", "--out", str(previous)]) == 2
    assert "alpha" in capsys.readouterr().err


@pytest.mark.parametrize("argv, needle", [
    (["--optimizers", "sgd,sgd"], "sgd more than once"),
    (["--learning-rate", "-1"], "--learning-rate must be a finite number > 0"),
    (["--learning-rate", "nan"], "--learning-rate"),
    (["--target", "nan"], "--target"),
    (["--radius", "nan"], "--radius"),
    (["--radius", "inf"], "--radius"),
])
def test_8_compare_validates_its_options_first(argv, needle, tmp_path, capsys):
    out = tmp_path / "out"
    assert cli.main(["compare", "--problem", "rosenbrock", *argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0]
    assert not out.exists()


@pytest.mark.parametrize("target", ["/dev/null", "/dev/null/sub", "a_file", "a_file/sub"])
def test_10_unwritable_output_is_refused_before_running(target, tmp_path, no_run, capsys,
                                                         monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a_file").write_text("not a folder\n")
    for argv in (["run", "weight_update"], ["compare", "--problem", "rosenbrock"]):
        assert cli.main([*argv, "--out", target]) == 2
        assert "--out" in capsys.readouterr().err
    assert (tmp_path / "a_file").read_text() == "not a folder\n"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_10_read_only_output_folder_is_refused(tmp_path, no_run, capsys):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        assert cli.main(["run", "weight_update", "--out", str(folder / "x")]) == 2
        assert "cannot write" in capsys.readouterr().err
    finally:
        folder.chmod(0o755)


# --- 13: stale temporaries ---------------------------------------------------------------

def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_13_temporaries_of_killed_writers_are_removed_by_the_next_write(tmp_path):
    target = tmp_path / "result.json"
    dead = tmp_path / f".result.json.{_dead_pid()}.abc123.tmp"      # kill -9 mid-write
    old_style = tmp_path / ".result.json.k2j4h1.tmp"                    # before pids in names
    live = tmp_path / f".result.json.{os.getppid()}.live99.tmp"       # a concurrent writer
    other = tmp_path / f".table.md.{_dead_pid()}.abc123.tmp"          # another target
    for path in (dead, old_style, live, other):
        path.write_text("partial")
    os.utime(old_style, (0, 0))
    results.write_json(target, {"ok": True})
    assert json.loads(target.read_text()) == {"ok": True}
    assert not dead.exists() and not old_style.exists()
    assert live.exists() and other.exists()
    assert [p.name for p in tmp_path.glob(".result.json.*")] == [live.name]


def test_13_checkpoint_chunk_temporaries_are_cleaned_too(tmp_path):
    _sweep(tmp_path)
    stale = tmp_path / f".chunk_000001.npz.{_dead_pid()}.x.tmp"
    stale.write_bytes(b"PK half a chunk")
    (tmp_path / "chunk_000001.npz").unlink()
    assert _sweep(tmp_path).chunks_computed == 1
    assert not stale.exists()
