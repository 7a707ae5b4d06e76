"""Read OTLP/JSON files: export requests as the Collector's file exporter writes them, one per line.

The Collector's file exporter and its otlpjsonfile receiver use one ExportTraceServiceRequest,
ExportLogsServiceRequest or ExportMetricsServiceRequest per line, with hexadecimal IDs,
int64 and fixed64 values as strings and enums as integers. This reader also accepts what other
writers produce: pretty-printed, concatenated or array-wrapped documents, snake_case keys,
enum names, and int64 values as numbers. It also accepts base64 IDs, which generic protobuf
JSON writers and Grafana's trace download write. Grafana's download also uses the pre-1.0
OTLP keys ``batches`` and ``instrumentationLibrarySpans``. Unknown fields are ignored.

Documents are read one at a time, so memory stays bounded by the largest document. Each
record is decoded on its own, so one invalid record is skipped while the rest of its document
is sent. Plain spans and log records become records directly (`otlp_plain`). Any other record
is decoded into its protobuf message: a decoder driven by the protobuf descriptors handles
the usual shapes, and `google.protobuf.json_format.ParseDict` takes any record it does not.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import functools
import json
import math
import re
import sys
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, ClassVar, Final, TypeAlias

import orjson
from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor
from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope
from opentelemetry.proto.logs.v1 import logs_pb2
from opentelemetry.proto.metrics.v1 import metrics_pb2
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from otel_replay.errors import InputError, NotTelemetryError, RecordError
from otel_replay.formats.compression import open_binary
from otel_replay.formats.limits import (
    TOO_DEEP,
    as_record_error,
    growth_read_size,
    max_record_bytes,
    raw_decode,
    too_large,
)
from otel_replay.formats.otlp_records import LAYOUTS, RecordConverter, SignalLayout
from otel_replay.model import Item, Location, Notice, ResourceData, ScopeData, Signal
from otel_replay.values import decode_text, json_type, show

__all__ = ["CHUNK_BYTES", "NAME", "parse_line", "read", "read_line", "read_rest", "sniff"]

NAME: Final = "otlp-json"

_REQUEST_KEY: Final = (
    rb'"(?:resourceSpans|resourceLogs|resourceMetrics|resource_spans|resource_logs|resource_metrics)"\s*:\s*\['
)
# Grafana's trace download: {"batches": [{"resource": ..., "instrumentationLibrarySpans": ...}]}.
_BATCHES_KEY: Final = rb'"batches"\s*:\s*\[\s*\{\s*"(?:resource|scopeSpans|scope_spans|instrumentationLibrarySpans)"'
_SNIFF: Final = re.compile(rb"\A(?:\xef\xbb\xbf)?\s*(?:\[\s*)?\{\s*(?:" + _REQUEST_KEY + rb"|" + _BATCHES_KEY + rb")")
_CHUNK_BYTES: Final = 1 << 20
CHUNK_BYTES: Final = _CHUNK_BYTES
"""The size of the reads from the (decompressed) file, which decides where a UTF-8 error stops the reading."""
_SIGNAL_GUESS_CHARS: Final = 4096
_WHITESPACE: Final = re.compile(r"[ \t\r\n]*")
_LINE_END: Final = re.compile(r"[ \t\r]*\n")
# A lone surrogate can only come from a \uD800-\uDFFF escape, since the file is valid UTF-8.
_SURROGATE_ESCAPE: Final = re.compile(r"\\u[dD][89a-fA-F]")
_LONE_SURROGATE: Final = re.compile("[\ud800-\udfff]")
# A decoding error this close to the end of the buffer may only mean the document goes on.
_INCOMPLETE_MARGIN: Final = 6
_DECODER: Final = json.JSONDecoder()
_HEX: Final = re.compile(r"[0-9a-fA-F]*")
_BASE64: Final = re.compile(r"[A-Za-z0-9+/\-_]*={0,2}")
_TRACE_ID_BYTES: Final = 16
_SPAN_ID_BYTES: Final = 8
# ParseDict leaves an unknown enum name unset when it ignores unknown fields, so names are checked first.
_ENUM_NAMES: Final = {
    "kind": frozenset(Span.DESCRIPTOR.enum_types_by_name["SpanKind"].values_by_name),
    "code": frozenset(Status.DESCRIPTOR.enum_types_by_name["StatusCode"].values_by_name),
    "severityNumber": frozenset(logs_pb2.DESCRIPTOR.enum_types_by_name["SeverityNumber"].values_by_name),
    "aggregationTemporality": frozenset(
        metrics_pb2.DESCRIPTOR.enum_types_by_name["AggregationTemporality"].values_by_name
    ),
}
_INTEGER_TYPES: Final = frozenset(
    {
        FieldDescriptor.CPPTYPE_INT32,
        FieldDescriptor.CPPTYPE_INT64,
        FieldDescriptor.CPPTYPE_UINT32,
        FieldDescriptor.CPPTYPE_UINT64,
    }
)
_FLOAT_TYPES: Final = frozenset({FieldDescriptor.CPPTYPE_DOUBLE, FieldDescriptor.CPPTYPE_FLOAT})
# Names from before OTLP 1.0, still written by Grafana's trace download.
_LEGACY_NAMES: Final = {
    "resourceSpans": "batches",
    "scopeSpans": "instrumentationLibrarySpans",
    "scopeLogs": "instrumentationLibraryLogs",
    "scopeMetrics": "instrumentationLibraryMetrics",
    "scope": "instrumentationLibrary",
}


def sniff(head: bytes) -> bool:
    """Tell from the first bytes of a file whether it starts with an OTLP/JSON export request."""
    return _SNIFF.match(head) is not None


def read(path: Path) -> Iterator[Item]:
    """Yield the records of one OTLP/JSON file, with skipped records and notices in order.

    Raises:
        NotTelemetryError: the first document is not an OTLP export request.
        InputError: the file cannot be read, is not UTF-8, or a document is not valid JSON.
            The records of the documents before it are yielded first.
    """
    converter = RecordConverter(path)
    with open_binary(path) as file:
        for document in _Documents(path, file):
            yield from _read_document(converter, document)


def read_rest(
    converter: RecordConverter, file: BinaryIO, *, line: int, documents: int, offset: int, hand_back: bool = False
) -> Generator[Item, None, tuple[int, int, int] | None]:
    """Yield the records of an OTLP/JSON file from a line on, as `read` yields them after the lines before it.

    The caller read the lines before it one document per line: `file` is at byte `offset`
    of the decompressed file, the start of line `line`, after `documents` documents, and
    `converter` numbered their records and contains their resources and scopes.

    With `hand_back`, stop after the first document that ends its line while every document
    had a line of its own. Then return the next line's number, its byte offset and the number
    of documents read, so that the caller can go on from there.
    """
    reader = _Documents(converter.path, file, line=line, count=documents, offset=offset)
    for document in reader:
        yield from _read_document(converter, document)
        following = reader.following_line() if hand_back else None
        if following is not None:
            return following
    return None


def parse_line(text: str) -> tuple[object, bool] | None:
    """Parse a line of one JSON document as `read` does; return the value and whether it has lone surrogates.

    `text` starts at the document and ends before the line break. Return None when the line is not one
    JSON value on its own, which `read` reports or reads on from across lines.
    """
    try:
        return orjson.loads(text.rstrip()), False
    except orjson.JSONDecodeError:
        pass
    try:
        value, end = raw_decode(_DECODER, text, 0)
    except json.JSONDecodeError:
        return None
    if _WHITESPACE.fullmatch(text, end) is None:
        return None
    return value, _SURROGATE_ESCAPE.search(text, 0, end) is not None


def read_line(
    converter: RecordConverter, value: object, *, line: int, number: int, lone_surrogates: bool
) -> Iterator[Item]:
    """Yield the records of one document that `parse_line` parsed, the `number`-th of the file, at `line`."""
    yield from _read_document(converter, _Document(value, line, number, lone_surrogates))


@dataclass(frozen=True, slots=True)
class _Document:
    """One top-level JSON value of the file and where it starts."""

    value: object
    line: int
    number: int
    has_lone_surrogates: bool


class _Documents:
    """Splits a decompressed stream into top-level JSON documents, reading it in chunks.

    Each line is first parsed whole with orjson, which is how the Collector writes requests.
    When that fails (a pretty-printed or concatenated document, or one with lone surrogate
    escapes, which orjson rejects), the standard library decoder parses one value from the
    buffer and more of the file is read until the value is complete.
    """

    def __init__(self, path: Path, file: BinaryIO, *, line: int = 1, count: int = 0, offset: int = 0) -> None:
        self._path = path
        self._file = file
        # A byte order mark is only read at the start of the file.
        self._decoder = codecs.getincrementaldecoder("utf-8" if offset else "utf-8-sig")()
        self._buffer = ""
        self._position = 0
        self._line = line
        self._consumed_bytes = offset
        # Reading from `offset` on, the first read ends where it would have from the file's start,
        # so that a UTF-8 error stops the reading after the same documents.
        self._next_read = _CHUNK_BYTES - offset % _CHUNK_BYTES
        self._eof = False
        self._in_array = False
        self._count = count
        self._one_per_line = True  # every document so far was on a line of its own

    def __iter__(self) -> Iterator[_Document]:
        while self._skip_separators():
            if self._count == 0 and self._buffer[self._position] != "{":
                msg = "not OTLP/JSON: the file does not start with a JSON object or an array of objects"
                raise NotTelemetryError(self._path, msg)
            line = self._line
            value, has_lone_surrogates = self._next_value()
            self._count += 1
            yield _Document(value, line, self._count, has_lone_surrogates)

    def following_line(self) -> tuple[int, int, int] | None:
        """Return the next line's number and byte offset and the documents read, if `read_rest` may stop here.

        That is after a document that ends its line, when no document so far took several lines
        and no top-level array is open. Return None otherwise.
        """
        if self._in_array or not self._one_per_line:
            return None
        line_end = _LINE_END.match(self._buffer, self._position)
        if line_end is None:
            return None
        rest = self._buffer[line_end.end() :]
        undecoded = len(self._decoder.getstate()[0])
        offset = self._consumed_bytes - undecoded - (len(rest) if rest.isascii() else len(rest.encode()))
        return self._line + 1, offset, self._count

    def _skip_separators(self) -> bool:
        """Move to the start of the next document; return False at the end of the file."""
        while True:
            match = _WHITESPACE.match(self._buffer, self._position)
            self._advance(match.end() if match else self._position)
            if self._position >= len(self._buffer):
                if not self._read_more():
                    if self._in_array:
                        self._fail("the file ends inside the top-level array, before its closing ]")
                    return False
                continue

            char = self._buffer[self._position]
            if char == "[" and not self._in_array:
                self._in_array = True
            elif char == "," and self._in_array:
                pass
            elif char == "]" and self._in_array:
                self._in_array = False
            else:
                return True
            self._advance(self._position + 1)

    def _next_value(self) -> tuple[object, bool]:
        limit = max_record_bytes()
        end = self._buffer.find("\n", self._position)
        while end == -1:
            scanned = len(self._buffer) - self._position
            if scanned > limit:
                return self._skip_line(), False
            if not self._read_more(growth_read_size(scanned)):
                end = len(self._buffer)
                break
            end = self._buffer.find("\n", self._position + scanned)
        if end - self._position > limit:
            signal = _guess_signal(self._buffer, self._position)
            msg = f"{too_large(f'line {self._line}')}, so it was skipped unread and counts as one record"
            self._advance(end)
            return _SkippedLine(signal, msg), False

        line_text = self._buffer[self._position : end].rstrip()
        if self._in_array and line_text.endswith(","):
            line_text = line_text[:-1]
        try:
            value = orjson.loads(line_text)
        except orjson.JSONDecodeError:
            pass
        else:
            self._advance(end)
            return value, False

        return self._decode_value()

    def _decode_value(self) -> tuple[object, bool]:
        while True:
            try:
                value, end = raw_decode(_DECODER, self._buffer, self._position)
            except json.JSONDecodeError as error:
                pending = len(self._buffer) - self._position
                if self._maybe_incomplete(error) and pending > max_record_bytes():
                    self._fail(too_large(f"the document that starts at line {self._line}"))
                if self._maybe_incomplete(error) and self._read_more(growth_read_size(pending)):
                    continue
                skipped = self._skip_invalid_line(error)
                if skipped is not None:
                    return skipped, False
                self._fail_json(error)
            if end - self._position > max_record_bytes():
                self._fail(too_large(f"the document that starts at line {self._line}"))
            if self._buffer.count("\n", self._position, end):
                self._one_per_line = False
            has_lone_surrogates = _SURROGATE_ESCAPE.search(self._buffer, self._position, end) is not None
            self._advance(end)
            return value, has_lone_surrogates

    def _skip_invalid_line(self, error: json.JSONDecodeError) -> _SkippedLine | None:
        """Skip a line that is not valid JSON, when the file has one document per line and more lines follow.

        Return None where the document's end cannot be known, or the line is the last, whose
        error reports a truncated or damaged file as before.
        """
        end = self._buffer.find("\n", self._position)
        if not self._one_per_line or self._count == 0 or end == -1:
            return None
        if error.pos < end:
            problem = f"{error.msg} at column {error.pos - self._position + 1}"
        else:
            problem = "the line ends inside a JSON value"

        # Reading more keeps the position at the line's start, so `end` is found again.
        while not self._buffer[end:].strip() and self._read_more():
            end = self._buffer.find("\n", self._position)
        if not self._buffer[end:].strip():
            return None
        signal = _guess_signal(self._buffer, self._position)
        msg = f"line {self._line} is not valid JSON ({problem}), so it was skipped and counts as one record"
        self._advance(end)
        return _SkippedLine(signal, msg)

    def _skip_line(self) -> _SkippedLine:
        """Discard the rest of a line longer than the record size limit, reading on without buffering it."""
        signal = _guess_signal(self._buffer, self._position)
        msg = f"{too_large(f'line {self._line}')}, so it was skipped unread and counts as one record"
        self._buffer = ""
        self._position = 0
        self._decoder.reset()  # the bytes after a line break start a fresh UTF-8 sequence
        while True:
            data = self._read_bytes(_CHUNK_BYTES)
            if not data:
                self._eof = True
                return _SkippedLine(signal, msg)
            newline = data.find(b"\n")
            if newline != -1:
                self._buffer = self._decode(data[newline:], final=False)
                return _SkippedLine(signal, msg)

    def _maybe_incomplete(self, error: json.JSONDecodeError) -> bool:
        return error.msg.startswith("Unterminated string") or error.pos >= len(self._buffer) - _INCOMPLETE_MARGIN

    def _advance(self, position: int) -> None:
        self._line += self._buffer.count("\n", self._position, position)
        self._position = position

    def _read_more(self, at_least: int = 0) -> bool:
        """Append at least one chunk of the file to the buffer; return False at the end of the file.

        `at_least` (characters already buffered for the current document) makes the buffer
        double in size, so a long document is read with a linear amount of copying.
        """
        if self._eof:
            return False
        # Drop what was consumed, so the buffer contains the current document and the chunk after it.
        self._buffer = self._buffer[self._position :]
        self._position = 0

        before = len(self._buffer)
        data = self._read_bytes(max(self._next_read, at_least))
        self._next_read = _CHUNK_BYTES
        if data:
            self._buffer += self._decode(data, final=False)
        else:
            self._eof = True
            self._buffer += self._decode(b"", final=True)
        return len(self._buffer) > before or not self._eof

    def _read_bytes(self, size: int) -> bytes:
        try:
            data = self._file.read(size)
        except (OSError, EOFError) as error:
            raise InputError(self._path, f"cannot read or decompress the file: {error}") from error
        except Exception as error:
            # zstandard raises its own error type for damaged frames.
            if type(error).__module__.startswith("zstandard"):
                raise InputError(self._path, f"cannot decompress the file: {error}") from error
            raise
        self._consumed_bytes += len(data)
        return data

    def _decode(self, data: bytes, *, final: bool) -> str:
        try:
            return self._decoder.decode(data, final)
        except UnicodeDecodeError as error:
            if error.start >= len(data):
                # The final flush fails on bytes held back from earlier chunks, not on `data`.
                msg = f"not UTF-8 text: the file ends inside a UTF-8 sequence, at byte offset {self._consumed_bytes}"
                raise InputError(self._path, msg) from error
            offset = self._consumed_bytes - len(data) + error.start
            msg = f"not UTF-8 text: invalid byte 0x{data[error.start]:02x} at byte offset {offset}"
            raise InputError(self._path, msg) from error

    def _fail_json(self, error: json.JSONDecodeError) -> None:
        line = self._line + self._buffer.count("\n", self._position, error.pos)
        column = error.pos - (self._buffer.rfind("\n", 0, error.pos) + 1) + 1
        state = "the file looks truncated" if self._eof else "the file is damaged"
        msg = (
            f"invalid JSON in the document that starts at line {self._line} ({error.msg}: line {line} "
            f"column {column}): {state}; the {self._count} document(s) before it were read"
        )
        raise InputError(self._path, msg) from error

    def _fail(self, message: str) -> None:
        raise InputError(self._path, f"{message}; the {self._count} document(s) before it were read")


@dataclass(frozen=True, slots=True)
class _SkippedLine:
    """A line read past without its records: longer than the record size limit, or not valid JSON."""

    signal: Signal
    message: str


def _guess_signal(text: str, position: int) -> Signal:
    """Return the signal that the start of a request names, or traces when it names none."""
    head = text[position : position + _SIGNAL_GUESS_CHARS]
    if "resourceLogs" in head or "resource_logs" in head:
        return Signal.LOGS
    if "resourceMetrics" in head or "resource_metrics" in head:
        return Signal.METRICS
    return Signal.TRACES


# --- documents -------------------------------------------------------------------------


def _read_document(converter: RecordConverter, document: _Document) -> Iterator[Item]:
    path = converter.path
    value = document.value
    if isinstance(value, _SkippedLine):
        # Its records were never parsed, so the line counts as one record of the signal it names.
        yield converter.skip(value.signal, "", value.message)
        return
    if not isinstance(value, dict):
        msg = f"expected an OTLP export request (a JSON object) at line {document.line}, got {json_type(value)}"
        if document.number == 1:
            raise NotTelemetryError(path, msg)
        # The document parsed, so the next one starts after it. It names no signal, so it
        # counts as one span.
        yield converter.skip(Signal.TRACES, "", f"{msg}; it was skipped and counts as one span")
        return

    found = False
    for layout in LAYOUTS:
        json_groups = _get(value, layout.json_resource_list, layout.resource_list)
        if json_groups is None:
            continue
        found = True
        yield from _read_groups(converter, layout, json_groups, document)

    if found or not value:
        return
    msg = (
        f"the JSON object at line {document.line} has no resourceSpans, resourceLogs or resourceMetrics, "
        "so it is not an OTLP export request"
    )
    if document.number == 1:
        raise NotTelemetryError(path, msg)
    yield Notice(Location(path), f"ignored {msg}")


def _read_groups(
    converter: RecordConverter, layout: SignalLayout, json_groups: object, document: _Document
) -> Iterator[Item]:
    signal = layout.signal
    if not isinstance(json_groups, list):
        msg = f"expected an array in the document at line {document.line}, got {json_type(json_groups)}"
        yield converter.skip(signal, layout.json_resource_list, msg)
        return

    for resource_number, json_group in enumerate(json_groups):
        resource_field = f"{layout.json_resource_list}[{resource_number}]"
        if not isinstance(json_group, dict):
            yield converter.skip(signal, resource_field, f"expected a JSON object, got {json_type(json_group)}")
            continue

        notices: list[Notice] = []
        resource = _decode_resource(converter, json_group, f"{resource_field}.resource", document, notices)
        yield from notices

        json_scope_groups = _get(json_group, layout.json_scope_list, layout.scope_list) or []
        if not isinstance(json_scope_groups, list):
            msg = f"expected an array, got {json_type(json_scope_groups)}"
            yield converter.skip(signal, f"{resource_field}.{layout.json_scope_list}", msg)
            continue

        for scope_number, json_scope_group in enumerate(json_scope_groups):
            scope_field = f"{resource_field}.{layout.json_scope_list}[{scope_number}]"
            yield from _read_scope_group(converter, layout, json_scope_group, scope_field, resource, document)


def _read_scope_group(
    converter: RecordConverter,
    layout: SignalLayout,
    json_scope_group: object,
    scope_field: str,
    resource: ResourceData | RecordError,
    document: _Document,
) -> Iterator[Item]:
    signal = layout.signal
    if not isinstance(json_scope_group, dict):
        yield converter.skip(signal, scope_field, f"expected a JSON object, got {json_type(json_scope_group)}")
        return

    notices: list[Notice] = []
    scope = _decode_scope(converter, json_scope_group, f"{scope_field}.scope", document, notices)
    yield from notices

    json_records = _get(json_scope_group, layout.json_record_list, layout.record_list) or []
    if not isinstance(json_records, list):
        msg = f"expected an array, got {json_type(json_records)}"
        yield converter.skip(signal, f"{scope_field}.{layout.json_record_list}", msg)
        return

    if isinstance(resource, RecordError):
        group_error = resource
    elif isinstance(scope, RecordError):
        group_error = scope
    else:
        yield from _read_records(converter, layout, json_records, scope_field, resource, scope, document)
        return

    # A resource or scope that cannot be decoded makes each of its records invalid.
    for json_record in json_records:
        yield converter.skip(signal, group_error.field, group_error.message, _point_count(json_record))


def _read_records(
    converter: RecordConverter,
    layout: SignalLayout,
    json_records: list[object],
    scope_field: str,
    resource: ResourceData,
    scope: ScopeData,
    document: _Document,
) -> Iterator[Item]:
    convert = converter.converter_for(layout.signal)
    # Only the general path replaces lone surrogates, so their documents take it throughout.
    decode_plain = None if document.has_lone_surrogates else converter.plain_decoder(layout.signal)
    take_plain = None if document.has_lone_surrogates else converter.plain_taker(layout.signal)
    for record_number, json_record in enumerate(json_records):
        if take_plain is not None and take_plain(json_record, resource, scope):
            converter.next_index += 1
            continue
        record_field = f"{scope_field}.{layout.json_record_list}[{record_number}]"
        if decode_plain is not None:
            record = decode_plain(
                json_record, resource, scope, Location(converter.path, converter.next_index, record_field)
            )
            if record is not None:
                converter.next_index += 1  # the index in `Location` above is now taken
                yield record
                continue

        notices: list[Notice] = []
        try:
            pb2_record = _parse_record(converter, layout, json_record, record_field, document, notices)
        except (RecordError, RecursionError) as caught:
            error = as_record_error(caught, record_field)
            yield converter.skip(layout.signal, error.field, error.message, _point_count(json_record))
            yield from notices
            continue
        yield from convert(pb2_record, resource, scope, record_field)
        yield from notices


def _decode_resource(
    converter: RecordConverter,
    json_group: Mapping[str, object],
    field: str,
    document: _Document,
    notices: list[Notice],
) -> ResourceData | RecordError:
    parsed = _parse_container(converter, json_group, "resource", Resource, field, document, notices)
    if isinstance(parsed, RecordError):
        return parsed
    resource, resource_notices = converter.resource(*parsed, field)
    notices.extend(resource_notices)
    return resource


def _decode_scope(
    converter: RecordConverter,
    json_scope_group: Mapping[str, object],
    field: str,
    document: _Document,
    notices: list[Notice],
) -> ScopeData | RecordError:
    parsed = _parse_container(converter, json_scope_group, "scope", InstrumentationScope, field, document, notices)
    if isinstance(parsed, RecordError):
        return parsed
    scope, scope_notices = converter.scope(*parsed, field)
    notices.extend(scope_notices)
    return scope


def _parse_container(
    converter: RecordConverter,
    json_group: Mapping[str, object],
    key: str,
    message_type: Any,
    field: str,
    document: _Document,
    notices: list[Notice],
) -> tuple[Any, str] | RecordError:
    """Decode a resource or scope and the schema URL next to it, or return why it is invalid."""
    json_message = _get(json_group, key, key)
    schema_url = _get(json_group, "schemaUrl", "schema_url") or ""
    schema_field = field.rsplit(".", 1)[0] + ".schemaUrl"
    if not isinstance(schema_url, str):
        return RecordError(schema_field, f"expected a string, got {json_type(schema_url)}")
    if json_message is None:
        return message_type(), schema_url
    if not isinstance(json_message, dict):
        return RecordError(field, f"expected a JSON object, got {json_type(json_message)}")

    if document.has_lone_surrogates:
        json_message = _replace_lone_surrogates(json_message, Location(converter.path, None, field), notices)
        schema_url = decode_text(schema_url, Location(converter.path, None, schema_field), notices)
    try:
        return _parse_message(json_message, message_type), schema_url
    except RecursionError:
        return RecordError(field, TOO_DEEP)
    except (json_format.ParseError, ValueError, TypeError, OverflowError) as error:
        return RecordError(field, f"cannot decode it: {str(error).rstrip('.')}")


def _parse_record(
    converter: RecordConverter,
    layout: SignalLayout,
    json_record: object,
    field: str,
    document: _Document,
    notices: list[Notice],
) -> Any:
    """Decode one span, log record or metric into its protobuf message.

    Raises:
        RecordError: the record is not an object, has an invalid ID or enum value, or does
            not decode. Its `field` is the full path of the offending field.
    """
    if not isinstance(json_record, dict):
        raise RecordError(field, f"expected a JSON object, got {json_type(json_record)}")

    record: dict[str, object] = json_record
    if document.has_lone_surrogates:
        record = _replace_lone_surrogates(record, Location(converter.path, converter.next_index, field), notices)
    prepared = _prepare_record(layout.signal, record, field)
    try:
        return _parse_message(prepared, layout.record_type)
    except (json_format.ParseError, ValueError, TypeError, OverflowError) as error:
        raise RecordError(field, f"cannot decode the record: {str(error).rstrip('.')}") from error


# --- decoding into protobuf messages --------------------------------------------------


def _parse_message(json_message: dict[str, object], message_type: Any) -> Any:
    """Decode a JSON object into a new protobuf message, as ParseDict with ``ignore_unknown_fields`` does.

    ParseDict is pure Python and spends most of its time on generic bookkeeping. One run on a
    100 MB Collector-style file of spans with 8 attributes each read about 5,000 spans per
    second with ParseDict, and 12,000 to 16,000 with the plan-based decoder below. The
    machine is the 2-vCPU one described in docs/benchmarks.md. Anything outside the common
    forms goes to ParseDict, so the result and the error messages are ParseDict's.
    """
    try:
        return _MessagePlan.of(message_type.DESCRIPTOR).build(json_message, message_type())
    except _UncommonFormError:
        return json_format.ParseDict(json_message, message_type(), ignore_unknown_fields=True)


class _UncommonFormError(Exception):
    """A value that the plan-based decoder leaves to ParseDict."""


_FieldPlan: TypeAlias = tuple[str, bool, "str | None", "_MessagePlan | None", "Callable[[object], object] | None"]
"""A field's name, whether it is repeated, its oneof, and its message plan or scalar decoder."""


class _MessagePlan:
    """How to decode the JSON object of one message type: each key's field and value decoder."""

    _plans: ClassVar[dict[str, _MessagePlan]] = {}

    def __init__(self, message_descriptor: Any) -> None:
        self.fields: dict[str, _FieldPlan] = {}
        _MessagePlan._plans[message_descriptor.full_name] = self
        for field in message_descriptor.fields:
            plan = _MessagePlan.of(field.message_type) if field.message_type is not None else None
            oneof = field.containing_oneof.name if field.containing_oneof is not None else None
            entry = (field.name, field.is_repeated, oneof, plan, None if plan else _scalar_decoder(field))
            self.fields[field.json_name] = entry
            self.fields[field.name] = entry

    @classmethod
    def of(cls, message_descriptor: Any) -> _MessagePlan:
        """Return the plan of a message type, building it (and its nested types' plans) once."""
        plan = cls._plans.get(message_descriptor.full_name)
        return plan if plan is not None else cls(message_descriptor)

    def build(self, json_message: object, message: Any) -> Any:
        """Fill `message` from `json_message` and return it.

        Raises:
            _UncommonFormError: a value is not in the form that the Collector and SDKs write.
        """
        if type(json_message) is not dict:
            raise _UncommonFormError
        oneofs_set: list[str] = []
        for key, value in json_message.items():
            entry = self.fields.get(key)
            if entry is None or value is None:
                continue  # unknown fields are ignored, and null means "not set"
            name, repeated, oneof, plan, decode = entry
            if oneof is not None:
                if oneof in oneofs_set:
                    raise _UncommonFormError  # ParseDict rejects two members of one oneof
                oneofs_set.append(oneof)

            if plan is not None:
                _build_message_field(message, name, repeated, plan, value)
            elif decode is None:
                raise _UncommonFormError  # unreachable: a field has a plan or a decoder
            elif repeated:
                if type(value) is not list:
                    raise _UncommonFormError
                getattr(message, name).extend([decode(item) for item in value])
            else:
                setattr(message, name, decode(value))
        return message


def _build_message_field(message: Any, name: str, repeated: bool, plan: _MessagePlan, value: object) -> None:
    if not repeated:
        sub_message = getattr(message, name)
        sub_message.SetInParent()
        plan.build(value, sub_message)
        return
    if type(value) is not list:
        raise _UncommonFormError
    container = getattr(message, name)
    for item in value:
        plan.build(item, container.add())


def _scalar_decoder(field: Any) -> Callable[[object], object]:
    cpp_type = field.cpp_type
    if cpp_type in _INTEGER_TYPES:
        return _decode_integer
    if cpp_type in _FLOAT_TYPES:
        return _decode_float
    if cpp_type == FieldDescriptor.CPPTYPE_BOOL:
        return _decode_bool
    if cpp_type == FieldDescriptor.CPPTYPE_ENUM:
        numbers = {value.name: value.number for value in field.enum_type.values}
        return functools.partial(_decode_enum, numbers=numbers)
    if field.type == FieldDescriptor.TYPE_BYTES:
        return _decode_bytes
    return _decode_string


_MAX_FLOAT_INTEGER: Final = int(sys.float_info.max)


def _decode_integer(value: object) -> int:
    if type(value) is int:
        return value
    if type(value) is str and (value.isdigit() or (value[:1] == "-" and value[1:].isdigit())):
        return int(value)
    raise _UncommonFormError


def _decode_float(value: object) -> float:
    if type(value) is float and math.isfinite(value):
        return value
    if type(value) is int and abs(value) <= _MAX_FLOAT_INTEGER:
        return float(value)
    # Including the strings "NaN", "Infinity" and "-Infinity", and integers beyond a double.
    raise _UncommonFormError


def _decode_bool(value: object) -> bool:
    if type(value) is bool:
        return value
    raise _UncommonFormError


def _decode_string(value: object) -> str:
    if type(value) is str:
        return value
    raise _UncommonFormError


def _decode_bytes(value: object) -> bytes:
    if type(value) is not str:
        raise _UncommonFormError
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError) as error:
        raise _UncommonFormError from error


def _decode_enum(value: object, *, numbers: Mapping[str, int]) -> int:
    if type(value) is int:
        return value
    if type(value) is str and value in numbers:
        return numbers[value]
    raise _UncommonFormError


# --- IDs and enums ---------------------------------------------------------------------


def _prepare_record(signal: Signal, json_record: dict[str, object], field: str) -> dict[str, object]:
    """Return a copy of the record with IDs in base64, as ParseDict expects, and enum values checked.

    ParseDict with ``ignore_unknown_fields`` leaves an unknown enum name unset without an
    error, which would send an invalid kind or severity as the default silently.
    """
    record = dict(json_record)
    if signal is Signal.TRACES:
        _prepare_id(record, "traceId", "trace_id", _TRACE_ID_BYTES, field)
        _prepare_id(record, "spanId", "span_id", _SPAN_ID_BYTES, field)
        _prepare_id(record, "parentSpanId", "parent_span_id", _SPAN_ID_BYTES, field)
        _check_enum(record, "kind", "kind", field)
        status = record.get("status")
        if isinstance(status, dict):
            _check_enum(status, "code", "code", f"{field}.status")
        links = record.get("links")
        if isinstance(links, list):
            record["links"] = [_prepare_link(link, f"{field}.links[{number}]") for number, link in enumerate(links)]
    elif signal is Signal.LOGS:
        _prepare_id(record, "traceId", "trace_id", _TRACE_ID_BYTES, field)
        _prepare_id(record, "spanId", "span_id", _SPAN_ID_BYTES, field)
        _check_enum(record, "severityNumber", "severity_number", field)
    else:
        _prepare_metric(record, field)
    return record


def _prepare_link(json_link: object, field: str) -> object:
    if not isinstance(json_link, dict):
        return json_link
    link = dict(json_link)
    _prepare_id(link, "traceId", "trace_id", _TRACE_ID_BYTES, field)
    _prepare_id(link, "spanId", "span_id", _SPAN_ID_BYTES, field)
    return link


def _prepare_metric(metric: dict[str, object], field: str) -> None:
    for json_name, proto_name in (
        ("gauge", "gauge"),
        ("sum", "sum"),
        ("histogram", "histogram"),
        ("exponentialHistogram", "exponential_histogram"),
        ("summary", "summary"),
    ):
        key = json_name if json_name in metric else proto_name
        data = metric.get(key)
        if not isinstance(data, dict):
            continue
        data = dict(data)
        metric[key] = data
        _check_enum(data, "aggregationTemporality", "aggregation_temporality", f"{field}.{json_name}")
        points_key = "dataPoints" if "dataPoints" in data else "data_points"
        points = data.get(points_key)
        if isinstance(points, list):
            points_field = f"{field}.{json_name}.dataPoints"
            data[points_key] = [
                _prepare_exemplars(point, f"{points_field}[{number}]") for number, point in enumerate(points)
            ]


def _prepare_exemplars(json_point: object, field: str) -> object:
    if not isinstance(json_point, dict) or not isinstance(json_point.get("exemplars"), list):
        return json_point
    point = dict(json_point)
    exemplars: list[object] = []
    for number, json_exemplar in enumerate(json_point["exemplars"]):
        if not isinstance(json_exemplar, dict):
            exemplars.append(json_exemplar)
            continue
        exemplar = dict(json_exemplar)
        _prepare_id(exemplar, "traceId", "trace_id", _TRACE_ID_BYTES, f"{field}.exemplars[{number}]")
        _prepare_id(exemplar, "spanId", "span_id", _SPAN_ID_BYTES, f"{field}.exemplars[{number}]")
        exemplars.append(exemplar)
    point["exemplars"] = exemplars
    return point


def _prepare_id(record: dict[str, object], json_name: str, proto_name: str, size: int, field: str) -> None:
    """Replace a hexadecimal or base64 ID by its standard base64 form, which ParseDict decodes."""
    key = json_name if json_name in record else proto_name
    value = record.get(key)
    if value is None:
        return
    record[key] = base64.b64encode(_decode_id(value, size, f"{field}.{json_name}")).decode("ascii")


def _decode_id(value: object, size: int, field: str) -> bytes:
    """Decode an ID written as hexadecimal (the OTLP/JSON rule) or base64 (the protobuf JSON mapping).

    The two are distinguished by length: 16 bytes are 32 hexadecimal digits or 24 base64
    characters (22 without padding), 8 bytes are 16 digits or 12 characters (11 unpadded).
    """
    hex_digits = 2 * size
    base64_chars = (size + 2) // 3 * 4
    expected = f"expected {hex_digits} hexadecimal digits or {base64_chars} base64 characters"
    if not isinstance(value, str):
        raise RecordError(field, f"expected a string, got {json_type(value)}; {expected}")
    if not value:
        return b""

    if len(value) == hex_digits and _HEX.fullmatch(value):
        return bytes.fromhex(value)
    if len(value) <= base64_chars and _BASE64.fullmatch(value):
        padded = value.rstrip("=") + "=" * (-len(value.rstrip("=")) % 4)
        try:
            raw = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
        except binascii.Error:
            raw = b""
        if len(raw) == size:
            return raw
    raise RecordError(field, f"invalid ID {show(value)}: {expected}")


def _check_enum(record: dict[str, object], json_name: str, proto_name: str, field: str) -> None:
    key = json_name if json_name in record else proto_name
    value = record.get(key)
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return  # numbers outside the enum are checked after decoding, as for protobuf files

    names = _ENUM_NAMES[json_name]
    if isinstance(value, str) and (value in names or _is_integer(value)):
        return
    raise RecordError(
        f"{field}.{json_name}", f"invalid value {show(value)}: expected a number or one of {', '.join(sorted(names))}"
    )


def _is_integer(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


# --- helpers ---------------------------------------------------------------------------


def _get(json_object: Mapping[str, object], json_name: str, proto_name: str) -> object:
    """Return a field by its lowerCamelCase name, its snake_case name or its pre-1.0 OTLP name."""
    if json_name in json_object:
        return json_object[json_name]
    if proto_name in json_object:
        return json_object[proto_name]
    legacy = _LEGACY_NAMES.get(json_name)
    return json_object.get(legacy) if legacy is not None else None


def _replace_lone_surrogates(value: Any, location: Location, notices: list[Notice]) -> Any:
    """Return `value` with lone UTF-16 surrogates in its strings replaced by U+FFFD, noting each place.

    ParseDict rejects such strings, and UTF-8 cannot carry them.
    """
    if isinstance(value, str):
        return decode_text(value, location, notices) if _LONE_SURROGATE.search(value) else value
    if isinstance(value, list):
        return [_replace_lone_surrogates(item, _child(location, f"[{n}]"), notices) for n, item in enumerate(value)]
    if isinstance(value, dict):
        return {
            key: _replace_lone_surrogates(item, _child(location, f".{key}"), notices) for key, item in value.items()
        }
    return value


def _point_count(json_record: object) -> int:
    """Count a metric's data points, which are its records in the summary; 1 for anything else."""
    if not isinstance(json_record, dict):
        return 1
    for json_name, proto_name in (
        ("gauge", "gauge"),
        ("sum", "sum"),
        ("histogram", "histogram"),
        ("exponentialHistogram", "exponential_histogram"),
        ("summary", "summary"),
    ):
        data = _get(json_record, json_name, proto_name)
        if isinstance(data, dict):
            points = _get(data, "dataPoints", "data_points")
            return len(points) if isinstance(points, list) and points else 1
    return 1


def _child(location: Location, suffix: str) -> Location:
    return Location(location.path, location.index, f"{location.field or ''}{suffix}")
