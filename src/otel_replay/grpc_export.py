"""Send export requests over OTLP/gRPC through the official gRPC exporters, under the same delivery policy as HTTP.

The exporters come with the optional ``grpc`` extra. Their channel, credentials, headers and
compression are used as they set them up, but their export method is not: it would encode
the batch again without the fields `otel_replay.rebuild` completes, and apply its own retries.
So each completed request is sent once per attempt through the exporter's stub, and the
retries follow the OTLP specification for gRPC:

- UNAVAILABLE, CANCELLED, ABORTED, OUT_OF_RANGE, DATA_LOSS and DEADLINE_EXCEEDED are retried
  with the backoff of `RetryPolicy`, or after the delay of a ``RetryInfo`` in the trailers;
- RESOURCE_EXHAUSTED is retried only with a ``RetryInfo``. Without one the request is treated
  as too large and split, because gRPC servers reject an oversized message with that status;
- every other status is final.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from otel_replay.delivery import Outcome, RetryPolicy, plan_retry, resolve_timeout
from otel_replay.errors import UsageError
from otel_replay.model import Signal
from otel_replay.rebuild import grpc_export, grpc_exporter

if TYPE_CHECKING:
    from otel_replay.batches import Sender, SendOptions
    from otel_replay.export import ExportSettings
    from otel_replay.interrupt import Interruption

__all__ = ["DEFAULT_GRPC_ENDPOINT", "GrpcSender", "open_grpc", "resolve_grpc_endpoint"]

logger = logging.getLogger(__name__)

DEFAULT_GRPC_ENDPOINT: Final = "http://localhost:4317"
_RETRYABLE_CODES: Final = frozenset(
    {"UNAVAILABLE", "CANCELLED", "ABORTED", "OUT_OF_RANGE", "DATA_LOSS", "DEADLINE_EXCEEDED"}
)
_RETRY_INFO_KEY: Final = "google.rpc.retryinfo-bin"
_REQUEST_KINDS: Final = {Signal.TRACES: "spans", Signal.LOGS: "logs", Signal.METRICS: "metrics"}
_MISSING_EXTRA: Final = (
    "--protocol grpc needs the optional gRPC exporters: install otel-replay[grpc], "
    "such as with pip install 'otel-replay[grpc]'"
)


def resolve_grpc_endpoint(signal: Signal, settings: ExportSettings, environ: Mapping[str, str] = os.environ) -> str:
    """Return the gRPC endpoint for `signal`: options and variables as for HTTP, with no signal path appended."""
    own_option = {
        Signal.TRACES: settings.traces_endpoint,
        Signal.LOGS: settings.logs_endpoint,
        Signal.METRICS: settings.metrics_endpoint,
    }[signal]
    own_variable = f"OTEL_EXPORTER_OTLP_{signal.value.upper()}_ENDPOINT"
    candidates = [
        (own_option, f"--{signal.value}-endpoint"),
        (settings.endpoint, "--endpoint"),
        (environ.get(own_variable, "").strip(), own_variable),
        (environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip(), "OTEL_EXPORTER_OTLP_ENDPOINT"),
    ]
    for url, source in candidates:
        if not url:
            continue
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            msg = (
                f"invalid {source} URL for gRPC: expected http:// or https:// and a host, such as http://localhost:4317"
            )
            raise UsageError(msg)
        return url
    return DEFAULT_GRPC_ENDPOINT


def open_grpc(signal: Signal, settings: ExportSettings, options: SendOptions) -> tuple[str, Any, Sender]:
    """Create the signal's OTLP/gRPC exporter; return its endpoint, the exporter and its sender.

    Raises:
        UsageError: the grpc extra is not installed, or the TLS settings cannot be used with gRPC.
    """
    try:
        import grpc
    except ImportError as error:
        raise UsageError(_MISSING_EXTRA) from error

    url = resolve_grpc_endpoint(signal, settings)
    timeout = resolve_timeout(signal, settings.timeout)
    try:
        exporter = grpc_exporter(
            signal,
            endpoint=url,
            insecure=urlsplit(url).scheme == "http",
            credentials=_credentials(grpc, signal, url, settings),
            headers=_metadata(settings.headers),
            timeout=timeout,
            compression=_compression(grpc, signal, settings.compression),
        )
    except ImportError as error:
        raise UsageError(_MISSING_EXTRA) from error

    policy = RetryPolicy(timeout=timeout)
    if options.interruption is not None:
        policy = dataclasses.replace(policy, sleep=options.interruption.wait)
    request_name = f"the {_REQUEST_KINDS[signal]} request to {url} (gRPC)"
    return url, exporter, GrpcSender(exporter, policy, request_name, options.interruption)


class GrpcSender:
    """Sends completed export requests through a gRPC exporter's stub, with retries and one deadline."""

    def __init__(
        self, exporter: Any, policy: RetryPolicy, request_name: str, interruption: Interruption | None = None
    ) -> None:
        self._exporter = exporter
        self._policy = policy
        self._request_name = request_name
        self._interruption = interruption

    def __call__(self, request: Any) -> Outcome:
        """Send `request` until it is accepted, fails for good, or the deadline passes."""
        import grpc

        deadline = self._policy.clock() + self._policy.timeout
        attempt = 0
        while True:
            attempt += 1
            remaining = deadline - self._policy.clock()
            if remaining <= 0:
                return Outcome(None, f"timed out after {attempt - 1} attempts", attempt - 1)
            try:
                response = grpc_export(self._exporter, request, remaining)
            except grpc.RpcError as error:
                outcome_or_wait = self._after_error(error, attempt, deadline)
                if isinstance(outcome_or_wait, Outcome):
                    return outcome_or_wait
                if self._policy.sleep(outcome_or_wait) or self._interrupted():
                    return Outcome(None, "not retried, since the run was interrupted", attempt, interrupted=True)
                continue
            body = bytes(response.SerializeToString())
            return Outcome(None, "OK", attempt, "application/x-protobuf", body, delivered=True)

    def _after_error(self, error: Any, attempt: int, deadline: float) -> Outcome | float:
        code = error.code().name
        reason = f"gRPC {code}: {error.details() or 'no details'}"
        retry_delay = _retry_delay(error)
        if code == "RESOURCE_EXHAUSTED" and retry_delay is None:
            return Outcome(None, reason, attempt, too_large=True)
        if code not in _RETRYABLE_CODES and code != "RESOURCE_EXHAUSTED":
            return Outcome(None, reason, attempt)
        if self._interrupted():
            return Outcome(None, f"{reason}; not retried, since the run was interrupted", attempt, interrupted=True)

        remaining = deadline - self._policy.clock()
        wait = plan_retry(self._policy, self._request_name, attempt, reason, retry_delay, "RetryInfo", remaining)
        if isinstance(wait, str):
            return Outcome(None, wait, attempt)
        return wait

    def _interrupted(self) -> bool:
        return self._interruption is not None and self._interruption.requested


def _retry_delay(error: Any) -> float | None:
    """Return the delay of a google.rpc.RetryInfo in the error's trailers, in seconds, or None."""
    from google.rpc.error_details_pb2 import RetryInfo

    trailers = dict(error.trailing_metadata() or ())
    serialized = trailers.get(_RETRY_INFO_KEY)
    if serialized is None:
        return None
    info = RetryInfo.FromString(serialized)
    return float(info.retry_delay.seconds + info.retry_delay.nanos / 1e9)


def _credentials(grpc: Any, signal: Signal, url: str, settings: ExportSettings) -> Any:
    """Return channel credentials for an https endpoint from the TLS options and variables, or None for http."""
    scheme = urlsplit(url).scheme
    if scheme == "http":
        if settings.insecure:
            logger.warning("--insecure has no effect on %s, which does not use TLS", url)
        return None
    if settings.insecure:
        msg = (
            "--insecure cannot turn off certificate verification with gRPC; "
            "give the receiver's CA with --certificate instead"
        )
        raise UsageError(msg)

    certificate = settings.certificate or _variable(signal, "CERTIFICATE")
    return grpc.ssl_channel_credentials(
        root_certificates=_read(certificate),
        private_key=_read(settings.client_key or _variable(signal, "CLIENT_KEY")),
        certificate_chain=_read(settings.client_certificate or _variable(signal, "CLIENT_CERTIFICATE")),
    )


def _metadata(headers: Mapping[str, str] | None) -> dict[str, str] | None:
    """Return the headers as gRPC metadata, whose keys must be lower case; None leaves them to the variables."""
    if headers is None:
        return None
    return {key.lower(): value for key, value in headers.items()}


def _compression(grpc: Any, signal: Signal, name: str | None) -> Any:
    name = (name or _variable(signal, "COMPRESSION") or "none").strip().lower()
    compressions = {
        "gzip": grpc.Compression.Gzip,
        "deflate": grpc.Compression.Deflate,
        "none": grpc.Compression.NoCompression,
    }
    if name not in compressions:
        msg = f"invalid OTEL_EXPORTER_OTLP_COMPRESSION {name!r}: expected gzip, deflate or none"
        raise UsageError(msg)
    return compressions[name]


def _variable(signal: Signal, suffix: str) -> str | None:
    value = os.environ.get(f"OTEL_EXPORTER_OTLP_{signal.value.upper()}_{suffix}") or os.environ.get(
        f"OTEL_EXPORTER_OTLP_{suffix}"
    )
    return value.strip() if value else None


def _read(path: str | None) -> bytes | None:
    if path is None:
        return None
    try:
        return Path(path).read_bytes()
    except OSError as error:
        msg = f"cannot read {path}: {error.strerror}"
        raise UsageError(msg) from error
