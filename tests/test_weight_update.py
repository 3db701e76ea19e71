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


def test_the_books_first_lines():
    # The book prints "Error:0.30250000000000005 Prediction:0.25" then 0.17015625000000004.
    lines = book_loop(0.5, 0.5, 0.8, 1.0, 2)
    assert lines[0] == (0.30250000000000005, 0.25)
    assert lines[1][0] == 0.17015625000000004


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
