"""Crawl modules into nodes, resolving ``@config`` alternatives against the configuration."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from types import ModuleType
from typing import Any

from ..errors import GraphError
from .meta import modifiers_of
from .node import Node


def _functions(module: ModuleType) -> Iterable[tuple[str, Callable[..., Any]]]:
    """Public functions defined in ``module`` itself (not imported into it)."""
    for name, obj in vars(module).items():
        if name.startswith("_") or not inspect.isfunction(obj):
            continue
        if obj.__module__ == module.__name__:
            yield name, obj


def crawl(modules: Iterable[ModuleType], config: Mapping[str, Any]) -> dict[str, Node]:
    """Turn the functions of ``modules`` into nodes, by node name.

    Raises:
        GraphError: two functions define one node, or alternatives exist for a node but the
            config keys that choose between them are absent.
    """
    chosen: dict[str, list[Callable[..., Any]]] = {}
    undecided: dict[str, list[tuple[Callable[..., Any], list[str]]]] = {}
    for module in modules:
        for fn_name, fn in _functions(module):
            conditions = modifiers_of(fn).conditions
            name = fn_name.split("__")[0] if conditions and "__" in fn_name else fn_name
            if all(c.holds(config) for c in conditions):
                chosen.setdefault(name, []).append(fn)
                continue
            absent = sorted({k for c in conditions for k in c.expected if k not in config})
            undecided.setdefault(name, []).append((fn, absent))

    nodes: dict[str, Node] = {}
    for name, fns in chosen.items():
        if len(fns) > 1:
            where = ", ".join(f"{f.__module__}.{f.__qualname__}" for f in fns)
            raise GraphError(
                f"node {name!r} is defined by {len(fns)} functions: {where}. Rename one, or make "
                "them alternatives with @config.when(...) so that only one applies."
            )
        fn = fns[0]
        nodes[name] = Node.from_fn(name, fn, modifiers_of(fn).tags)

    for name, alternatives in undecided.items():
        keys = sorted({k for _, absent in alternatives for k in absent})
        if name in nodes or len(alternatives) < 2 or not keys:
            continue  # a lone @config.when function is dropped silently, as in Hamilton
        which = ", ".join(
            f"{fn.__qualname__} {' '.join(c.describe() for c in modifiers_of(fn).conditions)}"
            for fn, _ in alternatives
        )
        raise GraphError(
            f"no implementation of node {name!r} applies: its alternatives ({which}) choose on "
            f"config key(s) {', '.join(map(repr, keys))}, which the config does not have. "
            f"Add {keys[0]!r} to `with_config(...)`."
        )
    return nodes
