"""End to end: replay the genuine CodeMachine files through the CLI into a real OTLP receiver."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from otel_replay.receiver import OTLPReceiver
from tests.conftest import (
    CODEMACHINE,
    SESSION_A_LOGS,
    SESSION_A_SPANS,
    SESSION_B_LOGS,
    SESSION_B_SPANS,
    run_cli,
)
from tests.otlp import (
    LONE_SURROGATE,
    expected_attributes,
    expected_value,
    from_any_value,
    from_attributes,
    load_json,
    ms_to_ns,
)

SPAN_FILES = [SESSION_B_SPANS, SESSION_A_SPANS, CODEMACHINE / "sdk-trace-base-1.x" / "traces" / "latest.json"]
LOG_FILES = [SESSION_B_LOGS, SESSION_A_LOGS]
SPAN_KIND_INTERNAL = 1


def _replay(receiver: OTLPReceiver, *paths: Path, extra: tuple[str, ...] = ()) -> dict[str, Any]:
    result = run_cli("replay", *paths, "--endpoint", receiver.url, "--json", *extra)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("path", SPAN_FILES, ids=lambda path: path.name)
def test_spans_arrive_field_by_field(receiver: OTLPReceiver, path: Path) -> None:
    """Every span arrives once with its IDs, nanosecond times, status, attributes and events."""
    document = load_json(path)
    _replay(receiver, path)

    received = {span.span_id.hex(): (resource, scope, span) for resource, scope, span in receiver.received.spans()}
    assert len(received) == len(document["spans"])
    assert len(receiver.received.spans()) == len(document["spans"])

    for json_span in document["spans"]:
        resource, scope, span = received[json_span["spanId"]]
        assert span.name == json_span["name"]
        assert span.trace_id.hex() == json_span["traceId"]
        assert span.parent_span_id.hex() == json_span.get("parentSpanId", "")
        assert span.start_time_unix_nano == ms_to_ns(json_span["startTime"])
        assert span.end_time_unix_nano == ms_to_ns(json_span["endTime"])
        assert span.kind == SPAN_KIND_INTERNAL
        assert span.status.code == json_span["status"]["code"]
        assert span.status.message == json_span["status"].get("message", "")
        assert from_attributes(span.attributes) == expected_attributes(json_span["attributes"])
        assert len(span.events) == len(json_span["events"])
        for event, json_event in zip(span.events, json_span["events"], strict=True):
            assert event.name == json_event["name"]
            assert event.time_unix_nano == ms_to_ns(json_event["time"])
            assert from_attributes(event.attributes) == expected_attributes(json_event.get("attributes"))
        assert from_attributes(resource.attributes) == {"service.name": ("string", document["service"])}
        assert scope.name == ""


@pytest.mark.parametrize("path", LOG_FILES, ids=lambda path: path.name)
def test_logs_arrive_field_by_field(receiver: OTLPReceiver, path: Path) -> None:
    """Every log record arrives once with its time, severity, body, attributes, correlation and resource."""
    document = load_json(path)
    _replay(receiver, path)

    received = receiver.received.log_records()
    assert len(received) == len(document["logs"])

    # The exporter keeps the order within a resource; group the file's records the same way.
    by_resource: dict[str, list[Any]] = {}
    for json_log in document["logs"]:
        by_resource.setdefault(json.dumps(json_log["resource"], sort_keys=True), []).append(json_log)
    expected_order = [json_log for group in by_resource.values() for json_log in group]

    for (resource, _, record), json_log in zip(received, expected_order, strict=True):
        seconds, nanos = json_log["timestamp"]
        assert record.time_unix_nano == seconds * 1_000_000_000 + nanos
        assert record.observed_time_unix_nano == record.time_unix_nano
        assert record.severity_number == json_log.get("severityNumber", 0)
        assert record.severity_text == json_log.get("severityText", "")
        assert from_any_value(record.body) == expected_value(json_log.get("body"))
        assert from_attributes(record.attributes) == expected_attributes(json_log["attributes"])
        assert record.trace_id.hex() == json_log["attributes"].get("trace.id", "")
        assert record.span_id.hex() == json_log["attributes"].get("span.id", "")
        assert from_attributes(resource.attributes) == expected_attributes(json_log["resource"])


def test_start_time_is_exact_to_the_nanosecond(receiver: OTLPReceiver) -> None:
    """A whole-millisecond start arrives exactly, where float arithmetic is 64 ns off."""
    _replay(receiver, SESSION_B_SPANS)

    starts = {span.start_time_unix_nano for _, _, span in receiver.received.spans()}
    assert 1796413207753_000000 in starts
    assert int(1796413207753 * 1e6) not in starts


def test_status_ok_keeps_its_message(receiver: OTLPReceiver) -> None:
    """An OK status with a message arrives with the message, which the SDK's Status would drop."""
    _replay(receiver, SESSION_B_SPANS)

    spans = {span.name: span for _, _, span in receiver.received.spans()}
    assert spans["agent.review.summary.final"].status.code == 1
    assert spans["agent.review.summary.final"].status.message == "approved with 2 comments"


def test_lone_surrogate_is_replaced(receiver: OTLPReceiver) -> None:
    """A string cut in the middle of an emoji arrives with U+FFFD instead of the broken half."""
    result = run_cli("replay", SESSION_B_SPANS, SESSION_B_LOGS, "--endpoint", receiver.url)

    assert result.exit_code == 0
    spans = {span.name: span for _, _, span in receiver.received.spans()}
    attributes = from_attributes(spans["agent.config.snapshot"].attributes)
    assert attributes["attr.string.lone_surrogate"][1].endswith("\ufffd")
    bodies = [record.body.string_value for _, _, record in receiver.received.log_records()]
    assert any(body.endswith("pass \ufffd") for body in bodies)
    assert 'record 11, field attributes["attr.string.lone_surrogate"]' in result.stderr
    assert "record 66, field body" in result.stderr
    assert not any(LONE_SURROGATE.search(body) for body in bodies)


def test_directory_sends_each_record_once(receiver: OTLPReceiver) -> None:
    """Replaying the whole traces folder sends each span and log record once, despite latest*.json."""
    summary = _replay(receiver, CODEMACHINE / "traces")

    span_keys = [(span.trace_id, span.span_id) for _, _, span in receiver.received.spans()]
    assert len(span_keys) == 51 + 1000
    assert len(set(span_keys)) == len(span_keys)
    assert len(receiver.received.log_records()) == 89 + 1000
    assert summary["signals"]["traces"]["skipped_by_reason"] == {"duplicate": 51}
    assert summary["signals"]["logs"]["skipped_by_reason"] == {"duplicate": 89}


def test_directory_summary_accounts_for_every_record(receiver: OTLPReceiver) -> None:
    """For every signal, records read equal records sent plus skipped plus failed."""
    summary = _replay(receiver, CODEMACHINE)

    for counts in summary["signals"].values():
        assert counts["read"] == counts["sent"] + counts["skipped"] + counts["failed"]
    assert summary["signals"]["metrics"]["read"] == 241 * 2 + 2022
    assert summary["signals"]["metrics"]["sent"] == 241 + 2022
    assert summary["signals"]["metrics"]["skipped_by_reason"] == {"duplicate": 241}
    assert summary["exit_status"] == 0


def test_orphan_spans_are_counted(receiver: OTLPReceiver) -> None:
    """Spans whose parent is not in the input keep their parent ID and are counted."""
    summary = _replay(receiver, SESSION_A_SPANS, SESSION_B_SPANS)

    assert summary["signals"]["traces"]["orphan_spans"] == 3
    parents = {span.parent_span_id.hex() for _, _, span in receiver.received.spans()}
    assert "00f067aa0ba902b7" in parents


def test_no_dedupe_sends_duplicates(receiver: OTLPReceiver) -> None:
    """--no-dedupe sends latest.json and its session file both."""
    _replay(receiver, CODEMACHINE / "traces" / "latest.json", SESSION_B_SPANS, extra=("--no-dedupe",))

    assert len(receiver.received.spans()) == 2 * 51


def test_resource_has_no_sdk_defaults(receiver: OTLPReceiver, monkeypatch: pytest.MonkeyPatch) -> None:
    """The resource is the file's service.name plus --resource-attribute, never SDK or environment defaults."""
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "host.name=leak")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "leak")
    _replay(receiver, SESSION_B_SPANS, extra=("--resource-attribute", "replay.run=7"))

    resources = {
        tuple(sorted(from_attributes(resource.attributes).items())) for resource, _, _ in receiver.received.spans()
    }
    assert resources == {(("replay.run", ("string", "7")), ("service.name", ("string", "codemachine")))}


def test_resource_from_env_is_opt_in(receiver: OTLPReceiver, monkeypatch: pytest.MonkeyPatch) -> None:
    """--resource-from-env adds OTEL_RESOURCE_ATTRIBUTES to the recorded resource."""
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "host.name=replayer")
    _replay(receiver, SESSION_B_SPANS, extra=("--resource-from-env",))

    resource = from_attributes(receiver.received.spans()[0][0].attributes)
    assert resource["host.name"] == ("string", "replayer")
    assert resource["service.name"] == ("string", "codemachine")


def test_signals_option_selects_logs(receiver: OTLPReceiver) -> None:
    """--signals logs sends the log records and counts the spans as not selected."""
    summary = _replay(receiver, SESSION_B_SPANS, SESSION_B_LOGS, extra=("--signals", "logs"))

    assert receiver.received.spans() == []
    assert len(receiver.received.log_records()) == 89
    assert summary["signals"]["traces"]["skipped_by_reason"] == {"signal not selected": 51}


def test_batch_size_splits_requests(receiver: OTLPReceiver) -> None:
    """--batch-size 10 sends 51 spans in 6 requests."""
    _replay(receiver, SESSION_B_SPANS, extra=("--batch-size", "10"))

    assert len(receiver.received.traces) == 6
    assert len(receiver.received.spans()) == 51


def test_json_summary_is_the_only_stdout(receiver: OTLPReceiver) -> None:
    """With --json, stdout contains one JSON document and no table."""
    result = run_cli("replay", SESSION_B_SPANS, "--endpoint", receiver.url, "--json")

    summary = json.loads(result.stdout)
    assert summary["signals"]["traces"]["sent"] == 51
    assert "signal " not in result.stderr


def test_console_script_runs(receiver: OTLPReceiver, tmp_path: Path) -> None:
    """The installed otel-replay command replays a file in a separate process."""
    import subprocess
    import sys

    command = [sys.executable, "-m", "otel_replay", "replay", str(SESSION_B_SPANS), "--endpoint", receiver.url]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False, cwd=tmp_path)

    assert completed.returncode == 0, completed.stderr
    assert completed.stdout == ""
    assert "Replaying" not in completed.stderr
    assert "traces" in completed.stderr
    assert len(receiver.received.spans()) == 51
