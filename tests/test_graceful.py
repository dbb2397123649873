"""GracefulErrorAdapter and accept_error_sentinels: Hamilton's semantics, parallel blocks too.

The parallel cases port Hamilton's tests/test_parallel_graceful.py (and its module).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from conftest import HANG_GUARD, make_module

from asyncdag import Builder, Collect, Parallelizable, config, executors
from asyncdag.lifecycle import GracefulErrorAdapter, accept_error_sentinels


class DoNotProceed(Exception):
    pass


@config.when(test_front="good")
def input_maker__good(n: int) -> int:
    return n


@config.when(test_front="bad")
def input_maker__bad(n: int) -> int:
    raise Exception("Went wrong")


@config.when(test_state="middle")
def distro__middle(input_maker: int) -> Parallelizable[int]:
    for x in range(input_maker):
        if x > 4:
            raise Exception("bad")
        yield x * 3


@config.when(test_state="early")
def distro__early(input_maker: int) -> Parallelizable[int]:
    raise Exception("bad")
    for x in range(input_maker):
        yield x * 3


@config.when(test_state="pass")
def distro__pass(input_maker: int) -> Parallelizable[int]:
    for x in range(input_maker):
        yield x * 3


def some_math(distro: int) -> float:
    if distro > 15:
        raise Exception("No no no")
    return distro * 2.0


def other_math(distro: int) -> float:
    if distro < 10:
        raise Exception("Not allowed")
    return distro + 1


@accept_error_sentinels
def gather_math(some_math: float, other_math: float) -> list[float]:
    return [some_math, other_math]


def distro_end(gather_math: Collect[list[float]]) -> list[float]:
    return [x for x in gather_math]


def distro_gather(some_math: Collect[float]) -> list[float]:
    return [x for x in some_math]


PARALLEL = (
    input_maker__good,
    input_maker__bad,
    distro__middle,
    distro__early,
    distro__pass,
    some_math,
    other_math,
    gather_math,
    distro_end,
    distro_gather,
)


def _make_driver(
    test_state: str,
    try_parallel: bool = True,
    fail_first: bool = False,
    allow_injection: bool = True,
    remote: Any = None,
) -> Any:
    adapter = GracefulErrorAdapter(
        error_to_catch=Exception,
        sentinel_value=None,
        try_all_parallel=try_parallel,
        allow_injection=allow_injection,
    )
    return (
        Builder()
        .enable_dynamic_execution(allow_experimental_mode=True)
        .with_modules(make_module(*PARALLEL))
        .with_remote_executor(remote or executors.SynchronousLocalTaskExecutor())
        .with_adapters(adapter)
        .with_config({"test_state": test_state, "test_front": "bad" if fail_first else "good"})
        .build()
    )


@pytest.mark.parametrize(
    ("test_state", "try_parallel", "fail_first", "expected_value"),
    [
        ("early", True, False, [None]),
        ("middle", True, False, [0.0, 6.0, 12.0, 18.0, 24.0, None]),
        ("middle", False, False, [None]),
        ("pass", True, False, [0.0, 6.0, 12.0, 18.0, 24.0, 30.0, None, None, None, None]),
        ("pass", False, True, [None]),
    ],
    ids=[
        "test_early_parallel_fail",
        "test_middle_parallel_fail",
        "test_middle_parallel_as_single",
        "test_inside_block_errors",
        "test_pre_parallel_fail",
    ],
)
def test_parallel_graceful_simple(
    test_state: str, try_parallel: bool, fail_first: bool, expected_value: list[Any]
) -> None:
    dr = _make_driver(test_state, try_parallel, fail_first)
    ans = dr.execute_sync(["distro_gather"], inputs={"n": 10})
    assert ans["distro_gather"] == expected_value


GATHERED = [
    [0.0, None],
    [6.0, None],
    [12.0, None],
    [18.0, None],
    [24.0, 13],
    [30.0, 16],
    [None, 19],
    [None, 22],
    [None, 25],
    [None, 28],
]


def test_parallel_gather_injection() -> None:
    dr = _make_driver("pass", try_parallel=True, fail_first=False)
    assert dr.execute_sync(["distro_end"], inputs={"n": 10})["distro_end"] == GATHERED


def test_disallowing_injection_skips_the_gathering_step() -> None:
    dr = _make_driver("pass", try_parallel=True, fail_first=False, allow_injection=False)
    ans = dr.execute_sync(["distro_end"], inputs={"n": 10})
    assert ans["distro_end"] == [None] * 4 + [[24.0, 13], [30.0, 16]] + [None] * 4


@pytest.mark.parametrize("kind", ["threads", "processes"])
async def test_graceful_branches_give_hamiltons_result_on_other_executors(kind: str) -> None:
    remote = (
        executors.ThreadExecutor(max_tasks=2)
        if kind == "threads"
        else executors.ProcessExecutor(max_tasks=2)
    )
    async with _make_driver("middle", remote=remote) as dr:
        run = dr.execute(["distro_gather", "distro_end"], inputs={"n": 10})
        ans = await asyncio.wait_for(run, HANG_GUARD)
    assert ans["distro_gather"] == [0.0, 6.0, 12.0, 18.0, 24.0, None]
    assert ans["distro_end"] == [x for x in GATHERED[:5]] + [[None, None]]


def wont_proceed() -> int:
    raise DoNotProceed()


def will_proceed() -> int:
    return 1


def never_reached(wont_proceed: int) -> int:
    return 1  # this should not be reached


def _simple(*fns: Any, **kwargs: Any) -> Any:
    adapter = GracefulErrorAdapter(error_to_catch=DoNotProceed, **kwargs)
    return Builder().with_modules(make_module(*fns)).with_adapters(adapter).build()


def test_failed_node_and_its_readers_become_the_sentinel() -> None:
    dr = _simple(wont_proceed, will_proceed, never_reached, sentinel_value=None)
    assert dr.execute_sync(["will_proceed", "never_reached"]) == {
        "will_proceed": 1,
        "never_reached": None,
    }


async def test_async_nodes_are_graceful_too() -> None:
    async def fails() -> int:
        raise DoNotProceed()

    async def reads(fails: int) -> int:
        raise AssertionError("not reached")

    marker = object()
    dr = _simple(fails, reads, sentinel_value=marker)
    assert await dr.execute(["fails", "reads"]) == {"fails": marker, "reads": marker}


async def test_an_error_of_another_type_still_fails_the_run() -> None:
    def breaks() -> int:
        raise KeyError("real bug")

    dr = _simple(breaks)
    with pytest.raises(KeyError, match="real bug"):
        await dr.execute(["breaks"])


async def test_an_async_expander_failing_midway_ends_with_one_sentinel_item() -> None:
    async def item(n: int) -> Parallelizable[int]:
        for i in range(n):
            if i == 2:
                raise DoNotProceed()
            yield i

    def plus(item: int) -> int:
        return item + 1

    def every(plus: Collect[int]) -> list[int]:
        return plus

    dr = _simple(item, plus, every, sentinel_value=-1)
    assert await dr.execute(["every"], inputs={"n": 5}) == {"every": [1, 2, -1]}
    dr = _simple(item, plus, every, sentinel_value=-1, try_all_parallel=False)
    assert await dr.execute(["every"], inputs={"n": 5}) == {"every": [-1]}
