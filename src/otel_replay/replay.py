"""Run the pipeline: discover files, read records, transform, rebuild SDK objects, export and account."""

from __future__ import annotations

import dataclasses
import gc
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Protocol

from otel_replay import formats
from otel_replay.discover import Source, discover
from otel_replay.encode import official_encoding
from otel_replay.errors import InputError, NotTelemetryError
from otel_replay.export import BatchExporter
from otel_replay.formats import codemachine
from otel_replay.model import AnyValue, Item, Location, MetricData, Notice, Signal, Skipped, SpanData
from otel_replay.rebuild import Rebuilder
from otel_replay.report import DUPLICATE, NOT_SELECTED, Summary
from otel_replay.transform import Deduplicator, ParentIndex, ResourceOverlay
from otel_replay.workers import WorkerPool

__all__ = ["ReplayOptions", "Sink", "default_workers", "replay"]

logger = logging.getLogger(__name__)


class Sink(Protocol):
    """Destination of the records: the exporters for `replay`, an OTLP/JSON file for `convert`."""

    def add(self, signal: Signal, record: object, /) -> None: ...

    def close(self) -> None: ...


SinkFactory = Callable[[Summary, Rebuilder], Sink]
"""Builds the sink for a run, given the run's summary to count into and its rebuilder."""

ProgressCallback = Callable[[int], None]
"""Called with the number of bytes of input finished since the last call."""


@dataclass(frozen=True, slots=True)
class ReplayOptions:
    """Replay options other than the exporter settings: signals, deduplication, batching and resource."""

    signals: frozenset[Signal] = frozenset(Signal)
    dedupe: bool = True
    batch_size: int = 512
    resource_attributes: Mapping[str, AnyValue] = field(default_factory=dict)
    format_name: str | None = None
    """Read every file as this format instead of detecting it."""
    workers: int | None = 1
    """Processes that decode and encode CodeMachine trace and log files; 1 reads in this process,
    None picks `default_workers` for the input."""


_PARALLEL_MIN_BYTES: Final = 32 * 1024 * 1024  # below this, starting workers costs more than it saves
_GC_THRESHOLD: Final = 50_000  # allocations between collections of the youngest generation; Python's default is 700


def default_workers(sources: Sequence[Source]) -> int:
    """Return the number of workers for an input: 2 for 32 MiB or more on 2 or more CPUs, else 1.

    TODO: measured only on a shared 2-CPU machine, where 2 workers did not reduce the wall
    time; more workers than CPUs only add processes.
    """
    if (os.cpu_count() or 1) < 2 or sum(source.size for source in sources) < _PARALLEL_MIN_BYTES:
        return 1
    return 2


def replay(
    paths: Sequence[Path],
    options: ReplayOptions,
    sink_factory: SinkFactory,
    on_progress: ProgressCallback | None = None,
    on_start: Callable[[Sequence[Source]], None] | None = None,
) -> Summary:
    """Send every telemetry record under `paths` to the sink and return the accounting of the run.

    Raises:
        UsageError: a path does not exist, the format is unknown, or the sink's settings are invalid.
    """
    sources = discover(paths)
    forced_format = formats.by_name(options.format_name) if options.format_name else None
    summary = Summary()
    rebuilder = Rebuilder()
    exporter = sink_factory(summary, rebuilder)
    run = _Run(options, summary, exporter, rebuilder, forced_format)
    if on_start is not None:
        on_start(sources)

    # Worker results are encoded records, which only the direct encoder of the exporters takes.
    workers = options.workers if options.workers is not None else default_workers(sources)
    if workers > 1 and not official_encoding() and isinstance(exporter, BatchExporter):
        run.pool = WorkerPool(workers)
    thresholds = gc.get_threshold()
    # Records are short-lived and free of reference cycles, so frequent collections of the
    # youngest generation only cost time: 5 to 13 percent of the read and encode stages in
    # one in-process measurement of 20,000 spans.
    gc.set_threshold(max(thresholds[0], _GC_THRESHOLD), *thresholds[1:])
    aborted = True  # until the loop finishes, such as on Ctrl-C, when the workers' tasks are dropped
    try:
        for source in sources:
            run.read_file(source)
            if on_progress is not None:
                on_progress(source.size)
        aborted = False
    finally:
        gc.set_threshold(*thresholds)
        if run.pool is not None:
            run.pool.close(abort=aborted)
        exporter.close()

    summary.counts[Signal.TRACES].orphan_spans = run.parents.orphan_count()
    return summary


class _Run:
    def __init__(
        self,
        options: ReplayOptions,
        summary: Summary,
        exporter: Sink,
        rebuilder: Rebuilder,
        forced_format: formats.Format | None,
    ) -> None:
        self.forced_format = forced_format
        self.options = options
        self.summary = summary
        self.exporter = exporter
        self.dedupe = Deduplicator() if options.dedupe else None
        self.overlay = ResourceOverlay(options.resource_attributes)
        self.rebuilder = rebuilder
        self.parents = ParentIndex(self.dedupe.span_keys if self.dedupe is not None else None)
        # Readers yield a record's notices right after it; a record that is not sent needs none.
        self.unsent: Location | None = None
        self.pool: WorkerPool | None = None

    def read_file(self, source: Source) -> None:
        try:
            file_format = self.forced_format or formats.detect(source.path)
        except InputError as error:
            self._file_error(source.path, error.message)
            return

        if file_format is None:
            self._not_telemetry(source, "not a telemetry file in a format otel-replay reads; see --format for the list")
            return

        signals_seen: set[Signal] = set()
        if self.dedupe is not None:
            self.dedupe.start_file()
        try:
            if self.pool is not None and file_format.name == codemachine.NAME:
                items = self.pool.read(source.path)
            else:
                items = file_format.read(source.path)
            for item in items:
                self._handle(item, signals_seen)
        except NotTelemetryError as error:
            if self.forced_format is not None:
                self._file_error(source.path, f"cannot be read as --format {self.forced_format.name}: {error.message}")
            else:
                self._not_telemetry(source, error.message)
        except InputError as error:
            self._file_error(source.path, error.message)
        finally:
            self.summary.files_read += 1
            for signal in signals_seen:
                self.summary.counts[signal].files += 1

    def _handle(self, item: Item, signals_seen: set[Signal]) -> None:
        if isinstance(item, Notice):
            if not self._about_unsent(item.location):
                self.summary.warning(item.location, item.message)
            return

        self.unsent = None
        signal = item.signal
        signals_seen.add(signal)
        counts = self.summary.counts[signal]

        if isinstance(item, Skipped):
            counts.read += item.count
            counts.skipped[item.reason] += item.count
            if item.reason == "invalid":
                self.summary.error(item.location, item.message)
            else:
                self.summary.warning(item.location, item.message)
            return

        size = len(item.points) if isinstance(item, MetricData) else 1
        counts.read += size
        if signal not in self.options.signals:
            counts.skipped[NOT_SELECTED] += size
            self.unsent = item.location
            return

        if isinstance(item, MetricData):
            self._send_metric(item)
        elif self.dedupe is not None and self.dedupe.is_duplicate(item):
            counts.skipped[DUPLICATE] += 1
            self.unsent = item.location
        elif isinstance(item, SpanData):
            span = self.overlay.apply(item)
            self.parents.add(span)
            self.exporter.add(Signal.TRACES, span)
        else:
            self.exporter.add(Signal.LOGS, self.overlay.apply(item))

    def _send_metric(self, metric: MetricData) -> None:
        counts = self.summary.counts[Signal.METRICS]
        if self.dedupe is not None:
            points = self.dedupe.unique_points(metric)
            if len(points) < len(metric.points):
                counts.skipped[DUPLICATE] += len(metric.points) - len(points)
            if not points:
                self.unsent = metric.location
                return
            metric = dataclasses.replace(metric, points=points)
        self.exporter.add(Signal.METRICS, self.overlay.apply(metric))

    def _about_unsent(self, location: Location) -> bool:
        unsent = self.unsent
        return unsent is not None and location.path == unsent.path and location.index == unsent.index

    def _not_telemetry(self, source: Source, message: str) -> None:
        self.summary.files_not_telemetry.append(source.path)
        if source.named:
            # A file the user named explicitly was meant to be sent, so this is an error.
            self._file_error(source.path, message)
        else:
            logger.info("Skipped %s: %s", source.path, message)

    def _file_error(self, path: Path, message: str) -> None:
        self.summary.file_errors += 1
        self.summary.error(Location(path), message)
