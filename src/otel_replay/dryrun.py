"""A sink for --dry-run: rebuild, encode and batch every record as `replay` would, and send nothing."""

from __future__ import annotations

from typing import Any

from otel_replay.model import Signal
from otel_replay.rebuild import Rebuilder
from otel_replay.report import Summary
from otel_replay.write import RequestBatcher

__all__ = ["DryRunSink"]


class DryRunSink(RequestBatcher):
    """Encodes each batch with the official encoders and counts its records as sendable.

    It opens no connection. `Summary.dry_run` makes the summary report "would send".
    """

    def __init__(self, signals: frozenset[Signal], batch_size: int, summary: Summary, rebuilder: Rebuilder) -> None:
        super().__init__(signals, batch_size, summary, rebuilder)
        self.encoded_bytes = 0
        summary.dry_run = True

    def close(self) -> None:
        """Encode what is queued and store the total encoded size in the summary."""
        super().close()
        self._summary.dry_run_bytes = self.encoded_bytes

    def _handle(self, signal: Signal, request: Any, size: int) -> None:
        self.encoded_bytes += len(request.SerializePartialToString())
        self._summary.counts[signal].sent += size
