"""Run the pipeline: discover files, read records, transform, rebuild SDK objects, export and account."""

from __future__ import annotations

import dataclasses
import functools
import gc
import itertools
import logging
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from time import perf_counter
from typing import Final, Protocol, TypeGuard

from otel_replay import formats
from otel_replay.discover import Source, discover
from otel_replay.encode import FINGERPRINTS, EncodedLog, EncodedMessage, EncodedRun, EncodedSpan
from otel_replay.errors import InputError, NotTelemetryError, RecordError
from otel_replay.filters import FILTERED, RecordFilter
from otel_replay.formats import codemachine, otlp_json
from otel_replay.ids import IdMapper
from otel_replay.index import FingerprintTable
from otel_replay.ledger import ALREADY_DELIVERED, Ledger, record_identities
from otel_replay.merge import Stream, merge_by_time
from otel_replay.model import AnyValue, Item, Location, LogData, MetricData, Notice, Signal, Skipped, SpanData
from otel_replay.pacing import Clock, PaceOptions, Pacer, SystemClock, schedule_time
from otel_replay.rebuild import Rebuilder
from otel_replay.report import DUPLICATE, INTERRUPTED, INVALID, NOT_SELECTED, Summary
from otel_replay.scan import ScanResult, scan_time_range
from otel_replay.timeshift import AgeCheck, TimeOptions, TimeRange, TimeShift, moved, pass_offsets
from otel_replay.transform import Deduplicator, ParentIndex, ResourceOverlay
from otel_replay.workers import WorkerPool

__all__ = ["ReplayOptions", "Sink", "default_workers", "replay"]

logger = logging.getLogger(__name__)


class Sink(Protocol):
    """Destination of the records: the exporters for `replay`, an OTLP/JSON file for `convert`."""

    def add(self, signal: Signal, record: object, /) -> None: ...

    def flush(self) -> None:
        """Send what is queued, because the pacer is about to wait."""
        ...

    def close(self) -> None: ...


class EncodedSink(Sink, Protocol):
    """A sink that also takes records that worker processes encoded: the exporters and the dry run's sink."""

    encodes_directly: bool
    """True when the sink writes span and log requests with `RequestEncoder`, so that it can take such records."""

    def add_many(self, signal: Signal, records: list[EncodedMessage], /) -> None: ...


def _takes_encoded(sink: Sink) -> TypeGuard[EncodedSink]:
    return getattr(sink, "encodes_directly", False) is True


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
    time: TimeOptions = field(default_factory=TimeOptions)
    pace: PaceOptions = field(default_factory=PaceOptions)
    record_filter: RecordFilter = field(default_factory=RecordFilter)
    new_ids: bool = False
    """Give each pass's traces and spans new IDs (see `otel_replay.ids`)."""
    loop: int = 1
    """Passes over the input; 0 repeats until interrupted."""
    warn_old_records: bool = False
    """Warn when unshifted records are older than common backends accept or show."""
    ledger: Ledger | None = None
    """Records that earlier runs delivered, to skip."""
    workers: int | None = 1
    """Processes that decode and encode CodeMachine and OTLP/JSON files; 1 reads in this process,
    None picks `default_workers` for the input."""


_PARALLEL_MIN_BYTES: Final = 4 * 1024 * 1024  # below this, starting workers saves little
_GC_THRESHOLD: Final = 50_000  # allocations between collections of the youngest generation; Python's default is 700


def default_workers(sources: Sequence[Source]) -> int:
    """Return the number of workers for an input: 2 for 4 MiB or more on 2 or more CPUs, else 1.

    On 2 CPUs, 2 workers replayed 10,000 spans (8.7 MB) in 0.58 s against 0.69 s for one, and
    2,000 spans (1.7 MB) in the same time as one.

    TODO: measured on 2 CPUs only. With more CPUs more workers may pay, since the main process
    then becomes the slowest stage.
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
    clock: Clock | None = None,
) -> Summary:
    """Send every telemetry record under `paths` to the sink and return the accounting of the run.

    With `options.loop` other than 1 the files are read once per pass. A KeyboardInterrupt
    ends the run: records not yet delivered count as failed with the reason ``interrupted``,
    and the summary records the interruption.

    Raises:
        UsageError: a path does not exist, the format is unknown, or the sink's settings are invalid.
    """
    sources = discover(paths)
    forced_format = formats.by_name(options.format_name) if options.format_name else None
    clock = clock or SystemClock()
    scan = _scan_if_needed(sources, forced_format, options)
    time_range = scan.time_range if scan is not None else None
    file_starts = scan.file_starts if scan is not None and options.pace.real else None
    first_offset, step = pass_offsets(options.time, time_range, clock.now(), loop=options.loop, paced=options.pace.real)

    summary = Summary(endless=options.loop == 0)
    if options.ledger is not None:
        summary.ledger = options.ledger.path
    if options.time.shifts:
        summary.time_offset_nanos = first_offset
    rebuilder = Rebuilder()
    exporter = sink_factory(summary, rebuilder)
    pacer = Pacer(options.pace, clock, exporter.flush)
    if options.pace.real and time_range is not None and time_range.records:
        pacer.start(time_range.first_schedule_unix_nano + first_offset)
    age_check = AgeCheck(clock.now()) if options.warn_old_records and not options.time.shifts else None
    if on_start is not None:
        on_start(sources)

    pool = _worker_pool(options, sources, exporter, pacer, _one_process_reason(options, time_range, first_offset, step))
    thresholds = gc.get_threshold()
    # Records are short-lived and free of reference cycles, so frequent collections of the
    # youngest generation only cost time: 5 to 13 percent of the read and encode stages in
    # one in-process measurement of 20,000 spans.
    gc.set_threshold(max(thresholds[0], _GC_THRESHOLD), *thresholds[1:])
    aborted = True  # until the loop finishes, such as on Ctrl-C, when the workers' tasks are dropped
    try:
        for pass_number in _passes(options.loop):
            summary.repeating = pass_number > 0
            shift = TimeShift(first_offset + pass_number * step, keep_original_time=options.time.keep_original_time)
            stages = _PassStages(shift, IdMapper() if options.new_ids else None, pacer, age_check)
            run = _Run(
                options,
                summary,
                exporter,
                rebuilder,
                forced_format,
                stages,
                first_pass=pass_number == 0,
                on_progress=on_progress,
                pool=pool,
            )
            run.read_files(sources, file_starts)
            summary.passes += 1
            summary.counts[Signal.TRACES].orphan_spans += run.parents.orphan_count()
        aborted = False
    except KeyboardInterrupt:
        summary.interrupted = True
    finally:
        gc.set_threshold(*thresholds)
        if pool is not None:
            pool.close(abort=aborted)
        _close(exporter, summary)

    if options.record_filter.active:
        _warn_if_nothing_matched(summary)
    return summary


def _worker_pool(
    options: ReplayOptions, sources: Sequence[Source], exporter: Sink, pacer: Pacer, one_process_reason: str | None
) -> WorkerPool | None:
    """Return the pool that reads CodeMachine and OTLP/JSON lines files, or None to read them one record at a time.

    With one worker the pool runs its tasks in this process.
    """
    workers = options.workers if options.workers is not None else default_workers(sources)
    # Worker results are encoded records, which only sinks that encode directly take.
    if one_process_reason is None and not _takes_encoded(exporter):
        one_process_reason = "--protocol grpc or OTEL_REPLAY_ENCODER=sdk, whose encoders take no encoded records"
    if one_process_reason is None:
        # Runs of records in columns suit a replay that looks at no record on its own.
        runs = not options.record_filter.active and options.ledger is None and not pacer.active
        return WorkerPool(workers, runs=runs)
    if options.workers is not None and options.workers > 1:
        logger.warning(
            "--workers %d has no effect with %s; reading in one process", options.workers, one_process_reason
        )
    return None


def _one_process_reason(
    options: ReplayOptions, time_range: TimeRange | None, first_offset: int, step: int
) -> str | None:
    """Return why the records must be read one at a time in this process, or None when the workers may read them.

    The workers move times by one offset while encoding. Other changes to records take place
    after reading, record by record, and so do offsets that some record cannot take.
    """
    if options.new_ids:
        return "--new-ids"
    if options.time.keep_original_time:
        return "--keep-original-time"
    if step:
        return "--loop"
    if options.pace.real:
        return "--pace real, which reads the files interleaved by time"
    if first_offset and options.ledger is not None:
        return "a time shift and --ledger, which compares records as sent"
    if first_offset and not _offset_fits(time_range, first_offset):
        return "a time shift that may move some record out of the range OTLP can carry"
    return None


def _offset_fits(time_range: TimeRange | None, offset_nanos: int) -> bool:
    """Tell whether the scan showed that every time of the records to send stays in range when moved."""
    if time_range is None:
        return False  # no scan, so some record could fall out of range
    try:
        # The range covers every non-zero time, so the rest move into range when its ends do.
        moved(time_range.oldest_unix_nano, offset_nanos)
        moved(time_range.newest_unix_nano, offset_nanos)
    except RecordError:
        return False
    return True


def _positions_kept(count: int, left_out: Sequence[int]) -> bytearray | None:
    """Return a mask of the `count` positions with those `left_out` set to 0, or None when none are."""
    if not left_out:
        return None
    mask = bytearray(b"\x01" * count)
    for position in left_out:
        mask[position] = 0
    return mask


def _and(first: bytes, second: bytes | bytearray) -> bytes:
    """Return the positions set in both masks of 0 and 1 bytes, as such a mask."""
    return bytes(a & b for a, b in zip(first, second, strict=True))


def _warn_if_nothing_matched(summary: Summary) -> None:
    """Warn when the filters left out every record, which is most often a typo in a filter value."""
    filtered = sum(counts.skipped[FILTERED] for counts in summary.counts.values())
    considered = sum(
        counts.read - counts.skipped[NOT_SELECTED] - counts.skipped[INVALID] for counts in summary.counts.values()
    )
    if filtered and filtered == considered:
        logger.warning(
            "No record matched the filters (--trace-id, --service, --since, --until, --name), "
            "so nothing was sent; `otel-replay inspect` lists the services, traces and time range of the input"
        )


def _scan_if_needed(
    sources: Sequence[Source], forced_format: formats.Format | None, options: ReplayOptions
) -> ScanResult | None:
    """Scan the input when the offset, the loop step or the order of reading for --pace real depends on its times.

    A --shift that the workers could apply needs the scan too, to check that every moved time
    stays in range. The scan, in the workers, costs less than reading record by record.
    """
    time = options.time
    workers_could_shift = (
        time.shift_nanos is not None and options.ledger is None and not options.new_ids and not time.keep_original_time
    )
    needed = time.shift_to_now or time.start_at_unix_nano is not None or options.loop != 1 or options.pace.real
    if not (needed or workers_could_shift):
        return None

    started = perf_counter()
    if options.record_filter.active:
        scan = scan_time_range(sources, forced_format, options.signals, options.record_filter)
    else:
        # The workers scan CodeMachine files and OTLP/JSON lines, and their plain paths read
        # the times quickly.
        # TODO: a scan with filters, which need each record, and the other formats still read
        # every record in this process.
        pool = WorkerPool(options.workers if options.workers is not None else default_workers(sources))

        def read(file_format: formats.Format, path: Path) -> Iterator[object]:
            if file_format.name == codemachine.NAME:
                return pool.scan(path, options.signals)
            if file_format.name == otlp_json.NAME:
                return pool.scan_otlp_json(path, options.signals)
            return file_format.read(path)

        try:
            scan = scan_time_range(sources, forced_format, options.signals, options.record_filter, read)
        except BaseException:
            pool.close(abort=True)  # such as Ctrl-C, which the workers ignore
            raise
        pool.close()
    logger.info("Scanned %d records for their times in %.3f s", scan.time_range.records, perf_counter() - started)
    return scan


def _passes(loop: int) -> Iterator[int]:
    return itertools.count() if loop == 0 else iter(range(loop))


@dataclass(slots=True)
class _FileState:
    """The state a run keeps about a file while reading it."""

    dedupe_counts: tuple[int, FingerprintTable] | None
    signals_seen: set[Signal] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class _PassStages:
    """The per-pass transforms applied to a record after selection and deduplication."""

    shift: TimeShift
    ids: IdMapper | None
    pacer: Pacer
    age_check: AgeCheck | None


def _close(exporter: Sink, summary: Summary) -> None:
    """Close the sink; after Ctrl-C, count every record read but not yet accounted for as interrupted."""
    try:
        exporter.close()
    except KeyboardInterrupt:
        summary.interrupted = True
        exporter.close()
    if not summary.interrupted:
        return

    logger.warning("Interrupted: stopped reading and sending")
    for counts in summary.counts.values():
        unaccounted = counts.read - counts.sent - counts.failed - sum(counts.skipped.values())
        if unaccounted > 0:
            counts.fail(unaccounted, INTERRUPTED)


class _Run:
    def __init__(
        self,
        options: ReplayOptions,
        summary: Summary,
        exporter: Sink,
        rebuilder: Rebuilder,
        forced_format: formats.Format | None,
        stages: _PassStages,
        *,
        first_pass: bool = True,
        on_progress: ProgressCallback | None = None,
        pool: WorkerPool | None = None,
    ) -> None:
        self.forced_format = forced_format
        self.stages = stages
        self.first_pass = first_pass
        self.on_progress = on_progress if first_pass else None
        self.options = options
        self.summary = summary
        self.exporter = exporter
        self.dedupe = Deduplicator() if options.dedupe else None
        self.overlay = ResourceOverlay(options.resource_attributes)
        self.rebuilder = rebuilder
        self.parents = ParentIndex(self.dedupe.span_keys if self.dedupe is not None else None)
        # Readers yield a record's notices right after it; a record that is not sent needs none.
        self.unsent: Location | None = None
        self.pool = pool

    def read_files(self, sources: Sequence[Source], file_starts: Mapping[Path, int] | None) -> None:
        """Read the files one after another, or interleaved by time when `file_starts` gives each file's first time."""
        if file_starts is None:
            for source in sources:
                for item, state in self._items(source):
                    self._handle(item, state)
            return

        streams = [
            Stream(file_starts.get(source.path, 0), functools.partial(self._groups, source)) for source in sources
        ]
        for state, group in merge_by_time(streams):
            if self.dedupe is not None and state.dedupe_counts is not None:
                self.dedupe.resume_file(state.dedupe_counts)
            for item in group:
                self._handle(item, state)

    def _groups(self, source: Source) -> Iterator[tuple[int, tuple[_FileState, list[Item | EncodedRun]]]]:
        """Yield each record of a file with the notices that follow it, keyed by the record's schedule time."""
        time = 0
        group: list[Item | EncodedRun] = []
        state: _FileState | None = None
        for item, state in self._items(source):
            if isinstance(item, Notice) and group:
                group.append(item)
                continue
            if group:
                yield time, (state, group)
            group = [item]
            if isinstance(item, (SpanData, LogData, MetricData)):
                time = schedule_time(item)
        if group and state is not None:
            yield time, (state, group)

    def _items(self, source: Source) -> Iterator[tuple[Item | EncodedRun, _FileState]]:
        try:
            file_format = self.forced_format or formats.detect(source.path)
        except InputError as error:
            self._file_error(source.path, error.message)
            return

        if file_format is None:
            self._not_telemetry(source, "not a telemetry file in a format otel-replay reads; see --format for the list")
            return

        state = _FileState(self.dedupe.start_file() if self.dedupe is not None else None)
        try:
            for item in self._read(file_format, source.path):
                yield item, state
        except NotTelemetryError as error:
            if self.forced_format is not None:
                self._file_error(source.path, f"cannot be read as --format {self.forced_format.name}: {error.message}")
            else:
                self._not_telemetry(source, error.message)
        except InputError as error:
            self._file_error(source.path, error.message)
        finally:
            if self.first_pass:
                self.summary.files_read += 1
                for signal in state.signals_seen:
                    self.summary.counts[signal].files += 1
                if self.on_progress is not None:
                    self.on_progress(source.size)

    def _read(self, file_format: formats.Format, path: Path) -> Iterator[Item | EncodedRun]:
        shift = self.stages.shift.offset_nanos
        if self.pool is not None and file_format.name == codemachine.NAME:
            return self.pool.read(path, shift=shift)
        if self.pool is not None and file_format.name == otlp_json.NAME:
            return self.pool.read_otlp_json(path, shift=shift)
        return file_format.read(path)

    def _handle(self, item: Item | EncodedRun, state: _FileState) -> None:
        if isinstance(item, EncodedRun):
            self._handle_run(item, state)
            return
        if isinstance(item, Notice):
            if not self._about_unsent(item.location):
                self.summary.warning(item.location, item.message)
            return

        self.unsent = None
        signal = item.signal
        state.signals_seen.add(signal)
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
        elif not self.options.record_filter.keeps(item):
            counts.skipped[FILTERED] += 1
            self.unsent = item.location
        elif self.dedupe is not None and self.dedupe.is_duplicate(item):
            counts.skipped[DUPLICATE] += 1
            self.unsent = item.location
        elif isinstance(item, SpanData):
            span = self.overlay.apply(item)
            self.parents.add(span)
            self._send(span)
        else:
            self._send(self.overlay.apply(item))

    def _handle_run(self, run: EncodedRun, state: _FileState) -> None:
        """Send the records of a run as `_handle` sends each record, in a replay that looks at no record on its own."""
        self.unsent = None
        signal = run.signal
        state.signals_seen.add(signal)
        counts = self.summary.counts[signal]
        counts.read += len(run.fields)
        if signal not in self.options.signals:
            counts.skipped[NOT_SELECTED] += len(run.fields)
            return

        duplicates: list[int] = []
        keys = FINGERPRINTS.iter_unpack(run.keys)
        if self.dedupe is not None:
            if signal is Signal.TRACES:
                duplicates = self.dedupe.duplicate_spans(keys, run.kind)
            else:
                duplicates = self.dedupe.duplicate_logs(list(keys))
            counts.skipped[DUPLICATE] += len(duplicates)
        sent = _positions_kept(len(run.fields), duplicates)
        if signal is Signal.TRACES:
            spans = FINGERPRINTS.iter_unpack(run.keys)
            parents = itertools.compress(FINGERPRINTS.iter_unpack(run.parents), run.has_parent)
            if sent is not None:
                spans = itertools.compress(spans, sent)
                parents = itertools.compress(FINGERPRINTS.iter_unpack(run.parents), _and(run.has_parent, sent))
            self.parents.add_run(spans, parents)
        if self.stages.age_check is not None:
            times = run.times if sent is None else list(itertools.compress(run.times, sent))
            self.stages.age_check.check_times(signal, times)
        assert _takes_encoded(self.exporter)  # the pool reads only for such sinks
        self.exporter.add_many(signal, run.records(self.overlay.resource(run.resource), duplicates))

    def _send_metric(self, metric: MetricData) -> None:
        counts = self.summary.counts[Signal.METRICS]
        selected = self.options.record_filter.select_points(metric)
        kept = 0 if selected is None else len(selected.points)
        if kept < len(metric.points):
            counts.skipped[FILTERED] += len(metric.points) - kept
        if selected is None:
            self.unsent = metric.location
            return
        metric = selected

        if self.dedupe is not None:
            points = self.dedupe.unique_points(metric)
            if len(points) < len(metric.points):
                counts.skipped[DUPLICATE] += len(metric.points) - len(points)
            if not points:
                self.unsent = metric.location
                return
            metric = dataclasses.replace(metric, points=points)
        self._send(self.overlay.apply(metric))

    def _send(self, record: SpanData | LogData | MetricData) -> None:
        """Apply the pass's new IDs and time shift, wait for the record's moment, and hand it to the sink."""
        stages = self.stages
        size = len(record.points) if isinstance(record, MetricData) else 1
        try:
            if type(record) is EncodedSpan or type(record) is EncodedLog:
                # The workers moved the times already, or found that they cannot move.
                if record.shift_error is not None:
                    raise record.shift_error
            else:
                record = stages.shift.apply(record)
        except RecordError as error:
            self.summary.counts[record.signal].skipped[INVALID] += size
            self.summary.error(dataclasses.replace(record.location, field=error.field), error.message)
            self.unsent = record.location
            return
        if stages.ids is not None:
            record = stages.ids.apply(record)
        if self.options.ledger is not None:
            # The ledger lists what was sent, so it compares records after the transforms.
            remaining = self._not_delivered_before(record)
            if remaining is None:
                return
            record = remaining
            size = len(record.points) if isinstance(record, MetricData) else 1
        if stages.age_check is not None:
            stages.age_check.check(record)
        stages.pacer.wait(schedule_time(record), size)

        self.exporter.add(record.signal, record)

    def _not_delivered_before(self, record: SpanData | LogData | MetricData) -> SpanData | LogData | MetricData | None:
        """Return the part of `record` that no earlier run delivered, counting the rest as skipped."""
        ledger = self.options.ledger
        assert ledger is not None
        counts = self.summary.counts[record.signal]
        if isinstance(record, MetricData):
            delivered = [ledger.take(identity) for identity in record_identities(record)]
            points = tuple(point for point, before in zip(record.points, delivered, strict=True) if not before)
            counts.skipped[ALREADY_DELIVERED] += len(record.points) - len(points)
            if points:
                return dataclasses.replace(record, points=points)
        elif not ledger.take(record_identities(record)[0]):
            return record
        else:
            counts.skipped[ALREADY_DELIVERED] += 1
        self.unsent = record.location
        return None

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
