"""The retry policy and deadline of DeliverySession, against real HTTP servers on 127.0.0.1 and a controlled clock."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from dataclasses import dataclass, field
from email.utils import formatdate

import pytest
import requests

from otel_replay.delivery import DeliveryFailed, DeliverySession, Outcome, RetryPolicy, resolve_timeout
from otel_replay.errors import UsageError
from otel_replay.model import Signal
from tests.conftest import SESSION_B_SPANS, run_cli
from tests.faults import Reply, replies, serving
from tests.test_export_failures import unused_port

WALL_CLOCK = 1_800_000_000.0  # seconds since the epoch, a fixed "now" for Retry-After dates
TOKEN = "t0ken-never-shown"  # noqa: S105  # a made-up credential that tests search the output for


@dataclass
class Clock:
    """A monotonic clock that moves only when the policy sleeps."""

    now: float = 100.0
    sleeps: list[float] = field(default_factory=list)
    jitter_ranges: list[tuple[float, float]] = field(default_factory=list)

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> bool:
        self.sleeps.append(round(seconds, 6))
        self.now += seconds
        return False

    def uniform(self, low: float, high: float) -> float:
        self.jitter_ranges.append((low, high))
        return 1.0

    def policy(self, timeout: float = 10.0) -> RetryPolicy:
        return RetryPolicy(
            timeout=timeout,
            clock=self.monotonic,
            sleep=self.sleep,
            uniform=self.uniform,
            wall_clock=lambda: WALL_CLOCK,
        )


def post(session: DeliverySession, url: str) -> requests.Response | None:
    """POST a body as the exporter's transport does, returning None when delivery failed."""
    try:
        return session.request(
            "POST", f"{url}/v1/traces", data=b"payload", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
        )
    except DeliveryFailed:
        return None


def outcome_of(session: DeliverySession) -> Outcome:
    assert session.last_outcome is not None
    return session.last_outcome


def test_503_then_200_retried_once() -> None:
    """A 503 is retried after the first backoff of 1 s, and the 200 that follows is the outcome."""
    clock = Clock()
    session = DeliverySession(clock.policy(), "spans", "receiver")
    with serving(replies(Reply(503), Reply(200))) as server:
        response = post(session, server.url)

    assert response is not None
    assert response.status_code == 200
    assert len(server.requests) == 2
    assert server.requests[0].body == server.requests[1].body
    assert clock.sleeps == [1.0]
    assert outcome_of(session).attempts == 2


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_retryable_statuses(status: int) -> None:
    """429, 502, 503 and 504 are retried."""
    clock = Clock()
    session = DeliverySession(clock.policy(), "spans", "receiver")
    with serving(replies(Reply(status), Reply(200))) as server:
        response = post(session, server.url)

    assert response is not None
    assert len(server.requests) == 2


@pytest.mark.parametrize("status", [400, 401, 403, 404, 413, 500, 501])
def test_final_statuses_not_retried(status: int) -> None:
    """Every other error status is final: one request, no wait, and the status in the outcome."""
    clock = Clock()
    session = DeliverySession(clock.policy(), "spans", "receiver")
    with serving(replies(Reply(status), Reply(200))) as server:
        response = post(session, server.url)

    assert response is None
    assert len(server.requests) == 1
    assert clock.sleeps == []
    assert outcome_of(session).status == status


def test_redirect_not_followed() -> None:
    """A redirect fails the request, since following it would lose the body or send it elsewhere."""
    clock = Clock()
    session = DeliverySession(clock.policy(), "spans", "receiver")
    with serving(replies(Reply(307, {"Location": "http://127.0.0.1:9/elsewhere"}))) as server:
        response = post(session, server.url)

    assert response is None
    assert len(server.requests) == 1
    assert "redirects are not followed" in outcome_of(session).reason


def test_backoff_doubles_until_deadline() -> None:
    """Waits double from 1 s, and the policy gives up when the next wait would pass the deadline."""
    clock = Clock()
    session = DeliverySession(clock.policy(timeout=10), "spans", "receiver")
    with serving(replies(Reply(503))) as server:
        response = post(session, server.url)

    assert response is None
    assert clock.sleeps == [1.0, 2.0, 4.0]  # the next, 8 s, would end after 15 s
    assert len(server.requests) == 4
    assert "HTTP 503 Service Unavailable after 4 attempts" in outcome_of(session).reason


def test_backoff_has_jitter() -> None:
    """Every backoff is multiplied by a random factor between 0.8 and 1.2."""
    clock = Clock()
    session = DeliverySession(clock.policy(timeout=10), "spans", "receiver")
    with serving(replies(Reply(503))) as server:
        post(session, server.url)

    assert clock.jitter_ranges == [(0.8, 1.2)] * 4


def test_retry_after_seconds() -> None:
    """Retry-After in seconds replaces the backoff."""
    clock = Clock()
    session = DeliverySession(clock.policy(), "spans", "receiver")
    with serving(replies(Reply(429, {"Retry-After": "3"}), Reply(200))) as server:
        response = post(session, server.url)

    assert response is not None
    assert clock.sleeps == [3.0]
    assert len(server.requests) == 2


def test_retry_after_http_date() -> None:
    """Retry-After as an HTTP date waits until that moment."""
    clock = Clock()
    session = DeliverySession(clock.policy(), "spans", "receiver")
    header = formatdate(WALL_CLOCK + 7, usegmt=True)
    with serving(replies(Reply(503, {"Retry-After": header}), Reply(200))) as server:
        response = post(session, server.url)

    assert response is not None
    assert clock.sleeps == [7.0]


def test_retry_after_past_deadline_fails() -> None:
    """A Retry-After beyond the deadline ends the request at once, saying why."""
    clock = Clock()
    session = DeliverySession(clock.policy(timeout=10), "spans", "receiver")
    with serving(replies(Reply(429, {"Retry-After": "120"}), Reply(200))) as server:
        response = post(session, server.url)

    assert response is None
    assert len(server.requests) == 1
    assert clock.sleeps == []
    assert "asked to retry after 120.0 s (Retry-After header), past the deadline" in outcome_of(session).reason


def test_retry_after_wait_logged(caplog: pytest.LogCaptureFixture) -> None:
    """Waiting for Retry-After is logged with the wait, the attempt and the status."""
    clock = Clock()
    session = DeliverySession(clock.policy(), "spans", "http://receiver/v1/traces")
    with (
        caplog.at_level(logging.INFO, "otel_replay"),
        serving(replies(Reply(429, {"Retry-After": "2"}), Reply(200))) as server,
    ):
        post(session, server.url)

    messages = [record.getMessage() for record in caplog.records]
    assert messages == [
        "Waiting 2.0 s as the receiver's Retry-After header asks, then retrying the spans request to "
        "http://receiver/v1/traces (attempt 1: HTTP 429 Too Many Requests)"
    ]


def test_retry_logged_at_info(caplog: pytest.LogCaptureFixture) -> None:
    """Each retry is one INFO line with the cause, the attempt and the wait."""
    clock = Clock()
    session = DeliverySession(clock.policy(), "spans", "http://receiver/v1/traces")
    with caplog.at_level(logging.INFO, "otel_replay"), serving(replies(Reply(502), Reply(200))) as server:
        post(session, server.url)

    assert [(record.levelno, record.getMessage()) for record in caplog.records] == [
        (
            logging.INFO,
            "Retrying the spans request to http://receiver/v1/traces in 1.00 s (attempt 1: HTTP 502 Bad Gateway)",
        )
    ]


def test_connection_refused_retried() -> None:
    """Refused connections are retried with backoff until the deadline."""
    clock = Clock()
    session = DeliverySession(clock.policy(timeout=10), "spans", "receiver")

    response = post(session, f"http://127.0.0.1:{unused_port()}")

    assert response is None
    assert clock.sleeps == [1.0, 2.0, 4.0]
    assert "ConnectionRefusedError" in outcome_of(session).reason


def test_connection_closed_mid_request_retried() -> None:
    """A server that closes the connection without responding is retried like a refused connection."""
    clock = Clock()
    session = DeliverySession(clock.policy(), "spans", "receiver")
    with serving(replies(Reply(close=True), Reply(200))) as server:
        response = post(session, server.url)

    assert response is not None
    assert len(server.requests) == 2
    assert clock.sleeps == [1.0]


def test_slow_response_ends_at_deadline() -> None:
    """A response slower than the deadline fails the request when the deadline passes."""
    hold = threading.Event()
    session = DeliverySession(RetryPolicy(timeout=0.3), "spans", "receiver")
    with serving(replies(Reply(hold=hold)), holds=[hold]) as server:
        started = time.monotonic()
        response = post(session, server.url)
        seconds = time.monotonic() - started

    assert response is None
    assert len(server.requests) == 1
    assert seconds < 3
    assert "TimeoutError: timed out" in outcome_of(session).reason


def test_header_value_not_logged(caplog: pytest.LogCaptureFixture) -> None:
    """Retry and failure messages never contain the request's header values."""
    clock = Clock()
    session = DeliverySession(clock.policy(), "spans", "receiver")
    with caplog.at_level(logging.DEBUG), serving(replies(Reply(503))) as server:
        post(session, server.url)

    assert server.requests[0].headers["authorization"] == f"Bearer {TOKEN}"
    assert len(caplog.records) >= 3
    assert TOKEN not in caplog.text
    assert TOKEN not in outcome_of(session).reason


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        pytest.param({}, 10.0, id="default"),
        pytest.param({"OTEL_EXPORTER_OTLP_TIMEOUT": "2500"}, 2.5, id="milliseconds"),
        pytest.param(
            {"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "750", "OTEL_EXPORTER_OTLP_TIMEOUT": "5000"}, 0.75, id="signal"
        ),
        pytest.param(
            {"OTEL_EXPORTER_OTLP_LOGS_TIMEOUT": "750", "OTEL_EXPORTER_OTLP_TIMEOUT": "5000"}, 5.0, id="other-signal"
        ),
    ],
)
def test_timeout_variables_in_milliseconds(environment: dict[str, str], expected: float) -> None:
    """The OTLP timeout variables are milliseconds, the signal's own variable first."""
    assert resolve_timeout(Signal.TRACES, None, environment) == expected


def test_timeout_option_beats_variables() -> None:
    """--timeout, in seconds, wins over the variables."""
    assert resolve_timeout(Signal.TRACES, 3.0, {"OTEL_EXPORTER_OTLP_TIMEOUT": "100"}) == 3.0


@pytest.mark.parametrize("value", ["ten", "0", "-5", "nan"])
def test_invalid_timeout_variable(value: str) -> None:
    """An invalid timeout variable is a usage error naming the variable."""
    with pytest.raises(UsageError, match="OTEL_EXPORTER_OTLP_TIMEOUT"):
        resolve_timeout(Signal.TRACES, None, {"OTEL_EXPORTER_OTLP_TIMEOUT": value})


def test_retry_after_zero_bounded() -> None:
    """A receiver that always requests an immediate retry gets 10 attempts, not a busy loop until the deadline."""
    clock = Clock()
    session = DeliverySession(clock.policy(), "spans", "receiver")
    with serving(replies(Reply(503, {"Retry-After": "0"}))) as server:
        response = post(session, server.url)

    assert response is None
    assert len(server.requests) == 10
    assert clock.sleeps == [0.0] * 9
    assert "after 10 attempts, the maximum per request" in outcome_of(session).reason


def test_outcome_kept_per_thread() -> None:
    """Two threads sharing a session each read the outcome of their own request, whatever finishes last."""
    session = DeliverySession(Clock().policy(), "spans", "receiver")
    rejected_sent, accepted_read = threading.Event(), threading.Event()
    outcomes: dict[str, int | None] = {}

    def send_accepted(url: str) -> None:
        post(session, url)  # the server delays the reply until the other request was rejected
        outcomes["accepted"] = outcome_of(session).status
        accepted_read.set()

    def send_rejected(url: str) -> None:
        post(session, url)
        rejected_sent.set()
        accepted_read.wait(10)  # the other thread's request ended after this one
        outcomes["rejected"] = outcome_of(session).status

    with (
        serving(replies(Reply(200, hold=rejected_sent)), holds=[rejected_sent]) as accepting,
        serving(replies(Reply(400))) as rejecting,
    ):
        threads = [
            threading.Thread(target=send_accepted, args=(accepting.url,)),
            threading.Thread(target=send_rejected, args=(rejecting.url,)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert outcomes == {"accepted": 200, "rejected": 400}


def test_timeout_variable_through_cli(monkeypatch: pytest.MonkeyPatch) -> None:
    """OTEL_EXPORTER_OTLP_TIMEOUT=300 is 0.3 s: a receiver that never responds fails the run quickly."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "300")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        started = time.monotonic()
        result = run_cli(
            "replay", SESSION_B_SPANS, "--endpoint", f"http://127.0.0.1:{silent.getsockname()[1]}", "--json"
        )
        seconds = time.monotonic() - started

    errors = json.loads(result.stdout)["export_errors"]
    assert result.exit_code == 1
    assert seconds < 5  # read as seconds, the deadline would be 300 s
    assert "0.3 s per request" in errors[0]


def test_proxy_variables_apply_to_every_request(monkeypatch: pytest.MonkeyPatch) -> None:
    """The proxy variables, which the session reads once per run, route every request of the run."""
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    with serving(replies(Reply(200))) as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        result = run_cli(
            "replay", SESSION_B_SPANS, "--endpoint", "http://receiver.invalid:4318", "--batch-size", "1",
            "--signals", "traces", "--json",
        )  # fmt: skip

    summary = json.loads(result.stdout)
    sent = summary["signals"]["traces"]["sent"]
    assert result.exit_code == 0, result.stderr
    assert sent >= 2
    assert [request.path for request in proxy.requests] == ["http://receiver.invalid:4318/v1/traces"] * sent
