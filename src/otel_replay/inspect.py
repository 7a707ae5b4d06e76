"""Describe telemetry files without sending them: format, signals, counts, services, traces, times and problems."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from otel_replay import formats
from otel_replay.discover import discover
from otel_replay.errors import InputError, NotTelemetryError
from otel_replay.model import Item, Location, LogData, MetricData, Notice, Signal, Skipped, SpanData
from otel_replay.transform import Deduplicator

__all__ = ["FileReport", "inspect"]

_MAX_PROBLEMS_PER_FILE = 20
_NOUNS = {"traces": "spans", "logs": "log records", "metrics": "metric data points"}


@dataclass(slots=True)
class FileReport:
    """Report on one file: its contents, and what a replay would do with them."""

    path: Path
    format: str | None = None
    records: Counter[str] = field(default_factory=Counter)
    services: set[str] = field(default_factory=set)
    trace_ids: set[int] = field(default_factory=set)
    first_unix_nano: int | None = None
    last_unix_nano: int | None = None
    duplicates: Counter[str] = field(default_factory=Counter)
    invalid: Counter[str] = field(default_factory=Counter)
    orphan_spans: int = 0
    warnings: int = 0
    problems: list[str] = field(default_factory=list)
    error: str | None = None
    parents: list[tuple[int, int]] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict[str, object]:
        """Return the report as JSON-ready values."""
        return {
            "file": str(self.path),
            "format": self.format,
            "records": dict(self.records),
            "services": sorted(self.services),
            "traces": len(self.trace_ids),
            "time_range": [_iso(self.first_unix_nano), _iso(self.last_unix_nano)],
            "duplicates": dict(self.duplicates),
            "invalid": dict(self.invalid),
            "orphan_spans": self.orphan_spans,
            "warnings": self.warnings,
            "problems": self.problems,
            "error": self.error,
        }

    def render(self) -> str:
        """Return the report as lines for people."""
        lines = [str(self.path)]
        if self.format is None:
            lines.append(f"  {self.error or 'not a telemetry file'}")
            return "\n".join(lines)

        counts = _counts(self.records) or "no records"
        lines.append(f"  format {self.format}: {counts}")
        if self.services:
            lines.append(f"  services: {', '.join(sorted(self.services))}")
        if self.trace_ids:
            lines.append(
                f"  traces: {len(self.trace_ids)}, orphan spans (parent not in the input): {self.orphan_spans}"
            )
        if self.first_unix_nano is not None:
            lines.append(f"  time range: {_iso(self.first_unix_nano)} to {_iso(self.last_unix_nano)}")
        if self.duplicates:
            lines.append(f"  duplicates of records in earlier files or in this file: {_counts(self.duplicates)}")
        if self.invalid:
            lines.append(f"  invalid records, which replay skips: {_counts(self.invalid)}")
        lines.extend(f"  {problem}" for problem in self.problems)
        if self.error:
            lines.append(f"  error: {self.error}")
        return "\n".join(lines)

    def include_time(self, unix_nano: int) -> None:
        """Widen the time range to include `unix_nano`."""
        if self.first_unix_nano is None or unix_nano < self.first_unix_nano:
            self.first_unix_nano = unix_nano
        if self.last_unix_nano is None or unix_nano > self.last_unix_nano:
            self.last_unix_nano = unix_nano


def inspect(paths: Sequence[Path], format_name: str | None = None) -> list[FileReport]:
    """Read every file under `paths` and report on each, counting duplicates across files in order.

    Raises:
        UsageError: a path does not exist or the format name is unknown.
    """
    forced = formats.by_name(format_name) if format_name else None
    dedupe = Deduplicator()
    reports = []
    spans: set[tuple[int, int]] = set()
    for source in discover(paths):
        report = FileReport(source.path)
        reports.append(report)
        dedupe.start_file()
        _read(report, forced, dedupe, spans)

    for report in reports:
        report.orphan_spans = sum(1 for parent in report.parents if parent not in spans)
    return reports


def _read(report: FileReport, forced: formats.Format | None, dedupe: Deduplicator, spans: set[tuple[int, int]]) -> None:
    try:
        file_format = forced or formats.detect(report.path)
    except InputError as error:
        report.error = error.message
        return
    if file_format is None:
        return

    report.format = file_format.name
    try:
        for item in file_format.read(report.path):
            _count(report, item, dedupe, spans)
    except NotTelemetryError as error:
        report.error = error.message
        if forced is None:
            report.format = None
    except InputError as error:
        report.error = error.message


def _count(report: FileReport, item: Item, dedupe: Deduplicator, spans: set[tuple[int, int]]) -> None:
    if isinstance(item, Notice):
        report.warnings += 1
        _problem(report, f"warning: {_where(item.location)}{item.message}")
        return
    if isinstance(item, Skipped):
        report.records[item.signal.value] += item.count
        if item.reason == "invalid":
            report.invalid[item.signal.value] += item.count
        _problem(report, f"{item.reason}: {_where(item.location)}{item.message}")
        return

    report.services.update(_services(item))
    if isinstance(item, MetricData):
        report.records[Signal.METRICS.value] += len(item.points)
        duplicates = len(item.points) - len(dedupe.unique_points(item))
        if duplicates:
            report.duplicates[Signal.METRICS.value] += duplicates
        for point in item.points:
            report.include_time(point.time_unix_nano)
        return

    report.records[item.signal.value] += 1
    if dedupe.is_duplicate(item):
        report.duplicates[item.signal.value] += 1
    if isinstance(item, SpanData):
        report.trace_ids.add(item.trace_id)
        spans.add((item.trace_id, item.span_id))
        if item.parent_span_id:
            report.parents.append((item.trace_id, item.parent_span_id))
        report.include_time(item.start_time_unix_nano)
        report.include_time(item.end_time_unix_nano)
    elif isinstance(item, LogData):
        report.include_time(item.time_unix_nano)


def _services(item: SpanData | LogData | MetricData) -> set[str]:
    service = item.resource.attributes.get("service.name")
    return {service} if isinstance(service, str) else set()


def _where(location: Location) -> str:
    detail = location.detail()
    return f"{detail}: " if detail else ""


def _problem(report: FileReport, text: str) -> None:
    if len(report.problems) < _MAX_PROBLEMS_PER_FILE:
        report.problems.append(text)
    elif len(report.problems) == _MAX_PROBLEMS_PER_FILE:
        report.problems.append("... more problems are counted but not listed")


def _counts(counter: Counter[str]) -> str:
    return ", ".join(f"{number} {_NOUNS[signal]}" for signal, number in sorted(counter.items()) if number)


def _iso(unix_nano: int | None) -> str | None:
    if unix_nano is None:
        return None
    seconds, nanos = divmod(unix_nano, 1_000_000_000)
    moment = datetime.fromtimestamp(seconds, tz=timezone.utc)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{nanos:09d}Z"
