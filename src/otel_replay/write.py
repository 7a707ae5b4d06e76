"""Write records as OTLP/JSON lines, the OpenTelemetry Collector file exporter's format, for `convert`."""

from __future__ import annotations

import logging
from typing import IO, Any, Final

import orjson
from google.protobuf.json_format import MessageToDict

from otel_replay.model import MetricData, Signal
from otel_replay.rebuild import Rebuilder, encode_request
from otel_replay.report import Summary
from otel_replay.transform import split_metric

__all__ = ["OTLPJsonWriter", "RequestBatcher"]

logger = logging.getLogger(__name__)

# OTLP/JSON writes these bytes fields as hex, where protobuf's JSON mapping would use base64.
_HEX_ID_KEYS: Final = frozenset({"traceId", "spanId", "parentSpanId"})


class RequestBatcher:
    """Collects records per signal into batches of `batch_size` records and encodes each full batch.

    Metrics count by data point and are split to keep that size. Subclasses handle each
    encoded request in `_handle` and count its records there.
    """

    def __init__(self, signals: frozenset[Signal], batch_size: int, summary: Summary, rebuilder: Rebuilder) -> None:
        self._batch_size = batch_size
        self._summary = summary
        self._rebuilder = rebuilder
        self._batches: dict[Signal, list[Any]] = {signal: [] for signal in signals}
        self._sizes: dict[Signal, int] = dict.fromkeys(signals, 0)

    def add(self, signal: Signal, record: object) -> None:
        """Queue one SpanData, LogData or MetricData, encoding the batch once it is full."""
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
        """Encode what is queued, even half-full batches."""
        for signal in self._batches:
            self._encode(signal)

    def close(self) -> None:
        """Encode what is queued."""
        self.flush()

    def _encode(self, signal: Signal) -> None:
        batch = self._batches[signal]
        size = self._sizes[signal]
        if not batch:
            return
        self._batches[signal], self._sizes[signal] = [], 0
        self._handle(signal, self._request(signal, batch), size)

    def _request(self, signal: Signal, batch: list[Any]) -> Any:
        """Return the export request of a batch: the official encoders' protobuf message."""
        return encode_request(signal, batch, self._rebuilder)

    def _handle(self, signal: Signal, request: Any, size: int) -> None:
        raise NotImplementedError


class OTLPJsonWriter(RequestBatcher):
    """Writes batches of records to a text stream, one export request per line.

    It takes the same records as `BatchExporter` and encodes them with the same official
    encoders, so a converted file contains exactly what `replay` would have sent.
    """

    def __init__(
        self, output: IO[str], signals: frozenset[Signal], batch_size: int, summary: Summary, rebuilder: Rebuilder
    ) -> None:
        super().__init__(signals, batch_size, summary, rebuilder)
        self._output = output

    def close(self) -> None:
        """Write what is queued and flush the stream."""
        super().close()
        self._output.flush()

    def _handle(self, signal: Signal, request: Any, size: int) -> None:
        document = MessageToDict(request, use_integers_for_enums=True)
        _hex_ids(document)
        # U+2028 and U+2029 are valid raw in JSON strings, but line readers such as Python's
        # str.splitlines and older JavaScript parsers treat them as line ends, so escape them.
        line = orjson.dumps(document).decode().replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
        try:
            self._output.write(line + "\n")
        except OSError as error:
            logger.error("Writing a batch of %d %s failed: %s", size, signal.value, error)
            self._summary.counts[signal].failed += size
            return
        self._summary.counts[signal].sent += size


def _hex_ids(node: Any) -> None:
    """Rewrite base64 trace and span IDs as hex in place, as OTLP/JSON requires."""
    if isinstance(node, list):
        for item in node:
            _hex_ids(item)
        return
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        if key in _HEX_ID_KEYS and isinstance(value, str):
            node[key] = _base64_to_hex(value)
        else:
            _hex_ids(value)


def _base64_to_hex(value: str) -> str:
    import base64

    return base64.b64decode(value).hex()
