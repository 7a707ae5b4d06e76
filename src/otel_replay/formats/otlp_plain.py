"""Decode a plain OTLP/JSON span or log record straight into its record, without a protobuf message.

The general path decodes each record into a protobuf message (`otlp_json._parse_record`) and
converts that (`RecordConverter.span` and `.log`), which took most of a replay's time. Most
records that the Collector and the SDKs write need none of its fallbacks, so
`decode_plain_span` and `decode_plain_log` build the same `SpanData` or `LogData` from the
parsed JSON directly. They return None for any record that is not plain, and the caller then
takes the general path, which gives the record's skip reason or notices.

A record is plain when every key is a lowerCamelCase field name of its message, every value has
the JSON type the Collector writes, its IDs are hexadecimal of the right length (and not zero
where required), its numbers fit their protobuf types and no attribute key repeats within one
list. IDs are hexadecimal, 64-bit integers are strings of digits or numbers, and enums are
numbers or names. Strings must come from a document without lone surrogate escapes, which the
caller checks. tests/test_otlp_plain.py checks with generated records that the result equals
the general path's.

The checks and the decoders of single values are public for `plainotlp`, which writes a plain
span's Span message straight from its JSON with the same rules.
"""

from __future__ import annotations

import math
import re
import sys
from typing import Final

from opentelemetry.proto.logs.v1 import logs_pb2
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from otel_replay.model import (
    AnyValue,
    EventData,
    LinkData,
    Location,
    LogData,
    ResourceData,
    ScopeData,
    SpanData,
    SpanKindCode,
)

__all__ = [
    "EVENT_KEYS",
    "KINDS",
    "KIND_NUMBERS",
    "LINK_KEYS",
    "LOG_KEYS",
    "PAIR_KEYS",
    "SPAN_ID",
    "SPAN_KEYS",
    "TRACE_ID",
    "UINT32_MAX",
    "UINT64_MAX",
    "NotPlainError",
    "decode_plain_log",
    "decode_plain_span",
    "enum_number",
    "optional_id",
    "plain_status",
    "plain_string",
    "plain_value",
    "required_id",
    "unsigned",
]

SPAN_KEYS: Final = frozenset(
    {
        "traceId",
        "spanId",
        "traceState",
        "parentSpanId",
        "flags",
        "name",
        "kind",
        "startTimeUnixNano",
        "endTimeUnixNano",
        "attributes",
        "droppedAttributesCount",
        "events",
        "droppedEventsCount",
        "links",
        "droppedLinksCount",
        "status",
    }
)
"""The JSON names of every `Span` field. A span with any other key takes the general path."""

LOG_KEYS: Final = frozenset(
    {
        "timeUnixNano",
        "observedTimeUnixNano",
        "severityNumber",
        "severityText",
        "body",
        "attributes",
        "droppedAttributesCount",
        "flags",
        "traceId",
        "spanId",
        "eventName",
    }
)
"""The JSON names of every `LogRecord` field. A log record with any other key takes the general path."""

EVENT_KEYS: Final = frozenset({"timeUnixNano", "name", "attributes", "droppedAttributesCount"})
LINK_KEYS: Final = frozenset({"traceId", "spanId", "traceState", "attributes", "droppedAttributesCount", "flags"})
STATUS_KEYS: Final = frozenset({"message", "code"})
# `keyStrindex` is left out because the general path gives a notice for it.
PAIR_KEYS: Final = frozenset({"key", "value"})
# Bytes values are left out too, because the general path decodes them with lenient base64 rules.
_VALUE_KEYS: Final = frozenset({"stringValue", "boolValue", "intValue", "doubleValue", "arrayValue", "kvlistValue"})
_LIST_KEYS: Final = frozenset({"values"})

TRACE_ID: Final = re.compile(r"[0-9a-fA-F]{32}")
SPAN_ID: Final = re.compile(r"[0-9a-fA-F]{16}")
UINT32_MAX: Final = 2**32 - 1
UINT64_MAX: Final = 2**64 - 1
_INT64_MIN: Final = -(2**63)
_INT64_MAX: Final = 2**63 - 1
_MAX_FLOAT_INTEGER: Final = int(sys.float_info.max)
# The 64-bit maximums have 20 digits. A longer string, which may be in range with leading
# zeros, takes the general path, so `int()` gets no huge string here.
_MAX_DIGITS: Final = 20
_MAX_DEPTH: Final = 32  # array and kvlist values nested deeper take the general path
KINDS: Final = tuple(SpanKindCode)
KIND_NUMBERS: Final = {value.name: value.number for value in Span.DESCRIPTOR.enum_types_by_name["SpanKind"].values}
STATUS_NUMBERS: Final = {
    value.name: value.number for value in Status.DESCRIPTOR.enum_types_by_name["StatusCode"].values
}
MAX_STATUS_CODE: Final = 2  # STATUS_CODE_ERROR
_SEVERITY_NUMBERS: Final = {
    value.name: value.number for value in logs_pb2.DESCRIPTOR.enum_types_by_name["SeverityNumber"].values
}
_MAX_SEVERITY_NUMBER: Final = 24  # SEVERITY_NUMBER_FATAL4


class NotPlainError(Exception):
    """The span needs the general path."""


def decode_plain_span(
    json_span: object, resource: ResourceData, scope: ScopeData, location: Location
) -> SpanData | None:
    """Return the `SpanData` that the general path would give a plain span, or None when it is not plain."""
    if type(json_span) is not dict or not json_span.keys() <= SPAN_KEYS:
        return None
    try:
        return _span(json_span, resource, scope, location)
    except NotPlainError:
        return None


def decode_plain_log(json_log: object, resource: ResourceData, scope: ScopeData, location: Location) -> LogData | None:
    """Return the `LogData` that the general path would give a plain log record, or None when it is not plain."""
    if type(json_log) is not dict or not json_log.keys() <= LOG_KEYS:
        return None
    try:
        return _log(json_log, resource, scope, location)
    except NotPlainError:
        return None


def _span(json_span: dict[str, object], resource: ResourceData, scope: ScopeData, location: Location) -> SpanData:
    get = json_span.get
    code, message = plain_status(get("status"))
    return SpanData(
        location=location,
        resource=resource,
        scope=scope,
        name=plain_string(get("name")),
        trace_id=required_id(get("traceId"), TRACE_ID),
        span_id=required_id(get("spanId"), SPAN_ID),
        parent_span_id=optional_id(get("parentSpanId"), SPAN_ID),
        start_time_unix_nano=unsigned(get("startTimeUnixNano"), UINT64_MAX),
        end_time_unix_nano=unsigned(get("endTimeUnixNano"), UINT64_MAX),
        kind=KINDS[enum_number(get("kind"), KIND_NUMBERS, len(KINDS) - 1)],
        status_code=code,
        status_message=message,
        attributes=_attributes(get("attributes"), 0),
        events=_events(get("events")),
        links=_links(get("links")),
        trace_state=plain_string(get("traceState")),
        flags=unsigned(get("flags"), UINT32_MAX),
        dropped_attributes_count=unsigned(get("droppedAttributesCount"), UINT32_MAX),
        dropped_events_count=unsigned(get("droppedEventsCount"), UINT32_MAX),
        dropped_links_count=unsigned(get("droppedLinksCount"), UINT32_MAX),
    )


def _log(json_log: dict[str, object], resource: ResourceData, scope: ScopeData, location: Location) -> LogData:
    get = json_log.get
    # As in the general path, 0 and "" mean "not set", because protobuf cannot tell them from absent.
    return LogData(
        location=location,
        resource=resource,
        scope=scope,
        time_unix_nano=unsigned(get("timeUnixNano"), UINT64_MAX),
        observed_time_unix_nano=unsigned(get("observedTimeUnixNano"), UINT64_MAX),
        severity_number=enum_number(get("severityNumber"), _SEVERITY_NUMBERS, _MAX_SEVERITY_NUMBER) or None,
        severity_text=plain_string(get("severityText")) or None,
        body=plain_value(get("body"), 0),
        attributes=_attributes(get("attributes"), 0),
        trace_id=optional_id(get("traceId"), TRACE_ID),
        span_id=optional_id(get("spanId"), SPAN_ID),
        flags=unsigned(get("flags"), UINT32_MAX),
        event_name=plain_string(get("eventName")) or None,
        dropped_attributes_count=unsigned(get("droppedAttributesCount"), UINT32_MAX),
    )


def plain_status(json_status: object) -> tuple[int, str]:
    """Decode a Status object into its code and message."""
    if json_status is None:
        return 0, ""
    if type(json_status) is not dict or not json_status.keys() <= STATUS_KEYS:
        raise NotPlainError
    code = enum_number(json_status.get("code"), STATUS_NUMBERS, MAX_STATUS_CODE)
    return code, plain_string(json_status.get("message"))


def _events(json_events: object) -> tuple[EventData, ...]:
    if json_events is None:
        return ()
    if type(json_events) is not list:
        raise NotPlainError

    events: list[EventData] = []
    for json_event in json_events:
        if type(json_event) is not dict or not json_event.keys() <= EVENT_KEYS:
            raise NotPlainError
        get = json_event.get
        event = EventData(
            name=plain_string(get("name")),
            time_unix_nano=unsigned(get("timeUnixNano"), UINT64_MAX),
            attributes=_attributes(get("attributes"), 0),
            dropped_attributes_count=unsigned(get("droppedAttributesCount"), UINT32_MAX),
        )
        events.append(event)
    return tuple(events)


def _links(json_links: object) -> tuple[LinkData, ...]:
    if json_links is None:
        return ()
    if type(json_links) is not list:
        raise NotPlainError

    links: list[LinkData] = []
    for json_link in json_links:
        if type(json_link) is not dict or not json_link.keys() <= LINK_KEYS:
            raise NotPlainError
        get = json_link.get
        link = LinkData(
            trace_id=required_id(get("traceId"), TRACE_ID),
            span_id=required_id(get("spanId"), SPAN_ID),
            attributes=_attributes(get("attributes"), 0),
            trace_state=plain_string(get("traceState")),
            flags=unsigned(get("flags"), UINT32_MAX),
            dropped_attributes_count=unsigned(get("droppedAttributesCount"), UINT32_MAX),
        )
        links.append(link)
    return tuple(links)


# --- attributes ------------------------------------------------------------------------


def _attributes(json_pairs: object, depth: int) -> dict[str, AnyValue]:
    """Decode a list of KeyValue objects. A repeated key is not plain, because it gives a notice."""
    if json_pairs is None:
        return {}
    if type(json_pairs) is not list:
        raise NotPlainError

    attributes: dict[str, AnyValue] = {}
    for json_pair in json_pairs:
        if type(json_pair) is not dict:
            raise NotPlainError
        key = json_pair.get("key")
        json_value = json_pair.get("value")
        # Two keys with "value" set and a string "key" can only be those two, so the common
        # case skips the key set comparison.
        if (len(json_pair) != 2 or json_value is None) and not json_pair.keys() <= PAIR_KEYS:
            raise NotPlainError
        if type(key) is not str or key in attributes:
            raise NotPlainError

        # The Collector writes one member per value. Strings are taken here without a call,
        # and the other values go through `plain_value`.
        if type(json_value) is dict and len(json_value) == 1:
            item = json_value.get("stringValue")
            if type(item) is str:
                attributes[key] = item
                continue
        attributes[key] = plain_value(json_value, depth)
    return attributes


def plain_value(json_value: object, depth: int) -> AnyValue:
    """Decode an AnyValue object. Null members count as unset, as in the protobuf JSON mapping."""
    if json_value is None:
        return None
    if type(json_value) is not dict:
        raise NotPlainError
    if len(json_value) == 1:
        [(key, item)] = json_value.items()
    else:
        key, item = _only_member(json_value)
    if item is None:
        return None

    if key == "stringValue":
        if type(item) is not str:
            raise NotPlainError
        return item
    if key == "intValue":
        return _int64(item)
    if key == "boolValue":
        if type(item) is not bool:
            raise NotPlainError
        return item
    if key == "doubleValue":
        return _double(item)
    return _nested(key, item, depth)


def _only_member(json_value: dict[str, object]) -> tuple[str, object]:
    """Return the one set member of an AnyValue with several keys, or ("", None) when none is set.

    Two set members of the oneof are an error for the general path, so they are not plain.
    """
    if not json_value.keys() <= _VALUE_KEYS:
        raise NotPlainError
    members = [(key, item) for key, item in json_value.items() if item is not None]
    if len(members) > 1:
        raise NotPlainError
    return members[0] if members else ("", None)


def _nested(key: str, item: object, depth: int) -> AnyValue:
    """Decode an array or kvlist value, whose members are lists of AnyValue or KeyValue objects."""
    if depth >= _MAX_DEPTH or type(item) is not dict or not item.keys() <= _LIST_KEYS:
        raise NotPlainError
    json_members = item.get("values")
    if key == "kvlistValue":
        return _attributes(json_members, depth + 1)
    if key != "arrayValue":
        raise NotPlainError  # bytes, string table indexes and unknown keys
    if json_members is None:
        return []
    if type(json_members) is not list:
        raise NotPlainError

    values: list[AnyValue] = []
    for json_member in json_members:
        # A null array member is an error for the general path, not an unset value.
        if type(json_member) is not dict:
            raise NotPlainError
        values.append(plain_value(json_member, depth + 1))
    return values


# --- scalars ---------------------------------------------------------------------------


def plain_string(value: object) -> str:
    """Decode a string field; null means empty."""
    if value is None:
        return ""
    if type(value) is not str:
        raise NotPlainError
    return value


def required_id(value: object, pattern: re.Pattern[str]) -> int:
    """Decode a hexadecimal ID that must be set and not zero."""
    number = optional_id(value, pattern)
    if number == 0:
        raise NotPlainError  # a missing or all-zero ID, which the general path rejects
    return number


def optional_id(value: object, pattern: re.Pattern[str]) -> int:
    """Decode a hexadecimal ID; null, empty and all zeros mean 0."""
    if value is None or value == "":
        return 0
    if type(value) is not str or pattern.fullmatch(value) is None:
        raise NotPlainError
    return int(value, 16)


def unsigned(value: object, maximum: int) -> int:
    """Decode a uint32, fixed32 or fixed64 value written as a number or a string of ASCII digits."""
    if value is None:
        return 0
    if type(value) is str:
        if len(value) > _MAX_DIGITS or not value.isascii() or not value.isdigit():
            raise NotPlainError
        value = int(value)
    elif type(value) is not int:
        raise NotPlainError
    if not 0 <= value <= maximum:
        raise NotPlainError
    return value


def _int64(value: object) -> int:
    if type(value) is str:
        digits = value[1:] if value[:1] == "-" else value
        if len(digits) > _MAX_DIGITS or not digits.isascii() or not digits.isdigit():
            raise NotPlainError
        value = int(value)
    elif type(value) is not int:
        raise NotPlainError
    if not _INT64_MIN <= value <= _INT64_MAX:
        raise NotPlainError
    return value


def _double(value: object) -> float:
    if type(value) is float and math.isfinite(value):
        return value
    if type(value) is int and abs(value) <= _MAX_FLOAT_INTEGER:
        return float(value)
    raise NotPlainError  # strings such as "NaN", and integers beyond a double


def enum_number(value: object, numbers: dict[str, int], maximum: int) -> int:
    """Decode an enum written as a number or a value name. Numbers outside 0 to `maximum` are not plain."""
    if value is None:
        return 0
    if type(value) is str:
        value = numbers.get(value)
    if type(value) is not int or not 0 <= value <= maximum:
        raise NotPlainError
    return value
