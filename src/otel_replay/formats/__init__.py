"""Input formats: open (decompressing gzip and zstd), detect a file's format from its content, and read it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from otel_replay.errors import InputError, UsageError
from otel_replay.formats import codemachine, console, jaeger, otlp_json, otlp_proto, zipkin
from otel_replay.formats.compression import open_binary
from otel_replay.formats.limits import guard
from otel_replay.model import Item

__all__ = ["FORMATS", "SNIFF_SIZE", "Format", "by_name", "detect", "open_binary"]


@dataclass(frozen=True, slots=True)
class Format:
    """An input format: its name, how to recognise it and how to read it."""

    name: str
    description: str
    sniff: Callable[[bytes], bool]
    read: Callable[[Path], Iterator[Item]]


FORMATS: Final = (
    Format(
        codemachine.NAME, "CodeMachine CLI trace, log and metrics files", codemachine.sniff, guard(codemachine.read)
    ),
    Format(
        otlp_json.NAME, "OTLP/JSON requests, one per line or pretty-printed", otlp_json.sniff, guard(otlp_json.read)
    ),
    Format(jaeger.NAME, "Jaeger UI download or query API JSON", jaeger.sniff, guard(jaeger.read)),
    Format(zipkin.NAME, "Zipkin v2 JSON span list", zipkin.sniff, guard(zipkin.read)),
    Format(console.NAME, "OpenTelemetry Python SDK console exporter output", console.sniff, guard(console.read)),
    Format(otlp_proto.NAME, "OTLP protobuf requests, length-prefixed", otlp_proto.sniff, guard(otlp_proto.read)),
)
"""Every supported format, in the order detection tries them; binary formats come last.

Each `read` is wrapped by `limits.guard`, which enforces the nesting limit on every record.
"""

_UTF8_BOM: Final = b"\xef\xbb\xbf"
SNIFF_SIZE: Final = 4096
"""Bytes of (decompressed) content that detection looks at."""


def detect(path: Path) -> Format | None:
    """Return the format of the file at `path`, or None when no format recognises it.

    Raises:
        InputError: the file cannot be read or decompressed.
    """
    try:
        with open_binary(path) as file:
            head = file.read(SNIFF_SIZE)
    except (OSError, EOFError) as error:
        raise InputError(path, f"cannot read or decompress the file: {error}") from error
    except Exception as error:
        # zstandard raises its own error type for damaged frames.
        if type(error).__module__.startswith("zstandard"):
            raise InputError(path, f"cannot decompress the file: {error}") from error
        raise

    # A text file saved by some Windows editors starts with a UTF-8 byte order mark, which the
    # readers skip, so detection looks past it too.
    text_head = head.removeprefix(_UTF8_BOM)
    for candidate in FORMATS:
        if candidate.sniff(head) or (text_head is not head and candidate.sniff(text_head)):
            return candidate
    return None


def by_name(name: str) -> Format:
    """Return the format called `name`, as given to --format.

    Raises:
        UsageError: no format has that name.
    """
    for candidate in FORMATS:
        if candidate.name == name:
            return candidate
    names = ", ".join(candidate.name for candidate in FORMATS)
    msg = f"unknown --format {name!r}: expected one of {names}"
    raise UsageError(msg)
