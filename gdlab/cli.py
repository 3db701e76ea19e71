"""The ``gdlab`` command.

    gdlab list                               the experiments, their claims' status
    gdlab run NAME [--field value ...]       run one; options come from its Config (--help)
    gdlab run --all [--quick] [--jobs N]     run every experiment, with a progress bar
                                             (N at once in their own processes; default:
                                             one per CPU core, at most 4)
    gdlab plot NAME                          redraw figures from results/NAME/result.json
    gdlab report [--no-explorers]            the static site results/site/ (offline HTML)
    gdlab inspect --problem P --optimizer O  one run with every instrument, a dashboard

Common options: ``--quick`` (small sizes, written to results-quick/), ``--out DIR``,
``--no-cache`` (no persistent compilation cache; also GDLAB_CACHE_DIR=off).
Exit status: 0 all is well; 1 an experiment failed (crashed); 2 bad input (one line,
nothing written); 3 it ran, but a claim did not hold (a finding, printed and stored).
"""

import concurrent.futures
import contextlib
import io
import math
import os
import subprocess
import sys
import traceback
from pathlib import Path

USAGE = __doc__.split("\n\n")[1]

__all__ = ["CLAIM_FAILED", "UsageError", "dispatch", "main", "parse_config"]


CLAIM_FAILED = 3  # the experiment ran, and a claim did not hold: a finding, not a crash


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
            config = tyro.cli(
                experiment.Config, default=default, args=args, prog=f"gdlab run {experiment.name}"
            )
    except SystemExit:
        message = _tyro_message(captured.getvalue())
        if message.startswith("Unrecognized"):
            message += f" (valid: {' '.join(_fields(experiment.Config))})"
        raise UsageError(f"{experiment.name}: {message}") from None
    check_config(experiment, config, default)
    return config


INT_LIMIT = 2**63  # what NumPy and JAX can hold; beyond it an option overflows later


def _check_number(option: str, value) -> None:
    if isinstance(value, bool):
        return
    if isinstance(value, float) and not math.isfinite(value):
        raise UsageError(f"{option} must be a finite number, got {value}")
    if isinstance(value, int) and not -INT_LIMIT <= value < INT_LIMIT:
        raise UsageError(f"{option} is out of range (|value| < 2**63), got {value}")


def check_config(experiment, config, default=None) -> None:
    """Refuse a Config before anything runs: every float finite, every int within int64,
    no empty tuple (unless the default is empty), then the experiment's own ``_check``.
    Raises ``UsageError`` naming the option (exit 2, nothing written)."""
    import dataclasses

    for field in dataclasses.fields(config):
        option = "--" + field.name.replace("_", "-")
        value = getattr(config, field.name)
        if isinstance(value, tuple):
            if not value and (default is None or getattr(default, field.name) != ()):
                raise UsageError(f"{experiment.name}: {option} needs at least one value")
            for item in value:
                _check_number(f"{experiment.name}: {option}", item)
        else:
            _check_number(f"{experiment.name}: {option}", value)
    check = getattr(experiment.module, "_check", None)
    if check is not None:
        try:
            check(config)
        except (ValueError, OverflowError) as error:
            raise UsageError(f"{experiment.name}: {error}") from None


def _claims_line(result: dict) -> str:
    from gdlab import claims

    found = result.get("claims") or []
    line = claims.summary(found)
    failed = claims.failed(found)
    if failed:
        line += " (FAILED: " + "; ".join(c["statement"] for c in failed) + ")"
    return line


def _cost_line(meta: dict) -> str:
    """Where run's seconds went, e.g. "3 XLA compilations (2.1 s), 0.4 s computing"."""
    if "compilations" not in meta:
        return "compilations not recorded"
    n, hits = meta["compilations"], meta.get("cache_hits", 0)
    loaded = f", {hits} loaded from the cache" if hits else ""
    return (f"{n} XLA compilation{'' if n == 1 else 's'}{loaded} "
            f"({meta['compile_seconds']:.1f} s), {meta['compute_seconds']:.1f} s computing")


def _run_one(name: str, args: list[str], quick: bool, out) -> int:
    from gdlab import claims, experiment

    exp = experiment.load(name)
    config = parse_config(exp, args, quick)
    result = experiment.execute(exp, config, quick=quick, out=out)
    print(f"{name}  ({result['meta']['seconds']:.1f} s)")
    print(f"  {_cost_line(result['meta'])}")
    print(experiment.format_metrics(result["metrics"]))
    print(f"  {_claims_line(result)}")
    print(f"  wrote {os.path.dirname(result['paths'][-1])}/")
    return CLAIM_FAILED if claims.failed(result["claims"]) else 0


def _jobs(args: list[str]) -> int:
    """``--jobs N`` (popped): experiments run at once; default one per CPU core, at most 4."""
    value = _pop_option(args, "--jobs")
    if value is None:
        return max(1, min(os.cpu_count() or 1, 4))
    try:
        jobs = int(value)
    except ValueError:
        jobs = 0
    if jobs < 1:
        raise UsageError(f"--jobs must be a positive integer, got {value!r}")
    return jobs


def _folder(name: str, quick: bool, out) -> Path:
    """Where ``gdlab run NAME`` stores its result."""
    from gdlab import experiment

    return Path(out or experiment.results_dir(quick)) / name


def _last_seconds(name: str, quick: bool, out) -> float:
    """How long the stored result of ``name`` took, to start the longest first: from the
    ``--out`` folder, else from the default results folder (a new ``--out`` knows no times,
    and alphabetical order would start the longest experiment last); 0 if neither has one."""
    from gdlab import results

    for folder in (_folder(name, quick, out), _folder(name, quick, None)):
        try:
            seconds = float(results.load(folder).get("meta", {}).get("seconds") or 0)
        except (OSError, ValueError, AttributeError, TypeError):
            continue
        if seconds > 0:
            return seconds
    return 0.0


def _run_child(name: str, quick: bool, out) -> tuple[int, str]:
    """``gdlab run NAME`` in a process of its own: (exit status, its stderr)."""
    command = [sys.executable, "-m", "gdlab.cli", "run", name, *(["--quick"] if quick else []),
               *(["--out", str(out)] if out is not None else [])]
    proc = subprocess.run(command, capture_output=True, text=True)
    return proc.returncode, proc.stderr


def _run_all(args: list[str], quick: bool, out) -> int:
    """Every experiment; ``--jobs N`` of them at once, each in its own process (XLA
    compiles on one core: two compiling experiments keep a 2-core machine busy), the
    longest (by its last stored time) first. One failure does not stop the others."""
    from tqdm import tqdm

    from gdlab import claims, experiment

    jobs = _jobs(args)
    if args:
        raise UsageError(f"run --all takes no experiment options, got {' '.join(args)}")
    failed, findings = [], []
    names = sorted(experiment.names(), key=lambda n: -_last_seconds(n, quick, out))
    bar = tqdm(total=len(names), desc="experiments", unit="exp", file=sys.stderr)

    def report(name: str, result: dict | None, error: str | None) -> None:
        if error is not None:
            failed.append(name)
            tqdm.write(f"FAILED  {name}: {error}")
        else:
            tqdm.write(f"ok      {name}  ({result['meta']['seconds']:.1f} s)  "
                       f"{_claims_line(result)}")
            if claims.failed(result["claims"]):
                findings.append(name)
        bar.update()

    if jobs == 1:
        for name in names:
            bar.set_postfix_str(name)
            try:
                with contextlib.redirect_stdout(io.StringIO()):
                    result = experiment.execute(name, quick=quick, out=out)
                report(name, result, None)
            except Exception as error:  # one failure must not stop the others
                report(name, None, f"{type(error).__name__}: {error}")
                if os.environ.get("GDLAB_DEBUG"):
                    traceback.print_exc()
    else:
        with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
            running = {pool.submit(_run_child, name, quick, out): name for name in names}
            for done in concurrent.futures.as_completed(running):
                name = running[done]
                status, stderr = done.result()
                if status in (0, CLAIM_FAILED):
                    report(name, experiment.load_result(name, _folder(name, quick, out)), None)
                else:
                    lines = stderr.strip().splitlines()
                    report(name, None, lines[-1] if lines else f"exit status {status}")
                    if os.environ.get("GDLAB_DEBUG"):
                        print(stderr, file=sys.stderr)
    bar.close()
    print(f"{len(names) - len(failed)} of {len(names)} experiments ran"
          + (f"; failed: {', '.join(failed)}" if failed else "")
          + (f"; claims failed in: {', '.join(findings)}" if findings else ""))
    return 1 if failed else (CLAIM_FAILED if findings else 0)


def _list(quick: bool, out) -> int:
    """Each experiment with its stored claims' status; a script that cannot be loaded is
    listed as broken and the others still are."""
    from gdlab import claims, experiment

    broken = 0
    for name in experiment.names():
        try:
            summary = experiment.load(name).summary
        except ValueError as error:
            broken += 1
            print(f"{name:<22} BROKEN: {error}")
            continue
        stored = experiment.stored_claims(name, quick=quick, out=out)
        if stored is None:
            status = "not run"
        elif not stored:
            status = "no claims"
        else:
            status = claims.summary(stored).removeprefix("claims: ")
        print(f"{name:<22} {status:<11} {summary}")
    return 1 if broken else 0


def _plot(args: list[str], quick: bool, out) -> int:
    from gdlab import claims, experiment

    if len(args) != 1 or args[0].startswith("-"):
        raise UsageError("usage: gdlab plot NAME [--quick] [--out DIR]")
    paths = experiment.replot(args[0], quick=quick, out=out)
    for path in paths:
        print(f"wrote {path}")
    stored = experiment.stored_claims(args[0], quick=quick, out=out) or []
    print(claims.summary(stored))
    return CLAIM_FAILED if claims.failed(stored) else 0


def _default_out(command: str, quick: bool):
    from gdlab import experiment

    return experiment.results_dir(quick)


def _check_writable(out) -> None:
    """Refuse an output folder that cannot be written, before anything runs (exit 2).

    Walks up to the nearest existing folder and creates (and removes) a temporary file
    there: permission bits alone do not show a read-only mount or a full quota."""
    import tempfile
    from pathlib import Path

    path = Path(out)
    if str(out) == "":
        raise UsageError("--out needs a folder name")
    existing = path
    while not existing.exists():
        if existing.is_symlink():  # a dangling link: nothing can be created through it
            raise UsageError(f"--out {out}: {existing} is a broken link")
        existing = existing.parent
    if not existing.is_dir():
        raise UsageError(f"--out {out}: {existing} is not a folder")
    try:
        with tempfile.TemporaryFile(dir=existing, prefix=".gdlab-write-check."):
            pass
    except OSError as error:
        raise UsageError(f"--out {out}: cannot write in {existing} ({error.strerror or error})"
                         ) from None


def _report(args: list[str], quick: bool, out) -> int:
    from gdlab import report

    explorers = not _pop_flag(args, "--no-explorers")
    if args:
        raise UsageError(f"usage: gdlab report [--no-explorers] [--quick] [--out DIR]; "
                         f"got {' '.join(args)}")
    site = report.build(source=out, explorers=explorers, quick=quick)
    print(f"wrote {site}/  (open {site / 'index.html'} in a browser)")
    return 0


def dispatch(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0 if argv else 2
    command, args = argv[0], list(argv[1:])
    quick = _pop_flag(args, "--quick")
    out = _pop_option(args, "--out")
    if command in ("run", "plot", "compare", "inspect", "report"):
        _check_writable(out if out is not None else _default_out(command, quick))
    if command == "list":
        return _list(quick, out)
    if command == "plot":
        return _plot(args, quick, out)
    if command == "report":
        return _report(args, quick, out)
    if command == "compare":
        from gdlab import compare

        return compare.main(args, out=out)
    if command == "inspect":
        from gdlab import inspector

        return inspector.main(args, out=out)
    if command == "run":
        if _pop_flag(args, "--all"):
            return _run_all(args, quick, out)
        if not args or args[0].startswith("-"):
            raise UsageError("usage: gdlab run NAME [--field value ...] | gdlab run --all")
        return _run_one(args[0], args[1:], quick, out)
    raise UsageError(f"unknown command {command!r}; valid: list, run, plot, compare, inspect, "
                     "report")


def _compilation_cache(argv: list[str]) -> list[str]:
    """Compile once per machine: JAX's persistent cache on, unless --no-cache (popped)."""
    from gdlab import compilation

    argv = list(argv)
    if _pop_flag(argv, "--no-cache"):
        compilation.disable_cache()
        os.environ[compilation.ENV] = "off"  # and in the processes of `run --all`
        return argv
    try:
        compilation.enable_cache()
    except OSError as error:  # an unwritable cache folder costs speed, not the run
        print(f"gdlab: compilation cache off: {error}", file=sys.stderr)
    return argv


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        code = dispatch(_compilation_cache(argv))
    except (UsageError, ValueError, FileNotFoundError) as error:
        print(f"gdlab: error: {error}", file=sys.stderr)
        code = 2
    except BrokenPipeError:  # `gdlab list | head`: the reader left, nothing to report
        sys.stderr.close()
        code = 0
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
