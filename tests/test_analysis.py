"""Block scopes: a node runs once per branch or after its block, never both; analysis is linear."""

from __future__ import annotations

import tracemalloc
from typing import Any

import pytest
from conftest import make_module

from asyncdag import Collect, Parallelizable
from asyncdag.errors import GraphError
from asyncdag.graph.analysis import analyse
from asyncdag.graph.crawl import crawl
from asyncdag.graph.graph import FunctionGraph


def test_a_node_reading_a_branch_value_and_its_collect_raises_graph_error() -> None:
    def item(x: int) -> Parallelizable[int]:
        yield x

    def double(item: int) -> int:
        return 2 * item

    def total(double: Collect[int]) -> int:
        return sum(double)

    def both(double: int, total: int) -> int:
        return double + total

    with pytest.raises(GraphError, match=r"both.*reads 'double'.*block of 'item'.*Collect"):
        FunctionGraph.from_modules([make_module(item, double, total, both)], {})


def test_a_branch_node_downstream_of_its_blocks_collect_through_other_nodes_raises() -> None:
    def item(x: int) -> Parallelizable[int]:
        yield x

    def double(item: int) -> int:
        return 2 * item

    def total(double: Collect[int]) -> int:
        return sum(double)

    def later(total: int) -> int:
        return total

    def again(later: int) -> int:
        return later

    def mixed(item: int, again: int) -> int:
        return item + again

    def out(mixed: Collect[int]) -> int:
        return sum(mixed)

    module = make_module(item, double, total, later, again, mixed, out)
    with pytest.raises(GraphError, match=r"mixed.*reads 'item'.*block of 'item'"):
        FunctionGraph.from_modules([module], {})


def test_a_node_after_a_collect_may_open_a_new_block_over_the_collected_value() -> None:
    def item(x: int) -> Parallelizable[int]:
        yield x

    def double(item: int) -> int:
        return 2 * item

    def total(double: Collect[int]) -> int:
        return sum(double)

    def again(total: int) -> Parallelizable[int]:
        yield total

    def triple(again: int, x: int) -> int:
        return 3 * again + x

    def final(triple: Collect[int], total: int) -> int:
        return sum(triple) + total

    graph = FunctionGraph.from_modules([make_module(item, double, total, again, triple, final)], {})
    assert graph.analysis.scopes["triple"] == ("again",)
    assert graph.analysis.scopes["final"] == ()


def _stages(count: int) -> Any:
    """``count`` fan-out/fan-in stages in a row, each fanning out over the last one's total."""
    source = ["from asyncdag import Collect, Parallelizable\n"]
    names = []
    for i in range(count):
        prev = f"c_{i - 1}" if i else "x"
        source.append(f"def e_{i}({prev}: int) -> Parallelizable[int]:\n    yield {prev}\n")
        source.append(f"def b_{i}(e_{i}: int) -> int:\n    return e_{i}\n")
        source.append(f"def c_{i}(b_{i}: Collect[int]) -> int:\n    return sum(b_{i})\n")
        names += [f"e_{i}", f"b_{i}", f"c_{i}"]
    namespace: dict[str, Any] = {}
    exec("\n".join(source), namespace)
    return make_module(*(namespace[n] for n in names))


def _analysis_peak_bytes(count: int) -> int:
    nodes = crawl([_stages(count)], {})
    tracemalloc.start()
    try:
        analysis = analyse(nodes)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert analysis.scopes[f"b_{count - 1}"] == (f"e_{count - 1}",)
    return peak


def test_analysing_blocks_in_a_row_takes_memory_linear_in_their_number() -> None:
    # Allocation is deterministic: a structural property, not a timing. 4x the stages may
    # take about 4x the memory, not the 16x of every node keeping every block closed before it.
    small, large = _analysis_peak_bytes(300), _analysis_peak_bytes(1200)
    assert large < 6 * small, (small, large)
