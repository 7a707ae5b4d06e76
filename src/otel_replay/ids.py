"""Give replayed traces and spans new IDs, mapped consistently so parents, links and log records follow.

The new ID is a keyed BLAKE2b hash of the recorded ID, so the same recorded ID always maps
to the same new ID within a pass. Memory stays constant however many IDs a run has, and a
new key per pass makes each loop pass a distinct set of traces.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from typing import Final, TypeAlias

from otel_replay.model import LogData, MetricData, SpanData

__all__ = ["IdMapper"]

_KEY_SIZE: Final = 32  # bytes of random key per pass; BLAKE2b accepts up to 64
_Record: TypeAlias = SpanData | LogData | MetricData


class IdMapper:
    """Maps recorded trace IDs (128 bits) and span IDs (64 bits) to new random-looking IDs.

    Zero, which means "no ID" in OTLP, stays zero, and no other ID maps to zero.
    """

    def __init__(self, key: bytes | None = None) -> None:
        self._key = os.urandom(_KEY_SIZE) if key is None else key

    def trace_id(self, trace_id: int) -> int:
        """Return the new trace ID for `trace_id`."""
        return self._hash(trace_id, 16, b"trace")

    def span_id(self, span_id: int) -> int:
        """Return the new span ID for `span_id`."""
        return self._hash(span_id, 8, b"span")

    def apply(self, record: _Record) -> _Record:
        """Return `record` with its trace, span, parent and link IDs replaced; metrics have none."""
        if isinstance(record, SpanData):
            links = [
                dataclasses.replace(link, trace_id=self.trace_id(link.trace_id), span_id=self.span_id(link.span_id))
                for link in record.links
            ]
            return dataclasses.replace(
                record,
                trace_id=self.trace_id(record.trace_id),
                span_id=self.span_id(record.span_id),
                parent_span_id=self.span_id(record.parent_span_id),
                links=links,
            )
        if isinstance(record, LogData):
            if not record.trace_id and not record.span_id:
                return record
            return dataclasses.replace(
                record, trace_id=self.trace_id(record.trace_id), span_id=self.span_id(record.span_id)
            )
        return record

    def _hash(self, recorded: int, size: int, purpose: bytes) -> int:
        if not recorded:
            return 0
        digest = hashlib.blake2b(recorded.to_bytes(size, "big"), digest_size=size, key=self._key, person=purpose)
        new_id = int.from_bytes(digest.digest(), "big")
        # A zero digest has probability 2**-64 at most; map it to a fixed non-zero ID rather than "no ID".
        return new_id or 1
