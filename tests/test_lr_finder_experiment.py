"""The lr_finder experiment: fastai's valley as published, and the claims over seeds.

(The range test's own tests are in test_lr_finder.py.)

- ``valley`` equals a literal transcription of fastai's published double loop
  (fastai/callback/schedule.py, ``valley``) on random curves, with skips applied first.
- The quick run's claims hold, and so do those of ``--seed S`` for S = 1…4.
"""


import numpy as np
import pytest

from gdlab import claims, experiment
from gdlab.train import valley

pytestmark = pytest.mark.xdist_group("lr_finder")


def _fastai_valley(lrs, losses):
    """fastai's loop as published, with Python's wrap-around at index −1 excluded."""
    n = len(losses)
    max_start, max_end = 0, 0
    lds = [1] * n
    for i in range(1, n):
        for j in range(0, i):
            if (losses[i] < losses[j]) and (lds[i] < lds[j] + 1):
                lds[i] = lds[j] + 1
            if lds[max_end] < lds[i]:
                max_end = i
                max_start = max_end - lds[max_end]
    sections = (max_end - max_start) / 3
    idx = max_start + int(sections) + int(sections / 2)
    return float(lrs[max(idx, 0)])


def test_valley_matches_fastais_loop_on_random_curves():
    rng = np.random.default_rng(0)
    for _ in range(300):
        n = int(rng.integers(2, 90))
        loss = rng.normal(size=n).cumsum() + rng.normal(size=n)
        lrs = np.geomspace(1e-4, 10, n)
        assert valley(lrs, loss, skip_end=0) == _fastai_valley(lrs, loss)


def test_valley_drops_the_skipped_points_first():
    loss = [9, 8, 7, 6, 5, 4, 3, 5, 8, 9]
    # skip_start=3 leaves 6 5 4 3 5 8 9 at rates 4…10: s = −1, e = 3, index 0
    assert valley(np.arange(1.0, 11.0), loss, skip_start=3, skip_end=0) == 4.0
    lrs = np.geomspace(1e-3, 1, 60)
    curve = np.random.default_rng(1).normal(size=60).cumsum()
    assert valley(lrs, curve, skip_start=6) == _fastai_valley(lrs[6:-5], curve[6:-5])


def _claims(module, config, output):
    return experiment.build_result(module, config, output)["claims"]


def test_quick_claims_hold(quick_run):
    loaded, config, output = quick_run("lr_finder")
    found = _claims(loaded.module, config, output)
    assert len(found) >= 8
    assert not claims.failed(found), claims.markdown(claims.failed(found))


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_other_seeds_keep_the_claims(seed):
    import dataclasses

    import jax

    from gdlab import experiment

    loaded = experiment.load("lr_finder")
    config = dataclasses.replace(loaded.default_config(quick=True), seed=seed)
    with jax.numpy_rank_promotion("allow"):
        output = loaded.module.run(config)
    found = _claims(loaded.module, config, output)
    assert not claims.failed(found), claims.markdown(claims.failed(found))
