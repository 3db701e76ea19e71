"""Import a Python file as a module: experiment scripts, their private siblings, user problems."""

import importlib.util
import sys
from pathlib import Path
from types import ModuleType


def import_file(path, name: str) -> ModuleType:
    """Execute ``path`` as module ``name``, registered in ``sys.modules`` (dataclasses and
    sibling imports look modules up by name); on any error the half-made module is removed
    and the error propagates for the caller to word."""
    spec = importlib.util.spec_from_file_location(name, Path(path))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module
