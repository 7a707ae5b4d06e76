"""Replaying with worker processes sends the same requests and summary as replaying in one process."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest

from otel_replay.model import Signal
from otel_replay.receiver import OTLPReceiver
from otel_replay.workers import IN_FLIGHT_PER_WORKER, TASK_CHARS, TASK_RECORDS, WorkerPool
from tests.conftest import CODEMACHINE, SESSION_B_SPANS, run_cli

SPAN_TEXT = """{
      "name": "agent.tool.Bash",
      "traceId": "9243e8d490877e82a91f0d57dcc3fbca",
      "spanId": "SPAN_ID",
      "startTime": 1796218006549,
      "endTime": 1796218006550.2722,
      "status": {"code": 1},
      "attributes": {"tool.name": "Bash"},
      "events": []
    }"""
# Records of SPAN_TEXT's size that one task's text holds, so that generated files span several tasks.
TASK_SPANS = TASK_CHARS // len(SPAN_TEXT)


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


def _reference(receiver: OTLPReceiver, *args: str | Path) -> tuple[list[bytes], dict[str, object], str]:
    """Replay in one process, record by record, with the official encoders: the reference for the workers."""
    with mock.patch.dict(os.environ, {"OTEL_REPLAY_ENCODER": "sdk"}):
        return _replay(receiver, *args, "--workers", "1")


@pytest.mark.parametrize("workers", ["1", "2"])
@pytest.mark.parametrize("batch_size", ["512", "7"])
def test_workers_send_same_requests(receiver: OTLPReceiver, batch_size: str, workers: str) -> None:
    """The bundled CodeMachine files (duplicates, notices, several resources) give the same bytes."""
    serial = _reference(receiver, CODEMACHINE / "traces", "--batch-size", batch_size)
    parallel = _replay(receiver, CODEMACHINE / "traces", "--workers", workers, "--batch-size", batch_size)

    assert len(serial[0]) > 3
    assert parallel[0] == serial[0]


def test_workers_same_summary_and_warnings(receiver: OTLPReceiver) -> None:
    """Counts, skipped reasons, orphans and the warnings on stderr are the same with workers."""
    serial = _reference(receiver, CODEMACHINE / "traces")
    parallel = _replay(receiver, CODEMACHINE / "traces", "--workers", "3")

    assert parallel[1] == serial[1]
    assert sorted(parallel[2].splitlines()) == sorted(serial[2].splitlines())


@pytest.mark.parametrize(
    "options",
    [
        ["--name", "cli.*"],
        ["--since", "2026-12-04T19:40:08Z", "--until", "2026-12-04T19:44:00Z"],
        ["--trace-id", "2a020191f1d4cd2af6d84c5aaf8e3f51"],
    ],
)
def test_workers_filter_like_one_process(receiver: OTLPReceiver, options: list[str]) -> None:
    """Filters see the name and times of records that workers decoded."""
    serial = _reference(receiver, CODEMACHINE / "traces", *options)
    parallel = _replay(receiver, CODEMACHINE / "traces", *options, "--workers", "2")

    assert parallel[0] == serial[0]
    assert parallel[1] == serial[1]
    assert sorted(parallel[2].splitlines()) == sorted(serial[2].splitlines())


@pytest.mark.parametrize(
    "options",
    [
        ["--no-dedupe"],
        ["--resource-attribute", "deployment.environment=ci"],
        ["--signals", "logs,metrics"],
        ["--max-batch-bytes", "1024"],
        ["--rate", "100000"],
    ],
)
def test_workers_options_like_one_process(receiver: OTLPReceiver, options: list[str]) -> None:
    """Runs of records that workers encoded are deduplicated, overlaid, counted and split as single records are."""
    serial = _reference(receiver, CODEMACHINE / "traces", *options)
    parallel = _replay(receiver, CODEMACHINE / "traces", *options, "--workers", "2")

    assert parallel[0] == serial[0]
    assert parallel[1] == serial[1]
    assert sorted(parallel[2].splitlines()) == sorted(serial[2].splitlines())


@pytest.mark.parametrize("options", [["--shift", "-1d"], ["--shift", "90m", "--name", "cli.*"]])
def test_workers_move_times_for_shift(receiver: OTLPReceiver, options: list[str]) -> None:
    """--shift scans the input in the workers to check the moved times, then moves them there."""
    serial = _reference(receiver, CODEMACHINE / "traces", *options)
    parallel = _replay(receiver, CODEMACHINE / "traces", *options, "--workers", "2")

    assert parallel[0] == serial[0]
    assert parallel[1] == serial[1]
    assert "has no effect" not in parallel[2]


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        (["--new-ids"], "--new-ids"),
        (["--keep-original-time", "--shift", "1h"], "--keep-original-time"),
        (["--loop", "2"], "--loop"),
        (["--shift", "1h", "--ledger", "LEDGER"], "a time shift and --ledger"),
    ],
)
def test_workers_warning_names_reason(tmp_path: Path, receiver: OTLPReceiver, options: list[str], reason: str) -> None:
    """The warning that --workers has no effect names the option that made it so."""
    options = [str(tmp_path / "replay.ledger") if option == "LEDGER" else option for option in options]
    parallel = _replay(receiver, CODEMACHINE / "traces", *options, "--workers", "2")

    assert f"--workers 2 has no effect with {reason}" in parallel[2]
    assert parallel[1]["exit_status"] == 0


@pytest.mark.parametrize("workers", ["1", "2"])
@pytest.mark.parametrize(
    "options",
    [
        ["--start-at", "2027-01-01T00:00:00Z"],
        ["--start-at", "2001-02-03T04:05:06.123456789Z", "--signals", "traces,logs"],
        ["--start-at", "2027-01-01T00:00:00Z", "--name", "cli.*", "--no-dedupe"],
    ],
)
def test_workers_move_times_like_one_process(receiver: OTLPReceiver, options: list[str], workers: str) -> None:
    """The workers move every time by the scanned offset while encoding, as the one-process path does after reading."""
    serial = _reference(receiver, CODEMACHINE / "traces", *options)
    parallel = _replay(receiver, CODEMACHINE / "traces", *options, "--workers", workers)

    assert len(serial[0]) > 3
    assert parallel[0] == serial[0]
    assert parallel[1] == serial[1]
    assert sorted(parallel[2].splitlines()) == sorted(serial[2].splitlines())
    assert "has no effect" not in parallel[2]


def test_workers_shift_to_now_like_one_process(receiver: OTLPReceiver) -> None:
    """--shift-to-now with workers sends what one process sends when moving by the same offset."""
    parallel = _replay(receiver, CODEMACHINE / "traces", "--shift-to-now", "--workers", "2")
    offset = parallel[1]["time_offset_ns"]
    assert isinstance(offset, int)
    serial = _reference(receiver, CODEMACHINE / "traces", "--shift", f"{offset}ns")

    assert "has no effect" not in parallel[2]
    assert len(serial[0]) > 3
    assert parallel[0] == serial[0]


@pytest.mark.parametrize("workers", ["1", "2"])
def test_workers_leave_unselected_times_alone(tmp_path: Path, receiver: OTLPReceiver, workers: str) -> None:
    """A record of a signal not sent is not moved, even where the offset would move it out of range."""
    logs = {"version": 1, "service": "old", "logs": [{"timestamp": [0, 500_000_000], "body": "at the epoch"}]}
    (tmp_path / "old-logs.json").write_text(json.dumps(logs, indent=2), encoding="utf-8")
    spans = CODEMACHINE / "traces" / "2026-12-04" / "19-40-07.json"
    lines = tmp_path / "old-logs.jsonl"
    old_log = {"timeUnixNano": "500000000", "body": {"stringValue": "at the epoch"}}
    lines.write_text(json.dumps({"resourceLogs": [{"scopeLogs": [{"logRecords": [old_log]}]}]}) + "\n", "utf-8")
    options = [spans, tmp_path / "old-logs.json", lines, "--signals", "traces", "--start-at", "1971-01-01T00:00:00Z"]

    serial = _reference(receiver, *options)
    parallel = _replay(receiver, *options, "--workers", workers)

    signals = serial[1]["signals"]
    assert isinstance(signals, dict)
    assert signals["logs"]["skipped_by_reason"] == {"signal not selected": 2}
    assert parallel[0] == serial[0]
    assert parallel[1] == serial[1]
    assert "has no effect" not in parallel[2]


@pytest.mark.parametrize("workers", ["1", "2"])
def test_workers_leave_filtered_times_alone(tmp_path: Path, receiver: OTLPReceiver, workers: str) -> None:
    """A span that a filter leaves out counts as filtered, even where the offset would move it out of range."""
    spans = [json.loads(SPAN_TEXT.replace("SPAN_ID", f"{number + 1:016x}")) for number in range(3)]
    spans[1] |= {"name": "ancient", "startTime": 500, "endTime": 600}
    document = {"version": 1, "service": "generated", "spans": spans}
    path = tmp_path / "traces.json"
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")
    options = [path, "--name", "agent.*", "--start-at", "1971-01-01T00:00:00Z"]

    serial = _reference(receiver, *options)
    parallel = _replay(receiver, *options, "--workers", workers)

    signals = serial[1]["signals"]
    assert isinstance(signals, dict)
    assert signals["traces"]["skipped_by_reason"] == {"filtered": 1}
    assert serial[1]["exit_status"] == 0
    assert parallel[0] == serial[0]
    assert parallel[1] == serial[1]
    assert "has no effect" not in parallel[2]


def test_workers_out_of_range_offset(receiver: OTLPReceiver) -> None:
    """An offset that moves the oldest record to 1970 makes it invalid, as in one process, without workers."""
    options = ["--start-at", "1970-01-01T00:00:00Z"]
    serial = _reference(receiver, CODEMACHINE / "traces", *options)
    parallel = _replay(receiver, CODEMACHINE / "traces", *options, "--workers", "2")

    signals = serial[1]["signals"]
    assert isinstance(signals, dict)
    assert signals["traces"]["skipped_by_reason"]["invalid"] == 1
    assert parallel[0] == serial[0]
    assert parallel[1]["signals"] == signals
    assert "--workers 2 has no effect" in parallel[2]


def test_workers_truncated_file(tmp_path: Path, receiver: OTLPReceiver) -> None:
    """A truncated file sends its complete records and reports the file error with workers too."""
    path = tmp_path / SESSION_B_SPANS.name
    text = SESSION_B_SPANS.read_text(encoding="utf-8")
    path.write_text(text[: len(text) // 2], encoding="utf-8")

    serial = _reference(receiver, path)
    parallel = _replay(receiver, path, "--workers", "2")

    assert parallel[0] == serial[0]
    assert parallel[1] == serial[1]
    assert serial[1]["file_errors"] == 1


def test_workers_console_script(receiver: OTLPReceiver) -> None:
    """The installed command, where the workers are forked, sends the same requests as one process."""
    command = [str(Path(sys.executable).parent / "otel-replay"), "replay", str(CODEMACHINE / "traces")]
    options = ["--endpoint", receiver.url, "--quiet"]
    reference = {**os.environ, "OTEL_REPLAY_ENCODER": "sdk"}
    serial = subprocess.run([*command, *options, "--workers", "1"], capture_output=True, check=False, env=reference)
    serial_requests = [request.SerializeToString() for request in receiver.received.traces + receiver.received.logs]
    receiver.received.traces.clear()
    receiver.received.logs.clear()
    parallel = subprocess.run([*command, *options, "--workers", "2"], capture_output=True, check=False)
    parallel_requests = [request.SerializeToString() for request in receiver.received.traces + receiver.received.logs]

    assert serial.returncode == 0, serial.stderr
    assert parallel.returncode == 0, parallel.stderr
    assert parallel_requests == serial_requests


class _CountingTexts:
    """Elements one at a time, as `RecordTexts.next_texts` gives them after a recheck, counting those handed out."""

    separator = None

    def __init__(self, count: int) -> None:
        self.count = count
        self.handed_out = 0

    def next_texts(self, size: int) -> tuple[str, int] | None:
        if self.handed_out == self.count:
            return None
        self.handed_out += 1
        return SPAN_TEXT.replace("SPAN_ID", f"{self.handed_out:016x}"), 1

    def recheck_from(self, index: int) -> None:
        raise AssertionError(index)


def test_read_ahead_is_bounded() -> None:
    """The pool takes at most its in-flight tasks plus one ahead of the records handed out."""
    texts = _CountingTexts(50 * TASK_RECORDS)
    pool = WorkerPool(2)
    try:
        records = pool.decode(Path("generated.json"), "spans", "service", texts)  # type: ignore[arg-type]
        first = next(records)
    finally:
        pool.close()

    assert first.signal is Signal.TRACES
    assert texts.handed_out <= (2 * IN_FLIGHT_PER_WORKER + 1) * TASK_RECORDS


def _odd_trace_file(path: Path, odd: str, *, truncate: bool = False) -> Path:
    """Write a CodeMachine trace file of many spans, several tasks long, with one odd record in the fifth task."""
    spans = [json.loads(SPAN_TEXT.replace("SPAN_ID", f"{number + 1:016x}")) for number in range(6 * TASK_SPANS)]
    spans[4 * TASK_SPANS + 7]["name"] = "ODD"
    document = {"version": 1, "service": "generated", "spanCount": len(spans), "spans": spans}
    text = json.dumps(document, indent=2)
    if odd == "nested close":
        # A nested object that closes at the record's own indentation: valid JSON, but the
        # cut at the record's closing line ends inside the record.
        text = text.replace('"name": "ODD"', '"name": "ODD",\n      "nested": {\n        "a": 1\n    },\n      "b": 2')
    elif odd == "lone surrogate":
        text = text.replace('"name": "ODD"', '"name": "ODD \\ud83d"')
    elif odd == "not an object":
        text = text.replace('"name": "ODD"', '"name": "ODD"\n    },\n    "a string", 7, [],\n    {\n      "x": 1')
    if truncate:
        text = text[: text.index('"name": "ODD') + 5000]
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("odd", ["nested close", "lone surrogate", "not an object"])
@pytest.mark.parametrize("truncate", [False, True])
def test_workers_record_cut_wrong(tmp_path: Path, receiver: OTLPReceiver, odd: str, *, truncate: bool) -> None:
    """A record whose text the main process cut wrong or orjson rejects is read again, as in one process."""
    path = _odd_trace_file(tmp_path / "traces.json", odd, truncate=truncate)

    serial = _reference(receiver, path)
    parallel = _replay(receiver, path, "--workers", "2")

    assert len(serial[0]) >= 2
    assert parallel[0] == serial[0]
    assert parallel[1] == serial[1]
    assert parallel[2] == serial[2]
    assert serial[1]["file_errors"] == (1 if truncate else 0)


def test_workers_mix_plain_and_full_path(tmp_path: Path, receiver: OTLPReceiver) -> None:
    """Plain spans and spans that need a skip, a notice or an exact time keep their order and bytes."""
    spans = [json.loads(SPAN_TEXT.replace("SPAN_ID", f"{number + 1:016x}")) for number in range(3 * TASK_SPANS)]
    spans[10]["traceId"] = "0x" + "1" * 30
    spans[11]["attributes"] = {"big": 2**64, "list": [1, "a"], "nested": {"a": None}}
    spans[12]["name"] = "ODD \ud83d"
    spans[13]["status"] = {"code": True}
    spans[14]["events"] = [{"name": "e", "time": 1796218006550.5, "attributes": {"n": -0.0}}]
    spans[15]["parentSpanId"] = "0000000000000000"
    spans[TASK_SPANS]["startTime"] = "soon"
    document = {"version": 1, "service": "generated", "spanCount": len(spans), "spans": spans}
    # A time with more digits than a float keeps, in the first record only.
    text = json.dumps(document, indent=2).replace(
        '"startTime": 1796218006549,', '"startTime": 1796218006549.123456789,', 1
    )
    path = tmp_path / "traces.json"
    path.write_text(text, encoding="utf-8")

    serial = _reference(receiver, path)
    parallel = _replay(receiver, path, "--workers", "2")

    assert serial[1]["signals"]["traces"]["skipped_by_reason"] == {"invalid": 3}  # type: ignore[index]
    assert "surrogate" in serial[2]
    assert parallel[0] == serial[0]
    assert parallel[1] == serial[1]
    assert parallel[2] == serial[2]


def test_workers_count_orphans_across_tasks(tmp_path: Path, receiver: OTLPReceiver) -> None:
    """Parents in the same task, in earlier or later tasks, or nowhere count as one process counts them."""
    count = 3 * TASK_SPANS
    spans = [json.loads(SPAN_TEXT.replace("SPAN_ID", f"{number + 1:016x}")) for number in range(count)]
    for number, span in enumerate(spans):
        if number % 5 == 1:
            span["parentSpanId"] = f"{number:016x}"  # the span before it, mostly in the same task
        elif number % 5 == 2:
            span["parentSpanId"] = f"{(number + TASK_SPANS) % count + 1:016x}"  # a span of another task
        elif number % 5 == 3:
            span["parentSpanId"] = f"{count + number:016x}"  # no span of the file
    document = {"version": 1, "service": "generated", "spanCount": count, "spans": spans}
    path = tmp_path / "traces.json"
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")

    serial = _reference(receiver, path)
    parallel = _replay(receiver, path, "--workers", "2")

    orphans = sum(1 for number in range(count) if number % 5 == 3)
    assert serial[1]["signals"]["traces"]["orphan_spans"] == orphans  # type: ignore[index]
    assert parallel[1] == serial[1]
    assert parallel[0] == serial[0]


def test_workers_with_ledger_skip_delivered(tmp_path: Path, receiver: OTLPReceiver) -> None:
    """A ledger, which looks at each record, gets the same records from the workers as from one process."""
    serial = _reference(receiver, CODEMACHINE / "traces", "--ledger", tmp_path / "serial.ledger")
    parallel = _replay(receiver, CODEMACHINE / "traces", "--workers", "2", "--ledger", tmp_path / "parallel.ledger")
    rerun = _replay(receiver, CODEMACHINE / "traces", "--workers", "2", "--ledger", tmp_path / "parallel.ledger")

    assert parallel[0] == serial[0]
    assert parallel[1]["signals"] == serial[1]["signals"]
    assert rerun[0] == []
    skipped = {signal: counts["skipped_by_reason"] for signal, counts in rerun[1]["signals"].items()}  # type: ignore[attr-defined]
    sent = {signal: counts["sent"] for signal, counts in parallel[1]["signals"].items()}  # type: ignore[attr-defined]
    assert all(skipped[signal].get("already delivered") == sent[signal] for signal in sent if sent[signal])


@pytest.mark.parametrize("layout", ["crlf", "tabs", "bom", "indent 4", "compact"])
def test_workers_other_layouts(tmp_path: Path, receiver: OTLPReceiver, layout: str) -> None:
    """Files written with other line ends, indentation or a byte order mark give the reference's requests."""
    spans = [json.loads(SPAN_TEXT.replace("SPAN_ID", f"{number + 1:016x}")) for number in range(2 * TASK_SPANS)]
    spans[5]["startTime"] = 1796218006549.123456789  # more digits than a double keeps
    document = {"version": 1, "service": "generated", "spanCount": len(spans), "spans": spans}
    indent: str | int | None = {"tabs": "\t", "indent 4": 4, "compact": None}.get(layout, 2)
    text = json.dumps(document, indent=indent)
    if layout == "crlf":
        text = text.replace("\n", "\r\n")
    path = tmp_path / "traces.json"
    path.write_bytes(("\ufeff" if layout == "bom" else "").encode() + text.encode())

    serial = _reference(receiver, path)
    for workers in ("1", "2"):
        parallel = _replay(receiver, path, "--workers", workers)

        assert parallel[0] == serial[0]
        assert parallel[1] == serial[1]
        assert parallel[2] == serial[2]
    assert serial[1]["signals"]["traces"]["sent"] == len(spans)  # type: ignore[index]


@pytest.mark.parametrize("case", ["large record", "gzip", "empty"])
def test_workers_large_compressed_or_empty(tmp_path: Path, receiver: OTLPReceiver, case: str) -> None:
    """A record longer than a task's text, a gzip file and an empty array give the reference's results."""
    count = 0 if case == "empty" else 2 * TASK_SPANS
    spans = [json.loads(SPAN_TEXT.replace("SPAN_ID", f"{number + 1:016x}")) for number in range(count)]
    if case == "large record":
        spans[TASK_SPANS // 2]["attributes"] = {"output": "x" * (2 * TASK_CHARS)}
    document = {"version": 1, "service": "generated", "spanCount": len(spans), "spans": spans}
    data = json.dumps(document, indent=2).encode()
    path = tmp_path / ("traces.json.gz" if case == "gzip" else "traces.json")
    path.write_bytes(gzip.compress(data) if case == "gzip" else data)

    serial = _reference(receiver, path)
    for workers in ("1", "2"):
        parallel = _replay(receiver, path, "--workers", workers)

        assert parallel[0] == serial[0]
        assert parallel[1] == serial[1]
        assert parallel[2] == serial[2]
    assert serial[1]["signals"]["traces"]["sent"] == count  # type: ignore[index]
