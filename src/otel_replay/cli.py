"""The otel-replay command line: parse options, run the pipeline, print the summary, set the exit status."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import IO, Annotated, Any, Final

import orjson
import typer

from otel_replay import __version__, speedups
from otel_replay.batches import DEFAULT_MAX_BATCH_BYTES, SendOptions
from otel_replay.discover import Source
from otel_replay.errors import ReplayError, UsageError
from otel_replay.export import BatchExporter, ExportSettings, display_url, resolve_endpoint, secret_values
from otel_replay.filters import RecordFilter
from otel_replay.formats.limits import DEFAULT_MAX_RECORD_BYTES, record_size_limit
from otel_replay.interrupt import Interruption
from otel_replay.ledger import Ledger
from otel_replay.model import AnyValue, Signal
from otel_replay.pacing import PaceOptions
from otel_replay.rebuild import Rebuilder
from otel_replay.replay import ReplayOptions, Sink, SinkFactory, replay
from otel_replay.report import EXIT_INTERRUPTED, Summary
from otel_replay.timeshift import TimeOptions, parse_duration, parse_instant

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
        _warn_about_speedups_setting()
        typer.echo(f"otel-replay {__version__}, compiled encoders: {speedups.state()}")
        raise typer.Exit


def _warn_about_speedups_setting() -> None:
    problem = speedups.setting_problem()
    if problem is not None:
        typer.echo(f"Warning: {problem}", err=True)


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Replay OpenTelemetry traces, logs and metrics from files into any OTLP endpoint, exactly as recorded."""
    _warn_about_speedups_setting()


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
        "Default: OTEL_EXPORTER_OTLP_ENDPOINT, else http://localhost:4318. "
        "With --protocol grpc nothing is appended, and the default is http://localhost:4317.",
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
        help="Time allowed for one export request, retries included. "
        "Default: OTEL_EXPORTER_OTLP_TIMEOUT (in milliseconds, as OTLP specifies), else 10 seconds.",
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
ClientCertificateOption = Annotated[
    Path | None,
    typer.Option(
        "--client-certificate",
        metavar="FILE",
        help="PEM client certificate for mutual TLS. Default: OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE.",
        show_default=False,
    ),
]
ClientKeyOption = Annotated[
    Path | None,
    typer.Option(
        "--client-key",
        metavar="FILE",
        help="PEM private key of --client-certificate. Default: OTEL_EXPORTER_OTLP_CLIENT_KEY.",
        show_default=False,
    ),
]
InsecureOption = Annotated[
    bool,
    typer.Option(
        "--insecure",
        help="Do not verify the TLS certificate of https endpoints, with a warning. "
        "It has no effect on http endpoints, and gRPC cannot turn verification off.",
    ),
]
MaxBatchBytesOption = Annotated[
    int,
    typer.Option(
        "--max-batch-bytes",
        metavar="BYTES",
        min=1024,
        help="Largest export request, in bytes of uncompressed protobuf. Larger batches are sent in parts, "
        "and a single record larger than this is skipped.",
    ),
]
ProtocolOption = Annotated[
    str | None,
    typer.Option(
        "--protocol",
        metavar="grpc|http/protobuf",
        help="OTLP protocol. grpc needs the grpc extra and sends to port 4317 by default. "
        "Default: OTEL_EXPORTER_OTLP_PROTOCOL, else http/protobuf.",
        show_default=False,
    ),
]
LedgerOption = Annotated[
    Path | None,
    typer.Option(
        "--ledger",
        metavar="FILE",
        help="File that records every delivered record. A rerun with the same file sends only the records "
        "that were not delivered, such as after a failure or Ctrl-C.",
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
        help="Processes that decode and encode CodeMachine files and OTLP/JSON lines of spans and logs; "
        "1 reads in the main process. "
        "Default: 2 when the input is 4 MiB or more and the machine has 2 or more CPUs, else 1. "
        "--loop, --new-ids, --keep-original-time, --pace real, a time shift with --ledger, --protocol grpc "
        "and OTEL_REPLAY_ENCODER=sdk read in one process.",
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
MaxRecordBytesOption = Annotated[
    int,
    typer.Option(
        "--max-record-bytes",
        metavar="BYTES",
        min=1024,
        help="Largest line, document, message or JSON value read into memory, in bytes. A longer line of "
        "OTLP/JSON or console output is skipped as invalid; a longer document or message ends its file with an error.",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the summary as JSON on stdout.")]
QuietOption = Annotated[
    bool, typer.Option("--quiet", "-q", help="Print errors only: no progress bar, warnings or summary table.")
]
VerboseOption = Annotated[bool, typer.Option("--verbose", "-v", help="Also log each exported batch.")]

# --- time shift, pacing, new IDs, filters and dry run ----------------------------------------

ShiftToNowOption = Annotated[
    bool,
    typer.Option(
        "--shift-to-now",
        help="Move every time of the run by one offset so that the newest record lands at the present. "
        "With --pace real, the first record lands at the moment it is sent instead, and so does each later one "
        "at --speed 1. Gaps between all times stay exact to the nanosecond.",
    ),
]
ShiftOption = Annotated[
    str | None,
    typer.Option(
        "--shift",
        metavar="DURATION",
        help="Move every time by this signed duration, such as -3h, 2d, 90m, 1h30m or -45s "
        "(units d, h, m, s, ms, us, ns).",
        show_default=False,
    ),
]
StartAtOption = Annotated[
    str | None,
    typer.Option(
        "--start-at",
        metavar="TIME",
        help="Move every time so that the oldest record lands at this ISO 8601 time, "
        "such as 2026-12-04T19:40:00Z; UTC when no offset is given.",
        show_default=False,
    ),
]
KeepOriginalTimeOption = Annotated[
    bool,
    typer.Option(
        "--keep-original-time",
        help="Keep each span's recorded start time in the attribute otel_replay.original_start_time_unix_nano and "
        "each log record's time in otel_replay.original_time_unix_nano. Metrics keep none, "
        "because a new data point attribute would start a new time series.",
    ),
]
PaceOption = Annotated[
    str,
    typer.Option(
        "--pace",
        metavar="fast|real",
        help="fast sends as quickly as the endpoint accepts. real waits the recorded gaps between records "
        "(span end, log time, metric point time), reading the files interleaved by time; a record that comes "
        "after a later one in its file is sent at once.",
    ),
]
SpeedOption = Annotated[
    float,
    typer.Option(
        "--speed",
        metavar="N",
        help="With --pace real, play N times faster (2) or slower (0.5). Record times keep the recorded gaps.",
    ),
]
RateOption = Annotated[
    float | None,
    typer.Option(
        "--rate",
        metavar="N",
        help="Send at most N records per second (a metric data point counts as a record), with any --pace.",
        show_default=False,
    ),
]
LoopOption = Annotated[
    int,
    typer.Option(
        "--loop",
        metavar="N",
        min=0,
        help="Replay the input N times; 0 repeats until Ctrl-C, which sends what is queued and prints the summary. "
        "Each pass moves all times forward by the recording's duration (oldest to newest time), so passes never "
        "overlap. With --shift-to-now and no --pace real, the last pass ends at the present; with --loop 0 the first "
        "pass does, and later passes lie ahead of it.",
    ),
]
NewIdsOption = Annotated[
    bool,
    typer.Option(
        "--new-ids",
        help="Give every trace and span new random IDs, the same within a pass for parents, links and the "
        "trace and span IDs of log records, and new ones for each --loop pass. Deduplication uses the recorded IDs.",
    ),
]
TraceIdOption = Annotated[
    list[str] | None,
    typer.Option(
        "--trace-id",
        metavar="HEX",
        help="Send only spans and log records of this trace (32 hexadecimal digits); repeatable. "
        "Metrics have no trace ID and are left out.",
        show_default=False,
    ),
]
ServiceOption = Annotated[
    list[str] | None,
    typer.Option(
        "--service",
        metavar="NAME",
        help="Send only records whose resource service.name is NAME; repeatable.",
        show_default=False,
    ),
]
SinceOption = Annotated[
    str | None,
    typer.Option(
        "--since",
        metavar="TIME",
        help="Send only records recorded at or after this ISO 8601 time (span start, log time, metric point time), "
        "compared before any time shift.",
        show_default=False,
    ),
]
UntilOption = Annotated[
    str | None,
    typer.Option(
        "--until",
        metavar="TIME",
        help="Send only records recorded before this ISO 8601 time, compared before any time shift.",
        show_default=False,
    ),
]
NameOption = Annotated[
    list[str] | None,
    typer.Option(
        "--name",
        metavar="GLOB",
        help="Send only spans and metrics whose name matches this shell pattern, such as 'cli.*'; repeatable. "
        "Log records are not filtered by name; select them with --trace-id.",
        show_default=False,
    ),
]
DryRunOption = Annotated[
    bool,
    typer.Option(
        "--dry-run",
        help="Read, rebuild, encode and batch everything but send nothing and open no connection; "
        "the summary counts what would be sent. It does not wait for --pace or --rate.",
    ),
]


@app.command("replay")
def replay_command(
    paths: PathsArgument,
    endpoint: EndpointOption = None,
    traces_endpoint: TracesEndpointOption = None,
    logs_endpoint: LogsEndpointOption = None,
    metrics_endpoint: MetricsEndpointOption = None,
    protocol: ProtocolOption = None,
    header: HeaderOption = None,
    timeout: TimeoutOption = None,
    compression: CompressionOption = None,
    certificate: CertificateOption = None,
    client_certificate: ClientCertificateOption = None,
    client_key: ClientKeyOption = None,
    insecure: InsecureOption = False,
    batch_size: BatchSizeOption = 512,
    max_batch_bytes: MaxBatchBytesOption = DEFAULT_MAX_BATCH_BYTES,
    ledger: LedgerOption = None,
    signals: SignalsOption = "traces,logs,metrics",
    resource_attribute: ResourceAttributeOption = None,
    resource_from_env: ResourceFromEnvOption = False,
    no_dedupe: NoDedupeOption = False,
    file_format: FormatOption = None,
    shift_to_now: ShiftToNowOption = False,
    shift: ShiftOption = None,
    start_at: StartAtOption = None,
    keep_original_time: KeepOriginalTimeOption = False,
    pace: PaceOption = "fast",
    speed: SpeedOption = 1.0,
    rate: RateOption = None,
    loop: LoopOption = 1,
    new_ids: NewIdsOption = False,
    trace_id: TraceIdOption = None,
    service: ServiceOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    name: NameOption = None,
    dry_run: DryRunOption = False,
    max_record_bytes: MaxRecordBytesOption = DEFAULT_MAX_RECORD_BYTES,
    workers: WorkersOption = None,
    json_output: JsonOption = False,
    quiet: QuietOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Send the spans, log records and metrics in telemetry files to an OTLP endpoint, over HTTP or gRPC.

    Spans keep their trace, span and parent IDs and their times to the nanosecond, and
    duplicate records (CodeMachine's latest*.json repeats the newest session) are sent once.
    The exit status is 0 when every record was delivered, 1 when any record was invalid or
    failed to send, 2 for usage errors and 130 when interrupted with Ctrl-C.

    Backends reject or hide old data, so a recording from last week needs --shift-to-now.
    The pacing options (--pace, --speed, --rate, --loop) and --new-ids serve demos and load
    tests; --dry-run checks a run without sending.

    Example:

    \b
        otel-replay replay ~/.codemachine/traces --endpoint http://localhost:4318
        otel-replay replay traces/ --shift-to-now --new-ids --pace real --loop 0
    """
    _configure_logging(quiet=quiet, verbose=verbose)
    with _errors_to_exit(), record_size_limit(max_record_bytes), ExitStack() as resources:
        settings = ExportSettings(
            endpoint=endpoint,
            traces_endpoint=traces_endpoint,
            logs_endpoint=logs_endpoint,
            metrics_endpoint=metrics_endpoint,
            headers=_parse_headers(header),
            timeout=timeout,
            compression=_parse_compression(compression),
            certificate=_check_file(certificate, "--certificate"),
            **_client_certificate(client_certificate, client_key),
            insecure=insecure,
            protocol=protocol,
        )
        _redact_from_logs(secret_values(settings))
        opened_ledger = None
        if ledger is not None:
            _check_ledger_combination(new_ids=new_ids, loop=loop, shift_to_now=shift_to_now)
            opened_ledger = Ledger.open(ledger)
            resources.callback(opened_ledger.close)
        options = ReplayOptions(
            signals=_parse_signals(signals),
            dedupe=not no_dedupe,
            batch_size=batch_size,
            resource_attributes=_resource_attributes(resource_attribute, from_env=resource_from_env),
            format_name=file_format,
            time=_time_options(shift_to_now, shift, start_at, keep_original_time=keep_original_time),
            pace=_pace_options(pace, speed, rate, dry_run=dry_run),
            record_filter=_record_filter(trace_id, service, since, until, name),
            new_ids=new_ids,
            loop=_check_loop(loop, dry_run=dry_run),
            warn_old_records=True,
            ledger=opened_ledger,
            workers=workers,
        )
        interruption = Interruption()
        resources.enter_context(interruption.installed())
        send_options = SendOptions(max_batch_bytes=max_batch_bytes, ledger=opened_ledger, interruption=interruption)
        sink = _dry_run_sink(settings, options) if dry_run else _exporter_sink(settings, options, send_options)
        summary = _run(paths, options, sink, show_progress=not quiet)

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
    max_record_bytes: MaxRecordBytesOption = DEFAULT_MAX_RECORD_BYTES,
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
    with _errors_to_exit(), record_size_limit(max_record_bytes):
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
    shift_to_now: ShiftToNowOption = False,
    shift: ShiftOption = None,
    start_at: StartAtOption = None,
    keep_original_time: KeepOriginalTimeOption = False,
    new_ids: NewIdsOption = False,
    trace_id: TraceIdOption = None,
    service: ServiceOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    name: NameOption = None,
    max_record_bytes: MaxRecordBytesOption = DEFAULT_MAX_RECORD_BYTES,
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
    with _errors_to_exit(), record_size_limit(max_record_bytes):
        options = ReplayOptions(
            signals=_parse_signals(signals),
            dedupe=not no_dedupe,
            batch_size=batch_size,
            resource_attributes=_resource_attributes(resource_attribute, from_env=False),
            format_name=file_format,
            time=_time_options(shift_to_now, shift, start_at, keep_original_time=keep_original_time),
            record_filter=_record_filter(trace_id, service, since, until, name),
            new_ids=new_ids,
        )
        with _open_output(output) as stream:

            def build(summary: Summary, rebuilder: Rebuilder) -> Sink:
                return OTLPJsonWriter(stream, options.signals, options.batch_size, summary, rebuilder)

            summary = _run(paths, options, build, show_progress=not quiet)
            if summary.interrupted:
                typer.echo(f"Interrupted: {output} was not written", err=True)
                # Raising inside the block removes the partial output instead of replacing the file.
                _finish(summary, json_output=json_output, quiet=quiet)

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


def _check_file(path: Path | None, option: str) -> str | None:
    if path is None:
        return None
    if not path.is_file():
        msg = f"{option} file not found: {path}"
        raise UsageError(msg)
    return str(path)


def _client_certificate(certificate: Path | None, key: Path | None) -> dict[str, str | None]:
    """Check the mutual TLS files of the options and the OTLP variables; return the options' files.

    The exporters read the variables themselves, a signal's own variable first.
    """
    certificate_file = _check_file(certificate, "--client-certificate")
    key_file = _check_file(key, "--client-key")
    variables = ["OTEL_EXPORTER_OTLP_CLIENT_{}"]
    variables += [f"OTEL_EXPORTER_OTLP_{signal.value.upper()}_CLIENT_{{}}" for signal in Signal]
    certificates = [certificate_file, *(_env_file(name.format("CERTIFICATE")) for name in variables)]
    keys = [key_file, *(_env_file(name.format("KEY")) for name in variables)]
    if any(keys) and not any(certificates):
        msg = "--client-key needs --client-certificate (or OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE)"
        raise UsageError(msg)
    return {"client_certificate": certificate_file, "client_key": key_file}


def _env_file(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    if not value:
        return None
    return _check_file(Path(value), name)


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


def _time_options(
    shift_to_now: bool, shift: str | None, start_at: str | None, *, keep_original_time: bool
) -> TimeOptions:
    chosen = [
        name
        for name, given in [("--shift-to-now", shift_to_now), ("--shift", shift), ("--start-at", start_at)]
        if given
    ]
    if len(chosen) > 1:
        msg = f"{' and '.join(chosen)} cannot be combined: choose one way to move the times"
        raise UsageError(msg)
    return TimeOptions(
        shift_to_now=shift_to_now,
        shift_nanos=None if shift is None else parse_duration(shift),
        start_at_unix_nano=None if start_at is None else parse_instant(start_at, "--start-at"),
        keep_original_time=keep_original_time,
    )


def _check_loop(loop: int, *, dry_run: bool) -> int:
    if loop == 0 and dry_run:
        msg = "--loop 0 repeats until interrupted, so a --dry-run would never finish; give a number of passes"
        raise UsageError(msg)
    return loop


def _pace_options(pace: str, speed: float, rate: float | None, *, dry_run: bool) -> PaceOptions:
    normalized = pace.strip().lower()
    if normalized not in ("fast", "real"):
        msg = f"invalid --pace {pace!r}: expected fast or real"
        raise UsageError(msg)
    if not speed > 0 or speed == float("inf"):
        msg = f"invalid --speed {speed}: expected a number greater than 0, such as 2 or 0.5"
        raise UsageError(msg)
    if speed != 1.0 and normalized != "real":
        msg = "--speed applies to --pace real only; add --pace real"
        raise UsageError(msg)
    if rate is not None and (not rate > 0 or rate == float("inf")):
        msg = f"invalid --rate {rate}: expected records per second greater than 0, such as 100"
        raise UsageError(msg)
    if dry_run:
        # A dry run checks what would be sent, and waiting would show nothing more.
        return PaceOptions()
    return PaceOptions(real=normalized == "real", speed=speed, rate=rate)


def _record_filter(
    trace_ids: Sequence[str] | None,
    services: Sequence[str] | None,
    since: str | None,
    until: str | None,
    names: Sequence[str] | None,
) -> RecordFilter:
    since_unix_nano = None if since is None else parse_instant(since, "--since")
    until_unix_nano = None if until is None else parse_instant(until, "--until")
    if since_unix_nano is not None and until_unix_nano is not None and since_unix_nano >= until_unix_nano:
        msg = f"--since {since} is not before --until {until}: no record could be sent"
        raise UsageError(msg)
    return RecordFilter(
        trace_ids=frozenset(_parse_trace_id(text) for text in trace_ids or ()),
        services=frozenset(services or ()),
        since_unix_nano=since_unix_nano,
        until_unix_nano=until_unix_nano,
        names=tuple(names or ()),
    )


def _parse_trace_id(text: str) -> int:
    digits = text.strip().lower()
    if len(digits) != 32 or any(character not in "0123456789abcdef" for character in digits) or not int(digits, 16):
        msg = f"invalid --trace-id {text!r}: expected 32 hexadecimal digits, not all zero"
        raise UsageError(msg)
    return int(digits, 16)


def _resource_attributes(values: Sequence[str] | None, *, from_env: bool) -> dict[str, AnyValue]:
    attributes: dict[str, AnyValue] = {}
    if from_env:
        from opentelemetry.sdk.resources import OTELResourceDetector

        attributes.update(OTELResourceDetector().detect().attributes)
    attributes.update(_parse_key_values(values, "--resource-attribute", secret=False) or {})
    return attributes


# --- running and output ----------------------------------------------------------------


def _check_ledger_combination(*, new_ids: bool, loop: int, shift_to_now: bool) -> None:
    """Reject options that give the same record a different identity in every run, which a ledger cannot follow."""
    reasons = []
    if new_ids:
        reasons.append("--new-ids draws new random IDs in every run")
    if loop != 1:
        reasons.append("--loop sends each record more than once")
    if shift_to_now:
        reasons.append("--shift-to-now computes a new offset in every run; pass the same --shift DURATION instead")
    if reasons:
        msg = "--ledger cannot resume this run, because " + "; ".join(reasons)
        raise UsageError(msg)


def _exporter_sink(
    settings: ExportSettings, options: ReplayOptions, send_options: SendOptions | None = None
) -> SinkFactory:
    def build(summary: Summary, rebuilder: Rebuilder) -> Sink:
        return BatchExporter(settings, options.signals, options.batch_size, summary, rebuilder, send_options)

    return build


def _dry_run_sink(settings: ExportSettings, options: ReplayOptions) -> SinkFactory:
    from otel_replay.dryrun import DryRunSink

    def build(summary: Summary, rebuilder: Rebuilder) -> Sink:
        for signal in sorted(options.signals):
            summary.endpoints[signal] = display_url(resolve_endpoint(signal, settings))
        return DryRunSink(options.signals, options.batch_size, summary, rebuilder)

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
    summary.warnings += _PROBLEMS.warnings
    summary.errors += _PROBLEMS.errors
    _PROBLEMS.reset()
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
    except KeyboardInterrupt:
        # The pipeline turns Ctrl-C into a summary once reading has begun. Before that, such
        # as while searching directories, nothing was read or sent.
        typer.echo("Interrupted before any record was read; nothing was sent", err=True)
        raise typer.Exit(code=EXIT_INTERRUPTED) from None


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


class _ProblemCounter(logging.Handler):
    """Counts the warnings and errors that otel-replay logs besides the problems its summary counts itself."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.otel_replay = True  # marks the handler this module installed
        self.reset()

    def reset(self) -> None:
        self.warnings = 0
        self.errors = 0

    def emit(self, record: logging.LogRecord) -> None:
        if not record.name.startswith("otel_replay") or getattr(record, "otel_replay_counted", False):
            return
        if record.levelno >= logging.ERROR:
            self.errors += 1
        else:
            self.warnings += 1


_PROBLEMS: Final = _ProblemCounter()


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
    handler.setLevel(level)
    root.addHandler(handler)
    _PROBLEMS.reset()
    root.addHandler(_PROBLEMS)
    # Warnings are always created, so that the summary counts them even when --quiet hides them.
    root.setLevel(min(level, logging.WARNING))
