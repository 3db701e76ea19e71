"""Your own problem for gdlab: `gdlab compare --problem examples/my_problems.py:tiny_mlp`."""

import numpy as np

import gdlab


def tiny_mlp(width: int = 8) -> gdlab.problems.Problem:
    """A 1-width-1 tanh MLP fitting y = sin(3x) on 64 points; f = mean ½(ŷ − y)² ≥ 0."""
    x = np.linspace(-1.0, 1.0, 64)[:, None]
    model = gdlab.models.mlp([1, width, 1], activation="tanh", init="xavier")
    loss = gdlab.losses.objective(model.apply, gdlab.losses.half_squared_error)
    return gdlab.problems.Problem(name="tiny_mlp", loss=loss, init=model.init,
                                  data={"x": x, "y": np.sin(3 * x)}, fmin=0.0, target=1e-3)
