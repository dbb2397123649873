"""Hamilton's dependency specs: ``group(...)`` in ``@parameterize``/``@inject``, and
``configuration("key")`` in ``@subdag(config=...)``; and the submodule paths Hamilton has."""

from collections.abc import Callable
from typing import Any

import pytest
from conftest import make_module

from asyncdag import Builder, Driver
from asyncdag.errors import GraphError
from asyncdag.function_modifiers import (
    config,
    configuration,
    group,
    inject,
    parameterize,
    source,
    subdag,
    value,
)


def build(*fns: Callable[..., Any], cfg: dict[str, Any] | None = None) -> Driver:
    return Builder().with_modules(make_module(*fns)).with_config(cfg or {}).build()


def _sources() -> list[Callable[..., Any]]:
    def a() -> int:
        return 1

    def b() -> int:
        return 2

    return [a, b]


async def test_inject_group_passes_a_list_of_sources_and_values_in_order() -> None:
    @inject(parts=group(source("a"), value(10), source("b")))
    def total(parts: list[int]) -> list[int]:
        return parts

    dr = build(*_sources(), total)
    assert (await dr.execute(["total"]))["total"] == [1, 10, 2]


async def test_inject_group_of_keywords_passes_a_dict() -> None:
    @inject(parts=group(first=source("a"), fixed=value(10)))
    def total(parts: dict[str, int]) -> dict[str, int]:
        return parts

    dr = build(*_sources(), total)
    assert (await dr.execute(["total"]))["total"] == {"first": 1, "fixed": 10}


async def test_inject_keeps_the_function_name_and_its_other_parameters() -> None:
    @inject(n=value(3))
    def scaled(a: int, n: int) -> int:
        return a * n

    dr = build(*_sources(), scaled)
    assert set(dr.graph.nodes) == {"a", "b", "scaled"}
    assert (await dr.execute(["scaled"]))["scaled"] == 3


async def test_parameterize_with_group_makes_one_node_per_output() -> None:
    @parameterize(
        both={"parts": group(source("a"), source("b"))},
        only_b={"parts": group(source("b"))},
    )
    def summed(parts: list[int]) -> int:
        return sum(parts)

    dr = build(*_sources(), summed)
    assert await dr.execute(["both", "only_b"]) == {"both": 3, "only_b": 2}


def test_group_on_a_parameter_not_annotated_as_a_list_raises_graph_error_naming_it() -> None:
    @inject(parts=group(source("a"), source("b")))
    def total(parts: int) -> int:
        return parts

    with pytest.raises(GraphError, match=r"'parts'.*list\[T\]") as excinfo:
        build(*_sources(), total)
    assert excinfo.value.node == "total"


def test_group_member_type_clash_with_its_source_raises_graph_error() -> None:
    def word() -> str:
        return "x"

    @inject(parts=group(source("word")))
    def total(parts: list[int]) -> int:
        return sum(parts)

    with pytest.raises(GraphError, match="type mismatch"):
        build(word, total)


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [((), {}), ((value(1),), {"x": value(2)}), (("a",), {})],
    ids=["empty", "both kinds", "not a dependency"],
)
def test_group_with_wrong_arguments_raises_graph_error(args: Any, kwargs: Any) -> None:
    with pytest.raises(GraphError):
        group(*args, **kwargs)


async def test_subdag_config_from_configuration_reads_another_outer_config_key() -> None:
    @config.when(fast=True)
    def speed__fast() -> str:
        return "fast"

    @config.when(fast=False)
    def speed__slow() -> str:
        return "slow"

    @subdag(speed__fast, speed__slow, config={"fast": configuration("outer_fast")})
    def chosen(speed: str) -> str:
        return speed

    dr = build(chosen, cfg={"outer_fast": True})
    assert (await dr.execute(["chosen"]))["chosen"] == "fast"
    assert (await dr.execute(["chosen.fast"]))["chosen.fast"] is True


def test_subdag_configuration_of_an_absent_key_raises_graph_error_naming_it() -> None:
    def speed() -> str:
        return "x"

    @subdag(speed, config={"fast": configuration("missing_key")})
    def chosen(speed: str) -> str:
        return speed

    with pytest.raises(GraphError, match="missing_key") as excinfo:
        build(chosen, cfg={})
    assert excinfo.value.node == "chosen"


def test_subdag_config_with_a_source_raises_graph_error() -> None:
    def speed() -> str:
        return "x"

    @subdag(speed, config={"fast": source("speed")})
    def chosen(speed: str) -> str:
        return speed

    with pytest.raises(GraphError, match=r"configuration\(\)"):
        build(chosen)


def test_subdag_nodes_carry_hamiltons_non_final_tag() -> None:
    from asyncdag.function_modifiers.base import NodeTransformer

    @subdag(*_sources())
    def both(a: int, b: int) -> int:
        return a + b

    tags = {v.name: v.tags for v in build(both).list_available_variables()}
    assert tags["both.a"][NodeTransformer.NON_FINAL_TAG] is True
    assert NodeTransformer.NON_FINAL_TAG not in tags["both"]


@pytest.mark.parametrize(
    ("path", "names"),
    [
        ("asyncdag.function_modifiers.dependencies", ["source", "value", "group"]),
        ("asyncdag.function_modifiers.configuration", ["config"]),
        ("asyncdag.function_modifiers.expanders", ["parameterize", "extract_fields", "inject"]),
        ("asyncdag.function_modifiers.macros", ["does", "pipe_input", "mutate", "step"]),
        ("asyncdag.function_modifiers.recursive", ["subdag", "parameterized_subdag"]),
        ("asyncdag.function_modifiers.metadata", ["tag", "tag_outputs", "cache"]),
        ("asyncdag.function_modifiers.validation", ["check_output", "check_output_custom"]),
        ("asyncdag.function_modifiers.adapters", ["load_from", "save_to", "dataloader"]),
        ("asyncdag.function_modifiers.delayed", ["resolve", "ResolveAt"]),
        ("asyncdag.function_modifiers.base", ["InvalidDecoratorException"]),
    ],
)
def test_hamiltons_submodule_paths_give_the_package_objects(path: str, names: list[str]) -> None:
    import importlib

    import asyncdag.function_modifiers as package

    module = importlib.import_module(path)
    for name in names:
        assert getattr(module, name) is getattr(package, name)


def test_configuration_from_the_package_is_the_dependency_and_its_module_still_imports() -> None:
    from asyncdag.function_modifiers.configuration import config as config_again
    from asyncdag.function_modifiers.dependencies import ConfigDependency

    assert configuration("k") == ConfigDependency("k")
    assert config_again is config


def test_subdag_collect_functions_takes_functions_and_modules() -> None:
    def inner(out: int = 7) -> int:
        return out

    module = make_module(inner)
    assert subdag.collect_functions([inner])[0]() == 7
    assert subdag.collect_functions([module])[0]() == 7


async def test_hamilton_exclude_leaves_a_helper_out_of_the_dag_and_it_still_works_as_a_step() -> (
    None
):
    from asyncdag.function_modifiers import hamilton_exclude, pipe_input, step

    @hamilton_exclude
    def helper(x: int) -> int:
        return x + 1

    @pipe_input(step(helper))
    def result(raw: int) -> int:
        return raw

    dr = build(helper, result)
    assert "helper" not in dr.graph.nodes
    assert (await dr.execute(["result"], inputs={"raw": 1}))["result"] == 2


async def test_group_and_unpack_fields_run_in_branches_on_worker_processes() -> None:
    from asyncdag import Collect, Parallelizable, executors
    from asyncdag.function_modifiers import unpack_fields

    def item() -> Parallelizable[int]:
        yield from (1, 2)

    @unpack_fields("low", "high")
    def bounds(item: int) -> tuple[int, int]:
        return item, item * 10

    @inject(parts=group(source("low"), value(5), source("high")))
    def parts(parts: list[int]) -> int:
        return sum(parts)

    def totals(parts: Collect[int]) -> list[int]:
        return list(parts)

    module = make_module(item, bounds, parts, totals)
    dr = Builder().with_modules(module).with_remote_executor(executors.ProcessExecutor(1)).build()
    async with dr:
        assert await dr.execute(["totals"]) == {"totals": [16, 27]}
