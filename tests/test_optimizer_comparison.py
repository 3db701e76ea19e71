"""optimizer_comparison: quick-size claims, the rate fit against a closed-form sequence,
and the summary table's "not run" vs "never"."""


import numpy as np
import pytest

from gdlab import experiment

pytestmark = pytest.mark.xdist_group("optimizer_comparison")


def _claims(module, config, output):
    result = experiment.build_result(module, config, output)
    return result, result["claims"]


def test_quick_claims_hold(quick_run):
    loaded, config, output = quick_run("optimizer_comparison")
    result, found = _claims(loaded.module, config, output)
    assert len(found) >= 4  # rates (GD, heavy ball), rankings, edges, budget, profile
    assert [c["statement"] for c in found if not c["holds"]] == []
    rates = [c for c in found if "closed-form rate" in c["statement"]]
    assert rates and all(len(c["seeds"]) == config.heldout for c in rates)
    assert all(c["seeds"][0] == config.tune_starts for c in rates)  # held-out starts only
    tables = loaded.module.tables(result)
    assert "[" in tables["table.md"] and "defaults" in tables["table.md"]
    assert "not optax" in tables["table.md"]


def test_fitted_rate_recovers_a_closed_form_contraction(quick_run):
    loaded, _, _ = quick_run("optimizer_comparison")
    k = np.arange(300)
    for r in (0.5, 0.9, 0.99):
        gap = 3.0 * np.maximum(k, 1.0) ** 2 * r ** (2 * k)  # k² factor, as heavy ball has
        assert loaded.module.fitted_rate(gap) == pytest.approx(r, rel=1e-9)


def test_summary_table_separates_not_run_from_never(quick_run):
    loaded, _, output = quick_run("optimizer_comparison")
    groups = output["series"]["groups"]
    order = [*output["series"]["order"], "not_a_method"]
    text = loaded.module._summary_table(groups, order)
    line = next(x for x in text.splitlines() if x.startswith("| not_a_method"))
    assert line.count("not run") == len(groups) and "never" not in line
