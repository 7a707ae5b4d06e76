"""--ledger: a rerun sends only what earlier runs did not deliver, and a torn or damaged ledger is survived."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest

from otel_replay.ledger import Ledger
from otel_replay.receiver import OTLPReceiver
from tests.conftest import CODEMACHINE, SESSION_B_LOGS, SESSION_B_SPANS, run_cli
from tests.faults import Reply, serving
from tests.test_export_failures import LOG_COUNT, SPAN_COUNT

SESSION_B_METRICS = CODEMACHINE / "traces" / "2026-12-04" / "19-40-07-metrics.json"
HEADER = b"otel-replay ledger 1\n"


def logs_fail(request: object, _earlier: int) -> Reply:
    """Accept spans and reject log records with a final 400."""
    return Reply(400 if getattr(request, "path", "") == "/v1/logs" else 200)


def spans_fail(request: object, _earlier: int) -> Reply:
    """Accept log records and reject spans with a final 400."""
    return Reply(400 if getattr(request, "path", "") == "/v1/traces" else 200)


def ledger_lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def test_rerun_sends_only_missing(receiver: OTLPReceiver, tmp_path: Path) -> None:
    """After the log records failed, a rerun with the ledger sends them and skips the delivered spans."""
    ledger = tmp_path / "replay.ledger"
    with serving(logs_fail) as failing:
        first = run_cli("replay", SESSION_B_SPANS, SESSION_B_LOGS, "--endpoint", failing.url, "--ledger", ledger)

    second = run_cli(
        "replay", SESSION_B_SPANS, SESSION_B_LOGS, "--endpoint", receiver.url, "--ledger", ledger, "--json"
    )

    signals = json.loads(second.stdout)["signals"]
    assert first.exit_code == 1
    assert second.exit_code == 0, second.stderr
    assert receiver.received.spans() == []
    assert len(receiver.received.log_records()) == LOG_COUNT
    assert signals["traces"]["skipped_by_reason"] == {"already delivered": SPAN_COUNT}
    assert signals["logs"]["sent"] == LOG_COUNT


def test_complete_rerun_sends_nothing(receiver: OTLPReceiver, tmp_path: Path) -> None:
    """When everything was delivered, a rerun sends no request, logs why, and exits 0."""
    ledger = tmp_path / "replay.ledger"
    files = [SESSION_B_SPANS, SESSION_B_LOGS, SESSION_B_METRICS]
    with OTLPReceiver() as first_receiver:
        first = run_cli("replay", *files, "--endpoint", first_receiver.url, "--ledger", ledger)
        points = len(first_receiver.received.metrics_received())

    second = run_cli("replay", *files, "--endpoint", receiver.url, "--ledger", ledger, "--json")

    signals = json.loads(second.stdout)["signals"]
    assert first.exit_code == 0, first.stderr
    assert points > 0
    assert second.exit_code == 0
    assert receiver.received.traces == []
    assert receiver.received.logs == []
    assert receiver.received.metrics == []
    assert signals["metrics"]["skipped_by_reason"] == {"already delivered": signals["metrics"]["read"]}
    assert f"lists {SPAN_COUNT + LOG_COUNT + signals['metrics']['read']} records as delivered" in second.stderr


def test_ledger_line_per_batch(receiver: OTLPReceiver, tmp_path: Path) -> None:
    """The ledger has its header and one line per delivered batch."""
    ledger = tmp_path / "replay.ledger"

    run_cli("replay", SESSION_B_SPANS, "--endpoint", receiver.url, "--batch-size", "10", "--ledger", ledger)

    lines = ledger_lines(ledger)
    assert lines[0] == HEADER
    assert len(lines) == 1 + len(receiver.received.traces)
    assert len(receiver.received.traces) == 6  # 51 spans in batches of 10


def test_torn_last_line_ignored(receiver: OTLPReceiver, tmp_path: Path) -> None:
    """A last line cut by a crash is ignored with a warning and cut off, and its batch is sent again."""
    ledger = tmp_path / "replay.ledger"
    with OTLPReceiver() as first_receiver:
        run_cli("replay", SESSION_B_SPANS, "--endpoint", first_receiver.url, "--batch-size", "10", "--ledger", ledger)
    whole = ledger.read_bytes()
    ledger.write_bytes(whole[:-20])  # the last batch contains the 51st span only

    result = run_cli("replay", SESSION_B_SPANS, "--endpoint", receiver.url, "--ledger", ledger, "--json")

    assert result.exit_code == 0
    assert "Ignoring the incomplete last line of the ledger" in result.stderr
    assert len(receiver.received.spans()) == 1
    assert ledger.read_bytes().endswith(b"\n")
    assert len(ledger_lines(ledger)) == 1 + 6


def test_damaged_line_ignored(receiver: OTLPReceiver, tmp_path: Path) -> None:
    """A line whose checksum does not match is ignored with a warning, so its records are sent again."""
    ledger = tmp_path / "replay.ledger"
    with OTLPReceiver() as first_receiver:
        run_cli("replay", SESSION_B_SPANS, "--endpoint", first_receiver.url, "--batch-size", "10", "--ledger", ledger)
    lines = ledger_lines(ledger)
    damaged = lines[2][:20] + (b"0" if lines[2][20:21] != b"0" else b"1") + lines[2][21:]
    ledger.write_bytes(b"".join([*lines[:2], damaged, *lines[3:]]))

    result = run_cli("replay", SESSION_B_SPANS, "--endpoint", receiver.url, "--ledger", ledger)

    assert result.exit_code == 0
    assert "Ignoring line 3 of the ledger" in result.stderr
    assert len(receiver.received.spans()) == 10


def test_torn_header_restarts_ledger(receiver: OTLPReceiver, tmp_path: Path) -> None:
    """A ledger whose header a crash cut short lists nothing, so everything is sent and recorded."""
    ledger = tmp_path / "replay.ledger"
    ledger.write_bytes(HEADER[:7])

    result = run_cli("replay", SESSION_B_SPANS, "--endpoint", receiver.url, "--ledger", ledger)

    assert result.exit_code == 0, result.stderr
    assert len(receiver.received.spans()) == SPAN_COUNT
    assert ledger_lines(ledger)[0] == HEADER
    assert len(ledger_lines(ledger)) == 2


def test_not_a_ledger_is_usage_error(receiver: OTLPReceiver, tmp_path: Path) -> None:
    """A --ledger file that another program wrote is left alone, and the run exits 2 before sending."""
    other = tmp_path / "notes.txt"
    other.write_bytes(b"my notes\n")

    result = run_cli("replay", SESSION_B_SPANS, "--endpoint", receiver.url, "--ledger", other)

    assert result.exit_code == 2
    assert "is not an otel-replay ledger" in result.stderr
    assert other.read_bytes() == b"my notes\n"
    assert receiver.received.traces == []


def test_failed_batch_not_recorded(tmp_path: Path) -> None:
    """A batch the receiver did not accept leaves the ledger with its header only."""
    ledger = tmp_path / "replay.ledger"
    with serving(logs_fail) as failing:
        run_cli("replay", SESSION_B_LOGS, "--endpoint", failing.url, "--ledger", ledger)

    assert ledger.read_bytes() == HEADER


def test_unwritable_ledger_fails_run(receiver: OTLPReceiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """When the ledger cannot be written, the delivered spans still count as sent, and the run exits 1."""
    ledger = tmp_path / "replay.ledger"
    Ledger.open(ledger).close()

    def disk_full(_descriptor: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("otel_replay.ledger.os.fsync", disk_full)
    result = run_cli("replay", SESSION_B_SPANS, "--endpoint", receiver.url, "--ledger", ledger, "--json")

    summary = json.loads(result.stdout)
    assert result.exit_code == 1
    assert summary["signals"]["traces"]["sent"] == SPAN_COUNT
    assert len(receiver.received.spans()) == SPAN_COUNT
    assert "cannot record a delivered batch: No space left on device" in result.stderr


def test_rerun_with_same_shift_sends_only_missing(receiver: OTLPReceiver, tmp_path: Path) -> None:
    """The ledger lists records as sent, so a rerun with the same --shift skips the shifted log records it delivered."""
    ledger = tmp_path / "replay.ledger"
    shift = ["--shift", "-2d"]
    with serving(spans_fail) as failing:
        first = run_cli(
            "replay", SESSION_B_SPANS, SESSION_B_LOGS, *shift, "--endpoint", failing.url, "--ledger", ledger
        )

    second = run_cli(
        "replay", SESSION_B_SPANS, SESSION_B_LOGS, *shift, "--endpoint", receiver.url, "--ledger", ledger, "--json"
    )

    signals = json.loads(second.stdout)["signals"]
    assert first.exit_code == 1
    assert second.exit_code == 0, second.stderr
    assert receiver.received.log_records() == []
    assert len(receiver.received.spans()) == SPAN_COUNT
    assert signals["logs"]["skipped_by_reason"] == {"already delivered": LOG_COUNT}


@pytest.mark.parametrize(
    ("option", "reason"),
    [
        (["--new-ids"], "--new-ids draws new random IDs"),
        (["--loop", "2"], "--loop sends each record more than once"),
        (["--shift-to-now"], "pass the same --shift DURATION instead"),
    ],
)
def test_ledger_rejects_changing_identities(
    receiver: OTLPReceiver, tmp_path: Path, option: list[str], reason: str
) -> None:
    """Options that give records new identities in every run cannot be resumed from a ledger."""
    ledger = tmp_path / "replay.ledger"

    result = run_cli("replay", SESSION_B_SPANS, *option, "--endpoint", receiver.url, "--ledger", ledger)

    assert result.exit_code == 2
    assert not ledger.exists()
    assert "--ledger cannot resume this run" in result.stderr
    assert reason in result.stderr
    assert receiver.received.traces == []
