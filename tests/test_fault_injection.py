"""Faults injected on purpose: each ends in the named error, within seconds, leaving nothing.

"Nothing left" means: no asyncio task beyond those alive before, and no child process
(psutil reads /proc, so async tests ask it from a thread).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from typing import Any

import psutil
import pytest
from conftest import HANG_GUARD, PATIENCE, build, children, make_module, notes_of, wait_patiently

from asyncdag import Builder, Collect, Parallelizable, executors, tag
from asyncdag.errors import RemoteError, SerializationError, WorkerCrashedError

pytestmark = [pytest.mark.slow, pytest.mark.timeout(60)]

# Bounds a wait that a correct engine ends at once: a wrong one fails the test instead of hanging.


async def no_tasks_but(before: set[asyncio.Task[Any]]) -> set[asyncio.Task[Any]]:
    """Tasks alive now that were not alive ``before`` (after one loop turn for late ones)."""
    await asyncio.sleep(0)
    return asyncio.all_tasks() - before


# -- a generator that raises after k items ------------------------------------------------------


class SourceBrokeError(Exception):
    """The user's generator failed."""


K = 3


class Branches:
    """Records branches that started and were cancelled; the k-th start releases the source."""

    def __init__(self) -> None:
        self.started: list[int] = []
        self.cancelled: list[int] = []
        self.all_started = asyncio.Event()
        self.never = asyncio.Event()

    async def hold(self, item: int) -> int:
        self.started.append(item)
        if len(self.started) == K:
            self.all_started.set()
        try:
            await self.never.wait()
        except asyncio.CancelledError:
            self.cancelled.append(item)
            raise
        return item


def top_level_source(kind: str, branches: Branches) -> tuple[Callable[..., Any], ...]:
    """``url`` yields K items, then raises once K branches hold; a top-level block."""
    if kind == "async":

        async def url() -> Parallelizable[int]:
            for i in range(K):
                yield i
            await wait_patiently(branches.all_started)
            raise SourceBrokeError("the source broke")

    else:

        def url() -> Parallelizable[int]:  # type: ignore[misc]
            yield from range(K)
            raise SourceBrokeError("the source broke")  # on the loop: it cannot wait

    async def fetched(url: int) -> int:
        return await branches.hold(url)

    def total(fetched: Collect[int]) -> int:
        return sum(fetched)

    return url, fetched, total


@pytest.mark.parametrize("kind", ["async", "sync"], ids=["async-generator", "sync-generator"])
async def test_generator_raising_after_k_items_names_item_k_and_cancels_started_branches(
    kind: str,
) -> None:
    branches = Branches()
    dr = build(*top_level_source(kind, branches))
    before = asyncio.all_tasks()

    with pytest.raises(SourceBrokeError) as info:
        async with asyncio.timeout(HANG_GUARD):
            await dr.execute(["total"])

    assert "node 'url'" in notes_of(info.value)
    assert f"while producing item {K}" in notes_of(info.value)
    if kind == "async":
        assert sorted(branches.started) == list(range(K)), "premise: K branches were running"
    else:  # the loop got a turn after item 0 at least; later tasks may never have begun
        assert 0 in branches.started, "premise: a branch was running"
    assert sorted(branches.cancelled) == sorted(branches.started)
    assert await no_tasks_but(before) == set()


async def test_sync_generator_stepped_on_threads_raising_after_k_items_names_item_k() -> None:
    """A nested sync generator on a ThreadExecutor is stepped item by item on a thread."""
    branches = Branches()
    released = threading.Event()

    def group() -> Parallelizable[int]:
        yield 7

    def url(group: int) -> Parallelizable[int]:
        yield from range(K)
        released.wait(PATIENCE)  # on a worker thread: until the K branches hold
        raise SourceBrokeError("the source broke")

    async def fetched(url: int) -> int:
        if len(branches.started) == K - 1:
            released.set()
        return await branches.hold(url)

    def total(fetched: Collect[int]) -> int:
        return sum(fetched)

    def totals(total: Collect[int]) -> list[int]:
        return total

    dr = build(group, url, fetched, total, totals, remote=executors.ThreadExecutor(max_tasks=8))
    before = asyncio.all_tasks()

    async with dr:
        with pytest.raises(SourceBrokeError) as info:
            async with asyncio.timeout(HANG_GUARD):
                await dr.execute(["totals"])

    notes = notes_of(info.value)
    assert "node 'url'" in notes and "group[0]" in notes
    assert f"while producing item {K}" in notes
    assert sorted(branches.started) == list(range(K)), "premise: K branches were running"
    assert sorted(branches.cancelled) == list(range(K))
    assert await no_tasks_but(before) == set()


async def test_generator_raising_inside_a_worker_process_names_item_k() -> None:
    def group() -> Parallelizable[int]:
        yield 1

    def url(group: int) -> Parallelizable[int]:
        yield from range(K)
        raise SourceBrokeError("the source broke")

    def fetched(url: int) -> int:
        return url

    def total(fetched: Collect[int]) -> int:
        return sum(fetched)

    def totals(total: Collect[int]) -> list[int]:
        return total

    executor = executors.ProcessExecutor(max_tasks=1)
    dr = build(group, url, fetched, total, totals, remote=executor)
    async with dr:
        with pytest.raises(SourceBrokeError) as info:
            async with asyncio.timeout(HANG_GUARD):
                await dr.execute(["totals"])
    notes = notes_of(info.value)
    assert "node 'url'" in notes and "group[0]" in notes
    assert f"while producing item {K}" in notes
    assert await asyncio.to_thread(children) == []


async def test_generator_on_a_named_process_executor_raising_after_k_items_names_item_k() -> None:
    @tag(executor="cpu")
    def url() -> Parallelizable[int]:
        yield from range(K)
        raise SourceBrokeError("the source broke")

    def fetched(url: int) -> int:
        return url

    def total(fetched: Collect[int]) -> int:
        return sum(fetched)

    dr = build(url, fetched, total, cpu=executors.ProcessExecutor(max_tasks=1))
    async with dr:
        with pytest.raises(SourceBrokeError) as info:
            async with asyncio.timeout(HANG_GUARD):
                await dr.execute(["total"])
    assert "node 'url'" in notes_of(info.value)
    assert f"while producing item {K}" in notes_of(info.value)


# -- a worker killed mid-batch ------------------------------------------------------------------


async def test_worker_killed_mid_batch_raises_worker_crashed_error_then_next_execute_works() -> (
    None
):
    def item(n: int) -> Parallelizable[int]:
        yield from range(n)

    def work(item: int, victim: int) -> int:
        if item == victim:
            os.kill(os.getpid(), signal.SIGKILL)
        return item * 10

    def results(work: Collect[int]) -> list[int]:
        return work

    executor = executors.ProcessExecutor(max_tasks=2, batch_size=4)
    dr = build(item, work, results, remote=executor)
    expected = {"results": [i * 10 for i in range(8)]}
    before = asyncio.all_tasks()
    async with dr:
        assert await dr.execute(["results"], inputs={"n": 8, "victim": -1}) == expected
        warm = set(executor.worker_pids())
        with pytest.raises(WorkerCrashedError) as info:
            async with asyncio.timeout(HANG_GUARD):
                # Item 5 is the second of the batch [4, 5, 6, 7]: item 4 already ran there.
                await dr.execute(["results"], inputs={"n": 8, "victim": 5})
        assert info.value.exitcode == -signal.SIGKILL
        assert "exit code -9" in str(info.value)
        assert info.value.node == "work"  # the node the worker had marked as running
        assert info.value.branch == "item[5]"
        assert not warm <= set(executor.worker_pids()), "the killed worker left the pool"

        assert await dr.execute(["results"], inputs={"n": 8, "victim": -1}) == expected
    assert await asyncio.to_thread(children) == []
    assert await no_tasks_but(before) == set()


def pids_module() -> tuple[Callable[..., Any], ...]:
    def item(n: int) -> Parallelizable[int]:
        yield from range(n)

    def work(item: int) -> int:
        return os.getpid()

    def results(work: Collect[int]) -> list[int]:
        return work

    return item, work, results


def wait_until_dead(pid: int) -> None:
    """Until ``pid`` is a zombie or gone, at most PATIENCE seconds (never reaps it: the loop's
    child watcher must see its exit)."""
    for _ in range(int(PATIENCE / 0.01)):
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return
        except psutil.NoSuchProcess:
            return
        time.sleep(0.01)  # on a worker thread


async def kill_an_idle_worker(executor: executors.ProcessExecutor) -> int:
    victim = executor.worker_pids()[0]
    os.kill(victim, signal.SIGKILL)  # as the OOM killer would, between two executes
    await asyncio.to_thread(wait_until_dead, victim)
    await asyncio.sleep(0.05)  # a few loop turns: the loop's child watcher reaps it
    return victim


async def test_a_worker_killed_while_idle_is_replaced_and_the_next_execute_works() -> None:
    executor = executors.ProcessExecutor(max_tasks=2)
    async with build(*pids_module(), remote=executor) as dr:
        await dr.execute(["results"], inputs={"n": 4})
        assert len(executor.worker_pids()) == 2, "premise: two idle workers"
        victim = await kill_an_idle_worker(executor)

        pids = (await dr.execute(["results"], inputs={"n": 4}))["results"]
    assert victim not in pids


async def test_worker_pids_stop_listing_a_worker_killed_while_idle() -> None:
    executor = executors.ProcessExecutor(max_tasks=2)
    async with build(*pids_module(), remote=executor) as dr:
        await dr.execute(["results"], inputs={"n": 4})
        assert len(executor.worker_pids()) == 2, "premise: two idle workers"
        victim = await kill_an_idle_worker(executor)
        assert victim not in executor.worker_pids()


async def test_after_a_worker_killed_while_idle_at_most_one_execute_fails_as_a_crash(
    request: pytest.FixtureRequest,
) -> None:
    executor = executors.ProcessExecutor(max_tasks=2)
    async with build(*pids_module(), remote=executor) as dr:
        await dr.execute(["results"], inputs={"n": 4})
        assert len(executor.worker_pids()) == 2, "premise: two idle workers"
        victim = await kill_an_idle_worker(executor)

        with contextlib.suppress(WorkerCrashedError):
            await dr.execute(["results"], inputs={"n": 4})
        pids = (await dr.execute(["results"], inputs={"n": 4}))["results"]
    assert victim not in pids
    assert await asyncio.to_thread(children) == []


async def test_worker_killed_mid_batch_cancels_the_other_batch_still_running() -> None:
    """The other worker's batch is stopped too: no worker keeps running after execute raises."""

    def item(n: int) -> Parallelizable[int]:
        yield from range(n)

    def work(item: int) -> int:
        import time

        if item == 1:
            os.kill(os.getpid(), signal.SIGKILL)
        if item >= 4:
            time.sleep(60)  # the other batch: only a cancellation ends it in time
        return item

    def results(work: Collect[int]) -> list[int]:
        return work

    executor = executors.ProcessExecutor(max_tasks=2, batch_size=4)
    dr = build(item, work, results, remote=executor)
    async with dr:
        with pytest.raises(WorkerCrashedError) as info:
            async with asyncio.timeout(HANG_GUARD):
                await dr.execute(["results"], inputs={"n": 8})
        assert info.value.exitcode == -signal.SIGKILL
        assert executor.worker_pids() == [], "the sleeping worker was stopped with the run"
        assert await asyncio.to_thread(children) == []


def held_until_released(directory: str) -> tuple[Callable[..., Any], ...]:
    """A block whose ``work`` kills its worker (item == crash), sleeps (item == nap), or else
    marks that it started and holds until ``directory/release`` exists."""

    def item(n: int) -> Parallelizable[int]:
        yield from range(n)

    def work(item: int, mode: str) -> int:
        import time

        if mode == "crash":
            os.kill(os.getpid(), signal.SIGKILL)
        if mode == "nap":
            time.sleep(60)  # only a cancellation ends it in time
        open(os.path.join(directory, f"started-{item}-{os.getpid()}"), "w").close()
        release = os.path.join(directory, "release")
        for _ in range(2000):  # at most 20 s: a lost release fails instead of hanging
            if os.path.exists(release):
                break
            time.sleep(0.01)
        return item * 10

    def results(work: Collect[int]) -> list[int]:
        return work

    return item, work, results


async def wait_for_files(directory: str, count: int) -> None:
    """Until ``count`` branches marked themselves started (bounded by PATIENCE)."""
    async with asyncio.timeout(PATIENCE):
        while len(await asyncio.to_thread(os.listdir, directory)) < count:
            await asyncio.sleep(0.02)


async def release(directory: str) -> None:
    await asyncio.to_thread(lambda: open(os.path.join(directory, "release"), "w").close())


@pytest.mark.parametrize("fault", ["crash", "cancel"])
async def test_a_worker_fault_in_one_execute_leaves_a_concurrent_execute_unharmed(
    fault: str, tmp_path: Any
) -> None:
    directory = str(tmp_path)
    executor = executors.ProcessExecutor(max_tasks=3)
    dr = build(*held_until_released(directory), remote=executor)
    async with dr:
        healthy = asyncio.create_task(dr.execute(["results"], inputs={"n": 2, "mode": "hold"}))
        await wait_for_files(directory, 2)
        names = await asyncio.to_thread(os.listdir, directory)
        holders = {int(name.rsplit("-", 1)[1]) for name in names}
        assert len(holders) == 2, "premise: two workers hold the healthy execute's branches"

        if fault == "crash":
            with pytest.raises(WorkerCrashedError):
                async with asyncio.timeout(HANG_GUARD):
                    await dr.execute(["results"], inputs={"n": 1, "mode": "crash"})
        else:
            doomed = asyncio.create_task(dr.execute(["results"], inputs={"n": 1, "mode": "nap"}))
            await asyncio.sleep(0.3)  # its worker took the nap (or is about to)
            doomed.cancel()
            with pytest.raises(asyncio.CancelledError):
                await doomed

        assert holders <= set(executor.worker_pids()), "only the faulty execute's worker went"
        assert not healthy.done()
        await release(directory)
        async with asyncio.timeout(HANG_GUARD):
            assert await healthy == {"results": [0, 10]}
    assert await asyncio.to_thread(children) == []


def every_child() -> list[int]:
    """Child processes, zombies included: a reaped child is gone, a killed one may linger."""
    return [c.pid for c in psutil.Process().children(recursive=True)]


@pytest.mark.allow_blocking  # reads /proc on the loop: yielding would let the loop reap a child
async def test_cancelling_execute_while_its_worker_starts_leaves_no_process_behind(
    request: pytest.FixtureRequest,
) -> None:
    @tag(executor="cpu")
    def heavy(x: int) -> int:
        return x

    def light(heavy: int) -> int:
        return heavy

    # How many loop turns until the worker exists: the spawn happens within them.
    executor = executors.ProcessExecutor(max_tasks=1)
    async with build(heavy, light, cpu=executor) as dr:
        task = asyncio.create_task(dr.execute(["light"], inputs={"x": 1}))
        turns = 0
        while not executor.worker_pids():
            await asyncio.sleep(0)
            turns += 1
        assert await task == {"light": 1}

    left_behind = {}
    for cancel_after in range(turns + 3):
        # Not `async with dr:`, which starts the worker before any execute.
        dr = build(heavy, light, cpu=executors.ProcessExecutor(max_tasks=1))
        try:
            task = asyncio.create_task(dr.execute(["light"], inputs={"x": 1}))
            for _ in range(cancel_after):
                await asyncio.sleep(0)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            if children_now := every_child():
                left_behind[cancel_after] = children_now
        finally:
            await dr.aclose()
    assert left_behind == {}


# -- an unpicklable value on a process hop ------------------------------------------------------


async def test_unpicklable_return_mid_batch_raises_serialization_error_naming_node_and_branch() -> (
    None
):
    def item() -> Parallelizable[int]:
        yield from range(6)

    def work(item: int) -> Any:
        return threading.Lock() if item == 4 else item

    def results(work: Collect[Any]) -> int:
        return len(work)

    dr = build(item, work, results, remote=executors.ProcessExecutor(2, batch_size=3))
    before = asyncio.all_tasks()
    async with dr:
        with pytest.raises(SerializationError) as info:
            async with asyncio.timeout(HANG_GUARD):
                await dr.execute(["results"])
    assert info.value.node == "work"
    assert "item[4]" in info.value.what
    assert "lock" in info.value.type_name
    assert "'work'" in str(info.value)
    assert await asyncio.to_thread(children) == []
    assert await no_tasks_but(before) == set()


async def test_unpicklable_value_collected_in_a_nested_block_names_the_node_returning_it() -> None:
    """A whole outer branch is one unit: what cannot come back is the inner Collect's list."""

    def group() -> Parallelizable[int]:
        yield from range(2)

    def item(group: int) -> Parallelizable[int]:
        yield from range(3)

    def work(item: int) -> Any:
        return threading.Lock() if item == 2 else item

    def inner(work: Collect[Any]) -> list[Any]:
        return work

    def outer(inner: Collect[list[Any]]) -> int:
        return len(inner)

    dr = build(group, item, work, inner, outer, remote=executors.ProcessExecutor(2))
    async with dr:
        with pytest.raises(SerializationError) as info:
            async with asyncio.timeout(HANG_GUARD):
                await dr.execute(["outer"])
    assert info.value.node == "inner"
    assert info.value.path == "[2]"
    assert "lock" in info.value.type_name
    assert await asyncio.to_thread(children) == []


async def test_unpicklable_return_of_a_tagged_node_raises_serialization_error_naming_it() -> None:
    @tag(executor="cpu")
    def handle(x: int) -> Any:
        return threading.Lock()

    def used(handle: Any) -> str:
        return type(handle).__name__

    dr = build(handle, used, cpu=executors.ProcessExecutor(max_tasks=1))
    before = asyncio.all_tasks()
    async with dr:
        with pytest.raises(SerializationError) as info:
            async with asyncio.timeout(HANG_GUARD):
                await dr.execute(["used"], inputs={"x": 1})
    assert info.value.node == "handle"
    assert "return value" in str(info.value)
    assert "lock" in info.value.type_name
    assert await asyncio.to_thread(children) == []
    assert await no_tasks_but(before) == set()


def locked_error() -> type[Exception]:
    """A user's exception type that cannot be pickled (it carries a lock); defined locally,
    so it travels to workers by value, without importing this test module there."""

    class LockedError(Exception):
        def __init__(self, message: str) -> None:
            super().__init__(message)
            self.lock = threading.Lock()

    return LockedError


async def test_unpicklable_exception_from_a_tagged_node_arrives_as_a_remote_error() -> None:
    LockedError = locked_error()

    @tag(executor="cpu")
    def solo(x: int) -> int:
        raise LockedError("solo broke")

    dr = build(solo, cpu=executors.ProcessExecutor(max_tasks=1))
    async with dr:
        with pytest.raises(RemoteError) as info:
            async with asyncio.timeout(HANG_GUARD):
                await dr.execute(["solo"], inputs={"x": 1})
    assert "LockedError: solo broke" in str(info.value)
    assert info.value.type_name.endswith("LockedError")
    assert "raised by node 'solo'" in notes_of(info.value)


async def test_unpicklable_exception_from_a_worker_branch_keeps_the_node_and_branch_note() -> None:
    LockedError = locked_error()

    def item() -> Parallelizable[int]:
        yield from range(3)

    def work(item: int) -> int:
        if item == 1:
            raise LockedError("branch broke")
        return item

    def results(work: Collect[int]) -> list[int]:
        return work

    dr = build(item, work, results, remote=executors.ProcessExecutor(max_tasks=2))
    async with dr:
        with pytest.raises(RemoteError) as info:
            async with asyncio.timeout(HANG_GUARD):
                await dr.execute(["results"])
    assert "LockedError: branch broke" in str(info.value)
    assert "raised by node 'work' in branch item[1]" in notes_of(info.value)


# -- KeyboardInterrupt during execute_sync ------------------------------------------------------

INTERRUPTED = 42

CHILD_SCRIPT = textwrap.dedent(
    r"""
    import asyncio, os, sys, time
    from asyncdag import Builder, Collect, Parallelizable, executors

    def item() -> Parallelizable[int]:
        yield from range(4)

    def slow_sync(item: int) -> int:
        os.write(2, f"started {os.getpid()}\n".encode())  # one write: lines never interleave
        time.sleep(120)
        return item

    async def slow_async(item: int) -> int:
        os.write(2, f"started {os.getpid()}\n".encode())  # one write: lines never interleave
        await asyncio.sleep(120)
        return item

    def total(work: Collect[int]) -> int:
        return sum(work)

    work = slow_sync if sys.argv[1] == "process" else slow_async
    work.__name__ = "work"
    module = type(sys)("child_dag")
    for fn in (item, work, total):
        fn.__module__ = module.__name__
        setattr(module, fn.__name__, fn)
    builder = Builder().with_modules(module)
    if sys.argv[1] == "process":
        builder = builder.with_remote_executor(executors.ProcessExecutor(max_tasks=2))
    dr = builder.build()
    try:
        dr.execute_sync(["total"])
    except KeyboardInterrupt:
        print("KeyboardInterrupt", flush=True)
        sys.exit(INTERRUPTED)
    print("finished", flush=True)
    """
).replace("INTERRUPTED", str(INTERRUPTED))


@pytest.mark.allow_blocking
@pytest.mark.parametrize(
    ("where", "to_group"),
    [("process", False), ("process", True), ("loop", False)],
    ids=["workers", "workers-ctrl-c-to-the-group", "loop"],
)
def test_sigint_during_execute_sync_raises_keyboard_interrupt_and_leaves_no_process(
    where: str, to_group: bool
) -> None:
    """``to_group``: SIGINT reaches every process of the group, as Ctrl-C in a terminal."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD_SCRIPT, where],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=to_group,
    )
    try:
        assert child.stderr is not None
        started: list[int] = []
        lines: list[str] = []
        while len(started) < 2:  # two branches running (in two workers, for "process")
            line = child.stderr.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("started "):
                started.append(int(line.split()[1]))
        assert len(started) == 2, "premise: branches were running\n" + "".join(lines)
        grandchildren = [p.pid for p in psutil.Process(child.pid).children(recursive=True)]
        if where == "process":
            assert set(started) <= set(grandchildren), "premise: workers run the branches"
            assert len(set(started)) == 2, "premise: two workers"

        if to_group:
            os.killpg(child.pid, signal.SIGINT)
        else:
            child.send_signal(signal.SIGINT)
        stdout, stderr = child.communicate(timeout=HANG_GUARD)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()

    assert child.returncode == INTERRUPTED, stdout + stderr
    assert stdout.strip() == "KeyboardInterrupt"
    survivors = [pid for pid in grandchildren if _alive(pid)]
    assert survivors == []


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.mark.allow_blocking
def test_busy_workers_do_not_outlive_a_parent_killed_with_sigkill() -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD_SCRIPT, "process"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    workers: list[int] = []
    try:
        assert child.stderr is not None
        while len(workers) < 2:
            line = child.stderr.readline()
            if not line:
                break
            if line.startswith("started "):
                workers.append(int(line.split()[1]))
        assert len(workers) == 2, "premise: two workers busy with a branch"
        child.kill()
        child.wait()
        for _ in range(40):  # 2 s at most: a correct engine ends them at once
            if not any(_alive(pid) for pid in workers):
                break
            time.sleep(0.05)
        assert [pid for pid in workers if _alive(pid)] == []
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        for pid in workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


# -- cancelling execute in the middle of a nested block -----------------------------------------


@pytest.mark.parametrize(
    "remote",
    [executors.InlineExecutor, lambda: executors.ThreadExecutor(max_tasks=8)],
    ids=["inline", "thread"],
)
async def test_cancelling_execute_mid_nested_block_cancels_every_inner_branch(
    remote: Callable[[], executors.Executor],
) -> None:
    groups, members = 2, 3
    started: list[tuple[int, int]] = []
    cancelled: list[tuple[int, int]] = []
    all_started = asyncio.Event()
    never = asyncio.Event()

    async def group() -> Parallelizable[int]:
        for g in range(groups):
            yield g

    def member(group: int) -> Parallelizable[int]:
        yield from range(members)

    async def held(group: int, member: int) -> int:
        started.append((group, member))
        if len(started) == groups * members:
            all_started.set()
        try:
            await never.wait()
        except asyncio.CancelledError:
            cancelled.append((group, member))
            raise
        return member

    def group_total(held: Collect[int]) -> int:
        return sum(held)

    def total(group_total: Collect[int]) -> int:
        return sum(group_total)

    dr = build(group, member, held, group_total, total, remote=remote())
    before = asyncio.all_tasks()

    async with dr:
        task = asyncio.create_task(dr.execute(["total"]))
        await wait_patiently(all_started)
        assert len(started) == groups * members, "premise: every inner branch was running"
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            async with asyncio.timeout(HANG_GUARD):
                await task

    assert sorted(cancelled) == sorted(started)
    assert await no_tasks_but(before) == set()


# -- an executor that cannot start --------------------------------------------------------------


class BrokenExecutor(executors.Executor):
    """An executor whose every ``submit`` fails, as a pool that cannot start would."""

    def __init__(self) -> None:
        self.submits = 0

    async def submit(self, unit: Any) -> Any:
        self.submits += 1
        raise RuntimeError("cannot start")


@pytest.mark.parametrize("where", ["remote", "local", "named"])
async def test_executor_failing_to_start_propagates_its_error_with_a_note_naming_the_node(
    where: str,
) -> None:
    broken = BrokenExecutor()

    def item() -> Parallelizable[int]:
        yield from range(3)

    async def fetched(item: int) -> int:
        await asyncio.sleep(0)
        return item

    def work(fetched: int) -> int:  # sync, after an async node: submitted to the executor
        return fetched + 1

    def total(work: Collect[int]) -> int:
        return sum(work)

    @tag(executor="broken")
    def report(total: int) -> str:
        return f"total {total}"

    if where == "remote":
        dr, output, node = build(item, fetched, work, total, remote=broken), "total", "work"
    elif where == "local":
        builder = Builder().with_modules(make_module(item, fetched, work, total))
        dr, output, node = builder.with_local_executor(broken).build(), "total", "item"
    else:
        dr = build(item, fetched, work, total, report, broken=broken)
        output, node = "report", "report"
    before = asyncio.all_tasks()

    with pytest.raises(RuntimeError, match="cannot start") as info:
        async with asyncio.timeout(HANG_GUARD):
            await dr.execute([output])

    assert broken.submits >= 1, "premise: the executor was asked to run something"
    assert f"raised by node {node!r}" in notes_of(info.value)
    assert await no_tasks_but(before) == set()
