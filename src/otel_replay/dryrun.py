"""A sink for --dry-run: rebuild, encode and batch every record as `replay` would, and send nothing."""

from __future__ import annotations

from typing import Any

from otel_replay.encode import EncodedMessage, official_encoding
from otel_replay.export import request_encoder
from otel_replay.model import Signal
from otel_replay.rebuild import Rebuilder
from otel_replay.report import Summary
from otel_replay.write import RequestBatcher

__all__ = ["DryRunSink"]


class DryRunSink(RequestBatcher):
    """Encodes each batch as the exporters over HTTP do and counts its records as sendable.

    Spans and log records are written by `RequestEncoder`, so the sink also takes the records
    that worker processes encoded, unless ``OTEL_REPLAY_ENCODER=sdk`` selects the official
    encoders. It opens no connection. `Summary.dry_run` makes the summary report "would send".
    """

    def __init__(self, signals: frozenset[Signal], batch_size: int, summary: Summary, rebuilder: Rebuilder) -> None:
        super().__init__(signals, batch_size, summary, rebuilder)
        self.encoded_bytes = 0
        self.encodes_directly = not official_encoding()
        """True when `RequestEncoder` writes the span and log requests, so records that workers encoded may be added."""
        self._encoders = {signal: request_encoder(signal, rebuilder, grpc=False) for signal in signals}
        summary.dry_run = True

    def add_many(self, signal: Signal, records: list[EncodedMessage]) -> None:
        """Queue the records of an `EncodedRun`, encoding each batch once it is full."""
        for record in records:
            self.add(signal, record)

    def close(self) -> None:
        """Encode what is queued and store the total encoded size in the summary."""
        super().close()
        self._summary.dry_run_bytes = self.encoded_bytes

    def _request(self, signal: Signal, batch: list[Any]) -> Any:
        return self._encoders[signal](batch)

    def _handle(self, signal: Signal, request: Any, size: int) -> None:
        self.encoded_bytes += len(request.SerializePartialToString())
        self._summary.counts[signal].sent += size
