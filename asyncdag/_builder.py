"""``Builder``: collects modules, config, executors and adapters, then builds a ``Driver``."""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping
from types import ModuleType
from typing import Any, Literal, Self

from ._driver import Driver, ResultBuilder, Rewriter
from ._hamilton_driver import BuilderIdioms, InputCheck
from ._overrides import later_modules_win
from .caching.adapter import CacheAdapter
from .execution.executors import Executor
from .execution.grouping import _GroupingStrategy
from .execution.observe import Observer
from .graph.plan import LOCAL, REMOTE
from .io.materialization import Extractor, Materializer
from .lifecycle.graceful import GracefulErrorAdapter

__all__ = ["Builder"]


class Builder(BuilderIdioms):
    """Collects modules, config, executors and adapters, then ``build()``s a ``Driver``."""

    def __init__(self) -> None:
        self._modules: list[ModuleType] = []
        self._config: dict[str, Any] = {}
        self._executors: dict[str, Executor] = {}
        self._result_builder: ResultBuilder | None = None
        self._observers: list[Observer] = []
        self._adapter_set = False
        self._grouping: _GroupingStrategy | None = None
        self._module_overrides = False
        self._cache: dict[str, Any] | CacheAdapter | None = None
        self._rewriters: list[Rewriter] = []
        self._materializers: list[Materializer | Extractor] = []
        self._input_check: InputCheck | None = None

    def with_modules(self, *modules: ModuleType) -> Self:
        """Add modules whose public functions become nodes."""
        self._modules.extend(modules)
        return self

    def with_config(self, config: Mapping[str, Any]) -> Self:
        """Add configuration: it picks ``@config.when`` alternatives and serves as inputs."""
        self._config.update(config)
        return self

    def enable_dynamic_execution(self, *, allow_experimental_mode: bool = False) -> Self:
        """Accepted for Hamilton compatibility; parallel blocks always work in asyncdag."""
        return self

    def with_local_executor(self, executor: Executor) -> Self:
        """Where sync nodes outside parallel blocks run (default: ``InlineExecutor``)."""
        self._executors[LOCAL] = executor
        return self

    def with_remote_executor(self, executor: Executor) -> Self:
        """Where sync nodes inside parallel blocks run; its ``max_tasks`` bounds branches."""
        self._executors[REMOTE] = executor
        return self

    def with_executor(self, name: str, executor: Executor) -> Self:
        """Name an executor; nodes tagged ``@tag(executor=name)`` run on it."""
        if name in (LOCAL, REMOTE):
            raise ValueError(f"{name!r} is reserved; use with_{name}_executor(...)")
        self._executors[name] = executor
        return self

    def with_adapters(self, *adapters: Any) -> Self:
        """Add adapters: lifecycle hooks, progress bars and tracers watch every run; one with
        ``build_result(**outputs)`` shapes what ``execute`` returns."""
        from .lifecycle import _hamilton
        from .lifecycle._adapt import as_observer, is_hook

        for adapter in adapters:
            known = False
            if isinstance(adapter, GracefulErrorAdapter):
                self._rewriters.append(adapter)
                continue
            if isinstance(adapter, CacheAdapter):
                self._set_cache(adapter)
                continue
            if _hamilton.is_lifecycle_adapter(adapter):  # Hamilton's lifecycle.base classes
                _hamilton.check_supported(adapter)
                if callable(getattr(adapter, "do_build_result", None)):
                    self._result_builder = _hamilton.BuildResultMethod(adapter)
                if callable(getattr(adapter, "do_validate_input", None)):
                    self._input_check = _hamilton.input_check(adapter)
                if _hamilton.runs_nodes(adapter):
                    self._rewriters.append(_hamilton.NodeExecuteMethod(adapter))
                self._observers.append(_hamilton.LifecycleHooks(adapter))
                continue
            if callable(getattr(adapter, "build_result", None)):
                self._result_builder, known = adapter, True
            if isinstance(adapter, Observer) or is_hook(adapter):
                self._observers.append(as_observer(adapter))
                known = True
            if not known:
                raise TypeError(
                    f"{adapter!r} is not an adapter asyncdag knows: pass a lifecycle hook "
                    "(asyncdag.lifecycle.NodeExecutionHook, GraphExecutionHook), a ProgressBar, "
                    "a tracer, or a result builder with a build_result(**outputs) method."
                )
        return self

    def with_adapter(self, adapter: ResultBuilder) -> Self:
        """Hamilton's single (legacy) adapter: here, the result builder, e.g. ``DefaultAdapter``.

        Raises:
            ValueError: an adapter was already set this way (as in Hamilton).
            TypeError: ``adapter`` has no ``build_result(**outputs)``.
        """
        if self._adapter_set:
            raise ValueError("Cannot set adapter twice: call with_adapter(...) once.")
        if not callable(getattr(adapter, "build_result", None)):
            raise TypeError(
                f"{adapter!r} is not a result builder: with_adapter needs an object with a "
                "build_result(**outputs) method, such as base.DefaultAdapter()."
            )
        self._adapter_set = True
        self._result_builder = adapter
        return self

    def with_grouping_strategy(self, grouping_strategy: _GroupingStrategy) -> Self:
        """Accepted for Hamilton compatibility and changes nothing: a branch is always one unit.

        Raises:
            ValueError: a strategy was already set (as in Hamilton).
            TypeError: not one of ``asyncdag.execution.grouping``'s strategies.
        """
        if self._grouping is not None:
            raise ValueError("Cannot set grouping strategy twice.")
        if not isinstance(grouping_strategy, _GroupingStrategy):
            raise TypeError(
                f"{grouping_strategy!r} is not a grouping strategy: pass one of "
                "asyncdag.execution.grouping's, such as GroupByRepeatableBlocks()."
            )
        self._grouping = grouping_strategy
        return self

    def with_cache(
        self,
        path: str | os.PathLike[str] = ".asyncdag_cache",
        recompute: Collection[str] | Literal[True] | None = None,
        disable: Collection[str] | Literal[True] | None = None,
        ignore: Collection[str] | Literal[True] | None = None,
        default_behavior: str | None = None,
    ) -> Self:
        """Reuse a node's stored result while its code and its inputs' data are unchanged.

        As Hamilton's: results and metadata live under ``path`` (SQLite, and files for big
        results), shared by every Driver and process using that path. ``recompute``,
        ``disable`` and ``ignore`` name nodes (or ``True`` for all) with that behavior;
        ``default_behavior`` is the behavior of the others (``"default"``); ``@cache(...)``
        sets it per function. ``dr.cache`` tells what each run read from the cache.
        """
        self._set_cache(
            {
                "path": os.fspath(path),
                "recompute": recompute,
                "disable": disable,
                "ignore": ignore,
                "default_behavior": default_behavior,
            }
        )
        return self

    def _set_cache(self, cache: dict[str, Any] | CacheAdapter) -> None:
        if self._cache is not None:
            raise ValueError(
                "Cache already set: call with_cache(...) or pass a HamiltonCacheAdapter to "
                "with_adapters(...) once, as in Hamilton."
            )
        self._cache = cache

    def allow_module_overrides(self) -> Self:
        """A function of a later module replaces an earlier module's function of the same node.

        As in Hamilton, the order of ``with_modules`` decides; without this call two modules
        defining one node is a ``GraphError``. Within one module it stays an error.
        """
        self._module_overrides = True
        return self

    def copy(self) -> Builder:
        """A new Builder with this one's settings; changing either leaves the other as it was.

        The executors and adapters themselves are shared, as in Hamilton.
        """
        new = Builder()
        new.__dict__.update(self.__dict__)
        new._modules = list(self._modules)
        new._config = dict(self._config)
        new._executors = dict(self._executors)
        new._observers = list(self._observers)
        new._rewriters = list(self._rewriters)
        new._materializers = list(self._materializers)
        return new

    def build(self) -> Driver:
        """Crawl, validate and return the ``Driver``.

        Raises:
            GraphError: the functions do not form a valid DAG.
        """
        modules, arguments = self._driver_arguments()
        return Driver(self._config, *modules, **arguments)

    def _driver_arguments(self) -> tuple[list[ModuleType], dict[str, Any]]:
        """The modules and keyword arguments of the ``Driver`` that ``build()`` makes."""
        modules = self._modules
        if self._module_overrides:
            modules = later_modules_win(modules, self._config)
        return modules, dict(
            adapter=self._result_builder,
            executors=self._executors,
            observers=self._observers,
            cache=self._cache if not isinstance(self._cache, dict) else CacheAdapter(**self._cache),
            rewriters=self._rewriters,
            materializers=self._materializers,
            input_check=self._input_check,
        )
