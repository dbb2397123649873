"""@config, @tag, @tag_outputs and @parameterize, resolved at build time with Hamilton's rules."""

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import cloudpickle
import pytest
from conftest import make_module

from asyncdag import (
    Builder,
    Collect,
    Driver,
    Parallelizable,
    config,
    extract_fields,
    parameterize,
    source,
    tag,
    value,
)
from asyncdag.errors import GraphError, MissingInputError
from asyncdag.function_modifiers import parameterize_sources, parameterize_values, tag_outputs


def own_tags(tags: Any) -> dict[str, Any]:
    """A variable's tags without the ``module`` tag every node gets."""
    return {k: v for k, v in tags.items() if k != "module"}


def test_every_node_made_by_a_modifier_is_tagged_with_the_module_defining_it() -> None:
    @extract_fields({"x": int, "y": int})
    def pair() -> dict[str, int]:
        return {"x": 1, "y": 2}

    variables = build(pair).list_available_variables()
    assert {v.name: v.tags["module"] for v in variables} == dict.fromkeys(
        ["pair", "x", "y"], pair.__module__
    )


def build(*fns: Callable[..., Any], cfg: dict[str, Any] | None = None) -> Driver:
    return Builder().with_modules(make_module(*fns)).with_config(cfg or {}).build()


# --- @config --------------------------------------------------------------------------------------


def _alternatives() -> tuple[Callable[..., Any], ...]:
    @config.when(mode="fast")
    def speed__fast() -> str:
        return "fast"

    @config.when_not(mode="fast")
    def speed__other() -> str:
        return "other"

    def report(speed: str) -> str:
        return f"speed={speed}"

    return speed__fast, speed__other, report


@pytest.mark.parametrize(("mode", "expected"), [("fast", "speed=fast"), ("slow", "speed=other")])
async def test_config_when_and_when_not_pick_one_alternative(mode: str, expected: str) -> None:
    dr = build(*_alternatives(), cfg={"mode": mode})
    assert (await dr.execute(["report"]))["report"] == expected


@pytest.mark.parametrize(("region", "expected"), [("uk", "eu"), ("us", "world")])
async def test_config_when_in_and_when_not_in_pick_one_alternative(
    region: str, expected: str
) -> None:
    @config.when_in(region=["uk", "fr"])
    def market__eu() -> str:
        return "eu"

    @config.when_not_in(region=["uk", "fr"])
    def market__world() -> str:
        return "world"

    dr = build(market__eu, market__world, cfg={"region": region})
    assert (await dr.execute(["market"]))["market"] == expected


def test_config_node_name_is_the_part_before_the_last_double_underscore() -> None:
    @config.when(v=2)
    def signups__by_day__v2() -> int:
        return 2

    assert "signups__by_day" in build(signups__by_day__v2, cfg={"v": 2}).graph.nodes


def test_double_underscore_without_config_keeps_the_whole_name() -> None:
    def plain__name() -> int:
        return 1

    assert "plain__name" in build(plain__name).graph.nodes


async def test_config_when_name_argument_names_the_node() -> None:
    @config.when(name="chosen", flavour="a")
    def implementation_a() -> str:
        return "a"

    dr = build(implementation_a, cfg={"flavour": "a"})
    assert await dr.execute(["chosen"]) == {"chosen": "a"}


async def test_config_applies_to_async_functions() -> None:
    @config.when(mode="x")
    async def value_node__x() -> int:
        return 7

    dr = build(value_node__x, cfg={"mode": "x"})
    assert await dr.execute(["value_node"]) == {"value_node": 7}


def test_config_without_key_values_raises_type_error() -> None:
    with pytest.raises(TypeError, match="at least one"):
        config.when()


# --- @tag and @tag_outputs ------------------------------------------------------------------------


def test_tag_filter_lists_only_nodes_with_that_tag_value() -> None:
    @tag(owner="data")
    def owned() -> int:
        return 1

    @tag(owner="other")
    def other() -> int:
        return 2

    def untagged() -> int:
        return 3

    dr = build(owned, other, untagged)
    found = [v.name for v in dr.list_available_variables(tag_filter={"owner": "data"})]
    assert found == ["owned"]


def test_tag_on_extract_fields_tags_the_fields_not_the_dict_node_as_hamilton_does() -> None:
    @tag(team="a")
    @extract_fields({"x": int, "y": int})
    def pair() -> dict[str, int]:
        return {"x": 1, "y": 2}

    tags = {v.name: own_tags(v.tags) for v in build(pair).list_available_variables()}
    assert tags == {"pair": {}, "x": {"team": "a"}, "y": {"team": "a"}}


def test_tag_target_ellipsis_tags_every_node_of_the_function() -> None:
    @tag(team="a", target_=...)
    @extract_fields({"x": int})
    def pair() -> dict[str, int]:
        return {"x": 1}

    tags = {v.name: own_tags(v.tags) for v in build(pair).list_available_variables()}
    assert tags == {"pair": {"team": "a"}, "x": {"team": "a"}}


def test_tag_target_naming_an_unknown_node_raises_graph_error_naming_it() -> None:
    @tag(team="a", target_="nope")
    def single() -> int:
        return 1

    with pytest.raises(GraphError, match=r"'nope'.*single"):
        build(single)


def test_tag_outputs_tags_each_named_node() -> None:
    @tag_outputs(x={"kind": "first"}, y={"kind": "second"})
    @extract_fields({"x": int, "y": int})
    def pair() -> dict[str, int]:
        return {"x": 1, "y": 2}

    tags = {v.name: own_tags(v.tags) for v in build(pair).list_available_variables()}
    assert tags == {"pair": {}, "x": {"kind": "first"}, "y": {"kind": "second"}}


# --- @parameterize --------------------------------------------------------------------------------


def _add() -> Callable[..., Any]:
    @parameterize(
        plus_one={"x": source("base"), "n": value(1)},
        plus_ten={"x": source("base"), "n": value(10)},
    )
    def add(x: int, n: int) -> int:
        """Adds {n} to {x}, giving {output_name}."""
        return x + n

    return add


async def test_parameterize_makes_one_node_per_output_with_value_and_source() -> None:
    def base() -> int:
        return 5

    dr = build(base, _add())
    assert await dr.execute(["plus_one", "plus_ten"]) == {"plus_one": 6, "plus_ten": 15}


def test_parameterize_drops_the_function_name_and_reads_the_sources() -> None:
    nodes = build(_add()).graph.nodes
    assert "add" not in nodes
    assert [p.name for p in nodes["plus_one"].params] == ["base"]


def test_parameterize_formats_the_docstring_as_hamilton_does() -> None:
    node = build(_add()).graph.nodes["plus_ten"]
    assert node.fn.__doc__ == "Adds 10 to base, giving plus_ten."


def test_parameterize_leaves_unknown_docstring_fields_as_their_names() -> None:
    @parameterize(out={"x": value(1)})
    def fn(x: int) -> int:
        """{x} and {unknown}"""
        return x

    assert build(fn).graph.nodes["out"].fn.__doc__ == "1 and unknown"


def test_parameterize_uses_an_explicit_docstring() -> None:
    @parameterize(out=({"x": value(1)}, "my doc"))
    def fn(x: int) -> int:
        """ignored"""
        return x

    assert build(fn).graph.nodes["out"].fn.__doc__ == "my doc"


async def test_parameterize_works_on_async_functions() -> None:
    @parameterize(doubled={"x": source("base")}, tripled={"x": source("other")})
    async def scaled(x: int, factor: int = 2) -> int:
        return x * factor

    dr = build(scaled)
    node = dr.graph.nodes["doubled"]
    assert node.is_async
    assert await dr.execute(["doubled", "tripled"], inputs={"base": 3, "other": 4}) == {
        "doubled": 6,
        "tripled": 8,
    }


async def test_parameterize_keeps_the_default_of_an_optional_parameter() -> None:
    @parameterize(out={"x": value(1)})
    def fn(x: int, step: int = 100) -> int:
        return x + step

    dr = build(fn)
    assert await dr.execute(["out"]) == {"out": 101}
    assert await dr.execute(["out"], inputs={"step": 1}) == {"out": 2}


async def test_parameterize_source_naming_an_input_is_a_missing_input_when_not_given() -> None:
    dr = build(_add())
    with pytest.raises(MissingInputError, match="'base'"):
        await dr.execute(["plus_one"])


async def test_parameterize_sources_binds_parameters_to_nodes() -> None:
    @parameterize_sources(a_shifted={"series": "a"}, b_shifted={"series": "b"})
    def shifted(series: int) -> int:
        return series + 100

    dr = build(shifted)
    out = await dr.execute(["a_shifted", "b_shifted"], inputs={"a": 1, "b": 2})
    assert out == {"a_shifted": 101, "b_shifted": 102}


async def test_parameterize_values_binds_one_parameter_per_output() -> None:
    @parameterize_values("date", {("d_2016", "2016 doc"): "2016-11-08", ("d_2020", "x"): "2020"})
    def year(date: str) -> str:
        return date[:4]

    dr = build(year)
    assert await dr.execute(["d_2016", "d_2020"]) == {"d_2016": "2016", "d_2020": "2020"}
    assert dr.graph.nodes["d_2016"].fn.__doc__ == "2016 doc"


async def test_parameterize_works_inside_a_parallel_block() -> None:
    def item(n: int) -> Parallelizable[int]:
        yield from range(n)

    @parameterize(item_plus={"x": source("item"), "k": value(100)})
    def shifted(x: int, k: int) -> int:
        return x + k

    def total(item_plus: Collect[int]) -> list[int]:
        return list(item_plus)

    dr = build(item, shifted, total)
    assert await dr.execute(["total"], inputs={"n": 3}) == {"total": [100, 101, 102]}


@pytest.mark.parametrize("kind", ["generator", "async generator"])
async def test_parameterize_makes_parallelizable_nodes_from_generators(kind: str) -> None:
    def sync_items(count: int) -> Iterator[int]:
        yield from range(count)

    async def async_items(count: int) -> AsyncIterator[int]:
        for i in range(count):
            yield i

    fn = sync_items if kind == "generator" else async_items
    fn.__annotations__["return"] = Parallelizable[int]
    expander = parameterize(item={"count": value(3)})(fn)

    def total(item: Collect[int]) -> int:
        return sum(item)

    assert await build(expander, total).execute(["total"]) == {"total": 3}


def test_parameterize_binding_an_unknown_parameter_raises_graph_error_naming_it() -> None:
    @parameterize(out={"nope": value(1)})
    def fn(x: int) -> int:
        return x

    with pytest.raises(GraphError, match=r"'nope'.*fn"):
        build(fn)


def test_parameterize_with_a_plain_value_raises_type_error() -> None:
    with pytest.raises(TypeError, match=r"value\(\.\.\.\) or source\(\.\.\.\)"):
        parameterize(out={"x": 1})  # type: ignore[dict-item]


def test_parameterize_reserves_the_output_name_parameter() -> None:
    @parameterize(out={"x": value(1)})
    def fn(x: int, output_name: str) -> int:
        return x

    with pytest.raises(GraphError, match="output_name"):
        build(fn)


def test_two_parameterize_decorators_raise_type_error() -> None:
    with pytest.raises(TypeError, match="two @parameterize"):

        @parameterize(a={"x": value(1)})
        @parameterize(b={"x": value(2)})
        def fn(x: int) -> int:
            return x


def test_parameterized_output_clashing_with_a_function_raises_graph_error() -> None:
    def plus_one() -> int:
        return 0

    with pytest.raises(GraphError, match="'plus_one' is defined by 2 functions"):
        build(plus_one, _add())


async def test_parameterized_node_survives_cloudpickle_for_process_executors() -> None:
    node = build(_add()).graph.nodes["plus_one"]
    clone = cloudpickle.loads(cloudpickle.dumps(node.fn))
    assert clone(base=1) == 2


def test_config_with_a_resolver_function_decides_inclusion() -> None:
    @config(lambda cfg: cfg.get("on") is True)
    def x() -> int:
        return 1

    assert "x" not in {v.name for v in build(x, cfg={}).list_available_variables()}
