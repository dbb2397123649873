"""Run one node under its ``@timeout`` and ``@retry`` policy; an expander's items under it."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from functools import partial
from typing import Any

from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from ..errors import NodeTimeoutError
from ..graph.modifiers.meta import Retry
from ..graph.node import Node
from .executors.base import Call, Executor
from .sources import END, split


def _retrying(rule: Retry) -> AsyncRetrying:
    return AsyncRetrying(
        stop=stop_after_attempt(rule.attempts),
        wait=wait_exponential(multiplier=rule.backoff),
        retry=retry_if_exception_type(rule.on),
        reraise=True,
    )


async def run_with_policy(
    node: Node,
    kwargs: dict[str, Any],
    executor: Executor | None,
    branch: str,
    threads: TimeoutThreads,
) -> Any:
    """Each attempt cut off at ``@timeout``; attempts repeated per ``@retry`` (tenacity).

    ``executor`` None: a sync node runs on the loop thread (on a thread of its own when it
    has a timeout, since a call on the loop cannot be cut off).
    """
    policy = node.policy
    assert policy is not None
    if policy.retry is None:
        return await _attempt(node, kwargs, executor, branch, policy.timeout, threads)
    async for attempt in _retrying(policy.retry):
        with attempt:
            return await _attempt(node, kwargs, executor, branch, policy.timeout, threads)
    raise AssertionError("unreachable: tenacity reraises the last error")


async def _attempt(
    node: Node,
    kwargs: dict[str, Any],
    executor: Executor | None,
    branch: str,
    seconds: float | None,
    threads: TimeoutThreads,
) -> Any:
    """One run of the node, cut off after ``seconds``."""
    if node.is_async:
        call = node.fn(**kwargs)
    elif executor is not None:
        call = executor.submit(Call(node.name, branch, node.fn, kwargs, seconds is not None))
    elif seconds is None:
        return node.fn(**kwargs)
    else:  # an inline call cannot be cut off: give it a thread that may be left behind
        call = threads.call(node.fn, kwargs)
    return await _bounded(call, node.name, branch, seconds)


async def _bounded(call: Awaitable[Any], node: str, branch: str, seconds: float | None) -> Any:
    if seconds is None:
        return await call
    deadline = asyncio.timeout(seconds)
    try:
        async with deadline:
            return await call
    except TimeoutError as exc:
        if not deadline.expired():
            raise  # the node's own TimeoutError
        raise NodeTimeoutError(node, branch, seconds) from exc


async def policed_items(
    node: Node,
    branch: str,
    open_source: Callable[[], Awaitable[Iterator[Any] | AsyncIterator[Any]]],
    threads: TimeoutThreads | None,
) -> AsyncIterator[Any]:
    """An expander's items: ``@timeout`` bounds the call and each wait for an item, ``@retry``
    calls it again only while it has yielded nothing (a retry after items would repeat them).

    ``threads``: the expander is a sync one run on the loop thread; under a timeout, each of
    its steps runs on one of these threads, which may be left behind.
    """
    policy = node.policy
    assert policy is not None
    seconds = policy.timeout

    async def first() -> tuple[AsyncIterator[Any], Any]:
        source = await _bounded(open_source(), node.name, branch, seconds)
        items = _stepped(source, threads if seconds is not None else None)
        try:
            return items, await _bounded(anext(items, END), node.name, branch, seconds)
        except BaseException:
            await _close(items)
            raise

    if policy.retry is None:
        items, item = await first()
    else:
        async for attempt in _retrying(policy.retry):
            with attempt:
                items, item = await first()
    try:
        while item is not END:
            yield item
            item = await _bounded(anext(items, END), node.name, branch, seconds)
    finally:
        await _close(items)


def _stepped(
    source: Iterator[Any] | AsyncIterator[Any], threads: TimeoutThreads | None
) -> AsyncIterator[Any]:
    sync_items, async_items = split(source)
    if sync_items is None:
        return async_items
    return _sync_steps(sync_items, threads)


async def _sync_steps(items: Iterator[Any], threads: TimeoutThreads | None) -> AsyncIterator[Any]:
    """A sync iterator's items; with ``threads``, each step on one of them."""
    step = partial(next, items, END)
    try:
        while (item := await threads.call(step, {}) if threads else step()) is not END:
            yield item
    finally:
        close = getattr(items, "close", None)
        if close is not None:
            with contextlib.suppress(ValueError):  # still running on a thread past its timeout
                close()


async def _close(items: AsyncIterator[Any]) -> None:
    close = getattr(items, "aclose", None)
    if close is not None:
        with contextlib.suppress(ValueError, RuntimeError):  # a step left running past its timeout
            await close()


TIMEOUT_THREADS = 16  # per execution: inline sync nodes under a @timeout running at once


class TimeoutThreads:
    """The threads one execution runs its inline sync nodes under ``@timeout`` on.

    A call on the loop cannot be cut off, so each such call gets a daemon thread of its own
    (it never holds up the program's end); a node stuck past its deadline keeps its thread
    until it returns, its result dropped. At most ``TIMEOUT_THREADS`` are alive at once for
    one execution: further calls wait for one to end. ``alive`` counts them.
    """

    __slots__ = ("_slots", "alive")

    def __init__(self) -> None:
        self._slots: asyncio.Semaphore | None = None
        self.alive = 0

    async def call(self, fn: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
        """``fn(**kwargs)`` on a thread of its own; cancelling this leaves the thread behind."""
        if self._slots is None:
            self._slots = asyncio.Semaphore(TIMEOUT_THREADS)
        slots = self._slots
        await slots.acquire()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        context = contextvars.copy_context()

        def settle(result: Any, error: BaseException | None) -> None:
            self.alive -= 1
            slots.release()
            if future.done():
                return  # abandoned past its deadline
            if error is None:
                future.set_result(result)
            else:
                future.set_exception(error)

        def run() -> None:
            try:
                outcome: tuple[Any, BaseException | None] = (context.run(fn, **kwargs), None)
            except BaseException as exc:
                outcome = (None, exc)
            with contextlib.suppress(RuntimeError):  # the loop closed while it ran
                loop.call_soon_threadsafe(settle, *outcome)

        self.alive += 1
        try:
            threading.Thread(target=run, name="asyncdag-timeout", daemon=True).start()
        except BaseException:
            self.alive -= 1
            slots.release()
            raise
        return await future
