"""The workers' scan of CodeMachine files and OTLP/JSON lines finds the same time range as the scan in one process."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from otel_replay import formats
from otel_replay.discover import discover
from otel_replay.filters import RecordFilter
from otel_replay.formats import codemachine, otlp_json
from otel_replay.model import Signal
from otel_replay.scan import ScanResult, scan_time_range
from otel_replay.workers import WorkerPool
from tests.conftest import CODEMACHINE
from tests.test_otlp_workers import _lines, _metrics_line, _write
from tests.test_workers import SPAN_TEXT, TASK_SPANS, _odd_trace_file

ALL_SIGNALS = frozenset(Signal)


def scan_in_workers(paths: list[Path], workers: int, signals: frozenset[Signal] = ALL_SIGNALS) -> ScanResult:
    pool = WorkerPool(workers)

    def read(file_format: formats.Format, path: Path) -> Iterator[object]:
        if file_format.name == codemachine.NAME:
            return pool.scan(path, signals)
        if file_format.name == otlp_json.NAME:
            return pool.scan_otlp_json(path, signals)
        return file_format.read(path)

    try:
        return scan_time_range(discover(paths), None, signals, RecordFilter(), read)
    finally:
        pool.close()


def scan_in_one_process(paths: list[Path], signals: frozenset[Signal] = ALL_SIGNALS) -> ScanResult:
    return scan_time_range(discover(paths), None, signals, RecordFilter())


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("signals", [ALL_SIGNALS, frozenset({Signal.TRACES}), frozenset({Signal.LOGS})])
def test_scan_bundled_files_like_one_process(workers: int, signals: frozenset[Signal]) -> None:
    """Spans with events, log records, metrics, duplicates and notices: the same range, count and first times."""
    expected = scan_in_one_process([CODEMACHINE / "traces"], signals)

    result = scan_in_workers([CODEMACHINE / "traces"], workers, signals)

    assert expected.time_range.records > 100
    assert result == expected


@pytest.mark.parametrize("odd", ["nested close", "lone surrogate", "not an object"])
@pytest.mark.parametrize("truncate", [False, True])
def test_scan_odd_records_like_one_process(tmp_path: Path, odd: str, *, truncate: bool) -> None:
    """Texts cut wrong, records that orjson rejects and truncated files are scanned as in one process."""
    path = _odd_trace_file(tmp_path / "traces.json", odd, truncate=truncate)
    expected = scan_in_one_process([path])

    result = scan_in_workers([path], 2)

    assert expected.time_range.records > TASK_SPANS
    assert result == expected


def test_scan_counts_events_and_leaves_out_invalid(tmp_path: Path) -> None:
    """An event after its span's end sets the newest time. Invalid spans and spans nested too deeply are not counted."""
    spans = [json.loads(SPAN_TEXT.replace("SPAN_ID", f"{number + 1:016x}")) for number in range(3 * TASK_SPANS)]
    spans[5]["events"] = [{"name": "late", "time": 1896218006550.123, "attributes": {}}]
    spans[6]["startTime"] = 1596218006549  # the oldest time, in an invalid span
    spans[6]["traceId"] = "not hexadecimal"
    deep: object = "leaf"
    for _ in range(40):
        deep = [deep]
    spans[7]["attributes"] = {"deep": deep}
    spans[8]["startTime"] = 1696218006549.25  # the oldest valid time, which takes the full path
    path = tmp_path / "traces.json"
    path.write_text(json.dumps({"version": 1, "service": "generated", "spans": spans}, indent=2), encoding="utf-8")
    expected = scan_in_one_process([path])

    result = scan_in_workers([path], 2)

    assert result == expected
    assert result.time_range.newest_unix_nano == 1896218006550123000
    assert result.time_range.oldest_unix_nano == 1696218006549250000
    assert result.time_range.records == len(spans) - 2


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("odd", [False, True])
def test_scan_otlp_lines_like_one_process(tmp_path: Path, workers: int, *, odd: bool) -> None:
    """Spans, log records and metrics in lines, with invalid lines that this process reads itself."""
    spans = _lines("traces", odd=odd)
    logs = _lines("logs", odd=odd, seed=8)
    # A span whose event comes long after its end, and which starts first.
    early = {"traceId": "1" * 32, "spanId": "2" * 16, "startTimeUnixNano": "1000", "endTimeUnixNano": "2000"}
    early["events"] = [{"timeUnixNano": "4102444800000000000", "name": "late"}]
    early_line = json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [early]}]}]})
    lines = [*spans[:200], *logs[:200], _metrics_line(1), early_line, *spans[200:], _metrics_line(2), *logs[200:]]
    path = _write(tmp_path / "mixed.jsonl", lines, truncate=odd)
    expected = scan_in_one_process([path])

    result = scan_in_workers([path], workers)

    assert expected.time_range.records > 1000
    assert expected.time_range.oldest_unix_nano == 1000
    assert expected.time_range.newest_unix_nano == 4102444800000000000
    assert result == expected
    for signals in (frozenset({Signal.LOGS}), frozenset({Signal.METRICS})):
        assert scan_in_workers([path], workers, signals) == scan_in_one_process([path], signals)
