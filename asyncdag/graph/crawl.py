"""Crawl modules into nodes: resolve ``@config`` alternatives, then each function's modifiers."""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable, Iterable, Iterator, Mapping
from types import ModuleType
from typing import Any

from ..errors import GraphError
from .modifiers.expand import resolve
from .modifiers.meta import Modifiers, modifiers_of
from .modifiers.resolve import modifiers_for
from .node import Node, origin_of
from .types import check_input_types


def _functions(module: ModuleType) -> Iterable[tuple[str, Callable[..., Any]]]:
    """Public functions defined in ``module`` itself (not imported into it)."""
    for name, obj in vars(module).items():
        if name.startswith("_") or not inspect.isfunction(obj):
            continue
        if obj.__module__ == module.__name__:
            yield name, obj


def node_name(fn_name: str, modifiers: Modifiers) -> str:
    """The node a function defines: with ``@config``, the name before the last ``__``."""
    if not modifiers.conditions:
        return fn_name
    if modifiers.name is not None:
        return modifiers.name
    cut = fn_name.rfind("__")
    return fn_name[:cut] if cut > 0 else fn_name


def functions_of(load_from: Iterable[Any]) -> Iterable[tuple[str, Callable[..., Any]]]:
    """The functions of modules, and functions given themselves (``@subdag`` takes both)."""
    for item in load_from:
        if isinstance(item, ModuleType):
            yield from _functions(item)
        elif callable(item):
            yield item.__name__, item


@contextlib.contextmanager
def _blamed(fn: Callable[..., Any], name: str) -> Iterator[None]:
    """A ``GraphError`` raised while making ``fn``'s nodes names it and its node, unless an
    inner function (of a ``@subdag``) was named first."""
    try:
        yield
    except GraphError as exc:
        where = origin_of(fn)
        if exc.function is None:
            exc.function = where
        if exc.node is None and exc.function == where:
            exc.node = name
        raise


def crawl(modules: Iterable[ModuleType], config: Mapping[str, Any]) -> dict[str, Node]:
    """Turn the functions of ``modules`` into nodes, by node name.

    Raises:
        GraphError: two functions define one node, alternatives exist for a node but the
            config keys that choose between them are absent, a function modifier does not fit
            its function, or two functions read one input with clashing annotations.
    """
    nodes = nodes_of(tuple(modules), config)
    check_input_types(nodes)
    return nodes


def nodes_of(load_from: tuple[Any, ...], config: Mapping[str, Any]) -> dict[str, Node]:
    """The nodes of the functions of ``load_from`` (modules or functions) under ``config``."""
    chosen: list[tuple[str, Callable[..., Any], Modifiers]] = []
    undecided: dict[str, list[tuple[Callable[..., Any], list[str]]]] = {}
    for fn_name, fn in functions_of(load_from):
        with _blamed(fn, fn_name):
            modifiers = modifiers_for(fn, config)
        if modifiers.excluded:
            continue
        name = node_name(fn_name, modifiers)
        if all(c.holds(config) for c in modifiers.conditions):
            chosen.append((name, fn, modifiers))
            continue
        used = {k for c in modifiers.conditions for k in c.expected}
        undecided.setdefault(name, []).append((fn, sorted(k for k in used if k not in config)))

    nodes: dict[str, Node] = {}
    makers: dict[str, list[Callable[..., Any]]] = {}
    for name, fn, modifiers in chosen:
        with _blamed(fn, name):
            made = resolve(name, fn, modifiers, config, nodes_of)
        for node in made:
            makers.setdefault(node.name, []).append(fn)
            nodes[node.name] = node
    for name, fns in makers.items():
        if len(fns) > 1:
            where = ", ".join(origin_of(f) for f in fns)
            raise GraphError(
                f"node {name!r} is defined by {len(fns)} functions: {where}. Rename one, or make "
                "them alternatives with @config.when(...) so that only one applies.",
                node=name,
            )

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
            f"Add {keys[0]!r} to `with_config(...)`.",
            node=name,
        )
    return nodes
