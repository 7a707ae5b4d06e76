"""Move every record of a run by one offset of integer nanoseconds, and plan that offset per loop pass.

One offset applies to every time of a record: span start, end and event times, log time and
observed time, metric point start time and time. Differences between any two times of a run
are therefore preserved to the nanosecond. An unset time (0) stays unset.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, TypeAlias

from otel_replay.errors import RecordError, UsageError
from otel_replay.model import LogData, MetricData, Signal, SpanData

__all__ = [
    "ORIGINAL_LOG_TIME",
    "ORIGINAL_SPAN_START_TIME",
    "AgeCheck",
    "TimeOptions",
    "TimeRange",
    "TimeShift",
    "format_duration",
    "moved",
    "parse_duration",
    "parse_instant",
    "pass_offsets",
]

logger = logging.getLogger(__name__)

ORIGINAL_SPAN_START_TIME: Final = "otel_replay.original_start_time_unix_nano"
ORIGINAL_LOG_TIME: Final = "otel_replay.original_time_unix_nano"

NANOS_PER_SECOND: Final = 1_000_000_000
_UNIT_NANOS: Final = {
    "d": 86_400 * NANOS_PER_SECOND,
    "h": 3_600 * NANOS_PER_SECOND,
    "m": 60 * NANOS_PER_SECOND,
    "s": NANOS_PER_SECOND,
    "ms": 1_000_000,
    "us": 1_000,
    "ns": 1,
}
_DURATION: Final = re.compile(r"([+-]?)((?:\d+(?:d|h|ms|us|ns|m|s))+)")
_DURATION_PART: Final = re.compile(r"(\d+)(d|h|ms|us|ns|m|s)")
_INSTANT: Final = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})"
    r"(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?"
    r"(Z|z|[+-]\d{2}:?\d{2})?"
)
_MAX_UNIX_NANO: Final = 2**64 - 1  # OTLP times are fixed64
_DURATION_HELP: Final = "expected a whole number and unit for each part, such as -3h, 2d, 90m, 1h30m or -45s"
_INSTANT_HELP: Final = "expected an ISO 8601 time, such as 2026-12-04T19:40:00Z or 2026-12-04T20:40:00.5+01:00"

# Backend limits that the age warnings name. Loki rejects lines older than reject_old_samples_max_age
# (168h by default), and lines older than the newest line of their stream minus max_chunk_age / 2
# (2h / 2 by default). The span threshold is otel-replay's choice, since Tempo's slack varies per install.
LOKI_REJECT_OLD_SAMPLES_NANOS: Final = 7 * _UNIT_NANOS["d"]
LOKI_TOO_FAR_BEHIND_NANOS: Final = _UNIT_NANOS["h"]
TEMPO_SEARCH_AGE_NANOS: Final = _UNIT_NANOS["h"]

_Record: TypeAlias = SpanData | LogData | MetricData


def parse_duration(text: str, option: str = "--shift") -> int:
    """Return a signed duration such as ``-3h``, ``2d``, ``1h30m`` or ``-45s`` in nanoseconds.

    Units are d, h, m, s, ms, us and ns, each at most once and from largest to smallest.

    Raises:
        UsageError: the text is not such a duration.
    """
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        msg = f"invalid {option} value {text!r}: {_DURATION_HELP}"
        raise UsageError(msg)

    parts = _DURATION_PART.findall(match.group(2))
    units = [unit for _, unit in parts]
    order = list(_UNIT_NANOS)
    if len(set(units)) != len(units) or units != sorted(units, key=order.index):
        msg = f"invalid {option} value {text!r}: give each unit once, from days down to nanoseconds, such as 1h30m"
        raise UsageError(msg)

    nanos = sum(int(number) * _UNIT_NANOS[unit] for number, unit in parts)
    return -nanos if match.group(1) == "-" else nanos


def format_duration(nanos: int) -> str:
    """Return `nanos` as a signed duration that `parse_duration` reads back exactly, such as ``-6d3h20m15s250ms``."""
    sign = "-" if nanos < 0 else "+"
    rest = abs(nanos)
    parts = []
    for unit, size in _UNIT_NANOS.items():
        number, rest = divmod(rest, size)
        if number:
            parts.append(f"{number}{unit}")
    return sign + ("".join(parts) or "0s")


def parse_instant(text: str, option: str) -> int:
    """Return an ISO 8601 date or date and time as nanoseconds since the Unix epoch.

    Fractions of a second keep up to 9 digits exactly. A time without an offset is UTC.

    Raises:
        UsageError: the text is not such a time, or it lies before 1970.
    """
    match = _INSTANT.fullmatch(text.strip())
    if match is None:
        msg = f"invalid {option} value {text!r}: {_INSTANT_HELP}"
        raise UsageError(msg)

    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        moment = datetime.datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            tzinfo=_zone(zone),
        )
    except ValueError as error:
        msg = f"invalid {option} value {text!r}: {error}; {_INSTANT_HELP}"
        raise UsageError(msg) from error

    epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
    delta = moment - epoch
    nanos = (delta.days * 86_400 + delta.seconds) * NANOS_PER_SECOND + int((fraction or "").ljust(9, "0"))
    if nanos < 0:
        msg = f"invalid {option} value {text!r}: OTLP times cannot lie before 1970-01-01T00:00:00Z"
        raise UsageError(msg)
    return nanos


def _zone(text: str | None) -> datetime.timezone:
    if text is None or text in "Zz":
        return datetime.timezone.utc
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:])
    if hours > 23 or minutes > 59:
        msg = f"UTC offset {text} out of range"
        raise ValueError(msg)
    return datetime.timezone(sign * datetime.timedelta(hours=hours, minutes=minutes))


@dataclass(frozen=True, slots=True)
class TimeOptions:
    """How to move record times. At most one of `shift_to_now`, `shift_nanos` and `start_at_unix_nano` is set."""

    shift_to_now: bool = False
    shift_nanos: int | None = None
    start_at_unix_nano: int | None = None
    keep_original_time: bool = False

    @property
    def shifts(self) -> bool:
        """True when an option moves the times."""
        return self.shift_to_now or self.shift_nanos is not None or self.start_at_unix_nano is not None


@dataclass(frozen=True, slots=True)
class TimeRange:
    """The times of the records a run sends, from the first reading pass.

    `oldest_unix_nano` and `newest_unix_nano` cover every non-zero time of a record.
    `first_schedule_unix_nano` is the moment a paced replay sends its first record at: the
    end of a span, or the time of a log record or metric data point.
    """

    oldest_unix_nano: int
    newest_unix_nano: int
    first_schedule_unix_nano: int
    records: int

    @property
    def duration_nanos(self) -> int:
        """The recording's duration, at least 1 ns, so that loop passes never share a time range."""
        return max(self.newest_unix_nano - self.oldest_unix_nano, 1)


def pass_offsets(
    options: TimeOptions, time_range: TimeRange | None, now_unix_nano: int, *, loop: int, paced: bool
) -> tuple[int, int]:
    """Return the offset of the first pass and the step added for each further pass, in nanoseconds.

    Each loop pass moves forward by the recording's duration, so no two passes cover the
    same time range. With --shift-to-now, a paced run puts the first record to be sent at
    `now_unix_nano`, so that each record's time is about the moment it is sent (at speed 1).
    An unpaced run puts the newest record of its last pass at `now_unix_nano`, or of its first
    pass when it loops until interrupted.
    """
    if time_range is None or time_range.records == 0:
        return options.shift_nanos or 0, 0

    step = time_range.duration_nanos if loop != 1 else 0
    if options.shift_nanos is not None:
        return options.shift_nanos, step
    if options.start_at_unix_nano is not None:
        return options.start_at_unix_nano - time_range.oldest_unix_nano, step
    if not options.shift_to_now:
        return 0, step
    if paced:
        return now_unix_nano - time_range.first_schedule_unix_nano, step

    later_passes = max(loop - 1, 0)
    return now_unix_nano - time_range.newest_unix_nano - later_passes * step, step


class TimeShift:
    """Adds one offset to every time of a record, optionally keeping the original time in an attribute.

    Spans keep their start time in `ORIGINAL_SPAN_START_TIME` and log records their time in
    `ORIGINAL_LOG_TIME`. Metric data points keep no original time, because a new point
    attribute would start a new time series in every backend.
    """

    def __init__(self, offset_nanos: int, *, keep_original_time: bool = False) -> None:
        self.offset_nanos = offset_nanos
        self._keep_original_time = keep_original_time

    def apply(self, record: _Record) -> _Record:
        """Return `record` with every time moved by the offset.

        Raises:
            RecordError: a moved time falls before 1970 or past what OTLP can carry.
        """
        if isinstance(record, SpanData):
            return self._span(record)
        if isinstance(record, LogData):
            return self._log(record)
        return self._metric(record)

    def _span(self, span: SpanData) -> SpanData:
        if not self.offset_nanos and not self._keep_original_time:
            return span
        attributes = span.attributes
        if self._keep_original_time:
            attributes = {**attributes, ORIGINAL_SPAN_START_TIME: span.start_time_unix_nano}
        events = [
            dataclasses.replace(event, time_unix_nano=self._move(event.time_unix_nano, "events.time"))
            for event in span.events
        ]
        return dataclasses.replace(
            span,
            start_time_unix_nano=self._move(span.start_time_unix_nano, "startTimeUnixNano"),
            end_time_unix_nano=self._move(span.end_time_unix_nano, "endTimeUnixNano"),
            events=events,
            attributes=attributes,
        )

    def _log(self, log: LogData) -> LogData:
        if not self.offset_nanos and not self._keep_original_time:
            return log
        attributes = log.attributes
        if self._keep_original_time:
            attributes = {**attributes, ORIGINAL_LOG_TIME: log.time_unix_nano}
        return dataclasses.replace(
            log,
            time_unix_nano=self._move(log.time_unix_nano, "timeUnixNano"),
            observed_time_unix_nano=self._move(log.observed_time_unix_nano, "observedTimeUnixNano"),
            attributes=attributes,
        )

    def _metric(self, metric: MetricData) -> MetricData:
        if not self.offset_nanos:
            return metric
        points = [
            dataclasses.replace(
                point,
                start_time_unix_nano=self._move(point.start_time_unix_nano, "startTimeUnixNano"),
                time_unix_nano=self._move(point.time_unix_nano, "timeUnixNano"),
            )
            for point in metric.points
        ]
        return dataclasses.replace(metric, points=points)

    def _move(self, unix_nano: int, field: str) -> int:
        return moved(unix_nano, self.offset_nanos, field)


def moved(unix_nano: int, offset_nanos: int, field: str = "") -> int:
    """Return a time moved by `offset_nanos`; an unset time (0) stays unset.

    Raises:
        RecordError: the moved time falls before 1970 or past what OTLP can carry.
    """
    if not unix_nano:
        return 0
    result = unix_nano + offset_nanos
    if not 0 < result <= _MAX_UNIX_NANO:
        msg = (
            f"time {unix_nano} moved by {offset_nanos} ns falls outside 1970 to 2554, "
            "which OTLP cannot carry; choose a smaller --shift or a later --start-at"
        )
        raise RecordError(field, msg)
    return result


class AgeCheck:
    """Warns once per run and limit when records are older than common backends accept or show.

    Runs without a time option use it, because their records keep the recorded times.
    """

    def __init__(self, now_unix_nano: int) -> None:
        self._now = now_unix_nano
        self._warned: set[str] = set()

    def check(self, record: SpanData | LogData | MetricData) -> None:
        """Log a warning the first time a record passes one of the limits."""
        if isinstance(record, LogData):
            self.check_times(Signal.LOGS, [record.time_unix_nano or record.observed_time_unix_nano])
        elif isinstance(record, SpanData):
            self.check_times(Signal.TRACES, [record.end_time_unix_nano])

    def check_times(self, signal: Signal, times: Sequence[int]) -> None:
        """Check records by their times: span end times, or log times where 0 means none."""
        if signal is Signal.TRACES:
            if "tempo-search" not in self._warned and times and self._now - min(times) > TEMPO_SEARCH_AGE_NANOS:
                self._warn(
                    "tempo-search",
                    "Spans are more than 1 hour old; Tempo stores spans older than its ingestion slack "
                    "(ingestion_time_range_slack) but its time-range search may not show them",
                )
            return
        if signal is not Signal.LOGS or {"loki-old", "loki-behind"} <= self._warned:
            return

        ages = [self._now - time for time in times if time]  # 0 means no time
        if any(age > LOKI_REJECT_OLD_SAMPLES_NANOS for age in ages):
            self._warn(
                "loki-old",
                "Log records are older than 7 days, and Loki rejects those by default "
                "(limits_config reject_old_samples_max_age: 168h)",
            )
        if any(LOKI_TOO_FAR_BEHIND_NANOS < age <= LOKI_REJECT_OLD_SAMPLES_NANOS for age in ages):
            self._warn(
                "loki-behind",
                "Log records are more than 1 hour old, and Loki rejects lines that far behind "
                "the newest line of the same stream (too_far_behind)",
            )

    def _warn(self, limit: str, message: str) -> None:
        if limit in self._warned:
            return
        self._warned.add(limit)
        logger.warning("%s; use --shift-to-now to move them to the present", message)
