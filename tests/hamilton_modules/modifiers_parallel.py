"""Function modifiers inside a Hamilton parallel block."""

from hamilton.function_modifiers import check_output, extract_fields, parameterize, source, value
from hamilton.htypes import Collect, Parallelizable


def item(count: int) -> Parallelizable[int]:
    yield from range(count)


@parameterize(
    item_plus_offset={"number": source("item"), "offset": source("offset")},
    item_doubled={"number": source("item"), "offset": value(0)},
)
def moved(number: int, offset: int) -> int:
    return number + offset


@extract_fields({"square": int, "negative": int})
def parts(item_plus_offset: int, item_doubled: int) -> dict:
    return {"square": item_plus_offset * item_plus_offset, "negative": -item_doubled}


@check_output(range=(0, 10_000), importance="fail")
def combined(square: int, negative: int) -> int:
    return square + negative


def total(combined: Collect[int]) -> int:
    return sum(combined)
