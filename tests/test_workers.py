"""Replaying with worker processes sends the same requests and summary as replaying in one process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from otel_replay.receiver import OTLPReceiver
from tests.conftest import CODEMACHINE, SESSION_B_SPANS, run_cli


def _replay(receiver: OTLPReceiver, *args: str | Path) -> tuple[list[bytes], dict[str, object], str]:
    receiver.received.traces.clear()
    receiver.received.logs.clear()
    receiver.received.metrics.clear()
    result = run_cli("replay", *args, "--endpoint", receiver.url, "--json")
    requests = [
        request.SerializeToString()
        for request in receiver.received.traces + receiver.received.logs + receiver.received.metrics
    ]
    summary = json.loads(result.stdout)
    return requests, summary, result.stderr


@pytest.mark.parametrize("batch_size", ["512", "7"])
def test_workers_send_same_requests(receiver: OTLPReceiver, batch_size: str) -> None:
    """The bundled CodeMachine files (duplicates, notices, several resources) give the same bytes."""
    serial = _replay(receiver, CODEMACHINE / "traces", "--workers", "1", "--batch-size", batch_size)
    parallel = _replay(receiver, CODEMACHINE / "traces", "--workers", "2", "--batch-size", batch_size)

    assert len(serial[0]) > 3
    assert parallel[0] == serial[0]


def test_workers_same_summary_and_warnings(receiver: OTLPReceiver) -> None:
    """Counts, skipped reasons, orphans and the warnings on stderr are the same with workers."""
    serial = _replay(receiver, CODEMACHINE / "traces", "--workers", "1")
    parallel = _replay(receiver, CODEMACHINE / "traces", "--workers", "3")

    assert parallel[1] == serial[1]
    assert sorted(parallel[2].splitlines()) == sorted(serial[2].splitlines())


def test_workers_truncated_file(tmp_path: Path, receiver: OTLPReceiver) -> None:
    """A truncated file sends its complete records and reports the file error with workers too."""
    path = tmp_path / SESSION_B_SPANS.name
    text = SESSION_B_SPANS.read_text(encoding="utf-8")
    path.write_text(text[: len(text) // 2], encoding="utf-8")

    serial = _replay(receiver, path, "--workers", "1")
    parallel = _replay(receiver, path, "--workers", "2")

    assert parallel[0] == serial[0]
    assert parallel[1] == serial[1]
    assert serial[1]["file_errors"] == 1
