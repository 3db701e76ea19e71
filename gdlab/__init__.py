"""gdlab: a gradient-descent laboratory on JAX and optax.

The public surface is a set of small modules, each one idea::

    import gdlab
    p = gdlab.problems.get("rosenbrock")
    traj = gdlab.train.run(p.loss, p.x0, gdlab.optimizers.make("adam", learning_rate=0.1), 200)

Modules are imported on first access, so ``import gdlab`` stays cheap.
"""

import importlib

__version__ = "0.1.0"

_MODULES = (
    "models",
    "losses",
    "problems",
    "data",
    "optimizers",
    "schedules",
    "solvers",
    "train",
    "gradients",
    "taylor",
    "curvature",
    "linalg",
    "results",
    "plotting",
    "experiment",
    "compare",
)

__all__ = ["__version__", *_MODULES]


def __getattr__(name):
    if name in _MODULES:
        module = importlib.import_module(f"gdlab.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'gdlab' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
