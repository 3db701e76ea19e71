"""User references: ``"module.path:NAME"`` or ``"path/to/file.py:NAME"`` -> a ``Problem``.

NAME is a ``Problem`` or a function returning one (called with the keyword arguments
given to ``get``). A file is imported once per path and modification time, so asking
twice gives the same functions (and ``gdlab.train`` reuses its compilations).
"""

import importlib
import importlib.util
from pathlib import Path

from gdlab._modules import import_file
from gdlab.problems._record import Problem

_FILES: dict[tuple[str, float], object] = {}


def is_reference(name) -> bool:
    return isinstance(name, str) and ":" in name


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


def _import_file(path: str):
    file = Path(path).expanduser().resolve()
    if not file.is_file():
        raise ValueError(f"problem reference {path!r}: no such file")
    stamp = (str(file), file.stat().st_mtime)
    if stamp not in _FILES:
        try:
            module = import_file(file, f"gdlab_user_{abs(hash(stamp)):x}")
        except Exception as error:
            raise ValueError(f"problem reference {path!r}: importing the file failed "
                             f"({_first_line(error)})") from None
        _FILES[stamp] = module
    return _FILES[stamp]


def _import_module(path: str):
    try:
        return importlib.import_module(path)
    except Exception as error:
        raise ValueError(f"problem reference {path!r}: could not import the module "
                         f"({_first_line(error)})") from None


def resolve(reference: str, **kwargs) -> Problem:
    """The ``Problem`` a reference names; ValueError (one line) for anything wrong."""
    where, _, attr = reference.rpartition(":")
    if not where or not attr.isidentifier():
        raise ValueError(f"bad problem reference {reference!r}: expected "
                         f"'module.path:NAME' or 'path/to/file.py:NAME'")
    is_file = where.endswith(".py") or "/" in where or "\\" in where
    module = _import_file(where) if is_file else _import_module(where)
    try:
        obj = getattr(module, attr)
    except AttributeError:
        raise ValueError(f"problem reference {reference!r}: {where} has no {attr!r}") from None
    if isinstance(obj, Problem):
        if kwargs:
            raise ValueError(f"problem reference {reference!r} is a Problem, not a function: "
                             f"it takes no arguments (got {', '.join(sorted(kwargs))})")
        return obj
    if not callable(obj):
        raise ValueError(f"problem reference {reference!r} is a {type(obj).__name__}, "
                         f"not a Problem or a function returning one")
    try:
        made = obj(**kwargs)
    except Exception as error:
        raise ValueError(f"problem reference {reference!r}: calling {attr}() failed "
                         f"({_first_line(error)})") from None
    if not isinstance(made, Problem):
        raise ValueError(f"problem reference {reference!r}: {attr}() returned a "
                         f"{type(made).__name__}, not a gdlab.problems.Problem")
    return made
