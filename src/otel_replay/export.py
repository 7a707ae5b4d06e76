"""Send rebuilt SDK objects in batches through the official OTLP/HTTP exporters and count the results."""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Protocol
from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit

import requests

from otel_replay.batches import BatchSender, Encoder, Sender, SendOptions
from otel_replay.delivery import DeliverySession, Outcome, RetryPolicy, resolve_timeout
from otel_replay.encode import EncodedMessage, RequestEncoder, SerializedRequest, official_encoding
from otel_replay.errors import UsageError
from otel_replay.model import MetricData, Signal
from otel_replay.rebuild import (
    Compression,
    Rebuilder,
    ReplayLogExporter,
    ReplayMetricExporter,
    ReplaySpanExporter,
    encode_request,
    send_serialized,
)
from otel_replay.report import Summary
from otel_replay.transform import split_metric

__all__ = [
    "GRPC",
    "BatchExporter",
    "ExportSettings",
    "display_url",
    "request_encoder",
    "resolve_endpoint",
    "resolve_protocol",
    "secret_values",
]

logger = logging.getLogger(__name__)

DEFAULT_ENDPOINT: Final = "http://localhost:4318"
GRPC: Final = "grpc"
HTTP_PROTOBUF: Final = "http/protobuf"
_SIGNAL_PATHS: Final = {Signal.TRACES: "v1/traces", Signal.LOGS: "v1/logs", Signal.METRICS: "v1/metrics"}
_MIN_SECRET_WORD: Final = 8  # characters; shorter words of a header value, such as "Bearer", are not secret
_REQUEST_KINDS: Final = {Signal.TRACES: "spans", Signal.LOGS: "logs", Signal.METRICS: "metrics"}
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
    client_certificate: str | None = None
    client_key: str | None = None
    insecure: bool = False
    """Turn off TLS certificate verification for https endpoints."""
    protocol: str | None = None
    """grpc or http/protobuf."""


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

    # A receiver may echo the token of "Bearer <token>" without its scheme in an error message.
    words = {word for secret in secrets for word in secret.split() if len(word) >= _MIN_SECRET_WORD}
    return {secret for secret in secrets | words if secret}


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
        send_options: SendOptions | None = None,
    ) -> None:
        self._batch_size = batch_size
        self._summary = summary
        self._rebuilder = rebuilder
        self._queued_points = 0
        self._exporters: dict[Signal, _Exporter] = {}
        self._senders: dict[Signal, BatchSender] = {}
        self.encodes_directly = True
        """True when `RequestEncoder` writes the span and log requests, so records that workers encoded may be added."""
        self._batches: dict[Signal, list[object]] = {}
        options = dataclasses.replace(send_options or SendOptions(), secrets=frozenset(secret_values(settings)))

        for signal in sorted(signals):
            if resolve_protocol(signal, settings) == GRPC:
                from otel_replay.grpc_export import open_grpc

                url, exporter, send = open_grpc(signal, settings, options)
            else:
                url, exporter, send = _open_http(signal, settings, options)
            summary.endpoints[signal] = display_url(url)
            self._exporters[signal] = exporter
            grpc = resolve_protocol(signal, settings) == GRPC
            if signal is not Signal.METRICS and (grpc or official_encoding()):
                self.encodes_directly = False
            encode = request_encoder(signal, self._rebuilder, grpc=grpc)
            self._senders[signal] = BatchSender(signal, summary, encode, send, options)
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

    def add_many(self, signal: Signal, records: list[EncodedMessage]) -> None:
        """Queue the records of an `EncodedRun`, exporting each batch once it is full."""
        while records:
            batch = self._batches[signal]
            room = self._batch_size - len(batch)
            batch.extend(records[:room])
            records = records[room:]
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

    def flush(self) -> None:
        """Export what is queued, even half-full batches."""
        for signal in self._batches:
            self._export(signal)

    def close(self) -> None:
        """Export what is queued and shut the exporters down; after Ctrl-C, count it as interrupted instead."""
        for signal in self._batches:
            if self._summary.interrupted:
                self._senders[signal].abandon(self._batches[signal])
                self._batches[signal] = []
            self._export(signal)
        while self._exporters:
            _, exporter = self._exporters.popitem()
            exporter.shutdown()

    def _export(self, signal: Signal) -> None:
        batch = self._batches[signal]
        if batch:
            self._batches[signal] = []
            self._export_batch(signal, batch)
        if signal is Signal.METRICS:
            self._queued_points = 0

    def _export_batch(self, signal: Signal, batch: list[object]) -> None:
        self._senders[signal].send(batch)


def request_encoder(signal: Signal, rebuilder: Rebuilder, *, grpc: bool) -> Encoder:
    """Return the encoder of a signal's batches: `RequestEncoder` for spans and log records over HTTP.

    It writes the same bytes as the official encoders, which stay in use for metrics, for
    gRPC, whose stubs take protobuf messages, and with ``OTEL_REPLAY_ENCODER=sdk``.
    """
    if signal is Signal.METRICS or grpc or official_encoding():
        return functools.partial(encode_request, signal, rebuilder=rebuilder)

    request_encoder = RequestEncoder()
    write = request_encoder.spans if signal is Signal.TRACES else request_encoder.logs

    def encode(batch: list[object]) -> SerializedRequest:
        return SerializedRequest(write(batch))  # type: ignore[arg-type]  # a span or log batch holds its records only

    return encode


def resolve_protocol(signal: Signal, settings: ExportSettings, environ: Mapping[str, str] = os.environ) -> str:
    """Return the OTLP protocol for `signal`: --protocol, else the OTLP protocol variables, else http/protobuf."""
    names = (f"OTEL_EXPORTER_OTLP_{signal.value.upper()}_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL")
    source, value = "--protocol", settings.protocol
    for name in names:
        if value:
            break
        source, value = name, environ.get(name, "").strip()
    protocol = (value or HTTP_PROTOBUF).lower()
    if protocol not in (HTTP_PROTOBUF, GRPC):
        msg = f"invalid {source} {value!r}: expected grpc or http/protobuf (http/json is not supported)"
        raise UsageError(msg)
    return protocol


def _open_http(signal: Signal, settings: ExportSettings, options: SendOptions) -> tuple[str, _Exporter, Sender]:
    """Create the signal's OTLP/HTTP exporter over a `DeliverySession`; return its URL, it and its sender."""
    url = resolve_endpoint(signal, settings)
    policy = RetryPolicy(timeout=resolve_timeout(signal, settings.timeout))
    if options.interruption is not None:
        policy = dataclasses.replace(policy, sleep=options.interruption.wait)
    session = DeliverySession(
        policy, _REQUEST_KINDS[signal], display_url(url), _verify(url, settings), options.interruption
    )
    exporter = _create_exporter(signal, url, settings, session, policy.timeout)

    def send(request: Any) -> Outcome:
        session.last_outcome = None
        send_serialized(exporter, request.SerializePartialToString())
        # The session records an outcome for every request; none means the exporter never sent it.
        return session.last_outcome or Outcome(None, "the exporter did not send the request", 0)

    return url, exporter, send


def _verify(url: str, settings: ExportSettings) -> bool | None:
    """Return False to turn TLS verification off for --insecure, None to leave it to the exporter."""
    if not settings.insecure:
        return None
    if urlsplit(url).scheme != "https":
        logger.warning("--insecure has no effect on %s, which does not use TLS", display_url(url))
        return None
    logger.warning("TLS certificates of %s are not verified (--insecure)", display_url(url))
    return False


def _create_exporter(
    signal: Signal, url: str, settings: ExportSettings, session: requests.Session, timeout: float
) -> _Exporter:
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
        client_certificate_file=settings.client_certificate,
        client_key_file=settings.client_key,
        headers=None if settings.headers is None else dict(settings.headers),
        # Always explicit, so that the exporter does not read OTEL_EXPORTER_OTLP_TIMEOUT as seconds.
        timeout=timeout,
        compression=compression,
        session=session,
    )
    return exporter
