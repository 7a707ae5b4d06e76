"""Rebuild the OpenTelemetry SDK's own span and log objects from format-neutral records.

This is the only module that touches SDK internals: it constructs `ReadableSpan` and
`ReadableLogRecord` directly, which the SDK documents as not meant for users, and it
imports the log exporter from its private module. Keeping that here means an SDK upgrade
breaks one file, and the pinned SDK range in pyproject.toml covers only tested releases.
"""

from __future__ import annotations

from typing import Any, Final

from opentelemetry import trace as trace_api
from opentelemetry._logs import LogRecord, SeverityNumber
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExportResult
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, TraceFlags, TraceState
from opentelemetry.trace.status import Status, StatusCode

from otel_replay.model import Attributes, EventData, LinkData, LogData, ResourceData, ScopeData, SpanData

__all__ = [
    "Compression",
    "LogRecordExportResult",
    "OTLPLogExporter",
    "OTLPSpanExporter",
    "Rebuilder",
    "SpanExportResult",
]

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
        return ReadableLogRecord(
            log_record=record,
            resource=self._resource(log.resource),
            instrumentation_scope=self._scope(log.scope),
        )

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


class _ReplayedSpan(ReadableSpan):
    """A `ReadableSpan` that reports the recorded dropped counts.

    The SDK derives dropped counts from its bounded containers, which a rebuilt span does
    not have, so without this override every count would read 0.
    """

    def __init__(self, *, dropped_counts: tuple[int, int, int], **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]  # forwarded unchanged from Rebuilder.span
        self._recorded_dropped = dropped_counts

    @property
    def dropped_attributes(self) -> int:
        return self._recorded_dropped[0]

    @property
    def dropped_events(self) -> int:
        return self._recorded_dropped[1]

    @property
    def dropped_links(self) -> int:
        return self._recorded_dropped[2]


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
