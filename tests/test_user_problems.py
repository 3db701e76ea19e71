"""Bring your own problem: the README's example file through `gdlab compare` and
``problems.get``, checked against plain gradient descent on the same problem; bad
references get one line and exit 2, writing nothing."""

import json
from pathlib import Path

import jax
import numpy as np
import optax
import pytest

from gdlab import cli, problems, train

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = "examples/my_problems.py:tiny_mlp"


@pytest.fixture
def at_root(monkeypatch):
    monkeypatch.chdir(ROOT)  # the README's command uses a path relative to the clone


def test_the_readme_command_runs_and_matches_plain_gradient_descent(at_root, tmp_path, capsys):
    code = cli.main(["compare", "--problem", EXAMPLE, "--optimizers", "sgd,adam", "--steps",
                     "40", "--seeds", "3", "--learning-rate", "0.1", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0
    assert "| tiny_mlp | sgd |" in out and "| tiny_mlp | adam |" in out
    folder = tmp_path / "compare" / "my_problems.tiny_mlp"
    for name in ("result.json", "table.csv", "table.md", "loss.png"):
        assert (folder / name).exists(), name
    # rerun s starts from init(key(s)); the median of the three SGD curves equals the median
    # of three runs of optax.sgd(0.1) written directly against the user's problem
    jax.config.update("jax_enable_x64", True)  # as the command does
    p = problems.get(EXAMPLE)
    opt = optax.sgd(0.1)  # one optimizer object: the three runs share one compiled program
    direct = [train.run(p.loss, p.init(jax.random.key(s)), opt, 40, data=p.data).loss
              for s in (1, 2, 3)]
    stored = json.loads((folder / "result.json").read_text())
    sgd = next(e for e in stored["series"]["entries"] if e["row"]["optimizer"] == "sgd")
    np.testing.assert_allclose(sgd["curves"]["gap_median"], np.median(direct, axis=0),
                               rtol=1e-9)
    assert sgd["row"]["seeds"] == 3 and sgd["row"]["diverged"] == 0


def test_a_reference_is_the_same_problem_each_time_and_takes_keyword_arguments(at_root):
    a, b = problems.get(EXAMPLE), problems.get(EXAMPLE, width=4)
    assert a.name == "tiny_mlp" and a.fmin == 0.0 and a.target == 1e-3
    assert b.init(jax.random.key(0))[0]["w"].shape == (1, 4)
    assert problems.get("gdlab.problems:rosenbrock").name == "rosenbrock"  # module:NAME too


@pytest.mark.parametrize("reference, message", [
    ("examples/nope.py:tiny_mlp", "no such file"),
    ("examples/my_problems.py:missing", "has no 'missing'"),
    ("gdlab.problems:names", "not a gdlab.problems.Problem"),
    ("gdlab.problems:HIMMELBLAU_MINIMA", "not a Problem or a function"),
    ("no_such_module_xyz:thing", "could not import"),
    ("examples/my_problems.py:", "bad problem reference"),
])
def test_bad_references_are_one_line_and_exit_2_writing_nothing(at_root, tmp_path, capsys,
                                                                 reference, message):
    with pytest.raises(ValueError, match=message):
        problems.get(reference)
    code = cli.main(["compare", "--problem", reference, "--optimizers", "sgd", "--out",
                     str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and message in err
    assert not any(tmp_path.iterdir())


def test_a_file_that_fails_to_import_is_one_line(tmp_path):
    broken = tmp_path / "broken.py"
    broken.write_text("import numpy\nraise RuntimeError('boom\\nsecond line')\n")
    with pytest.raises(ValueError, match=r"importing the file failed \(RuntimeError: boom\)$"):
        problems.get(f"{broken}:anything")


def test_the_readme_shows_the_example_file_as_it_is():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Compare optimizers on your own problem", 1)[1]
    block = section.split("```python\n", 1)[1].split("```", 1)[0]
    assert block == (ROOT / "examples" / "my_problems.py").read_text()
    assert f"--problem {EXAMPLE}" in section
