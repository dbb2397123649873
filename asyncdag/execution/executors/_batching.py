"""Units of one block gathered into cluster tasks: at once while a task slot is free, else batched.

With ``batch_size=None`` a cluster executor sends a unit at once while fewer than ``slots``
of its block's tasks are in flight (so the first item always goes alone and streaming never
waits), and gathers the units that arrive while every slot is busy into the next task, up to
``most`` of them, sent as soon as a slot frees. A fast generator so gets few large tasks, a
slow one many small ones: the batch follows how long branches take against how fast items
come. Each unit keeps its own payload and its own answer, so an error or a crash is
attributed to exactly its unit.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Protocol

from .base import Unit

BATCH_MOST = 64  # the largest automatic batch
# Branches in flight per core by default: enough to hide a round trip to the scheduler
# (measured with batch_size=1: 2 per core cost 2.6x Dask's own client.map per item, 8 per
# core 1.03x), and, with automatic batches, enough to gather while every task slot is busy.
IN_FLIGHT_PER_CORE = 8
AUTO_IN_FLIGHT_PER_CORE = 64
TASKS_PER_CORE = 2  # automatic batches: cluster tasks in flight per core


class _Sized(Protocol):
    batch_size: int | None


class Chunked:
    """A cluster executor's answer to the fan-out: with a fixed ``batch_size``, a block's
    branches come as chunks (``execution.chunks``), one plain list of items per task."""

    batch_size: int | None

    @property
    def takes_chunks(self) -> bool:
        """Whether a block's branches come as ``BranchChunk`` units: with a fixed batch size."""
        return self.batch_size is not None


def in_flight(executor: _Sized, cores: int) -> int:
    """The default ``max_tasks``: branches in flight for ``cores`` cluster cores."""
    per_core = IN_FLIGHT_PER_CORE if executor.batch_size else AUTO_IN_FLIGHT_PER_CORE
    return per_core * cores


def slots(executor: _Sized, cores: int) -> int:
    """Cluster tasks a block keeps in flight before it gathers units into batches."""
    if executor.batch_size:  # fixed batches, made by the fan-out: each unit is a task
        return 1 << 30
    return TASKS_PER_CORE * max(cores, 1)


def most(executor: _Sized) -> int:
    """The most units in one cluster task."""
    return 1 if executor.batch_size else BATCH_MOST


# Runs one cluster task for ``payloads`` (units sharing ``parts``; the first unit names them
# if they cannot be pickled); one answer per payload.
Send = Callable[[list[bytes], tuple[object, ...], Unit], Awaitable[list[bytes]]]


class _Waiting:
    __slots__ = ("answer", "payload", "task", "unit")

    def __init__(self, unit: Unit, payload: bytes, answer: asyncio.Future[bytes]) -> None:
        self.unit, self.payload, self.answer = unit, payload, answer
        self.task: asyncio.Task[None] | None = None  # the task carrying it, once sent


class _Group:
    """The units of one block (the same shared parts) waiting or in flight."""

    __slots__ = ("flying", "parts", "pending", "tasks")

    def __init__(self, parts: tuple[object, ...]) -> None:
        self.parts = parts
        self.pending: list[_Waiting] = []
        self.flying = 0
        self.tasks: dict[asyncio.Task[None], list[_Waiting]] = {}


class Batcher:
    """Gathers units into cluster tasks per block; owns the tasks until they end."""

    def __init__(self, send: Send, slots: Callable[[], int], most: int) -> None:
        self._send, self._slots, self._most = send, slots, most
        self._groups: dict[tuple[int, ...], _Group] = {}
        self._suspects = asyncio.Lock()  # units sent again after a crash: one at a time

    async def run(self, unit: Unit, payload: bytes, parts: tuple[object, ...]) -> bytes:
        """The answer to ``payload``, sent alone or with other units of its block."""
        loop = asyncio.get_running_loop()
        if self._most == 1:  # fixed batches: the unit is the task, sent from this task
            (answer,) = await self._answers(parts, [_Waiting(unit, payload, loop.create_future())])
            if isinstance(answer, Exception):
                raise answer
            return answer
        key = tuple(id(part) for part in parts)
        group = self._groups.get(key)
        if group is None or any(a is not b for a, b in zip(group.parts, parts, strict=True)):
            group = self._groups[key] = _Group(parts)
        waiting = _Waiting(unit, payload, loop.create_future())
        group.pending.append(waiting)
        if group.flying < self._slots():
            self._flush(key, group)
        try:
            return await asyncio.shield(waiting.answer)
        except asyncio.CancelledError:
            await self._abandon(key, group, waiting)
            raise

    def _flush(self, key: tuple[int, ...], group: _Group) -> None:
        batch, group.pending = group.pending[: self._most], group.pending[self._most :]
        group.flying += 1
        task = asyncio.ensure_future(self._carry(key, group, batch))
        group.tasks[task] = batch
        for waiting in batch:
            waiting.task = task

    async def _carry(self, key: tuple[int, ...], group: _Group, batch: list[_Waiting]) -> None:
        try:
            answers = await self._answers(group.parts, batch)
        except BaseException:
            for waiting in batch:
                waiting.answer.cancel()
            raise
        else:
            for waiting, answer in zip(batch, answers, strict=True):
                if waiting.answer.done():
                    pass
                elif isinstance(answer, Exception):
                    waiting.answer.set_exception(answer)
                    waiting.answer.exception()  # retrieved: cancelled waiters never look
                else:
                    waiting.answer.set_result(answer)
        finally:
            group.flying -= 1
            task = asyncio.current_task()
            group.tasks.pop(task, None)  # type: ignore[arg-type]
            if group.pending:
                self._flush(key, group)
            elif not group.flying and self._groups.get(key) is group:
                del self._groups[key]

    async def _answers(
        self, parts: tuple[object, ...], batch: list[_Waiting], suspect: bool = False
    ) -> list[bytes | Exception]:
        """The answer to each unit of ``batch``, or the exception its cluster task ended with.

        A task that fails as a whole (its worker died) fails every unit in it, and a cluster
        may also fail the tasks queued on that worker. Under ``@on_branch_error("skip")``
        each such unit is sent once more on its own, one suspect at a time, so that only
        the branch that kills a worker alone is left out.
        """
        try:
            return list(await self._send([w.payload for w in batch], parts, batch[0].unit))
        except Exception as exc:
            if suspect or not getattr(batch[0].unit, "skip", False):
                return [exc] * len(batch)
        answers: list[bytes | Exception] = []
        for waiting in batch:
            async with self._suspects:
                answers += await self._answers(parts, [waiting], suspect=True)
        return answers

    async def _abandon(self, key: tuple[int, ...], group: _Group, waiting: _Waiting) -> None:
        """A waiting unit was cancelled: drop it, or stop its task once nobody else needs it."""
        if waiting.task is None:
            with contextlib.suppress(ValueError):
                group.pending.remove(waiting)
            if not group.pending and not group.flying and self._groups.get(key) is group:
                del self._groups[key]
            return
        waiting.answer.cancel()
        task = waiting.task
        if all(w.answer.cancelled() for w in group.tasks.get(task, ())):
            task.cancel()  # cancels the cluster's future or task, then ends
            with contextlib.suppress(BaseException):
                await asyncio.wait([task])

    async def aclose(self) -> None:
        """Stop every task still in flight."""
        tasks = [task for group in self._groups.values() for task in group.tasks]
        self._groups.clear()
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
