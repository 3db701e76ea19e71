"""``gdlab inspect`` on a built-in problem and on a user's problem file; bad input refused."""

import json
from pathlib import Path

import numpy as np
import pytest

from gdlab import cli

ROOT = Path(__file__).resolve().parents[1]


def _result(folder: Path) -> dict:
    assert (folder / "dashboard.png").stat().st_size > 10_000
    return json.loads((folder / "result.json").read_text())


def test_inspect_a_builtin_quadratic_sharpness_and_edge(tmp_path):
    # quadratic: eigenvalues 1 and 10, so λ_max = 10 and plain GD's edge is 2/η
    code = cli.main(["inspect", "--problem", "quadratic", "--optimizer", "sgd",
                     "--learning-rate", "0.15", "--steps", "20", "--every", "5",
                     "--out", str(tmp_path)])
    assert code == 0
    result = _result(tmp_path / "inspect" / "quadratic")
    series = result["series"]
    assert series["instrument_steps"] == [0, 5, 10, 15, 20]
    np.testing.assert_allclose(series["instruments"]["sharpness"][0], 10.0, rtol=1e-8)
    np.testing.assert_allclose(series["edge"], [2 / 0.15])
    # α on the 1-D slice along the step: its closed form for GD on a quadratic
    x = np.array([1.0, 1.0]) * (1 - 0.15 * np.array([1.0, 10.0])) ** 5
    g = np.array([1.0, 10.0]) * x
    t_star = g @ g / (0.15 * g @ (np.array([1.0, 10.0]) * g))
    np.testing.assert_allclose(series["instruments"]["alpha"][0][1], 1 / t_star - 1, rtol=1e-8)


def test_inspect_a_user_problem_file_with_a_sweep(tmp_path):
    problem = f"{ROOT / 'examples' / 'my_problems.py'}:tiny_mlp"
    code = cli.main(["inspect", "--problem", problem, "--optimizer", "momentum",
                     "--momentum", "0.9", "--steps", "30", "--sweep", "learning_rate=1e-3:0.1:3",
                     "--out", str(tmp_path)])
    assert code == 0
    result = _result(tmp_path / "inspect" / "my_problems.tiny_mlp")
    inst = result["series"]["instruments"]
    assert len(inst["gsnr"]) == 3 and len(inst["gsnr"][0][0]) == 2  # lanes, steps, layers
    assert "noise" in result["config"]["instruments"]
    np.testing.assert_allclose(result["series"]["edge"],
                               [2 * 1.9 / lr for lr in np.geomspace(1e-3, 0.1, 3)])
    # heavy ball's first update is η·g: its effective rate is η in every layer
    np.testing.assert_allclose(inst["effective_lr"][0][0], [1e-3, 1e-3], rtol=1e-8)


@pytest.mark.parametrize("args", [
    ["--problem", "nope", "--optimizer", "sgd"],
    ["--problem", "quadratic", "--optimizer", "sgdd"],
    ["--problem", "quadratic", "--optimizer", "sgd", "--sweep", "learning_rate=1:0.1:3"],
    ["--problem", "quadratic", "--optimizer", "sgd", "--learning-rate", "nan"],
    ["--problem", "quadratic", "--optimizer", "sgd", "--instruments", "noise"],
    ["--problem", "quadratic", "--optimizer", "sgd", "--instruments", "nrms"],
    ["--problem", "quadratic", "--optimizer", "sgd", "--steps", "0"],
])
def test_bad_input_exits_2_and_writes_nothing(tmp_path, capsys, args):
    assert cli.main(["inspect", *args, "--out", str(tmp_path)]) == 2
    assert not (tmp_path / "inspect").exists()
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("gdlab: error:")
