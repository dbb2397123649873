"""Which input values satisfy which parameter annotations: Hamilton's ``check_input_type``.

Unit tests of the rule ``execute`` applies to each input before anything runs (``None`` is
accepted for every annotation by ``execute`` itself, see ``test_request_checks.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Annotated, Any, Literal, NewType, Optional, Protocol, TypeVar, Union

import pytest

from asyncdag import Collect, Parallelizable
from asyncdag.graph.types import value_check

UserId = NewType("UserId", int)
T = TypeVar("T")


class HasSize(Protocol):
    def size(self) -> int: ...


class Box:
    def size(self) -> int:
        return 1


def _accepts(annotation: Any, value: Any) -> bool:
    check = value_check(annotation)
    return check is None or check(value)


ACCEPTED = [
    (int, 5),
    (int, True),  # a subclass instance, as isinstance says
    (float, 1.5),
    (str, "x"),
    (Box, Box()),
    (list, [1]),
    (list[int], ["a"]),  # generics check the container only
    (list[int], (1, 2)),  # any sequence for a generic list, as in Hamilton
    (tuple[int, str], [1, "a"]),
    (set[int], [1]),  # any iterable for a generic set, as in Hamilton
    (dict[str, int], {"a": "b"}),
    (Mapping[str, int], {}),
    (Sequence[int], (1, 2)),
    (Iterable[int], {1}),
    (Callable[[int], int], len),
    (type[int], bool),
    (int | str, "x"),
    (Optional[int], 5),  # noqa: UP045 - the spelling under test
    (Union[int, list[str]], ["a"]),  # noqa: UP007 - the spelling under test
    (Literal["a", "b"], "a"),
    (Annotated[int, "meta"], 3),
    (UserId, 5),
]

REJECTED = [
    (int, "5"),
    (str, 5),
    (float, 1),  # Hamilton does not widen int to float
    (Box, object()),
    (list, (1,)),
    (list[int], {1, 2}),
    (set[int], 5),
    (dict[str, int], [("a", 1)]),
    (int | str, 1.5),
    (Optional[int], "5"),  # noqa: UP045 - the spelling under test
    (Literal["a", "b"], "c"),
    (Annotated[int, "meta"], "3"),
    (UserId, "5"),
]

# Annotations no value can fail: nothing is checked for them.
UNCHECKED = [
    Any,
    object,
    T,
    "NotResolvable",
    HasSize,  # a protocol that is not runtime-checkable cannot be tested with isinstance
    Parallelizable[int],
    Collect[int],
    int | Any,
]


@pytest.mark.parametrize(("annotation", "value"), ACCEPTED)
def test_value_matching_its_annotation_is_accepted(annotation: Any, value: Any) -> None:
    assert _accepts(annotation, value)


@pytest.mark.parametrize(("annotation", "value"), REJECTED)
def test_value_not_matching_its_annotation_is_rejected(annotation: Any, value: Any) -> None:
    assert not _accepts(annotation, value)


@pytest.mark.parametrize("annotation", UNCHECKED)
def test_annotation_that_accepts_anything_needs_no_check(annotation: Any) -> None:
    assert value_check(annotation) is None


GRID_ANNOTATIONS: list[Any] = [
    *{a for a, _ in ACCEPTED + REJECTED if not isinstance(a, TypeVar)},
    bool,
    dict,
    tuple[int, ...],
    frozenset[int],
    Sequence[str],
    Iterable[str],
    Optional[list[int]],  # noqa: UP045 - the spelling under test
    Literal[1, "a"],
    Any,
]
GRID_VALUES: list[Any] = [1, 1.5, "a", True, [1], ["a"], (1,), ("a",), {1}, {"a": 1}, b"x", len]
GRID_VALUES += [frozenset({1}), range(3), Box(), UserId(3)]


def test_every_value_hamilton_accepts_is_accepted() -> None:
    hamilton_htypes = pytest.importorskip("hamilton.htypes")

    refused = [
        (annotation, value)
        for annotation in GRID_ANNOTATIONS
        for value in GRID_VALUES
        if hamilton_htypes.check_input_type(annotation, value) and not _accepts(annotation, value)
    ]

    assert refused == []


@pytest.mark.parametrize(("annotation", "value"), REJECTED)
def test_value_rejected_here_is_rejected_by_hamilton_too(annotation: Any, value: Any) -> None:
    hamilton_htypes = pytest.importorskip("hamilton.htypes")

    assert not hamilton_htypes.check_input_type(annotation, value)
