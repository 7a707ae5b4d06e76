"""Rebuild the OpenTelemetry SDK's own span and log objects from format-neutral records.

This is the only module that touches SDK internals: it constructs `ReadableSpan` and
`ReadableLogRecord` directly, which the SDK documents as not meant for users, and it
imports the log exporter from its private module. Keeping that here means an SDK upgrade
breaks one file, and the pinned SDK range in pyproject.toml covers only tested releases.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from opentelemetry import trace as trace_api
from opentelemetry._logs import LogRecord, SeverityNumber
from opentelemetry.exporter.otlp.proto.common._internal import _encode_attributes
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.metrics.v1 import metrics_pb2
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExportResult
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    Buckets,
    ExponentialHistogram,
    ExponentialHistogramDataPoint,
    Gauge,
    Histogram,
    HistogramDataPoint,
    Metric,
    MetricExportResult,
    MetricsData,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
    Sum,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, TraceFlags, TraceState
from opentelemetry.trace.status import Status, StatusCode

from otel_replay.encode import RequestEncoder, official_encoding
from otel_replay.model import (
    Attributes,
    EventData,
    LinkData,
    LogData,
    MetricData,
    MetricKind,
    MetricPoint,
    ResourceData,
    ScopeData,
    Signal,
    SpanData,
)

__all__ = [
    "Compression",
    "LogRecordExportResult",
    "MetricExportResult",
    "OTLPLogExporter",
    "OTLPMetricExporter",
    "OTLPSpanExporter",
    "Rebuilder",
    "ReplayLogExporter",
    "ReplayMetricExporter",
    "ReplaySpanExporter",
    "SpanExportResult",
    "encode_request",
    "grpc_export",
    "grpc_exporter",
    "send_serialized",
]

logger = logging.getLogger(__name__)

_SPAN_KINDS: Final = {
    0: SpanKind.INTERNAL,  # UNSPECIFIED has no SDK equivalent; INTERNAL is the SDK's default.
    1: SpanKind.INTERNAL,
    2: SpanKind.SERVER,
    3: SpanKind.CLIENT,
    4: SpanKind.PRODUCER,
    5: SpanKind.CONSUMER,
}
_STATUS_CODES: Final = {0: StatusCode.UNSET, 1: StatusCode.OK, 2: StatusCode.ERROR}
_SAMPLED: Final = TraceFlags(TraceFlags.SAMPLED)
_EMPTY_SDK_SCOPE: Final = InstrumentationScope("")


class Rebuilder:
    """Turns records into SDK objects, sharing one SDK resource and scope per source object.

    The OTLP encoder groups records by resource and scope, so sharing the objects keeps each
    request to one ResourceSpans per resource instead of one per record.
    """

    def __init__(self) -> None:
        self._resources: dict[ResourceData, Resource] = {}
        self._scopes: dict[ScopeData, InstrumentationScope | None] = {}

    def span(self, span: SpanData) -> ReadableSpan:
        """Rebuild a `ReadableSpan` with the recorded IDs, times, status, events and links."""
        context = SpanContext(
            trace_id=span.trace_id,
            span_id=span.span_id,
            is_remote=False,
            trace_flags=_SAMPLED,
            trace_state=_trace_state(span.trace_state),
        )
        parent = None
        if span.parent_span_id:
            parent = SpanContext(trace_id=span.trace_id, span_id=span.parent_span_id, is_remote=False)

        return _ReplayedSpan(
            name=span.name,
            context=context,
            parent=parent,
            resource=self._resource(span.resource),
            attributes=dict(span.attributes),
            events=[_ReplayedEvent(event) for event in span.events],
            links=[_ReplayedLink(link) for link in span.links],
            kind=_SPAN_KINDS[int(span.kind)],
            status=_RecordedStatus(_STATUS_CODES[span.status_code], span.status_message),
            start_time=span.start_time_unix_nano,
            end_time=span.end_time_unix_nano,
            instrumentation_scope=self._scope(span.scope),
            dropped_counts=(span.dropped_attributes_count, span.dropped_events_count, span.dropped_links_count),
            recorded=span,
        )

    def log(self, log: LogData) -> ReadableLogRecord:
        """Rebuild a `ReadableLogRecord` with the recorded times, severity, body and correlation."""
        context = None
        if log.trace_id or log.span_id:
            span_context = SpanContext(
                trace_id=log.trace_id,
                span_id=log.span_id,
                is_remote=False,
                trace_flags=TraceFlags(log.flags & 0xFF),
            )
            context = trace_api.set_span_in_context(trace_api.NonRecordingSpan(span_context))

        record = LogRecord(
            timestamp=log.time_unix_nano,
            observed_timestamp=log.observed_time_unix_nano,
            context=context,
            severity_text=log.severity_text,
            severity_number=None if log.severity_number is None else SeverityNumber(log.severity_number),
            body=log.body,
            attributes=dict(log.attributes),
            event_name=log.event_name,
        )
        return _ReplayedLogRecord(
            log_record=record,
            resource=self._resource(log.resource),
            instrumentation_scope=self._scope(log.scope),
            recorded_dropped_attributes=log.dropped_attributes_count,
            recorded=log,
        )

    def metrics(self, batch: Sequence[MetricData]) -> MetricsData:
        """Rebuild `MetricsData` for a batch of metrics, grouped by resource and then by scope.

        Summary metrics have no SDK type; `ReplayMetricExporter` adds them to the request.
        """
        resource_metrics = []
        ordered: list[MetricData] = []
        for resource, scopes in _group_metrics(batch).items():
            scope_metrics = []
            for records in scopes.values():
                scope = records[0].scope
                metrics = [_sdk_metric(record) for record in records]
                scope_metrics.append(ScopeMetrics(self._scope(scope) or _EMPTY_SDK_SCOPE, metrics, scope.schema_url))
                ordered.extend(records)
            resource_metrics.append(ResourceMetrics(self._resource(resource), scope_metrics, resource.schema_url))
        return _ReplayMetricsData(resource_metrics, ordered)

    def _resource(self, resource: ResourceData) -> Resource:
        sdk_resource = self._resources.get(resource)
        if sdk_resource is None:
            sdk_resource = _RecordedResource(resource)
            self._resources[resource] = sdk_resource
        return sdk_resource

    def _scope(self, scope: ScopeData) -> InstrumentationScope | None:
        if scope in self._scopes:
            return self._scopes[scope]

        sdk_scope = None
        if scope.name or scope.version or scope.attributes or scope.schema_url:
            sdk_scope = InstrumentationScope(
                scope.name, scope.version or None, scope.schema_url or None, _plain(scope.attributes)
            )
        self._scopes[scope] = sdk_scope
        return sdk_scope


def encode_request(signal: Signal, batch: Sequence[Any], rebuilder: Rebuilder) -> Any:
    """Encode a batch of `SpanData`, `LogData` or `MetricData` with the official encoders.

    This is the reference path: the exporters send the bytes of this request, or the same
    bytes written by `encode.RequestEncoder`.
    """
    if signal is Signal.TRACES:
        sdk_spans = [rebuilder.span(span) for span in batch]
        request = encode_spans(sdk_spans)
        _complete_spans(request, sdk_spans)
        return request
    if signal is Signal.LOGS:
        sdk_logs = [rebuilder.log(log) for log in batch]
        request = encode_logs(sdk_logs)
        _complete_logs(request, sdk_logs)
        return request
    records = list(batch)
    request = encode_metrics(rebuilder.metrics(records))
    _complete_request(request, _records_in_request_order(records))
    return request


def _records_in_request_order(records: list[MetricData]) -> list[MetricData]:
    return [record for scopes in _group_metrics(records).values() for group in scopes.values() for record in group]


class ReplaySpanExporter(OTLPSpanExporter):
    """The official OTLP/HTTP span exporter, exporting `SpanData` with the recorded fields.

    The SDK's encoder derives span flags from the parent's remote flag, has no UNSPECIFIED
    kind, writes no link trace state or flags and no resource or scope dropped counts. So
    the official path (``OTEL_REPLAY_ENCODER=sdk``) encodes rebuilt spans with the official
    encoder and sets these fields from the recorded spans. By default `RequestEncoder` writes
    the same bytes directly. Either way the exporter's own HTTP client sends them with its
    retries.
    """

    def export(self, spans: Sequence[SpanData]) -> SpanExportResult:  # type: ignore[override]  # records, not SDK spans
        if self._shutdown:
            return SpanExportResult.FAILURE
        if official_encoding():
            serialized = encode_request(Signal.TRACES, spans, _rebuilder(self)).SerializePartialToString()
        else:
            serialized = _request_encoder(self).spans(spans)
        sent = send_serialized(self, serialized)
        return SpanExportResult.SUCCESS if sent else SpanExportResult.FAILURE


class ReplayLogExporter(OTLPLogExporter):
    """The official OTLP/HTTP log exporter, exporting `LogData` with the flags and dropped counts as recorded."""

    def export(self, batch: Sequence[LogData]) -> LogRecordExportResult:  # type: ignore[override]  # records, not SDK log records
        if self._shutdown:
            return LogRecordExportResult.FAILURE
        if official_encoding():
            serialized = encode_request(Signal.LOGS, batch, _rebuilder(self)).SerializePartialToString()
        else:
            serialized = _request_encoder(self).logs(batch)
        sent = send_serialized(self, serialized)
        return LogRecordExportResult.SUCCESS if sent else LogRecordExportResult.FAILURE


def _rebuilder(exporter: Any) -> Rebuilder:
    rebuilder: Rebuilder | None = getattr(exporter, "_replay_rebuilder", None)
    if rebuilder is None:
        rebuilder = Rebuilder()
        exporter._replay_rebuilder = rebuilder
    return rebuilder


def _request_encoder(exporter: Any) -> RequestEncoder:
    encoder: RequestEncoder | None = getattr(exporter, "_replay_encoder", None)
    if encoder is None:
        encoder = RequestEncoder()
        exporter._replay_encoder = encoder
    return encoder


def send_serialized(exporter: Any, serialized: bytes) -> bool:
    """Send a serialized export request with the exporter's own HTTP client, as its export method does.

    The client adds the exporter's headers and compression, and its transport uses the
    exporter's session and TLS settings. `otel_replay.delivery` owns the retries below it.
    """
    return bool(exporter._client.export(serialized).success)  # private: the pinned exporter's client


def grpc_exporter(signal: Signal, **options: Any) -> Any:
    """Create the official OTLP/gRPC exporter for `signal`.

    Raises:
        ImportError: the optional grpc extra is not installed.
    """
    if signal is Signal.TRACES:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter

        return GrpcSpanExporter(**options)
    if signal is Signal.LOGS:
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as GrpcLogExporter

        return GrpcLogExporter(**options)
    from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter as GrpcMetricExporter

    return GrpcMetricExporter(**options)


def grpc_export(exporter: Any, request: Any, timeout: float) -> Any:
    """Send a completed export request once through the gRPC exporter's channel and headers; return the response.

    The exporter's own export method would encode again, without the completed fields, and
    apply its own retries, so `otel_replay.grpc_export` calls the stub it created instead.

    Raises:
        grpc.RpcError: the call failed.
    """
    return exporter._client.Export(request=request, metadata=exporter._headers, timeout=timeout)  # private: pinned


def _encoder_order(sdk_records: Sequence[Any]) -> list[Any]:
    """Return SDK spans or log records in the order the encoder writes them.

    The encoders group records by resource and then by scope, in order of first appearance,
    and keep the order within a group. The same grouping here pairs each encoded record with
    its recorded data.
    """
    groups: dict[Any, dict[Any, list[Any]]] = {}
    for sdk_record in sdk_records:
        scope = sdk_record.instrumentation_scope or None
        groups.setdefault(sdk_record.resource, {}).setdefault(scope, []).append(sdk_record)
    return [sdk_record for scopes in groups.values() for group in scopes.values() for sdk_record in group]


def _complete_spans(request: Any, sdk_spans: Sequence[Any]) -> None:
    ordered = iter(_encoder_order(sdk_spans))
    for resource_spans in request.resource_spans:
        for scope_spans in resource_spans.scope_spans:
            for pb2_span in scope_spans.spans:
                span: SpanData | None = getattr(next(ordered), "recorded", None)
                if span is None:
                    continue
                resource_spans.resource.dropped_attributes_count = span.resource.dropped_attributes_count
                scope_spans.scope.dropped_attributes_count = span.scope.dropped_attributes_count
                pb2_span.flags = span.flags
                pb2_span.kind = int(span.kind)
                pb2_span.trace_state = span.trace_state
                for pb2_link, link in zip(pb2_span.links, span.links, strict=True):
                    pb2_link.trace_state = link.trace_state
                    pb2_link.flags = link.flags


def _complete_logs(request: Any, sdk_logs: Sequence[Any]) -> None:
    ordered = iter(_encoder_order(sdk_logs))
    for resource_logs in request.resource_logs:
        for scope_logs in resource_logs.scope_logs:
            for pb2_log in scope_logs.log_records:
                log: LogData | None = getattr(next(ordered), "recorded", None)
                if log is None:
                    continue
                resource_logs.resource.dropped_attributes_count = log.resource.dropped_attributes_count
                scope_logs.scope.dropped_attributes_count = log.scope.dropped_attributes_count
                pb2_log.flags = log.flags


class _ReplayMetricsData(MetricsData):
    """`MetricsData` that also carries the neutral records, for the fields the SDK cannot hold."""

    def __init__(self, resource_metrics: Sequence[ResourceMetrics], records: list[MetricData]) -> None:
        super().__init__(resource_metrics=resource_metrics)
        object.__setattr__(self, "records", records)


class ReplayMetricExporter(OTLPMetricExporter):
    """The official OTLP/HTTP metric exporter, completing what the SDK's encoder leaves out.

    The encoder drops a gauge point's start time and every point's flags, and the SDK has
    no summary type. So the request is encoded with the official encoder, these fields are
    filled in from the recorded data, and then the exporter sends it.
    """

    def export(
        self, metrics_data: MetricsData, timeout_millis: float | None = 10_000, **kwargs: object
    ) -> MetricExportResult:
        records: list[MetricData] = getattr(metrics_data, "records", [])
        request = encode_metrics(metrics_data)
        _complete_request(request, records)
        return self._export_batch(request)  # private, but the only way to send an encoded request with the retries


def _group_metrics(batch: Sequence[MetricData]) -> dict[ResourceData, dict[tuple[object, ...], list[MetricData]]]:
    # The encoder keys scopes by name, version and schema URL within a resource and would
    # overwrite a group with an equal scope, so groups are keyed by content, not identity.
    grouped: dict[ResourceData, dict[tuple[object, ...], list[MetricData]]] = {}
    for metric in batch:
        scope = metric.scope
        scope_key = (scope.name, scope.version, scope.schema_url)
        grouped.setdefault(metric.resource, {}).setdefault(scope_key, []).append(metric)
    return grouped


def _complete_request(request: Any, records: list[MetricData]) -> None:
    # The encoder keeps the order of resources, scopes and metrics, which is `records` order.
    pb2_metrics = [
        pb2_metric
        for resource_metrics in request.resource_metrics
        for scope_metrics in resource_metrics.scope_metrics
        for pb2_metric in scope_metrics.metrics
    ]
    for pb2_metric, record in zip(pb2_metrics, records, strict=True):
        _complete_metric(pb2_metric, record)

    ordered = iter(records)
    for resource_metrics in request.resource_metrics:
        for scope_metrics in resource_metrics.scope_metrics:
            for _ in scope_metrics.metrics:
                record = next(ordered)
                resource_metrics.resource.dropped_attributes_count = record.resource.dropped_attributes_count
                scope_metrics.scope.dropped_attributes_count = record.scope.dropped_attributes_count


def _complete_metric(pb2_metric: Any, record: MetricData) -> None:
    if record.metadata:
        pb2_metric.metadata.extend(_encode_attributes(dict(record.metadata)))
    if record.kind is MetricKind.GAUGE:
        for pb2_point, point in zip(pb2_metric.gauge.data_points, record.points, strict=True):
            pb2_point.start_time_unix_nano = point.start_time_unix_nano
            pb2_point.flags = point.flags
    elif record.kind is MetricKind.SUM:
        for pb2_point, point in zip(pb2_metric.sum.data_points, record.points, strict=True):
            pb2_point.flags = point.flags
    elif record.kind is MetricKind.HISTOGRAM:
        for pb2_point, point in zip(pb2_metric.histogram.data_points, record.points, strict=True):
            pb2_point.flags = point.flags
            if point.sum is None:
                pb2_point.ClearField("sum")
            if point.min is None:
                pb2_point.ClearField("min")
            if point.max is None:
                pb2_point.ClearField("max")
    elif record.kind is MetricKind.SUMMARY:
        _fill_summary(pb2_metric, record)


def _fill_summary(pb2_metric: Any, record: MetricData) -> None:
    for point in record.points:
        pb2_metric.summary.data_points.append(
            metrics_pb2.SummaryDataPoint(
                attributes=[],
                start_time_unix_nano=point.start_time_unix_nano,
                time_unix_nano=point.time_unix_nano,
                count=point.count,
                sum=point.sum or 0.0,
                quantile_values=[
                    metrics_pb2.SummaryDataPoint.ValueAtQuantile(quantile=quantile, value=value)
                    for quantile, value in point.quantile_values
                ],
                flags=point.flags,
            )
        )
        _encode_point_attributes(pb2_metric.summary.data_points[-1], point)


def _encode_point_attributes(pb2_point: Any, point: MetricPoint) -> None:
    pb2_point.attributes.extend(_encode_attributes(dict(point.attributes)))


def _sdk_metric(metric: MetricData) -> Metric:
    temporality = AggregationTemporality(metric.aggregation_temporality or AggregationTemporality.CUMULATIVE)
    points = metric.points
    data: Any
    if metric.kind is MetricKind.GAUGE:
        data = Gauge([_number_point(point) for point in points])
    elif metric.kind is MetricKind.SUM:
        data = Sum([_number_point(point) for point in points], temporality, metric.is_monotonic)
    elif metric.kind is MetricKind.HISTOGRAM:
        data = Histogram([_histogram_point(point) for point in points], temporality)
    elif metric.kind is MetricKind.EXPONENTIAL_HISTOGRAM:
        data = ExponentialHistogram([_exponential_point(point) for point in points], temporality)
    else:
        data = _SummaryPlaceholder()
    return Metric(metric.name, metric.description, metric.unit, data)


class _SummaryPlaceholder:
    """Stands for a summary, which the SDK cannot represent; the exporter fills it in after encoding."""

    data_points: tuple[()] = ()


class _PlaceholderWarningFilter(logging.Filter):
    """Drops the encoder's warning about the summary placeholder, whose data is added after encoding."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "_SummaryPlaceholder" not in record.getMessage()


logging.getLogger(encode_metrics.__module__).addFilter(_PlaceholderWarningFilter())


def _number_point(point: MetricPoint) -> NumberDataPoint:
    value = point.value if point.value is not None else 0
    return NumberDataPoint(dict(point.attributes), point.start_time_unix_nano, point.time_unix_nano, value)


def _histogram_point(point: MetricPoint) -> HistogramDataPoint:
    return HistogramDataPoint(
        attributes=dict(point.attributes),
        start_time_unix_nano=point.start_time_unix_nano,
        time_unix_nano=point.time_unix_nano,
        count=point.count,
        sum=point.sum or 0.0,
        bucket_counts=list(point.bucket_counts),
        explicit_bounds=list(point.explicit_bounds),
        min=point.min if point.min is not None else 0.0,
        max=point.max if point.max is not None else 0.0,
    )


def _exponential_point(point: MetricPoint) -> ExponentialHistogramDataPoint:
    return ExponentialHistogramDataPoint(
        attributes=dict(point.attributes),
        start_time_unix_nano=point.start_time_unix_nano,
        time_unix_nano=point.time_unix_nano,
        count=point.count,
        sum=point.sum or 0.0,
        scale=point.scale,
        zero_count=point.zero_count,
        positive=Buckets(point.positive_offset, list(point.positive_bucket_counts)),
        negative=Buckets(point.negative_offset, list(point.negative_bucket_counts)),
        flags=point.flags,
        min=point.min if point.min is not None else 0.0,
        max=point.max if point.max is not None else 0.0,
    )


class _ReplayedSpan(ReadableSpan):
    """A `ReadableSpan` that reports the recorded dropped counts.

    The SDK derives dropped counts from its bounded containers, which a rebuilt span does
    not have, so without this override every count would read 0.
    """

    def __init__(self, *, dropped_counts: tuple[int, int, int], recorded: SpanData, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]  # forwarded unchanged from Rebuilder.span
        self._recorded_dropped = dropped_counts
        self.recorded = recorded

    @property
    def dropped_attributes(self) -> int:
        return self._recorded_dropped[0]

    @property
    def dropped_events(self) -> int:
        return self._recorded_dropped[1]

    @property
    def dropped_links(self) -> int:
        return self._recorded_dropped[2]


@dataclass(frozen=True)
class _ReplayedLogRecord(ReadableLogRecord):
    """A `ReadableLogRecord` that reports its recorded dropped attribute count.

    The SDK derives the count from its bounded attributes, which a rebuilt record does not use.
    """

    recorded_dropped_attributes: int = 0
    recorded: LogData | None = None

    @property
    def dropped_attributes(self) -> int:
        return self.recorded_dropped_attributes


class _RecordedResource(Resource):
    """A resource with exactly the recorded attributes, compared by identity.

    Unlike `Resource.create`, it adds no SDK defaults, detector output or
    OTEL_RESOURCE_ATTRIBUTES. The SDK's `Resource` would also drop map values, which OTLP
    carries. It also hashes by serializing its attributes, and the encoder looks the resource
    up once per record, so identity is both faster and enough: the rebuilder shares one object
    per resource.
    """

    def __init__(self, resource: ResourceData) -> None:
        super().__init__({}, resource.schema_url or None)
        self._recorded = dict(resource.attributes)

    @property
    def attributes(self) -> Attributes:
        return self._recorded

    def __eq__(self, other: object) -> bool:
        return self is other

    def __hash__(self) -> int:
        return id(self)


class _ReplayedEvent(Event):
    """A span event that reports its recorded dropped attribute count."""

    def __init__(self, event: EventData) -> None:
        super().__init__(event.name, dict(event.attributes), event.time_unix_nano)
        self._recorded_dropped = event.dropped_attributes_count

    @property
    def dropped_attributes(self) -> int:
        return self._recorded_dropped


class _ReplayedLink(trace_api.Link):
    """A span link that reports its recorded dropped attribute count."""

    def __init__(self, link: LinkData) -> None:
        context = SpanContext(
            trace_id=link.trace_id,
            span_id=link.span_id,
            is_remote=False,
            trace_flags=TraceFlags(link.flags & 0xFF),
            trace_state=_trace_state(link.trace_state),
        )
        super().__init__(context, dict(link.attributes))
        self._recorded_dropped = link.dropped_attributes_count

    @property
    def dropped_attributes(self) -> int:
        return self._recorded_dropped


class _RecordedStatus(Status):
    """A status that keeps its message with any code.

    OTLP carries a message with every status code, but the SDK's `Status` discards it
    unless the code is ERROR; CodeMachine records OK spans with messages.
    """

    def __init__(self, code: StatusCode, message: str) -> None:
        super().__init__(code)
        self._recorded_message = message or None

    @property
    def description(self) -> str | None:
        return self._recorded_message


def _trace_state(header: str) -> TraceState | None:
    if not header:
        return None
    return TraceState.from_header([header])


def _plain(attributes: Attributes) -> dict[str, Any] | None:
    return dict(attributes) if attributes else None
