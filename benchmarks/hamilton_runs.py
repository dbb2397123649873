"""Apache Hamilton contenders: dynamic execution (V2) and, on the chain, its ``AsyncDriver``.

``HAMILTON_TELEMETRY_ENABLED`` is set to ``false`` before ``hamilton`` is imported.
"""

from __future__ import annotations

import logging
import os
import sys
import time
import types
from typing import Any

from .session import CHAIN, DIAMOND, FANOUT, Contender, LoopSession, Session, asyncio_loop
from .workloads import generated, porting

os.environ["HAMILTON_TELEMETRY_ENABLED"] = "false"


def available() -> bool:
    try:
        import hamilton  # type: ignore[import-untyped]  # noqa: F401
    except ImportError:
        return False
    return True


def _quiet() -> None:
    # Hamilton warns once per build that dynamic execution is experimental.
    logging.getLogger("hamilton").setLevel(logging.ERROR)
    # Hamilton walks the graph recursively: a 1,000-node chain passes the default limit.
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 20_000))


def v2_driver(module: types.ModuleType, threads: int | None) -> Any:
    """Hamilton's dynamic-execution driver; ``threads``: a ``MultiThreadingExecutor`` size."""
    from hamilton import driver
    from hamilton.execution import executors  # type: ignore[import-untyped]

    _quiet()
    executor = (
        executors.MultiThreadingExecutor(max_tasks=threads)
        if threads
        else executors.SynchronousLocalTaskExecutor()
    )
    return (
        driver.Builder()
        .with_modules(module)
        .enable_dynamic_execution(allow_experimental_mode=True)
        .with_remote_executor(executor)
        .build()
    )


def _workload_module(workload: str, n: int) -> tuple[types.ModuleType, str, str]:
    if workload == FANOUT:
        return porting.hamilton_module("fanout"), "total", "n"
    if workload == CHAIN:
        return generated.chain(n), generated.chain_output(n), "x"
    return generated.diamond(n), "sink", "x"


class _V2Session:
    def __init__(self, workload: str, threads: int | None) -> None:
        self._workload, self._threads = workload, threads
        self._drivers: dict[Any, tuple[Any, str, str]] = {}

    def run(self, n: int) -> float:
        key = n if self._workload != FANOUT else None
        if key not in self._drivers:
            module, output, input_name = _workload_module(self._workload, n)
            self._drivers[key] = (v2_driver(module, self._threads), output, input_name)
        dr, output, input_name = self._drivers[key]
        value = n if self._workload == FANOUT else 0
        start = time.perf_counter()
        dr.execute([output], inputs={input_name: value})
        return time.perf_counter() - start

    def close(self) -> None:
        self._drivers.clear()


class _AsyncDriverSession(LoopSession):
    def __init__(self) -> None:
        super().__init__(asyncio_loop)
        self._drivers: dict[int, Any] = {}

    def run(self, n: int) -> float:
        from hamilton import async_driver

        _quiet()
        if n not in self._drivers:
            module = generated.chain(n, use_async=True)
            builder = async_driver.Builder().with_modules(module)
            self._drivers[n] = self.run_coro(builder.build())
        dr = self._drivers[n]

        async def once() -> float:
            start = time.perf_counter()
            await dr.execute([generated.chain_output(n)], inputs={"x": 0})
            return time.perf_counter() - start

        return self.run_coro(once())


def v2(name: str, *, threads: int | None, baseline: str) -> Contender:
    """Hamilton V2 with the synchronous executor, or the multithreading one of ``threads``."""

    def open_session(workload: str) -> Session | None:
        if workload not in (FANOUT, CHAIN, DIAMOND):
            return None
        return _V2Session(workload, threads)

    return Contender(name, "peer", baseline, open_session)


def async_chain(name: str, *, baseline: str) -> Contender:
    """Hamilton's ``AsyncDriver`` (no fan-out support: the linear chain only)."""

    def open_session(workload: str) -> Session | None:
        return _AsyncDriverSession() if workload == CHAIN else None

    return Contender(name, "peer", baseline, open_session)
