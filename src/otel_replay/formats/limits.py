"""Limits that keep hostile input from exhausting memory or the stack: record size and nesting depth.

Readers hold one record in memory at a time: a line, a document, a protobuf message or a
JSON value, depending on the format. `max_record_bytes` bounds that record, so a file with
one enormous line or value, or a small compressed file that expands to gigabytes, is
rejected or skipped instead of being loaded whole. `MAX_VALUE_DEPTH` bounds the nesting of
arrays and maps inside attribute values and log bodies, which the rest of the pipeline
(the SDK's encoders and protobuf decoders at the receiving end) handles recursively.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Final, TypeVar

from otel_replay.errors import InputError, RecordError
from otel_replay.model import AnyValue, Location, LogData, MetricData, Notice, Skipped, SpanData

_Item = TypeVar("_Item")

__all__ = [
    "DEFAULT_MAX_RECORD_BYTES",
    "MAX_VALUE_DEPTH",
    "TOO_DEEP",
    "as_record_error",
    "decode_document",
    "growth_read_size",
    "guard",
    "guard_items",
    "max_record_bytes",
    "raw_decode",
    "record_size_limit",
    "too_deep",
    "too_large",
]

DEFAULT_MAX_RECORD_BYTES: Final = 64 * 1024 * 1024
"""Largest record a reader keeps in memory, unless --max-record-bytes sets another."""

MAX_VALUE_DEPTH: Final = 30
"""Deepest nesting of arrays and maps in one attribute value or log body; a scalar has depth 0.

The Python protobuf runtime (upb, checked with protobuf 7.36) rejects a message nested more
than 100 levels deep, so a receiver built on it would reject the whole request. Each map
level costs 3 messages (KeyValueList, KeyValue, AnyValue). So a span attribute nested 30 maps
deep is 96 messages deep inside an export request, and a metric point's is 98.
"""

TOO_DEEP: Final = f"arrays and maps nested deeper than {MAX_VALUE_DEPTH} levels, which otel-replay does not send"

# Nesting this deep is invalid in every format, since attribute values stop at MAX_VALUE_DEPTH.
# The standard library parser fails only deeper, at the interpreter's recursion limit.
_NESTING_REPORTED: Final = 200
_JSON_TOKEN: Final = re.compile(r'"(?:[^"\\]|\\.)*"?|[\[\]{}]')
_max_record_bytes: Final[ContextVar[int]] = ContextVar("max_record_bytes", default=DEFAULT_MAX_RECORD_BYTES)
_INVALID: Final = "invalid"
_SCALAR_TYPES: Final = frozenset({str, int, float, bool, bytes, type(None)})
_HINT: Final = "Fix or remove this record to send it; the other records are sent."


def max_record_bytes() -> int:
    """Return the record size limit in force, in bytes."""
    return _max_record_bytes.get()


@contextmanager
def record_size_limit(size: int) -> Iterator[None]:
    """Set the record size limit, in bytes, for the readers run inside the block."""
    token = _max_record_bytes.set(size)
    try:
        yield
    finally:
        _max_record_bytes.reset(token)


def too_large(subject: str) -> str:
    """Return the message for a `subject` (such as "line 3") longer than the record size limit."""
    return f"{subject} is longer than the maximum record size of {max_record_bytes()} bytes, set by --max-record-bytes"


def growth_read_size(pending: int) -> int:
    """Return how much more to read for a record of which `pending` bytes are buffered.

    Readers double their buffer for a long record, so that it is parsed a logarithmic number
    of times. Near the limit the next read only needs to cross it, which keeps the buffer
    at about the limit instead of twice it.
    """
    return max(1, min(pending, max_record_bytes() + 1 - pending))


def raw_decode(decoder: json.JSONDecoder, text: str, position: int) -> tuple[object, int]:
    """Decode one JSON value at `position` like `JSONDecoder.raw_decode`, reporting two more cases as syntax errors.

    The standard library parser raises `RecursionError` for deeply nested arrays and
    objects and `ValueError` for an integer longer than Python's digit limit. Both are
    raised here as `json.JSONDecodeError`, so callers report them with a line number like
    any other syntax error.
    """
    try:
        return decoder.raw_decode(text, position)
    except json.JSONDecodeError:
        raise
    except (RecursionError, ValueError) as error:
        raise _syntax_error(error, text, position) from error


def decode_document(decoder: json.JSONDecoder, text: str) -> object:
    """Decode a whole JSON document like `JSONDecoder.decode`, with the errors of `raw_decode`."""
    try:
        return decoder.decode(text)
    except json.JSONDecodeError:
        raise
    except (RecursionError, ValueError) as error:
        raise _syntax_error(error, text, 0) from error


def _syntax_error(error: RecursionError | ValueError, text: str, position: int) -> json.JSONDecodeError:
    if isinstance(error, RecursionError):
        depth_position = _nesting_position(text, position)
        msg = f"arrays and objects nested more than {_NESTING_REPORTED} levels deep"
        return json.JSONDecodeError(msg, text, depth_position)
    if "integer string conversion" not in str(error):
        raise error
    max_digits = sys.get_int_max_str_digits()
    long_integer = re.compile(f"[0-9]{{{max_digits + 1}}}").search(text, position)
    msg = f"an integer longer than {max_digits} digits"
    return json.JSONDecodeError(msg, text, long_integer.start() if long_integer else position)


def _nesting_position(text: str, position: int) -> int:
    """Return where arrays and objects first nest more than `_NESTING_REPORTED` levels deep after `position`.

    The parser does not say where it ran out of stack, so this scan finds the place,
    stepping over strings. It runs only after a parse failed.
    """
    depth = 0
    for token in _JSON_TOKEN.finditer(text, position):
        char = token.group()[0]
        if char in "[{":
            depth += 1
            if depth > _NESTING_REPORTED:
                return token.start()
        elif char in "]}":
            depth -= 1
            if depth <= 0:
                break
    return position


def as_record_error(error: RecordError | RecursionError, field: str = "(record)") -> RecordError:
    """Return `error` as a `RecordError`; a `RecursionError` means a value in `field` nested too deeply to decode.

    Readers decode values recursively, so a record nested hundreds of levels deep can
    exhaust the stack before `guard` checks it. Catching it per record lets the next
    record be read.
    """
    if isinstance(error, RecordError):
        return error
    return RecordError(field, TOO_DEEP)


def guard(read: Callable[[Path], Iterator[_Item]]) -> Callable[[Path], Iterator[_Item]]:
    """Wrap a format's read function so that its records respect `MAX_VALUE_DEPTH`.

    A record with a value nested too deeply becomes an invalid `Skipped`, and the notices
    after it are dropped. A `RecursionError` that a reader did not catch ends the file
    with an `InputError` instead of a traceback.
    """

    def read_guarded(path: Path) -> Iterator[_Item]:
        try:
            yield from guard_items(read(path))
        except RecursionError as error:
            raise InputError(path, "values nested too deeply to read; the records before them were read") from error

    read_guarded.__doc__ = read.__doc__
    return read_guarded


def guard_items(items: Iterable[_Item]) -> Iterator[_Item]:
    """Yield `items` with each record whose value is nested too deeply as an invalid `Skipped`, without its notices.

    Items other than records and notices pass unchanged.
    """
    checker = _DepthChecker()
    dropped: tuple[Path, int | None] | None = None
    for item in items:
        if isinstance(item, Notice):
            if (item.location.path, item.location.index) != dropped:
                yield item
            continue
        skipped = checker.check(item)
        dropped = None if skipped is None else (skipped.location.path, skipped.location.index)
        yield item if skipped is None else skipped  # type: ignore[misc]  # a Skipped is an item


class _DepthChecker:
    """Finds values nested deeper than `MAX_VALUE_DEPTH` in records, checking each shared resource once."""

    def __init__(self) -> None:
        # Resources and scopes are shared objects; keeping them referenced keeps their ids unique.
        self._checked: dict[int, tuple[object, str | None]] = {}

    def check(self, item: object) -> Skipped | None:
        if not isinstance(item, (SpanData, LogData, MetricData)):
            return None
        field = self._shared_field(item.resource, "resource") or self._shared_field(item.scope, "scope")
        field = field or _record_field(item)
        if field is None:
            return None

        # A metric without points counts as one record, so that its error is in the counts too.
        count = max(1, len(item.points)) if isinstance(item, MetricData) else 1
        # Readers of nested formats locate a record by its path in the document, such as
        # resourceSpans[0].scopeSpans[0].spans[2]; the field inside the record follows it.
        record_path = item.location.field
        location = Location(item.location.path, item.location.index, f"{record_path}.{field}" if record_path else field)
        return Skipped(item.signal, location, _INVALID, f"{TOO_DEEP}. {_HINT}", count)

    def _shared_field(self, shared: object, name: str) -> str | None:
        cached = self._checked.get(id(shared))
        if cached is not None:
            return cached[1]
        attributes: Mapping[str, AnyValue] = getattr(shared, "attributes", {})
        field = _attributes_field(attributes, f"{name}.attributes")
        self._checked[id(shared)] = (shared, field)
        return field


def _record_field(item: SpanData | LogData | MetricData) -> str | None:
    """Return the first field of a record whose value is nested too deeply, or None."""
    if isinstance(item, LogData):
        if too_deep(item.body):
            return "body"
        return _attributes_field(item.attributes, "attributes")
    if isinstance(item, MetricData):
        field = _attributes_field(item.metadata, "metadata")
        for number, point in enumerate(item.points):
            field = field or _attributes_field(point.attributes, f"points[{number}].attributes")
        return field

    field = _attributes_field(item.attributes, "attributes")
    for number, event in enumerate(item.events):
        field = field or _attributes_field(event.attributes, f"events[{number}].attributes")
    for number, link in enumerate(item.links):
        field = field or _attributes_field(link.attributes, f"links[{number}].attributes")
    return field


def _attributes_field(attributes: Mapping[str, AnyValue], name: str) -> str | None:
    for key, value in attributes.items():
        if type(value) not in _SCALAR_TYPES and too_deep(value):
            return f"{name}[{key!r}]"
    return None


def too_deep(value: AnyValue) -> bool:
    """Tell whether `value` nests arrays and maps deeper than `MAX_VALUE_DEPTH`, without recursion."""
    pending: list[tuple[AnyValue, int]] = [(value, 1)] if _is_container(value) else []
    while pending:
        value, depth = pending.pop()
        if depth > MAX_VALUE_DEPTH:
            return True
        children = value.values() if isinstance(value, Mapping) else value
        pending.extend((child, depth + 1) for child in children if _is_container(child))  # type: ignore[union-attr]
    return False


def _is_container(value: AnyValue) -> bool:
    return type(value) not in _SCALAR_TYPES and isinstance(value, (list, tuple, dict, Mapping))
