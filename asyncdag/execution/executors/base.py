"""The executor seam: an async context manager that owns its resources, plus ``submit``."""

from __future__ import annotations

import abc
from collections.abc import Callable
from types import TracebackType
from typing import Any, ClassVar, Self, TypeVar

_T = TypeVar("_T")


class Executor(abc.ABC):
    """Runs sync units of work: a node call, or (for remote executors) a whole branch.

    ``max_tasks`` bounds how many branches of a block run at once when this executor runs
    the block's nodes (``None``: unbounded). Resources start on first use and stop in
    ``aclose()``; ``async with executor:`` does both.
    """

    runs_inline: ClassVar[bool] = False
    max_tasks: int | None = None

    @abc.abstractmethod
    async def submit(self, fn: Callable[[], _T]) -> _T:
        """Run ``fn()`` and return its result; its exceptions propagate as themselves."""

    async def aclose(self) -> None:  # noqa: B027 - most executors hold nothing to stop
        """Stop whatever this executor started; it may start again on the next ``submit``."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(max_tasks={self.max_tasks!r})"


def check_max_tasks(max_tasks: int | None) -> int | None:
    """Validate a ``max_tasks`` argument."""
    if max_tasks is not None and (not isinstance(max_tasks, int) or max_tasks < 1):
        raise ValueError(f"max_tasks must be a positive int or None, not {max_tasks!r}")
    return max_tasks


Unit = Callable[[], Any]
