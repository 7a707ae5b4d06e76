"""Send records at the pace they were recorded, faster or slower, or at a capped rate.

The pacer schedules each record by its time: a span's end time (when an SDK would have
exported it), a log record's time and a metric data point's time. A record whose moment
has already passed, such as one out of order, is sent at once; the pacer never waits
backwards. Before each wait it flushes the sink, so no record sits in a half-full batch
while the pacer waits.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Protocol

from otel_replay.model import LogData, MetricData, SpanData

__all__ = ["Clock", "PaceOptions", "Pacer", "SystemClock", "schedule_time"]

logger = logging.getLogger(__name__)

_NANOS_PER_SECOND: Final = 1_000_000_000
MIN_WAIT_NANOS: Final = 50_000_000
"""Shorter waits are skipped, so records closer than 50 ms share a request instead of one each.

A record therefore goes out up to 50 ms before its moment. The schedule is measured from
the first record, so the skipped waits do not add up.
"""


LONG_WAIT_NANOS: Final = 10 * _NANOS_PER_SECOND
"""Waits at least this long are logged, with the flag that shortens them."""


def _seconds(nanos: int) -> str:
    """Return a wait for people, such as ``59m55s`` or ``12.5s``."""
    seconds = nanos / _NANOS_PER_SECOND
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, seconds = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{seconds:02d}s" if hours else f"{minutes}m{seconds:02d}s"


class Clock(Protocol):
    """The time source of a run: `now` for the present and `sleep` for waiting, replaceable in tests."""

    def now(self) -> int:
        """Return the current time in nanoseconds since the Unix epoch."""
        ...

    def sleep(self, seconds: float) -> None:
        """Wait for `seconds`."""
        ...


class SystemClock:
    """The system clock: the wall time at creation, advanced by the monotonic clock.

    Steps of the wall clock during a run, such as NTP corrections, do not disturb pacing.
    """

    def __init__(self) -> None:
        self._wall_start = time.time_ns()
        self._monotonic_start = time.monotonic_ns()

    def now(self) -> int:
        """Return the current time in nanoseconds since the Unix epoch."""
        return self._wall_start + time.monotonic_ns() - self._monotonic_start

    def sleep(self, seconds: float) -> None:
        """Wait for `seconds`."""
        time.sleep(seconds)


@dataclass(frozen=True, slots=True)
class PaceOptions:
    """Pacing options: `real` follows the recorded gaps divided by `speed`, and `rate` caps records per second."""

    real: bool = False
    speed: float = 1.0
    rate: float | None = None

    @property
    def active(self) -> bool:
        """True when the pacer ever waits."""
        return self.real or self.rate is not None


def schedule_time(record: SpanData | LogData | MetricData) -> int:
    """Return the moment a record is sent at when pacing, in nanoseconds since the Unix epoch."""
    if isinstance(record, SpanData):
        return record.end_time_unix_nano
    if isinstance(record, LogData):
        return record.time_unix_nano or record.observed_time_unix_nano
    return max((point.time_unix_nano for point in record.points), default=0)


class Pacer:
    """Waits before each record until its moment in the replay comes, then lets it be sent."""

    def __init__(self, options: PaceOptions, clock: Clock, flush: Callable[[], None]) -> None:
        self._options = options
        self._clock = clock
        self._flush = flush
        self._anchor: tuple[int, int] | None = None  # (record time, clock time) of the first record
        self._next_free: int | None = None  # the earliest clock time the rate cap allows the next record at

    def start(self, first_schedule_unix_nano: int) -> None:
        """Anchor the replay: the record time `first_schedule_unix_nano` is sent now.

        Without this call, the first record waited for is the anchor.
        """
        self._anchor = (first_schedule_unix_nano, self._clock.now())

    def wait(self, schedule_unix_nano: int, records: int = 1) -> None:
        """Wait until a record with this schedule time may be sent, counting `records` against the rate cap."""
        if not self.active:
            return

        target = self._rate_target()
        if self._options.real:
            target = max(target, self._real_target(schedule_unix_nano))

        now = self._clock.now()
        if target - now >= MIN_WAIT_NANOS:
            self._flush()
            if target - now >= LONG_WAIT_NANOS:
                # Without this line a long recorded gap looks like a hung replay.
                logger.warning(
                    "Waiting %s until the next record, as recorded; --speed N shortens waits", _seconds(target - now)
                )
            self._clock.sleep((target - now) / _NANOS_PER_SECOND)
            now = self._clock.now()

        if self._options.rate is not None:
            self._next_free = max(now, self._next_free or now) + int(records * _NANOS_PER_SECOND / self._options.rate)

    @property
    def active(self) -> bool:
        """True when the pacer ever waits."""
        return self._options.active

    def _rate_target(self) -> int:
        return self._next_free if self._next_free is not None else 0

    def _real_target(self, schedule_unix_nano: int) -> int:
        if self._anchor is None:
            self._anchor = (schedule_unix_nano, self._clock.now())
        anchor_time, anchor_clock = self._anchor
        # The division is in float, which is exact enough for a wait: gaps of up to about
        # 100 days in nanoseconds stay within a double's 53-bit mantissa.
        return anchor_clock + int((schedule_unix_nano - anchor_time) / self._options.speed)
