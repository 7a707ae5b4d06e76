"""Read what the OpenTelemetry Python SDK's ConsoleSpanExporter and ConsoleLogRecordExporter print.

The exporters write ``ReadableSpan.to_json()`` and ``ReadableLogRecord.to_json()`` (SDK 1.45):
one JSON object per record, indented by default, each starting at the beginning of a line and
followed by a line break. Other program output (print() lines, log lines) may sit between the
objects; it is skipped and counted in one notice.

What the output does not carry, so replayed records keep the neutral default:

- Times are microseconds. ``ns_to_iso_str`` divides the nanoseconds by 1e9 as a float, which
  resolves about 238 ns around 2026, and datetime rounds that float to the nearest microsecond.
  So a written time is within 1 µs of the original, but not always its exact nearest
  microsecond. The reader converts the digits written to nanoseconds exactly.
- Span trace flags, ``is_remote`` of the span, parent and links, dropped counts and the
  instrumentation scope are not written, so scopes are empty and counts are 0.
- A log body or attribute of bytes is written as base64 text and arrives as that string.
"""

from __future__ import annotations

import ast
import codecs
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import BinaryIO, Final

from otel_replay.errors import InputError, NotTelemetryError, RecordError
from otel_replay.formats.compression import open_binary
from otel_replay.formats.limits import as_record_error, growth_read_size, max_record_bytes, raw_decode, too_large
from otel_replay.model import (
    EventData,
    Item,
    LinkData,
    Location,
    LogData,
    Notice,
    ResourceData,
    ScopeData,
    Signal,
    Skipped,
    SpanData,
    SpanKindCode,
)
from otel_replay.values import NANOS_PER_SECOND, decode_attributes, decode_text, decode_value, json_type, show

__all__ = ["NAME", "read", "sniff"]

NAME: Final = "python-console"

_CHUNK_SIZE: Final = 64 * 1024
# The standard library parser, unlike orjson, accepts the NaN and Infinity that json.dumps writes
# for such float attributes, and lone surrogate escapes. Floats are written with repr(), so
# parsing them as float is exact.
_DECODER: Final = json.JSONDecoder()
# The SDK writes each top-level object from the start of a line. A span begins with "name" and
# "context" with a 0x-prefixed trace ID. A log record begins with "body", and json.dumps keeps
# "severity_number" and "severity_text" next to each other.
_SPAN_START: Final = re.compile(
    rb'(?m)^(?:\xef\xbb\xbf)?\{\s*"name"\s*:\s*"(?:[^"\\\n]|\\.)*"\s*,\s*"context"\s*:\s*\{\s*"trace_id"\s*:\s*"0x[0-9a-fA-F]'
)
_LOG_START: Final = re.compile(rb'(?m)^(?:\xef\xbb\xbf)?\{\s*"body"\s*:')
_LOG_SEVERITY: Final = re.compile(rb'"severity_number"\s*:\s*(?:null|[0-9]+)\s*,\s*"severity_text"\s*:')
_RECORD_START: Final = re.compile(r'\{\s*"(name|body)"\s*:')
_OPEN_OBJECT: Final = re.compile(r'\{\s*(?:"|$)')
_ISO_TIME: Final = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,9}))?(Z|[+-][0-9]{2}:[0-9]{2})"
)
_HEX: Final = re.compile(r"[0-9a-fA-F]+")
_TRACE_STATE_ENTRY: Final = re.compile(r"\{key=([^,]*), value=(.*)\}", re.DOTALL)
_UNIX_EPOCH_ORDINAL: Final = date(1970, 1, 1).toordinal()
_MAX_UNIX_NANO: Final = 2**64 - 1
_SPAN_KINDS: Final = {
    "SpanKind.INTERNAL": SpanKindCode.INTERNAL,
    "SpanKind.SERVER": SpanKindCode.SERVER,
    "SpanKind.CLIENT": SpanKindCode.CLIENT,
    "SpanKind.PRODUCER": SpanKindCode.PRODUCER,
    "SpanKind.CONSUMER": SpanKindCode.CONSUMER,
}
_STATUS_CODES: Final = {"UNSET": 0, "OK": 1, "ERROR": 2}
_SIGNAL_OF_FIRST_KEY: Final = {"name": Signal.TRACES, "body": Signal.LOGS}
_EMPTY_SCOPE: Final = ScopeData()
_INVALID: Final = "invalid"
_HINT: Final = "Fix or remove this record to send it; the other records are sent."


def sniff(head: bytes) -> bool:
    """Tell from the first bytes of a file whether it contains console exporter output.

    A line may start a span or a log record after any other program output.
    """
    # NOTE: a file is not recognised when other output fills the head before the first record,
    # or when the first record is a log record whose body or attributes fill the head.
    if _SPAN_START.search(head) is not None:
        return True
    log_start = _LOG_START.search(head)
    return log_start is not None and _LOG_SEVERITY.search(head, log_start.end()) is not None


def read(path: Path) -> Iterator[Item]:
    """Yield the spans and log records of one console exporter file, with skipped records and notices.

    Raises:
        NotTelemetryError: the file contains no console exporter record.
        InputError: the file cannot be read, or its last object is cut short; the complete
            records before it are yielded first.
    """
    resources: dict[str, ResourceData] = {}
    index = 0
    with open_binary(path) as file:
        scanner = _Scanner(path, file)
        for piece in scanner.objects():
            items = _read_piece(path, index, piece, scanner, resources)
            if items is None:
                continue
            index += 1
            yield from items

    if index == 0 and scanner.truncated_line is None:
        msg = "no OpenTelemetry Python console exporter span or log record found"
        raise NotTelemetryError(path, msg)

    if scanner.other_lines:
        msg = (
            f"skipped {scanner.other_lines} line(s) of other program output, which is not console exporter JSON "
            f"(the first at line {scanner.first_other_line})"
        )
        yield Notice(Location(path), msg)

    if scanner.truncated_line is not None:
        msg = (
            f"the JSON object starting at line {scanner.truncated_line} ends with the file "
            f"({scanner.truncated_reason}): the file looks truncated; "
            f"the {index} complete record(s) before it were read"
        )
        raise InputError(path, msg)


@dataclass(frozen=True, slots=True)
class _Piece:
    """A top-level JSON object that starts a line, or an object that failed to parse."""

    line: int
    line_count: int
    json_object: object = None
    error: str = ""
    first_key: str = ""


class _Scanner:
    """Find the JSON objects that start a line, holding at most one object and one chunk in memory.

    Lines that do not start with ``{`` are counted as other output. A line that starts with
    ``{`` but does not parse is an invalid record when it starts like one (``{"name":`` or
    ``{"body":``), and other output otherwise.
    """

    def __init__(self, path: Path, file: BinaryIO) -> None:
        self.path = path
        self.file = file
        # Non-UTF-8 bytes in other output must not stop the file. Inside a record they become
        # lone surrogates, which decode_text replaces with U+FFFD and reports.
        self.decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="surrogateescape")
        self.buffer = ""
        self.position = 0
        self.line = 1
        self.at_end = False
        self.other_lines = 0
        self.first_other_line = 0
        self.truncated_line: int | None = None
        self.truncated_reason = ""

    def objects(self) -> Iterator[_Piece]:
        """Yield each object in file order; set `truncated_line` when the file ends inside one."""
        after_object = False
        while True:
            newline = self.buffer.find("\n", self.position)
            if newline == -1 and not self.at_end and len(self.buffer) - self.position > max_record_bytes():
                piece = self._skip_long_line()
                if piece is not None:
                    yield piece
                continue
            if newline == -1 and not self.at_end:
                self._fill()
                continue
            if self.position >= len(self.buffer):
                return
            line_end = len(self.buffer) if newline == -1 else newline + 1

            if after_object or self.buffer[self.position] != "{":
                if self.buffer[self.position : line_end].strip():
                    self.count_other(self.line)
                after_object = False
                self._skip_to(line_end)
                continue

            try:
                json_object, end = raw_decode(_DECODER, self.buffer, self.position)
            except json.JSONDecodeError as error:
                piece = self._parse_failed(error, line_end)
                if piece is not None:
                    yield piece
                if self.truncated_line is not None:
                    return
                continue

            line_count = self.buffer.count("\n", self.position, end) + 1
            record_start = _RECORD_START.match(self.buffer, self.position)
            if end - self.position > max_record_bytes() and record_start is not None:
                subject = f"the JSON object that starts at line {self.line}"
                yield _Piece(self.line, line_count, error=too_large(subject), first_key=record_start.group(1))
            else:
                yield _Piece(self.line, line_count, json_object)
            self.line += line_count - 1
            self.position = end
            after_object = True

    def count_other(self, line: int, count: int = 1) -> None:
        """Count `count` lines of other output starting at `line`."""
        if not self.other_lines:
            self.first_other_line = line
        self.other_lines += count

    def _fill(self) -> None:
        # Read at least as much as is pending, so an object spanning many chunks is parsed a
        # logarithmic number of times instead of once per chunk.
        data = self._read(max(_CHUNK_SIZE, growth_read_size(len(self.buffer) - self.position)))
        self.at_end = not data
        self.buffer = self.buffer[self.position :] + self.decoder.decode(data, final=self.at_end)
        self.position = 0

    def _skip_long_line(self) -> _Piece | None:
        """Read past a line longer than the record size limit without buffering it.

        Return an invalid record when the line starts like one; count it as other output otherwise.
        """
        record_start = _RECORD_START.match(self.buffer, self.position)
        line = self.line
        self.buffer = ""
        self.position = 0
        self.decoder.reset()  # the bytes after a line break start a fresh UTF-8 sequence
        while not self.at_end:
            data = self._read(_CHUNK_SIZE)
            self.at_end = not data
            newline = data.find(b"\n")
            if newline != -1:
                self.buffer = self.decoder.decode(data[newline + 1 :], final=False)
                break
        self.line += 1

        if record_start is None:
            self.count_other(line)
            return None
        return _Piece(line, 1, error=too_large(f"line {line}"), first_key=record_start.group(1))

    def _read(self, size: int) -> bytes:
        try:
            return self.file.read(size)
        except (OSError, EOFError) as error:
            raise InputError(self.path, f"cannot read or decompress the file: {error}") from error
        except Exception as error:
            # zstandard raises its own error type for damaged frames.
            if type(error).__module__.startswith("zstandard"):
                raise InputError(self.path, f"cannot decompress the file: {error}") from error
            raise

    def _skip_to(self, line_end: int) -> None:
        self.position = line_end
        self.line += 1

    def _parse_failed(self, error: json.JSONDecodeError, line_end: int) -> _Piece | None:
        """Read more, note a cut-off last object, or return an invalid record after a parse error."""
        # JSON strings hold no raw line breaks, so an error with no line break after it may be
        # the end of the data read so far rather than a mistake in the object.
        runs_to_end = self.buffer.find("\n", error.pos) == -1
        if runs_to_end and not self.at_end and len(self.buffer) - self.position > max_record_bytes():
            msg = f"{too_large(f'the JSON object that starts at line {self.line}')}; the records before it were read"
            raise InputError(self.path, msg)
        if runs_to_end and not self.at_end:
            self._fill()
            return None
        if runs_to_end and _is_cut_object(self.buffer, self.position, line_end):
            self.truncated_line = self.line
            self.truncated_reason = error.msg
            return None

        # The lines before the one with the error continue the invalid object, so they are
        # skipped with it. Parsing each of them again could take time quadratic in the file's
        # size, since every line that opens an array or object nests into the next one.
        resume = max(line_end, self.buffer.rfind("\n", 0, error.pos) + 1)
        line_count = max(1, self.buffer.count("\n", self.position, resume))

        piece = None
        record_start = _RECORD_START.match(self.buffer, self.position)
        if record_start is not None:
            error_line = self.line + self.buffer.count("\n", self.position, error.pos)
            message = f"invalid JSON at line {error_line} column {error.colno}: {error.msg}"
            piece = _Piece(self.line, line_count, error=message, first_key=record_start.group(1))
        else:
            self.count_other(self.line, line_count)
        self.position = resume
        self.line += line_count
        return piece


def _is_cut_object(buffer: str, position: int, line_end: int) -> bool:
    # An object cut by the end of the file spans several lines or opens with a key. A last line
    # such as "{oops" without a line break is other output.
    return line_end < len(buffer) or _OPEN_OBJECT.match(buffer, position) is not None


def _read_piece(
    path: Path, index: int, piece: _Piece, scanner: _Scanner, resources: dict[str, ResourceData]
) -> list[Item] | None:
    """Return the items for one scanned object, or None when it is not a console record."""
    if piece.error:
        invalid_signal = _SIGNAL_OF_FIRST_KEY[piece.first_key]
        return [Skipped(invalid_signal, Location(path, index), _INVALID, f"{piece.error}. {_HINT}")]

    json_object = piece.json_object
    signal = _signal_of(json_object)
    if signal is None or not isinstance(json_object, dict):
        # A JSON log line or any other object a program printed between the records.
        scanner.count_other(piece.line, piece.line_count)
        return None

    notices: list[Notice] = []
    try:
        if signal is Signal.TRACES:
            record: SpanData | LogData = _decode_span(path, index, json_object, resources, notices)
        else:
            record = _decode_log(path, index, json_object, resources, notices)
    except (RecordError, RecursionError) as caught:
        error = as_record_error(caught)
        return [Skipped(signal, Location(path, index, error.field), _INVALID, f"{error.message}. {_HINT}")]
    return [record, *notices]


def _signal_of(json_object: object) -> Signal | None:
    if not isinstance(json_object, dict):
        return None
    if "name" in json_object and "context" in json_object:
        return Signal.TRACES
    if "body" in json_object and ("severity_number" in json_object or "observed_timestamp" in json_object):
        return Signal.LOGS
    return None


# --- spans -----------------------------------------------------------------------------


def _decode_span(
    path: Path, index: int, span: dict[str, object], resources: dict[str, ResourceData], notices: list[Notice]
) -> SpanData:
    location = Location(path, index)
    name = span.get("name")
    if not isinstance(name, str):
        raise RecordError("name", f"expected a string, got {json_type(name)}")

    context = _require_object(span.get("context"), "context")
    trace_id = _decode_id(context.get("trace_id"), "context.trace_id", 32)
    span_id = _decode_id(context.get("span_id"), "context.span_id", 16)
    trace_state = _decode_trace_state(context.get("trace_state"), "context.trace_state")
    parent_span_id = _decode_parent_id(span.get("parent_id"))
    kind = _decode_kind(span.get("kind"))
    start = _decode_time(span.get("start_time"), "start_time")
    end = _decode_time(span.get("end_time"), "end_time")
    status_code, status_message = _decode_status(span.get("status"), location, notices)

    attributes = decode_attributes(span.get("attributes"), _at(location, "attributes"), notices)
    events = _decode_events(span.get("events"), location, notices)
    links = _decode_links(span.get("links"), location, notices)
    resource = _decode_resource(span.get("resource"), location, resources, notices)

    return SpanData(
        location=location,
        resource=resource,
        scope=_EMPTY_SCOPE,
        name=decode_text(name, _at(location, "name"), notices),
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=parent_span_id,
        start_time_unix_nano=start,
        end_time_unix_nano=end,
        kind=kind,
        status_code=status_code,
        status_message=status_message,
        attributes=attributes,
        events=events,
        links=links,
        trace_state=trace_state,
    )


def _decode_id(value: object, field: str, digits: int) -> int:
    if not isinstance(value, str):
        raise RecordError(field, f"expected a string of 0x and {digits} hexadecimal digits, got {json_type(value)}")
    hex_digits = value[2:] if value[:2] in ("0x", "0X") else ""
    if len(hex_digits) != digits or _HEX.fullmatch(hex_digits) is None:
        raise RecordError(field, f"invalid ID {show(value)}: expected 0x and {digits} hexadecimal digits")

    number = int(hex_digits, 16)
    if number == 0:
        raise RecordError(field, f"invalid ID {value!r}: an all-zero ID is not valid in OpenTelemetry")
    return number


def _decode_parent_id(value: object) -> int:
    if value is None:
        return 0
    if isinstance(value, str) and value[2:] and set(value[2:]) == {"0"}:
        return 0
    return _decode_id(value, "parent_id", 16)


def _decode_trace_state(value: object, field: str) -> str:
    """Turn the SDK's ``repr(TraceState)`` back into a W3C tracestate header.

    The SDK writes ``str(["{key=k1, value=v1}", ...])``, the repr of a list of strings. W3C
    keys contain no comma, so the first ", value=" ends the key.
    """
    if value is None or value in ("", "[]"):
        return ""
    if not isinstance(value, str):
        raise RecordError(field, f"expected a string, got {json_type(value)}")

    try:
        entries = ast.literal_eval(value)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError) as error:
        raise RecordError(field, f"invalid trace state {show(value)}: {error}") from error
    if not isinstance(entries, list):
        raise RecordError(field, f"invalid trace state {show(value)}: expected a list of {{key=..., value=...}}")

    pairs = []
    for entry in entries:
        match = _TRACE_STATE_ENTRY.fullmatch(entry) if isinstance(entry, str) else None
        if match is None:
            raise RecordError(field, f"invalid trace state entry {show(entry)}: expected {{key=..., value=...}}")
        pairs.append(f"{match.group(1)}={match.group(2)}")
    return ",".join(pairs)


def _decode_kind(value: object) -> SpanKindCode:
    if value is None:
        return SpanKindCode.INTERNAL
    kind = _SPAN_KINDS.get(value) if isinstance(value, str) else None
    if kind is None:
        names = ", ".join(_SPAN_KINDS)
        raise RecordError("kind", f"invalid span kind {show(value)}: expected one of {names}")
    return kind


def _decode_status(json_status: object, location: Location, notices: list[Notice]) -> tuple[int, str]:
    if json_status is None:
        return 0, ""
    status = _require_object(json_status, "status")

    name = status.get("status_code", "UNSET")
    code = _STATUS_CODES.get(name) if isinstance(name, str) else None
    if code is None:
        raise RecordError("status.status_code", f"invalid status code {show(name)}: expected UNSET, OK or ERROR")

    description = status.get("description", "")
    if description is None:
        return code, ""
    if not isinstance(description, str):
        raise RecordError("status.description", f"expected a string, got {json_type(description)}")
    return code, decode_text(description, _at(location, "status.description"), notices)


def _decode_events(json_events: object, location: Location, notices: list[Notice]) -> tuple[EventData, ...]:
    if json_events is None:
        return ()
    if not isinstance(json_events, list):
        raise RecordError("events", f"expected an array, got {json_type(json_events)}")

    events = []
    for number, json_event in enumerate(json_events):
        field = f"events[{number}]"
        event = _require_object(json_event, field)
        name = event.get("name")
        if not isinstance(name, str):
            raise RecordError(f"{field}.name", f"expected a string, got {json_type(name)}")

        time = _decode_time(event.get("timestamp"), f"{field}.timestamp")
        attributes = decode_attributes(event.get("attributes"), _at(location, f"{field}.attributes"), notices)
        events.append(EventData(decode_text(name, _at(location, f"{field}.name"), notices), time, attributes))
    return tuple(events)


def _decode_links(json_links: object, location: Location, notices: list[Notice]) -> tuple[LinkData, ...]:
    if json_links is None:
        return ()
    if not isinstance(json_links, list):
        raise RecordError("links", f"expected an array, got {json_type(json_links)}")

    links = []
    for number, json_link in enumerate(json_links):
        field = f"links[{number}]"
        link = _require_object(json_link, field)
        context = _require_object(link.get("context"), f"{field}.context")
        trace_id = _decode_id(context.get("trace_id"), f"{field}.context.trace_id", 32)
        span_id = _decode_id(context.get("span_id"), f"{field}.context.span_id", 16)
        trace_state = _decode_trace_state(context.get("trace_state"), f"{field}.context.trace_state")
        attributes = decode_attributes(link.get("attributes"), _at(location, f"{field}.attributes"), notices)
        links.append(LinkData(trace_id, span_id, attributes, trace_state))
    return tuple(links)


# --- logs ------------------------------------------------------------------------------


def _decode_log(
    path: Path, index: int, log: dict[str, object], resources: dict[str, ResourceData], notices: list[Notice]
) -> LogData:
    location = Location(path, index)

    # The SDK writes null for a record emitted without a time, and OTLP reads 0 as "unknown".
    time = 0 if log.get("timestamp") is None else _decode_time(log.get("timestamp"), "timestamp")
    observed = log.get("observed_timestamp")
    observed_time = 0 if observed is None else _decode_time(observed, "observed_timestamp")
    severity_number = _decode_severity_number(log.get("severity_number"))
    severity_text = _optional_str(log, "severity_text")
    event_name = _optional_str(log, "event_name")

    trace_id = _decode_log_id(log.get("trace_id"), "trace_id", 32)
    span_id = _decode_log_id(log.get("span_id"), "span_id", 16)
    flags = _decode_count(log.get("trace_flags"), "trace_flags", 255)
    dropped = _decode_count(log.get("dropped_attributes"), "dropped_attributes", 2**32 - 1)

    return LogData(
        location=location,
        resource=_decode_resource(log.get("resource"), location, resources, notices),
        scope=_EMPTY_SCOPE,
        time_unix_nano=time,
        observed_time_unix_nano=observed_time,
        severity_number=severity_number,
        severity_text=None if severity_text is None else decode_text(severity_text, location, notices),
        body=decode_value(log.get("body"), _at(location, "body"), notices),
        attributes=decode_attributes(log.get("attributes"), _at(location, "attributes"), notices),
        trace_id=trace_id,
        span_id=span_id,
        flags=flags,
        # The SDK writes "" for a record without an event name.
        event_name=decode_text(event_name, _at(location, "event_name"), notices) if event_name else None,
        dropped_attributes_count=dropped,
    )


def _decode_severity_number(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 24:
        raise RecordError("severity_number", f"invalid severity number {show(value)}: expected 0 to 24")
    return value


def _decode_log_id(value: object, field: str, digits: int) -> int:
    # A record emitted outside a span has the all-zero IDs of the invalid span context.
    if value is None or value == "":
        return 0
    if isinstance(value, str) and value[2:] and set(value[2:]) == {"0"} and len(value) == digits + 2:
        return 0
    return _decode_id(value, field, digits)


def _decode_count(value: object, field: str, maximum: int) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        raise RecordError(field, f"invalid value {show(value)}: expected a whole number from 0 to {maximum}")
    return value


def _optional_str(record: Mapping[str, object], field: str) -> str | None:
    value = record.get(field)
    if value is None or isinstance(value, str):
        return value
    raise RecordError(field, f"expected a string, got {json_type(value)}")


# --- shared fields ---------------------------------------------------------------------


def _decode_time(value: object, field: str) -> int:
    """Convert an ISO 8601 time such as ``2026-12-04T19:40:07.123456Z`` to integer nanoseconds.

    The calendar date and each digit are converted with integer arithmetic, so nothing passes
    through a float. Up to 9 fraction digits and a ``+hh:mm`` offset are accepted.
    """
    if not isinstance(value, str):
        raise RecordError(field, f"expected an ISO 8601 time string, got {json_type(value)}")
    match = _ISO_TIME.fullmatch(value)
    if match is None:
        raise RecordError(field, f"invalid time {show(value)}: expected ISO 8601 such as 2026-12-04T19:40:07.123456Z")

    year, month, day, hour, minute, second = (int(group) for group in match.groups()[:6])
    fraction, zone = match.group(7) or "", match.group(8)
    try:
        days = date(year, month, day).toordinal() - _UNIX_EPOCH_ORDINAL
    except ValueError as error:
        raise RecordError(field, f"invalid time {show(value)}: {error}") from error
    if hour > 23 or minute > 59 or second > 59:
        raise RecordError(field, f"invalid time {show(value)}: hour, minute or second out of range")

    offset_seconds = 0
    if zone != "Z":
        sign = -1 if zone[0] == "-" else 1
        offset_seconds = sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    seconds = days * 86400 + hour * 3600 + minute * 60 + second - offset_seconds
    unix_nano = seconds * NANOS_PER_SECOND + int(fraction.ljust(9, "0"))
    if not 0 <= unix_nano <= _MAX_UNIX_NANO:
        raise RecordError(field, f"time {show(value)} is outside the range OTLP can carry (1970 to year 2554)")
    return unix_nano


def _decode_resource(
    json_resource: object, location: Location, resources: dict[str, ResourceData], notices: list[Notice]
) -> ResourceData:
    """Return the shared ResourceData for a ``{"attributes": ..., "schema_url": ...}`` object."""
    if json_resource is None:
        json_resource = {}
    resource = _require_object(json_resource, "resource")

    # Records of one provider repeat the same resource, which becomes one shared object.
    key = json.dumps(resource, sort_keys=True)
    cached = resources.get(key)
    if cached is not None:
        return cached

    schema_url = resource.get("schema_url")
    if schema_url is not None and not isinstance(schema_url, str):
        raise RecordError("resource.schema_url", f"expected a string, got {json_type(schema_url)}")
    attributes = decode_attributes(resource.get("attributes"), _at(location, "resource.attributes"), notices)
    data = ResourceData(attributes, schema_url or "")
    resources[key] = data
    return data


def _require_object(value: object, field: str) -> dict[str, object]:
    if not isinstance(value, dict):
        raise RecordError(field, f"expected a JSON object, got {json_type(value)}")
    return value


def _at(location: Location, field: str) -> Location:
    return Location(location.path, location.index, field)
