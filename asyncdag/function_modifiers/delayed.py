"""Hamilton's ``function_modifiers.delayed``: ``@resolve``, a decorator chosen from the config."""

from __future__ import annotations

import enum
import inspect
from collections.abc import Callable
from typing import Any

from ..errors import GraphError
from ..graph.modifiers.meta import (
    Resolve,
    record,
)
from .base import _F

__all__ = ["ResolveAt", "resolve", "resolve_from_config"]


class ResolveAt(enum.Enum):
    """When ``@resolve`` picks its decorator: only at build time, once the config is known."""

    CONFIG_AVAILABLE = "config_available"


def _config_params(fn: Callable[..., Any]) -> tuple[tuple[str, ...], dict[str, Any]]:
    required: list[str] = []
    optional: dict[str, Any] = {}
    for name, p in inspect.signature(fn).parameters.items():
        if p.kind not in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
            raise GraphError(
                "@resolve decorate_with can only take keyword-friendly parameters, one per "
                f"config item; got signature {inspect.signature(fn)}"
            )
        if p.default is p.empty:
            required.append(name)
        else:
            optional[name] = p.default
    return tuple(required), optional


def resolve(*, when: ResolveAt, decorate_with: Callable[..., Any]) -> Callable[[_F], _F]:
    """Choose a decorator from the config at build time (Hamilton's power-user feature).

    ``decorate_with`` gets the config items named by its parameters and returns the decorator;
    it needs ``hamilton.enable_power_user_mode=True`` in the config.
    """
    if when != ResolveAt.CONFIG_AVAILABLE:
        raise ValueError("Dynamic functions must be configured at config time!")
    if not callable(decorate_with):
        raise TypeError(f"@resolve decorate_with must be a function, not {decorate_with!r}")
    required, optional = _config_params(decorate_with)
    spec = Resolve(decorate_with, required, optional)

    def decorate(fn: _F) -> _F:
        record(fn).resolvers.append(spec)
        return fn

    return decorate


def resolve_from_config(*, decorate_with: Callable[..., Any]) -> Callable[[_F], _F]:
    """``@resolve(when=ResolveAt.CONFIG_AVAILABLE, decorate_with=...)``."""
    return resolve(when=ResolveAt.CONFIG_AVAILABLE, decorate_with=decorate_with)
