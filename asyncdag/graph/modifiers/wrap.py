"""Wrappers that give a node built by a modifier the call the scheduler expects.

The scheduler calls ``node.fn(**kwargs)`` with kwargs named after ``node.params`` and awaits
it when the node is async; generators and async generators are iterated. A wrapper is of the
same kind as the function it wraps, so all of that keeps working.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Mapping
from typing import Any

from ..node import Node, Param

Adapt = Callable[[dict[str, Any]], dict[str, Any]]


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
    wrapper.__name__ = name
    wrapper.__qualname__ = like.__qualname__
    wrapper.__module__ = like.__module__
    wrapper.__doc__ = doc
    return wrapper


def rebind(
    node: Node,
    name: str,
    like: Callable[..., Any],
    sources: Mapping[str, str],
    values: Mapping[str, Any],
    doc: str | None,
) -> Node:
    """``node`` renamed, reading parameter ``p`` from node ``sources[p]`` or fixed ``values[p]``.

    Used by ``@parameterize`` and ``@pipe_input``; other parameters are read as before.
    """
    params: dict[str, Param] = {}
    for p in node.params:
        if p.name not in values:
            renamed = dataclasses.replace(p, name=sources.get(p.name, p.name))
            params.setdefault(renamed.name, renamed)
    names = tuple(p.name for p in node.params)

    def adapt(kwargs: dict[str, Any]) -> dict[str, Any]:
        call: dict[str, Any] = {}
        for param in names:
            if param in values:
                call[param] = values[param]
            else:
                key = sources.get(param, param)
                if key in kwargs:  # an optional parameter left out keeps its default
                    call[param] = kwargs[key]
        return call

    new_fn = wrap(node.fn, name=name, like=like, doc=doc, adapt=adapt)
    return dataclasses.replace(node, name=name, fn=new_fn, params=tuple(params.values()))
