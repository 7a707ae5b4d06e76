"""The otel-replay command line: parse options, run the pipeline, print the summary, set the exit status."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Annotated, Any, Final

import orjson
import typer

from otel_replay import __version__
from otel_replay.discover import Source
from otel_replay.errors import ReplayError, UsageError
from otel_replay.export import BatchExporter, ExportSettings, secret_values
from otel_replay.model import AnyValue, Signal
from otel_replay.rebuild import Rebuilder
from otel_replay.replay import ReplayOptions, Sink, SinkFactory, replay
from otel_replay.report import Summary

__all__ = ["app", "main"]

EXIT_FAILED: Final = 1
EXIT_USAGE: Final = 2

app = typer.Typer(
    name="otel-replay",
    help="Replay OpenTelemetry traces, logs and metrics from files into any OTLP endpoint, exactly as recorded.",
    no_args_is_help=True,
    add_completion=False,
    # Plain Click help rewraps docstring paragraphs to the terminal width; Rich keeps the source line breaks.
    rich_markup_mode=None,
    # Header values may carry tokens, so a traceback must never print local variables.
    pretty_exceptions_show_locals=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"otel-replay {__version__}")
        raise typer.Exit


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Replay OpenTelemetry traces, logs and metrics from files into any OTLP endpoint, exactly as recorded."""


PathsArgument = Annotated[
    list[Path],
    typer.Argument(metavar="PATH", help="Telemetry files, or directories to search recursively.", show_default=False),
]
EndpointOption = Annotated[
    str | None,
    typer.Option(
        "--endpoint",
        metavar="URL",
        help="Base URL of the OTLP/HTTP receiver; /v1/traces, /v1/logs and /v1/metrics are appended. "
        "Default: OTEL_EXPORTER_OTLP_ENDPOINT, else http://localhost:4318.",
        show_default=False,
    ),
]
TracesEndpointOption = Annotated[
    str | None,
    typer.Option(
        "--traces-endpoint",
        metavar="URL",
        help="Full URL for spans, used as given. Default: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, else from --endpoint.",
        show_default=False,
    ),
]
LogsEndpointOption = Annotated[
    str | None,
    typer.Option(
        "--logs-endpoint",
        metavar="URL",
        help="Full URL for log records, used as given, such as http://loki:3100/otlp/v1/logs. "
        "Default: OTEL_EXPORTER_OTLP_LOGS_ENDPOINT, else from --endpoint.",
        show_default=False,
    ),
]
MetricsEndpointOption = Annotated[
    str | None,
    typer.Option(
        "--metrics-endpoint",
        metavar="URL",
        help="Full URL for metrics, used as given. Default: OTEL_EXPORTER_OTLP_METRICS_ENDPOINT, else from --endpoint.",
        show_default=False,
    ),
]
HeaderOption = Annotated[
    list[str] | None,
    typer.Option(
        "--header",
        metavar="KEY=VALUE",
        help="HTTP header for every request; repeat for more. Values are never printed. "
        "Default: OTEL_EXPORTER_OTLP_HEADERS.",
        show_default=False,
    ),
]
TimeoutOption = Annotated[
    float | None,
    typer.Option(
        "--timeout",
        metavar="SECONDS",
        min=0.001,
        help="Time allowed for one batch, retries included. Default: OTEL_EXPORTER_OTLP_TIMEOUT, else 10.",
        show_default=False,
    ),
]
CompressionOption = Annotated[
    str | None,
    typer.Option(
        "--compression",
        metavar="gzip|deflate|none",
        help="Request body compression. Default: OTEL_EXPORTER_OTLP_COMPRESSION, else none.",
        show_default=False,
    ),
]
CertificateOption = Annotated[
    Path | None,
    typer.Option(
        "--certificate",
        metavar="FILE",
        help="PEM file of CA certificates to trust for https. Default: OTEL_EXPORTER_OTLP_CERTIFICATE, "
        "else the system's trust store.",
        show_default=False,
    ),
]
BatchSizeOption = Annotated[
    int,
    typer.Option("--batch-size", metavar="N", min=1, max=100_000, help="Records per export request, per signal."),
]
WorkersOption = Annotated[
    "int | None",
    typer.Option(
        "--workers",
        metavar="N",
        min=1,
        max=64,
        help="Processes that decode and encode CodeMachine trace and log files; 1 reads in the main process. "
        "Default: 2 when the input is 32 MiB or more and the machine has 2 or more CPUs, else 1.",
        show_default=False,
    ),
]
SignalsOption = Annotated[
    str,
    typer.Option("--signals", metavar="LIST", help="Comma-separated signals to send: traces, logs, metrics."),
]
ResourceAttributeOption = Annotated[
    list[str] | None,
    typer.Option(
        "--resource-attribute",
        metavar="KEY=VALUE",
        help="Resource attribute added to every record, replacing a recorded value of the same key; repeatable.",
        show_default=False,
    ),
]
ResourceFromEnvOption = Annotated[
    bool,
    typer.Option(
        "--resource-from-env",
        help="Also add the resource attributes of OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME, "
        "which are ignored by default so that only recorded attributes are sent.",
    ),
]
NoDedupeOption = Annotated[
    bool,
    typer.Option(
        "--no-dedupe",
        help="Send every record as read, even when the same span or log record appears twice.",
    ),
]
FormatOption = Annotated[
    str | None,
    typer.Option(
        "--format",
        metavar="NAME",
        help="Read every file as this format instead of detecting it: codemachine, otlp-json, otlp-proto, "
        "jaeger, zipkin, python-console.",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the summary as JSON on stdout.")]
QuietOption = Annotated[
    bool, typer.Option("--quiet", "-q", help="Print errors only: no progress bar, warnings or summary table.")
]
VerboseOption = Annotated[bool, typer.Option("--verbose", "-v", help="Also log each exported batch.")]


@app.command("replay")
def replay_command(
    paths: PathsArgument,
    endpoint: EndpointOption = None,
    traces_endpoint: TracesEndpointOption = None,
    logs_endpoint: LogsEndpointOption = None,
    metrics_endpoint: MetricsEndpointOption = None,
    header: HeaderOption = None,
    timeout: TimeoutOption = None,
    compression: CompressionOption = None,
    certificate: CertificateOption = None,
    batch_size: BatchSizeOption = 512,
    signals: SignalsOption = "traces,logs,metrics",
    resource_attribute: ResourceAttributeOption = None,
    resource_from_env: ResourceFromEnvOption = False,
    no_dedupe: NoDedupeOption = False,
    file_format: FormatOption = None,
    workers: WorkersOption = None,
    json_output: JsonOption = False,
    quiet: QuietOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Send the spans, log records and metrics in telemetry files to an OTLP/HTTP endpoint.

    Spans keep their trace, span and parent IDs and their times to the nanosecond, and
    duplicate records (CodeMachine's latest*.json repeats the newest session) are sent once.
    The exit status is 0 when every record was delivered, 1 when any record was invalid or
    failed to send, and 2 for usage errors.

    Example:

    \b
        otel-replay replay ~/.codemachine/traces --endpoint http://localhost:4318
    """
    _configure_logging(quiet=quiet, verbose=verbose)
    with _errors_to_exit():
        settings = ExportSettings(
            endpoint=endpoint,
            traces_endpoint=traces_endpoint,
            logs_endpoint=logs_endpoint,
            metrics_endpoint=metrics_endpoint,
            headers=_parse_headers(header),
            timeout=timeout,
            compression=_parse_compression(compression),
            certificate=_check_certificate(certificate),
        )
        _redact_from_logs(secret_values(settings))
        options = ReplayOptions(
            signals=_parse_signals(signals),
            dedupe=not no_dedupe,
            batch_size=batch_size,
            resource_attributes=_resource_attributes(resource_attribute, from_env=resource_from_env),
            format_name=file_format,
            workers=workers,
        )
        summary = _run(paths, options, _exporter_sink(settings, options), show_progress=not quiet)

    _finish(summary, json_output=json_output, quiet=quiet)


@app.command("demo")
def demo_command(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            metavar="PATH", help="Files or directories to replay. Default: the bundled CodeMachine bug report."
        ),
    ] = None,
    file_format: FormatOption = None,
    json_output: JsonOption = False,
) -> None:
    """Replay into a receiver started on 127.0.0.1 for the run, and show what arrived.

    Without paths it replays a real CodeMachine bug report bundled with otel-replay, so
    it is a first run that needs no collector. With paths it previews what a backend
    would receive from your own files, sending nothing anywhere else.

    Example:

    \b
        otel-replay demo
    """
    _configure_logging(quiet=False, verbose=False)
    from otel_replay.demo import BUNDLED_REPORT, describe, received_counts
    from otel_replay.receiver import OTLPReceiver

    with _errors_to_exit(), OTLPReceiver() as receiver:
        typer.echo(f"Started an OTLP/HTTP receiver at {receiver.url}", err=True)
        settings = ExportSettings(endpoint=receiver.url, timeout=10.0)
        _redact_from_logs(secret_values(settings))
        options = ReplayOptions(format_name=file_format)
        summary = _run(paths or [BUNDLED_REPORT], options, _exporter_sink(settings, options), show_progress=True)

    if not json_output:
        typer.echo(describe(receiver.received))
    _finish(summary, json_output=json_output, quiet=False, extra={"received": received_counts(receiver.received)})


@app.command("inspect")
def inspect_command(
    paths: PathsArgument,
    file_format: FormatOption = None,
    json_output: JsonOption = False,
) -> None:
    """Describe telemetry files before replaying them; nothing is sent.

    For each file: the format and signals, record counts, services, number of traces and
    time range, duplicates of records in earlier files, spans whose parent is not in the
    input, and invalid records with their reasons. The exit status is 1 when a file has
    invalid records or cannot be read.

    Example:

    \b
        otel-replay inspect bug-report/traces
    """
    from otel_replay.inspect import inspect

    _configure_logging(quiet=True, verbose=False)
    with _errors_to_exit():
        reports = inspect(paths, file_format)

    failed = any(report.invalid or (report.error and report.format) for report in reports)
    if json_output:
        document = {"files": [report.to_dict() for report in reports]}
        sys.stdout.write(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        typer.echo("\n".join(report.render() for report in reports))
    raise typer.Exit(code=EXIT_FAILED if failed else 0)


@app.command("convert")
def convert_command(
    paths: PathsArgument,
    output: Annotated[
        Path,
        typer.Option(
            "--output",
            "-o",
            metavar="FILE",
            help="File to write; '-' for stdout. A name ending in .gz is gzip-compressed.",
            show_default=False,
        ),
    ],
    batch_size: BatchSizeOption = 512,
    signals: SignalsOption = "traces,logs,metrics",
    resource_attribute: ResourceAttributeOption = None,
    no_dedupe: NoDedupeOption = False,
    file_format: FormatOption = None,
    json_output: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Write telemetry files as OTLP/JSON lines, the OpenTelemetry Collector file exporter's format.

    Each line is one export request, encoded as replay would send it, so the Collector's
    otlpjsonfile receiver can read the output, and replaying the output sends the same
    records as replaying the input.

    Example:

    \b
        otel-replay convert ~/.codemachine/traces --output traces.jsonl
    """
    from otel_replay.write import OTLPJsonWriter

    _configure_logging(quiet=quiet, verbose=False)
    with _errors_to_exit():
        options = ReplayOptions(
            signals=_parse_signals(signals),
            dedupe=not no_dedupe,
            batch_size=batch_size,
            resource_attributes=_resource_attributes(resource_attribute, from_env=False),
            format_name=file_format,
        )
        with _open_output(output) as stream:

            def build(summary: Summary, rebuilder: Rebuilder) -> Sink:
                return OTLPJsonWriter(stream, options.signals, options.batch_size, summary, rebuilder)

            summary = _run(paths, options, build, show_progress=not quiet)

    if not quiet and not json_output:
        written = sum(counts.sent for counts in summary.counts.values())
        typer.echo(f"Wrote {written} records to {output}", err=True)
    _finish(summary, json_output=json_output, quiet=quiet)


@contextmanager
def _open_output(path: Path) -> Iterator[IO[str]]:
    """Open the output of convert, replacing an existing file only when the run completes."""
    if str(path) == "-":
        yield sys.stdout
        return

    partial = path.with_name(f".{path.name}.partial")
    try:
        if path.suffix == ".gz":
            import gzip

            stream: IO[str] = gzip.open(partial, "wt", encoding="utf-8")  # noqa: SIM115  # closed below
        else:
            stream = partial.open("w", encoding="utf-8")
    except OSError as error:
        msg = f"cannot write --output {path}: {error.strerror}"
        raise UsageError(msg) from error

    try:
        with stream:
            yield stream
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(path)


def main() -> None:
    """Run the command line."""
    app()


# --- option parsing --------------------------------------------------------------------


def _parse_key_values(values: Sequence[str] | None, option: str, *, secret: bool) -> dict[str, str] | None:
    if values is None:
        return None

    pairs: dict[str, str] = {}
    for number, text in enumerate(values, start=1):
        key, separator, value = text.partition("=")
        key, value = key.strip(), value.strip()
        if secret and any(character in value for character in "\r\n\0"):
            msg = f"invalid {option} value (number {number}): it contains a line break or NUL character"
            raise UsageError(msg)
        if not separator or not key:
            shown = f"number {number}" if secret else repr(text)
            msg = f"invalid {option} value ({shown}): expected KEY=VALUE, such as {option} 'Authorization=Bearer ...'"
            if not secret:
                msg = (
                    f"invalid {option} value {shown}: expected KEY=VALUE, such as {option} deployment.environment=test"
                )
            raise UsageError(msg)
        pairs[key] = value
    return pairs


def _parse_headers(values: Sequence[str] | None) -> dict[str, str] | None:
    return _parse_key_values(values, "--header", secret=True)


def _parse_compression(value: str | None) -> str | None:
    if value is None:
        return None
    normalized = value.strip().lower()
    if normalized not in ("gzip", "deflate", "none"):
        msg = f"invalid --compression {value!r}: expected gzip, deflate or none"
        raise UsageError(msg)
    return normalized


def _check_certificate(path: Path | None) -> str | None:
    if path is None:
        return None
    if not path.is_file():
        msg = f"--certificate file not found: {path}"
        raise UsageError(msg)
    return str(path)


def _parse_signals(text: str) -> frozenset[Signal]:
    names = [name.strip().lower() for name in text.split(",") if name.strip()]
    if not names:
        msg = "--signals is empty: expected a comma-separated list of traces, logs, metrics"
        raise UsageError(msg)

    signals = set()
    for name in names:
        if name not in (signal.value for signal in Signal):
            msg = f"invalid --signals value {name!r}: expected a comma-separated list of traces, logs, metrics"
            raise UsageError(msg)
        signals.add(Signal(name))
    return frozenset(signals)


def _resource_attributes(values: Sequence[str] | None, *, from_env: bool) -> dict[str, AnyValue]:
    attributes: dict[str, AnyValue] = {}
    if from_env:
        from opentelemetry.sdk.resources import OTELResourceDetector

        attributes.update(OTELResourceDetector().detect().attributes)
    attributes.update(_parse_key_values(values, "--resource-attribute", secret=False) or {})
    return attributes


# --- running and output ----------------------------------------------------------------


def _exporter_sink(settings: ExportSettings, options: ReplayOptions) -> SinkFactory:
    def build(summary: Summary, rebuilder: Rebuilder) -> Sink:
        return BatchExporter(settings, options.signals, options.batch_size, summary, rebuilder)

    return build


def _run(paths: Sequence[Path], options: ReplayOptions, sink_factory: SinkFactory, *, show_progress: bool) -> Summary:
    if not show_progress or not sys.stderr.isatty():
        return replay(paths, options, sink_factory)

    progress = _Progress()
    try:
        return replay(paths, options, sink_factory, on_progress=progress.advance, on_start=progress.start)
    finally:
        progress.close()


class _Progress:
    """A progress bar on stderr, measured in bytes of input read."""

    def __init__(self) -> None:
        self._bar: Any = None

    def start(self, sources: Sequence[Source]) -> None:
        total = sum(source.size for source in sources)
        self._bar = typer.progressbar(length=max(total, 1), label="Replaying", file=sys.stderr, width=30)
        self._bar.__enter__()

    def advance(self, size: int) -> None:
        if self._bar is not None:
            self._bar.update(size)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)


def _finish(summary: Summary, *, json_output: bool, quiet: bool, extra: dict[str, object] | None = None) -> None:
    if json_output:
        document = {**summary.to_dict(), **(extra or {})}
        sys.stdout.write(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n")
    elif not quiet:
        typer.echo(summary.render(), err=True)
    raise typer.Exit(code=summary.exit_status)


@contextmanager
def _errors_to_exit() -> Iterator[None]:
    try:
        yield
    except UsageError as error:
        typer.echo(f"Error: {error}", err=True)
        raise typer.Exit(code=EXIT_USAGE) from None
    except ReplayError as error:
        typer.echo(f"Error: {error}", err=True)
        raise typer.Exit(code=EXIT_FAILED) from None


class _Redactor(logging.Filter):
    """Replaces secret strings in log messages and drops the exporters' own failure lines.

    Export failures are reported once per batch by otel-replay itself, because the SDK's log
    exporter suppresses a failure message equal to the previous one.
    """

    def __init__(self) -> None:
        super().__init__()
        self.secrets: list[str] = []

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("opentelemetry.exporter") and record.levelno >= logging.ERROR:
            return False
        message = record.getMessage()
        for secret in self.secrets:
            message = message.replace(secret, "[redacted]")
        record.msg, record.args = message, None
        return True


_REDACTOR: Final = _Redactor()


def _redact_from_logs(secrets: set[str]) -> None:
    # Replace longer secrets first, so a secret that contains another is replaced whole.
    _REDACTOR.secrets = sorted(secrets, key=len, reverse=True)


class _MessageFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"{record.levelname.capitalize()}: {record.getMessage()}"


def _configure_logging(*, quiet: bool, verbose: bool) -> None:
    level = logging.WARNING
    if quiet:
        level = logging.ERROR
    elif verbose:
        level = logging.INFO
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_MessageFormatter())
    handler.addFilter(_REDACTOR)
    root = logging.getLogger()
    for existing in list(root.handlers):
        if getattr(existing, "otel_replay", False):
            root.removeHandler(existing)
    handler.otel_replay = True  # type: ignore[attr-defined]  # marks the handler this module installed
    root.addHandler(handler)
    root.setLevel(level)
