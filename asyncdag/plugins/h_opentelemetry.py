"""OpenTelemetry tracing (Hamilton's ``h_opentelemetry`` path): ``pip install 'asyncdag[otel]'``.

One span per run, per parallel block, per branch and per node call. A node's span is the
child of its branch's span, a branch's of its block's, a block's of the enclosing branch's
(or the run's). Parents are set explicitly rather than through the current context, because
branches run concurrently on one loop. Spans carry ``asyncdag.node`` and, inside blocks,
``asyncdag.branch`` (``url[3].page[0]``) and ``asyncdag.branch_index`` (``[3, 0]``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..execution.observe import Observer, RunInfo
from ..execution.paths import Path, format_path
from ..graph.node import Node

try:
    from opentelemetry import trace
except ImportError as exc:  # pragma: no cover - the extra is installed in tests
    raise ImportError(
        "asyncdag.plugins.h_opentelemetry needs OpenTelemetry: pip install 'asyncdag[otel]'"
    ) from exc

__all__ = ["OpenTelemetryTracer"]

_Key = tuple[Any, ...]


def _names(path: Path) -> tuple[tuple[str, int], ...]:
    return tuple((name, index) for name, index, _ in path)


class OpenTelemetryTracer(Observer):
    """Report a run to OpenTelemetry; pass it to ``Builder.with_adapters``.

    Args:
        tracer_name: the name to get a tracer by (``trace.get_tracer``).
        tracer: a tracer to use instead (give one of the two at most).
    """

    def __init__(self, tracer_name: str | None = None, tracer: trace.Tracer | None = None):
        if tracer_name and tracer:
            raise ValueError("pass tracer_name or tracer, not both")
        self.tracer = tracer or trace.get_tracer(tracer_name or "asyncdag")
        self._spans: dict[_Key, trace.Span] = {}  # live spans of every run, by position

    def _start(self, key: _Key, parent: _Key | None, name: str, **attributes: Any) -> None:
        parent_span = self._spans.get(parent) if parent is not None else None
        context = trace.set_span_in_context(parent_span) if parent_span is not None else None
        span = self.tracer.start_span(name, context=context, attributes=attributes)
        self._spans[key] = span

    def _end(self, key: _Key, error: BaseException | None) -> None:
        span = self._spans.pop(key, None)
        if span is None:
            return
        if error is not None:
            span.record_exception(error)
            span.set_status(trace.Status(trace.StatusCode.ERROR, str(error)))
        else:
            span.set_status(trace.Status(trace.StatusCode.OK))
        span.end()

    def _branch_key(self, run: RunInfo, path: Path) -> _Key:
        return (run.run_id, "branch", _names(path)) if path else (run.run_id,)

    async def run_started(self, run: RunInfo) -> None:
        self._start(
            (run.run_id,),
            None,
            f"asyncdag.execute {run.run_id}",
            final_vars=list(run.final_vars),
            inputs=sorted(run.inputs),
            overrides=sorted(run.overrides),
            execution_path=list(run.execution_path),
        )

    async def node_started(self, run: RunInfo, node: Node, path: Path, kwargs: Any) -> None:
        attributes: dict[str, Any] = {
            "asyncdag.node": node.name,
            "type": str(node.returns),
            "tags": json.dumps(dict(node.tags), default=str),
        }
        if path:
            attributes["asyncdag.branch"] = format_path(path)
            attributes["asyncdag.branch_index"] = [i for _, i, _ in path]
        key = (run.run_id, "node", node.name, _names(path))
        self._start(key, self._branch_key(run, path), node.name, **attributes)

    async def node_finished(
        self,
        run: RunInfo,
        node: Node,
        path: Path,
        kwargs: Any,
        result: Any,
        error: BaseException | None,
    ) -> None:
        self._end((run.run_id, "node", node.name, _names(path)), error)

    async def item_yielded(self, run: RunInfo, expander: Node, path: Path) -> None:
        block = (run.run_id, "block", expander.name, _names(path[:-1]))
        if block not in self._spans:
            parent = self._branch_key(run, path[:-1])
            self._start(block, parent, f"{expander.name}[]", **{"asyncdag.block": expander.name})
        self._start(
            self._branch_key(run, path),
            block,
            format_path(path),
            **{
                "asyncdag.branch": format_path(path),
                "asyncdag.branch_index": [i for _, i, _ in path],
            },
        )

    async def branch_finished(
        self, run: RunInfo, expander: Node, path: Path, error: BaseException | None
    ) -> None:
        self._end(self._branch_key(run, path), error)

    async def block_finished(self, run: RunInfo, expander: Node, path: Path, branches: int) -> None:
        key = (run.run_id, "block", expander.name, _names(path))
        span = self._spans.get(key)
        if span is not None:
            span.set_attribute("asyncdag.branches", branches)
        self._end(key, None)

    async def run_finished(
        self, run: RunInfo, results: Mapping[str, Any] | None, error: BaseException | None
    ) -> None:
        # Spans of a failed run that never finished end with the run's error.
        for key in [k for k in self._spans if k[0] == run.run_id and len(k) > 1]:
            self._end(key, error)
        self._end((run.run_id,), error)
