"""A plain Hamilton DAG: inputs, defaults, a diamond, a tag."""

from hamilton.function_modifiers import tag


def doubled(x: int) -> int:
    return 2 * x


def offset(x: int, shift: int = 10) -> int:
    return x + shift


@tag(owner="analytics")
def combined(doubled: int, offset: int) -> int:
    return doubled * offset


def report(combined: int, doubled: int) -> str:
    return f"{doubled}->{combined}"
