"""Open input files, decompressing gzip and zstd content recognised by its magic bytes."""

from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, Final, Protocol, cast

from otel_replay.errors import InputError

__all__ = ["DecompressionError", "open_binary"]

_GZIP_MAGIC: Final = b"\x1f\x8b"
_ZSTD_MAGIC: Final = b"\x28\xb5\x2f\xfd"


class DecompressionError(OSError):
    """Compressed content is damaged or cut short.

    It is an `OSError`, so readers that report read errors with the file's name report it too.
    """


def open_binary(path: Path) -> BinaryIO:
    """Open a file for reading, decompressing gzip and zstd content, recognised by its magic bytes.

    Decompression is streamed, so a small file that expands to gigabytes costs no more memory
    than the reader's own buffer. Damaged or truncated compressed data raises
    `DecompressionError` from `read`.

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
        return _checked(gzip.open(path, "rb"))
    if magic == _ZSTD_MAGIC:
        import zstandard

        frames = _ZstdFrames(raw)
        # zstandard needs only read() and close() of its source.
        source = cast("BinaryIO", frames)
        return _checked(zstandard.ZstdDecompressor().stream_reader(source, closefd=True), frames)
    return raw


class _Decompressor(Protocol):
    def readinto(self, buffer: bytearray | memoryview, /) -> int: ...

    def close(self) -> None: ...


def _checked(stream: _Decompressor, frames: _ZstdFrames | None = None) -> BinaryIO:
    return io.BufferedReader(_DecompressedStream(stream, frames))


class _DecompressedStream(io.RawIOBase):
    """A decompressing stream whose codec errors are raised as `DecompressionError`.

    zlib raises `zlib.error`, and zstandard its own `ZstdError`, for damaged data; gzip
    raises `EOFError` for a cut stream. None of them is an `OSError`.
    """

    def __init__(self, stream: _Decompressor, frames: _ZstdFrames | None) -> None:
        super().__init__()
        self._stream = stream
        self._frames = frames

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]  # RawIOBase takes any buffer
        try:
            size = self._stream.readinto(buffer)
        except OSError:
            raise
        except (zlib.error, EOFError) as error:
            raise DecompressionError(f"damaged or truncated compressed data: {error}") from error
        except Exception as error:
            if not type(error).__module__.startswith("zstandard"):
                raise
            raise DecompressionError(f"damaged or truncated compressed data: {error}") from error

        if size == 0 and self._frames is not None and not self._frames.complete():
            raise DecompressionError("damaged or truncated compressed data: the zstd stream ends inside a frame")
        return size

    def close(self) -> None:
        self._stream.close()
        super().close()


_ZSTD_FRAME_MAGIC: Final = 0xFD2FB528
_SKIPPABLE_FRAME_MASK: Final = 0xFFFFFFF0
_SKIPPABLE_FRAME_MAGIC: Final = 0x184D2A50
_BLOCK_RLE: Final = 1
_BLOCK_RESERVED: Final = 3


class _ZstdFrames:
    """Passes compressed bytes through while following zstd's frame and block headers.

    zstandard's stream reader returns the end of a frame that is cut short as the end of the
    data, without an error, so a truncated file would look complete. Following the headers
    shows whether the input ended between frames. Block contents are skipped, not decoded.
    The layout is the one RFC 8878 describes.
    """

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self._header = bytearray()
        self._needed = 4
        self._step: Callable[[bytes], None] = self._magic
        self._skip = 0
        self._checksum_bytes = 0
        self._unknown = False  # content that is not a zstd frame, which zstandard itself rejects

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        self._follow(data)
        return data

    def close(self) -> None:
        self._raw.close()

    def complete(self) -> bool:
        """Tell whether the bytes read so far end between two frames."""
        return self._unknown or (self._step == self._magic and not self._header and not self._skip)

    def _follow(self, data: bytes) -> None:
        position = 0
        while position < len(data) and not self._unknown:
            if self._skip:
                count = min(self._skip, len(data) - position)
                self._skip -= count
                position += count
                continue
            count = min(self._needed - len(self._header), len(data) - position)
            self._header += data[position : position + count]
            position += count
            if len(self._header) == self._needed:
                header = bytes(self._header)
                self._header.clear()
                self._step(header)

    def _expect(self, size: int, step: Callable[[bytes], None]) -> None:
        self._needed = size
        self._step = step

    def _magic(self, header: bytes) -> None:
        magic = int.from_bytes(header, "little")
        if magic == _ZSTD_FRAME_MAGIC:
            self._expect(1, self._descriptor)
        elif magic & _SKIPPABLE_FRAME_MASK == _SKIPPABLE_FRAME_MAGIC:
            self._expect(4, self._skippable_size)
        else:
            self._unknown = True

    def _skippable_size(self, header: bytes) -> None:
        self._skip = int.from_bytes(header, "little")
        self._expect(4, self._magic)

    def _descriptor(self, header: bytes) -> None:
        descriptor = header[0]
        single_segment = bool(descriptor & 0x20)
        self._checksum_bytes = 4 if descriptor & 0x04 else 0
        dictionary_id_bytes = (0, 1, 2, 4)[descriptor & 0x03]
        content_size_bytes = ((1 if single_segment else 0), 2, 4, 8)[descriptor >> 6]
        window_bytes = 0 if single_segment else 1
        rest = window_bytes + dictionary_id_bytes + content_size_bytes
        if rest:
            self._expect(rest, self._header_rest)
        else:
            self._expect(3, self._block)

    def _header_rest(self, header: bytes) -> None:
        self._expect(3, self._block)

    def _block(self, header: bytes) -> None:
        fields = int.from_bytes(header, "little")
        last_block = fields & 1
        block_type = (fields >> 1) & 3
        block_size = fields >> 3
        if block_type == _BLOCK_RESERVED:
            self._unknown = True
            return

        # An RLE block stores one byte, repeated block_size times.
        self._skip = 1 if block_type == _BLOCK_RLE else block_size
        if not last_block:
            self._expect(3, self._block)
        elif self._checksum_bytes:
            self._expect(self._checksum_bytes, self._checksum)
        else:
            self._expect(4, self._magic)

    def _checksum(self, header: bytes) -> None:
        self._expect(4, self._magic)
