"""OTLP protobuf files: replay length-prefixed requests made by the OpenTelemetry SDK and compare what arrives."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
import zstandard
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from otel_replay import formats
from otel_replay.errors import InputError, NotTelemetryError
from otel_replay.formats import otlp_proto
from otel_replay.model import LogData, MetricData, Notice, SpanData
from otel_replay.receiver import OTLPReceiver
from tests.conftest import run_cli
from tests.test_otlp_json import (
    BASE_NANO,
    Telemetry,
    assert_logs_arrived,
    assert_spans_arrived,
    make_log_requests,
    make_metric_request,
    make_trace_requests,
    walk_logs,
    walk_metrics,
    walk_spans,
)


@pytest.fixture(scope="module")
def sdk_telemetry() -> Telemetry:
    """Spans and log records made by the SDK, encoded by the SDK's OTLP encoder."""
    return Telemetry(traces=make_trace_requests(), logs=make_log_requests())


def frame(*requests: Any) -> bytes:
    """Return requests as the Collector's file exporter writes them with format: proto."""
    return b"".join(
        len(body).to_bytes(4, "big") + body for body in (request.SerializeToString() for request in requests)
    )


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    """Write bytes to a file in tmp_path and return its path."""
    path = tmp_path / name
    path.write_bytes(data)
    return path


def replay(receiver: OTLPReceiver, path: Path) -> Any:
    """Replay one file through the CLI into the receiver."""
    return run_cli("replay", path, "--endpoint", receiver.url, "--json")


# --- end to end ------------------------------------------------------------------------


COMPRESSIONS = {
    "plain": lambda data: data,
    "gzip": gzip.compress,
    "zstd": lambda data: zstandard.ZstdCompressor().compress(data),
}


@pytest.mark.parametrize("compression", COMPRESSIONS)
def test_spans_arrive_identical(
    tmp_path: Path, receiver: OTLPReceiver, sdk_telemetry: Telemetry, compression: str
) -> None:
    """Every span of a protobuf file arrives with every field as the SDK encoded it."""
    path = write(tmp_path, "traces.binpb", COMPRESSIONS[compression](frame(*sdk_telemetry.traces)))

    result = replay(receiver, path)

    assert result.exit_code == 0, result.stderr
    assert_spans_arrived(receiver, sdk_telemetry.traces)


@pytest.mark.parametrize("compression", COMPRESSIONS)
def test_logs_arrive_identical(
    tmp_path: Path, receiver: OTLPReceiver, sdk_telemetry: Telemetry, compression: str
) -> None:
    """Every log record of a protobuf file arrives with every field as the SDK encoded it."""
    path = write(tmp_path, "logs.binpb", COMPRESSIONS[compression](frame(*sdk_telemetry.logs)))

    result = replay(receiver, path)

    assert result.exit_code == 0, result.stderr
    assert_logs_arrived(receiver, sdk_telemetry.logs)


def test_metrics_arrive(tmp_path: Path, receiver: OTLPReceiver) -> None:
    """Every metric of a protobuf file arrives with its data points."""
    request = make_metric_request()
    path = write(tmp_path, "metrics.binpb", frame(request))

    result = replay(receiver, path)

    assert result.exit_code == 0, result.stderr
    received = {metric.name: metric for _, _, metric in walk_metrics(receiver.received.metrics)}
    for _, _, original in walk_metrics([request]):
        data_type = original.WhichOneof("data")
        assert getattr(received[original.name], data_type) == getattr(original, data_type), original.name


def test_mixed_signals_in_one_file(tmp_path: Path, receiver: OTLPReceiver, sdk_telemetry: Telemetry) -> None:
    """Trace and log requests in one file are each recognised and sent to their endpoint."""
    path = write(
        tmp_path, "mixed.binpb", frame(sdk_telemetry.logs[0], sdk_telemetry.traces[0], sdk_telemetry.traces[1])
    )

    result = replay(receiver, path)

    assert result.exit_code == 0, result.stderr
    assert_spans_arrived(receiver, sdk_telemetry.traces)
    assert_logs_arrived(receiver, sdk_telemetry.logs)


# --- choosing the signal ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("signal", "record_type"),
    [("traces", SpanData), ("logs", LogData), ("metrics", MetricData)],
)
def test_signal_chosen_from_content(tmp_path: Path, sdk_telemetry: Telemetry, signal: str, record_type: type) -> None:
    """A message decodes as the request type whose records it carries, with no notice."""
    requests = {"traces": sdk_telemetry.traces, "logs": sdk_telemetry.logs, "metrics": [make_metric_request()]}[signal]
    path = write(tmp_path, "one.binpb", frame(*requests))

    items = list(otlp_proto.read(path))

    assert {type(item) for item in items} == {record_type}


def test_record_counts_match_input(tmp_path: Path, sdk_telemetry: Telemetry) -> None:
    """Every span and log record of the file is read once, numbered in file order."""
    path = write(tmp_path, "all.binpb", frame(*sdk_telemetry.traces, *sdk_telemetry.logs))

    items = list(otlp_proto.read(path))

    spans = len(list(walk_spans(sdk_telemetry.traces)))
    logs = len(list(walk_logs(sdk_telemetry.logs)))
    assert sum(isinstance(item, SpanData) for item in items) == spans
    assert sum(isinstance(item, LogData) for item in items) == logs
    assert [item.location.index for item in items] == list(range(spans + logs))


def test_unknown_field_noticed(tmp_path: Path) -> None:
    """A span with a field this OTLP version does not define is read, with a notice about the ignored bytes."""
    request = ExportTraceServiceRequest()
    span = (
        request.resource_spans.add()
        .scope_spans.add()
        .spans.add(trace_id=b"\x01" * 16, span_id=b"\x02" * 8, name="from the future", start_time_unix_nano=BASE_NANO)
    )
    span.MergeFromString(b"\xa8\x06\x01")  # field 101, varint 1
    path = write(tmp_path, "future.binpb", frame(request))

    items = list(otlp_proto.read(path))

    assert isinstance(items[0], Notice)
    assert "3 bytes of fields" in items[0].message
    assert isinstance(items[1], SpanData)
    assert items[1].name == "from the future"


def test_empty_request_yields_nothing(tmp_path: Path) -> None:
    """A message of zero bytes, an empty request, yields no records and no error."""
    path = write(tmp_path, "empty.binpb", b"\x00\x00\x00\x00" + frame(_one_log_request()))

    items = list(otlp_proto.read(path))

    assert [type(item) for item in items] == [LogData]


def _one_log_request() -> Any:
    request = ExportLogsServiceRequest()
    record = request.resource_logs.add().scope_logs.add().log_records.add(time_unix_nano=BASE_NANO)
    record.body.string_value = "hello"
    return request


# --- damaged files ---------------------------------------------------------------------


def test_truncated_message_sends_earlier(tmp_path: Path, receiver: OTLPReceiver, sdk_telemetry: Telemetry) -> None:
    """A file cut inside its last message sends the complete messages before it."""
    data = frame(*sdk_telemetry.traces)
    path = write(tmp_path, "cut.binpb", data[:-10])

    result = replay(receiver, path)

    first_request_spans = {span.span_id for _, _, span in walk_spans(sdk_telemetry.traces[:1])}
    assert {span.span_id for _, _, span in receiver.received.spans()} == first_request_spans
    assert result.exit_code == 1


def test_truncated_message_error(tmp_path: Path, sdk_telemetry: Telemetry) -> None:
    """The error for a cut message names the message, the bytes present and the messages read."""
    data = frame(*sdk_telemetry.traces)
    path = write(tmp_path, "cut.binpb", data[:-10])
    length = len(sdk_telemetry.traces[1].SerializeToString())

    with pytest.raises(InputError) as raised:
        list(otlp_proto.read(path))

    assert f"after {length - 10} of the {length} bytes of message 2" in raised.value.message
    assert "the 1 complete message(s) before it were read" in raised.value.message


def test_truncated_prefix_error(tmp_path: Path, sdk_telemetry: Telemetry) -> None:
    """A file that ends inside a length prefix reports it after reading the messages before it."""
    path = write(tmp_path, "cut.binpb", frame(sdk_telemetry.logs[0]) + b"\x00\x00")
    items = otlp_proto.read(path)

    records = [next(items) for _ in walk_logs(sdk_telemetry.logs)]

    assert all(isinstance(record, LogData) for record in records)
    with pytest.raises(InputError, match="inside the 4-byte length prefix of message 2"):
        next(items)


def test_undecodable_message_error(tmp_path: Path) -> None:
    """A second message that is no export request stops the file with an error naming its offset."""
    first = frame(_one_log_request())
    path = write(tmp_path, "bad.binpb", first + b"\x00\x00\x00\x03\xff\xff\xff")

    items = otlp_proto.read(path)

    assert isinstance(next(items), LogData)
    with pytest.raises(InputError, match=f"message 2 \\(at byte offset {len(first)}, 3 bytes\\) does not decode"):
        next(items)


def test_forced_format_on_json(tmp_path: Path) -> None:
    """Reading a JSON file as otlp-proto raises NotTelemetryError, since no message is complete."""
    path = write(tmp_path, "requests.jsonl", b'{"resourceSpans": []}\n')

    with pytest.raises(NotTelemetryError, match="not an OTLP protobuf file"):
        list(otlp_proto.read(path))


def test_forced_format_cli_error(tmp_path: Path, receiver: OTLPReceiver) -> None:
    """--format otlp-proto on a JSON file named on the command line fails with exit status 1."""
    path = write(tmp_path, "requests.jsonl", b'{"resourceSpans": []}\n')

    result = run_cli("replay", path, "--endpoint", receiver.url, "--format", "otlp-proto", "--json")

    assert result.exit_code == 1
    assert "not an OTLP protobuf file" in result.stderr
    assert json.loads(result.stdout)["exit_status"] == 1


# --- detection -------------------------------------------------------------------------


def test_detect_collector_file(tmp_path: Path, sdk_telemetry: Telemetry) -> None:
    """A protobuf file is detected as otlp-proto by the CLI's detection."""
    path = write(tmp_path, "traces.binpb", gzip.compress(frame(*sdk_telemetry.traces)))

    detected = formats.detect(path)

    assert detected is not None
    assert detected.name == "otlp-proto"


@pytest.mark.parametrize("signal", ["traces", "logs", "metrics"])
def test_sniff_accepts_each_signal(sdk_telemetry: Telemetry, signal: str) -> None:
    """Detection recognises a first message of each signal."""
    requests = {"traces": sdk_telemetry.traces, "logs": sdk_telemetry.logs, "metrics": [make_metric_request()]}[signal]

    assert otlp_proto.sniff(frame(*requests)[: formats.SNIFF_SIZE])


def test_sniff_accepts_long_first_message() -> None:
    """Detection recognises a first message longer than the bytes it looks at, from its first fields."""
    request = ExportTraceServiceRequest()
    spans = request.resource_spans.add().scope_spans.add().spans
    for number in range(200):
        spans.add(trace_id=b"\x01" * 16, span_id=(number + 1).to_bytes(8, "big"), name="x" * 40)
    data = frame(request)

    assert len(data) > formats.SNIFF_SIZE
    assert otlp_proto.sniff(data[: formats.SNIFF_SIZE])


@pytest.mark.parametrize(
    "head",
    [
        b"",
        b"\x00\x00\x00",
        b"\x00\x00\x00\x00",
        b'{"resourceSpans": []}',
        b"\t\tplain text that starts with tabs",
        b"\x00\x00\x00\x05\xff\xff\xff\xff\xff",
        b"\x00\x00\x00\x02\x0a\x00",
        b"\x00\x00\x40\x00\x12\x00",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    ],
    ids=["empty", "short", "zero-length", "json", "text", "garbage", "empty-group", "wrong-first-tag", "png"],
)
def test_sniff_rejects_other_content(head: bytes) -> None:
    """Detection does not claim JSON, text, other binary files or content-free messages."""
    assert not otlp_proto.sniff(head)
