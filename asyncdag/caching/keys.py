"""Cache keys: a node call's name, code version and its inputs' data versions."""

from __future__ import annotations

from collections.abc import Mapping

from .fingerprint import digest

Where = tuple[tuple[str, int], ...]  # a branch path without its items


def version_seen(versions: dict[tuple[str, Where], str], name: str, where: Where) -> str | None:
    """The version of ``name`` in this branch or an enclosing one (an outer value)."""
    for depth in range(len(where), -1, -1):
        version = versions.get((name, where[:depth]))
        if version is not None:
            return version
    return None


def cache_key(node_name: str, code: str, dependencies: Mapping[str, str]) -> str:
    """``name-code-inputs``: the same node, code and input data versions, the same key."""
    inputs = digest(*(f"{k}={v}".encode() for k, v in sorted(dependencies.items())))
    return f"{node_name}-{code}-{inputs}"
