"""Metadata that function modifiers record on a function, read by the graph builder."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

_ATTR = "__asyncdag_modifiers__"


@dataclass
class Modifiers:
    """What the decorators recorded on one function."""

    conditions: list[Condition] = field(default_factory=list)
    tags: dict[str, Any] = field(default_factory=dict)


_CHECKS: dict[str, Callable[[Any, Any], bool]] = {
    "when": lambda actual, want: actual == want,
    "when_not": lambda actual, want: actual != want,
    "when_in": lambda actual, want: actual in want,
    "when_not_in": lambda actual, want: actual not in want,
}


@dataclass(frozen=True)
class Condition:
    """One ``@config.*`` predicate over the configuration."""

    kind: str  # a key of _CHECKS
    expected: Mapping[str, Any]

    def holds(self, cfg: Mapping[str, Any]) -> bool:
        check = _CHECKS[self.kind]
        return all(check(cfg.get(key), want) for key, want in self.expected.items())

    def describe(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.expected.items())
        return f"@config.{self.kind}({args})"


def modifiers_of(fn: Callable[..., Any]) -> Modifiers:
    """The modifiers recorded on ``fn`` (empty when it has none)."""
    found = getattr(fn, _ATTR, None)
    return found if isinstance(found, Modifiers) else Modifiers()


def record(fn: Callable[..., Any]) -> Modifiers:
    """The modifiers of ``fn``, created on first use so decorators can add to them."""
    found = getattr(fn, _ATTR, None)
    if not isinstance(found, Modifiers):
        found = Modifiers()
        setattr(fn, _ATTR, found)
    return found
