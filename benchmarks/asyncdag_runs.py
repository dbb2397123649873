"""asyncdag contenders: sync or async nodes, inline or thread executors, asyncio or uvloop."""

from __future__ import annotations

import time
import types
from collections.abc import Callable
from typing import Any

from asyncdag import Builder, Driver, executors

from .session import CHAIN, DIAMOND, FANOUT, Contender, LoopFactory, LoopSession, Session
from .workloads import generated, porting

ExecutorFactory = Callable[[], Any]


def inline() -> Any:
    return executors.InlineExecutor()


def threads(max_tasks: int = 8) -> ExecutorFactory:
    return lambda: executors.ThreadExecutor(max_tasks=max_tasks)


def build(
    module: types.ModuleType,
    remote: ExecutorFactory,
    local: ExecutorFactory | None = None,
) -> Driver:
    """A driver running ``module``: branches on ``remote()``, other sync nodes on ``local()``.

    Without ``local``, nodes outside blocks (a fan-out's generator and collector) stay on the
    default ``InlineExecutor``, as in the README's examples.
    """
    builder = Builder().with_modules(module).with_remote_executor(remote())
    if local is not None:
        builder = builder.with_local_executor(local())
    return builder.build()


def workload_module(workload: str, n: int, use_async: bool) -> tuple[types.ModuleType, str, str]:
    """(module, output, input name) of ``workload`` at size ``n`` in asyncdag's form."""
    if workload == FANOUT:
        name = "fanout_async" if use_async else "fanout"
        module = porting.hamilton_module(name) if use_async else porting.asyncdag_module(name)
        return module, "total", "n"
    if workload == CHAIN:
        return generated.chain(n, use_async=use_async), generated.chain_output(n), "x"
    return generated.diamond(n, use_async=use_async), "sink", "x"


class _AsyncdagSession(LoopSession):
    def __init__(
        self,
        loop_factory: LoopFactory,
        workload: str,
        use_async: bool,
        make_executor: ExecutorFactory,
    ) -> None:
        super().__init__(loop_factory)
        self._workload, self._use_async, self._make_executor = workload, use_async, make_executor
        self._drivers: dict[Any, tuple[Driver, str, str]] = {}

    def _driver(self, n: int) -> tuple[Driver, str, str]:
        key = n if self._workload != FANOUT else None  # one fan-out driver serves every n
        if key not in self._drivers:
            module, output, input_name = workload_module(self._workload, n, self._use_async)
            # The fan-out's sync nodes are in its branches (remote); the chain's and the
            # diamond's are all outside blocks, so the executor runs them as local executor.
            local = None if self._workload == FANOUT else self._make_executor
            self._drivers[key] = (build(module, self._make_executor, local), output, input_name)
        return self._drivers[key]

    def run(self, n: int) -> float:
        dr, output, input_name = self._driver(n)
        value = n if self._workload == FANOUT else 0

        async def once() -> float:
            start = time.perf_counter()
            await dr.execute([output], inputs={input_name: value})
            return time.perf_counter() - start

        return self.run_coro(once())

    def close(self) -> None:
        for dr, _, _ in self._drivers.values():
            self.run_coro(dr.aclose())
        super().close()


def asyncdag(
    name: str,
    *,
    use_async: bool,
    make_executor: ExecutorFactory,
    loop_factory: LoopFactory,
    floor: str,
) -> Contender:
    """asyncdag with ``async def`` nodes or sync ones, on the executor and loop given."""

    def open_session(workload: str) -> Session | None:
        if workload not in (FANOUT, CHAIN, DIAMOND):
            return None
        return _AsyncdagSession(loop_factory, workload, use_async, make_executor)

    return Contender(name, "asyncdag", floor, open_session)
