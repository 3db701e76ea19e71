"""weight_update against the book's own loops (pure Python floats) and the 2/input² boundary."""

import numpy as np
import pytest

from gdlab import experiment


@pytest.fixture(scope="module")
def exp():
    return experiment.load("weight_update").module


def book_loop(weight, inp, goal, alpha, iterations):
    """Grokking Deep Learning ch. 4, verbatim arithmetic: (error, prediction) per iteration."""
    out = []
    for _ in range(iterations):
        pred = inp * weight
        error = (pred - goal) ** 2
        direction_and_amount = (pred - goal) * inp
        weight = weight - alpha * direction_and_amount
        out.append((error, pred))
    return out


@pytest.mark.parametrize("inp, alpha", [(0.5, 1.0), (2.0, 1.0), (2.0, 0.1)])
def test_book_runs_reproduced(exp, inp, alpha):
    config = exp.Config()
    run = exp.book_run(config, inp, alpha)
    expected = np.array(book_loop(0.5, inp, 0.8, alpha, 20))
    np.testing.assert_allclose(run["error"], expected[:, 0], rtol=1e-12)
    np.testing.assert_allclose(run["prediction"], expected[:, 1], rtol=1e-12)
    assert run["update_minus_grad"] == 0.0


def test_the_books_first_lines(exp):
    # The book prints "Error:0.30250000000000005 Prediction:0.25" then 0.17015625000000004:
    # gdlab's run (train.run on the linear neuron) gives the published numbers
    run = exp.book_run(exp.Config(), 0.5, 1.0)
    assert (float(run["error"][0]), float(run["prediction"][0])) == (0.30250000000000005, 0.25)
    assert float(run["error"][1]) == pytest.approx(0.17015625000000004, rel=1e-15)


@pytest.mark.xdist_group("weight_update")
def test_quick_metrics(quick_run):
    _, _, result = quick_run("weight_update")
    m = result["metrics"]
    assert m["hot_and_cold_final_error"] == 1.0799505792475652e-27  # the book's last line
    assert m["zero_input_weight_change"] == 0.0
    assert m["negative_input_final_weight"] < 0
    assert m["boundary_bracketed_fraction"] == 1.0
    assert m["boundary_max_relative_error"] <= m["alpha_grid_ratio"] - 1
    assert m["hessian_minus_input_squared_max_abs"] == 0.0
    assert m["shrink_factor_max_abs_error"] < 1e-12
    # diverged cells are exactly those with alpha·input² > 2 (away from the boundary)
    st = result["series"]["stability"]
    prod = st["alphas"][None, :] * st["inputs"][:, None] ** 2
    clear = np.abs(prod - 2) > 0.05
    assert np.all((st["outcome"] == -1)[clear] == (prod > 2)[clear])


def test_bad_config(exp):
    with pytest.raises(ValueError, match="hot_cold_step"):
        exp.run(exp.Config(hot_cold_step=-0.001))


def _claims_of(loaded, config, output):
    """The claims exactly as experiment.store evaluates them (on the JSON round trip)."""
    from gdlab import experiment

    return experiment.build_result(loaded, config, output)["claims"]


@pytest.mark.xdist_group("weight_update")
def test_quick_claims_hold(quick_run):
    found = _claims_of(*quick_run("weight_update"))
    assert len(found) >= 15
    assert [c["statement"] for c in found if not c["holds"]] == []


@pytest.mark.parametrize("field", ["weight", "input", "goal", "alpha", "feature_scale"])
def test_nan_options_are_refused_naming_the_option(exp, field):
    with pytest.raises(ValueError, match=field):
        exp.run(exp.Config(**{field: float("nan")}))


def test_nan_inside_a_tuple_option_is_refused(exp):
    with pytest.raises(ValueError, match="effect_inputs"):
        exp.run(exp.Config(effect_inputs=(0.5, float("nan"))))


def test_a_huge_map_is_refused_before_computing(exp):
    import time

    start = time.perf_counter()
    with pytest.raises(ValueError, match="map_inputs.*map_alphas"):
        exp.run(exp.Config(map_inputs=20000, map_alphas=20000))
    assert time.perf_counter() - start < 1.0  # refused up front, nothing ran


def test_exact_correction_and_minimum_norm_in_python_floats(exp):
    # one step with alpha = 1/input² lands on the goal (pure Python arithmetic)
    for x in (0.25, 0.7, 3.0):
        w = 0.0
        w -= (1 / x**2) * (x * w - 0.8) * x
        assert abs(x * w - 0.8) < 1e-15
    lev = exp.leverage(exp.Config())
    x = np.asarray(lev["multi_inputs"])
    # the minimum-norm Δw for x·Δw = δ is δ·x/‖x‖² (closed form, not lstsq)
    np.testing.assert_allclose(lev["multi_gd_step"], -lev["multi_error"] * x / (x @ x),
                               rtol=1e-14)


def test_normalisation_kappa_matches_numpy(exp):
    config = exp.Config(feature_alphas=5, feature_steps=10)
    out = exp.normalisation(config)
    n = config.feature_examples
    theta = 2 * np.pi * np.arange(n) / n + 0.3
    feats = np.stack([np.cos(theta), np.sin(theta) + 0.5 * np.cos(theta)], axis=1)
    feats /= np.sqrt(np.mean(feats**2, axis=0))
    for name, scale in (("normalised", 1.0), ("raw", config.feature_scale)):
        x = feats * np.array([1.0, scale])
        lam = np.linalg.eigvalsh(x.T @ x / n)  # Hessian of ½·mean((Xw − y)²)
        assert out[name]["kappa"] == pytest.approx(lam[-1] / lam[0], rel=1e-10)


def test_empty_effect_inputs_are_refused_naming_the_option(exp):
    with pytest.raises(ValueError, match="effect_inputs"):
        exp.run(exp.Config(effect_inputs=()))
