"""@pipe_input and step as a Hamilton user writes them."""

from hamilton.function_modifiers import pipe_input, source, step, value


def _add_one(x: int) -> int:
    return x + 1


def _sum(x: int, y: int) -> int:
    return x + y


def _multiply(x: int, y: int, z: int = 10) -> int:
    return x * y * z


def factor(raw: int) -> int:
    return raw - 1


@pipe_input(
    step(_add_one),
    step(_multiply, y=2),
    step(_sum, y=value(3)),
    step(_multiply, y=source("factor")).named("scaled"),
    step(_add_one).when(extra="yes"),
    step(_sum, 100).named("offset", namespace=None).when_not(extra="yes"),
)
def final_result(raw: int) -> int:
    return raw


@pipe_input(step(_add_one), step(_add_one), on_input="b", namespace="twice")
def pair(a: int, b: int) -> tuple[int, int]:
    return a, b
