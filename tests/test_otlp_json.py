"""OTLP/JSON: replay requests made by the OpenTelemetry SDK, in every accepted layout, and compare what arrives."""

from __future__ import annotations

import base64
import gzip
import json
import re
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import zstandard
from google.protobuf.json_format import MessageToDict
from opentelemetry import trace
from opentelemetry._logs import SeverityNumber  # noqa: TID251  # the SDK's log API is the tool that makes the input
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span
from opentelemetry.sdk._logs import LoggerProvider  # noqa: TID251
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor  # noqa: TID251
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.metrics.view import ExponentialBucketHistogramAggregation, View
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, NonRecordingSpan, SpanContext, SpanKind, TraceFlags, TraceState
from opentelemetry.trace.status import Status, StatusCode

from otel_replay.formats import otlp_json
from otel_replay.model import Item, LogData, MetricData, MetricKind, Notice, Skipped, SpanData
from otel_replay.receiver import OTLPReceiver
from tests.conftest import DATA, Result, run_cli

OTLP_DATA = DATA / "otlp"
BASE_NANO = 1_796_413_207_753_123_456
"""A start time with digits down to the nanosecond, which float arithmetic would round."""
SCHEMA_URL = "https://opentelemetry.io/schemas/1.26.0"
ID_KEYS = frozenset({"traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id"})
INT64_KEYS = frozenset(
    {
        "startTimeUnixNano",
        "endTimeUnixNano",
        "timeUnixNano",
        "observedTimeUnixNano",
        "intValue",
        "asInt",
        "count",
        "zeroCount",
        "bucketCounts",
    }
)


# --- input made by the SDK -------------------------------------------------------------


@dataclass(frozen=True)
class Telemetry:
    """Export requests encoded by the SDK's own OTLP encoder, as the originals to compare against."""

    traces: list[Any]
    logs: list[Any]


def make_trace_requests() -> list[Any]:
    """Record spans with the SDK and encode them as two requests, from two resources."""
    limits = SpanLimits(
        max_span_attributes=12, max_events=3, max_links=2, max_event_attributes=2, max_link_attributes=2
    )
    requests = []
    for service, make_spans in (("checkout", _record_checkout_spans), ("worker", _record_worker_spans)):
        exporter = InMemorySpanExporter()
        resource = Resource(
            {"service.name": service, "host.cpu.count": 8, "ratio": 0.25, "canary": True, "zones": ["a", "b"]},
            schema_url=SCHEMA_URL,
        )
        provider = TracerProvider(resource=resource, span_limits=limits)
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        make_spans(provider)
        provider.shutdown()
        requests.append(encode_spans(exporter.get_finished_spans()))
    return requests


def _record_checkout_spans(provider: TracerProvider) -> None:
    tracer = provider.get_tracer("checkout.http", "2.1.0", schema_url=SCHEMA_URL, attributes={"scope.kind": "http"})
    upstream = SpanContext(
        trace_id=0x5B8EFFF798038103D269B633813FC60C,
        span_id=0xEEE19B7EC3C1B174,
        is_remote=False,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
        trace_state=TraceState([("vendor", "a1b2"), ("other", "x")]),
    )
    linked = SpanContext(0x0AF7651916CD43DD8448EB211C80319C, 0xB7AD6B7169203331, is_remote=False)
    attributes = {
        "http.method": "GET",
        "http.status_code": 200,
        "ratio": 0.125,
        "cached": False,
        "tags": ["a", "b"],
        "sizes": [1, 2, 3],
        "weights": [0.5, 1.5],
        "flags": [True, False],
        "big": 2**63 - 1,
        "emoji": "caf\u00e9 \U0001f600",
        "empty": "",
        "extra.1": 1,
        "extra.2": 2,
        "extra.3": 3,
    }
    root = tracer.start_span(
        "GET /checkout",
        context=trace.set_span_in_context(NonRecordingSpan(upstream)),
        kind=SpanKind.SERVER,
        attributes=attributes,
        # The span keeps its 2 newest links, so the first one is dropped.
        links=[
            Link(SpanContext(0x3F, 0x4F, is_remote=False)),
            Link(SpanContext(0x1F, 0x2F, is_remote=False), {"n": 1}),
            Link(linked, {"link.reason": "retry", "attempt": 2, "dropped.one": True}),
        ],
        start_time=BASE_NANO,
    )
    # The span keeps its 3 newest events, so the first one is dropped.
    root.add_event("dropped", timestamp=BASE_NANO + 1_001)
    root.add_event("retry", timestamp=BASE_NANO + 2_002)
    root.add_event("third", {"n": 3}, timestamp=BASE_NANO + 3_003)
    root.add_event("cache.miss", {"key": "cart:42", "ttl": 30, "dropped": "yes"}, timestamp=BASE_NANO + 4_004)
    root.set_status(Status(StatusCode.OK))

    child = tracer.start_span(
        "SELECT carts", context=trace.set_span_in_context(root), kind=SpanKind.CLIENT, start_time=BASE_NANO + 5_005
    )
    child.set_attribute("db.system", "postgresql")
    child.set_status(Status(StatusCode.ERROR, "deadlock detected"))
    child.end(end_time=BASE_NANO + 9_009)
    root.end(end_time=BASE_NANO + 20_020)


def _record_worker_spans(provider: TracerProvider) -> None:
    tracer = provider.get_tracer("worker.queue")
    for number, kind in enumerate((SpanKind.PRODUCER, SpanKind.CONSUMER, SpanKind.INTERNAL)):
        span = tracer.start_span(f"job {number}", kind=kind, start_time=BASE_NANO + 100_000 * number)
        span.set_attribute("job.number", number)
        span.end(end_time=BASE_NANO + 100_000 * number + 50_000)


def make_log_requests() -> list[Any]:
    """Emit log records with the SDK and encode them as one request."""
    exporter = InMemoryLogRecordExporter()
    provider = LoggerProvider(resource=Resource({"service.name": "checkout", "pid": 4242}, schema_url=SCHEMA_URL))
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    audit = provider.get_logger("checkout.audit", "1.4.0", schema_url=SCHEMA_URL, attributes={"scope.attr": "x"})
    plain = provider.get_logger("checkout.plain")
    span_context = SpanContext(
        0x5B8EFFF798038103D269B633813FC60C, 0xEEE19B7EC3C1B174, is_remote=False, trace_flags=TraceFlags(1)
    )
    in_span = trace.set_span_in_context(NonRecordingSpan(span_context))

    audit.emit(
        timestamp=BASE_NANO + 1,
        observed_timestamp=BASE_NANO + 2,
        context=in_span,
        severity_number=SeverityNumber.INFO,
        severity_text="INFO",
        body="order placed",
        attributes={"order.id": 42, "amount": 9.99, "express": True, "items": ["a", "b"]},
        event_name="checkout.order",
    )
    bodies: list[Any] = [
        {"user": {"id": 7, "tags": ["vip"]}, "ok": True},
        ["a", 1, 2.5, False],
        b"\x00\xffbinary",
        42,
        3.5,
        None,
    ]
    for number, body in enumerate(bodies):
        plain.emit(
            timestamp=BASE_NANO + 10 * (number + 1),
            observed_timestamp=BASE_NANO + 10 * (number + 1) + 5,
            severity_number=SeverityNumber.WARN2 if number % 2 else SeverityNumber.ERROR,
            severity_text="WARN" if number % 2 else "ERROR",
            body=body,
            attributes={"number": number},
        )
    provider.shutdown()
    return [encode_logs(exporter.get_finished_logs())]


@pytest.fixture(scope="module")
def telemetry() -> Telemetry:
    """Spans and log records made by the SDK, encoded by the SDK's OTLP encoder."""
    return Telemetry(traces=make_trace_requests(), logs=make_log_requests())


# --- writing OTLP/JSON the ways real tools do ------------------------------------------


def to_json(
    request: Any,
    *,
    hex_ids: bool = True,
    enum_names: bool = False,
    snake_case: bool = False,
    int64_numbers: bool = False,
) -> dict[str, Any]:
    """Return the OTLP/JSON object of a request; the defaults follow the Collector's file exporter.

    The Collector writes hexadecimal IDs and integer enums; protobuf's generic JSON mapping,
    used with the other options, writes base64 IDs and enum names.
    """
    document = MessageToDict(request, use_integers_for_enums=not enum_names, preserving_proto_field_name=snake_case)
    if hex_ids:
        document = _rewrite(document, ID_KEYS, lambda value: base64.b64decode(value).hex())
    if int64_numbers:
        document = _rewrite(document, INT64_KEYS | {_snake(key) for key in INT64_KEYS}, _to_int)
    return document


def _rewrite(value: Any, keys: frozenset[str], convert: Callable[[Any], Any]) -> Any:
    if isinstance(value, dict):
        return {key: convert(item) if key in keys else _rewrite(item, keys, convert) for key, item in value.items()}
    if isinstance(value, list):
        return [_rewrite(item, keys, convert) for item in value]
    return value


def _to_int(value: Any) -> Any:
    if isinstance(value, list):
        return [int(item) for item in value]
    return int(value)


def _snake(key: str) -> str:
    return re.sub("([A-Z])", lambda match: "_" + match.group(1).lower(), key)


def _lines(documents: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(document, separators=(",", ":")).encode() + b"\n" for document in documents)


@dataclass(frozen=True)
class Layout:
    """One way to write a file of OTLP/JSON requests."""

    name: str
    suffix: str
    write: Callable[[list[Any]], bytes]


LAYOUTS = [
    Layout("collector-lines", ".jsonl", lambda requests: _lines([to_json(request) for request in requests])),
    Layout(
        "pretty-concatenated",
        ".json",
        lambda requests: "\n".join(json.dumps(to_json(request), indent=2) for request in requests).encode(),
    ),
    Layout(
        "compact-concatenated",
        ".json",
        lambda requests: "".join(json.dumps(to_json(request)) for request in requests).encode(),
    ),
    Layout(
        "array-wrapped",
        ".json",
        lambda requests: json.dumps([to_json(request) for request in requests], indent=2).encode(),
    ),
    Layout("gzip", ".jsonl.gz", lambda requests: gzip.compress(_lines([to_json(request) for request in requests]))),
    Layout(
        "zstd",
        ".jsonl.zst",
        lambda requests: zstandard.ZstdCompressor().compress(_lines([to_json(request) for request in requests])),
    ),
    Layout("base64-ids", ".jsonl", lambda requests: _lines([to_json(request, hex_ids=False) for request in requests])),
    Layout(
        "snake-case", ".jsonl", lambda requests: _lines([to_json(request, snake_case=True) for request in requests])
    ),
    Layout(
        "enum-names", ".jsonl", lambda requests: _lines([to_json(request, enum_names=True) for request in requests])
    ),
    Layout(
        "int64-numbers",
        ".jsonl",
        lambda requests: _lines([to_json(request, int64_numbers=True) for request in requests]),
    ),
    Layout(
        "all-alternatives",
        ".json",
        lambda requests: json.dumps(
            [
                to_json(request, hex_ids=False, enum_names=True, snake_case=True, int64_numbers=True)
                for request in requests
            ],
            indent=1,
        ).encode(),
    ),
]


def write_file(tmp_path: Path, layout: Layout, requests: list[Any]) -> Path:
    """Write requests in a layout and return the file's path."""
    path = tmp_path / f"{layout.name}{layout.suffix}"
    path.write_bytes(layout.write(requests))
    return path


def replay(receiver: OTLPReceiver, *paths: Path) -> Result:
    """Replay files through the CLI into the receiver, with the JSON summary on stdout."""
    return run_cli("replay", *paths, "--endpoint", receiver.url, "--json")


# --- comparing what arrived with the originals -----------------------------------------


def walk_spans(requests: list[Any]) -> Iterator[tuple[Any, Any, Any]]:
    """Yield (ResourceSpans, ScopeSpans, Span) for every span of trace requests."""
    for request in requests:
        for resource_spans in request.resource_spans:
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    yield resource_spans, scope_spans, span


def walk_logs(requests: list[Any]) -> Iterator[tuple[Any, Any, Any]]:
    """Yield (ResourceLogs, ScopeLogs, LogRecord) for every log record of log requests."""
    for request in requests:
        for resource_logs in request.resource_logs:
            for scope_logs in resource_logs.scope_logs:
                for record in scope_logs.log_records:
                    yield resource_logs, scope_logs, record


def assert_same_message(received: Any, original: Any, label: str) -> None:
    """Assert that two protobuf messages are equal, one field at a time, so a failure names the field."""
    for field in original.DESCRIPTOR.fields:
        assert getattr(received, field.name) == getattr(original, field.name), f"{label}.{field.name}"


def assert_spans_arrived(receiver: OTLPReceiver, originals: list[Any]) -> None:
    """Assert that each original span arrived once, identical in every field, with its resource and scope."""
    expected = {
        span.span_id: (resource_spans, scope_spans, span) for resource_spans, scope_spans, span in walk_spans(originals)
    }
    received = list(walk_spans(receiver.received.traces))
    assert sorted(span.span_id for _, _, span in received) == sorted(expected)

    for resource_spans, scope_spans, span in received:
        original_resource_spans, original_scope_spans, original = expected[span.span_id]
        assert_same_message(span, original, f"span {span.name!r}")
        assert_same_message(resource_spans.resource, original_resource_spans.resource, "resource")
        assert resource_spans.schema_url == original_resource_spans.schema_url
        assert_same_message(scope_spans.scope, original_scope_spans.scope, "scope")
        assert scope_spans.schema_url == original_scope_spans.schema_url


def assert_logs_arrived(receiver: OTLPReceiver, originals: list[Any]) -> None:
    """Assert that each original log record arrived once, identical in every field, with its resource and scope."""
    # Every record of the input has its own time, so the time identifies it.
    expected = {
        record.time_unix_nano: (resource_logs, scope_logs, record)
        for resource_logs, scope_logs, record in walk_logs(originals)
    }
    received = list(walk_logs(receiver.received.logs))
    assert sorted(record.time_unix_nano for _, _, record in received) == sorted(expected)

    for resource_logs, scope_logs, record in received:
        original_resource_logs, original_scope_logs, original = expected[record.time_unix_nano]
        assert_same_message(record, original, f"log record at {record.time_unix_nano}")
        assert_same_message(resource_logs.resource, original_resource_logs.resource, "resource")
        assert resource_logs.schema_url == original_resource_logs.schema_url
        assert_same_message(scope_logs.scope, original_scope_logs.scope, "scope")
        assert scope_logs.schema_url == original_scope_logs.schema_url


# --- end to end: every layout ----------------------------------------------------------


@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda layout: layout.name)
def test_layout_spans_arrive_identical(
    tmp_path: Path, receiver: OTLPReceiver, telemetry: Telemetry, layout: Layout
) -> None:
    """Every span arrives with every field as the SDK encoded it: IDs, times, kind, links, events, status."""
    path = write_file(tmp_path, layout, telemetry.traces)

    result = replay(receiver, path)

    assert result.exit_code == 0, result.stderr
    assert_spans_arrived(receiver, telemetry.traces)


@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda layout: layout.name)
def test_layout_logs_arrive_identical(
    tmp_path: Path, receiver: OTLPReceiver, telemetry: Telemetry, layout: Layout
) -> None:
    """Every log record arrives with every field as the SDK encoded it: times, severity, body, IDs, event name."""
    path = write_file(tmp_path, layout, telemetry.logs)

    result = replay(receiver, path)

    assert result.exit_code == 0, result.stderr
    assert_logs_arrived(receiver, telemetry.logs)


def test_mixed_file_sends_both_signals(tmp_path: Path, receiver: OTLPReceiver, telemetry: Telemetry) -> None:
    """One file with trace and log requests on alternate lines sends both."""
    documents = [to_json(request) for request in [telemetry.traces[0], *telemetry.logs, telemetry.traces[1]]]
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(_lines(documents))

    result = replay(receiver, path)

    assert result.exit_code == 0, result.stderr
    assert_spans_arrived(receiver, telemetry.traces)
    assert_logs_arrived(receiver, telemetry.logs)


def test_summary_counts_every_record(tmp_path: Path, receiver: OTLPReceiver, telemetry: Telemetry) -> None:
    """The summary counts each span and log record of the file as read and sent."""
    path = write_file(tmp_path, LAYOUTS[0], [*telemetry.traces, *telemetry.logs])

    summary = json.loads(replay(receiver, path).stdout)

    spans = len(list(walk_spans(telemetry.traces)))
    logs = len(list(walk_logs(telemetry.logs)))
    assert summary["signals"]["traces"]["read"] == spans
    assert summary["signals"]["traces"]["sent"] == spans
    assert summary["signals"]["logs"]["read"] == logs
    assert summary["signals"]["logs"]["sent"] == logs


def test_sdk_input_covers_fields(telemetry: Telemetry) -> None:
    """The SDK-made input really contains the fields the end-to-end tests claim to cover."""
    spans = [span for _, _, span in walk_spans(telemetry.traces)]
    records = [record for _, _, record in walk_logs(telemetry.logs)]

    assert {span.kind for span in spans} == {1, 2, 3, 4, 5}
    assert any(span.trace_state for span in spans)
    assert any(span.dropped_attributes_count for span in spans)
    assert any(span.dropped_events_count for span in spans)
    assert any(span.dropped_links_count for span in spans)
    assert any(event.dropped_attributes_count for span in spans for event in span.events)
    assert any(link.dropped_attributes_count for span in spans for link in span.links)
    assert any(span.status.code == 2 and span.status.message for span in spans)
    assert any(span.start_time_unix_nano % 1000 for span in spans)
    assert {record.body.WhichOneof("value") for record in records} == {
        "string_value",
        "kvlist_value",
        "array_value",
        "bytes_value",
        "int_value",
        "double_value",
        None,
    }
    assert any(record.event_name for record in records)
    assert any(record.trace_id and record.flags for record in records)
    assert any(record.observed_time_unix_nano != record.time_unix_nano for record in records)


# --- fields the SDK cannot produce -----------------------------------------------------


def _edit_first_span(requests: list[Any], edit: Callable[[Any, Any, Any], None]) -> list[Any]:
    copies = [ExportTraceServiceRequest.FromString(request.SerializeToString()) for request in requests]
    resource_spans, scope_spans, span = next(walk_spans(copies))
    edit(resource_spans, scope_spans, span)
    return copies


def _edit_first_linked_span(requests: list[Any], edit: Callable[[Any, Any, Any], None]) -> list[Any]:
    copies = [ExportTraceServiceRequest.FromString(request.SerializeToString()) for request in requests]
    resource_spans, scope_spans, span = next(item for item in walk_spans(copies) if item[2].links)
    edit(resource_spans, scope_spans, span)
    return copies


def _edit_first_log(requests: list[Any], edit: Callable[[Any, Any, Any], None]) -> list[Any]:
    copies = [ExportLogsServiceRequest.FromString(request.SerializeToString()) for request in requests]
    resource_logs, scope_logs, record = next(walk_logs(copies))
    edit(resource_logs, scope_logs, record)
    return copies


def _set(path: str, value: Any) -> Callable[[Any, Any, Any], None]:
    """Return an edit that sets a dotted field path that starts at "resource", "scope" or "record"."""

    def edit(resource_group: Any, scope_group: Any, record: Any) -> None:
        root, *names = path.split(".")
        target = {"resource": resource_group.resource, "scope": scope_group.scope, "record": record}[root]
        for name in names[:-1]:
            target = getattr(target, name)
        setattr(target, names[-1], value)

    return edit


def _set_ok_status_message(_: Any, __: Any, span: Any) -> None:
    span.status.code = StatusCode.OK.value
    span.status.message = "ok with message"


SPAN_FIELD_CASES = [
    pytest.param(_set("record.name", "renamed"), id="name"),
    pytest.param(_set_ok_status_message, id="ok-status-message"),
    pytest.param(_set("scope.name", ""), id="empty-scope-name"),
    pytest.param(_set("resource.dropped_attributes_count", 0), id="resource-dropped-zero"),
    pytest.param(_set("record.flags", 0x301), id="span-flags"),
    pytest.param(_set("record.kind", 0), id="kind-unspecified"),
    pytest.param(_set("resource.dropped_attributes_count", 3), id="resource-dropped"),
    pytest.param(_set("scope.dropped_attributes_count", 2), id="scope-dropped"),
]


@pytest.mark.parametrize("edit", SPAN_FIELD_CASES)
def test_hand_set_span_field_arrives(
    tmp_path: Path, receiver: OTLPReceiver, telemetry: Telemetry, edit: Callable[[Any, Any, Any], None]
) -> None:
    """A span field set by hand in the input arrives as set."""
    requests = _edit_first_span(telemetry.traces, edit)

    result = replay(receiver, write_file(tmp_path, LAYOUTS[0], requests))

    assert result.exit_code == 0, result.stderr
    assert_spans_arrived(receiver, requests)


def _set_link_trace_state(_: Any, __: Any, span: Any) -> None:
    span.links[0].trace_state = "vendor=link"


def _set_link_flags(_: Any, __: Any, span: Any) -> None:
    span.links[0].flags = 0x301


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(_set_link_trace_state, id="link-trace-state"),
        pytest.param(_set_link_flags, id="link-flags"),
    ],
)
def test_hand_set_link_field_arrives(
    tmp_path: Path, receiver: OTLPReceiver, telemetry: Telemetry, edit: Callable[[Any, Any, Any], None]
) -> None:
    """A link's trace state and flags, which the SDK's encoder derives or leaves out, arrive as set."""
    requests = _edit_first_linked_span(telemetry.traces, edit)

    result = replay(receiver, write_file(tmp_path, LAYOUTS[0], requests))

    assert result.exit_code == 0, result.stderr
    assert_spans_arrived(receiver, requests)


LOG_FIELD_CASES = [
    pytest.param(_set("record.severity_text", "NOTICE"), id="severity-text"),
    pytest.param(_set("record.dropped_attributes_count", 4), id="log-dropped"),
    pytest.param(_set("record.flags", 0x101), id="log-flags-high-bits"),
]


@pytest.mark.parametrize("edit", LOG_FIELD_CASES)
def test_hand_set_log_field_arrives(
    tmp_path: Path, receiver: OTLPReceiver, telemetry: Telemetry, edit: Callable[[Any, Any, Any], None]
) -> None:
    """A log record field set by hand in the input arrives as set."""
    requests = _edit_first_log(telemetry.logs, edit)

    result = replay(receiver, write_file(tmp_path, LAYOUTS[0], requests))

    assert result.exit_code == 0, result.stderr
    assert_logs_arrived(receiver, requests)


# --- metrics: the reader's output, checked against the SDK's request --------------------


def make_metric_request() -> Any:
    """Record every SDK instrument kind, encode it, and add a summary, which the SDK cannot make."""
    reader = InMemoryMetricReader()
    provider = MeterProvider(
        resource=Resource({"service.name": "checkout"}, schema_url=SCHEMA_URL),
        metric_readers=[reader],
        views=[View(instrument_name="latency.exp", aggregation=ExponentialBucketHistogramAggregation())],
    )
    meter = provider.get_meter("checkout.metrics", "3.0.0", schema_url=SCHEMA_URL, attributes={"meter.attr": 1})
    meter.create_counter("orders", unit="{order}", description="orders placed").add(3, {"region": "eu"})
    meter.create_up_down_counter("queue.depth").add(-2, {"queue": "a"})
    histogram = meter.create_histogram("latency", unit="ms")
    exponential = meter.create_histogram("latency.exp", unit="ms")
    for value in (0.5, 12.0, 250.0):
        histogram.record(value, {"route": "/checkout"})
        exponential.record(value)
    meter.create_gauge("temperature").set(21.5, {"room": "lab"})
    meter.create_observable_gauge("cpu.count", callbacks=[lambda _: [_observation(8)]])
    request = encode_metrics(reader.get_metrics_data())
    provider.shutdown()

    scope_metrics = request.resource_metrics[0].scope_metrics[0]
    summary = scope_metrics.metrics.add(name="rpc.duration", unit="s", description="client-side summary")
    point = summary.summary.data_points.add(
        start_time_unix_nano=BASE_NANO, time_unix_nano=BASE_NANO + 7, count=5, sum=2.5, flags=1
    )
    point.attributes.add(key="rpc", value={"string_value": "get"})
    point.quantile_values.add(quantile=0.5, value=0.4)
    point.quantile_values.add(quantile=0.99, value=1.2)
    scope_metrics.metrics[0].metadata.add(key="origin", value={"string_value": "sdk"})
    return request


def _observation(value: int) -> Any:
    from opentelemetry.metrics import Observation

    return Observation(value, {"host": "a"})


def _read_metrics(tmp_path: Path, request: Any) -> list[Item]:
    path = tmp_path / "metrics.jsonl"
    path.write_bytes(_lines([to_json(request)]))
    return list(otlp_json.read(path))


def _expected_point(kind: MetricKind, pb2_point: Any) -> dict[str, Any]:
    expected: dict[str, Any] = {
        "start_time_unix_nano": pb2_point.start_time_unix_nano,
        "time_unix_nano": pb2_point.time_unix_nano,
        "attributes": {pair.key: getattr(pair.value, pair.value.WhichOneof("value")) for pair in pb2_point.attributes},
        "flags": pb2_point.flags,
    }
    if kind in (MetricKind.GAUGE, MetricKind.SUM):
        expected["value"] = getattr(pb2_point, pb2_point.WhichOneof("value"))
        return expected
    expected["count"] = pb2_point.count
    expected["sum"] = pb2_point.sum
    if kind is MetricKind.SUMMARY:
        expected["quantile_values"] = tuple((pair.quantile, pair.value) for pair in pb2_point.quantile_values)
        return expected
    expected["min"] = pb2_point.min
    expected["max"] = pb2_point.max
    if kind is MetricKind.HISTOGRAM:
        expected["bucket_counts"] = tuple(pb2_point.bucket_counts)
        expected["explicit_bounds"] = tuple(pb2_point.explicit_bounds)
        return expected
    expected["scale"] = pb2_point.scale
    expected["zero_count"] = pb2_point.zero_count
    expected["positive_offset"] = pb2_point.positive.offset
    expected["positive_bucket_counts"] = tuple(pb2_point.positive.bucket_counts)
    expected["negative_offset"] = pb2_point.negative.offset
    expected["negative_bucket_counts"] = tuple(pb2_point.negative.bucket_counts)
    return expected


def test_metrics_read_field_by_field(tmp_path: Path) -> None:
    """Each metric becomes one MetricData whose metadata, kind and data points equal the request's."""
    request = make_metric_request()
    pb2_metrics = list(request.resource_metrics[0].scope_metrics[0].metrics)

    metrics = [item for item in _read_metrics(tmp_path, request) if isinstance(item, MetricData)]

    assert [metric.name for metric in metrics] == [pb2_metric.name for pb2_metric in pb2_metrics]
    for metric, pb2_metric in zip(metrics, pb2_metrics, strict=True):
        data_type = pb2_metric.WhichOneof("data")
        pb2_data = getattr(pb2_metric, data_type)
        assert metric.kind.value == data_type, metric.name
        assert metric.description == pb2_metric.description, metric.name
        assert metric.unit == pb2_metric.unit, metric.name
        assert metric.aggregation_temporality == getattr(pb2_data, "aggregation_temporality", 0), metric.name
        assert metric.is_monotonic == getattr(pb2_data, "is_monotonic", False), metric.name
        assert dict(metric.metadata) == {pair.key: pair.value.string_value for pair in pb2_metric.metadata}
        assert len(metric.points) == len(pb2_data.data_points), metric.name
        for point, pb2_point in zip(metric.points, pb2_data.data_points, strict=True):
            for name, value in _expected_point(metric.kind, pb2_point).items():
                assert getattr(point, name) == value, f"{metric.name}: {name}"


def test_metrics_cover_every_kind(tmp_path: Path) -> None:
    """The metric input has every OTLP metric type, so the field-by-field test covers them all."""
    metrics = [item for item in _read_metrics(tmp_path, make_metric_request()) if isinstance(item, MetricData)]

    assert {metric.kind for metric in metrics} == set(MetricKind)


def test_metrics_share_resource_and_scope(tmp_path: Path) -> None:
    """Metrics of one resource and scope share one ResourceData and ScopeData, with every field."""
    metrics = [item for item in _read_metrics(tmp_path, make_metric_request()) if isinstance(item, MetricData)]

    assert len({id(metric.resource) for metric in metrics}) == 1
    assert len({id(metric.scope) for metric in metrics}) == 1
    assert metrics[0].resource.schema_url == SCHEMA_URL
    assert metrics[0].scope.name == "checkout.metrics"
    assert metrics[0].scope.version == "3.0.0"
    assert metrics[0].scope.schema_url == SCHEMA_URL
    assert dict(metrics[0].scope.attributes) == {"meter.attr": 1}


def test_metrics_record_index_counts_metrics(tmp_path: Path) -> None:
    """The record index of a metric is its position among the metrics of the file."""
    items = _read_metrics(tmp_path, make_metric_request())

    indexes = [item.location.index for item in items if isinstance(item, MetricData)]
    assert indexes == list(range(len(indexes)))


def test_metric_exemplars_left_out_with_notice(tmp_path: Path) -> None:
    """Exemplars, which MetricPoint cannot carry, produce a notice after their metric."""
    request = make_metric_request()
    pb2_point = request.resource_metrics[0].scope_metrics[0].metrics[0].sum.data_points[0]
    pb2_point.exemplars.add(time_unix_nano=BASE_NANO, as_int=1, trace_id=b"\x01" * 16, span_id=b"\x02" * 8)

    items = _read_metrics(tmp_path, request)

    notices = [item for item in items if isinstance(item, Notice)]
    assert len(notices) == 1
    assert "exemplar" in notices[0].message
    assert notices[0].location.index == 0
    assert isinstance(items[items.index(notices[0]) - 1], MetricData)


def walk_metrics(requests: list[Any]) -> Iterator[tuple[Any, Any, Any]]:
    """Yield (ResourceMetrics, ScopeMetrics, Metric) for every metric of metric requests."""
    for request in requests:
        for resource_metrics in request.resource_metrics:
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    yield resource_metrics, scope_metrics, metric


@pytest.fixture(scope="module")
def metric_run() -> Iterator[tuple[Any, Result, OTLPReceiver]]:
    """One replay of the SDK's metric request as OTLP/JSON, shared by the metric end-to-end tests."""
    request = make_metric_request()
    with OTLPReceiver() as started, tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "metrics.jsonl"
        path.write_bytes(_lines([to_json(request)]))
        yield request, replay(started, path), started


def test_metrics_replay_exit_status(metric_run: tuple[Any, Result, OTLPReceiver]) -> None:
    """Replaying the metric request succeeds."""
    _, result, _ = metric_run

    assert result.exit_code == 0, result.stderr


def test_metrics_arrive_identical(metric_run: tuple[Any, Result, OTLPReceiver]) -> None:
    """Every metric arrives with its type, temporality, monotonicity and every data point field."""
    request, _, receiver = metric_run
    expected = {
        metric.name: (resource_metrics, scope_metrics, metric)
        for resource_metrics, scope_metrics, metric in walk_metrics([request])
    }
    received = list(walk_metrics(receiver.received.metrics))
    assert sorted(metric.name for _, _, metric in received) == sorted(expected)

    for resource_metrics, scope_metrics, metric in received:
        original_resource_metrics, original_scope_metrics, original = expected[metric.name]
        for name in ("name", "description", "unit"):
            assert getattr(metric, name) == getattr(original, name), f"{metric.name}.{name}"
        data_type = original.WhichOneof("data")
        assert metric.WhichOneof("data") == data_type, metric.name
        data, original_data = getattr(metric, data_type), getattr(original, data_type)
        for field in original_data.DESCRIPTOR.fields:
            if field.name != "data_points":
                assert getattr(data, field.name) == getattr(original_data, field.name), f"{metric.name}.{field.name}"
        assert len(data.data_points) == len(original_data.data_points), metric.name
        for point, original_point in zip(data.data_points, original_data.data_points, strict=True):
            assert_same_message(point, original_point, f"{metric.name} data point")
        assert_same_message(resource_metrics.resource, original_resource_metrics.resource, "resource")
        assert resource_metrics.schema_url == original_resource_metrics.schema_url
        assert_same_message(scope_metrics.scope, original_scope_metrics.scope, "scope")
        assert scope_metrics.schema_url == original_scope_metrics.schema_url


def test_metric_metadata_arrives(metric_run: tuple[Any, Result, OTLPReceiver]) -> None:
    """A metric's metadata arrives."""
    request, _, receiver = metric_run
    _, _, original = next(walk_metrics([request]))

    received = {metric.name: metric for _, _, metric in walk_metrics(receiver.received.metrics)}
    assert received[original.name].metadata == original.metadata


def _metric_named(request: Any, name: str) -> Any:
    return next(metric for _, _, metric in walk_metrics([request]) if metric.name == name)


def _clear_histogram_optionals(request: Any) -> None:
    for point in _metric_named(request, "latency").histogram.data_points:
        for name in ("sum", "min", "max"):
            point.ClearField(name)


def _set_number_point_flags(request: Any) -> None:
    _metric_named(request, "orders").sum.data_points[0].flags = 1


def _set_negative_buckets(request: Any) -> None:
    point = _metric_named(request, "latency.exp").exponential_histogram.data_points[0]
    point.negative.offset = -3
    point.negative.bucket_counts.extend([1, 0, 2])


def _set_delta_temporality(request: Any) -> None:
    _metric_named(request, "orders").sum.aggregation_temporality = 1


@pytest.mark.parametrize(
    "edit",
    [_clear_histogram_optionals, _set_number_point_flags, _set_negative_buckets, _set_delta_temporality],
    ids=["histogram-without-sum-min-max", "number-point-flags", "negative-buckets", "delta-temporality"],
)
def test_hand_set_metric_field_arrives(tmp_path: Path, receiver: OTLPReceiver, edit: Callable[[Any], None]) -> None:
    """A metric field set by hand in the input arrives as set."""
    request = make_metric_request()
    edit(request)
    path = tmp_path / "metrics.jsonl"
    path.write_bytes(_lines([to_json(request)]))

    result = replay(receiver, path)

    assert result.exit_code == 0, result.stderr
    received = {metric.name: metric for _, _, metric in walk_metrics(receiver.received.metrics)}
    for _, _, original in walk_metrics([request]):
        assert received[original.name].WhichOneof("data") == original.WhichOneof("data")
        data_type = original.WhichOneof("data")
        assert getattr(received[original.name], data_type) == getattr(original, data_type), original.name


# --- detection -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "head",
    [
        b'{"resourceSpans":[{"resource":{}}]}',
        b'\xef\xbb\xbf  {\n  "resourceLogs": [',
        b'[\n {\n  "resourceMetrics": [',
        b'{"resource_spans": [',
        b'{\n  "batches": [\n    {\n      "resource": {',
    ],
)
def test_sniff_accepts_requests(head: bytes) -> None:
    """Detection recognises export requests in each layout and key style."""
    assert otlp_json.sniff(head)


@pytest.mark.parametrize(
    "head",
    [
        b'{"name": "app", "scripts": {"logs": "tail"}, "resourceSpans": []}',
        b'{"version": 1, "service": "codemachine", "spanCount": 1, "spans": []}',
        b'{"data": [{"traceID": "abc", "spans": []}]}',
        b'[{"traceId": "5b8efff798038103", "id": "eee19b7e", "name": "get"}]',
        b'{"batches": 3}',
        b"\x00\x00\x00\x10\n\x0e",
        b"",
    ],
    ids=["package-json", "codemachine", "jaeger", "zipkin", "batches-number", "protobuf", "empty"],
)
def test_sniff_rejects_other_content(head: bytes) -> None:
    """Detection does not claim other formats' files or ordinary JSON."""
    assert not otlp_json.sniff(head)


def test_sniff_detects_collector_file(tmp_path: Path, telemetry: Telemetry) -> None:
    """A file written like the Collector's file exporter is detected as otlp-json by the CLI's detection."""
    from otel_replay import formats

    path = write_file(tmp_path, LAYOUTS[0], telemetry.traces)

    detected = formats.detect(path)

    assert detected is not None
    assert detected.name == "otlp-json"


# --- edge cases from hand-written files -------------------------------------------------


def test_unknown_fields_ignored(receiver: OTLPReceiver) -> None:
    """Fields OTLP does not define, at every level, are ignored and the records arrive."""
    result = replay(receiver, OTLP_DATA / "unknown-fields.jsonl")

    assert result.exit_code == 0, result.stderr
    spans = [span for _, _, span in receiver.received.spans()]
    assert [span.name for span in spans] == ["with unknown fields"]
    assert spans[0].span_id.hex() == "eee19b7ec3c1b174"
    assert [record.body.string_value for _, _, record in receiver.received.log_records()] == ["also unknown fields"]


@dataclass(frozen=True)
class InvalidCase:
    """A record of invalid-records.jsonl and the error line it must produce."""

    index: int
    field: str
    message: str


INVALID_CASES = [
    InvalidCase(
        1,
        "resourceSpans[0].scopeSpans[0].spans[1].traceId",
        "invalid ID '5b8efff7980381': expected 32 hexadecimal digits",
    ),
    InvalidCase(2, "resourceSpans[0].scopeSpans[0].spans[2].spanId", "invalid ID 'zz19b7ec3c1b174z'"),
    InvalidCase(3, "resourceSpans[0].scopeSpans[0].spans[3].kind", "invalid value 'SPAN_KIND_SIDEWAYS'"),
    InvalidCase(4, "resourceSpans[0].scopeSpans[0].spans[4].traceId", "an all-zero ID is not valid"),
    InvalidCase(5, "resourceSpans[0].scopeSpans[0].spans[5]", "expected a JSON object, got a string"),
    InvalidCase(6, "resourceSpans[0].scopeSpans[0].spans[6].kind", "invalid span kind 9"),
    InvalidCase(7, "resourceSpans[0].scopeSpans[0].spans[7]", "startTimeUnixNano"),
    InvalidCase(9, "resourceLogs[0].scopeLogs[0].logRecords[0].spanId", "invalid ID 'abc'"),
    InvalidCase(10, "resourceLogs[0].scopeLogs[0].logRecords[1].severityNumber", "invalid severity number 99"),
]


@pytest.fixture(scope="module")
def invalid_run() -> Iterator[tuple[Result, OTLPReceiver]]:
    """One replay of invalid-records.jsonl, shared by the tests of its error lines."""
    with OTLPReceiver() as started:
        yield replay(started, OTLP_DATA / "invalid-records.jsonl"), started


@pytest.mark.parametrize("case", INVALID_CASES, ids=lambda case: case.field.rsplit(".", 1)[-1] + str(case.index))
def test_invalid_record_error_names_field(invalid_run: tuple[Result, OTLPReceiver], case: InvalidCase) -> None:
    """Each invalid record produces an error naming the file, the record index and the field."""
    result, _ = invalid_run

    lines = [line for line in result.stderr.splitlines() if f"record {case.index}, field {case.field}:" in line]
    assert len(lines) == 1, result.stderr
    assert case.message in lines[0]
    assert "Fix or remove this record" in lines[0]


def test_invalid_records_others_arrive(invalid_run: tuple[Result, OTLPReceiver]) -> None:
    """The valid records around the invalid ones arrive."""
    _, receiver = invalid_run

    assert [span.name for _, _, span in receiver.received.spans()] == ["valid before", "valid after"]
    assert [record.body.string_value for _, _, record in receiver.received.log_records()] == ["valid log"]


def test_invalid_records_summary(invalid_run: tuple[Result, OTLPReceiver]) -> None:
    """The invalid records are counted as skipped (invalid), and the exit status is 1."""
    result, _ = invalid_run
    summary = json.loads(result.stdout)

    assert result.exit_code == 1
    assert summary["signals"]["traces"]["skipped_by_reason"] == {"invalid": 7}
    assert summary["signals"]["logs"]["skipped_by_reason"] == {"invalid": 2}
    assert summary["signals"]["traces"]["sent"] == 2
    assert summary["signals"]["logs"]["sent"] == 1


def test_truncated_file_sends_complete_documents(receiver: OTLPReceiver) -> None:
    """A file cut inside its third line sends the records of the first two lines."""
    result = replay(receiver, OTLP_DATA / "truncated.jsonl")

    assert [span.name for _, _, span in receiver.received.spans()] == ["line 1", "line 2"]
    assert result.exit_code == 1


def test_truncated_file_error_names_line(receiver: OTLPReceiver) -> None:
    """The error for a truncated file names the line where the cut document starts."""
    result = replay(receiver, OTLP_DATA / "truncated.jsonl")

    assert "document that starts at line 3" in result.stderr
    assert "the file looks truncated" in result.stderr


def test_lone_surrogate_replaced(receiver: OTLPReceiver) -> None:
    """A lone surrogate escape arrives as U+FFFD, with a warning naming the record and field."""
    result = replay(receiver, OTLP_DATA / "lone-surrogate.json")

    assert result.exit_code == 0, result.stderr
    spans = [span for _, _, span in receiver.received.spans()]
    assert spans[0].name == "cut \ufffd"
    assert "record 0, field resourceSpans[0].scopeSpans[0].spans[0].name" in result.stderr
    assert "U+FFFD" in result.stderr


def test_grafana_download_arrives(receiver: OTLPReceiver) -> None:
    """Grafana's trace download (batches, instrumentationLibrarySpans, base64 IDs, enum names) arrives."""
    result = replay(receiver, OTLP_DATA / "grafana-download.json")

    assert result.exit_code == 0, result.stderr
    received = receiver.received.spans()
    assert [span.name for _, _, span in received] == ["HTTP GET - root", "HTTP Client"]
    _, scope, root = received[0]
    assert root.trace_id.hex() == "000000000000000060ba2abb44f13eae"
    assert root.span_id.hex() == "726b5e30102fc0d0"
    assert root.parent_span_id.hex() == "398f0f21a3db99ae"
    assert root.kind == Span.SpanKind.SPAN_KIND_SERVER
    assert root.start_time_unix_nano == 1627471657255809000
    assert scope.name == "tns.http"


# --- streaming -------------------------------------------------------------------------


def test_records_yielded_before_bad_line(tmp_path: Path, telemetry: Telemetry) -> None:
    """Records of the first line are yielded before the reader meets invalid JSON further on."""
    path = tmp_path / "stream.jsonl"
    path.write_bytes(_lines([to_json(telemetry.traces[0])]) + b"{not json\n")
    items = otlp_json.read(path)

    first = next(items)

    assert isinstance(first, SpanData)
    with pytest.raises(Exception, match="invalid JSON in the document that starts at line 2"):
        list(items)


def test_large_pretty_document_read_in_chunks(tmp_path: Path) -> None:
    """A pretty-printed document several times the read chunk size is read whole."""
    request = ExportTraceServiceRequest()
    spans = request.resource_spans.add().scope_spans.add().spans
    for number in range(6000):
        span = spans.add(
            trace_id=(number + 1).to_bytes(16, "big"),
            span_id=(number + 1).to_bytes(8, "big"),
            name=f"span {number}",
            start_time_unix_nano=BASE_NANO,
            end_time_unix_nano=BASE_NANO + number,
        )
        span.attributes.add(key="padding", value={"string_value": "x" * 200})
    path = tmp_path / "large.json"
    path.write_text(json.dumps(to_json(request), indent=4) * 2)

    spans_read = [item for item in otlp_json.read(path) if isinstance(item, SpanData)]

    assert path.stat().st_size > 4 * 1024 * 1024
    assert len(spans_read) == 2 * 6000
    assert spans_read[-1].end_time_unix_nano == BASE_NANO + 5999


def test_forced_format_on_other_json(tmp_path: Path) -> None:
    """Reading ordinary JSON as otlp-json raises NotTelemetryError before yielding anything."""
    from otel_replay.errors import NotTelemetryError

    path = tmp_path / "package.json"
    path.write_text('{"name": "app", "version": "1.0.0"}\n')

    with pytest.raises(NotTelemetryError, match="not an OTLP export request"):
        list(otlp_json.read(path))


def test_record_indexes_run_across_documents(tmp_path: Path, telemetry: Telemetry) -> None:
    """Record indexes continue from one document to the next, spans and logs alike."""
    path = write_file(tmp_path, LAYOUTS[0], [*telemetry.traces, *telemetry.logs])

    records = [item for item in otlp_json.read(path) if isinstance(item, (SpanData, LogData, Skipped))]

    assert [record.location.index for record in records] == list(range(len(records)))


def test_resource_shared_across_lines(tmp_path: Path, telemetry: Telemetry) -> None:
    """Equal resources on different lines become one shared ResourceData object."""
    path = tmp_path / "repeated.jsonl"
    path.write_bytes(_lines([to_json(telemetry.logs[0]), to_json(telemetry.logs[0])]))

    logs = [item for item in otlp_json.read(path) if isinstance(item, LogData)]

    assert len({id(log.resource) for log in logs}) == 1
    assert len(logs) == 2 * len(list(walk_logs(telemetry.logs)))


def test_log_record_fields_read(tmp_path: Path, telemetry: Telemetry) -> None:
    """The first SDK log record becomes LogData with every field of the request."""
    path = write_file(tmp_path, LAYOUTS[0], telemetry.logs)
    _, _, original = next(walk_logs(telemetry.logs))

    log = next(item for item in otlp_json.read(path) if isinstance(item, LogData))

    assert log.time_unix_nano == original.time_unix_nano
    assert log.observed_time_unix_nano == original.observed_time_unix_nano
    assert log.severity_number == original.severity_number
    assert log.severity_text == original.severity_text
    assert log.body == original.body.string_value
    assert log.trace_id == int.from_bytes(original.trace_id, "big")
    assert log.span_id == int.from_bytes(original.span_id, "big")
    assert log.flags == original.flags
    assert log.event_name == original.event_name
    assert dict(log.attributes) == {"order.id": 42, "amount": 9.99, "express": True, "items": ["a", "b"]}


def test_unsupported_field_noticed(tmp_path: Path) -> None:
    """A log body in a profiles string table index, which has no meaning here, is noticed, not dropped silently."""
    request = ExportLogsServiceRequest()
    record = request.resource_logs.add().scope_logs.add().log_records.add(time_unix_nano=BASE_NANO)
    record.body.string_value_strindex = 3
    path = tmp_path / "strindex.jsonl"
    path.write_bytes(_lines([to_json(request)]))

    items = list(otlp_json.read(path))

    assert isinstance(items[0], LogData)
    assert items[0].body is None
    assert isinstance(items[1], Notice)
    assert items[1].location.field == "resourceLogs[0].scopeLogs[0].logRecords[0].body"


@pytest.mark.parametrize("content", [b"plain text\n", b"\x00\x01\x02\x03", b"[1, 2]\n", b"42\n"])
def test_forced_format_on_non_json(tmp_path: Path, content: bytes) -> None:
    """Reading content that starts with no JSON object as otlp-json raises NotTelemetryError."""
    from otel_replay.errors import NotTelemetryError

    path = tmp_path / "other.txt"
    path.write_bytes(content)

    with pytest.raises(NotTelemetryError):
        list(otlp_json.read(path))


UNCOMMON_VALUES = [
    {"key": "nan", "value": {"doubleValue": "NaN"}},
    {"key": "infinity", "value": {"doubleValue": "-Infinity"}},
    {"key": "float-int", "value": {"intValue": 5.0}},
    {"key": "exponent", "value": {"doubleValue": "1.5e3"}},
    {"key": "url-safe-bytes", "value": {"bytesValue": "-_8"}},
    {"key": "null-value", "value": None},
]


@pytest.mark.parametrize(
    "options",
    [{}, {"enum_names": True}, {"snake_case": True}, {"int64_numbers": True}],
    ids=["collector", "enum-names", "snake-case", "int64-numbers"],
)
def test_fast_decoder_matches_parsedict(telemetry: Telemetry, options: dict[str, bool]) -> None:
    """The reader's own JSON-to-protobuf decoder gives the same bytes as ParseDict, request by request."""
    from google.protobuf.json_format import ParseDict

    from otel_replay.formats.otlp_json import _parse_message

    requests = [*telemetry.traces, *telemetry.logs, make_metric_request()]
    for request in requests:
        document = to_json(request, hex_ids=False, **options)
        message_type = type(request)

        fast = _parse_message(document, message_type)

        expected = ParseDict(document, message_type(), ignore_unknown_fields=True)
        assert fast.SerializeToString() == expected.SerializeToString(), message_type.__name__


def test_fast_decoder_uncommon_values() -> None:
    """Values outside the common forms give ParseDict's result: NaN, infinities, integral floats, URL-safe base64."""
    from google.protobuf.json_format import ParseDict

    from otel_replay.formats.otlp_json import _parse_message

    document = {"name": "uncommon", "attributes": UNCOMMON_VALUES}

    fast = _parse_message(document, Span)

    assert fast.SerializeToString() == ParseDict(document, Span(), ignore_unknown_fields=True).SerializeToString()
