"""Driver idioms a Hamilton port hits first work as in Hamilton."""

from __future__ import annotations

import math
import sys
from typing import Any

import pytest
from conftest import build, make_module

from asyncdag import Builder, Collect, Driver, Parallelizable, ad_hoc_utils, base, executors
from asyncdag.errors import GraphError, MissingInputError, UnknownNodeError
from asyncdag.execution import grouping
from asyncdag.function_modifiers import InvalidDecoratorException


def _overrides_module() -> Any:
    def b(a: int) -> int:
        return a + 1

    def c(b: int) -> int:
        return b + 1

    def d(c: int) -> int:
        return c + 1

    return make_module(b, c, d)


# --- results and adapters -------------------------------------------------------------------


def test_with_adapter_default_adapter_returns_a_dict() -> None:
    dr = Builder().with_modules(_overrides_module()).with_adapter(base.DefaultAdapter()).build()
    assert dr.execute_sync(["d"], inputs={"a": 1}) == {"d": 4}


def test_with_adapter_shapes_the_result() -> None:
    class Count:
        def build_result(self, **outputs: Any) -> int:
            return len(outputs)

    dr = Builder().with_modules(_overrides_module()).with_adapter(Count()).build()
    assert dr.execute_sync(["c", "d"], inputs={"a": 1}) == 2


def test_with_adapter_twice_is_an_error_as_in_hamilton() -> None:
    builder = Builder().with_adapter(base.DefaultAdapter())
    with pytest.raises(ValueError, match="adapter twice"):
        builder.with_adapter(base.DefaultAdapter())


def test_with_adapter_rejects_what_is_not_a_result_builder() -> None:
    with pytest.raises(TypeError, match="build_result"):
        Builder().with_adapter(object())


def test_driver_takes_default_adapter_as_hamiltons_constructor() -> None:
    dr = Driver({}, _overrides_module(), adapter=base.DefaultAdapter())
    assert dr.execute_sync(["b"], inputs={"a": 1}) == {"b": 2}


# --- PandasDataFrameResult ------------------------------------------------------------------


def test_pandas_result_puts_series_side_by_side() -> None:
    pd = pytest.importorskip("pandas")
    out = base.PandasDataFrameResult.build_result(x=pd.Series([1, 2]), y=pd.Series([3, 4]))
    pd.testing.assert_frame_equal(out, pd.DataFrame({"x": [1, 2], "y": [3, 4]}))


def test_pandas_result_of_scalars_is_one_row() -> None:
    pd = pytest.importorskip("pandas")
    out = base.PandasDataFrameResult().build_result(a=1, b="two")
    pd.testing.assert_frame_equal(out, pd.DataFrame([{"a": 1, "b": "two"}]))


def test_pandas_result_of_one_frame_is_that_frame() -> None:
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"q": [1.0]})
    assert base.PandasDataFrameResult.build_result(f=frame) is frame


def test_pandas_result_prefixes_frame_columns_with_the_output_name() -> None:
    pd = pytest.importorskip("pandas")
    out = base.PandasDataFrameResult.build_result(
        f=pd.DataFrame({"a": [1, 2]}), s=pd.Series([5, 6]), k=7
    )
    expected = pd.DataFrame({"f.a": [1, 2], "s": [5, 6], "k": [7, 7]})
    pd.testing.assert_frame_equal(out, expected)


def test_pandas_result_refuses_a_column_defined_twice() -> None:
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"a": [1]})
    with pytest.raises(ValueError, match=r"f\.a"):
        base.PandasDataFrameResult.build_result(f=frame, **{"f.a": pd.Series([2])})


def test_pandas_result_from_a_driver_with_an_input_requested_as_output() -> None:
    pd = pytest.importorskip("pandas")

    def avg_2(spend: pd.Series) -> pd.Series:
        return spend.rolling(2).mean()

    dr = Builder().with_modules(make_module(avg_2)).with_adapter(base.PandasDataFrameResult())
    out = dr.build().execute_sync(
        ["avg_2", "e"], inputs={"spend": pd.Series([1, 1, 1]), "e": pd.Series([9, 9, 9])}
    )
    expected = pd.DataFrame({"avg_2": [math.nan, 1.0, 1.0], "e": [9, 9, 9]})
    pd.testing.assert_frame_equal(out, expected)


# --- grouping strategies --------------------------------------------------------------------


def _fan_out_module() -> Any:
    def item(n: int) -> Parallelizable[int]:
        yield from range(n)

    def doubled(item: int) -> int:
        return item * 2

    def total(doubled: Collect[int]) -> int:
        return sum(doubled)

    return make_module(item, doubled, total)


@pytest.mark.parametrize(
    "strategy", [grouping.GroupByRepeatableBlocks(), grouping.GroupNodesIndividually()]
)
def test_with_grouping_strategy_is_accepted_and_changes_nothing(strategy: Any) -> None:
    dr = (
        Builder()
        .with_modules(_fan_out_module())
        .enable_dynamic_execution(allow_experimental_mode=True)
        .with_grouping_strategy(strategy)
        .build()
    )
    assert dr.execute_sync(["total"], inputs={"n": 4}) == {"total": 12}


def test_with_grouping_strategy_twice_is_an_error_as_in_hamilton() -> None:
    builder = Builder().with_grouping_strategy(grouping.GroupByRepeatableBlocks())
    with pytest.raises(ValueError, match="grouping strategy twice"):
        builder.with_grouping_strategy(grouping.GroupNodesIndividually())


def test_with_grouping_strategy_rejects_what_is_not_a_strategy() -> None:
    with pytest.raises(TypeError, match="GroupByRepeatableBlocks"):
        Builder().with_grouping_strategy("blocks")


# --- module overrides -----------------------------------------------------------------------


def _second_module() -> Any:
    def c(b: int) -> int:
        return b * 10

    return make_module(c)


def test_two_modules_defining_one_node_is_an_error_without_overrides() -> None:
    with pytest.raises(GraphError, match="'c' is defined by 2 functions"):
        Builder().with_modules(_overrides_module(), _second_module()).build()


def test_allow_module_overrides_lets_the_later_module_win() -> None:
    dr = (
        Builder()
        .with_modules(_overrides_module(), _second_module())
        .allow_module_overrides()
        .build()
    )
    assert dr.execute_sync(["d"], overrides={"b": 1}) == {"d": 11}
    (c,) = [v for v in dr.list_available_variables() if v.name == "c"]
    assert c.originating_functions[0](2) == 20


def test_allow_module_overrides_keeps_the_earlier_module_when_alone() -> None:
    first = _overrides_module()
    dr = Builder().with_modules(first).allow_module_overrides().build()
    assert dr.execute_sync(["d"], inputs={"a": 1}) == {"d": 4}


def test_allow_module_overrides_still_refuses_duplicates_inside_one_module() -> None:
    def b(a: int) -> int:
        return a

    def b__alt(a: int) -> int:
        return a

    from asyncdag import config

    alt = config.when(x=1)(b__alt)
    module = make_module(b, alt)
    with pytest.raises(GraphError, match="'b' is defined by 2 functions"):
        Builder().with_modules(module).with_config({"x": 1}).allow_module_overrides().build()


# --- temporary modules ----------------------------------------------------------------------


def test_create_temporary_module_holds_the_functions_and_builds_a_driver() -> None:
    def x(a: int) -> int:
        return a + 1

    def y(x: int) -> int:
        return x * 2

    module = ad_hoc_utils.create_temporary_module(x, y)
    try:
        assert module.__name__.startswith("temporary_module_")
        assert module.x is not x  # copies: the caller's functions are untouched
        assert x.__module__ == __name__
        assert Builder().with_modules(module).build().execute_sync(["y"], {"a": 1}) == {"y": 4}
    finally:
        del sys.modules[module.__name__]


def test_create_temporary_module_refuses_a_helper_function() -> None:
    def _helper(a: int) -> int:
        return a

    with pytest.raises(ValueError, match="_helper"):
        ad_hoc_utils.create_temporary_module(_helper)


def test_create_temporary_module_refuses_a_name_already_taken() -> None:
    def x(a: int) -> int:
        return a

    with pytest.raises(ValueError, match="already exists"):
        ad_hoc_utils.create_temporary_module(x, module_name="sys")


def test_temporary_module_branches_run_on_real_worker_processes() -> None:
    def item(n: int) -> Parallelizable[int]:
        yield from range(n)

    def pid_and_square(item: int) -> tuple[int, int]:
        import os

        return os.getpid(), item * item

    def squares(pid_and_square: Collect[tuple[int, int]]) -> list[tuple[int, int]]:
        return list(pid_and_square)

    module = ad_hoc_utils.create_temporary_module(item, pid_and_square, squares)
    try:
        dr = (
            Builder()
            .with_modules(module)
            .with_remote_executor(executors.ProcessExecutor(max_tasks=2))
            .build()
        )
        out = dr.execute_sync(["squares"], inputs={"n": 5})["squares"]
    finally:
        del sys.modules[module.__name__]
    assert [sq for _, sq in out] == [0, 1, 4, 9, 16]
    import os

    assert os.getpid() not in {pid for pid, _ in out}


# --- requests and their errors --------------------------------------------------------------


def test_an_input_can_be_requested_as_an_output() -> None:
    dr = Builder().with_modules(_overrides_module()).build()
    assert dr.execute_sync(["d", "e"], inputs={"c": 1, "e": 10}) == {"d": 2, "e": 10}


def test_an_input_requested_as_output_inside_a_parallel_run() -> None:
    dr = Builder().with_modules(_fan_out_module()).build()
    assert dr.execute_sync(["total", "tag"], inputs={"n": 3, "tag": "x"}) == {
        "total": 6,
        "tag": "x",
    }


def test_an_unknown_output_not_in_inputs_is_still_an_unknown_node_error() -> None:
    dr = Builder().with_modules(_overrides_module()).build()
    with pytest.raises(UnknownNodeError, match="'f'"):
        dr.execute_sync(["d", "f"], inputs={"a": 1})


def test_unknown_node_and_missing_input_are_value_errors_as_in_hamilton() -> None:
    dr = Builder().with_modules(_overrides_module()).build()
    with pytest.raises(ValueError, match="'f'"):
        dr.execute_sync(["f"], inputs={"a": 1})
    with pytest.raises(ValueError, match="'a'"):
        dr.execute_sync(["d"])
    assert issubclass(UnknownNodeError, ValueError)
    assert issubclass(MissingInputError, ValueError)


def test_invalid_decorator_exception_is_graph_error() -> None:
    assert InvalidDecoratorException is GraphError


# --- validate_execution ---------------------------------------------------------------------


def test_validate_execution_passes_a_runnable_request_and_runs_nothing() -> None:
    calls: list[int] = []

    def b(a: int) -> int:
        calls.append(a)
        return a

    dr = build(b)
    assert dr.validate_execution(["b"], inputs={"a": 1}) is None
    dr.validate_execution(["b"], overrides={"b": 2})
    assert calls == []


def test_validate_execution_raises_what_execute_would() -> None:
    dr = Builder().with_modules(_overrides_module()).build()
    with pytest.raises(MissingInputError, match="'a'"):
        dr.validate_execution(["d"])
    with pytest.raises(UnknownNodeError):
        dr.validate_execution(["nope"], inputs={"a": 1})
    dr.validate_execution(["d", "e"], inputs={"a": 1, "e": 10})


# --- Variable -------------------------------------------------------------------------------


def test_variable_has_documentation_and_dependencies_as_in_hamilton() -> None:
    def b(a: int, scale: int = 2) -> int:
        """Scaled a."""
        return a * scale

    def c(b: int) -> int:
        return b

    dr = build(b, c)
    variables = {v.name: v for v in dr.list_available_variables()}
    assert variables["b"].documentation == "Scaled a."
    assert variables["b"].required_dependencies == {"a"}
    assert variables["b"].optional_dependencies == {"scale"}
    assert variables["c"].documentation == ""
    assert variables["c"].required_dependencies == {"b"}
    assert variables["c"].optional_dependencies == set()


def test_input_variable_has_no_dependencies_and_its_first_consumer_as_origin() -> None:
    def b(a: int) -> int:
        return a

    def c(a: int) -> int:
        return a

    dr = build(b, c)
    (a,) = [v for v in dr.list_available_variables() if v.name == "a"]
    assert a.is_external_input
    assert a.documentation == ""
    assert a.required_dependencies == set() and a.optional_dependencies == set()
    assert a.originating_functions == (b,)


# --- more of Hamilton's driver surface --------------------------------------------------


def test_a_custom_result_builder_subclasses_result_mixin() -> None:
    class Joined(base.ResultMixin):
        @staticmethod
        def build_result(**outputs: Any) -> Any:
            return "+".join(str(outputs[k]) for k in sorted(outputs))

    dr = Builder().with_modules(_overrides_module()).with_adapter(Joined()).build()
    assert dr.execute_sync(["b", "c"], inputs={"a": 1}) == "2+3"


def test_result_mixin_without_build_result_cannot_be_made() -> None:
    with pytest.raises(TypeError):
        base.ResultMixin()  # type: ignore[abstract]


def test_builder_copy_is_independent_of_the_original() -> None:
    builder = Builder().with_modules(_overrides_module()).with_config({"k": 1})
    builder.with_adapter(base.DefaultAdapter())
    copy = builder.copy()
    assert copy is not builder
    assert copy.__dict__ == builder.__dict__
    copy.with_config({"k": 2}).with_modules(_second_module())
    assert builder.build().graph.config == {"k": 1}
    assert len(copy._modules) == 2 and len(builder._modules) == 1


def _tagged_module() -> Any:
    from asyncdag import tag

    @tag(region=["us", "uk"])
    def d(a: int) -> int:
        return a

    @tag(region="fr")
    def e(a: int) -> int:
        return a

    return make_module(d, e)


@pytest.mark.parametrize(
    ("wanted", "names"),
    [("us", {"d"}), (["uk"], {"d"}), (["nz", "uk"], {"d"}), (["fr", "us"], {"d", "e"})],
)
def test_tag_filter_matches_a_list_valued_tag_by_any_of_its_values(
    wanted: Any, names: set[str]
) -> None:
    dr = Builder().with_modules(_tagged_module()).build()
    assert {v.name for v in dr.list_available_variables({"region": wanted})} == names


def test_tag_filter_with_an_empty_list_is_a_value_error() -> None:
    dr = Builder().with_modules(_tagged_module()).build()
    with pytest.raises(ValueError, match="region"):
        dr.list_available_variables({"region": []})


def test_simple_python_graph_adapter_delegates_to_its_result_builder() -> None:
    pd = pytest.importorskip("pandas")
    adapter = base.SimplePythonGraphAdapter(base.PandasDataFrameResult())
    dr = Driver({}, _overrides_module(), adapter=adapter)
    out = dr.execute_sync(["b", "c"], inputs={"a": 1})
    pd.testing.assert_frame_equal(out, pd.DataFrame([{"b": 2, "c": 3}]))


def test_simple_python_graph_adapter_defaults_to_a_dict_as_in_hamilton() -> None:
    dr = Driver({}, _overrides_module(), adapter=base.SimplePythonGraphAdapter())
    assert dr.execute_sync(["b"], inputs={"a": 1}) == {"b": 2}
    assert isinstance(base.DefaultAdapter(), base.SimplePythonGraphAdapter)


def test_simple_python_dataframe_graph_adapter_returns_a_frame() -> None:
    pd = pytest.importorskip("pandas")
    dr = Driver({}, _overrides_module(), adapter=base.SimplePythonDataFrameGraphAdapter())
    out = dr.execute_sync(["b"], inputs={"a": 1})
    pd.testing.assert_frame_equal(out, pd.DataFrame([{"b": 2}]))


@pytest.mark.parametrize("name", ["GroupNodesAllAsOne", "GroupNodesByLevel"])
def test_hamiltons_other_grouping_strategies_are_accepted_too(name: str) -> None:
    strategy = getattr(grouping, name)()
    dr = Builder().with_modules(_fan_out_module()).with_grouping_strategy(strategy).build()
    assert dr.execute_sync(["total"], inputs={"n": 3}) == {"total": 6}
