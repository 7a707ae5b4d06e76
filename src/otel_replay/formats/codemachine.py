"""Read the JSON files that CodeMachine CLI's file exporters write (format version 1).

A trace file is ``{"version", "service", "exportedAt", "spanCount", "spans": [...]}``, a log
file has ``logCount`` and ``logs`` instead, and a metrics file has ``"type": "metrics"`` and
``metrics``. Span and event times are float milliseconds since the epoch; log times are
``[seconds, nanoseconds]``. The format carries no span kind, links, trace state, scope or
dropped counts, so spans are INTERNAL and scopes are empty.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Final, TypeAlias

import orjson

from otel_replay.errors import InputError, NotTelemetryError, RecordError
from otel_replay.formats import fastjson
from otel_replay.formats.compression import open_binary
from otel_replay.formats.jsonstream import JsonSyntaxError, JsonValueStream
from otel_replay.formats.limits import as_record_error, decode_document, max_record_bytes, raw_decode, too_large
from otel_replay.model import (
    AnyValue,
    EventData,
    Item,
    Location,
    LogData,
    MetricData,
    MetricKind,
    MetricPoint,
    Notice,
    ResourceData,
    ScopeData,
    Signal,
    Skipped,
    SpanData,
)
from otel_replay.values import (
    NANOS_PER_MILLISECOND,
    NANOS_PER_SECOND,
    decode_attributes,
    decode_text,
    decode_value,
    iso_to_unix_nano,
    json_type,
    show,
    to_unix_nano,
)

__all__ = [
    "NAME",
    "ElementDecoder",
    "Parsed",
    "RecordTexts",
    "decode_elements",
    "parse_elements",
    "read",
    "read_with",
    "sniff",
]

NAME: Final = "codemachine"

# Numbers are parsed as Decimal so that times keep every digit written in the file. Unlike
# orjson, the standard library parser also accepts the lone surrogate escapes CodeMachine writes.
_DECODER: Final = json.JSONDecoder(parse_float=Decimal)
# CodeMachine writes "version" and "service" first, then a count or the "type", so these keys
# are at the top of the file. A package.json with a "logs" script does not match.
_SNIFF: Final = re.compile(
    rb'\A\s*\{\s*"version"\s*:\s*[0-9]+\s*,\s*"service"\s*:\s*"(?:[^"\\]|\\.)*"\s*,'
    rb'[\s\S]*?"(spanCount|logCount|exportCount|spans|logs|metrics)"\s*:'
)
_ARRAY_START: Final = re.compile(r'"(spans|logs|metrics)"\s*:\s*\[')
_SERVICE: Final = re.compile(r'"service"\s*:\s*("(?:[^"\\]|\\.)*")')
_HEX: Final = re.compile(r"[0-9a-fA-F]+")
_SIGNAL_OF_ARRAY: Final = {"spans": Signal.TRACES, "logs": Signal.LOGS, "metrics": Signal.METRICS}
_EMPTY_SCOPE: Final = ScopeData()
_INVALID: Final = "invalid"
_HINT: Final = "Fix or remove this record to send it; the other records are sent."
# CodeMachine writes the SDK's DataPointType number as a string.
_HISTOGRAM, _GAUGE, _SUM = "0", "2", "3"
_CUMULATIVE: Final = 2  # OTLP AggregationTemporality; the JS SDK's default, and the format does not say


def sniff(head: bytes) -> bool:
    """Tell from the first bytes of a file whether it looks like a CodeMachine file."""
    return _SNIFF.match(head) is not None


ElementDecoder: TypeAlias = Callable[[Path, str, "str | None", "RecordTexts"], Iterator[Item]]
"""Decoder of the elements of a "spans" or "logs" array, given the file, the array's name, the
service and the elements as `RecordTexts` yields them. `workers.WorkerPool.decode` is one."""


@dataclass(frozen=True, slots=True)
class Parsed:
    """An element of the array that `RecordTexts` parsed itself, because it could not cut its text."""

    value: object


def read(path: Path) -> Iterator[Item]:
    """Yield the records of one CodeMachine file, with skipped records and notices in order.

    Trace and log files are streamed one record at a time when "version" and "service" come
    before the records, as CodeMachine writes them. Other layouts and metrics files are read
    whole.

    Raises:
        InputError: the file cannot be read, is not JSON, or is not a CodeMachine file.
            A truncated file yields its complete records first.
    """
    return read_with(path, None)


def read_with(path: Path, decoder: ElementDecoder | None) -> Iterator[Item]:
    """Read like `read`, passing the streamed records' elements to `decoder` when one is given."""
    try:
        yield from _stream(path, decoder)
    except _NotStreamableError:
        yield from _read_whole(path)


def parse_elements(elements: Sequence[str | Parsed]) -> tuple[list[object], int | None]:
    """Parse the elements that `RecordTexts` gave, as the serial reader would.

    Returns the parsed values, and the position of the first text that orjson rejects, where
    parsing stopped, or None. `RecordTexts.recheck_from` reads the file again from there.
    """
    values: list[object] = []
    for position, element in enumerate(elements):
        if isinstance(element, Parsed):
            values.append(element.value)
            continue
        try:
            values.append(fastjson.loads(element))
        except fastjson.NotJson:
            return values, position
        except fastjson.NotExact:
            values.append(_DECODER.decode(element))
    return values, None


def decode_elements(
    path: Path,
    array_name: str,
    service: str | None,
    elements: Iterable[object],
    start: int = 0,
    fallback: ResourceData | None = None,
) -> Iterator[Item]:
    """Decode parsed array elements as `read` does, numbering records from `start`.

    `fallback` is the resource of log records without one; by default a new one per call.
    """
    if array_name == "spans":
        yield from _read_spans(path, elements, service, start)
    else:
        yield from _read_logs(path, elements, service, start, fallback)


class _NotStreamableError(Exception):
    """The file's layout needs the whole-document reader; raised before any record is yielded."""


def _stream(path: Path, decoder: ElementDecoder | None) -> Iterator[Item]:
    try:
        with ExitStack() as files:
            stream = JsonValueStream(files.enter_context(open_binary(path)))
            yield from _stream_document(path, stream, decoder, files)
    except JsonSyntaxError as error:
        if error.truncated:
            msg = f"the file looks truncated or damaged ({error.message}); the complete records before it were read"
            raise InputError(path, msg) from error
        raise InputError(path, f"not valid JSON: {error.message}") from error
    except (OSError, EOFError) as error:
        raise InputError(path, f"cannot read or decompress the file: {error}") from error


def _stream_document(
    path: Path, stream: JsonValueStream, decoder: ElementDecoder | None, files: ExitStack
) -> Iterator[Item]:
    if stream.peek() != "{":
        raise _NotStreamableError
    stream.begin("{")
    header: dict[str, object] = {}
    count = 0  # records and skipped records, as the count in the header counts them
    array_name = ""
    while stream.has_next("}"):
        key = stream.key()
        if key not in _SIGNAL_OF_ARRAY:
            header[key] = stream.value()
            continue
        if array_name or key == "metrics" or "service" not in header or stream.peek() != "[":
            raise _NotStreamableError if not array_name else _second_array(path, key)
        array_name = key
        for item in _stream_records(path, stream, key, header, decoder, files):
            if not isinstance(item, Notice):
                # A decoder may give several records in one item, such as a worker's `EncodedRun`.
                count += getattr(item, "record_count", 1)
            yield item

    if stream.peek():
        raise InputError(path, f"not valid JSON: unexpected data after the document at line {stream.line()}")
    if not array_name:
        raise _NotStreamableError
    notices: list[Notice] = []
    _check_count(path, header, "spanCount" if array_name == "spans" else "logCount", count, notices)
    yield from notices


def _second_array(path: Path, key: str) -> InputError:
    return InputError(path, f'expected one array of records, found "{key}" after another one')


def _stream_records(
    path: Path,
    stream: JsonValueStream,
    array_name: str,
    header: dict[str, object],
    decoder: ElementDecoder | None,
    files: ExitStack,
) -> Iterator[Item]:
    """Yield the records of the "spans" or "logs" array at the stream's position."""
    notices: list[Notice] = []
    service = _read_service(path, header.get("service"), notices)
    if header.get("version") != 1:
        version = header.get("version")
        notices.append(Notice(Location(path), f"format version {version!r} is not 1; reading it as version 1"))
    yield from notices

    stream.begin("[")
    if decoder is not None:
        yield from decoder(path, array_name, service, RecordTexts(path, stream, array_name, files))
    elif array_name == "spans":
        yield from _read_spans(path, _stream_elements(stream), service)
    else:
        yield from _read_logs(path, _stream_elements(stream), service)


class RecordTexts:
    """Iterates over the elements of the array that a stream has just begun, for other processes to parse.

    An element comes as its text, cut at the line that closes it as `_stream_elements` cuts
    it, else as its `Parsed` value. The texts are not parsed here, so that each record is
    parsed once, in a worker, not twice. Until `recheck_from` is called, a text may be cut
    wrong, such as an object whose nested object closes at the same indentation. Then orjson
    rejects it, and `parse_elements` returns its position. After `recheck_from`, every text
    is one that orjson accepts, and the other elements are parsed here, as `_stream_elements` does.
    """

    def __init__(self, path: Path, stream: JsonValueStream, array_name: str, files: ExitStack) -> None:
        self._path = path
        self._stream = stream
        self._array_name = array_name
        self._files = files
        self._closing: str | None = None
        self._checked = False

    def __iter__(self) -> RecordTexts:
        return self

    def __next__(self) -> str | Parsed:
        stream = self._stream
        if not stream.has_next("]"):
            raise StopIteration
        if self._closing is None and stream.peek() == "{":
            indentation = stream.indentation()
            self._closing = None if indentation is None else "\n" + indentation + "}"
        return self._next_element()

    def _next_element(self) -> str | Parsed:
        """Take the element at the stream's position, after the comma before it."""
        stream = self._stream
        closing = self._closing
        text = stream.text_through(closing) if closing is not None and stream.peek() == "{" else None
        if text is not None and (not self._checked or _is_json(text)):
            stream.skip(len(text))
            return text
        if text is not None:
            element = _decode_cut_text(text)
            if element is not _NOT_ONE_VALUE:
                stream.skip(len(text))
                return Parsed(element)
        return Parsed(stream.value())

    @property
    def separator(self) -> str | None:
        """The text between two elements that `next_texts` cut together: the closing line and a comma.

        None when it gives one element per text, as after `recheck_from`.
        """
        return None if self._closing is None or self._checked else self._closing + ","

    def next_texts(self, size: int) -> tuple[str | Parsed, int] | None:
        """Return the next elements and their number, or None at the end of the array.

        Until `recheck_from` is called, this cuts as many whole elements as fit in `size`
        characters into one text, where `separator` divides them. Otherwise, and for an element
        that does not fit, it returns one element as iterating does.
        """
        stream = self._stream
        if not stream.has_next("]"):
            return None
        if self._closing is None and stream.peek() == "{":
            indentation = stream.indentation()
            self._closing = None if indentation is None else "\n" + indentation + "}"
        closing = self._closing
        if closing is not None and not self._checked and stream.peek() == "{":
            text = stream.texts_through(closing, size)
            if text is not None:
                stream.skip(len(text))
                return text, text.count(closing + ",") + 1
        return self._next_element(), 1

    def recheck_from(self, index: int) -> None:
        """Read the file again up to element `index` (from 0), and check every text from there on.

        This reads the file's records before `index` a second time, once per file at most.
        """
        self._stream.restart(self._files.enter_context(open_binary(self._path)))
        _seek_array(self._stream, self._array_name)
        self._closing = None
        self._checked = True
        for _ in range(index):
            next(self)


def _is_json(text: str) -> bool:
    try:
        orjson.loads(text)
    except orjson.JSONDecodeError:
        return False
    return True


def _seek_array(stream: JsonValueStream, array_name: str) -> None:
    """Walk a stream of a document that `_stream_document` read before to the start of its array."""
    stream.begin("{")
    while stream.has_next("}"):
        if stream.key() == array_name:
            stream.begin("[")
            return
        stream.value()


@dataclass(frozen=True, slots=True)
class _InvalidElement:
    """An array element whose text is complete but cannot be decoded, such as one nested too deeply."""

    message: str


_NOT_ONE_VALUE: Final = object()


def _decode_cut_text(text: str) -> object:
    """Decode a record's text exactly, or return why it cannot be decoded.

    Only nesting and integer length make a complete record undecodable, which gives an
    `_InvalidElement`. Any other error means the text was not cut at the record's end, which
    gives `_NOT_ONE_VALUE`, so the stream parser must read the record.
    """
    try:
        return decode_document(_DECODER, text)
    except json.JSONDecodeError as error:
        if error.msg.startswith(("arrays and objects nested", "an integer longer")):
            return _InvalidElement(f"not valid JSON: {error.msg}")
        return _NOT_ONE_VALUE


def _stream_elements(stream: JsonValueStream) -> Iterator[object]:
    """Yield the elements of the array that `stream` has just begun, parsing them with orjson where exact."""
    closing: str | None = None
    while stream.has_next("]"):
        if closing is None and stream.peek() == "{":
            indentation = stream.indentation()
            closing = None if indentation is None else "\n" + indentation + "}"
        text = stream.text_through(closing) if closing is not None and stream.peek() == "{" else None
        if text is not None:
            try:
                element = fastjson.loads(text)
            except fastjson.NotExact:
                element = _decode_cut_text(text)
            if element is not _NOT_ONE_VALUE:
                stream.skip(len(text))
                yield element
                continue
        yield stream.value()


def _read_whole(path: Path) -> Iterator[Item]:
    text = _read_text(path)
    try:
        document = decode_document(_DECODER, text)
    except json.JSONDecodeError as error:
        yield from _salvage(path, text, error)
        return

    if not isinstance(document, dict):
        raise NotTelemetryError(path, f"expected a JSON object at the top level, got {json_type(document)}")

    yield from _read_document(path, document)


def _read_text(path: Path) -> str:
    # TODO: the record size limit applies to the whole file, because it is parsed as one
    # document. Reading its records one at a time would lift that.
    limit = max_record_bytes()
    try:
        with open_binary(path) as file:
            data = file.read(limit + 1)
    except (OSError, EOFError) as error:
        raise InputError(path, f"cannot read or decompress the file: {error}") from error
    if len(data) > limit:
        msg = f"{too_large('the file')}; a CodeMachine file is one JSON document, read whole, so nothing was read"
        raise InputError(path, msg)

    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        msg = f"not UTF-8 text: invalid byte 0x{data[error.start]:02x} at offset {error.start}"
        raise InputError(path, msg) from error


def _read_document(path: Path, document: dict[str, object]) -> Iterator[Item]:
    notices: list[Notice] = []
    service = _read_service(path, document.get("service"), notices)

    if document.get("version") != 1:
        version = document.get("version")
        notices.append(Notice(Location(path), f"format version {version!r} is not 1; reading it as version 1"))

    if "spans" in document:
        records = _require_array(path, document, "spans")
        _check_count(path, document, "spanCount", len(records), notices)
        yield from notices
        yield from _read_spans(path, records, service)
    elif "logs" in document:
        records = _require_array(path, document, "logs")
        _check_count(path, document, "logCount", len(records), notices)
        yield from notices
        yield from _read_logs(path, records, service)
    elif document.get("type") == "metrics" or "metrics" in document:
        exports = _require_array(path, document, "metrics")
        _check_count(path, document, "exportCount", len(exports), notices)
        yield from notices
        yield from _read_metrics(path, exports, service)
    else:
        msg = 'not a CodeMachine telemetry file: it has no "spans", "logs" or "metrics" array'
        raise NotTelemetryError(path, msg)


def _read_service(path: Path, json_service: object, notices: list[Notice]) -> str | None:
    if isinstance(json_service, str):
        return decode_text(json_service, Location(path, None, "service"), notices)

    notices.append(Notice(Location(path, None, "service"), "missing or not a string; the resource has no service.name"))
    return None


def _require_array(path: Path, document: Mapping[str, object], key: str) -> list[object]:
    records = document.get(key)
    if not isinstance(records, list):
        raise InputError(path, f'expected "{key}" to be an array, got {json_type(records)}')
    return records


def _check_count(path: Path, document: Mapping[str, object], key: str, actual: int, notices: list[Notice]) -> None:
    declared = document.get(key)
    if declared is None or declared == actual:
        return
    notices.append(Notice(Location(path, None, key), f"says {declared} but the file contains {actual} records"))


def _read_spans(path: Path, json_spans: Iterable[object], service: str | None, start: int = 0) -> Iterator[Item]:
    resource = ResourceData({"service.name": service} if service is not None else {})
    for index, json_span in enumerate(json_spans, start):
        if isinstance(json_span, _InvalidElement):
            yield _skip_invalid(Signal.TRACES, path, index, RecordError("(record)", json_span.message))
            continue
        notices: list[Notice] = []
        try:
            span = _decode_span(path, index, json_span, resource, notices)
        except (RecordError, RecursionError) as error:
            yield _skip_invalid(Signal.TRACES, path, index, as_record_error(error))
            continue
        yield span
        yield from notices


def _read_logs(
    path: Path, json_logs: Iterable[object], service: str | None, start: int = 0, fallback: ResourceData | None = None
) -> Iterator[Item]:
    resources: dict[bytes, ResourceData] = {}
    if fallback is None:
        fallback = ResourceData({"service.name": service} if service is not None else {})
    for index, json_log in enumerate(json_logs, start):
        if isinstance(json_log, _InvalidElement):
            yield _skip_invalid(Signal.LOGS, path, index, RecordError("(record)", json_log.message))
            continue
        notices: list[Notice] = []
        try:
            log = _decode_log(path, index, json_log, resources, fallback, notices)
        except (RecordError, RecursionError) as error:
            yield _skip_invalid(Signal.LOGS, path, index, as_record_error(error))
            continue
        yield log
        yield from notices


def _skip_invalid(signal: Signal, path: Path, index: int, error: RecordError) -> Skipped:
    return Skipped(signal, Location(path, index, error.field), _INVALID, f"{error.message}. {_HINT}")


def _list_field(json_object: object, key: str) -> list[object]:
    value = json_object.get(key) if isinstance(json_object, dict) else None
    return value if isinstance(value, list) else []


# --- metrics ---------------------------------------------------------------------------


def _read_metrics(path: Path, json_exports: list[object], service: str | None) -> Iterator[Item]:
    """Yield one MetricData per metric of each export; the record index is the export's position."""
    resources: dict[bytes, ResourceData] = {}
    scopes: dict[tuple[str, str], ScopeData] = {}
    fallback = ResourceData({"service.name": service} if service is not None else {})
    histogram_points = 0
    sums = 0

    for index, json_export in enumerate(json_exports):
        notices: list[Notice] = []
        location = Location(path, index)
        try:
            resource = _decode_log_resource(
                _require_object(json_export, "export").get("resource"), location, resources, fallback, notices
            )
        except (RecordError, RecursionError) as caught:
            error = as_record_error(caught)
            # An invalid export counts as at least one record, so that its error is in the counts too.
            points = max(1, sum(len(_list_field(metric, "dataPoints")) for metric in _export_metrics(json_export)))
            yield Skipped(
                Signal.METRICS, Location(path, index, error.field), _INVALID, f"{error.message}. {_HINT}", points
            )
            continue
        yield from notices

        for field, json_scope, json_metric in _scope_metric_pairs(json_export):
            notices = []
            try:
                scope = _decode_scope(json_scope, scopes)
                metric = _decode_metric(Location(path, index, field), json_metric, resource, scope, notices)
            except (RecordError, RecursionError) as caught:
                error = as_record_error(caught)
                points = max(1, len(_list_field(json_metric, "dataPoints")))
                yield Skipped(
                    Signal.METRICS,
                    Location(path, index, f"{field}.{error.field}"),
                    _INVALID,
                    f"{error.message}. {_HINT}",
                    points,
                )
                continue
            if _is_histogram(json_metric):
                histogram_points += len(metric.points)
            elif metric.kind is MetricKind.SUM:
                sums += 1
            yield metric
            yield from notices

    yield from _metric_notices(path, histogram_points, sums)


def _export_metrics(json_export: object) -> Iterator[object]:
    for scope_metrics in _list_field(json_export, "scopeMetrics"):
        yield from _list_field(scope_metrics, "metrics")


def _scope_metric_pairs(json_export: object) -> Iterator[tuple[str, object, object]]:
    for scope_number, scope_metrics in enumerate(_list_field(json_export, "scopeMetrics")):
        json_scope = scope_metrics.get("scope") if isinstance(scope_metrics, dict) else None
        for metric_number, json_metric in enumerate(_list_field(scope_metrics, "metrics")):
            yield f"scopeMetrics[{scope_number}].metrics[{metric_number}]", json_scope, json_metric


def _decode_scope(json_scope: object, scopes: dict[tuple[str, str], ScopeData]) -> ScopeData:
    if json_scope is None:
        return _EMPTY_SCOPE
    scope = _require_object(json_scope, "scope", field="scope")
    name, version = scope.get("name", ""), scope.get("version", "")
    if not isinstance(name, str) or not isinstance(version, str):
        raise RecordError("scope", "expected a string name and version")

    key = (name, version)
    if key not in scopes:
        scopes[key] = ScopeData(name=name, version=version)
    return scopes[key]


def _is_histogram(json_metric: object) -> bool:
    return isinstance(json_metric, dict) and json_metric.get("type") == _HISTOGRAM


def _decode_metric(
    location: Location, json_metric: object, resource: ResourceData, scope: ScopeData, notices: list[Notice]
) -> MetricData:
    metric = _require_object(json_metric, "metric")
    name = _require_str(metric, "name")
    metric_type = metric.get("type")
    if metric_type not in (_HISTOGRAM, _GAUGE, _SUM):
        raise RecordError(
            "type", f'unknown metric type {metric_type!r}: expected "0" (histogram), "2" (gauge) or "3" (sum)'
        )

    description = metric.get("description", "")
    unit = metric.get("unit", "")
    if not isinstance(description, str) or not isinstance(unit, str):
        raise RecordError("description", "expected string description and unit")

    json_points = metric.get("dataPoints")
    if not isinstance(json_points, list):
        raise RecordError("dataPoints", "missing or not an array")
    points = tuple(
        _decode_point(location, number, json_point, notices) for number, json_point in enumerate(json_points)
    )

    if metric_type == _GAUGE:
        return MetricData(location, resource, scope, name, MetricKind.GAUGE, points, description, unit)
    if metric_type == _SUM:
        return MetricData(location, resource, scope, name, MetricKind.SUM, points, description, unit, _CUMULATIVE)

    # CodeMachine's exporter writes only a histogram's sum, and writes 0 for it: the count,
    # buckets, min and max never reach the file. Sending a histogram would claim a
    # distribution, so the value goes out as a sum metric named after the histogram's sum.
    summary = f"Sum of histogram {name} as written by CodeMachine; the file has no count or buckets"
    return MetricData(location, resource, scope, f"{name}.sum", MetricKind.SUM, points, summary, unit, _CUMULATIVE)


def _decode_point(location: Location, number: int, json_point: object, notices: list[Notice]) -> MetricPoint:
    field = f"dataPoints[{number}]"
    point = _require_object(json_point, "data point", field=field)
    value = point.get("value")
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        raise RecordError(f"{field}.value", f"expected a number, got {show(value)}")

    attributes_location = Location(location.path, location.index, f"{location.field}.{field}.attributes")
    return MetricPoint(
        start_time_unix_nano=iso_to_unix_nano(point.get("startTime"), f"{field}.startTime"),
        time_unix_nano=iso_to_unix_nano(point.get("endTime"), f"{field}.endTime"),
        attributes=decode_attributes(point.get("attributes"), attributes_location, notices),
        value=float(value) if isinstance(value, Decimal) else value,
    )


def _metric_notices(path: Path, histogram_points: int, sums: int) -> Iterator[Notice]:
    if histogram_points:
        msg = (
            f"{histogram_points} histogram data point(s) carry only a sum, which CodeMachine's exporter "
            "writes as 0; they are sent as sum metrics named <histogram>.sum, not as histograms"
        )
        yield Notice(Location(path), msg)
    if sums:
        msg = (
            f"the format does not record monotonicity, so {sums} sum metric(s) "
            "are sent as non-monotonic cumulative sums"
        )
        yield Notice(Location(path), msg)


# --- spans -----------------------------------------------------------------------------


def _decode_span(path: Path, index: int, json_span: object, resource: ResourceData, notices: list[Notice]) -> SpanData:
    span = _require_object(json_span, "span")
    location = Location(path, index)

    name = _decode_text_at(_require_str(span, "name"), path, index, "name", notices)
    trace_id = _decode_id(span.get("traceId"), "traceId", 32)
    span_id = _decode_id(span.get("spanId"), "spanId", 16)
    parent_span_id = _decode_parent_id(span.get("parentSpanId"))
    start = to_unix_nano(span.get("startTime"), NANOS_PER_MILLISECOND, "startTime")
    end = to_unix_nano(span.get("endTime"), NANOS_PER_MILLISECOND, "endTime")
    status_code, status_message = _decode_status(span.get("status"), location, notices)

    attributes = decode_attributes(span.get("attributes"), Location(path, index, "attributes"), notices)
    events = _decode_events(span.get("events"), location, notices)

    return SpanData(
        location=location,
        resource=resource,
        scope=_EMPTY_SCOPE,
        name=name,
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=parent_span_id,
        start_time_unix_nano=start,
        end_time_unix_nano=end,
        status_code=status_code,
        status_message=status_message,
        attributes=attributes,
        events=events,
    )


def _decode_id(value: object, field: str, digits: int) -> int:
    if not isinstance(value, str):
        raise RecordError(field, f"missing or not a string; expected {digits} hexadecimal digits")
    if len(value) != digits or _HEX.fullmatch(value) is None:
        raise RecordError(field, f"invalid ID {value!r}: expected {digits} hexadecimal digits")

    number = int(value, 16)
    if number == 0:
        raise RecordError(field, f"invalid ID {value!r}: an all-zero ID is not valid in OpenTelemetry")
    return number


def _decode_parent_id(value: object) -> int:
    # CodeMachine omits the key on roots; an empty or all-zero ID also means "no parent" in OTLP.
    if value is None or value == "" or (isinstance(value, str) and set(value) == {"0"}):
        return 0
    return _decode_id(value, "parentSpanId", 16)


def _decode_status(json_status: object, location: Location, notices: list[Notice]) -> tuple[int, str]:
    if json_status is None:
        return 0, ""
    status = _require_object(json_status, "status", field="status")

    code = status.get("code", 0)
    if isinstance(code, bool) or not isinstance(code, int) or code not in (0, 1, 2):
        raise RecordError("status.code", f"invalid status code {code!r}: expected 0 (UNSET), 1 (OK) or 2 (ERROR)")

    message = status.get("message", "")
    if not isinstance(message, str):
        raise RecordError("status.message", f"expected a string, got {json_type(message)}")
    return code, _decode_text_at(message, location.path, location.index, "status.message", notices)


def _decode_events(json_events: object, location: Location, notices: list[Notice]) -> tuple[EventData, ...]:
    if json_events is None:
        return ()
    if not isinstance(json_events, list):
        raise RecordError("events", f"expected an array, got {json_type(json_events)}")

    events = []
    for number, json_event in enumerate(json_events):
        field = f"events[{number}]"
        event = _require_object(json_event, "event", field=field)
        name = event.get("name")
        if not isinstance(name, str):
            raise RecordError(f"{field}.name", "missing or not a string")

        time = to_unix_nano(event.get("time"), NANOS_PER_MILLISECOND, f"{field}.time")
        event_location = Location(location.path, location.index, f"{field}.attributes")
        attributes = decode_attributes(event.get("attributes"), event_location, notices)
        events.append(
            EventData(_decode_text_at(name, location.path, location.index, field, notices, ".name"), time, attributes)
        )
    return tuple(events)


def _decode_text_at(
    text: str, path: Path, index: int | None, field: str, notices: list[Notice], suffix: str = ""
) -> str:
    """Decode text as `decode_text` does, building the field's Location only for text that may need a notice."""
    if text.isascii():
        return text
    return decode_text(text, Location(path, index, field + suffix), notices)


# --- logs ------------------------------------------------------------------------------


def _decode_log(
    path: Path,
    index: int,
    json_log: object,
    resources: dict[bytes, ResourceData],
    fallback: ResourceData,
    notices: list[Notice],
) -> LogData:
    log = _require_object(json_log, "log record")
    location = Location(path, index)

    time = _decode_hr_time(log.get("timestamp"))
    severity_number = _decode_severity_number(log.get("severityNumber"))
    severity_text = log.get("severityText")
    if severity_text is not None and not isinstance(severity_text, str):
        raise RecordError("severityText", f"expected a string, got {json_type(severity_text)}")

    body = decode_value(log.get("body"), Location(path, index, "body"), notices)
    attributes = decode_attributes(log.get("attributes"), Location(path, index, "attributes"), notices)
    resource = _decode_log_resource(log.get("resource"), location, resources, fallback, notices)
    trace_id, span_id = _correlation(attributes, location, notices)

    return LogData(
        location=location,
        resource=resource,
        scope=_EMPTY_SCOPE,
        time_unix_nano=time,
        # The format has no observed time, so the record's own time is used for it.
        observed_time_unix_nano=time,
        severity_number=severity_number,
        severity_text=None if severity_text is None else decode_text(severity_text, location, notices),
        body=body,
        attributes=attributes,
        trace_id=trace_id,
        span_id=span_id,
    )


def _decode_hr_time(value: object) -> int:
    if not isinstance(value, list) or len(value) != 2:
        raise RecordError("timestamp", f"expected [seconds, nanoseconds], got {show(value)}")

    seconds, nanos = value
    if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds < 0:
        raise RecordError("timestamp[0]", f"expected a whole number of seconds, got {show(seconds)}")
    if isinstance(nanos, bool) or not isinstance(nanos, int) or not 0 <= nanos < NANOS_PER_SECOND:
        raise RecordError("timestamp[1]", f"expected whole nanoseconds from 0 to 999999999, got {show(nanos)}")
    return seconds * NANOS_PER_SECOND + nanos


def _decode_severity_number(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 24:
        raise RecordError("severityNumber", f"invalid severity number {show(value)}: expected 0 to 24")
    return value


def _decode_log_resource(
    json_resource: object,
    location: Location,
    resources: dict[bytes, ResourceData],
    fallback: ResourceData,
    notices: list[Notice],
) -> ResourceData:
    if json_resource is None:
        return fallback
    if not isinstance(json_resource, dict):
        raise RecordError("resource", f"expected an object of attributes, got {json_type(json_resource)}")

    try:
        key = orjson.dumps(json_resource, default=str, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        # orjson rejects integers beyond 64 bits and nesting beyond 255 levels; the standard
        # library writes both, and raises RecursionError only far deeper.
        key = json.dumps(json_resource, default=str, sort_keys=True).encode()
    cached = resources.get(key)
    if cached is not None:
        return cached

    resource_location = Location(location.path, location.index, "resource")
    resource = ResourceData(decode_attributes(json_resource, resource_location, notices))
    resources[key] = resource
    return resource


def _correlation(attributes: Mapping[str, AnyValue], location: Location, notices: list[Notice]) -> tuple[int, int]:
    """Take the trace and span ID from the ``trace.id`` and ``span.id`` attributes.

    CodeMachine's logger writes the active span's IDs only as these attributes, so this is
    the one way a backend can link the log record to its span.
    """
    trace_id = _correlation_id(attributes.get("trace.id"), "trace.id", 32, location, notices)
    span_id = _correlation_id(attributes.get("span.id"), "span.id", 16, location, notices)
    return trace_id, span_id


def _correlation_id(value: AnyValue, key: str, digits: int, location: Location, notices: list[Notice]) -> int:
    if value is None:
        return 0
    try:
        return _decode_id(value, key, digits)
    except RecordError as error:
        field_location = Location(location.path, location.index, f'attributes["{key}"]')
        notices.append(Notice(field_location, f"{error.message}; the record is sent without this correlation"))
        return 0


# --- helpers ---------------------------------------------------------------------------


def _require_object(value: object, what: str, field: str | None = None) -> dict[str, object]:
    if not isinstance(value, dict):
        raise RecordError(field or "(record)", f"expected a JSON object for the {what}, got {json_type(value)}")
    return value


def _require_str(record: Mapping[str, object], field: str) -> str:
    value = record.get(field)
    if not isinstance(value, str):
        raise RecordError(field, "missing or not a string")
    return value


# --- truncated files -------------------------------------------------------------------


def _salvage(path: Path, text: str, error: json.JSONDecodeError) -> Iterator[Item]:
    """Yield the complete records before a JSON error, then raise an InputError for the rest.

    A bug report's file is often cut short, for example when the process was killed during a
    write. The records before the cut are still worth sending.
    """
    where = f"line {error.lineno} column {error.colno}"
    start = _ARRAY_START.search(text)
    if start is None or start.end() > error.pos:
        raise InputError(path, f"not valid JSON: {error.msg} ({where})") from error

    service_match = _SERVICE.search(text, 0, start.start())
    service = json.loads(service_match.group(1)) if service_match else None
    array_name = start.group(1)
    json_records, end = _complete_elements(text, start.end())
    signal = _SIGNAL_OF_ARRAY[array_name]

    if signal is Signal.TRACES:
        yield from _read_spans(path, json_records, service)
    elif signal is Signal.LOGS:
        yield from _read_logs(path, json_records, service)
    else:
        yield from _read_metrics(path, json_records, service)

    msg = (
        f"invalid JSON at {where} ({error.msg}): the file looks truncated or damaged after "
        f'{len(json_records)} complete record(s) of "{array_name}", which were read; '
        f"anything after offset {end} is lost"
    )
    raise InputError(path, msg) from error


def _complete_elements(text: str, position: int) -> tuple[list[object], int]:
    elements: list[object] = []
    length = len(text)
    while True:
        position = _skip_separators(text, position, length)
        if position >= length or text[position] == "]":
            return elements, position
        try:
            element, position = raw_decode(_DECODER, text, position)
        except json.JSONDecodeError:
            return elements, position
        elements.append(element)


def _skip_separators(text: str, position: int, length: int) -> int:
    while position < length and text[position] in " \t\r\n,":
        position += 1
    return position
