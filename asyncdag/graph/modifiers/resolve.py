"""``@resolve``: decorators chosen from the configuration when the graph is built.

As in Hamilton, ``decorate_with`` is called with the config values named by its parameters
(those with defaults are optional) and returns a decorator, applied as the outermost one. It
needs power-user mode (``hamilton.enable_power_user_mode=True`` in the config). The function
itself is never changed: the decorator is applied to a copy and its metadata read back.
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Callable, Mapping
from typing import Any

from ...errors import GraphError
from ..node import origin_of
from .meta import _ATTR, POWER_USER_MODE, Modifiers, Resolve, modifiers_of


def _copy(fn: types.FunctionType, modifiers: Modifiers) -> types.FunctionType:
    clone = types.FunctionType(
        fn.__code__, fn.__globals__, fn.__name__, fn.__defaults__, fn.__closure__
    )
    clone.__qualname__, clone.__module__, clone.__doc__ = fn.__qualname__, fn.__module__, fn.__doc__
    clone.__kwdefaults__, clone.__annotations__ = fn.__kwdefaults__, dict(fn.__annotations__)
    fresh = dataclasses.replace(
        modifiers,
        conditions=list(modifiers.conditions),
        transforms=list(modifiers.transforms),
        decorations=list(modifiers.decorations),
        resolvers=[],
    )
    setattr(clone, _ATTR, fresh)
    return clone


def _decorator(fn: Callable[..., Any], spec: Resolve, config: Mapping[str, Any]) -> Any:
    if not config.get(POWER_USER_MODE, False):
        raise GraphError(
            f"@resolve on {origin_of(fn)} needs power-user mode: pass "
            f"{POWER_USER_MODE}=True in with_config(...), as Hamilton requires."
        )
    missing = [key for key in spec.required if key not in config]
    if missing:
        raise GraphError(
            f"@resolve on {origin_of(fn)}: decorate_with needs config item(s) "
            f"{', '.join(map(repr, missing))}, which the config does not have. Add them to "
            "with_config(...), or give the parameters defaults."
        )
    kwargs = {key: config[key] for key in spec.required}
    kwargs.update({key: config[key] for key in spec.optional if key in config})
    return spec.decorate_with(**kwargs)


def modifiers_for(fn: Callable[..., Any], config: Mapping[str, Any]) -> Modifiers:
    """The modifiers of ``fn`` with its ``@resolve`` decorators applied under ``config``.

    Raises:
        GraphError: power-user mode is off, a config item is missing, or ``decorate_with``
            does not return a decorator that fits the function.
    """
    modifiers = modifiers_of(fn)
    if not modifiers.resolvers or not isinstance(fn, types.FunctionType):
        return modifiers
    clone = _copy(fn, modifiers)
    for spec in modifiers.resolvers:
        decorator = _decorator(fn, spec, config)
        if not callable(decorator):
            raise GraphError(
                f"@resolve on {origin_of(fn)}: decorate_with returned {decorator!r}, which is not "
                "a decorator. Return one, such as parameterize_sources(...)."
            )
        try:
            decorator(clone)
        except (TypeError, ValueError) as exc:
            raise GraphError(
                f"@resolve on {origin_of(fn)}: the decorator from decorate_with does not fit the "
                f"function: {exc}"
            ) from exc
    return modifiers_of(clone)
