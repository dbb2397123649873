"""Run one node under its ``@timeout`` and ``@retry`` policy."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import threading
from collections.abc import Callable
from typing import Any

from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from ..errors import NodeTimeoutError
from ..graph.node import Node
from .executors.base import Call, Executor


async def run_with_policy(
    node: Node, kwargs: dict[str, Any], executor: Executor, branch: str
) -> Any:
    """Each attempt cut off at ``@timeout``; attempts repeated per ``@retry`` (tenacity)."""
    policy = node.policy
    assert policy is not None
    if policy.retry is None:
        return await _attempt(node, kwargs, executor, branch, policy.timeout)
    rule = policy.retry
    retrying = AsyncRetrying(
        stop=stop_after_attempt(rule.attempts),
        wait=wait_exponential(multiplier=rule.backoff),
        retry=retry_if_exception_type(rule.on),
        reraise=True,
    )
    async for attempt in retrying:
        with attempt:
            return await _attempt(node, kwargs, executor, branch, policy.timeout)
    raise AssertionError("unreachable: tenacity reraises the last error")


async def _attempt(
    node: Node, kwargs: dict[str, Any], executor: Executor, branch: str, seconds: float | None
) -> Any:
    """One run of the node, cut off after ``seconds``."""
    if node.is_async:
        call = node.fn(**kwargs)
    elif not executor.runs_inline:
        call = executor.submit(Call(node.name, branch, node.fn, kwargs, seconds is not None))
    elif seconds is None:
        return node.fn(**kwargs)
    else:  # an inline call cannot be cut off: give it a thread that may be left behind
        call = _on_daemon_thread(node.fn, kwargs)
    if seconds is None:
        return await call
    deadline = asyncio.timeout(seconds)
    try:
        async with deadline:
            return await call
    except TimeoutError as exc:
        if not deadline.expired():
            raise  # the node's own TimeoutError
        raise NodeTimeoutError(node.name, branch, seconds) from exc


def _on_daemon_thread(fn: Callable[..., Any], kwargs: dict[str, Any]) -> asyncio.Future[Any]:
    """Run ``fn`` on a thread of its own that never holds up the loop's or the program's end."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()
    context = contextvars.copy_context()

    def settle(result: Any, error: BaseException | None) -> None:
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

    threading.Thread(target=run, name="asyncdag-timeout", daemon=True).start()
    return future
