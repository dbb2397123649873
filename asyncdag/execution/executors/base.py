"""The executor seam: an async context manager that owns its resources, plus ``submit``."""

from __future__ import annotations

import abc
import asyncio
import contextlib
import inspect
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from types import CoroutineType
from typing import Any, ClassVar, Protocol, Self, TypeVar

from ..._closing import AsyncClosing
from ..mistakes import returned_coroutine


class Executor(AsyncClosing, abc.ABC):
    """Runs sync units of work: a node call, or (for remote executors) a whole branch.

    ``max_tasks`` bounds how many branches of a block run at once when this executor runs
    the block's nodes (``None``: unbounded). Resources start on first use and stop in
    ``aclose()``; ``async with executor:`` does both.
    """

    runs_inline: ClassVar[bool] = False  # sync calls happen on the loop thread
    runs_branches: ClassVar[bool] = False  # a block's branches are shipped whole, in batches
    max_tasks: int | None = None
    batch_size: int | None = None

    @abc.abstractmethod
    async def submit(self, unit: Unit) -> Any:
        """Run ``unit()`` and return its result; its exceptions propagate as themselves."""

    async def start(self) -> None:
        """Start this executor's resources now (``async with dr:`` calls it), not on first use."""

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def aclose(self) -> None:
        """Stop whatever this executor started; it may start again on the next ``submit``."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(max_tasks={self.max_tasks!r})"


T = TypeVar("T")


async def uninterrupted(awaitable: Awaitable[T]) -> T:
    """Await ``awaitable`` to its end, even if this task is cancelled again meanwhile.

    For work that must not be cut short once started: a thread job, which cannot be
    interrupted, or stopping a worker process. The caller re-raises its own cancellation.
    """
    future = asyncio.ensure_future(awaitable)
    while not future.done():
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(future)
    return future.result()


def check_max_tasks(max_tasks: int | None) -> int | None:
    """Validate a ``max_tasks`` argument."""
    if max_tasks is not None and (not isinstance(max_tasks, int) or max_tasks < 1):
        raise ValueError(f"max_tasks must be a positive int or None, not {max_tasks!r}")
    return max_tasks


class Unit(Protocol):
    """One unit of work: a node call, or a batch of branches for executors that run branches.

    Besides being called, a unit can name its parts, so that an executor that must serialize
    it can say which node and which value could not be pickled.
    """

    @property
    def node(self) -> str:
        """The node this unit runs (the expander, for a batch of branches)."""
        ...

    @property
    def branch(self) -> str:
        """The branch path, e.g. ``url[3]``; empty outside blocks."""
        ...

    @property
    def abandon_on_cancel(self) -> bool:
        """A ``@timeout`` unit: once cancelled, it is not waited for (a worker is replaced)."""
        ...

    def __call__(self) -> Any: ...

    def shared(self) -> tuple[object, ...]:
        """Immutable parts (a block's branch frame) that a worker may keep between units."""
        ...

    def parts(self) -> Iterable[tuple[str, str, Any]]:
        """(node, what, value) for everything the unit carries: functions, arguments, items."""
        ...

    def result_parts(self, result: Any) -> Iterable[tuple[str, str, Any]]:
        """(node, what, value) for each piece of ``result``."""
        ...


async def run_unit(unit: Unit) -> Any:
    """Call ``unit`` and await its result when that is awaitable (a batch of branches).

    A ``Call`` of a ``def`` node that returned a coroutine is that node's mistake: the
    coroutine is closed, never run, and the error says how to fix it.
    """
    result = unit()
    if type(result) is CoroutineType and isinstance(unit, Call):
        raise returned_coroutine(unit.node, result)
    if inspect.isawaitable(result):
        return await result
    return result


@dataclass(frozen=True, slots=True)
class Call:
    """A unit that calls one sync node: ``fn(**kwargs)``."""

    node: str
    branch: str
    fn: Callable[..., Any]
    kwargs: Mapping[str, Any]
    abandon_on_cancel: bool = False  # a @timeout call: a thread is not waited for past it

    def __call__(self) -> Any:
        return self.fn(**self.kwargs)

    def __reduce__(self) -> tuple[Any, ...]:
        # Its fields as they are: cheaper to pickle than a dataclass's generated state.
        return Call, (self.node, self.branch, self.fn, self.kwargs, self.abandon_on_cancel)

    def shared(self) -> tuple[object, ...]:
        return ()

    def parts(self) -> Iterable[tuple[str, str, Any]]:
        yield self.node, "the function", self.fn
        for name, value in self.kwargs.items():
            yield self.node, f"argument {name!r}", value

    def result_parts(self, result: Any) -> Iterable[tuple[str, str, Any]]:
        yield self.node, "the return value", result
