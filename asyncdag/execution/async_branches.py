"""A branch that is one ``async def`` node: its task runs the node's coroutine, little else.

This coroutine is per item, so it is kept small; the common case (the node takes the item as
its first parameter, its value is the block's one ``Collect``, no slot to give back) gets one
smaller still.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Mapping
from functools import partial
from typing import Any, Protocol

from ..graph.plan import Step
from .calls import first_parameter
from .paths import Path

Branch = Callable[[int, Any], Coroutine[Any, Any, None]]


class _Run(Protocol):
    def caught(
        self, exc: BaseException, node: str, path: Path, producing: int = -1
    ) -> BaseException: ...


class _Fan(Protocol):
    """What a branch reads and writes of its block's fan-out (``fanout.Fan``)."""

    filled: int

    @property
    def run(self) -> _Run: ...
    @property
    def name(self) -> str: ...
    @property
    def path(self) -> Path: ...
    @property
    def outer(self) -> Mapping[str, Any]: ...
    @property
    def lists(self) -> list[list[Any]]: ...
    @property
    def produces(self) -> tuple[str, ...]: ...
    @property
    def slots(self) -> asyncio.Semaphore | None: ...
    @property
    def holes(self) -> list[tuple[str, Path]]: ...


def async_branch(fan: _Fan, only: Step) -> Branch:
    """The coroutine function running ``fan``'s branch of the one node ``only``, per item."""
    run, name, path, lists = fan.run, fan.name, fan.path, fan.lists
    node = only.node
    fn, node_name = node.fn, node.name
    fixed = {p: fan.outer[k] for p, k in only.args if k != name}
    item_params = tuple(p for p, k in only.args if k == name)
    picks = tuple(key == name for key in fan.produces)  # else the node's value
    slots = fan.slots
    (param,) = item_params if len(item_params) == 1 and not fixed else (None,)

    def failed(exc: BaseException, index: int, item: Any) -> BaseException:
        """``exc`` noted with the branch, or itself (a cancellation leaves a hole)."""
        where = (*path, (name, index, item))
        error = run.caught(exc, node_name, where)
        if error is exc and isinstance(exc, asyncio.CancelledError):
            fan.holes.append((node_name, where))
        return error

    first = item_params[0] if len(item_params) == 1 else None
    if first is not None and first_parameter(fn) == first and slots is None and picks == (False,):
        (values,) = lists
        call = partial(fn, **fixed) if fixed else fn  # the item goes first, positionally

        async def plain(index: int, item: Any) -> None:
            try:
                values[index] = await call(item)
            except BaseException as exc:
                error = failed(exc, index, item)
                if error is exc:
                    raise
                raise error from exc
            fan.filled += 1

        return plain

    async def branch(index: int, item: Any) -> None:
        if param is not None:
            kwargs = {param: item}
        else:
            kwargs = fixed.copy()
            for p in item_params:
                kwargs[p] = item
        try:
            value = await fn(**kwargs)
        except BaseException as exc:
            error = failed(exc, index, item)
            if error is exc:
                raise
            raise error from exc
        finally:
            if slots is not None:
                slots.release()
        for values_list, pick in zip(lists, picks, strict=True):
            values_list[index] = item if pick else value
        fan.filled += 1

    return branch
