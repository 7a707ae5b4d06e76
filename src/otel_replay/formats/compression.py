"""Open input files, decompressing gzip and zstd content recognised by its magic bytes."""

from __future__ import annotations

import gzip
import io
from pathlib import Path
from typing import BinaryIO, Final

from otel_replay.errors import InputError

__all__ = ["open_binary"]

_GZIP_MAGIC: Final = b"\x1f\x8b"
_ZSTD_MAGIC: Final = b"\x28\xb5\x2f\xfd"


def open_binary(path: Path) -> BinaryIO:
    """Open a file for reading, decompressing gzip and zstd content, recognised by its magic bytes.

    Raises:
        InputError: the file cannot be opened.
    """
    try:
        raw = path.open("rb")
    except OSError as error:
        raise InputError(path, f"cannot read the file: {error.strerror}") from error

    magic = raw.read(4)
    raw.seek(0)
    if magic.startswith(_GZIP_MAGIC):
        # GzipFile does not close a file object it was given, so let it open the path itself.
        raw.close()
        return gzip.open(path, "rb")  # type: ignore[return-value]  # GzipFile is a binary stream
    if magic == _ZSTD_MAGIC:
        import zstandard

        return io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(raw, closefd=True))
    return raw
