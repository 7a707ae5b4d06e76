"""Measure otel-replay's wall time, throughput and peak memory on one large OTLP/JSON lines file.

The file has the OpenTelemetry Collector file exporter's layout: one ExportTraceServiceRequest
or ExportLogsServiceRequest per line. The script replays it, with and without deduplication,
and replays a gzip-compressed copy of it, each into an OTLPReceiver in a separate process.
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import bench_replay
from bench_replay import BenchmarkError, Dataset, Expected, IdRewriter, Measurement, ReceiverProcess

CONVERT_TIMEOUT: Final = 120.0  # seconds, for converting the 2000-record template
GZIP_LEVEL: Final = 6  # the gzip command's default
NANOS_PER_COPY: Final = int(bench_replay.COPY_SPACING.total_seconds()) * 10**9
SPAN_TIME_KEYS: Final = ("startTimeUnixNano", "endTimeUnixNano")
LOG_TIME_KEYS: Final = ("timeUnixNano", "observedTimeUnixNano")
# CodeMachine log records name their span in these attributes too, so they take the copy's IDs.
LOG_ID_ATTRIBUTES: Final = frozenset({"trace.id", "span.id"})


@dataclass(frozen=True, slots=True)
class Variant:
    """One way to replay the generated file."""

    label: str
    compressed: bool
    dedupe: bool


VARIANTS: Final = (
    Variant("big.jsonl", compressed=False, dedupe=True),
    Variant("big.jsonl --no-dedupe", compressed=False, dedupe=False),
    Variant("big.jsonl.gz", compressed=True, dedupe=True),
)


@dataclass(frozen=True, slots=True)
class BigFile:
    """The generated OTLP/JSON lines file, its gzip copy and the counts a replay must report."""

    path: Path
    gzip_path: Path
    copies: int
    lines: int
    spans: int
    logs: int
    orphan_spans: int
    size_bytes: int
    gzip_size_bytes: int


# --- input generation --------------------------------------------------------------------


def convert_template(folder: Path) -> list[str]:
    """Convert one generated CodeMachine session (1000 spans, 1000 log records) to OTLP/JSON lines.

    Returns the lines of the converted file, one export request each.
    """
    input_dir = folder / "template-input"
    input_dir.mkdir()
    bench_replay.generate(input_dir, bench_replay.RECORDS_PER_FILE, bench_replay.RECORDS_PER_FILE, with_latest=False)

    output = folder / "template.jsonl"
    command = [*bench_replay.replay_command(), "convert", str(input_dir), "--output", str(output)]
    command += ["--batch-size", "512", "--quiet"]
    try:
        result = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=CONVERT_TIMEOUT,
            env=bench_replay.child_environment(),
            check=False,
        )
    except subprocess.TimeoutExpired:
        msg = f"otel-replay convert timed out after {CONVERT_TIMEOUT:g} s"
        raise BenchmarkError(msg) from None
    if result.returncode != 0:
        msg = f"otel-replay convert failed with exit status {result.returncode}: {result.stderr.strip()[-2000:]}"
        raise BenchmarkError(msg)

    lines = output.read_text(encoding="utf-8").splitlines()
    shutil.rmtree(input_dir)
    output.unlink()
    return lines


def records_of(request: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Return the spans and the log records of one export request."""
    spans = [
        span
        for resource_spans in request.get("resourceSpans", [])
        for scope_spans in resource_spans.get("scopeSpans", [])
        for span in scope_spans.get("spans", [])
    ]
    logs = [
        log
        for resource_logs in request.get("resourceLogs", [])
        for scope_logs in resource_logs.get("scopeLogs", [])
        for log in scope_logs.get("logRecords", [])
    ]
    return spans, logs


def count_orphans(requests: list[dict[str, Any]]) -> int:
    """Count the spans whose parent span is not in `requests`, as otel-replay's summary does."""
    spans = [span for request in requests for span in records_of(request)[0]]
    present = {(span["traceId"], span["spanId"]) for span in spans}
    return sum(
        1 for span in spans if span.get("parentSpanId") and (span["traceId"], span["parentSpanId"]) not in present
    )


def rewrite_copy(request: dict[str, Any], new_id: IdRewriter, shift_nanos: int) -> None:
    """Give the records of `request` the IDs and times of one copy, in place."""
    spans, logs = records_of(request)
    for span in spans:
        span["traceId"] = new_id(span["traceId"])
        span["spanId"] = new_id(span["spanId"])
        if span.get("parentSpanId"):
            span["parentSpanId"] = new_id(span["parentSpanId"])
        shift_times(span, SPAN_TIME_KEYS, shift_nanos)
        for event in span.get("events", []):
            shift_times(event, ("timeUnixNano",), shift_nanos)

    for log in logs:
        for key in ("traceId", "spanId"):
            if log.get(key):
                log[key] = new_id(log[key])
        shift_times(log, LOG_TIME_KEYS, shift_nanos)
        for attribute in log.get("attributes", []):
            value = attribute["value"]
            if attribute["key"] in LOG_ID_ATTRIBUTES and "stringValue" in value:
                value["stringValue"] = new_id(value["stringValue"])


def shift_times(record: dict[str, Any], keys: tuple[str, ...], shift_nanos: int) -> None:
    # OTLP/JSON writes fixed64 times as decimal strings.
    for key in keys:
        if key in record:
            record[key] = str(int(record[key]) + shift_nanos)


def generate(folder: Path, size_bytes: int) -> BigFile:
    """Write copies of a converted session to big.jsonl and big.jsonl.gz until big.jsonl reaches `size_bytes`.

    Every copy gets its own trace and span IDs (as bench_replay.py's copies do) and moves one
    hour later, so no record equals a record of another copy.
    """
    template = convert_template(folder)
    template_requests = [json.loads(line) for line in template]
    spans_per_copy = sum(len(records_of(request)[0]) for request in template_requests)
    logs_per_copy = sum(len(records_of(request)[1]) for request in template_requests)
    orphans_per_copy = count_orphans(template_requests)

    path = folder / "big.jsonl"
    gzip_path = folder / "big.jsonl.gz"
    copies = 0
    written = 0
    with path.open("wb") as plain, gzip.open(gzip_path, "wb", compresslevel=GZIP_LEVEL) as compressed:
        while written < size_bytes:
            new_id = IdRewriter(copies)
            lines = []
            for text in template:
                request = json.loads(text)  # a fresh object to rewrite in place
                rewrite_copy(request, new_id, copies * NANOS_PER_COPY)
                lines.append(json.dumps(request, separators=(",", ":"), ensure_ascii=False))
            data = ("\n".join(lines) + "\n").encode()
            plain.write(data)
            compressed.write(data)
            written += len(data)
            copies += 1

    return BigFile(
        path=path,
        gzip_path=gzip_path,
        copies=copies,
        lines=copies * len(template),
        spans=copies * spans_per_copy,
        logs=copies * logs_per_copy,
        orphan_spans=copies * orphans_per_copy,
        size_bytes=path.stat().st_size,
        gzip_size_bytes=gzip_path.stat().st_size,
    )


# --- runs --------------------------------------------------------------------------------


def replay_once(big: BigFile, variant: Variant, options: argparse.Namespace) -> Measurement:
    """Replay one variant into a fresh receiver and check that every record arrived."""
    path = big.gzip_path if variant.compressed else big.path
    receiver = ReceiverProcess()
    try:
        command = [*bench_replay.replay_command(), "replay", str(path), "--endpoint", receiver.url]
        command += ["--batch-size", str(options.batch_size), "--json"]
        if not variant.dedupe:
            command.append("--no-dedupe")
        measurement = bench_replay.measure(command, options.timeout)
        received = receiver.stop()
    finally:
        receiver.kill()

    # The records of the one file are all distinct, so every record must be sent and none skipped.
    dataset = Dataset(path, big.spans, big.logs, files=1, duplicate_spans=0, duplicate_logs=0, size_bytes=0)
    bench_replay.check_run(dataset, Expected(big.spans, big.logs, 0, 0), measurement, received)
    orphans = json.loads(measurement.stdout)["signals"]["traces"].get("orphan_spans")
    if orphans != big.orphan_spans:
        msg = f"summary reports {orphans} spans with a missing parent, expected {big.orphan_spans}"
        raise BenchmarkError(msg)
    return measurement


# --- report ------------------------------------------------------------------------------


def mib(size_bytes: float) -> str:
    return f"{size_bytes / 2**20:,.1f} MiB"


def print_run(variant: Variant, number: int, big: BigFile, measurement: Measurement) -> None:
    rate = (big.spans + big.logs) / measurement.wall_seconds
    print(
        f"{variant.label}, run {number}: {measurement.wall_seconds:.2f} s wall, {measurement.cpu_seconds:.2f} s CPU, "
        f"{rate:,.0f} records sent/s, peak RSS {measurement.peak_rss_kib / 1024:.0f} MiB"
    )


def print_table(big: BigFile, results: dict[Variant, list[Measurement]], startup: Measurement, source: str) -> None:
    records = big.spans + big.logs
    print(f"otel-replay source  sha256 {source}")
    print(
        f"input               {big.spans:,} spans + {big.logs:,} log records ({big.copies} copies) "
        f"in {big.lines:,} lines"
    )
    print(f"file sizes          big.jsonl {mib(big.size_bytes)}, big.jsonl.gz {mib(big.gzip_size_bytes)}")
    print(f"empty replay        {startup.wall_seconds:.2f} s wall, peak RSS {startup.peak_rss_kib / 1024:.0f} MiB")
    print()

    header = (
        "variant",
        "runs",
        "wall median (min)",
        "records/s median",
        "CPU median",
        "peak RSS max",
        "RSS / big.jsonl",
    )
    rows = [header]
    for variant, runs in results.items():
        walls = [run.wall_seconds for run in runs]
        peak_bytes = max(run.peak_rss_kib for run in runs) * 1024
        rows.append(
            (
                variant.label,
                str(len(runs)),
                f"{statistics.median(walls):.2f} s ({min(walls):.2f} s)",
                f"{records / statistics.median(walls):,.0f}",
                f"{statistics.median(run.cpu_seconds for run in runs):.2f} s",
                mib(peak_bytes),
                f"{peak_bytes / big.size_bytes:.2f}",
            )
        )
    widths = [max(len(row[column]) for row in rows) for column in range(len(header))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


# --- command line ------------------------------------------------------------------------


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--size-mib",
        type=bench_replay.positive_float,
        default=300.0,
        help="MiB of uncompressed OTLP/JSON to generate, rounded up to whole copies of 2000 records (default: 300)",
    )
    parser.add_argument(
        "--batch-size", type=bench_replay.positive_int, default=512, help="otel-replay --batch-size (default: 512)"
    )
    parser.add_argument(
        "--repeat", type=bench_replay.positive_int, default=1, help="replay runs per variant (default: 1)"
    )
    parser.add_argument("--workdir", type=Path, help="folder for the generated files (default: a new temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the generated files after the runs")
    parser.add_argument(
        "--timeout", type=bench_replay.positive_float, default=600.0, help="seconds allowed for one run (default: 600)"
    )
    return parser.parse_args(argv)


def prepare_workdir(workdir: Path | None) -> Path:
    if workdir is None:
        return Path(tempfile.mkdtemp(prefix="otel-replay-bench-otlp-"))
    folder = workdir / "otlp-json"
    if folder.exists():
        msg = f"{folder} already exists. Remove it or choose another --workdir."
        raise BenchmarkError(msg)
    folder.mkdir(parents=True)
    return folder


def benchmark(options: argparse.Namespace, folder: Path) -> None:
    started = time.perf_counter()
    big = generate(folder, int(options.size_mib * 2**20))
    elapsed = time.perf_counter() - started
    print(
        f"generated {big.path.name} ({mib(big.size_bytes)}) and {big.gzip_path.name} "
        f"({mib(big.gzip_size_bytes)}) in {elapsed:.1f} s"
    )

    digest_before = bench_replay.source_digest()
    startup_options = argparse.Namespace(batch_size=options.batch_size, no_dedupe=False, timeout=options.timeout)
    startup = bench_replay.measure_startup(startup_options)
    results: dict[Variant, list[Measurement]] = {}
    for variant in VARIANTS:
        results[variant] = []
        for number in range(1, options.repeat + 1):
            measurement = replay_once(big, variant, options)
            print_run(variant, number, big, measurement)
            results[variant].append(measurement)

    digest_after = bench_replay.source_digest()
    source = digest_before
    if digest_after != digest_before:
        source = f"{digest_before} before the runs, {digest_after} after (changed during the runs)"

    print()
    print_table(big, results, startup, source)


def main(argv: list[str] | None = None) -> int:
    options = parse_arguments(argv)
    try:
        folder = prepare_workdir(options.workdir)
    except BenchmarkError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2

    try:
        benchmark(options, folder)
    except BenchmarkError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    finally:
        if options.keep:
            print(f"kept the generated files in {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
