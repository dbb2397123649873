"""``Builder.allow_module_overrides()``: a later module's function replaces an earlier one's."""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import Any

from .graph.crawl import node_name
from .graph.modifiers.meta import modifiers_of


def later_modules_win(modules: Sequence[ModuleType], config: Mapping[str, Any]) -> list[ModuleType]:
    """``modules``, each without the functions whose node a later module defines again.

    A module that loses functions is replaced by a view: a module object of the same name
    holding the rest, so its functions stay its own (tags, origins, pickling by reference).
    """
    defined = [node_functions(m, config) for m in modules]
    result: list[ModuleType] = []
    for i, module in enumerate(modules):
        later = {node for names in defined[i + 1 :] for node in names.values()}
        lost = {fn for fn, node in defined[i].items() if node in later}
        if not lost:
            result.append(module)
            continue
        view = ModuleType(module.__name__, module.__doc__)
        view.__dict__.update({k: v for k, v in vars(module).items() if k not in lost})
        result.append(view)
    return result


def node_functions(module: ModuleType, config: Mapping[str, Any]) -> dict[str, str]:
    """Function name -> node name, for the functions of ``module`` that apply under ``config``."""
    found: dict[str, str] = {}
    for name, obj in vars(module).items():
        if name.startswith("_") or not inspect.isfunction(obj):
            continue
        if obj.__module__ != module.__name__:
            continue
        modifiers = modifiers_of(obj)
        if all(c.holds(config) for c in modifiers.conditions):
            found[name] = node_name(name, modifiers)
    return found
