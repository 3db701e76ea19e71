"""vanishing_gradients in training: steps to a target loss vs depth and budget, Adam, the
exploding networks (a scale problem vs a ratio problem) and the remedies.

Every study is a ``train.sweep`` (learning rates × depths × init seeds in one compiled,
vmapped call; the long sigmoid budget one per depth group, side by side) of full-batch
training on the stacked network of ``_vanishing_gradients_net``; steps to the target are
exact whatever is recorded. The ``*_jobs`` functions return the independent studies as
callables, for ``gdlab.experiment.in_threads``.
"""

import warnings

import _vanishing_gradients_net as net  # noqa: I001
import numpy as np
import optax

from gdlab import experiment, train


def clipped_sgd(learning_rate, max_norm=1.0) -> optax.GradientTransformation:
    """Gradient descent on the gradient rescaled to global norm ≤ max_norm."""
    return optax.chain(optax.clip_by_global_norm(max_norm), optax.sgd(learning_rate))


def seeds(config) -> list[int]:
    return list(range(config.seed, config.seed + config.seeds))


def _never_inf(steps) -> np.ndarray:
    steps = np.asarray(steps, float)
    return np.where(steps >= 0, steps, np.inf)


def depth_groups(depths, groups: int = 1) -> list[list[int]]:
    """Split the sorted depths into ``groups`` (1 or 2) runs of consecutive depths, each
    swept on its own stack of max-depth layers, where the total compute (depths × their
    group's max depth: every lane computes its stack's every layer) is smallest.

    >>> depth_groups([2, 3, 4, 6, 8, 11, 15, 20], 2)
    [[2, 3, 4, 6, 8], [11, 15, 20]]
    """
    depths = sorted(int(d) for d in depths)
    if groups == 1 or len(depths) < 2:
        return [depths]
    cost = lambda k: k * depths[k - 1] + (len(depths) - k) * depths[-1]  # noqa: E731
    k = min(range(1, len(depths)), key=cost)
    return [depths[:k], depths[k:]]


def study(config, data, *, activation, init, depths, learning_rates, num_steps, gain=1.0,
          optimizer="sgd", hyperparameters=None, residual=False, normalize=False,
          record_every=None, width=None, groups=1, unroll=False, traced=False) -> dict:
    """Learning rates × depths × seeds, one sweep per depth group (``depth_groups``; a
    network of depth d is the same in any stack ≥ d). The best rate per depth is the
    argmin of the median (over seeds) steps to ``config.target_loss`` (never = ∞), with
    its edge. ``unroll``: the forward's layer loop unrolled (long budgets); ``traced``: the
    architecture is a grid value (``net.any_loss``), so studies that differ only in it
    share one compiled program."""
    depths = sorted(int(d) for d in depths)
    lrs = np.asarray(learning_rates, float)
    width = width or config.train_width
    code = {"architecture": [net.architecture_code(activation, residual, normalize)]}

    def sweep(group):
        init_fn = net.init_fn(init, width=width, max_depth=max(group), gain=gain)
        return train.sweep(
            net.any_loss() if traced else net.loss(activation, residual, normalize, unroll),
            init_fn, optimizer,
            {"learning_rate": lrs, "depth": np.asarray(group, float)} | (code if traced else {}),
            num_steps, seeds=seeds(config), data=data, record=record_every or num_steps,
            target=config.target_loss, hyperparameters=hyperparameters)

    parts = experiment.in_threads([lambda g=g: sweep(g) for g in depth_groups(depths, groups)])

    def cat(get):  # the groups' (lrs, depths, seeds, …) arrays side by side
        arrays = [np.asarray(get(sw)) for sw in parts]
        if traced:  # the architecture axis (one value)
            arrays = [a[:, :, 0] for a in arrays]
        return np.concatenate(arrays, axis=1)

    steps = cat(lambda sw: sw.steps_to_target)  # (lrs, depths, seeds), −1: never
    loss, final = cat(lambda sw: sw.loss), cat(lambda sw: sw.final_loss)
    out = {"depths": depths, "learning_rates": lrs, "num_steps": num_steps,
           "steps": steps, "diverged_at": cat(lambda sw: sw.diverged_at),
           "final_loss": final, "initial_loss": loss[..., 0],
           "recorded_steps": np.asarray(parts[0].steps), "best": []}
    curves = []
    for j in range(len(depths)):
        b = train.best(_never_inf(steps[:, j]), {"learning_rate": lrs})
        if not b.found:  # never reached: the best is the lowest median final loss
            b = train.best(final[:, j], {"learning_rate": lrs})
            reached = False
        else:
            reached = True
        i = b.index[0]
        out["best"].append({"index": i, "learning_rate": float(lrs[i]), "edges": b.edges,
                            "reached": reached, "describe": b.describe({"learning_rate": "η"}),
                            "steps": steps[i, j]})
        curves.append(loss[i, j])
    out["curve"] = np.asarray(curves)  # (depths, seeds, recorded steps) at the best rate
    return out


def finish_jobs(config, data) -> dict:
    """"Can we always finish, just slowly?": steps to the target vs depth, for each
    activation (xavier), one budget sweep each; and Adam at a tuned rate on sigmoid.
    {activation or "adam": a callable returning its study}."""
    def activation_study(act):
        sigmoid = act == "sigmoid"
        long = sigmoid and config.num_steps >= 2000
        return study(config, data, activation=act, init="xavier", depths=config.train_depths,
                     learning_rates=(config.sigmoid_learning_rates if sigmoid
                                     else config.learning_rates),
                     num_steps=config.num_steps if sigmoid else config.short_steps,
                     record_every=config.record_every,
                     # a long budget pays for a second compilation (and an unrolled,
                     # slower to compile layer loop): each depth group on its own stack
                     groups=2 if long else 1, unroll=long)

    jobs = {act: (lambda act=act: activation_study(act)) for act in config.train_activations}
    jobs["adam"] = lambda: study(config, data, activation="sigmoid", init="xavier",
                                 depths=config.adam_depths,
                                 learning_rates=config.adam_learning_rates,
                                 num_steps=config.adam_steps, optimizer="adam",
                                 record_every=config.record_every)
    return jobs


def exploding_jobs(config, data) -> dict:
    """Two different ways to explode.

    scale: relu with gain 2 at depth ``remedy_depth``: every layer's gradient is large,
    by about the same factor; a smaller rate fixes it (plain GD vs clipping).
    (The ratio problem, tanh with gain 2, is ``update_ratios``.)
    {"sgd", "clipped": a callable returning its study}.
    """
    d = config.remedy_depth
    data = {k: v[: config.explode_size] for k, v in data.items()}
    common = dict(activation="relu", init="normal_large", depths=[d], gain=config.large_scale,
                  num_steps=config.explode_steps, width=config.width, record_every=10)
    return {
        "sgd": lambda: study(config, data, learning_rates=config.explode_learning_rates,
                             **common),
        "clipped": lambda: study(config, data, learning_rates=config.clip_learning_rates,
                                 optimizer=clipped_sgd,
                                 hyperparameters={"max_norm": config.clip_norm}, **common),
    }


def update_ratios(config, data) -> dict:
    """Exploding by ratio: tanh with gain 2 at depth ``ratio_depth``, where the first
    layer's gradient is ~10³ the last's. Gradient descent at every rate of
    ``ratio_learning_rates`` (``explode_steps`` steps, the first ``explode_size``
    examples), measured by the sweep's "norms" instrument every ``ratio_every`` steps:
    the update/weight ratio ‖ΔW_ℓ‖/‖W_ℓ‖ of each layer ℓ (weights and bias together),
    ΔW_ℓ = −η ∂L/∂W_ℓ the step taken there (the "1e-3 rule" asks for ~1e-3 everywhere).

    Returns per layer the median over the recorded steps (before any divergence), shape
    (lrs, seeds, L), and the first and last layer's ratio at every recorded step.
    """
    d = config.ratio_depth
    init = net.init_fn("normal_large", width=config.width, max_depth=d, gain=config.large_scale)
    data = {k: v[: config.explode_size] for k, v in data.items()}
    lrs = np.asarray(config.ratio_learning_rates, float)
    sw = train.sweep(net.layers_loss("tanh"), lambda key: net.as_layers(init(key)), "sgd",
                     {"learning_rate": lrs}, config.explode_steps, seeds=seeds(config),
                     data=data, record="summary", instruments=("norms",),
                     instrument_every=config.ratio_every)
    ratio = np.asarray(sw.instruments["update_ratio"], np.float64)  # (lrs, seeds, rows, L)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN: diverged at step 0
        median = np.nanmedian(ratio, axis=2)
    return {"depth": d, "learning_rates": lrs, "num_steps": config.explode_steps,
            "steps": np.asarray(sw.instrument_steps), "diverged_at": np.asarray(sw.diverged_at),
            "final_loss": sw.final_loss, "update_ratio": median,
            "ends": ratio[..., [0, -1]]}  # (lrs, seeds, rows, 2): layer 1 and layer L


def _reuses_finish(config, spec: dict, name: str) -> bool:
    """Whether ``finish`` already trains remedy ``name`` (a plain xavier network of a
    trained activation, at a trained depth)."""
    act, init, residual, normalize = spec[name]
    return (init == "xavier" and not (residual or normalize)
            and act in config.train_activations and config.remedy_depth in config.train_depths)


def remedy_jobs(config, data, spec: dict) -> dict:
    """Steps to the target at ``remedy_depth`` for each remedy (activation, init, residual,
    normalize), best rate of ``config.learning_rates``: {name: a callable returning its
    study}, for the remedies ``finish`` does not already train."""
    out = {}
    for name in config.remedies:
        act, init, residual, normalize = spec[name]
        if not _reuses_finish(config, spec, name):
            out[name] = lambda act=act, init=init, residual=residual, normalize=normalize: study(
                config, data, activation=act, init=init, residual=residual,
                normalize=normalize, depths=[config.remedy_depth],
                learning_rates=config.learning_rates, num_steps=config.short_steps,
                record_every=config.record_every, traced=True)
    return out


def remedies(config, spec: dict, finished: dict, studied: dict) -> dict:
    """Every remedy's study: ``studied`` (from ``remedy_jobs``), or the plain xavier
    network that ``finish`` trained at that depth (with its own budget and grid)."""
    out, d = {}, config.remedy_depth
    for name in config.remedies:
        if name in studied:
            out[name] = studied[name]
            continue
        done = finished[spec[name][0]]
        j = done["depths"].index(d)
        out[name] = {**done, "depths": [d], "steps": done["steps"][:, j:j + 1],
                     "diverged_at": done["diverged_at"][:, j:j + 1],
                     "final_loss": done["final_loss"][:, j:j + 1],
                     "initial_loss": done["initial_loss"][:, j:j + 1],
                     "best": [{**done["best"][j]}], "curve": done["curve"][j:j + 1]}
    return out
