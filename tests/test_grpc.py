"""--protocol grpc against a real grpcio server on 127.0.0.1 that implements the OTLP collector services."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest
import trustme
from google.protobuf.duration_pb2 import Duration
from google.rpc.error_details_pb2 import RetryInfo
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

from otel_replay.delivery import RetryPolicy
from otel_replay.grpc_export import GrpcSender
from otel_replay.model import Signal
from otel_replay.rebuild import grpc_exporter
from otel_replay.receiver import OTLPReceiver
from tests.conftest import CODEMACHINE, SESSION_B_LOGS, SESSION_B_SPANS, run_cli
from tests.test_delivery import Clock
from tests.test_export_failures import LOG_COUNT, SPAN_COUNT

SESSION_B_METRICS = CODEMACHINE / "traces" / "2026-12-04" / "19-40-07-metrics.json"


@dataclass(frozen=True)
class GrpcReply:
    """One scripted response: OK with an optional partial success, or an error status."""

    code: grpc.StatusCode = grpc.StatusCode.OK
    details: str = ""
    retry_delay: float | None = None
    """Seconds of a google.rpc.RetryInfo sent in the trailers."""
    rejected: int = 0
    message: str = ""
    hold: threading.Event | None = None


GrpcScript = Callable[[Signal, Any, int], GrpcReply]
"""Returns the reply to an export request, given its signal, the request and the number of earlier ones."""


def always(reply: GrpcReply) -> GrpcScript:
    return lambda _signal, _request, _earlier: reply


def sequence(*replies: GrpcReply) -> GrpcScript:
    return lambda _signal, _request, earlier: replies[min(earlier, len(replies) - 1)]


_RESPONSES = {
    Signal.TRACES: (
        trace_service_pb2.ExportTraceServiceResponse,
        trace_service_pb2.ExportTracePartialSuccess,
        "rejected_spans",
    ),
    Signal.LOGS: (
        logs_service_pb2.ExportLogsServiceResponse,
        logs_service_pb2.ExportLogsPartialSuccess,
        "rejected_log_records",
    ),
    Signal.METRICS: (
        metrics_service_pb2.ExportMetricsServiceResponse,
        metrics_service_pb2.ExportMetricsPartialSuccess,
        "rejected_data_points",
    ),
}


@dataclass
class GrpcCollector:
    """A gRPC server with the trace, logs and metrics collector services, recording every request."""

    script: GrpcScript
    requests: dict[Signal, list[Any]] = field(default_factory=lambda: {signal: [] for signal in Signal})
    metadata: list[dict[str, str]] = field(default_factory=list)
    port: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def export(self, signal: Signal, request: Any, context: grpc.ServicerContext) -> Any:
        with self.lock:
            earlier = len(self.requests[signal])
            self.requests[signal].append(request)
            self.metadata.append(dict(context.invocation_metadata()))
        reply = self.script(signal, request, earlier)
        if reply.hold is not None:
            reply.hold.wait(30)
        if reply.code is not grpc.StatusCode.OK:
            if reply.retry_delay is not None:
                seconds = int(reply.retry_delay)
                delay = Duration(seconds=seconds, nanos=int((reply.retry_delay - seconds) * 1e9))
                context.set_trailing_metadata(
                    (("google.rpc.retryinfo-bin", RetryInfo(retry_delay=delay).SerializeToString()),)
                )
            context.abort(reply.code, reply.details)
        response_class, partial_class, rejected_field = _RESPONSES[signal]
        partial = partial_class(error_message=reply.message, **{rejected_field: reply.rejected})
        return response_class(partial_success=partial)

    def items(self, signal: Signal) -> list[Any]:
        """Return every span, log record or metric received for `signal`."""
        if signal is Signal.TRACES:
            return [
                s for r in self.requests[signal] for rs in r.resource_spans for ss in rs.scope_spans for s in ss.spans
            ]
        if signal is Signal.LOGS:
            return [
                g
                for r in self.requests[signal]
                for rl in r.resource_logs
                for sl in rl.scope_logs
                for g in sl.log_records
            ]
        return [
            m for r in self.requests[signal] for rm in r.resource_metrics for sm in rm.scope_metrics for m in sm.metrics
        ]


class _Traces(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, collector: GrpcCollector) -> None:
        self.collector = collector

    def Export(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802  # the gRPC method name
        return self.collector.export(Signal.TRACES, request, context)


class _Logs(logs_service_pb2_grpc.LogsServiceServicer):
    def __init__(self, collector: GrpcCollector) -> None:
        self.collector = collector

    def Export(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802  # the gRPC method name
        return self.collector.export(Signal.LOGS, request, context)


class _Metrics(metrics_service_pb2_grpc.MetricsServiceServicer):
    def __init__(self, collector: GrpcCollector) -> None:
        self.collector = collector

    def Export(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802  # the gRPC method name
        return self.collector.export(Signal.METRICS, request, context)


@dataclass
class Started:
    collector: GrpcCollector
    url: str


def start_collector(
    script: GrpcScript, credentials: grpc.ServerCredentials | None = None
) -> tuple[grpc.Server, Started]:
    collector = GrpcCollector(script)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(_Traces(collector), server)
    logs_service_pb2_grpc.add_LogsServiceServicer_to_server(_Logs(collector), server)
    metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(_Metrics(collector), server)
    if credentials is None:
        port = server.add_insecure_port("127.0.0.1:0")
        url = f"http://127.0.0.1:{port}"
    else:
        port = server.add_secure_port("127.0.0.1:0", credentials)
        url = f"https://127.0.0.1:{port}"
    server.start()
    return server, Started(collector, url)


@pytest.fixture
def grpc_collector() -> Iterator[Callable[..., Started]]:
    """Start gRPC collectors on demand and stop them after the test."""
    servers: list[grpc.Server] = []

    def start(script: GrpcScript | None = None, credentials: grpc.ServerCredentials | None = None) -> Started:
        server, started = start_collector(script or always(GrpcReply()), credentials)
        servers.append(server)
        return started

    yield start
    for server in servers:
        server.stop(grace=None)


def test_grpc_records_equal_http(grpc_collector: Callable[..., Started], receiver: OTLPReceiver) -> None:
    """Spans, log records and metrics sent over gRPC equal those sent over HTTP, field by field."""
    started = grpc_collector()
    files = [SESSION_B_SPANS, SESSION_B_LOGS, SESSION_B_METRICS]

    over_grpc = run_cli("replay", *files, "--protocol", "grpc", "--endpoint", started.url, "--json")
    run_cli("replay", *files, "--endpoint", receiver.url)

    def serialized(items: list[Any]) -> list[bytes]:
        return sorted(item.SerializeToString() for item in items)

    http_metrics = [metric for _, _, metric in receiver.received.metrics_received()]
    assert over_grpc.exit_code == 0, over_grpc.stderr
    assert len(started.collector.items(Signal.TRACES)) == SPAN_COUNT
    assert serialized(started.collector.items(Signal.TRACES)) == serialized(
        [s for _, _, s in receiver.received.spans()]
    )
    assert len(started.collector.items(Signal.LOGS)) == LOG_COUNT
    assert serialized(started.collector.items(Signal.LOGS)) == serialized(
        [r for _, _, r in receiver.received.log_records()]
    )
    assert serialized(started.collector.items(Signal.METRICS)) == serialized(http_metrics)


def test_grpc_headers_sent_as_metadata(grpc_collector: Callable[..., Started]) -> None:
    """--header values arrive as gRPC metadata with lower-case keys."""
    started = grpc_collector()

    result = run_cli(
        "replay", SESSION_B_SPANS, "--protocol", "grpc", "--endpoint", started.url, "--header", "X-Tenant=acme"
    )

    assert result.exit_code == 0
    assert started.collector.metadata[0]["x-tenant"] == "acme"


def test_protocol_from_environment(grpc_collector: Callable[..., Started], monkeypatch: pytest.MonkeyPatch) -> None:
    """OTEL_EXPORTER_OTLP_PROTOCOL=grpc selects gRPC without --protocol."""
    started = grpc_collector()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")

    result = run_cli("replay", SESSION_B_SPANS, "--endpoint", started.url)

    assert result.exit_code == 0, result.stderr
    assert len(started.collector.items(Signal.TRACES)) == SPAN_COUNT


def test_http_json_protocol_rejected() -> None:
    """http/json is a usage error that names the supported protocols."""
    result = run_cli("replay", SESSION_B_SPANS, "--protocol", "http/json")

    assert result.exit_code == 2
    assert "expected grpc or http/protobuf" in result.stderr


def test_missing_grpc_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the grpc extra, --protocol grpc is a usage error that names the package to install."""
    monkeypatch.setitem(sys.modules, "grpc", None)

    result = run_cli("replay", SESSION_B_SPANS, "--protocol", "grpc")

    assert result.exit_code == 2
    assert "pip install 'otel-replay[grpc]'" in result.stderr


def sender_for(url: str, clock: Clock) -> GrpcSender:
    exporter = grpc_exporter(Signal.TRACES, endpoint=url, insecure=True, timeout=10)
    return GrpcSender(exporter, clock.policy(timeout=10), "the spans request")


EMPTY_REQUEST = trace_service_pb2.ExportTraceServiceRequest()


def test_unavailable_retried_with_backoff(grpc_collector: Callable[..., Started]) -> None:
    """UNAVAILABLE is retried after 1 s and then 2 s, and the OK that follows is delivered."""
    unavailable = GrpcReply(grpc.StatusCode.UNAVAILABLE, "restarting")
    started = grpc_collector(sequence(unavailable, unavailable, GrpcReply()))
    clock = Clock()

    outcome = sender_for(started.url, clock)(EMPTY_REQUEST)

    assert outcome.delivered
    assert outcome.attempts == 3
    assert clock.sleeps == [1.0, 2.0]
    assert len(started.collector.requests[Signal.TRACES]) == 3


def test_exhausted_with_retry_info_waits(grpc_collector: Callable[..., Started]) -> None:
    """RESOURCE_EXHAUSTED with a RetryInfo is retried after the delay it gives."""
    throttled = GrpcReply(grpc.StatusCode.RESOURCE_EXHAUSTED, "rate limited", retry_delay=2.5)
    started = grpc_collector(sequence(throttled, GrpcReply()))
    clock = Clock()

    outcome = sender_for(started.url, clock)(EMPTY_REQUEST)

    assert outcome.delivered
    assert clock.sleeps == [2.5]


def test_exhausted_without_retry_info_too_large(grpc_collector: Callable[..., Started]) -> None:
    """RESOURCE_EXHAUSTED without a RetryInfo is not retried; the request counts as too large."""
    started = grpc_collector(always(GrpcReply(grpc.StatusCode.RESOURCE_EXHAUSTED, "message too large")))
    clock = Clock()

    outcome = sender_for(started.url, clock)(EMPTY_REQUEST)

    assert not outcome.delivered
    assert outcome.too_large
    assert clock.sleeps == []
    assert len(started.collector.requests[Signal.TRACES]) == 1


@pytest.mark.parametrize(
    "code", [grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.INTERNAL]
)
def test_final_codes_not_retried(grpc_collector: Callable[..., Started], code: grpc.StatusCode) -> None:
    """Other status codes are final: one request and no wait."""
    started = grpc_collector(always(GrpcReply(code, "no")))
    clock = Clock()

    outcome = sender_for(started.url, clock)(EMPTY_REQUEST)

    assert not outcome.delivered
    assert clock.sleeps == []
    assert outcome.reason == f"gRPC {code.name}: no"


def test_grpc_deadline(grpc_collector: Callable[..., Started]) -> None:
    """A collector slower than the deadline fails the request when the deadline passes."""
    hold = threading.Event()
    started = grpc_collector(always(GrpcReply(hold=hold)))
    exporter = grpc_exporter(Signal.TRACES, endpoint=started.url, insecure=True, timeout=10)
    try:
        outcome = GrpcSender(exporter, RetryPolicy(timeout=0.3), "the spans request")(EMPTY_REQUEST)
    finally:
        hold.set()

    assert not outcome.delivered
    assert "DEADLINE_EXCEEDED" in outcome.reason


def test_grpc_split_on_resource_exhausted(grpc_collector: Callable[..., Started]) -> None:
    """Through the CLI, a batch rejected with RESOURCE_EXHAUSTED is split until the parts pass."""

    def at_most_ten_spans(_signal: Signal, request: Any, _earlier: int) -> GrpcReply:
        spans = sum(len(ss.spans) for rs in request.resource_spans for ss in rs.scope_spans)
        return GrpcReply(grpc.StatusCode.RESOURCE_EXHAUSTED, "too big") if spans > 10 else GrpcReply()

    started = grpc_collector(at_most_ten_spans)

    result = run_cli("replay", SESSION_B_SPANS, "--protocol", "grpc", "--endpoint", started.url, "--json")

    accepted = {span.span_id for span in started.collector.items(Signal.TRACES)}
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["signals"]["traces"]["sent"] == SPAN_COUNT
    assert len(accepted) == SPAN_COUNT


def test_grpc_partial_success(grpc_collector: Callable[..., Started]) -> None:
    """A gRPC partial success counts its rejected records, and the run exits 1."""
    started = grpc_collector(always(GrpcReply(rejected=3, message="too old")))

    result = run_cli("replay", SESSION_B_LOGS, "--protocol", "grpc", "--endpoint", started.url, "--json")

    logs = json.loads(result.stdout)["signals"]["logs"]
    assert result.exit_code == 1
    assert logs["rejected"] == 3
    assert logs["sent"] == LOG_COUNT - 3


def test_grpc_final_error_fails_run(grpc_collector: Callable[..., Started]) -> None:
    """INVALID_ARGUMENT fails every record of the batch, with the status in the message."""
    started = grpc_collector(always(GrpcReply(grpc.StatusCode.INVALID_ARGUMENT, "bad request")))

    result = run_cli("replay", SESSION_B_SPANS, "--protocol", "grpc", "--endpoint", started.url, "--json")

    summary = json.loads(result.stdout)
    assert result.exit_code == 1
    assert summary["signals"]["traces"]["failed"] == SPAN_COUNT
    assert summary["export_errors"][0].endswith("gRPC INVALID_ARGUMENT: bad request")
    assert len(started.collector.requests[Signal.TRACES]) == 1


def test_grpc_mutual_tls(grpc_collector: Callable[..., Started], tmp_path: Path) -> None:
    """Over https, the collector's CA and a client certificate set up mutual TLS for gRPC."""
    authority = trustme.CA()
    server_certificate = authority.issue_cert("127.0.0.1")
    client = authority.issue_cert("otel-replay-client@example.test")
    credentials = grpc.ssl_server_credentials(
        [(server_certificate.private_key_pem.bytes(), server_certificate.cert_chain_pems[0].bytes())],
        root_certificates=authority.cert_pem.bytes(),
        require_client_auth=True,
    )
    started = grpc_collector(credentials=credentials)
    ca, certificate, key = tmp_path / "ca.pem", tmp_path / "client.pem", tmp_path / "client-key.pem"
    authority.cert_pem.write_to_path(str(ca))
    client.cert_chain_pems[0].write_to_path(str(certificate))
    client.private_key_pem.write_to_path(str(key))

    denied = run_cli(
        "replay",
        SESSION_B_SPANS,
        "--protocol",
        "grpc",
        "--endpoint",
        started.url,
        "--certificate",
        ca,
        "--timeout",
        "1",
    )
    accepted = run_cli(
        *("replay", SESSION_B_SPANS, "--protocol", "grpc", "--endpoint", started.url, "--certificate", ca),
        *("--client-certificate", certificate, "--client-key", key),
    )

    assert denied.exit_code == 1
    assert accepted.exit_code == 0, accepted.stderr
    assert len(started.collector.items(Signal.TRACES)) == SPAN_COUNT


def test_grpc_insecure_with_https_rejected(grpc_collector: Callable[..., Started]) -> None:
    """gRPC cannot skip certificate verification, so --insecure with https is a usage error."""
    result = run_cli(
        "replay", SESSION_B_SPANS, "--protocol", "grpc", "--endpoint", "https://127.0.0.1:4317", "--insecure"
    )

    assert result.exit_code == 2
    assert "--insecure cannot turn off certificate verification with gRPC" in result.stderr


def test_grpc_default_message_limit_splits(grpc_collector: Callable[..., Started], tmp_path: Path) -> None:
    """A gRPC server's own 4 MiB message limit (RESOURCE_EXHAUSTED) splits a larger batch until it passes."""
    spans = [
        {
            "traceId": "5b8efff798038103d269b633813fc60c",
            "spanId": f"{number + 1:016x}",
            "name": f"span {number}",
            "startTimeUnixNano": "1796413207753123456",
            "endTimeUnixNano": "1796413207753124456",
            "attributes": [{"key": "payload", "value": {"stringValue": "x" * 600_000}}],
        }
        for number in range(12)  # about 7 MB in one request
    ]
    source = tmp_path / "spans.json"
    document = {"resourceSpans": [{"resource": {}, "scopeSpans": [{"scope": {}, "spans": spans}]}]}
    source.write_text(json.dumps(document), encoding="utf-8")
    started = grpc_collector()

    result = run_cli(
        "replay", source, "--protocol", "grpc", "--endpoint", started.url, "--max-batch-bytes", "16777216", "--json"
    )

    received = started.collector.items(Signal.TRACES)
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["signals"]["traces"]["sent"] == 12
    assert len({span.span_id for span in received}) == 12
    assert "as too large (gRPC RESOURCE_EXHAUSTED: " in result.stderr
