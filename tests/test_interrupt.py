"""Ctrl-C: SIGINT sent to a real CLI process while a receiver on 127.0.0.1 delays its response."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from otel_replay.receiver import OTLPReceiver
from tests.conftest import SESSION_B_SPANS, run_cli
from tests.faults import FaultServer, Reply, replies, serving
from tests.test_export_failures import SPAN_COUNT, count_spans

BATCH = 10
WAIT = 30  # seconds; a bound for a broken test, never reached by a passing one


class Replay:
    """`otel-replay replay` in a child process, with its stderr read line by line."""

    def __init__(self, endpoint: str, ledger: Path) -> None:
        arguments = [
            *(sys.executable, "-m", "otel_replay", "replay", str(SESSION_B_SPANS)),
            *("--endpoint", endpoint, "--batch-size", str(BATCH), "--ledger", str(ledger), "--json"),
        ]
        self.process = subprocess.Popen(arguments, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.put(line)

    def wait_for_line(self, text: str) -> str:
        """Return the first stderr line that contains `text`."""
        while True:
            line = self.lines.get(timeout=WAIT)
            if text in line:
                return line

    def interrupt(self) -> None:
        self.process.send_signal(signal.SIGINT)

    def finish(self) -> tuple[int, dict[str, object]]:
        """Wait for the process to exit; return its exit status and JSON summary."""
        stdout, _ = self.process.communicate(timeout=WAIT)
        return self.process.returncode, json.loads(stdout)


@pytest.fixture
def held() -> Iterator[tuple[FaultServer, threading.Event]]:
    """A receiver that holds every request until the test releases it, then accepts it."""
    release = threading.Event()
    with serving(replies(Reply(200, hold=release)), holds=[release]) as server:
        yield server, release


def test_first_interrupt_finishes_request(held: tuple[FaultServer, threading.Event], tmp_path: Path) -> None:
    """The first Ctrl-C lets the batch in flight finish, stops reading, prints the summary and exits 130."""
    server, release = held
    ledger = tmp_path / "replay.ledger"
    replay = Replay(server.url, ledger)
    assert server.arrived.wait(WAIT)

    replay.interrupt()
    replay.wait_for_line("Interrupted: finishing the request in flight")
    release.set()
    status, summary = replay.finish()

    traces = summary["signals"]["traces"]  # type: ignore[index]
    assert status == 130
    assert summary["exit_status"] == 130
    assert summary["interrupted"] is True
    assert traces == {**traces, "read": BATCH, "sent": BATCH, "failed": 0}
    assert [count_spans(request.body) for request in server.requests] == [BATCH]
    assert len(ledger.read_bytes().splitlines()) == 2


def test_second_interrupt_abandons_request(held: tuple[FaultServer, threading.Event], tmp_path: Path) -> None:
    """A second Ctrl-C abandons the batch in flight: it counts as failed (interrupted) and is not recorded."""
    server, _release = held
    ledger = tmp_path / "replay.ledger"
    replay = Replay(server.url, ledger)
    assert server.arrived.wait(WAIT)

    replay.interrupt()
    replay.wait_for_line("Interrupted: finishing the request in flight")
    replay.interrupt()
    status, summary = replay.finish()

    traces = summary["signals"]["traces"]  # type: ignore[index]
    assert status == 130
    assert traces == {**traces, "read": BATCH, "sent": 0, "failed": BATCH}
    assert traces["failed_by_reason"] == {"interrupted": BATCH}  # type: ignore[index]
    assert ledger.read_bytes() == b"otel-replay ledger 1\n"


def test_resume_after_interrupt(
    held: tuple[FaultServer, threading.Event], receiver: OTLPReceiver, tmp_path: Path
) -> None:
    """A rerun with the same ledger sends exactly the spans the interrupted run did not deliver."""
    server, release = held
    ledger = tmp_path / "replay.ledger"
    replay = Replay(server.url, ledger)
    assert server.arrived.wait(WAIT)
    replay.interrupt()
    replay.wait_for_line("Interrupted: finishing the request in flight")
    release.set()
    replay.finish()

    result = run_cli("replay", SESSION_B_SPANS, "--endpoint", receiver.url, "--ledger", ledger, "--json")

    traces = json.loads(result.stdout)["signals"]["traces"]
    first_ids = {span_id for request in server.requests for span_id in _span_ids(request.body)}
    second_ids = {span.span_id for _, _, span in receiver.received.spans()}
    assert result.exit_code == 0
    assert traces["skipped_by_reason"] == {"already delivered": BATCH}
    assert len(second_ids) == SPAN_COUNT - BATCH
    assert first_ids.isdisjoint(second_ids)
    assert "Interrupted" not in result.stderr


def _span_ids(body: bytes) -> list[bytes]:
    request = ExportTraceServiceRequest.FromString(body)
    return [
        span.span_id for resource in request.resource_spans for scope in resource.scope_spans for span in scope.spans
    ]


def test_interrupted_convert_keeps_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C during convert leaves an existing output file as it was and exits 130."""
    output = tmp_path / "converted.jsonl"
    output.write_text("earlier output\n", encoding="utf-8")

    def interrupt(*_arguments: object) -> None:
        raise KeyboardInterrupt  # where a SIGINT during conversion lands

    monkeypatch.setattr("otel_replay.write.OTLPJsonWriter.add", interrupt)
    result = run_cli("convert", SESSION_B_SPANS, "--output", output)

    assert result.exit_code == 130
    assert output.read_text(encoding="utf-8") == "earlier output\n"
    assert not (tmp_path / ".converted.jsonl.partial").exists()
    assert f"Interrupted: {output} was not written" in result.stderr
