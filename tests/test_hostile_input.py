"""Hostile input: damaged compression, deep nesting, long integers and records over the size limit."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
import zstandard

from otel_replay.errors import InputError
from otel_replay.formats import by_name, detect
from otel_replay.model import Item
from tests.conftest import Result, run_cli

TRACE_ID = "5b8efff798038103d269b633813fc60c"
JSON_FORMATS = ["codemachine", "otlp-json", "jaeger", "zipkin", "python-console"]


# --- helpers ---------------------------------------------------------------------------


def span_id(number: int) -> str:
    """Return a recognisable 16-digit span ID for span `number`."""
    return f"eee19b7ec3c1b{number:03x}"


def otlp_line(number: int, attributes: list[dict[str, Any]] | None = None) -> str:
    """Return one OTLP/JSON trace request with one span, as the Collector writes a line."""
    span = {
        "traceId": TRACE_ID,
        "spanId": span_id(number),
        "name": f"span-{number}",
        "kind": 1,
        "startTimeUnixNano": "1544712660000000000",
        "endTimeUnixNano": "1544712661000000000",
        "attributes": attributes or [],
    }
    return json.dumps({"resourceSpans": [{"resource": {}, "scopeSpans": [{"scope": {}, "spans": [span]}]}]})


def read_all(path: Path, format_name: str) -> list[Item]:
    """Read a file with the named format's reader, as the pipeline does."""
    return list(by_name(format_name).read(path))


def error_lines(result: Result) -> list[str]:
    """Return the lines of stderr that report an error."""
    return [line for line in result.stderr.splitlines() if line.startswith("Error:")]


# --- damaged compressed files ----------------------------------------------------------

DAMAGED_COMPRESSION = [
    pytest.param(b"\x1f\x8b\x08\x00" + b"\x00" * 20, id="gzip-bad-block"),
    pytest.param(gzip.compress(otlp_line(1).encode() * 50)[:60], id="gzip-truncated"),
    pytest.param(b"\x28\xb5\x2f\xfd" + b"\xff" * 20, id="zstd-bad-frame"),
    pytest.param(zstandard.ZstdCompressor().compress(otlp_line(1).encode() * 50)[:30], id="zstd-truncated"),
]


@pytest.mark.parametrize("content", DAMAGED_COMPRESSION)
@pytest.mark.parametrize("format_name", [*JSON_FORMATS, "otlp-proto"])
def test_damaged_compression_is_input_error(tmp_path: Path, content: bytes, format_name: str) -> None:
    """Every reader reports damaged gzip or zstd data as an InputError, not a codec exception."""
    path = tmp_path / "spans.json.gz"
    path.write_bytes(content)

    with pytest.raises(InputError, match="compressed data"):
        read_all(path, format_name)


@pytest.mark.parametrize("content", DAMAGED_COMPRESSION)
def test_damaged_compression_cli_error(tmp_path: Path, content: bytes) -> None:
    """The CLI names the file of damaged compressed data and exits with 1, without a traceback."""
    path = tmp_path / "spans.json.gz"
    path.write_bytes(content)

    result = run_cli("replay", path, "--endpoint", "http://127.0.0.1:9", "--timeout", "0.2")

    assert result.exit_code == 1
    assert "Traceback" not in result.stderr
    assert any(str(path) in line for line in error_lines(result))


def test_damaged_gzip_detection(tmp_path: Path) -> None:
    """Format detection reports a damaged gzip stream as an InputError."""
    path = tmp_path / "spans.json.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00" + b"\x00" * 20)

    with pytest.raises(InputError, match="compressed data"):
        detect(path)


def test_zstd_frames_read_whole(tmp_path: Path) -> None:
    """A zstd file of several frames, as concatenating two files gives, is read to its end."""
    path = tmp_path / "spans.jsonl.zst"
    frames = [zstandard.ZstdCompressor().compress((otlp_line(number) + "\n").encode()) for number in (1, 2)]
    path.write_bytes(b"".join(frames))

    items = read_all(path, "otlp-json")

    assert [item.location.index for item in items] == [0, 1]


def test_zstd_cut_between_blocks(tmp_path: Path) -> None:
    """A zstd file cut after a complete block, whose text is whole lines, is still reported as truncated."""
    path = tmp_path / "spans.jsonl.zst"
    compressor = zstandard.ZstdCompressor().compressobj()
    first = compressor.compress((otlp_line(1) + "\n").encode()) + compressor.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK)
    path.write_bytes(first)

    with pytest.raises(InputError, match="zstd stream ends inside a frame"):
        read_all(path, "otlp-json")
