"""Encode a plain OTLP/JSON span straight from its parsed JSON into its Span message.

The worker processes that read OTLP/JSON lines used to decode each plain span into a
`SpanData` (`otlp_plain.decode_plain_span`) and then write its message
(`RequestEncoder.span_message`). `PlainOtlpSpanEncoder` does both in one pass over the JSON,
with the same checks, and writes the same bytes. It returns None for any span that
`decode_plain_span` declines, and also for one with an attribute value nested deeper than
`limits.MAX_VALUE_DEPTH`, so that the general path reports it. tests/test_plainotlp.py checks
with generated spans that the result equals the two-step path's, byte for byte.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Final, TypeAlias

from otel_replay.encode import encode_event_attribute, encode_link_attribute, encode_span_attribute, varint
from otel_replay.errors import RecordError
from otel_replay.formats.limits import too_deep
from otel_replay.formats.otlp_plain import (
    EVENT_KEYS,
    KIND_NUMBERS,
    KINDS,
    LINK_KEYS,
    PAIR_KEYS,
    SPAN_ID,
    SPAN_KEYS,
    TRACE_ID,
    UINT32_MAX,
    UINT64_MAX,
    NotPlainError,
    enum_number,
    optional_id,
    plain_status,
    plain_string,
    plain_value,
    required_id,
    unsigned,
)
from otel_replay.model import AnyValue
from otel_replay.speedups import encode_otlp_span
from otel_replay.timeshift import moved

__all__ = ["PlainOtlpSpan", "PlainOtlpSpanEncoder"]

PlainOtlpSpan: TypeAlias = tuple[int, int, int, int, str, int, int, bytes]
"""A span's trace ID, span ID, parent span ID, kind, name, start and end time, and its serialized Span message."""

_SCALAR_TYPES: Final = frozenset({str, int, float, bool})  # member values whose encoded attribute is cached
_FIELD_CACHE_SIZE: Final = 65_536  # entries per cache, which is cleared when full
_pack_fixed64: Final = struct.Struct("<Q").pack
_pack_fixed32: Final = struct.Struct("<I").pack

# Span fields, as (field number << 3) | wire type, and the fixed lengths of the IDs: see encode.py.
_TRACE_ID_FIELD: Final = b"\x0a\x10"
_SPAN_ID_FIELD: Final = b"\x12\x08"
_TRACE_STATE: Final = b"\x1a"
_PARENT_ID_FIELD: Final = b"\x22\x08"
_NAME: Final = b"\x2a"
_KIND: Final = b"\x30"
_START_TIME: Final = b"\x39"
_END_TIME: Final = b"\x41"
_DROPPED_ATTRIBUTES: Final = b"\x50"
_EVENT: Final = b"\x5a"
_DROPPED_EVENTS: Final = b"\x60"
_LINK: Final = b"\x6a"
_DROPPED_LINKS: Final = b"\x70"
_STATUS: Final = b"\x7a"
_FLAGS: Final = b"\x85\x01"
# Event fields.
_EVENT_TIME: Final = b"\x09"
_EVENT_NAME: Final = b"\x12"
_EVENT_DROPPED_ATTRIBUTES: Final = b"\x20"
# Link fields.
_LINK_TRACE_STATE: Final = b"\x1a"
_LINK_DROPPED_ATTRIBUTES: Final = b"\x28"
_LINK_FLAGS: Final = b"\x35"
# Status fields.
_STATUS_MESSAGE: Final = b"\x12"
_STATUS_CODE: Final = b"\x18"

_FieldCache: TypeAlias = dict[tuple[str, str, type, object], bytes]
_EncodeAttribute: TypeAlias = Callable[[str, AnyValue], bytes]


class PlainOtlpSpanEncoder:
    """Encoder of plain OTLP/JSON spans, one per worker process, because it keeps bounded caches of attribute fields."""

    def __init__(self) -> None:
        # An entry exists only for an attribute that passed the plain checks, so a hit skips
        # them. The member's name and type are part of the key, because {"intValue": 1},
        # {"doubleValue": 1} and {"boolValue": true} compare equal as values.
        self._span_fields: _FieldCache = {}
        self._event_fields: _FieldCache = {}
        self._link_fields: _FieldCache = {}

    def encode(self, json_span: object, *, shift: int = 0, compiled: bool = True) -> PlainOtlpSpan | None:
        """Return a plain span's fields and Span message as the two-step path would, or None when it is not plain.

        The message has every time moved by `shift` nanoseconds, as `timeshift.TimeShift` moves
        them, and a span with a time that the shift would move out of range is not plain. The
        returned start and end times are the recorded ones. A caller that already offered the
        span to the compiled encoder passes `compiled=False`.
        """
        if type(json_span) is not dict or not json_span.keys() <= SPAN_KEYS:
            return None
        if compiled and encode_otlp_span is not None:
            # The compiled encoder writes the same bytes and leaves every span it declines to the code below.
            span = encode_otlp_span(json_span, shift)
            if span is not None:
                return span
        try:
            return self._encode(json_span, shift)
        except (NotPlainError, RecordError):
            return None

    def _encode(self, span: dict[str, object], shift: int) -> PlainOtlpSpan:
        get = span.get
        trace_id = required_id(get("traceId"), TRACE_ID)
        span_id = required_id(get("spanId"), SPAN_ID)
        parent_span_id = optional_id(get("parentSpanId"), SPAN_ID)
        name = plain_string(get("name"))
        kind = int(KINDS[enum_number(get("kind"), KIND_NUMBERS, len(KINDS) - 1)])
        start = _unsigned(get("startTimeUnixNano"), UINT64_MAX)
        end = _unsigned(get("endTimeUnixNano"), UINT64_MAX)
        sent_start, sent_end = (moved(start, shift), moved(end, shift)) if shift else (start, end)

        parts = [_TRACE_ID_FIELD, trace_id.to_bytes(16, "big"), _SPAN_ID_FIELD, span_id.to_bytes(8, "big")]
        trace_state = plain_string(get("traceState"))
        if trace_state:
            parts.append(_string(_TRACE_STATE, trace_state))
        if parent_span_id:
            parts += (_PARENT_ID_FIELD, parent_span_id.to_bytes(8, "big"))
        if name:
            parts.append(_string(_NAME, name))
        if kind:
            parts += (_KIND, varint(kind))
        if sent_start:
            parts += (_START_TIME, _pack_fixed64(sent_start))
        if sent_end:
            parts += (_END_TIME, _pack_fixed64(sent_end))
        parts.append(self._attributes(get("attributes"), self._span_fields, encode_span_attribute))
        parts.append(_uint(_DROPPED_ATTRIBUTES, _unsigned(get("droppedAttributesCount"), UINT32_MAX)))
        parts += self._events(get("events"), shift)
        parts.append(_uint(_DROPPED_EVENTS, _unsigned(get("droppedEventsCount"), UINT32_MAX)))
        parts += self._links(get("links"))
        parts.append(_uint(_DROPPED_LINKS, _unsigned(get("droppedLinksCount"), UINT32_MAX)))
        parts.append(_status(get("status")))
        flags = _unsigned(get("flags"), UINT32_MAX)
        if flags:
            parts += (_FLAGS, _pack_fixed32(flags))
        return (trace_id, span_id, parent_span_id, kind, name, start, end, b"".join(parts))

    def _events(self, json_events: object, shift: int) -> list[bytes]:
        """Return the Span's encoded events fields."""
        if json_events is None:
            return []
        if type(json_events) is not list:
            raise NotPlainError

        fields = []
        for event in json_events:
            if type(event) is not dict or not event.keys() <= EVENT_KEYS:
                raise NotPlainError
            get = event.get
            time = _unsigned(get("timeUnixNano"), UINT64_MAX)
            if shift:
                time = moved(time, shift)
            body = _EVENT_TIME + _pack_fixed64(time) if time else b""
            body += _string(_EVENT_NAME, plain_string(get("name")))
            body += self._attributes(get("attributes"), self._event_fields, encode_event_attribute)
            body += _uint(_EVENT_DROPPED_ATTRIBUTES, _unsigned(get("droppedAttributesCount"), UINT32_MAX))
            fields.append(_EVENT + varint(len(body)) + body)
        return fields

    def _links(self, json_links: object) -> list[bytes]:
        """Return the Span's encoded links fields."""
        if json_links is None:
            return []
        if type(json_links) is not list:
            raise NotPlainError

        fields = []
        for link in json_links:
            if type(link) is not dict or not link.keys() <= LINK_KEYS:
                raise NotPlainError
            get = link.get
            trace_id = required_id(get("traceId"), TRACE_ID)
            span_id = required_id(get("spanId"), SPAN_ID)
            body = b"".join(
                (
                    _TRACE_ID_FIELD,
                    trace_id.to_bytes(16, "big"),
                    _SPAN_ID_FIELD,
                    span_id.to_bytes(8, "big"),
                    _string(_LINK_TRACE_STATE, plain_string(get("traceState"))),
                    self._attributes(get("attributes"), self._link_fields, encode_link_attribute),
                    _uint(_LINK_DROPPED_ATTRIBUTES, _unsigned(get("droppedAttributesCount"), UINT32_MAX)),
                )
            )
            flags = _unsigned(get("flags"), UINT32_MAX)
            if flags:
                body += _LINK_FLAGS + _pack_fixed32(flags)
            fields.append(_LINK + varint(len(body)) + body)
        return fields

    def _attributes(self, json_pairs: object, cache: _FieldCache, encode: _EncodeAttribute) -> bytes:
        """Return the KeyValue fields of a list of plain attributes with unique keys."""
        if json_pairs is None:
            return b""
        if type(json_pairs) is not list:
            raise NotPlainError

        keys = []
        parts = []
        for json_pair in json_pairs:
            if type(json_pair) is not dict:
                raise NotPlainError
            key = json_pair.get("key")
            json_value = json_pair.get("value")
            odd_keys = (len(json_pair) != 2 or json_value is None) and not json_pair.keys() <= PAIR_KEYS
            if odd_keys or type(key) is not str:
                raise NotPlainError
            keys.append(key)

            if type(json_value) is dict and len(json_value) == 1:
                [(member, item)] = json_value.items()
                item_type = type(item)
                if item_type in _SCALAR_TYPES:
                    cache_key = (key, member, item_type, item)
                    field = cache.get(cache_key)
                    if field is None:
                        field = encode(key, plain_value(json_value, 0))
                        # 0.0 and -0.0 are equal as keys but encode differently, so zero floats are not cached.
                        if item_type is not float or item != 0.0:
                            if len(cache) >= _FIELD_CACHE_SIZE:
                                cache.clear()
                            cache[cache_key] = field
                    parts.append(field)
                    continue
            value = plain_value(json_value, 0)
            if too_deep(value):
                raise NotPlainError  # the general path skips the record and names the field
            parts.append(encode(key, value))
        if len(set(keys)) != len(keys):
            raise NotPlainError  # a repeated key, which the general path reports
        return b"".join(parts)


def _unsigned(value: object, maximum: int) -> int:
    """Decode an unsigned number, taking the Collector's common forms without a call."""
    if type(value) is int and 0 <= value <= maximum:
        return value
    return unsigned(value, maximum)


def _status(json_status: object) -> bytes:
    """Return the Span's status field, which is always written."""
    code, message = plain_status(json_status)
    body = _string(_STATUS_MESSAGE, message)
    if code:
        body += _STATUS_CODE + varint(code)
    return _STATUS + varint(len(body)) + body


def _string(tag: bytes, text: str) -> bytes:
    """Encode a string field, left out when empty as proto3 does."""
    if not text:
        return b""
    encoded = text.encode()
    return tag + varint(len(encoded)) + encoded


def _uint(tag: bytes, number: int) -> bytes:
    """Encode an unsigned varint field, left out when 0 as proto3 does."""
    if not number:
        return b""
    return tag + varint(number)
