"""Replaying OTLP/JSON lines with worker processes sends the same requests and summary as one process."""

from __future__ import annotations

import gzip
import json
import os
import random
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from otel_replay import otlp_tasks
from otel_replay.encode import EncodedRun
from otel_replay.formats import otlp_json
from otel_replay.formats.limits import MAX_VALUE_DEPTH
from otel_replay.model import LogData, Notice, Skipped, SpanData
from otel_replay.otlp_tasks import TASK_CHARS
from otel_replay.receiver import OTLPReceiver
from otel_replay.workers import WorkerPool
from tests.conftest import run_cli
from tests.test_hostile_input import nested_otlp_value, otlp_line

BASE_NANO = 1_796_413_207_753_123_456
RESOURCES: list[dict[str, Any]] = [
    {"attributes": [{"key": "service.name", "value": {"stringValue": "checkout"}}]},
    {
        "attributes": [{"key": "service.name", "value": {"stringValue": "cart"}}],
        # Not carried, so the reader notes it the first time the file has this resource.
        "entityRefs": [{"type": "host", "idKeys": ["host.name"]}],
    },
    {"attributes": [{"key": "service.name", "value": {"stringValue": "payments"}}], "droppedAttributesCount": 2},
]
SCOPES: list[dict[str, Any]] = [
    {"name": "http"},
    {"name": "db", "version": "1.2.0", "attributes": [{"key": "pool", "value": {"intValue": "4"}}]},
]
LINES = 700  # about 4 KiB each, so a file makes about eleven tasks


def _span(rng: random.Random, trace: int, number: int) -> dict[str, Any]:
    span: dict[str, Any] = {
        "traceId": f"{trace:032x}",
        "spanId": f"{trace * 64 + number + 1:016x}",
        "name": f"operation-{number % 7}",
        "kind": rng.choice([1, 2, 3]),
        "startTimeUnixNano": str(BASE_NANO + number * 1_000_000),
        "endTimeUnixNano": str(BASE_NANO + number * 1_000_000 + 500_123),
        "attributes": [
            {"key": "http.status_code", "value": {"intValue": str(rng.choice([200, 404, 500]))}},
            {"key": "peer", "value": {"stringValue": f"host-{rng.randrange(5)}"}},
        ],
        "status": {"code": rng.choice([0, 1, 2])},
    }
    if number:
        # Some parents are in other lines, and so in other tasks, some nowhere.
        parent = rng.choice([trace * 64 + 1, trace * 64 + number, 0xDEAD00 + trace])
        span["parentSpanId"] = f"{parent:016x}"
    return span


def _log(rng: random.Random, trace: int, number: int) -> dict[str, Any]:
    return {
        "timeUnixNano": str(BASE_NANO + number * 1_000),
        "observedTimeUnixNano": str(BASE_NANO + number * 1_000 + 7),
        "severityNumber": rng.choice([5, 9, 17]),
        "severityText": "INFO",
        "body": {"stringValue": f"message {number % 11} of {trace}"},
        "attributes": [{"key": "attempt", "value": {"intValue": str(number % 3)}}],
        "traceId": f"{trace:032x}",
        "spanId": f"{trace * 64 + number + 1:016x}",
    }


def _request(rng: random.Random, signal: str, trace: int) -> dict[str, Any]:
    make = _span if signal == "traces" else _log
    records = "spans" if signal == "traces" else "logRecords"
    groups = []
    number = 0
    for resource in rng.sample(RESOURCES, rng.choice([1, 2])):
        scope_groups = []
        for scope in rng.sample(SCOPES, rng.choice([1, 2])):
            count = rng.randrange(3, 9)
            scope_groups.append({"scope": scope, records: [make(rng, trace, number + n) for n in range(count)]})
            number += count
        key = "scopeSpans" if signal == "traces" else "scopeLogs"
        groups.append({"resource": resource, key: scope_groups})
    return {"resourceSpans" if signal == "traces" else "resourceLogs": groups}


def _lines(signal: str, *, odd: bool = False, seed: int = 7) -> list[str]:
    """Return the lines of an OTLP/JSON lines file, with duplicate lines, and odd lines when `odd` is set."""
    rng = random.Random(seed)  # noqa: S311  # test data, not secrets
    lines = [json.dumps(_request(rng, signal, trace), separators=(",", ":")) for trace in range(1, LINES + 1)]
    for position in range(30, LINES, 97):
        lines.insert(position, lines[position - 20])  # a duplicate of a line of an earlier task
    if odd:
        # A lone surrogate escape, which orjson rejects, in a record and in a resource.
        lines[40] = lines[40].replace('"INFO"', '"IN\\ud800FO"').replace('"http"', '"ht\\udc00tp"')
        lines.insert(60, "")
        lines.insert(61, "   ")
        invalid_span = json.dumps(_request(rng, signal, 9999)).replace('"traceId": "', '"traceId": "zz', 1)
        lines.insert(120, invalid_span)
        lines.insert(150, '{"resourceSpans": [], "note": 1}')
        lines.insert(151, "{}")
        lines.insert(LINES // 2, '{"resourceSpans": [{"resource": ')  # not JSON: the rest is read in one process
    return lines


def _write(path: Path, lines: list[str], *, truncate: bool = False) -> Path:
    text = "\n".join(lines) + "\n"
    if truncate:
        text = text[: -len(lines[-1]) // 2]
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text, encoding="utf-8")
    return path


def _replay(receiver: OTLPReceiver, *args: str | Path) -> tuple[list[bytes], dict[str, object], str, int]:
    receiver.received.traces.clear()
    receiver.received.logs.clear()
    receiver.received.metrics.clear()
    result = run_cli("replay", *args, "--endpoint", receiver.url, "--json")
    requests = [
        request.SerializeToString()
        for request in receiver.received.traces + receiver.received.logs + receiver.received.metrics
    ]
    return requests, json.loads(result.stdout), result.stderr, result.exit_code


def _reference(receiver: OTLPReceiver, *args: str | Path) -> tuple[list[bytes], dict[str, object], str, int]:
    """Replay in one process, record by record, with the official encoders: the reference for the workers."""
    with mock.patch.dict(os.environ, {"OTEL_REPLAY_ENCODER": "sdk"}):
        return _replay(receiver, *args, "--workers", "1")


def _assert_like_one_process(receiver: OTLPReceiver, *args: str | Path) -> tuple[list[bytes], dict[str, object]]:
    serial = _reference(receiver, *args)
    assert serial[0]
    # One worker runs the tasks in the main process; two run them in worker processes.
    for workers in ("1", "2"):
        parallel = _replay(receiver, *args, "--workers", workers)

        assert parallel[0] == serial[0]
        assert parallel[1] == serial[1]
        assert parallel[2] == serial[2]
        assert parallel[3] == serial[3]
    return serial[0], serial[1]


@pytest.mark.parametrize("signal", ["traces", "logs"])
@pytest.mark.parametrize("batch_size", ["512", "7"])
def test_otlp_workers_send_same_requests(tmp_path: Path, receiver: OTLPReceiver, signal: str, batch_size: str) -> None:
    """Lines of several tasks, with duplicates, resources and scopes shared across tasks, give the same bytes."""
    lines = _lines(signal)
    path = _write(tmp_path / f"{signal}.jsonl", lines)
    # Log records repeat only across files, as CodeMachine's latest file repeats a session file.
    repeated = _write(tmp_path / f"{signal}-again.jsonl", lines[100:400])
    assert path.stat().st_size > 4 * TASK_CHARS

    _, summary = _assert_like_one_process(receiver, path, repeated, "--batch-size", batch_size)

    assert '"duplicate"' in json.dumps(summary)


@pytest.mark.parametrize("signal", ["traces", "logs"])
@pytest.mark.parametrize("odd", [False, True])
def test_otlp_workers_move_times(tmp_path: Path, receiver: OTLPReceiver, signal: str, *, odd: bool) -> None:
    """With a scanned offset, the workers move the times of plain and general-path records as one process does."""
    path = _write(tmp_path / f"{signal}.jsonl", _lines(signal, odd=odd))

    requests, summary = _assert_like_one_process(receiver, path, "--start-at", "2030-05-06T07:08:09.123456789Z")

    assert summary["time_offset_ns"] != 0
    assert len(requests) > 1


@pytest.mark.parametrize("signal", ["traces", "logs"])
@pytest.mark.parametrize("truncate", [False, True])
def test_otlp_workers_odd_lines(tmp_path: Path, receiver: OTLPReceiver, signal: str, *, truncate: bool) -> None:
    """Lone surrogates, blank lines, invalid records, ignored objects, a line that is not JSON and a
    truncated last line give the same requests, summary, warnings and exit status as one process."""
    path = _write(tmp_path / f"{signal}.jsonl", _lines(signal, odd=True), truncate=truncate)

    _assert_like_one_process(receiver, path)


@pytest.mark.parametrize(
    "odd",
    [
        "[{request}]",  # an array of documents
        "{request} {request}",  # two documents on one line
        "{request}\n{request}",  # a document across lines (the line break is inside it)
        ", {request}",
        "{request}\u00a0",  # a line that ends in a character that is not JSON whitespace
    ],
)
def test_otlp_workers_line_read_in_one_process(tmp_path: Path, receiver: OTLPReceiver, odd: str) -> None:
    """A line that is not one request on its own is left to the one-process reader, with all lines after it."""
    lines = _lines("traces")
    request = lines[500]
    if "\n" in odd:
        request = request.replace('"spans":', '\n"spans":', 1)
        odd = "{request}"
    lines.insert(400, odd.format(request=request))
    path = _write(tmp_path / "spans.jsonl", lines)

    _assert_like_one_process(receiver, path)


def test_otlp_workers_many_invalid_lines(tmp_path: Path, receiver: OTLPReceiver) -> None:
    """More invalid lines than the workers take back leave the rest of the file to one process, as it reads it."""
    lines = _lines("logs")
    for position in range(10, LINES, 25):
        lines.insert(position, lines[position][:-40])
    path = _write(tmp_path / "logs.jsonl", lines)

    _, summary = _assert_like_one_process(receiver, path)

    assert '"invalid": 28' in json.dumps(summary)


def test_otlp_workers_gzip(tmp_path: Path, receiver: OTLPReceiver) -> None:
    """A compressed file is cut into the same lines after decompression."""
    path = _write(tmp_path / "spans.jsonl.gz", _lines("traces", odd=True), truncate=True)

    _assert_like_one_process(receiver, path)


def test_otlp_workers_byte_order_mark(tmp_path: Path, receiver: OTLPReceiver) -> None:
    """A byte order mark and blank lines before the first request keep the line numbers and offsets."""
    path = tmp_path / "logs.jsonl"
    path.write_bytes(b"\xef\xbb\xbf\n \n" + _write(tmp_path / "plain.jsonl", _lines("logs", odd=True)).read_bytes())

    _assert_like_one_process(receiver, path)


def test_otlp_workers_invalid_utf8(tmp_path: Path, receiver: OTLPReceiver) -> None:
    """A byte that is not UTF-8 stops the reading after the same records, with the same error."""
    data = bytearray(_write(tmp_path / "spans.jsonl", _lines("traces")).read_bytes())
    data[len(data) * 2 // 3] = 0xFF
    path = tmp_path / "damaged.jsonl"
    path.write_bytes(bytes(data))

    _assert_like_one_process(receiver, path)


@pytest.mark.parametrize(
    "options",
    [
        ["--service", "cart"],
        ["--trace-id", f"{100:032x}"],
        ["--since", "2026-12-04T19:40:07.763Z"],  # a time in the middle of each request
        ["--name", "operation-3"],
    ],
)
def test_otlp_workers_filter_like_one_process(tmp_path: Path, receiver: OTLPReceiver, options: list[str]) -> None:
    """Filters look at each record that the workers decoded, as at the records of one process."""
    path = _write(tmp_path / "spans.jsonl", _lines("traces", odd=True))
    logs = _write(tmp_path / "logs.jsonl", _lines("logs"))

    _assert_like_one_process(receiver, path, logs, *options)


def _metrics_line(number: int) -> str:
    points = [{"asInt": str(number + point), "timeUnixNano": str(BASE_NANO + point)} for point in range(3)]
    metric = {"name": f"queue.depth.{number % 4}", "unit": "1", "gauge": {"dataPoints": points}}
    request = {"resourceMetrics": [{"resource": RESOURCES[number % 3], "scopeMetrics": [{"metrics": [metric]}]}]}
    return json.dumps(request)


def test_otlp_workers_mixed_signals(tmp_path: Path, receiver: OTLPReceiver) -> None:
    """Lines of spans, log records and metrics in one file keep their order, resources and counts."""
    lines = [line for pair in zip(_lines("traces"), _lines("logs", seed=8), strict=True) for line in pair]
    metrics_lines = range(5, len(lines), 50)
    for position in metrics_lines:
        lines.insert(position, _metrics_line(position))
    path = _write(tmp_path / "mixed.jsonl", lines)

    requests, summary = _assert_like_one_process(receiver, path)

    signals: Any = summary["signals"]
    assert len(requests) > 3
    assert signals["metrics"]["sent"] == 3 * len(metrics_lines)
    assert signals["logs"]["sent"] > 0


def test_otlp_workers_not_telemetry(tmp_path: Path, receiver: OTLPReceiver) -> None:
    """A file whose first line is not an export request is reported as in one process."""
    path = _write(tmp_path / "other.jsonl", ['{"name": "not a request"}', *_lines("traces")[:50]])

    serial = _reference(receiver, path, "--format", "otlp-json")
    parallel = _replay(receiver, path, "--workers", "2", "--format", "otlp-json")

    assert parallel == serial
    assert serial[3] != 0


def test_otlp_workers_encode_in_runs(tmp_path: Path) -> None:
    """The workers hand over most records as runs, in the order and numbering of the one-process reader."""
    path = _write(tmp_path / "spans.jsonl", _lines("traces", odd=True))
    expected = list(otlp_json.read(path))

    pool = WorkerPool(2, runs=True)
    try:
        items = list(pool.read_otlp_json(path))
    finally:
        pool.close()

    runs = [item for item in items if isinstance(item, EncodedRun)]
    not_json = [item for item in items if isinstance(item, Skipped) and "not valid JSON" in item.message]
    assert len(runs) > 10
    assert len(not_json) == 1
    # After the line that is not JSON, one process reads the next line and hands the rest back.
    assert runs[-1].start > (not_json[0].location.index or 0) + 1
    indexes: list[int] = []
    for item in items:
        if isinstance(item, EncodedRun):
            indexes.extend(range(item.start, item.start + item.record_count))
        elif isinstance(item, SpanData | LogData | Skipped):
            indexes.append(item.location.index or 0)
    expected_indexes = [item.location.index for item in expected if not isinstance(item, Notice)]
    assert indexes == expected_indexes
    assert [item for item in items if isinstance(item, Notice)] == [
        item for item in expected if isinstance(item, Notice)
    ]


class _CountingExecutor(ThreadPoolExecutor):
    """A one-thread executor that counts the tasks submitted to it."""

    def __init__(self) -> None:
        super().__init__(max_workers=1)
        self.submitted = 0

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        self.submitted += 1
        return super().submit(fn, *args, **kwargs)


def test_otlp_workers_read_ahead_is_bounded(tmp_path: Path) -> None:
    """The main process submits at most `max_in_flight` tasks ahead of the records handed out."""
    path = _write(tmp_path / "spans.jsonl", _lines("traces"))
    executor = _CountingExecutor()
    try:
        records = otlp_tasks.read(executor, path, runs=True, max_in_flight=3)
        first = next(records)
        records.close()
    finally:
        executor.shutdown()

    assert isinstance(first, EncodedRun)
    assert path.stat().st_size > 8 * TASK_CHARS
    assert executor.submitted == 3


def test_otlp_workers_without_executor(tmp_path: Path) -> None:
    """Without worker processes the file is read by the one-process reader itself."""
    path = _write(tmp_path / "logs.jsonl", _lines("logs", odd=True))

    items = list(otlp_tasks.read(None, path, runs=True, max_in_flight=3))
    expected = list(otlp_json.read(path))

    # Records compare their resources by identity, so they are compared by type and place.
    assert [(type(item), item.location) for item in items] == [(type(item), item.location) for item in expected]
    assert not any(isinstance(item, EncodedRun) for item in items)


@pytest.mark.parametrize("workers", ["1", "2"])
def test_otlp_workers_value_too_deep(tmp_path: Path, receiver: OTLPReceiver, workers: str) -> None:
    """A span whose attribute nests too deeply is skipped as invalid by the workers, as in one process."""
    deep = [{"key": "deep", "value": nested_otlp_value(MAX_VALUE_DEPTH + 1)}]
    path = _write(tmp_path / "deep.jsonl", [otlp_line(1), otlp_line(2, deep), otlp_line(3)])

    serial = _reference(receiver, path)
    parallel = _replay(receiver, path, "--workers", workers)

    assert serial[1]["signals"]["traces"]["skipped_by_reason"] == {"invalid": 1}  # type: ignore[index]
    assert parallel == serial


@pytest.mark.parametrize("runs", [True, False])
def test_otlp_task_takes_back_failed_line(monkeypatch: pytest.MonkeyPatch, *, runs: bool) -> None:
    """A line that fails inside the reader leaves no result behind, though its plain spans were added directly."""
    lines = _lines("traces")[:3]
    odd = json.loads(lines[1])
    spans = odd["resourceSpans"][0]["scopeSpans"][0]["spans"]
    spans.append({**spans[0], "unknownField": 1})  # after the plain spans: the general path takes it
    failing = json.dumps(odd)
    parse_record = otlp_json._parse_record

    def fail_on_unknown_field(*args: Any, **kwargs: Any) -> Any:
        if "unknownField" in args[2]:
            raise RuntimeError("a reader fault")
        return parse_record(*args, **kwargs)

    monkeypatch.setattr(otlp_json, "_parse_record", fail_on_unknown_field)
    path = Path("spans.jsonl")

    def task(text: str) -> otlp_tasks._TaskResult:
        return otlp_tasks._decode_task(path, text, 1, True, runs, 64 << 20, 0, None)

    first_only = task(lines[0] + "\n")
    with_failure = task(lines[0] + "\n" + failing + "\n" + lines[2] + "\n")

    assert with_failure.recheck == 2
    assert (with_failure.records, with_failure.documents) == (first_only.records, first_only.documents)
    assert repr(with_failure.results) == repr(first_only.results)
