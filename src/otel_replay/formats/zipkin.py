"""Read Zipkin v2 JSON: span lists as the Zipkin API and the OpenTelemetry Zipkin exporters write them.

Accepted shapes: a JSON array of spans (``POST /api/v2/spans``, ``GET /api/v2/trace/{id}``), an
array of such arrays (``GET /api/v2/traces``), several arrays back to back, or one span object
per line.

The mapping reverses the OpenTelemetry specification's OTLP-to-Zipkin transformation, and
follows the OpenTelemetry Collector's Zipkin receiver where the specification leaves a field
open (local endpoint, shared, debug):

| in the file | sent as |
| --- | --- |
| ``traceId`` (16 or 32 hex digits), ``id``, ``parentId`` | the same IDs, left-padded with zeros |
| ``kind`` CLIENT, SERVER, PRODUCER, CONSUMER; absent or null | the same kind; INTERNAL |
| ``timestamp``, ``duration``, annotation ``timestamp`` (microseconds) | nanoseconds, exactly |
| ``localEndpoint.serviceName`` | the resource's ``service.name`` |
| tags named like resource attributes (``service.*``, ``telemetry.*``, ``host.*`` ...) | resource attributes |
| ``localEndpoint`` ``ipv4``/``ipv6``, ``port`` | ``net.host.ip``, ``net.host.port`` |
| ``remoteEndpoint`` ``serviceName``, ``ipv4``/``ipv6``, ``port`` | ``peer.service``, ``net.peer.ip``/``port`` |
| tags ``otel.status_code`` and ``error`` | the status code, and the ``error`` value as its message |
| tags ``otel.scope.name``/``version`` (older ``otel.library.name``/``version``) | the scope |
| tags ``w3c.tracestate``, ``otel.dropped_*_count`` | the trace state, the dropped counts |
| other tags | string attributes, as written (Zipkin tags are strings) |
| annotations with the value ``{"name": {attributes}}`` | events with typed attributes |
| other annotations | events named by the value |
| ``debug`` | the sampled trace flag |
| ``shared`` | a warning: OTLP has no shared span IDs |

Zipkin has no links and no trace state field, and the OpenTelemetry exporters write the
resource attributes into every span's tags, so only tags named like resource attributes are
moved back to the resource.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
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
    Location,
    Notice,
    ResourceData,
    ScopeData,
    Signal,
    Skipped,
    SpanData,
    SpanKindCode,
)
from otel_replay.values import NANOS_PER_MICROSECOND, decode_attributes, decode_text, json_type, show, to_unix_nano

__all__ = ["NAME", "read", "sniff"]

NAME: Final = "zipkin"

_BOM: Final = rb"(?:\xef\xbb\xbf)?"
_SNIFF_START: Final = re.compile(_BOM + rb"\s*[\[{]")
_SNIFF_TRACE_ID: Final = re.compile(rb'"traceId"\s*:\s*"[0-9a-fA-F]{1,32}"')
_SNIFF_ID: Final = re.compile(rb'"id"\s*:\s*"[0-9a-fA-F]{1,16}"')
# OTLP/JSON and CodeMachine also write "traceId", but with "spanId". Zipkin v1 has binaryAnnotations.
_SNIFF_OTHER_FORMAT: Final = re.compile(rb'"(?:spanId|resourceSpans|resourceLogs|resourceMetrics|binaryAnnotations)"')

_DECODER: Final = json.JSONDecoder(parse_float=Decimal)
_HEX: Final = re.compile(r"[0-9a-fA-F]+")
_INTEGER: Final = re.compile(r"[0-9]+")
_INVALID: Final = "invalid"
_HINT: Final = "Fix or remove this record to send it; the other records are sent."
_EMPTY_SCOPE: Final = ScopeData()

_KINDS: Final = {
    "CLIENT": SpanKindCode.CLIENT,
    "SERVER": SpanKindCode.SERVER,
    "PRODUCER": SpanKindCode.PRODUCER,
    "CONSUMER": SpanKindCode.CONSUMER,
}
_STATUS_OK: Final = 1
_STATUS_ERROR: Final = 2
_STATUS_CODES: Final = {"OK": _STATUS_OK, "ERROR": _STATUS_ERROR}
_DROPPED_COUNT_TAGS: Final = (
    "otel.dropped_attributes_count",
    "otel.dropped_events_count",
    "otel.dropped_links_count",
)
# Namespaces that the semantic conventions define for resources only. The OpenTelemetry Zipkin
# exporters copy the resource attributes into each span's tags, and these move back.
# NOTE: a span attribute in one of these namespaces moves to the resource too, as in the Collector.
_RESOURCE_PREFIXES: Final = (
    "service.",
    "telemetry.",
    "host.",
    "os.",
    "process.",
    "container.",
    "k8s.",
    "cloud.",
    "deployment.",
    "device.",
    "webengine.",
)
_SAMPLED: Final = 0x1
_SHARED_MESSAGE: Final = (
    "the span shares its ID with the client span of the same call, which OTLP cannot express; "
    "if both are in the input, only the first is sent unless --no-dedupe is given"
)


def sniff(head: bytes) -> bool:
    """Tell from the first bytes of a file whether it looks like Zipkin v2 JSON."""
    if _SNIFF_START.match(head) is None or _SNIFF_OTHER_FORMAT.search(head) is not None:
        return False
    return _SNIFF_TRACE_ID.search(head) is not None and _SNIFF_ID.search(head) is not None


def read(path: Path) -> Iterator[Item]:
    """Yield the spans of one Zipkin v2 JSON file, one span in memory at a time.

    Raises:
        NotTelemetryError: the file is JSON but not Zipkin spans.
        InputError: the file cannot be read or is not valid JSON. A truncated file yields
            its complete spans first.
    """
    reader = _Reader(path)
    try:
        with open_binary(path) as file:
            yield from reader.read_values(JsonValueStream(file))
    except JsonSyntaxError as error:
        raise InputError(path, reader.describe_syntax_error(error)) from error
    except (OSError, EOFError) as error:
        raise InputError(path, f"cannot read or decompress the file: {error}") from error


@dataclass(frozen=True, slots=True)
class _Endpoint:
    service_name: str | None
    ipv4: str | None
    ipv6: str | None
    port: int | None


class _Reader:
    """Reads the spans of one file, counting them in file order for error locations."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.index = 0
        self.resources: dict[str, ResourceData] = {}
        self.scopes: dict[tuple[str, str], ScopeData] = {}

    def read_values(self, stream: JsonValueStream) -> Iterator[Item]:
        while True:
            char = stream.peek()
            if not char:
                if not self.index:
                    raise NotTelemetryError(self.path, "not Zipkin JSON: the file contains no span")
                return
            if char == "{":
                yield from self._read_span(stream.value())
            elif char == "[":
                yield from self._read_array(stream, nested=False)
            else:
                self._not_zipkin(f"expected a JSON array or object, found {char!r}")

    def describe_syntax_error(self, error: JsonSyntaxError) -> str:
        if error.truncated:
            return (
                f"the file ends in the middle of a JSON value ({error.message}): it looks truncated; "
                f"the {self.index} span(s) before the cut were read"
            )
        return f"invalid JSON ({error.message}); the {self.index} span(s) before it were read"

    def _read_array(self, stream: JsonValueStream, *, nested: bool) -> Iterator[Item]:
        stream.begin("[")
        while stream.has_next("]"):
            # GET /api/v2/traces returns one array of spans per trace.
            if not nested and stream.peek() == "[":
                yield from self._read_array(stream, nested=True)
            else:
                yield from self._read_span(stream.value())

    def _not_zipkin(self, message: str) -> None:
        if not self.index:
            raise NotTelemetryError(self.path, f"not Zipkin JSON: {message}")
        raise InputError(self.path, f"a later JSON value in the file is not Zipkin JSON: {message}")

    def _read_span(self, json_span: object) -> Iterator[Item]:
        if not self.index and not (isinstance(json_span, dict) and "traceId" in json_span and "id" in json_span):
            self._not_zipkin('expected span objects with "traceId" and "id"')

        index = self.index
        self.index += 1
        notices: list[Notice] = []
        try:
            span = self._decode_span(json_span, index, notices)
        except (RecordError, RecursionError) as caught:
            error = as_record_error(caught)
            location = Location(self.path, index, error.field)
            yield Skipped(Signal.TRACES, location, _INVALID, f"{error.message}. {_HINT}")
            return
        yield span
        yield from notices

    def _decode_span(self, json_span: object, index: int, notices: list[Notice]) -> SpanData:
        if not isinstance(json_span, dict):
            raise RecordError("(span)", f"expected a JSON object for the span, got {json_type(json_span)}")
        span: dict[str, object] = json_span
        location = Location(self.path, index)

        trace_id = _decode_id(span.get("traceId"), "traceId", 32)
        span_id = _decode_id(span.get("id"), "id", 16)
        parent_span_id = _decode_parent_id(span.get("parentId"))
        if parent_span_id == span_id:
            notices.append(Notice(_at(location, "parentId"), "the span names itself as its parent; sent as a root"))
            parent_span_id = 0
        name = decode_text(_optional_str(span, "name"), _at(location, "name"), notices)
        kind = _decode_kind(span.get("kind"))
        start = to_unix_nano(_require_number(span, "timestamp"), NANOS_PER_MICROSECOND, "timestamp")
        duration = _decode_duration(span.get("duration"), location, notices)
        flags = _SAMPLED if _optional_bool(span, "debug") else 0
        if _optional_bool(span, "shared"):
            notices.append(Notice(_at(location, "shared"), _SHARED_MESSAGE))

        tags = decode_attributes(span.get("tags"), _at(location, "tags"), notices)
        local = _decode_endpoint(span.get("localEndpoint"), "localEndpoint")
        remote = _decode_endpoint(span.get("remoteEndpoint"), "remoteEndpoint")
        resource = self._resource(local.service_name if local else None, _take_resource_tags(tags))
        scope = self._scope(*_take_scope(tags))
        status_code, status_message = _take_status(tags)
        trace_state = _take_text(tags, "w3c.tracestate") or ""
        dropped = [_take_count(tags, key) for key in _DROPPED_COUNT_TAGS]
        _add_endpoint_attributes(tags, local, remote, location, notices)
        events = _decode_annotations(span.get("annotations"), location, notices)

        return SpanData(
            location=location,
            resource=resource,
            scope=scope,
            name=name,
            trace_id=trace_id,
            span_id=span_id,
            parent_span_id=parent_span_id,
            start_time_unix_nano=start,
            end_time_unix_nano=start + duration,
            kind=kind,
            status_code=status_code,
            status_message=status_message,
            attributes=tags,
            events=events,
            trace_state=trace_state,
            flags=flags,
            dropped_attributes_count=dropped[0],
            dropped_events_count=dropped[1],
            dropped_links_count=dropped[2],
        )

    def _resource(self, service_name: str | None, resource_tags: dict[str, AnyValue]) -> ResourceData:
        attributes: dict[str, AnyValue] = {}
        if service_name:
            attributes["service.name"] = service_name
        # A service.name tag keeps its original case, which Zipkin servers lower-case in serviceName.
        attributes.update(resource_tags)

        key = json.dumps(list(attributes.items()), default=str)
        resource = self.resources.get(key)
        if resource is None:
            resource = ResourceData(attributes)
            self.resources[key] = resource
        return resource

    def _scope(self, name: str, version: str) -> ScopeData:
        if not name and not version:
            return _EMPTY_SCOPE
        scope = self.scopes.get((name, version))
        if scope is None:
            scope = ScopeData(name, version)
            self.scopes[name, version] = scope
        return scope


# --- span fields -------------------------------------------------------------------------


def _decode_id(value: object, field: str, max_digits: int) -> int:
    # Zipkin writes 16 or 32 digits, and its own parser also accepts fewer and left-pads them.
    if not isinstance(value, str):
        raise RecordError(field, f"missing or not a string; expected up to {max_digits} hexadecimal digits")
    if not 1 <= len(value) <= max_digits or _HEX.fullmatch(value) is None:
        raise RecordError(field, f"invalid ID {value!r}: expected 1 to {max_digits} hexadecimal digits")
    number = int(value, 16)
    if number == 0:
        raise RecordError(field, f"invalid ID {value!r}: an all-zero ID is not valid in OpenTelemetry")
    return number


def _decode_parent_id(value: object) -> int:
    if value is None or value == "" or (isinstance(value, str) and set(value) == {"0"}):
        return 0
    return _decode_id(value, "parentId", 16)


def _decode_kind(value: object) -> SpanKindCode:
    # The OpenTelemetry mapping writes INTERNAL spans with the kind omitted or null.
    if value is None:
        return SpanKindCode.INTERNAL
    kind = _KINDS.get(value) if isinstance(value, str) else None
    if kind is None:
        raise RecordError("kind", f"invalid kind {show(value)}: expected CLIENT, SERVER, PRODUCER, CONSUMER or null")
    return kind


def _decode_duration(value: object, location: Location, notices: list[Notice]) -> int:
    if value is None:
        # Zipkin allows a span without a duration, such as one still in progress when recorded.
        message = "missing; the span is sent with its end time equal to its start time"
        notices.append(Notice(_at(location, "duration"), message))
        return 0
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        raise RecordError("duration", f"expected a number of microseconds, got {show(value)}")
    return to_unix_nano(value, NANOS_PER_MICROSECOND, "duration")


def _decode_endpoint(value: object, field: str) -> _Endpoint | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise RecordError(field, f"expected a JSON object, got {json_type(value)}")

    texts = {}
    for key in ("serviceName", "ipv4", "ipv6"):
        text = value.get(key)
        if text is not None and not isinstance(text, str):
            raise RecordError(f"{field}.{key}", f"expected a string, got {json_type(text)}")
        texts[key] = text or None

    port = value.get("port")
    if port is not None and (isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535):
        raise RecordError(f"{field}.port", f"expected a port number from 0 to 65535, got {show(port)}")
    return _Endpoint(texts["serviceName"], texts["ipv4"], texts["ipv6"], port or None)


def _add_endpoint_attributes(
    tags: dict[str, AnyValue],
    local: _Endpoint | None,
    remote: _Endpoint | None,
    location: Location,
    notices: list[Notice],
) -> None:
    """Add the endpoint addresses as the attributes the Collector's Zipkin receiver uses.

    A tag of the same name wins, as the specification requires for peer.service.
    """
    values: list[tuple[str, str, AnyValue]] = []
    if local is not None:
        values += [
            ("localEndpoint.ipv4", "net.host.ip", local.ipv4),
            ("localEndpoint.ipv6", "net.host.ip", local.ipv6),
            ("localEndpoint.port", "net.host.port", local.port),
        ]
    if remote is not None:
        values += [
            ("remoteEndpoint.serviceName", "peer.service", remote.service_name),
            ("remoteEndpoint.ipv4", "net.peer.ip", remote.ipv4),
            ("remoteEndpoint.ipv6", "net.peer.ip", remote.ipv6),
            ("remoteEndpoint.port", "net.peer.port", remote.port),
        ]

    for field, key, value in values:
        if value is None or tags.get(key) == value:
            continue
        if key in tags:
            msg = f"not sent: the attribute {key} already has the value {show(tags[key])}"
            notices.append(Notice(_at(location, field), msg))
            continue
        tags[key] = decode_text(value, _at(location, field), notices) if isinstance(value, str) else value


def _decode_annotations(json_annotations: object, location: Location, notices: list[Notice]) -> tuple[EventData, ...]:
    if json_annotations is None:
        return ()
    if not isinstance(json_annotations, list):
        raise RecordError("annotations", f"expected an array, got {json_type(json_annotations)}")

    events = []
    for number, json_annotation in enumerate(json_annotations):
        field = f"annotations[{number}]"
        if not isinstance(json_annotation, dict):
            raise RecordError(field, f"expected a JSON object, got {json_type(json_annotation)}")
        micros = _require_number(json_annotation, "timestamp", field)
        time = to_unix_nano(micros, NANOS_PER_MICROSECOND, f"{field}.timestamp")
        value = json_annotation.get("value")
        if not isinstance(value, str):
            raise RecordError(f"{field}.value", "missing or not a string")
        events.append(_decode_event(value, time, _at(location, f"{field}.value"), notices))
    return tuple(events)


def _decode_event(value: str, time: int, location: Location, notices: list[Notice]) -> EventData:
    """Decode an annotation written as ``{"event name": {attributes}}``, or else name an event by its value."""
    if value.startswith("{"):
        try:
            parsed = _DECODER.decode(value)
        except json.JSONDecodeError:
            parsed = None
        if isinstance(parsed, dict) and len(parsed) == 1:
            name, json_attributes = next(iter(parsed.items()))
            if isinstance(json_attributes, dict):
                attributes = decode_attributes(json_attributes, location, notices)
                return EventData(decode_text(name, location, notices), time, attributes)
    return EventData(decode_text(value, location, notices), time)


# --- special tags ------------------------------------------------------------------------


def _take_resource_tags(tags: dict[str, AnyValue]) -> dict[str, AnyValue]:
    keys = [key for key in tags if key.startswith(_RESOURCE_PREFIXES)]
    return {key: tags.pop(key) for key in keys}


def _take_scope(tags: dict[str, AnyValue]) -> tuple[str, str]:
    name = _take_text(tags, "otel.scope.name")
    version = _take_text(tags, "otel.scope.version")
    if name is None and version is None:
        return _take_text(tags, "otel.library.name") or "", _take_text(tags, "otel.library.version") or ""

    # The Python exporter writes both spellings, so the older one is dropped when its value
    # matches. It also writes null for a scope without a version.
    for key, value in (("otel.library.name", name), ("otel.library.version", version)):
        if key in tags and (tags[key] or "") == (value or ""):
            del tags[key]
    return name or "", version or ""


def _take_status(tags: dict[str, AnyValue]) -> tuple[int, str]:
    status_code = tags.get("otel.status_code")
    code = _STATUS_CODES.get(status_code.upper()) if isinstance(status_code, str) else None
    if code is not None:
        del tags["otel.status_code"]

    # The specification puts the ERROR description in the "error" tag. Other Zipkin
    # instrumentation sets "error" without otel.status_code, to a message or to "true".
    error = tags.get("error")
    if code in (None, _STATUS_ERROR) and isinstance(error, str) and error != "false":
        del tags["error"]
        return _STATUS_ERROR, "" if error == "true" else error
    if code == _STATUS_ERROR:
        return _STATUS_ERROR, _take_text(tags, "otel.status_description") or ""
    return code or 0, ""


def _take_text(tags: dict[str, AnyValue], key: str) -> str | None:
    """Remove and return a string or null tag as text; leave other values as attributes."""
    if key not in tags or not isinstance(tags[key], (str, type(None))):
        return None
    value = tags.pop(key)
    return value if isinstance(value, str) else ""


def _take_count(tags: dict[str, AnyValue], key: str) -> int:
    value = tags.get(key)
    if not isinstance(value, str) or _INTEGER.fullmatch(value) is None or int(value) >= 2**32:
        return 0
    del tags[key]
    return int(value)


# --- helpers -----------------------------------------------------------------------------


def _at(location: Location, field: str) -> Location:
    return Location(location.path, location.index, field)


def _require_number(record: Mapping[str, object], key: str, prefix: str = "") -> int | Decimal:
    value = record.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        field = f"{prefix}.{key}" if prefix else key
        raise RecordError(field, f"missing or not a number; expected microseconds since the epoch, got {show(value)}")
    return value


def _optional_str(record: Mapping[str, object], key: str) -> str:
    value = record.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise RecordError(key, f"expected a string, got {json_type(value)}")
    return value


def _optional_bool(record: Mapping[str, object], key: str) -> bool:
    value = record.get(key)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise RecordError(key, f"expected true or false, got {show(value)}")
    return value
