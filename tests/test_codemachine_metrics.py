"""CodeMachine metrics files: every data point arrives through the official metric exporter."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from otel_replay.receiver import OTLPReceiver
from otel_replay.values import iso_to_unix_nano
from tests.conftest import CODEMACHINE, run_cli
from tests.otlp import expected_attributes, from_attributes, load_json

SESSION_B_METRICS = CODEMACHINE / "traces" / "2026-12-04" / "19-40-07-metrics.json"
CUMULATIVE = 2


def _points(pb2_metric: Any) -> Any:
    kind = pb2_metric.WhichOneof("data")
    return getattr(pb2_metric, kind).data_points


def _number(pb2_point: Any) -> int | float:
    return pb2_point.as_int if pb2_point.WhichOneof("value") == "as_int" else pb2_point.as_double


def test_metrics_arrive_field_by_field(receiver: OTLPReceiver) -> None:
    """Each data point arrives with its metric, scope, resource, attributes, value and exact start and end times."""
    document = load_json(SESSION_B_METRICS)

    result = run_cli("replay", SESSION_B_METRICS, "--endpoint", receiver.url, "--json")

    assert result.exit_code == 0, result.stderr
    received = receiver.received.metrics_received()
    expected = [
        (export, scope_metrics["scope"], metric)
        for export in document["metrics"]
        for scope_metrics in export["scopeMetrics"]
        for metric in scope_metrics["metrics"]
    ]
    arrived = [
        (resource, scope, pb2_metric, pb2_point)
        for resource, scope, pb2_metric in received
        for pb2_point in _points(pb2_metric)
    ]
    expected_points = [
        (export, scope, metric, point) for export, scope, metric in expected for point in metric["dataPoints"]
    ]
    assert len(arrived) == len(expected_points)

    # The exporter groups by resource and scope, so compare as sorted keys.
    def received_key(resource: Any, scope: Any, pb2_metric: Any, pb2_point: Any) -> str:
        return json.dumps(
            [
                sorted(from_attributes(resource.attributes).items()),
                scope.name,
                scope.version,
                pb2_metric.name,
                pb2_metric.unit,
                pb2_metric.description,
                pb2_metric.WhichOneof("data"),
                sorted(from_attributes(pb2_point.attributes).items()),
                pb2_point.start_time_unix_nano,
                pb2_point.time_unix_nano,
                _number(pb2_point),
            ],
            default=str,
        )

    def expected_key(export: Any, scope: Any, metric: Any, point: Any) -> str:
        histogram = metric["type"] == "0"
        value = point["value"]
        return json.dumps(
            [
                sorted(expected_attributes(export["resource"]).items()),
                scope["name"],
                scope["version"],
                metric["name"] + (".sum" if histogram else ""),
                metric["unit"],
                (
                    f"Sum of histogram {metric['name']} as written by CodeMachine; the file has no count or buckets"
                    if histogram
                    else metric["description"]
                ),
                "gauge" if metric["type"] == "2" else "sum",
                sorted(expected_attributes(point["attributes"]).items()),
                iso_to_unix_nano(point["startTime"], "startTime"),
                iso_to_unix_nano(point["endTime"], "endTime"),
                float(value) if isinstance(value, Decimal) else value,
            ],
            default=str,
        )

    assert sorted(received_key(*item) for item in arrived) == sorted(expected_key(*item) for item in expected_points)


def test_sums_are_cumulative_and_histograms_sent_as_sums(receiver: OTLPReceiver) -> None:
    """Sums go out cumulative and non-monotonic; histogram values, which are only sums, go out as <name>.sum."""
    result = run_cli("replay", SESSION_B_METRICS, "--endpoint", receiver.url)

    metrics = {pb2_metric.name: pb2_metric for _, _, pb2_metric in receiver.received.metrics_received()}
    assert metrics["agent.runs"].sum.aggregation_temporality == CUMULATIVE
    assert metrics["agent.runs"].sum.is_monotonic is False
    assert "boot.phase_duration" not in metrics
    assert metrics["boot.phase_duration.sum"].WhichOneof("data") == "sum"
    assert "sent as sum metrics named <histogram>.sum" in result.stderr


def test_gauge_keeps_start_time(receiver: OTLPReceiver) -> None:
    """A gauge point keeps its recorded start time, which the SDK's encoder alone would drop."""
    run_cli("replay", SESSION_B_METRICS, "--endpoint", receiver.url)

    metrics = {pb2_metric.name: pb2_metric for _, _, pb2_metric in receiver.received.metrics_received()}
    starts = {point.start_time_unix_nano for point in metrics["process.uptime"].gauge.data_points}
    assert iso_to_unix_nano("2026-12-04T19:40:07.649Z", "startTime") in starts


def test_latest_metrics_are_duplicates(receiver: OTLPReceiver) -> None:
    """latest-metrics.json repeats the session file, so its points are skipped as duplicates."""
    result = run_cli(
        "replay",
        CODEMACHINE / "traces" / "latest-metrics.json",
        SESSION_B_METRICS,
        "--endpoint",
        receiver.url,
        "--json",
    )

    metrics = json.loads(result.stdout)["signals"]["metrics"]
    assert metrics["sent"] == 241
    assert metrics["skipped_by_reason"] == {"duplicate": 241}


def test_metric_batches_respect_batch_size(receiver: OTLPReceiver) -> None:
    """No metrics request contains more data points than --batch-size, even when one metric has more."""
    result = run_cli("replay", SESSION_B_METRICS, "--endpoint", receiver.url, "--batch-size", "50", "--json")

    sizes = [
        sum(len(_points(metric)) for rm in request.resource_metrics for sm in rm.scope_metrics for metric in sm.metrics)
        for request in receiver.received.metrics
    ]
    assert json.loads(result.stdout)["signals"]["metrics"]["sent"] == 241
    assert sum(sizes) == 241
    assert max(sizes) == 50
