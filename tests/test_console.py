"""Python SDK console exporter output: real SDK output replayed through the CLI into a real receiver."""

from __future__ import annotations

import gzip
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry._logs import LogRecord, SeverityNumber  # noqa: TID251  # the SDK's log API has no public path
from opentelemetry.sdk._logs import LoggerProvider, LogRecordLimits, ReadableLogRecord  # noqa: TID251  # as above
from opentelemetry.sdk._logs.export import (  # noqa: TID251  # as above
    ConsoleLogRecordExporter,
    InMemoryLogRecordExporter,
    SimpleLogRecordProcessor,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.util import ns_to_iso_str
from opentelemetry.trace import (
    Link,
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    TraceState,
)

from otel_replay.errors import NotTelemetryError, RecordError
from otel_replay.formats import console, detect
from otel_replay.model import LogData, Notice, Skipped, SpanData
from otel_replay.receiver import OTLPReceiver
from tests.conftest import SESSION_B_LOGS, SESSION_B_SPANS, Result, run_cli
from tests.otlp import from_any_value, from_attributes

SCHEMA_URL = "https://opentelemetry.io/schemas/1.26.0"
REMOTE_TRACE_ID = 0x5B8AA5A2D2C872E8321CF37308D69DF2
REMOTE_SPAN_ID = 0x051581BF3CB55C13
LINKED_TRACE_ID = 0x0AF7651916CD43DD8448EB211C80319C
LINKED_SPAN_ID = 0xB7AD6B7169203331
SERVER_START = 1796413207_123456789  # printed as 19:40:07.123457: rounded up, not truncated
SERVER_END = 1796413207_987654500  # printed as 19:40:07.987654
EVENT_TIME = 1796413207_200000001
LOG_TIME = 1796413207_300000999
LOG_OBSERVED = 1796413207_300001500
SPAN_FLAGS_HAS_IS_REMOTE = 0x100
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
OTHER_OUTPUT = [
    "Starting checkout service on port 8080",
    "2026-12-04 19:40:07,123 INFO checkout: cart loaded",
    '{"level": "info", "msg": "a JSON log line is other output too"}',
    "{cart} is not JSON",
]


@dataclass(frozen=True)
class Recording:
    """What one SDK run printed, and the spans and log records it exported in memory."""

    text: str
    spans: list[ReadableSpan]
    logs: list[ReadableLogRecord]


# --- generating real console output ---------------------------------------------------


def record_telemetry() -> Recording:
    """Run the Python SDK with console and in-memory exporters side by side, with print lines between records."""
    output = io.StringIO()
    resource = Resource.create(
        {"service.name": "checkout", "deployment.replicas": 3, "deployment.canary": True, "host.tags": ["a", "b"]},
        schema_url=SCHEMA_URL,
    )
    memory_spans = InMemorySpanExporter()
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter(out=output)))
    tracer_provider.add_span_processor(SimpleSpanProcessor(memory_spans))
    memory_logs = InMemoryLogRecordExporter()
    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(ConsoleLogRecordExporter(out=output)))
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(memory_logs))
    tracer = tracer_provider.get_tracer("shop.checkout", "2.1.0")
    logger = logger_provider.get_logger("shop.checkout.logs", "2.1.0")

    output.write(OTHER_OUTPUT[0] + "\n")
    remote_parent = SpanContext(
        REMOTE_TRACE_ID,
        REMOTE_SPAN_ID,
        is_remote=True,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
        trace_state=TraceState([("vendor", "opaque-1"), ("congo", "t61rcWkgMzE")]),
    )
    linked = SpanContext(
        LINKED_TRACE_ID, LINKED_SPAN_ID, is_remote=True, trace_state=TraceState([("rojo", "00f067aa0ba902b7")])
    )
    server = tracer.start_span(
        "POST /checkout",
        context=trace.set_span_in_context(NonRecordingSpan(remote_parent)),
        kind=SpanKind.SERVER,
        attributes={
            "http.route": "/checkout",
            "retry": False,
            "http.status_code": 502,
            "duration.ratio": 0.25,
            "tags": ["a", "b"],
            "flags": [True, False],
            "codes": [200, 502],
            "weights": [1.5, -2.0],
            "empty": [],
        },
        links=[Link(linked, {"link.reason": "retry of", "link.attempt": 2})],
        start_time=SERVER_START,
    )
    server.add_event("cart.loaded", {"cart.items": 3, "cart.total": 59.9, "cart.ids": ["x1", "x2"]}, EVENT_TIME)
    server.add_event("no attributes")
    server_context = trace.set_span_in_context(server)

    for kind in (SpanKind.CLIENT, SpanKind.PRODUCER, SpanKind.CONSUMER, SpanKind.INTERNAL):
        with tracer.start_as_current_span(f"{kind.name.lower()} step", context=server_context, kind=kind) as child:
            child.set_attribute("step.kind", kind.name)
        output.write(OTHER_OUTPUT[1] + "\n")

    with tracer.start_as_current_span("naïve ✓ 検索", context=server_context) as named:
        named.set_status(Status(StatusCode.OK))
    output.write(OTHER_OUTPUT[2] + "\n")

    logger.emit(
        LogRecord(
            timestamp=LOG_TIME,
            observed_timestamp=LOG_OBSERVED,
            context=server_context,
            severity_number=SeverityNumber.ERROR,
            severity_text="ERROR",
            body="payment declined",
            attributes={"payment.provider": "acme", "payment.amount": 59.9, "payment.retries": 2, "tags": ["card"]},
            event_name="payment.failed",
        )
    )
    logger.emit(
        LogRecord(
            severity_number=SeverityNumber.INFO,
            severity_text="INFO",
            body={"order": {"id": 42, "lines": [1, 2.5, "three", True]}, "ok": False},
        )
    )
    output.write(OTHER_OUTPUT[3] + "\n")
    logger.emit(LogRecord(severity_number=SeverityNumber.WARN, body=["retrying", 3, {"after.ms": 250}]))
    logger.emit(LogRecord(body="no severity"))

    server.set_status(Status(StatusCode.ERROR, "payment declined"))
    server.end(end_time=SERVER_END)
    with tracer.start_as_current_span("root job"):
        pass

    return Recording(output.getvalue(), list(memory_spans.get_finished_spans()), list(memory_logs.get_finished_logs()))


def console_lines(spans: int = 3, indent: int | None = 4) -> str:
    """Return the console output of `spans` root spans, formatted with `indent`."""
    output = io.StringIO()
    provider = TracerProvider(resource=Resource({"service.name": "lines"}))
    formatter = lambda span: span.to_json(indent=indent) + "\n"  # noqa: E731  # the SDK takes a callable
    provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter(out=output, formatter=formatter)))
    tracer = provider.get_tracer("lines")
    for number in range(spans):
        with tracer.start_as_current_span(f"span {number}") as span:
            span.set_attribute("number", number)
    return output.getvalue()


@pytest.fixture(scope="module")
def recording() -> Recording:
    """One SDK run shared by the tests that only read it."""
    return record_telemetry()


# --- comparing ------------------------------------------------------------------------


def console_nanos(unix_nano: int) -> int:
    """Return the time the console output holds for `unix_nano`: the SDK's text, parsed independently."""
    written = datetime.strptime(ns_to_iso_str(unix_nano), "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
    return (written - EPOCH) // timedelta(microseconds=1) * 1000


def typed(value: Any) -> tuple[str, Any]:
    """Return the typed value an SDK attribute or body value must arrive as."""
    if value is None:
        return ("empty", None)
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int):
        return ("int", value)
    if isinstance(value, float):
        return ("double", value)
    if isinstance(value, str):
        return ("string", value)
    if isinstance(value, Mapping):
        return ("kvlist", {key: typed(item) for key, item in value.items()})
    assert isinstance(value, Sequence)
    return ("array", [typed(item) for item in value])


def typed_attributes(attributes: Mapping[str, Any] | None) -> dict[str, tuple[str, Any]]:
    """Return the typed attributes an SDK attribute mapping must arrive as."""
    return {key: typed(value) for key, value in (attributes or {}).items()}


def write(tmp_path: Path, text: str, name: str = "console.txt") -> Path:
    """Write console output to a file, as a shell redirect would."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def replay(receiver: OTLPReceiver, path: Path) -> Result:
    """Replay one file through the CLI into the receiver."""
    return run_cli("replay", path, "--endpoint", receiver.url, "--json")


def error_lines(result: Result) -> list[str]:
    """Return the lines of stderr that report an error."""
    return [line for line in result.stderr.splitlines() if line.startswith("Error:")]


def received_span_names(receiver: OTLPReceiver) -> list[str]:
    """Return the names of the spans the receiver decoded, in arrival order."""
    return [span.name for _, _, span in receiver.received.spans()]


# --- end to end -----------------------------------------------------------------------


def test_spans_arrive_field_by_field(tmp_path: Path, receiver: OTLPReceiver, recording: Recording) -> None:
    """Every span arrives with its IDs, kind, status, attributes, events, links, trace state and resource."""
    result = replay(receiver, write(tmp_path, recording.text))

    assert result.exit_code == 0, result.stderr
    received = {span.span_id: (resource, scope, span) for resource, scope, span in receiver.received.spans()}
    assert len(received) == len(recording.spans)
    assert len(receiver.received.spans()) == len(recording.spans)

    for original in recording.spans:
        context = original.get_span_context()
        resource, scope, span = received[context.span_id.to_bytes(8, "big")]
        assert span.name == original.name
        assert span.trace_id == context.trace_id.to_bytes(16, "big")
        expected_parent = original.parent.span_id.to_bytes(8, "big") if original.parent else b""
        assert span.parent_span_id == expected_parent
        assert span.kind == original.kind.value + 1
        assert span.status.code == original.status.status_code.value
        assert span.status.message == (original.status.description or "")
        assert span.trace_state == context.trace_state.to_header()
        assert span.start_time_unix_nano == console_nanos(original.start_time)
        assert span.end_time_unix_nano == console_nanos(original.end_time)
        assert abs(span.start_time_unix_nano - original.start_time) < 1000
        assert abs(span.end_time_unix_nano - original.end_time) < 1000
        assert from_attributes(span.attributes) == typed_attributes(original.attributes)
        assert len(span.events) == len(original.events)
        for event, original_event in zip(span.events, original.events, strict=True):
            assert event.name == original_event.name
            assert event.time_unix_nano == console_nanos(original_event.timestamp)
            assert from_attributes(event.attributes) == typed_attributes(original_event.attributes)
        assert len(span.links) == len(original.links)
        for link, original_link in zip(span.links, original.links, strict=True):
            assert link.trace_id == original_link.context.trace_id.to_bytes(16, "big")
            assert link.span_id == original_link.context.span_id.to_bytes(8, "big")
            assert from_attributes(link.attributes) == typed_attributes(original_link.attributes)
            assert link.trace_state == original_link.context.trace_state.to_header()
            # The console output has no flags, so none are sent.
            assert link.flags == 0
        assert from_attributes(resource.attributes) == typed_attributes(original.resource.attributes)
        # The console output has no scope, is_remote flags or dropped counts.
        assert scope.name == ""
        assert span.flags == 0
        assert span.dropped_attributes_count == 0


def test_logs_arrive_field_by_field(tmp_path: Path, receiver: OTLPReceiver, recording: Recording) -> None:
    """Every log record arrives with its times, severity, body, attributes, correlation and resource."""
    result = replay(receiver, write(tmp_path, recording.text))

    assert result.exit_code == 0, result.stderr
    received = receiver.received.log_records()
    assert len(received) == len(recording.logs)

    for (resource, scope, record), original in zip(received, recording.logs, strict=True):
        log = original.log_record
        expected_time = 0 if log.timestamp is None else console_nanos(log.timestamp)
        assert record.time_unix_nano == expected_time
        assert record.observed_time_unix_nano == console_nanos(log.observed_timestamp)
        assert record.severity_number == (log.severity_number.value if log.severity_number else 0)
        assert record.severity_text == (log.severity_text or "")
        assert from_any_value(record.body) == typed(log.body)
        assert from_attributes(record.attributes) == typed_attributes(log.attributes)
        assert record.trace_id == (log.trace_id.to_bytes(16, "big") if log.trace_id else b"")
        assert record.span_id == (log.span_id.to_bytes(8, "big") if log.span_id else b"")
        assert record.flags == int(log.trace_flags)
        assert record.event_name == (log.event_name or "")
        assert record.dropped_attributes_count == original.dropped_attributes
        assert from_attributes(resource.attributes) == typed_attributes(original.resource.attributes)
        assert scope.name == ""


def test_log_correlates_to_span(tmp_path: Path, receiver: OTLPReceiver, recording: Recording) -> None:
    """The log record emitted inside the server span carries that span's trace and span ID."""
    replay(receiver, write(tmp_path, recording.text))

    spans = {span.name: span for _, _, span in receiver.received.spans()}
    correlated = [record for _, _, record in receiver.received.log_records() if record.span_id]
    assert len(correlated) == 1
    assert correlated[0].trace_id == spans["POST /checkout"].trace_id
    assert correlated[0].span_id == spans["POST /checkout"].span_id


def test_resource_schema_url_arrives(tmp_path: Path, receiver: OTLPReceiver, recording: Recording) -> None:
    """The resource's schema URL arrives on the spans' and log records' resource."""
    replay(receiver, write(tmp_path, recording.text))

    assert {resource_spans.schema_url for resource_spans in receiver.received.traces[0].resource_spans} == {SCHEMA_URL}
    assert {resource_logs.schema_url for resource_logs in receiver.received.logs[0].resource_logs} == {SCHEMA_URL}


@pytest.mark.parametrize(
    ("name", "field", "original", "expected"),
    [
        ("POST /checkout", "start_time_unix_nano", SERVER_START, 1796413207_123457000),
        ("POST /checkout", "end_time_unix_nano", SERVER_END, 1796413207_987654000),
    ],
)
def test_time_keeps_microseconds(
    tmp_path: Path, receiver: OTLPReceiver, recording: Recording, name: str, field: str, original: int, expected: int
) -> None:
    """A span time arrives as the microsecond the SDK printed, not truncated and not through a float."""
    replay(receiver, write(tmp_path, recording.text))

    spans = {span.name: span for _, _, span in receiver.received.spans()}
    assert getattr(spans[name], field) == expected
    assert console_nanos(original) == expected


def test_other_output_is_counted(tmp_path: Path, receiver: OTLPReceiver, recording: Recording) -> None:
    """Print lines, plain log lines and JSON log lines between records are skipped with one warning."""
    result = replay(receiver, write(tmp_path, recording.text))

    assert result.exit_code == 0
    warnings = [line for line in result.stderr.splitlines() if "other program output" in line]
    other_lines = 1 + 4 + 1 + 1
    assert len(warnings) == 1
    assert f"skipped {other_lines} line(s)" in warnings[0]
    assert "(the first at line 1)" in warnings[0]


def test_compact_output_arrives(tmp_path: Path, receiver: OTLPReceiver) -> None:
    """Output formatted with to_json(indent=None), one object per line, arrives too."""
    result = replay(receiver, write(tmp_path, console_lines(3, indent=None)))

    assert result.exit_code == 0, result.stderr
    assert sorted(received_span_names(receiver)) == ["span 0", "span 1", "span 2"]


def test_gzip_file_arrives(tmp_path: Path, receiver: OTLPReceiver, recording: Recording) -> None:
    """Gzip-compressed console output is detected and replayed."""
    path = tmp_path / "console.txt.gz"
    path.write_bytes(gzip.compress(recording.text.encode()))

    result = replay(receiver, path)

    assert result.exit_code == 0, result.stderr
    assert len(receiver.received.spans()) == len(recording.spans)
    assert len(receiver.received.log_records()) == len(recording.logs)


def test_special_floats_arrive(tmp_path: Path, receiver: OTLPReceiver) -> None:
    """NaN and infinities, which json.dumps writes as bare NaN and Infinity, arrive as doubles."""
    output = io.StringIO()
    provider = TracerProvider(resource=Resource({}))
    provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter(out=output)))
    with provider.get_tracer("floats").start_as_current_span("floats") as span:
        span.set_attributes({"nan": math.nan, "up": math.inf, "down": -math.inf})

    result = replay(receiver, write(tmp_path, output.getvalue()))

    assert result.exit_code == 0, result.stderr
    attributes = from_attributes(receiver.received.spans()[0][2].attributes)
    assert attributes["nan"][0] == "double"
    assert math.isnan(attributes["nan"][1])
    assert attributes["up"] == ("double", math.inf)
    assert attributes["down"] == ("double", -math.inf)


def test_bytes_body_arrives_as_base64(tmp_path: Path, receiver: OTLPReceiver) -> None:
    """A bytes body is printed as base64 text, so it arrives as that string."""
    output = io.StringIO()
    provider = LoggerProvider(resource=Resource({}))
    provider.add_log_record_processor(SimpleLogRecordProcessor(ConsoleLogRecordExporter(out=output)))
    provider.get_logger("bytes").emit(LogRecord(body=b"\x00\x01\xff"))

    result = replay(receiver, write(tmp_path, output.getvalue()))

    assert result.exit_code == 0, result.stderr
    assert from_any_value(receiver.received.log_records()[0][2].body) == ("string", "AAH/")


def dropped_attributes_output() -> str:
    """Return the console output of a log record that lost 2 of its 3 attributes to a limit of 1."""
    output = io.StringIO()
    provider = LoggerProvider(resource=Resource({}), log_record_limits=LogRecordLimits(max_attributes=1))
    provider.add_log_record_processor(SimpleLogRecordProcessor(ConsoleLogRecordExporter(out=output)))
    with pytest.warns(UserWarning, match="dropped"):
        provider.get_logger("limits").emit(LogRecord(body="limited", attributes={"a": 1, "b": 2, "c": 3}))
    return output.getvalue()


def test_read_keeps_log_dropped_count(tmp_path: Path) -> None:
    """The reader keeps a log record's dropped attribute count."""
    logs = [item for item in console.read(write(tmp_path, dropped_attributes_output())) if isinstance(item, LogData)]

    assert len(logs) == 1
    assert logs[0].dropped_attributes_count == 2


def test_log_dropped_count_arrives(tmp_path: Path, receiver: OTLPReceiver) -> None:
    """A log record's dropped attribute count arrives."""
    replay(receiver, write(tmp_path, dropped_attributes_output()))

    assert receiver.received.log_records()[0][2].dropped_attributes_count == 2


# --- damaged input ---------------------------------------------------------------------


def test_truncated_file_sends_complete_records(tmp_path: Path, receiver: OTLPReceiver) -> None:
    """A file cut inside its last object sends the objects before it and reports the file as truncated."""
    text = console_lines(3)
    cut = text.rindex('"context"') + 20

    result = replay(receiver, write(tmp_path, text[:cut]))

    assert result.exit_code == 1
    assert sorted(received_span_names(receiver)) == ["span 0", "span 1"]
    assert len(error_lines(result)) == 1
    assert "looks truncated" in error_lines(result)[0]
    assert "the 2 complete record(s) before it were read" in error_lines(result)[0]


def test_truncated_file_without_line_break(tmp_path: Path, receiver: OTLPReceiver) -> None:
    """A file cut right after the opening line of its last object is reported as truncated too."""
    text = console_lines(2)
    cut = text.rindex("{\n") + 1

    result = replay(receiver, write(tmp_path, text[:cut]))

    assert result.exit_code == 1
    assert received_span_names(receiver) == ["span 0"]
    assert "looks truncated" in error_lines(result)[0]


def test_invalid_id_skips_record(tmp_path: Path, receiver: OTLPReceiver) -> None:
    """A span with the trace ID 0xzz is skipped with its field named, and the other spans are sent."""
    text = console_lines(3)
    start = text.index('"trace_id": "0x')
    end = text.index('"', start + len('"trace_id": "'))
    damaged = text[:start] + '"trace_id": "0xzz' + text[end:]

    result = replay(receiver, write(tmp_path, damaged))

    assert result.exit_code == 1
    assert sorted(received_span_names(receiver)) == ["span 1", "span 2"]
    assert len(error_lines(result)) == 1
    assert "record 0, field context.trace_id: invalid ID '0xzz'" in error_lines(result)[0]


def test_broken_object_skips_record(tmp_path: Path, receiver: OTLPReceiver) -> None:
    """A print line inside an object makes that record invalid JSON, and the records around it are sent."""
    text = console_lines(3)
    second = text.index('{\n    "name": "span 1"')
    inside = text.index("\n", text.index('"context"', second)) + 1
    damaged = text[:inside] + "interrupting print\n" + text[inside:]

    result = replay(receiver, write(tmp_path, damaged))

    assert result.exit_code == 1
    assert sorted(received_span_names(receiver)) == ["span 0", "span 2"]
    assert len(error_lines(result)) == 1
    assert "record 1: invalid JSON at line" in error_lines(result)[0]


def test_format_option_reads_late_records(tmp_path: Path, receiver: OTLPReceiver) -> None:
    """--format python-console reads a file whose first record comes after more output than detection reads."""
    path = write(tmp_path, "startup log line\n" * 500 + console_lines(2))
    assert detect(path) is None

    result = run_cli("replay", path, "--format", "python-console", "--endpoint", receiver.url, "--json")

    assert result.exit_code == 0, result.stderr
    assert sorted(received_span_names(receiver)) == ["span 0", "span 1"]


def test_only_other_output_is_not_telemetry(tmp_path: Path) -> None:
    """A file with print lines and no record raises NotTelemetryError before yielding anything."""
    path = write(tmp_path, "\n".join(OTHER_OUTPUT) + "\n")

    with pytest.raises(NotTelemetryError):
        next(console.read(path))


# --- reader -----------------------------------------------------------------------------


def test_read_shares_resource(tmp_path: Path, recording: Recording) -> None:
    """Records with the same resource share one ResourceData object."""
    records = [item for item in console.read(write(tmp_path, recording.text)) if isinstance(item, SpanData | LogData)]

    assert len({id(record.resource) for record in records}) == 1


def test_read_indexes_records(tmp_path: Path, recording: Recording) -> None:
    """Record indexes count spans and log records in file order, not other output."""
    records = [item for item in console.read(write(tmp_path, recording.text)) if isinstance(item, SpanData | LogData)]

    assert [record.location.index for record in records] == list(range(len(records)))


def test_read_notice_comes_last(tmp_path: Path, recording: Recording) -> None:
    """The notice about other output is the last item, after every record."""
    items = list(console.read(write(tmp_path, recording.text)))

    assert isinstance(items[-1], Notice)
    assert not any(isinstance(item, Notice | Skipped) for item in items[:-1])


def test_read_keeps_link_trace_state(tmp_path: Path, recording: Recording) -> None:
    """The reader keeps a link's trace state, which the console output prints."""
    spans = [item for item in console.read(write(tmp_path, recording.text)) if isinstance(item, SpanData)]

    links = [link for span in spans for link in span.links]
    assert len(links) == 1
    assert links[0].trace_state == "rojo=00f067aa0ba902b7"
    assert links[0].trace_id == LINKED_TRACE_ID


def test_read_large_file_across_chunks(tmp_path: Path) -> None:
    """Objects that cross chunk boundaries, and one larger than several chunks, are all read."""
    output = io.StringIO()
    provider = TracerProvider(resource=Resource({}))
    provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter(out=output)))
    tracer = provider.get_tracer("large")
    for number in range(300):
        with tracer.start_as_current_span(f"span {number}") as span:
            span.set_attribute("payload", "x" * (300_000 if number == 150 else number))

    spans = [item for item in console.read(write(tmp_path, output.getvalue())) if isinstance(item, SpanData)]

    assert len(spans) == 300
    assert spans[150].attributes["payload"] == "x" * 300_000
    assert spans[299].name == "span 299"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1970-01-01T00:00:00.000000Z", 0),
        ("2026-12-04T19:40:07.123456Z", 1796413207_123456000),
        ("2026-12-04T19:40:07.123456789Z", 1796413207_123456789),
        ("2026-12-04T19:40:07Z", 1796413207_000000000),
        ("2026-12-04T20:40:07.5+01:00", 1796413207_500000000),
        ("2024-02-29T00:00:00.000001Z", 1709164800_000001000),
    ],
)
def test_time_parse_exact(text: str, expected: int) -> None:
    """ISO 8601 times convert to integer nanoseconds digit by digit."""
    assert console._decode_time(text, "start_time") == expected


@pytest.mark.parametrize(
    "text",
    [
        "2026-02-30T00:00:00.000000Z",
        "2026-12-04T24:00:00.000000Z",
        "2026-12-04 19:40:07.123456Z",
        "2026-12-04T19:40:07.123456",
        "1969-12-31T23:59:59.999999Z",
        "2026-12-04T19:40:07.1234567890Z",
    ],
)
def test_time_parse_rejects(text: str) -> None:
    """Invalid dates, missing zones and times before 1970 raise RecordError."""
    with pytest.raises(RecordError):
        console._decode_time(text, "start_time")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[]", ""),
        ("['{key=vendor, value=opaque-1}', '{key=congo, value=t61rcWkgMzE}']", "vendor=opaque-1,congo=t61rcWkgMzE"),
        ('["{key=k, value=a\'b}"]', "k=a'b"),
        ("['{key=tenant@vendor, value=a b}']", "tenant@vendor=a b"),
    ],
)
def test_trace_state_parse(text: str, expected: str) -> None:
    """The SDK's repr of a TraceState converts back to a tracestate header."""
    assert console._decode_trace_state(text, "context.trace_state") == expected


# --- detection --------------------------------------------------------------------------

SPAN_HEAD = '{\n    "name": "GET /",\n    "context": {\n        "trace_id": "0x5b8aa5a2d2c872e8321cf37308d69df2",\n'
LOG_HEAD = '{\n    "body": "hello",\n    "severity_number": 9,\n    "severity_text": "INFO",\n'


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (SPAN_HEAD, True),
        ('{"name": "GET /", "context": {"trace_id": "0x5b8aa5a2d2c872e8321cf37308d69df2", "span_id": ', True),
        ("Starting server\n2026-12-04 INFO ready\n" + SPAN_HEAD, True),
        ('{"level": "info"}\n' + SPAN_HEAD, True),
        ("\ufeff" + SPAN_HEAD, True),
        (LOG_HEAD, True),
        ('{\n    "body": null,\n    "severity_number": null,\n    "severity_text": null,\n', True),
        ("    " + SPAN_HEAD, False),
        ('{"name": "GET /", "context": {"trace_id": "5b8aa5a2d2c872e8321cf37308d69df2"', False),
        ('{\n  "version": 1,\n  "service": "codemachine",\n  "spanCount": 1,\n  "spans": [\n    {"name": "a"', False),
        ('{"resourceSpans": [{"resource": {}, "scopeSpans": [{"spans": [{"traceId": "5b8a", "name": "a"}]}]}]}', False),
        ('{"resourceLogs": [{"scopeLogs": [{"logRecords": [{"body": {"stringValue": "hi"}}]}]}]}', False),
        ('{"data": [{"traceID": "5b8a", "spans": [{"traceID": "5b8a", "operationName": "a"}]}]}', False),
        ('[{"traceId": "5b8a", "id": "0515", "name": "get /", "timestamp": 1, "duration": 2}]', False),
        ('{\n  "name": "shop",\n  "version": "1.0.0",\n  "scripts": {"logs": "tail -f log"}\n}\n', False),
        ('{"level": 30, "time": 1, "name": "app", "msg": "hi"}\n', False),
        ('{"body": "hello", "status": 200}\n', False),
        ("", False),
    ],
    ids=[
        "span",
        "compact span",
        "print lines first",
        "JSON log line first",
        "byte order mark",
        "log",
        "log without severity",
        "indented object",
        "ID without 0x",
        "codemachine",
        "otlp json traces",
        "otlp json logs",
        "jaeger",
        "zipkin",
        "package.json",
        "pino log line",
        "HTTP body",
        "empty",
    ],
)
def test_sniff_table(head: str, expected: bool) -> None:
    """Console output is recognised after other output, and the other formats and ordinary JSON are not."""
    assert console.sniff(head.encode()) is expected


def test_detect_real_output(tmp_path: Path, recording: Recording) -> None:
    """Detection picks this reader for real SDK output with print lines first."""
    detected = detect(write(tmp_path, recording.text))

    assert detected is not None
    assert detected.name == "python-console"


def test_detect_real_log_output(tmp_path: Path, recording: Recording) -> None:
    """Detection picks this reader for a file of log records only."""
    first_log = recording.text.index('{\n    "body"')
    detected = detect(write(tmp_path, recording.text[first_log:]))

    assert detected is not None
    assert detected.name == "python-console"


def test_detect_codemachine_is_not_console() -> None:
    """The bundled CodeMachine files are not taken for console output."""
    for path in (SESSION_B_SPANS, SESSION_B_LOGS):
        assert console.sniff(path.read_bytes()[:4096]) is False
