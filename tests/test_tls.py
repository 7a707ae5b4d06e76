"""Replay over https: --certificate trusts a CA, client certificates set up mutual TLS, --insecure skips checks."""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import certifi
import pytest
import trustme

from otel_replay.receiver import OTLPReceiver
from tests.conftest import SESSION_B_SPANS, run_cli
from tests.test_export_failures import SPAN_COUNT


@pytest.fixture
def certificate_authority() -> trustme.CA:
    """A throwaway certificate authority for this test only."""
    return trustme.CA()


@pytest.fixture
def tls_receiver(certificate_authority: trustme.CA) -> Iterator[OTLPReceiver]:
    """The project's receiver serving https on 127.0.0.1 with a certificate from the test CA."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    certificate_authority.issue_cert("127.0.0.1").configure_cert(context)
    with OTLPReceiver(tls=context) as started:
        yield started


def test_certificate_option_trusts_receiver(
    tls_receiver: OTLPReceiver, certificate_authority: trustme.CA, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With --certificate naming the receiver's CA, every span arrives over https, even with REQUESTS_CA_BUNDLE set."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", certifi.where())
    ca_file = tmp_path / "ca.pem"
    certificate_authority.cert_pem.write_to_path(str(ca_file))

    result = run_cli("replay", SESSION_B_SPANS, "--endpoint", tls_receiver.url, "--certificate", ca_file)

    assert tls_receiver.url.startswith("https://")
    assert result.exit_code == 0, result.stderr
    assert len(tls_receiver.received.spans()) == 51


def test_untrusted_certificate_fails(tls_receiver: OTLPReceiver) -> None:
    """Without the CA, the TLS handshake fails, nothing arrives and the run exits 1."""
    result = run_cli("replay", SESSION_B_SPANS, "--endpoint", tls_receiver.url, "--timeout", "1")

    assert result.exit_code == 1
    assert tls_receiver.received.spans() == []
    assert "CERTIFICATE_VERIFY_FAILED" in result.stderr


def test_missing_certificate_file_is_usage_error(tmp_path: Path) -> None:
    """A --certificate file that does not exist exits 2 before sending."""
    result = run_cli("replay", SESSION_B_SPANS, "--certificate", tmp_path / "nope.pem")

    assert result.exit_code == 2
    assert "--certificate file not found" in result.stderr


# --- mutual TLS and --insecure ---------------------------------------------------------


@dataclass(frozen=True)
class ClientFiles:
    """PEM files of the test CA and of a client certificate it issued."""

    ca: Path
    certificate: Path
    key: Path


@pytest.fixture
def client_files(certificate_authority: trustme.CA, tmp_path: Path) -> ClientFiles:
    """The CA file and a client certificate and key, written for the CLI to read."""
    client = certificate_authority.issue_cert("otel-replay-client@example.test")
    files = ClientFiles(tmp_path / "ca.pem", tmp_path / "client.pem", tmp_path / "client-key.pem")
    certificate_authority.cert_pem.write_to_path(str(files.ca))
    client.cert_chain_pems[0].write_to_path(str(files.certificate))
    client.private_key_pem.write_to_path(str(files.key))
    return files


@pytest.fixture
def mtls_receiver(certificate_authority: trustme.CA) -> Iterator[OTLPReceiver]:
    """The project's receiver serving https and requiring a client certificate from the test CA."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    certificate_authority.issue_cert("127.0.0.1").configure_cert(context)
    certificate_authority.configure_trust(context)
    context.verify_mode = ssl.CERT_REQUIRED
    with OTLPReceiver(tls=context) as started:
        yield started


def test_client_certificate_accepted(mtls_receiver: OTLPReceiver, client_files: ClientFiles) -> None:
    """With --client-certificate and --client-key, a receiver that requires them gets every span."""
    result = run_cli(
        "replay",
        SESSION_B_SPANS,
        "--endpoint",
        mtls_receiver.url,
        "--certificate",
        client_files.ca,
        "--client-certificate",
        client_files.certificate,
        "--client-key",
        client_files.key,
    )

    assert result.exit_code == 0, result.stderr
    assert len(mtls_receiver.received.spans()) == SPAN_COUNT


def test_client_certificate_from_environment(
    mtls_receiver: OTLPReceiver, client_files: ClientFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    """OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE and _CLIENT_KEY set up mutual TLS without options."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_CERTIFICATE", str(client_files.ca))
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", str(client_files.certificate))
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_CLIENT_KEY", str(client_files.key))

    result = run_cli("replay", SESSION_B_SPANS, "--endpoint", mtls_receiver.url)

    assert result.exit_code == 0, result.stderr
    assert len(mtls_receiver.received.spans()) == SPAN_COUNT


def test_signal_client_certificate_variables(
    mtls_receiver: OTLPReceiver, client_files: ClientFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The traces variables for mutual TLS win over general ones that name files the receiver rejects."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", str(client_files.ca))
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE", str(client_files.certificate))
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY", str(client_files.key))
    other = trustme.CA().issue_cert("someone-else@example.test")
    other_certificate, other_key = client_files.ca.parent / "other.pem", client_files.ca.parent / "other-key.pem"
    other.cert_chain_pems[0].write_to_path(str(other_certificate))
    other.private_key_pem.write_to_path(str(other_key))
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", str(other_certificate))
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_CLIENT_KEY", str(other_key))

    result = run_cli("replay", SESSION_B_SPANS, "--endpoint", mtls_receiver.url, "--signals", "traces")

    assert result.exit_code == 0, result.stderr
    assert len(mtls_receiver.received.spans()) == SPAN_COUNT


def test_missing_client_certificate_fails(mtls_receiver: OTLPReceiver, client_files: ClientFiles) -> None:
    """Without a client certificate, the receiver refuses the handshake and nothing arrives."""
    result = run_cli(
        "replay", SESSION_B_SPANS, "--endpoint", mtls_receiver.url, "--certificate", client_files.ca, "--timeout", "1"
    )

    assert result.exit_code == 1
    assert mtls_receiver.received.spans() == []


def test_client_key_needs_certificate(client_files: ClientFiles) -> None:
    """--client-key alone is a usage error."""
    result = run_cli("replay", SESSION_B_SPANS, "--client-key", client_files.key)

    assert result.exit_code == 2
    assert "--client-key needs --client-certificate" in result.stderr


def test_missing_client_certificate_file(tmp_path: Path) -> None:
    """A --client-certificate file that does not exist exits 2 before sending."""
    result = run_cli("replay", SESSION_B_SPANS, "--client-certificate", tmp_path / "nope.pem")

    assert result.exit_code == 2
    assert "--client-certificate file not found" in result.stderr


def test_tls_error_is_final(tls_receiver: OTLPReceiver) -> None:
    """An untrusted certificate is not retried: the run ends long before a 10 s deadline."""
    started = time.monotonic()
    result = run_cli("replay", SESSION_B_SPANS, "--endpoint", tls_receiver.url, "--timeout", "10", "--json")
    seconds = time.monotonic() - started

    assert result.exit_code == 1
    assert "TLS error" in json.loads(result.stdout)["export_errors"][0]
    assert seconds < 5  # retries would wait 1, 2 and 4 s


def test_insecure_skips_verification(tls_receiver: OTLPReceiver) -> None:
    """--insecure sends to a receiver whose certificate is not trusted, with a warning."""
    result = run_cli("replay", SESSION_B_SPANS, "--endpoint", tls_receiver.url, "--insecure")

    assert result.exit_code == 0, result.stderr
    assert len(tls_receiver.received.spans()) == SPAN_COUNT
    assert f"Warning: TLS certificates of {tls_receiver.url}/v1/traces are not verified (--insecure)" in result.stderr


def test_insecure_on_http_warns(receiver: OTLPReceiver) -> None:
    """--insecure on an http endpoint only warns that it has no effect."""
    result = run_cli("replay", SESSION_B_SPANS, "--endpoint", receiver.url, "--insecure")

    assert result.exit_code == 0
    assert len(receiver.received.spans()) == SPAN_COUNT
    assert "--insecure has no effect on" in result.stderr
