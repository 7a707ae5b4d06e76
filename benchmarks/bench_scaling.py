"""Measure how otel-replay's time and peak memory scale with input size, against CodeMachine's importer.

The script generates one input file per size and kind and starts a loopback OTLP/HTTP sink in
a child process. It runs the installed `otel-replay replay` into the sink in another child
process and reports wall time, CPU time (user + system) and peak RSS of the replay process
from `os.wait4()`, with records/s and MB/s. The sink reports its own CPU time, which it
spends on the same CPUs as the replay. Given `--bun` and `--importer` (CodeMachine CLI's
scripts/import-telemetry.ts, kept outside this repository), the importer runs on the same
file into the same sink, and the table shows the ratio of wall times. The importer cannot
read OTLP/JSON lines, so for `--kind otlp-json` it reads the same spans as a CodeMachine
trace file, generated from the same seed.

Example:
    .venv/bin/python benchmarks/bench_scaling.py --kind traces --records 10000,100000 --repeat 3 \\
        --bun /tmp/cm-import/node_modules/.bin/bun --importer /tmp/cm-import/import-telemetry.ts
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final

SPANS_PER_TRACE: Final = 50
BASE_SECONDS: Final = 1_796_218_006  # 2026-12-02, the sample sessions' day
OTLP_LINE_RECORDS: Final = 512  # records per OTLP/JSON line, as `convert --batch-size 512` writes
WAIT_INTERVAL: Final = 0.005  # seconds between wait4() polls, which bounds the error in the wall time
KINDS: Final = ("traces", "logs", "otlp-json")

# The sink replies to every POST with 200 and an empty body, which is a valid empty export
# response. It counts requests, bytes and records (decoding protobuf with the C runtime and
# counting a token in JSON) and prints its counts and CPU time when stdin closes.
SINK_SCRIPT: Final = r"""
import gc, json, resource, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import orjson
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

counts = {"requests": 0, "bytes": 0, "spans": 0, "logs": 0, "read_seconds": 0.0, "count_seconds": 0.0}
lock = threading.Lock()

def count(path, content_type, body):
    # Parsing a whole JSON request took the sink longer than the importer took to send it,
    # so JSON records are counted by a token that each has once. A quote inside a JSON
    # string is escaped, so these tokens cannot come from inside a string.
    if path.endswith("/loki/api/v1/push"):
        return "logs", body.count(b'["')  # each Loki value is ["<nanoseconds>", "<line>"]
    signal = "spans" if path.endswith("/v1/traces") else "logs"
    if "json" in content_type:
        if signal == "spans":
            return signal, body.count(b'"spanId"')
        document = orjson.loads(body)
        return signal, sum(len(s["logRecords"]) for r in document["resourceLogs"] for s in r["scopeLogs"])
    if signal == "spans":
        request = ExportTraceServiceRequest.FromString(body)
        return signal, sum(len(s.spans) for r in request.resource_spans for s in r.scope_spans)
    request = ExportLogsServiceRequest.FromString(body)
    return signal, sum(len(s.log_records) for r in request.resource_logs for s in r.scope_logs)

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        started = time.thread_time()
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        read = time.thread_time()
        signal, records = count(self.path, self.headers.get("Content-Type", ""), body)
        with lock:
            counts["read_seconds"] += read - started
            counts["count_seconds"] += time.thread_time() - read
            counts["requests"] += 1
            counts["bytes"] += len(body)
            counts[signal] += records
        self.send_response(200)
        self.send_header("Content-Type", self.headers.get("Content-Type", "application/x-protobuf"))
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass

# Parsing a large JSON request creates millions of objects, and the collector's passes over
# them took most of the sink's time. The sink keeps nothing, so it needs no collector.
gc.disable()
server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
threading.Thread(target=server.serve_forever, daemon=True).start()
print(f"http://127.0.0.1:{server.server_port}", flush=True)
sys.stdin.read()
server.shutdown()
usage = resource.getrusage(resource.RUSAGE_SELF)
counts["cpu_seconds"] = usage.ru_utime + usage.ru_stime
print(json.dumps(counts), flush=True)
"""


class BenchmarkError(Exception):
    """A run failed or delivered a different number of records than generated."""


@dataclass(frozen=True, slots=True)
class Run:
    """One measured child process and what the sink saw during it."""

    wall_seconds: float
    cpu_seconds: float
    peak_rss_mib: float
    sink_cpu_seconds: float
    sink_records: int
    sink_requests: int


# --- input generation --------------------------------------------------------------------


def js_milliseconds(seconds: int, nanos: int) -> float:
    """Return a time as the JS SDK computes milliseconds; json.dumps writes it as JavaScript would."""
    return seconds * 1e3 + nanos / 1e6


def generate_spans(count: int, seed: int) -> Any:
    """Yield CodeMachine spans: traces of about 50 spans in a tree, 8 to 12 attributes, 0 to 2 events."""
    rng = random.Random(seed)  # noqa: S311  # reproducible benchmark data, not secrets
    tools = ["Bash", "Read", "Edit", "Grep", "WebFetch", "TodoWrite"]
    generated = 0
    trace_number = 0
    while generated < count:
        trace_id = f"{rng.getrandbits(128):032x}"
        start_nanos = (trace_number * 3_600 + BASE_SECONDS) * 10**9
        span_ids: list[str] = []
        for position in range(min(SPANS_PER_TRACE, count - generated)):
            span_id = f"{rng.getrandbits(64) | 1:016x}"
            begin = start_nanos + position * 2_000_000 + rng.randrange(1_000_000)
            end = begin + rng.randrange(50_000, 5_000_000_000)
            tool = rng.choice(tools)
            attributes: dict[str, Any] = {
                "tool.name": tool,
                "tool.call.index": position,
                "tool.input.path": f"src/scaffold/file_{rng.randrange(400)}.ts",
                "agent.id": f"agent-{rng.randrange(8)}",
                "workflow.step": rng.randrange(30),
                "retry": rng.random() < 0.1,
                "tokens.input": rng.randrange(100_000),
                "cost.usd": round(rng.random() * 3, 6),
            }
            for extra in range(rng.randrange(5)):
                attributes[f"extra.{extra}"] = rng.choice([f"value-{rng.randrange(1000)}", rng.randrange(10**6)])
            events = []
            for _ in range(rng.choice((0, 0, 1, 2))):
                when = rng.randrange(begin, end + 1)
                events.append(
                    {
                        "name": "exception" if rng.random() < 0.5 else "progress",
                        "time": js_milliseconds(when // 10**9, when % 10**9),
                        "attributes": {"exception.type": "ETIMEDOUT", "exception.message": f"{tool} timed out"},
                    }
                )
            span: dict[str, Any] = {
                "name": f"agent.tool.{tool}",
                "traceId": trace_id,
                "spanId": span_id,
            }
            if span_ids:
                span["parentSpanId"] = rng.choice(span_ids)
            start_ms = js_milliseconds(begin // 10**9, begin % 10**9)
            end_ms = js_milliseconds(end // 10**9, end % 10**9)
            failed = rng.random() < 0.05
            span.update(
                {
                    "startTime": start_ms,
                    "endTime": end_ms,
                    "duration": end_ms - start_ms,
                    "status": {"code": 2, "message": f"Tool {tool} failed"} if failed else {"code": 1},
                    "attributes": attributes,
                    "events": events,
                }
            )
            span_ids.append(span_id)
            generated += 1
            yield span
        trace_number += 1


def generate_logs(count: int, seed: int) -> Any:
    """Yield CodeMachine log records with 8 to 12 attributes, most linked to a span."""
    rng = random.Random(seed)  # noqa: S311  # reproducible benchmark data, not secrets
    resource = {"service.name": "codemachine", "service.version": "0.8.0", "deployment.environment": "production"}
    for number in range(count):
        attributes: dict[str, Any] = {
            "trace.id": f"{rng.getrandbits(128):032x}",
            "span.id": f"{rng.getrandbits(64) | 1:016x}",
            "tool.name": rng.choice(["Bash", "Read", "Grep"]),
            "agent.id": f"agent-{rng.randrange(8)}",
            "workflow.step": rng.randrange(30),
            "duration.ms": round(rng.random() * 1000, 4),
            "retry": rng.random() < 0.1,
            "log.sequence": number,
        }
        for extra in range(rng.randrange(5)):
            attributes[f"extra.{extra}"] = f"value-{rng.randrange(1000)}"
        yield {
            "timestamp": [BASE_SECONDS + number // 100, rng.randrange(10**9)],
            "severityNumber": rng.choice([5, 9, 13, 17]),
            "severityText": rng.choice(["DEBUG", "INFO", "WARN", "ERROR"]),
            "body": f"Tool call #{number} finished with {rng.randrange(100)} results",
            "attributes": attributes,
            "resource": resource,
        }


def write_codemachine(path: Path, array: str, records: Any) -> int:
    """Write a CodeMachine file as JSON.stringify(document, null, 2) lays it out; return the record count."""
    count_key = "spanCount" if array == "spans" else "logCount"
    written = 0
    with path.open("w", encoding="utf-8") as file:
        file.write('{\n  "version": 1,\n  "service": "codemachine",\n  "exportedAt": "2026-12-02T13:26:56.772Z",\n')
        file.write(f'  "{count_key}": COUNT_PLACEHOLDER,\n  "{array}": [')
        for record in records:
            file.write(",\n    " if written else "\n    ")
            file.write(json.dumps(record, indent=2, ensure_ascii=False).replace("\n", "\n    "))
            written += 1
        file.write("\n  ]\n}")
    # The count goes into the header afterwards, padded so that no byte moves.
    with path.open("r+b") as file:
        head = file.read(512)
        placeholder = head.index(b"COUNT_PLACEHOLDER")
        file.seek(placeholder)
        file.write(str(written).ljust(len("COUNT_PLACEHOLDER")).encode())
    return written


def write_otlp_json(path: Path, count: int, seed: int) -> int:
    """Write OTLP/JSON lines, one ExportTraceServiceRequest of 512 spans per line."""
    spans = generate_spans(count, seed)
    written = 0
    with path.open("w", encoding="utf-8") as file:
        while written < count:
            line_spans = []
            for span in spans:
                line_spans.append(otlp_span(span))
                written += 1
                if len(line_spans) == OTLP_LINE_RECORDS:
                    break
            request = {
                "resourceSpans": [
                    {
                        "resource": {"attributes": [otlp_attribute("service.name", "codemachine")]},
                        "scopeSpans": [{"scope": {}, "spans": line_spans}],
                    }
                ]
            }
            file.write(json.dumps(request, separators=(",", ":")) + "\n")
    return written


def otlp_span(span: dict[str, Any]) -> dict[str, Any]:
    def nanos(milliseconds: float) -> str:
        return str(round(float(repr(milliseconds)) * 10**6))

    converted: dict[str, Any] = {
        "traceId": span["traceId"],
        "spanId": span["spanId"],
        "name": span["name"],
        "kind": 1,
        "startTimeUnixNano": nanos(span["startTime"]),
        "endTimeUnixNano": nanos(span["endTime"]),
        "attributes": [otlp_attribute(key, value) for key, value in span["attributes"].items()],
        "events": [
            {
                "timeUnixNano": nanos(event["time"]),
                "name": event["name"],
                "attributes": [otlp_attribute(key, value) for key, value in event["attributes"].items()],
            }
            for event in span["events"]
        ],
        "status": span["status"],
    }
    if "parentSpanId" in span:
        converted["parentSpanId"] = span["parentSpanId"]
    return converted


def otlp_attribute(key: str, value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"key": key, "value": {"boolValue": value}}
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}
    if isinstance(value, float):
        return {"key": key, "value": {"doubleValue": value}}
    return {"key": key, "value": {"stringValue": value}}


def generate(kind: str, count: int, directory: Path) -> Path:
    """Write the input file of `kind` with `count` records into `directory`, once per kind and size."""
    directory.mkdir(parents=True, exist_ok=True)
    names = {"traces": f"traces-{count}.json", "logs": f"traces-{count}-logs.json", "otlp-json": f"spans-{count}.jsonl"}
    path = directory / names[kind]
    if path.exists():
        return path
    partial = path.with_name(path.name + ".partial")
    if kind == "traces":
        write_codemachine(partial, "spans", generate_spans(count, seed=count))
    elif kind == "logs":
        write_codemachine(partial, "logs", generate_logs(count, seed=count))
    else:
        write_otlp_json(partial, count, seed=count)
    partial.rename(path)
    return path


# --- processes ---------------------------------------------------------------------------


def child_environment(extra: dict[str, str]) -> dict[str, str]:
    """Return this environment without OTEL_* and proxy variables, plus `extra`."""
    proxies = {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("OTEL_") and name.lower() not in proxies
    }
    environment.update(extra)
    return environment


class Sink:
    """The counting OTLP/HTTP sink on 127.0.0.1, in a child process of its own."""

    def __init__(self) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-c", SINK_SCRIPT],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=child_environment({}),
        )
        assert self._process.stdout is not None
        self.url = self._process.stdout.readline().strip()
        if not self.url.startswith("http://127.0.0.1:"):
            msg = f"the sink did not start: {self.url!r}"
            raise BenchmarkError(msg)

    def stop(self) -> dict[str, Any]:
        """Stop the sink and return its counts and CPU time."""
        stdout, _ = self._process.communicate("", timeout=120)
        counts: dict[str, Any] = json.loads(stdout.strip().splitlines()[-1])
        return counts


def measure(command: list[str], environment: dict[str, str], timeout: float) -> tuple[float, Any, str, str]:
    """Run `command` and return its wall time, its own rusage from wait4(), stdout and stderr."""
    with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=stdout, stderr=stderr, env=environment)
        deadline = time.monotonic() + timeout
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                process.kill()
                os.wait4(process.pid, 0)
                msg = f"{command[0]} timed out after {timeout:g} s"
                raise BenchmarkError(msg)
            time.sleep(WAIT_INTERVAL)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        output, errors = read_back(stdout), read_back(stderr)
    if process.returncode != 0:
        msg = f"{' '.join(command)} exited with {process.returncode}: {errors[-2000:]}"
        raise BenchmarkError(msg)
    return wall, usage, output, errors


def read_back(file: IO[bytes]) -> str:
    file.seek(0)
    return file.read().decode("utf-8", errors="replace")


def run_once(command: list[str], environment: dict[str, str], expected: int, timeout: float) -> Run:
    sink = Sink()
    try:
        url = sink.url
        full = [part.replace("{url}", url) for part in command]
        wall, usage, _, _ = measure(full, environment, timeout)
    finally:
        counts = sink.stop()
    received = counts["spans"] + counts["logs"]
    if received != expected:
        msg = f"the sink received {received} records, expected {expected}: {' '.join(command)}"
        raise BenchmarkError(msg)
    return Run(
        wall_seconds=wall,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        peak_rss_mib=usage.ru_maxrss / 1024,  # KiB on Linux
        sink_cpu_seconds=counts["cpu_seconds"],
        sink_records=received,
        sink_requests=counts["requests"],
    )


def replay_program() -> list[str]:
    """Return the command that starts the installed CLI."""
    script = Path(sys.executable).parent / "otel-replay"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "otel_replay"]


def replay_command(path: Path, batch_size: int, workers: int, extra: list[str]) -> list[str]:
    options = ["--endpoint", "{url}", "--batch-size", str(batch_size), "--workers", str(workers), "--quiet"]
    return [*replay_program(), "replay", str(path), *options, *extra]


def importer_command(runtime: str, importer: str, path: Path, kind: str) -> list[str]:
    signal = "--traces-only" if kind == "traces" else "--logs-only"
    return [runtime, importer, str(path), "--tempo-url", "{url}", "--loki-url", "{url}", signal]


# --- reporting ---------------------------------------------------------------------------


def summarize(label: str, records: int, size_bytes: int, runs: list[Run]) -> dict[str, Any]:
    wall = statistics.median(run.wall_seconds for run in runs)
    return {
        "label": label,
        "records": records,
        "size_mb": size_bytes / 1e6,
        "runs": len(runs),
        "wall_s": wall,
        "wall_min_s": min(run.wall_seconds for run in runs),
        "cpu_s": statistics.median(run.cpu_seconds for run in runs),
        "peak_rss_mib": max(run.peak_rss_mib for run in runs),
        "records_per_s": records / wall,
        "mb_per_s": size_bytes / 1e6 / wall,
        "sink_cpu_s": statistics.median(run.sink_cpu_seconds for run in runs),
        "requests": runs[0].sink_requests,
    }


def print_row(row: dict[str, Any], reference: float | None) -> None:
    ratio = f"{row['wall_s'] / reference:5.2f}" if reference else "    -"
    print(
        f"{row['label']:<34} {row['records']:>9,} {row['size_mb']:>8.1f} {row['wall_s']:>8.2f}"
        f" {row['wall_min_s']:>8.2f} {row['cpu_s']:>8.2f} {row['peak_rss_mib']:>9.1f}"
        f" {row['records_per_s']:>10,.0f} {row['mb_per_s']:>7.1f}"
        f" {row['sink_cpu_s']:>8.2f} {row['requests']:>6} {ratio}",
        flush=True,
    )


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kind", choices=KINDS, default="traces", help="input kind (default traces)")
    parser.add_argument("--records", default="10000,100000", help="comma-separated record counts")
    parser.add_argument("--repeat", type=int, default=3, help="runs per row; the table shows medians")
    parser.add_argument("--batch-size", type=int, default=512, help="otel-replay --batch-size (default 512)")
    parser.add_argument("--workdir", type=Path, help="folder for generated inputs, reused across runs")
    parser.add_argument("--workers", default="1,2", help="comma-separated otel-replay --workers values")
    parser.add_argument("--encoder", choices=["direct", "sdk"], default="direct", help="OTEL_REPLAY_ENCODER")
    parser.add_argument(
        "--speedups",
        choices=["on", "off"],
        default="on",
        help="off sets OTEL_REPLAY_SPEEDUPS=off, so the replay runs the Python encoders without the compiled module",
    )
    parser.add_argument(
        "--replay-option",
        action="append",
        default=[],
        help="an option added to each otel-replay run, such as --replay-option=--shift-to-now; repeatable",
    )
    parser.add_argument("--bun", help="path of the bun executable, to run --importer")
    parser.add_argument("--node", help="path of the node executable, to run --importer-js")
    parser.add_argument("--importer", help="path of CodeMachine CLI's scripts/import-telemetry.ts")
    parser.add_argument("--importer-js", help="the importer built for Node: bun build --target=node")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON to this file")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds allowed per run (default 1800)")
    return parser.parse_args()


def main() -> int:
    arguments = parse_arguments()
    workdir = arguments.workdir or Path(tempfile.mkdtemp(prefix="otel-replay-scaling-"))
    extra = {"OTEL_REPLAY_ENCODER": arguments.encoder}
    if arguments.speedups == "off":
        extra["OTEL_REPLAY_SPEEDUPS"] = "off"
    environment = child_environment(extra)
    version = subprocess.run(
        [*replay_program(), "--version"], env=environment, capture_output=True, text=True, check=True
    ).stdout.strip()
    print(f"{version}; inputs in {workdir}; {os.cpu_count()} CPUs; load average {os.getloadavg()}", flush=True)
    header = f"{'run':<34} {'records':>9} {'MB':>8} {'wall s':>8} {'min s':>8} {'CPU s':>8} {'peak MiB':>9}"
    print(f"{header} {'records/s':>10} {'MB/s':>7} {'sink CPU':>8} {'reqs':>6} ratio")

    rows = []
    for count in (int(part) for part in arguments.records.split(",")):
        path = generate(arguments.kind, count, workdir)
        size = path.stat().st_size
        reference = None
        comparisons = []
        # The importer cannot read OTLP/JSON lines, so it reads the same spans as a CodeMachine
        # trace file: both inputs come from the same seed.
        importer_path = generate("traces", count, workdir) if arguments.kind == "otlp-json" else path
        importer_kind = "traces" if arguments.kind == "otlp-json" else arguments.kind
        suffix = ", same spans" if arguments.kind == "otlp-json" else ""
        if arguments.bun and arguments.importer:
            comparisons.append(("bun " + Path(arguments.importer).name + suffix, arguments.bun, arguments.importer))
        if arguments.node and arguments.importer_js:
            label = "node " + Path(arguments.importer_js).name + suffix
            comparisons.append((label, arguments.node, arguments.importer_js))

        worker_counts = [int(part) for part in arguments.workers.split(",")]
        replay_runs: dict[int, list[Run]] = {workers: [] for workers in worker_counts}
        importer_runs: dict[str, list[Run]] = {label: [] for label, _, _ in comparisons}
        for _ in range(arguments.repeat):
            # Alternating the programs spreads the machine's varying load over all of them.
            for workers in worker_counts:
                command = replay_command(path, arguments.batch_size, workers, arguments.replay_option)
                sent = 0 if "--dry-run" in arguments.replay_option else count  # a dry run sends nothing
                replay_runs[workers].append(run_once(command, environment, sent, arguments.timeout))
            for label, runtime, importer in comparisons:
                command = importer_command(runtime, importer, importer_path, importer_kind)
                try:
                    importer_runs[label].append(run_once(command, environment, count, arguments.timeout))
                except BenchmarkError as error:
                    # The importer keeps the whole file and request in memory and may fail on large inputs.
                    print(f"{label} failed on {count:,} records: {str(error)[:300]}", flush=True)

        for label, runs in importer_runs.items():
            if not runs:
                continue
            row = summarize(label, count, importer_path.stat().st_size, runs)
            reference = reference or row["wall_s"]
            rows.append(row)
            print_row(row, None)
        for workers, runs in replay_runs.items():
            label = " ".join(["otel-replay", arguments.kind, f"--workers {workers}", *arguments.replay_option])
            row = summarize(label, count, size, runs)
            rows.append(row)
            print_row(row, reference)

    if arguments.json:
        arguments.json.write_text(json.dumps(rows, indent=2), encoding="utf-8")
    print(f"load average after the runs {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
