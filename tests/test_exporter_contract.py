"""What otel-replay relies on in the official OTLP/HTTP exporter; these fail if a release changes it.

DeliverySession owns retries and the deadline. That works only while the exporter keeps five
behaviours. It sends through the session it is given, and calls it once per export when the
session raises an error that is not a connection error. It counts 2xx as success, passes the
explicit timeout instead of reading the OTLP timeout variables, and sets the TLS files on the
session.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

from otel_replay.delivery import DeliverySession, RetryPolicy
from otel_replay.rebuild import send_serialized
from tests.faults import Reply, replies, serving
from tests.test_delivery import Clock
from tests.test_export_failures import unused_port

PAYLOAD = b"\x0a\x00"  # an ExportTraceServiceRequest with one empty ResourceSpans


class CountingSession(DeliverySession):
    """A DeliverySession that records the keyword arguments of every call the exporter makes."""

    def __init__(self, policy: RetryPolicy) -> None:
        super().__init__(policy, "spans", "receiver")
        self.calls: list[dict[str, Any]] = []

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        self.calls.append(dict(kwargs))
        return super().request(method, url, *args, **kwargs)


def exporter_for(url: str, session: requests.Session, **options: Any) -> OTLPSpanExporter:
    return OTLPSpanExporter(endpoint=f"{url}/v1/traces", session=session, **options)


def test_exporter_adds_no_status_retries() -> None:
    """After the session gives up on 503s, the exporter returns failure without retrying or sleeping."""
    clock = Clock()
    session = CountingSession(clock.policy(timeout=10))
    with serving(replies(Reply(503))) as server:
        exporter = exporter_for(server.url, session, timeout=10)
        started = time.monotonic()
        accepted = send_serialized(exporter, PAYLOAD)
        seconds = time.monotonic() - started

    assert not accepted
    assert len(session.calls) == 1
    assert len(server.requests) == 4  # the session's own attempts: after 0, 1, 3 and 7 s
    assert seconds < 1  # the exporter's own backoff starts at about 1 s


def test_exporter_adds_no_connection_retries() -> None:
    """When the session gives up on refused connections, the exporter does not call it again."""
    clock = Clock()
    session = CountingSession(clock.policy(timeout=10))
    exporter = exporter_for(f"http://127.0.0.1:{unused_port()}", session, timeout=10)

    started = time.monotonic()
    accepted = send_serialized(exporter, PAYLOAD)
    seconds = time.monotonic() - started

    assert not accepted
    assert len(session.calls) == 1
    assert clock.sleeps == [1.0, 2.0, 4.0]
    assert seconds < 1


def test_exporter_accepts_2xx() -> None:
    """A 2xx response is success, and the body arrives as given."""
    session = CountingSession(Clock().policy())
    with serving(replies(Reply(200))) as server:
        accepted = send_serialized(exporter_for(server.url, session, timeout=10), PAYLOAD)

    assert accepted
    assert [request.body for request in server.requests] == [PAYLOAD]
    assert server.requests[0].headers["content-type"] == "application/x-protobuf"


def test_exporter_timeout_not_read_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """With an explicit timeout, the exporter ignores the timeout variables it would read as seconds."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "0.001")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "0.001")
    session = CountingSession(Clock().policy())
    with serving(replies(Reply(200))) as server:
        send_serialized(exporter_for(server.url, session, timeout=7.0), PAYLOAD)

    assert len(session.calls) == 1
    assert 6.0 < session.calls[0]["timeout"] <= 7.0


def test_exporter_sets_tls_files_on_session() -> None:
    """The CA file and the client certificate and key reach the session the exporter was given."""
    session = CountingSession(Clock().policy())

    exporter_for(
        "https://127.0.0.1:4318",
        session,
        certificate_file="ca.pem",
        client_certificate_file="client.pem",
        client_key_file="client-key.pem",
        timeout=1,
    )

    assert session.verify == "ca.pem"
    assert session.cert == ("client.pem", "client-key.pem")
