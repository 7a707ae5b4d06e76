"""inspect: what a user learns about files before replaying them, with nothing sent."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.conftest import CODEMACHINE, SESSION_A_SPANS, SESSION_B_SPANS, run_cli


def _inspect(*paths: Path) -> tuple[int, dict[str, Any]]:
    result = run_cli("inspect", *paths, "--json")
    files = {Path(entry["file"]).name: entry for entry in json.loads(result.stdout)["files"]}
    return result.exit_code, files


def test_inspect_reports_counts_and_traces() -> None:
    """A span file's report has its format, span count, service, traces, orphans and time range."""
    exit_code, files = _inspect(SESSION_B_SPANS, SESSION_A_SPANS)

    report = files["19-40-07.json"]
    assert exit_code == 0
    assert report["format"] == "codemachine"
    assert report["records"] == {"traces": 51}
    assert report["services"] == ["codemachine"]
    assert report["traces"] == 7
    assert report["orphan_spans"] == 2
    assert report["time_range"] == ["2026-12-04T19:36:08.533000000Z", "2026-12-04T19:40:08.663052000Z"]
    assert files["13-26-45.json"]["orphan_spans"] == 1


def test_inspect_counts_duplicates_across_files() -> None:
    """The session file read after latest.json is reported as all duplicates."""
    _, files = _inspect(CODEMACHINE / "traces")

    assert files["latest.json"]["duplicates"] == {}
    assert files["19-40-07.json"]["duplicates"] == {"traces": 51}
    assert files["19-40-07-logs.json"]["duplicates"] == {"logs": 89}
    assert files["19-40-07-metrics.json"]["duplicates"] == {"metrics": 241}


def test_inspect_lists_invalid_records(tmp_path: Path) -> None:
    """An invalid record is counted and listed with its field and reason, and the exit status is 1."""
    document = json.loads(SESSION_B_SPANS.read_text(encoding="utf-8"))
    document["spans"][4]["spanId"] = "xyz"
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(document), encoding="utf-8")

    exit_code, files = _inspect(broken)

    assert exit_code == 1
    assert files["broken.json"]["invalid"] == {"traces": 1}
    assert any("record 4, field spanId: invalid ID 'xyz'" in problem for problem in files["broken.json"]["problems"])


def test_inspect_names_non_telemetry_files(tmp_path: Path) -> None:
    """A file in no known format is listed with no format and does not fail the run."""
    (tmp_path / "package.json").write_text('{"name": "x", "scripts": {"logs": "y"}}', encoding="utf-8")

    exit_code, files = _inspect(tmp_path)

    assert exit_code == 0
    assert files["package.json"]["format"] is None


def test_inspect_sends_nothing() -> None:
    """inspect has no endpoint option, and its text output names each file."""
    result = run_cli("inspect", SESSION_B_SPANS)

    assert result.exit_code == 0
    assert str(SESSION_B_SPANS) in result.stdout
    assert "format codemachine: 51 spans" in result.stdout


def test_inspect_wrong_forced_format_fails() -> None:
    """A file that cannot be read as the forced format is an error, with exit status 1."""
    result = run_cli("inspect", SESSION_B_SPANS, "--format", "zipkin")

    assert result.exit_code == 1
    assert "format zipkin" in result.stdout
    assert "error:" in result.stdout
