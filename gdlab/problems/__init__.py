"""The catalogue of what is minimised: ``Problem`` records, by name or by reference.

How experiments use it (name the problem, keep only the question)::

    p = gdlab.problems.get("mnist1d_mlp", hidden=32, train_size=1000, batch_size=100)
    params = p.init(jax.random.key(seed))                   # or p.start(key)
    traj = gdlab.train.run(p.loss, params, opt, 200, data=p.data)            # full batch
    sw = gdlab.train.sweep(p.stochastic, params, "sgd", {"learning_rate": lrs}, 200,
                           seeds=5, data=p.data, stochastic=True, eval_fn=p.loss)
    lam = gdlab.curvature.sharpness(p.loss, params, data=p.data)   # data= everywhere
    scores = p.evaluate(traj.final_params, p.data)           # train/test loss, accuracy

    q = gdlab.problems.get("rosenbrock")                     # data-free: q.loss(x)
    q.loss(q.x0), q.argmin, q.fmin, q.target                 # f(x₀), x*, f*, "solved"

A ``Problem`` (see its docstring) holds ``loss(params[, data])``, a fixed start ``x0``
or ``init(key)``, the ``data``, the ``dtype``, the known minimum ``fmin``, a default
``target``, an optional minibatch variant ``stochastic(params, data, key=)`` and an
optional ``evaluate(params, data)``. Your own problem is a ``Problem`` too, named by
reference wherever a problem is taken (``gdlab compare --problem FILE.py:NAME``)::

    get("my_problems.py:tiny_mlp")          # a Problem, or a function returning one
    get("my_package.problems:tiny_mlp", width=8)   # keyword arguments go to the function

========================  ==================================================  ===========
name                      f(x)                                                minimum
========================  ==================================================  ===========
``"quadratic"``           ½ xᵀAx − bᵀx  (any spectrum, rotated, ``noise``)    A⁻¹b
``"ill_conditioned"``     0.1 x₁² + 2 x₂² = ½ xᵀ diag(0.2, 4) x  (κ = 20)      (0, 0)
``"rosenbrock"``          (a − x₁)² + b (x₂ − x₁²)²,  a = 1, b = 100          (1, 1)
``"beale"``               Σ_i (c_i − x₁ + x₁ x₂^i)²,  c = 1.5, 2.25, 2.625    (3, 0.5)
``"himmelblau"``          (x₁² + x₂ − 11)² + (x₁ + x₂² − 7)²                  (3, 2) + 3
``"rastrigin"``           20 + Σ_i (x_i² − 10 cos 2πx_i)                      (0, 0)
``"x_cos"``               x cos(c x),  c = 0.15π,  on [−10, 10]               7.2694
``"x_squared"``           x²                                                  0
``"linear_neuron"``       mean ½(x·w − y)²                                    Σxy/Σx²
``"deep_chain"``          mean ½(x·w₁⋯w_l − y)²                               a surface
``"mnist1d_mlp"``         mean cross entropy (or ½‖·‖²) of an MLP on MNIST-1D  f* = 0
========================  ==================================================  ===========

Conventions: the test functions take ``x`` of shape ``(n,)`` (a scalar in 1-D) or a
grid ``(n, ...)`` and return ``(...)``, so ``loss(jnp.stack([X, Y]))`` draws contours;
their ``x0`` and ``argmin`` are made in JAX's default float dtype when the problem is
built, and losses keep the dtype of ``x``. Networks are float32 unless asked otherwise.

>>> p = get("rosenbrock")
>>> float(p.loss(p.x0)), p.fmin, p.target
(24.2, 0.0, 1e-06)
>>> "mnist1d_mlp" in names()
True
"""

import inspect
from collections.abc import Callable

from gdlab.problems._functions import (
    HIMMELBLAU_MINIMA,
    beale,
    himmelblau,
    rastrigin,
    rosenbrock,
    x_cos,
    x_squared,
)
from gdlab.problems._networks import LOSSES, deep_chain, linear_neuron, mnist1d_mlp
from gdlab.problems._quadratic import ill_conditioned, quadratic, quadratic_deep
from gdlab.problems._record import Domain, Problem
from gdlab.problems._references import is_reference, resolve

_BUILDERS: dict[str, Callable[..., Problem]] = {
    "quadratic": quadratic,
    "ill_conditioned": ill_conditioned,
    "quadratic_deep": quadratic_deep,
    "rosenbrock": rosenbrock,
    "beale": beale,
    "himmelblau": himmelblau,
    "rastrigin": rastrigin,
    "x_cos": x_cos,
    "x_squared": x_squared,
    "linear_neuron": linear_neuron,
    "deep_chain": deep_chain,
    "mnist1d_mlp": mnist1d_mlp,
}

TEST_FUNCTIONS = ("quadratic", "ill_conditioned", "rosenbrock", "beale", "himmelblau",
                  "rastrigin", "x_cos", "x_squared")
"""The data-free test functions with closed forms (1-D and 2-D: plots have a ``domain``)."""


def names() -> list[str]:
    """Names ``get`` accepts, sorted (besides references ``module:NAME``, ``file.py:NAME``)."""
    return sorted(_BUILDERS)


def get(name: str, **kwargs) -> Problem:
    """The problem called ``name``, built with ``kwargs`` (see its builder), or a reference.

    ``name`` is a catalogue name (``names()``), ``"module.path:NAME"`` or
    ``"path/to/file.py:NAME"``, where NAME is a ``Problem`` or a function returning one
    (called with ``kwargs``). Anything wrong (an unknown name, bad arguments, a file
    that fails to import, an object that is not a problem) is a ValueError of one line.

    Example: ``get("rosenbrock", x0=(0.0, 0.0))``, ``get("quadratic", eigenvalues=[1, 4])``,
    ``get("examples/my_problems.py:tiny_mlp")``.
    """
    if is_reference(name):
        return resolve(name, **kwargs)
    try:
        builder = _BUILDERS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown problem {name!r}; valid: {', '.join(names())}, or a "
                         f"reference 'module.path:NAME' / 'path/to/file.py:NAME'") from None
    signature = inspect.signature(builder)
    try:
        signature.bind(**kwargs)
    except TypeError:
        raise ValueError(
            f"bad arguments {sorted(kwargs)} for problem {name!r}; "
            f"valid: {', '.join(signature.parameters)}"
        ) from None
    return builder(**kwargs)


__all__ = [
    "HIMMELBLAU_MINIMA",
    "LOSSES",
    "TEST_FUNCTIONS",
    "Domain",
    "Problem",
    "beale",
    "deep_chain",
    "get",
    "himmelblau",
    "ill_conditioned",
    "is_reference",
    "linear_neuron",
    "mnist1d_mlp",
    "names",
    "quadratic",
    "quadratic_deep",
    "rastrigin",
    "rosenbrock",
    "x_cos",
    "x_squared",
]
