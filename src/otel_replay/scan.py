"""Find the time range of the records a run will send, in a first reading pass before any is sent.

--shift-to-now, --start-at and --loop need the oldest and newest times before the first
record goes out. The scan reads every file with the same readers as the replay, keeps
only a few integers, and reports no problems: the replay that follows reports them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias

from otel_replay import formats
from otel_replay.discover import Source
from otel_replay.errors import InputError
from otel_replay.filters import RecordFilter
from otel_replay.model import LogData, MetricData, Signal, SpanData
from otel_replay.pacing import schedule_time
from otel_replay.timeshift import TimeRange

__all__ = ["ScanReader", "ScanResult", "TimeScan", "scan_time_range"]


ScanReader: TypeAlias = "Callable[[formats.Format, Path], Iterator[object]]"
"""Reads a file in a format for the scan: its records, and `TimeScan` objects for parts scanned elsewhere."""


@dataclass(frozen=True, slots=True)
class ScanResult:
    """The time range of a run's records, and the schedule time of the first record of each file that has records.

    A paced replay reads the files interleaved by these times, and its first record is the
    one with the earliest of them.
    """

    time_range: TimeRange
    file_starts: dict[Path, int]


def scan_time_range(
    sources: Iterable[Source],
    forced_format: formats.Format | None,
    signals: frozenset[Signal],
    record_filter: RecordFilter,
    read: ScanReader | None = None,
) -> ScanResult:
    """Return the time range of the records that pass the signals and filter, and each file's first schedule time.

    `read` reads a file in its format instead of the format's reader. Besides records, it may
    yield `TimeScan` objects for parts of the file that were scanned elsewhere, in file order.
    """
    scan = TimeScan()
    file_starts: dict[Path, int] = {}
    for source in sources:
        scan.first_schedule = None
        try:
            file_format = forced_format or formats.detect(source.path)
            if file_format is None:
                continue
            items = read(file_format, source.path) if read is not None else file_format.read(source.path)
            for item in items:
                if isinstance(item, TimeScan):
                    scan.merge(item)
                elif isinstance(item, (SpanData, LogData, MetricData)) and item.signal in signals:
                    scan.add(item, record_filter)
        except InputError:
            pass  # the replay reads the file again and reports the error
        if scan.first_schedule is not None:
            file_starts[source.path] = scan.first_schedule
    return ScanResult(scan.result(file_starts), file_starts)


class TimeScan:
    """The oldest and newest times of the records scanned, the first schedule time among them, and their count.

    Worker processes scan parts of a file into one each, which the main process merges in file order.
    """

    def __init__(self) -> None:
        self.oldest: int | None = None
        self.newest: int | None = None
        self.first_schedule: int | None = None
        self.records = 0

    def add(self, record: SpanData | LogData | MetricData, record_filter: RecordFilter) -> None:
        """Add a record that passes `record_filter`, or the data points of a metric that pass it."""
        if isinstance(record, MetricData):
            selected = record_filter.select_points(record)
            if selected is None:
                return
            record = selected
        elif not record_filter.keeps(record):
            return
        self.add_times(_times(record), schedule_time(record))

    def add_times(self, times: Iterable[int], schedule: int) -> None:
        """Add one record by its times, where 0 means unset, and its schedule time (`pacing.schedule_time`)."""
        self.records += 1
        for unix_nano in times:
            if unix_nano:
                self.oldest = unix_nano if self.oldest is None else min(self.oldest, unix_nano)
                self.newest = unix_nano if self.newest is None else max(self.newest, unix_nano)
        if schedule and self.first_schedule is None:
            self.first_schedule = schedule

    def merge(self, later: TimeScan) -> None:
        """Add the records of `later`, which come after these in their file."""
        self.records += later.records
        for unix_nano in (later.oldest, later.newest):
            if unix_nano is not None:
                self.oldest = unix_nano if self.oldest is None else min(self.oldest, unix_nano)
                self.newest = unix_nano if self.newest is None else max(self.newest, unix_nano)
        if self.first_schedule is None:
            self.first_schedule = later.first_schedule

    def result(self, file_starts: dict[Path, int]) -> TimeRange:
        if self.oldest is None or self.newest is None:
            return TimeRange(0, 0, 0, 0)
        first_schedule = min(file_starts.values(), default=self.oldest)
        return TimeRange(self.oldest, self.newest, first_schedule, self.records)


def _times(record: SpanData | LogData | MetricData) -> list[int]:
    if isinstance(record, SpanData):
        return [record.start_time_unix_nano, record.end_time_unix_nano, *(e.time_unix_nano for e in record.events)]
    if isinstance(record, LogData):
        return [record.time_unix_nano, record.observed_time_unix_nano]
    return [unix_nano for point in record.points for unix_nano in (point.start_time_unix_nano, point.time_unix_nano)]
