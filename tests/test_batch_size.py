"""Batching by encoded size: --max-batch-bytes splits requests, and a record larger than it is skipped and named."""

from __future__ import annotations

import json
from pathlib import Path

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from otel_replay.receiver import OTLPReceiver
from tests.conftest import SESSION_B_SPANS, run_cli
from tests.faults import Received, Reply, replies, serving
from tests.test_export_failures import SPAN_COUNT, count_spans

TRACE_ID = "5b8efff798038103d269b633813fc60c"
BIG_SPAN_ID = "00000000000000bb"
BASE_NANO = 1_796_413_207_753_123_456


def otlp_spans_file(path: Path, big_value_bytes: int) -> Path:
    """Write an OTLP/JSON file of three small spans and one with an attribute of `big_value_bytes` bytes."""
    spans = []
    for number, span_id in enumerate(["00000000000000a1", BIG_SPAN_ID, "00000000000000a2", "00000000000000a3"]):
        value = "x" * big_value_bytes if span_id == BIG_SPAN_ID else "small"
        spans.append(
            {
                "traceId": TRACE_ID,
                "spanId": span_id,
                "name": f"span {number}",
                "startTimeUnixNano": str(BASE_NANO + number),
                "endTimeUnixNano": str(BASE_NANO + number + 1000),
                "attributes": [{"key": "payload", "value": {"stringValue": value}}],
            }
        )
    document = {"resourceSpans": [{"resource": {}, "scopeSpans": [{"scope": {}, "spans": spans}]}]}
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def test_requests_stay_under_limit(receiver: OTLPReceiver) -> None:
    """With --max-batch-bytes, every request is at most that large and every span still arrives once."""
    limit = 16384  # the largest span of the file encodes to about 12 KB
    result = run_cli("replay", SESSION_B_SPANS, "--endpoint", receiver.url, "--max-batch-bytes", str(limit), "--json")

    sizes = [request.ByteSize() for request in receiver.received.traces]
    span_ids = [span.span_id for _, _, span in receiver.received.spans()]
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["signals"]["traces"]["sent"] == SPAN_COUNT
    assert len(sizes) > 1
    assert max(sizes) <= limit
    assert len(span_ids) == SPAN_COUNT
    assert len(set(span_ids)) == SPAN_COUNT


def test_default_limit_sends_one_request(receiver: OTLPReceiver) -> None:
    """Under the default limit of 3 MiB, a batch goes out as one request."""
    result = run_cli("replay", SESSION_B_SPANS, "--endpoint", receiver.url)

    assert result.exit_code == 0
    assert len(receiver.received.traces) == 1


def test_oversized_record_skipped(receiver: OTLPReceiver, tmp_path: Path) -> None:
    """A span larger than the limit is skipped with a reason, the others are sent, and the run exits 1."""
    source = otlp_spans_file(tmp_path / "spans.json", big_value_bytes=10_000)

    result = run_cli("replay", source, "--endpoint", receiver.url, "--max-batch-bytes", "4096", "--json")

    traces = json.loads(result.stdout)["signals"]["traces"]
    received = sorted(span.span_id.hex() for _, _, span in receiver.received.spans())
    assert result.exit_code == 1
    assert traces["sent"] == 3
    assert traces["skipped_by_reason"] == {"larger than --max-batch-bytes": 1}
    assert received == ["00000000000000a1", "00000000000000a2", "00000000000000a3"]


def test_oversized_record_named(receiver: OTLPReceiver, tmp_path: Path) -> None:
    """The error names the file, the record, the trace and span IDs and the encoded size, and the summary counts it."""
    source = otlp_spans_file(tmp_path / "spans.json", big_value_bytes=10_000)

    result = run_cli("replay", source, "--endpoint", receiver.url, "--max-batch-bytes", "4096")

    warnings = [line for line in result.stderr.splitlines() if "exceeds --max-batch-bytes" in line]
    assert len(warnings) == 1
    assert str(source) in warnings[0]
    assert f"span with trace ID {TRACE_ID} and span ID {BIG_SPAN_ID}" in warnings[0]
    assert "exceeds --max-batch-bytes 4096" in warnings[0]
    assert "request of 100" in warnings[0]  # about 10,100 bytes with the span's other fields
    assert warnings[0].startswith("Error: ")
    assert "\n1 error(s), " in result.stderr


def test_413_splits_until_accepted(tmp_path: Path) -> None:
    """A receiver that accepts one span per request gets halves of halves until each span is alone."""

    def one_span_per_request(request: Received, _earlier: int) -> Reply:
        return Reply(413 if count_spans(request.body) > 1 else 200)

    source = otlp_spans_file(tmp_path / "spans.json", big_value_bytes=10)
    with serving(one_span_per_request) as server:
        result = run_cli("replay", source, "--endpoint", server.url, "--json")

    sizes = [count_spans(request.body) for request in server.requests]
    accepted = [request.body for request in server.requests if count_spans(request.body) == 1]
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["signals"]["traces"]["sent"] == 4
    assert sizes == [4, 2, 1, 1, 2, 1, 1]
    assert len(set(accepted)) == 4


def test_413_for_single_record_fails() -> None:
    """A receiver that rejects every request with 413 fails the spans that cannot be split further."""
    with serving(replies(Reply(413))) as server:
        result = run_cli("replay", SESSION_B_SPANS, "--endpoint", server.url, "--batch-size", "2", "--json")

    traces = json.loads(result.stdout)["signals"]["traces"]
    single_requests = [request for request in server.requests if count_spans(request.body) == 1]
    assert result.exit_code == 1
    assert traces["failed"] == SPAN_COUNT
    assert len(single_requests) == SPAN_COUNT
    assert "rejects even a single record as too large: span with trace ID" in result.stderr


def test_split_request_is_complete(receiver: OTLPReceiver) -> None:
    """Split requests carry the same encoded spans as one unsplit request."""
    with OTLPReceiver() as whole:
        run_cli("replay", SESSION_B_SPANS, "--endpoint", whole.url)
    run_cli("replay", SESSION_B_SPANS, "--endpoint", receiver.url, "--max-batch-bytes", "16384")

    def spans(target: OTLPReceiver) -> list[bytes]:
        return sorted(span.SerializeToString() for _, _, span in target.received.spans())

    assert len(receiver.received.traces) > 1
    assert spans(receiver) == spans(whole)
    assert isinstance(receiver.received.traces[0], ExportTraceServiceRequest)


def test_413_above_size_limit() -> None:
    """A receiver that rejects bodies above 16000 bytes with 413 gets every span, in requests below that."""
    limit = 16000  # the largest span of the file encodes to about 12 KB

    def reject_large(request: Received, _earlier: int) -> Reply:
        return Reply(413 if len(request.body) > limit else 200)

    with serving(reject_large) as server:
        result = run_cli("replay", SESSION_B_SPANS, "--endpoint", server.url, "--json")

    traces = json.loads(result.stdout)["signals"]["traces"]
    accepted = [request.body for request in server.requests if len(request.body) <= limit]
    rejected = [request for request in server.requests if len(request.body) > limit]
    assert result.exit_code == 0, result.stderr
    assert traces["sent"] == SPAN_COUNT
    assert traces["failed"] == 0
    assert sum(count_spans(body) for body in accepted) == SPAN_COUNT
    assert len(rejected) >= 1
    assert len(server.requests) == len(accepted) + len(rejected)
