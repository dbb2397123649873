"""The raw asyncio floor: one ``create_task`` per item or node, doing the same trivial work.

With a thread pool, the floor of sync work on threads: one ``run_in_executor`` per item or
node instead of a task.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .session import CHAIN, DIAMOND, FANOUT, Contender, LoopFactory, LoopSession, Session

Spawn = Callable[..., Awaitable[int]]  # spawn(fn, *args): the floor's unit of scheduling


def _double(i: int) -> int:
    return i * 2


def _inc(x: int) -> int:
    return x + 1


def _add(a: int, b: int) -> int:
    return (a + b) & 0xFFFF


async def _fanout(spawn: Spawn, n: int) -> float:
    start = time.perf_counter()
    values = await asyncio.gather(*[spawn(_double, i) for i in range(n)])
    sum(values)
    return time.perf_counter() - start


async def _chain(spawn: Spawn, n: int) -> float:
    start = time.perf_counter()
    x = 0
    for _ in range(n):
        x = await spawn(_inc, x)
    return time.perf_counter() - start


async def _diamond(spawn: Spawn, n: int, width: int = 10) -> float:
    start = time.perf_counter()
    layer = list(range(width))
    for _ in range(n // width - 1):
        layer = list(
            await asyncio.gather(
                *[spawn(_add, layer[i], layer[(i + 1) % width]) for i in range(width)]
            )
        )
    await spawn(_double, sum(layer))
    return time.perf_counter() - start


_WORK = {FANOUT: _fanout, CHAIN: _chain, DIAMOND: _diamond}


def _as_task(fn: Callable[..., int], *args: Any) -> Awaitable[int]:
    async def work() -> int:
        return fn(*args)

    return asyncio.create_task(work())


class _FloorSession(LoopSession):
    def __init__(self, loop_factory: LoopFactory, workload: str, threads: int | None) -> None:
        super().__init__(loop_factory)
        self._work = _WORK[workload]
        self._pool = ThreadPoolExecutor(threads) if threads else None

    def _spawn(self) -> Spawn:
        pool = self._pool
        if pool is None:
            return _as_task
        loop = asyncio.get_running_loop()
        return lambda fn, *args: loop.run_in_executor(pool, fn, *args)

    def run(self, n: int) -> float:
        async def once() -> float:
            return await self._work(self._spawn(), n)

        return self.run_coro(once())

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
        super().close()


def floor(name: str, loop_factory: LoopFactory, threads: int | None = None) -> Contender:
    """The floor on the loop ``loop_factory`` makes; on a pool of ``threads`` when given."""

    def open_session(workload: str) -> Session | None:
        return _FloorSession(loop_factory, workload, threads) if workload in _WORK else None

    return Contender(name, "floor", None, open_session)
