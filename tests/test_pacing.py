"""Pacing on a controlled clock: waits for real pace, speed, rate and loop passes, flushing before each wait."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from otel_replay.export import BatchExporter, ExportSettings
from otel_replay.filters import RecordFilter
from otel_replay.merge import Stream, merge_by_time
from otel_replay.model import LogData, MetricData, Signal, SpanData
from otel_replay.pacing import PaceOptions, Pacer, schedule_time
from otel_replay.rebuild import Rebuilder
from otel_replay.receiver import OTLPReceiver
from otel_replay.replay import ReplayOptions, Sink, replay
from otel_replay.report import EXIT_INTERRUPTED, INTERRUPTED, Summary
from otel_replay.timeshift import TimeOptions
from tests.conftest import SESSION_B_SPANS, run_cli
from tests.recording import BASE_NANO, SECOND, Log, Point, Span, write_recording

START = 2_000_000_000 * SECOND  # the fake clock's start, 2033-05-18T03:33:20Z
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


class FakeClock:
    """A clock that moves only when slept on, recording every sleep."""

    def __init__(self, events: list[tuple[str, int]] | None = None) -> None:
        self.time = START
        self.sleeps: list[float] = []
        self.events = events if events is not None else []
        self.on_sleep: Callable[[], None] | None = None

    def now(self) -> int:
        return self.time

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.events.append(("sleep", self.time))
        if self.on_sleep is not None:
            self.on_sleep()
        self.time += round(seconds * SECOND)


class RecordingSink:
    """A sink that records what it is given, and when, on the fake clock."""

    def __init__(self, clock: FakeClock, summary: Summary) -> None:
        self.clock = clock
        self.summary = summary
        self.added: list[tuple[int, Signal, object]] = []
        self.queued = 0

    def add(self, signal: Signal, record: object) -> None:
        self.added.append((self.clock.now(), signal, record))
        self.queued += 1

    def flush(self) -> None:
        self.clock.events.append(("flush", self.clock.now()))
        for _, signal, record in self.added[len(self.added) - self.queued :]:
            self.summary.counts[signal].sent += len(record.points) if isinstance(record, MetricData) else 1
        self.queued = 0

    def close(self) -> None:
        self.flush()


def _pace(
    options: PaceOptions, schedule: list[int], sizes: list[int] | None = None
) -> tuple[list[int], FakeClock, int]:
    """Run the pacer over schedule times (ns after BASE_NANO); return send times (ns after START), clock, flushes."""
    clock = FakeClock()
    flushes: list[int] = []
    pacer = Pacer(options, clock, lambda: flushes.append(clock.now()))
    sent = []
    for index, offset in enumerate(schedule):
        pacer.wait(BASE_NANO + offset, (sizes or [1] * len(schedule))[index])
        sent.append(clock.now() - START)
    return sent, clock, len(flushes)


OUT_OF_ORDER = [0, 1 * SECOND, 3 * SECOND, 2 * SECOND, 3 * SECOND + SECOND // 2]


@pytest.mark.parametrize(
    ("speed", "sleeps", "sent"),
    [
        (1.0, [1.0, 2.0, 0.5], [0, SECOND, 3 * SECOND, 3 * SECOND, 3 * SECOND + SECOND // 2]),
        (2.0, [0.5, 1.0, 0.25], [0, SECOND // 2, 3 * SECOND // 2, 3 * SECOND // 2, 7 * SECOND // 4]),
        (0.5, [2.0, 4.0, 1.0], [0, 2 * SECOND, 6 * SECOND, 6 * SECOND, 7 * SECOND]),
    ],
)
def test_real_pace_waits_recorded_gaps(speed: float, sleeps: list[float], sent: list[int]) -> None:
    """Gaps are waited divided by the speed; a record out of order is sent at once, never waiting backwards."""
    send_times, clock, flushes = _pace(PaceOptions(real=True, speed=speed), OUT_OF_ORDER)

    assert clock.sleeps == sleeps
    assert send_times == sent
    assert flushes == len(sleeps)


def test_rate_spaces_records() -> None:
    """--rate 4 without --pace real sends one record every 0.25 s, whatever the record times."""
    send_times, clock, _ = _pace(PaceOptions(rate=4), [0, 0, 5 * SECOND, 0, 0])

    assert clock.sleeps == [0.25, 0.25, 0.25, 0.25]
    assert send_times == [0, SECOND // 4, SECOND // 2, 3 * SECOND // 4, SECOND]


def test_rate_and_real_pace_take_the_later_moment() -> None:
    """With both, a record waits for its recorded moment and for the rate cap, whichever is later."""
    send_times, clock, _ = _pace(PaceOptions(real=True, rate=2), [0, SECOND // 10, 2 * SECOND])

    assert send_times == [0, SECOND // 2, 2 * SECOND]
    assert clock.sleeps == [0.5, 1.5]


def test_short_waits_are_merged() -> None:
    """At --rate 1000 the pacer waits once per 50 records, so records share requests and the cap still holds."""
    send_times, clock, flushes = _pace(PaceOptions(rate=1000), [0] * 101)

    assert clock.sleeps == [0.05, 0.05]
    assert send_times == [0] * 50 + [SECOND // 20] * 50 + [SECOND // 10]
    assert flushes == 2


def test_real_pace_sends_close_records_together() -> None:
    """Records 10 ms apart go out together until one is 50 ms ahead, and none goes out late."""
    send_times, clock, _ = _pace(PaceOptions(real=True), [index * SECOND // 100 for index in range(12)])

    assert clock.sleeps == [0.05, 0.05]
    assert send_times == [0] * 5 + [SECOND // 20] * 5 + [SECOND // 10] * 2


def test_rate_counts_metric_points() -> None:
    """A metric of 3 data points uses 3 records of the rate, so the next record waits 3 s at --rate 1."""
    send_times, _, _ = _pace(PaceOptions(rate=1), [0, 0], sizes=[3, 1])

    assert send_times == [0, 3 * SECOND]


def test_fast_pace_never_waits() -> None:
    """Without --pace real or --rate the pacer neither sleeps nor flushes."""
    send_times, clock, flushes = _pace(PaceOptions(), OUT_OF_ORDER)

    assert clock.sleeps == []
    assert send_times == [0, 0, 0, 0, 0]
    assert flushes == 0


def _recording(tmp_path: Path) -> list[Path]:
    """Write a session as an SDK would: spans in the order they end, one file per signal."""
    spans = [
        Span(TRACE, "b7ad6b7169203331", "charge", start=SECOND, end=2 * SECOND, parent_span_id="00f067aa0ba902b7"),
        Span(TRACE, "00f067aa0ba902b7", "checkout", start=0, end=4 * SECOND, events=(SECOND,)),
    ]
    logs = [
        Log(SECOND // 2, "cart loaded", TRACE, "00f067aa0ba902b7"),
        Log(3 * SECOND, "charged", TRACE, "b7ad6b7169203331"),
    ]
    points = [Point("queue.depth", 5 * SECOND, 7)]
    return [
        write_recording(tmp_path / "spans.jsonl", spans=spans),
        write_recording(tmp_path / "logs.jsonl", logs=logs),
        write_recording(tmp_path / "metrics.jsonl", points=points),
    ]


def _replay_paced(tmp_path: Path, options: ReplayOptions, clock: FakeClock) -> tuple[Summary, RecordingSink]:
    sinks: list[RecordingSink] = []

    def build(summary: Summary, _: Rebuilder) -> Sink:
        sinks.append(RecordingSink(clock, summary))
        return sinks[0]

    summary = replay(_recording(tmp_path), options, build, clock=clock)
    return summary, sinks[0]


def _record_schedule(record: object) -> int:
    """Return the schedule time of a record that the sink received."""
    assert isinstance(record, (SpanData, LogData, MetricData))
    return schedule_time(record)


def test_paced_shift_lands_at_send_time(tmp_path: Path) -> None:
    """--pace real --shift-to-now --loop 2: each record's time is the moment it is sent, pass after pass."""
    options = ReplayOptions(time=TimeOptions(shift_to_now=True), pace=PaceOptions(real=True), loop=2)
    clock = FakeClock()

    summary, sink = _replay_paced(tmp_path, options, clock)

    assert summary.passes == 2
    assert len(sink.added) == 2 * 5
    for sent_at, _, record in sink.added:
        assert _record_schedule(record) == sent_at
    assert sink.added[0][0] == START
    assert [signal for _, signal, _ in sink.added[:5]] == [
        Signal.LOGS,
        Signal.TRACES,
        Signal.LOGS,
        Signal.TRACES,
        Signal.METRICS,
    ]
    duration = 5 * SECOND  # the oldest time (span start at 0) to the newest (the point at 5 s)
    first_pass = [_record_schedule(record) for _, _, record in sink.added[:5]]
    second_pass = [_record_schedule(record) for _, _, record in sink.added[5:]]
    assert [time + duration for time in first_pass] == second_pass


def test_pacer_flushes_before_each_wait(tmp_path: Path) -> None:
    """Every sleep follows a flush at the same moment, so no record waits in a half-full batch."""
    clock = FakeClock()

    _replay_paced(tmp_path, ReplayOptions(pace=PaceOptions(real=True)), clock)

    sleeps = [index for index, (event, _) in enumerate(clock.events) if event == "sleep"]
    assert sleeps
    for index in sleeps:
        assert clock.events[index - 1] == ("flush", clock.events[index][1])


def test_paced_batches_reach_receiver_before_wait(tmp_path: Path, receiver: OTLPReceiver) -> None:
    """With the real exporters, every record added before a wait has arrived when the wait begins."""
    clock = FakeClock()
    added_before_sleep: list[tuple[int, int]] = []

    def arrived() -> int:
        received = receiver.received
        return len(received.spans()) + len(received.log_records()) + len(received.metrics_received())

    summaries: list[Summary] = []

    def build(summary: Summary, rebuilder: Rebuilder) -> Sink:
        summaries.append(summary)
        settings = ExportSettings(endpoint=receiver.url, timeout=5.0)
        return BatchExporter(settings, frozenset(Signal), 512, summary, rebuilder)

    def on_sleep() -> None:
        counts = summaries[0].counts.values()
        added_before_sleep.append((sum(count.sent for count in counts), arrived()))

    clock.on_sleep = on_sleep
    replay(_recording(tmp_path), ReplayOptions(pace=PaceOptions(real=True)), build, clock=clock)

    assert len(added_before_sleep) == 4
    assert [arrived for _, arrived in added_before_sleep] == [1, 2, 3, 4]
    assert all(sent == arrived for sent, arrived in added_before_sleep)
    assert arrived() == 5


@pytest.mark.parametrize(("loop", "exit_status"), [(0, 0), (5, EXIT_INTERRUPTED)])
def test_interrupt_ends_with_summary(tmp_path: Path, loop: int, exit_status: int) -> None:
    """Ctrl-C during a wait ends the run with every record counted; only an endless loop exits 0."""
    clock = FakeClock()
    sleeps = 0

    def interrupt_on_sixth_sleep() -> None:
        nonlocal sleeps
        sleeps += 1
        if sleeps == 6:
            raise KeyboardInterrupt

    clock.on_sleep = interrupt_on_sixth_sleep
    options = ReplayOptions(pace=PaceOptions(real=True), loop=loop)

    summary, _ = _replay_paced(tmp_path, options, clock)

    assert summary.interrupted
    assert summary.passes == 1
    assert summary.exit_status == exit_status
    for counts in summary.counts.values():
        assert counts.read == counts.sent + sum(counts.skipped.values()) + counts.failed
    # The sixth wait is for the second pass's first span, after its first log record went out.
    assert summary.counts[Signal.TRACES].read == 3
    assert summary.counts[Signal.TRACES].sent == 2
    assert summary.counts[Signal.TRACES].failed == 1
    assert summary.counts[Signal.TRACES].failed_by_reason[INTERRUPTED] == 1
    assert summary.counts[Signal.LOGS].sent == 3


def test_filtered_records_are_not_paced(tmp_path: Path) -> None:
    """A filtered record neither waits nor is sent, so only records that go out are paced."""
    clock = FakeClock()
    options = ReplayOptions(pace=PaceOptions(real=True), record_filter=RecordFilter(names=("charge",)))

    summary, sink = _replay_paced(tmp_path, options, clock)

    assert [signal for _, signal, _ in sink.added] == [Signal.LOGS, Signal.TRACES, Signal.LOGS]
    assert clock.sleeps == [1.5, 1.0]
    assert summary.counts[Signal.TRACES].skipped["filtered"] == 1
    assert summary.counts[Signal.METRICS].skipped["filtered"] == 1


def test_cli_paced_loop_of_one_instant(tmp_path: Path, receiver: OTLPReceiver) -> None:
    """The CLI's --pace real --loop 3 on a one-instant recording sends 3 distinct passes, 1 ns apart."""
    path = write_recording(tmp_path / "instant.jsonl", [Span(TRACE, "00f067aa0ba902b7", "tick", start=0, end=0)])

    result = run_cli("replay", path, "--endpoint", receiver.url, "--pace", "real", "--loop", "3", "--new-ids", "--json")

    assert result.exit_code == 0, result.stderr
    spans = [span for _, _, span in receiver.received.spans()]
    assert [span.start_time_unix_nano - BASE_NANO for span in spans] == [0, 1, 2]
    assert len({span.trace_id for span in spans}) == 3
    assert '"passes": 3' in result.stdout


def _stream(name: str, times: list[int], opened: list[str]) -> Stream[str]:
    def open_file() -> Iterator[tuple[int, str]]:
        opened.append(name)
        for time in times:
            yield time, f"{name}{time}"

    return Stream(times[0], open_file)


@pytest.mark.parametrize(
    ("streams", "expected"),
    [
        ({"a": [0, 5, 10], "b": [3, 4, 20], "c": [100]}, ["a0", "b3", "b4", "a5", "a10", "b20", "c100"]),
        ({"a": [0, 10, 2], "b": [5]}, ["a0", "b5", "a10", "a2"]),
        ({"a": [7], "b": [7]}, ["a7", "b7"]),
        ({"a": [1]}, ["a1"]),
    ],
)
def test_merge_orders_by_time(streams: dict[str, list[int]], expected: list[str]) -> None:
    """Groups come out earliest first; a stream's own order is kept even when it goes backwards."""
    opened: list[str] = []

    merged = list(merge_by_time([_stream(name, times, opened) for name, times in streams.items()]))

    assert merged == expected


def test_merge_opens_files_when_their_time_comes() -> None:
    """A stream that starts later is opened only once the merge reaches its first time."""
    opened: list[str] = []
    merged = merge_by_time([_stream("a", [0, 5, 10], opened), _stream("c", [8], opened)])

    assert next(merged) == "a0"
    assert opened == ["a"]
    assert next(merged) == "a5"
    assert opened == ["a"]
    assert next(merged) == "c8"
    assert opened == ["a", "c"]


def test_first_record_in_file_sets_the_start(tmp_path: Path) -> None:
    """A file whose earliest record comes late in it starts at its first record; the earlier one goes out at once."""
    logs = write_recording(tmp_path / "logs.jsonl", logs=[Log(3 * SECOND, "late first"), Log(0, "early outlier")])
    spans = write_recording(
        tmp_path / "spans.jsonl", spans=[Span(TRACE, "00f067aa0ba902b7", "work", start=0, end=4 * SECOND)]
    )
    clock = FakeClock()
    sinks: list[RecordingSink] = []

    def build(summary: Summary, _: Rebuilder) -> Sink:
        sinks.append(RecordingSink(clock, summary))
        return sinks[0]

    replay([logs, spans], ReplayOptions(pace=PaceOptions(real=True)), build, clock=clock)

    assert clock.sleeps == [1.0]
    assert [sent_at - START for sent_at, _, _ in sinks[0].added] == [0, 0, SECOND]


def test_loop_reports_problems_once(receiver: OTLPReceiver) -> None:
    """A warning about the input is written once, not once per pass, and still counted per pass.

    The run's one age warning, that the spans are more than an hour old, counts once more.
    """
    result = run_cli("replay", SESSION_B_SPANS, "--endpoint", receiver.url, "--loop", "3", "--new-ids", "--json")

    assert result.exit_code == 0, result.stderr
    assert result.stderr.count("lone UTF-16 surrogate") == 1
    summary = json.loads(result.stdout)
    assert summary["warnings"] == 3 + 1
    assert summary["signals"]["traces"]["sent"] == 3 * 51


def test_long_wait_is_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A wait of 10 seconds or more logs how long it is and how to shorten it. Shorter waits log nothing."""
    clock = FakeClock()

    with caplog.at_level(logging.WARNING, logger="otel_replay.pacing"):
        _replay_paced(tmp_path, ReplayOptions(pace=PaceOptions(real=True)), clock)
    quiet = list(caplog.messages)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="otel_replay.pacing"):
        _replay_paced(tmp_path, ReplayOptions(pace=PaceOptions(real=True, speed=0.1)), clock)

    assert quiet == []
    assert caplog.messages
    assert all("until the next record, as recorded; --speed N shortens waits" in line for line in caplog.messages)
