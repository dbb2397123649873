"""@does, @pipe_output, @mutate, @parameterized_subdag, @config(resolver) and @check_output's
validator nodes, as a Hamilton user writes them."""

from typing import Any

from hamilton.function_modifiers import (
    apply_to,
    check_output,
    config,
    does,
    extract_fields,
    mutate,
    parameterized_subdag,
    pipe_output,
    source,
    step,
    value,
)

from . import subdag_parts


def _sum_all(**values: int) -> int:
    return sum(values.values())


def _scaled(value: int, factor: int = 1) -> int:
    return value * factor


@does(_sum_all)
def total(a: int, b: int) -> int:
    """Adds a and b."""
    pass


@does(_scaled, value="a", factor="k")
def scaled_a(a: int, k: int = 3) -> int:
    pass


def _add(x: int, y: int = 1) -> int:
    return x + y


def _double(x: int) -> int:
    return 2 * x


def offset() -> int:
    return 100


@pipe_output(step(_add), step(_add, y=source("offset")), step(_double).named("twice"))
def piped(a: int) -> int:
    return a


@pipe_output(step(_double), step(_add).on_output("second"))
@extract_fields({"first": int, "second": int})
def pair(a: int, b: int) -> dict[str, int]:
    return {"first": a, "second": b}


@pipe_output(step(_add).when(mode="loud"), step(_double).when_not(mode="loud"), namespace="np")
def conditional(b: int) -> int:
    return b


def mutated(a: int) -> int:
    return a * 7


def also_mutated(b: int) -> int:
    return b - 1


@mutate(mutated, apply_to(also_mutated, y=value(1000)), y=source("offset"))
def _plus(v: int, y: int) -> int:
    return v + y


@mutate(mutated)
def _negate(v: int) -> int:
    return -v


@parameterized_subdag(
    subdag_parts,
    inputs={"offset": value(1)},
    config={"factor": 2},
    small={"inputs": {"raw": source("a")}},
    large={"inputs": {"raw": source("b")}, "config": {"factor": 10}},
)
def region_total(total: int) -> int:
    return total


@config(lambda cfg: cfg.get("mode") == "loud", target_name="volume")
def volume_loud() -> str:
    return "LOUD"


@config(lambda cfg: cfg.get("mode") != "loud", target_name="volume")
def volume_soft() -> str:
    return "soft"


@check_output(range=(0, 50), data_type=int, importance="warn")
def checked(a: int) -> int:
    return a * 10


def validation_summary(checked_range_validator: Any) -> bool:
    return bool(checked_range_validator.passes)
