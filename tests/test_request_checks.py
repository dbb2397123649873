"""Mistakes in a request are named by ``execute`` before anything runs.

``final_vars`` of the wrong shape, input values that do not match the annotations reading them
(Hamilton's rules), and ``@tag(executor=...)`` names no executor has, on nodes that would run.
"""

import pickle
from typing import Any

import pytest
from conftest import build, make_module

from asyncdag import Builder, Collect, Parallelizable, executors, tag
from asyncdag.errors import AsyncDagError, GraphError, InputTypeError

# --- final_vars ---------------------------------------------------------------------------------


def total() -> int:
    return 3


def test_final_vars_given_as_a_string_is_a_type_error_showing_the_list_form() -> None:
    dr = build(total)

    with pytest.raises(TypeError, match=r"execute\(\['total'\]\)") as excinfo:
        dr.execute_sync("total")

    assert "string" in str(excinfo.value)


def test_final_vars_none_is_a_type_error_saying_what_to_pass() -> None:
    dr = build(total)

    with pytest.raises(TypeError, match=r"list of node names") as excinfo:
        dr.execute_sync(None)  # type: ignore[arg-type]

    assert "None" in str(excinfo.value)


def test_final_vars_that_is_not_iterable_is_a_type_error() -> None:
    dr = build(total)

    with pytest.raises(TypeError, match=r"list of node names"):
        dr.execute_sync(3)  # type: ignore[arg-type]


def test_final_vars_item_that_is_not_a_name_or_function_is_a_type_error_naming_it() -> None:
    dr = build(total)

    with pytest.raises(TypeError, match=r"3\.5") as excinfo:
        dr.execute_sync(["total", 3.5])  # type: ignore[list-item]

    assert "float" in str(excinfo.value)


async def test_final_vars_accepts_names_functions_and_variables() -> None:
    def doubled(total: int) -> int:
        return total * 2

    dr = build(total, doubled)
    (variable,) = [v for v in dr.list_available_variables() if v.name == "doubled"]

    assert await dr.execute([total, variable]) == {"total": 3, "doubled": 6}


async def test_a_string_in_final_vars_fails_in_the_async_execute_too() -> None:
    dr = build(total)

    with pytest.raises(TypeError, match="string"):
        await dr.execute("total")


# --- input types --------------------------------------------------------------------------------


async def test_input_of_the_wrong_type_raises_input_type_error_before_anything_runs() -> None:
    ran: list[str] = []

    def ready() -> int:
        ran.append("ready")
        return 1

    def squared(n: int, ready: int) -> int:
        ran.append("squared")
        return n * n + ready

    dr = build(ready, squared)

    with pytest.raises(InputTypeError) as excinfo:
        await dr.execute(["squared", "ready"], inputs={"n": "5"})

    error = excinfo.value
    assert (error.name, error.value_type, error.expected, error.readers) == (
        "n",
        str,
        int,
        ["squared"],
    )
    assert ran == []


async def test_input_type_error_message_names_input_types_readers_and_the_fix() -> None:
    def squared(n: int) -> int:
        return n * n

    def halved(n: int) -> float:
        return n / 2

    dr = build(squared, halved)

    with pytest.raises(InputTypeError) as excinfo:
        await dr.execute(["squared", "halved"], inputs={"n": "5"})

    message = str(excinfo.value)
    for part in ("'n'", "str", "int", "'squared'", "'halved'", "inputs="):
        assert part in message


def test_input_type_error_is_a_type_error_and_an_async_dag_error() -> None:
    assert issubclass(InputTypeError, TypeError)
    assert issubclass(InputTypeError, AsyncDagError)


def test_input_type_error_survives_pickling_with_its_fields_and_notes() -> None:
    error = InputTypeError("n", str, int, ["squared"])
    error.add_note("a note")

    copy = pickle.loads(pickle.dumps(error))

    assert type(copy) is InputTypeError
    assert (copy.name, copy.value_type, copy.expected, copy.readers) == ("n", str, int, ["squared"])
    assert str(copy) == str(error)
    assert copy.__notes__ == ["a note"]


async def test_config_value_of_the_wrong_type_raises_input_type_error() -> None:
    def squared(n: int) -> int:
        return n * n

    dr = Builder().with_modules(make_module(squared)).with_config({"n": "5"}).build()

    with pytest.raises(InputTypeError, match="'n'"):
        await dr.execute(["squared"])


async def test_input_read_inside_a_block_is_checked_before_the_generator_runs() -> None:
    ran: list[str] = []

    def page() -> Parallelizable[int]:
        ran.append("page")
        yield from (1, 2)

    def scaled(page: int, scale: int) -> int:
        ran.append("scaled")
        return page * scale

    def pages(scaled: Collect[int]) -> list[int]:
        return list(scaled)

    dr = build(page, scaled, pages, remote=executors.ThreadExecutor(max_tasks=2))

    with pytest.raises(InputTypeError, match="'scale'"):
        await dr.execute(["pages"], inputs={"scale": 2.5})

    assert ran == []


async def test_a_wrong_input_fails_every_execute_of_the_same_request() -> None:
    def squared(n: int) -> int:
        return n * n

    dr = build(squared)

    assert await dr.execute(["squared"], inputs={"n": 3}) == {"squared": 9}
    with pytest.raises(InputTypeError):
        await dr.execute(["squared"], inputs={"n": "3"})
    assert await dr.execute(["squared"], inputs={"n": 4}) == {"squared": 16}


async def test_input_read_only_by_nodes_that_do_not_run_is_not_checked() -> None:
    def squared(n: int) -> int:
        return n * n

    def named(label: str) -> str:
        return label

    dr = build(squared, named)

    assert await dr.execute(["named"], inputs={"n": "unused", "label": "x"}) == {"named": "x"}


async def test_overrides_are_not_type_checked_as_in_hamilton() -> None:
    def base() -> int:
        return 1

    def shown(base: int) -> str:
        return repr(base)

    dr = build(base, shown)

    assert await dr.execute(["shown"], overrides={"base": "one"}) == {"shown": "'one'"}


async def test_none_input_is_accepted_whatever_the_annotation_as_in_hamilton() -> None:
    def shown(n: int) -> str:
        return repr(n)

    dr = build(shown)

    assert await dr.execute(["shown"], inputs={"n": None}) == {"shown": "None"}


async def test_a_generator_given_for_an_iterable_parameter_is_not_advanced_by_the_check() -> None:
    from collections.abc import Iterable

    def summed(numbers: Iterable[int]) -> int:
        return sum(numbers)

    dr = build(summed)

    assert await dr.execute(["summed"], inputs={"numbers": (i for i in range(4))}) == {"summed": 6}


def test_a_pandas_frame_passes_a_dataframe_annotation_and_a_dict_does_not() -> None:
    pd = pytest.importorskip("pandas")  # imported here, off the event loop

    def rows(frame: pd.DataFrame) -> int:
        return len(frame)

    dr = build(rows)

    assert dr.execute_sync(["rows"], inputs={"frame": pd.DataFrame({"a": [1, 2]})}) == {"rows": 2}
    with pytest.raises(InputTypeError, match="DataFrame"):
        dr.execute_sync(["rows"], inputs={"frame": {"a": [1, 2]}})


# --- executor tags ------------------------------------------------------------------------------


def _cpu_tagged_module() -> Any:
    ran: list[str] = []

    def plain() -> int:
        ran.append("plain")
        return 1

    @tag(executor="cpu")
    def heavy(plain: int) -> int:
        ran.append("heavy")
        return plain + 1

    module = make_module(plain, heavy)
    module.ran = ran
    return module


async def test_a_module_tagging_an_executor_that_does_not_exist_still_builds() -> None:
    module = _cpu_tagged_module()

    dr = Builder().with_modules(module).build()

    assert await dr.execute(["plain"]) == {"plain": 1}


async def test_unknown_executor_tag_on_a_node_that_would_run_fails_before_anything_runs() -> None:
    module = _cpu_tagged_module()
    dr = Builder().with_modules(module).build()

    with pytest.raises(GraphError) as excinfo:
        await dr.execute(["heavy"])

    message = str(excinfo.value)
    assert "node 'heavy'" in message
    assert "executor='cpu'" in message
    assert ".with_executor('cpu', ...)" in message
    assert module.ran == []


async def test_unknown_executor_tag_fails_every_execute_of_the_same_request() -> None:
    dr = Builder().with_modules(_cpu_tagged_module()).build()

    for _ in range(2):
        with pytest.raises(GraphError, match="executor='cpu'"):
            await dr.execute(["heavy"])


async def test_unknown_executor_tag_on_an_overridden_node_is_not_an_error() -> None:
    dr = Builder().with_modules(_cpu_tagged_module()).build()

    assert await dr.execute(["heavy"], overrides={"heavy": 5}) == {"heavy": 5}


async def test_unknown_executor_tag_inside_a_block_fails_before_the_generator_runs() -> None:
    ran: list[str] = []

    def page() -> Parallelizable[int]:
        ran.append("page")
        yield from (1, 2)

    @tag(executor="gpu")
    def scaled(page: int) -> int:
        ran.append("scaled")
        return page * 2

    def pages(scaled: Collect[int]) -> list[int]:
        return list(scaled)

    def unrelated() -> int:
        return 0

    dr = build(page, scaled, pages, unrelated)

    assert await dr.execute(["unrelated"]) == {"unrelated": 0}
    with pytest.raises(GraphError, match="executor='gpu'"):
        await dr.execute(["pages"])
    assert ran == []


async def test_a_registered_executor_tag_runs_as_before() -> None:
    module = _cpu_tagged_module()
    dr = Builder().with_modules(module).with_executor("cpu", executors.InlineExecutor()).build()

    assert await dr.execute(["heavy"]) == {"heavy": 2}
