"""Read Jaeger JSON: the UI's "Download Results" file and the query API's trace responses.

Accepted shapes, each possibly several times back to back in one file:

- ``{"data": [trace, ...], "total": ..., "errors": ...}``: the query API response
  (``/api/traces``) and the UI's "Download Results" file, which writes only ``data``;
- ``[trace, ...]``: a bare list of traces;
- ``trace``: one trace object.

A trace is ``{"traceID", "spans": [...], "processes": {id: {"serviceName", "tags"}}, "warnings"}``.
Span and log times are integer microseconds since the epoch, and tags are
``{"key", "type", "value"}`` with the types string, bool, int64 (a number, or a string beyond
2^53), float64 and binary (base64, as Go's encoding/json writes byte slices).

The mapping is the reverse of the OpenTelemetry Collector's OTLP-to-Jaeger translation:

| in the file | sent as |
| --- | --- |
| ``traceID``, ``spanID`` (16 hex digits for 64-bit IDs, or fewer) | the same IDs, left-padded with zeros |
| first ``CHILD_OF`` reference within the same trace (else ``parentSpanID``) | the parent span ID |
| other references | links with ``opentracing.ref_type`` = ``child_of`` or ``follows_from`` |
| ``startTime``, ``duration``, log ``timestamp`` (microseconds) | nanoseconds, exactly |
| tag ``span.kind`` | the span kind |
| tags ``error=true``, ``otel.status_code``, ``otel.status_description`` | the status code and message |
| tags ``otel.scope.name``/``version`` (older ``otel.library.name``/``version``) | the scope |
| tag ``w3c.tracestate`` | the trace state |
| tags ``otel.dropped_{attributes,events,links}_count`` | the dropped counts |
| other tags | span attributes of the same type; binary as bytes |
| ``logs`` | events, named by their ``event`` field, or else their ``message`` field |
| the span's process (``serviceName`` and tags) | the resource: ``service.name`` and the tags |
| ``flags`` | the sampled bit; other bits are reported and not sent |
| ``warnings``, query ``errors`` | warnings |

The special tags are consumed only when their value is one the translation writes, so an
unexpected value stays an attribute instead of being lost.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Final

from otel_replay.errors import InputError, NotTelemetryError, RecordError
from otel_replay.formats.compression import open_binary
from otel_replay.formats.jsonstream import JsonSyntaxError, JsonValueStream
from otel_replay.formats.limits import as_record_error
from otel_replay.model import (
    AnyValue,
    EventData,
    Item,
    LinkData,
    Location,
    Notice,
    ResourceData,
    ScopeData,
    Signal,
    Skipped,
    SpanData,
    SpanKindCode,
)
from otel_replay.values import NANOS_PER_MICROSECOND, decode_text, decode_value, json_type, show, to_unix_nano

__all__ = ["NAME", "read", "sniff"]

NAME: Final = "jaeger"

_BOM: Final = rb"(?:\xef\xbb\xbf)?"
_SNIFF_START: Final = re.compile(_BOM + rb"\s*[\[{]")
# Jaeger spells the ID keys "traceID" and "spanID", where OTLP/JSON, Zipkin and CodeMachine write "traceId".
_SNIFF_KEYS: Final = (
    re.compile(rb'"traceID"\s*:\s*"'),
    re.compile(rb'"spanID"\s*:\s*"'),
    re.compile(rb'"operationName"\s*:'),
)
# A query API response without traces is still a Jaeger file, with nothing to send.
_SNIFF_EMPTY_RESPONSE: Final = re.compile(_BOM + rb'\s*\{\s*"data"\s*:\s*(?:\[\s*\]|null)\s*,\s*"total"\s*:')

_DECODER: Final = json.JSONDecoder(parse_float=Decimal)
_HEX: Final = re.compile(r"[0-9a-fA-F]+")
_INTEGER: Final = re.compile(r"-?[0-9]+")
_INVALID: Final = "invalid"
_HINT: Final = "Fix or remove this record to send it; the other records are sent."
_EMPTY_SCOPE: Final = ScopeData()

_CHILD_OF: Final = "CHILD_OF"
_FOLLOWS_FROM: Final = "FOLLOWS_FROM"
_REF_TYPE_ATTRIBUTE: Final = "opentracing.ref_type"  # semantic convention for links from OpenTracing references
_REF_TYPE_VALUES: Final = {_CHILD_OF: "child_of", _FOLLOWS_FROM: "follows_from"}
_SPAN_KINDS: Final = {
    "client": SpanKindCode.CLIENT,
    "server": SpanKindCode.SERVER,
    "producer": SpanKindCode.PRODUCER,
    "consumer": SpanKindCode.CONSUMER,
    "internal": SpanKindCode.INTERNAL,
}
_STATUS_CODES: Final = {"UNSET": 0, "OK": 1, "ERROR": 2}
_DROPPED_COUNT_TAGS: Final = (
    "otel.dropped_attributes_count",
    "otel.dropped_events_count",
    "otel.dropped_links_count",
)
_SAMPLED: Final = 0x1  # Jaeger's sampled flag has the same bit as the W3C sampled trace flag


def sniff(head: bytes) -> bool:
    """Tell from the first bytes of a file whether it looks like Jaeger JSON."""
    if _SNIFF_EMPTY_RESPONSE.match(head) is not None:
        return True
    if _SNIFF_START.match(head) is None:
        return False
    return all(pattern.search(head) is not None for pattern in _SNIFF_KEYS)


def read(path: Path) -> Iterator[Item]:
    """Yield the spans of one Jaeger JSON file, one trace in memory at a time.

    Raises:
        NotTelemetryError: the file is JSON but not Jaeger traces.
        InputError: the file cannot be read or is not valid JSON. A truncated file yields
            its complete spans first.
    """
    reader = _Reader(path)
    try:
        with open_binary(path) as file:
            yield from reader.read_documents(JsonValueStream(file))
    except JsonSyntaxError as error:
        raise InputError(path, reader.describe_syntax_error(error)) from error
    except (OSError, EOFError) as error:
        raise InputError(path, f"cannot read or decompress the file: {error}") from error


# --- streaming JSON --------------------------------------------------------------------


class _Reader:
    """Reads the documents of one file, counting spans in file order for error locations."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.index = 0  # the next span's position among all spans of the file
        self.yielded = False
        self.documents = 0
        self.resources: dict[str, ResourceData] = {}  # by the process's JSON, shared across traces
        self.scopes: dict[tuple[str, str], ScopeData] = {}

    def read_documents(self, stream: JsonValueStream) -> Iterator[Item]:
        while True:
            char = stream.peek()
            if not char:
                if not self.documents:
                    raise NotTelemetryError(self.path, "not Jaeger JSON: the file contains no JSON value")
                return
            self.documents += 1
            if char == "[":
                yield from self._read_trace_list(stream, "")
            elif char == "{":
                yield from self._read_object(stream)
            else:
                self._not_jaeger(f"expected a JSON object or array, found {char!r}")

    def describe_syntax_error(self, error: JsonSyntaxError) -> str:
        if error.truncated:
            return (
                f"the file ends in the middle of a JSON value ({error.message}): it looks truncated; "
                f"the {self.index} span(s) before the cut were read"
            )
        return f"invalid JSON ({error.message}); the {self.index} span(s) before it were read"

    def _read_trace_list(self, stream: JsonValueStream, prefix: str) -> Iterator[Item]:
        stream.begin("[")
        number = 0
        while stream.has_next("]"):
            yield from self._read_trace(stream.value(), f"{prefix}[{number}]")
            number += 1

    def _read_object(self, stream: JsonValueStream) -> Iterator[Item]:
        stream.begin("{")
        members: dict[str, object] = {}
        has_data = False
        while stream.has_next("}"):
            key = stream.key()
            if key == "data" and stream.peek() == "[":
                has_data = True
                yield from self._read_trace_list(stream, "data")
            else:
                members[key] = stream.value()

        if not has_data and "spans" in members:
            yield from self._read_trace(members, "")
        elif not has_data and members.get("data", []) is not None:
            self._not_jaeger('expected a "data" array of traces or a trace object with "spans"')
        yield from self._query_errors(members.get("errors"))

    def _not_jaeger(self, message: str) -> None:
        if not self.yielded:
            raise NotTelemetryError(self.path, f"not Jaeger JSON: {message}")
        raise InputError(self.path, f"a later JSON document in the file is not Jaeger JSON: {message}")

    def _query_errors(self, json_errors: object) -> Iterator[Notice]:
        if not isinstance(json_errors, list):
            return
        for number, json_error in enumerate(json_errors):
            message = json_error.get("msg") if isinstance(json_error, dict) else json_error
            trace_id = json_error.get("traceID") if isinstance(json_error, dict) else None
            about = f" for trace {trace_id}" if trace_id else ""
            yield Notice(
                Location(self.path, None, f"errors[{number}]"), f"the Jaeger query reported an error{about}: {message}"
            )

    def _read_trace(self, json_trace: object, trace_field: str) -> Iterator[Item]:
        if not self.yielded and not (isinstance(json_trace, dict) and "spans" in json_trace):
            self._not_jaeger('expected a trace object with "spans"')
        if not isinstance(json_trace, dict):
            error = RecordError(
                trace_field or "(trace)", f"expected a JSON object for the trace, got {json_type(json_trace)}"
            )
            yield self._skip(error)
            self.index += 1
            return

        json_spans = json_trace.get("spans")
        if not isinstance(json_spans, list):
            yield self._skip(RecordError(_join(trace_field, "spans"), "missing or not an array of spans"))
            self.index += 1
            return

        yield from self._trace_warnings(json_trace.get("warnings"), trace_field)
        trace = _Trace(trace_field, json_trace.get("processes"))
        for number, json_span in enumerate(json_spans):
            yield from self._read_span(trace, number, json_span)
            self.index += 1

    def _trace_warnings(self, json_warnings: object, trace_field: str) -> Iterator[Notice]:
        if not isinstance(json_warnings, list):
            return
        for number, warning in enumerate(json_warnings):
            location = Location(self.path, None, _join(trace_field, f"warnings[{number}]"))
            yield Notice(location, f"Jaeger recorded a warning for this trace: {warning}")

    def _read_span(self, trace: _Trace, number: int, json_span: object) -> Iterator[Item]:
        where = _Where(self.path, self.index, _join(trace.field, f"spans[{number}]"))
        notices: list[Notice] = []
        try:
            span = _require_object(json_span, "span", where.prefix)
            resource = self._resource(trace, span, where, notices)
        except (RecordError, RecursionError) as error:
            yield self._skip(as_record_error(error))  # these errors name the field from the document's root
            return

        try:
            record = self._decode_span(span, resource, where, notices)
        except (RecordError, RecursionError) as caught:
            record_error = as_record_error(caught)
            yield self._skip(RecordError(where.field(record_error.field), record_error.message))
            return
        self.yielded = True
        yield record
        yield from notices

    def _skip(self, error: RecordError) -> Skipped:
        self.yielded = True
        location = Location(self.path, self.index, error.field)
        return Skipped(Signal.TRACES, location, _INVALID, f"{error.message}. {_HINT}")

    # --- resources -----------------------------------------------------------------------

    def _resource(
        self, trace: _Trace, span: Mapping[str, object], where: _Where, notices: list[Notice]
    ) -> ResourceData:
        process_id = span.get("processID")
        embedded = span.get("process")
        if process_id is None and isinstance(embedded, dict):
            # Jaeger's storage format embeds the process in each span instead of a processes map.
            return self._decode_process(embedded, where.field("process"), where, notices)

        if not isinstance(process_id, str):
            raise RecordError(where.field("processID"), "missing or not a string")
        cached = trace.resources.get(process_id)
        if cached is not None:
            return cached

        if trace.processes is None:
            msg = 'missing or not an object; each span needs its "processID" in it'
            raise RecordError(_join(trace.field, "processes"), msg)
        json_process = trace.processes.get(process_id)
        if json_process is None:
            msg = f"process {process_id!r} is not in the trace's processes"
            raise RecordError(where.field("processID"), msg)
        process_field = _join(trace.field, f"processes[{json.dumps(process_id)}]")
        resource = self._decode_process(json_process, process_field, where, notices)
        trace.resources[process_id] = resource
        return resource

    def _decode_process(self, json_process: object, field: str, where: _Where, notices: list[Notice]) -> ResourceData:
        key = json.dumps(json_process, default=str)
        cached = self.resources.get(key)
        if cached is not None:
            return cached

        process = _require_object(json_process, "process", field)
        service_name = process.get("serviceName")
        if not isinstance(service_name, str):
            raise RecordError(f"{field}.serviceName", "missing or not a string")

        process_where = _Where(where.path, where.index, "")
        attributes: dict[str, AnyValue] = {
            "service.name": decode_text(service_name, process_where.at(f"{field}.serviceName"), notices)
        }
        attributes.update(_decode_key_values(process.get("tags"), f"{field}.tags", process_where, notices))
        resource = ResourceData(attributes)
        self.resources[key] = resource
        return resource

    # --- spans ---------------------------------------------------------------------------

    def _decode_span(
        self, span: Mapping[str, object], resource: ResourceData, where: _Where, notices: list[Notice]
    ) -> SpanData:
        trace_id = _decode_id(span.get("traceID"), "traceID", 32)
        span_id = _decode_id(span.get("spanID"), "spanID", 16)
        name = _optional_str(span, "operationName")
        start = to_unix_nano(_require_number(span, "startTime"), NANOS_PER_MICROSECOND, "startTime")
        duration = to_unix_nano(_require_number(span, "duration"), NANOS_PER_MICROSECOND, "duration")
        parent_span_id, links = _decode_references(span.get("references"), trace_id)
        if not parent_span_id:
            parent_span_id = _decode_parent_span_id(span.get("parentSpanID"))
        flags = _decode_flags(span.get("flags"), where, notices)

        attributes = _decode_key_values(span.get("tags"), "tags", where, notices)
        kind = _take_span_kind(attributes)
        status_code, status_message = _take_status(attributes)
        scope = self._scope(*_take_scope(attributes))
        trace_state = _take_str(attributes, "w3c.tracestate")
        dropped = [_take_count(attributes, key) for key in _DROPPED_COUNT_TAGS]
        events = _decode_logs(span.get("logs"), where, notices)
        notices.extend(_span_warnings(span.get("warnings"), where))

        return SpanData(
            location=Location(where.path, where.index),
            resource=resource,
            scope=scope,
            name=decode_text(name, where.at("operationName"), notices),
            trace_id=trace_id,
            span_id=span_id,
            parent_span_id=parent_span_id,
            start_time_unix_nano=start,
            end_time_unix_nano=start + duration,
            kind=kind,
            status_code=status_code,
            status_message=status_message,
            attributes=attributes,
            events=events,
            links=links,
            trace_state=trace_state,
            flags=flags,
            dropped_attributes_count=dropped[0],
            dropped_events_count=dropped[1],
            dropped_links_count=dropped[2],
        )

    def _scope(self, name: str, version: str) -> ScopeData:
        if not name and not version:
            return _EMPTY_SCOPE
        scope = self.scopes.get((name, version))
        if scope is None:
            scope = ScopeData(name, version)
            self.scopes[name, version] = scope
        return scope


class _Trace:
    """One trace's processes, and the resources decoded from them so far."""

    def __init__(self, field: str, json_processes: object) -> None:
        self.field = field
        self.processes = json_processes if isinstance(json_processes, dict) else None
        self.resources: dict[str, ResourceData] = {}


class _Where:
    """The position of a span in the file: the path, its record index and its field path."""

    def __init__(self, path: Path, index: int, prefix: str) -> None:
        self.path = path
        self.index = index
        self.prefix = prefix

    def field(self, relative: str) -> str:
        return _join(self.prefix, relative)

    def at(self, relative: str) -> Location:
        return Location(self.path, self.index, self.field(relative))


def _join(prefix: str, field: str) -> str:
    if not prefix:
        return field
    return f"{prefix}{field}" if field.startswith("[") else f"{prefix}.{field}"


# --- span fields -------------------------------------------------------------------------


def _decode_id(value: object, field: str, max_digits: int) -> int:
    # Jaeger writes 64-bit trace IDs as 16 digits, and its older JSON fixtures have IDs without
    # leading zeros, such as "2", so any length up to the maximum is read and left-padded.
    if not isinstance(value, str):
        raise RecordError(field, f"missing or not a string; expected up to {max_digits} hexadecimal digits")
    if not 1 <= len(value) <= max_digits or _HEX.fullmatch(value) is None:
        raise RecordError(field, f"invalid ID {value!r}: expected 1 to {max_digits} hexadecimal digits")
    number = int(value, 16)
    if number == 0:
        raise RecordError(field, f"invalid ID {value!r}: an all-zero ID is not valid in OpenTelemetry")
    return number


def _decode_parent_span_id(value: object) -> int:
    if value is None or value == "" or (isinstance(value, str) and set(value) == {"0"}):
        return 0
    return _decode_id(value, "parentSpanID", 16)


def _decode_references(json_references: object, trace_id: int) -> tuple[int, tuple[LinkData, ...]]:
    if json_references is None:
        return 0, ()
    if not isinstance(json_references, list):
        raise RecordError("references", f"expected an array, got {json_type(json_references)}")

    parent_span_id = 0
    links = []
    for number, json_reference in enumerate(json_references):
        field = f"references[{number}]"
        reference = _require_object(json_reference, "reference", field)
        ref_type = reference.get("refType")
        if not isinstance(ref_type, str) or ref_type not in _REF_TYPE_VALUES:
            msg = f"unknown reference type {show(ref_type)}: expected {_CHILD_OF} or {_FOLLOWS_FROM}"
            raise RecordError(f"{field}.refType", msg)
        ref_trace_id = _decode_id(reference.get("traceID"), f"{field}.traceID", 32)
        ref_span_id = _decode_id(reference.get("spanID"), f"{field}.spanID", 16)

        if ref_type == _CHILD_OF and not parent_span_id and ref_trace_id == trace_id:
            parent_span_id = ref_span_id
            continue
        links.append(LinkData(ref_trace_id, ref_span_id, {_REF_TYPE_ATTRIBUTE: _REF_TYPE_VALUES[ref_type]}))
    return parent_span_id, tuple(links)


def _decode_flags(value: object, where: _Where, notices: list[Notice]) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise RecordError("flags", f"expected a non-negative integer, got {show(value)}")
    other_bits = value & ~_SAMPLED
    if other_bits:
        msg = (
            f"Jaeger flags 0x{value:x}: bits 0x{other_bits:x} have no OTLP equivalent (0x2 is Jaeger's "
            "debug flag), so only the sampled bit is sent"
        )
        notices.append(Notice(where.at("flags"), msg))
    return value & _SAMPLED


def _decode_logs(json_logs: object, where: _Where, notices: list[Notice]) -> tuple[EventData, ...]:
    if json_logs is None:
        return ()
    if not isinstance(json_logs, list):
        raise RecordError("logs", f"expected an array, got {json_type(json_logs)}")

    events = []
    for number, json_log in enumerate(json_logs):
        field = f"logs[{number}]"
        log = _require_object(json_log, "log", field)
        time = to_unix_nano(_require_number(log, "timestamp", field), NANOS_PER_MICROSECOND, f"{field}.timestamp")
        attributes = _decode_key_values(log.get("fields"), f"{field}.fields", where, notices)
        # The OpenTelemetry translation writes the event name as the "event" field, but
        # OpenTracing logs often carry only a "message".
        name = _take_str(attributes, "event") or _take_str(attributes, "message")
        events.append(EventData(name, time, attributes))
    return tuple(events)


def _span_warnings(json_warnings: object, where: _Where) -> list[Notice]:
    if not isinstance(json_warnings, list):
        return []
    return [
        Notice(where.at(f"warnings[{number}]"), f"Jaeger recorded a warning for this span: {warning}")
        for number, warning in enumerate(json_warnings)
    ]


# --- tags --------------------------------------------------------------------------------


def _decode_key_values(json_tags: object, field: str, where: _Where, notices: list[Notice]) -> dict[str, AnyValue]:
    if json_tags is None:
        return {}
    if not isinstance(json_tags, list):
        raise RecordError(field, f"expected an array of {{key, type, value}} objects, got {json_type(json_tags)}")

    attributes: dict[str, AnyValue] = {}
    for number, json_tag in enumerate(json_tags):
        tag_field = f"{field}[{number}]"
        tag = _require_object(json_tag, "tag", tag_field)
        key = tag.get("key")
        if not isinstance(key, str):
            raise RecordError(f"{tag_field}.key", "missing or not a string")
        clean_key = decode_text(key, where.at(f"{tag_field}.key"), notices)
        attributes[clean_key] = _decode_typed_value(tag, tag_field, where, notices)
    return attributes


def _decode_typed_value(tag: Mapping[str, object], field: str, where: _Where, notices: list[Notice]) -> AnyValue:
    value_type = tag.get("type")
    value = tag.get("value")
    value_field = f"{field}.value"
    location = where.at(value_field)

    if value_type is None:
        return decode_value(value, location, notices)
    if value_type == "string" and isinstance(value, str):
        return decode_text(value, location, notices)
    if value_type == "bool":
        return _decode_bool(value, value_field)
    if value_type == "int64":
        return decode_value(_decode_int(value, value_field), location, notices)
    if value_type == "float64":
        return _decode_float(value, value_field)
    if value_type == "binary" and isinstance(value, str):
        return _decode_binary(value, location, notices)
    if value_type in ("string", "binary"):
        raise RecordError(value_field, f"expected a string for type {value_type}, got {json_type(value)}")
    msg = f"unknown tag type {show(value_type)}: expected string, bool, int64, float64 or binary"
    raise RecordError(f"{field}.type", msg)


def _decode_bool(value: object, field: str) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise RecordError(field, f"expected true or false for type bool, got {show(value)}")


def _decode_int(value: object, field: str) -> int:
    # Jaeger writes integers beyond JavaScript's 2^53 as decimal strings.
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _INTEGER.fullmatch(value):
        return int(value)
    raise RecordError(field, f"expected an integer for type int64, got {show(value)}")


def _decode_float(value: object, field: str) -> float:
    if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    raise RecordError(field, f"expected a number for type float64, got {show(value)}")


def _decode_binary(value: str, location: Location, notices: list[Notice]) -> AnyValue:
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error:
        notices.append(Notice(location, "binary value is not valid base64, so it is sent as the string written"))
        return decode_text(value, location, notices)


# --- special tags ------------------------------------------------------------------------


def _take_span_kind(attributes: dict[str, AnyValue]) -> SpanKindCode:
    value = attributes.get("span.kind")
    kind = _SPAN_KINDS.get(value.lower()) if isinstance(value, str) else None
    if kind is None:
        return SpanKindCode.INTERNAL
    del attributes["span.kind"]
    return kind


def _take_status(attributes: dict[str, AnyValue]) -> tuple[int, str]:
    code = 0
    # The error tag wins over otel.status_code, as in the Collector's Jaeger receiver.
    error = attributes.get("error")
    if error is True or error == "true":
        del attributes["error"]
        code = _STATUS_CODES["ERROR"]

    status_code = attributes.get("otel.status_code")
    if isinstance(status_code, str) and status_code.upper() in _STATUS_CODES:
        del attributes["otel.status_code"]
        code = code or _STATUS_CODES[status_code.upper()]

    if not code:
        return 0, ""
    return code, _take_str(attributes, "otel.status_description")


def _take_scope(attributes: dict[str, AnyValue]) -> tuple[str, str]:
    name = _take_str(attributes, "otel.scope.name")
    version = _take_str(attributes, "otel.scope.version")
    legacy_name = attributes.get("otel.library.name")
    legacy_version = attributes.get("otel.library.version")
    if not name and not version:
        return _take_str(attributes, "otel.library.name"), _take_str(attributes, "otel.library.version")

    # Some exporters write both spellings, so the older one is dropped when its value matches.
    if legacy_name == name:
        attributes.pop("otel.library.name", None)
    if legacy_version == version:
        attributes.pop("otel.library.version", None)
    return name, version


def _take_str(attributes: dict[str, AnyValue], key: str) -> str:
    value = attributes.get(key)
    if not isinstance(value, str):
        return ""
    del attributes[key]
    return value


def _take_count(attributes: dict[str, AnyValue], key: str) -> int:
    value = attributes.get(key)
    if isinstance(value, str) and _INTEGER.fullmatch(value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**32:
        return 0
    del attributes[key]
    return value


# --- helpers -----------------------------------------------------------------------------


def _require_object(value: object, what: str, field: str) -> dict[str, object]:
    if not isinstance(value, dict):
        raise RecordError(field, f"expected a JSON object for the {what}, got {json_type(value)}")
    return value


def _require_number(record: Mapping[str, object], key: str, prefix: str = "") -> int | Decimal:
    value = record.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        field = f"{prefix}.{key}" if prefix else key
        raise RecordError(field, f"missing or not a number; expected microseconds, got {show(value)}")
    return value


def _optional_str(record: Mapping[str, object], key: str) -> str:
    value = record.get(key, "")
    if not isinstance(value, str):
        raise RecordError(key, f"expected a string, got {json_type(value)}")
    return value
