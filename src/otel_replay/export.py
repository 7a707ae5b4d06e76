"""Send rebuilt SDK objects in batches through the official OTLP/HTTP exporters and count the results."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Protocol
from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit

import requests
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceResponse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from otel_replay.errors import UsageError
from otel_replay.model import MetricData, Signal
from otel_replay.rebuild import (
    Compression,
    LogRecordExportResult,
    MetricExportResult,
    Rebuilder,
    ReplayLogExporter,
    ReplayMetricExporter,
    ReplaySpanExporter,
    SpanExportResult,
)
from otel_replay.report import Summary
from otel_replay.transform import split_metric

__all__ = ["BatchExporter", "ExportSettings", "display_url", "resolve_endpoint", "secret_values"]

logger = logging.getLogger(__name__)

DEFAULT_ENDPOINT: Final = "http://localhost:4318"
_SIGNAL_PATHS: Final = {Signal.TRACES: "v1/traces", Signal.LOGS: "v1/logs", Signal.METRICS: "v1/metrics"}
_HTTP_PAYLOAD_TOO_LARGE: Final = 413
_MAX_DETAIL: Final = 160  # characters of a connection error kept in a message; requests nests long reprs
_RECORD_NOUNS: Final = {Signal.TRACES: "spans", Signal.LOGS: "log records", Signal.METRICS: "metric data points"}
_RESPONSES: Final[dict[Signal, Any]] = {
    Signal.TRACES: ExportTraceServiceResponse,
    Signal.LOGS: ExportLogsServiceResponse,
    Signal.METRICS: ExportMetricsServiceResponse,
}
_COMPRESSIONS: Final = {"gzip": Compression.Gzip, "deflate": Compression.Deflate, "none": Compression.NoCompression}


@dataclass(frozen=True, slots=True)
class ExportSettings:
    """Exporter options from the command line. None leaves an option to the OTEL_EXPORTER_OTLP_* variables."""

    endpoint: str | None = None
    traces_endpoint: str | None = None
    logs_endpoint: str | None = None
    metrics_endpoint: str | None = None
    headers: Mapping[str, str] | None = None
    timeout: float | None = None
    compression: str | None = None
    certificate: str | None = None


def resolve_endpoint(signal: Signal, settings: ExportSettings, environ: Mapping[str, str] = os.environ) -> str:
    """Return the URL that receives `signal`, following the OTLP exporter specification.

    In order: the signal's own option, ``--endpoint`` with the signal path appended,
    OTEL_EXPORTER_OTLP_<SIGNAL>_ENDPOINT as given, OTEL_EXPORTER_OTLP_ENDPOINT with the
    signal path appended, then http://localhost:4318 with the signal path.
    """
    own_option = {
        Signal.TRACES: settings.traces_endpoint,
        Signal.LOGS: settings.logs_endpoint,
        Signal.METRICS: settings.metrics_endpoint,
    }.get(signal)
    own_variable = environ.get(f"OTEL_EXPORTER_OTLP_{signal.value.upper()}_ENDPOINT", "").strip()
    base_variable = environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()

    own_option_name = f"--{signal.value}-endpoint"
    if own_option:
        return _checked(own_option, own_option_name)
    if settings.endpoint:
        return _join(_checked(settings.endpoint, "--endpoint"), _SIGNAL_PATHS[signal])
    if own_variable:
        return _checked(own_variable, f"OTEL_EXPORTER_OTLP_{signal.value.upper()}_ENDPOINT")
    if base_variable:
        return _join(_checked(base_variable, "OTEL_EXPORTER_OTLP_ENDPOINT"), _SIGNAL_PATHS[signal])
    return _join(DEFAULT_ENDPOINT, _SIGNAL_PATHS[signal])


def secret_values(settings: ExportSettings, environ: Mapping[str, str] = os.environ) -> set[str]:
    """Return the header values and URL credentials that output must never show.

    The exporters and the HTTP library put URLs and header values into some of their error
    messages, so the CLI removes these strings from every log line.
    """
    secrets = set((settings.headers or {}).values())
    names = [f"OTEL_EXPORTER_OTLP_{signal.value.upper()}_HEADERS" for signal in Signal]
    for name in ["OTEL_EXPORTER_OTLP_HEADERS", *names]:
        for pair in environ.get(name, "").split(","):
            secrets.add(unquote(pair.partition("=")[2]).strip())

    for signal in Signal:
        try:
            parts = urlsplit(resolve_endpoint(signal, settings, environ))
        except UsageError:
            continue
        secrets.update(value for _, value in parse_qsl(parts.query))
        secrets.add(parts.password or "")
    return {secret for secret in secrets if secret}


def display_url(url: str) -> str:
    """Return `url` without user info and query, which may carry credentials."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _join(base: str, path: str) -> str:
    return base.rstrip("/") + "/" + path


def _checked(url: str, source: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        msg = (
            f"invalid {source} URL {display_url(url)!r}: expected http:// or https:// and a host, "
            "such as http://localhost:4318"
        )
        raise UsageError(msg)
    return url


class _Exporter(Protocol):
    def export(self, batch: Any, /) -> object: ...

    def shutdown(self) -> None: ...


class BatchExporter:
    """Collects records per signal and exports them in batches, counting sent and failed records.

    Spans and log records are queued as `SpanData` and `LogData`, which the exporters encode.
    Metrics are queued as `MetricData` and
    rebuilt into one `MetricsData` per batch, because the SDK groups metrics per request. A
    metrics batch is measured in data points.
    """

    def __init__(
        self,
        settings: ExportSettings,
        signals: frozenset[Signal],
        batch_size: int,
        summary: Summary,
        rebuilder: Rebuilder,
    ) -> None:
        self._batch_size = batch_size
        self._summary = summary
        self._rebuilder = rebuilder
        self._queued_points = 0
        self._exporters: dict[Signal, _Exporter] = {}
        self._sessions: dict[Signal, _RecordingSession] = {}
        self._batches: dict[Signal, list[object]] = {}

        for signal in sorted(signals):
            url = resolve_endpoint(signal, settings)
            summary.endpoints[signal] = display_url(url)
            self._sessions[signal] = _RecordingSession()
            self._exporters[signal] = _create_exporter(signal, url, settings, self._sessions[signal])
            self._batches[signal] = []

    def add(self, signal: Signal, record: object) -> None:
        """Queue one SpanData, LogData or MetricData, exporting the batch once it is full."""
        if isinstance(record, MetricData):
            self._add_metric(record)
            return
        batch = self._batches[signal]
        batch.append(record)
        if len(batch) >= self._batch_size:
            self._export(signal)

    def _add_metric(self, metric: MetricData) -> None:
        rest: MetricData | None = metric
        while rest is not None:
            head, rest = split_metric(rest, self._batch_size - self._queued_points)
            self._batches[Signal.METRICS].append(head)
            self._queued_points += len(head.points)
            if self._queued_points >= self._batch_size:
                self._export(Signal.METRICS)

    def close(self) -> None:
        """Export what is queued and shut the exporters down."""
        for signal in self._exporters:
            self._export(signal)
        for exporter in self._exporters.values():
            exporter.shutdown()

    def _export(self, signal: Signal) -> None:
        batch = self._batches[signal]
        if batch:
            self._batches[signal] = []
            self._export_batch(signal, batch)
        if signal is Signal.METRICS:
            self._queued_points = 0

    def _export_batch(self, signal: Signal, batch: list[object]) -> None:
        counts = self._summary.counts[signal]
        session = self._sessions[signal]
        session.last_response, session.last_error = None, None

        size = _size(batch)
        try:
            payload = self._rebuilder.metrics(batch) if signal is Signal.METRICS else batch  # type: ignore[arg-type]  # a metrics batch holds MetricData only
            result = self._exporters[signal].export(payload)
        except Exception:  # an encoder bug must fail this batch, not the run
            logger.exception("Exporting a batch of %d %s failed", size, _RECORD_NOUNS[signal])
            counts.failed += size
            return

        response = session.last_response
        if result in (SpanExportResult.SUCCESS, LogRecordExportResult.SUCCESS, MetricExportResult.SUCCESS):
            rejected = _rejected_count(signal, response, size)
            counts.sent += size - rejected
            counts.failed += rejected
            logger.info("Sent a batch of %d %s", size, _RECORD_NOUNS[signal])
            return

        if response is not None and response.status_code == _HTTP_PAYLOAD_TOO_LARGE and len(batch) > 1:
            half = len(batch) // 2
            logger.warning(
                "The receiver rejected a batch of %d %s as too large (HTTP 413); sending it in two halves",
                size,
                _RECORD_NOUNS[signal],
            )
            self._export_batch(signal, batch[:half])
            self._export_batch(signal, batch[half:])
            return

        counts.failed += size
        message = f"failed to send a batch of {size} {_RECORD_NOUNS[signal]} to {self._summary.endpoints[signal]}"
        self._summary.export_errors.append(f"{message}: {_failure_reason(session)}")
        logger.error("%s: %s", message.capitalize(), _failure_reason(session))


def _size(batch: list[object]) -> int:
    """Return the number of records in a batch: data points for metrics, else objects."""
    return sum(len(record.points) if isinstance(record, MetricData) else 1 for record in batch)


class _RecordingSession(requests.Session):
    """A requests session that keeps the last response, which the exporters do not return.

    The status code separates a batch that was too large from other failures. The body
    contains the OTLP partial-success counts of records the receiver rejected. It also
    makes the CA file from --certificate win over the CA bundle variables of requests.
    """

    def __init__(self) -> None:
        super().__init__()
        self.last_response: requests.Response | None = None
        self.last_error: Exception | None = None

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:
        self.last_response, self.last_error = None, None
        if isinstance(self.verify, str):
            # requests lets REQUESTS_CA_BUNDLE and CURL_CA_BUNDLE override the session's CA
            # file unless the request names it, which would silently ignore --certificate.
            kwargs.setdefault("verify", self.verify)
        try:
            response = super().request(*args, **kwargs)
        except Exception as error:
            self.last_error = error
            raise
        self.last_response = response
        return response


def _failure_reason(session: _RecordingSession) -> str:
    response = session.last_response
    if response is not None:
        return f"HTTP {response.status_code} {response.reason}".rstrip()
    if session.last_error is not None:
        root = _root_cause(session.last_error)
        detail = str(root)
        if len(detail) > _MAX_DETAIL:
            # The cause, such as "Connection refused", comes at the end of requests' messages.
            detail = "..." + detail[3 - _MAX_DETAIL :]
        return f"no response ({type(root).__name__}: {detail})"
    return "not sent, since the encoded batch exceeds the exporter's 64 MiB request limit; use a smaller --batch-size"


def _root_cause(error: BaseException) -> BaseException:
    """Follow urllib3's `reason` and exception chaining to the error that started it all."""
    seen = {id(error)}
    while True:
        cause = getattr(error, "reason", None)
        if not isinstance(cause, BaseException):
            cause = error.__cause__ or error.__context__
        if not isinstance(cause, BaseException) and error.args and isinstance(error.args[0], BaseException):
            cause = error.args[0]
        if not isinstance(cause, BaseException) or id(cause) in seen:
            return error
        seen.add(id(cause))
        error = cause


def _rejected_count(signal: Signal, response: requests.Response | None, batch_size: int) -> int:
    """Return the number of records in an accepted batch that the receiver reports as rejected."""
    if response is None or not response.content:
        return 0
    if "protobuf" not in response.headers.get("Content-Type", ""):
        return 0

    try:
        message = _RESPONSES[signal].FromString(response.content)
    except DecodeError:
        logger.warning("Could not decode the receiver's response to a batch of %s", _RECORD_NOUNS[signal])
        return 0

    partial = message.partial_success
    rejected_fields = {
        Signal.TRACES: "rejected_spans",
        Signal.LOGS: "rejected_log_records",
        Signal.METRICS: "rejected_data_points",
    }
    rejected = int(getattr(partial, rejected_fields[signal]))
    if rejected or partial.error_message:
        logger.error(
            "The receiver rejected %d of %d %s in a batch: %s",
            rejected,
            batch_size,
            _RECORD_NOUNS[signal],
            partial.error_message or "no reason given",
        )
    return min(rejected, batch_size)


def _create_exporter(signal: Signal, url: str, settings: ExportSettings, session: requests.Session) -> _Exporter:
    compression = None
    if settings.compression is not None:
        compression = _COMPRESSIONS[settings.compression]

    exporter_classes = {
        Signal.TRACES: ReplaySpanExporter,
        Signal.LOGS: ReplayLogExporter,
        Signal.METRICS: ReplayMetricExporter,
    }
    exporter_class: Any = exporter_classes[signal]
    exporter: _Exporter = exporter_class(
        endpoint=url,
        certificate_file=settings.certificate,
        headers=None if settings.headers is None else dict(settings.headers),
        timeout=settings.timeout,
        compression=compression,
        session=session,
    )
    return exporter
