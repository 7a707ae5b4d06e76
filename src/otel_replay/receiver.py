"""A small OTLP/HTTP receiver on the loopback interface that keeps what arrives.

`otel-replay demo` replays into it to show what a backend would receive, and the test
suite uses it to decode the exact protobuf requests the exporters sent.
"""

from __future__ import annotations

import gzip
import ssl
import threading
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Final

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

__all__ = ["OTLPReceiver", "Received"]

_ROUTES: Final[dict[str, tuple[Any, Any]]] = {
    "/v1/traces": (ExportTraceServiceRequest, ExportTraceServiceResponse),
    "/v1/logs": (ExportLogsServiceRequest, ExportLogsServiceResponse),
    "/v1/metrics": (ExportMetricsServiceRequest, ExportMetricsServiceResponse),
}
_MAX_BODY: Final = 256 * 1024 * 1024  # bytes; far above the exporters' 64 MiB request limit


@dataclass(slots=True)
class Received:
    """Everything the receiver has accepted, as decoded protobuf requests in arrival order."""

    traces: list[Any] = field(default_factory=list)
    logs: list[Any] = field(default_factory=list)
    metrics: list[Any] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    content_encodings: list[str] = field(default_factory=list)

    def spans(self) -> list[tuple[Any, Any, Any]]:
        """Return every received span as (resource, scope, span) protobuf messages."""
        return [
            (resource_spans.resource, scope_spans.scope, span)
            for request in self.traces
            for resource_spans in request.resource_spans
            for scope_spans in resource_spans.scope_spans
            for span in scope_spans.spans
        ]

    def metrics_received(self) -> list[tuple[Any, Any, Any]]:
        """Return every received metric as (resource, scope, metric) protobuf messages."""
        return [
            (resource_metrics.resource, scope_metrics.scope, metric)
            for request in self.metrics
            for resource_metrics in request.resource_metrics
            for scope_metrics in resource_metrics.scope_metrics
            for metric in scope_metrics.metrics
        ]

    def log_records(self) -> list[tuple[Any, Any, Any]]:
        """Return every received log record as (resource, scope, log record) protobuf messages."""
        return [
            (resource_logs.resource, scope_logs.scope, record)
            for request in self.logs
            for resource_logs in request.resource_logs
            for scope_logs in resource_logs.scope_logs
            for record in scope_logs.log_records
        ]


class OTLPReceiver:
    """An OTLP/HTTP (protobuf) receiver on 127.0.0.1, run in a background thread.

    Use it as a context manager; port 0 picks a free port, and `url` gives the base URL.
    With `tls` (an SSL context holding a certificate for 127.0.0.1) it serves https.
    """

    def __init__(self, port: int = 0, tls: ssl.SSLContext | None = None) -> None:
        self.received = Received()
        self._lock = threading.Lock()
        self._scheme = "https" if tls is not None else "http"
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self._server.daemon_threads = True
        self._server.receiver = self  # type: ignore[attr-defined]  # read back by _Handler
        self._thread = threading.Thread(target=self._server.serve_forever, name="otlp-receiver", daemon=True)

    @property
    def url(self) -> str:
        """The base URL, such as http://127.0.0.1:43171, without a signal path."""
        host, port = self._server.server_address[:2]
        return f"{self._scheme}://{host!s}:{port}"

    def start(self) -> OTLPReceiver:
        """Start serving in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def __enter__(self) -> OTLPReceiver:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def accept(self, path: str, request: Any, headers: dict[str, str], encoding: str) -> None:
        """Store a decoded request; called by the request handler threads."""
        with self._lock:
            target = {"/v1/traces": self.received.traces, "/v1/logs": self.received.logs}.get(
                path, self.received.metrics
            )
            target.append(request)
            self.received.headers.append(headers)
            self.received.content_encodings.append(encoding)


class _Handler(BaseHTTPRequestHandler):
    server_version = "otel-replay-receiver"
    protocol_version = "HTTP/1.1"
    routes: ClassVar = _ROUTES

    def do_POST(self) -> None:
        route = self.routes.get(self.path)
        if route is None:
            self._reply(404, b"unknown path; expected /v1/traces, /v1/logs or /v1/metrics", "text/plain")
            return

        length = int(self.headers.get("Content-Length") or 0)
        if length > _MAX_BODY:
            self._reply(413, b"request body too large", "text/plain")
            return
        body = self.rfile.read(length)
        encoding = (self.headers.get("Content-Encoding") or "").lower()

        try:
            request = route[0].FromString(_decompress(body, encoding))
        except (DecodeError, OSError, zlib.error, ValueError) as error:
            self._reply(400, f"cannot decode the request: {error}".encode(), "text/plain")
            return

        receiver: OTLPReceiver = self.server.receiver  # type: ignore[attr-defined]  # set in OTLPReceiver
        receiver.accept(self.path, request, dict(self.headers.items()), encoding)
        self._reply(200, route[1]().SerializeToString(), "application/x-protobuf")

    def log_message(self, format: str, *args: object) -> None:
        """Keep request lines off stderr; the demo and tests report what arrived themselves."""

    def _reply(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _decompress(body: bytes, encoding: str) -> bytes:
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "deflate":
        return zlib.decompress(body)
    if encoding in ("", "identity"):
        return body
    msg = f"unsupported Content-Encoding {encoding!r}"
    raise ValueError(msg)
