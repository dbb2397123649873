"""Inputs, defaults, config as inputs, overrides, output selection and ``execute_sync``."""

from typing import Any

import pytest
from conftest import make_module

from asyncdag import Builder, Collect, Parallelizable
from asyncdag.errors import AsyncDagError, GraphError, MissingInputError, UnknownNodeError

# --- inputs and defaults ------------------------------------------------------------------------


async def test_inputs_feed_names_no_function_defines() -> None:
    def doubled(base: int) -> int:
        return base * 2

    def described(doubled: int, unit: str) -> str:
        return f"{doubled} {unit}"

    dr = Builder().with_modules(make_module(doubled, described)).build()

    out = await dr.execute(["described"], inputs={"base": 4, "unit": "kg"})

    assert out == {"described": "8 kg"}


async def test_result_holds_exactly_the_requested_outputs() -> None:
    def first() -> int:
        return 1

    def second(first: int) -> int:
        return first + 1

    def third(second: int) -> int:
        return second + 1

    dr = Builder().with_modules(make_module(first, second, third)).build()

    assert await dr.execute(["third", "first"]) == {"third": 3, "first": 1}


async def test_parameter_default_is_used_when_the_input_is_absent() -> None:
    def greeting(name: str = "world") -> str:
        return f"hello {name}"

    dr = Builder().with_modules(make_module(greeting)).build()

    assert await dr.execute(["greeting"]) == {"greeting": "hello world"}


async def test_input_replaces_a_parameter_default() -> None:
    def greeting(name: str = "world") -> str:
        return f"hello {name}"

    dr = Builder().with_modules(make_module(greeting)).build()

    assert await dr.execute(["greeting"], inputs={"name": "ada"}) == {"greeting": "hello ada"}


async def test_node_value_replaces_a_parameter_default_of_the_same_name() -> None:
    def name() -> str:
        return "node"

    def greeting(name: str = "world") -> str:
        return f"hello {name}"

    dr = Builder().with_modules(make_module(name, greeting)).build()

    assert await dr.execute(["greeting"]) == {"greeting": "hello node"}


async def test_config_values_are_usable_as_inputs() -> None:
    def scaled(factor: int, amount: int) -> int:
        return factor * amount

    dr = Builder().with_modules(make_module(scaled)).with_config({"factor": 3}).build()

    assert await dr.execute(["scaled"], inputs={"amount": 5}) == {"scaled": 15}


# --- missing inputs and unknown outputs ---------------------------------------------------------


async def test_missing_inputs_raise_before_anything_runs_naming_each_input_and_needer() -> None:
    ran: list[str] = []

    def ready() -> int:
        ran.append("ready")
        return 1

    def needs_alpha(alpha_input: int, ready: int) -> int:
        ran.append("needs_alpha")
        return alpha_input + ready

    def also_alpha(alpha_input: int) -> int:
        ran.append("also_alpha")
        return alpha_input

    def needs_beta(beta_input: int, ready: int) -> int:
        ran.append("needs_beta")
        return beta_input + ready

    dr = Builder().with_modules(make_module(ready, needs_alpha, also_alpha, needs_beta)).build()

    with pytest.raises(MissingInputError) as excinfo:
        await dr.execute(["needs_alpha", "also_alpha", "needs_beta"])

    error = excinfo.value
    assert {name: sorted(needers) for name, needers in error.missing.items()} == {
        "alpha_input": ["also_alpha", "needs_alpha"],
        "beta_input": ["needs_beta"],
    }
    message = str(error)
    for name in ("alpha_input", "beta_input", "needs_alpha", "also_alpha", "needs_beta"):
        assert name in message
    assert ran == []


async def test_missing_input_of_a_branch_node_raises_before_the_generator_runs() -> None:
    ran: list[str] = []

    def page() -> Parallelizable[int]:
        ran.append("page")
        yield from (1, 2)

    def scaled_page(page: int, page_scale: int) -> int:
        ran.append("scaled_page")
        return page * page_scale

    def scaled_pages(scaled_page: Collect[int]) -> list[int]:
        ran.append("scaled_pages")
        return list(scaled_page)

    dr = Builder().with_modules(make_module(page, scaled_page, scaled_pages)).build()

    with pytest.raises(MissingInputError) as excinfo:
        await dr.execute(["scaled_pages"])

    assert excinfo.value.missing == {"page_scale": ["scaled_page"]}
    assert ran == []


async def test_inputs_needed_only_by_unrequested_nodes_are_not_required() -> None:
    def wanted() -> int:
        return 1

    def unwanted(never_given: int) -> int:
        return never_given

    dr = Builder().with_modules(make_module(wanted, unwanted)).build()

    assert await dr.execute(["wanted"]) == {"wanted": 1}


async def test_unknown_output_raises_unknown_node_error_suggesting_close_matches() -> None:
    ran: list[str] = []

    def total_words() -> int:
        ran.append("total_words")
        return 1

    def unrelated_thing() -> int:
        ran.append("unrelated_thing")
        return 2

    dr = Builder().with_modules(make_module(total_words, unrelated_thing)).build()

    with pytest.raises(UnknownNodeError) as excinfo:
        await dr.execute(["unrelated_thing", "total_wrods"])

    error = excinfo.value
    assert error.name == "total_wrods"
    assert "total_words" in error.suggestions
    assert "unrelated_thing" not in error.suggestions
    message = str(error)
    assert "total_wrods" in message
    assert "total_words" in message
    assert "did you mean" in message.lower()
    assert ran == []


# --- overrides ----------------------------------------------------------------------------------


def _pipeline(ran: list[str]) -> Any:
    def raw_text(source_path: str) -> str:
        ran.append("raw_text")
        return f"contents of {source_path}"

    def cleaned(raw_text: str) -> str:
        ran.append("cleaned")
        return raw_text.strip()

    def letter_count(cleaned: str) -> int:
        ran.append("letter_count")
        return len(cleaned)

    return make_module(raw_text, cleaned, letter_count)


async def test_override_replaces_a_node_value_and_skips_the_node_and_its_upstream() -> None:
    ran: list[str] = []
    dr = Builder().with_modules(_pipeline(ran)).build()

    out = await dr.execute(
        ["letter_count"], inputs={"source_path": "x"}, overrides={"cleaned": "abc"}
    )

    assert out == {"letter_count": 3}
    assert ran == ["letter_count"]


async def test_override_makes_the_skipped_upstream_inputs_unnecessary() -> None:
    ran: list[str] = []
    dr = Builder().with_modules(_pipeline(ran)).build()

    out = await dr.execute(["letter_count"], overrides={"cleaned": "abcd"})

    assert out == {"letter_count": 4}
    assert ran == ["letter_count"]


async def test_overriding_a_requested_node_returns_the_override() -> None:
    ran: list[str] = []
    dr = Builder().with_modules(_pipeline(ran)).build()

    out = await dr.execute(["cleaned", "letter_count"], overrides={"cleaned": "xy"})

    assert out == {"cleaned": "xy", "letter_count": 2}
    assert ran == ["letter_count"]


async def test_override_still_runs_upstream_needed_by_another_requested_output() -> None:
    ran: list[str] = []

    def base() -> int:
        ran.append("base")
        return 10

    def left(base: int) -> int:
        ran.append("left")
        return base + 1

    def right(base: int) -> int:
        ran.append("right")
        return base + 2

    dr = Builder().with_modules(make_module(base, left, right)).build()

    out = await dr.execute(["left", "right"], overrides={"left": 0})

    assert out == {"left": 0, "right": 12}
    assert sorted(ran) == ["base", "right"]


async def test_overriding_a_parallelizable_node_with_a_list_fans_out_over_its_items() -> None:
    ran: list[str] = []

    def item() -> Parallelizable[int]:
        ran.append("item")
        yield from (1, 2, 3)

    def squared(item: int) -> int:
        ran.append("squared")
        return item * item

    def squares(squared: Collect[int]) -> list[int]:
        ran.append("squares")
        return list(squared)

    dr = Builder().with_modules(make_module(item, squared, squares)).build()

    out = await dr.execute(["squares"], overrides={"item": [5, 6, 7, 8]})

    assert out == {"squares": [25, 36, 49, 64]}
    assert "item" not in ran
    assert ran.count("squared") == 4


def _letters_producer(kind: str) -> Any:
    if kind == "sync_generator":

        def letters() -> Parallelizable[str]:
            yield from ("a", "b", "c")

    elif kind == "async_generator":

        async def letters() -> Parallelizable[str]:  # type: ignore[misc]
            for letter in ("a", "b", "c"):
                yield letter

    else:

        def letters() -> Parallelizable[str]:
            return ["a", "b", "c"]  # type: ignore[return-value]

    return letters


@pytest.mark.parametrize("kind", ["sync_generator", "async_generator", "returned_iterable"])
async def test_requesting_a_parallelizable_node_returns_the_list_of_its_items(kind: str) -> None:
    def upper(letters: str) -> str:
        return letters.upper()

    def uppers(upper: Collect[str]) -> list[str]:
        return list(upper)

    dr = Builder().with_modules(make_module(_letters_producer(kind), upper, uppers)).build()

    assert await dr.execute(["letters"]) == {"letters": ["a", "b", "c"]}
    assert await dr.execute(["letters", "uppers"]) == {
        "letters": ["a", "b", "c"],
        "uppers": ["A", "B", "C"],
    }


async def test_requesting_a_branch_node_alone_raises_graph_error_naming_its_collect() -> None:
    ran: list[str] = []

    def url() -> Parallelizable[str]:
        ran.append("url")
        yield from ("u1", "u2")

    def page_size(url: str) -> int:
        ran.append("page_size")
        return len(url)

    def all_page_sizes(page_size: Collect[int]) -> list[int]:
        ran.append("all_page_sizes")
        return list(page_size)

    dr = Builder().with_modules(make_module(url, page_size, all_page_sizes)).build()

    with pytest.raises(GraphError) as excinfo:
        await dr.execute(["page_size"])

    message = str(excinfo.value)
    assert "page_size" in message
    assert "all_page_sizes" in message
    assert ran == []


# --- what runs ----------------------------------------------------------------------------------


async def test_only_requested_outputs_and_their_upstream_run() -> None:
    ran: list[str] = []

    def root() -> int:
        ran.append("root")
        return 1

    def on_path(root: int) -> int:
        ran.append("on_path")
        return root + 1

    def requested(on_path: int) -> int:
        ran.append("requested")
        return on_path + 1

    def sibling(root: int) -> int:
        ran.append("sibling")
        return root

    def below_requested(requested: int) -> int:
        ran.append("below_requested")
        return requested

    def elsewhere() -> int:
        ran.append("elsewhere")
        return 0

    module = make_module(root, on_path, requested, sibling, below_requested, elsewhere)
    dr = Builder().with_modules(module).build()

    assert await dr.execute(["requested"]) == {"requested": 3}
    assert sorted(ran) == ["on_path", "requested", "root"]


async def test_shared_upstream_runs_once_per_execution() -> None:
    calls = {"shared": 0, "left": 0, "right": 0}

    def shared() -> int:
        calls["shared"] += 1
        return 1

    async def left(shared: int) -> int:
        calls["left"] += 1
        return shared + 1

    def right(shared: int) -> int:
        calls["right"] += 1
        return shared + 2

    def joined(left: int, right: int, shared: int) -> int:
        return left + right + shared

    dr = Builder().with_modules(make_module(shared, left, right, joined)).build()

    out = await dr.execute(["joined", "left", "right", "shared"])

    assert out == {"joined": 6, "left": 2, "right": 3, "shared": 1}
    assert calls == {"shared": 1, "left": 1, "right": 1}


async def test_each_execution_runs_its_nodes_again() -> None:
    calls: list[int] = []

    def stamp(value: int) -> int:
        calls.append(value)
        return value

    dr = Builder().with_modules(make_module(stamp)).build()

    assert await dr.execute(["stamp"], inputs={"value": 1}) == {"stamp": 1}
    assert await dr.execute(["stamp"], inputs={"value": 2}) == {"stamp": 2}
    assert calls == [1, 2]


# --- execute_sync -------------------------------------------------------------------------------


def _sync_test_module() -> Any:
    def base_value(offset: int) -> int:
        return 40 + offset

    async def answer(base_value: int) -> int:
        return base_value + 1

    return make_module(base_value, answer)


def test_execute_sync_returns_results_from_plain_sync_code() -> None:
    dr = Builder().with_modules(_sync_test_module()).build()

    assert dr.execute_sync(["answer"], inputs={"offset": 1}) == {"answer": 42}


def test_execute_sync_can_be_called_repeatedly() -> None:
    dr = Builder().with_modules(_sync_test_module()).build()

    assert dr.execute_sync(["answer"], inputs={"offset": 1}) == {"answer": 42}
    assert dr.execute_sync(["answer"], inputs={"offset": 2}) == {"answer": 43}


def test_execute_sync_raises_missing_input_error() -> None:
    dr = Builder().with_modules(_sync_test_module()).build()

    with pytest.raises(MissingInputError) as excinfo:
        dr.execute_sync(["answer"])

    assert excinfo.value.missing == {"offset": ["base_value"]}


async def test_execute_sync_inside_a_running_loop_raises_a_clear_asyncdag_error() -> None:
    ran: list[str] = []

    def probe() -> int:
        ran.append("probe")
        return 1

    dr = Builder().with_modules(make_module(probe)).build()

    with pytest.raises(AsyncDagError) as excinfo:
        dr.execute_sync(["probe"])

    message = str(excinfo.value)
    assert "loop" in message.lower()
    assert "await" in message
    assert "execute" in message
    assert ran == []
    # The driver is still usable the right way afterwards.
    assert await dr.execute(["probe"]) == {"probe": 1}


async def test_requested_input_that_every_consumer_may_omit_is_none_when_not_given() -> None:
    def offset(x: int, shift: int = 10) -> int:
        return x + shift

    dr = Builder().with_modules(make_module(offset)).build()

    assert await dr.execute(["offset", "shift"], inputs={"x": 1}) == {"offset": 11, "shift": None}


async def test_requested_input_that_some_consumer_needs_is_missing_when_not_given() -> None:
    def offset(x: int, shift: int = 10) -> int:
        return x + shift

    def scaled(shift: int) -> int:
        return 2 * shift

    dr = Builder().with_modules(make_module(offset, scaled)).build()

    with pytest.raises(MissingInputError) as info:
        await dr.execute(["offset", "shift"], inputs={"x": 1})
    assert "shift" in info.value.missing
