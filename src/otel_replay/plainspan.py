"""Encode a plain CodeMachine span straight from its parsed JSON into its Span message.

A worker's full path builds a validated `SpanData` per record (`codemachine.decode_elements`)
and then writes its Span message (`RequestEncoder.span_message`). Most records need none of
that path's notices or conversions, so `PlainSpanEncoder` writes the same bytes from the
parsed record directly. It returns None for any record that is not plain, and the caller
then takes the full path, which gives the record's skip reason or notices.

A record is plain when it has every field the full path requires, with the JSON type it
expects, and nothing that would give a notice. So its IDs have the right number of
hexadecimal digits, its strings have no lone surrogates, and its attribute values are
strings, booleans, null, int64 integers or floats below 2**63 in magnitude, in the span and
in its events. Times go through `values.to_unix_nano`, the full path's exact conversion.
tests/test_plainspan.py checks with generated records that the result equals the full
path's, byte for byte.

`encode_text` takes the record's JSON text instead of its exactly parsed value, and parses
it with orjson alone. A float attribute is the nearest double to its literal either way, and
an integer beyond 64 bits, which orjson gives as a float, is over 2**63 and declined. Only
the times need the written digits, so they are read from the literals that follow their keys
in the text, and the record is declined where that is not certain.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable
from typing import Final, TypeAlias

import orjson

from otel_replay.encode import encode_event_attribute, encode_span_attribute, varint
from otel_replay.errors import RecordError
from otel_replay.model import AnyValue, SpanKindCode
from otel_replay.speedups import encode_codemachine_span
from otel_replay.timeshift import moved
from otel_replay.values import NANOS_PER_MILLISECOND, digits_to_unix_nano, literal_to_unix_nano, to_unix_nano

__all__ = ["PlainSpan", "PlainSpanEncoder"]

PlainSpan: TypeAlias = tuple[int, int, int, int, int, str, int, int, bytes]
"""A span's record index, trace ID, span ID, parent span ID, kind, name, start and end time
in Unix nanoseconds, and its serialized Span message."""

_INT64_MIN: Final = -(2**63)
_INT64_MAX: Final = 2**63 - 1
_TRACE_ID: Final = re.compile(r"[0-9a-fA-F]{32}")
_SPAN_ID: Final = re.compile(r"[0-9a-fA-F]{16}")
_LONE_SURROGATE: Final = re.compile("[\ud800-\udfff]")
_INTERNAL: Final = int(SpanKindCode.INTERNAL)  # the format has no span kind
_PLAIN_TYPES: Final = frozenset({str, int, float, bool, type(None)})  # attribute values kept as parsed
_LARGE_FLOAT: Final = 2.0**63  # orjson gives integers beyond 64 bits as floats of at least this magnitude
_START_KEY: Final = '"startTime":'
_END_KEY: Final = '"endTime":'
_EVENT_TIME_KEY: Final = '"time":'
_LITERAL: Final = re.compile(r"[ \t\r\n]*(-?[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?)")
_FIELD_CACHE_SIZE: Final = 65_536  # entries per cache, which is cleared when full
_pack_fixed64: Final = struct.Struct("<Q").pack

# Span fields, as (field number << 3) | wire type, and the fixed lengths of the IDs: see encode.py.
_TRACE_ID_FIELD: Final = b"\x0a\x10"
_SPAN_ID_FIELD: Final = b"\x12\x08"
_PARENT_ID_FIELD: Final = b"\x22\x08"
_NAME: Final = b"\x2a"
_INTERNAL_KIND: Final = b"\x30" + bytes([_INTERNAL])
_START_TIME: Final = b"\x39"
_END_TIME: Final = b"\x41"
_EVENT: Final = b"\x5a"
_STATUS: Final = b"\x7a"
# Event and Status fields.
_EVENT_TIME: Final = b"\x09"
_EVENT_NAME: Final = b"\x12"
_STATUS_MESSAGE: Final = b"\x12"
_STATUS_CODE: Final = b"\x18"
_SMALL_VARINTS: Final = tuple(bytes([n]) for n in range(128))

_FieldCache: TypeAlias = dict[tuple[str, type, object], bytes]


class _NotPlainError(Exception):
    """The record needs the full path."""


class PlainSpanEncoder:
    """Encoder of plain spans, one per worker process, because it keeps bounded caches of attribute fields."""

    def __init__(self) -> None:
        # An entry exists only for a key and value that passed the plain checks, so a hit
        # skips them. The type is part of the key because True == 1 == 1.0.
        self._span_fields: _FieldCache = {}
        self._event_fields: _FieldCache = {}

    def encode(self, index: int, json_span: object, *, shift: int = 0) -> PlainSpan | None:
        """Return a plain span's fields and Span message as the full path would, or None when it is not plain.

        The message has every time moved by `shift` nanoseconds, as `timeshift.TimeShift` moves
        them, and a span with a time that the shift would move out of range is not plain. The
        returned start and end times are the recorded ones.
        """
        if type(json_span) is not dict:
            return None
        try:
            return self._encode(index, json_span, None, shift)
        except (_NotPlainError, RecordError):
            return None

    def encode_text(
        self, index: int, text: str, *, shift: int = 0, event_times: list[int] | None = None
    ) -> PlainSpan | None:
        """Return the result of `encode` for a record's JSON text, or None when it is not plain.

        With `event_times`, the recorded times of the span's events are appended to it.

        Raises:
            orjson.JSONDecodeError: the text is not one JSON value that orjson accepts.
        """
        json_span = orjson.loads(text)
        if type(json_span) is not dict:
            return None
        if encode_codemachine_span is not None:
            # The compiled encoder writes the same bytes and leaves every record it declines to the code below.
            span = encode_codemachine_span(index, text, json_span, shift, event_times)
            if span is not None:
                return span
        try:
            return self._encode(index, json_span, _TextTimes(text, json_span), shift, event_times)
        except (_NotPlainError, RecordError):
            if event_times:
                event_times.clear()
            return None

    def _encode(
        self,
        index: int,
        span: dict[str, object],
        times: _TextTimes | None,
        shift: int,
        event_times: list[int] | None = None,
    ) -> PlainSpan:
        name = _text(span.get("name"))
        trace_id_hex = _hex_id(span.get("traceId"), _TRACE_ID)
        span_id_hex = _hex_id(span.get("spanId"), _SPAN_ID)
        parent_span_id = _parent_id(span.get("parentSpanId"))
        if times is None:
            start = to_unix_nano(span.get("startTime"), NANOS_PER_MILLISECOND, "startTime")
            end = to_unix_nano(span.get("endTime"), NANOS_PER_MILLISECOND, "endTime")
        else:
            start = times.only(_START_KEY, span.get("startTime"), "startTime")
            end = times.only(_END_KEY, span.get("endTime"), "endTime")
        status = _status(span.get("status"))
        attributes = _attributes(span.get("attributes"), self._span_fields, encode_span_attribute)
        events = self._events(span.get("events"), times, shift, event_times)
        sent_start, sent_end = (moved(start, shift), moved(end, shift)) if shift else (start, end)

        parts = [_TRACE_ID_FIELD, bytes.fromhex(trace_id_hex), _SPAN_ID_FIELD, bytes.fromhex(span_id_hex)]
        if parent_span_id:
            parts += (_PARENT_ID_FIELD, parent_span_id.to_bytes(8, "big"))
        if name:
            encoded_name = name.encode()
            parts += (_NAME, varint(len(encoded_name)), encoded_name)
        parts.append(_INTERNAL_KIND)
        if sent_start:
            parts += (_START_TIME, _pack_fixed64(sent_start))
        if sent_end:
            parts += (_END_TIME, _pack_fixed64(sent_end))
        parts.append(attributes)
        parts.extend(events)
        parts += (_STATUS, varint(len(status)), status)

        trace_id = int(trace_id_hex, 16)
        span_id = int(span_id_hex, 16)
        return (index, trace_id, span_id, parent_span_id, _INTERNAL, name, start, end, b"".join(parts))

    def _events(
        self, value: object, times: _TextTimes | None, shift: int, event_times: list[int] | None
    ) -> list[bytes]:
        """Return the Span's encoded events fields."""
        if value is None:
            return []
        if type(value) is not list:
            raise _NotPlainError
        if times is not None and value:
            times.begin_events(len(value))

        fields = []
        for event in value:
            if type(event) is not dict:
                raise _NotPlainError
            name = _text(event.get("name"))
            if times is None:
                time = to_unix_nano(event.get("time"), NANOS_PER_MILLISECOND, "time")
            else:
                time = times.next_event(event.get("time"))
            if event_times is not None:
                event_times.append(time)
            if shift:
                time = moved(time, shift)
            attributes = _attributes(event.get("attributes"), self._event_fields, encode_event_attribute)
            body = _EVENT_TIME + _pack_fixed64(time) if time else b""
            if name:
                encoded_name = name.encode()
                body += _EVENT_NAME + varint(len(encoded_name)) + encoded_name
            body += attributes
            fields.append(_EVENT + varint(len(body)) + body)
        return fields


class _TextTimes:
    """Reads a span's times from their literals in the record's text, where orjson's floats may have lost digits.

    A float time is taken from the literal after its key, which must occur once per time in
    the text and give the same float. Anything else declines the record, so that the full
    path reads it with the exact parser.
    """

    def __init__(self, text: str, span: dict[str, object]) -> None:
        self._text = text
        self._span = span
        self._event_position = 0

    def only(self, key: str, value: object, field: str) -> int:
        """Return the time of a field whose key occurs once in the record."""
        if type(value) is not float:
            return to_unix_nano(value, NANOS_PER_MILLISECOND, field)
        at = self._text.find(key)
        if at < 0 or self._text.find(key, at + len(key)) >= 0:
            raise _NotPlainError
        return self._time_after(at + len(key), value, field)

    def begin_events(self, count: int) -> None:
        """Check that the events' time key occurs once per event; they follow in order."""
        if self._text.count(_EVENT_TIME_KEY) != count:
            raise _NotPlainError
        self._event_position = 0

    def next_event(self, value: object) -> int:
        """Return the time of the next event."""
        at = self._text.index(_EVENT_TIME_KEY, self._event_position) + len(_EVENT_TIME_KEY)
        self._event_position = at
        if type(value) is not float:
            return to_unix_nano(value, NANOS_PER_MILLISECOND, "time")
        return self._time_after(at, value, "time")

    def _time_after(self, position: int, value: float, field: str) -> int:
        text = self._text
        # A pretty-printer writes the literal after one space, up to a comma or the line's end.
        line_end = text.find("\n", position)
        if text[position] == " " and line_end > 0:
            literal = text[position + 1 : line_end].rstrip(",")
            unix_nano = digits_to_unix_nano(literal, NANOS_PER_MILLISECOND)
            if unix_nano is not None and float(literal) == value:
                return unix_nano
        match = _LITERAL.match(text, position)
        if match is None:
            raise _NotPlainError
        literal = match.group(1)
        if float(literal) != value:
            raise _NotPlainError
        return literal_to_unix_nano(literal, NANOS_PER_MILLISECOND, field)


def _text(value: object) -> str:
    """Return a string that the full path keeps unchanged, without a notice."""
    if type(value) is not str or not (value.isascii() or _LONE_SURROGATE.search(value) is None):
        raise _NotPlainError
    return value


def _hex_id(value: object, pattern: re.Pattern[str]) -> str:
    if type(value) is not str or pattern.fullmatch(value) is None or not value.strip("0"):
        # The full path rejects an all-zero trace or span ID.
        raise _NotPlainError
    return value


def _parent_id(value: object) -> int:
    # As in the full path, a missing, empty or all-zero parent ID means a root span.
    if value is None or value == "":
        return 0
    if type(value) is not str or _SPAN_ID.fullmatch(value) is None:
        raise _NotPlainError
    return int(value, 16)


def _status(value: object) -> bytes:
    """Return the body of the Status message."""
    if value is None:
        return b""
    if type(value) is not dict:
        raise _NotPlainError

    code = value.get("code", 0)
    if type(code) is not int or code not in (0, 1, 2):
        raise _NotPlainError
    message = _text(value.get("message", ""))
    body = b""
    if message:
        encoded_message = message.encode()
        body = _STATUS_MESSAGE + varint(len(encoded_message)) + encoded_message
    if code:
        body += _STATUS_CODE + _SMALL_VARINTS[code]
    return body


def _attributes(value: object, cache: _FieldCache, encode: Callable[[str, AnyValue], bytes]) -> bytes:
    """Return the KeyValue fields of a JSON object of attributes that `decode_attributes` keeps unchanged."""
    if value is None:
        return b""
    if type(value) is not dict:
        raise _NotPlainError

    parts = []
    for key, item in value.items():
        item_type = type(item)
        if item_type not in _PLAIN_TYPES:
            # Decimals, arrays and objects take the full path.
            raise _NotPlainError
        cache_key = (key, item_type, item)
        field = cache.get(cache_key)
        if field is None:
            _check_attribute(key, item, item_type)
            field = encode(key, item)
            # 0.0 and -0.0 are equal as keys but encode differently, so zero floats are not cached.
            if item_type is not float or item != 0.0:
                if len(cache) >= _FIELD_CACHE_SIZE:
                    cache.clear()
                cache[cache_key] = field
        parts.append(field)
    return b"".join(parts)


def _check_attribute(key: str, value: object, value_type: type) -> None:
    """Raise _NotPlainError unless the full path keeps the attribute unchanged, without a notice."""
    _text(key)
    if value_type is str:
        _text(value)
    elif value_type is int:
        if not _INT64_MIN <= value <= _INT64_MAX:  # type: ignore[operator]  # an int
            raise _NotPlainError
    elif value_type is float and not -_LARGE_FLOAT < value < _LARGE_FLOAT:  # type: ignore[operator]  # a float
        raise _NotPlainError
