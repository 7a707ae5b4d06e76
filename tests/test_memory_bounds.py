"""Peak memory of the CLI on files with one enormous line or value, measured as its process's VmHWM.

The files are written without holding their content in the test's memory: a sparse file
whose hole of NUL bytes sits inside a JSON string, and a zstd file compressed in chunks.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import zstandard

from otel_replay.receiver import OTLPReceiver

HUGE_BYTES = 400 * 1024 * 1024
CHUNK_BYTES = 1024 * 1024
# The CLI with the SDK and exporters loaded takes roughly 50 to 100 MiB, and a record growing
# to the default 64 MiB limit adds its buffer and one copy. Reading a 400 MiB line whole would
# take more than twice its size, as bytes and as text, so this bound fails then.
PEAK_BOUND_BYTES = 320 * 1024 * 1024
TRACE_ID = "5b8efff798038103d269b633813fc60c"
HUGE_LINE_START = b'{"resourceSpans": [{"resource": {"attributes": [{"key": "x", "value": {"stringValue": "'
HUGE_LINE_END = b'"}}]}}]}\n'


def otlp_line(span_id: str) -> bytes:
    """Return one OTLP/JSON trace request line with one span."""
    span = {
        "traceId": TRACE_ID,
        "spanId": span_id,
        "name": "valid",
        "startTimeUnixNano": "1544712660000000000",
        "endTimeUnixNano": "1544712661000000000",
    }
    return json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}).encode() + b"\n"


def write_sparse_line_file(path: Path) -> None:
    """Write a valid line, a HUGE_BYTES line whose middle is a sparse hole, and another valid line."""
    with path.open("wb") as file:
        file.write(otlp_line("eee19b7ec3c1b171"))
        file.write(HUGE_LINE_START)
        file.seek(HUGE_BYTES, os.SEEK_CUR)
        file.write(HUGE_LINE_END)
        file.write(otlp_line("eee19b7ec3c1b172"))


def write_zstd_bomb(path: Path) -> None:
    """Write a zstd file of a few hundred KiB that expands to a HUGE_BYTES line between two valid lines."""
    compressor = zstandard.ZstdCompressor().compressobj()
    chunk = b"a" * CHUNK_BYTES
    with path.open("wb") as file:
        file.write(compressor.compress(otlp_line("eee19b7ec3c1b171") + HUGE_LINE_START))
        for _ in range(HUGE_BYTES // CHUNK_BYTES):
            file.write(compressor.compress(chunk))
        file.write(compressor.compress(HUGE_LINE_END + otlp_line("eee19b7ec3c1b172")))
        file.write(compressor.flush())


def write_zstd_jaeger_file(path: Path) -> None:
    """Write a zstd Jaeger file whose only span has an operation name of HUGE_BYTES."""
    compressor = zstandard.ZstdCompressor().compressobj()
    chunk = b"a" * CHUNK_BYTES
    with path.open("wb") as file:
        file.write(compressor.compress(b'{"data": [{"traceID": "' + TRACE_ID.encode() + b'", "spans": ['))
        file.write(compressor.compress(b'{"operationName": "'))
        for _ in range(HUGE_BYTES // CHUNK_BYTES):
            file.write(compressor.compress(chunk))
        file.write(compressor.compress(b'"}]}]}\n'))
        file.write(compressor.flush())


# Runs the CLI and, at exit, writes the process's peak resident set size (VmHWM, in KiB) to
# the file named by the first argument. Linux keeps a process's ru_maxrss across exec, so
# wait4 would report the peak of the large pytest process that forked the child instead.
_MEASURED_CLI = """
import atexit, sys

def _write_peak(path=sys.argv[1]):
    with open("/proc/self/status", encoding="ascii") as status:
        peak = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
    with open(path, "w", encoding="ascii") as out:
        out.write(peak)

atexit.register(_write_peak)
sys.argv = ["otel-replay", *sys.argv[2:]]
from otel_replay.cli import main
main()
"""


def run_cli_measured(tmp_path: Path, *args: str | Path) -> tuple[int, int, dict[str, Any], str]:
    """Run the CLI in a subprocess; return its exit status, peak RSS in bytes, --json summary and stderr."""
    stdout_path = tmp_path / "stdout.txt"
    stderr_path = tmp_path / "stderr.txt"
    peak_path = tmp_path / "peak.txt"
    with stdout_path.open("wb") as stdout, stderr_path.open("wb") as stderr:
        command = [sys.executable, "-c", _MEASURED_CLI, str(peak_path), *map(str, args)]
        returncode = subprocess.run(command, stdout=stdout, stderr=stderr, check=False).returncode

    peak_bytes = int(peak_path.read_text(encoding="ascii")) * 1024
    summary = json.loads(stdout_path.read_text(encoding="utf-8"))
    return returncode, peak_bytes, summary, stderr_path.read_text(encoding="utf-8")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="VmHWM is read from Linux's /proc")
@pytest.mark.parametrize("write", [write_sparse_line_file, write_zstd_bomb], ids=["sparse-line", "zstd-bomb"])
def test_huge_line_memory_bounded(tmp_path: Path, receiver: OTLPReceiver, write: Any) -> None:
    """A 400 MiB OTLP/JSON line, plain or from a zstd bomb, is skipped in bounded memory; its neighbours arrive."""
    path = tmp_path / "spans.jsonl"
    write(path)

    status, peak_bytes, summary, stderr = run_cli_measured(
        tmp_path, "replay", path, "--endpoint", receiver.url, "--json"
    )

    received = sorted(span.span_id.hex() for _, _, span in receiver.received.spans())
    assert status == 1
    assert peak_bytes < PEAK_BOUND_BYTES
    assert received == ["eee19b7ec3c1b171", "eee19b7ec3c1b172"]
    assert summary["signals"]["traces"]["skipped_by_reason"] == {"invalid": 1}
    assert "record 1: line 2 is longer than the maximum record size of 67108864 bytes" in stderr


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="VmHWM is read from Linux's /proc")
def test_huge_json_value_memory_bounded(tmp_path: Path, receiver: OTLPReceiver) -> None:
    """A 400 MiB Jaeger span ends its file with an error, in bounded memory."""
    path = tmp_path / "jaeger.json.zst"
    write_zstd_jaeger_file(path)

    status, peak_bytes, summary, stderr = run_cli_measured(
        tmp_path, "replay", path, "--format", "jaeger", "--endpoint", receiver.url, "--json"
    )

    assert status == 1
    assert peak_bytes < PEAK_BOUND_BYTES
    assert summary["file_errors"] == 1
    assert "the JSON value is longer than the maximum record size of 67108864 bytes" in stderr
