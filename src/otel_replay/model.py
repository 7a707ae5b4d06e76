"""Format-neutral telemetry records that every reader produces and the rebuild stage consumes.

IDs are integers and times are integer nanoseconds since the Unix epoch (`*_unix_nano`),
so no reader loses precision and no format leaks past the read stage.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeAlias

__all__ = [
    "AnyValue",
    "Attributes",
    "EventData",
    "Item",
    "LinkData",
    "Location",
    "LogData",
    "MetricData",
    "MetricKind",
    "MetricPoint",
    "Notice",
    "ResourceData",
    "ScopeData",
    "Signal",
    "Skipped",
    "SpanData",
    "SpanKindCode",
    "StatusCodeValue",
]

AnyValue: TypeAlias = str | bool | int | float | bytes | Sequence["AnyValue"] | Mapping[str, "AnyValue"] | None
"""A value OTLP can carry in an `AnyValue`: scalars, bytes, arrays and key-value maps."""

Attributes: TypeAlias = Mapping[str, AnyValue]
"""Attribute keys and values, in the order the input gave them."""

StatusCodeValue: TypeAlias = int
"""An OTLP status code: 0 UNSET, 1 OK, 2 ERROR."""


class Signal(str, enum.Enum):
    """An OpenTelemetry signal, named as in `--signals`."""

    TRACES = "traces"
    LOGS = "logs"
    METRICS = "metrics"


class SpanKindCode(enum.IntEnum):
    """OTLP span kinds, numbered as in the protocol."""

    UNSPECIFIED = 0
    INTERNAL = 1
    SERVER = 2
    CLIENT = 3
    PRODUCER = 4
    CONSUMER = 5


@dataclass(frozen=True, slots=True)
class Location:
    """Source position of a record or value: the file, the record index and the field."""

    path: Path
    index: int | None = None
    field: str | None = None

    def __str__(self) -> str:
        detail = self.detail()
        return f"{self.path}: {detail}" if detail else str(self.path)

    def detail(self) -> str:
        """Return the position inside the file, such as ``record 3, field traceId``, or ''."""
        parts = []
        if self.index is not None:
            parts.append(f"record {self.index}")
        if self.field:
            parts.append(f"field {self.field}")
        return ", ".join(parts)


@dataclass(frozen=True, slots=True, eq=False)
class ResourceData:
    """The entity that produced the telemetry.

    Compared by identity: readers share one object among the records of a resource, and
    later stages cache what they derive from it per object.
    """

    attributes: Attributes
    schema_url: str = ""
    dropped_attributes_count: int = 0


@dataclass(frozen=True, slots=True, eq=False)
class ScopeData:
    """The instrumentation scope (tracer or logger name) that emitted the telemetry.

    Compared by identity, like `ResourceData`.
    """

    name: str = ""
    version: str = ""
    attributes: Attributes = field(default_factory=dict)
    schema_url: str = ""
    dropped_attributes_count: int = 0


@dataclass(frozen=True, slots=True)
class EventData:
    """A span event."""

    name: str
    time_unix_nano: int
    attributes: Attributes = field(default_factory=dict)
    dropped_attributes_count: int = 0


@dataclass(frozen=True, slots=True)
class LinkData:
    """A link from a span to another span."""

    trace_id: int
    span_id: int
    attributes: Attributes = field(default_factory=dict)
    trace_state: str = ""
    flags: int = 0
    dropped_attributes_count: int = 0


@dataclass(frozen=True, slots=True)
class SpanData:
    """A finished span as recorded in a file."""

    location: Location
    resource: ResourceData
    scope: ScopeData
    name: str
    trace_id: int
    span_id: int
    parent_span_id: int
    start_time_unix_nano: int
    end_time_unix_nano: int
    kind: SpanKindCode = SpanKindCode.INTERNAL
    status_code: StatusCodeValue = 0
    status_message: str = ""
    attributes: Attributes = field(default_factory=dict)
    events: Sequence[EventData] = ()
    links: Sequence[LinkData] = ()
    trace_state: str = ""
    flags: int = 0
    dropped_attributes_count: int = 0
    dropped_events_count: int = 0
    dropped_links_count: int = 0

    signal = Signal.TRACES


@dataclass(frozen=True, slots=True)
class LogData:
    """A log record as recorded in a file. `trace_id` and `span_id` are 0 when absent."""

    location: Location
    resource: ResourceData
    scope: ScopeData
    time_unix_nano: int
    observed_time_unix_nano: int
    severity_number: int | None = None
    severity_text: str | None = None
    body: AnyValue = None
    attributes: Attributes = field(default_factory=dict)
    trace_id: int = 0
    span_id: int = 0
    flags: int = 0
    event_name: str | None = None
    dropped_attributes_count: int = 0

    signal = Signal.LOGS


class MetricKind(str, enum.Enum):
    """The OTLP metric data types."""

    GAUGE = "gauge"
    SUM = "sum"
    HISTOGRAM = "histogram"
    EXPONENTIAL_HISTOGRAM = "exponential_histogram"
    SUMMARY = "summary"


@dataclass(frozen=True, slots=True)
class MetricPoint:
    """One data point of a metric. Fields that do not apply to the metric's kind keep their defaults.

    `value` is set for gauges and sums. Histograms use `count`, `sum`, `bucket_counts`,
    `explicit_bounds`, `min` and `max`. Exponential histograms add `scale`, `zero_count` and
    the offset and counts of the positive and negative buckets. Summaries use
    `quantile_values`, as (quantile, value) pairs.
    """

    start_time_unix_nano: int
    time_unix_nano: int
    attributes: Attributes = field(default_factory=dict)
    value: int | float | None = None
    count: int = 0
    sum: float | None = None
    bucket_counts: Sequence[int] = ()
    explicit_bounds: Sequence[float] = ()
    min: float | None = None
    max: float | None = None
    scale: int = 0
    zero_count: int = 0
    positive_offset: int = 0
    positive_bucket_counts: Sequence[int] = ()
    negative_offset: int = 0
    negative_bucket_counts: Sequence[int] = ()
    quantile_values: Sequence[tuple[float, float]] = ()
    flags: int = 0


@dataclass(frozen=True, slots=True)
class MetricData:
    """A metric with its data points, as recorded. Each data point counts as one record.

    `aggregation_temporality` is the OTLP number: 1 delta, 2 cumulative (0 for gauges).
    """

    location: Location
    resource: ResourceData
    scope: ScopeData
    name: str
    kind: MetricKind
    points: Sequence[MetricPoint]
    description: str = ""
    unit: str = ""
    aggregation_temporality: int = 0
    is_monotonic: bool = False
    metadata: Attributes = field(default_factory=dict)

    signal = Signal.METRICS


@dataclass(frozen=True, slots=True)
class Skipped:
    """A record that was read but will not be sent, and why.

    `reason` is a short key used for counting in the summary, such as ``invalid``.
    `message` explains what is wrong and what to do about it.
    """

    signal: Signal
    location: Location
    reason: str
    message: str
    count: int = 1


@dataclass(frozen=True, slots=True)
class Notice:
    """A warning about a record that is still sent, such as a replaced character."""

    location: Location
    message: str


Item: TypeAlias = SpanData | LogData | MetricData | Skipped | Notice
"""Reader output: a record to send, a record to skip, or a warning."""
