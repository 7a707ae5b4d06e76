"""Measure otel-replay's wall time, throughput and peak memory on generated CodeMachine input."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import IO, Any, Final

REPO_ROOT: Final = Path(__file__).resolve().parent.parent
SAMPLE_DIR: Final = REPO_ROOT / "tests" / "data" / "codemachine" / "traces" / "2026-12-02"
SAMPLE_SPANS: Final = SAMPLE_DIR / "13-26-45.json"
SAMPLE_LOGS: Final = SAMPLE_DIR / "13-26-45-logs.json"
SAMPLE_START: Final = datetime(2026, 12, 2, 13, 26, 45, tzinfo=timezone.utc)

# The sample files hold 1000 records each. Copies keep that size, so a larger input means
# more files, not larger ones.
RECORDS_PER_FILE: Final = 1000
COPY_SPACING: Final = timedelta(hours=1)  # the sample session lasts about 10 seconds
RECEIVER_START_TIMEOUT: Final = 30.0  # seconds
RECEIVER_STOP_TIMEOUT: Final = 120.0  # seconds
WAIT_INTERVAL: Final = 0.005  # seconds, which bounds the error that polling adds to the wall time

# The receiver runs in its own process so that the replay process's CPU time and peak RSS
# are its own. It prints its URL, serves until stdin closes, then prints what it received.
RECEIVER_SCRIPT: Final = """
import json
import sys

from otel_replay.receiver import OTLPReceiver

with OTLPReceiver() as receiver:
    print(receiver.url, flush=True)
    sys.stdin.read()

received = receiver.received
counts = {
    "spans": len(received.spans()),
    "logs": len(received.log_records()),
    "trace_requests": len(received.traces),
    "log_requests": len(received.logs),
}
print(json.dumps(counts), flush=True)
"""


class BenchmarkError(Exception):
    """A run failed or its results do not match the generated input."""


@dataclass(frozen=True, slots=True)
class Dataset:
    """The generated input and the counts a complete replay of it must report."""

    root: Path
    spans: int
    logs: int
    files: int
    duplicate_spans: int
    duplicate_logs: int
    size_bytes: int


@dataclass(frozen=True, slots=True)
class Measurement:
    """One finished child process: exit code, output and resource use from wait4()."""

    exit_code: int
    stdout: str
    stderr: str
    wall_seconds: float
    cpu_seconds: float
    peak_rss_kib: int


# --- input generation --------------------------------------------------------------------


def load_sample(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as file:
        document: dict[str, Any] = json.load(file)
    return document


class IdRewriter:
    """Maps the sample's trace and span IDs to new IDs that are fixed for each copy number."""

    def __init__(self, copy_number: int) -> None:
        self._salt = f"otel-replay-bench-{copy_number}:".encode()
        self._ids: dict[str, str] = {}

    def __call__(self, old_id: str) -> str:
        new_id = self._ids.get(old_id)
        if new_id is None:
            digest = hashlib.blake2b(self._salt + old_id.encode(), digest_size=len(old_id) // 2)
            new_id = digest.hexdigest()
            self._ids[old_id] = new_id
        return new_id


def shift_iso_time(text: str, shift: timedelta) -> str:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00")) + shift
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def rewrite_span(span: dict[str, Any], new_id: IdRewriter, shift_ms: int) -> dict[str, Any]:
    copy = dict(span)
    copy["traceId"] = new_id(span["traceId"])
    copy["spanId"] = new_id(span["spanId"])
    if span.get("parentSpanId"):
        copy["parentSpanId"] = new_id(span["parentSpanId"])
    copy["startTime"] = span["startTime"] + shift_ms
    copy["endTime"] = span["endTime"] + shift_ms
    copy["events"] = [{**event, "time": event["time"] + shift_ms} for event in span.get("events", [])]
    return copy


def rewrite_log(log: dict[str, Any], new_id: IdRewriter, shift_seconds: int) -> dict[str, Any]:
    copy = dict(log)
    seconds, nanos = log["timestamp"]
    copy["timestamp"] = [seconds + shift_seconds, nanos]
    attributes = dict(log.get("attributes", {}))
    # A log record refers to its span only through these attributes, so they take the copy's IDs.
    for key in ("trace.id", "span.id"):
        if isinstance(attributes.get(key), str):
            attributes[key] = new_id(attributes[key])
    copy["attributes"] = attributes
    return copy


def session_document(
    sample: dict[str, Any], array: str, records: list[dict[str, Any]], shift: timedelta
) -> dict[str, Any]:
    count_key = "spanCount" if array == "spans" else "logCount"
    return {
        "version": sample["version"],
        "service": sample["service"],
        "exportedAt": shift_iso_time(sample["exportedAt"], shift),
        count_key: len(records),
        array: records,
    }


def latest_document(session: dict[str, Any], session_file: Path) -> dict[str, Any]:
    """Build the latest*.json copy of a session file, with "sessionFile" where the sample latest.json has it."""
    latest: dict[str, Any] = {}
    for key, value in session.items():
        if key in ("spans", "logs"):
            latest["sessionFile"] = str(session_file)
        latest[key] = value
    return latest


def write_json(path: Path, document: dict[str, Any]) -> int:
    # The sample files are byte-identical to json.dumps(indent=2) output, with no final newline.
    text = json.dumps(document, indent=2)
    path.write_text(text, encoding="utf-8")
    return len(text.encode())


def write_session(
    root: Path,
    copy_number: int,
    samples: tuple[dict[str, Any], dict[str, Any]],
    counts: tuple[int, int],
    with_latest: bool,
) -> tuple[int, int]:
    """Write one session folder and return (files written, bytes written)."""
    span_sample, log_sample = samples
    span_count, log_count = counts
    shift = COPY_SPACING * copy_number
    shift_ms = int(shift.total_seconds() * 1000)
    new_id = IdRewriter(copy_number)
    started = SAMPLE_START + shift
    day_dir = root / f"session-{copy_number:04d}" / started.strftime("%Y-%m-%d")
    day_dir.mkdir(parents=True)
    stem = started.strftime("%H-%M-%S")

    documents: list[tuple[Path, dict[str, Any]]] = []
    if span_count:
        spans = [rewrite_span(span, new_id, shift_ms) for span in span_sample["spans"][:span_count]]
        documents.append((day_dir / f"{stem}.json", session_document(span_sample, "spans", spans, shift)))
    if log_count:
        shift_seconds = shift_ms // 1000
        logs = [rewrite_log(log, new_id, shift_seconds) for log in log_sample["logs"][:log_count]]
        documents.append((day_dir / f"{stem}-logs.json", session_document(log_sample, "logs", logs, shift)))

    if with_latest:
        for path, document in list(documents):
            suffix = "-logs" if "logs" in document else ""
            documents.append((day_dir.parent / f"latest{suffix}.json", latest_document(document, path)))

    written = sum(write_json(path, document) for path, document in documents)
    return len(documents), written


def records_in_copy(total: int, copy_number: int) -> int:
    return max(0, min(RECORDS_PER_FILE, total - copy_number * RECORDS_PER_FILE))


def generate(root: Path, spans: int, logs: int, with_latest: bool) -> Dataset:
    """Write enough session folders under `root` for `spans` spans and `logs` log records."""
    samples = (load_sample(SAMPLE_SPANS), load_sample(SAMPLE_LOGS))
    for sample, array, path in zip(samples, ("spans", "logs"), (SAMPLE_SPANS, SAMPLE_LOGS), strict=True):
        if len(sample[array]) != RECORDS_PER_FILE:
            msg = f"expected {RECORDS_PER_FILE} {array} in {path}, found {len(sample[array])}"
            raise BenchmarkError(msg)

    copies = -(-max(spans, logs) // RECORDS_PER_FILE)
    files = 0
    size = 0
    for copy_number in range(copies):
        counts = (records_in_copy(spans, copy_number), records_in_copy(logs, copy_number))
        written_files, written_bytes = write_session(root, copy_number, samples, counts, with_latest)
        files += written_files
        size += written_bytes

    return Dataset(
        root=root,
        spans=spans,
        logs=logs,
        files=files,
        duplicate_spans=spans if with_latest else 0,
        duplicate_logs=logs if with_latest else 0,
        size_bytes=size,
    )


# --- processes ---------------------------------------------------------------------------


def child_environment() -> dict[str, str]:
    """Return this environment without OTEL_* and proxy variables.

    OTEL_EXPORTER_OTLP_* variables would change headers, compression or timeouts, and the
    exporters' HTTP library would send 127.0.0.1 traffic through a configured proxy.
    """
    proxies = {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}
    return {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("OTEL_") and name.lower() not in proxies
    }


def replay_command() -> list[str]:
    script = Path(sys.executable).parent / "otel-replay"
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-m", "otel_replay"]


def wait_with_usage(process: subprocess.Popen[bytes], timeout: float) -> tuple[int, Any]:
    """Reap `process` with wait4() and return its exit code and its own resource usage.

    RUSAGE_CHILDREN would merge every child reaped so far, the receivers included, so the
    per-process wait4() result is used instead. Polling keeps the wait bounded.
    """
    deadline = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            process.kill()
            pid, status, usage = os.wait4(process.pid, 0)
            process.returncode = os.waitstatus_to_exitcode(status)
            msg = f"otel-replay timed out after {timeout:g} s and was killed. Raise --timeout to allow more time."
            raise BenchmarkError(msg)
        time.sleep(WAIT_INTERVAL)

    # Popen must not wait for a process that wait4() has already reaped.
    process.returncode = os.waitstatus_to_exitcode(status)
    return process.returncode, usage


def max_rss_kib(usage: Any) -> int:
    # ru_maxrss is in kibibytes on Linux and in bytes on macOS.
    if sys.platform == "darwin":
        return int(usage.ru_maxrss) // 1024
    return int(usage.ru_maxrss)


def measure(command: list[str], timeout: float) -> Measurement:
    with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=stdout, stderr=stderr, env=child_environment())
        exit_code, usage = wait_with_usage(process, timeout)
        wall = time.perf_counter() - started
        return Measurement(
            exit_code=exit_code,
            stdout=read_back(stdout),
            stderr=read_back(stderr),
            wall_seconds=wall,
            cpu_seconds=usage.ru_utime + usage.ru_stime,
            peak_rss_kib=max_rss_kib(usage),
        )


def read_back(file: IO[bytes]) -> str:
    file.seek(0)
    return file.read().decode("utf-8", errors="replace")


class ReceiverProcess:
    """otel_replay.receiver.OTLPReceiver on 127.0.0.1, in a child process of its own."""

    def __init__(self) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-c", RECEIVER_SCRIPT],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=child_environment(),
        )
        self.url = self._read_url()

    def _read_url(self) -> str:
        assert self._process.stdout is not None
        ready, _, _ = select.select([self._process.stdout], [], [], RECEIVER_START_TIMEOUT)
        line = self._process.stdout.readline().strip() if ready else ""
        if not line.startswith("http://127.0.0.1:"):
            self.kill()
            msg = (
                f"the receiver timed out after {RECEIVER_START_TIMEOUT:g} s without printing its URL (output: {line!r})"
            )
            raise BenchmarkError(msg)
        return line

    def stop(self) -> dict[str, int]:
        """Stop the receiver and return the number of spans, log records and requests it received."""
        try:
            output, _ = self._process.communicate(input="", timeout=RECEIVER_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()
            msg = f"the receiver timed out after {RECEIVER_STOP_TIMEOUT:g} s while stopping and was killed"
            raise BenchmarkError(msg) from None
        counts: dict[str, int] = json.loads(output)
        return counts

    def kill(self) -> None:
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait()


# --- runs --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Expected:
    """The counts a complete replay must report, per signal."""

    sent_spans: int
    sent_logs: int
    skipped_spans: int
    skipped_logs: int


def expected_counts(dataset: Dataset, dedupe: bool) -> Expected:
    if dedupe:
        return Expected(dataset.spans, dataset.logs, dataset.duplicate_spans, dataset.duplicate_logs)
    return Expected(dataset.spans + dataset.duplicate_spans, dataset.logs + dataset.duplicate_logs, 0, 0)


def replay_arguments(input_dir: Path, url: str, options: argparse.Namespace) -> list[str]:
    arguments = ["replay", str(input_dir), "--endpoint", url, "--batch-size", str(options.batch_size), "--json"]
    if options.no_dedupe:
        arguments.append("--no-dedupe")
    return arguments


def run_once(dataset: Dataset, expected: Expected, options: argparse.Namespace) -> Measurement:
    """Replay `dataset` into a fresh receiver and check that every record arrived."""
    receiver = ReceiverProcess()
    try:
        command = [*replay_command(), *replay_arguments(dataset.root, receiver.url, options)]
        measurement = measure(command, options.timeout)
        received = receiver.stop()
    finally:
        receiver.kill()

    check_run(dataset, expected, measurement, received)
    return measurement


def check_run(dataset: Dataset, expected: Expected, measurement: Measurement, received: dict[str, int]) -> None:
    if measurement.exit_code != 0:
        tail = measurement.stderr.strip()[-2000:]
        msg = f"otel-replay failed with exit status {measurement.exit_code}. The end of its stderr:\n{tail}"
        raise BenchmarkError(msg)

    try:
        summary = json.loads(measurement.stdout)
        signals = summary["signals"]
        files_read = summary["files_read"]
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        msg = (
            f"invalid --json summary from otel-replay ({error!r}); its stdout starts with {measurement.stdout[:200]!r}"
        )
        raise BenchmarkError(msg) from error

    checks = {
        ("traces", "sent"): expected.sent_spans,
        ("traces", "failed"): 0,
        ("traces", "skipped"): expected.skipped_spans,
        ("logs", "sent"): expected.sent_logs,
        ("logs", "failed"): 0,
        ("logs", "skipped"): expected.skipped_logs,
    }
    for (signal, key), number in checks.items():
        if signals[signal][key] != number:
            msg = f"summary reports {signals[signal][key]} {signal} {key}, expected {number}"
            raise BenchmarkError(msg)
    if files_read != dataset.files:
        msg = f"summary reports {files_read} files read, expected {dataset.files}"
        raise BenchmarkError(msg)

    if received["spans"] != expected.sent_spans or received["logs"] != expected.sent_logs:
        msg = (
            f"the receiver got {received['spans']} spans and {received['logs']} log records, "
            f"expected {expected.sent_spans} and {expected.sent_logs}"
        )
        raise BenchmarkError(msg)


def measure_startup(options: argparse.Namespace) -> Measurement:
    """Replay an empty folder: the fixed cost of interpreter start, imports and exporter setup."""
    receiver = ReceiverProcess()
    try:
        with tempfile.TemporaryDirectory(prefix="otel-replay-bench-empty-") as empty_dir:
            command = [*replay_command(), *replay_arguments(Path(empty_dir), receiver.url, options)]
            measurement = measure(command, options.timeout)
        receiver.stop()
    finally:
        receiver.kill()
    if measurement.exit_code != 0:
        msg = f"otel-replay on an empty folder exited with status {measurement.exit_code}"
        raise BenchmarkError(msg)
    return measurement


def source_digest() -> str:
    """Return a SHA-256 over the otel_replay sources that the replay process imports.

    With an editable install the sources can change between runs, so the digest ties a
    result to the code that produced it.
    """
    command = [sys.executable, "-c", "import otel_replay, pathlib; print(pathlib.Path(otel_replay.__file__).parent)"]
    package_dir = Path(subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip())
    digest = hashlib.sha256()
    for path in sorted(package_dir.rglob("*.py")):
        digest.update(path.relative_to(package_dir).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


# --- report ------------------------------------------------------------------------------


def print_run(number: int, expected: Expected, measurement: Measurement) -> None:
    rate = (expected.sent_spans + expected.sent_logs) / measurement.wall_seconds
    print(
        f"run {number}: {measurement.wall_seconds:.2f} s wall, {measurement.cpu_seconds:.2f} s CPU, "
        f"{rate:,.0f} records sent/s, peak RSS {measurement.peak_rss_kib / 1024:.0f} MiB"
    )


def print_table(
    dataset: Dataset,
    expected: Expected,
    options: argparse.Namespace,
    runs: list[Measurement],
    startup: Measurement,
    source: str,
) -> None:
    walls = [run.wall_seconds for run in runs]
    median_wall = statistics.median(walls)
    sent = expected.sent_spans + expected.sent_logs
    rows = [
        ("otel-replay source", f"sha256 {source}"),
        ("input", f"{dataset.spans:,} spans + {dataset.logs:,} log records in {dataset.files} files"),
        ("input size", f"{dataset.size_bytes / 2**20:.0f} MiB"),
        ("duplicates", f"{dataset.duplicate_spans:,} spans + {dataset.duplicate_logs:,} log records"),
        ("options", " ".join(replay_arguments(Path("DIR"), "URL", options)[4:])),
        ("records sent", f"{sent:,}"),
        ("runs", str(len(runs))),
        ("wall time", f"median {median_wall:.2f} s, min {min(walls):.2f} s"),
        ("records sent/s", f"median {sent / median_wall:,.0f}, best {sent / min(walls):,.0f}"),
        ("CPU time", f"median {statistics.median(run.cpu_seconds for run in runs):.2f} s (user + system)"),
        ("peak RSS", f"max {max(run.peak_rss_kib for run in runs) / 1024:.0f} MiB"),
        ("empty replay", f"{startup.wall_seconds:.2f} s wall, peak RSS {startup.peak_rss_kib / 1024:.0f} MiB"),
    ]
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"{label:<{width}}  {value}")


# --- command line ------------------------------------------------------------------------


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        msg = f"expected a positive integer, got {text}"
        raise argparse.ArgumentTypeError(msg)
    return value


def positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        msg = f"expected a positive number, got {text}"
        raise argparse.ArgumentTypeError(msg)
    return value


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--spans", type=positive_int, default=50_000, help="spans to generate (default: 50000)")
    parser.add_argument("--logs", type=positive_int, default=50_000, help="log records to generate (default: 50000)")
    parser.add_argument("--batch-size", type=positive_int, default=512, help="otel-replay --batch-size (default: 512)")
    parser.add_argument("--repeat", type=positive_int, default=1, help="replay runs to measure (default: 1)")
    parser.add_argument(
        "--latest",
        action="store_true",
        help="also write latest.json and latest-logs.json per session folder, so half the records are duplicates",
    )
    parser.add_argument("--workdir", type=Path, help="folder for the generated input (default: a new temporary folder)")
    parser.add_argument(
        "--no-dedupe", action="store_true", help="pass --no-dedupe to otel-replay, so duplicates are sent too"
    )
    parser.add_argument("--keep", action="store_true", help="keep the generated input after the runs")
    parser.add_argument(
        "--timeout", type=positive_float, default=600.0, help="seconds allowed for one replay run (default: 600)"
    )
    return parser.parse_args(argv)


def prepare_workdir(workdir: Path | None) -> tuple[Path, Path]:
    """Return (folder to remove afterwards, input folder to generate into)."""
    if workdir is None:
        base = Path(tempfile.mkdtemp(prefix="otel-replay-bench-"))
        return base, base / "input"

    input_dir = workdir / "input"
    if input_dir.exists():
        msg = f"{input_dir} already exists. Remove it or choose another --workdir."
        raise BenchmarkError(msg)
    return input_dir, input_dir


def benchmark(options: argparse.Namespace, input_dir: Path) -> None:
    input_dir.mkdir(parents=True)
    started = time.perf_counter()
    dataset = generate(input_dir, options.spans, options.logs, options.latest)
    elapsed = time.perf_counter() - started
    print(f"generated {dataset.files} files ({dataset.size_bytes / 2**20:.0f} MiB) in {elapsed:.1f} s")

    digest_before = source_digest()
    startup = measure_startup(options)
    expected = expected_counts(dataset, dedupe=not options.no_dedupe)
    runs = []
    for number in range(1, options.repeat + 1):
        measurement = run_once(dataset, expected, options)
        print_run(number, expected, measurement)
        runs.append(measurement)

    digest_after = source_digest()
    source = digest_before
    if digest_after != digest_before:
        source = f"{digest_before} before the runs, {digest_after} after (changed during the runs)"

    print()
    print_table(dataset, expected, options, runs, startup, source)


def main(argv: list[str] | None = None) -> int:
    options = parse_arguments(argv)
    try:
        cleanup_dir, input_dir = prepare_workdir(options.workdir)
    except BenchmarkError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2

    try:
        benchmark(options, input_dir)
    except BenchmarkError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    finally:
        if options.keep:
            print(f"kept the generated input in {input_dir}")
        else:
            shutil.rmtree(cleanup_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
