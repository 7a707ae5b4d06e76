"""Across formats: detection by content, the message for files in no format, and convert-then-replay losing nothing."""

from __future__ import annotations

import gzip
import io
import json
import struct
from pathlib import Path
from typing import Any

import pytest
from google.protobuf.json_format import ParseDict
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

from otel_replay import formats
from otel_replay.receiver import OTLPReceiver
from tests.conftest import CODEMACHINE, DATA, SESSION_B_LOGS, SESSION_B_SPANS, run_cli
from tests.test_convert import hex_to_base64

SESSION_B_METRICS = CODEMACHINE / "traces" / "2026-12-04" / "19-40-07-metrics.json"
NOT_TELEMETRY = {
    "package.json": b'{"name": "app", "version": "1.0.0", "scripts": {"logs": "tail -f log"}}',
    "README.txt": b"Attach the traces folder to the bug report.\n",
    "empty.json": b"",
    "garbage.bin": bytes(range(256)) * 8,
    "table.csv": b"time,level,message\n2026-12-04T19:40:07Z,INFO,started\n",
    "log-line.json": b'{"time": "2026-12-04T19:40:07Z", "level": "info", "msg": "started"}\n',
    "array.json": b"[1, 2, 3]\n",
}


def _console_file(tmp_path: Path) -> Path:
    """Real output of the Python SDK's console span exporter."""
    buffer = io.StringIO()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter(out=buffer)))
    with (
        provider.get_tracer("detect").start_as_current_span("parent"),
        provider.get_tracer("detect").start_span("child"),
    ):
        pass
    provider.shutdown()
    path = tmp_path / "console.txt"
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


def _otlp_files(tmp_path: Path) -> dict[str, Path]:
    """OTLP/JSON lines written by convert, a gzip copy, and the same spans as length-prefixed protobuf."""
    lines = tmp_path / "converted.jsonl"
    run_cli("convert", SESSION_B_SPANS, "--output", lines, "--quiet")
    compressed = tmp_path / "converted.jsonl.gz"
    compressed.write_bytes(gzip.compress(lines.read_bytes()))
    document = hex_to_base64(json.loads(lines.read_text(encoding="utf-8")))
    request = ParseDict(document, ExportTraceServiceRequest())
    payload = request.SerializeToString()
    proto = tmp_path / "spans.binpb"
    proto.write_bytes(struct.pack(">I", len(payload)) + payload)
    return {"lines": lines, "gzip": compressed, "proto": proto}


@pytest.fixture
def detection_inputs(tmp_path: Path) -> list[tuple[Path, str | None]]:
    """Each input paired with the format detection must report, None for files in no format."""
    otlp = _otlp_files(tmp_path)
    inputs: list[tuple[Path, str | None]] = [
        (SESSION_B_SPANS, "codemachine"),
        (SESSION_B_LOGS, "codemachine"),
        (SESSION_B_METRICS, "codemachine"),
        (CODEMACHINE / "sdk-trace-base-1.x" / "traces" / "latest.json", "codemachine"),
        (otlp["lines"], "otlp-json"),
        (otlp["gzip"], "otlp-json"),
        (DATA / "otlp" / "grafana-download.json", "otlp-json"),
        (otlp["proto"], "otlp-proto"),
        (DATA / "jaeger" / "ui-download.json", "jaeger"),
        (DATA / "jaeger" / "query-api.json", "jaeger"),
        (DATA / "zipkin" / "brave-trace.json", "zipkin"),
        (_console_file(tmp_path), "python-console"),
    ]
    for name, content in NOT_TELEMETRY.items():
        path = tmp_path / name
        path.write_bytes(content)
        inputs.append((path, None))
    return inputs


def test_detection_table(detection_inputs: list[tuple[Path, str | None]]) -> None:
    """Every input is detected as its own format, and files in no format as none."""
    detected = {path.name: (found.name if (found := formats.detect(path)) else None) for path, _ in detection_inputs}

    assert detected == {path.name: expected for path, expected in detection_inputs}


def test_detection_past_byte_order_mark(tmp_path: Path, detection_inputs: list[tuple[Path, str | None]]) -> None:
    """A text file that starts with a UTF-8 byte order mark is detected as without it, and read."""
    for path, expected in detection_inputs:
        if expected is None or path.suffix in (".gz", ".binpb"):
            continue
        marked = tmp_path / f"bom-{path.name}"
        marked.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())

        found = formats.detect(marked)

        assert found is not None, path
        assert found.name == expected
        assert list(found.read(marked)), path


@pytest.mark.parametrize("name", sorted(NOT_TELEMETRY))
def test_named_non_telemetry_file_message(tmp_path: Path, name: str) -> None:
    """A file in no format, named on the command line, gets an error naming it and the fix, and exit 1."""
    path = tmp_path / name
    path.write_bytes(NOT_TELEMETRY[name])

    result = run_cli("replay", path, "--endpoint", "http://127.0.0.1:9", "--timeout", "0.5")

    assert result.exit_code == 1
    assert (
        f"Error: {path}: not a telemetry file in a format otel-replay reads; see --format for the list" in result.stderr
    )


def _received(receiver: OTLPReceiver) -> dict[str, list[bytes]]:
    received = receiver.received
    return {
        "traces": sorted(span.SerializeToString(deterministic=True) for _, _, span in received.spans()),
        "logs": sorted(record.SerializeToString(deterministic=True) for _, _, record in received.log_records()),
        "metrics": sorted(metric.SerializeToString(deterministic=True) for _, _, metric in received.metrics_received()),
    }


def _replay_into_new_receiver(path: Path) -> dict[str, list[bytes]]:
    with OTLPReceiver() as receiver:
        result = run_cli("replay", path, "--endpoint", receiver.url)
        assert result.exit_code in (0, 1), result.stderr
        return _received(receiver)


@pytest.mark.parametrize(
    "source",
    [
        CODEMACHINE / "traces",
        DATA / "jaeger" / "ui-download.json",
        DATA / "zipkin" / "brave-trace.json",
        DATA / "otlp" / "grafana-download.json",
    ],
    ids=lambda path: path.name,
)
def test_convert_then_replay_loses_nothing(tmp_path: Path, source: Path) -> None:
    """Replaying a converted file sends exactly the spans, log records and metrics the original sends."""
    converted = tmp_path / "converted.jsonl"
    result = run_cli("convert", source, "--output", converted, "--quiet")
    assert result.exit_code == 0, result.stderr

    original: dict[str, Any] = _replay_into_new_receiver(source)
    roundtrip = _replay_into_new_receiver(converted)

    assert sum(len(records) for records in original.values()) > 0
    assert roundtrip == original


def test_wrong_forced_format_is_file_error(receiver: OTLPReceiver) -> None:
    """A file that cannot be read as the forced format is an error that names the format, not a skip."""
    result = run_cli("replay", SESSION_B_SPANS, "--format", "zipkin", "--endpoint", receiver.url)

    assert result.exit_code == 1
    assert f"Error: {SESSION_B_SPANS}: cannot be read as --format zipkin" in result.stderr
