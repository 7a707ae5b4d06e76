"""Hostile input: damaged compression, deep nesting, long integers and records over the size limit."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
import zstandard

from otel_replay.errors import InputError
from otel_replay.formats import by_name, console, detect, limits
from otel_replay.formats.limits import MAX_VALUE_DEPTH, record_size_limit
from otel_replay.model import Item, Notice, Skipped, SpanData
from otel_replay.receiver import OTLPReceiver
from tests.conftest import SESSION_B_SPANS, Result, run_cli

TRACE_ID = "5b8efff798038103d269b633813fc60c"
JSON_FORMATS = ["codemachine", "otlp-json", "jaeger", "zipkin", "python-console"]


# --- helpers ---------------------------------------------------------------------------


def span_id(number: int) -> str:
    """Return a recognisable 16-digit span ID for span `number`."""
    return f"eee19b7ec3c1b{number:03x}"


def otlp_line(number: int, attributes: list[dict[str, Any]] | None = None) -> str:
    """Return one OTLP/JSON trace request with one span, as the Collector writes a line."""
    span = {
        "traceId": TRACE_ID,
        "spanId": span_id(number),
        "name": f"span-{number}",
        "kind": 1,
        "startTimeUnixNano": "1544712660000000000",
        "endTimeUnixNano": "1544712661000000000",
        "attributes": attributes or [],
    }
    return json.dumps({"resourceSpans": [{"resource": {}, "scopeSpans": [{"scope": {}, "spans": [span]}]}]})


def codemachine_span(number: int, attributes: dict[str, Any] | None = None) -> dict[str, Any]:
    """Return a CodeMachine span record."""
    return {
        "traceId": TRACE_ID,
        "spanId": span_id(number),
        "name": f"span-{number}",
        "startTime": 1796413207753,
        "endTime": 1796413207754,
        "attributes": attributes or {},
    }


def codemachine_file(spans: list[dict[str, Any]]) -> str:
    """Return a CodeMachine trace file holding `spans`."""
    return json.dumps({"version": 1, "service": "svc", "spanCount": len(spans), "spans": spans})


def nested_list(depth: int) -> Any:
    """Return a value of `depth` arrays nested in one another around a string."""
    value: Any = "leaf"
    for _ in range(depth):
        value = [value]
    return value


def nested_otlp_value(depth: int) -> dict[str, Any]:
    """Return an OTLP/JSON AnyValue of `depth` arrays nested in one another."""
    value: dict[str, Any] = {"stringValue": "leaf"}
    for _ in range(depth):
        value = {"arrayValue": {"values": [value]}}
    return value


def read_all(path: Path, format_name: str) -> list[Item]:
    """Read a file with the named format's reader, as the pipeline does."""
    return list(by_name(format_name).read(path))


def received_span_ids(receiver: OTLPReceiver) -> list[str]:
    """Return the span IDs the receiver decoded."""
    return sorted(span.span_id.hex() for _, _, span in receiver.received.spans())


def error_lines(result: Result) -> list[str]:
    """Return the lines of stderr that report an error."""
    return [line for line in result.stderr.splitlines() if line.startswith("Error:")]


# --- damaged compressed files ----------------------------------------------------------

DAMAGED_COMPRESSION = [
    pytest.param(b"\x1f\x8b\x08\x00" + b"\x00" * 20, id="gzip-bad-block"),
    pytest.param(gzip.compress(otlp_line(1).encode() * 50)[:60], id="gzip-truncated"),
    pytest.param(b"\x28\xb5\x2f\xfd" + b"\xff" * 20, id="zstd-bad-frame"),
    pytest.param(zstandard.ZstdCompressor().compress(otlp_line(1).encode() * 50)[:30], id="zstd-truncated"),
]


@pytest.mark.parametrize("content", DAMAGED_COMPRESSION)
@pytest.mark.parametrize("format_name", [*JSON_FORMATS, "otlp-proto"])
def test_damaged_compression_is_input_error(tmp_path: Path, content: bytes, format_name: str) -> None:
    """Every reader reports damaged gzip or zstd data as an InputError, not a codec exception."""
    path = tmp_path / "spans.json.gz"
    path.write_bytes(content)

    with pytest.raises(InputError, match="compressed data"):
        read_all(path, format_name)


@pytest.mark.parametrize("content", DAMAGED_COMPRESSION)
def test_damaged_compression_cli_error(tmp_path: Path, content: bytes) -> None:
    """The CLI names the file of damaged compressed data and exits with 1, without a traceback."""
    path = tmp_path / "spans.json.gz"
    path.write_bytes(content)

    result = run_cli("replay", path, "--endpoint", "http://127.0.0.1:9", "--timeout", "0.2")

    assert result.exit_code == 1
    assert "Traceback" not in result.stderr
    assert any(str(path) in line for line in error_lines(result))


def test_damaged_gzip_detection(tmp_path: Path) -> None:
    """Format detection reports a damaged gzip stream as an InputError."""
    path = tmp_path / "spans.json.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00" + b"\x00" * 20)

    with pytest.raises(InputError, match="compressed data"):
        detect(path)


def test_zstd_frames_read_whole(tmp_path: Path) -> None:
    """A zstd file of several frames, as concatenating two files gives, is read to its end."""
    path = tmp_path / "spans.jsonl.zst"
    frames = [zstandard.ZstdCompressor().compress((otlp_line(number) + "\n").encode()) for number in (1, 2)]
    path.write_bytes(b"".join(frames))

    items = read_all(path, "otlp-json")

    assert [item.location.index for item in items] == [0, 1]


def test_zstd_cut_between_blocks(tmp_path: Path) -> None:
    """A zstd file cut after a complete block, whose text is whole lines, is still reported as truncated."""
    path = tmp_path / "spans.jsonl.zst"
    compressor = zstandard.ZstdCompressor().compressobj()
    first = compressor.compress((otlp_line(1) + "\n").encode()) + compressor.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK)
    path.write_bytes(first)

    with pytest.raises(InputError, match="zstd stream ends inside a frame"):
        read_all(path, "otlp-json")


# --- deep nesting and long integers in the JSON text -----------------------------------

DEEP_TEXT = "[" * 5000 + "]" * 5000
LONG_INTEGER = "9" * 5000

DEEP_OR_LONG = [
    ("codemachine", '{"version": 1, "service": "s", "spans": [%s]}'),
    ("otlp-json", '{"resourceSpans": %s}\n'),
    ("jaeger", '{"data": [{"traceID": "1", "spans": [{"traceID": "1", "spanID": "1", "startTime": %s}]}]}'),
    ("zipkin", '[{"traceId": "1", "id": "1", "timestamp": %s}]'),
]


@pytest.mark.parametrize(("format_name", "template"), DEEP_OR_LONG)
def test_deep_json_text_is_syntax_error(tmp_path: Path, format_name: str, template: str) -> None:
    """JSON nested thousands of levels deep is reported with its line and column, not as a RecursionError."""
    path = tmp_path / "deep.json"
    path.write_text(template % DEEP_TEXT, encoding="utf-8")

    with pytest.raises(InputError, match="nested more than 200 levels deep") as caught:
        read_all(path, format_name)

    assert "line 1" in str(caught.value)


@pytest.mark.parametrize(("format_name", "template"), DEEP_OR_LONG)
def test_long_integer_is_syntax_error(tmp_path: Path, format_name: str, template: str) -> None:
    """An integer beyond Python's digit limit is a syntax error, not a ValueError."""
    path = tmp_path / "long.json"
    path.write_text(template % LONG_INTEGER, encoding="utf-8")

    with pytest.raises(InputError, match="integer longer than 4300 digits"):
        read_all(path, format_name)


def test_deep_console_object_skipped(tmp_path: Path) -> None:
    """A console span object nested thousands of levels deep is an invalid record with its line."""
    path = tmp_path / "console.txt"
    path.write_text('{\n    "name": "x",\n    "context": ' + DEEP_TEXT + "\n}\n", encoding="utf-8")

    items = read_all(path, "python-console")

    skipped = [item for item in items if isinstance(item, Skipped)]
    assert len(skipped) == 1
    assert "nested more than 200 levels deep" in skipped[0].message


# --- deep nesting in values ------------------------------------------------------------


def test_value_at_depth_limit_arrives(tmp_path: Path, receiver: OTLPReceiver) -> None:
    """An attribute nested exactly MAX_VALUE_DEPTH arrays deep is sent and decoded by the receiver."""
    path = tmp_path / "spans.json"
    path.write_text(codemachine_file([codemachine_span(1, {"deep": nested_list(MAX_VALUE_DEPTH)})]), encoding="utf-8")

    result = run_cli("replay", path, "--endpoint", receiver.url)

    assert result.exit_code == 0
    assert received_span_ids(receiver) == [span_id(1)]


@pytest.mark.parametrize("depth", [MAX_VALUE_DEPTH + 1, 600])
def test_value_too_deep_skipped(tmp_path: Path, receiver: OTLPReceiver, depth: int) -> None:
    """A span with an attribute nested too deeply is invalid, and the next span is still sent."""
    path = tmp_path / "spans.json"
    spans = [codemachine_span(1, {"deep": nested_list(depth)}), codemachine_span(2)]
    path.write_text(codemachine_file(spans), encoding="utf-8")

    result = run_cli("replay", path, "--endpoint", receiver.url, "--json")

    traces = json.loads(result.stdout)["signals"]["traces"]
    assert result.exit_code == 1
    assert received_span_ids(receiver) == [span_id(2)]
    assert traces["skipped_by_reason"] == {"invalid": 1}
    assert f"{path}: record 0" in result.stderr
    assert "nested deeper than 30 levels" in result.stderr


@pytest.mark.parametrize("depth", [MAX_VALUE_DEPTH + 1, 300])
def test_otlp_value_too_deep_skipped(tmp_path: Path, depth: int) -> None:
    """An OTLP/JSON span with a deeply nested AnyValue is invalid, and the next line is read."""
    path = tmp_path / "spans.jsonl"
    deep = [{"key": "deep", "value": nested_otlp_value(depth)}]
    path.write_text(otlp_line(1, deep) + "\n" + otlp_line(2) + "\n", encoding="utf-8")

    items = read_all(path, "otlp-json")

    assert [type(item) for item in items] == [Skipped, SpanData]
    assert items[0].location.index == 0
    assert items[0].location.field.startswith("resourceSpans[0].scopeSpans[0].spans[0]")
    assert "nested deeper than 30 levels" in items[0].message


# --- records over the size limit -------------------------------------------------------

LIMIT = 4096
LONG_STRING = "x" * (4 * LIMIT)


def test_long_otlp_line_skipped(tmp_path: Path, receiver: OTLPReceiver) -> None:
    """An OTLP/JSON line over --max-record-bytes is skipped, and the lines around it are sent."""
    path = tmp_path / "spans.jsonl"
    long_line = otlp_line(2, [{"key": "long", "value": {"stringValue": LONG_STRING}}])
    path.write_text("\n".join([otlp_line(1), long_line, otlp_line(3)]) + "\n", encoding="utf-8")

    result = run_cli("replay", path, "--endpoint", receiver.url, "--max-record-bytes", str(LIMIT), "--json")

    traces = json.loads(result.stdout)["signals"]["traces"]
    assert result.exit_code == 1
    assert received_span_ids(receiver) == [span_id(1), span_id(3)]
    assert traces["read"] == traces["sent"] + traces["skipped"] + traces["failed"]
    assert f"{path}: record 1: line 2 is longer than the maximum record size of {LIMIT} bytes" in result.stderr


def test_long_last_otlp_line_skipped(tmp_path: Path) -> None:
    """A long last line without a line break is skipped like any other long line."""
    path = tmp_path / "spans.jsonl"
    long_line = otlp_line(2, [{"key": "long", "value": {"stringValue": LONG_STRING}}])
    path.write_text(otlp_line(1) + "\n" + long_line, encoding="utf-8")

    with record_size_limit(LIMIT):
        items = read_all(path, "otlp-json")

    assert [type(item) for item in items] == [SpanData, Skipped]


def test_long_otlp_document_stops_file(tmp_path: Path) -> None:
    """A pretty-printed OTLP/JSON document over the limit ends the file with an error naming its line."""
    path = tmp_path / "spans.json"
    document = json.loads(otlp_line(2, [{"key": "long", "value": {"stringValue": LONG_STRING}}]))
    path.write_text(otlp_line(1) + "\n" + json.dumps(document, indent=2) + "\n", encoding="utf-8")

    with record_size_limit(LIMIT), pytest.raises(InputError, match="document that starts at line 2 is longer"):
        read_all(path, "otlp-json")


def test_long_console_line_skipped(tmp_path: Path) -> None:
    """A console record on one line over the limit is invalid, and the next line is read."""
    path = tmp_path / "console.txt"
    lines = ['{"name": "' + LONG_STRING + '", "context": {}}', "other output"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    with record_size_limit(LIMIT):
        items = read_all(path, "python-console")

    skipped = [item for item in items if isinstance(item, Skipped)]
    assert len(skipped) == 1
    assert "line 1 is longer than the maximum record size" in skipped[0].message


@pytest.mark.parametrize(
    ("format_name", "content"),
    [
        ("jaeger", json.dumps({"data": [{"traceID": "1", "spans": [{"operationName": LONG_STRING}]}]})),
        ("zipkin", json.dumps([{"traceId": "1", "id": "1", "name": LONG_STRING}])),
        ("codemachine", codemachine_file([codemachine_span(1, {"long": LONG_STRING})])),
    ],
)
def test_long_json_value_stops_file(tmp_path: Path, format_name: str, content: str) -> None:
    """A single JSON value or document over the limit ends the file with an error."""
    path = tmp_path / "spans.json"
    path.write_text(content, encoding="utf-8")

    with record_size_limit(LIMIT), pytest.raises(InputError, match="longer than the maximum record size"):
        read_all(path, format_name)


def test_protobuf_length_over_limit(tmp_path: Path) -> None:
    """A length prefix over the limit ends an OTLP protobuf file, naming the message and its byte offset."""
    path = tmp_path / "spans.binpb"
    path.write_bytes((5000).to_bytes(4, "big") + b"\x0a" * 5000)

    with record_size_limit(LIMIT), pytest.raises(InputError, match="message 1 \\(at byte offset 0, declaring 5000"):
        read_all(path, "otlp-proto")


# --- findings of the fuzz tests --------------------------------------------------------


def test_codemachine_metrics_type_without_array(tmp_path: Path) -> None:
    """A metrics file whose "metrics" array is missing is an InputError, not a KeyError."""
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps({"version": 1, "service": "s", "type": "metrics", "exportCount": 1}), encoding="utf-8")

    with pytest.raises(InputError, match='expected "metrics" to be an array, got null'):
        read_all(path, "codemachine")


@pytest.mark.parametrize("export", [[1], {"scopeMetrics": [{"metrics": [{"name": "m", "type": "9"}]}]}])
def test_codemachine_invalid_export_counted(tmp_path: Path, export: Any) -> None:
    """An invalid metrics export or metric without data points still counts as one invalid record."""
    path = tmp_path / "metrics.json"
    path.write_text(
        json.dumps({"version": 1, "service": "s", "type": "metrics", "metrics": [export]}), encoding="utf-8"
    )

    skipped = [item for item in read_all(path, "codemachine") if isinstance(item, Skipped)]

    assert [item.count for item in skipped] == [1]


@pytest.mark.parametrize(
    ("value", "arrives"), [(2**70, True), (nested_list(MAX_VALUE_DEPTH), True), (nested_list(300), False)]
)
def test_codemachine_log_resource_orjson_limits(tmp_path: Path, value: Any, arrives: bool) -> None:
    """A log resource with an integer beyond 64 bits or nesting beyond orjson's 255 levels is read."""
    path = tmp_path / "logs.json"
    log = {"timestamp": [1796413207, 0], "body": "x", "resource": {"service.name": "s", "extra": value}}
    path.write_text(json.dumps({"version": 1, "service": "s", "logs": [log]}), encoding="utf-8")

    items = read_all(path, "codemachine")

    assert [type(item).__name__ for item in items if not isinstance(item, Notice)] == [
        "LogData" if arrives else "Skipped"
    ]


def test_jaeger_reference_type_not_string(tmp_path: Path) -> None:
    """A Jaeger reference whose refType is an array is an invalid span, not a TypeError."""
    path = tmp_path / "jaeger.json"
    span = {"traceID": TRACE_ID, "spanID": span_id(1), "operationName": "x", "startTime": 1, "duration": 1}
    span["references"] = [{"refType": ["CHILD_OF"], "traceID": TRACE_ID, "spanID": span_id(2)}]
    span["processID"] = "p1"
    trace = {"traceID": TRACE_ID, "spans": [span], "processes": {"p1": {"serviceName": "shop"}}}
    path.write_text(json.dumps({"data": [trace]}), encoding="utf-8")

    items = read_all(path, "jaeger")

    assert [type(item) for item in items] == [Skipped]
    assert "unknown reference type" in items[0].message


def test_otlp_file_ends_inside_utf8_sequence(tmp_path: Path) -> None:
    """An OTLP/JSON file that ends inside a UTF-8 sequence is an InputError naming the offset."""
    path = tmp_path / "spans.jsonl"
    path.write_bytes(otlp_line(1).encode() + b"\n\xc2")

    with pytest.raises(InputError, match="ends inside a UTF-8 sequence, at byte offset"):
        read_all(path, "otlp-json")


@pytest.mark.parametrize("line", ['{"name":', '{"name": [', '{"body": {"a": ['])
def test_console_nested_lines_parsed_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, line: str) -> None:
    """Lines that each open an object nested in the previous one are parsed a bounded number of times.

    Parsing again from every such line took time quadratic in the number of lines.
    """
    path = tmp_path / "console.txt"
    path.write_text((line + "\n") * 20_000, encoding="utf-8")
    calls = []

    def counting_raw_decode(decoder: json.JSONDecoder, text: str, position: int) -> tuple[object, int]:
        calls.append(position)
        return limits.raw_decode(decoder, text, position)

    monkeypatch.setattr(console, "raw_decode", counting_raw_decode)

    with pytest.raises(InputError, match="looks truncated"):
        read_all(path, "python-console")

    assert len(calls) < 1000


# --- invalid lines in OTLP/JSON lines --------------------------------------------------

BROKEN_LINES = [
    pytest.param("{not json", "Expecting property name enclosed in double quotes at column 2", id="garbage"),
    pytest.param('{"resourceLogs": [{"scopeLogs": [', "the line ends inside a JSON value", id="cut"),
]


@pytest.mark.parametrize(("broken", "problem"), BROKEN_LINES)
def test_invalid_otlp_line_skipped(tmp_path: Path, receiver: OTLPReceiver, broken: str, problem: str) -> None:
    """A line of invalid JSON between valid ones is skipped as one invalid record, and the next lines are sent."""
    path = tmp_path / "spans.jsonl"
    path.write_text("\n".join([otlp_line(1), broken, otlp_line(3)]) + "\n", encoding="utf-8")

    result = run_cli("replay", path, "--endpoint", receiver.url, "--json")

    summary = json.loads(result.stdout)
    assert result.exit_code == 1
    assert received_span_ids(receiver) == [span_id(1), span_id(3)]
    assert summary["file_errors"] == 0
    assert f"{path}: record 1: line 2 is not valid JSON ({problem})" in result.stderr


def test_invalid_otlp_line_signal_guessed(tmp_path: Path) -> None:
    """A skipped line counts for the signal its request names."""
    path = tmp_path / "logs.jsonl"
    path.write_text("\n".join([otlp_line(1), '{"resourceLogs": [oops', otlp_line(3)]) + "\n", encoding="utf-8")

    skipped = [item for item in read_all(path, "otlp-json") if isinstance(item, Skipped)]

    assert [item.signal.value for item in skipped] == ["logs"]


def test_invalid_otlp_line_after_pretty_document_stops(tmp_path: Path) -> None:
    """After a pretty-printed document, where lines are not documents, invalid JSON ends the file."""
    path = tmp_path / "spans.json"
    pretty = json.dumps(json.loads(otlp_line(1)), indent=2)
    path.write_text("\n".join([pretty, "{not json", otlp_line(3)]) + "\n", encoding="utf-8")

    with pytest.raises(InputError, match="invalid JSON in the document that starts at line"):
        read_all(path, "otlp-json")


def test_otlp_non_object_document_skipped(tmp_path: Path) -> None:
    """A later document that is valid JSON but not an object is skipped, and the next one is read."""
    path = tmp_path / "spans.jsonl"
    path.write_text("\n".join([otlp_line(1), "null", otlp_line(3)]) + "\n", encoding="utf-8")

    items = read_all(path, "otlp-json")

    assert [type(item) for item in items] == [SpanData, Skipped, SpanData]
    assert "expected an OTLP export request (a JSON object) at line 2, got null" in items[1].message


def test_inspect_max_record_bytes(tmp_path: Path) -> None:
    """inspect takes --max-record-bytes and lists the long line as invalid."""
    path = tmp_path / "spans.jsonl"
    long_line = otlp_line(2, [{"key": "long", "value": {"stringValue": LONG_STRING}}])
    path.write_text("\n".join([otlp_line(1), long_line, otlp_line(3)]) + "\n", encoding="utf-8")

    result = run_cli("inspect", path, "--max-record-bytes", str(LIMIT), "--json")

    report = json.loads(result.stdout)["files"][0]
    assert result.exit_code == 1
    assert report["invalid"] == {"traces": 1}
    assert "line 2 is longer than the maximum record size" in report["problems"][0]


def test_convert_max_record_bytes(tmp_path: Path) -> None:
    """convert takes --max-record-bytes and writes the lines around the long one."""
    path = tmp_path / "spans.jsonl"
    output = tmp_path / "out.jsonl"
    long_line = otlp_line(2, [{"key": "long", "value": {"stringValue": LONG_STRING}}])
    path.write_text("\n".join([otlp_line(1), long_line, otlp_line(3)]) + "\n", encoding="utf-8")

    result = run_cli("convert", path, "--output", output, "--max-record-bytes", str(LIMIT))

    written = [span["spanId"] for line in output.read_text(encoding="utf-8").splitlines() for span in spans_of(line)]
    assert result.exit_code == 1
    assert written == [span_id(1), span_id(3)]


def spans_of(line: str) -> list[dict[str, Any]]:
    """Return the spans of one OTLP/JSON request line."""
    request = json.loads(line)
    return [
        span
        for resource_spans in request.get("resourceSpans", [])
        for scope_spans in resource_spans["scopeSpans"]
        for span in scope_spans["spans"]
    ]


@pytest.mark.parametrize("workers", ["1", "2"])
@pytest.mark.parametrize("bad_value", [DEEP_TEXT, LONG_INTEGER], ids=["deep", "long-integer"])
def test_undecodable_codemachine_record_skipped(
    tmp_path: Path, receiver: OTLPReceiver, workers: str, bad_value: str
) -> None:
    """In a file as CodeMachine writes it, one undecodable record is skipped and the records after it are sent."""
    document = json.loads(SESSION_B_SPANS.read_text(encoding="utf-8"))
    span_count = len(document["spans"])
    document["spans"][3]["attributes"]["bad"] = "BAD-VALUE"
    path = tmp_path / "spans.json"
    path.write_text(json.dumps(document, indent=2).replace('"BAD-VALUE"', bad_value), encoding="utf-8")

    result = run_cli("replay", path, "--endpoint", receiver.url, "--workers", workers, "--json")

    traces = json.loads(result.stdout)["signals"]["traces"]
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert result.exit_code == 1
    assert traces["sent"] == span_count - 1
    assert traces["skipped_by_reason"] == {"invalid": 1}
    assert len(receiver.received.spans()) == span_count - 1
    assert len(errors) == 1
    assert f"{path}: record 3" in errors[0]
    assert "not valid JSON" in errors[0]


HUGE_INTEGER = 10**400  # beyond the largest double, about 1.8e308


@pytest.mark.parametrize(
    "metric",
    [
        {"name": "gauge", "gauge": {"dataPoints": [{"timeUnixNano": "1796413207123456790", "asDouble": HUGE_INTEGER}]}},
        {"name": "histogram", "histogram": {"dataPoints": [{"timeUnixNano": "1", "count": "1", "sum": HUGE_INTEGER}]}},
    ],
    ids=["gauge-asDouble", "histogram-sum"],
)
def test_double_beyond_float_range_skipped(tmp_path: Path, metric: dict[str, Any]) -> None:
    """An integer too large for a double in a double field makes its metric invalid, not an OverflowError."""
    request = {"resourceMetrics": [{"resource": {}, "scopeMetrics": [{"scope": {}, "metrics": [metric]}]}]}
    path = tmp_path / "metrics.jsonl"
    path.write_text(json.dumps(request) + "\n", encoding="utf-8")

    items = read_all(path, "otlp-json")

    skipped = [item for item in items if isinstance(item, Skipped)]
    assert len(skipped) == 1
    assert skipped[0].reason == "invalid"


def test_metric_without_points_too_deep_counts_one(tmp_path: Path) -> None:
    """A metric without data points whose resource nests too deeply is skipped as one invalid record."""
    deep: Any = 1
    for _ in range(MAX_VALUE_DEPTH + 1):
        deep = [deep]
    export = {
        "resource": {"service.name": deep},
        "scopeMetrics": [{"scope": {"name": "s"}, "metrics": [{"name": "queue.size", "type": "2", "dataPoints": []}]}],
    }
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps({"version": 1, "service": "svc", "type": "metrics", "metrics": [export]}))

    skipped = [item for item in by_name("codemachine").read(path) if isinstance(item, Skipped)]

    assert [item.count for item in skipped] == [1]
    assert "nested deeper than 30 levels" in skipped[0].message
