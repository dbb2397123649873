"""Graph faults are caught by ``build()`` with names, before anything runs; good graphs build."""

import re
from typing import Any, Optional

import pytest
from conftest import make_module

from asyncdag import Builder, Collect, Parallelizable, config
from asyncdag.errors import AsyncDagError, GraphError, MissingInputError


def _has_word(word: str, text: str) -> bool:
    return re.search(rf"(?<![A-Za-z0-9_]){re.escape(word)}(?![A-Za-z0-9_])", text) is not None


class Animal:
    pass


class Dog(Animal):
    pass


# --- cycles -------------------------------------------------------------------------------------


def test_cycle_raises_graph_error_naming_every_node_of_the_cycle() -> None:
    ran: list[str] = []

    def alpha_node(gamma_node: int) -> int:
        ran.append("alpha_node")
        return gamma_node

    def beta_node(alpha_node: int) -> int:
        ran.append("beta_node")
        return alpha_node

    def gamma_node(beta_node: int) -> int:
        ran.append("gamma_node")
        return beta_node

    def outside_cycle() -> int:
        ran.append("outside_cycle")
        return 1

    with pytest.raises(GraphError) as excinfo:
        Builder().with_modules(
            make_module(alpha_node, beta_node, gamma_node, outside_cycle)
        ).build()

    message = str(excinfo.value)
    for name in ("alpha_node", "beta_node", "gamma_node"):
        assert name in message
    assert "cycle" in message.lower()
    assert ran == []


def test_self_dependency_is_a_cycle() -> None:
    def loops_on_itself(loops_on_itself: int) -> int:
        return loops_on_itself

    with pytest.raises(GraphError, match="loops_on_itself"):
        Builder().with_modules(make_module(loops_on_itself)).build()


def test_graph_error_is_an_asyncdag_error() -> None:
    assert issubclass(GraphError, AsyncDagError)
    assert issubclass(MissingInputError, AsyncDagError)


# --- parallel blocks ----------------------------------------------------------------------------


def test_collect_of_a_plain_node_raises_graph_error_naming_both_nodes() -> None:
    ran: list[str] = []

    def plain_numbers() -> list[int]:
        ran.append("plain_numbers")
        return [1, 2, 3]

    def summed_numbers(plain_numbers: Collect[int]) -> int:
        ran.append("summed_numbers")
        return sum(plain_numbers)

    with pytest.raises(GraphError) as excinfo:
        Builder().with_modules(make_module(plain_numbers, summed_numbers)).build()

    message = str(excinfo.value)
    assert "summed_numbers" in message
    assert "plain_numbers" in message
    assert "Parallelizable" in message
    assert ran == []


def test_collect_with_no_parallelizable_anywhere_upstream_raises_graph_error() -> None:
    def seed() -> int:
        return 1

    def doubled_seed(seed: int) -> int:
        return seed * 2

    def gathered_seeds(doubled_seed: Collect[int]) -> list[int]:
        return list(doubled_seed)

    with pytest.raises(GraphError) as excinfo:
        Builder().with_modules(make_module(seed, doubled_seed, gathered_seeds)).build()

    assert "gathered_seeds" in str(excinfo.value)
    assert "Parallelizable" in str(excinfo.value)


def test_node_reading_branch_values_of_two_sibling_blocks_raises_graph_error() -> None:
    ran: list[str] = []

    def left_items() -> Parallelizable[int]:
        ran.append("left_items")
        yield from (1, 2)

    def right_items() -> Parallelizable[int]:
        ran.append("right_items")
        yield from (3, 4)

    def left_square(left_items: int) -> int:
        ran.append("left_square")
        return left_items**2

    def right_square(right_items: int) -> int:
        ran.append("right_square")
        return right_items**2

    def mixed_pair(left_square: int, right_square: int) -> int:
        ran.append("mixed_pair")
        return left_square + right_square

    def mixed_total(mixed_pair: Collect[int]) -> int:
        ran.append("mixed_total")
        return sum(mixed_pair)

    module = make_module(
        left_items, right_items, left_square, right_square, mixed_pair, mixed_total
    )
    with pytest.raises(GraphError) as excinfo:
        Builder().with_modules(module).build()

    message = str(excinfo.value)
    assert "mixed_pair" in message
    # Both blocks must be identified, by their branch node or by their Parallelizable producer.
    assert "left_square" in message or "left_items" in message
    assert "right_square" in message or "right_items" in message
    assert "Collect" in message
    assert ran == []


def test_node_after_collect_that_also_reads_a_branch_value_raises_graph_error() -> None:
    ran: list[str] = []

    def page_number() -> Parallelizable[int]:
        ran.append("page_number")
        yield from (1, 2, 3)

    def page_words(page_number: int) -> int:
        ran.append("page_words")
        return page_number * 10

    def all_words(page_words: Collect[int]) -> int:
        ran.append("all_words")
        return sum(page_words)

    def leaky_report(all_words: int, page_words: int) -> str:
        ran.append("leaky_report")
        return f"{page_words}/{all_words}"

    with pytest.raises(GraphError) as excinfo:
        Builder().with_modules(
            make_module(page_number, page_words, all_words, leaky_report)
        ).build()

    message = str(excinfo.value)
    assert "leaky_report" in message
    assert "page_words" in message
    assert "Collect" in message
    assert ran == []


# --- names --------------------------------------------------------------------------------------


def _make_shared(value: int) -> Any:
    def shared_name() -> int:
        return value

    return shared_name


def test_same_function_name_in_two_modules_raises_graph_error_naming_both_modules() -> None:
    first = make_module(_make_shared(1), name="first_source")
    second = make_module(_make_shared(2), name="second_source")

    with pytest.raises(GraphError) as excinfo:
        Builder().with_modules(first, second).build()

    message = str(excinfo.value)
    assert "shared_name" in message
    assert first.__name__ in message
    assert second.__name__ in message


# --- config.when --------------------------------------------------------------------------------


def _mode_alternatives(ran: list[str]) -> Any:
    @config.when(mode="a")
    def source_text__a() -> str:
        ran.append("source_text__a")
        return "from a"

    @config.when(mode="b")
    def source_text__b() -> str:
        ran.append("source_text__b")
        return "from b"

    def shout(source_text: str) -> str:
        ran.append("shout")
        return source_text.upper()

    return make_module(source_text__a, source_text__b, shout)


def test_alternatives_with_config_key_absent_raise_graph_error_naming_node_and_key() -> None:
    ran: list[str] = []

    with pytest.raises(GraphError) as excinfo:
        Builder().with_modules(_mode_alternatives(ran)).build()

    message = str(excinfo.value)
    assert "source_text" in message
    assert _has_word("mode", message)
    assert ran == []


def test_alternatives_with_empty_config_raise_graph_error() -> None:
    ran: list[str] = []

    with pytest.raises(GraphError, match="source_text"):
        Builder().with_modules(_mode_alternatives(ran)).with_config({"other": 1}).build()
    assert ran == []


async def test_config_when_picks_the_alternative_matching_the_config_value() -> None:
    ran: list[str] = []
    dr = Builder().with_modules(_mode_alternatives(ran)).with_config({"mode": "b"}).build()

    out = await dr.execute(["shout", "source_text"])

    assert out == {"shout": "FROM B", "source_text": "from b"}
    assert "source_text__a" not in ran


async def test_lone_config_when_function_with_key_absent_is_dropped_and_becomes_an_input() -> None:
    ran: list[str] = []

    @config.when(debug=True)
    def extra_detail__debug() -> int:
        ran.append("extra_detail__debug")
        return 100

    def with_detail(extra_detail: int) -> int:
        ran.append("with_detail")
        return extra_detail + 1

    dr = Builder().with_modules(make_module(extra_detail__debug, with_detail)).build()

    variables = {v.name: v for v in dr.list_available_variables()}
    assert variables["extra_detail"].is_external_input
    with pytest.raises(MissingInputError) as excinfo:
        await dr.execute(["with_detail"])
    assert excinfo.value.missing == {"extra_detail": ["with_detail"]}
    assert ran == []

    out = await dr.execute(["with_detail"], inputs={"extra_detail": 5})
    assert out == {"with_detail": 6}
    assert ran == ["with_detail"]


async def test_lone_config_when_function_is_kept_when_its_condition_holds() -> None:
    @config.when(debug=True)
    def extra_detail__debug() -> int:
        return 100

    def with_detail(extra_detail: int) -> int:
        return extra_detail + 1

    dr = (
        Builder()
        .with_modules(make_module(extra_detail__debug, with_detail))
        .with_config({"debug": True})
        .build()
    )

    assert await dr.execute(["with_detail"]) == {"with_detail": 101}


def _when_not_module() -> Any:
    @config.when(mode="a")
    def flavour__a() -> str:
        return "a"

    @config.when_not(mode="a")
    def flavour__other() -> str:
        return "not a"

    return make_module(flavour__a, flavour__other)


@pytest.mark.parametrize(("mode", "expected"), [("a", "a"), ("b", "not a"), ("zzz", "not a")])
async def test_config_when_not_applies_when_the_value_differs(mode: str, expected: str) -> None:
    dr = Builder().with_modules(_when_not_module()).with_config({"mode": mode}).build()

    assert await dr.execute(["flavour"]) == {"flavour": expected}


def _when_in_module() -> Any:
    @config.when(mode="a")
    def flavour__a() -> str:
        return "a"

    @config.when_in(mode=["b", "c"])
    def flavour__b_or_c() -> str:
        return "b or c"

    return make_module(flavour__a, flavour__b_or_c)


@pytest.mark.parametrize(("mode", "expected"), [("a", "a"), ("b", "b or c"), ("c", "b or c")])
async def test_config_when_in_applies_when_the_value_is_listed(mode: str, expected: str) -> None:
    dr = Builder().with_modules(_when_in_module()).with_config({"mode": mode}).build()

    assert await dr.execute(["flavour"]) == {"flavour": expected}


# --- type clashes -------------------------------------------------------------------------------


def test_type_clash_raises_graph_error_naming_both_functions_and_both_types() -> None:
    ran: list[str] = []

    def distance_value() -> int:
        ran.append("distance_value")
        return 3

    def label_text(distance_value: str) -> str:
        ran.append("label_text")
        return distance_value

    with pytest.raises(GraphError) as excinfo:
        Builder().with_modules(make_module(distance_value, label_text)).build()

    message = str(excinfo.value)
    assert "distance_value" in message
    assert "label_text" in message
    assert _has_word("int", message)
    assert _has_word("str", message)
    assert ran == []


def test_type_clash_between_user_classes_names_both_classes() -> None:
    def pet() -> Animal:
        return Animal()

    def walk(pet: Dog) -> str:
        return "walked"

    with pytest.raises(GraphError) as excinfo:
        Builder().with_modules(make_module(pet, walk)).build()

    message = str(excinfo.value)
    assert "pet" in message
    assert "walk" in message
    assert _has_word("Animal", message)
    assert _has_word("Dog", message)


def _compatible_pairs() -> dict[str, tuple[Any, Any]]:
    """Producer return annotation and consumer parameter annotation that must be accepted."""
    return {
        "subclass": (Dog, Animal),
        "consumer_any": (int, Any),
        "producer_any": (Any, int),
        "optional_accepts_value": (int, Optional[int]),  # noqa: UP045 (pinning typing.Optional)
        "union_accepts_member": (int, int | None),
        "parametrized_into_bare_generic": (list[int], list),
        "bare_generic_into_parametrized": (list, list[int]),
        "same_type": (int, int),
        "unannotated_producer": (None, int),
        "unannotated_consumer": (int, None),
    }


@pytest.mark.parametrize(
    ("produced", "consumed"), list(_compatible_pairs().values()), ids=list(_compatible_pairs())
)
async def test_compatible_annotations_build_and_run(produced: Any, consumed: Any) -> None:
    value = Dog() if produced is Dog else ([1] if produced in (list, list[int]) else 1)

    def made() -> Any:
        return value

    def used(made: Any) -> Any:
        return made

    made.__annotations__ = {} if produced is None else {"return": produced}
    used.__annotations__ = {} if consumed is None else {"made": consumed}

    dr = Builder().with_modules(make_module(made, used)).build()

    assert await dr.execute(["used"]) == {"used": value}


async def test_parallelizable_item_type_matches_branch_parameter_type() -> None:
    def number() -> Parallelizable[int]:
        yield from (1, 2, 3)

    def tripled(number: int) -> int:
        return number * 3

    def tripled_all(tripled: Collect[int]) -> list[int]:
        return list(tripled)

    dr = Builder().with_modules(make_module(number, tripled, tripled_all)).build()

    assert await dr.execute(["tripled_all"]) == {"tripled_all": [3, 6, 9]}


def test_parallelizable_item_type_clashing_with_branch_parameter_raises_graph_error() -> None:
    ran: list[str] = []

    def number_item() -> Parallelizable[int]:
        ran.append("number_item")
        yield from (1, 2, 3)

    def shouted(number_item: str) -> str:
        ran.append("shouted")
        return number_item.upper()

    def shouted_all(shouted: Collect[str]) -> list[str]:
        ran.append("shouted_all")
        return list(shouted)

    with pytest.raises(GraphError) as excinfo:
        Builder().with_modules(make_module(number_item, shouted, shouted_all)).build()

    message = str(excinfo.value)
    assert "number_item" in message
    assert "shouted" in message
    assert _has_word("int", message)
    assert _has_word("str", message)
    assert ran == []


def test_collect_item_type_clashing_with_branch_return_type_raises_graph_error() -> None:
    ran: list[str] = []

    def word_item() -> Parallelizable[str]:
        ran.append("word_item")
        yield from ("a", "bb")

    def word_length(word_item: str) -> int:
        ran.append("word_length")
        return len(word_item)

    def all_lengths(word_length: Collect[str]) -> list[str]:
        ran.append("all_lengths")
        return list(word_length)

    with pytest.raises(GraphError) as excinfo:
        Builder().with_modules(make_module(word_item, word_length, all_lengths)).build()

    message = str(excinfo.value)
    assert "word_length" in message
    assert "all_lengths" in message
    assert _has_word("int", message)
    assert _has_word("str", message)
    assert ran == []


async def test_async_nodes_build_and_run_like_sync_ones() -> None:
    async def fetched() -> int:
        return 20

    async def added(fetched: int, extra: int) -> int:
        return fetched + extra

    dr = Builder().with_modules(make_module(fetched, added)).build()

    assert await dr.execute(["added"], inputs={"extra": 1}) == {"added": 21}


# --- GraphError's fields -------------------------------------------------------------------------


def test_graph_error_from_a_type_clash_names_the_consuming_function_and_node() -> None:
    def produced() -> str:
        return "x"

    def consumer(produced: int) -> int:
        return produced

    module = make_module(produced, consumer)
    with pytest.raises(GraphError) as excinfo:
        Builder().with_modules(module).build()
    assert excinfo.value.function == f"{module.__name__}.{consumer.__qualname__}"
    assert excinfo.value.node == "consumer"


def test_graph_error_from_a_modifier_names_the_decorated_function_and_its_node() -> None:
    from asyncdag.function_modifiers import does

    def _replacement(a: int) -> int:
        return a

    @does(_replacement)
    def not_empty(a: int) -> int:
        return a + 1

    module = make_module(not_empty)
    with pytest.raises(GraphError) as excinfo:
        Builder().with_modules(module).build()
    assert excinfo.value.function == f"{module.__name__}.{not_empty.__qualname__}"
    assert excinfo.value.node == "not_empty"


def test_graph_error_keeps_its_message_and_pickles_with_its_fields() -> None:
    import pickle

    error = GraphError("the message", function="mod.fn", node="fn")
    again = pickle.loads(pickle.dumps(error))
    assert (str(again), again.function, again.node) == ("the message", "mod.fn", "fn")
    assert (GraphError("plain").function, GraphError("plain").node) == (None, None)
