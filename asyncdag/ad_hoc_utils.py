"""Build a module from functions at run time, for notebooks and tests (Hamilton's helper)."""

from __future__ import annotations

import linecache
import sys
import types
import uuid
from collections.abc import Callable
from typing import Any

__all__ = ["create_temporary_module"]


def create_temporary_module(
    *functions: Callable[..., Any], module_name: str | None = None
) -> types.ModuleType:
    """A new module holding copies of ``functions``, registered in ``sys.modules``.

    The copies' ``__module__`` is the new module, so a ``Builder`` crawls them as its own; the
    functions passed in are left as they were. The module has no import spec, so
    ``ProcessExecutor`` ships its functions to worker processes by value.

    Raises:
        ValueError: ``module_name`` is taken, a function's name starts with ``_`` (a helper,
            never a node) or two functions share a name.
    """
    name = module_name if module_name is not None else _generate_unique_temp_module_name()
    if name in sys.modules:
        raise ValueError(f"a module named {name!r} already exists; pass a unique module_name")
    module = types.ModuleType(name)
    for fn in functions:
        if fn.__name__.startswith("_"):
            raise ValueError(
                f"function {fn.__name__!r} starts with '_', which marks a helper that never "
                "becomes a node; rename it or leave it out of the temporary module."
            )
        if hasattr(module, fn.__name__):
            raise ValueError(f"two functions (or a module attribute) are named {fn.__name__!r}")
        copy = _copy_func(fn)
        copy.__module__ = name
        setattr(module, fn.__name__, copy)
    sys.modules[name] = module
    return module


def module_from_source(source: str, module_name: str | None = None) -> types.ModuleType:
    """A module made by running ``source``, registered in ``sys.modules``; inspectable."""
    name = module_name or _generate_unique_temp_module_name()
    module = types.ModuleType(name)
    sys.modules[name] = module
    exec(compile(source, name, "exec"), module.__dict__)
    # So that inspect.getsource finds the functions' code (the "file" is the module name).
    linecache.cache[name] = (len(source), None, source.splitlines(keepends=True), name)
    return module


def _copy_func(fn: Callable[..., Any]) -> types.FunctionType:
    """A new function object with ``fn``'s code, globals, defaults, closure and attributes."""
    if not isinstance(fn, types.FunctionType):
        raise TypeError(f"{fn!r} is not a plain function")
    copy = types.FunctionType(
        fn.__code__, fn.__globals__, fn.__name__, fn.__defaults__, fn.__closure__
    )
    copy.__kwdefaults__ = fn.__kwdefaults__
    copy.__dict__.update(fn.__dict__)  # function modifiers record themselves here
    copy.__annotations__ = fn.__annotations__
    copy.__qualname__ = fn.__qualname__
    copy.__doc__ = fn.__doc__
    return copy


def _generate_unique_temp_module_name() -> str:
    """A fresh module name that is a valid identifier."""
    return f"temporary_module_{uuid.uuid4().hex}"
