"""Dry run: everything up to the request is built, and nothing is sent."""

from __future__ import annotations

import json
import os
import re
import socket
from pathlib import Path
from unittest import mock

import pytest

from otel_replay.receiver import OTLPReceiver
from tests.conftest import CODEMACHINE, run_cli
from tests.test_otlp_workers import _lines, _write


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_closed_port_succeeds() -> None:
    """A dry run against a closed port exits 0, where a real send fails."""
    endpoint = f"http://127.0.0.1:{_closed_port()}"

    dry = run_cli("replay", CODEMACHINE, "--endpoint", endpoint, "--dry-run", "--shift-to-now", "--new-ids", "--json")
    real = run_cli("replay", CODEMACHINE, "--endpoint", endpoint, "--json", "--timeout", "0.5")

    assert dry.exit_code == 0, dry.stderr
    assert real.exit_code == 1
    summary = json.loads(dry.stdout)
    assert summary["dry_run"] is True
    assert summary["dry_run_bytes"] > 0
    assert summary["export_errors"] == []


def test_counts_match_a_real_run(receiver: OTLPReceiver) -> None:
    """A dry run counts as 'would send' exactly what a real run sends, and the receiver gets nothing."""
    dry = run_cli("replay", CODEMACHINE, "--endpoint", receiver.url, "--dry-run", "--json", "--batch-size", "100")
    assert receiver.received.traces == []
    assert receiver.received.logs == []
    assert receiver.received.metrics == []

    real = run_cli("replay", CODEMACHINE, "--endpoint", receiver.url, "--json", "--batch-size", "100")

    dry_signals, real_signals = json.loads(dry.stdout)["signals"], json.loads(real.stdout)["signals"]
    for signal in ("traces", "logs", "metrics"):
        assert dry_signals[signal] == real_signals[signal]
    assert dry_signals["traces"]["sent"] == len(receiver.received.spans())


def test_summary_says_would_send() -> None:
    """The summary table heads the column 'would send' and reports that nothing was sent."""
    result = run_cli("replay", CODEMACHINE, "--endpoint", f"http://127.0.0.1:{_closed_port()}", "--dry-run")

    assert result.exit_code == 0
    assert "would send" in result.stderr
    assert "Dry run: nothing was sent" in result.stderr
    assert "1064 spans would be sent to http://127.0.0.1:" in result.stderr
    assert re.search(r"\d (spans|log records|metric data points) sent to", result.stderr) is None


def _dry_run(*args: str | Path) -> tuple[dict[str, object], str]:
    result = run_cli("replay", *args, "--endpoint", f"http://127.0.0.1:{_closed_port()}", "--dry-run", "--json")
    summary = json.loads(result.stdout)
    # The endpoint's port differs between runs.
    for counts in summary["signals"].values():
        counts.pop("endpoint", None)
    return summary, result.stderr


@pytest.mark.parametrize("options", [[], ["--start-at", "2027-01-01T00:00:00Z"], ["--name", "cli.*"]])
@pytest.mark.parametrize("workers", ["1", "2"])
def test_workers_dry_run_like_official_encoders(tmp_path: Path, options: list[str], workers: str) -> None:
    """With workers, a dry run counts the same records and encoded bytes as one process with the official encoders."""
    paths = [CODEMACHINE / "traces", _write(tmp_path / "spans.jsonl", _lines("traces"))]
    with mock.patch.dict(os.environ, {"OTEL_REPLAY_ENCODER": "sdk"}):
        reference, _ = _dry_run(*paths, *options, "--workers", "1")

    summary, stderr = _dry_run(*paths, *options, "--workers", workers)

    assert isinstance(reference["dry_run_bytes"], int)
    assert reference["dry_run_bytes"] > 100_000
    assert summary == reference
    assert "has no effect" not in stderr
