"""BatchSender and the accounting of an interrupted run, with the real encoder and a recording transport."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

from otel_replay.batches import BatchSender, SendOptions
from otel_replay.delivery import Outcome
from otel_replay.interrupt import Interruption
from otel_replay.model import Location, MetricData, MetricKind, MetricPoint, ResourceData, ScopeData, Signal
from otel_replay.rebuild import Rebuilder, encode_request
from otel_replay.replay import ReplayOptions, Sink, replay
from otel_replay.report import Summary
from tests.conftest import SESSION_B_SPANS

BASE_NANO = 1_796_413_207_753_123_456
RESOURCE = ResourceData({"service.name": "shop"})


def gauge(points: int, label_bytes: int = 10) -> MetricData:
    """A gauge with `points` data points, each with an attribute of `label_bytes` characters."""
    return MetricData(
        location=Location(Path("metrics.json"), 0),
        resource=RESOURCE,
        scope=ScopeData("shop"),
        name="queue.depth",
        kind=MetricKind.GAUGE,
        points=tuple(
            MetricPoint(BASE_NANO, BASE_NANO + number, {"label": "x" * label_bytes, "n": number}, value=number)
            for number in range(points)
        ),
    )


class RecordingTransport:
    """Accepts every request and keeps it, standing in for the exporter below BatchSender."""

    def __init__(self, interruption: Interruption | None = None, stop_after: int | None = None) -> None:
        self.requests: list[Any] = []
        self._interruption = interruption
        self._stop_after = stop_after

    def __call__(self, request: Any) -> Outcome:
        self.requests.append(ExportMetricsServiceRequest.FromString(request.SerializeToString()))
        if self._interruption is not None and len(self.requests) == self._stop_after:
            with self._interruption.shield():
                self._interruption.request_stop()  # a first Ctrl-C while the request is in flight
        return Outcome(200, "HTTP 200 OK", 1, delivered=True)

    def values(self) -> list[float]:
        return [
            point.as_double or point.as_int
            for request in self.requests
            for resource in request.resource_metrics
            for scope in resource.scope_metrics
            for metric in scope.metrics
            for point in metric.gauge.data_points
        ]


def sender(summary: Summary, transport: RecordingTransport, options: SendOptions) -> BatchSender:
    rebuilder = Rebuilder()
    return BatchSender(
        Signal.METRICS, summary, lambda batch: encode_request(Signal.METRICS, batch, rebuilder), transport, options
    )


def test_single_metric_split_by_points() -> None:
    """A metric whose points exceed the limit is sent in parts of points, each under the limit, all once."""
    summary = Summary()
    transport = RecordingTransport()

    sender(summary, transport, SendOptions(max_batch_bytes=2048)).send([gauge(200)])

    assert len(transport.requests) > 1
    assert max(request.ByteSize() for request in transport.requests) <= 2048
    assert sorted(transport.values()) == list(range(200))
    assert summary.counts[Signal.METRICS].sent == 200


def test_oversized_point_skipped() -> None:
    """A single data point larger than the limit is skipped with a warning naming the file and record."""
    summary = Summary()
    transport = RecordingTransport()

    sender(summary, transport, SendOptions(max_batch_bytes=1024)).send([gauge(1, label_bytes=5000)])

    assert transport.requests == []
    assert summary.counts[Signal.METRICS].skipped["larger than --max-batch-bytes"] == 1
    assert summary.problems[0].location == Location(Path("metrics.json"), 0)
    assert "data point of metric 'queue.depth'" in summary.problems[0].message


def test_stop_request_fails_remaining_parts() -> None:
    """After a Ctrl-C during one part, the part finishes and the parts not sent yet count as interrupted."""
    summary = Summary()
    interruption = Interruption()
    transport = RecordingTransport(interruption, stop_after=1)
    options = SendOptions(max_batch_bytes=2048, interruption=interruption)

    with pytest.raises(KeyboardInterrupt):
        sender(summary, transport, options).send([gauge(200)])

    counts = summary.counts[Signal.METRICS]
    assert len(transport.requests) == 1
    assert counts.sent == len(transport.values())
    assert counts.failed_by_reason == {"interrupted": 200 - counts.sent}


class _StopAtFifth:
    """A sink that counts records as sent and raises KeyboardInterrupt at the fifth, as Ctrl-C would."""

    def __init__(self, summary: Summary) -> None:
        self._summary = summary
        self._added = 0

    def add(self, signal: Signal, record: object) -> None:
        self._added += 1
        if self._added == 5:
            raise KeyboardInterrupt
        self._summary.counts[signal].sent += 1

    def flush(self) -> None:
        """Nothing is queued."""

    def close(self) -> None:
        """Nothing is queued."""


def test_interrupted_run_accounts_every_record() -> None:
    """A Ctrl-C while reading ends the run with every record read counted, the last one as interrupted."""

    def build(summary: Summary, _rebuilder: Rebuilder) -> Sink:
        return _StopAtFifth(summary)

    summary = replay([SESSION_B_SPANS], ReplayOptions(), build)

    traces = summary.counts[Signal.TRACES]
    assert summary.interrupted
    assert summary.exit_status == 130
    assert traces.read == 5
    assert traces.sent == 4
    assert traces.failed_by_reason == {"interrupted": 1}
    assert json.loads(json.dumps(summary.to_dict()))["interrupted"] is True
    assert "Interrupted before the end of the input; a run with --ledger FILE can be resumed" in summary.render()
