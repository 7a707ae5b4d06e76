"""Input formats: detect a file's format from its content and read it as a stream of items."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from otel_replay.errors import InputError
from otel_replay.formats import codemachine
from otel_replay.model import Item

__all__ = ["FORMATS", "SNIFF_SIZE", "Format", "detect"]


@dataclass(frozen=True, slots=True)
class Format:
    """An input format: its name, how to recognise it and how to read it."""

    name: str
    sniff: Callable[[bytes], bool]
    read: Callable[[Path], Iterator[Item]]


FORMATS: Final = (Format(codemachine.NAME, codemachine.sniff, codemachine.read),)
"""Every supported format, in the order detection tries them."""

# CodeMachine writes its envelope keys before the record arrays, so they sit in the first
# few hundred bytes; the margin covers a long "sessionFile" path.
SNIFF_SIZE: Final = 4096


def detect(path: Path) -> Format | None:
    """Return the format of the file at `path`, or None when no format recognises it.

    Raises:
        InputError: the file cannot be opened.
    """
    try:
        with path.open("rb") as file:
            head = file.read(SNIFF_SIZE)
    except OSError as error:
        raise InputError(path, f"cannot read the file: {error.strerror}") from error

    for candidate in FORMATS:
        if candidate.sniff(head):
            return candidate
    return None
