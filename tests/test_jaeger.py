"""Jaeger JSON: hand-written files in the documented format, replayed through the CLI into a real receiver."""

from __future__ import annotations

import base64
import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from otel_replay import formats
from otel_replay.errors import InputError, NotTelemetryError
from otel_replay.formats import jaeger, zipkin
from otel_replay.model import Notice, Skipped, SpanData
from otel_replay.receiver import OTLPReceiver
from tests.conftest import DATA, SESSION_B_LOGS, SESSION_B_SPANS, run_cli
from tests.otlp import from_attributes, load_json

JAEGER = DATA / "jaeger"
UI_DOWNLOAD = JAEGER / "ui-download.json"
QUERY_API = JAEGER / "query-api.json"
INVALID_RECORDS = JAEGER / "invalid-records.json"

# Tags that the OpenTelemetry-to-Jaeger translation writes for span fields, not attributes.
SPECIAL_TAGS = {
    "span.kind",
    "otel.status_code",
    "otel.status_description",
    "otel.scope.name",
    "otel.scope.version",
    "otel.library.name",
    "otel.library.version",
    "w3c.tracestate",
    "otel.dropped_attributes_count",
    "otel.dropped_events_count",
    "otel.dropped_links_count",
}
KIND_INTERNAL, KIND_SERVER, KIND_CLIENT, KIND_PRODUCER, KIND_CONSUMER = 1, 2, 3, 4, 5
T1 = "5b8efff798038103d269b633813fc60c"
T2_PADDED = "0000000000000000a3ce929d0e0e4736"

# What the special tags and references of each span in ui-download.json must become.
EXPECTED = {
    "eee19b7ec3c1b174": {
        "kind": KIND_SERVER,
        "status": (1, ""),
        "scope": ("io.opentelemetry.tomcat-10.0", "2.11.0-alpha"),
        "trace_state": "shop=cart-7,vendor=x1",
        "parent": "",
        "links": [],
        "dropped": (0, 0, 0),
    },
    "0f1e2d3c4b5a6978": {
        "kind": KIND_CLIENT,
        "status": (2, "connection refused"),
        "scope": ("io.opentelemetry.okhttp-3.0", "2.11.0-alpha"),
        "trace_state": "",
        "parent": "eee19b7ec3c1b174",
        "links": [],
        "dropped": (0, 0, 0),
    },
    "7a3b9c1d2e4f5061": {
        "kind": KIND_CONSUMER,
        "status": (0, ""),
        "scope": ("checkout.orders", "0.9.1"),
        "trace_state": "",
        "parent": "0f1e2d3c4b5a6978",
        "links": [(T2_PADDED, "5f2a7c1e9b3d4a60", "child_of"), (T1, "eee19b7ec3c1b174", "follows_from")],
        "dropped": (0, 0, 0),
    },
    "1c2d3e4f5a6b7c8d": {
        "kind": KIND_INTERNAL,
        "status": (0, ""),
        "scope": ("", ""),
        "trace_state": "",
        "parent": "",
        "links": [(T1, "7a3b9c1d2e4f5061", "follows_from")],
        "dropped": (3, 1, 0),
    },
    "5f2a7c1e9b3d4a60": {
        "kind": KIND_PRODUCER,
        "status": (0, ""),
        "scope": ("", ""),
        "trace_state": "",
        "parent": "",
        "links": [],
        "dropped": (0, 0, 0),
    },
    "00000000000007d0": {
        "kind": KIND_INTERNAL,
        "status": (2, ""),
        "scope": ("", ""),
        "trace_state": "",
        "parent": "5f2a7c1e9b3d4a60",
        "links": [],
        "dropped": (0, 0, 0),
    },
}


# --- helpers ---------------------------------------------------------------------------


def _replay(receiver: OTLPReceiver, *paths: Path) -> dict[str, Any]:
    result = run_cli("replay", *paths, "--endpoint", receiver.url, "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def _expected_value(tag: dict[str, Any]) -> tuple[str, Any]:
    """Return the typed OTLP value a Jaeger tag must arrive as."""
    kind, value = tag["type"], tag["value"]
    if kind == "string":
        return ("string", value)
    if kind == "bool":
        return ("bool", value)
    if kind == "int64":
        return ("int", int(value))
    if kind == "float64":
        return ("double", float(value))
    assert kind == "binary"
    return ("bytes", base64.b64decode(value))


def _expected_attributes(tags: list[dict[str, Any]]) -> dict[str, tuple[str, Any]]:
    """Return the attributes a span's tags must arrive as: all but the consumed special tags."""
    return {
        tag["key"]: _expected_value(tag)
        for tag in tags
        if tag["key"] not in SPECIAL_TAGS and not (tag["key"] == "error" and tag["value"] is True)
    }


def _expected_event(log: dict[str, Any]) -> tuple[str, int, dict[str, tuple[str, Any]]]:
    """Return (name, time in ns, attributes) for a Jaeger log: its "event" field, else "message", names it."""
    fields = {field["key"]: field for field in log["fields"]}
    name_key = "event" if "event" in fields else "message"
    name = fields[name_key]["value"]
    attributes = {key: _expected_value(field) for key, field in fields.items() if key != name_key}
    return name, log["timestamp"] * 1000, attributes


def _write_json(path: Path, document: Any) -> Path:
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def _trace(span_overrides: dict[str, Any] | None = None, **trace_overrides: Any) -> dict[str, Any]:
    """Return a one-span trace, with fields of the span or the trace replaced."""
    span = {
        "traceID": "4bf92f3577b34da6a3ce929d0e0e4736",
        "spanID": "00f067aa0ba902b7",
        "operationName": "op",
        "references": [],
        "startTime": 1796413207753123,
        "duration": 7,
        "tags": [],
        "logs": [],
        "processID": "p1",
    }
    span.update(span_overrides or {})
    trace = {"traceID": span.get("traceID"), "spans": [span], "processes": {"p1": {"serviceName": "svc"}}}
    trace.update(trace_overrides)
    return trace


def _items(path: Path) -> list[Any]:
    return list(jaeger.read(path))


def _spans(path: Path) -> list[SpanData]:
    return [item for item in jaeger.read(path) if isinstance(item, SpanData)]


# --- end to end ------------------------------------------------------------------------


def test_ui_download_arrives_field_by_field(receiver: OTLPReceiver) -> None:
    """Every span of the UI download arrives with its IDs, times, kind, status, scope, links, events and resource."""
    document = load_json(UI_DOWNLOAD)
    _replay(receiver, UI_DOWNLOAD)

    received = {span.span_id.hex(): (resource, scope, span) for resource, scope, span in receiver.received.spans()}
    json_spans = [(trace, json_span) for trace in document["data"] for json_span in trace["spans"]]
    assert len(receiver.received.spans()) == len(json_spans)

    for trace, json_span in json_spans:
        resource, scope, span = received[json_span["spanID"]]
        expected = EXPECTED[json_span["spanID"]]
        process = trace["processes"][json_span["processID"]]
        assert span.trace_id.hex() == json_span["traceID"].rjust(32, "0")
        assert span.name == json_span["operationName"]
        assert span.start_time_unix_nano == json_span["startTime"] * 1000
        assert span.end_time_unix_nano == (json_span["startTime"] + json_span["duration"]) * 1000
        assert span.parent_span_id.hex() == expected["parent"]
        assert span.kind == expected["kind"]
        assert (span.status.code, span.status.message) == expected["status"]
        assert (scope.name, scope.version) == expected["scope"]
        assert span.trace_state == expected["trace_state"]
        assert from_attributes(span.attributes) == _expected_attributes(json_span["tags"])
        links = [
            (link.trace_id.hex(), link.span_id.hex(), from_attributes(link.attributes)["opentracing.ref_type"][1])
            for link in span.links
        ]
        assert links == expected["links"]
        assert (
            span.dropped_attributes_count,
            span.dropped_events_count,
            span.dropped_links_count,
        ) == expected["dropped"]
        events = [(event.name, event.time_unix_nano, from_attributes(event.attributes)) for event in span.events]
        assert events == [_expected_event(log) for log in json_span.get("logs", [])]
        resource_attributes = {"service.name": ("string", process["serviceName"])}
        resource_attributes.update({tag["key"]: _expected_value(tag) for tag in process["tags"]})
        assert from_attributes(resource.attributes) == resource_attributes


def test_ui_download_warnings_reported(receiver: OTLPReceiver) -> None:
    """Trace and span warnings and the debug flag are reported as warnings, and the run succeeds."""
    result = run_cli("replay", UI_DOWNLOAD, "--endpoint", receiver.url)

    assert result.exit_code == 0
    assert "field data[0].warnings[0]: Jaeger recorded a warning for this trace: invalid parent" in result.stderr
    assert "record 2, field data[0].spans[2].warnings[0]: Jaeger recorded a warning for this span" in result.stderr
    assert "record 1, field data[0].spans[1].flags: Jaeger flags 0x3" in result.stderr


def test_query_api_response_arrives(receiver: OTLPReceiver) -> None:
    """The query API's pretty-printed response is sent, and its errors become warnings."""
    result = run_cli("replay", QUERY_API, "--endpoint", receiver.url)

    assert result.exit_code == 0
    spans = receiver.received.spans()
    assert [span.name for _, _, span in spans] == ["SELECT orders"]
    assert spans[0][2].kind == KIND_CLIENT
    assert spans[0][1].name == "github.com/jackc/pgx"
    assert "field errors[0]: the Jaeger query reported an error for trace" in result.stderr


def test_invalid_records_skipped(receiver: OTLPReceiver) -> None:
    """Invalid spans are skipped with file, record and field; the valid ones around them are sent."""
    result = run_cli("replay", INVALID_RECORDS, "--endpoint", receiver.url)

    assert result.exit_code == 1
    assert sorted(span.name for _, _, span in receiver.received.spans()) == ["first good", "last good"]
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    prefix = f"Error: {INVALID_RECORDS}: record"
    assert errors[0].startswith(f"{prefix} 1, field data[0].spans[1].traceID: missing")
    assert errors[1].startswith(f"{prefix} 2, field data[0].spans[2].spanID: invalid ID 'b7ad6b71692033310'")
    assert errors[2].startswith(
        f"{prefix} 3, field data[0].spans[3].references[0].refType: unknown reference type 'PARENT_OF'"
    )
    assert errors[3].startswith(f"{prefix} 4, field data[0].spans[4].tags[1].type: unknown tag type 'int32'")
    assert errors[4].startswith(f"{prefix} 5, field data[0].spans[5].processID: process 'p9' is not in")
    assert len(errors) == 5


def test_invalid_records_summary(receiver: OTLPReceiver) -> None:
    """The summary counts the invalid spans as skipped and the others as sent."""
    result = run_cli("replay", INVALID_RECORDS, "--endpoint", receiver.url, "--json")

    traces = json.loads(result.stdout)["signals"]["traces"]
    assert traces["read"] == 7
    assert traces["sent"] == 2
    assert traces["skipped_by_reason"] == {"invalid": 5}


def test_truncated_download_sends_complete_traces(receiver: OTLPReceiver, tmp_path: Path) -> None:
    """A download cut inside the second trace sends the first trace and reports the file as truncated."""
    text = UI_DOWNLOAD.read_text(encoding="utf-8")
    path = tmp_path / "cut.json"
    path.write_text(text[: text.index('"operationName":"process job"')], encoding="utf-8")

    result = run_cli("replay", path, "--endpoint", receiver.url)

    assert result.exit_code == 1
    assert sorted(span.trace_id.hex() for _, _, span in receiver.received.spans()) == [T1] * 4
    assert "truncated" in result.stderr
    assert "the 4 span(s) before the cut were read" in result.stderr


def test_gzip_download_arrives(receiver: OTLPReceiver, tmp_path: Path) -> None:
    """A gzip-compressed download is detected and sent like the plain file."""
    path = tmp_path / "traces.json.gz"
    path.write_bytes(gzip.compress(UI_DOWNLOAD.read_bytes()))

    _replay(receiver, path)

    assert len(receiver.received.spans()) == 6


# --- reader details --------------------------------------------------------------------


def test_time_exact_microseconds(tmp_path: Path) -> None:
    """Microsecond times become nanoseconds exactly, where float arithmetic is 72 ns off."""
    path = _write_json(tmp_path / "t.json", {"data": [_trace()]})

    span = _spans(path)[0]

    assert span.start_time_unix_nano == 1796413207753123000
    assert span.start_time_unix_nano != int(1796413207753123 * 1e3)
    assert span.end_time_unix_nano == 1796413207753130000


@pytest.mark.parametrize(
    ("field", "written", "expected"),
    [
        pytest.param("traceID", "a3ce929d0e0e4736", 0xA3CE929D0E0E4736, id="64-bit-trace-id"),
        pytest.param("traceID", "4bf92f3577b34da6a3ce929d0e0e4736", 0x4BF92F3577B34DA6A3CE929D0E0E4736, id="128-bit"),
        pytest.param("spanID", "7d0", 0x7D0, id="unpadded-span-id"),
    ],
)
def test_ids_left_padded(tmp_path: Path, field: str, written: str, expected: int) -> None:
    """Trace and span IDs shorter than their width are read as numbers, so they are left-padded."""
    path = _write_json(tmp_path / "t.json", {"data": [_trace({field: written})]})

    span = _spans(path)[0]

    assert (span.trace_id if field == "traceID" else span.span_id) == expected


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        pytest.param({"type": "int64", "value": "9223372036854775807"}, 2**63 - 1, id="int64-as-string"),
        pytest.param({"type": "int64", "value": 42}, 42, id="int64-as-number"),
        pytest.param({"type": "float64", "value": 0.1}, 0.1, id="float64"),
        pytest.param({"type": "float64", "value": 3}, 3.0, id="float64-written-as-integer"),
        pytest.param({"type": "bool", "value": False}, False, id="bool"),
        pytest.param({"type": "binary", "value": "3q2+7w=="}, b"\xde\xad\xbe\xef", id="binary-base64"),
        pytest.param({"value": "untyped"}, "untyped", id="no-type"),
    ],
)
def test_typed_tag_values(tmp_path: Path, tag: dict[str, Any], expected: Any) -> None:
    """Each Jaeger tag type becomes the matching attribute type."""
    path = _write_json(tmp_path / "t.json", {"data": [_trace({"tags": [{"key": "k", **tag}]})]})

    attributes = _spans(path)[0].attributes

    assert attributes["k"] == expected
    assert type(attributes["k"]) is type(expected)


def test_binary_not_base64_kept_as_string(tmp_path: Path) -> None:
    """A binary tag that is not base64 is sent as the string written, with a warning."""
    tags = [{"key": "blob", "type": "binary", "value": "not base64!"}]
    path = _write_json(tmp_path / "t.json", {"data": [_trace({"tags": tags})]})

    span, notice = _items(path)

    assert span.attributes["blob"] == "not base64!"
    assert notice.location.field == "data[0].spans[0].tags[0].value"


def test_unknown_special_tag_value_kept(tmp_path: Path) -> None:
    """A span.kind or otel.status_code value the translation never writes stays an attribute."""
    tags = [
        {"key": "span.kind", "type": "string", "value": "gateway"},
        {"key": "otel.status_code", "type": "string", "value": "MAYBE"},
    ]
    path = _write_json(tmp_path / "t.json", {"data": [_trace({"tags": tags})]})

    span = _spans(path)[0]

    assert span.attributes == {"span.kind": "gateway", "otel.status_code": "MAYBE"}
    assert span.status_code == 0


def test_error_tag_wins_over_status_code(tmp_path: Path) -> None:
    """error=true makes the status ERROR even when otel.status_code is OK, as in the Collector."""
    tags = [
        {"key": "error", "type": "bool", "value": True},
        {"key": "otel.status_code", "type": "string", "value": "OK"},
        {"key": "otel.status_description", "type": "string", "value": "boom"},
    ]
    path = _write_json(tmp_path / "t.json", {"data": [_trace({"tags": tags})]})

    span = _spans(path)[0]

    assert (span.status_code, span.status_message) == (2, "boom")
    assert span.attributes == {}


def test_parent_span_id_field_used(tmp_path: Path) -> None:
    """Without a CHILD_OF reference, the storage format's parentSpanID gives the parent."""
    path = _write_json(tmp_path / "t.json", {"data": [_trace({"parentSpanID": "b7ad6b7169203331"})]})

    assert _spans(path)[0].parent_span_id == 0xB7AD6B7169203331


def test_embedded_process_is_resource(tmp_path: Path) -> None:
    """A span with an embedded process instead of a processID gets that process as its resource."""
    process = {"serviceName": "embedded", "tags": [{"key": "host.name", "type": "string", "value": "h"}]}
    trace = _trace({"process": process})
    del trace["spans"][0]["processID"]
    path = _write_json(tmp_path / "t.json", {"data": [trace]})

    assert _spans(path)[0].resource.attributes == {"service.name": "embedded", "host.name": "h"}


def test_resource_shared_across_traces() -> None:
    """Spans of the same process share one resource object, across traces too."""
    spans = _spans(UI_DOWNLOAD)

    frontend = {id(span.resource) for span in spans if span.resource.attributes["service.name"] == "frontend"}
    assert len(frontend) == 1


@pytest.mark.parametrize(
    "shape",
    [
        pytest.param(lambda trace: [trace, trace], id="list-of-traces"),
        pytest.param(lambda trace: trace, id="single-trace"),
        pytest.param(lambda trace: {"data": [trace], "total": 1, "limit": 0, "offset": 0, "errors": None}, id="api"),
    ],
)
def test_document_shapes(tmp_path: Path, shape: Any) -> None:
    """A list of traces and a single trace object are read like the query response."""
    path = _write_json(tmp_path / "t.json", shape(_trace()))

    spans = _spans(path)

    assert spans[0].span_id == 0x00F067AA0BA902B7
    assert spans[0].resource.attributes == {"service.name": "svc"}


def test_documents_back_to_back(tmp_path: Path) -> None:
    """Several documents in one file, one per line, are read in order with one record count."""
    lines = [json.dumps({"data": [_trace({"spanID": f"{number:016x}"})]}) for number in (1, 2, 3)]
    path = tmp_path / "t.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    spans = _spans(path)

    assert [span.span_id for span in spans] == [1, 2, 3]
    assert [span.location.index for span in spans] == [0, 1, 2]


def test_streams_large_download(tmp_path: Path) -> None:
    """A download larger than the read buffer is read trace by trace with every span intact."""
    traces = [_trace({"spanID": f"{number + 1:016x}", "operationName": "x" * 900}) for number in range(300)]
    path = _write_json(tmp_path / "t.json", {"data": traces})

    spans = _spans(path)

    assert len(spans) == 300
    assert spans[-1].span_id == 300


def test_empty_query_response_not_an_error(tmp_path: Path) -> None:
    """A query response with no traces is Jaeger JSON with nothing to send."""
    path = tmp_path / "t.json"
    path.write_text('{"data":[],"total":0,"limit":0,"offset":0,"errors":null}', encoding="utf-8")

    assert jaeger.sniff(path.read_bytes())
    assert _items(path) == []


def test_other_json_not_telemetry(tmp_path: Path) -> None:
    """An object with neither "data" nor "spans" raises NotTelemetryError before yielding anything."""
    path = _write_json(tmp_path / "t.json", {"traceID": "abc", "spanID": "def", "operationName": "x"})

    with pytest.raises(NotTelemetryError):
        _items(path)


def test_invalid_json_after_records(tmp_path: Path) -> None:
    """Invalid JSON after a complete trace yields that trace's spans, then raises InputError."""
    path = tmp_path / "t.json"
    path.write_text('{"data": [' + json.dumps(_trace()) + ", {oops}]}", encoding="utf-8")

    reader = jaeger.read(path)
    first = next(reader)

    assert isinstance(first, SpanData)
    with pytest.raises(InputError, match="invalid JSON"):
        next(reader)


def test_lone_surrogate_replaced(tmp_path: Path) -> None:
    """A lone surrogate escape in a tag value is replaced by U+FFFD with a warning."""
    path = tmp_path / "t.json"
    text = json.dumps({"data": [_trace({"tags": [{"key": "k", "type": "string", "value": "PLACEHOLDER"}]})]})
    path.write_text(text.replace("PLACEHOLDER", "cut \\ud83d"), encoding="utf-8")

    span, notice = _items(path)

    assert span.attributes["k"] == "cut \ufffd"
    assert isinstance(notice, Notice)


def test_skipped_record_location(tmp_path: Path) -> None:
    """A skipped span carries its record index and the full field path."""
    trace = _trace({"startTime": "soon"})
    path = _write_json(tmp_path / "t.json", [trace])

    (skipped,) = _items(path)

    assert isinstance(skipped, Skipped)
    assert skipped.location.index == 0
    assert skipped.location.field == "[0].spans[0].startTime"


# --- detection -------------------------------------------------------------------------


@pytest.mark.parametrize("path", [UI_DOWNLOAD, QUERY_API, INVALID_RECORDS], ids=lambda path: path.name)
def test_fixture_detected_as_jaeger(path: Path) -> None:
    """Each Jaeger file is detected as Jaeger by content."""
    detected = formats.detect(path)

    assert detected is not None
    assert detected.name == "jaeger"


@pytest.mark.parametrize("path", [UI_DOWNLOAD, QUERY_API, INVALID_RECORDS], ids=lambda path: path.name)
def test_fixture_not_zipkin(path: Path) -> None:
    """No Jaeger file looks like Zipkin."""
    assert not zipkin.sniff(path.read_bytes()[: formats.SNIFF_SIZE])


OTHER_FILES = {
    "codemachine-spans": SESSION_B_SPANS.read_bytes(),
    "codemachine-logs": SESSION_B_LOGS.read_bytes(),
    "otlp-json": json.dumps(
        {
            "resourceSpans": [
                {
                    "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "s"}}]},
                    "scopeSpans": [
                        {"spans": [{"traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "spanId": "00f067aa0ba902b7"}]}
                    ],
                }
            ]
        }
    ).encode(),
    "package-json": json.dumps(
        {"name": "jaeger-ui", "version": "1.0.0", "scripts": {"test": "jest"}, "dependencies": {"traceID": "1"}}
    ).encode(),
    "zipkin": json.dumps([{"traceId": "a3ce929d0e0e4736", "id": "00f067aa0ba902b7", "name": "x"}]).encode(),
}


@pytest.mark.parametrize("content", OTHER_FILES.values(), ids=OTHER_FILES.keys())
def test_other_formats_not_jaeger(content: bytes) -> None:
    """CodeMachine, OTLP/JSON, Zipkin and ordinary JSON files are not taken for Jaeger."""
    assert not jaeger.sniff(content[: formats.SNIFF_SIZE])
