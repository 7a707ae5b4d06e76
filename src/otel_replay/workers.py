"""Decode and encode CodeMachine records in worker processes, so a replay uses more than one core.

The main process streams a file and cuts it into chunks of record texts without parsing
them. Workers parse, decode and encode each record into its protobuf message. They send back
the IDs that deduplication and the parent index need, and the encoded bytes. When a worker
finds a text that is not one JSON value, the main process reads the file again from that
record and checks each text itself (`codemachine.RecordTexts`). The main process keeps the
order, deduplicates, batches and sends, so the requests are the same bytes as without
workers. At most two chunks per worker are in flight, so a slow receiver stops the reading
instead of letting memory grow.
"""

from __future__ import annotations

import gc
import multiprocessing
import multiprocessing.context
import sys
import threading
from collections import deque
from collections.abc import Generator, Iterator
from multiprocessing.pool import AsyncResult, Pool
from pathlib import Path
from typing import Final, TypeAlias

import orjson

from otel_replay.encode import EncodedLog, EncodedSpan, RequestEncoder
from otel_replay.formats import codemachine
from otel_replay.model import AnyValue, Item, Location, LogData, ResourceData, ScopeData, SpanData
from otel_replay.plainspan import PlainSpan, PlainSpanEncoder
from otel_replay.transform import log_identity

__all__ = ["WorkerPool"]

CHUNK_SIZE: Final = 256  # records per task: large enough to amortize the transfer, small enough to pipeline
IN_FLIGHT_PER_WORKER: Final = 2  # chunks queued or running per worker

_SpanResult: TypeAlias = PlainSpan
_LogResult: TypeAlias = tuple[
    int, "bytes | None", "dict[str, AnyValue] | None", tuple[int, int], int, int, int, int, bytes
]
_ChunkResult: TypeAlias = list["_SpanResult | _LogResult | Item | int"]
"""A chunk's records in order, ending with the index of an element to read again when a text was cut wrong."""
_Task: TypeAlias = tuple[Path, str, "str | None"]
_EMPTY_SCOPE: Final = ScopeData()
_encoder: RequestEncoder | None = None  # one per worker process
_plain_encoder: PlainSpanEncoder | None = None  # one per worker process


class WorkerPool:
    """A pool of worker processes that decode and encode CodeMachine trace and log files."""

    def __init__(self, workers: int) -> None:
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
        self._pool: Pool = context.Pool(workers, initializer=_start_worker)
        self._max_in_flight = workers * IN_FLIGHT_PER_WORKER

    def read(self, path: Path) -> Iterator[Item]:
        """Yield the records of a CodeMachine file as `codemachine.read` does, decoded by the workers."""
        return codemachine.read_with(path, self.decode)

    def close(self, *, abort: bool = False) -> None:
        """Stop the worker processes and wait for them to exit; `abort` stops them without finishing their tasks."""
        if abort:
            self._pool.terminate()
        else:
            self._pool.close()
        self._pool.join()

    def decode(
        self, path: Path, array_name: str, service: str | None, elements: codemachine.RecordTexts
    ) -> Iterator[Item]:
        """Decode the elements of a "spans" or "logs" array in the workers: a `codemachine.ElementDecoder`."""
        assembler = _Assembler(path, array_name, service)
        start = 0
        while True:
            recheck = yield from self._decode_from(assembler, (path, array_name, service), elements, start)
            if recheck is None:
                return
            # The records before `recheck` are sent; the chunks after it were cut from wrong texts.
            elements.recheck_from(recheck)
            start = recheck

    def _decode_from(
        self, assembler: _Assembler, task: _Task, elements: codemachine.RecordTexts, start: int
    ) -> Generator[Item, None, int | None]:
        """Yield the records from element `start` on; return the index of a text cut wrong, else None."""
        pending: deque[AsyncResult[_ChunkResult]] = deque()
        chunk: list[str | codemachine.Parsed] = []
        failure: Exception | None = None
        try:
            for element in elements:
                chunk.append(element)
                if len(chunk) < CHUNK_SIZE:
                    continue
                pending.append(self._pool.apply_async(_decode_chunk, (*task, chunk, start)))
                start += len(chunk)
                chunk = []
                if len(pending) >= self._max_in_flight:
                    recheck = yield from assembler.items(pending.popleft().get())
                    if recheck is not None:
                        return recheck
        except Exception as error:  # noqa: BLE001  # raised again below, after the records read before it
            # A truncated file still sends its complete records, as the serial reader does.
            # The error may also follow a text cut wrong, which a pending chunk reports.
            failure = error
        if chunk:
            pending.append(self._pool.apply_async(_decode_chunk, (*task, chunk, start)))
        while pending:
            recheck = yield from assembler.items(pending.popleft().get())
            if recheck is not None:
                return recheck
        if failure is not None:
            raise failure
        return None


class _Assembler:
    """Turns worker results back into records, sharing resources as the serial reader does."""

    def __init__(self, path: Path, array_name: str, service: str | None) -> None:
        self._path = path
        self._is_spans = array_name == "spans"
        self._fallback = ResourceData({"service.name": service} if service is not None else {})
        self._resources: dict[bytes, ResourceData] = {}

    def items(self, results: _ChunkResult) -> Generator[Item, None, int | None]:
        """Yield the records of a chunk's results; return the index of an element to read again, if any."""
        for result in results:
            if isinstance(result, int):
                return result
            if not isinstance(result, tuple):
                yield result
            elif self._is_spans:
                yield self._span(result)  # type: ignore[arg-type]  # span results in a spans array
            else:
                yield self._log(result)  # type: ignore[arg-type]  # log results in a logs array
        return None

    def _span(self, result: _SpanResult) -> EncodedSpan:
        index, trace_id, span_id, parent_span_id, kind, name, start, end, encoded = result
        location = Location(self._path, index)
        return EncodedSpan(
            location, self._fallback, _EMPTY_SCOPE, name, trace_id, span_id, parent_span_id, start, end,
            kind,  # type: ignore[arg-type]  # the SpanKindCode value as an int
            encoded=encoded,
        )  # fmt: skip

    def _log(self, result: _LogResult) -> EncodedLog:
        index, resource_key, resource_attributes, identity, trace_id, span_id, time, observed_time, encoded = result
        resource = self._fallback
        if resource_key is not None:
            resource = self._resources.get(resource_key) or self._new_resource(resource_key, resource_attributes)
        location = Location(self._path, index)
        return EncodedLog(
            location,
            resource,
            _EMPTY_SCOPE,
            time,
            observed_time,
            trace_id=trace_id,
            span_id=span_id,
            encoded=encoded,
            identity=identity,
        )

    def _new_resource(self, key: bytes, attributes: dict[str, AnyValue] | None) -> ResourceData:
        # A worker sends the attributes with the first record of each resource in a chunk,
        # and chunks arrive in order, so the first record seen here has them.
        resource = ResourceData(attributes or {})
        self._resources[key] = resource
        return resource


def _start_worker() -> None:
    # The records a worker builds have no reference cycles, and the modules it inherits never
    # die, so the collector's passes over them are wasted time.
    gc.freeze()
    gc.set_threshold(100_000, 50, 1000)


def _decode_chunk(
    path: Path, array_name: str, service: str | None, elements: list[str | codemachine.Parsed], start: int
) -> _ChunkResult:
    global _encoder, _plain_encoder  # noqa: PLW0603  # one encoder per worker process keeps its caches across chunks
    if _encoder is None or _plain_encoder is None:
        _encoder = RequestEncoder()
        _plain_encoder = PlainSpanEncoder()
    encoder = _encoder
    plain_encoder = _plain_encoder

    results: _ChunkResult = []
    fallback = ResourceData({"service.name": service} if service is not None else {})
    sent_resources: set[int] = set()
    values, uncut = codemachine.parse_elements(elements)
    if array_name == "spans":
        for index, value in enumerate(values, start):
            # Most spans are plain; the others take the full path one at a time.
            plain = plain_encoder.encode(index, value)
            if plain is not None:
                results.append(plain)
                continue
            items = codemachine.decode_elements(path, array_name, service, [value], index, fallback)
            results.extend(_result(item, encoder, fallback, sent_resources) for item in items)
    else:
        items = codemachine.decode_elements(path, array_name, service, values, start, fallback)
        results.extend(_result(item, encoder, fallback, sent_resources) for item in items)
    if uncut is not None:
        results.append(start + uncut)
    return results


def _result(
    item: Item, encoder: RequestEncoder, fallback: ResourceData, sent_resources: set[int]
) -> _SpanResult | _LogResult | Item:
    if isinstance(item, SpanData):
        index = item.location.index or 0
        encoded = encoder.span_message(item)
        span_fields = (item.name, item.start_time_unix_nano, item.end_time_unix_nano)
        return (index, item.trace_id, item.span_id, item.parent_span_id, int(item.kind), *span_fields, encoded)
    if isinstance(item, LogData):
        return _log_result(item, encoder, fallback, sent_resources)
    return item


def _log_result(log: LogData, encoder: RequestEncoder, fallback: ResourceData, sent_resources: set[int]) -> _LogResult:
    """Return a log record's result: its resource as a key (None for the file's fallback), the
    resource's attributes with its first record in the chunk, and the encoded record."""
    key = None
    attributes = None
    if log.resource is not fallback:
        key = orjson.dumps(log.resource.attributes, default=str, option=orjson.OPT_SORT_KEYS)
        if id(log.resource) not in sent_resources:
            sent_resources.add(id(log.resource))
            attributes = dict(log.resource.attributes)
    index = log.location.index or 0
    times = (log.time_unix_nano, log.observed_time_unix_nano)
    return (index, key, attributes, log_identity(log), log.trace_id, log.span_id, *times, encoder.log_message(log))
