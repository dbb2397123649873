"""Hamilton's ``lifecycle.base``: one base class per lifecycle step, passed to ``with_adapters``.

Subclass the steps you need and implement their method (keyword arguments as in Hamilton):

- hooks: ``pre_do_anything()``, ``post_graph_construct(graph, modules, config)`` (when the
  Driver is built, and for each ``materialize``), ``pre_graph_execute(run_id, graph,
  final_vars, inputs, overrides)``, ``pre_node_execute(run_id, node_, kwargs, task_id)``,
  ``post_node_execute(run_id, node_, kwargs, success, error, result, task_id)``,
  ``post_graph_execute(run_id, graph, success, error, results)``; the ``...Async`` classes
  take ``async def`` methods (``BasePostGraphConstructAsync`` is awaited by
  ``AsyncDriver.ainit()``, which ``await async_driver.Builder()...build()`` calls).
  ``node_`` is an ``asyncdag.node.Node``; ``task_id`` names the branch (``"url[3]"``),
  ``None`` outside parallel blocks.
- methods: ``do_build_result(outputs)`` returns what ``execute`` returns.
- validators: ``validate_node(created_node)`` and ``validate_graph(graph, modules, config)``
  return ``(ok, message)``; any failure makes ``build()`` raise ``ValidationException``.

- ``do_validate_input(node_type, input_value)`` decides whether each input value fits the
  annotation reading it (instead of Hamilton's rules); ``False`` is an ``InputTypeError``.
- ``do_node_execute(run_id, node_, kwargs, task_id)`` and ``do_remote_execute(node,
  execute_lifecycle_for_node, **kwargs)`` make each node's call (the hooks still run around
  it); in a worker process ``run_id`` and ``task_id`` are None.

Steps about Hamilton's task objects (``BasePreTaskExecute`` and the other ``...Task...``
classes) and the edge type check (``BaseDoCheckEdgeTypesMatch``) exist so such adapters
import, and ``with_adapters`` refuses them with a ``TypeError`` saying what to use instead.
"""

from __future__ import annotations

import abc
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = [
    "BaseDoBuildResult",
    "BaseDoCheckEdgeTypesMatch",
    "BaseDoNodeExecute",
    "BaseDoRemoteExecute",
    "BaseDoValidateInput",
    "BasePostGraphConstruct",
    "BasePostGraphConstructAsync",
    "BasePostGraphExecute",
    "BasePostGraphExecuteAsync",
    "BasePostNodeExecute",
    "BasePostNodeExecuteAsync",
    "BasePostTaskExecute",
    "BasePostTaskExpand",
    "BasePostTaskGroup",
    "BasePostTaskReturn",
    "BasePreDoAnythingHook",
    "BasePreGraphExecute",
    "BasePreGraphExecuteAsync",
    "BasePreNodeExecute",
    "BasePreNodeExecuteAsync",
    "BasePreTaskExecute",
    "BasePreTaskSubmission",
    "BaseValidateGraph",
    "BaseValidateNode",
    "LifecycleAdapterSet",
    "ValidationException",
]

_C = TypeVar("_C", bound=type)
_STEP = "_asyncdag_lifecycle_step"  # (kind, method name) on each base class

UNSUPPORTED = {
    "do_check_edge_types_match": "asyncdag checks edges with Hamilton's rules at build(); "
    "make the annotations agree (or use Any)",
    "post_task_group": "asyncdag has no task objects; use pre_node_execute/post_node_execute "
    "(task_id names the branch)",
    "post_task_expand": "asyncdag has no task objects; a stream()'s 'branch' events report "
    "each branch",
    "pre_task_submission": "asyncdag has no task objects; use pre_node_execute",
    "pre_task_execute": "asyncdag has no task objects; use pre_node_execute",
    "post_task_execute": "asyncdag has no task objects; use post_node_execute",
    "post_task_return": "asyncdag has no task objects; use post_node_execute",
}


class ValidationException(Exception):
    """A ``validate_node``/``validate_graph`` adapter rejected the graph; raised by ``build()``."""


def _step(kind: str, name: str) -> Callable[[_C], _C]:
    def mark(cls: _C) -> _C:
        setattr(cls, _STEP, (kind, name))
        return cls

    return mark


def steps_of(adapter: object) -> dict[str, str]:
    """The lifecycle steps ``adapter`` implements: method name -> "hook", "method", "validator"."""
    found: dict[str, str] = {}
    for klass in type(adapter).__mro__:
        mark = klass.__dict__.get(_STEP)
        if mark is not None:
            found.setdefault(mark[1], mark[0])
    return found


class LifecycleAdapterSet:
    """Adapters grouped by the steps they implement, as Hamilton's ``LifecycleAdapterSet``."""

    def __init__(self, *adapters: object) -> None:
        self._adapters = list(adapters)
        self.sync_hooks: dict[str, list[object]] = {}
        self.async_hooks: dict[str, list[object]] = {}
        self.sync_methods: dict[str, list[object]] = {}
        self.async_methods: dict[str, list[object]] = {}
        self.sync_validators: dict[str, list[object]] = {}
        for adapter in adapters:
            for name, kind in steps_of(adapter).items():
                is_async = inspect.iscoroutinefunction(getattr(adapter, name))
                table = {
                    ("hook", False): self.sync_hooks,
                    ("hook", True): self.async_hooks,
                    ("method", False): self.sync_methods,
                    ("method", True): self.async_methods,
                }.get((kind, is_async), self.sync_validators)
                table.setdefault(name, []).append(adapter)

    @property
    def adapters(self) -> list[object]:
        return list(self._adapters)

    def does_hook(self, hook_name: str, is_async: bool | None = None) -> bool:
        """Whether an adapter implements hook ``hook_name`` (sync, async, or either)."""
        return self._does(hook_name, is_async, self.sync_hooks, self.async_hooks)

    def does_method(self, method_name: str, is_async: bool | None = None) -> bool:
        """Whether an adapter implements method ``method_name``."""
        return self._does(method_name, is_async, self.sync_methods, self.async_methods)

    def does_validation(self, validator_name: str) -> bool:
        return validator_name in self.sync_validators

    def call_all_lifecycle_hooks_sync(self, hook_name: str, **kwargs: Any) -> None:
        """Call every sync adapter's ``hook_name(**kwargs)``."""
        for adapter in self.sync_hooks.get(hook_name, []):
            getattr(adapter, hook_name)(**kwargs)

    def call_lifecycle_method_sync(self, method_name: str, **kwargs: Any) -> Any:
        """The result of the one sync adapter implementing ``method_name``."""
        adapters = self.sync_methods.get(method_name, [])
        if len(adapters) != 1:
            raise ValueError(f"{len(adapters)} adapters implement {method_name}; give exactly 1")
        return getattr(adapters[0], method_name)(**kwargs)

    @staticmethod
    def _does(
        name: str, is_async: bool | None, sync: dict[str, Any], async_: dict[str, Any]
    ) -> bool:
        if is_async is None:
            return name in sync or name in async_
        return name in (async_ if is_async else sync)


@_step("hook", "pre_do_anything")
class BasePreDoAnythingHook(abc.ABC):
    @abc.abstractmethod
    def pre_do_anything(self) -> None:
        """First of all, when the Driver is built."""


@_step("method", "do_check_edge_types_match")
class BaseDoCheckEdgeTypesMatch(abc.ABC):
    @abc.abstractmethod
    def do_check_edge_types_match(self, *, type_from: type, type_to: type) -> bool:
        """Refused by ``with_adapters``: asyncdag applies Hamilton's edge rules."""


@_step("method", "do_validate_input")
class BaseDoValidateInput(abc.ABC):
    @abc.abstractmethod
    def do_validate_input(self, *, node_type: type, input_value: Any) -> bool:
        """Whether ``input_value`` may feed a parameter annotated ``node_type``."""


@_step("validator", "validate_node")
class BaseValidateNode(abc.ABC):
    @abc.abstractmethod
    def validate_node(self, *, created_node: Any) -> tuple[bool, Any]:
        """``(ok, message)`` for each node and input of the built graph."""


@_step("validator", "validate_graph")
class BaseValidateGraph(abc.ABC):
    @abc.abstractmethod
    def validate_graph(
        self, *, graph: Any, modules: list[Any], config: dict[str, Any]
    ) -> tuple[bool, Any]:
        """``(ok, message)`` for the built graph."""


@_step("hook", "post_graph_construct")
class BasePostGraphConstruct(abc.ABC):
    @abc.abstractmethod
    def post_graph_construct(
        self, *, graph: Any, modules: list[Any], config: dict[str, Any]
    ) -> None:
        """After the graph is built (and after ``materialize`` adds its nodes)."""


@_step("hook", "post_graph_construct")
class BasePostGraphConstructAsync(abc.ABC):
    @abc.abstractmethod
    async def post_graph_construct(
        self, *, graph: Any, modules: list[Any], config: dict[str, Any]
    ) -> None:
        """Awaited by ``AsyncDriver.ainit()`` (``await async_driver.Builder()...build()``)."""


@_step("hook", "pre_graph_execute")
class BasePreGraphExecute(abc.ABC):
    @abc.abstractmethod
    def pre_graph_execute(
        self,
        *,
        run_id: str,
        graph: Any,
        final_vars: list[str],
        inputs: dict[str, Any],
        overrides: dict[str, Any],
    ) -> None:
        """Before anything of an ``execute`` runs."""


@_step("hook", "pre_graph_execute")
class BasePreGraphExecuteAsync(abc.ABC):
    @abc.abstractmethod
    async def pre_graph_execute(
        self,
        *,
        run_id: str,
        graph: Any,
        final_vars: list[str],
        inputs: dict[str, Any],
        overrides: dict[str, Any],
    ) -> None:
        """Before anything of an ``execute`` runs (awaited on the loop)."""


@_step("hook", "post_task_group")
class BasePostTaskGroup(abc.ABC):
    @abc.abstractmethod
    def post_task_group(self, *, run_id: str, task_ids: list[str]) -> None:
        """Refused by ``with_adapters``: asyncdag has no task objects."""


@_step("hook", "post_task_expand")
class BasePostTaskExpand(abc.ABC):
    @abc.abstractmethod
    def post_task_expand(self, *, run_id: str, task_id: str, parameters: dict[str, Any]) -> None:
        """Refused by ``with_adapters``: asyncdag has no task objects."""


@_step("hook", "pre_task_submission")
class BasePreTaskSubmission(abc.ABC):
    @abc.abstractmethod
    def pre_task_submission(self, **kwargs: Any) -> None:
        """Refused by ``with_adapters``: asyncdag has no task objects."""


@_step("hook", "pre_task_execute")
class BasePreTaskExecute(abc.ABC):
    @abc.abstractmethod
    def pre_task_execute(self, **kwargs: Any) -> None:
        """Refused by ``with_adapters``: asyncdag has no task objects."""


@_step("hook", "pre_node_execute")
class BasePreNodeExecute(abc.ABC):
    @abc.abstractmethod
    def pre_node_execute(
        self, *, run_id: str, node_: Any, kwargs: dict[str, Any], task_id: str | None = None
    ) -> None:
        """Before ``node_`` is called with ``kwargs`` (once per branch inside a block)."""


@_step("hook", "pre_node_execute")
class BasePreNodeExecuteAsync(abc.ABC):
    @abc.abstractmethod
    async def pre_node_execute(
        self, *, run_id: str, node_: Any, kwargs: dict[str, Any], task_id: str | None = None
    ) -> None:
        """Before ``node_`` is called (awaited on the loop)."""


@_step("method", "do_node_execute")
class BaseDoNodeExecute(abc.ABC):
    @abc.abstractmethod
    def do_node_execute(
        self, *, run_id: str, node_: Any, kwargs: dict[str, Any], task_id: str | None = None
    ) -> Any:
        """The node's result: typically ``node_(**kwargs)``, changed as the adapter likes."""


@_step("method", "do_remote_execute")
class BaseDoRemoteExecute(abc.ABC):
    @abc.abstractmethod
    def do_remote_execute(
        self, *, node: Any, execute_lifecycle_for_node: Callable[..., Any], **kwargs: Any
    ) -> Any:
        """The node's result: typically ``execute_lifecycle_for_node(**kwargs)``."""


@_step("hook", "post_node_execute")
class BasePostNodeExecute(abc.ABC):
    @abc.abstractmethod
    def post_node_execute(
        self,
        *,
        run_id: str,
        node_: Any,
        kwargs: dict[str, Any],
        success: bool,
        error: BaseException | None,
        result: Any,
        task_id: str | None = None,
    ) -> None:
        """After ``node_`` returned ``result`` (``success``) or raised ``error``."""


@_step("hook", "post_node_execute")
class BasePostNodeExecuteAsync(abc.ABC):
    @abc.abstractmethod
    async def post_node_execute(
        self,
        *,
        run_id: str,
        node_: Any,
        kwargs: dict[str, Any],
        success: bool,
        error: BaseException | None,
        result: Any,
        task_id: str | None = None,
    ) -> None:
        """After ``node_`` ran (awaited on the loop)."""


@_step("hook", "post_task_execute")
class BasePostTaskExecute(abc.ABC):
    @abc.abstractmethod
    def post_task_execute(self, **kwargs: Any) -> None:
        """Refused by ``with_adapters``: asyncdag has no task objects."""


@_step("hook", "post_task_return")
class BasePostTaskReturn(abc.ABC):
    @abc.abstractmethod
    def post_task_return(self, **kwargs: Any) -> None:
        """Refused by ``with_adapters``: asyncdag has no task objects."""


@_step("hook", "post_graph_execute")
class BasePostGraphExecute(abc.ABC):
    @abc.abstractmethod
    def post_graph_execute(
        self,
        *,
        run_id: str,
        graph: Any,
        success: bool,
        error: BaseException | None,
        results: dict[str, Any] | None,
    ) -> None:
        """After an ``execute``, with its ``results`` or the ``error`` it raises."""


@_step("hook", "post_graph_execute")
class BasePostGraphExecuteAsync(abc.ABC):
    @abc.abstractmethod
    async def post_graph_execute(
        self,
        *,
        run_id: str,
        graph: Any,
        success: bool,
        error: BaseException | None,
        results: dict[str, Any] | None,
    ) -> None:
        """After an ``execute`` (awaited on the loop)."""


@_step("method", "do_build_result")
class BaseDoBuildResult(abc.ABC):
    @abc.abstractmethod
    def do_build_result(self, *, outputs: Any) -> Any:
        """What ``execute`` returns, from the dict of requested ``outputs``."""
