"""Send one batch of a signal: keep requests under the size limit, split on 413, count and record the result.

A batch whose encoded request exceeds ``--max-batch-bytes`` is split into parts of about
the limit, and one that the receiver rejects as too large (HTTP 413, or gRPC
RESOURCE_EXHAUSTED without a RetryInfo) into halves, until each part fits. A single record
that does not fit is skipped and named. After the receiver accepted a part, its partial success is counted and
its records are appended to the ledger.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from otel_replay.delivery import Outcome, parse_partial_success, redact
from otel_replay.encode import EncodedMessage
from otel_replay.interrupt import Interruption
from otel_replay.ledger import Ledger, record_identities
from otel_replay.model import Location, LogData, MetricData, Signal, SpanData
from otel_replay.report import COUNTED, INTERRUPTED, REJECTED, TOO_LARGE, Summary
from otel_replay.transform import split_metric

__all__ = ["DEFAULT_MAX_BATCH_BYTES", "BatchSender", "SendOptions"]

logger = logging.getLogger(__name__)

DEFAULT_MAX_BATCH_BYTES: Final = 3 * 1024 * 1024
"""Uncompressed protobuf bytes per request, below gRPC's default maximum received message size of
4 MiB, which OTLP/gRPC receivers keep unless configured otherwise."""

_NOUNS: Final = {
    Signal.TRACES: ("span", "spans"),
    Signal.LOGS: ("log record", "log records"),
    Signal.METRICS: ("metric data point", "metric data points"),
}

Encoder = Callable[[list[object]], Any]
"""Encodes a batch into a protobuf export request."""

Sender = Callable[[Any], Outcome]
"""Sends a protobuf export request through the official exporter, retries included, and returns the outcome."""


@dataclass(frozen=True, slots=True)
class SendOptions:
    """Settings of a `BatchSender` that all signals share."""

    max_batch_bytes: int = DEFAULT_MAX_BATCH_BYTES
    ledger: Ledger | None = None
    interruption: Interruption | None = None
    secrets: frozenset[str] = frozenset()
    """Header values and URL credentials to remove from messages."""


class BatchSender:
    """Sends the batches of one signal and counts every record as sent, skipped or failed."""

    def __init__(
        self,
        signal: Signal,
        summary: Summary,
        encode: Encoder,
        send: Sender,
        options: SendOptions,
    ) -> None:
        self._signal = signal
        self._summary = summary
        self._encode = encode
        self._send = send
        self._options = options
        self._interruption = options.interruption or Interruption()

    def send(self, batch: list[object]) -> None:
        """Deliver a batch, in parts if it is too large, and count the outcome of every record.

        Raises:
            KeyboardInterrupt: the user pressed Ctrl-C; the records not delivered are counted
                as failed with the reason ``interrupted``.
        """
        pending = [batch]
        in_flight: list[object] = []
        with self._interruption.shield():
            try:
                while pending:
                    in_flight = pending.pop()
                    if self._interruption.requested:
                        self._fail(in_flight, INTERRUPTED)
                        continue
                    self._send_part(in_flight, pending)
                    in_flight = []
            except KeyboardInterrupt:
                for part in [in_flight, *pending]:
                    self._fail(part, INTERRUPTED)
                raise

    def abandon(self, batch: list[object]) -> None:
        """Count a batch that was queued but will not be sent, because the run was interrupted."""
        self._fail(batch, INTERRUPTED)

    def _send_part(self, part: list[object], pending: list[list[object]]) -> None:
        size = _size(part)
        try:
            request = self._encode(part)
            encoded_size = request.ByteSize()
        except Exception:  # an encoder bug must fail this batch, not the run
            logger.exception("Encoding a batch of %s failed", self._count(size))
            self._fail(part, "encoding failed")
            return

        if encoded_size > self._options.max_batch_bytes:
            self._split_oversized(part, pending, encoded_size)
            return

        outcome = self._send(request)
        if outcome.delivered:
            self._delivered(part, outcome)
            return
        if outcome.too_large:
            self._split_rejected(part, pending, outcome.reason if outcome.status is None else f"HTTP {outcome.status}")
            return
        self._failed(part, outcome)

    def _delivered(self, part: list[object], outcome: Outcome) -> None:
        size = _size(part)
        partial = parse_partial_success(self._signal, outcome.content_type, outcome.body)
        for problem in partial.problems:
            logger.warning(
                "Could not read the partial success in the response to a batch of %s: %s", self._count(size), problem
            )

        self._record_in_ledger(part)

        counts = self._summary.counts[self._signal]
        rejected = min(partial.rejected, size)
        counts.sent += size - rejected
        if rejected:
            counts.fail(rejected, REJECTED)
            message = self._message(
                f"the receiver rejected {rejected} of {self._count(size)} in a batch: "
                f"{partial.message or 'no reason given'}"
            )
            self._summary.export_errors.append(message)
            logger.error("%s", message[0].upper() + message[1:], extra=COUNTED)
        elif partial.message:
            message = self._message(
                f"the receiver accepted a batch of {self._count(size)} with a warning: {partial.message}"
            )
            self._summary.export_warnings.append(message)
            logger.warning("%s", message[0].upper() + message[1:])
        logger.info("Sent a batch of %s", self._count(size))

    def _record_in_ledger(self, part: list[object]) -> None:
        ledger = self._options.ledger
        if ledger is None:
            return
        try:
            ledger.record([identity for record in part for identity in record_identities(record)])
        except OSError as error:
            # The records were delivered, so they count as sent. The run fails so that the
            # user learns that a rerun with this ledger would send them again.
            message = f"cannot record a delivered batch: {error.strerror}; a rerun with this ledger sends it again"
            self._summary.file_errors += 1
            self._summary.error(Location(ledger.path), message)

    def _split_rejected(self, part: list[object], pending: list[list[object]], reason_text: str) -> None:
        halves = _split(part, 2)
        if halves is None:
            reason = f"the receiver rejects even a single record as too large: {_describe(part[0])}"
            self._failed(part, None, reason)
            return
        logger.warning(
            "The receiver rejected a batch of %s as too large (%s); sending it in two halves",
            self._count(_size(part)),
            reason_text,
        )
        pending.extend(reversed(halves))

    def _split_oversized(self, part: list[object], pending: list[list[object]], encoded_size: int) -> None:
        limit = self._options.max_batch_bytes
        # Parts of about the limit's size need fewer encodings than halving again and again.
        parts = _split(part, -(-encoded_size // limit))
        if parts is not None:
            logger.info(
                "Sending a batch of %s in %d parts, since its request of %d bytes exceeds --max-batch-bytes %d",
                self._count(_size(part)),
                len(parts),
                encoded_size,
                limit,
            )
            pending.extend(reversed(parts))
            return

        record = part[0]
        counts = self._summary.counts[self._signal]
        counts.skipped[TOO_LARGE] += _size(part)
        location = getattr(getattr(record, "recorded", record), "location", None)
        message = (
            f"{_describe(record)}: not sent, since its request of {encoded_size} bytes exceeds "
            f"--max-batch-bytes {limit}"
        )
        # A record that is never sent makes the run fail, so this is an error, not a warning.
        if location is None:
            self._summary.errors += 1
            logger.error("%s", message, extra=COUNTED)
        else:
            self._summary.error(location, message)

    def _failed(self, part: list[object], outcome: Outcome | None, reason: str | None = None) -> None:
        if reason is None:
            reason = outcome.reason if outcome is not None else "the exporter did not send the request"
        if outcome is not None and outcome.interrupted:
            self._fail(part, INTERRUPTED)
            return
        size = _size(part)
        endpoint = self._summary.endpoints.get(self._signal, "the receiver")
        message = self._message(f"failed to send a batch of {self._count(size)} to {endpoint}: {reason}")
        self._summary.export_errors.append(message)
        logger.error("%s", message[0].upper() + message[1:], extra=COUNTED)
        self._fail(part, "export failed")

    def _fail(self, part: list[object], reason: str) -> None:
        if part:
            self._summary.counts[self._signal].fail(_size(part), reason)

    def _count(self, number: int) -> str:
        singular, plural = _NOUNS[self._signal]
        return f"{number} {singular if number == 1 else plural}"

    def _message(self, text: str) -> str:
        return redact(text, set(self._options.secrets))


def _size(batch: list[object]) -> int:
    """Return the number of records in a batch: data points for metrics, else objects."""
    if not batch or not isinstance(batch[0], MetricData):
        return len(batch)  # a batch contains records of one signal
    return sum(len(record.points) if isinstance(record, MetricData) else 1 for record in batch)


def _split(batch: list[object], count: int) -> list[list[object]] | None:
    """Split a batch into about `count` (at least 2) parts of equal record counts, or return None for one record."""
    if len(batch) > 1:
        count = min(max(count, 2), len(batch))
        bounds = [len(batch) * number // count for number in range(count + 1)]
        return [batch[start:end] for start, end in itertools.pairwise(bounds)]

    only = batch[0]
    if not isinstance(only, MetricData) or len(only.points) < 2:
        return None
    count = min(max(count, 2), len(only.points))
    parts: list[list[object]] = []
    rest: MetricData | None = only
    for remaining_parts in range(count, 0, -1):
        assert rest is not None  # each round leaves points for the rounds after it
        head, rest = split_metric(rest, -(-len(rest.points) // remaining_parts))
        parts.append([head])
    return parts


def _describe(record: Any) -> str:
    record = getattr(record, "recorded", record)
    if isinstance(record, EncodedMessage):
        return record.describe()
    if isinstance(record, SpanData):
        return f"span with trace ID {record.trace_id:032x} and span ID {record.span_id:016x}"
    if isinstance(record, LogData):
        return "log record"
    if isinstance(record, MetricData):
        return f"data point of metric {record.name!r}"
    return "record"
