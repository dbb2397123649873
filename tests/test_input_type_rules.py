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
    (list[int], (1, 2)),
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
