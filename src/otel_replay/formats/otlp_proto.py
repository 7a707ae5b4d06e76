"""Read OTLP protobuf files: length-prefixed export requests, as the Collector's file exporter writes them.

With ``format: proto``, the Collector's file exporter writes each batch as a 4-byte big-endian
length followed by a serialized ExportTraceServiceRequest, ExportLogsServiceRequest or
ExportMetricsServiceRequest. The framing does not say which signal a message carries, so
each message is decoded as all three request types and the one that fits is kept: see
`_decode_request`. Messages are read one at a time, so memory stays bounded by the largest.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, Final

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from otel_replay.errors import InputError, NotTelemetryError
from otel_replay.formats.compression import open_binary
from otel_replay.formats.limits import max_record_bytes, too_large
from otel_replay.formats.otlp_records import LAYOUTS, RecordConverter, SignalLayout
from otel_replay.model import Item, Location, Notice, Signal

__all__ = ["NAME", "read", "sniff"]

NAME: Final = "otlp-proto"

_PREFIX_BYTES: Final = 4
# Detection accepts a first message of up to 64 MiB, so the first byte is 0 to 4. Text files
# start with a printable character or whitespace (0x09 or more), so they never match, and a
# larger first message needs --format otlp-proto.
_MAX_SNIFF_LENGTH: Final = 64 * 1024 * 1024
_READ_PIECE_BYTES: Final = 16 * 1024 * 1024
_REQUEST_TYPES: Final[dict[Signal, Any]] = {
    Signal.TRACES: ExportTraceServiceRequest,
    Signal.LOGS: ExportLogsServiceRequest,
    Signal.METRICS: ExportMetricsServiceRequest,
}
# Field 1 (resource_spans, resource_logs or resource_metrics) with wire type 2 (length-delimited).
_REQUEST_FIRST_TAG: Final = 0x0A
# ResourceSpans, ResourceLogs and ResourceMetrics all have fields 1 to 3, all length-delimited.
_RESOURCE_GROUP_TAGS: Final = frozenset({0x0A, 0x12, 0x1A})


def sniff(head: bytes) -> bool:
    """Tell from the first bytes of a file whether it starts with a length-prefixed OTLP export request."""
    if len(head) <= _PREFIX_BYTES:
        return False
    length = int.from_bytes(head[:_PREFIX_BYTES], "big")
    if not 0 < length <= _MAX_SNIFF_LENGTH:
        return False

    body = head[_PREFIX_BYTES : _PREFIX_BYTES + length]
    if len(body) == length:
        return _decode_records(body) is not None
    return _plausible_request_start(body)


def read(path: Path) -> Iterator[Item]:
    """Yield the records of one OTLP protobuf file, with skipped records and notices in order.

    Raises:
        NotTelemetryError: the first message is not an OTLP export request.
        InputError: the file cannot be read, a message is not an OTLP export request, or the
            file ends inside a message. The records of the messages before it are yielded first.
    """
    converter = RecordConverter(path)
    with open_binary(path) as file:
        reader = _MessageReader(path, file)
        for body in reader:
            decoded = _decode_request(body)
            if decoded is None:
                msg = (
                    f"message {reader.count} (at byte offset {reader.message_offset}, {len(body)} bytes) "
                    "does not decode as an OTLP trace, log or metric export request"
                )
                if reader.count == 1:
                    raise NotTelemetryError(path, msg)
                raise InputError(path, f"{msg}; the {reader.count - 1} message(s) before it were read")

            layout, pb2_request, unknown_bytes = decoded
            if unknown_bytes:
                msg = (
                    f"message {reader.count} has {unknown_bytes} bytes of fields that this OTLP version does not "
                    f"define; they were ignored and the message was read as a {layout.signal.value} request"
                )
                yield Notice(Location(path), msg)
            yield from converter.request(layout, pb2_request)


class _MessageReader:
    """Reads the length-prefixed messages of a stream one at a time."""

    def __init__(self, path: Path, file: BinaryIO) -> None:
        self._path = path
        self._file = file
        self.offset = 0
        self.message_offset = 0
        self.count = 0

    def __iter__(self) -> Iterator[bytes]:
        while True:
            self.message_offset = self.offset
            prefix = self._read(_PREFIX_BYTES)
            if not prefix:
                return
            self.count += 1
            if len(prefix) < _PREFIX_BYTES:
                self._fail_truncated(f"inside the 4-byte length prefix of message {self.count}")

            length = int.from_bytes(prefix, "big")
            if length > max_record_bytes():
                self._fail_too_large(length)
            body = self._read(length)
            if len(body) < length:
                self._fail_truncated(f"after {len(body)} of the {length} bytes of message {self.count}")
            yield body

    def _read(self, size: int) -> bytes:
        # Read in pieces so that a damaged length prefix cannot allocate gigabytes up front.
        pieces: list[bytes] = []
        remaining = size
        while remaining > 0:
            piece = self._read_piece(min(remaining, _READ_PIECE_BYTES))
            if not piece:
                break
            pieces.append(piece)
            remaining -= len(piece)
        data = b"".join(pieces)
        self.offset += len(data)
        return data

    def _read_piece(self, size: int) -> bytes:
        try:
            return self._file.read(size)
        except (OSError, EOFError) as error:
            raise InputError(self._path, f"cannot read or decompress the file: {error}") from error
        except Exception as error:
            # zstandard raises its own error type for damaged frames.
            if type(error).__module__.startswith("zstandard"):
                raise InputError(self._path, f"cannot decompress the file: {error}") from error
            raise

    def _fail_too_large(self, length: int) -> None:
        # A damaged or foreign length prefix can claim up to 4 GiB, so nothing after it is trusted.
        message = f"message {self.count} (at byte offset {self.message_offset}, declaring {length} bytes)"
        if self.count == 1:
            raise NotTelemetryError(self._path, f"not an OTLP protobuf file, or {too_large(message)}")
        msg = f"{too_large(message)}; the {self.count - 1} message(s) before it were read"
        raise InputError(self._path, msg)

    def _fail_truncated(self, where: str) -> None:
        if self.count == 1:
            # Without one complete message, the file is as likely some other content as a cut one.
            msg = (
                f"not an OTLP protobuf file: the file ends {where}, at byte offset {self.offset}; "
                "a truncated file has no complete message to send either"
            )
            raise NotTelemetryError(self._path, msg)
        msg = (
            f"the file ends {where}, at byte offset {self.offset}: it looks truncated; "
            f"the {self.count - 1} complete message(s) before it were read"
        )
        raise InputError(self._path, msg)


def _decode_request(body: bytes) -> tuple[SignalLayout, Any, int] | None:
    """Decode a message as the export request type it fits, with the size of its unknown fields.

    Returns None when the message is no export request. A message without records decodes
    as an empty trace request, which yields nothing.
    """
    decoded = _decode_records(body)
    if decoded is not None:
        return decoded
    try:
        pb2_request = ExportTraceServiceRequest.FromString(body)
    except DecodeError:
        return None
    size_with_unknown = pb2_request.ByteSize()
    pb2_request.DiscardUnknownFields()
    if pb2_request.ByteSize() != size_with_unknown:
        return None
    return LAYOUTS[0], pb2_request, 0


def _decode_records(body: bytes) -> tuple[SignalLayout, Any, int] | None:
    """Decode a message as the request type whose records it contains, or return None.

    The three request types share their outer structure, so a message decodes as each of
    them. The records inside (Span, LogRecord, Metric) use the same field numbers with
    different wire types and UTF-8 rules, so decoding as the wrong type fails or leaves
    unknown fields. The first type, in trace, log, metric order, that decodes with records
    and no unknown fields wins. When none does, as for a message from a newer OTLP version,
    the type with records and the fewest unknown bytes wins.
    """
    candidates: list[tuple[int, int, SignalLayout, Any]] = []
    for order, layout in enumerate(LAYOUTS):
        try:
            pb2_request = _REQUEST_TYPES[layout.signal].FromString(body)
        except DecodeError:
            continue
        if not _has_records(layout, pb2_request):
            continue
        size_with_unknown = pb2_request.ByteSize()
        pb2_request.DiscardUnknownFields()
        unknown_bytes = size_with_unknown - pb2_request.ByteSize()
        if not unknown_bytes:
            return layout, pb2_request, 0
        candidates.append((unknown_bytes, order, layout, pb2_request))

    if not candidates:
        return None
    unknown_bytes, _, layout, pb2_request = min(candidates, key=lambda candidate: candidate[:2])
    return layout, pb2_request, unknown_bytes


def _has_records(layout: SignalLayout, pb2_request: Any) -> bool:
    return any(
        len(getattr(pb2_scope_group, layout.record_list))
        for pb2_resource_group in getattr(pb2_request, layout.resource_list)
        for pb2_scope_group in getattr(pb2_resource_group, layout.scope_list)
    )


def _plausible_request_start(body: bytes) -> bool:
    """Check the first bytes of a message too long for the detection head: a resource group comes first.

    The check walks the fields of the first ResourceSpans, ResourceLogs or ResourceMetrics as
    far as `body` goes. Each must be field 1, 2 or 3, length-delimited.
    """
    if not body or body[0] != _REQUEST_FIRST_TAG:
        return False
    group_length, position = _read_varint(body, 1)
    if group_length is None or position >= len(body):
        return False

    end = min(len(body), position + group_length)
    while position < end:
        if body[position] not in _RESOURCE_GROUP_TAGS:
            return False
        field_length, position = _read_varint(body, position + 1)
        if field_length is None:
            return position >= len(body)  # the head ends inside the varint
        position += field_length
    return True


def _read_varint(data: bytes, position: int) -> tuple[int | None, int]:
    """Return a base-128 varint at `position` and the position after it, or None if it is cut or too long."""
    value = 0
    for shift in range(0, 35, 7):
        if position >= len(data):
            return None, position
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, position
    return None, position
