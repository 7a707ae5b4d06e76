"""Filters: which records each option keeps, and that every record left out is counted as filtered."""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path
from typing import Any

import pytest

from otel_replay.filters import RecordFilter
from otel_replay.model import Location, LogData, MetricData, MetricKind, MetricPoint, ResourceData, ScopeData, SpanData
from otel_replay.receiver import OTLPReceiver
from tests.conftest import SESSION_B_LOGS, SESSION_B_SPANS, run_cli
from tests.otlp import load_json, ms_to_ns

T1 = 0x2A020191F1D4CD2AF6D84C5AAF8E3F51
T2 = 0x435FD2EB94E6AA40CD44A8351158EC91
BASE = 1_796_413_207_000_000_000
CHECKOUT = ResourceData({"service.name": "checkout"})
PAYMENTS = ResourceData({"service.name": "payments"})
UNNAMED = ResourceData({})
SCOPE = ScopeData()
HERE = Location(Path("test.json"), 0)


def _span(trace_id: int = T1, name: str = "cli.boot", start: int = BASE, resource: ResourceData = CHECKOUT) -> SpanData:
    return SpanData(HERE, resource, SCOPE, name, trace_id, 0xB7, 0, start, start + 10)


def _log(trace_id: int = T1, time: int = BASE, resource: ResourceData = CHECKOUT, observed: int = 0) -> LogData:
    return LogData(HERE, resource, SCOPE, time, observed, trace_id=trace_id, span_id=0xB7 if trace_id else 0)


def _metric(name: str = "cli.count", times: tuple[int, ...] = (BASE,), resource: ResourceData = CHECKOUT) -> MetricData:
    points = [MetricPoint(0, time, value=index) for index, time in enumerate(times)]
    return MetricData(HERE, resource, SCOPE, name, MetricKind.GAUGE, points)


@pytest.mark.parametrize(
    ("record_filter", "record", "kept"),
    [
        (RecordFilter(), _span(), True),
        (RecordFilter(trace_ids={T1}), _span(T1), True),
        (RecordFilter(trace_ids={T1}), _span(T2), False),
        (RecordFilter(trace_ids={T1, T2}), _span(T2), True),
        (RecordFilter(trace_ids={T1}), _log(T1), True),
        (RecordFilter(trace_ids={T1}), _log(T2), False),
        (RecordFilter(trace_ids={T1}), _log(0), False),
        (RecordFilter(services={"checkout"}), _span(), True),
        (RecordFilter(services={"checkout"}), _span(resource=PAYMENTS), False),
        (RecordFilter(services={"checkout"}), _span(resource=UNNAMED), False),
        (RecordFilter(services={"checkout", "payments"}), _log(resource=PAYMENTS), True),
        (RecordFilter(since_unix_nano=BASE), _span(start=BASE), True),
        (RecordFilter(since_unix_nano=BASE), _span(start=BASE - 1), False),
        (RecordFilter(until_unix_nano=BASE), _span(start=BASE), False),
        (RecordFilter(until_unix_nano=BASE), _span(start=BASE - 1), True),
        (RecordFilter(since_unix_nano=BASE, until_unix_nano=BASE + 1), _log(time=BASE), True),
        (RecordFilter(since_unix_nano=BASE), _log(time=0, observed=BASE), True),
        (RecordFilter(since_unix_nano=BASE), _log(time=0, observed=BASE - 1), False),
        (RecordFilter(names=("cli.*",)), _span(name="cli.boot"), True),
        (RecordFilter(names=("cli.*",)), _span(name="agent.review"), False),
        (RecordFilter(names=("agent.*", "cli.b??t")), _span(name="cli.boot"), True),
        (RecordFilter(names=("CLI.*",)), _span(name="cli.boot"), False),
        (RecordFilter(names=("agent.*",)), _log(), True),
        (RecordFilter(names=("cli.*",), trace_ids={T2}), _span(T1, name="cli.boot"), False),
    ],
)
def test_span_and_log_table(record_filter: RecordFilter, record: SpanData | LogData, kept: bool) -> None:
    """Each filter keeps or drops the record as listed; all given filters must pass."""
    assert record_filter.keeps(record) is kept


@pytest.mark.parametrize(
    ("record_filter", "metric", "kept_points"),
    [
        (RecordFilter(), _metric(), 1),
        (RecordFilter(trace_ids={T1}), _metric(), 0),
        (RecordFilter(services={"payments"}), _metric(), 0),
        (RecordFilter(names=("cli.*",)), _metric("cli.count"), 1),
        (RecordFilter(names=("cli.*",)), _metric("queue.depth"), 0),
        (RecordFilter(since_unix_nano=BASE + 1), _metric(times=(BASE, BASE + 1, BASE + 2)), 2),
        (RecordFilter(until_unix_nano=BASE + 1), _metric(times=(BASE, BASE + 1, BASE + 2)), 1),
        (RecordFilter(since_unix_nano=BASE + 5), _metric(times=(BASE, BASE + 1)), 0),
    ],
)
def test_metric_point_table(record_filter: RecordFilter, metric: MetricData, kept_points: int) -> None:
    """Metrics are filtered per data point by time, and whole by service and name; --trace-id drops them."""
    selected = record_filter.select_points(metric)

    assert (0 if selected is None else len(selected.points)) == kept_points


def _replay(receiver: OTLPReceiver, *args: str | Path) -> dict[str, Any]:
    result = run_cli("replay", SESSION_B_SPANS, SESSION_B_LOGS, "--endpoint", receiver.url, "--json", *args)
    assert result.exit_code == 0, result.stderr
    summary: dict[str, Any] = json.loads(result.stdout)
    for counts in summary["signals"].values():
        assert counts["read"] == counts["sent"] + counts["skipped"] + counts["failed"]
    return summary


def _expect(summary: dict[str, Any], signal: str, sent: int, filtered: int) -> None:
    counts = summary["signals"][signal]
    assert (counts["sent"], counts["skipped_by_reason"].get("filtered", 0)) == (sent, filtered)


def test_trace_id_keeps_spans_and_logs_of_trace(receiver: OTLPReceiver) -> None:
    """--trace-id sends the trace's spans and the log records that carry its trace ID, and counts the rest."""
    spans, logs = load_json(SESSION_B_SPANS)["spans"], load_json(SESSION_B_LOGS)["logs"]
    selected = "2a020191f1d4cd2af6d84c5aaf8e3f51"
    expected_spans = sum(span["traceId"] == selected for span in spans)
    expected_logs = sum(log["attributes"].get("trace.id") == selected for log in logs)

    summary = _replay(receiver, "--trace-id", selected.upper())

    _expect(summary, "traces", expected_spans, len(spans) - expected_spans)
    _expect(summary, "logs", expected_logs, len(logs) - expected_logs)
    assert {span.trace_id.hex() for _, _, span in receiver.received.spans()} == {selected}
    assert {record.trace_id.hex() for _, _, record in receiver.received.log_records()} == {selected}


def test_repeated_trace_ids_are_combined(receiver: OTLPReceiver) -> None:
    """Two --trace-id options send the spans of both traces."""
    summary = _replay(
        receiver, "--trace-id", "2a020191f1d4cd2af6d84c5aaf8e3f51", "--trace-id", "435fd2eb94e6aa40cd44a8351158ec91"
    )

    _expect(summary, "traces", 40 + 3, 51 - 43)


@pytest.mark.parametrize(("service", "sent_spans"), [("codemachine", 51), ("checkout", 0)])
def test_service_filter(receiver: OTLPReceiver, service: str, sent_spans: int) -> None:
    """--service compares with the resource's service.name; nothing matching is not an error."""
    summary = _replay(receiver, "--service", service)

    _expect(summary, "traces", sent_spans, 51 - sent_spans)
    assert summary["exit_status"] == 0


def test_since_until_use_recorded_times(receiver: OTLPReceiver) -> None:
    """--since and --until compare span start times as recorded, even with a time shift."""
    spans = load_json(SESSION_B_SPANS)["spans"]
    since, until = 1_796_413_207_500_000_000, 1_796_413_208_000_000_000  # 19:40:07.5Z and 19:40:08Z
    expected = sum(since <= ms_to_ns(span["startTime"]) < until for span in spans)
    assert 0 < expected < len(spans)

    summary = _replay(
        receiver,
        "--since",
        "2026-12-04T19:40:07.5Z",
        "--until",
        "2026-12-04T20:40:08+01:00",
        "--shift",
        "-2d",
        "--signals",
        "traces",
    )

    _expect(summary, "traces", expected, len(spans) - expected)
    two_days = 2 * 86_400 * 1_000_000_000
    starts = [span.start_time_unix_nano + two_days for _, _, span in receiver.received.spans()]
    assert all(since <= start < until for start in starts)


def test_name_glob_selects_spans(receiver: OTLPReceiver) -> None:
    """--name matches span names with shell patterns; log records are not filtered by it."""
    spans = load_json(SESSION_B_SPANS)["spans"]
    expected = sum(fnmatch.fnmatchcase(span["name"], "cli.*") for span in spans)

    summary = _replay(receiver, "--name", "cli.*")

    _expect(summary, "traces", expected, len(spans) - expected)
    _expect(summary, "logs", 89, 0)
    assert all(span.name.startswith("cli.") for _, _, span in receiver.received.spans())


def test_filtered_count_in_table(receiver: OTLPReceiver) -> None:
    """The summary table names the filtered records in the skipped details."""
    result = run_cli("replay", SESSION_B_SPANS, "--endpoint", receiver.url, "--name", "cli.boot")

    assert result.exit_code == 0
    assert "50 filtered" in result.stderr


@pytest.mark.parametrize(("service", "warned"), [("checkout", True), ("codemachine", False)])
def test_no_match_warns(receiver: OTLPReceiver, service: str, warned: bool) -> None:
    """Filters that leave out every record log a warning, since that is most often a typo."""
    result = run_cli("replay", SESSION_B_SPANS, "--service", service, "--endpoint", receiver.url)

    assert result.exit_code == 0
    assert ("No record matched the filters" in result.stderr) is warned
