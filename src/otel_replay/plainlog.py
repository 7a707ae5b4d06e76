"""Encode a plain CodeMachine log record straight from its parsed JSON into its LogRecord message.

A worker's full path builds a validated `LogData` per record (`codemachine.decode_elements`),
writes its LogRecord message (`RequestEncoder.log_message`) and computes its fingerprint for
deduplication (`transform.log_identity`). Most records need none of that path's notices or
conversions, so `PlainLogEncoder` computes the same result from the parsed record directly.
It returns None for any record that is not plain, and the caller then takes the full path,
which gives the record's skip reason or notices.

A record is plain when every field has the JSON type the full path expects and nothing would
give a notice. So its timestamp is two whole numbers in range, and its strings have no lone
surrogates. Its values are strings, booleans, null, int64 integers, floats, or arrays and
objects of them. A ``trace.id`` or ``span.id`` attribute is null or a valid ID.
tests/test_plainlog.py checks with generated records that the result equals the full path's.
"""

from __future__ import annotations

import hashlib
import math
import re
import struct
from typing import Any, Final, TypeAlias

import orjson

from otel_replay.encode import encode_log_attribute, encode_log_body, varint
from otel_replay.errors import RecordError
from otel_replay.model import AnyValue, ResourceData
from otel_replay.speedups import encode_codemachine_log_message
from otel_replay.timeshift import moved

__all__ = ["PlainLog", "PlainLogEncoder"]

PlainLog: TypeAlias = tuple[
    int, "bytes | None", "dict[str, AnyValue] | None", tuple[int, int], int, int, int, int, bytes
]
"""A log record's index, resource key, resource attributes, fingerprint, trace ID, span ID,
time and observed time in Unix nanoseconds, and its serialized LogRecord message.

The resource key is None for a record without a "resource", which gets the file's fallback
resource, and then the attributes are None too. Otherwise the key is the one
`codemachine._decode_log_resource` computes, and the attributes are set for every record,
so the caller drops them after the first record of a key in a chunk, as `workers._log_result` does."""

_INT64_MIN: Final = -(2**63)
_INT64_MAX: Final = 2**63 - 1
_MAX_UNIX_NANO: Final = 2**64 - 1  # fixed64 in the protocol
_NANOS_PER_SECOND: Final = 1_000_000_000
_MAX_SEVERITY: Final = 24
_MAX_DEPTH: Final = 16  # levels of arrays and objects in a value, beyond which a value takes the full path
_LONE_SURROGATE: Final = re.compile("[\ud800-\udfff]")
_CACHE_SIZE: Final = 65_536  # entries per cache, which is cleared when full
_UINT64_MASK: Final = 2**64 - 1  # an int64 is written as the varint of its two's complement
_pack_fixed64: Final = struct.Struct("<Q").pack
_pack_double: Final = struct.Struct("<d").pack
_blake2b: Final = hashlib.blake2b
_dumps: Final = orjson.dumps
_SORT_KEYS: Final = orjson.OPT_SORT_KEYS

# LogRecord fields, as (field number << 3) | wire type: see encode.py.
_TIME: Final = b"\x09"
_SEVERITY_NUMBER: Final = b"\x10"
_SEVERITY_TEXT: Final = b"\x1a"
_TRACE_ID: Final = b"\x4a\x10"
_SPAN_ID: Final = b"\x52\x08"
_OBSERVED_TIME: Final = b"\x59"
# The body field holding an AnyValue whose string_value is set, and the AnyValue of null.
_STRING_BODY: Final = b"\x2a"
_STRING_VALUE: Final = b"\x0a"
_NULL_BODY: Final = b"\x2a\x00"
# The attributes field, and in its KeyValue message the key and value fields. In AnyValue
# the int and double value fields, and the bool value field with its value.
_ATTRIBUTE: Final = b"\x32"
_KEY: Final = b"\x0a"
_VALUE: Final = b"\x12"
_INT_VALUE: Final = b"\x18"
_DOUBLE_VALUE: Final = b"\x21"
_TRUE_VALUE: Final = b"\x10\x01"
_FALSE_VALUE: Final = b"\x10\x00"
_SMALL_VARINTS: Final = tuple(bytes([n]) for n in range(128))
_ZERO_TRACE_ID: Final = "0" * 32
_ZERO_SPAN_ID: Final = "0" * 16


# Parsed JSON values are typed Any where the checks use `type(value) is ...`, which mypy
# does not narrow through a variable, and `isinstance` would be slower and admit subclasses.

_KeyParts: TypeAlias = tuple[bytes, bytes, bytes, bytes, bytes, bytes]
"""The start of a KeyValue message up to its value's size, then the KeyValue fields of the
key up to a double's 8 bytes, up to a one-byte varint of an int, and with true, false and null."""


class _NotPlainError(Exception):
    """The record needs the full path."""


class PlainLogEncoder:
    """Encoder of plain log records, one per worker process, because it keeps bounded caches."""

    def __init__(self) -> None:
        # Attribute key to the parts of its KeyValue fields (`_new_key`). An entry exists only
        # for a plain key, so a hit skips the check.
        self._key_parts: dict[str, _KeyParts] = {}
        # Resource key to the attributes of a plain resource. Only plain resources are
        # stored, and distinct plain resources have distinct keys (see `_check_value`), so
        # every record of a resource gets the same attributes object.
        self._resources: dict[bytes, dict[str, AnyValue]] = {}

    def encode(self, index: int, json_log: object, fallback: ResourceData, *, shift: int = 0) -> PlainLog | None:
        """Return a plain log record's result as `workers._log_result` would, or None when it is not plain.

        `fallback` is the resource of records without one, whose attributes are part of the
        fingerprint. Do not change the returned resource attributes: they are shared among
        the records of the resource. The message has its times moved by `shift` nanoseconds,
        as `timeshift.TimeShift` moves them, while the returned times and the fingerprint
        are the recorded ones. A record whose time the shift would move out of range is not plain.
        """
        if type(json_log) is not dict:
            return None
        try:
            return self._encode(index, json_log, fallback, shift)
        except (_NotPlainError, RecordError):
            return None

    def _encode(self, index: int, log: dict[str, Any], fallback: ResourceData, shift: int) -> PlainLog:
        # The compiled encoder writes the same message and leaves every record it declines to `_message`.
        message = encode_codemachine_log_message(log, shift) if encode_codemachine_log_message is not None else None
        time, trace_id_bytes, span_id_bytes, encoded = message or self._message(log, shift)
        resource_key, resource_attributes = self._resource(log.get("resource"))

        # The same fields, in the same order, as `transform.log_identity` serializes. The
        # scope is the format's empty one, and flags and event name keep their defaults.
        fields = [
            time,
            time,
            log.get("severityNumber"),
            log.get("severityText"),
            log.get("body"),
            log.get("attributes") or {},
            fallback.attributes if resource_attributes is None else resource_attributes,
            "",
            "",
            "",
            trace_id_bytes.hex() if trace_id_bytes else _ZERO_TRACE_ID,
            span_id_bytes.hex() if span_id_bytes else _ZERO_SPAN_ID,
            0,
            None,
        ]
        try:
            serialized = _dumps(fields, option=_SORT_KEYS)
        except orjson.JSONEncodeError as error:
            raise _NotPlainError from error  # a fallback resource that orjson cannot write
        # As `index.digest_fingerprint`: the two 64-bit little-endian words of the digest.
        digest = int.from_bytes(_blake2b(serialized, digest_size=16).digest(), "little")
        identity = (digest & _UINT64_MASK, digest >> 64)

        trace_id = int.from_bytes(trace_id_bytes, "big")
        span_id = int.from_bytes(span_id_bytes, "big")
        return (index, resource_key, resource_attributes, identity, trace_id, span_id, time, time, encoded)

    def _message(self, log: dict[str, Any], shift: int) -> tuple[int, bytes, bytes, bytes]:
        """Return the record's time, its trace and span IDs as bytes (empty where unset) and its LogRecord message."""
        time = _time(log.get("timestamp"))
        sent_time = moved(time, shift) if shift else time
        severity_number = log.get("severityNumber")
        if severity_number is not None and (
            type(severity_number) is not int or not 0 <= severity_number <= _MAX_SEVERITY
        ):
            raise _NotPlainError
        severity_text = log.get("severityText")
        if severity_text is not None:
            _text(severity_text)
        attributes = log.get("attributes")
        if attributes is None:
            attributes = {}
        elif type(attributes) is not dict:
            raise _NotPlainError
        trace_id_bytes = _correlation_id(attributes.get("trace.id"), 16)
        span_id_bytes = _correlation_id(attributes.get("span.id"), 8)

        # The fields in field-number order, as `RequestEncoder.log_message` writes them.
        parts: list[bytes] = []
        if sent_time:
            parts += (_TIME, _pack_fixed64(sent_time))
        if severity_number:
            parts += (_SEVERITY_NUMBER, _SMALL_VARINTS[severity_number])
        if severity_text:
            encoded_text = severity_text.encode()
            parts += (_SEVERITY_TEXT, varint(len(encoded_text)), encoded_text)
        parts.append(_body(log.get("body")))
        self._attributes(attributes, parts)
        if trace_id_bytes:
            parts += (_TRACE_ID, trace_id_bytes)
        if span_id_bytes:
            parts += (_SPAN_ID, span_id_bytes)
        if sent_time:
            parts += (_OBSERVED_TIME, _pack_fixed64(sent_time))
        return time, trace_id_bytes, span_id_bytes, b"".join(parts)

    def _attributes(self, attributes: dict[str, Any], parts: list[bytes]) -> None:
        """Append the KeyValue fields of attributes that `decode_attributes` keeps unchanged to `parts`.

        Scalars are written here as `encode_log_attribute` writes them. A cache of whole
        fields would miss on the values that change with every record, such as IDs, so only
        the parts that depend on the key alone are cached.
        """
        key_parts = self._key_parts
        small = _SMALL_VARINTS
        for key, value in attributes.items():
            known = key_parts.get(key)
            if known is None:
                known = self._new_key(key)
            value_type = type(value)
            if value_type is str:
                if not (value.isascii() or _LONE_SURROGATE.search(value) is None):
                    raise _NotPlainError
                encoded = value.encode()
                size = len(encoded)
                head = known[0]
                field_size = len(head) + size + 3
                if field_size < 128:  # so every length is a one-byte varint
                    parts += (_ATTRIBUTE, small[field_size], head, small[size + 2], _STRING_VALUE, small[size], encoded)
                    continue
                any_value = _STRING_VALUE + varint(size) + encoded
            elif value_type is float:
                parts += (known[1], _pack_double(value))
                continue
            elif value_type is int:
                if 0 <= value < 128:
                    parts += (known[2], small[value])
                    continue
                if not _INT64_MIN <= value <= _INT64_MAX:
                    raise _NotPlainError
                any_value = _INT_VALUE + varint(value & _UINT64_MASK)
            elif value_type is bool:
                parts.append(known[3] if value else known[4])
                continue
            elif value is None:
                parts.append(known[5])
                continue
            else:
                _check_value(value, 0, finite=False)
                parts.append(encode_log_attribute(key, value))
                continue
            head = known[0]
            value_size = varint(len(any_value))
            parts += (_ATTRIBUTE, varint(len(head) + len(value_size) + len(any_value)), head, value_size, any_value)

    def _new_key(self, key: str) -> _KeyParts:
        """Return the parts of the KeyValue fields of a plain key, and cache them."""
        encoded = _text(key).encode()
        # The start of the KeyValue message up to its value's size. proto3 leaves out an empty key.
        head = _KEY + varint(len(encoded)) + encoded + _VALUE if encoded else _VALUE
        known = (
            _fixed_size_field(head, _DOUBLE_VALUE, 8),
            _fixed_size_field(head, _INT_VALUE, 1),
            _fixed_size_field(head, _TRUE_VALUE, 0),
            _fixed_size_field(head, _FALSE_VALUE, 0),
            _fixed_size_field(head, b"", 0),
        )
        entry = (head, *known)
        if len(self._key_parts) >= _CACHE_SIZE:
            self._key_parts.clear()
        self._key_parts[key] = entry
        return entry

    def _resource(self, json_resource: Any) -> tuple[bytes | None, dict[str, AnyValue] | None]:
        """Return the resource's key and attributes, or None and None for the file's fallback resource."""
        if json_resource is None:
            return None, None
        if type(json_resource) is not dict:
            raise _NotPlainError

        # NOTE: the full path's key writes a Decimal as its string (`default=str`), so in one
        # chunk a Decimal resource and an equal-looking string resource share the first one's
        # attributes there. This path gives a plain record its own attributes and fingerprint.
        try:
            key = _dumps(json_resource, option=_SORT_KEYS)
        except orjson.JSONEncodeError as error:
            raise _NotPlainError from error  # huge integers and lone surrogates take the full path
        attributes = self._resources.get(key)
        if attributes is not None and attributes == json_resource:
            # Equal keys alone could hide a NaN, which the key writes as null.
            return key, attributes

        for name, value in json_resource.items():
            _text(name)
            _check_value(value, 0, finite=True)
        if len(self._resources) >= _CACHE_SIZE:
            self._resources.clear()
        self._resources[key] = json_resource
        return key, json_resource


def _fixed_size_field(head: bytes, any_value_start: bytes, rest_size: int) -> bytes:
    """Return a KeyValue field up to the last `rest_size` bytes of its AnyValue, which start with `any_value_start`."""
    any_value_size = len(any_value_start) + rest_size
    value_size = varint(any_value_size)
    field_size = varint(len(head) + len(value_size) + any_value_size)
    return _ATTRIBUTE + field_size + head + value_size + any_value_start


def _time(value: object) -> int:
    """Return the time of a ``[seconds, nanoseconds]`` timestamp that `_decode_hr_time` accepts."""
    if type(value) is not list or len(value) != 2:
        raise _NotPlainError
    seconds, nanos = value
    if type(seconds) is not int or type(nanos) is not int or seconds < 0 or not 0 <= nanos < _NANOS_PER_SECOND:
        raise _NotPlainError
    time: int = seconds * _NANOS_PER_SECOND + nanos
    if time > _MAX_UNIX_NANO:
        # The full path cannot encode it either, and raises.
        raise _NotPlainError
    return time


def _body(value: Any) -> bytes:
    """Return the LogRecord's body field for a body that `decode_value` keeps unchanged."""
    if type(value) is str:
        encoded = _text(value).encode()
        any_value = _STRING_VALUE + varint(len(encoded)) + encoded
        return _STRING_BODY + varint(len(any_value)) + any_value
    if value is None:
        return _NULL_BODY
    _check_value(value, 0, finite=False)
    return encode_log_body(value)


def _check_value(value: Any, depth: int, *, finite: bool) -> None:
    """Raise _NotPlainError unless `decode_value` keeps `value` unchanged, without a notice.

    With `finite`, NaN and the infinities are not plain either, because a resource key
    writes them as null, like a null value. Only plain resources with distinct keys may
    share the cached attributes.
    """
    value_type = type(value)
    if value_type is str:
        _text(value)
    elif value_type is int:
        if not _INT64_MIN <= value <= _INT64_MAX:
            raise _NotPlainError
    elif value_type is float:
        if finite and not math.isfinite(value):
            raise _NotPlainError
    elif value_type is bool or value is None:
        return
    elif depth >= _MAX_DEPTH:
        raise _NotPlainError
    elif value_type is list:
        for item in value:
            _check_value(item, depth + 1, finite=finite)
    elif value_type is dict:
        for key, item in value.items():
            _text(key)
            _check_value(item, depth + 1, finite=finite)
    else:
        # Decimals, which the full path converts to floats, take the full path.
        raise _NotPlainError


def _correlation_id(value: object, size: int) -> bytes:
    """Return the ID of a ``trace.id`` or ``span.id`` attribute that `_correlation` accepts, or b"" for null."""
    if value is None:
        return b""
    if type(value) is not str or len(value) != 2 * size:
        raise _NotPlainError
    try:
        # fromhex skips ASCII whitespace, which the size check below then rules out.
        id_bytes = bytes.fromhex(value)
    except ValueError as error:
        raise _NotPlainError from error
    if len(id_bytes) != size or not id_bytes.strip(b"\x00"):
        # The full path sends the record without this ID, with a notice. An all-zero ID is invalid.
        raise _NotPlainError
    return id_bytes


def _text(value: object) -> str:
    """Return a string that the full path keeps unchanged, without a notice."""
    if type(value) is not str or not (value.isascii() or _LONE_SURROGATE.search(value) is None):
        raise _NotPlainError
    return value
