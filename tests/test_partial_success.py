"""Partial success in protobuf and JSON responses: rejected records fail the run, a warning alone does not."""

from __future__ import annotations

import json

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsPartialSuccess, ExportLogsServiceResponse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceResponse,
)

from otel_replay.delivery import PartialSuccess, parse_partial_success
from otel_replay.model import Signal
from tests.conftest import SESSION_B_LOGS, SESSION_B_SPANS, run_cli
from tests.faults import Reply, replies, serving
from tests.test_export_failures import LOG_COUNT, SPAN_COUNT, count_logs

PROTOBUF = "application/x-protobuf"
JSON = "application/json"


def protobuf_traces(rejected: int, message: str) -> bytes:
    partial = ExportTracePartialSuccess(rejected_spans=rejected, error_message=message)
    return bytes(ExportTraceServiceResponse(partial_success=partial).SerializeToString())


@pytest.mark.parametrize(
    ("signal", "content_type", "body", "expected"),
    [
        pytest.param(Signal.TRACES, PROTOBUF, b"", PartialSuccess(), id="empty"),
        pytest.param(Signal.TRACES, PROTOBUF, protobuf_traces(3, "too old"), PartialSuccess(3, "too old"), id="proto"),
        pytest.param(
            Signal.TRACES, PROTOBUF, protobuf_traces(0, "slow down"), PartialSuccess(0, "slow down"), id="proto-warning"
        ),
        pytest.param(
            Signal.LOGS,
            JSON,
            b'{"partialSuccess": {"rejectedLogRecords": "4", "errorMessage": "bad body"}}',
            PartialSuccess(4, "bad body"),
            id="json-camel-string",
        ),
        pytest.param(
            Signal.METRICS,
            "application/json; charset=utf-8",
            b'{"partial_success": {"rejected_data_points": 5, "error_message": "dup"}}',
            PartialSuccess(5, "dup"),
            id="json-snake-number",
        ),
        pytest.param(
            Signal.TRACES,
            JSON,
            b'{"partialSuccess": {"errorMessage": "hint"}}',
            PartialSuccess(0, "hint"),
            id="json-warning",
        ),
        pytest.param(Signal.TRACES, JSON, b"{}", PartialSuccess(), id="json-empty-object"),
        pytest.param(Signal.TRACES, JSON, b'{"partialSuccess": {}}', PartialSuccess(), id="json-empty-partial"),
    ],
)
def test_parse_partial_success(signal: Signal, content_type: str, body: bytes, expected: PartialSuccess) -> None:
    """Counts and messages are read from protobuf and from JSON in either key spelling."""
    assert parse_partial_success(signal, content_type, body) == expected


@pytest.mark.parametrize(
    ("content_type", "body", "problem"),
    [
        pytest.param(JSON, b"{not json", "not valid JSON", id="invalid-json"),
        pytest.param(JSON, b'{"partialSuccess": {"rejectedSpans": "many"}}', "not an integer", id="bad-count"),
        pytest.param(PROTOBUF, b"\xff\xff\xff", "not a protobuf", id="invalid-protobuf"),
    ],
)
def test_unreadable_partial_success(content_type: str, body: bytes, problem: str) -> None:
    """A body that cannot be read reports the problem and counts nothing as rejected."""
    result = parse_partial_success(Signal.TRACES, content_type, body)

    assert result.rejected == 0
    assert len(result.problems) == 1
    assert problem in result.problems[0]


def json_logs_reply(rejected: int, message: str) -> Reply:
    body = {"partialSuccess": {"rejectedLogRecords": str(rejected), "errorMessage": message}}
    return Reply(200, {"Content-Type": JSON}, json.dumps(body).encode())


def test_json_rejected_fails_run() -> None:
    """Log records rejected in a JSON response count as rejected and failed, and the run exits 1."""
    with serving(replies(json_logs_reply(2, "timestamp too old"))) as server:
        result = run_cli("replay", SESSION_B_LOGS, "--endpoint", server.url, "--batch-size", "30", "--json")

    logs = json.loads(result.stdout)["signals"]["logs"]
    batches = len(server.requests_to("/v1/logs"))
    assert batches == 3
    assert result.exit_code == 1
    assert logs["rejected"] == 2 * batches
    assert logs["failed"] == 2 * batches
    assert logs["failed_by_reason"] == {"rejected by the receiver": 2 * batches}
    assert logs["sent"] == LOG_COUNT - 2 * batches
    assert sum(count_logs(request.body) for request in server.requests) == LOG_COUNT


def test_rejected_message_in_summary() -> None:
    """The receiver's message is in the --json export errors and on stderr."""
    with serving(replies(json_logs_reply(2, "timestamp too old"))) as server:
        result = run_cli("replay", SESSION_B_LOGS, "--endpoint", server.url, "--json")

    errors = json.loads(result.stdout)["export_errors"]
    assert errors == [f"the receiver rejected 2 of {LOG_COUNT} log records in a batch: timestamp too old"]
    assert f"Error: The receiver rejected 2 of {LOG_COUNT} log records in a batch: timestamp too old" in result.stderr


def test_rejected_in_table() -> None:
    """The summary table lists rejected records beside the failed count."""
    with serving(replies(json_logs_reply(2, "timestamp too old"))) as server:
        result = run_cli("replay", SESSION_B_LOGS, "--endpoint", server.url)

    row = next(line for line in result.stderr.splitlines() if line.startswith("logs "))
    assert row.split()[:6] == ["logs", "1", str(LOG_COUNT), str(LOG_COUNT - 2), "0", "2"]
    assert "2 rejected by the receiver" in row


def test_warning_only_partial_success_succeeds() -> None:
    """A partial success that rejects nothing is a success, with its message shown as a warning."""
    body = protobuf_traces(0, "sampling rate will change")
    with serving(replies(Reply(200, {"Content-Type": PROTOBUF}, body))) as server:
        result = run_cli("replay", SESSION_B_SPANS, "--endpoint", server.url, "--json")

    summary = json.loads(result.stdout)
    traces = summary["signals"]["traces"]
    assert result.exit_code == 0
    assert traces["sent"] == SPAN_COUNT
    assert traces["rejected"] == 0
    assert summary["export_warnings"] == [
        f"the receiver accepted a batch of {SPAN_COUNT} spans with a warning: sampling rate will change"
    ]
    assert "Warning: The receiver accepted a batch" in result.stderr


def test_protobuf_logs_rejected() -> None:
    """A protobuf partial success for logs counts its rejected records."""
    partial = ExportLogsPartialSuccess(rejected_log_records=7, error_message="quota")
    body = ExportLogsServiceResponse(partial_success=partial).SerializeToString()
    with serving(replies(Reply(200, {"Content-Type": PROTOBUF}, body))) as server:
        result = run_cli("replay", SESSION_B_LOGS, "--endpoint", server.url, "--json")

    logs = json.loads(result.stdout)["signals"]["logs"]
    assert len(server.requests) == 1
    assert result.exit_code == 1
    assert logs["rejected"] == 7
    assert logs["sent"] == LOG_COUNT - 7
