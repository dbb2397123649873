"""What every contender offers: a session that times one run of a workload at a size."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

# The throughput workloads, and what their cost is counted per.
FANOUT, CHAIN, DIAMOND = "fanout", "chain", "diamond"
UNIT = {FANOUT: "item", CHAIN: "node", DIAMOND: "node"}

LoopFactory = Callable[[], asyncio.AbstractEventLoop]
_T = TypeVar("_T")


class Session(Protocol):
    """Runs one workload; ``run(n)`` returns the seconds one execution took."""

    def run(self, n: int) -> float: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Contender:
    """A system in one configuration.

    ``kind`` is ``"floor"``, ``"asyncdag"`` or ``"peer"``; ``baseline`` names the contender
    this one's ratio is taken against (the floor for asyncdag, asyncdag for a peer).
    """

    name: str
    kind: str
    baseline: str | None
    open: Callable[[str], Session | None]  # None: this contender does not run that workload


def asyncio_loop() -> asyncio.AbstractEventLoop:
    return asyncio.new_event_loop()


def uvloop_loop() -> asyncio.AbstractEventLoop:
    import uvloop

    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop


class LoopSession:
    """A session whose runs are coroutines, all on one event loop kept for the session."""

    def __init__(self, loop_factory: LoopFactory) -> None:
        self._runner = asyncio.Runner(loop_factory=loop_factory)

    def run_coro(self, coro: Coroutine[Any, Any, _T]) -> _T:
        return self._runner.run(coro)

    def close(self) -> None:
        self._runner.close()
