"""How a node's function is called cheapest: positionally, when that means the same."""

from __future__ import annotations

from collections.abc import Callable
from types import FunctionType
from typing import Any


def first_parameter(fn: Callable[..., Any]) -> str | None:
    """The name of a plain function's first parameter when it is positional or keyword, so
    that ``fn(value, **others)`` is ``fn(**{name: value}, **others)``; else None."""
    if type(fn) is not FunctionType:
        return None
    code = fn.__code__
    if code.co_argcount < 1 or code.co_posonlyargcount:
        return None
    name: str = code.co_varnames[0]
    return name


def takes_first(fn: Callable[..., Any], param: str) -> bool:
    """Whether ``fn(item)`` is ``fn(**{param: item})``: a plain function whose first
    parameter is ``param``, positional or keyword, and whose others all have defaults."""
    if first_parameter(fn) != param:
        return False
    code = fn.__code__
    defaults, keyword_defaults = fn.__defaults__ or (), fn.__kwdefaults__ or {}
    return len(defaults) >= code.co_argcount - 1 and len(keyword_defaults) == code.co_kwonlyargcount
