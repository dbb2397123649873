"""@resolve as a Hamilton power user writes it: the parameterization comes from the config."""

from hamilton.function_modifiers import ResolveAt, parameterize_sources, resolve


@resolve(
    when=ResolveAt.CONFIG_AVAILABLE,
    decorate_with=lambda first, second: parameterize_sources(
        sum_1={"s1": first[0], "s2": first[1]},
        sum_2={"s1": second[0], "s2": second[1]},
    ),
)
def summation(s1: int, s2: int) -> int:
    return s1 + s2
