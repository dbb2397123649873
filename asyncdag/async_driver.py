"""Hamilton's ``async_driver``: ``AsyncDriver`` and a ``Builder`` whose ``build`` is awaited.

Every asyncdag Driver is async already (``await dr.execute(...)``), so ``AsyncDriver`` is a
``Driver`` with Hamilton's constructor, and ``await async_driver.Builder()...build()`` gives
one. Unlike Hamilton's, it runs parallel blocks, materializers and caching too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import ModuleType
from typing import Any, Self

from . import driver

__all__ = ["AsyncDriver", "Builder"]


class AsyncDriver(driver.Driver):
    """A Driver built from ``config`` and ``modules``, with Hamilton's keyword arguments.

    ``adapters`` are what ``Builder.with_adapters`` takes (hooks, a result builder);
    ``result_builder`` shapes what ``execute`` returns (a dict by default).
    """

    def __init__(
        self,
        config: Mapping[str, Any],
        *modules: ModuleType,
        result_builder: Any = None,
        adapters: Iterable[Any] | None = None,
        allow_module_overrides: bool = False,
    ) -> None:
        builder = driver.Builder().with_config(config).with_modules(*modules)
        builder.with_adapters(*(adapters or ()))
        if result_builder is not None:
            builder.with_adapters(result_builder)
        if allow_module_overrides:
            builder.allow_module_overrides()
        self._init_from(builder)

    def _init_from(self, builder: driver.Builder) -> None:
        modules, arguments = builder._driver_arguments()
        driver.Driver.__init__(self, builder._config, *modules, **arguments)

    async def ainit(self) -> Self:
        """Hamilton's async initialisation; this Driver is ready once built, so it returns it.

        To start the executors' workers before the first request, use ``async with dr:``.
        """
        return self


class Builder(driver.Builder):
    """``driver.Builder`` whose ``build()`` is awaited and gives an ``AsyncDriver``."""

    def build_without_init(self) -> AsyncDriver:
        """The ``AsyncDriver``, built without awaiting anything."""
        made = AsyncDriver.__new__(AsyncDriver)
        made._init_from(self)
        return made

    async def build(self) -> AsyncDriver:  # type: ignore[override]
        """The ``AsyncDriver`` (Hamilton's ``build`` is a coroutine)."""
        return await self.build_without_init().ainit()
