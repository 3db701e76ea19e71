"""The gdlab command and result files: one-line errors, atomic writes, faithful redraws."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from gdlab import cli, experiment, results

TINY = '''"""A tiny experiment used by the CLI tests."""
from dataclasses import dataclass
import gdlab
from gdlab import plotting

@dataclass(frozen=True)
class Config:
    value: float = 2.0  # squared into the metric
    fail: bool = False

QUICK = {"value": 3.0}

def run(config):
    if config.value < 0:
        raise ValueError(f"value must be >= 0, got {config.value}")
    if config.fail:
        raise RuntimeError("asked to fail")
    return {"metrics": {"square": config.value**2, "nan": float("nan")},
            "series": {"x": [1.0, float("inf"), 3.0]}}

def plot(result):
    fig, axes = plotting.figure(title="tiny")
    axes[0, 0].plot(plotting.array(result["series"]["x"]))
    return {"line": fig}
'''


@pytest.fixture
def lab(tmp_path, monkeypatch):
    """An experiments folder with a good and a failing experiment; results in tmp."""
    folder = tmp_path / "experiments"
    folder.mkdir()
    (folder / "tiny.py").write_text(TINY)
    (folder / "broken.py").write_text(TINY.replace("fail: bool = False", "fail: bool = True"))
    monkeypatch.setenv("GDLAB_EXPERIMENTS", str(folder))
    monkeypatch.setenv("GDLAB_RESULTS", str(tmp_path / "results"))
    return tmp_path


def test_console_script_lists_the_real_experiments():
    out = subprocess.run([Path(sys.executable).parent / "gdlab", "list"], capture_output=True,
                         text=True, check=True, env={**os.environ, "GDLAB_EXPERIMENTS": ""})
    assert "weight_update" in out.stdout


def test_run_writes_result_and_prints_metrics(lab, capsys):
    assert cli.main(["run", "tiny", "--value", "1.5"]) == 0
    stored = results.load(lab / "results" / "tiny")
    assert stored["metrics"]["square"] == 2.25 and stored["metrics"]["nan"] is None
    assert stored["series"]["x"] == [1.0, None, 3.0]
    assert stored["config"] == {"value": 1.5, "fail": False}
    assert {"jax", "optax", "gdlab", "platform"} <= set(stored["meta"])
    assert (lab / "results" / "tiny" / "line.png").exists()
    assert "square" in capsys.readouterr().out


def test_quick_uses_quick_overrides(lab):
    assert cli.main(["run", "tiny", "--quick", "--out", str(lab / "q")]) == 0
    assert results.load(lab / "q" / "tiny")["metrics"]["square"] == 9.0


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["run", "nope"], "unknown experiment 'nope'; valid: broken, tiny"),
        (["run", "tiny", "--bogus", "1"], "Unrecognized options"),
        (["run", "tiny", "--value", "abc"], "--value"),
        (["run", "tiny", "--value", "-1"], "value must be >= 0"),
        (["frobnicate"], "unknown command"),
        (["plot", "tiny"], "no result"),
        (["run"], "usage"),
        (["run", "--all", "--jobs", "0"], "--jobs must be a positive integer"),
        (["run", "--all", "--jobs", "x"], "--jobs must be a positive integer"),
    ],
)
def test_bad_input_prints_one_line_and_exits_2(lab, capsys, argv, needle):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and needle in err and "Traceback" not in err


def test_bad_input_exit_status_from_the_shell(lab):
    proc = subprocess.run([sys.executable, "-m", "gdlab.cli", "run", "nope"], capture_output=True,
                          text=True)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("jobs", ["1", "2"])  # in this process; in processes of their own
def test_run_all_goes_on_after_a_failure(lab, capsys, jobs):
    assert cli.main(["run", "--all", "--jobs", jobs]) == 1
    captured = capsys.readouterr()
    assert "FAILED  broken" in captured.out and "ok      tiny" in captured.out
    assert "failed: broken" in captured.out
    assert (lab / "results" / "tiny" / "result.json").exists()
    assert not (lab / "results" / "broken").exists()


def test_plot_redraws_identical_bytes(lab):
    assert cli.main(["run", "tiny"]) == 0
    png = lab / "results" / "tiny" / "line.png"
    first = png.read_bytes()
    png.unlink()
    assert cli.main(["plot", "tiny"]) == 0
    assert png.read_bytes() == first


def test_interrupted_write_keeps_previous_result(tmp_path, monkeypatch):
    path = tmp_path / "result.json"
    results.write_json(path, {"metrics": {"a": 1}})

    def interrupted(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        results.write_json(path, {"metrics": {"a": 2}})
    assert json.loads(path.read_text()) == {"metrics": {"a": 1}}
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]  # no temp file left


def test_written_files_get_the_usual_permissions(tmp_path):
    mask = os.umask(0o022)
    try:
        results.write_json(tmp_path / "result.json", {"a": 1})
        results.write_text(tmp_path / "table.md", "| a |\n")
    finally:
        os.umask(mask)
    for name in ("result.json", "table.md"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o644  # not mkstemp's 0600


def test_unstorable_value_fails_before_touching_the_file(tmp_path):
    path = tmp_path / "result.json"
    results.write_json(path, {"a": 1})
    with pytest.raises(TypeError):
        results.write_json(path, {"a": object()})
    assert json.loads(path.read_text()) == {"a": 1}


def test_script_entry_point_help(lab):
    script = lab / "experiments" / "tiny.py"
    script.write_text(TINY + textwrap.dedent('''
        if __name__ == "__main__":
            gdlab.experiment.script_main(__file__)
        '''))
    proc = subprocess.run([sys.executable, str(script), "--help"], capture_output=True,
                          text=True)
    assert proc.returncode == 0 and "--value" in proc.stdout


def test_format_metrics_never_prints_nan():
    import numpy as np

    text = experiment.format_metrics({"a": 1.23456789, "b": float("nan"), "c": {"d": 2},
                                      "e": np.float32("nan"), "f": None, "g": float("inf")})
    assert "nan" not in text.lower() and "c.d" in text and "1.23457" in text
    lines = dict(line.split(None, 1) for line in text.splitlines())
    assert lines["b"] == lines["e"] == lines["f"] == "n/a (non-finite)"
    assert lines["g"] == "inf"  # +inf means "never" (a diverged run): it stays visible


def test_run_all_into_a_new_folder_still_starts_the_longest_experiment_first(tmp_path):
    """A new ``--out`` has no stored times: the committed results' times order the runs."""
    def stored(name):
        path = Path(experiment.results_dir()) / name / "result.json"
        return json.loads(path.read_text())["meta"]["seconds"]

    longest = "vanishing_gradients"
    assert cli._last_seconds(longest, False, tmp_path) == stored(longest)
    assert stored(longest) > stored("update_rules") > 0
    (tmp_path / "update_rules").mkdir()
    results.write_json(tmp_path / "update_rules" / "result.json", {"meta": {"seconds": 1234.5}})
    assert cli._last_seconds("update_rules", False, tmp_path) == 1234.5  # its own time wins
