"""Replay over https: --certificate makes the exporter trust a receiver's CA."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import certifi
import pytest
import trustme

from otel_replay.receiver import OTLPReceiver
from tests.conftest import SESSION_B_SPANS, run_cli


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
