"""Select the records to send by trace ID, service, recorded time and name.

Filters look at records as recorded, before new IDs or a time shift apply, so --since,
--until and --trace-id use the times and IDs that the input files contain.
"""

from __future__ import annotations

import dataclasses
import fnmatch
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Final

from otel_replay.model import LogData, MetricData, SpanData

__all__ = ["FILTERED", "RecordFilter"]

FILTERED: Final = "filtered"
"""The skip reason of records left out by a filter option."""


@dataclass(frozen=True, slots=True)
class RecordFilter:
    """The filter options of a run. An empty collection or None means no filter on that field.

    - `trace_ids`: spans and log records of these traces; metrics carry no trace ID and are left out.
    - `services`: records whose resource's ``service.name`` is one of these.
    - `since_unix_nano`, `until_unix_nano`: records whose time is at or after `since` and
      before `until`. The time is a span's start, a log record's time (its observed time
      when the time is unset), or a metric data point's time.
    - `names`: shell-style patterns for span names and metric names; log records are not
      filtered by name.
    """

    trace_ids: Collection[int] = field(default_factory=frozenset)
    services: Collection[str] = field(default_factory=frozenset)
    since_unix_nano: int | None = None
    until_unix_nano: int | None = None
    names: Collection[str] = field(default_factory=tuple)

    @property
    def active(self) -> bool:
        """True when any filter option is set."""
        return bool(
            self.trace_ids
            or self.services
            or self.names
            or self.since_unix_nano is not None
            or self.until_unix_nano is not None
        )

    def keeps(self, record: SpanData | LogData) -> bool:
        """Return True when the span or log record passes every filter."""
        if not self.active:
            return True
        if not self._keeps_service(record):
            return False
        if isinstance(record, SpanData):
            return (
                self._keeps_trace(record.trace_id)
                and self._keeps_time(record.start_time_unix_nano)
                and self._keeps_name(record.name)
            )
        return self._keeps_trace(record.trace_id) and self._keeps_time(
            record.time_unix_nano or record.observed_time_unix_nano
        )

    def select_points(self, metric: MetricData) -> MetricData | None:
        """Return `metric` with only the data points that pass, or None when none does."""
        if not self.active:
            return metric
        if self.trace_ids or not self._keeps_service(metric) or not self._keeps_name(metric.name):
            return None

        points = tuple(point for point in metric.points if self._keeps_time(point.time_unix_nano))
        if not points:
            return None
        if len(points) == len(metric.points):
            return metric
        return dataclasses.replace(metric, points=points)

    def _keeps_service(self, record: SpanData | LogData | MetricData) -> bool:
        return not self.services or record.resource.attributes.get("service.name") in self.services

    def _keeps_trace(self, trace_id: int) -> bool:
        return not self.trace_ids or trace_id in self.trace_ids

    def _keeps_time(self, unix_nano: int) -> bool:
        if self.since_unix_nano is not None and unix_nano < self.since_unix_nano:
            return False
        return self.until_unix_nano is None or unix_nano < self.until_unix_nano

    def _keeps_name(self, name: str) -> bool:
        return not self.names or any(fnmatch.fnmatchcase(name, pattern) for pattern in self.names)
