"""A run of sync calls sent to one thread executor as one job: one thread hop, not one per node."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import CoroutineType
from typing import Any

from ..graph.plan import Step
from .mistakes import returned_coroutine


class CallRun:
    """Calls a JOB step's calls in order on the executor's thread; returns their values.

    ``at`` is the index of the call running (or that raised), so errors name that node.
    """

    __slots__ = ("at", "branch", "calls", "given")

    def __init__(self, step: Step, given: Mapping[str, Any], branch: str) -> None:
        self.calls, self.given, self.branch, self.at = step.calls, given, branch, 0

    @property
    def node(self) -> str:
        return self.calls[self.at].node.name

    def __call__(self) -> list[Any]:
        values = dict(self.given)
        for at, call in enumerate(self.calls):
            self.at = at
            value = call.node.fn(**{p: values[k] for p, k in call.args})
            if type(value) is CoroutineType:
                raise returned_coroutine(call.node.name, value)
            values[call.key] = value
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
