"""Load the workload files: as written (Hamilton) or with ``hamilton`` replaced by ``asyncdag``."""

from __future__ import annotations

import importlib
import sys
import types
from pathlib import Path

HERE = Path(__file__).parent


def hamilton_module(name: str) -> types.ModuleType:
    """``benchmarks/workloads/<name>.py`` imported as it is written."""
    return importlib.import_module(f"{__package__}.{name}")


def asyncdag_module(name: str) -> types.ModuleType:
    """``benchmarks/workloads/<name>.py`` ported by text replacement ``hamilton`` -> ``asyncdag``.

    The module is built at run time (registered in ``sys.modules`` under a ``ported_`` name),
    as a user porting a Hamilton module by ``sed`` would get it.
    """
    module_name = f"{__package__}.ported_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    path = HERE / f"{name}.py"
    source = path.read_text(encoding="utf-8").replace("hamilton", "asyncdag")
    module = types.ModuleType(module_name)
    sys.modules[module_name] = module
    exec(compile(source, str(path), "exec"), module.__dict__)
    return module
