"""Failing and unusual receivers through the real CLI: refused connections, HTTP errors, retries and settings."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from otel_replay.receiver import OTLPReceiver
from tests.conftest import SESSION_B_LOGS, SESSION_B_SPANS, run_cli

SPAN_COUNT = len(json.loads(SESSION_B_SPANS.read_text(encoding="utf-8"))["spans"])
LOG_COUNT = len(json.loads(SESSION_B_LOGS.read_text(encoding="utf-8"))["logs"])
SECRET = "s3cr3t"  # noqa: S105  # a made-up credential that tests search the output for


# --- a stub OTLP/HTTP server -----------------------------------------------------------

Responder = Callable[[str, int], tuple[int, dict[str, str]]]
"""Returns the status and extra response headers for a POST, from its path and the number of
earlier POSTs to that path."""


@dataclass(frozen=True)
class StubRequest:
    """One POST the stub server received, with the status of its response."""

    path: str
    headers: dict[str, str]
    body: bytes
    status: int


class _StubHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        stub: StubServer = self.server.stub  # type: ignore[attr-defined]  # set by StubServer
        status, headers = stub.answer(self.path, dict(self.headers.items()), body)

        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        """Keep request lines off stderr, where the tests read the CLI's output."""


class StubServer:
    """An HTTP server on 127.0.0.1 that records every POST and responds with the status `respond` returns."""

    def __init__(self, respond: Responder) -> None:
        self.requests: list[StubRequest] = []
        self._respond = respond
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _StubHandler)
        self._server.daemon_threads = True
        self._server.stub = self  # type: ignore[attr-defined]  # read back by _StubHandler
        # The default poll interval of 0.5 s would add up to half a second to every teardown,
        # so this server checks for shutdown every 0.05 s.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="stub-otlp", daemon=True
        )

    @property
    def url(self) -> str:
        """The base URL, such as http://127.0.0.1:43171."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        """Start serving in a background thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the listening socket."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def answer(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str]]:
        """Decide the response to one POST and record the request."""
        with self._lock:
            earlier = sum(1 for request in self.requests if request.path == path)
            status, response_headers = self._respond(path, earlier)
            self.requests.append(StubRequest(path, headers, body, status))
        return status, response_headers

    def requests_to(self, path: str) -> list[StubRequest]:
        """Return the requests to `path`, in arrival order."""
        return [request for request in self.requests if request.path == path]


@pytest.fixture
def start_stub() -> Iterator[Callable[[Responder], StubServer]]:
    """Start stub servers on demand, and stop every one of them after the test."""
    started: list[StubServer] = []

    def start(respond: Responder) -> StubServer:
        server = StubServer(respond)
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def unused_port() -> int:
    """Return a port on 127.0.0.1 that nothing listens on, by binding and closing a socket."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def count_spans(body: bytes) -> int:
    """Return the number of spans in an uncompressed OTLP/HTTP trace request body."""
    request = ExportTraceServiceRequest.FromString(body)
    return sum(len(scope.spans) for resource in request.resource_spans for scope in resource.scope_spans)


def count_logs(body: bytes) -> int:
    """Return the number of log records in an uncompressed OTLP/HTTP log request body."""
    request = ExportLogsServiceRequest.FromString(body)
    return sum(len(scope.log_records) for resource in request.resource_logs for scope in resource.scope_logs)


# --- receivers that fail ---------------------------------------------------------------


def always(status: int, headers: dict[str, str] | None = None) -> Responder:
    """Return a responder that responds to every POST with `status`."""
    return lambda _path, _earlier: (status, headers or {})


def first_then_ok(status: int, headers: dict[str, str]) -> Responder:
    """Return a responder that responds to the first POST to each path with `status`, the rest with 200."""
    return lambda _path, earlier: (status, headers) if earlier == 0 else (200, {})


def by_path(statuses: dict[str, int]) -> Responder:
    """Return a responder that responds to each path with its status from `statuses`."""
    return lambda path, _earlier: (statuses[path], {})


@dataclass(frozen=True)
class Scenario:
    """A receiver's behaviour and what the run should report against it."""

    respond: Responder | None
    """None means nothing listens on the port."""
    exit_code: int
    traces_sent: int
    logs_sent: int


SCENARIOS = {
    "refused": Scenario(None, 1, 0, 0),
    "500-always": Scenario(always(500), 1, 0, 0),
    "404-always": Scenario(always(404), 1, 0, 0),
    "429-once": Scenario(first_then_ok(429, {"Retry-After": "0"}), 0, SPAN_COUNT, LOG_COUNT),
    "503-once": Scenario(first_then_ok(503, {"Retry-After": "0"}), 0, SPAN_COUNT, LOG_COUNT),
    "logs-400": Scenario(by_path({"/v1/traces": 200, "/v1/logs": 400}), 1, SPAN_COUNT, 0),
}


@dataclass(frozen=True)
class Run:
    """The outcome of one CLI run against a scenario's receiver."""

    exit_code: int
    summary: dict[str, Any]
    stderr: str
    seconds: float
    server: StubServer | None


def run_scenario(name: str, start_stub: Callable[[Responder], StubServer]) -> Run:
    """Replay session B's span and log files into the scenario's receiver with --json and a 0.5 s timeout."""
    scenario = SCENARIOS[name]
    server = None if scenario.respond is None else start_stub(scenario.respond)
    endpoint = f"http://127.0.0.1:{unused_port()}" if server is None else server.url

    started = time.monotonic()
    result = run_cli("replay", SESSION_B_SPANS, SESSION_B_LOGS, "--endpoint", endpoint, "--timeout", "0.5", "--json")
    seconds = time.monotonic() - started
    return Run(result.exit_code, json.loads(result.stdout), result.stderr, seconds, server)


@pytest.mark.parametrize("name", SCENARIOS)
def test_receiver_exit_status(start_stub: Callable[[Responder], StubServer], name: str) -> None:
    """The run exits with 0 only when the receiver finally accepts every record."""
    run = run_scenario(name, start_stub)

    assert run.exit_code == SCENARIOS[name].exit_code
    assert run.summary["exit_status"] == SCENARIOS[name].exit_code


@pytest.mark.parametrize("name", SCENARIOS)
def test_receiver_sent_and_failed(start_stub: Callable[[Responder], StubServer], name: str) -> None:
    """Records the receiver accepted count as sent, and every other record as failed."""
    scenario = SCENARIOS[name]
    run = run_scenario(name, start_stub)
    traces = run.summary["signals"]["traces"]
    logs = run.summary["signals"]["logs"]

    assert traces["sent"] == scenario.traces_sent
    assert traces["failed"] == SPAN_COUNT - scenario.traces_sent
    assert logs["sent"] == scenario.logs_sent
    assert logs["failed"] == LOG_COUNT - scenario.logs_sent


@pytest.mark.parametrize("name", SCENARIOS)
def test_receiver_counts_add_up(start_stub: Callable[[Responder], StubServer], name: str) -> None:
    """For every signal, read equals sent plus skipped plus failed."""
    run = run_scenario(name, start_stub)

    for signal, counts in run.summary["signals"].items():
        total = counts["sent"] + counts["skipped"] + counts["failed"]
        assert counts["read"] == total, f"{signal}: {counts}"


@pytest.mark.parametrize("name", SCENARIOS)
def test_receiver_failure_is_quick(start_stub: Callable[[Responder], StubServer], name: str) -> None:
    """With --timeout 0.5, the run ends well within 10 s, whatever the receiver does."""
    run = run_scenario(name, start_stub)

    assert run.seconds < 10


def test_unanswered_request_times_out() -> None:
    """A receiver that accepts the connection but never responds fails every record within the timeout."""
    # A listening socket that never calls accept() completes the TCP handshake from its
    # backlog and then never sends a response.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        endpoint = f"http://127.0.0.1:{silent.getsockname()[1]}"

        started = time.monotonic()
        result = run_cli(
            "replay", SESSION_B_SPANS, "--signals", "traces", "--endpoint", endpoint, "--timeout", "0.5", "--json"
        )
        seconds = time.monotonic() - started

    traces = json.loads(result.stdout)["signals"]["traces"]
    assert result.exit_code == 1
    assert traces["failed"] == SPAN_COUNT
    assert seconds < 10


def test_server_error_status_printed(start_stub: Callable[[Responder], StubServer]) -> None:
    """A rejected span export prints an error line with the HTTP status."""
    run = run_scenario("500-always", start_stub)

    errors = [line for line in run.stderr.splitlines() if line.startswith("Error:") and "spans" in line]
    assert len(errors) == 1
    assert "500" in errors[0]


def test_each_failed_log_batch_printed(start_stub: Callable[[Responder], StubServer]) -> None:
    """Every log batch the receiver rejects gets its own error line, as span batches do."""
    server = start_stub(always(500))

    result = run_cli("replay", SESSION_B_LOGS, "--endpoint", server.url, "--batch-size", "30", "--timeout", "0.5")

    batches = len(server.requests_to("/v1/logs"))
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:") and "logs" in line]
    assert batches == 3
    assert len(errors) == batches
    assert f"\n{batches} error(s), " in result.stderr


def test_server_error_not_retried(start_stub: Callable[[Responder], StubServer]) -> None:
    """A 500 response is final, so each signal's batch is posted once."""
    run = run_scenario("500-always", start_stub)

    assert run.server is not None
    assert len(run.server.requests_to("/v1/traces")) == 1
    assert len(run.server.requests_to("/v1/logs")) == 1


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_resends_batch(start_stub: Callable[[Responder], StubServer], status: int) -> None:
    """After a retryable status with Retry-After: 0, the exporter posts the same batch again."""
    run = run_scenario(f"{status}-once", start_stub)

    assert run.server is not None
    for path in ("/v1/traces", "/v1/logs"):
        requests = run.server.requests_to(path)
        assert [request.status for request in requests] == [status, 200], path
        assert requests[0].body == requests[1].body, path


def test_retry_after_delivers_all(start_stub: Callable[[Responder], StubServer]) -> None:
    """The retried requests that the server accepted carry every span and log record."""
    run = run_scenario("429-once", start_stub)

    assert run.server is not None
    accepted_traces = [request for request in run.server.requests_to("/v1/traces") if request.status == 200]
    accepted_logs = [request for request in run.server.requests_to("/v1/logs") if request.status == 200]
    assert sum(count_spans(request.body) for request in accepted_traces) == SPAN_COUNT
    assert sum(count_logs(request.body) for request in accepted_logs) == LOG_COUNT


def test_logs_rejected_traces_sent(start_stub: Callable[[Responder], StubServer]) -> None:
    """When only /v1/logs responds with 400, the spans arrive and only the log records fail."""
    run = run_scenario("logs-400", start_stub)

    assert run.server is not None
    traces = run.server.requests_to("/v1/traces")
    assert sum(count_spans(request.body) for request in traces) == SPAN_COUNT
    assert [request.status for request in run.server.requests_to("/v1/logs")] == [400]


def test_refused_query_not_printed() -> None:
    """A credential in the endpoint's query string is not printed when the connection is refused."""
    endpoint = f"http://127.0.0.1:{unused_port()}/v1/traces?api_key={SECRET}"

    # 1.5 s leaves room for one retry after about 1 s, so the retry warning is printed.
    result = run_cli(
        "replay", SESSION_B_SPANS, "--signals", "traces", "--traces-endpoint", endpoint, "--timeout", "1.5"
    )

    assert result.exit_code == 1
    assert SECRET not in result.stderr


def test_summary_hides_endpoint_query(start_stub: Callable[[Responder], StubServer]) -> None:
    """The --json summary shows the endpoint without its query string, which may carry credentials."""
    server = start_stub(always(200))
    endpoint = f"{server.url}/v1/traces?api_key={SECRET}"

    result = run_cli("replay", SESSION_B_SPANS, "--signals", "traces", "--traces-endpoint", endpoint, "--json")

    assert result.exit_code == 0
    assert json.loads(result.stdout)["signals"]["traces"]["endpoint"] == f"{server.url}/v1/traces"
    assert SECRET not in result.stdout
    assert SECRET not in result.stderr


# --- request settings ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        pytest.param(["Authorization=Bearer t0ken"], {"authorization": "Bearer t0ken"}, id="authorization"),
        pytest.param(
            ["X-Tenant=acme", "X-Scope-OrgID=team-1"],
            {"x-tenant": "acme", "x-scope-orgid": "team-1"},
            id="two-headers",
        ),
        pytest.param(["X-Signature=a=b=="], {"x-signature": "a=b=="}, id="equals-in-value"),
    ],
)
def test_headers_sent(receiver: OTLPReceiver, headers: list[str], expected: dict[str, str]) -> None:
    """Every request, for spans and for log records, carries each --header."""
    options = [argument for header in headers for argument in ("--header", header)]

    result = run_cli("replay", SESSION_B_SPANS, SESSION_B_LOGS, "--endpoint", receiver.url, *options)

    assert result.exit_code == 0
    assert len(receiver.received.traces) >= 1
    assert len(receiver.received.logs) >= 1
    for request_headers in receiver.received.headers:
        lowered = {name.lower(): value for name, value in request_headers.items()}
        for name, value in expected.items():
            assert lowered.get(name) == value, name


def test_env_headers_sent(receiver: OTLPReceiver, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without --header, the headers of OTEL_EXPORTER_OTLP_HEADERS are sent."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-tenant=from-env")

    result = run_cli("replay", SESSION_B_SPANS, "--endpoint", receiver.url)

    assert result.exit_code == 0
    assert len(receiver.received.headers) >= 1
    for request_headers in receiver.received.headers:
        lowered = {name.lower(): value for name, value in request_headers.items()}
        assert lowered.get("x-tenant") == "from-env"


@pytest.mark.parametrize(
    ("compression", "encoding"),
    [
        pytest.param("gzip", "gzip", id="gzip"),
        pytest.param("deflate", "deflate", id="deflate"),
        pytest.param("none", "", id="none"),
        pytest.param("GZIP", "gzip", id="upper-case"),
    ],
)
def test_compression_encoding(receiver: OTLPReceiver, compression: str, encoding: str) -> None:
    """Every request arrives with the Content-Encoding that --compression selects."""
    result = run_cli(
        "replay", SESSION_B_SPANS, SESSION_B_LOGS, "--endpoint", receiver.url, "--compression", compression
    )

    assert result.exit_code == 0
    assert len(receiver.received.content_encodings) >= 2
    assert set(receiver.received.content_encodings) == {encoding}


def test_gzip_decodes_same_records(receiver: OTLPReceiver) -> None:
    """Spans and log records sent with gzip decode to the same messages as uncompressed ones."""
    with OTLPReceiver() as plain:
        run_cli("replay", SESSION_B_SPANS, SESSION_B_LOGS, "--endpoint", plain.url)
    run_cli("replay", SESSION_B_SPANS, SESSION_B_LOGS, "--endpoint", receiver.url, "--compression", "gzip")

    def serialized_spans(target: OTLPReceiver) -> list[bytes]:
        return sorted(span.SerializeToString() for _, _, span in target.received.spans())

    def serialized_logs(target: OTLPReceiver) -> list[bytes]:
        return sorted(record.SerializeToString() for _, _, record in target.received.log_records())

    assert set(receiver.received.content_encodings) == {"gzip"}
    assert len(serialized_spans(receiver)) == SPAN_COUNT
    assert serialized_spans(receiver) == serialized_spans(plain)
    assert len(serialized_logs(receiver)) == LOG_COUNT
    assert serialized_logs(receiver) == serialized_logs(plain)


# --- endpoints -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "environment", "expected"),
    [
        pytest.param(
            ["--traces-endpoint", "{url}/custom/traces", "--logs-endpoint", "{url}/custom/logs"],
            {},
            ["/custom/logs", "/custom/traces"],
            id="signal-options",
        ),
        pytest.param(["--endpoint", "{url}/otlp"], {}, ["/otlp/v1/logs", "/otlp/v1/traces"], id="endpoint-path"),
        pytest.param(["--endpoint", "{url}/"], {}, ["/v1/logs", "/v1/traces"], id="endpoint-slash"),
        pytest.param(
            [],
            {
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "{url}/env/traces",
                "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": "{url}/env/logs",
            },
            ["/env/logs", "/env/traces"],
            id="signal-variables",
        ),
        pytest.param(
            [], {"OTEL_EXPORTER_OTLP_ENDPOINT": "{url}/base"}, ["/base/v1/logs", "/base/v1/traces"], id="base-variable"
        ),
        pytest.param(
            ["--traces-endpoint", "{url}/custom/traces"],
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "{url}/base"},
            ["/base/v1/logs", "/custom/traces"],
            id="option-and-variable",
        ),
    ],
)
def test_endpoint_paths(
    start_stub: Callable[[Responder], StubServer],
    monkeypatch: pytest.MonkeyPatch,
    options: list[str],
    environment: dict[str, str],
    expected: list[str],
) -> None:
    """Spans and log records are posted to the paths the options and OTEL_* variables give."""
    server = start_stub(always(200))
    for name, value in environment.items():
        monkeypatch.setenv(name, value.format(url=server.url))

    result = run_cli("replay", SESSION_B_SPANS, SESSION_B_LOGS, *(option.format(url=server.url) for option in options))

    assert result.exit_code == 0
    assert sorted(request.path for request in server.requests) == expected


def test_env_endpoint_delivers(receiver: OTLPReceiver, monkeypatch: pytest.MonkeyPatch) -> None:
    """With OTEL_EXPORTER_OTLP_ENDPOINT set and no --endpoint, every record arrives at that receiver."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)

    result = run_cli("replay", SESSION_B_SPANS, SESSION_B_LOGS, "--json")

    traces = json.loads(result.stdout)["signals"]["traces"]
    assert result.exit_code == 0
    assert traces["endpoint"] == f"{receiver.url}/v1/traces"
    assert len(receiver.received.spans()) == SPAN_COUNT
    assert len(receiver.received.log_records()) == LOG_COUNT


def test_endpoint_option_beats_env(receiver: OTLPReceiver, monkeypatch: pytest.MonkeyPatch) -> None:
    """--endpoint wins over OTEL_EXPORTER_OTLP_ENDPOINT, which here points at a port where nothing listens."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{unused_port()}")

    result = run_cli("replay", SESSION_B_SPANS, "--endpoint", receiver.url, "--timeout", "0.5")

    assert result.exit_code == 0
    assert len(receiver.received.spans()) == SPAN_COUNT
