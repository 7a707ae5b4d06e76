"""Convert decoded OTLP export requests (protobuf messages) into format-neutral records.

The OTLP/JSON and OTLP protobuf readers both decode into the `opentelemetry-proto` messages
and share this converter, so both carry the same fields. Field paths in errors use the
OTLP/JSON names, such as ``resourceSpans[0].scopeSpans[1].spans[2].traceId``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypeAlias

import orjson
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from opentelemetry.proto.metrics.v1.metrics_pb2 import Metric
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from otel_replay.errors import RecordError
from otel_replay.formats.limits import as_record_error
from otel_replay.formats.otlp_plain import decode_plain_log, decode_plain_span
from otel_replay.model import (
    AnyValue,
    EventData,
    Item,
    LinkData,
    Location,
    LogData,
    MetricData,
    MetricKind,
    MetricPoint,
    Notice,
    ResourceData,
    ScopeData,
    Signal,
    Skipped,
    SpanData,
    SpanKindCode,
)

__all__ = [
    "LAYOUTS",
    "UNSUPPORTED_FIELDS",
    "PlainDecoder",
    "PlainTaker",
    "RecordConverter",
    "SharedKey",
    "SignalLayout",
    "shared_key",
]


SharedKey: TypeAlias = tuple[bytes, str]
"""A resource or scope as `RecordConverter` keys it: its serialized message and its schema URL."""

PlainDecoder: TypeAlias = Callable[[object, ResourceData, ScopeData, Location], "Item | None"]
PlainTaker: TypeAlias = Callable[[object, ResourceData, ScopeData], bool]
"""Take a plain record directly, at the next record index, and return whether it did; see `plain_taker`."""
"""Decodes a parsed JSON record that is plain, with its resource, scope and location, or returns None."""


@dataclass(frozen=True, slots=True)
class SignalLayout:
    """The field names that lead to one signal's records in an export request, in protobuf and OTLP/JSON spelling."""

    signal: Signal
    resource_list: str
    scope_list: str
    record_list: str
    json_resource_list: str
    json_scope_list: str
    json_record_list: str
    record_type: Any
    """The protobuf message class of one record: `Span`, `LogRecord` or `Metric`."""


LAYOUTS: Final = (
    SignalLayout(Signal.TRACES, "resource_spans", "scope_spans", "spans", "resourceSpans", "scopeSpans", "spans", Span),
    SignalLayout(
        Signal.LOGS, "resource_logs", "scope_logs", "log_records", "resourceLogs", "scopeLogs", "logRecords", LogRecord
    ),
    SignalLayout(
        Signal.METRICS,
        "resource_metrics",
        "scope_metrics",
        "metrics",
        "resourceMetrics",
        "scopeMetrics",
        "metrics",
        Metric,
    ),
)
"""The three export request layouts, in the order the protobuf reader tries them."""

UNSUPPORTED_FIELDS: Final[Mapping[str, str]] = {
    "opentelemetry.proto.resource.v1.Resource.entity_refs": (
        "ResourceData has no entity references, and the SDK's encoder cannot send them"
    ),
    "opentelemetry.proto.common.v1.AnyValue.string_value_strindex": (
        "an index into the string table of a profiles request, which trace, log and metric requests do not have"
    ),
    "opentelemetry.proto.common.v1.KeyValue.key_strindex": (
        "an index into the string table of a profiles request, which trace, log and metric requests do not have"
    ),
    "opentelemetry.proto.metrics.v1.NumberDataPoint.exemplars": "MetricPoint has no exemplars",
    "opentelemetry.proto.metrics.v1.HistogramDataPoint.exemplars": "MetricPoint has no exemplars",
    "opentelemetry.proto.metrics.v1.ExponentialHistogramDataPoint.exemplars": "MetricPoint has no exemplars",
    "opentelemetry.proto.metrics.v1.ExponentialHistogramDataPoint.zero_threshold": (
        "MetricPoint has no zero threshold, and the SDK's ExponentialHistogramDataPoint has none either"
    ),
}
"""Protobuf fields (full names) that the converter knowingly does not carry, with the reason.

A record that sets one of them is still sent, with a notice naming what was left out.
TODO: carry exemplars and the zero threshold once MetricPoint has fields for them.
"""

_TRACE_ID_BYTES: Final = 16
_SPAN_ID_BYTES: Final = 8
_MAX_SEVERITY_NUMBER: Final = 24  # SEVERITY_NUMBER_FATAL4
_TEMPORALITIES: Final = ("unspecified", "delta", "cumulative")
_METRIC_KINDS: Final = {
    "gauge": MetricKind.GAUGE,
    "sum": MetricKind.SUM,
    "histogram": MetricKind.HISTOGRAM,
    "exponential_histogram": MetricKind.EXPONENTIAL_HISTOGRAM,
    "summary": MetricKind.SUMMARY,
}
_POINT_TYPES: Final = {
    MetricKind.GAUGE: "NumberDataPoint",
    MetricKind.SUM: "NumberDataPoint",
    MetricKind.HISTOGRAM: "HistogramDataPoint",
    MetricKind.EXPONENTIAL_HISTOGRAM: "ExponentialHistogramDataPoint",
}
_SCALAR_TYPES: Final = frozenset({"string_value", "bool_value", "int_value", "double_value", "bytes_value"})
_KEY_STRINDEX: Final = "opentelemetry.proto.common.v1.KeyValue.key_strindex"
_INVALID: Final = "invalid"
_HINT: Final = "Fix or remove this record to send it; the other records are sent."


class RecordConverter:
    """Converts the export requests of one file into records, numbered in file order.

    Records get consecutive indexes across every request of the file. Equal resources and
    scopes (same serialized message and schema URL) share one `ResourceData` or `ScopeData`
    object, also across requests, so the exporter groups their records into one request
    entry again.
    """

    def __init__(
        self,
        path: Path,
        *,
        next_index: int = 0,
        resources: dict[SharedKey, ResourceData] | None = None,
        scopes: dict[SharedKey, ScopeData] | None = None,
    ) -> None:
        self.path = path
        self.next_index = next_index
        self._resources = resources if resources is not None else {}
        self._scopes = scopes if scopes is not None else {}

    def request(self, layout: SignalLayout, pb2_request: Any) -> Iterator[Item]:
        """Yield the records of one decoded export request of the signal `layout` describes."""
        convert = self.converter_for(layout.signal)
        for resource_number, pb2_resource_group in enumerate(getattr(pb2_request, layout.resource_list)):
            resource_field = f"{layout.json_resource_list}[{resource_number}]"
            resource, notices = self.resource(
                pb2_resource_group.resource, pb2_resource_group.schema_url, f"{resource_field}.resource"
            )
            yield from notices

            for scope_number, pb2_scope_group in enumerate(getattr(pb2_resource_group, layout.scope_list)):
                scope_field = f"{resource_field}.{layout.json_scope_list}[{scope_number}]"
                scope, notices = self.scope(pb2_scope_group.scope, pb2_scope_group.schema_url, f"{scope_field}.scope")
                yield from notices

                for record_number, pb2_record in enumerate(getattr(pb2_scope_group, layout.record_list)):
                    yield from convert(
                        pb2_record, resource, scope, f"{scope_field}.{layout.json_record_list}[{record_number}]"
                    )

    def converter_for(self, signal: Signal) -> Callable[[Any, ResourceData, ScopeData, str], Iterator[Item]]:
        """Return the method that converts one record of `signal`."""
        if signal is Signal.TRACES:
            return self.span
        if signal is Signal.LOGS:
            return self.log
        return self.metric

    def plain_decoder(self, signal: Signal) -> PlainDecoder | None:
        """Return the direct decoder of plain records of `signal` (see otlp_plain.py), or None when there is none.

        The decoder returns None for a record that is not plain, which then takes the general path.
        """
        if signal is Signal.TRACES:
            return decode_plain_span
        if signal is Signal.LOGS:
            return decode_plain_log
        return None  # metrics always take the general path

    def plain_taker(self, signal: Signal) -> PlainTaker | None:
        """Return a function that takes plain records of `signal` itself, or None when records are yielded.

        A converter that gathers results on its own, such as a worker's, may take a plain record
        without any item being built for it. The reader then yields nothing for that record and
        moves on to the next index. For a record that the function does not take, the reader
        goes on as without it.
        """
        return None

    def resource(self, pb2_resource: Any, schema_url: str, field: str) -> tuple[ResourceData, list[Notice]]:
        """Return the shared `ResourceData` for a resource, with notices the first time it is seen."""
        key = shared_key(pb2_resource, schema_url)
        cached = self._resources.get(key)
        if cached is not None:
            return cached, []

        notices: list[Notice] = []
        location = Location(self.path, None, field)
        if len(pb2_resource.entity_refs):
            notices.append(_unsupported(location, "entityRefs", "opentelemetry.proto.resource.v1.Resource.entity_refs"))
        resource = ResourceData(
            attributes=_attributes(pb2_resource.attributes, _child(location, ".attributes"), notices),
            schema_url=schema_url,
            dropped_attributes_count=pb2_resource.dropped_attributes_count,
        )
        self._resources[key] = resource
        return resource, notices

    def scope(self, pb2_scope: Any, schema_url: str, field: str) -> tuple[ScopeData, list[Notice]]:
        """Return the shared `ScopeData` for an instrumentation scope, with notices the first time it is seen."""
        key = shared_key(pb2_scope, schema_url)
        cached = self._scopes.get(key)
        if cached is not None:
            return cached, []

        notices: list[Notice] = []
        location = Location(self.path, None, field)
        scope = ScopeData(
            name=pb2_scope.name,
            version=pb2_scope.version,
            attributes=_attributes(pb2_scope.attributes, _child(location, ".attributes"), notices),
            schema_url=schema_url,
            dropped_attributes_count=pb2_scope.dropped_attributes_count,
        )
        self._scopes[key] = scope
        return scope, notices

    def span(self, pb2_span: Any, resource: ResourceData, scope: ScopeData, field: str) -> Iterator[Item]:
        """Yield one span, or a `Skipped` when it is invalid, followed by its notices."""
        yield from self._convert(Signal.TRACES, _span, pb2_span, resource, scope, field, 1)

    def log(self, pb2_log: Any, resource: ResourceData, scope: ScopeData, field: str) -> Iterator[Item]:
        """Yield one log record, or a `Skipped` when it is invalid, followed by its notices."""
        yield from self._convert(Signal.LOGS, _log, pb2_log, resource, scope, field, 1)

    def metric(self, pb2_metric: Any, resource: ResourceData, scope: ScopeData, field: str) -> Iterator[Item]:
        """Yield one metric with its data points, or a `Skipped` when it is invalid, followed by its notices."""
        count = _point_count(pb2_metric)
        yield from self._convert(Signal.METRICS, _metric, pb2_metric, resource, scope, field, count)

    def _convert(
        self,
        signal: Signal,
        decode: Callable[[Any, ResourceData, ScopeData, Location, list[Notice]], Item],
        pb2_record: Any,
        resource: ResourceData,
        scope: ScopeData,
        field: str,
        count: int,
    ) -> Iterator[Item]:
        location = self._take_location(field)
        notices: list[Notice] = []
        try:
            record = decode(pb2_record, resource, scope, location, notices)
        except (RecordError, RecursionError) as error:
            yield self._skipped(signal, location, as_record_error(error), count=count)
            return
        yield record
        yield from notices

    def skip(self, signal: Signal, field: str, message: str, count: int = 1) -> Skipped:
        """Return a `Skipped` for a record that could not be decoded at all, numbering it like the others.

        `field` is the full path of the invalid field, `count` the records it stands for
        (data points, for a metric).
        """
        location = Location(self.path, self.next_index, field)
        self.next_index += 1
        return Skipped(signal, location, _INVALID, _skip_message(message), count=max(count, 1))

    def _take_location(self, field: str) -> Location:
        location = Location(self.path, self.next_index, field)
        self.next_index += 1
        return location

    def _skipped(self, signal: Signal, location: Location, error: RecordError, count: int = 1) -> Skipped:
        field_location = _child(location, f".{error.field}")
        return Skipped(signal, field_location, _INVALID, _skip_message(error.message), count=max(count, 1))


def shared_key(pb2_message: Any, schema_url: str) -> SharedKey:
    """Return the key under which `RecordConverter` shares the object of a resource or scope."""
    return pb2_message.SerializeToString(deterministic=True), schema_url


def _skip_message(message: str) -> str:
    """Return a skipped record's message: what is wrong, then what to do."""
    return f"{message}. {_HINT}"


# --- spans -----------------------------------------------------------------------------


def _span(
    pb2_span: Any, resource: ResourceData, scope: ScopeData, location: Location, notices: list[Notice]
) -> SpanData:
    kind = pb2_span.kind
    if not 0 <= kind <= max(SpanKindCode):
        raise RecordError("kind", f"invalid span kind {kind}: expected 0 (UNSPECIFIED) to 5 (CONSUMER)")
    status_code = pb2_span.status.code
    if not 0 <= status_code <= 2:
        raise RecordError("status.code", f"invalid status code {status_code}: expected 0 (UNSET), 1 (OK) or 2 (ERROR)")

    return SpanData(
        location=location,
        resource=resource,
        scope=scope,
        name=pb2_span.name,
        trace_id=_required_id(pb2_span.trace_id, _TRACE_ID_BYTES, "traceId"),
        span_id=_required_id(pb2_span.span_id, _SPAN_ID_BYTES, "spanId"),
        parent_span_id=_optional_id(pb2_span.parent_span_id, _SPAN_ID_BYTES, "parentSpanId"),
        start_time_unix_nano=pb2_span.start_time_unix_nano,
        end_time_unix_nano=pb2_span.end_time_unix_nano,
        kind=SpanKindCode(kind),
        status_code=status_code,
        status_message=pb2_span.status.message,
        attributes=_attributes(pb2_span.attributes, _child(location, ".attributes"), notices),
        events=tuple(_events(pb2_span.events, location, notices)),
        links=tuple(_links(pb2_span.links, location, notices)),
        trace_state=pb2_span.trace_state,
        flags=pb2_span.flags,
        dropped_attributes_count=pb2_span.dropped_attributes_count,
        dropped_events_count=pb2_span.dropped_events_count,
        dropped_links_count=pb2_span.dropped_links_count,
    )


def _events(pb2_events: Any, location: Location, notices: list[Notice]) -> Iterator[EventData]:
    for number, pb2_event in enumerate(pb2_events):
        yield EventData(
            name=pb2_event.name,
            time_unix_nano=pb2_event.time_unix_nano,
            attributes=_attributes(pb2_event.attributes, _child(location, f".events[{number}].attributes"), notices),
            dropped_attributes_count=pb2_event.dropped_attributes_count,
        )


def _links(pb2_links: Any, location: Location, notices: list[Notice]) -> Iterator[LinkData]:
    for number, pb2_link in enumerate(pb2_links):
        field = f"links[{number}]"
        yield LinkData(
            trace_id=_required_id(pb2_link.trace_id, _TRACE_ID_BYTES, f"{field}.traceId"),
            span_id=_required_id(pb2_link.span_id, _SPAN_ID_BYTES, f"{field}.spanId"),
            attributes=_attributes(pb2_link.attributes, _child(location, f".{field}.attributes"), notices),
            trace_state=pb2_link.trace_state,
            flags=pb2_link.flags,
            dropped_attributes_count=pb2_link.dropped_attributes_count,
        )


# --- logs ------------------------------------------------------------------------------


def _log(pb2_log: Any, resource: ResourceData, scope: ScopeData, location: Location, notices: list[Notice]) -> LogData:
    severity_number = pb2_log.severity_number
    if not 0 <= severity_number <= _MAX_SEVERITY_NUMBER:
        raise RecordError("severityNumber", f"invalid severity number {severity_number}: expected 0 to 24")

    body = _value(pb2_log.body, _child(location, ".body"), notices) if pb2_log.HasField("body") else None
    return LogData(
        location=location,
        resource=resource,
        scope=scope,
        time_unix_nano=pb2_log.time_unix_nano,
        observed_time_unix_nano=pb2_log.observed_time_unix_nano,
        # Protobuf cannot tell an absent value from its default, so 0 and "" mean "not set".
        severity_number=severity_number or None,
        severity_text=pb2_log.severity_text or None,
        body=body,
        attributes=_attributes(pb2_log.attributes, _child(location, ".attributes"), notices),
        trace_id=_optional_id(pb2_log.trace_id, _TRACE_ID_BYTES, "traceId"),
        span_id=_optional_id(pb2_log.span_id, _SPAN_ID_BYTES, "spanId"),
        flags=pb2_log.flags,
        event_name=pb2_log.event_name or None,
        dropped_attributes_count=pb2_log.dropped_attributes_count,
    )


# --- metrics ---------------------------------------------------------------------------


def _metric(
    pb2_metric: Any, resource: ResourceData, scope: ScopeData, location: Location, notices: list[Notice]
) -> MetricData:
    data_type = pb2_metric.WhichOneof("data")
    if data_type is None:
        msg = "missing: a metric needs one of gauge, sum, histogram, exponentialHistogram or summary"
        raise RecordError("data", msg)

    pb2_data = getattr(pb2_metric, data_type)
    kind = _METRIC_KINDS[data_type]
    json_data_type = "exponentialHistogram" if kind is MetricKind.EXPONENTIAL_HISTOGRAM else data_type
    temporality = getattr(pb2_data, "aggregation_temporality", 0)
    if not 0 <= temporality < len(_TEMPORALITIES):
        msg = f"invalid aggregation temporality {temporality}: expected 0 (UNSPECIFIED), 1 (DELTA) or 2 (CUMULATIVE)"
        raise RecordError(f"{json_data_type}.aggregationTemporality", msg)

    points_location = _child(location, f".{json_data_type}.dataPoints")
    points = tuple(_points(kind, pb2_data.data_points, points_location, notices))
    _note_left_out(kind, pb2_data.data_points, points_location, notices)

    return MetricData(
        location=location,
        resource=resource,
        scope=scope,
        name=pb2_metric.name,
        kind=kind,
        points=points,
        description=pb2_metric.description,
        unit=pb2_metric.unit,
        aggregation_temporality=temporality,
        is_monotonic=getattr(pb2_data, "is_monotonic", False),
        metadata=_attributes(pb2_metric.metadata, _child(location, ".metadata"), notices),
    )


def _points(kind: MetricKind, pb2_points: Any, location: Location, notices: list[Notice]) -> Iterator[MetricPoint]:
    for number, pb2_point in enumerate(pb2_points):
        attributes = _attributes(pb2_point.attributes, _child(location, f"[{number}].attributes"), notices)
        if kind in (MetricKind.GAUGE, MetricKind.SUM):
            yield _number_point(pb2_point, attributes)
        elif kind is MetricKind.HISTOGRAM:
            yield _histogram_point(pb2_point, attributes)
        elif kind is MetricKind.EXPONENTIAL_HISTOGRAM:
            yield _exponential_point(pb2_point, attributes)
        else:
            yield _summary_point(pb2_point, attributes)


def _number_point(pb2_point: Any, attributes: dict[str, AnyValue]) -> MetricPoint:
    value_type = pb2_point.WhichOneof("value")
    return MetricPoint(
        start_time_unix_nano=pb2_point.start_time_unix_nano,
        time_unix_nano=pb2_point.time_unix_nano,
        attributes=attributes,
        value=None if value_type is None else getattr(pb2_point, value_type),
        flags=pb2_point.flags,
    )


def _histogram_point(pb2_point: Any, attributes: dict[str, AnyValue]) -> MetricPoint:
    return MetricPoint(
        start_time_unix_nano=pb2_point.start_time_unix_nano,
        time_unix_nano=pb2_point.time_unix_nano,
        attributes=attributes,
        count=pb2_point.count,
        sum=_optional_double(pb2_point, "sum"),
        bucket_counts=tuple(pb2_point.bucket_counts),
        explicit_bounds=tuple(pb2_point.explicit_bounds),
        min=_optional_double(pb2_point, "min"),
        max=_optional_double(pb2_point, "max"),
        flags=pb2_point.flags,
    )


def _exponential_point(pb2_point: Any, attributes: dict[str, AnyValue]) -> MetricPoint:
    return MetricPoint(
        start_time_unix_nano=pb2_point.start_time_unix_nano,
        time_unix_nano=pb2_point.time_unix_nano,
        attributes=attributes,
        count=pb2_point.count,
        sum=_optional_double(pb2_point, "sum"),
        min=_optional_double(pb2_point, "min"),
        max=_optional_double(pb2_point, "max"),
        scale=pb2_point.scale,
        zero_count=pb2_point.zero_count,
        positive_offset=pb2_point.positive.offset,
        positive_bucket_counts=tuple(pb2_point.positive.bucket_counts),
        negative_offset=pb2_point.negative.offset,
        negative_bucket_counts=tuple(pb2_point.negative.bucket_counts),
        flags=pb2_point.flags,
    )


def _summary_point(pb2_point: Any, attributes: dict[str, AnyValue]) -> MetricPoint:
    return MetricPoint(
        start_time_unix_nano=pb2_point.start_time_unix_nano,
        time_unix_nano=pb2_point.time_unix_nano,
        attributes=attributes,
        count=pb2_point.count,
        # A summary's sum is a plain double, always present, unlike a histogram's optional sum.
        sum=pb2_point.sum,
        quantile_values=tuple((pair.quantile, pair.value) for pair in pb2_point.quantile_values),
        flags=pb2_point.flags,
    )


def _optional_double(pb2_point: Any, name: str) -> float | None:
    return getattr(pb2_point, name) if pb2_point.HasField(name) else None


def _note_left_out(kind: MetricKind, pb2_points: Any, location: Location, notices: list[Notice]) -> None:
    """Add one notice per metric for exemplars and zero thresholds, which MetricPoint cannot carry."""
    point_type = _POINT_TYPES.get(kind)
    if point_type is None:
        return  # summary points have neither

    with_exemplars = [number for number, pb2_point in enumerate(pb2_points) if len(pb2_point.exemplars)]
    if with_exemplars:
        exemplars = sum(len(pb2_points[number].exemplars) for number in with_exemplars)
        reason = UNSUPPORTED_FIELDS[f"opentelemetry.proto.metrics.v1.{point_type}.exemplars"]
        msg = f"left out {exemplars} exemplar(s) of {len(with_exemplars)} data point(s): {reason}"
        notices.append(Notice(_child(location, f"[{with_exemplars[0]}].exemplars"), msg))

    if kind is not MetricKind.EXPONENTIAL_HISTOGRAM:
        return
    with_threshold = [number for number, pb2_point in enumerate(pb2_points) if pb2_point.zero_threshold]
    if with_threshold:
        reason = UNSUPPORTED_FIELDS["opentelemetry.proto.metrics.v1.ExponentialHistogramDataPoint.zero_threshold"]
        msg = (
            f"left out the zero threshold of {len(with_threshold)} data point(s), "
            f"which are sent with the default threshold 0: {reason}"
        )
        notices.append(Notice(_child(location, f"[{with_threshold[0]}].zeroThreshold"), msg))


def _point_count(pb2_metric: Any) -> int:
    data_type = pb2_metric.WhichOneof("data")
    return 1 if data_type is None else len(getattr(pb2_metric, data_type).data_points)


# --- IDs and values --------------------------------------------------------------------


def _required_id(raw: bytes, size: int, field: str) -> int:
    if not raw:
        raise RecordError(field, f"missing: expected an ID of {size} bytes")
    number = _optional_id(raw, size, field)
    if number == 0:
        raise RecordError(field, f"invalid ID {raw.hex()!r}: an all-zero ID is not valid in OpenTelemetry")
    return number


def _optional_id(raw: bytes, size: int, field: str) -> int:
    if not raw:
        return 0
    if len(raw) != size:
        raise RecordError(field, f"invalid ID {raw.hex()!r}: expected {size} bytes, got {len(raw)}")
    return int.from_bytes(raw, "big")


def _attributes(pb2_pairs: Any, location: Location, notices: list[Notice]) -> dict[str, AnyValue]:
    attributes: dict[str, AnyValue] = {}
    for pb2_pair in pb2_pairs:
        key = pb2_pair.key
        pb2_value = pb2_pair.value
        value_type = pb2_value.WhichOneof("value")
        if value_type in _SCALAR_TYPES:
            value: AnyValue = getattr(pb2_value, value_type)
        else:
            # Only nested and unsupported values need their location, so scalars skip building it.
            value = _value(pb2_value, _child(location, f"[{_quote(key)}]"), notices)
        if pb2_pair.key_strindex:
            notices.append(_unsupported(_child(location, f"[{_quote(key)}]"), "keyStrindex", _KEY_STRINDEX))
        if key in attributes:
            msg = "duplicate key: only its last value is sent, as OTLP requires unique keys"
            notices.append(Notice(_child(location, f"[{_quote(key)}]"), msg))
        attributes[key] = value
    return attributes


def _value(pb2_value: Any, location: Location, notices: list[Notice]) -> AnyValue:
    value_type = pb2_value.WhichOneof("value")
    if value_type is None:
        return None
    if value_type == "array_value":
        return [
            _value(item, _child(location, f"[{number}]"), notices)
            for number, item in enumerate(pb2_value.array_value.values)
        ]
    if value_type == "kvlist_value":
        return _attributes(pb2_value.kvlist_value.values, location, notices)
    if value_type == "string_value_strindex":
        notices.append(_unsupported(location, "", "opentelemetry.proto.common.v1.AnyValue.string_value_strindex"))
        return None
    value: AnyValue = getattr(pb2_value, value_type)
    return value


def _unsupported(location: Location, suffix: str, full_name: str) -> Notice:
    return Notice(_child(location, f".{suffix}" if suffix else ""), f"left out: {UNSUPPORTED_FIELDS[full_name]}")


def _child(location: Location, suffix: str) -> Location:
    return Location(location.path, location.index, f"{location.field or ''}{suffix}")


def _quote(key: str) -> str:
    return orjson.dumps(key).decode()
