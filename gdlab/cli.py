"""The ``gdlab`` command.

    gdlab list                               the experiments and their claims
    gdlab run NAME [--field value ...]       run one; options come from its Config (--help)
    gdlab run --all [--quick]                run every experiment, with a progress bar
    gdlab plot NAME                          redraw figures from results/NAME/result.json

Common options: ``--quick`` (small sizes, written to results-quick/), ``--out DIR``.
Bad input prints one line and exits 2; a failed experiment exits 1.
"""

import contextlib
import io
import os
import sys
import traceback

USAGE = __doc__.split("\n\n")[1]


class UsageError(Exception):
    """A command-line mistake: one line to the user, exit status 2."""


def _pop_flag(args: list[str], flag: str) -> bool:
    if flag in args:
        args.remove(flag)
        return True
    return False


def _pop_option(args: list[str], option: str) -> str | None:
    for i, arg in enumerate(args):
        if arg == option:
            if i + 1 >= len(args):
                raise UsageError(f"{option} needs a value")
            value = args[i + 1]
            del args[i : i + 2]
            return value
        if arg.startswith(option + "="):
            del args[i]
            return arg.split("=", 1)[1]
    return None


def _tyro_message(text: str) -> str:
    """The one informative line of a tyro error box."""
    lines = [line.strip(" │─-╭╮╰╯|") .strip() for line in text.splitlines()]
    lines = [line for line in lines if line]
    for line in lines:
        if line.startswith(("Error parsing", "Unrecognized options", "Missing", "Invalid")):
            return line
    return lines[1] if len(lines) > 1 else (lines[0] if lines else "invalid arguments")


def _fields(config_cls) -> list[str]:
    import dataclasses

    return ["--" + f.name.replace("_", "-") for f in dataclasses.fields(config_cls)]


def parse_config(experiment, args: list[str], quick: bool):
    """Turn ``--field value`` options into the experiment's frozen Config via tyro."""
    import tyro

    default = experiment.default_config(quick)
    if any(a in ("-h", "--help") for a in args):
        tyro.cli(
            experiment.Config, default=default, args=args, prog=f"gdlab run {experiment.name}",
            description=experiment.module.__doc__,
        )
    captured = io.StringIO()
    try:
        with contextlib.redirect_stderr(captured), contextlib.redirect_stdout(captured):
            return tyro.cli(
                experiment.Config, default=default, args=args, prog=f"gdlab run {experiment.name}"
            )
    except SystemExit:
        message = _tyro_message(captured.getvalue())
        if message.startswith("Unrecognized"):
            message += f" (valid: {' '.join(_fields(experiment.Config))})"
        raise UsageError(f"{experiment.name}: {message}") from None


def _run_one(name: str, args: list[str], quick: bool, out) -> int:
    from gdlab import experiment

    exp = experiment.load(name)
    config = parse_config(exp, args, quick)
    result = experiment.execute(name, config, quick=quick, out=out)
    print(f"{name}  ({result['meta']['seconds']:.1f} s)")
    print(experiment.format_metrics(result["metrics"]))
    print(f"  wrote {os.path.dirname(result['paths'][-1])}/")
    return 0


def _run_all(args: list[str], quick: bool, out) -> int:
    from tqdm import tqdm

    from gdlab import experiment

    if args:
        raise UsageError(f"run --all takes no experiment options, got {' '.join(args)}")
    failed = []
    names = experiment.names()
    bar = tqdm(names, desc="experiments", unit="exp", file=sys.stderr)
    for name in bar:
        bar.set_postfix_str(name)
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                result = experiment.execute(name, quick=quick, out=out)
            tqdm.write(f"ok      {name}  ({result['meta']['seconds']:.1f} s)")
        except Exception as error:  # one failure must not stop the others
            failed.append(name)
            tqdm.write(f"FAILED  {name}: {type(error).__name__}: {error}")
            if os.environ.get("GDLAB_DEBUG"):
                traceback.print_exc()
    print(f"{len(names) - len(failed)} of {len(names)} experiments ran"
          + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


def _list() -> int:
    from gdlab import experiment

    for name in experiment.names():
        print(f"{name:<22} {experiment.load(name).summary}")
    return 0


def _plot(args: list[str], out) -> int:
    from gdlab import experiment

    if len(args) != 1:
        raise UsageError("usage: gdlab plot NAME")
    for path in experiment.replot(args[0], out=out):
        print(f"wrote {path}")
    return 0


def dispatch(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0 if argv else 2
    command, args = argv[0], list(argv[1:])
    quick = _pop_flag(args, "--quick")
    out = _pop_option(args, "--out")
    if command == "list":
        return _list()
    if command == "plot":
        return _plot(args, out)
    if command == "compare":
        from gdlab import compare

        return compare.main(args, out=out)
    if command == "run":
        if _pop_flag(args, "--all"):
            return _run_all(args, quick, out)
        if not args or args[0].startswith("-"):
            raise UsageError("usage: gdlab run NAME [--field value ...] | gdlab run --all")
        return _run_one(args[0], args[1:], quick, out)
    raise UsageError(f"unknown command {command!r}; valid: list, run, plot, compare")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        code = dispatch(argv)
    except (UsageError, ValueError, FileNotFoundError) as error:
        print(f"gdlab: error: {error}", file=sys.stderr)
        code = 2
    except KeyboardInterrupt:
        print("gdlab: interrupted", file=sys.stderr)
        code = 130
    except Exception as error:
        if os.environ.get("GDLAB_DEBUG"):
            traceback.print_exc()
        print(f"gdlab: failed: {type(error).__name__}: {error} (GDLAB_DEBUG=1 for the traceback)",
              file=sys.stderr)
        code = 1
    return code


if __name__ == "__main__":
    sys.exit(main())
