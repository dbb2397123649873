"""Shipped branches in chunks: consecutive items of a block sent as one list, answered as columns.

The fast way to a worker pool that takes chunks (``ProcessExecutor``): when nothing observes
the run and the block has no windows, the fan-out takes items from a sync generator a chunk
at a time (``islice``, no Python step per item), ships each chunk as one unit and writes the
answer back with one slice assignment per ``Collect``. Per chunk, not per item: one slot,
one unit, one pickle of a plain list. The first chunk is one item, so streaming starts at
once; chunks then grow with the executor's measured unit time, and shrink again when the
generator itself is slow, so a slow source never holds a ready item back.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import islice, repeat
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import ExecutorError
from ..graph.plan import Frame
from .paths import Path, format_path
from .remote import frame_parts
from .skips import BranchFailed
from .turns import let_others_run

if TYPE_CHECKING:
    from .fanout import Fan

# A chunk's answer: one list of values per name the block produces, in ``produces`` order,
# and the branches that failed under the skip policy, by position in the chunk.
Columns = tuple[list[list[Any]], dict[int, BranchFailed]]

PULL_TIME = 0.001  # a generator may hold the loop this long for one chunk
CHUNK_MOST = 8192  # the most items taken from a generator at once
GROWTH = 32  # a fast generator's chunk grows at most this much from one chunk to the next


@dataclass(frozen=True, slots=True)
class Shipment:
    """What every chunk of one block run has in common, apart from the parts a worker keeps:
    made once per block run, so it is pickled once per block run."""

    node: str  # the expander
    produces: tuple[str, ...]
    path: Path  # the enclosing branch path
    skip: bool = False  # @on_branch_error("skip"): a failed branch is in the answer's failures
    abandon_on_cancel: bool = False


@dataclass(frozen=True, slots=True)
class BranchChunk:
    """Branches of one block for consecutive items ``start``, ``start + 1``, ...

    Like ``BranchBatch``, but the items travel as one plain list, apart from the parts a
    worker keeps (the frame, the outer values) and from the block run's ``Shipment``, and
    the answer is ``Columns``.
    """

    of: Shipment
    frame: Frame
    outer: Mapping[str, Any]
    start: int  # the index of the first item
    items: list[Any]

    @property
    def node(self) -> str:
        return self.of.node

    @property
    def produces(self) -> tuple[str, ...]:
        return self.of.produces

    @property
    def path(self) -> Path:
        return self.of.path

    @property
    def skip(self) -> bool:
        return self.of.skip

    @property
    def abandon_on_cancel(self) -> bool:
        return self.of.abandon_on_cancel

    @property
    def branch(self) -> str:
        count = len(self.items)
        indexes = list(range(self.start, self.start + count))
        here = f"{self.node}[{self.start}]" if count == 1 else f"{self.node}{indexes}"
        return ".".join(filter(None, [format_path(self.path), here]))

    def where(self, position: int) -> Path:
        """The branch path of the item at ``position`` in the chunk."""
        return (*self.path, (self.node, self.start + position, self.items[position]))

    def __call__(self) -> Any:
        raise TypeError("a BranchChunk runs in a worker process (executors.worker)")

    def shared(self) -> tuple[object, ...]:
        return (self.frame, self.outer) if self.outer else (self.frame,)

    def parts(self) -> Iterable[tuple[str, str, Any]]:
        yield from frame_parts(self.frame, self.outer, self.node)
        for position, item in enumerate(self.items):
            yield self.node, f"item {self.start + position}", item

    def result_parts(self, result: Any) -> Iterable[tuple[str, str, Any]]:
        columns, _ = result
        for name, column in zip(self.produces, columns, strict=True):
            for position, value in enumerate(column):
                where = f"{self.node}[{self.start + position}]"
                yield name, f"the return value in branch {where}", value


class ChunkExecutor(Protocol):
    """A remote executor that runs ``BranchChunk`` units (``submit`` answers ``Columns``)."""

    max_tasks: int | None
    batch_size: int | None

    async def submit(self, unit: Any) -> Any: ...

    def auto_batch(self, frame: object) -> int: ...


def takes_chunks(executor: object) -> bool:
    return bool(getattr(executor, "takes_chunks", False))


async def pump_chunks(fan: Fan, items: Iterator[Any], executor: ChunkExecutor) -> int:
    """Fan ``items`` out in chunks; the number of branches once all are done."""
    run, name, path, lists = fan.run, fan.name, fan.path, fan.lists
    slots = asyncio.Semaphore(executor.max_tasks or 1)
    fixed = executor.batch_size
    clock = time.perf_counter
    take = 1  # how many items the generator gives within PULL_TIME (the first goes alone)
    slow = True  # the last pull was slow: hand the loop over so its chunk leaves at once
    deadline = 0.0
    index = 0
    async with asyncio.TaskGroup() as tg:
        while True:
            await slots.acquire()
            want = fixed or min(executor.auto_batch(fan.frame), take)
            chunk: list[Any] = []
            started = clock()
            try:
                chunk.extend(islice(items, want))  # a failure keeps the items before it
            except BaseException as exc:
                slots.release()
                error = run.caught(exc, name, path, producing=index + len(chunk))
                if error is exc:
                    raise
                raise error from exc
            now = clock()
            if chunk:
                for values in lists:
                    values.extend(repeat(None, len(chunk)))
                tg.create_task(_ship(fan, executor, index, chunk, slots))
                index += len(chunk)
            else:
                slots.release()
            if len(chunk) < want:
                break  # islice stops early only at the generator's end
            took = now - started
            slow = took > PULL_TIME
            if not fixed:
                if slow:
                    take = max(1, take // 2)
                elif took < PULL_TIME / 2:  # what fits in half of PULL_TIME
                    fits = int(take * PULL_TIME / 2 / took) if took > 0 else CHUNK_MOST
                    take = max(take, min(fits, GROWTH * take, CHUNK_MOST))
            if slow or now > deadline:
                await let_others_run()  # the chunk's task sends it now
                deadline = clock() + PULL_TIME
    if fan.filled != index:  # a chunk's task ended cancelled, not by us
        raise run.hole(name, path)
    if fan.failed:  # aligned Collects drop the same indexes
        failed = fan.failed
        for values_list in lists:
            values_list[:] = [v for i, v in enumerate(values_list) if i not in failed]
    return index


async def _ship(
    fan: Fan, executor: ChunkExecutor, start: int, items: list[Any], slots: asyncio.Semaphore
) -> None:
    """Run one chunk and write its columns into the block's ``Collect`` lists."""
    try:
        columns, failures = await _columns(fan, executor, start, items)
    finally:
        slots.release()
    stop = start + len(items)
    for values_list, at in zip(fan.lists, fan.picks, strict=True):
        values_list[start:stop] = columns[at]
    fan.filled += len(items) - len(failures)
    for position, failed in failures.items():
        where = (*fan.path, (fan.name, start + position, items[position]))
        await fan._skip(start + position, failed.node, where, failed.error)


async def _columns(fan: Fan, executor: ChunkExecutor, start: int, items: list[Any]) -> Columns:
    block = fan.step.block
    assert block is not None
    skip = fan.skips is not None
    if fan.shipment is None:
        fan.shipment = Shipment(fan.name, block.produces, fan.path, skip)
    unit = BranchChunk(fan.shipment, fan.frame, fan.outer, start, items)
    try:
        answer: Columns = await executor.submit(unit)
    except BaseException as exc:
        if skip and isinstance(exc, ExecutorError):  # a crash or a value that cannot travel
            if len(items) == 1:
                failed = BranchFailed(getattr(exc, "node", None) or fan.name, exc)
                return [[None] for _ in block.produces], {0: failed}
            return await _one_by_one(fan, executor, start, items)
        error = fan.run.arrived(exc, fan.name, unit.branch, fan.path)
        if error is exc:
            raise
        raise error from exc
    return answer


async def _one_by_one(fan: Fan, executor: ChunkExecutor, start: int, items: list[Any]) -> Columns:
    """A chunk that failed whole under the skip policy, sent again item by item."""
    block = fan.step.block
    assert block is not None
    columns: list[list[Any]] = [[] for _ in block.produces]
    failures: dict[int, BranchFailed] = {}
    for position, item in enumerate(items):
        one, failed = await _columns(fan, executor, start + position, [item])
        for column, value in zip(columns, one, strict=True):
            column.extend(value)
        if failed:
            failures[position] = failed[0]
    return columns, failures
