"""The nodes ``Driver.materialize`` adds to a built graph for ``to.*`` savers and ``from_.*``.

As in Hamilton: a saver is a node named by its ``id`` (reading ``<id>_build_result`` when it
has ``combine=``), and a loader provides its target through ``load_data.<target>``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ...errors import GraphError
from ..node import Node, Param
from .io_nodes import LoadFrom, SaveTo, loader_nodes, saver_node
from .wrap import named_like


def _joiner(combine: Any, dependencies: tuple[str, ...]) -> Callable[..., Any]:
    def build_result(**kwargs: Any) -> Any:
        return combine.build_result(**{d: kwargs[d] for d in dependencies})

    return build_result


def _type_of(name: str, nodes: Mapping[str, Node], input_types: Mapping[str, Any]) -> Any:
    node = nodes.get(name)
    return node.item_type if node is not None else input_types.get(name, Any)


def materialized(
    nodes: Mapping[str, Node],
    saves: Sequence[tuple[str, Sequence[str], SaveTo, Any]],
    loads: Sequence[tuple[str, LoadFrom]],
    like: Callable[..., Any],
    input_types: Mapping[str, Any],
) -> dict[str, Node]:
    """``nodes`` plus ad-hoc savers ``(id, dependencies, spec, combine)`` and loaders.

    Savers may save inputs too (``input_types`` gives their annotations), as in Hamilton.

    A loader ``(target, spec)`` provides ``target`` (replacing its node, if any) from a file,
    as Hamilton's ``from_``; a saver with ``combine`` (a result builder) saves
    ``combine.build_result(**dependencies)`` from a node named ``<id>_build_result``.

    Raises:
        GraphError: a saver with several dependencies has no ``combine``, an id or a target
            is taken twice, or a format does not fit its node's type.
    """
    out = dict(nodes)
    for id_, dependencies, spec, combine in saves:
        for name in (id_, f"{id_}_build_result"):
            if name in out:
                raise GraphError(
                    f"materializer id {id_!r} needs node name {name!r}, which the graph "
                    "already has (a function, or another materializer). Choose another id.",
                    node=name,
                )
        if combine is None:
            if len(dependencies) != 1:
                raise GraphError(
                    f"materializer {id_!r} saves {len(dependencies)} nodes "
                    f"({', '.join(dependencies)}); pass combine=<a result builder> (such as "
                    "asyncdag.base.DictResult()) to join them, or give one dependency.",
                    node=id_,
                )
            (data,) = dependencies
            data_type = _type_of(data, out, input_types)
        else:
            data = f"{id_}_build_result"
            output_type = getattr(combine, "output_type", None)
            data_type = output_type() if callable(output_type) else Any
            deps = tuple(dependencies)
            out[data] = Node(
                name=data,
                fn=named_like(_joiner(combine, deps), like, data),
                params=tuple(Param(d, _type_of(d, out, input_types), False, False) for d in deps),
                returns=data_type,
                is_async=False,
                expands=False,
            )
        out[id_] = saver_node(data, data_type, spec, id_, like)
    for target, load in loads:
        load_type = _type_of(target, out, input_types)
        loader, selector = loader_nodes(target, load_type, load, None, like)
        if loader.name in out:
            raise GraphError(f"two from_ loaders provide {target!r}; give one.", node=target)
        out[loader.name] = loader
        out[selector.name] = selector
    return out
