"""vanishing_gradients: its stacked network against models.mlp, its claims at quick size,
and the claims' robustness to the init seed (``--seed S``, S = 1…4)."""

import dataclasses
import functools
import importlib.util
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from gdlab import experiment, gradients, losses, models, train

EXPERIMENTS = Path(__file__).resolve().parent.parent / "experiments"


def _module(name: str):
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, EXPERIMENTS / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@functools.cache
def _stacked_problem():
    """The depth-8 stack, its params and data (the init as one jitted program: eager, it
    compiles every primitive on its own)."""
    net = _module("_vanishing_gradients_net")
    rng = np.random.default_rng(0)
    data = {"x": jnp.asarray(rng.normal(size=(12, 40)), jnp.float32),
            "y": jnp.asarray(rng.integers(0, 10, 12))}
    params = jax.jit(net.init_fn("xavier", width=8, max_depth=8, gain=1.0))(jax.random.key(1))
    return net, data, params


@functools.partial(jax.jit, static_argnames=("depth", "activation", "residual", "normalize"))
def _mlp_and_stack(params, data, *, depth, activation, residual, normalize):
    """models.mlp's loss, ‖∂L/∂W_ℓ‖ and error signals ‖δ_ℓ‖ on the first ``depth`` layers
    of the stack, and the stacked network's fixed-architecture ``measure``: one program
    (the two computations share nothing but the weights)."""
    net = _module("_vanishing_gradients_net")
    layers = ([params["first"]] + [{"w": params["hidden"]["w"][i], "b": params["hidden"]["b"][i]}
                                   for i in range(depth - 2)] + [params["last"]])
    mlp = models.mlp([40] + [8] * (depth - 1) + [10], activation, residual=residual,
                     normalize=normalize)
    value, grads = jax.value_and_grad(losses.objective(mlp.apply, losses.softmax_cross_entropy))(
        layers, data)
    expected = jnp.stack([gradients.norm(g["w"]) for g in grads])
    deltas = None
    if not (residual or normalize):
        deltas = gradients.layer_stats(gradients.error_signals(
            mlp.apply, losses.softmax_cross_entropy, layers, data)).norm
    got = net.measure(params, data, depth, activation=activation, residual=residual,
                      normalize=normalize)
    return value, expected, deltas, got


@pytest.mark.parametrize(("activation", "residual", "normalize"),
                         [("sigmoid", False, False), ("tanh", True, False),
                          ("relu", False, True)])
def test_stacked_network_is_the_mlp(activation, residual, normalize):
    """Loss, per-layer ‖∂L/∂W_ℓ‖ and ‖δ_ℓ‖ of a depth-5 network inside a depth-8 stack
    equal models.mlp's with the same weights (and gradients.error_signals)."""
    net, data, params = _stacked_problem()
    depth = 5
    value, expected, deltas, got = _mlp_and_stack(params, data, depth=depth,
                                                  activation=activation, residual=residual,
                                                  normalize=normalize)
    np.testing.assert_allclose(got["loss"], value, rtol=1e-6)
    np.testing.assert_allclose(net.select(got["grad_norm"], depth), expected, rtol=1e-5)
    # the traced architecture (one compilation for all) computes the same network
    traced = jax.jit(net.measure)(params, data, depth,
                                  **net.architecture(activation, residual, normalize))
    np.testing.assert_allclose(traced["loss"], value, rtol=1e-6)
    np.testing.assert_allclose(net.select(traced["grad_norm"], depth), expected, rtol=1e-5)
    # the skipped layers get exactly no gradient
    assert np.all(np.asarray(got["grad_norm"])[depth - 1:-1] == 0)
    if not (residual or normalize):  # δ_ℓ = ∂L/∂z_ℓ as error_signals measures it
        np.testing.assert_allclose(net.select(got["delta_norm"], depth), deltas, rtol=1e-5)


def _claims(loaded, config, output) -> list:
    return experiment.build_result(loaded, config, output)["claims"]


@pytest.mark.xdist_group("vanishing_gradients")
def test_quick_claims_hold(quick_run):
    loaded, config, output = quick_run("vanishing_gradients")
    found = _claims(loaded, config, output)
    assert len(found) >= 8
    assert [c["statement"] for c in found if not c["holds"]] == []
    # float32: 0.1^(l−1) drops below the smallest normal number from l = 39 on (XLA's CPU
    # flushes subnormals to zero), below the smallest subnormal from l = 47 (NumPy).
    finfo = np.finfo(np.float32)
    power = np.cumprod(np.r_[np.float32(1), np.full(59, 0.1, np.float32)])
    assert (1 + np.argmax(power < finfo.tiny), 1 + np.argmax(power == 0)) == (39, 47)
    assert 1 + np.argmax(10.0 ** np.arange(60) > finfo.max) == 40


@pytest.mark.xdist_group("vanishing_gradients")
def test_underflow_is_no_ratio(quick_run):
    """A first-layer gradient that is exactly 0 gives no ratio (None), never a factor 0."""
    module = quick_run("vanishing_gradients")[0].module
    at_init = sys.modules["_vanishing_gradients_init"]
    ratio = at_init.ratio(np.array([[0.0, 1.0, 2.0], [1e-3, 1.0, 1.0]]))
    assert np.isnan(ratio[0]) and ratio[1] == pytest.approx(1e-3 / 1.0)
    assert module._median([np.nan, np.nan]) is None


@pytest.mark.slow
@pytest.mark.xdist_group("vanishing_gradients")  # the worker that has the module compiled
@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_claims_hold_for_other_seeds(quick_run, seed):
    """``gdlab run vanishing_gradients --quick --seed S``: every claim still holds."""
    loaded = quick_run("vanishing_gradients")[0]
    config = dataclasses.replace(loaded.default_config(quick=True), seed=seed)
    with jax.numpy_rank_promotion("allow"):
        output = loaded.module.run(config)
    failed = [c["statement"] for c in _claims(loaded, config, output) if not c["holds"]]
    assert failed == []


def test_update_ratio_instrument_is_the_relative_step():
    """The "norms" instrument's update_ratio on the per-layer network equals
    ‖W_ℓ(k+1) − W_ℓ(k)‖/‖W_ℓ(k)‖ (weights and bias of layer ℓ) computed with NumPy from the
    params a plain ``train.run`` recorded; the layered loss is the stacked network's."""
    net = _module("_vanishing_gradients_net")
    rng = np.random.default_rng(3)
    data = {"x": jnp.asarray(rng.normal(size=(16, 40)), jnp.float32),
            "y": jnp.asarray(rng.integers(0, 10, 16))}
    stacked = jax.jit(net.init_fn("normal_large", width=8, max_depth=6, gain=2.0))(
        jax.random.key(2))
    layers = net.as_layers(stacked)
    assert len(layers) == 6 and train.layer_names(layers) == [str(i) for i in range(6)]
    both = jax.jit(lambda layers, stacked, data: (net.layers_loss("tanh")(layers, data),
                                                  net.loss("tanh")(stacked, data, 6)))
    np.testing.assert_allclose(*both(layers, stacked, data), rtol=1e-6)
    steps = 4
    traj = train.run(net.layers_loss("tanh"), layers, optax.sgd(0.05), steps, data=data,
                     instruments=("norms",), instrument_every=1)
    flat = [np.concatenate([np.asarray(layer[k], np.float64).reshape(steps + 1, -1)
                            for k in ("w", "b")], axis=1) for layer in traj.params]
    expected = np.stack([np.linalg.norm(p[1:] - p[:-1], axis=1) / np.linalg.norm(p[:-1], axis=1)
                         for p in flat], axis=-1)  # (steps, layers)
    got = np.asarray(traj.instruments["update_ratio"])
    assert got.shape == (steps + 1, 6)  # the last row: the update computed, not applied
    # float32 params: p(k+1) − p(k) carries rounding of ~1e-7·‖p‖, i.e. ≤ 1e-5 relative here
    np.testing.assert_allclose(got[:steps], expected, rtol=1e-4)
