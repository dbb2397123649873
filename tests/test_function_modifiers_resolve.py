"""@resolve and @config(resolver): decorators and inclusion decided by the config at build."""

from typing import Any

import pytest
from conftest import make_module

from asyncdag import Builder, Driver
from asyncdag.errors import GraphError
from asyncdag.function_modifiers import (
    ResolveAt,
    config,
    extract_fields,
    parameterize_sources,
    resolve,
    resolve_from_config,
    tag,
)

POWER = {"hamilton.enable_power_user_mode": True}


def build(*fns: Any, cfg: dict[str, Any]) -> Driver:
    return Builder().with_modules(make_module(*fns)).with_config(cfg).build()


def _summation() -> Any:
    @resolve(
        when=ResolveAt.CONFIG_AVAILABLE,
        decorate_with=lambda first, second: parameterize_sources(
            sum_1={"s1": first[0], "s2": first[1]},
            sum_2={"s1": second[0], "s2": second[1]},
        ),
    )
    def summation(s1: int, s2: int) -> int:
        return s1 + s2

    return summation


async def test_resolve_applies_the_decorator_built_from_the_config() -> None:
    cfg = {**POWER, "first": ["a", "b"], "second": ["b", "c"]}
    dr = build(_summation(), cfg=cfg)
    out = await dr.execute(["sum_1", "sum_2"], inputs={"a": 1, "b": 10, "c": 100})
    assert out == {"sum_1": 11, "sum_2": 110}


async def test_resolve_builds_a_different_graph_for_another_config_from_one_function() -> None:
    summation = _summation()
    one = build(summation, cfg={**POWER, "first": ["a", "b"], "second": ["a", "a"]})
    two = build(summation, cfg={**POWER, "first": ["c", "c"], "second": ["b", "c"]})
    assert await one.execute(["sum_2"], inputs={"a": 2}) == {"sum_2": 4}
    assert await two.execute(["sum_1"], inputs={"c": 3}) == {"sum_1": 6}


async def test_resolve_uses_defaults_for_optional_config() -> None:
    @resolve(
        when=ResolveAt.CONFIG_AVAILABLE,
        decorate_with=lambda fields=("a",): extract_fields({f: int for f in fields}),
    )
    def parts() -> dict[str, int]:
        return {"a": 1, "b": 2}

    assert await build(parts, cfg=POWER).execute(["a"]) == {"a": 1}
    assert await build(parts, cfg={**POWER, "fields": ["b"]}).execute(["b"]) == {"b": 2}


async def test_resolve_from_config_resolves_at_config_time() -> None:
    @resolve_from_config(decorate_with=lambda owner: tag(owner=owner))
    def x() -> int:
        return 1

    dr = build(x, cfg={**POWER, "owner": "me"})
    assert [v.name for v in dr.list_available_variables(tag_filter={"owner": "me"})] == ["x"]


def test_resolve_without_power_user_mode_raises_graph_error_saying_how_to_enable_it() -> None:
    with pytest.raises(GraphError, match=r"summation.*hamilton\.enable_power_user_mode=True"):
        build(_summation(), cfg={"first": ["a", "b"], "second": ["b", "c"]})


def test_resolve_with_missing_config_raises_graph_error_naming_the_keys() -> None:
    with pytest.raises(GraphError, match=r"summation.*'second'"):
        build(_summation(), cfg={**POWER, "first": ["a", "b"]})


def test_resolve_whose_decorator_does_not_fit_raises_graph_error() -> None:
    @resolve(when=ResolveAt.CONFIG_AVAILABLE, decorate_with=lambda: 42)
    def x() -> int:
        return 1

    with pytest.raises(GraphError, match=r"x.*not a decorator"):
        build(x, cfg=POWER)


def test_resolve_only_resolves_at_config_time() -> None:
    with pytest.raises(ValueError, match="config"):
        resolve(when="later", decorate_with=lambda: tag(a="b"))  # type: ignore[arg-type]


def test_resolve_decorate_with_takes_only_named_parameters() -> None:
    with pytest.raises(GraphError, match="keyword"):
        resolve(when=ResolveAt.CONFIG_AVAILABLE, decorate_with=lambda **kw: tag(a="b"))


# --- @config(resolver) ----------------------------------------------------------------------------


async def test_config_resolver_includes_the_function_when_it_returns_true() -> None:
    @config(lambda cfg: cfg.get("mode") == "fast")
    def speed__fast() -> str:
        return "fast"

    @config(lambda cfg: cfg.get("mode") != "fast")
    def speed__slow() -> str:
        return "slow"

    assert await build(speed__fast, speed__slow, cfg={"mode": "fast"}).execute(["speed"]) == {
        "speed": "fast"
    }
    assert await build(speed__fast, speed__slow, cfg={}).execute(["speed"]) == {"speed": "slow"}


async def test_config_resolver_target_name_names_the_node() -> None:
    @config(lambda cfg: True, target_name="renamed")
    def original() -> int:
        return 1

    assert await build(original, cfg={}).execute(["renamed"]) == {"renamed": 1}


def test_config_resolver_with_config_used_sees_only_those_keys() -> None:
    seen: list[dict[str, Any]] = []

    def resolves(cfg: dict[str, Any]) -> bool:
        seen.append(dict(cfg))
        return True

    @config(resolves, config_used=["a"])
    def x() -> int:
        return 1

    build(x, cfg={"a": 1, "b": 2})
    assert seen == [{"a": 1, "hamilton.enable_power_user_mode": False}]


def test_config_resolver_needs_a_callable() -> None:
    with pytest.raises(TypeError, match="callable"):
        config("mode")  # type: ignore[arg-type]
