"""Wrappers that give a node built by a modifier the call the scheduler expects.

The scheduler calls ``node.fn(**kwargs)`` with kwargs named after ``node.params`` and awaits
it when the node is async; generators and async generators are iterated. A wrapper is of the
same kind as the function it wraps, so all of that keeps working.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Mapping, Sequence
from typing import Any, TypeVar

from ..node import Node, Param
from .meta import LiteralDependency, UpstreamDependency

Adapt = Callable[[dict[str, Any]], dict[str, Any]]
_C = TypeVar("_C", bound=Callable[..., Any])


class _Positions(dict[str, LiteralDependency | UpstreamDependency]):
    """The members of a list ``group(...)``, keyed by position, so lists and dicts share code."""


Grouped = tuple[Any, Mapping[str, LiteralDependency | UpstreamDependency]]
"""A grouped parameter: one element's annotation and the members (``_Positions``: a list)."""


def grouped(element: Any, members: Sequence[Any] | Mapping[str, Any]) -> Grouped:
    """A ``group(...)`` of a list (``members`` a sequence) or a dict, for ``rebind``."""
    if isinstance(members, Mapping):
        return element, dict(members)
    return element, _Positions({str(i): m for i, m in enumerate(members)})


def _gathered(
    members: Mapping[str, LiteralDependency | UpstreamDependency],
    kwargs: Mapping[str, Any],
    as_list: bool,
) -> Any:
    got = {
        k: kwargs[m.source] if isinstance(m, UpstreamDependency) else m.value
        for k, m in members.items()
    }
    return list(got.values()) if as_list else got


def _same(kwargs: dict[str, Any]) -> dict[str, Any]:
    return kwargs


def wrap(
    target: Callable[..., Any],
    *,
    name: str,
    like: Callable[..., Any],
    doc: str | None,
    adapt: Adapt = _same,
    after: Callable[[Any], Any] | None = None,
    after_async: Callable[[Any], Awaitable[Any]] | None = None,
) -> Callable[..., Any]:
    """Call ``target(**adapt(kwargs))``, then pass its value through ``after``/``after_async``.

    ``like`` is the user's function: the wrapper takes its module and qualified name, so
    messages name the function the user wrote. ``after``/``after_async`` do not apply to
    generators (the graph builder refuses that combination).
    """
    wrapper: Callable[..., Any]
    if inspect.isasyncgenfunction(target):

        async def async_gen_wrapper(**kwargs: Any) -> AsyncIterator[Any]:
            async for item in target(**adapt(kwargs)):
                yield item

        wrapper = async_gen_wrapper
    elif inspect.isgeneratorfunction(target):

        def gen_wrapper(**kwargs: Any) -> Generator[Any, Any, Any]:
            return (yield from target(**adapt(kwargs)))

        wrapper = gen_wrapper
    elif inspect.iscoroutinefunction(target) or after_async is not None:

        async def async_wrapper(**kwargs: Any) -> Any:
            result = target(**adapt(kwargs))
            if inspect.iscoroutinefunction(target):
                result = await result
            if after is not None:
                result = after(result)
            if after_async is not None:
                result = await after_async(result)
            return result

        wrapper = async_wrapper
    else:

        def sync_wrapper(**kwargs: Any) -> Any:
            result = target(**adapt(kwargs))
            return result if after is None else after(result)

        wrapper = sync_wrapper
    wrapper.__doc__ = doc
    return named_like(wrapper, like, name)


def named_like(fn: _C, like: Callable[..., Any], name: str | None = None) -> _C:
    """``fn`` with the module and qualified name of ``like`` (the function the user wrote), so
    messages and ``origin_of`` name it; and named ``name`` when given."""
    if name is not None:
        fn.__name__ = name
    fn.__module__, fn.__qualname__ = like.__module__, like.__qualname__
    return fn


def rebind(
    node: Node,
    name: str,
    like: Callable[..., Any],
    sources: Mapping[str, str],
    values: Mapping[str, Any],
    doc: str | None,
    groups: Mapping[str, Grouped] | None = None,
) -> Node:
    """``node`` renamed, reading parameter ``p`` from node ``sources[p]`` or fixed ``values[p]``.

    ``groups[p]`` makes ``p`` a list or dict of several nodes and values (``group(...)``), each
    read as the element annotation ``element``. Used by ``@parameterize`` and ``@pipe_input``;
    other parameters are read as before.
    """
    groups = groups or {}
    params: dict[str, Param] = {}
    for p in node.params:
        if p.name in groups:
            element, members = groups[p.name]
            for member in members.values():
                if isinstance(member, UpstreamDependency):
                    params.setdefault(member.source, Param(member.source, element, False, False))
        elif p.name not in values:
            renamed = dataclasses.replace(p, name=sources.get(p.name, p.name))
            params.setdefault(renamed.name, renamed)
    names = tuple(p.name for p in node.params)
    as_lists = frozenset(k for k, (_, members) in groups.items() if isinstance(members, _Positions))

    def adapt(kwargs: dict[str, Any]) -> dict[str, Any]:
        call: dict[str, Any] = {}
        for param in names:
            if param in values:
                call[param] = values[param]
            elif param in groups:
                call[param] = _gathered(groups[param][1], kwargs, as_list=param in as_lists)
            else:
                key = sources.get(param, param)
                if key in kwargs:  # an optional parameter left out keeps its default
                    call[param] = kwargs[key]
        return call

    new_fn = wrap(node.fn, name=name, like=like, doc=doc, adapt=adapt)
    return dataclasses.replace(node, name=name, fn=new_fn, params=tuple(params.values()))
