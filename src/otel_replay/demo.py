"""Describe what an OTLP receiver got, for `otel-replay demo`."""

from __future__ import annotations

from collections import Counter, defaultdict
from importlib import resources
from pathlib import Path
from typing import Any, Final

from otel_replay.receiver import Received

__all__ = ["BUNDLED_REPORT", "describe", "received_counts"]

BUNDLED_REPORT: Final = Path(str(resources.files("otel_replay") / "examples" / "codemachine-bug-report"))
"""A real CodeMachine bug-report folder: one session's traces, logs and metrics, plus latest*.json."""

_MAX_TRACES_SHOWN: Final = 10
_NAME_WIDTH: Final = 36


def describe(received: Received) -> str:
    """Return a short account of the spans and log records the receiver decoded."""
    spans = received.spans()
    logs = received.log_records()
    linked = sum(1 for _, _, record in logs if record.trace_id)
    metrics = received.metrics_received()
    points = sum(_point_count(metric) for _, _, metric in metrics)
    lines = [
        f"The receiver decoded {len(spans)} spans in {len(received.traces)} request(s), "
        f"{len(logs)} log records in {len(received.logs)} request(s) "
        f"and {points} metric data points in {len(received.metrics)} request(s); "
        f"{linked} log records carry a trace ID.",
    ]
    lines.extend(_trace_table(spans))
    lines.extend(_severity_line(logs))
    lines.extend(_resource_lines(spans, logs))
    return "\n".join(lines)


def _point_count(pb2_metric: Any) -> int:
    kind = pb2_metric.WhichOneof("data")
    return 0 if kind is None else len(getattr(pb2_metric, kind).data_points)


def received_counts(received: Received) -> dict[str, object]:
    """Return what the receiver decoded as JSON-ready counts: requests, spans, traces and log records."""
    spans = received.spans()
    logs = received.log_records()
    return {
        "trace_requests": len(received.traces),
        "spans": len(spans),
        "traces": len({span.trace_id for _, _, span in spans}),
        "log_requests": len(received.logs),
        "log_records": len(logs),
        "log_records_with_trace_id": sum(1 for _, _, record in logs if record.trace_id),
        "metric_requests": len(received.metrics),
        "metric_data_points": sum(_point_count(metric) for _, _, metric in received.metrics_received()),
    }


def _trace_table(spans: list[tuple[Any, Any, Any]]) -> list[str]:
    by_trace: dict[bytes, list[Any]] = defaultdict(list)
    for _, _, span in spans:
        by_trace[span.trace_id].append(span)
    if not by_trace:
        return []

    lines = ["", f"{'trace ID':<32}  {'spans':>5}  {'duration ms':>11}  root span (or earliest span)"]
    ordered = sorted(by_trace.items(), key=lambda item: min(span.start_time_unix_nano for span in item[1]))
    for trace_id, trace_spans in ordered[:_MAX_TRACES_SHOWN]:
        start = min(span.start_time_unix_nano for span in trace_spans)
        end = max(span.end_time_unix_nano for span in trace_spans)
        roots = [span for span in trace_spans if not span.parent_span_id]
        first = min(roots or trace_spans, key=lambda span: span.start_time_unix_nano)
        name = first.name if len(first.name) <= _NAME_WIDTH else first.name[: _NAME_WIDTH - 3] + "..."
        lines.append(f"{trace_id.hex():<32}  {len(trace_spans):>5}  {(end - start) / 1e6:>11.3f}  {name}")
    if len(ordered) > _MAX_TRACES_SHOWN:
        lines.append(f"... and {len(ordered) - _MAX_TRACES_SHOWN} more traces")
    return lines


def _severity_line(logs: list[tuple[Any, Any, Any]]) -> list[str]:
    if not logs:
        return []
    severities = Counter(record.severity_text or f"number {record.severity_number}" for _, _, record in logs)
    counts = ", ".join(f"{text} {count}" for text, count in severities.most_common())
    return ["", f"Log records by severity text: {counts}"]


def _resource_lines(spans: list[tuple[Any, Any, Any]], logs: list[tuple[Any, Any, Any]]) -> list[str]:
    seen: dict[str, None] = {}
    for resource, _, _ in [*spans, *logs]:
        text = ", ".join(f"{pair.key}={_scalar(pair.value)}" for pair in resource.attributes)
        seen.setdefault(text or "(no attributes)", None)
    if not seen:
        return []
    return ["", "Resources received:", *(f"  {text}" for text in seen)]


def _scalar(value: Any) -> str:
    kind = value.WhichOneof("value")
    return "" if kind is None else str(getattr(value, kind))
