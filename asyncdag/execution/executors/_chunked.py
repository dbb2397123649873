"""A worker's run of a ``BranchChunk``: the block's frame over a list of items, as columns.

A frame of plain sync calls runs in one tight loop: no task, no branch dict, no path per
item; only a counter in the shared marker moves before each call, so that a crash still
names the node and the branch that were running. A failure is noted exactly as the
scheduler notes it. Other frames run through ``run_branches`` (each node marked there).
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from itertools import islice
from types import CoroutineType
from typing import Any

from ...errors import BranchFailuresError
from ..calls import takes_first
from ..chunks import BranchChunk, Columns
from ..halt import Halt
from ..mistakes import returned_coroutine
from ..scheduler import Run, run_branches
from ..skips import HELD, BranchFailed, failure_of, with_traceback

Counter = ctypes.c_int64

_Call = tuple[str, Callable[..., Any], tuple[tuple[str, str], ...], str]  # node, fn, args, key


async def run_chunk(chunk: BranchChunk, at: Counter, run: Run) -> Columns:
    """The columns of ``chunk``; ``at`` counts the node calls started (minus one).

    ``run`` runs a frame that is not all sync calls (a ``Run`` that marks each node).
    """
    if chunk.frame.sync_only:
        return sync_columns(chunk, at, Run({}))
    indexes = range(chunk.start, chunk.start + len(chunk.items))
    pairs = tuple(zip(indexes, chunk.items, strict=True))
    rows = await run_branches(
        chunk.frame, chunk.node, chunk.outer, pairs, chunk.produces, chunk.path, chunk.skip, run
    )
    columns: list[list[Any]] = [[] for _ in chunk.produces]
    failures: dict[int, BranchFailed] = {}
    for position, row in enumerate(rows):
        if type(row) is BranchFailed:
            failures[position] = row
            row = (None,) * len(columns)
        for column, value in zip(columns, row, strict=True):
            column.append(value)
    return columns, failures


def sync_columns(chunk: BranchChunk, at: Counter, run: Run) -> Columns:
    """Run a frame of plain sync calls over the chunk's items in one loop."""
    calls: list[_Call] = [(s.node.name, s.node.fn, s.args, s.key) for s in chunk.frame.steps]
    columns: list[list[Any]] = [[] for _ in chunk.produces]
    failures: dict[int, BranchFailed] = {}
    count, position = len(calls), 0
    while position < len(chunk.items):
        try:
            _loop(chunk, calls, columns, at, position)
            break
        except BaseException as exc:
            position, step = divmod(at.value, max(count, 1))
            failures[position] = _failed(chunk, run, calls[step][0], position, exc)
            for column in columns:
                column.append(None)
            position += 1
    return columns, failures


def _loop(
    chunk: BranchChunk, calls: list[_Call], columns: list[list[Any]], at: Counter, position: int
) -> None:
    name, produces = chunk.node, chunk.produces
    count = len(calls)
    started = position * count
    items = islice(chunk.items, position, None)
    if count == 1 and produces == (calls[0][3],) and [k for _, k in calls[0][2]] == [name]:
        node, fn, ((param, _),), _ = calls[0]  # one node of the item alone: the common case
        append = columns[0].append
        if takes_first(fn, param):
            for item in items:
                at.value = started
                started += 1
                value = fn(item)
                if type(value) is CoroutineType:
                    raise returned_coroutine(node, value)
                append(value)
            return
        for item in items:
            at.value = started
            started += 1
            value = fn(**{param: item})
            if type(value) is CoroutineType:
                raise returned_coroutine(node, value)
            append(value)
        return
    values = dict(chunk.outer)
    appends = [column.append for column in columns]
    for item in items:
        values[name] = item
        for node, fn, args, key in calls:
            at.value = started
            started += 1
            value = fn(**{p: values[k] for p, k in args})
            if type(value) is CoroutineType:
                raise returned_coroutine(node, value)
            values[key] = value
        for append, key in zip(appends, produces, strict=True):
            append(values[key])


def _failed(
    chunk: BranchChunk, run: Run, node: str, position: int, exc: BaseException
) -> BranchFailed:
    """``exc`` noted as the scheduler notes it; under the skip policy, the branch's failure
    (else it is raised: the chunk fails as a whole)."""
    where = chunk.where(position)
    if not chunk.skip or not isinstance(exc, Exception):
        error = run.caught(exc, node, where)
        if error is exc or isinstance(error, Halt):  # Halt: the node's SystemExit
            raise exc
        raise error from exc
    held: list[tuple[str, BaseException]] = []
    token = HELD.set(held)
    try:
        error = run.caught(exc, node, where)
    finally:
        HELD.reset(token)
    failing, error = failure_of(held, chunk.node, error)
    if isinstance(error, BranchFailuresError):
        raise error
    return BranchFailed(failing, with_traceback(error))
