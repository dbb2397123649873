"""Sync calls sent to one thread executor as one job: one thread hop, not one per node.

A job checks between calls whether the task awaiting it is being cancelled, and then stops:
cancelling a run never waits for calls that have not started.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from types import CoroutineType
from typing import Any

from ..graph.plan import Step
from .mistakes import returned_coroutine


def _call(call: Step, values: dict[str, Any]) -> None:
    value = call.node.fn(**{p: values[k] for p, k in call.args})
    if type(value) is CoroutineType:
        raise returned_coroutine(call.node.name, value)
    values[call.key] = value


class CallRun:
    """A JOB step's calls, in order, on the executor's thread; returns their values.

    ``at`` is the index of the call running (or that raised), so errors name that node.
    """

    __slots__ = ("at", "branch", "calls", "given", "task")
    abandon_on_cancel = False

    def __init__(
        self, step: Step, given: Mapping[str, Any], branch: str, task: asyncio.Task[Any]
    ) -> None:
        self.calls, self.given, self.branch, self.task, self.at = step.calls, given, branch, task, 0

    @property
    def node(self) -> str:
        return self.calls[self.at].node.name

    def __call__(self) -> list[Any]:
        values = dict(self.given)
        cancelling = self.task.cancelling  # an int read: safe from this thread
        for at, call in enumerate(self.calls):
            if at and cancelling():
                raise asyncio.CancelledError  # the rest never starts
            self.at = at
            _call(call, values)
        return [values[call.key] for call in self.calls]

    def shared(self) -> tuple[object, ...]:
        return ()

    def parts(self) -> Iterable[tuple[str, str, Any]]:
        for call in self.calls:
            yield call.node.name, "the function", call.node.fn
        for name, value in self.given.items():
            yield self.calls[0].node.name, f"argument {name!r}", value

    def result_parts(self, result: Any) -> Iterable[tuple[str, str, Any]]:
        for call, value in zip(self.calls, result, strict=True):
            yield call.node.name, "the return value", value


class BranchRun:
    """Branches of one block for a few items, each a run of sync calls, in one thread job.

    Returns one row of produced values per item. ``at`` / ``call_at`` locate the branch and
    the call running (or that raised).
    """

    __slots__ = ("at", "call_at", "calls", "items", "name", "outer", "path", "produces", "task")
    abandon_on_cancel = False

    def __init__(
        self,
        name: str,
        calls: tuple[Step, ...],
        outer: Mapping[str, Any],
        items: Sequence[tuple[int, Any]],
        produces: tuple[str, ...],
        path: str,
        task: asyncio.Task[Any],
    ) -> None:
        self.name, self.calls, self.outer, self.items = name, calls, outer, items
        self.produces, self.path, self.task = produces, path, task
        self.at = self.call_at = 0

    @property
    def node(self) -> str:
        return self.calls[self.call_at].node.name

    @property
    def branch(self) -> str:
        here = f"{self.name}[{self.items[self.at][0]}]"
        return f"{self.path}.{here}" if self.path else here

    def __call__(self) -> list[tuple[Any, ...]]:
        rows = []
        name, calls, outer, produces = self.name, self.calls, self.outer, self.produces
        cancelling = self.task.cancelling  # an int read: safe from this thread
        for at, (_, item) in enumerate(self.items):
            if at and cancelling():
                raise asyncio.CancelledError  # the branches left never start
            self.at = at
            values = dict(outer)
            values[name] = item
            for call_at, call in enumerate(calls):
                self.call_at = call_at
                _call(call, values)
            rows.append(tuple(values[key] for key in produces))
        return rows

    def shared(self) -> tuple[object, ...]:
        return ()

    def parts(self) -> Iterable[tuple[str, str, Any]]:
        for call in self.calls:
            yield call.node.name, "the function", call.node.fn
        for key, value in self.outer.items():
            yield self.name, f"its value {key!r}", value
        for index, item in self.items:
            yield self.name, f"item {index}", item

    def result_parts(self, result: Any) -> Iterable[tuple[str, str, Any]]:
        for (index, _), row in zip(self.items, result, strict=True):
            for key, value in zip(self.produces, row, strict=True):
                yield key, f"the return value in branch {self.name}[{index}]", value
