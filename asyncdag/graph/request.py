"""What ``execute`` checks of one planned request before anything runs.

Worked out once per plan (the plan fixes which nodes run and which names come from ``inputs``,
the config or ``overrides``), so each execute only tests its input values.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import InputTypeError
from .graph import FunctionGraph
from .node import Node
from .plan import Frame, Plan
from .types import ValueCheck, value_check


@dataclass(frozen=True, slots=True)
class InputRule:
    """One input as read by one annotation, and the nodes reading it so."""

    name: str
    annotation: Any
    check: ValueCheck
    readers: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RequestChecks:
    """The checks of one plan: input rules by where the value comes from, and tagged nodes."""

    inputs: tuple[InputRule, ...]  # values passed in ``inputs=``: tested on every execute
    config: tuple[InputRule, ...]  # values from the config: fixed, so tested once
    tagged: tuple[Node, ...]  # nodes that run and carry ``@tag(executor=...)``


def request_checks(
    graph: FunctionGraph, plan: Plan, inputs: Collection[str], overrides: Collection[str]
) -> RequestChecks:
    """The checks of ``plan``, planned for input names ``inputs`` and override names ``overrides``.

    Only nodes that run count: overridden nodes, and inputs only they read, are not checked;
    overrides are not type-checked, as in Hamilton.
    """
    rules: dict[str, list[tuple[Any, ValueCheck, list[str]]]] = {}
    tagged: list[Node] = []
    for node in _running(plan.root):
        if node.tags.get("executor") is not None:
            tagged.append(node)
        for p in node.params:
            if p.collect or p.name in graph.nodes or p.name in overrides:
                continue
            if p.name not in inputs and p.name not in graph.config:
                continue  # an optional input, not given
            check = value_check(p.annotation)
            if check is None:
                continue
            entries = rules.setdefault(p.name, [])
            for annotation, _, readers in entries:
                if annotation == p.annotation:
                    readers.append(node.name)
                    break
            else:
                entries.append((p.annotation, check, [node.name]))
    from_inputs: list[InputRule] = []
    from_config: list[InputRule] = []
    for name, entries in sorted(rules.items()):
        target = from_inputs if name in inputs else from_config
        target.extend(InputRule(name, a, c, tuple(r)) for a, c, r in entries)
    return RequestChecks(tuple(from_inputs), tuple(from_config), tuple(tagged))


def check_inputs(rules: tuple[InputRule, ...], values: Mapping[str, Any]) -> None:
    """Raise ``InputTypeError`` for the first value (by input name) its annotation rejects.

    ``None`` passes every annotation, as in Hamilton.
    """
    for rule in rules:
        value = values[rule.name]
        if value is not None and not rule.check(value):
            raise InputTypeError(rule.name, type(value), rule.annotation, rule.readers)


def _running(frame: Frame) -> Iterator[Node]:
    """The nodes a frame calls, through its blocks (an overridden expander is not called)."""
    for step in frame.steps:
        if step.block is None:
            yield step.node
            continue
        if not step.block.given:
            yield step.node
        yield from _running(step.block.frame)
