"""Loader and saver nodes: ``@load_from``, ``@save_to``, ``@dataloader``, ``@datasaver``.

Pure graph work: the nodes built here call a format's ``load``/``save`` only when they run.
Names and tags follow Hamilton: ``@load_from.json`` on ``fn(data)`` adds ``fn.load_data.data``
(returns ``(data, metadata)``) and ``fn.select_data.data`` (the data), and ``fn`` reads the
latter; ``@save_to.json`` adds ``output_name_`` (default ``save.<node>``) returning the metadata
dict; ``@dataloader`` makes ``fn.loader`` (the tuple) and ``fn`` (its first item).
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from ...errors import GraphError
from ..node import Node, Param, origin_of
from ..types import describe
from .meta import Dependency, LiteralDependency, UpstreamDependency
from .wrap import named_like, rebind

_ATTR = "__asyncdag_io__"
Metadata = dict[str, Any]


class IoFormat(Protocol):
    """A file format: what it reads and writes, and how (``asyncdag.io`` implements these)."""

    @property
    def name(self) -> str: ...

    @property
    def kinds(self) -> str:
        """The types it handles, for messages (``"dict or list"``)."""
        ...

    def loads_into(self, annotation: Any) -> bool: ...

    def saves_from(self, annotation: Any) -> bool: ...

    def load(self, **arguments: Any) -> tuple[Any, Metadata]: ...

    def save(self, data: Any, **arguments: Any) -> Metadata: ...


@dataclass(frozen=True)
class LoadFrom:
    """``@load_from.<format>(inject_=..., path=...)``."""

    fmt: IoFormat
    arguments: Mapping[str, Dependency]
    inject: str | None


@dataclass(frozen=True)
class SaveTo:
    """``@save_to.<format>(output_name_=..., target_=..., path=...)``."""

    fmt: IoFormat
    arguments: Mapping[str, Dependency]
    output_name: str | None
    target: str | None


@dataclass
class IoModifiers:
    """The I/O decorators recorded on one function, innermost first."""

    loads: list[LoadFrom] = field(default_factory=list)
    saves: list[SaveTo] = field(default_factory=list)
    creator: str | None = None  # "dataloader" or "datasaver"


def record_io(fn: Callable[..., Any]) -> IoModifiers:
    """The I/O modifiers of ``fn``, created on first use so decorators can add to them."""
    found = getattr(fn, _ATTR, None)
    if not isinstance(found, IoModifiers):
        found = IoModifiers()
        setattr(fn, _ATTR, found)
    return found


def _io_of(fn: Callable[..., Any]) -> IoModifiers | None:
    found = getattr(fn, _ATTR, None)
    return found if isinstance(found, IoModifiers) else None


def _split(arguments: Mapping[str, Dependency]) -> tuple[dict[str, str], dict[str, Any]]:
    """Argument -> source node, and argument -> fixed value."""
    sources = {k: d.source for k, d in arguments.items() if isinstance(d, UpstreamDependency)}
    values = {k: d.value for k, d in arguments.items() if isinstance(d, LiteralDependency)}
    return sources, values


def _source_params(sources: Mapping[str, str]) -> tuple[Param, ...]:
    # ``path`` is required; other options read from a node may be left out (their default).
    return tuple(Param(src, Any, arg != "path", False) for arg, src in sources.items())


def _caller(
    sources: Mapping[str, str], values: Mapping[str, Any]
) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
    def arguments(kwargs: Mapping[str, Any]) -> dict[str, Any]:
        given = {arg: kwargs[src] for arg, src in sources.items() if src in kwargs}
        return {**values, **given}

    return arguments


def _loader_tags(source: str, classname: str, node: str, has_metadata: bool) -> dict[str, Any]:
    return {
        "hamilton.data_loader": True,
        "hamilton.data_loader.has_metadata": has_metadata,
        "hamilton.data_loader.source": source,
        "hamilton.data_loader.classname": classname,
        "hamilton.data_loader.node": node,
    }


def loader_nodes(
    target: str,
    load_type: Any,
    spec: LoadFrom,
    namespace: str | None,
    like: Callable[..., Any],
) -> tuple[Node, Node]:
    """The node loading ``(data, metadata)`` and the node selecting the data, for ``target``.

    Raises:
        GraphError: the format cannot load the type ``target`` is annotated with.
    """
    fmt = spec.fmt
    if not fmt.loads_into(load_type):
        raise GraphError(
            f"{origin_of(like)}: {fmt.name} loads {fmt.kinds}, but {target!r} is annotated "
            f"{describe(load_type)}. Change the annotation, or pick another format."
        )
    prefix = f"{namespace}." if namespace else ""
    loader_name = f"{prefix}load_data.{target}"
    filter_name = f"{prefix}select_data.{target}" if namespace else target
    sources, values = _split(spec.arguments)
    arguments = _caller(sources, values)

    def load_data(**kwargs: Any) -> tuple[Any, Metadata]:
        given = arguments(kwargs)
        try:
            return fmt.load(**given)
        except Exception as exc:
            exc.add_note(
                f"asyncdag: node {loader_name!r} could not load {target!r} as {fmt.name} from "
                f"{given.get('path')!r}"
            )
            raise

    def select_data(**kwargs: Any) -> Any:
        return kwargs[loader_name][0]

    classname = f"{type(fmt).__qualname__}({fmt.name})"
    loaded = tuple[load_type, dict[str, Any]]
    loader = Node(
        name=loader_name,
        fn=named_like(load_data, like, loader_name),
        params=_source_params(sources),
        returns=loaded,
        is_async=False,
        expands=False,
        tags=_loader_tags(fmt.name, classname, target, True),
    )
    selector = Node(
        name=filter_name,
        fn=named_like(select_data, like, filter_name),
        params=(Param(loader_name, loaded, False, False),),
        returns=load_type,
        is_async=False,
        expands=False,
        tags=_loader_tags(fmt.name, classname, target, False),
    )
    return loader, selector


def saver_node(
    data: str, data_type: Any, spec: SaveTo, name: str, like: Callable[..., Any]
) -> Node:
    """A node that saves node ``data`` and returns the format's metadata dict.

    Raises:
        GraphError: the format cannot save values of ``data_type``.
    """
    fmt = spec.fmt
    if not fmt.saves_from(data_type):
        raise GraphError(
            f"{origin_of(like)}: {fmt.name} saves {fmt.kinds}, but node {data!r} returns "
            f"{describe(data_type)}. Save another node, or pick another format."
        )
    sources, values = _split(spec.arguments)
    arguments = _caller(sources, values)

    def save_data(**kwargs: Any) -> Metadata:
        given = arguments(kwargs)
        try:
            return fmt.save(kwargs[data], **given)
        except Exception as exc:
            exc.add_note(
                f"asyncdag: node {name!r} could not save {data!r} as {fmt.name} to "
                f"{given.get('path')!r}"
            )
            raise

    params = {p.name: p for p in _source_params(sources)}
    params[data] = Param(data, data_type, False, False)
    return Node(
        name=name,
        fn=named_like(save_data, like, name),
        params=tuple(params.values()),
        returns=dict[str, Any],
        is_async=False,
        expands=False,
        tags={
            "hamilton.data_saver": True,
            "hamilton.data_saver.sink": fmt.name,
            "hamilton.data_saver.classname": f"{type(fmt).__qualname__}({fmt.name})",
        },
    )


# -- the stages of a function's resolution (called by ``expand.resolve``) ---------------------


def create(name: str, fn: Callable[..., Any]) -> list[Node] | None:
    """``@dataloader``/``@datasaver`` nodes of ``fn``, or None when it has neither."""
    io = _io_of(fn)
    if io is None or io.creator is None:
        return None
    node = Node.from_fn(name, fn, {})
    if io.creator == "datasaver":
        if (typing.get_origin(node.returns) or node.returns) is not dict:
            raise GraphError(
                f"@datasaver on {origin_of(fn)}: the function must be annotated to return dict "
                f"(its metadata), not {describe(node.returns)}."
            )
        tags = {
            "hamilton.data_saver": True,
            "hamilton.data_saver.sink": name,
            "hamilton.data_saver.classname": f"{fn.__name__}()",
        }
        return [dataclasses.replace(node, tags=tags)]
    args = typing.get_args(node.returns)
    origin = typing.get_origin(node.returns)
    metadata = args[1] if len(args) == 2 else None
    if (
        origin is not tuple
        or metadata is None
        or (typing.get_origin(metadata) or metadata) is not dict
        or typing.get_args(metadata)[:1] not in ((), (str,))
    ):
        raise GraphError(
            f"@dataloader on {origin_of(fn)}: the function must be annotated to return "
            f"tuple[<data type>, dict] (the data and its metadata), not {describe(node.returns)}."
        )
    loader_name = f"{name}.loader"

    def select_data(**kwargs: Any) -> Any:
        return kwargs[loader_name][0]

    loader = dataclasses.replace(
        node,
        name=loader_name,
        tags=_loader_tags("loader", f"{fn.__name__}()", name, True),
    )
    selector = Node(
        name=name,
        fn=named_like(select_data, fn, name),
        params=(Param(loader_name, node.returns, False, False),),
        returns=args[0],
        is_async=False,
        expands=False,
        tags=_loader_tags(name, f"{fn.__name__}()", name, False),
    )
    return [loader, selector]


def inject(nodes: list[Node], fn: Callable[..., Any]) -> list[Node]:
    """``@load_from``: loader nodes feed the parameter they inject, in every node reading it.

    Raises:
        GraphError: ``inject_`` names no parameter, or several could be meant, or the format
            cannot load the parameter's type.
    """
    io = _io_of(fn)
    for spec in io.loads if io is not None else ():
        produced = {n.name for n in nodes}
        injectable: dict[str, Any] = {}
        for n in nodes:
            for p in n.params:
                if p.name not in produced:
                    injectable.setdefault(p.name, p.annotation)
        if spec.inject is None:
            if len(injectable) != 1:
                raise GraphError(
                    f"@load_from.{spec.fmt.name} on {origin_of(fn)}: the function reads "
                    f"{len(injectable)} parameters ({', '.join(injectable) or 'none'}); name "
                    "the one to load into with inject_=..."
                )
            (target,) = injectable
        elif spec.inject in injectable:
            target = spec.inject
        else:
            raise GraphError(
                f"@load_from.{spec.fmt.name}(inject_={spec.inject!r}) on {origin_of(fn)}: the "
                f"function has no such parameter to load into (it reads "
                f"{', '.join(injectable) or 'none'})."
            )
        loader, selector = loader_nodes(target, injectable[target], spec, fn.__name__, fn)
        rebound = [
            rebind(n, n.name, fn, {target: selector.name}, {}, n.fn.__doc__)
            if any(p.name == target for p in n.params)
            else n
            for n in nodes
        ]
        nodes = [*rebound, loader, selector]
    return nodes


def save(nodes: list[Node], fn: Callable[..., Any], internal: frozenset[str]) -> list[Node]:
    """``@save_to``: a saver node per decorator, reading ``target_`` or the one final node.

    Raises:
        GraphError: no ``target_`` and the function makes several final nodes, or ``target_``
            names none of its nodes, or the format cannot save the node's type.
    """
    io = _io_of(fn)
    for spec in io.saves if io is not None else ():
        if spec.target is not None:
            chosen = [n for n in nodes if n.name == spec.target]
            if not chosen:
                raise GraphError(
                    f"@save_to.{spec.fmt.name}(target_={spec.target!r}) on {origin_of(fn)}: the "
                    f"function makes only {', '.join(repr(n.name) for n in nodes)}."
                )
        else:
            read = {p.name for n in nodes for p in n.params} | internal
            chosen = [n for n in nodes if n.name not in read]
            if len(chosen) != 1:
                raise GraphError(
                    f"@save_to.{spec.fmt.name} on {origin_of(fn)} needs one node to save, but the "
                    f"function makes {len(chosen)} final nodes "
                    f"({', '.join(n.name for n in chosen)}). Name one with target_=..."
                )
        (data,) = chosen
        name = spec.output_name or f"save.{data.name}"
        nodes = [*nodes, saver_node(data.name, data.item_type, spec, name, fn)]
    return nodes
