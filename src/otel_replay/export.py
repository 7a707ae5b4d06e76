"""Send rebuilt SDK objects in batches through the official OTLP/HTTP exporters and count the results."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol
from urllib.parse import urlsplit, urlunsplit

from otel_replay.errors import UsageError
from otel_replay.model import Signal
from otel_replay.rebuild import (
    Compression,
    LogRecordExportResult,
    OTLPLogExporter,
    OTLPSpanExporter,
    SpanExportResult,
)
from otel_replay.report import Summary

__all__ = ["BatchExporter", "ExportSettings", "display_url", "resolve_endpoint"]

logger = logging.getLogger(__name__)

DEFAULT_ENDPOINT: Final = "http://localhost:4318"
_SIGNAL_PATHS: Final = {Signal.TRACES: "v1/traces", Signal.LOGS: "v1/logs", Signal.METRICS: "v1/metrics"}
_COMPRESSIONS: Final = {"gzip": Compression.Gzip, "deflate": Compression.Deflate, "none": Compression.NoCompression}


@dataclass(frozen=True, slots=True)
class ExportSettings:
    """Exporter options from the command line. None leaves an option to the OTEL_EXPORTER_OTLP_* variables."""

    endpoint: str | None = None
    traces_endpoint: str | None = None
    logs_endpoint: str | None = None
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
    own_option = {Signal.TRACES: settings.traces_endpoint, Signal.LOGS: settings.logs_endpoint}.get(signal)
    own_variable = environ.get(f"OTEL_EXPORTER_OTLP_{signal.value.upper()}_ENDPOINT", "").strip()
    base_variable = environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()

    if own_option:
        url = own_option
    elif settings.endpoint:
        url = _join(settings.endpoint, _SIGNAL_PATHS[signal])
    elif own_variable:
        url = own_variable
    else:
        url = _join(base_variable or DEFAULT_ENDPOINT, _SIGNAL_PATHS[signal])

    _check_url(url)
    return url


def display_url(url: str) -> str:
    """Return `url` without user info and query, which may carry credentials."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _join(base: str, path: str) -> str:
    return base.rstrip("/") + "/" + path


def _check_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        msg = (
            f"invalid endpoint URL {display_url(url)!r}: expected http:// or https:// and a host, "
            "such as http://localhost:4318"
        )
        raise UsageError(msg)


class _Exporter(Protocol):
    def export(self, batch: Sequence[Any], /) -> object: ...

    def shutdown(self) -> None: ...


class BatchExporter:
    """Collects SDK objects per signal and exports them in batches, counting sent and failed records."""

    def __init__(self, settings: ExportSettings, signals: frozenset[Signal], batch_size: int, summary: Summary) -> None:
        self._batch_size = batch_size
        self._summary = summary
        self._exporters: dict[Signal, _Exporter] = {}
        self._batches: dict[Signal, list[object]] = {}

        for signal in sorted(signals & {Signal.TRACES, Signal.LOGS}):
            url = resolve_endpoint(signal, settings)
            summary.endpoints[signal] = display_url(url)
            self._exporters[signal] = _create_exporter(signal, url, settings)
            self._batches[signal] = []

    def add(self, signal: Signal, sdk_record: object) -> None:
        """Queue one SDK span or log record, exporting the batch once it is full."""
        batch = self._batches[signal]
        batch.append(sdk_record)
        if len(batch) >= self._batch_size:
            self._export(signal)

    def close(self) -> None:
        """Export what is queued and shut the exporters down."""
        for signal in self._exporters:
            self._export(signal)
        for exporter in self._exporters.values():
            exporter.shutdown()

    def _export(self, signal: Signal) -> None:
        batch = self._batches[signal]
        if not batch:
            return
        self._batches[signal] = []
        counts = self._summary.counts[signal]

        try:
            result = self._exporters[signal].export(batch)
        except Exception:  # an encoder bug must fail this batch, not the run
            logger.exception("Exporting a batch of %d %s failed", len(batch), signal.value)
            counts.failed += len(batch)
            return

        if result in (SpanExportResult.SUCCESS, LogRecordExportResult.SUCCESS):
            counts.sent += len(batch)
            logger.info("Sent a batch of %d %s", len(batch), signal.value)
        else:
            # The exporter has already logged the HTTP status or connection error.
            counts.failed += len(batch)


def _create_exporter(signal: Signal, url: str, settings: ExportSettings) -> _Exporter:
    compression = None
    if settings.compression is not None:
        compression = _COMPRESSIONS[settings.compression]

    exporter_class = OTLPSpanExporter if signal is Signal.TRACES else OTLPLogExporter
    exporter: _Exporter = exporter_class(
        endpoint=url,
        certificate_file=settings.certificate,
        headers=None if settings.headers is None else dict(settings.headers),
        timeout=settings.timeout,
        compression=compression,
    )
    return exporter
