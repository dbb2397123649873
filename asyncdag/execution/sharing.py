"""The loop's side of a block's thread branches: jobs that take them from a shared queue.

A job (one task, one thread slot) submits ``SharedRun`` units while items wait; it ends
once the queue is empty, and the pump starts a new one for the next item while fewer than
the executor's ``max_tasks`` run. Queued items always have a job: the count and the check
are made on the loop, between the pump's additions.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from .jobs import Shared, SharedRun
from .paths import format_path

if TYPE_CHECKING:
    from .fanout import Fan

QUEUE_LEAST = 64  # the generator waits once this many items (or 4 per thread) are queued


def thread_queue(fan: Fan, max_tasks: int) -> Shared:
    """The queue of ``fan``'s threaded block: at most its executor's ``max_tasks`` jobs
    (else ``max_tasks``) take from it."""
    only = fan.frame.steps[0]
    jobs = fan.run.executors[only.executor or ""].max_tasks or max_tasks
    return Shared(jobs, max(QUEUE_LEAST, 4 * jobs))


async def share_job(fan: Fan, queue: Shared) -> None:
    """Run ``fan``'s queued branches on one thread of its executor until none wait."""
    only = fan.frame.steps[0]
    calls = only.calls or (only,)
    executor = fan.run.executors[only.executor or ""]
    task = asyncio.current_task()
    assert task is not None
    path = format_path(fan.path)
    try:
        while True:
            unit = SharedRun(fan.name, calls, fan.outer, fan.produces, path, queue, task)
            try:
                rows = await executor.submit(unit)
            except BaseException as exc:
                queue.stop = True  # the other jobs take no more
                where = fan.path if unit.current is None else (*fan.path, (fan.name, *unit.current))
                error = fan.run.caught(exc, unit.node, where)
                if error is exc:
                    raise
                raise error from exc
            lists = fan.lists
            for index, row in rows:
                for values_list, value in zip(lists, row, strict=True):
                    values_list[index] = value
            fan.filled += len(rows)
            if not queue.items or queue.stop:
                return
    finally:
        queue.jobs -= 1
        queue.wake()
