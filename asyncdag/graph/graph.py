"""The validated DAG: nodes, external inputs, and queries over them."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from ..errors import UnknownNodeError
from .analysis import Analysis, analyse
from .crawl import crawl
from .node import Node
from .types import check_edge_types


@dataclass(frozen=True)
class FunctionGraph:
    """Nodes by name plus the names they read that no function defines (inputs)."""

    nodes: Mapping[str, Node]
    config: Mapping[str, Any]
    inputs: Mapping[str, tuple[str, ...]]  # input name -> nodes reading it
    dependents: Mapping[str, tuple[str, ...]]
    analysis: Analysis

    @classmethod
    def from_modules(
        cls, modules: Iterable[ModuleType], config: Mapping[str, Any]
    ) -> FunctionGraph:
        """Crawl and validate; every graph fault raises ``GraphError`` here."""
        return cls.from_nodes(crawl(modules, config), config)

    @classmethod
    def from_nodes(cls, nodes: Mapping[str, Node], config: Mapping[str, Any]) -> FunctionGraph:
        """Validate nodes already made (``Driver.materialize`` adds some to a built graph)."""
        analysis = analyse(nodes)
        check_edge_types(nodes)
        inputs: dict[str, list[str]] = {}
        dependents: dict[str, list[str]] = {name: [] for name in nodes}
        for node in nodes.values():
            for p in node.params:
                target = dependents.get(p.name)
                if target is None:
                    target = inputs.setdefault(p.name, [])
                target.append(node.name)
        return cls(
            nodes=nodes,
            config=dict(config),
            inputs={k: tuple(v) for k, v in inputs.items()},
            dependents={k: tuple(v) for k, v in dependents.items()},
            analysis=analysis,
        )

    def check_known(self, names: Iterable[str]) -> None:
        """Raise ``UnknownNodeError`` for the first name that is neither a node nor an input."""
        for name in names:
            if name not in self.nodes and name not in self.inputs:
                raise UnknownNodeError(name, [*self.nodes, *self.inputs])

    def upstream(self, names: Iterable[str]) -> set[str]:
        """``names`` and every node or input they depend on."""
        return self._walk(names, self._dependencies)

    def downstream(self, names: Iterable[str]) -> set[str]:
        """``names`` and every node that depends on them."""
        return self._walk(names, self._consumers)

    def _dependencies(self, name: str) -> Iterable[str]:
        node = self.nodes.get(name)
        return [p.name for p in node.params] if node is not None else ()

    def _consumers(self, name: str) -> Iterable[str]:
        return self.dependents.get(name) or self.inputs.get(name, ())

    def _walk(self, names: Iterable[str], step: Callable[[str], Iterable[str]]) -> set[str]:
        names = list(names)
        self.check_known(names)
        seen = set(names)
        stack = list(names)
        while stack:
            for nxt in step(stack.pop()):
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
        return seen
