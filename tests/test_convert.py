"""convert: telemetry files become OTLP/JSON lines holding exactly what replay would send."""

from __future__ import annotations

import base64
import gzip
import json
from pathlib import Path
from typing import Any

from google.protobuf.json_format import ParseDict
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from otel_replay.receiver import OTLPReceiver
from tests.conftest import CODEMACHINE, run_cli

HEX_ID_KEYS = {"traceId", "spanId", "parentSpanId"}


def hex_to_base64(node: Any) -> Any:
    """Turn OTLP/JSON's hex IDs into protobuf JSON's base64, so ParseDict can read a line."""
    if isinstance(node, list):
        return [hex_to_base64(item) for item in node]
    if isinstance(node, dict):
        return {
            key: base64.b64encode(bytes.fromhex(value)).decode() if key in HEX_ID_KEYS else hex_to_base64(value)
            for key, value in node.items()
        }
    return node


def _parse_lines(text: str) -> dict[str, list[Any]]:
    requests: dict[str, list[Any]] = {"traces": [], "logs": [], "metrics": []}
    for line in text.splitlines():
        document = hex_to_base64(json.loads(line))
        if "resourceSpans" in document:
            requests["traces"].append(ParseDict(document, ExportTraceServiceRequest()))
        elif "resourceLogs" in document:
            requests["logs"].append(ParseDict(document, ExportLogsServiceRequest()))
        else:
            requests["metrics"].append(ParseDict(document, ExportMetricsServiceRequest()))
    return requests


def _serialized(messages: list[Any]) -> list[bytes]:
    return sorted(message.SerializeToString(deterministic=True) for message in messages)


def test_convert_writes_what_replay_sends(tmp_path: Path, receiver: OTLPReceiver) -> None:
    """Each converted line decodes to the same request that replay sends for the same input."""
    output = tmp_path / "out.jsonl"
    converted = run_cli("convert", CODEMACHINE / "traces", "--output", output, "--json")
    replayed = run_cli("replay", CODEMACHINE / "traces", "--endpoint", receiver.url)

    assert converted.exit_code == 0, converted.stderr
    assert replayed.exit_code == 0, replayed.stderr
    requests = _parse_lines(output.read_text(encoding="utf-8"))
    assert _serialized(requests["traces"]) == _serialized(receiver.received.traces)
    assert _serialized(requests["logs"]) == _serialized(receiver.received.logs)
    assert _serialized(requests["metrics"]) == _serialized(receiver.received.metrics)


def test_convert_uses_hex_ids_and_integer_enums(tmp_path: Path) -> None:
    """IDs are hex and enums are integers, as the OTLP/JSON encoding requires."""
    output = tmp_path / "out.jsonl"
    run_cli("convert", CODEMACHINE / "traces" / "latest.json", "--output", output)

    document = json.loads(output.read_text(encoding="utf-8").splitlines()[0])
    span = document["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert span["traceId"] == "435fd2eb94e6aa40cd44a8351158ec91"
    assert span["kind"] == 1
    assert span["startTimeUnixNano"] == "1796413207154000000"


def test_convert_summary_counts_written_records(tmp_path: Path) -> None:
    """The JSON summary counts written records as sent and duplicates as skipped."""
    result = run_cli("convert", CODEMACHINE / "traces", "--output", tmp_path / "out.jsonl", "--json")

    summary = json.loads(result.stdout)
    assert summary["signals"]["traces"]["sent"] == 1051
    assert summary["signals"]["traces"]["skipped_by_reason"] == {"duplicate": 51}


def test_convert_gzip_output(tmp_path: Path) -> None:
    """An output name ending in .gz is written gzip-compressed."""
    output = tmp_path / "out.jsonl.gz"
    run_cli("convert", CODEMACHINE / "traces" / "latest.json", "--output", output)

    lines = gzip.decompress(output.read_bytes()).decode().splitlines()
    assert len(lines) == 1
    assert "resourceSpans" in lines[0]


def test_convert_usage_error_keeps_existing_output(tmp_path: Path) -> None:
    """A run that fails before writing leaves an existing output file as it was."""
    output = tmp_path / "keep.jsonl"
    output.write_text("hello\n", encoding="utf-8")

    result = run_cli("convert", tmp_path / "missing", "--output", output)

    assert result.exit_code == 2
    assert output.read_text(encoding="utf-8") == "hello\n"
    assert list(tmp_path.iterdir()) == [output]
