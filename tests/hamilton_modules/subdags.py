"""@subdag as a Hamilton user writes it: one module built twice under two namespaces."""

from hamilton.function_modifiers import source, subdag, tag, value

from . import subdag_parts


def us_start() -> int:
    return 5


@tag(region="us")
@subdag(subdag_parts, inputs={"raw": source("us_start"), "offset": value(1)}, config={"factor": 3})
def us_total(total: int) -> int:
    return total


@subdag(
    subdag_parts,
    inputs={"raw": value(10)},
    config={"factor": 2},
    namespace="eu",
    external_inputs=["bonus"],
)
def eu_total(total: int, scaled: int, bonus: int) -> int:
    return total + scaled + bonus
