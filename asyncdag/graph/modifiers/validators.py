"""``@check_output``'s nodes: ``<node>_raw``, one ``<node>_<validator>`` per check, ``<node>``.

As in Hamilton, each validator is a node of its own returning its ``ValidationResult``
(tagged ``hamilton.data_quality.contains_dq_results`` and ``...source_node``); the node keeps
its name and reads the raw value and every result, logs the ``"warn"`` failures and raises
``DataValidationError`` for the ``"fail"`` ones, then returns the raw value. A repeated
validator name gets ``_1``, ``_2``...
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from ..node import Node, Param
from . import checks
from .wrap import named_like

IS_DATA_VALIDATOR_TAG = "hamilton.data_quality.contains_dq_results"
DATA_VALIDATOR_ORIGINAL_OUTPUT_TAG = "hamilton.data_quality.source_node"


def _validator_fn(check: checks.Check, raw: str, like: Callable[..., Any]) -> Callable[..., Any]:
    wrapper: Callable[..., Any]
    if check.is_async:

        async def validate_async(**kwargs: Any) -> Any:
            result: Awaitable[Any] = check.validate(kwargs[raw])
            return await result

        wrapper = validate_async
    else:

        def validate(**kwargs: Any) -> Any:
            return check.validate(kwargs[raw])

        wrapper = validate
    named_like(wrapper, like)
    return wrapper


def _final_fn(
    node: str, raw: str, found: tuple[tuple[str, checks.Check], ...], like: Callable[..., Any]
) -> Callable[..., Any]:
    def act_on_results(**kwargs: Any) -> Any:
        checks.act(node, [(check, kwargs[name]) for name, check in found])
        return kwargs[raw]

    named_like(act_on_results, like)
    act_on_results.__doc__ = like.__doc__
    return act_on_results


def validated(node: Node, found: list[checks.Check], like: Callable[..., Any]) -> list[Node]:
    """The validator nodes, ``node`` acting on their results, and ``<node>_raw``."""
    raw = dataclasses.replace(node, name=f"{node.name}_raw")
    counts: Counter[str] = Counter()
    validator_nodes: list[Node] = []
    for check in found:
        name = f"{node.name}_{check.name}"
        counts[name] += 1
        if counts[name] > 1:
            name = f"{name}_{counts[name] - 1}"
        tags = {
            **node.tags,
            IS_DATA_VALIDATOR_TAG: True,
            DATA_VALIDATOR_ORIGINAL_OUTPUT_TAG: node.name,
        }
        validator_nodes.append(
            Node(
                name,
                _validator_fn(check, raw.name, like),
                (Param(raw.name, node.returns, False, False),),
                checks.ValidationResult,
                check.is_async,
                False,
                tags,
                node.policy,
            )
        )
    pairs = tuple((v.name, check) for v, check in zip(validator_nodes, found, strict=True))
    reads = (
        Param(raw.name, node.returns, False, False),
        *(Param(v.name, checks.ValidationResult, False, False) for v in validator_nodes),
    )
    final = Node(
        node.name,
        _final_fn(node.name, raw.name, pairs, like),
        reads,
        node.returns,
        False,
        False,
        dict(node.tags),
        node.policy,
    )
    return [*validator_nodes, final, raw]
