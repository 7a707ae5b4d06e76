"""Deliver export requests: the retry policy and deadline under the official exporters, and partial success.

The official OTLP/HTTP exporters send through a `requests.Session` that their constructor
accepts. `DeliverySession` is that session, and it owns the whole policy of one request:

- it retries connection errors and HTTP 429, 502, 503 and 504 with exponential backoff and
  jitter, honouring ``Retry-After`` in seconds or as an HTTP date;
- every other status is final, and so are TLS errors;
- ``--timeout`` is one deadline for the request and all its retries.

When it gives up it raises `DeliveryFailed`, which the exporter's HTTP client treats as a
final error, so the exporter never retries on its own. tests/test_exporter_contract.py fails
if an exporter release changes that.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import random
import threading
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, Final, NoReturn

import orjson
import requests
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceResponse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from urllib3.exceptions import InsecureRequestWarning

from otel_replay.errors import UsageError
from otel_replay.interrupt import Interruption
from otel_replay.model import Signal

__all__ = [
    "DEFAULT_TIMEOUT",
    "RETRYABLE_STATUSES",
    "DeliveryFailed",
    "DeliverySession",
    "Outcome",
    "PartialSuccess",
    "RetryPolicy",
    "parse_partial_success",
    "plan_retry",
    "redact",
    "resolve_timeout",
]

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT: Final = 10.0  # seconds per request, the OTLP exporter specification's default
RETRYABLE_STATUSES: Final = frozenset({429, 502, 503, 504})  # the OTLP/HTTP specification's list
_HTTP_PAYLOAD_TOO_LARGE: Final = 413
_NOTICEABLE_WAIT: Final = 5.0  # seconds; a longer Retry-After wait is logged as a warning, not info
_MAX_DETAIL: Final = 160  # characters of a connection error kept in a message; requests nests long reprs
_REJECTED_FIELDS: Final = {
    Signal.TRACES: "rejected_spans",
    Signal.LOGS: "rejected_log_records",
    Signal.METRICS: "rejected_data_points",
}
_RESPONSES: Final[dict[Signal, Any]] = {
    Signal.TRACES: ExportTraceServiceResponse,
    Signal.LOGS: ExportLogsServiceResponse,
    Signal.METRICS: ExportMetricsServiceResponse,
}


def resolve_timeout(signal: Signal, timeout: float | None, environ: Mapping[str, str] = os.environ) -> float:
    """Return the deadline per request in seconds: `timeout`, else the OTLP timeout variables, else 10.

    The OTLP specification gives OTEL_EXPORTER_OTLP_TIMEOUT and its per-signal variants in
    milliseconds, but the Python exporters 1.45 read them as seconds. So they are read here
    as milliseconds, and the exporters always get an explicit timeout in seconds.
    """
    if timeout is not None:
        return timeout

    for name in (f"OTEL_EXPORTER_OTLP_{signal.value.upper()}_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT"):
        text = environ.get(name, "").strip()
        if not text:
            continue
        try:
            milliseconds = float(text)
        except ValueError:
            milliseconds = math.nan
        if not math.isfinite(milliseconds) or milliseconds <= 0:
            msg = f"invalid {name} {text!r}: expected a positive number of milliseconds, such as 10000"
            raise UsageError(msg)
        return milliseconds / 1000
    return DEFAULT_TIMEOUT


def redact(text: str, secrets: set[str]) -> str:
    """Return `text` with every secret replaced, longer secrets first so that a secret containing another goes whole."""
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, "[redacted]")
    return text


def _sleep(seconds: float) -> bool:
    time.sleep(seconds)
    return False


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """When and how long to retry one export request.

    The clock, sleep and random functions are parameters so that tests can control time.
    `sleep` returns True when the wait was cut short because the user asked to stop.
    """

    timeout: float = DEFAULT_TIMEOUT
    """Seconds for a request and all its retries."""
    initial_backoff: float = 1.0
    """Seconds before the first retry; each later retry waits twice as long, up to `max_backoff`."""
    max_backoff: float = 32.0
    jitter: float = 0.2
    """Each backoff is multiplied by a random factor between 1 - jitter and 1 + jitter."""
    max_attempts: int = 10
    """Attempts per request, so that a receiver that keeps sending ``Retry-After: 0`` cannot cause a busy loop."""
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], bool] = _sleep
    uniform: Callable[[float, float], float] = random.uniform
    wall_clock: Callable[[], float] = time.time
    """Seconds since the epoch, to turn a Retry-After date into a wait."""

    def backoff(self, retry: int) -> float:
        """Return the wait in seconds before retry number `retry` (1 for the first)."""
        base: float = min(self.max_backoff, self.initial_backoff * 2 ** (retry - 1))
        return base * self.uniform(1 - self.jitter, 1 + self.jitter)

    def wait_before_retry(self, retry: int, requested: float | None, remaining: float) -> float | None:
        """Return the seconds to wait before retry number `retry`, or None when the deadline leaves no time for it.

        `requested` is the wait the receiver asked for, which replaces the backoff.
        """
        wait = self.backoff(retry) if requested is None else requested
        return wait if wait < remaining else None

    def retry_after(self, header: str | None) -> float | None:
        """Return the wait that a Retry-After header requests, in seconds, or None without one."""
        if header is None or not header.strip():
            return None
        text = header.strip()
        if text.isdigit():
            return float(text)
        try:
            moment = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            logger.info("Ignoring an invalid Retry-After header %r", text[:40])
            return None
        return max(0.0, float(moment.timestamp()) - self.wall_clock())


@dataclass(frozen=True, slots=True)
class Outcome:
    """The end of one request after its retries: the last response or error."""

    status: int | None
    """The HTTP status of the last response, None when there was none or the protocol is gRPC."""
    reason: str
    """A description for messages, such as ``HTTP 400 Bad Request``."""
    attempts: int
    content_type: str = ""
    body: bytes = b""
    """The response body: an export response in protobuf or JSON."""
    delivered: bool = False
    """True when the receiver accepted the request, possibly with a partial success."""
    interrupted: bool = False
    too_large: bool = False
    """True when the receiver rejected the request for its size, so that smaller parts may pass."""


class DeliveryFailed(Exception):  # noqa: N818  # named for what the exporter's client sees
    """Raised by `DeliverySession` when a request failed for good.

    It is deliberately not a `requests.ConnectionError`, which the exporter's client would retry.
    """


@dataclass(slots=True)
class _Attempts:
    deadline: float
    count: int = 0


class DeliverySession(requests.Session):
    """A requests session that applies `RetryPolicy` to each request and keeps its `Outcome`.

    `verify` overrides what the exporter sets: a CA file wins over the CA bundle variables
    of requests, and False turns verification off for --insecure.
    """

    def __init__(
        self,
        policy: RetryPolicy,
        kind: str,
        display_url: str,
        verify: bool | str | None = None,
        interruption: Interruption | None = None,
    ) -> None:
        super().__init__()
        self.policy = policy
        # Per thread, so that batches sent from several threads each read their own outcome.
        self._outcomes = threading.local()
        self._kind = kind
        self._display_url = display_url
        self._verify_override = verify
        self._interruption = interruption
        self._environment_settings: dict[tuple[object, ...], dict[str, Any]] = {}

    @property
    def last_outcome(self) -> Outcome | None:
        """The outcome of the last request this thread sent, None before the first."""
        outcome: Outcome | None = getattr(self._outcomes, "last", None)
        return outcome

    @last_outcome.setter
    def last_outcome(self, outcome: Outcome | None) -> None:
        self._outcomes.last = outcome

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        """Send the request, retrying as the policy allows; raise `DeliveryFailed` when it fails for good."""
        self.last_outcome = None
        attempts = _Attempts(deadline=self.policy.clock() + self.policy.timeout)
        kwargs["verify"] = self._verify(kwargs.get("verify"))
        # A redirected POST may lose its body or carry the headers to another host.
        kwargs["allow_redirects"] = False
        while True:
            attempts.count += 1
            remaining = attempts.deadline - self.policy.clock()
            if remaining <= 0:
                self._fail(Outcome(None, f"timed out: {self._deadline_text()}", attempts.count - 1))
            # NOTE: requests applies the timeout to connecting and to each read, so a receiver that
            # sends its response slowly can keep one attempt past the deadline.
            kwargs["timeout"] = remaining
            response = self._attempt(method, url, attempts, args, kwargs)
            if response is not None:
                return response

    def merge_environment_settings(self, url: str, proxies: Any, stream: Any, verify: Any, cert: Any) -> dict[str, Any]:
        """Merge the proxy and CA bundle variables into the request's settings, reading them once per run.

        requests reads the whole environment for each request, about half a millisecond of CPU
        time per request here, and the environment does not change during a run.
        """
        key = (url, tuple(sorted((proxies or {}).items())), stream, verify, cert)
        settings = self._environment_settings.get(key)
        if settings is None:
            settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
            self._environment_settings[key] = settings
        return {**settings, "proxies": dict(settings["proxies"])}

    def _verify(self, requested: object) -> bool | str:
        if self._verify_override is not None:
            return self._verify_override
        # requests lets REQUESTS_CA_BUNDLE and CURL_CA_BUNDLE override the session's CA file
        # unless the request names it, which would silently ignore --certificate.
        if isinstance(self.verify, str):
            return self.verify
        return requested if isinstance(requested, bool | str) else True

    def _attempt(
        self, method: str | bytes, url: str | bytes, attempts: _Attempts, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> requests.Response | None:
        """Make one attempt: return the accepted response, None after waiting to retry, or raise."""
        try:
            with warnings.catch_warnings():
                # --insecure was already warned about once; urllib3 would warn on every request.
                warnings.simplefilter("ignore", InsecureRequestWarning)
                # requests accepts a bytes method and URL, although its annotations name str only.
                response = super().request(method, url, *args, **kwargs)  # type: ignore[arg-type]
        except requests.exceptions.SSLError as error:
            self._fail(Outcome(None, f"TLS error: {_describe_error(error)}", attempts.count))
        except (requests.ConnectionError, requests.Timeout) as error:
            self._wait_or_fail(attempts, f"no response ({_describe_error(error)})", None, None)
            return None
        except OSError as error:  # the other errors of requests, and certificate files not found
            self._fail(Outcome(None, f"request failed: {_describe_error(error)}", attempts.count))

        reason = f"HTTP {response.status_code} {response.reason or ''}".rstrip()
        if 200 <= response.status_code < 300:
            self.last_outcome = _outcome(response, reason, attempts.count)
            return response
        if response.status_code not in RETRYABLE_STATUSES:
            if 300 <= response.status_code < 400:
                reason += ": redirects are not followed; give the URL the receiver redirects to"
            self._fail(_outcome(response, reason, attempts.count))
        retry_after = self.policy.retry_after(response.headers.get("Retry-After"))
        self._wait_or_fail(attempts, reason, retry_after, response)
        return None

    def _wait_or_fail(
        self, attempts: _Attempts, reason: str, retry_after: float | None, response: requests.Response | None
    ) -> None:
        last = Outcome(None, reason, attempts.count) if response is None else _outcome(response, reason, attempts.count)
        remaining = attempts.deadline - self.policy.clock()
        if self._interrupted():
            self._fail(_replace_reason(last, f"{reason}; not retried, since the run was interrupted", interrupted=True))

        request_name = f"the {self._kind} request to {self._display_url}"
        wait = plan_retry(
            self.policy, request_name, attempts.count, reason, retry_after, "Retry-After header", remaining
        )
        if isinstance(wait, str):
            self._fail(_replace_reason(last, wait))

        if response is not None:
            response.close()
        if self.policy.sleep(wait) or self._interrupted():
            self._fail(_replace_reason(last, f"{reason}; not retried, since the run was interrupted", interrupted=True))

    def _interrupted(self) -> bool:
        return self._interruption is not None and self._interruption.requested

    def _deadline_text(self) -> str:
        return _deadline_text(self.policy)

    def _fail(self, outcome: Outcome) -> NoReturn:
        self.last_outcome = outcome
        raise DeliveryFailed(outcome.reason)


def plan_retry(
    policy: RetryPolicy,
    request_name: str,
    attempt: int,
    reason: str,
    requested: float | None,
    requested_by: str,
    remaining: float,
) -> float | str:
    """Return the seconds to wait before retrying, and log the retry; or return the final reason.

    `request_name` names the request in messages, `requested` is the wait the receiver asked for in
    `requested_by` (such as its Retry-After header), and `remaining` the seconds left before
    the deadline.
    """
    if attempt >= policy.max_attempts:
        return f"{reason} after {_attempts_text(attempt)}, the maximum per request"
    wait = policy.wait_before_retry(attempt, requested, remaining)
    if wait is None and requested is not None:
        return (
            f"{reason} after {_attempts_text(attempt)}; the receiver asked to retry after {requested:.1f} s "
            f"({requested_by}), past the deadline: {_deadline_text(policy)}"
        )
    if wait is None:
        return f"{reason} after {_attempts_text(attempt)}; gave up at the deadline: {_deadline_text(policy)}"

    if requested is None:
        logger.info("Retrying %s in %.2f s (attempt %d: %s)", request_name, wait, attempt, reason)
        return wait
    level = logging.WARNING if wait >= _NOTICEABLE_WAIT else logging.INFO
    logger.log(
        level,
        "Waiting %.1f s as the receiver's %s asks, then retrying %s (attempt %d: %s)",
        wait,
        requested_by,
        request_name,
        attempt,
        reason,
    )
    return wait


def _deadline_text(policy: RetryPolicy) -> str:
    return f"{policy.timeout:g} s per request, retries included (--timeout)"


def _outcome(response: requests.Response, reason: str, attempts: int) -> Outcome:
    return Outcome(
        response.status_code,
        reason,
        attempts,
        content_type=response.headers.get("Content-Type", ""),
        body=response.content or b"",
        delivered=200 <= response.status_code < 300,
        too_large=response.status_code == _HTTP_PAYLOAD_TOO_LARGE,
    )


def _replace_reason(outcome: Outcome, reason: str, *, interrupted: bool = False) -> Outcome:
    return dataclasses.replace(outcome, reason=reason, interrupted=interrupted)


def _attempts_text(count: int) -> str:
    return "1 attempt" if count == 1 else f"{count} attempts"


def _describe_error(error: BaseException) -> str:
    root = _root_cause(error)
    detail = str(root)
    if len(detail) > _MAX_DETAIL:
        # The cause, such as "Connection refused", comes at the end of requests' messages.
        detail = "..." + detail[3 - _MAX_DETAIL :]
    return f"{type(root).__name__}: {detail}"


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


# --- partial success -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PartialSuccess:
    """The records of an accepted request that the receiver rejected, and its message."""

    rejected: int = 0
    message: str = ""
    problems: list[str] = field(default_factory=list)
    """Problems that kept the response body from being read, if any."""


def parse_partial_success(signal: Signal, content_type: str, body: bytes) -> PartialSuccess:
    """Read ``partial_success`` from an OTLP/HTTP response body in protobuf or JSON.

    JSON may spell the keys in lowerCamelCase, as the OTLP/JSON mapping requires, or in
    snake_case, and may give the int64 count as a string or a number. An empty body means
    full success.
    """
    if not body:
        return PartialSuccess()
    if "json" in content_type.lower():
        return _json_partial_success(signal, body)
    try:
        message = _RESPONSES[signal].FromString(body)
    except DecodeError:
        return PartialSuccess(problems=[f"the response body is not a protobuf {_RESPONSES[signal].__name__}"])
    partial = message.partial_success
    return PartialSuccess(int(getattr(partial, _REJECTED_FIELDS[signal])), partial.error_message)


def _json_partial_success(signal: Signal, body: bytes) -> PartialSuccess:
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return PartialSuccess(problems=["the response body is not valid JSON"])
    if not isinstance(document, dict):
        return PartialSuccess(problems=["the JSON response body is not an object"])

    partial = _field(document, "partial_success")
    if partial is None:
        return PartialSuccess()
    if not isinstance(partial, dict):
        return PartialSuccess(problems=["partialSuccess in the response is not an object"])

    rejected_text = _field(partial, _REJECTED_FIELDS[signal])
    message = _field(partial, "error_message")
    rejected = 0
    problems = []
    if rejected_text is not None:
        try:
            rejected = int(rejected_text)
        except (TypeError, ValueError):
            problems.append(f"the rejected count {rejected_text!r} in the response is not an integer")
    return PartialSuccess(max(rejected, 0), message if isinstance(message, str) else "", problems)


def _field(document: dict[str, Any], snake_name: str) -> Any:
    first, *rest = snake_name.split("_")
    camel_name = first + "".join(word.capitalize() for word in rest)
    return document.get(camel_name, document.get(snake_name))
