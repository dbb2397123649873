"""Hamilton's ``node``: a read-only view of one node of a built graph.

Hamilton's lifecycle hooks receive a ``Node`` (``node_``) and its tests build one with
``Node.from_fn``; here it wraps asyncdag's own node with Hamilton's attribute names. The graph
itself is immutable: a ``Node`` changes nothing in the Driver it came from.
"""

from __future__ import annotations

import enum
import inspect
from collections.abc import Callable
from typing import Any

from .graph import node as _node

__all__ = ["DependencyType", "Node", "NodeType"]


class NodeType(enum.Enum):
    """Where a node's value comes from (Hamilton's names)."""

    STANDARD = 1
    EXTERNAL = 2
    PRIOR_RUN = 3
    EXPAND = 4
    COLLECT = 5


class DependencyType(enum.Enum):
    """Whether a node needs a dependency (no default) or can do without it (a default)."""

    REQUIRED = 1
    OPTIONAL = 2

    @staticmethod
    def from_parameter(param: inspect.Parameter) -> DependencyType:
        """``OPTIONAL`` when ``param`` has a default, else ``REQUIRED``."""
        if param.default is inspect.Parameter.empty:
            return DependencyType.REQUIRED
        return DependencyType.OPTIONAL


class Node:
    """One node: its name, type, tags, documentation and inputs, and the function it calls.

    An input of the graph is a ``Node`` too (``user_defined``, Hamilton's ``EXTERNAL`` role):
    it has a name, a type and the functions that read it, and nothing to call.
    """

    __slots__ = ("_input", "_node")

    def __init__(
        self,
        node: _node.Node | None,
        external: tuple[str, Any, tuple[Callable[..., Any], ...]] | None = None,
    ) -> None:
        if (node is None) == (external is None):
            raise TypeError("give a graph node, or external=(name, type, readers) for an input")
        self._node = node
        self._input = external

    @classmethod
    def from_fn(cls, fn: Callable[..., Any], name: str | None = None) -> Node:
        """The node ``fn`` makes, named ``name`` (default: the function's name).

        Raises:
            ValueError: ``fn`` has no return annotation (as in Hamilton).
        """
        if "return" not in getattr(fn, "__annotations__", {}):
            raise ValueError(f"Missing type hint for return value in function {fn.__qualname__}.")
        return cls(_node.Node.from_fn(name or fn.__name__, fn, {}))

    @property
    def name(self) -> str:
        return self._node.name if self._node is not None else self._external[0]

    @property
    def type(self) -> Any:
        """The return annotation (``Parallelizable[T]`` for a fan-out node); an input's type."""
        return self._node.returns if self._node is not None else self._external[1]

    @property
    def tags(self) -> dict[str, Any]:
        """The node's tags, with ``module`` (the defining module) as in Hamilton."""
        if self._node is None:
            return {}
        return {"module": self._node.fn.__module__, **self._node.tags}

    @property
    def documentation(self) -> str:
        return (self._node.fn.__doc__ or "") if self._node is not None else ""

    @property
    def input_types(self) -> dict[str, tuple[Any, DependencyType]]:
        """Per parameter: its annotation and whether it is required."""
        if self._node is None:
            return {}
        return {
            p.name: (
                p.annotation,
                DependencyType.OPTIONAL if p.optional else DependencyType.REQUIRED,
            )
            for p in self._node.params
        }

    @property
    def default_parameter_values(self) -> dict[str, Any]:
        """The defaults of the optional parameters."""
        if self._node is None:
            return {}
        params = inspect.signature(self._node.fn).parameters.values()
        return {p.name: p.default for p in params if p.default is not p.empty}

    def requires(self, dependency: str) -> bool:
        """Whether ``dependency`` is a parameter without a default."""
        kind = self.input_types.get(dependency)
        return kind is not None and kind[1] is DependencyType.REQUIRED

    @property
    def callable(self) -> Callable[..., Any] | None:
        """The function the node calls with its inputs as keyword arguments (None: an input)."""
        return self._node.fn if self._node is not None else None

    @property
    def originating_functions(self) -> tuple[Callable[..., Any], ...]:
        """The function that made the node; for an input, the functions reading it."""
        return (self._node.fn,) if self._node is not None else self._external[2]

    @property
    def user_defined(self) -> bool:
        """True for an input of the graph, whose value the caller gives."""
        return self._node is None

    @property
    def node_role(self) -> NodeType:
        if self._node is None:
            return NodeType.EXTERNAL
        if self._node.expands:
            return NodeType.EXPAND
        if any(p.collect for p in self._node.params):
            return NodeType.COLLECT
        return NodeType.STANDARD

    @property
    def _external(self) -> tuple[str, Any, tuple[Callable[..., Any], ...]]:
        assert self._input is not None
        return self._input

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._node is None:
            raise TypeError(f"{self.name!r} is an input of the graph: it has no function to call")
        return self._node.fn(*args, **kwargs)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Node) and (other._node, other._input) == (self._node, self._input)

    def __hash__(self) -> int:
        return hash(self.name)

    def __repr__(self) -> str:
        return f"<{self.name} {self.tags}>"
