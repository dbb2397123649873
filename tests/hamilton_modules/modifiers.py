"""Hamilton's function modifiers as a Hamilton user writes them."""

from typing import TypedDict

from hamilton.function_modifiers import (
    check_output,
    config,
    extract_fields,
    parameterize,
    parameterize_sources,
    parameterize_values,
    source,
    tag,
    tag_outputs,
    value,
)


class Bounds(TypedDict):
    low: int
    high: int


def base(x: int) -> int:
    return x * 3


@parameterize(
    plus_one={"number": source("base"), "step": value(1)},
    plus_ten=({"number": source("base"), "step": value(10)}, "base plus ten"),
)
def shifted(number: int, step: int) -> int:
    """Adds {step} to {number} for {output_name}."""
    return number + step


@parameterize_sources(base_squared={"number": "base"}, x_squared={"number": "x"})
def squared(number: int) -> int:
    return number * number


@parameterize_values("factor", {("by_two", "twice"): 2, ("by_five", "five times"): 5})
def scaled(plus_one: int, factor: int) -> int:
    return plus_one * factor


@tag(owner="stats")
@extract_fields()
def bounds(plus_one: int, plus_ten: int) -> Bounds:
    return {"low": plus_one, "high": plus_ten}


@tag_outputs(total={"kind": "sum"}, spread={"kind": "difference"})
@extract_fields({"total": int, "spread": int})
def summary(low: int, high: int) -> dict:
    return {"total": low + high, "spread": high - low}


@check_output(range=(0, 1000), importance="fail")
def checked_total(total: int, by_five: int) -> int:
    return total + by_five


@check_output(data_type=str, importance="warn")
def label(checked_total: int, spread: int) -> str:
    return f"{checked_total}/{spread}"


@config.when(mode="loud")
def greeting__loud(label: str) -> str:
    return label.upper() + "!"


@config.when_not(mode="loud")
def greeting__quiet(label: str) -> str:
    return label.lower()


@config.when_in(region=["uk", "fr"])
def market__eu(base: int) -> str:
    return f"eu-{base}"


@config.when_not_in(region=["uk", "fr"])
def market__world(base: int) -> str:
    return f"world-{base}"
