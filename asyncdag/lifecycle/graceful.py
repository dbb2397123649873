"""Hamilton's ``GracefulErrorAdapter``: a node's error becomes a sentinel that prunes its readers.

The adapter rewrites each node's function once, when the Driver is built: the rewritten
function catches ``error_to_catch`` and returns the sentinel, and returns the sentinel
without calling the node when one of its inputs is the sentinel (unless the function is
marked ``@accept_error_sentinels``). Because the rewriting is in the function itself, it
holds wherever the node runs: on the loop, on threads and in worker processes.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import Any, TypeVar

from ..graph.graph import FunctionGraph
from ..graph.node import Node

INJECTION_TAG = "hamilton.error_sentinel"
_ALLOWED = "allow"

_F = TypeVar("_F", bound=Callable[..., Any])


def accept_error_sentinels(func: _F) -> _F:
    """Let ``func`` run when an input is the error sentinel (it receives the sentinel).

    For ``GracefulErrorAdapter``: by default a node with a sentinel input is skipped and
    returns the sentinel itself. Use it for steps that gather partial results.
    """
    from ..function_modifiers import tag

    return tag(**{INJECTION_TAG: _ALLOWED}, bypass_reserved_namespaces_=True)(func)


class GracefulErrorAdapter:
    """Keep running past failures: a node raising ``error_to_catch`` returns ``sentinel_value``.

    A node reading a sentinel returns the sentinel without running (``@accept_error_sentinels``
    nodes run and receive it; ``allow_injection=False`` ignores that mark). A
    ``Parallelizable`` that fails while yielding ends its items with one sentinel item
    (``try_all_parallel=True``) or yields only the sentinel (``False``: its items are then
    gathered before any branch starts). As in Hamilton, compare with ``==``: choose a
    sentinel no node returns. ``@retry`` and ``@timeout`` see no caught error.
    """

    def __init__(
        self,
        error_to_catch: type[Exception] | tuple[type[Exception], ...],
        sentinel_value: Any = None,
        try_all_parallel: bool = True,
        allow_injection: bool = True,
    ) -> None:
        self.error_to_catch = error_to_catch
        self.sentinel_value = sentinel_value
        self.try_all_parallel = try_all_parallel
        self.allow_injection = allow_injection

    def rewrite(self, graph: FunctionGraph) -> FunctionGraph:
        """``graph`` with every node's function made graceful."""
        nodes = {name: self._graceful(node) for name, node in graph.nodes.items()}
        return FunctionGraph.from_nodes(nodes, graph.config)

    def _graceful(self, node: Node) -> Node:
        rules = _Rules(
            self.error_to_catch,
            self.sentinel_value,
            self.try_all_parallel,
            self.allow_injection and node.tags.get(INJECTION_TAG) == _ALLOWED,
        )
        fn = node.fn
        if not node.expands:
            call = _call_async if node.is_async else _call
        elif node.is_async_generator or node.is_async:
            call = _items_async if self.try_all_parallel else _listed_async
        else:
            call = _items if self.try_all_parallel else _listed
        wrapped = functools.update_wrapper(functools.partial(call, rules, fn), fn)
        return dataclasses.replace(node, fn=wrapped, is_async=inspect.iscoroutinefunction(wrapped))


@dataclasses.dataclass(frozen=True)
class _Rules:
    catch: type[Exception] | tuple[type[Exception], ...]
    sentinel: Any
    try_all: bool
    injectable: bool

    def skipped(self, kwargs: Mapping[str, Any]) -> bool:
        """Whether an input is the sentinel (Hamilton's test: same type, then ``==``)."""
        if self.injectable:
            return False
        sentinel = self.sentinel
        return any(type(v) is type(sentinel) and v == sentinel for v in kwargs.values())


def _call(rules: _Rules, fn: Callable[..., Any], **kwargs: Any) -> Any:
    if rules.skipped(kwargs):
        return rules.sentinel
    try:
        return fn(**kwargs)
    except rules.catch:
        return rules.sentinel


async def _call_async(rules: _Rules, fn: Callable[..., Any], **kwargs: Any) -> Any:
    if rules.skipped(kwargs):
        return rules.sentinel
    try:
        return await fn(**kwargs)
    except rules.catch:
        return rules.sentinel


def _items(rules: _Rules, fn: Callable[..., Any], **kwargs: Any) -> Iterator[Any]:
    """The expander's items until one fails, then the sentinel as a last item."""
    if rules.skipped(kwargs):
        yield rules.sentinel
        return
    try:
        yield from fn(**kwargs)
    except rules.catch:
        yield rules.sentinel


async def _items_async(rules: _Rules, fn: Callable[..., Any], **kwargs: Any) -> AsyncIterator[Any]:
    if rules.skipped(kwargs):
        yield rules.sentinel
        return
    try:
        async for item in _aiter_of(fn(**kwargs)):
            yield item
    except rules.catch:
        yield rules.sentinel


def _listed(rules: _Rules, fn: Callable[..., Any], **kwargs: Any) -> list[Any]:
    """All the expander's items, or only the sentinel if it fails (``try_all_parallel=False``)."""
    if rules.skipped(kwargs):
        return [rules.sentinel]
    try:
        return list(fn(**kwargs))
    except rules.catch:
        return [rules.sentinel]


async def _listed_async(rules: _Rules, fn: Callable[..., Any], **kwargs: Any) -> list[Any]:
    if rules.skipped(kwargs):
        return [rules.sentinel]
    try:
        return [item async for item in _aiter_of(fn(**kwargs))]
    except rules.catch:
        return [rules.sentinel]


async def _aiter_of(produced: Any) -> AsyncIterator[Any]:
    """Items of an async generator, or of what an ``async def`` returned."""
    if hasattr(produced, "__aiter__"):
        async for item in produced:
            yield item
        return
    for item in await produced:
        yield item
