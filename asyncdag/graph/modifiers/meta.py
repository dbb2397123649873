"""Metadata that function modifiers record on a function, read by the graph builder.

The stages follow Hamilton's ``resolve_nodes``: resolve (``@config``), create (one node from
the function, or a namespaced sub-DAG with ``@subdag``), inject (``@pipe_input``), expand
(``@parameterize``), transform (``@extract_fields``, ``@extract_columns``, ``@check_output``,
innermost decorator first), decorate (``@tag``, ``@tag_outputs``). Each entry is frozen data;
``asyncdag.graph.modifiers.expand`` interprets it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from types import EllipsisType
from typing import Any

from ...errors import GraphError

_ATTR = "__asyncdag_modifiers__"

Target = str | tuple[str, ...] | EllipsisType | None
"""Which nodes of a function's sub-DAG a modifier applies to, as Hamilton's ``target_``:
``None`` the sinks (nodes no other node of the function reads), ``...`` all of them, or names."""


@dataclass(frozen=True)
class LiteralDependency:
    """``value(x)``: a parameter bound to a fixed value."""

    value: Any


@dataclass(frozen=True)
class UpstreamDependency:
    """``source("name")``: a parameter read from another node or input."""

    source: str


Dependency = LiteralDependency | UpstreamDependency


@dataclass(frozen=True)
class ConfigDependency:
    """``configuration("key")``: in ``@subdag(config=...)``, the outer config's value of ``key``."""

    source: str


@dataclass(frozen=True)
class GroupedListDependency:
    """``group(source("a"), value(1))``: a list parameter made of several dependencies."""

    sources: tuple[Dependency, ...]


@dataclass(frozen=True)
class GroupedDictDependency:
    """``group(a=source("a"), b=value(1))``: a dict parameter made of several dependencies."""

    sources: Mapping[str, Dependency]


GroupedDependency = GroupedListDependency | GroupedDictDependency
Binding = Dependency | GroupedDependency
"""What ``@parameterize`` and ``@inject`` may bind a parameter to."""

INJECTED = ""
"""The output key ``@inject`` records: the decorated function's own node."""


@dataclass(frozen=True)
class Parameterization:
    """``@parameterize``: one node per output, each binding some parameters."""

    outputs: Mapping[str, Mapping[str, Binding]]  # output INJECTED: the function's own node
    docs: Mapping[str, str]  # docstrings given explicitly, by output


@dataclass(frozen=True)
class ParameterizedExtraction:
    """``@parameterize_extract_columns``: per entry a ``@parameterize`` node ``<node>__<i>``
    binding ``input_mapping``, whose ``DataFrame`` columns ``outputs`` become nodes."""

    entries: tuple[tuple[tuple[str, ...], Mapping[str, Binding]], ...]  # (outputs, mapping)
    reassign_columns: bool


Namespace = str | EllipsisType | None
"""``...``: the decorated function's node name; ``None``: no namespace; or a given one."""


@dataclass(frozen=True)
class Step:
    """``step(fn, *args, **kwargs)``: one node of a ``@pipe_input`` chain.

    The chained value goes to ``fn``'s first parameter; ``args`` and ``kwargs`` bind the rest
    (``source(...)``, ``value(...)``, or plain values, which count as ``value``).
    """

    fn: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: Mapping[str, Any]
    name: str | None = None
    namespace: Namespace = ...
    conditions: tuple[Condition, ...] = ()
    target: Target = None  # @pipe_output: which of the function's nodes the step applies to

    def named(self, name: str, namespace: Namespace = ...) -> Step:
        """Name the step's node; ``namespace=None`` drops the ``function.`` prefix."""
        return replace(self, name=name, namespace=self.namespace if namespace is ... else namespace)

    def namespaced(self, namespace: Namespace) -> Step:
        """Put the step's node in ``namespace`` (``None``: none)."""
        return replace(self, namespace=namespace)

    def _if(self, kind: str, expected: Mapping[str, Any]) -> Step:
        return replace(self, conditions=(*self.conditions, Condition(kind, dict(expected))))

    def when(self, **key_value_pairs: Any) -> Step:
        """Apply the step only when every config ``key`` equals its value."""
        return self._if("when", key_value_pairs)

    def when_not(self, **key_value_pairs: Any) -> Step:
        """Apply the step only when every config ``key`` differs from its value."""
        return self._if("when_not", key_value_pairs)

    def when_in(self, **key_value_lists: Any) -> Step:
        """Apply the step only when every config ``key`` is one of its values."""
        return self._if("when_in", key_value_lists)

    def when_not_in(self, **key_value_lists: Any) -> Step:
        """Apply the step only when no config ``key`` is one of its values."""
        return self._if("when_not_in", key_value_lists)

    def on_output(self, target: Target) -> Step:
        """In ``@pipe_output``/``@mutate``: apply the step only to these nodes of the function."""
        return replace(self, target=target if target is not None else self.target)

    def bind(self, chained: str | None) -> inspect.BoundArguments:
        """The step's arguments bound to ``fn``, ``source(chained)`` first when chaining.

        Raises:
            TypeError: they do not fit ``fn``'s signature.
        """
        first = () if chained is None else (UpstreamDependency(chained),)
        return inspect.signature(self.fn).bind(*first, *self.args, **self.kwargs)

    def resolve_namespace(self, default_namespace: str) -> tuple[str, ...]:
        """The step node's namespace: ``default_namespace`` unless ``.named`` set one (or none)."""
        if self.namespace is ...:
            return (default_namespace,)
        return () if self.namespace is None else (self.namespace,)

    def validate(self, chain_first_param: bool, allow_custom_namespace: bool) -> None:
        """Check, as ``build()`` does, that the step can be applied (Hamilton's ``Applicable``).

        Raises:
            GraphError: ``fn`` has no parameters or ones that are not named, its arguments do
                not bind (the chained value first), or it sets a namespace where none may be.
        """
        name = getattr(self.fn, "__qualname__", repr(self.fn))
        params = inspect.signature(self.fn).parameters.values()
        if not params:
            raise GraphError(f"step({name}) has no parameters: a step needs one to apply to.")
        odd = [p.name for p in params if p.kind not in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
        if odd:
            raise GraphError(
                f"step({name}) has parameters {odd} that cannot be passed by name; use plain "
                "named parameters."
            )
        try:
            self.bind("chained" if chain_first_param else None)
        except TypeError as exc:
            first = "the chained value first, then " if chain_first_param else ""
            raise GraphError(
                f"step({name}, ...) does not fit its signature ({exc}); it is called with "
                f"{first}args {self.args} and kwargs {dict(self.kwargs)}."
            ) from exc
        if self.namespace is not ... and not allow_custom_namespace:
            raise GraphError(
                f"step({name}) sets its own namespace, which cannot be combined with the "
                "decorator's namespace=."
            )


@dataclass(frozen=True)
class ApplyTo(Step):
    """``apply_to(fn, **kwargs)`` in ``@mutate``: ``fn`` is the function whose output to mutate."""


@dataclass(frozen=True)
class PipeOutput:
    """``@pipe_output(step(...), ...)`` (and ``@mutate``): a chain of nodes after a node."""

    steps: tuple[Step, ...]
    namespace: Namespace
    target: Target  # on_output


@dataclass(frozen=True)
class Does:
    """``@does(replacing_function, **argument_mapping)``: run another function in its place."""

    replacing: Callable[..., Any]
    mapping: Mapping[str, str]  # replacing function's parameter -> decorated function's


@dataclass(frozen=True)
class ParameterizedSubdag:
    """``@parameterized_subdag``: one ``@subdag`` per parameterization, each its own namespace."""

    subdags: tuple[Subdag, ...]


@dataclass(frozen=True)
class Resolve:
    """``@resolve(when=..., decorate_with=...)``: a decorator chosen from the config at build."""

    decorate_with: Callable[..., Any]
    required: tuple[str, ...]
    optional: Mapping[str, Any]


@dataclass(frozen=True)
class PipeInput:
    """``@pipe_input(step(...), ...)``: a chain of nodes in front of one parameter."""

    steps: tuple[Step, ...]
    namespace: Namespace
    on_input: str | None  # the parameter; None: the first one


@dataclass(frozen=True)
class Subdag:
    """``@subdag(*modules, inputs=, config=, namespace=, final_node_name=, external_inputs=)``."""

    load_from: tuple[Any, ...]  # modules or functions
    inputs: Mapping[str, Dependency]
    config: Mapping[str, Any]
    namespace: str | None
    final_node_name: str | None
    external_inputs: tuple[str, ...]


@dataclass(frozen=True)
class ExtractFields:
    """``@extract_fields``: one node per dict field, beside the dict node."""

    fields: Mapping[str, Any] | tuple[str, ...] | None  # name -> type, or names
    fill_with: Any


@dataclass(frozen=True)
class ExtractColumns:
    """``@extract_columns``: one node per pandas column, beside the frame node."""

    columns: tuple[tuple[str, str | None], ...]  # (name, docstring)
    fill_with: Any


@dataclass(frozen=True)
class CheckOutput:
    """``@check_output`` (built-in checks by keyword) or ``@check_output_custom``."""

    importance: str  # "warn" or "fail"; custom validators carry their own
    checks: Mapping[str, Any]  # built-in check argument -> its value
    custom: tuple[Any, ...]  # validator objects of @check_output_custom
    target: Target


@dataclass(frozen=True)
class UnpackFields:
    """``@unpack_fields``: one node per leading item of the tuple a function returns."""

    fields: tuple[str, ...]


Transform = ExtractFields | ExtractColumns | UnpackFields | CheckOutput | PipeOutput


@dataclass(frozen=True)
class Tagging:
    """``@tag(...)``: tags for the targeted nodes."""

    tags: Mapping[str, Any]
    target: Target


@dataclass(frozen=True)
class TagOutputs:
    """``@tag_outputs(...)``: tags per node name."""

    tags_by_node: Mapping[str, Mapping[str, Any]]


@dataclass(frozen=True)
class SchemaOutput:
    """``@schema.output(("a", "int"), ...)``: Hamilton's schema tag, on a data frame node."""

    tags: Mapping[str, Any]
    target: str | None


Decoration = Tagging | TagOutputs | SchemaOutput


@dataclass(frozen=True)
class Retry:
    """``@retry``: run the node again on the listed exceptions, with exponential backoff."""

    attempts: int
    backoff: float  # seconds before the second attempt; doubles after each failure
    on: tuple[type[BaseException], ...]


@dataclass(frozen=True)
class Policy:
    """How a node runs: ``@timeout`` seconds and ``@retry``; resolved onto every node it makes."""

    timeout: float | None = None
    retry: Retry | None = None


@dataclass
class Modifiers:
    """What the decorators recorded on one function, in the order they were applied."""

    conditions: list[Condition | ConfigResolver] = field(default_factory=list)
    name: str | None = None  # @config.when(name=...): the node name to use
    pipe: PipeInput | None = None
    subdag: Subdag | ParameterizedSubdag | None = None
    parameterization: Parameterization | ParameterizedExtraction | None = None
    transforms: list[Transform] = field(default_factory=list)
    decorations: list[Decoration] = field(default_factory=list)
    policy: Policy | None = None
    does: Does | None = None
    resolvers: list[Resolve] = field(default_factory=list)
    excluded: bool = False  # a @mutate function: a step of other nodes, not a node itself


_CHECKS: dict[str, Callable[[Any, Any], bool]] = {
    "when": lambda actual, want: actual == want,
    "when_not": lambda actual, want: actual != want,
    "when_in": lambda actual, want: actual in want,
    "when_not_in": lambda actual, want: actual not in want,
}


@dataclass(frozen=True)
class Condition:
    """One ``@config.*`` predicate over the configuration."""

    kind: str  # a key of _CHECKS
    expected: Mapping[str, Any]

    def holds(self, cfg: Mapping[str, Any]) -> bool:
        check = _CHECKS[self.kind]
        return all(check(cfg.get(key), want) for key, want in self.expected.items())

    def describe(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.expected.items())
        return f"@config.{self.kind}({args})"


POWER_USER_MODE = "hamilton.enable_power_user_mode"
"""Hamilton's config key; ``@resolve`` and ``@config(resolver)`` see it (False by default)."""


@dataclass(frozen=True)
class ConfigResolver:
    """``@config(resolves, target_name=None, config_used=None)``: a predicate of the config.

    As in Hamilton, ``resolves`` gets the whole config when ``config_used`` is None, else only
    those keys (``None`` when absent) and the power-user flag.
    """

    resolves: Callable[[dict[str, Any]], bool]
    config_used: tuple[str, ...] | None

    @property
    def expected(self) -> Mapping[str, Any]:
        return dict.fromkeys(self.config_used or ())

    def holds(self, cfg: Mapping[str, Any]) -> bool:
        if self.config_used is None:
            seen = dict(cfg)
        else:
            seen = {key: cfg.get(key) for key in self.config_used}
            seen[POWER_USER_MODE] = cfg.get(POWER_USER_MODE, False)
        return bool(self.resolves(seen))

    def describe(self) -> str:
        return f"@config({getattr(self.resolves, '__qualname__', repr(self.resolves))})"


def modifiers_of(fn: Callable[..., Any]) -> Modifiers:
    """The modifiers recorded on ``fn`` (empty when it has none)."""
    found = getattr(fn, _ATTR, None)
    return found if isinstance(found, Modifiers) else Modifiers()


def record(fn: Callable[..., Any]) -> Modifiers:
    """The modifiers of ``fn``, created on first use so decorators can add to them."""
    found = getattr(fn, _ATTR, None)
    if not isinstance(found, Modifiers):
        found = Modifiers()
        setattr(fn, _ATTR, found)
    return found


def sources_and_values(
    arguments: Mapping[str, Any],
) -> tuple[dict[str, str], dict[str, Any]]:
    """Bound step arguments split into parameter -> source node and parameter -> value."""
    sources: dict[str, str] = {}
    values: dict[str, Any] = {}
    for param, given in arguments.items():
        if isinstance(given, UpstreamDependency):
            sources[param] = given.source
        else:
            values[param] = given.value if isinstance(given, LiteralDependency) else given
    return sources, values
