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
