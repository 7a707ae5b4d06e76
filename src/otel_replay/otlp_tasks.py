"""Decode and encode OTLP/JSON lines files in worker processes: one export request per line.

The main process reads the file in the same 1 MiB reads as `otlp_json.read`, decodes the
UTF-8 and cuts the text into tasks of whole lines without parsing them. A worker parses each
line as `otlp_json.read` does, with its own `RecordConverter`, and encodes the spans and log
records into their protobuf messages. The main process keeps the order, renumbers the
records, deduplicates, batches and sends, so the requests are the same bytes as without workers.

Resources and scopes: the one-process reader shares one `ResourceData` or `ScopeData` object
among all the records of a file whose resource or scope has the same `shared_key`, and gives
the notices about it only the first time. `RequestEncoder` groups a request by the resource
object. A worker therefore sends each resource and scope of a task once, with its key, the
first time the task meets it, and refers to it by a slot number after that. The main process
keeps one object per key for the whole file, so records of different tasks share it again,
and gives the notices that came with a key only from the task that met the key first.

Some input stops the parallel reading. That is a line that is not one JSON object on its own,
a line longer than the record size limit, a document that stops the reading, a read or UTF-8
error, or a file that does not start with ``{``. The main process then reads the file itself with
`otlp_json.read_rest`, from the start of that line and with the same record numbers,
resources and scopes, so it reports the problem as the one-process reader does. After the
next document that ends its line, the lines after it go back to the workers, at most
`_MAX_HAND_BACKS` times per file.
"""

from __future__ import annotations

import codecs
import dataclasses
import re
from array import array
from collections import deque
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Final, TypeAlias

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
from otel_replay.formats import otlp_json
from otel_replay.formats.compression import open_binary
from otel_replay.formats.limits import guard_items, max_record_bytes, record_size_limit, too_deep
from otel_replay.formats.otlp_plain import KINDS
from otel_replay.formats.otlp_records import PlainDecoder, PlainTaker, RecordConverter, SharedKey, shared_key
from otel_replay.model import (
    Item,
    Location,
    LogData,
    MetricData,
    Notice,
    ResourceData,
    ScopeData,
    Signal,
    Skipped,
    SpanData,
)
from otel_replay.plainotlp import PlainOtlpSpan, PlainOtlpSpanEncoder
from otel_replay.scan import TimeScan
from otel_replay.speedups import encode_otlp_span
from otel_replay.timeshift import TimeShift
from otel_replay.transform import log_identity

__all__ = ["TASK_CHARS", "read"]

TASK_CHARS: Final = 256 * 1024  # characters of whole lines per task: a few hundred requests of the Collector
_LEADING_WHITESPACE: Final = re.compile(r"[ \t\r\n]*")  # what the reader skips between documents
_MAX_HAND_BACKS: Final = 16  # times a file goes back to the workers after a line read in this process
_pack_fingerprint: Final = FINGERPRINTS.pack
_encoder: RequestEncoder | None = None  # one per worker process, which keeps its caches
_span_encoder: PlainOtlpSpanEncoder | None = None  # the same


@dataclass(frozen=True, slots=True)
class _Shared:
    """A resource or scope of a task's records, sent the first time the task meets it."""

    slot: int
    key: SharedKey
    data: ResourceData | ScopeData


@dataclass(frozen=True, slots=True)
class _FirstNotice:
    """A notice that the reader gives only the first time a file has the resource or scope in `slot`."""

    slot: int
    notice: Notice


@dataclass(frozen=True, slots=True)
class _Metric:
    """A metric, which the main process takes as it is, with its resource and scope as slots."""

    resource: int
    scope: int
    metric: MetricData


@dataclass(slots=True)
class _Columns:
    """Consecutive spans of one kind, or log records, of one resource and scope: an `EncodedRun`'s columns."""

    signal: Signal
    start: int
    resource: int
    scope: int
    kind: int
    fields: list[bytes] = field(default_factory=list)
    keys: bytearray = field(default_factory=bytearray)
    parents: bytearray = field(default_factory=bytearray)
    has_parent: bytearray = field(default_factory=bytearray)
    times: array[int] = field(default_factory=lambda: array("Q"))

    def continues(self, signal: Signal, index: int, resource: int, scope: int, kind: int) -> bool:
        """Tell whether the record at `index` with these resource, scope and kind extends the run."""
        return (
            self.start + len(self.fields) == index
            and self.signal is signal
            and self.resource == resource
            and self.scope == scope
            and self.kind == kind
        )


_SpanResult: TypeAlias = tuple[int, int, int, int, int, int, int, str, int, int, "bytes | RecordError"]
"""Index, resource and scope slots, trace ID, span ID, parent span ID, kind, name, start and end time, Span message
(or the error that kept its times from moving)."""
_LogResult: TypeAlias = tuple[int, int, int, tuple[int, int], int, int, int, int, "bytes | RecordError"]
"""Index, resource and scope slots, identity, trace ID, span ID, time, observed time, LogRecord message (or the
error that kept its times from moving)."""
_Result: TypeAlias = (
    "_Shared | _FirstNotice | _Metric | _Columns | _SpanResult | _LogResult | Skipped | Notice | TimeScan"
)
_SPAN_RESULT_SIZE: Final = 11


@dataclass(frozen=True, slots=True)
class _TaskResult:
    """A task's results in order, what they number, and the line to read again from, if any."""

    results: list[_Result]
    records: int
    """Records the task numbered, up to `recheck`."""
    documents: int
    """Documents the task read, up to `recheck`."""
    recheck: int | None
    """The first line the task did not take, which the main process reads on from itself."""


@dataclass(frozen=True, slots=True)
class _Task:
    """A submitted task as the main process keeps it: its text and where the text starts in the file."""

    text: str
    line: int
    offset: int
    """The byte offset of the text in the decompressed file."""


def read(
    executor: Executor | None,
    path: Path,
    *,
    runs: bool,
    max_in_flight: int,
    shift: int = 0,
    scan: frozenset[Signal] | None = None,
) -> Iterator[Item | EncodedRun | TimeScan]:
    """Yield the records of an OTLP/JSON file as `otlp_json.read` does, with its lines decoded in `executor`.

    With ``runs=True``, consecutive records without notices come as `EncodedRun` objects.
    At most `max_in_flight` tasks are queued or running, so a slow receiver stops the reading.
    The encoded spans and log records are sent with their times moved by `shift` nanoseconds,
    while their fields keep the recorded times. With `scan`, the workers return a `TimeScan`
    of the records of those signals in each task instead of the records, and only the lines
    read in this process come as records. Without an executor, `otlp_json.read` reads the
    file in this process, and the caller moves the times.
    """
    if executor is None:
        return otlp_json.read(path)
    return _Reader(executor, path, runs=runs, max_in_flight=max_in_flight, shift=shift, scan=scan).items()


class _Reader:
    """Cuts a file into tasks, takes their results in order, and reads the rest itself when a task stops."""

    def __init__(
        self,
        executor: Executor,
        path: Path,
        *,
        runs: bool,
        max_in_flight: int,
        shift: int,
        scan: frozenset[Signal] | None,
    ) -> None:
        self._executor = executor
        self._path = path
        self._runs = runs
        self._shift = shift
        self._scan = scan
        self._max_in_flight = max_in_flight
        self._limit = max_record_bytes()
        self._resources: dict[SharedKey, ResourceData] = {}
        self._scopes: dict[SharedKey, ScopeData] = {}
        self._records = 0  # records numbered by the tasks taken
        self._documents = 0  # documents read by the tasks taken
        self._pending: deque[tuple[Future[_TaskResult], _Task]] = deque()
        self._submitted = 0
        self._text = ""  # text read but not submitted, from the start of a line
        self._line = 1  # the line that `_text` starts at
        self._offset = 0  # the byte offset of `_text` in the decompressed file

    def items(self) -> Iterator[Item | EncodedRun | TimeScan]:
        """Yield the file's records in order."""
        restart: tuple[int, int] | None = (1, 0)
        hand_backs = 0
        while restart is not None:
            try:
                with open_binary(self._path) as file:
                    _skip_bytes(file, restart[1])
                    restart = yield from self._read_tasks(file, *restart)
            finally:
                for future, _ in self._pending:
                    future.cancel()
                self._pending.clear()
            if restart is None:
                return
            # Each return to the workers reads the file again up to where they go on, so a
            # file with many such lines is read in one process after the first few.
            hand_backs += 1
            restart = yield from self._read_rest(*restart, hand_back=hand_backs <= _MAX_HAND_BACKS)

    def _read_tasks(
        self, file: BinaryIO, line: int, offset: int
    ) -> Generator[Item | EncodedRun | TimeScan, None, tuple[int, int] | None]:
        """Submit the file's lines from `line`, at byte `offset`, as tasks and yield their records.

        Return the line and byte offset to read on from in this process, if needed.
        """
        self._text, self._line, self._offset = "", line, offset
        # A byte order mark is only read at the start of the file.
        decoder = codecs.getincrementaldecoder("utf-8" if offset else "utf-8-sig")()
        started = offset > 0
        # The reads end where those of `otlp_json.read` do, so a UTF-8 error stops after the same lines.
        size = otlp_json.CHUNK_BYTES - offset % otlp_json.CHUNK_BYTES
        while True:
            try:
                data = file.read(size)
                chunk = decoder.decode(data, final=not data)
            except Exception:  # noqa: BLE001  # reading the file again from this line reports it as `otlp_json.read` does
                return (yield from self._drain())
            size = otlp_json.CHUNK_BYTES
            if not started and self._offset == 0 and data.startswith(codecs.BOM_UTF8):
                self._offset = len(codecs.BOM_UTF8)
            self._text += chunk
            if not started:
                # The first document decides whether the file is read here at all.
                self._skip_blank_lines()
                if not self._text and data:
                    continue
                if self._text and self._text[0] != "{":
                    return 1, 0
                started = True
            restart = yield from self._submit_lines(at_end=not data)
            if restart is not None or not data:
                return restart

    def _skip_blank_lines(self) -> None:
        """Move past the blank lines at the start of the file, so that the first task starts at its first document."""
        blank = _LEADING_WHITESPACE.match(self._text)
        skipped = blank.end() if blank else 0
        self._line += self._text.count("\n", 0, skipped)
        self._offset += skipped
        self._text = self._text[skipped:]

    def _submit_lines(self, *, at_end: bool) -> Generator[Item | EncodedRun | TimeScan, None, tuple[int, int] | None]:
        """Submit the whole lines read as tasks, and at the end the last line; return where to read on from."""
        text, position = self._text, 0
        while len(text) - position >= TASK_CHARS or (at_end and position < len(text)):
            cut = text.rfind("\n", position, position + TASK_CHARS) + 1 or text.find("\n", position + TASK_CHARS) + 1
            if not cut and not at_end:
                self._text = text[position:]
                if len(self._text) > self._limit:
                    # A line longer than the limit is skipped unread, which the reader does itself.
                    return (yield from self._drain())
                return None
            cut = cut or len(text)  # at the end, the last line, without a line break
            block = text[position:cut]
            position = cut
            self._submit(_Task(block, self._line, self._offset))
            self._line += block.count("\n")
            self._offset += len(block) if block.isascii() else len(block.encode())
            if len(self._pending) >= self._max_in_flight:
                restart = yield from self._take_next()
                if restart is not None:
                    return restart
        self._text = text[position:]
        if at_end:
            return (yield from self._drain(at_end=True))
        return None

    def _submit(self, task: _Task) -> None:
        # The first task starts at the first document, after any blank lines.
        first = self._submitted == 0 and self._documents == 0
        arguments = (self._path, task.text, task.line, first, self._runs, self._limit, self._shift, self._scan)
        self._pending.append((self._executor.submit(_decode_task, *arguments), task))
        self._submitted += 1

    def _drain(self, *, at_end: bool = False) -> Generator[Item | EncodedRun | TimeScan, None, tuple[int, int] | None]:
        """Take the pending tasks; return where to read on from: the first line a task did not take, else the next."""
        while self._pending:
            restart = yield from self._take_next()
            if restart is not None:
                return restart
        return None if at_end else (self._line, self._offset)

    def _take_next(self) -> Generator[Item | EncodedRun | TimeScan, None, tuple[int, int] | None]:
        """Yield the records of the oldest task; return the line and offset to read on from when it stopped."""
        future, task = self._pending.popleft()
        result = future.result()
        yield from self._records_of(result.results)
        self._records += result.records
        self._documents += result.documents
        if result.recheck is None:
            return None

        for pending, _ in self._pending:
            pending.cancel()
        self._pending.clear()
        start = 0
        for _ in range(result.recheck - task.line):
            start = task.text.index("\n", start) + 1
        return result.recheck, task.offset + len(task.text[:start].encode())

    def _records_of(self, results: list[_Result]) -> Iterator[Item | EncodedRun | TimeScan]:
        """Turn a task's results into records, numbered and sharing resources and scopes across the file."""
        path, base = self._path, self._records
        shared: dict[int, Any] = {}  # slot to the file's ResourceData or ScopeData
        first_in_file: set[int] = set()  # slots of the keys that this task met first
        for result in results:
            if type(result) is tuple:
                yield self._record(result, shared, base)
            elif isinstance(result, TimeScan):
                yield result
            elif isinstance(result, _Columns):
                yield EncodedRun(
                    result.signal, path, base + result.start, shared[result.resource], shared[result.scope],
                    result.fields, bytes(result.keys), bytes(result.parents), bytes(result.has_parent), result.times,
                    kind=result.kind,
                )  # fmt: skip
            elif isinstance(result, _Shared):
                table: dict[SharedKey, Any] = self._resources if isinstance(result.data, ResourceData) else self._scopes
                data = table.get(result.key)
                if data is None:
                    data = table[result.key] = result.data
                    first_in_file.add(result.slot)
                shared[result.slot] = data
            elif isinstance(result, _FirstNotice):
                if result.slot in first_in_file:
                    yield _renumbered(result.notice, base)
            elif isinstance(result, _Metric):
                metric = result.metric
                location = _renumbered_location(metric.location, base)
                yield dataclasses.replace(
                    metric, location=location, resource=shared[result.resource], scope=shared[result.scope]
                )
            else:
                yield _renumbered(result, base)  # type: ignore[arg-type]  # a Skipped or Notice

    def _record(self, result: tuple[Any, ...], shared: dict[int, Any], base: int) -> EncodedSpan | EncodedLog:
        error = result[-1] if isinstance(result[-1], RecordError) else None
        encoded = b"" if error is not None else result[-1]
        if len(result) == _SPAN_RESULT_SIZE:
            index, resource, scope, trace_id, span_id, parent_span_id, kind, name, start, end, _ = result
            return EncodedSpan(
                Location(self._path, base + index), shared[resource], shared[scope], name, trace_id, span_id,
                parent_span_id, start, end, kind, encoded=encoded, shift_error=error,
            )  # fmt: skip
        index, resource, scope, identity, trace_id, span_id, time, observed_time, _ = result
        return EncodedLog(
            Location(self._path, base + index),
            shared[resource],
            shared[scope],
            time,
            observed_time,
            trace_id=trace_id,
            span_id=span_id,
            encoded=encoded,
            identity=identity,
            shift_error=error,
        )

    def _read_rest(self, line: int, offset: int, *, hand_back: bool) -> Generator[Item, None, tuple[int, int] | None]:
        """Read the file on from `line`, at byte `offset`, in this process, as `otlp_json.read` would.

        With `hand_back`, return the line and byte offset where the workers can go on, if any.
        """
        converter = RecordConverter(
            self._path, next_index=self._records, resources=self._resources, scopes=self._scopes
        )
        with open_binary(self._path) as file:
            _skip_bytes(file, offset)
            following = yield from otlp_json.read_rest(
                converter, file, line=line, documents=self._documents, offset=offset, hand_back=hand_back
            )
        self._records = converter.next_index
        if following is None:
            return None
        line, offset, self._documents = following
        return line, offset


def _skip_bytes(file: BinaryIO, size: int) -> None:
    """Read past the first `size` bytes of a file, which were read before without an error."""
    while size > 0:
        data = file.read(min(size, otlp_json.CHUNK_BYTES))
        if not data:
            return
        size -= len(data)


def _renumbered_location(location: Location, base: int) -> Location:
    if location.index is None:
        return location
    return Location(location.path, location.index + base, location.field)


def _renumbered(item: Skipped | Notice, base: int) -> Skipped | Notice:
    """Return a worker's skipped record or notice with its record index in the file."""
    if item.location.index is None:
        return item
    return dataclasses.replace(item, location=_renumbered_location(item.location, base))


# --- in the worker processes -----------------------------------------------------------


def _decode_task(
    path: Path, text: str, line: int, first: bool, runs: bool, limit: int, shift: int, scan: frozenset[Signal] | None
) -> _TaskResult:
    """Decode the lines of `text`, the first at `line`; `first` is set when no document comes before them.

    With `scan`, return the time range of the records of those signals instead of the records.
    """
    global _encoder, _span_encoder  # one per worker process keeps its caches
    if _encoder is None or _span_encoder is None:
        _encoder, _span_encoder = RequestEncoder(), PlainOtlpSpanEncoder()
    with record_size_limit(limit):
        return _decode_lines(
            path,
            text,
            line,
            first=first,
            runs=runs,
            encoder=_encoder,
            span_encoder=_span_encoder,
            limit=limit,
            shift=shift,
            scan=scan,
        )


def _decode_lines(
    path: Path,
    text: str,
    first_line: int,
    *,
    first: bool,
    runs: bool,
    encoder: RequestEncoder,
    span_encoder: PlainOtlpSpanEncoder,
    limit: int,
    shift: int = 0,
    scan: frozenset[Signal] | None = None,
) -> _TaskResult:
    results: _Results | _TimeResults
    if scan is None:
        results = _Results(encoder, runs=runs, shift=shift)
        converter = _TaskConverter(path, results.list, span_encoder, shift, add_plain_span=results.add_plain_span)
    else:
        # The scan needs the times of events, which the one-pass span encoder does not return.
        results = _TimeResults(scan)
        converter = _TaskConverter(path, results.list, None, shift)
    lines = text.split("\n")
    if text.endswith("\n"):
        lines.pop()
    documents = 0
    for line, line_text in enumerate(lines, first_line):
        body = line_text.lstrip(" \t\r")
        if not body:
            continue
        # The reader skips a line over the limit, and a line that opens with something else than
        # an object may start an array of documents, so both are left to it.
        if len(body) > limit or body[0] != "{":
            return results.finish(converter.next_index, documents, line)
        parsed = otlp_json.parse_line(body)
        if parsed is None:
            return results.finish(converter.next_index, documents, line)

        value, lone_surrogates = parsed
        number = documents + (1 if first else 2)  # only whether it is the file's first document matters
        # Items are added as the reader yields them, in order with the spans that the converter
        # takes directly, and a line that fails is taken back.
        take_back, index = results.checkpoint(), converter.next_index
        try:
            read = otlp_json.read_line(converter, value, line=line, number=number, lone_surrogates=lone_surrogates)
            for item in guard_items(read):
                results.add(item, converter)
        except Exception:  # noqa: BLE001  # the main process reads this line again and reports it
            take_back()
            converter.next_index = index
            return results.finish(index, documents, line)
        documents += 1
    return results.finish(converter.next_index, documents, None)


class _TaskConverter(RecordConverter):
    """A `RecordConverter` that numbers a task's resources and scopes and notes the notices given the first time.

    It encodes plain spans in one pass, into `EncodedSpan` records.
    """

    def __init__(
        self,
        path: Path,
        results: list[_Result],
        span_encoder: PlainOtlpSpanEncoder | None,
        shift: int,
        *,
        add_plain_span: Callable[[int, int, int, PlainOtlpSpan], None] | None = None,
    ) -> None:
        super().__init__(path)
        self._results = results
        self._span_encoder = span_encoder
        self._shift = shift
        self._add_plain_span = add_plain_span
        self._slots: dict[int, int] = {}  # id of a ResourceData or ScopeData, which the caches keep alive
        self._first_notices: dict[int, tuple[int, Notice]] = {}  # keeps the notice alive, so its id stays its own
        self._shallow: dict[int, bool] = {}  # id of a ResourceData or ScopeData: no value nested too deeply

    def resource(self, pb2_resource: Any, schema_url: str, field: str) -> tuple[ResourceData, list[Notice]]:
        resource, notices = super().resource(pb2_resource, schema_url, field)
        if id(resource) not in self._slots:
            self._share(resource, shared_key(pb2_resource, schema_url), notices)
        return resource, notices

    def scope(self, pb2_scope: Any, schema_url: str, field: str) -> tuple[ScopeData, list[Notice]]:
        scope, notices = super().scope(pb2_scope, schema_url, field)
        if id(scope) not in self._slots:
            self._share(scope, shared_key(pb2_scope, schema_url), notices)
        return scope, notices

    def plain_decoder(self, signal: Signal) -> PlainDecoder | None:
        if signal is Signal.TRACES and self._span_encoder is not None:
            return self._encode_plain_span
        return super().plain_decoder(signal)

    def plain_taker(self, signal: Signal) -> PlainTaker | None:
        if signal is Signal.TRACES and self._add_plain_span is not None and encode_otlp_span is not None:
            return self._take_plain_span
        return super().plain_taker(signal)

    def _take_plain_span(self, json_span: object, resource: ResourceData, scope: ScopeData) -> bool:
        """Add a span that the compiled encoder takes to the results directly, without building its `EncodedSpan`.

        The others, and spans of a resource or scope with a value nested too deeply, which
        `limits.guard_items` skips, take the reader's usual path.
        """
        assert encode_otlp_span is not None
        assert self._add_plain_span is not None
        if type(json_span) is not dict or not (self._is_shallow(resource) and self._is_shallow(scope)):
            return False
        encoded = encode_otlp_span(json_span, self._shift)
        if encoded is None:
            return False
        self._add_plain_span(self.next_index, self.slot(resource), self.slot(scope), encoded)
        return True

    def _is_shallow(self, shared: ResourceData | ScopeData) -> bool:
        shallow = self._shallow.get(id(shared))
        if shallow is None:
            shallow = self._shallow[id(shared)] = not any(too_deep(value) for value in shared.attributes.values())
        return shallow

    def _encode_plain_span(
        self, json_span: object, resource: ResourceData, scope: ScopeData, location: Location
    ) -> EncodedSpan | None:
        assert self._span_encoder is not None
        # With a plain taker, the compiled encoder has seen the span already and declined it.
        compiled = self.plain_taker(Signal.TRACES) is None
        encoded = self._span_encoder.encode(json_span, shift=self._shift, compiled=compiled)
        if encoded is None:
            return None
        trace_id, span_id, parent_span_id, kind, name, start, end, message = encoded
        return EncodedSpan(
            location, resource, scope, name, trace_id, span_id, parent_span_id, start, end, KINDS[kind],
            encoded=message,
        )  # fmt: skip

    def slot(self, data: ResourceData | ScopeData) -> int:
        """Return the slot of a resource or scope of this task."""
        return self._slots[id(data)]

    def first_notice(self, notice: Notice) -> _FirstNotice | None:
        """Return a notice as a `_FirstNotice` when the reader gives it only the first time, else None."""
        noted = self._first_notices.get(id(notice))
        if noted is None or noted[1] is not notice:
            return None
        return _FirstNotice(noted[0], notice)

    def _share(self, data: ResourceData | ScopeData, key: SharedKey, notices: list[Notice]) -> None:
        slot = len(self._slots)
        self._slots[id(data)] = slot
        self._results.append(_Shared(slot, key, data))
        for notice in notices:
            self._first_notices[id(notice)] = (slot, notice)


class _TimeResults:
    """Collects the time range of a task's records of some signals, for the scan before a time shift."""

    def __init__(self, signals: frozenset[Signal]) -> None:
        self.list: list[_Result] = []  # the resources and scopes that the converter shares, which the scan ignores
        self._signals = signals
        self._scan = TimeScan()
        self._no_filter = RecordFilter()

    def add(self, item: Item, converter: _TaskConverter) -> None:
        """Add a record of the signals to the time range; ignore other items."""
        if isinstance(item, SpanData | LogData | MetricData) and item.signal in self._signals:
            self._scan.add(item, self._no_filter)

    def checkpoint(self) -> Callable[[], None]:
        """Return a function that takes back what is added after this call."""
        length, scan = len(self.list), self._scan
        state = (scan.oldest, scan.newest, scan.first_schedule, scan.records)

        def take_back() -> None:
            del self.list[length:]
            scan.oldest, scan.newest, scan.first_schedule, scan.records = state

        return take_back

    def finish(self, records: int, documents: int, recheck: int | None) -> _TaskResult:
        """Return the time range as the task's only result."""
        return _TaskResult([self._scan], records, documents, recheck)


class _Results:
    """Collects a task's results in order, gathering consecutive records into runs when asked to."""

    def __init__(self, encoder: RequestEncoder, *, runs: bool, shift: int) -> None:
        self.list: list[_Result] = []
        self._encoder = encoder
        self._runs = runs
        self._shift = TimeShift(shift)
        self._run: _Columns | None = None
        self._pending_record: tuple[SpanData | LogData, int, int] | None = (
            None  # a record that may be followed by notices
        )

    def add(self, item: Item, converter: _TaskConverter) -> None:
        """Add a record, skipped record or notice that the reader yielded."""
        if isinstance(item, Notice):
            # A record with notices comes on its own, so that its notices follow it.
            self._release(alone=True)
            self._end_run()
            first = converter.first_notice(item)
            self.list.append(first if first is not None else item)
            return
        self._release(alone=False)
        if isinstance(item, Skipped):
            self._end_run()
            self.list.append(item)
            return
        resource, scope = converter.slot(item.resource), converter.slot(item.scope)
        if isinstance(item, MetricData):
            self._end_run()
            self.list.append(_Metric(resource, scope, item))
        elif self._runs:
            self._pending_record = (item, resource, scope)
        else:
            self.list.append(self._result(item, resource, scope, self._message(item)))

    def checkpoint(self) -> Callable[[], None]:
        """Return a function that takes back what is added after this call."""
        length, run, pending = len(self.list), self._run, self._pending_record
        sizes = (0, 0, 0, 0) if run is None else (len(run.fields), len(run.keys), len(run.has_parent), len(run.times))

        def take_back() -> None:
            del self.list[length:]
            self._run, self._pending_record = run, pending
            if run is not None:
                fields, keys, has_parent, times = sizes
                del run.fields[fields:], run.keys[keys:], run.parents[keys:], run.has_parent[has_parent:]
                del run.times[times:]

        return take_back

    def add_plain_span(self, index: int, resource: int, scope: int, span: PlainOtlpSpan) -> None:
        """Add a span that the converter encoded directly, at record `index`."""
        self._release(alone=False)
        trace_id, span_id, parent_span_id, kind, name, start, end, encoded = span
        if not self._runs:
            self.list.append(
                (index, resource, scope, trace_id, span_id, parent_span_id, kind, name, start, end, encoded)
            )
            return
        run = self._run_for(Signal.TRACES, index, resource, scope, kind)
        self._add_span(run, encoded, trace_id, span_id, parent_span_id, end)

    def finish(self, records: int, documents: int, recheck: int | None) -> _TaskResult:
        """Return the task's results once every record was added."""
        self._release(alone=False)
        self._end_run()
        _resolve_parents([result for result in self.list if isinstance(result, _Columns)])
        return _TaskResult(self.list, records, documents, recheck)

    def _release(self, *, alone: bool) -> None:
        """Add the pending record: on its own when notices follow it, else to the current run."""
        pending, self._pending_record = self._pending_record, None
        if pending is None:
            return
        record, resource, scope = pending
        encoded = self._message(record)
        if alone or isinstance(encoded, RecordError):
            self._end_run()
            self.list.append(self._result(record, resource, scope, encoded))
            return
        index = record.location.index or 0
        if isinstance(record, SpanData):
            run = self._run_for(Signal.TRACES, index, resource, scope, int(record.kind))
            trace_id, end = record.trace_id, record.end_time_unix_nano
            self._add_span(run, encoded, trace_id, record.span_id, record.parent_span_id, end)
        else:
            offset = self._shift.offset_nanos
            run = self._run_for(Signal.LOGS, index, resource, scope, 0)
            run.fields.append(scope_field(encoded))
            run.keys += _pack_fingerprint(*log_identity(record))
            time = record.time_unix_nano or record.observed_time_unix_nano
            run.times.append(time + offset if time and offset else time)

    def _add_span(
        self, run: _Columns, encoded: bytes, trace_id: int, span_id: int, parent_span_id: int, end: int
    ) -> None:
        """Add a span's columns to a run; `end` is its recorded end time, which the shift moves."""
        offset = self._shift.offset_nanos
        sent_end = end + offset if end and offset else end  # in range, because the message has it
        add_span_columns(run, encoded, trace_id, span_id, parent_span_id, sent_end)

    def _run_for(self, signal: Signal, index: int, resource: int, scope: int, kind: int) -> _Columns:
        """Return the run that a record continues, starting one if needed."""
        run = self._run
        if run is None or not run.continues(signal, index, resource, scope, kind):
            self._end_run()
            run = self._run = _Columns(signal, index, resource, scope, kind)
        return run

    def _end_run(self) -> None:
        if self._run is not None:
            self.list.append(self._run)
            self._run = None

    def _message(self, record: SpanData | LogData) -> bytes | RecordError:
        """Return the record's message with its times moved, or the error when they cannot move, as in workers.py."""
        if type(record) is EncodedSpan:
            return record.encoded  # the plain path moved its times
        try:
            shifted = self._shift.apply(record)
        except RecordError as error:
            return error
        if isinstance(shifted, SpanData):
            return self._encoder.span_message(shifted)
        return self._encoder.log_message(shifted)  # type: ignore[arg-type]  # a LogData in, a LogData out

    def _result(
        self, record: SpanData | LogData, resource: int, scope: int, encoded: bytes | RecordError
    ) -> _SpanResult | _LogResult:
        index = record.location.index or 0
        if isinstance(record, SpanData):
            ids = (record.trace_id, record.span_id, record.parent_span_id)
            times = (record.start_time_unix_nano, record.end_time_unix_nano)
            return (index, resource, scope, *ids, int(record.kind), record.name, *times, encoded)
        log_times = (record.time_unix_nano, record.observed_time_unix_nano)
        return (index, resource, scope, log_identity(record), record.trace_id, record.span_id, *log_times, encoded)


def _resolve_parents(runs: list[_Columns]) -> None:
    """Leave out of the parent index the spans whose parent is a span of the same task.

    Such a parent is in the input, so those spans are never orphans.
    """
    size = FINGERPRINTS.size
    spans: set[bytes] = set()
    for run in runs:
        if run.signal is Signal.TRACES:
            keys = bytes(run.keys)
            spans.update(keys[start : start + size] for start in range(0, len(keys), size))
    for run in runs:
        parents = bytes(run.parents)
        for position, flag in enumerate(run.has_parent):
            if flag and parents[position * size : (position + 1) * size] in spans:
                run.has_parent[position] = 0
