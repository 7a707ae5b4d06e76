"""Record what was delivered in an append-only file, so that a rerun sends only what is missing.

The file starts with a header line. Each later line stands for one delivered batch: a CRC-32
of the rest of the line, then the 16-byte identity of each record in hex. A line is written
and flushed to disk after the receiver accepted its batch. A crash mid-write leaves a last
line without its newline, which the next run ignores with a warning and cuts off.

Identities are those of deduplication: a span is its trace ID, span ID and kind, and a log
record or data point is a digest of all its fields (`otel_replay.transform`).
"""

from __future__ import annotations

import hashlib
import logging
import os
import zlib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO, Final

from otel_replay.errors import UsageError
from otel_replay.model import LogData, MetricData, SpanData
from otel_replay.transform import log_identity, point_identity

__all__ = ["ALREADY_DELIVERED", "Ledger", "record_identities"]

logger = logging.getLogger(__name__)

ALREADY_DELIVERED: Final = "already delivered"
"""The skip reason of records that the ledger lists as delivered by an earlier run."""

_HEADER: Final = b"otel-replay ledger 1\n"
_IDENTITY_SIZE: Final = 16  # bytes, the size of the deduplication digests


def record_identities(record: object) -> list[bytes]:
    """Return the identities of a span, a log record or the data points of a metric.

    SDK spans and log records that `otel_replay.rebuild` made are identified by the record
    they were rebuilt from.
    """
    record = getattr(record, "recorded", record)
    if isinstance(record, SpanData):
        key = record.trace_id.to_bytes(16, "big") + record.span_id.to_bytes(8, "big") + bytes([int(record.kind)])
        return [hashlib.blake2b(key, digest_size=_IDENTITY_SIZE).digest()]
    if isinstance(record, LogData):
        return [_as_bytes(log_identity(record))]
    if isinstance(record, MetricData):
        return [_as_bytes(point_identity(record, point)) for point in record.points]
    msg = f"no identity for a {type(record).__name__}"
    raise TypeError(msg)


def _as_bytes(fingerprint: tuple[int, int]) -> bytes:
    """Return a deduplication fingerprint as the 16 bytes of the digest it was made from."""
    high, low = fingerprint
    return high.to_bytes(8, "little") + low.to_bytes(8, "little")


class Ledger:
    """The delivered records of earlier runs, and the file that records this run's deliveries.

    Memory grows by about 100 bytes per delivered record: a 16-byte digest and a count,
    because a file may contain equal log records that were emitted separately.
    """

    def __init__(self, path: Path, stream: IO[bytes], delivered: dict[bytes, int]) -> None:
        self.path = path
        self._stream = stream
        self._delivered = delivered
        self.loaded = sum(delivered.values())
        """The number of records that earlier runs recorded."""

    @classmethod
    def open(cls, path: Path) -> Ledger:
        """Read the ledger at `path`, or create it, and open it for appending.

        Raises:
            UsageError: the file is not a ledger or cannot be read or written.
        """
        try:
            stream = path.open("a+b")
        except OSError as error:
            msg = f"cannot open --ledger {path}: {error.strerror}"
            raise UsageError(msg) from error

        try:
            delivered = _load(path, stream)
        except BaseException:
            stream.close()
            raise
        ledger = cls(path, stream, delivered)
        if ledger.loaded:
            logger.warning(
                "The ledger %s lists %d records as delivered by earlier runs; they are skipped", path, ledger.loaded
            )
        return ledger

    def take(self, identity: bytes) -> bool:
        """Return True if an earlier run delivered this record, using up one recorded delivery."""
        count = self._delivered.get(identity, 0)
        if not count:
            return False
        if count == 1:
            del self._delivered[identity]
        else:
            self._delivered[identity] = count - 1
        return True

    def record(self, identities: Sequence[bytes]) -> None:
        """Append one delivered batch and flush it to disk."""
        if not identities:
            return
        digests = b"".join(identities).hex().encode("ascii")
        line = b"%08x " % zlib.crc32(digests) + digests + b"\n"
        self._stream.write(line)
        self._stream.flush()
        os.fsync(self._stream.fileno())

    def close(self) -> None:
        """Close the file."""
        self._stream.close()


def _load(path: Path, stream: IO[bytes]) -> dict[bytes, int]:
    stream.seek(0)
    header = stream.read(len(_HEADER))
    if len(header) < len(_HEADER) and _HEADER.startswith(header):
        # An empty file, or one whose header a crash cut short: nothing was recorded yet.
        stream.truncate(0)
        stream.write(_HEADER)
        stream.flush()
        return {}
    if header != _HEADER:
        msg = f"--ledger {path} is not an otel-replay ledger; name a new file or one that an earlier run wrote"
        raise UsageError(msg)

    delivered: dict[bytes, int] = {}
    end_of_last_line = len(_HEADER)
    for number, line in enumerate(stream, start=2):
        if not line.endswith(b"\n"):
            logger.warning(
                "Ignoring the incomplete last line of the ledger %s, left by an interrupted write; "
                "the records of that batch will be sent again",
                path,
            )
            stream.truncate(end_of_last_line)
            break
        end_of_last_line += len(line)
        identities = _parse_line(line)
        if identities is None:
            logger.warning("Ignoring line %d of the ledger %s: it is damaged (checksum mismatch)", number, path)
            continue
        for identity in identities:
            delivered[identity] = delivered.get(identity, 0) + 1
    return delivered


def _parse_line(line: bytes) -> Iterable[bytes] | None:
    checksum, _, digests = line.rstrip(b"\n").partition(b" ")
    try:
        valid = int(checksum, 16) == zlib.crc32(digests)
        raw = bytes.fromhex(digests.decode("ascii"))
    except ValueError:
        return None
    if not valid or len(raw) % _IDENTITY_SIZE:
        return None
    return (raw[start : start + _IDENTITY_SIZE] for start in range(0, len(raw), _IDENTITY_SIZE))
