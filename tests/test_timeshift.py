"""Time shift: duration and ISO 8601 parsing, offset planning, and exact nanosecond arithmetic."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from otel_replay.errors import RecordError, UsageError
from otel_replay.model import (
    EventData,
    LinkData,
    Location,
    LogData,
    MetricData,
    MetricKind,
    MetricPoint,
    ResourceData,
    ScopeData,
    SpanData,
)
from otel_replay.receiver import OTLPReceiver
from otel_replay.timeshift import (
    ORIGINAL_LOG_TIME,
    ORIGINAL_SPAN_START_TIME,
    AgeCheck,
    TimeOptions,
    TimeRange,
    TimeShift,
    format_duration,
    parse_duration,
    parse_instant,
    pass_offsets,
)
from tests.conftest import SESSION_B_SPANS, run_cli
from tests.otlp import load_json, ms_to_ns

BASE = 1_796_413_207_753_123_457  # 2026-12-04T19:40:07.753123457Z, more digits than a double can represent
SECOND = 1_000_000_000
HOUR = 3600 * SECOND
RESOURCE = ResourceData({"service.name": "checkout"})
SCOPE = ScopeData("tests")
HERE = Location(Path("test.json"), 0)


def _span(start: int, end: int, *, span_id: int = 0xB7, parent: int = 0, events: tuple[int, ...] = ()) -> SpanData:
    return SpanData(
        location=HERE,
        resource=RESOURCE,
        scope=SCOPE,
        name="GET /cart",
        trace_id=0x4BF92F3577B34DA6A3CE929D0E0E4736,
        span_id=span_id,
        parent_span_id=parent,
        start_time_unix_nano=start,
        end_time_unix_nano=end,
        events=[EventData(f"event {index}", time) for index, time in enumerate(events)],
        links=[LinkData(0x1, 0x2)],
    )


def _log(time: int, observed: int) -> LogData:
    return LogData(location=HERE, resource=RESOURCE, scope=SCOPE, time_unix_nano=time, observed_time_unix_nano=observed)


def _moved_span(shift: TimeShift, span: SpanData) -> SpanData:
    moved = shift.apply(span)
    assert isinstance(moved, SpanData)
    return moved


def _moved_log(shift: TimeShift, log: LogData) -> LogData:
    moved = shift.apply(log)
    assert isinstance(moved, LogData)
    return moved


@pytest.mark.parametrize(
    ("text", "nanos"),
    [
        ("-3h", -3 * HOUR),
        ("2d", 48 * HOUR),
        ("90m", 90 * 60 * SECOND),
        ("1h30m", 90 * 60 * SECOND),
        ("-45s", -45 * SECOND),
        ("+10s", 10 * SECOND),
        ("250ms", 250_000_000),
        ("1d2h3m4s5ms", ((26 * 60 + 3) * 60 + 4) * SECOND + 5_000_000),
        ("0s", 0),
        (" 7d ", 7 * 24 * HOUR),
    ],
)
def test_duration_table(text: str, nanos: int) -> None:
    """Each duration converts to the listed signed nanoseconds."""
    assert parse_duration(text) == nanos


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "expected a whole number and unit"),
        ("3", "expected a whole number and unit"),
        ("h", "expected a whole number and unit"),
        ("1.5h", "expected a whole number and unit"),
        ("3 h", "expected a whole number and unit"),
        ("1w", "expected a whole number and unit"),
        ("--3h", "expected a whole number and unit"),
        ("30m1h", "from days down to nanoseconds"),
        ("1h1h", "from days down to nanoseconds"),
    ],
)
def test_duration_rejects_bad_input(text: str, message: str) -> None:
    """Malformed durations raise a UsageError that shows the value and the expected form."""
    with pytest.raises(UsageError) as caught:
        parse_duration(text)

    assert message in str(caught.value)
    assert repr(text) in str(caught.value)


@pytest.mark.parametrize(
    ("text", "nanos"),
    [
        ("1970-01-01T00:00:00Z", 0),
        ("2026-12-04T19:40:07Z", 1_796_413_207 * SECOND),
        ("2026-12-04T19:40:07.753123457Z", BASE),
        ("2026-12-04T19:40:07,5Z", 1_796_413_207 * SECOND + 500_000_000),
        ("2026-12-04T20:40:07+01:00", 1_796_413_207 * SECOND),
        ("2026-12-04T14:40:07-0500", 1_796_413_207 * SECOND),
        ("2026-12-04 19:40:07", 1_796_413_207 * SECOND),
        ("2026-12-04T19:40", 1_796_413_200 * SECOND),
        ("2026-12-04", 1_796_342_400 * SECOND),
    ],
)
def test_instant_table(text: str, nanos: int) -> None:
    """Each ISO 8601 time converts to the listed nanoseconds, UTC when no offset is given."""
    assert parse_instant(text, "--start-at") == nanos


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("yesterday", "expected an ISO 8601 time"),
        ("2026-13-01", "month must be in 1..12"),
        ("2026-02-30T00:00:00Z", "day is out of range"),
        ("2026-12-04T25:00:00Z", "hour must be in 0..23"),
        ("2026-12-04T19:40:07.1234567891Z", "expected an ISO 8601 time"),
        ("2026-12-04T19:40:07+24:00", "UTC offset +24:00 out of range"),
        ("1969-12-31T23:59:59Z", "cannot lie before 1970"),
    ],
)
def test_instant_rejects_bad_input(text: str, message: str) -> None:
    """Malformed or impossible times raise a UsageError naming the option and the problem."""
    with pytest.raises(UsageError) as caught:
        parse_instant(text, "--since")

    assert message in str(caught.value)
    assert str(caught.value).startswith(f"invalid --since value {text!r}")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--shift", "3x"], "invalid --shift value '3x'"),
        (["--start-at", "noon"], "invalid --start-at value 'noon'"),
        (["--since", "2026-12-04T20:00:00Z", "--until", "2026-12-04T19:00:00Z"], "is not before --until"),
        (["--shift-to-now", "--shift", "1h"], "--shift-to-now and --shift cannot be combined"),
        (["--shift-to-now", "--start-at", "2026-12-04"], "--shift-to-now and --start-at cannot be combined"),
        (["--shift", "1h", "--start-at", "2026-12-04"], "--shift and --start-at cannot be combined"),
        (["--trace-id", "xyz"], "invalid --trace-id 'xyz': expected 32 hexadecimal digits"),
        (["--trace-id", "0" * 32], "not all zero"),
        (["--pace", "slow"], "invalid --pace 'slow'"),
        (["--speed", "0", "--pace", "real"], "invalid --speed 0.0"),
        (["--speed", "2"], "--speed applies to --pace real only"),
        (["--rate", "-1"], "invalid --rate -1.0"),
        (["--loop", "0", "--dry-run"], "--loop 0 repeats until interrupted"),
    ],
)
def test_cli_usage_errors(args: list[str], message: str) -> None:
    """Bad time, pacing and filter options exit with status 2 and a message naming the fix."""
    result = run_cli("replay", SESSION_B_SPANS, "--endpoint", "http://127.0.0.1:9", *args)

    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_convert_rejects_combined_shifts(tmp_path: Path) -> None:
    """convert applies the same exclusivity rule as replay."""
    result = run_cli("convert", SESSION_B_SPANS, "-o", tmp_path / "out.jsonl", "--shift", "1h", "--shift-to-now")

    assert result.exit_code == 2
    assert "cannot be combined" in result.stderr


RANGE = TimeRange(
    oldest_unix_nano=1000 * SECOND, newest_unix_nano=1100 * SECOND, first_schedule_unix_nano=1010 * SECOND, records=5
)
NOW = 5000 * SECOND


@pytest.mark.parametrize(
    ("options", "loop", "paced", "expected"),
    [
        (TimeOptions(), 1, False, (0, 0)),
        (TimeOptions(), 3, False, (0, 100 * SECOND)),
        (TimeOptions(shift_nanos=-HOUR), 1, False, (-HOUR, 0)),
        (TimeOptions(shift_nanos=-HOUR), 2, True, (-HOUR, 100 * SECOND)),
        (TimeOptions(start_at_unix_nano=2000 * SECOND), 1, False, (1000 * SECOND, 0)),
        (TimeOptions(shift_to_now=True), 1, False, (3900 * SECOND, 0)),
        (TimeOptions(shift_to_now=True), 3, False, (3700 * SECOND, 100 * SECOND)),
        (TimeOptions(shift_to_now=True), 0, False, (3900 * SECOND, 100 * SECOND)),
        (TimeOptions(shift_to_now=True), 1, True, (3990 * SECOND, 0)),
        (TimeOptions(shift_to_now=True), 4, True, (3990 * SECOND, 100 * SECOND)),
    ],
)
def test_pass_offsets_table(options: TimeOptions, loop: int, paced: bool, expected: tuple[int, int]) -> None:
    """The first pass's offset and the step per pass follow the documented rule for each option."""
    assert pass_offsets(options, RANGE, NOW, loop=loop, paced=paced) == expected


def test_last_unpaced_pass_ends_at_now() -> None:
    """With --shift-to-now and --loop 3, the newest record of the last pass lands exactly at now."""
    first, step = pass_offsets(TimeOptions(shift_to_now=True), RANGE, NOW, loop=3, paced=False)

    assert RANGE.newest_unix_nano + first + 2 * step == NOW
    assert RANGE.newest_unix_nano + first + step <= RANGE.oldest_unix_nano + first + 2 * step


def test_single_instant_recording_still_steps() -> None:
    """A recording of one instant moves 1 ns per pass, so passes never share a time."""
    instant = TimeRange(BASE, BASE, BASE, 1)

    assert pass_offsets(TimeOptions(), instant, NOW, loop=2, paced=False) == (0, 1)


def test_empty_range_keeps_times() -> None:
    """Without records there is nothing to move to now, and the offset is 0."""
    assert pass_offsets(TimeOptions(shift_to_now=True), TimeRange(0, 0, 0, 0), NOW, loop=1, paced=False) == (0, 0)


def test_span_times_move_together() -> None:
    """Start, end and every event time move by the offset; IDs, links and names do not change."""
    span = _span(BASE, BASE + 5, events=(BASE + 1, BASE + 4))

    moved = TimeShift(-HOUR).apply(span)

    assert isinstance(moved, SpanData)
    assert moved.start_time_unix_nano == BASE - HOUR
    assert moved.end_time_unix_nano == BASE + 5 - HOUR
    assert [event.time_unix_nano for event in moved.events] == [BASE + 1 - HOUR, BASE + 4 - HOUR]
    assert (moved.trace_id, moved.span_id, moved.links) == (span.trace_id, span.span_id, span.links)
    assert ORIGINAL_SPAN_START_TIME not in moved.attributes


def test_unset_times_stay_unset() -> None:
    """A log record's observed time of 0 and a metric point's start time of 0 stay 0."""
    log = TimeShift(HOUR).apply(_log(BASE, 0))
    point = MetricPoint(start_time_unix_nano=0, time_unix_nano=BASE, value=3)
    metric = MetricData(HERE, RESOURCE, SCOPE, "queue.depth", MetricKind.GAUGE, [point])
    moved_metric = TimeShift(HOUR).apply(metric)

    assert isinstance(log, LogData)
    assert (log.time_unix_nano, log.observed_time_unix_nano) == (BASE + HOUR, 0)
    assert isinstance(moved_metric, MetricData)
    assert moved_metric.points[0].start_time_unix_nano == 0
    assert moved_metric.points[0].time_unix_nano == BASE + HOUR
    assert moved_metric.points[0].attributes == {}


def test_keep_original_time_attributes() -> None:
    """--keep-original-time puts the recorded start or time in an attribute of spans and log records."""
    shift = TimeShift(HOUR, keep_original_time=True)

    span = _moved_span(shift, _span(BASE, BASE + 5))
    log = _moved_log(shift, _log(BASE + 2, BASE + 3))

    assert span.attributes[ORIGINAL_SPAN_START_TIME] == BASE
    assert span.start_time_unix_nano == BASE + HOUR
    assert log.attributes[ORIGINAL_LOG_TIME] == BASE + 2
    assert log.time_unix_nano == BASE + 2 + HOUR


def test_shift_before_1970_is_a_record_error() -> None:
    """A time moved before the epoch raises a RecordError naming the field and the fix."""
    with pytest.raises(RecordError) as caught:
        TimeShift(-BASE - 1).apply(_span(BASE, BASE + 5))

    assert caught.value.field == "startTimeUnixNano"
    assert "smaller --shift" in caught.value.message


NANOS = st.integers(min_value=1, max_value=2**62)
OFFSETS = st.integers(min_value=-(2**61), max_value=2**61)


@given(
    start=NANOS,
    durations=st.lists(st.integers(min_value=0, max_value=10**15), min_size=4, max_size=4),
    log_times=st.lists(NANOS, min_size=1, max_size=6),
    offset=OFFSETS,
)
def test_shift_preserves_every_difference(start: int, durations: list[int], log_times: list[int], offset: int) -> None:
    """Parent/child, start/end, event offsets, log order and log-to-span gaps are the same after a shift."""
    parent_duration, child_start, child_duration, event_offset = durations
    parent = _span(start, start + parent_duration + child_start + child_duration, span_id=1)
    child_start_time = start + child_start
    child = _span(
        child_start_time, child_start_time + child_duration, span_id=2, parent=1, events=(start + event_offset,)
    )
    logs = [_log(time, time + 7) for time in log_times]
    times = [
        parent.start_time_unix_nano,
        parent.end_time_unix_nano,
        child.start_time_unix_nano,
        child.end_time_unix_nano,
        child.events[0].time_unix_nano,
        *(log.time_unix_nano for log in logs),
        *(log.observed_time_unix_nano for log in logs),
    ]
    if min(times) + offset <= 0 or max(times) + offset >= 2**64:
        return  # outside OTLP's range; test_shift_before_1970_is_a_record_error covers it
    shift = TimeShift(offset)

    moved_parent, moved_child = _moved_span(shift, parent), _moved_span(shift, child)
    moved_logs = [_moved_log(shift, log) for log in logs]
    moved_times = [
        moved_parent.start_time_unix_nano,
        moved_parent.end_time_unix_nano,
        moved_child.start_time_unix_nano,
        moved_child.end_time_unix_nano,
        moved_child.events[0].time_unix_nano,
        *(log.time_unix_nano for log in moved_logs),
        *(log.observed_time_unix_nano for log in moved_logs),
    ]

    for before, after in zip(times, moved_times, strict=True):
        assert after - before == offset
    pairs = [(a, b) for a in range(len(times)) for b in range(len(times))]
    assert all(moved_times[a] - moved_times[b] == times[a] - times[b] for a, b in pairs)
    assert sorted(range(len(times)), key=times.__getitem__) == sorted(range(len(times)), key=moved_times.__getitem__)


@given(
    newest=NANOS, span=st.integers(min_value=0, max_value=10**15), now=st.integers(min_value=10**18, max_value=2**62)
)
def test_newest_lands_at_now(newest: int, span: int, now: int) -> None:
    """With --shift-to-now, the newest time plus the offset is now, to the nanosecond."""
    oldest = max(newest - span, 1)
    time_range = TimeRange(oldest, newest, oldest, 3)

    offset, _ = pass_offsets(TimeOptions(shift_to_now=True), time_range, now, loop=1, paced=False)

    assert newest + offset == now
    assert oldest + offset == now - (newest - oldest)


DAY = 24 * HOUR
AGE_NOW = 30 * DAY  # late enough that records 9 days older still have a positive time


@pytest.mark.parametrize(
    ("records", "expected"),
    [
        ([_log(AGE_NOW - 8 * DAY, 0)], ["reject_old_samples_max_age: 168h"]),
        ([_log(AGE_NOW - 2 * HOUR, 0)], ["too_far_behind"]),
        ([_log(AGE_NOW - 30 * 60 * SECOND, 0)], []),
        ([_log(0, AGE_NOW - 2 * HOUR)], ["too_far_behind"]),
        ([_log(0, 0)], []),
        ([_span(AGE_NOW - 3 * HOUR, AGE_NOW - 2 * HOUR)], ["ingestion_time_range_slack"]),
        ([_span(AGE_NOW - 3 * HOUR, AGE_NOW - 10 * SECOND)], []),
        (
            [_log(AGE_NOW - 8 * DAY, 0), _log(AGE_NOW - 9 * DAY, 0), _log(AGE_NOW - 2 * HOUR, 0)],
            ["168h", "too_far_behind"],
        ),
        (
            [_span(AGE_NOW - 3 * HOUR, AGE_NOW - 2 * HOUR), _span(AGE_NOW - 5 * HOUR, AGE_NOW - 4 * HOUR)],
            ["ingestion_time_range_slack"],
        ),
    ],
)
def test_age_warnings_table(
    records: list[SpanData | LogData], expected: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    """Old records warn once per backend limit, naming the limit and --shift-to-now."""
    check = AgeCheck(AGE_NOW)

    for record in records:
        check.check(record)

    assert len(caplog.records) == len(expected)
    for record, limit in zip(caplog.records, expected, strict=True):
        assert limit in record.getMessage()
        assert "--shift-to-now" in record.getMessage()


def test_replay_warns_about_old_records(receiver: OTLPReceiver) -> None:
    """A replay of last week's spans without a shift warns once; with --shift-to-now it does not."""
    plain = run_cli("replay", SESSION_B_SPANS, "--endpoint", receiver.url)
    shifted = run_cli("replay", SESSION_B_SPANS, "--endpoint", receiver.url, "--shift-to-now")

    assert plain.stderr.count("ingestion_time_range_slack") == 1
    assert "ingestion_time_range_slack" not in shifted.stderr
    assert plain.exit_code == shifted.exit_code == 0


def test_convert_shifts_filters_and_renews_ids(tmp_path: Path, receiver: OTLPReceiver) -> None:
    """convert writes what replay would send with --shift, --name and --new-ids, and the output replays as written."""
    output = tmp_path / "shifted.jsonl"

    result = run_cli("convert", SESSION_B_SPANS, "-o", output, "--shift", "1h", "--name", "cli.boot", "--new-ids")

    assert result.exit_code == 0, result.stderr
    documents = [json.loads(line) for line in output.read_text().splitlines()]
    spans = [span for document in documents for span in document["resourceSpans"][0]["scopeSpans"][0]["spans"]]
    json_span = next(span for span in load_json(SESSION_B_SPANS)["spans"] if span["name"] == "cli.boot")
    assert len(spans) == 1
    assert int(spans[0]["startTimeUnixNano"]) == ms_to_ns(json_span["startTime"]) + HOUR
    assert int(spans[0]["endTimeUnixNano"]) == ms_to_ns(json_span["endTime"]) + HOUR
    assert spans[0]["traceId"] != json_span["traceId"]
    assert spans[0]["spanId"] != json_span["spanId"]

    replayed = run_cli("replay", output, "--endpoint", receiver.url)

    assert replayed.exit_code == 0
    assert receiver.received.spans()[0][2].start_time_unix_nano == int(spans[0]["startTimeUnixNano"])


@given(st.integers(min_value=-(2**64), max_value=2**64))
def test_formatted_duration_parses_back(nanos: int) -> None:
    """The offset a run reports is a --shift value that reproduces it to the nanosecond."""
    assert parse_duration(format_duration(nanos)) == nanos


def test_summary_reports_offset_to_reuse(receiver: OTLPReceiver) -> None:
    """A --shift-to-now run reports its offset, and a --shift run with that value sends the same times."""
    first = run_cli("replay", SESSION_B_SPANS, "--shift-to-now", "--endpoint", receiver.url, "--json")
    offset = json.loads(first.stdout)["time_offset_ns"]
    first_times = sorted(span.start_time_unix_nano for _, _, span in receiver.received.spans())

    with OTLPReceiver() as second_receiver:
        second = run_cli(
            "replay", SESSION_B_SPANS, f"--shift={format_duration(offset)}", "--endpoint", second_receiver.url
        )
        second_times = sorted(span.start_time_unix_nano for _, _, span in second_receiver.received.spans())

    assert first.exit_code == 0, first.stderr
    assert second.exit_code == 0, second.stderr
    assert f"pass --shift={format_duration(offset)}" in second.stderr
    assert second_times == first_times
