"""Decode and encode CodeMachine records in worker processes, so a replay uses more than one core.

The main process streams a file and cuts it into texts of many records each, at the lines
that close them, without parsing them. Workers split the texts, parse, decode and encode
each record into its protobuf message. They send back the IDs that deduplication and the
parent index need, and the encoded bytes. When a worker finds a text that is not one JSON
value, the main process reads the file again from that record and checks each text itself
(`codemachine.RecordTexts`). The main process keeps the order, deduplicates, batches and
sends, so the requests are the same bytes as without workers. At most `IN_FLIGHT_PER_WORKER`
tasks per worker are in flight, so a slow receiver stops the reading instead of letting memory grow.

With ``runs=True`` a worker returns consecutive records as one `encode.EncodedRun` in
columns, which the main process takes as a whole; otherwise it returns one result per record,
for replays whose filters, pacing or ledger look at each record.

`WorkerPool.read_otlp_json` reads OTLP/JSON lines files in the same processes, as `otlp_tasks` describes.
"""

from __future__ import annotations

import functools
import gc
import multiprocessing
import multiprocessing.context
import signal
import sys
import threading
from array import array
from collections import deque
from collections.abc import Callable, Generator, Iterator, Mapping
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, TypeAlias, TypeVar

import orjson

from otel_replay import otlp_tasks
from otel_replay.encode import (
    FINGERPRINTS,
    EncodedLog,
    EncodedRun,
    EncodedSpan,
    RequestEncoder,
    add_span_columns,
    scope_field,
)
from otel_replay.errors import RecordError
from otel_replay.filters import RecordFilter
from otel_replay.formats import codemachine
from otel_replay.formats.limits import guard, guard_items
from otel_replay.model import (
    AnyValue,
    Item,
    Location,
    LogData,
    Notice,
    ResourceData,
    ScopeData,
    Signal,
    SpanData,
    SpanKindCode,
)
from otel_replay.plainlog import PlainLog, PlainLogEncoder
from otel_replay.plainspan import PlainSpan, PlainSpanEncoder
from otel_replay.scan import TimeScan
from otel_replay.timeshift import TimeShift, moved
from otel_replay.transform import log_identity

__all__ = ["IN_FLIGHT_PER_WORKER", "TASK_CHARS", "TASK_RECORDS", "WorkerPool"]

TASK_CHARS: Final = 256 * 1024  # characters of record text cut at once: a few hundred records
TASK_RECORDS: Final = 256  # elements per task when they come one at a time, to amortize the transfer
IN_FLIGHT_PER_WORKER: Final = 8  # tasks queued or running per worker

_SpanResult: TypeAlias = tuple[int, int, int, int, int, str, int, int, "bytes | RecordError"]
"""A `PlainSpan`, whose message is a `RecordError` when the span's times could not move."""
_LogResult: TypeAlias = tuple[
    int, "bytes | None", "dict[str, AnyValue] | None", tuple[int, int], int, int, int, int, "bytes | RecordError"
]
_Task: TypeAlias = tuple[
    Path, str, "str | None", "str | None", list["str | codemachine.Parsed"], int, bool, int, "frozenset[Signal] | None"
]
"""File, array name, service, separator of the texts, texts or parsed elements, index of the first, runs, the
time shift in nanoseconds, and the signals to scan for times instead of decoding records, if any."""
_T = TypeVar("_T")
_EMPTY_SCOPE: Final = ScopeData()
_pack_fingerprint: Final = FINGERPRINTS.pack
_INTERNAL: Final = int(SpanKindCode.INTERNAL)
_encoder: RequestEncoder | None = None  # one per worker process
_plain_encoder: PlainSpanEncoder | None = None  # one per worker process
_plain_log_encoder: PlainLogEncoder | None = None  # one per worker process


@dataclass(slots=True)
class _Run:
    """Consecutive records of one resource that a worker encoded: the columns of an `EncodedRun`."""

    start: int
    resource_key: bytes | None = None
    """The key of the log records' resource (`_Results._resource_key`), or None for the file's resource."""
    resource_attributes: dict[str, AnyValue] | None = None
    fields: list[bytes] = field(default_factory=list)
    keys: bytearray = field(default_factory=bytearray)
    parents: bytearray = field(default_factory=bytearray)
    has_parent: bytearray = field(default_factory=bytearray)
    times: array[int] = field(default_factory=lambda: array("Q"))

    def add_span(self, encoded: bytes, trace_id: int, span_id: int, parent_span_id: int, end: int) -> int:
        """Add a span's columns and return its position in the run."""
        add_span_columns(self, encoded, trace_id, span_id, parent_span_id, end)
        return len(self.fields) - 1

    def add_log(self, encoded: bytes, identity: tuple[int, int], time: int) -> None:
        self.fields.append(scope_field(encoded))
        self.keys += _pack_fingerprint(*identity)
        self.times.append(time)


_Result: TypeAlias = "_Run | _SpanResult | _LogResult | Item | TimeScan | int"
"""A task's records in order, ending with the index of an element to read again when a text was cut wrong."""


class WorkerPool:
    """A pool of worker processes that decode and encode CodeMachine and OTLP/JSON trace and log files.

    With one worker, the tasks run in this process, one after another, which still spares
    the per-record stages that runs skip.
    """

    def __init__(self, workers: int, *, runs: bool = False) -> None:
        self._runs = runs
        self._max_in_flight = max(workers, 1) * IN_FLIGHT_PER_WORKER
        self._pool: Executor = _InlineExecutor()
        if workers <= 1:
            return
        # Forking is the fastest start and keeps the workers' CPU time in this process's
        # accounting, but it is unsafe once another thread runs (a progress bar, a test's
        # receiver). Then a fork server, which imports this module once, forks them instead.
        context: multiprocessing.context.BaseContext
        if sys.platform != "linux":
            context = multiprocessing.get_context("spawn")
        elif threading.active_count() == 1:
            context = multiprocessing.get_context("fork")
        else:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload([__name__])
        # The executor, unlike multiprocessing.Pool, has no thread that wakes up whenever a
        # result waits to be read. That thread took 0.6 s of 2.7 s of the main process's CPU time
        # in a replay of 200,000 spans.
        self._pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker)

    def read(self, path: Path, *, shift: int = 0) -> Iterator[Item | EncodedRun]:
        """Yield the records of a CodeMachine file as `codemachine.read` does, decoded by the workers.

        With ``runs=True``, consecutive records without notices come as `EncodedRun` objects.
        The encoded records (`EncodedSpan`, `EncodedLog` and runs) are sent with their times
        moved by `shift` nanoseconds, while their fields keep the recorded times.
        """
        # The plain paths take only values nested less deeply than the limit, and the workers
        # check the others. `guard` also turns a RecursionError while cutting into a file error.
        decoder: codemachine.ElementDecoder = functools.partial(self.decode, shift=shift)  # type: ignore[assignment]
        return guard(functools.partial(codemachine.read_with, decoder=decoder))(path)

    def scan(self, path: Path, signals: frozenset[Signal]) -> Iterator[Item | TimeScan]:
        """Yield the time ranges of the records of `signals` in a CodeMachine file, scanned by the workers.

        A `TimeScan` comes for each part of the spans and logs arrays, in file order. The
        records that the workers do not read, such as metrics or a file laid out otherwise, come
        as `codemachine.read` gives them. Records are counted as the replay would send them
        without filters: invalid ones and those nested too deeply are left out.
        """
        decoder = functools.partial(self.decode, scan=signals)
        return guard(functools.partial(codemachine.read_with, decoder=decoder))(path)  # type: ignore[arg-type]

    def read_otlp_json(self, path: Path, *, shift: int = 0) -> Iterator[Item | EncodedRun]:
        """Yield the records of an OTLP/JSON file as `otlp_json.read` does, with its lines decoded by the workers.

        `shift` moves the times of the encoded records as in `read`.
        """
        # The workers check the nesting limit of what they decode; `guard` checks the lines that
        # this process reads itself.
        read = functools.partial(
            otlp_tasks.read, self._pool, runs=self._runs, max_in_flight=self._max_in_flight, shift=shift
        )
        return guard(read)(path)  # type: ignore[return-value]  # no TimeScan without `scan`

    def scan_otlp_json(self, path: Path, signals: frozenset[Signal]) -> Iterator[Item | TimeScan]:
        """Yield the time ranges of the records of `signals` in an OTLP/JSON file, as `scan` does for CodeMachine."""
        read = functools.partial(
            otlp_tasks.read, self._pool, runs=False, max_in_flight=self._max_in_flight, scan=signals
        )
        return guard(read)(path)  # type: ignore[return-value]  # records and TimeScan objects, no runs

    def close(self, *, abort: bool = False) -> None:
        """Stop the worker processes and wait for them to exit; `abort` stops them without finishing their tasks."""
        self._pool.shutdown(wait=True, cancel_futures=abort)

    def decode(
        self,
        path: Path,
        array_name: str,
        service: str | None,
        elements: codemachine.RecordTexts,
        *,
        shift: int = 0,
        scan: frozenset[Signal] | None = None,
    ) -> Iterator[Item | EncodedRun | TimeScan]:
        """Decode the elements of a "spans" or "logs" array in the workers: a `codemachine.ElementDecoder`.

        With `scan`, yield the time ranges of the records of those signals instead.
        """
        assembler = _Assembler(path, array_name, service)
        start = 0
        while True:
            recheck = yield from self._decode_from(assembler, path, array_name, service, elements, start, shift, scan)
            if recheck is None:
                return
            # The records before `recheck` are sent; the tasks after it were cut from wrong texts.
            elements.recheck_from(recheck)
            start = recheck

    def _decode_from(
        self,
        assembler: _Assembler,
        path: Path,
        array_name: str,
        service: str | None,
        elements: codemachine.RecordTexts,
        start: int,
        shift: int,
        scan: frozenset[Signal] | None,
    ) -> Generator[Item | EncodedRun | TimeScan, None, int | None]:
        """Yield the records from element `start` on; return the index of a text cut wrong, else None."""
        pending: deque[Future[list[_Result]]] = deque()
        task: list[str | codemachine.Parsed] = []
        count = 0  # elements in `task`
        size = 0  # characters of text in `task`
        failure: Exception | None = None

        def submit() -> None:
            nonlocal task, count, size, start
            arguments: _Task = (path, array_name, service, elements.separator, task, start, self._runs, shift, scan)
            pending.append(self._pool.submit(_decode_task, *arguments))
            start += count
            task, count, size = [], 0, 0

        try:
            while (taken := elements.next_texts(TASK_CHARS)) is not None:
                element, number = taken
                task.append(element)
                count += number
                size += len(element) if isinstance(element, str) else 0
                if count < TASK_RECORDS and size < TASK_CHARS // 2:
                    continue
                submit()
                if len(pending) >= self._max_in_flight:
                    recheck = yield from assembler.items(pending.popleft().result())
                    if recheck is not None:
                        return recheck
        except Exception as error:  # noqa: BLE001  # raised again below, after the records read before it
            # A truncated file still sends its complete records, as the serial reader does.
            # The error may also follow a text cut wrong, which a pending task reports.
            failure = error
        if task:
            submit()
        while pending:
            recheck = yield from assembler.items(pending.popleft().result())
            if recheck is not None:
                return recheck
        if failure is not None:
            raise failure
        return None


class _Assembler:
    """Turns worker results back into records, sharing resources as the serial reader does."""

    def __init__(self, path: Path, array_name: str, service: str | None) -> None:
        self._path = path
        self._signal = Signal.TRACES if array_name == "spans" else Signal.LOGS
        self._fallback = ResourceData({"service.name": service} if service is not None else {})
        self._resources: dict[bytes, ResourceData] = {}

    def items(self, results: list[_Result]) -> Generator[Item | EncodedRun | TimeScan, None, int | None]:
        """Yield the records of a task's results; return the index of an element to read again, if any."""
        for result in results:
            if isinstance(result, int):
                return result
            if isinstance(result, _Run):
                yield self._run(result)
            elif not isinstance(result, tuple):
                yield result
            elif self._signal is Signal.TRACES:
                yield self._span(result)  # type: ignore[arg-type]  # span results in a spans array
            else:
                yield self._log(result)  # type: ignore[arg-type]  # log results in a logs array
        return None

    def _run(self, run: _Run) -> EncodedRun:
        resource = self._resource(run.resource_key, run.resource_attributes)
        return EncodedRun(
            self._signal, self._path, run.start, resource, _EMPTY_SCOPE, run.fields, bytes(run.keys),
            bytes(run.parents), bytes(run.has_parent), run.times, kind=_INTERNAL,
        )  # fmt: skip

    def _span(self, result: _SpanResult) -> EncodedSpan:
        index, trace_id, span_id, parent_span_id, kind, name, start, end, encoded = result
        location = Location(self._path, index)
        error = encoded if isinstance(encoded, RecordError) else None
        return EncodedSpan(
            location, self._fallback, _EMPTY_SCOPE, name, trace_id, span_id, parent_span_id, start, end,
            kind,  # type: ignore[arg-type]  # the SpanKindCode value as an int
            encoded=b"" if error else encoded, shift_error=error,  # type: ignore[arg-type]  # bytes without an error
        )  # fmt: skip

    def _log(self, result: _LogResult) -> EncodedLog:
        index, resource_key, resource_attributes, identity, trace_id, span_id, time, observed_time, encoded = result
        location = Location(self._path, index)
        error = encoded if isinstance(encoded, RecordError) else None
        return EncodedLog(
            location,
            self._resource(resource_key, resource_attributes),
            _EMPTY_SCOPE,
            time,
            observed_time,
            trace_id=trace_id,
            span_id=span_id,
            encoded=b"" if error else encoded,  # type: ignore[arg-type]  # bytes without an error
            identity=identity,
            shift_error=error,
        )

    def _resource(self, key: bytes | None, attributes: dict[str, AnyValue] | None) -> ResourceData:
        if key is None:
            return self._fallback
        resource = self._resources.get(key)
        if resource is None:
            # A worker sends the attributes with the first record of each resource in a task,
            # and tasks arrive in order, so the first record seen here has them.
            resource = ResourceData(attributes or {})
            self._resources[key] = resource
        return resource


class _InlineExecutor(Executor):
    """Runs each task in this process when it is submitted: the pool of one worker."""

    def submit(self, fn: Callable[..., _T], /, *args: Any, **kwargs: Any) -> Future[_T]:
        done: Future[_T] = Future()
        try:
            done.set_result(fn(*args, **kwargs))
        except Exception as error:  # noqa: BLE001  # raised by result(), as a worker's error is
            done.set_exception(error)
        return done


def _start_worker() -> None:
    # Ctrl-C reaches the whole process group; the main process stops the workers itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The records a worker builds have no reference cycles, and the modules it inherits never
    # die, so the collector's passes over them are wasted time.
    gc.freeze()
    gc.set_threshold(100_000, 50, 1000)


def _decode_task(
    path: Path,
    array_name: str,
    service: str | None,
    separator: str | None,
    elements: list[str | codemachine.Parsed],
    start: int,
    runs: bool,
    shift: int,
    scan: frozenset[Signal] | None,
) -> list[_Result]:
    global _encoder, _plain_encoder, _plain_log_encoder  # noqa: PLW0603  # one per worker process keeps its caches
    if _encoder is None or _plain_encoder is None or _plain_log_encoder is None:
        _encoder = RequestEncoder()
        _plain_encoder = PlainSpanEncoder()
        _plain_log_encoder = PlainLogEncoder()

    texts = _split_texts(elements, separator)
    fallback = ResourceData({"service.name": service} if service is not None else {})
    if scan is not None:
        return _scan_texts(path, array_name, service, texts, start, fallback, scan)
    results = _Results(_encoder, fallback, runs=runs, shift=shift)
    uncut = None
    if array_name == "spans":
        uncut = _decode_spans(path, service, texts, start, results, shift)
    else:
        uncut = _decode_logs(path, service, texts, start, results, shift)
    results.end()
    if uncut is not None:
        results.list.append(start + uncut)
    return results.list


def _decode_spans(
    path: Path, service: str | None, texts: list[str | codemachine.Parsed], start: int, results: _Results, shift: int
) -> int | None:
    """Add the results of a task's spans; return the position of the first text that is not one JSON value."""
    assert _plain_encoder is not None
    plain_encoder = _plain_encoder
    for position, text in enumerate(texts):
        index = start + position
        # Most spans are plain; the others take the full path one at a time.
        try:
            plain = plain_encoder.encode_text(index, text, shift=shift) if type(text) is str else None
        except orjson.JSONDecodeError:
            return position
        if plain is not None:
            results.add_span(plain)
            continue
        values, uncut = codemachine.parse_elements([text])
        if uncut is not None:
            return position
        results.add_items(
            guard_items(codemachine.decode_elements(path, "spans", service, values, index, results.fallback))
        )
    return None


def _scan_texts(
    path: Path,
    array_name: str,
    service: str | None,
    texts: list[str | codemachine.Parsed],
    start: int,
    fallback: ResourceData,
    signals: frozenset[Signal],
) -> list[_Result]:
    """Return the time range of a task's records, followed by the index of a text to read again, if any."""
    assert _plain_encoder is not None
    assert _plain_log_encoder is not None
    scan = TimeScan()
    results: list[_Result] = [scan]
    signal = Signal.TRACES if array_name == "spans" else Signal.LOGS
    if signal not in signals:
        return results  # the replay reads these records again and finds any text cut wrong

    no_filter = RecordFilter()
    for position, text in enumerate(texts):
        index = start + position
        if signal is Signal.TRACES:
            event_times: list[int] = []
            try:
                span = _plain_encoder.encode_text(index, text, event_times=event_times) if type(text) is str else None
            except orjson.JSONDecodeError:
                results.append(index)
                return results
            if span is not None:
                scan.add_times((span[6], span[7], *event_times), span[7])  # the end time is the schedule time
                continue
        values, uncut = codemachine.parse_elements([text])
        if uncut is not None:
            results.append(index)
            return results
        log = _plain_log_encoder.encode(index, values[0], fallback) if signal is Signal.LOGS else None
        if log is not None:
            time, observed_time = log[6], log[7]
            scan.add_times((time, observed_time), time or observed_time)
            continue
        for item in guard_items(codemachine.decode_elements(path, array_name, service, values, index, fallback)):
            if isinstance(item, SpanData | LogData):
                scan.add(item, no_filter)
    return results


def _split_texts(elements: list[str | codemachine.Parsed], separator: str | None) -> list[str | codemachine.Parsed]:
    """Split the texts that `RecordTexts.next_texts` cut together into one text per element."""
    if separator is None:
        return elements
    closing = separator[:-1]
    split: list[str | codemachine.Parsed] = []
    for element in elements:
        if isinstance(element, codemachine.Parsed):
            split.append(element)
            continue
        pieces = element.split(separator)
        last = pieces.pop()
        split.extend(piece + closing for piece in pieces)
        split.append(last)
    return split


def _decode_logs(
    path: Path, service: str | None, texts: list[str | codemachine.Parsed], start: int, results: _Results, shift: int
) -> int | None:
    """Add the results of a task's log records; return the position of the first text that is not one JSON value."""
    assert _plain_log_encoder is not None
    plain_encoder = _plain_log_encoder
    # Log times are whole numbers, so the exact parser's check rarely finds a long literal to look at.
    values, uncut = codemachine.parse_elements(texts)
    for position, value in enumerate(values):
        index = start + position
        plain = plain_encoder.encode(index, value, results.fallback, shift=shift)
        if plain is not None:
            results.add_log(plain)
        else:
            results.add_items(
                guard_items(codemachine.decode_elements(path, "logs", service, [value], index, results.fallback))
            )
    return uncut


class _Results:
    """Collects a task's results in order, gathering consecutive records into runs when asked to."""

    def __init__(self, encoder: RequestEncoder, fallback: ResourceData, *, runs: bool, shift: int) -> None:
        self.list: list[_Result] = []
        self.fallback = fallback
        self._encoder = encoder
        self._shift = TimeShift(shift)
        self._runs = runs
        self._run: _Run | None = None
        self._pending_record: SpanData | LogData | None = None  # a record that may be followed by notices
        self._sent_resources: set[bytes] = set()
        self._spans: set[tuple[int, int]] = set()  # the trace and span IDs of the spans in runs
        self._children: list[tuple[_Run, int, int, int]] = []  # spans in runs with a parent, and its ID

    def add_span(self, span: PlainSpan) -> None:
        """Add a plain span's result."""
        self._release(alone=False)
        if not self._runs:
            self.list.append(span)
            return
        index, trace_id, span_id, parent_span_id, _, _, _, end, encoded = span
        offset = self._shift.offset_nanos
        sent_end = end + offset if end and offset else end  # in range, because the message has it
        self._add_span(self._run_for(index, None, None), encoded, trace_id, span_id, parent_span_id, sent_end)

    def add_log(self, log: PlainLog) -> None:
        """Add a plain log record's result."""
        self._release(alone=False)
        index, key, attributes, identity, trace_id, span_id, time, observed_time, encoded = log
        attributes = self._first_time(key, attributes)
        if not self._runs:
            self.list.append((index, key, attributes, identity, trace_id, span_id, time, observed_time, encoded))
            return
        offset, time = self._shift.offset_nanos, time or observed_time
        sent_time = time + offset if time and offset else time  # in range, because the message has it
        self._run_for(index, key, attributes).add_log(encoded, identity, sent_time)

    def add_items(self, items: Iterator[Item]) -> None:
        """Add the records, skipped records and notices that the full path decoded."""
        for item in items:
            if isinstance(item, Notice):
                # A record with notices comes on its own, so that its notices follow it.
                self._release(alone=True)
                self._end_run()
                self.list.append(item)
                continue
            self._release(alone=False)
            if self._runs and isinstance(item, SpanData | LogData) and _fits_run(item):
                self._pending_record = item
            else:
                self._end_run()
                encoded = self._message(item) if isinstance(item, SpanData | LogData) else b""
                self.list.append(self._result(item, encoded))

    def end(self) -> None:
        """Finish the results once every record was added."""
        self._release(alone=False)
        self._end_run()
        # A span whose parent is a span of the same task is never an orphan, so the main
        # process need not index it. Most traces lie within one task.
        spans = self._spans
        for run, position, trace_id, parent_span_id in self._children:
            if (trace_id, parent_span_id) in spans:
                run.has_parent[position] = 0

    def _release(self, *, alone: bool) -> None:
        """Add the pending record: on its own when notices follow it, else to the current run."""
        record, self._pending_record = self._pending_record, None
        if record is None:
            return
        encoded = self._message(record)
        if alone or isinstance(encoded, RecordError):
            self._end_run()
            self.list.append(self._result(record, encoded))
        elif isinstance(record, SpanData):
            run = self._run_for(record.location.index or 0, None, None)
            ids = (record.trace_id, record.span_id, record.parent_span_id)
            self._add_span(run, encoded, *ids, moved(record.end_time_unix_nano, self._shift.offset_nanos))
        else:
            key, attributes = self._resource_key(record)
            run = self._run_for(record.location.index or 0, key, attributes)
            time = moved(record.time_unix_nano or record.observed_time_unix_nano, self._shift.offset_nanos)
            run.add_log(encoded, log_identity(record), time)

    def _message(self, record: SpanData | LogData) -> bytes | RecordError:
        """Return the record's message with its times moved, or the error when they cannot move.

        The main process reports the error only for a record that it would send, after the
        filters and deduplication, as it does for a record that it moves itself.
        """
        try:
            shifted = self._shift.apply(record)
        except RecordError as error:
            return error
        if isinstance(shifted, SpanData):
            return self._encoder.span_message(shifted)
        return self._encoder.log_message(shifted)  # type: ignore[arg-type]  # a LogData in, a LogData out

    def _add_span(self, run: _Run, encoded: bytes, trace_id: int, span_id: int, parent_span_id: int, end: int) -> None:
        """Add a span to a run, keeping its IDs for the check of parents at the end of the task."""
        position = run.add_span(encoded, trace_id, span_id, parent_span_id, end)
        self._spans.add((trace_id, span_id))
        if parent_span_id:
            self._children.append((run, position, trace_id, parent_span_id))

    def _run_for(self, index: int, resource_key: bytes | None, attributes: dict[str, AnyValue] | None) -> _Run:
        """Return the run that a record at `index` of this resource continues, starting one if needed."""
        run = self._run
        if run is None or run.resource_key != resource_key or run.start + len(run.fields) != index:
            self._end_run()
            run = self._run = _Run(index, resource_key, attributes)
        return run

    def _end_run(self) -> None:
        if self._run is not None:
            self.list.append(self._run)
            self._run = None

    def _resource_key(self, log: LogData) -> tuple[bytes | None, dict[str, AnyValue] | None]:
        """Return a log record's resource as a key (None for the file's), with its attributes the first time."""
        if log.resource is self.fallback:
            return None, None
        key = orjson.dumps(log.resource.attributes, default=str, option=orjson.OPT_SORT_KEYS)
        return key, self._first_time(key, log.resource.attributes)

    def _first_time(self, key: bytes | None, attributes: Mapping[str, AnyValue] | None) -> dict[str, AnyValue] | None:
        """Return a resource's attributes for the first record of its key in the task, else None."""
        if key is None or key in self._sent_resources:
            return None
        self._sent_resources.add(key)
        return dict(attributes or {})

    def _result(self, item: Item, encoded: bytes | RecordError) -> _SpanResult | _LogResult | Item:
        """Return a record's result with its encoded message, or another item as it is."""
        if isinstance(item, SpanData):
            index = item.location.index or 0
            span_fields = (item.name, item.start_time_unix_nano, item.end_time_unix_nano)
            return (index, item.trace_id, item.span_id, item.parent_span_id, int(item.kind), *span_fields, encoded)
        if isinstance(item, LogData):
            key, attributes = self._resource_key(item)
            index = item.location.index or 0
            times = (item.time_unix_nano, item.observed_time_unix_nano)
            return (index, key, attributes, log_identity(item), item.trace_id, item.span_id, *times, encoded)
        return item


def _fits_run(record: SpanData | LogData) -> bool:
    """Tell whether a run's columns contain all that the main process needs of a record: true for INTERNAL spans."""
    return not isinstance(record, SpanData) or int(record.kind) == _INTERNAL
