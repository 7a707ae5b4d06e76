"""Every field of the OTLP messages is carried by the shared converter, or knowingly left out with a notice.

For each field of each message type reachable from the three export requests, the test sets
the field to a different value in a minimal request and converts both requests. A carried
field must change the records; a field in `UNSUPPORTED_FIELDS` must add a notice instead.
A field that a new OTLP version adds fails the test until the converter carries it or the
field is listed with its reason.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from google.protobuf.descriptor import FieldDescriptor
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from otel_replay.formats.otlp_records import LAYOUTS, UNSUPPORTED_FIELDS, RecordConverter
from otel_replay.model import Item, Notice

TRACE_ID = b"\x01" * 16
SPAN_ID = b"\x02" * 8
TIME = 1_796_413_207_753_123_456
PACKAGE = "opentelemetry.proto."
REQUEST_TYPES = (ExportTraceServiceRequest, ExportLogsServiceRequest, ExportMetricsServiceRequest)


# --- minimal requests ------------------------------------------------------------------


def trace_request() -> Any:
    """A trace request with one span that has one attribute, event and link, and nothing else set."""
    request = ExportTraceServiceRequest()
    span = (
        request.resource_spans.add()
        .scope_spans.add()
        .spans.add(
            trace_id=TRACE_ID, span_id=SPAN_ID, name="base", start_time_unix_nano=TIME, end_time_unix_nano=TIME + 1
        )
    )
    span.attributes.add(key="base", value={"string_value": "base"})
    span.events.add(name="base", time_unix_nano=TIME)
    span.links.add(trace_id=TRACE_ID, span_id=SPAN_ID)
    return request


def log_request() -> Any:
    """A log request with three records: a string body, an array body and a key-value list body."""
    request = ExportLogsServiceRequest()
    records = request.resource_logs.add().scope_logs.add().log_records
    records.add(time_unix_nano=TIME).body.string_value = "base"
    records.add(time_unix_nano=TIME).body.array_value.values.add(string_value="base")
    records.add(time_unix_nano=TIME).body.kvlist_value.values.add(key="base", value={"string_value": "base"})
    return request


def metric_request() -> Any:
    """A metric request with one metric of each type, each with one data point."""
    request = ExportMetricsServiceRequest()
    metrics = request.resource_metrics.add().scope_metrics.add().metrics
    metrics.add(name="gauge").gauge.data_points.add(as_int=1)
    metrics.add(name="sum").sum.data_points.add(as_int=1)
    metrics.add(name="histogram").histogram.data_points.add(count=1)
    metrics.add(name="exponential").exponential_histogram.data_points.add(count=1)
    metrics.add(name="summary").summary.data_points.add(count=1).quantile_values.add(quantile=0.5, value=1.0)
    return request


@dataclass(frozen=True)
class Probe:
    """Where a message type sits in a minimal request: the signal, the request and the path to one instance."""

    signal_index: int
    make_request: Callable[[], Any]
    reach: Callable[[Any], Any]


def _span(request: Any) -> Any:
    return request.resource_spans[0].scope_spans[0].spans[0]


def _log(request: Any, number: int = 0) -> Any:
    return request.resource_logs[0].scope_logs[0].log_records[number]


def _metric(request: Any, number: int) -> Any:
    return request.resource_metrics[0].scope_metrics[0].metrics[number]


TRACES, LOGS, METRICS = 0, 1, 2
PROBES: dict[str, Probe] = {
    "collector.trace.v1.ExportTraceServiceRequest": Probe(TRACES, trace_request, lambda r: r),
    "trace.v1.ResourceSpans": Probe(TRACES, trace_request, lambda r: r.resource_spans[0]),
    "trace.v1.ScopeSpans": Probe(TRACES, trace_request, lambda r: r.resource_spans[0].scope_spans[0]),
    "trace.v1.Span": Probe(TRACES, trace_request, _span),
    "trace.v1.Span.Event": Probe(TRACES, trace_request, lambda r: _span(r).events[0]),
    "trace.v1.Span.Link": Probe(TRACES, trace_request, lambda r: _span(r).links[0]),
    "trace.v1.Status": Probe(TRACES, trace_request, lambda r: _span(r).status),
    "resource.v1.Resource": Probe(TRACES, trace_request, lambda r: r.resource_spans[0].resource),
    "common.v1.InstrumentationScope": Probe(TRACES, trace_request, lambda r: r.resource_spans[0].scope_spans[0].scope),
    "common.v1.KeyValue": Probe(TRACES, trace_request, lambda r: _span(r).attributes[0]),
    "common.v1.AnyValue": Probe(TRACES, trace_request, lambda r: _span(r).attributes[0].value),
    "common.v1.ArrayValue": Probe(LOGS, log_request, lambda r: _log(r, 1).body.array_value),
    "common.v1.KeyValueList": Probe(LOGS, log_request, lambda r: _log(r, 2).body.kvlist_value),
    "collector.logs.v1.ExportLogsServiceRequest": Probe(LOGS, log_request, lambda r: r),
    "logs.v1.ResourceLogs": Probe(LOGS, log_request, lambda r: r.resource_logs[0]),
    "logs.v1.ScopeLogs": Probe(LOGS, log_request, lambda r: r.resource_logs[0].scope_logs[0]),
    "logs.v1.LogRecord": Probe(LOGS, log_request, _log),
    "collector.metrics.v1.ExportMetricsServiceRequest": Probe(METRICS, metric_request, lambda r: r),
    "metrics.v1.ResourceMetrics": Probe(METRICS, metric_request, lambda r: r.resource_metrics[0]),
    "metrics.v1.ScopeMetrics": Probe(METRICS, metric_request, lambda r: r.resource_metrics[0].scope_metrics[0]),
    "metrics.v1.Metric": Probe(METRICS, metric_request, lambda r: _metric(r, 0)),
    "metrics.v1.Gauge": Probe(METRICS, metric_request, lambda r: _metric(r, 0).gauge),
    "metrics.v1.Sum": Probe(METRICS, metric_request, lambda r: _metric(r, 1).sum),
    "metrics.v1.Histogram": Probe(METRICS, metric_request, lambda r: _metric(r, 2).histogram),
    "metrics.v1.ExponentialHistogram": Probe(METRICS, metric_request, lambda r: _metric(r, 3).exponential_histogram),
    "metrics.v1.Summary": Probe(METRICS, metric_request, lambda r: _metric(r, 4).summary),
    "metrics.v1.NumberDataPoint": Probe(METRICS, metric_request, lambda r: _metric(r, 0).gauge.data_points[0]),
    "metrics.v1.HistogramDataPoint": Probe(METRICS, metric_request, lambda r: _metric(r, 2).histogram.data_points[0]),
    "metrics.v1.ExponentialHistogramDataPoint": Probe(
        METRICS, metric_request, lambda r: _metric(r, 3).exponential_histogram.data_points[0]
    ),
    "metrics.v1.ExponentialHistogramDataPoint.Buckets": Probe(
        METRICS, metric_request, lambda r: _metric(r, 3).exponential_histogram.data_points[0].positive
    ),
    "metrics.v1.SummaryDataPoint": Probe(METRICS, metric_request, lambda r: _metric(r, 4).summary.data_points[0]),
    "metrics.v1.SummaryDataPoint.ValueAtQuantile": Probe(
        METRICS, metric_request, lambda r: _metric(r, 4).summary.data_points[0].quantile_values[0]
    ),
}
"""Every message type the converter reads, by full name without the common package prefix."""


# --- filling fields with different values ---------------------------------------------


def _fill_key_value(message: Any) -> None:
    message.key = "filled"
    message.value.string_value = "filled"


def _fill_span(message: Any) -> None:
    message.trace_id = b"\x0c" * 16
    message.span_id = b"\x0d" * 8
    message.name = "filled"


def _fill_metric(message: Any) -> None:
    message.name = "filled"
    message.gauge.data_points.add(as_double=2.5)


FILLERS: dict[str, Callable[[Any], None]] = {
    "common.v1.KeyValue": _fill_key_value,
    "common.v1.AnyValue": lambda message: setattr(message, "string_value", "filled"),
    "common.v1.ArrayValue": lambda message: message.values.add(string_value="filled"),
    "common.v1.KeyValueList": lambda message: _fill_key_value(message.values.add()),
    "common.v1.InstrumentationScope": lambda message: setattr(message, "name", "filled"),
    "resource.v1.Resource": lambda message: _fill_key_value(message.attributes.add()),
    "common.v1.EntityRef": lambda message: setattr(message, "type", "host"),
    "trace.v1.ResourceSpans": lambda message: _fill_span(message.scope_spans.add().spans.add()),
    "trace.v1.ScopeSpans": lambda message: _fill_span(message.spans.add()),
    "trace.v1.Span": _fill_span,
    "trace.v1.Span.Event": lambda message: setattr(message, "name", "filled"),
    "trace.v1.Span.Link": lambda message: message.MergeFrom(type(message)(trace_id=b"\x0e" * 16, span_id=b"\x0f" * 8)),
    "trace.v1.Status": lambda message: setattr(message, "message", "filled"),
    "logs.v1.ResourceLogs": lambda message: message.scope_logs.add().log_records.add(time_unix_nano=5),
    "logs.v1.ScopeLogs": lambda message: message.log_records.add(time_unix_nano=5),
    "logs.v1.LogRecord": lambda message: setattr(message, "time_unix_nano", 5),
    "metrics.v1.ResourceMetrics": lambda message: _fill_metric(message.scope_metrics.add().metrics.add()),
    "metrics.v1.ScopeMetrics": lambda message: _fill_metric(message.metrics.add()),
    "metrics.v1.Metric": _fill_metric,
    "metrics.v1.Gauge": lambda message: message.data_points.add(as_double=2.5),
    "metrics.v1.Sum": lambda message: message.data_points.add(as_double=2.5),
    "metrics.v1.Histogram": lambda message: message.data_points.add(count=2),
    "metrics.v1.ExponentialHistogram": lambda message: message.data_points.add(count=2),
    "metrics.v1.Summary": lambda message: message.data_points.add(count=2),
    "metrics.v1.NumberDataPoint": lambda message: setattr(message, "as_double", 2.5),
    "metrics.v1.HistogramDataPoint": lambda message: setattr(message, "count", 2),
    "metrics.v1.ExponentialHistogramDataPoint": lambda message: setattr(message, "count", 2),
    "metrics.v1.ExponentialHistogramDataPoint.Buckets": lambda message: message.bucket_counts.append(3),
    "metrics.v1.SummaryDataPoint": lambda message: setattr(message, "count", 2),
    "metrics.v1.SummaryDataPoint.ValueAtQuantile": lambda message: setattr(message, "quantile", 0.99),
    "metrics.v1.Exemplar": lambda message: setattr(message, "as_int", 3),
}
"""How to give a message of each type content that differs from the minimal requests' content."""


def set_different(message: Any, field: Any) -> None:
    """Set one field of `message` to a valid value that differs from its current one."""
    short_name = field.message_type.full_name.removeprefix(PACKAGE) if field.message_type else None
    if short_name is not None:
        fill = FILLERS.get(short_name)
        if fill is None:
            pytest.fail(f"add a filler for {short_name} to FILLERS")
        fill(getattr(message, field.name).add() if field.is_repeated else getattr(message, field.name))
        return

    if field.is_repeated:
        getattr(message, field.name).append(_different_scalar(field, None))
        return
    setattr(message, field.name, _different_scalar(field, getattr(message, field.name)))


def _different_scalar(field: Any, current: Any) -> Any:
    if field.type == FieldDescriptor.TYPE_BYTES:
        size = 3
        if "trace_id" in field.name:
            size = 16
        elif "span_id" in field.name:
            size = 8
        return b"\x0b" * size
    if field.type == FieldDescriptor.TYPE_STRING:
        return "changed"
    if field.type == FieldDescriptor.TYPE_BOOL:
        return not current
    if field.type == FieldDescriptor.TYPE_ENUM:
        return next(value.number for value in field.enum_type.values if value.number != current)
    if field.cpp_type in (FieldDescriptor.CPPTYPE_DOUBLE, FieldDescriptor.CPPTYPE_FLOAT):
        return (current or 0.0) + 1.5
    return (current or 0) + 7


# --- converting and comparing ----------------------------------------------------------


def convert(probe: Probe, request: Any) -> list[Item]:
    """Convert one request with the shared converter, as both OTLP readers do."""
    return list(RecordConverter(Path("probe")).request(LAYOUTS[probe.signal_index], request))


def snapshot(items: list[Item]) -> list[tuple[Any, ...]]:
    """Return the items as nested tuples, so records with equal content compare equal."""
    return [dataclasses.astuple(item) for item in items]


def all_fields() -> Iterator[Any]:
    """Yield (short message name, field) for every field of every probed message type."""
    for short_name, probe in PROBES.items():
        for field in probe.reach(probe.make_request()).DESCRIPTOR.fields:
            yield pytest.param(short_name, field.name, id=f"{short_name}.{field.name}")


# --- tests -----------------------------------------------------------------------------


@pytest.mark.parametrize(("short_name", "field_name"), list(all_fields()))
def test_field_carried_or_noticed(short_name: str, field_name: str) -> None:
    """Setting the field changes the converted records, or adds a notice when the field is knowingly left out."""
    probe = PROBES[short_name]
    baseline_request = probe.make_request()
    variant_request = probe.make_request()
    message = probe.reach(variant_request)
    field = message.DESCRIPTOR.fields_by_name[field_name]
    set_different(message, field)

    baseline = convert(probe, baseline_request)
    variant = convert(probe, variant_request)

    if field.full_name in UNSUPPORTED_FIELDS:
        new_notices = [item for item in variant if isinstance(item, Notice) and item not in baseline]
        assert len(new_notices) == 1, f"{field.full_name} is left out without a notice"
        assert UNSUPPORTED_FIELDS[field.full_name] in new_notices[0].message
    else:
        assert snapshot(variant) != snapshot(baseline), f"{field.full_name} is not carried into the records"


@pytest.mark.parametrize("short_name", PROBES)
def test_probe_requests_convert_cleanly(short_name: str) -> None:
    """The minimal requests convert without skipped records or notices, so a change shows up."""
    probe = PROBES[short_name]

    items = convert(probe, probe.make_request())

    assert items
    assert all(not isinstance(item, Notice) for item in items)
    assert all(type(item).__name__ != "Skipped" for item in items)


def test_every_reachable_message_probed() -> None:
    """Every message type reachable from the export requests, except through left-out fields, has a probe."""
    reachable: set[str] = set()
    pending = [request_type.DESCRIPTOR for request_type in REQUEST_TYPES]
    while pending:
        descriptor = pending.pop()
        short_name = descriptor.full_name.removeprefix(PACKAGE)
        if short_name in reachable:
            continue
        reachable.add(short_name)
        pending.extend(
            field.message_type
            for field in descriptor.fields
            if field.message_type is not None and field.full_name not in UNSUPPORTED_FIELDS
        )

    assert reachable == set(PROBES)


def test_unsupported_fields_exist() -> None:
    """Each knowingly left-out field still exists in the protobuf definitions and has a reason."""
    from google.protobuf import descriptor_pool

    pool = descriptor_pool.Default()
    for full_name, reason in UNSUPPORTED_FIELDS.items():
        message_name, _, field_name = full_name.rpartition(".")
        assert field_name in pool.FindMessageTypeByName(message_name).fields_by_name, full_name
        assert reason, full_name
