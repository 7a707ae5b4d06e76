"""A sink for --dry-run: rebuild, encode and batch every record as `replay` would, and send nothing."""

from __future__ import annotations

from typing import Any

from otel_replay.model import MetricData, Signal
from otel_replay.rebuild import Rebuilder, encode_request
from otel_replay.report import Summary
from otel_replay.transform import split_metric

__all__ = ["DryRunSink"]


class DryRunSink:
    """Encodes each batch with the official encoders and counts its records as sendable.

    It opens no connection. `Summary.dry_run` makes the summary report "would send".
    """

    def __init__(self, signals: frozenset[Signal], batch_size: int, summary: Summary, rebuilder: Rebuilder) -> None:
        self._batch_size = batch_size
        self._summary = summary
        self._rebuilder = rebuilder
        self._batches: dict[Signal, list[Any]] = {signal: [] for signal in signals}
        self._sizes: dict[Signal, int] = dict.fromkeys(signals, 0)
        self.encoded_bytes = 0
        summary.dry_run = True

    def add(self, signal: Signal, record: object) -> None:
        """Queue one SDK span or log record, or one MetricData, encoding the batch once it is full."""
        rest: object | None = record
        while rest is not None:
            part = rest
            rest = None
            if isinstance(part, MetricData):
                part, rest = split_metric(part, self._batch_size - self._sizes[signal])
            self._batches[signal].append(part)
            self._sizes[signal] += len(part.points) if isinstance(part, MetricData) else 1
            if self._sizes[signal] >= self._batch_size:
                self._encode(signal)

    def flush(self) -> None:
        """Encode what is queued."""
        for signal in self._batches:
            self._encode(signal)

    def close(self) -> None:
        """Encode what is queued and store the total encoded size in the summary."""
        self.flush()
        self._summary.dry_run_bytes = self.encoded_bytes

    def _encode(self, signal: Signal) -> None:
        batch = self._batches[signal]
        size = self._sizes[signal]
        if not batch:
            return
        self._batches[signal], self._sizes[signal] = [], 0

        request = encode_request(signal, batch, self._rebuilder)
        self.encoded_bytes += len(request.SerializePartialToString())
        self._summary.counts[signal].sent += size
