"""Zipkin v2 JSON: the OpenTelemetry Python Zipkin encoder's real output and hand-written Brave-style files."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.exporter.zipkin.json.v2 import JsonV2Encoder
from opentelemetry.exporter.zipkin.node_endpoint import NodeEndpoint
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode, set_span_in_context

from otel_replay import formats
from otel_replay.errors import InputError, NotTelemetryError
from otel_replay.formats import jaeger, zipkin
from otel_replay.model import Notice, SpanData
from otel_replay.receiver import OTLPReceiver
from tests.conftest import DATA, SESSION_B_SPANS, run_cli
from tests.otlp import from_attributes

ZIPKIN = DATA / "zipkin"
BRAVE_TRACE = ZIPKIN / "brave-trace.json"
INVALID_RECORDS = ZIPKIN / "invalid-records.json"
JAEGER_DOWNLOAD = DATA / "jaeger" / "ui-download.json"

START_NS = 1796413207753123456  # sub-microsecond digits, which Zipkin rounds to whole microseconds
ENDPOINT_IPV4 = "192.0.2.10"
ENDPOINT_PORT = 8080
OTLP_STATUS = {StatusCode.UNSET: 0, StatusCode.OK: 1, StatusCode.ERROR: 2}


# --- real output of the OpenTelemetry Python Zipkin encoder -----------------------------


def _sdk_spans() -> list[ReadableSpan]:
    """Record spans of every kind, status and attribute type with a real TracerProvider."""
    resource = Resource.create(
        {"service.name": "checkout", "service.version": "2.0.1", "deployment.environment": "test", "host.name": "web-1"}
    )
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    limited = TracerProvider(resource=resource, span_limits=SpanLimits(max_span_attributes=2, max_events=1))
    limited.add_span_processor(SimpleSpanProcessor(exporter))

    tracer = provider.get_tracer("tests.zipkin", "1.2.3")
    attributes = {
        "http.request.method": "GET",
        "retry": True,
        "attempt": 3,
        "ratio": 0.25,
        "tags": ["a", "b"],
        "codes": [200, 404],
        "flags": [True, False],
    }
    root = tracer.start_span("GET /cart", kind=SpanKind.SERVER, attributes=attributes, start_time=START_NS)
    root.add_event("cache.miss", {"key": "cart:7", "size": 12, "ratio": 0.5, "keys": ["a", "b"]}, START_NS + 1500)
    root.add_event("no attributes", timestamp=START_NS + 2499)
    root.set_status(Status(StatusCode.OK))

    with tracer.start_as_current_span("POST /pay", context=set_span_in_context(root), kind=SpanKind.CLIENT) as client:
        client.set_status(Status(StatusCode.ERROR, "connection refused"))
    for kind in (SpanKind.PRODUCER, SpanKind.CONSUMER):
        tracer.start_span(f"{kind.name.lower()} order", context=set_span_in_context(root), kind=kind).end()
    with provider.get_tracer("tests.zipkin.unversioned").start_as_current_span(
        "internal", context=set_span_in_context(root)
    ) as internal:
        internal.set_status(Status(StatusCode.ERROR))
    with limited.get_tracer("tests.zipkin").start_as_current_span("limited", context=set_span_in_context(root)) as span:
        span.set_attributes({"a": 1, "b": 2, "c": 3, "d": 4})
        span.add_event("first")
        span.add_event("second")

    root.end(end_time=START_NS + 240_013_500)
    return list(exporter.get_finished_spans())


def _encode(spans: Sequence[ReadableSpan]) -> str:
    """Return the Zipkin v2 JSON the Python exporter would send for `spans`."""
    endpoint = NodeEndpoint(ipv4=ENDPOINT_IPV4, port=ENDPOINT_PORT)
    # NodeEndpoint takes the service name from the global tracer provider. These tests install
    # none, so the name is set to what the exporter's users would get from theirs.
    endpoint.service_name = "checkout"
    return JsonV2Encoder().serialize(spans, endpoint)


@pytest.fixture(scope="module")
def sdk_spans() -> list[ReadableSpan]:
    """The recorded SDK spans."""
    return _sdk_spans()


@pytest.fixture
def sdk_file(tmp_path: Path, sdk_spans: list[ReadableSpan]) -> Path:
    """The SDK spans as one Zipkin v2 JSON array, written by the real encoder."""
    path = tmp_path / "zipkin.json"
    path.write_text(_encode(sdk_spans), encoding="utf-8")
    return path


def _round_us(nanos: int) -> int:
    """Round nanoseconds to microseconds as the OpenTelemetry Zipkin encoders do."""
    return (nanos + 500) // 1000


def _tag_text(value: Any) -> str:
    """Return an attribute value as the OpenTelemetry-to-Zipkin mapping writes it: a string."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, tuple)):
        return json.dumps([_tag_text(item) for item in value], separators=(",", ":"))
    return str(value)


def _typed(value: Any) -> tuple[str, Any]:
    """Return the typed OTLP value an event attribute arrives as after its JSON round trip."""
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int):
        return ("int", value)
    if isinstance(value, float):
        return ("double", value)
    if isinstance(value, (list, tuple)):
        return ("array", [_typed(item) for item in value])
    return ("string", value)


def _replay(receiver: OTLPReceiver, *paths: Path, extra: tuple[str, ...] = ()) -> dict[str, Any]:
    result = run_cli("replay", *paths, "--endpoint", receiver.url, "--json", *extra)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_sdk_spans_arrive_field_by_field(receiver: OTLPReceiver, sdk_file: Path, sdk_spans: list[ReadableSpan]) -> None:
    """Every span the SDK recorded arrives with its IDs, rounded times, kind, status, scope, attributes and events."""
    _replay(receiver, sdk_file)

    received = {span.span_id: (resource, scope, span) for resource, scope, span in receiver.received.spans()}
    assert len(receiver.received.spans()) == len(sdk_spans)

    for original in sdk_spans:
        context = original.get_span_context()
        resource, scope, span = received[context.span_id.to_bytes(8, "big")]
        start_us = _round_us(original.start_time)
        assert int.from_bytes(span.trace_id, "big") == context.trace_id
        assert span.parent_span_id == (original.parent.span_id.to_bytes(8, "big") if original.parent else b"")
        assert span.name == original.name
        assert span.kind == original.kind.value + 1
        assert span.start_time_unix_nano == start_us * 1000
        assert span.end_time_unix_nano == (start_us + _round_us(original.end_time - original.start_time)) * 1000
        assert span.status.code == OTLP_STATUS[original.status.status_code]
        assert span.status.message == (original.status.description or "")
        assert (scope.name, scope.version) == (
            original.instrumentation_scope.name,
            original.instrumentation_scope.version or "",
        )
        expected_attributes = {key: ("string", _tag_text(value)) for key, value in original.attributes.items()}
        expected_attributes["net.host.ip"] = ("string", ENDPOINT_IPV4)
        expected_attributes["net.host.port"] = ("int", ENDPOINT_PORT)
        assert from_attributes(span.attributes) == expected_attributes
        assert span.dropped_attributes_count == original.dropped_attributes
        assert span.dropped_events_count == original.dropped_events
        events = [(event.name, event.time_unix_nano, from_attributes(event.attributes)) for event in span.events]
        expected_events = [
            (
                event.name,
                _round_us(event.timestamp) * 1000,
                {key: _typed(value) for key, value in event.attributes.items()},
            )
            for event in original.events
        ]
        assert events == expected_events
        expected_resource = {key: ("string", value) for key, value in original.resource.attributes.items()}
        assert from_attributes(resource.attributes) == expected_resource


def test_sdk_spans_share_resource(sdk_file: Path) -> None:
    """Spans whose tags carry the same resource attributes share one resource object."""
    spans = [item for item in zipkin.read(sdk_file) if isinstance(item, SpanData)]

    assert len({id(span.resource) for span in spans}) == 1


def test_sdk_limited_span_has_dropped_counts(sdk_file: Path) -> None:
    """The otel.dropped_*_count tags become the dropped counts instead of attributes."""
    spans = {item.name: item for item in zipkin.read(sdk_file) if isinstance(item, SpanData)}

    assert spans["limited"].dropped_attributes_count == 2
    assert spans["limited"].dropped_events_count == 1
    assert "otel.dropped_attributes_count" not in spans["limited"].attributes


def test_two_arrays_back_to_back(sdk_file: Path, sdk_spans: list[ReadableSpan], tmp_path: Path) -> None:
    """Two encoder outputs concatenated in one file are read as one sequence of spans."""
    path = tmp_path / "two.json"
    path.write_text(_encode(sdk_spans[:3]) + "\n" + _encode(sdk_spans[3:]), encoding="utf-8")

    spans = [item for item in zipkin.read(path) if isinstance(item, SpanData)]

    assert [span.span_id for span in spans] == [span.get_span_context().span_id for span in sdk_spans]
    assert [span.location.index for span in spans] == list(range(len(sdk_spans)))


def test_one_span_per_line(sdk_spans: list[ReadableSpan], tmp_path: Path) -> None:
    """A file with one span object per line is read span by span."""
    path = tmp_path / "spans.jsonl"
    lines = [json.dumps(json_span) for json_span in json.loads(_encode(sdk_spans))]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    spans = [item for item in zipkin.read(path) if isinstance(item, SpanData)]

    assert [span.span_id for span in spans] == [span.get_span_context().span_id for span in sdk_spans]


def test_array_of_traces(sdk_spans: list[ReadableSpan], tmp_path: Path) -> None:
    """The /api/v2/traces shape, an array of span arrays, is read span by span."""
    json_spans = json.loads(_encode(sdk_spans))
    path = tmp_path / "traces.json"
    path.write_text(json.dumps([json_spans[:2], json_spans[2:]]), encoding="utf-8")

    spans = [item for item in zipkin.read(path) if isinstance(item, SpanData)]

    assert len(spans) == len(sdk_spans)


def test_sdk_file_detected_as_zipkin(sdk_file: Path) -> None:
    """The encoder's output is detected as Zipkin and not as Jaeger."""
    detected = formats.detect(sdk_file)

    assert detected is not None
    assert detected.name == "zipkin"
    assert not jaeger.sniff(sdk_file.read_bytes()[: formats.SNIFF_SIZE])


# --- hand-written files in the shape Brave and the Zipkin API write ----------------------


def _spans_by_name(path: Path) -> dict[str, SpanData]:
    """Return the spans of a file by name; for a name used twice, the first span."""
    spans: dict[str, SpanData] = {}
    for item in zipkin.read(path):
        if isinstance(item, SpanData):
            spans.setdefault(item.name, item)
    return spans


def test_trace_id_64_bit_padded() -> None:
    """A 16-digit trace ID becomes the same 128-bit trace ID with 16 leading zero digits."""
    spans = _spans_by_name(BRAVE_TRACE)

    assert f"{spans['get /'].trace_id:032x}" == "00000000000000007c3e1a9f2b4d6e80"


def test_time_exact_microseconds() -> None:
    """Microsecond timestamps become nanoseconds exactly, where float arithmetic is off."""
    span = _spans_by_name(BRAVE_TRACE)["get /"]

    assert span.start_time_unix_nano == 1796413207753245000
    assert span.start_time_unix_nano != int(1796413207753245 * 1e3)
    assert span.end_time_unix_nano == 1796413207757165000


def test_remote_endpoint_peer_attributes() -> None:
    """The remote endpoint becomes peer.service, net.peer.ip and net.peer.port."""
    attributes = _spans_by_name(BRAVE_TRACE)["get /inventory"].attributes

    assert attributes["peer.service"] == "inventory"
    assert attributes["net.peer.ip"] == "198.51.100.13"
    assert attributes["net.peer.port"] == 9000
    assert attributes["net.host.ip"] == "192.0.2.10"


def test_peer_service_tag_wins() -> None:
    """A peer.service tag is kept over the remote endpoint's service name, as the specification requires."""
    assert _spans_by_name(BRAVE_TRACE)["get /"].attributes["peer.service"] == "browser"


def test_local_endpoint_is_resource() -> None:
    """The local endpoint's service name is the resource, shared by the spans of that service."""
    spans = list(_spans_by_name(BRAVE_TRACE).values())

    storefront = {id(span.resource) for span in spans if span.resource.attributes == {"service.name": "storefront"}}
    assert len(storefront) == 1


@pytest.mark.parametrize(
    ("name", "kind"),
    [("get /inventory", 3), ("get /", 2), ("render", 1), ("send audit", 4)],
)
def test_kind(name: str, kind: int) -> None:
    """Zipkin kinds map to the same OTLP kinds, and a span without a kind is INTERNAL."""
    assert _spans_by_name(BRAVE_TRACE)[name].kind == kind


def test_error_tag_is_status() -> None:
    """An error tag without otel.status_code, as Brave writes it, is an ERROR status with the tag as message."""
    span = _spans_by_name(BRAVE_TRACE)["render"]

    assert (span.status_code, span.status_message) == (2, "template not found")
    assert "error" not in span.attributes


def test_plain_annotations_are_events() -> None:
    """Annotations that are not OpenTelemetry event JSON become events named by their value."""
    span = _spans_by_name(BRAVE_TRACE)["get /inventory"]

    assert [(event.name, event.time_unix_nano) for event in span.events] == [
        ("ws", 1796413207755811000),
        ("wr", 1796413207757145000),
    ]


def test_debug_sets_sampled_flag() -> None:
    """debug=true, which forces sampling in Zipkin, sets the sampled trace flag."""
    assert _spans_by_name(BRAVE_TRACE)["send audit"].flags == 1


def test_missing_duration_warns() -> None:
    """A span without a duration is sent with its end at its start, with a warning."""
    items = list(zipkin.read(BRAVE_TRACE))
    span = next(item for item in items if isinstance(item, SpanData) and item.name == "send audit")
    notice = items[items.index(span) + 1]

    assert span.end_time_unix_nano == span.start_time_unix_nano
    assert isinstance(notice, Notice)
    assert notice.location.field == "duration"


def test_shared_span_warns() -> None:
    """A shared server span is read with a warning, since OTLP span IDs are unique."""
    items = list(zipkin.read(BRAVE_TRACE))

    notices = [item for item in items if isinstance(item, Notice) and item.location.field == "shared"]
    assert len(notices) == 1
    assert notices[0].location.index == 1


def test_shared_span_halves_both_sent(receiver: OTLPReceiver) -> None:
    """The client and server halves of a shared span both arrive: their kinds differ, so neither is a duplicate."""
    summary = _replay(receiver, BRAVE_TRACE)

    halves = [span for _, _, span in receiver.received.spans() if span.span_id.hex() == "a1b2c3d4e5f60718"]
    assert sorted(span.kind for span in halves) == [2, 3]
    assert summary["signals"]["traces"]["sent"] == 5


def test_invalid_records_skipped(receiver: OTLPReceiver) -> None:
    """Invalid spans are skipped with file, record and field; the valid ones around them are sent."""
    result = run_cli("replay", INVALID_RECORDS, "--endpoint", receiver.url)

    assert result.exit_code == 1
    assert sorted(span.name for _, _, span in receiver.received.spans()) == ["first good", "last good"]
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    prefix = f"Error: {INVALID_RECORDS}: record"
    assert errors[0].startswith(f"{prefix} 1, field traceId: missing")
    assert errors[1].startswith(f"{prefix} 2, field id: invalid ID 'b1e2d3c4b5a697880'")
    assert errors[2].startswith(f"{prefix} 3, field kind: invalid kind 'GATEWAY'")
    assert errors[3].startswith(f"{prefix} 4, field timestamp: missing")
    assert errors[4].startswith(f"{prefix} 5, field localEndpoint.port: expected a port number")
    assert len(errors) == 5


def test_truncated_file_sends_complete_spans(receiver: OTLPReceiver, tmp_path: Path) -> None:
    """A file cut inside its third span sends the first two and reports the file as truncated."""
    text = BRAVE_TRACE.read_text(encoding="utf-8")
    path = tmp_path / "cut.json"
    path.write_text(text[: text.index('"name": "get /"')], encoding="utf-8")

    result = run_cli("replay", path, "--endpoint", receiver.url, "--no-dedupe")

    assert result.exit_code == 1
    assert len(receiver.received.spans()) == 2
    assert "truncated" in result.stderr


def test_invalid_json_raises_after_records(tmp_path: Path) -> None:
    """Invalid JSON after a complete span yields the span, then raises InputError."""
    path = tmp_path / "t.json"
    good = {"traceId": "7c3e1a9f2b4d6e80", "id": "1f2e3d4c5b6a7980", "timestamp": 1, "duration": 1}
    path.write_text(f"[{json.dumps(good)}, {{oops}}]", encoding="utf-8")

    reader = zipkin.read(path)

    assert isinstance(next(reader), SpanData)
    with pytest.raises(InputError, match="invalid JSON"):
        next(reader)


@pytest.mark.parametrize(
    "content",
    [
        pytest.param("[1, 2, 3]", id="numbers"),
        pytest.param('[{"name": "x"}]', id="objects-without-ids"),
        pytest.param('"text"', id="string"),
    ],
)
def test_other_json_not_telemetry(tmp_path: Path, content: str) -> None:
    """JSON that is not Zipkin spans raises NotTelemetryError before yielding anything."""
    path = tmp_path / "t.json"
    path.write_text(content, encoding="utf-8")

    with pytest.raises(NotTelemetryError):
        list(zipkin.read(path))


# --- detection -------------------------------------------------------------------------


@pytest.mark.parametrize("path", [BRAVE_TRACE, INVALID_RECORDS], ids=lambda path: path.name)
def test_fixture_detected_as_zipkin(path: Path) -> None:
    """Each Zipkin file is detected as Zipkin by content, and not as Jaeger."""
    detected = formats.detect(path)

    assert detected is not None
    assert detected.name == "zipkin"
    assert not jaeger.sniff(path.read_bytes()[: formats.SNIFF_SIZE])


OTHER_FILES = {
    "codemachine": SESSION_B_SPANS.read_bytes(),
    "jaeger": JAEGER_DOWNLOAD.read_bytes(),
    "otlp-json": json.dumps(
        {
            "resourceSpans": [
                {
                    "scopeSpans": [
                        {"spans": [{"traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "spanId": "00f067aa0ba902b7"}]}
                    ]
                }
            ]
        }
    ).encode(),
    "package-json": json.dumps({"name": "zipkin-ui", "version": "1.0.0", "id": "abc", "private": True}).encode(),
    "zipkin-v1": json.dumps(
        [{"traceId": "7c3e1a9f2b4d6e80", "id": "1f2e3d4c5b6a7980", "name": "get", "binaryAnnotations": []}]
    ).encode(),
}


@pytest.mark.parametrize("content", OTHER_FILES.values(), ids=OTHER_FILES.keys())
def test_other_formats_not_zipkin(content: bytes) -> None:
    """CodeMachine, Jaeger, OTLP/JSON, Zipkin v1 and ordinary JSON files are not taken for Zipkin v2."""
    assert not zipkin.sniff(content[: formats.SNIFF_SIZE])
