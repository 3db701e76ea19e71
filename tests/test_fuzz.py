"""Property-based fuzzing of the command line and of train.run/sweep (issue 14).

The only outcomes allowed for any input:

- the command line: the experiment starts with a Config whose every float is finite,
  or exit 2 with exactly one line on stderr; never a traceback (exit 1), never a file
  written before the experiment starts;
- the library: a result whose summaries hold no NaN (``best_loss``, ``final_loss``),
  with a "diverged" status wherever a run blew up, or a ``ValueError``.

The experiment itself is replaced by a stub that records the validated Config, so the
CLI fuzz measures validation only and stays fast.
"""

import contextlib
import dataclasses
import functools
import io
import math
import typing

import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gdlab import cli, experiment, optimizers, train

NAMES = experiment.names()
FUZZ = settings(max_examples=60, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow])


class Started(BaseException):
    """Raised by the stub instead of running: not an Exception, so main() cannot eat it."""


NUMBER_WORDS = ["nan", "-nan", "inf", "-inf", "1e308", "-1e308", "1e-320", "0", "-0", "-1",
                "1", "0.5", "99999999999999999999", "-99999999999999999999", "1.5", "abc",
                "", "0x10", "1_000", "2**3"]


def _number_text(kind):
    words = st.sampled_from(NUMBER_WORDS)
    if kind is int:
        return st.one_of(words, st.integers(-2**70, 2**70).map(str))
    return st.one_of(words, st.floats(allow_nan=True, allow_infinity=True).map(repr))


def _values(field, default):
    """Option values (as command-line words) for one Config field, good and bad."""
    kind = field.type
    origin = typing.get_origin(kind)
    if kind is bool:
        return st.sampled_from([[], ["true"], ["false"], ["maybe"], ["1"]])
    if kind in (int, float):
        return _number_text(kind).map(lambda w: [w])
    if origin is tuple:
        args = typing.get_args(kind)
        item = args[0]
        if item is str:
            good = [str(v) for v in default] if isinstance(default, tuple) else []
            return st.lists(st.sampled_from([*good, "nope", "", "sgd"]), max_size=3)
        return st.lists(_number_text(item), max_size=4)
    return st.sampled_from([["x"], [""], ["nope"]])


@st.composite
def command_lines(draw):
    name = draw(st.sampled_from(NAMES))
    fields = dataclasses.fields(_load(name).Config)
    default = _load(name).default_config()
    argv = ["run", name]
    for field in draw(st.lists(st.sampled_from(fields), max_size=3, unique_by=lambda f: f.name)):
        argv += ["--" + field.name.replace("_", "-"),
                 *draw(_values(field, getattr(default, field.name)))]
    if draw(st.booleans()) and draw(st.booleans()):
        bogus = draw(st.text("abcdefghij-_", min_size=1, max_size=8))
        argv += [f"--{bogus}", draw(st.sampled_from(NUMBER_WORDS))]
    if draw(st.booleans()):
        argv.append("--quick")
    return argv


@functools.cache
def _load(name):
    return experiment.load(name)


def _floats(value):
    if isinstance(value, tuple):
        for item in value:
            yield from _floats(item)
    elif isinstance(value, float):
        yield value


@FUZZ
@given(argv=command_lines())
def test_cli_options_either_start_a_valid_config_or_exit_2(argv, tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    started = []

    def execute(exp, config, **kwargs):
        started.append(config)
        raise Started

    err = io.StringIO()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(experiment, "execute", execute)
        mp.setattr(experiment, "load", _load)
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            try:
                code = cli.main([*argv, "--out", str(out)])
            except Started:
                code = None
    if code is None:  # validation passed: every float the experiment sees is finite
        config = started[0]
        for field in dataclasses.fields(config):
            assert all(math.isfinite(v) for v in _floats(getattr(config, field.name))), field
    else:
        lines = err.getvalue().strip().splitlines()
        assert code == 2, err.getvalue()
        assert len(lines) == 1 and lines[0].startswith("gdlab: error:"), lines
    assert list(out.iterdir()) == []  # nothing written before the experiment starts


def bowl(x):
    return 0.5 * jnp.sum(jnp.array([1.0, 4.0]) * x**2)


NUMBERS = st.one_of(
    st.sampled_from([float("nan"), float("inf"), -float("inf"), 0.0, -0.1, 1e300]),
    st.floats(1e-4, 2.0),
)


@FUZZ
@given(
    learning_rates=st.lists(NUMBERS, min_size=1, max_size=3),
    momentum=st.one_of(st.none(), NUMBERS),
    num_steps=st.sampled_from([1, 4, 8, 0, -3, 2.5, True, "4"]),
    record=st.sampled_from(["all", "summary", 1, 2, 4, 0, -2, 3.0, "every", True]),
    factor=st.sampled_from([None, 1, 10.0, 1e6, float("nan"), 0.5, float("inf"), -1]),
    target=st.sampled_from([None, 1e-3, float("nan"), float("inf"), "low"]),
    seeds=st.one_of(st.none(), st.sampled_from([1, 2, 0, -1, 2**32, 2**40]),
                    st.lists(st.sampled_from([0, 3, -1, 2**32 - 1, 2**32]), max_size=2)),
)
def test_sweep_arguments_give_a_clean_result_or_a_value_error(
        learning_rates, momentum, num_steps, record, factor, target, seeds):
    grid = {"learning_rate": learning_rates}
    if momentum is not None:
        grid["momentum"] = [momentum]
    try:
        sw = train.sweep(bowl, jnp.array([1.0, -1.0]), "momentum", grid, num_steps, seeds,
                         record=record, divergence_factor=factor, target=target)
    except ValueError as error:
        assert str(error) and "\n" not in str(error).strip()
        return
    assert not np.isnan(sw.best_loss).any() and not np.isnan(sw.final_loss).any()
    ok = sw.diverged_at < 0
    assert np.isfinite(sw.loss[ok]).all()  # a run with a non-finite loss is "diverged"
    assert (sw.status == np.where(ok, "ok", "diverged")).all()
    lr = np.asarray(learning_rates)
    assert np.isfinite(lr).all() and (lr >= 0).all()  # what the library let through


@settings(max_examples=20, deadline=None, derandomize=True)
@given(
    name=st.sampled_from(["sgd", "momentum", "adam", "rmsprop", "nope"]),
    hyperparameters=st.dictionaries(
        st.sampled_from(["learning_rate", "momentum", "b1", "b2", "eps", "decay", "bogus"]),
        NUMBERS, max_size=3),
    num_steps=st.sampled_from([3, 0, "3"]),
)
def test_run_arguments_give_a_clean_result_or_a_value_error(name, hyperparameters, num_steps):
    try:
        opt = optimizers.make(name, **hyperparameters)
        traj = train.run(bowl, jnp.array([1.0, -1.0]), opt, num_steps)
    except ValueError as error:
        assert str(error)
        return
    assert not math.isnan(traj.best_loss) and not math.isnan(traj.final_loss)
    assert traj.status in ("ok", "diverged")
    if traj.status == "ok":
        assert np.isfinite(traj.loss).all()

