"""``@load_from.<format>``, ``@save_to.<format>``, ``@dataloader()``, ``@datasaver()``.

Exported by ``asyncdag.function_modifiers``. They only record metadata on the function;
``asyncdag.graph.modifiers.io_nodes`` makes the nodes at build time. Arguments may be plain values,
``value(...)`` or ``source("node_or_input")``, as in Hamilton.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

from ..graph.modifiers.io_nodes import LoadFrom, SaveTo, record_io
from ._formats import FORMATS, unknown_format

_F = TypeVar("_F", bound=Callable[..., Any])


def _loader(fmt: str, inject: str | None, given: dict[str, Any]) -> Callable[[_F], _F]:
    what = f"@load_from.{fmt}"
    if inject is not None and not isinstance(inject, str):
        raise TypeError(f"{what}: inject_ must be a parameter name, not {inject!r}")
    spec = LoadFrom(FORMATS[fmt], FORMATS[fmt].arguments(what, True, given), inject)

    def decorate(fn: _F) -> _F:
        record_io(fn).loads.append(spec)
        return fn

    return decorate


def _saver(
    fmt: str, output_name: str | None, target: str | None, given: dict[str, Any]
) -> Callable[[_F], _F]:
    what = f"@save_to.{fmt}"
    spec = SaveTo(FORMATS[fmt], FORMATS[fmt].arguments(what, False, given), output_name, target)

    def decorate(fn: _F) -> _F:
        record_io(fn).saves.append(spec)
        return fn

    return decorate


class _LoadFromFormats:
    """``@load_from.json(path=source("p"))`` on ``def raw(data: dict)`` loads ``data`` from a file.

    With several parameters, ``inject_="name"`` picks the one to load into. The loader node
    ``raw.load_data.data`` returns ``(data, metadata)``; ``raw.select_data.data`` the data.
    """

    def json(self, *, path: Any, inject_: str | None = None) -> Callable[[_F], _F]:
        """Load a ``dict`` or ``list`` from a JSON file."""
        return _loader("json", inject_, {"path": path})

    def pickle(self, *, path: Any, inject_: str | None = None) -> Callable[[_F], _F]:
        """Load any value from a pickle file."""
        return _loader("pickle", inject_, {"path": path})

    def csv(self, *, path: Any, inject_: str | None = None, **options: Any) -> Callable[[_F], _F]:
        """Load a pandas ``DataFrame`` with ``pandas.read_csv(path, **options)``."""
        return _loader("csv", inject_, {"path": path, **options})

    def parquet(
        self, *, path: Any, inject_: str | None = None, **options: Any
    ) -> Callable[[_F], _F]:
        """Load a pandas ``DataFrame`` with ``pandas.read_parquet(path, **options)``."""
        return _loader("parquet", inject_, {"path": path, **options})

    def __getattr__(self, name: str) -> NoReturn:
        raise unknown_format("load_from", name)


class _SaveToFormats:
    """``@save_to.json(path=..., output_name_="saved")`` adds a node saving the function's value.

    The node (``output_name_``, default ``save.<node>``) returns the metadata dict; it runs
    only when requested. ``target_="node"`` saves another node the function makes.
    """

    def json(
        self, *, path: Any, output_name_: str | None = None, target_: str | None = None
    ) -> Callable[[_F], _F]:
        """Save a ``dict`` or ``list`` as a JSON file."""
        return _saver("json", output_name_, target_, {"path": path})

    def pickle(
        self, *, path: Any, output_name_: str | None = None, target_: str | None = None
    ) -> Callable[[_F], _F]:
        """Save any value as a pickle file."""
        return _saver("pickle", output_name_, target_, {"path": path})

    def csv(
        self,
        *,
        path: Any,
        output_name_: str | None = None,
        target_: str | None = None,
        **options: Any,
    ) -> Callable[[_F], _F]:
        """Save a pandas ``DataFrame`` with ``to_csv(path, index=False, **options)``."""
        return _saver("csv", output_name_, target_, {"path": path, **options})

    def parquet(
        self,
        *,
        path: Any,
        output_name_: str | None = None,
        target_: str | None = None,
        **options: Any,
    ) -> Callable[[_F], _F]:
        """Save a pandas ``DataFrame`` with ``to_parquet(path, **options)``."""
        return _saver("parquet", output_name_, target_, {"path": path, **options})

    def __getattr__(self, name: str) -> NoReturn:
        raise unknown_format("save_to", name)


load_from = _LoadFromFormats()
save_to = _SaveToFormats()


class _Creator:
    _kind = ""

    def __init__(self, *args: Any) -> None:
        if args:
            raise TypeError(f"write @{self._kind}() with parentheses, as in Hamilton")

    def __call__(self, fn: _F) -> _F:
        record_io(fn).creator = self._kind
        return fn


class dataloader(_Creator):
    """``@dataloader()`` on ``def data(...) -> tuple[T, dict]``: a function loading data itself.

    It makes node ``data.loader`` (the ``(data, metadata)`` tuple) and ``data`` (the data), so
    downstream functions read the data only, as in Hamilton.
    """

    _kind = "dataloader"


class datasaver(_Creator):
    """``@datasaver()`` on ``def save(df: ...) -> dict``: a function that saves data itself.

    It returns metadata about what it saved; the node is tagged as a saver, as in Hamilton.
    """

    _kind = "datasaver"
