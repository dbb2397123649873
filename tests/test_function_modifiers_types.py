"""Build-time type checks between producers and consumers, compared with Hamilton's rules."""

# The typing spellings (List, Optional, Union) are what is under test here.
# ruff: noqa: UP006, UP007, UP045

import collections.abc as abc
import typing
from collections.abc import Callable
from typing import Any, NewType, Optional, TypeVar, Union

import pytest
from conftest import make_module

from asyncdag import Builder, Driver
from asyncdag.errors import GraphError
from asyncdag.graph.types import compatible


class Animal:
    pass


class Dog(Animal):
    pass


T = TypeVar("T")
UserId = NewType("UserId", int)

# (produced, required): pairs Apache Hamilton's types_match accepts.
HAMILTON_ACCEPTS = [
    (int, int),
    (bool, int),
    (Dog, Animal),
    (Any, int),
    (int, Any),
    (int, object),
    (int, Optional[int]),
    (int, Union[int, str]),
    (list[int], list),
    (list, list[int]),
    (typing.List[int], list[int]),
    (list[int], typing.Sequence[int]),
    (list[int], abc.Iterable[int]),
    (dict[str, int], typing.Mapping[str, int]),
    (list[int], Optional[list[int]]),
    (typing.Annotated[int, "meta"], int),
    (dict, typing.Mapping),
    (T, T),
]

# Pairs Hamilton rejects and asyncdag rejects too.
BOTH_REJECT = [
    (int, bool),
    (int, float),
    (Animal, Dog),
    (object, int),
    (Optional[int], int),
    (Union[int, str], int),
    (list[bool], list[int]),
    (list[int], list[str]),
    (dict[str, int], dict[str, float]),
    (typing.Sequence[int], list[int]),
    (typing.Mapping, dict),
    (str, bytes),
]

# Pairs Hamilton rejects although the code is sound, or cannot reason about: asyncdag accepts.
ASYNCDAG_ALSO_ACCEPTS = [
    (Optional[int], Union[int, str, None]),
    (list[Any], list[int]),
    (T, int),
    (UserId, int),
    (dict[str, list[int]], dict[str, list]),  # type: ignore[type-arg]
    (abc.Callable[[int], int], abc.Callable),
]


@pytest.mark.parametrize(("produced", "required"), HAMILTON_ACCEPTS + ASYNCDAG_ALSO_ACCEPTS)
def test_compatible_accepts_what_hamilton_accepts(produced: Any, required: Any) -> None:
    assert compatible(produced, required)


@pytest.mark.parametrize(("produced", "required"), BOTH_REJECT)
def test_compatible_rejects_what_hamilton_rejects(produced: Any, required: Any) -> None:
    assert not compatible(produced, required)


@pytest.mark.parametrize(("produced", "required"), HAMILTON_ACCEPTS + BOTH_REJECT)
def test_table_agrees_with_the_installed_hamilton(produced: Any, required: Any) -> None:
    htypes = pytest.importorskip("hamilton.htypes")
    assert htypes.types_match(required, produced) == compatible(produced, required)


def build(*fns: Callable[..., Any]) -> Driver:
    return Builder().with_modules(make_module(*fns)).build()


def test_type_clash_in_generic_arguments_names_both_functions_and_types() -> None:
    def flags() -> list[bool]:
        return [True]

    def total(flags: list[int]) -> int:
        return sum(flags)

    with pytest.raises(GraphError) as info:
        build(flags, total)
    message = str(info.value)
    for part in ("flags", "total", "list[bool]", "list[int]"):
        assert part in message


def test_object_producer_does_not_feed_a_narrower_consumer() -> None:
    def anything() -> object:
        return 1

    def double(anything: int) -> int:
        return 2 * anything

    with pytest.raises(GraphError, match=r"anything.*object.*double.*int"):
        build(anything, double)


def test_two_functions_reading_one_input_with_unrelated_types_raise_graph_error() -> None:
    def shout(word: str) -> str:
        return word.upper()

    def double(word: int) -> int:
        return 2 * word

    with pytest.raises(GraphError) as info:
        build(shout, double)
    message = str(info.value)
    for part in ("'word'", "shout", "double", "str", "int"):
        assert part in message


def test_two_functions_reading_one_input_with_related_types_build() -> None:
    def maybe(word: Optional[str]) -> str:
        return word or ""

    def sure(word: str) -> str:
        return word

    def untyped(word):  # type: ignore[no-untyped-def]
        return word

    assert set(build(maybe, sure, untyped).graph.inputs) == {"word"}


def test_collect_of_an_input_is_reported_by_the_block_analysis_not_the_input_check() -> None:
    from asyncdag import Collect

    def total(values: Collect[int]) -> int:
        return sum(values)

    def other(values: str) -> str:
        return values

    with pytest.raises(GraphError, match="Collect"):
        build(total, other)
