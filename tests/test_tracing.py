"""OpenTelemetry: a span per run, block, branch and node, nested as the run is."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import make_module
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from asyncdag import Builder, Collect, Parallelizable
from asyncdag.plugins.h_opentelemetry import OpenTelemetryTracer

# The SDK's span processors and exporters guard their state with thread locks, held for
# microseconds and uncontended here; blockbuster would count each acquire as blocking.
pytestmark = pytest.mark.allow_blocking


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def tracer(exporter: InMemorySpanExporter) -> OpenTelemetryTracer:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return OpenTelemetryTracer(tracer=provider.get_tracer("tests"))


def fan_out() -> Any:
    def url(n: int) -> Parallelizable[int]:
        yield from range(n)

    async def page(url: int) -> int:
        if url == 99:
            raise ValueError("bad page")
        return url

    def total(page: Collect[int]) -> int:
        return sum(page)

    return make_module(url, page, total)


def by_name(spans: tuple[ReadableSpan, ...]) -> dict[str, list[ReadableSpan]]:
    found: dict[str, list[ReadableSpan]] = {}
    for span in spans:
        found.setdefault(span.name, []).append(span)
    return found


def parent_of(span: ReadableSpan, spans: tuple[ReadableSpan, ...]) -> ReadableSpan:
    assert span.parent is not None
    (parent,) = [s for s in spans if s.context.span_id == span.parent.span_id]
    return parent


async def test_each_branch_node_span_is_a_child_of_its_branch_inside_its_block(
    exporter: InMemorySpanExporter, tracer: OpenTelemetryTracer
) -> None:
    dr = Builder().with_modules(fan_out()).with_adapters(tracer).build()
    await dr.execute(["total"], inputs={"n": 3})
    spans = exporter.get_finished_spans()
    named = by_name(spans)
    assert len(named["page"]) == 3
    for span in named["page"]:
        assert span.attributes is not None
        index = span.attributes["asyncdag.branch_index"]
        branch = parent_of(span, spans)
        assert branch.name == f"url[{index[0]}]"
        block = parent_of(branch, spans)
        assert block.name == "url[]"
        assert parent_of(block, spans).name.startswith("asyncdag.execute")


async def test_nodes_outside_blocks_are_children_of_the_run_span(
    exporter: InMemorySpanExporter, tracer: OpenTelemetryTracer
) -> None:
    dr = Builder().with_modules(fan_out()).with_adapters(tracer).build()
    await dr.execute(["total"], inputs={"n": 2})
    spans = exporter.get_finished_spans()
    (total,) = by_name(spans)["total"]
    assert parent_of(total, spans).name.startswith("asyncdag.execute")
    assert all(s.status.status_code == StatusCode.OK for s in spans)


async def test_a_failing_branch_marks_its_node_branch_and_run_spans_as_errors(
    exporter: InMemorySpanExporter, tracer: OpenTelemetryTracer
) -> None:
    dr = Builder().with_modules(fan_out()).with_adapters(tracer).build()
    with pytest.raises(ValueError):
        await dr.execute(["total"], inputs={"n": 100})
    named = by_name(exporter.get_finished_spans())
    failed = [s for s in named["page"] if s.status.status_code == StatusCode.ERROR]
    assert len(failed) == 1
    (run,) = [
        s for name, spans in named.items() if name.startswith("asyncdag.execute") for s in spans
    ]
    assert run.status.status_code == StatusCode.ERROR


def test_tracer_takes_a_tracer_name_or_a_tracer_but_not_both() -> None:
    provider = TracerProvider()
    with pytest.raises(ValueError, match="not both"):
        OpenTelemetryTracer(tracer_name="x", tracer=provider.get_tracer("y"))
