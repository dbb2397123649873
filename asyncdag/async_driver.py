"""Hamilton's ``async_driver``: ``AsyncDriver`` and a ``Builder`` whose ``build`` is awaited.

Every asyncdag Driver is async already (``await dr.execute(...)``), so ``AsyncDriver`` is a
``Driver`` with Hamilton's constructor, and ``await async_driver.Builder()...build()`` gives
one. Unlike Hamilton's, it runs parallel blocks, materializers and caching too.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Iterable, Mapping
from types import ModuleType
from typing import Any, Self

from . import driver

__all__ = ["AsyncDriver", "Builder", "await_dict_of_tasks", "process_value"]


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

    _awaits_construction = True

    def _init_from(self, builder: driver.Builder) -> None:
        modules, arguments = builder._driver_arguments()
        driver.Driver.__init__(self, builder._config, *modules, **arguments)
        self.initialized = False

    async def ainit(self) -> Self:
        """Await the adapters' ``async def post_graph_construct`` hooks, once; return self.

        To start the executors' workers before the first request, use ``async with dr:``.
        """
        if not self.initialized:
            from .lifecycle._hamilton import LifecycleHooks

            for hook in self._observers:
                if isinstance(hook, LifecycleHooks):
                    await hook.constructed_async(self.graph, self.graph_modules, self.graph.config)
            self.initialized = True
        return self


async def await_dict_of_tasks(task_dict: Mapping[Any, Awaitable[Any]]) -> dict[Any, Any]:
    """The results of awaitables by key, awaited together (Hamilton's helper)."""
    keys = list(task_dict)
    values = await asyncio.gather(*(task_dict[k] for k in keys))
    return dict(zip(keys, values, strict=True))


async def process_value(val: Any) -> Any:
    """``val`` awaited when it is awaitable, else ``val`` itself (Hamilton's helper)."""
    return await val if inspect.isawaitable(val) else val


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
