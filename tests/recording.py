"""Write small OTLP/JSON recordings with chosen IDs and nanosecond times, for time, pacing and ID tests."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

BASE_NANO = 1_796_413_207_753_123_457  # 2026-12-04T19:40:07.753123457Z; more digits than a double can represent
SECOND = 1_000_000_000


@dataclass(frozen=True)
class Span:
    """A span to write: hex IDs, times in nanoseconds relative to BASE_NANO."""

    trace_id: str
    span_id: str
    name: str
    start: int
    end: int
    parent_span_id: str = ""
    service: str = "checkout"
    links: tuple[tuple[str, str], ...] = ()
    events: tuple[int, ...] = ()


@dataclass(frozen=True)
class Log:
    """A log record to write, with its time relative to BASE_NANO."""

    time: int
    body: str
    trace_id: str = ""
    span_id: str = ""
    service: str = "checkout"
    observed: int | None = None


@dataclass(frozen=True)
class Point:
    """A gauge data point to write, with its time relative to BASE_NANO."""

    name: str
    time: int
    value: int
    service: str = "checkout"
    attributes: dict[str, str] = field(default_factory=dict)


def _resource(service: str) -> dict[str, object]:
    return {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]}


def _span(span: Span) -> dict[str, object]:
    document: dict[str, object] = {
        "traceId": span.trace_id,
        "spanId": span.span_id,
        "name": span.name,
        "kind": 1,
        "startTimeUnixNano": str(BASE_NANO + span.start),
        "endTimeUnixNano": str(BASE_NANO + span.end),
        "events": [
            {"name": f"event {index}", "timeUnixNano": str(BASE_NANO + time)} for index, time in enumerate(span.events)
        ],
        "links": [{"traceId": trace_id, "spanId": span_id} for trace_id, span_id in span.links],
    }
    if span.parent_span_id:
        document["parentSpanId"] = span.parent_span_id
    return document


def _log(log: Log) -> dict[str, object]:
    observed = log.time if log.observed is None else log.observed
    return {
        "timeUnixNano": str(BASE_NANO + log.time),
        "observedTimeUnixNano": str(BASE_NANO + observed),
        "severityNumber": 9,
        "body": {"stringValue": log.body},
        "traceId": log.trace_id,
        "spanId": log.span_id,
    }


def _point(point: Point) -> dict[str, object]:
    return {
        "name": point.name,
        "gauge": {
            "dataPoints": [
                {
                    "timeUnixNano": str(BASE_NANO + point.time),
                    "asInt": str(point.value),
                    "attributes": [
                        {"key": key, "value": {"stringValue": value}} for key, value in point.attributes.items()
                    ],
                }
            ]
        },
    }


def write_recording(
    path: Path, spans: Sequence[Span] = (), logs: Sequence[Log] = (), points: Sequence[Point] = ()
) -> Path:
    """Write one OTLP/JSON export request per record, as Collector file exporter lines, in the given order."""
    lines = []
    for span in spans:
        scope = {"scope": {"name": "tests"}, "spans": [_span(span)]}
        lines.append({"resourceSpans": [{"resource": _resource(span.service), "scopeSpans": [scope]}]})
    for log in logs:
        scope = {"scope": {"name": "tests"}, "logRecords": [_log(log)]}
        lines.append({"resourceLogs": [{"resource": _resource(log.service), "scopeLogs": [scope]}]})
    for point in points:
        scope = {"scope": {"name": "tests"}, "metrics": [_point(point)]}
        lines.append({"resourceMetrics": [{"resource": _resource(point.service), "scopeMetrics": [scope]}]})
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path
