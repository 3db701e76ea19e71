"""The experiment protocol: claims as data, result folders replaced as one unit, the
README gallery rendered from results."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gdlab import claims, results

ROOT = Path(__file__).resolve().parent.parent


def test_over_seeds_median_and_count_match_numpy():
    values = [0.3, np.nan, 0.05, 2.0, 0.1, 0.2]
    c = claims.over_seeds("x", values, upper=0.25, seeds=range(1, 7))
    finite = np.where(np.isnan(values), np.inf, values)
    assert c["measured"] == pytest.approx(np.median(finite))
    assert c["held_for"] == "3/6"  # 0.05, 0.1, 0.2; NaN is a failing seed
    assert c["holds"] is False  # median 0.25 is not < 0.25
    assert c["seeds"] == [1, 2, 3, 4, 5, 6]
    assert claims.over_seeds("x", values, upper=0.25, require=4, seeds=range(6),
                             strict=False)["holds"] is False


def test_numeric_claims_never_pass_on_nan():
    for claim in (claims.below("x", np.nan, 1.0), claims.above("x", np.nan, 0.0),
                  claims.close("x", np.nan, 1.0, rtol=1.0), claims.between("x", np.inf, 0, 1)):
        assert claim["holds"] is False and claim["measured"] is None
    assert claims.close("x", 1.0 + 1e-9, 1.0, rtol=1e-8)["holds"] is True
    assert claims.close("x", 1.0 + 1e-7, 1.0, rtol=1e-8)["holds"] is False


def test_claims_are_json():
    c = claims.over_seeds("x", np.array([1.0, 2.0, 3.0]), lower=0.5)
    assert json.loads(json.dumps(results.to_jsonable(c), allow_nan=False))["holds"] is True


def test_replace_folder_swaps_whole_folders(tmp_path):
    target = tmp_path / "exp"

    def write(files):
        def go(staging):
            for name, text in files.items():
                (staging / name).write_text(text)
        return go

    results.replace_folder(target, write({"result.json": "old", "a.png": "old"}))
    results.replace_folder(target, write({"result.json": "new", "b.png": "new"}))
    assert sorted(p.name for p in target.iterdir()) == ["b.png", "result.json"]
    assert (target / "result.json").read_text() == "new"

    def interrupted(staging):
        (staging / "a.png").write_text("half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        results.replace_folder(target, interrupted)
    assert sorted(p.name for p in target.iterdir()) == ["b.png", "result.json"]
    assert not [p for p in tmp_path.iterdir() if "staging" in p.name]


def test_readme_gallery_is_rendered_from_results():
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "build_readme.py"), "--check"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_committed_results_claims_hold():
    """Every committed full-size result states claims, and each holds."""
    stored = sorted((ROOT / "results").glob("*/result.json"))
    assert stored
    failing = {}
    for path in stored:
        found = json.loads(path.read_text()).get("claims") or []
        bad = [c["statement"] for c in found if not c["holds"]]
        if bad:
            failing[path.parent.name] = bad
    assert not failing, failing


def _tagged(tag, n=4):
    def write(staging):
        for i in range(n):
            (staging / f"f{i}.txt").write_text(tag)
    return write


def _writer(target, tag, rounds):
    for _ in range(rounds):
        results.replace_folder(target, _tagged(tag))


def test_concurrent_writers_never_mix_files(tmp_path):
    """Two processes replace one folder 30 times each while it is read: every read, done
    against one open directory, sees the files of one writer only (issue 14 #4)."""
    import multiprocessing as mp
    import os

    target = tmp_path / "exp"
    results.replace_folder(target, _tagged("start"))
    ctx = mp.get_context("spawn")
    writers = [ctx.Process(target=_writer, args=(target, tag, 30)) for tag in ("a", "b")]
    for w in writers:
        w.start()
    seen, reads = set(), 0
    while any(w.is_alive() for w in writers):
        fd = os.open(target, os.O_RDONLY | os.O_DIRECTORY)
        try:
            names = sorted(os.listdir(fd))
            tags = {open(n, opener=lambda p, f, fd=fd: os.open(p, f, dir_fd=fd)).read()
                    for n in names}
        except FileNotFoundError:
            continue  # the folder we held was swapped out and is being removed: read again
        finally:
            os.close(fd)
        assert len(tags) <= 1, (names, tags)  # never files of two writers
        if names != [f"f{i}.txt" for i in range(4)]:
            continue  # the old folder, swapped out while we listed it, is being removed
        seen |= tags
        reads += 1
    assert all(w.exitcode == 0 for w in writers) and reads > 0
    assert not [p for p in tmp_path.iterdir() if "staging" in p.name]


def test_killed_writer_leaves_the_old_folder_and_is_cleaned_up(tmp_path):
    """kill -9 in the middle of writing the staging folder: the old folder is intact and
    the next write removes the dead writer's staging folder."""
    target = tmp_path / "exp"
    results.replace_folder(target, _tagged("old"))
    code = ("import os, signal, sys; from pathlib import Path; from gdlab import results\n"
            "def write(s):\n"
            "    (s / 'f0.txt').write_text('new')\n"
            "    os.kill(os.getpid(), signal.SIGKILL)\n"
            f"results.replace_folder(Path({str(target)!r}), write)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True)
    assert done.returncode == -9
    assert [p.read_text() for p in sorted(target.iterdir())] == ["old"] * 4
    assert [p for p in tmp_path.iterdir() if "staging" in p.name]  # the dead one's
    results.replace_folder(target, _tagged("next"))
    assert not [p for p in tmp_path.iterdir() if "staging" in p.name]


def _gdlab(*args, env=None):
    import os

    return subprocess.run([sys.executable, "-m", "gdlab.cli", *args], capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, timeout=120)


@pytest.mark.parametrize("content", ["{}", '{"experiment": "learning_rate", "config": {}, '
                                     '"metrics": {}, "series": {}}', "[" * 100000 + "]" * 100000,
                                     "not json", None],
                         ids=["empty", "foreign", "nested", "invalid", "missing"])
def test_plot_refuses_what_is_not_its_result(tmp_path, content, capsys):
    """gdlab plot on an empty, foreign, deeply nested, invalid or missing result.json:
    one line naming the file, exit 2, nothing written (issue 14 #6). In this process (the
    exit status as the shell sees it: tests/test_cli.py)."""
    from gdlab import cli

    folder = tmp_path / "weight_update"
    folder.mkdir()
    if content is not None:
        (folder / "result.json").write_text(content)
    before = sorted(p.name for p in folder.iterdir())
    assert cli.main(["plot", "weight_update", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "result.json" in err, err
    assert sorted(p.name for p in folder.iterdir()) == before


def test_plot_quick_redraws_the_quick_result(tmp_path, monkeypatch):
    """gdlab plot NAME --quick redraws results-quick/NAME, never results/NAME (#7)."""
    import shutil

    from gdlab import cli, experiment

    full, quick = tmp_path / "results", tmp_path / "results-quick"
    shutil.copytree(ROOT / "results" / "update_rules", quick / "update_rules")
    (full / "update_rules").mkdir(parents=True)
    monkeypatch.setattr(experiment, "results_dir", lambda q=False: quick if q else full)
    assert cli.main(["plot", "update_rules", "--quick"]) == 0
    assert list((full / "update_rules").iterdir()) == []
    assert (quick / "update_rules" / "result.json").exists()


def test_list_survives_a_broken_script(tmp_path):
    """A syntax error in one experiment: the others are listed, the broken one marked (#12)."""
    import shutil

    shutil.copy(ROOT / "experiments" / "update_rules.py", tmp_path / "update_rules.py")
    for helper in (ROOT / "experiments").glob("_update_rules*.py"):
        shutil.copy(helper, tmp_path / helper.name)
    (tmp_path / "broken.py").write_text("def oops(:\n")
    done = _gdlab("list", env={"GDLAB_EXPERIMENTS": str(tmp_path)})
    lines = done.stdout.splitlines()
    assert any(line.startswith("broken") and "BROKEN" in line for line in lines), done.stdout
    assert any(line.startswith("update_rules") and "BROKEN" not in line for line in lines)
    assert done.returncode == 1
