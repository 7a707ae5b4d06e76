"""How replay handles receiver responses: batches too large (413) and partial success."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsPartialSuccess,
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from tests.conftest import SESSION_B_LOGS, SESSION_B_SPANS, run_cli

MAX_SPANS_PER_REQUEST = 10
REJECTED_LOGS_PER_REQUEST = 2


class _StrictReceiver(BaseHTTPRequestHandler):
    """Returns 413 for trace requests of more than 10 spans and rejects 2 log records per request."""

    accepted_span_ids: ClassVar[list[bytes]] = []
    trace_request_sizes: ClassVar[list[int]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.path == "/v1/traces":
            self._traces(body)
        else:
            self._logs(body)

    def _traces(self, body: bytes) -> None:
        request = ExportTraceServiceRequest.FromString(body)
        spans = [span for rs in request.resource_spans for ss in rs.scope_spans for span in ss.spans]
        self.trace_request_sizes.append(len(spans))
        if len(spans) > MAX_SPANS_PER_REQUEST:
            self._reply(413, b"")
            return
        self.accepted_span_ids.extend(span.span_id for span in spans)
        self._reply(200, ExportTraceServiceResponse().SerializeToString())

    def _logs(self, body: bytes) -> None:
        ExportLogsServiceRequest.FromString(body)
        partial = ExportLogsPartialSuccess(rejected_log_records=REJECTED_LOGS_PER_REQUEST, error_message="too old")
        self._reply(200, ExportLogsServiceResponse(partial_success=partial).SerializeToString())

    def _reply(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Keep the test output quiet."""


@pytest.fixture
def strict_receiver() -> Iterator[str]:
    """A stub OTLP receiver on 127.0.0.1 that returns 413 and partial success."""
    _StrictReceiver.accepted_span_ids = []
    _StrictReceiver.trace_request_sizes = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _StrictReceiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def test_too_large_batch_is_split(strict_receiver: str) -> None:
    """A batch answered with 413 is sent again in halves until the receiver accepts it."""
    result = run_cli("replay", SESSION_B_SPANS, "--endpoint", strict_receiver, "--json", "--timeout", "2")

    summary = json.loads(result.stdout)
    assert result.exit_code == 0, result.stderr
    assert summary["signals"]["traces"]["sent"] == 51
    assert len(_StrictReceiver.accepted_span_ids) == 51
    assert len(set(_StrictReceiver.accepted_span_ids)) == 51
    assert _StrictReceiver.trace_request_sizes[0] == 51
    assert "too large (HTTP 413)" in result.stderr


def test_partial_success_counts_rejected_records(strict_receiver: str) -> None:
    """Log records a receiver rejects inside an accepted request count as failed, and the run fails."""
    result = run_cli(
        "replay", SESSION_B_LOGS, "--endpoint", strict_receiver, "--json", "--batch-size", "30", "--timeout", "2"
    )

    summary = json.loads(result.stdout)
    requests = 3  # 89 records in batches of 30
    assert result.exit_code == 1
    assert summary["signals"]["logs"]["failed"] == requests * REJECTED_LOGS_PER_REQUEST
    assert summary["signals"]["logs"]["sent"] == 89 - requests * REJECTED_LOGS_PER_REQUEST
    assert "rejected 2 of 30 log records in a batch: too old" in result.stderr
