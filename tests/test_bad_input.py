"""Bad input through the real CLI into the real receiver: invalid files, records, paths and options."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from otel_replay.receiver import OTLPReceiver
from tests.conftest import (
    CODEMACHINE,
    SESSION_B_LOGS,
    SESSION_B_SPANS,
    Result,
    run_cli,
)

SESSION_B_METRICS = CODEMACHINE / "traces" / "2026-12-04" / "19-40-07-metrics.json"
DROP = object()
"""Marks a field that a bad-record case removes instead of replacing."""

SECRET = "s3cr3t"  # noqa: S105  # a made-up token that tests search the output for


# --- helpers ---------------------------------------------------------------------------


def load_records(path: Path) -> list[dict[str, Any]]:
    """Return the "spans" or "logs" array of a CodeMachine file."""
    document = json.loads(path.read_text(encoding="utf-8"))
    return document["spans"] if "spans" in document else document["logs"]


def span_ids_of(records: list[dict[str, Any]]) -> set[str]:
    """Return the span IDs of span records as lowercase hex."""
    return {record["spanId"] for record in records}


def log_times_of(records: list[dict[str, Any]]) -> list[int]:
    """Return the sorted timestamps of log records in nanoseconds since the epoch."""
    return sorted(seconds * 1_000_000_000 + nanos for seconds, nanos in (r["timestamp"] for r in records))


def received_span_ids(receiver: OTLPReceiver) -> list[str]:
    """Return the span IDs the receiver decoded, one entry per span received."""
    return [span.span_id.hex() for _, _, span in receiver.received.spans()]


def received_log_times(receiver: OTLPReceiver) -> list[int]:
    """Return the sorted timestamps of the log records the receiver decoded."""
    return sorted(record.time_unix_nano for _, _, record in receiver.received.log_records())


def error_lines(result: Result) -> list[str]:
    """Return the lines of stderr that report an error."""
    return [line for line in result.stderr.splitlines() if line.startswith("Error:")]


def warning_lines(result: Result) -> list[str]:
    """Return the lines of stderr that report a warning."""
    return [line for line in result.stderr.splitlines() if line.startswith("Warning:")]


def unused_port() -> int:
    """Return a port on 127.0.0.1 that nothing listens on, by binding and closing a socket."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def record_offsets(text: str, array: str) -> list[tuple[int, int]]:
    """Return the (start, end) character offsets of each element of a top-level JSON array."""
    decoder = json.JSONDecoder()
    marker = f'"{array}": ['
    position = text.index(marker) + len(marker)
    offsets = []
    while True:
        while text[position] in " \t\r\n,":
            position += 1
        if text[position] == "]":
            return offsets
        _, end = decoder.raw_decode(text, position)
        offsets.append((position, end))
        position = end


def cut_in_record(source: Path, target: Path, array: str, index: int) -> None:
    """Write `source` to `target` cut off halfway through record `index` of `array`."""
    text = source.read_text(encoding="utf-8")
    start, end = record_offsets(text, array)[index]
    target.write_text(text[: (start + end) // 2], encoding="utf-8")


# --- files that are not JSON -----------------------------------------------------------

NOT_JSON = [
    pytest.param(b"this is not JSON\n", id="plain-text"),
    pytest.param(b"", id="empty"),
    pytest.param(b"\x00\xff\xfe\x01 binary", id="binary"),
    pytest.param(b'{"version": 1, "spans": oops}', id="broken-envelope"),
]


@pytest.mark.parametrize("content", NOT_JSON)
def test_not_json_exit_status(tmp_path: Path, content: bytes) -> None:
    """A named file that is not JSON makes the run exit with status 1."""
    path = tmp_path / "spans.json"
    path.write_bytes(content)

    result = run_cli("replay", path, "--endpoint", f"http://127.0.0.1:{unused_port()}")

    assert result.exit_code == 1


@pytest.mark.parametrize("content", NOT_JSON)
def test_not_json_error_names_file(tmp_path: Path, content: bytes) -> None:
    """A named file that is not JSON gets one error line that names the file."""
    path = tmp_path / "spans.json"
    path.write_bytes(content)

    result = run_cli("replay", path, "--endpoint", f"http://127.0.0.1:{unused_port()}")

    errors = error_lines(result)
    assert len(errors) == 1
    assert str(path) in errors[0]


def test_not_json_other_files_sent(tmp_path: Path, receiver: OTLPReceiver) -> None:
    """A file that is not JSON does not stop the other files of the run from being sent."""
    path = tmp_path / "notes.json"
    path.write_text("not JSON\n", encoding="utf-8")

    result = run_cli("replay", path, SESSION_B_SPANS, "--endpoint", receiver.url)

    assert result.exit_code == 1
    assert sorted(received_span_ids(receiver)) == sorted(span_ids_of(load_records(SESSION_B_SPANS)))


# --- truncated files -------------------------------------------------------------------

TRUNCATED = [
    pytest.param(SESSION_B_SPANS, "spans", 20, id="spans-record-20"),
    pytest.param(SESSION_B_SPANS, "spans", 0, id="spans-record-0"),
    pytest.param(SESSION_B_SPANS, "spans", 50, id="spans-last-record"),
    pytest.param(SESSION_B_LOGS, "logs", 40, id="logs-record-40"),
]


@pytest.mark.parametrize(("source", "array", "cut_record"), TRUNCATED)
def test_truncated_file_sends_complete_records(
    tmp_path: Path, receiver: OTLPReceiver, source: Path, array: str, cut_record: int
) -> None:
    """The complete records before the cut arrive, and nothing from the cut record on."""
    path = tmp_path / source.name
    cut_in_record(source, path, array, cut_record)
    complete = load_records(source)[:cut_record]

    result = run_cli("replay", path, "--endpoint", receiver.url)

    assert result.exit_code == 1
    if array == "spans":
        assert sorted(received_span_ids(receiver)) == sorted(span_ids_of(complete))
        assert receiver.received.log_records() == []
    else:
        assert received_log_times(receiver) == log_times_of(complete)
        assert receiver.received.spans() == []


@pytest.mark.parametrize(("source", "array", "cut_record"), TRUNCATED)
def test_truncated_file_error_message(tmp_path: Path, source: Path, array: str, cut_record: int) -> None:
    """The error for a truncated file names the file and reports it as truncated."""
    path = tmp_path / source.name
    cut_in_record(source, path, array, cut_record)

    result = run_cli("replay", path, "--endpoint", f"http://127.0.0.1:{unused_port()}", "--timeout", "0.2")

    errors = [line for line in error_lines(result) if str(path) in line]
    assert len(errors) == 1
    assert "truncated" in errors[0]


def test_truncated_file_summary(tmp_path: Path, receiver: OTLPReceiver) -> None:
    """The --json summary counts the complete records of a truncated file and one file error."""
    path = tmp_path / SESSION_B_SPANS.name
    cut_in_record(SESSION_B_SPANS, path, "spans", 20)

    result = run_cli("replay", path, "--endpoint", receiver.url, "--json")

    summary = json.loads(result.stdout)
    traces = summary["signals"]["traces"]
    assert summary["file_errors"] == 1
    assert traces["read"] == 20
    assert traces["sent"] == 20
    assert traces["failed"] == 0


# --- invalid records -------------------------------------------------------------------


@dataclass(frozen=True)
class BadRecord:
    """One invalid value written into one record of a real CodeMachine file."""

    source: Path
    index: int
    key: str
    """Dotted path of the value to replace inside the record, such as ``status.code``."""
    value: object
    field: str
    """The field the error line names."""


BAD_RECORDS = {
    "traceId-missing": BadRecord(SESSION_B_SPANS, 3, "traceId", DROP, "traceId"),
    "startTime-missing": BadRecord(SESSION_B_SPANS, 3, "startTime", DROP, "startTime"),
    "traceId-not-hex": BadRecord(SESSION_B_SPANS, 3, "traceId", "g" * 32, "traceId"),
    "traceId-all-zero": BadRecord(SESSION_B_SPANS, 3, "traceId", "0" * 32, "traceId"),
    "spanId-too-short": BadRecord(SESSION_B_SPANS, 3, "spanId", "45382a38", "spanId"),
    "spanId-all-zero": BadRecord(SESSION_B_SPANS, 3, "spanId", "0" * 16, "spanId"),
    "parentSpanId-not-hex": BadRecord(SESSION_B_SPANS, 3, "parentSpanId", "not-a-span-id!!!", "parentSpanId"),
    "startTime-string": BadRecord(SESSION_B_SPANS, 3, "startTime", "1796413207401", "startTime"),
    "endTime-negative": BadRecord(SESSION_B_SPANS, 3, "endTime", -1, "endTime"),
    "event-time-string": BadRecord(SESSION_B_SPANS, 8, "events.0.time", "yesterday", "events[0].time"),
    "status-code-7": BadRecord(SESSION_B_SPANS, 3, "status.code", 7, "status.code"),
    "status-code-string": BadRecord(SESSION_B_SPANS, 3, "status.code", "2", "status.code"),
    "timestamp-string": BadRecord(SESSION_B_LOGS, 3, "timestamp", "2026-12-04T19:40:07Z", "timestamp"),
    "timestamp-negative": BadRecord(SESSION_B_LOGS, 3, "timestamp", [-1, 0], "timestamp[0]"),
    "timestamp-nanos-overflow": BadRecord(SESSION_B_LOGS, 3, "timestamp", [1796413207, 10**9], "timestamp[1]"),
    "severityNumber-25": BadRecord(SESSION_B_LOGS, 3, "severityNumber", 25, "severityNumber"),
    "severityNumber-negative": BadRecord(SESSION_B_LOGS, 3, "severityNumber", -1, "severityNumber"),
    "severityNumber-string": BadRecord(SESSION_B_LOGS, 3, "severityNumber", "9", "severityNumber"),
}


def write_bad_record(case: BadRecord, directory: Path) -> Path:
    """Write a copy of the case's source file with the invalid value in place, and return its path."""
    document = json.loads(case.source.read_text(encoding="utf-8"))
    array = "spans" if "spans" in document else "logs"
    container: Any = document[array][case.index]
    *parents, last = case.key.split(".")
    for part in parents:
        container = container[int(part)] if part.isdigit() else container[part]

    if case.value is DROP:
        del container[last]
    else:
        container[last] = case.value

    path = directory / case.source.name
    # The default ensure_ascii keeps the lone surrogates of the real files as \u escapes.
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")
    return path


@dataclass(frozen=True)
class Outcome:
    """What one run over a file with a bad record printed, returned and delivered."""

    path: Path
    result: Result
    summary: dict[str, Any]
    span_ids: list[str]
    log_times: list[int]


class BadRecordRuns:
    """Runs the CLI once per bad-record case, on first use, and keeps the outcome for later tests.

    All runs share one receiver; each outcome holds only the requests its own run sent.
    """

    def __init__(self, factory: pytest.TempPathFactory, receiver: OTLPReceiver) -> None:
        self._factory = factory
        self._receiver = receiver
        self._outcomes: dict[str, Outcome] = {}

    def outcome(self, name: str) -> Outcome:
        """Return the outcome of replaying the case's bad file together with a file of the other signal."""
        if name not in self._outcomes:
            self._outcomes[name] = self._run(BAD_RECORDS[name], self._factory.mktemp(name))
        return self._outcomes[name]

    def _run(self, case: BadRecord, directory: Path) -> Outcome:
        path = write_bad_record(case, directory)
        other = SESSION_B_LOGS if case.source == SESSION_B_SPANS else SESSION_B_SPANS
        received = self._receiver.received
        traces_before = len(received.traces)
        logs_before = len(received.logs)

        result = run_cli("replay", path, other, "--endpoint", self._receiver.url, "--json")

        # The receiver stores a request before it sends the response, so the run's requests are all stored.
        span_ids = [
            span.span_id.hex()
            for request in received.traces[traces_before:]
            for resource_spans in request.resource_spans
            for scope_spans in resource_spans.scope_spans
            for span in scope_spans.spans
        ]
        log_times = sorted(
            record.time_unix_nano
            for request in received.logs[logs_before:]
            for resource_logs in request.resource_logs
            for scope_logs in resource_logs.scope_logs
            for record in scope_logs.log_records
        )
        return Outcome(path, result, json.loads(result.stdout), span_ids, log_times)


@pytest.fixture(scope="module")
def bad_record_runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BadRecordRuns]:
    """Share one CLI run per bad-record case among the tests that check it.

    Each run happens inside the first test that requests it, after the function-scoped
    fixture in conftest.py has cleared the OTEL_* variables.
    """
    with OTLPReceiver() as receiver:
        yield BadRecordRuns(tmp_path_factory, receiver)


@pytest.mark.parametrize("name", BAD_RECORDS)
def test_bad_record_error_line(bad_record_runs: BadRecordRuns, name: str) -> None:
    """An invalid record gets one error line naming the file, the record index and the field."""
    case = BAD_RECORDS[name]
    outcome = bad_record_runs.outcome(name)

    errors = error_lines(outcome.result)
    assert len(errors) == 1
    assert str(outcome.path) in errors[0]
    assert f"record {case.index}," in errors[0]
    assert f"field {case.field}:" in errors[0]


@pytest.mark.parametrize("name", BAD_RECORDS)
def test_bad_record_json_problem(bad_record_runs: BadRecordRuns, name: str) -> None:
    """The --json summary lists the invalid record as an error with its file, index and field."""
    case = BAD_RECORDS[name]
    outcome = bad_record_runs.outcome(name)

    errors = [problem for problem in outcome.summary["problems"] if problem["level"] == "error"]
    assert len(errors) == 1
    assert errors[0]["file"] == str(outcome.path)
    assert errors[0]["record"] == case.index
    assert errors[0]["field"] == case.field


@pytest.mark.parametrize("name", BAD_RECORDS)
def test_bad_record_others_arrive(bad_record_runs: BadRecordRuns, name: str) -> None:
    """Every other record of the file, and every record of the other file, arrives exactly once."""
    case = BAD_RECORDS[name]
    outcome = bad_record_runs.outcome(name)
    others = [record for index, record in enumerate(load_records(case.source)) if index != case.index]

    if case.source == SESSION_B_SPANS:
        assert sorted(outcome.span_ids) == sorted(span_ids_of(others))
        assert outcome.log_times == log_times_of(load_records(SESSION_B_LOGS))
    else:
        assert outcome.log_times == log_times_of(others)
        assert sorted(outcome.span_ids) == sorted(span_ids_of(load_records(SESSION_B_SPANS)))


@pytest.mark.parametrize("name", BAD_RECORDS)
def test_bad_record_exit_status(bad_record_runs: BadRecordRuns, name: str) -> None:
    """A run with an invalid record exits with status 1, in the exit code and in --json."""
    outcome = bad_record_runs.outcome(name)

    assert outcome.result.exit_code == 1
    assert outcome.summary["exit_status"] == 1


@pytest.mark.parametrize("name", BAD_RECORDS)
def test_bad_record_counts_add_up(bad_record_runs: BadRecordRuns, name: str) -> None:
    """For every signal, read equals sent plus skipped plus failed."""
    outcome = bad_record_runs.outcome(name)

    for signal, counts in outcome.summary["signals"].items():
        total = counts["sent"] + counts["skipped"] + counts["failed"]
        assert counts["read"] == total, f"{signal}: {counts}"


@pytest.mark.parametrize("name", BAD_RECORDS)
def test_bad_record_counted_invalid(bad_record_runs: BadRecordRuns, name: str) -> None:
    """The invalid record is counted under skipped_by_reason "invalid" of its signal, and nothing fails."""
    case = BAD_RECORDS[name]
    outcome = bad_record_runs.outcome(name)
    signal = "traces" if case.source == SESSION_B_SPANS else "logs"
    other = "logs" if signal == "traces" else "traces"
    signals = outcome.summary["signals"]

    assert signals[signal]["skipped_by_reason"] == {"invalid": 1}
    assert signals[signal]["read"] == len(load_records(case.source))
    assert signals[other]["skipped_by_reason"] == {}
    assert signals[signal]["failed"] == 0
    assert signals[other]["failed"] == 0


def test_bad_record_number_shown_unquoted(tmp_path: Path) -> None:
    """An invalid severity number written as the JSON number 9.5 is shown as 9.5, not as a string."""
    case = BadRecord(SESSION_B_LOGS, 3, "severityNumber", 9.5, "severityNumber")
    path = write_bad_record(case, tmp_path)

    endpoint = f"http://127.0.0.1:{unused_port()}"

    result = run_cli("replay", path, "--signals", "logs", "--endpoint", endpoint, "--timeout", "0.2")

    errors = [line for line in error_lines(result) if str(path) in line]
    assert len(errors) == 1
    assert "invalid severity number 9.5:" in errors[0]


# --- lone surrogates -------------------------------------------------------------------


def replace_lone_surrogates(text: str) -> str:
    """Return `text` with every UTF-16 surrogate code point replaced by U+FFFD."""
    return "".join("\ufffd" if 0xD800 <= ord(character) <= 0xDFFF else character for character in text)


def test_lone_surrogate_span_attribute(receiver: OTLPReceiver) -> None:
    """Span record 11 arrives with U+FFFD in place of the lone surrogate in its attribute."""
    record = load_records(SESSION_B_SPANS)[11]
    original = record["attributes"]["attr.string.lone_surrogate"]

    run_cli("replay", SESSION_B_SPANS, "--endpoint", receiver.url)

    spans = [span for _, _, span in receiver.received.spans() if span.span_id.hex() == record["spanId"]]
    assert len(spans) == 1
    values = {attribute.key: attribute.value.string_value for attribute in spans[0].attributes}
    assert "\ud83d" in original
    assert values["attr.string.lone_surrogate"] == replace_lone_surrogates(original)
    assert values["attr.string.lone_surrogate"].endswith("\ufffd")


def test_lone_surrogate_log_body(receiver: OTLPReceiver) -> None:
    """Log record 66 arrives with U+FFFD in place of the lone surrogate in its body."""
    original = load_records(SESSION_B_LOGS)[66]["body"]

    run_cli("replay", SESSION_B_LOGS, "--endpoint", receiver.url)

    bodies = [record.body.string_value for _, _, record in receiver.received.log_records()]
    assert "\ud83d" in original
    assert replace_lone_surrogates(original) in bodies
    assert len(bodies) == len(load_records(SESSION_B_LOGS))


@pytest.mark.parametrize(
    ("path", "index", "field"),
    [
        pytest.param(SESSION_B_SPANS, 11, 'attributes["attr.string.lone_surrogate"]', id="span-attribute"),
        pytest.param(SESSION_B_LOGS, 66, "body", id="log-body"),
    ],
)
def test_lone_surrogate_warning(receiver: OTLPReceiver, path: Path, index: int, field: str) -> None:
    """A lone surrogate gives one warning naming the file, record and field, and exit status 0."""
    result = run_cli("replay", path, "--endpoint", receiver.url)

    # The files are old, so replay also warns once that backends may reject them; that is about the run.
    warnings = [line for line in warning_lines(result) if "--shift-to-now" not in line]
    assert result.exit_code == 0
    assert len(warnings) == 1
    assert str(path) in warnings[0]
    assert f"record {index}," in warnings[0]
    assert f"field {field}:" in warnings[0]
    assert error_lines(result) == []


def test_lone_surrogate_in_span_texts(tmp_path: Path, receiver: OTLPReceiver) -> None:
    """Lone surrogates in a span's name, status message and event name each give a warning naming the field."""
    span = {
        "name": "tool \ud83d",
        "traceId": "9243e8d490877e82a91f0d57dcc3fbca",
        "spanId": "00f067aa0ba902b7",
        "startTime": 1796218006549,
        "endTime": 1796218006550.2722,
        "status": {"code": 2, "message": "failed \ud83d"},
        "events": [{"name": "exception \ud83d", "time": 1796218006550}],
    }
    path = tmp_path / "traces.json"
    path.write_text(json.dumps({"version": 1, "service": "cli", "spans": [span]}), encoding="utf-8")

    result = run_cli("replay", path, "--endpoint", receiver.url)

    warnings = [line for line in warning_lines(result) if "--shift-to-now" not in line]
    received = [sent_span for _, _, sent_span in receiver.received.spans()]
    assert result.exit_code == 0
    assert len(warnings) == 3
    assert any("field name:" in warning for warning in warnings)
    assert any("field status.message:" in warning for warning in warnings)
    assert any("field events[0].name:" in warning for warning in warnings)
    assert [sent_span.name for sent_span in received] == ["tool \ufffd"]
    assert received[0].status.message == "failed \ufffd"
    assert received[0].events[0].name == "exception \ufffd"


# --- files that are not telemetry ------------------------------------------------------

PACKAGE_JSON = {
    "name": "traces-viewer",
    "version": "1.0.0",
    "private": True,
    "scripts": {"build": "tsc", "test": "vitest"},
    "dependencies": {"@opentelemetry/api": "1.9.0"},
}


@pytest.fixture
def mixed_directory(tmp_path: Path) -> Path:
    """A directory with the real session B span and log files next to a README.txt and a package.json."""
    directory = tmp_path / "traces"
    directory.mkdir()
    (directory / SESSION_B_SPANS.name).write_bytes(SESSION_B_SPANS.read_bytes())
    (directory / SESSION_B_LOGS.name).write_bytes(SESSION_B_LOGS.read_bytes())
    (directory / "README.txt").write_text("CodeMachine traces from the bug report.\n", encoding="utf-8")
    (directory / "package.json").write_text(json.dumps(PACKAGE_JSON, indent=2), encoding="utf-8")
    return directory


def test_directory_non_telemetry_rest_sent(mixed_directory: Path, receiver: OTLPReceiver) -> None:
    """Non-telemetry files found in a directory are skipped, every record of the real files arrives, exit 0."""
    result = run_cli("replay", mixed_directory, "--endpoint", receiver.url)

    assert result.exit_code == 0
    assert sorted(received_span_ids(receiver)) == sorted(span_ids_of(load_records(SESSION_B_SPANS)))
    assert received_log_times(receiver) == log_times_of(load_records(SESSION_B_LOGS))


def test_directory_non_telemetry_in_json(mixed_directory: Path, receiver: OTLPReceiver) -> None:
    """The --json summary lists the skipped non-telemetry files and counts no file error."""
    result = run_cli("replay", mixed_directory, "--endpoint", receiver.url, "--json")

    summary = json.loads(result.stdout)
    expected = sorted(str(mixed_directory / name) for name in ("README.txt", "package.json"))
    assert sorted(summary["files_not_telemetry"]) == expected
    assert summary["file_errors"] == 0
    assert summary["exit_status"] == 0


def test_directory_non_telemetry_in_table(mixed_directory: Path, receiver: OTLPReceiver) -> None:
    """The summary table on stderr reports how many files were skipped as non-telemetry."""
    result = run_cli("replay", mixed_directory, "--endpoint", receiver.url)

    assert "2 file(s) not read: not in a format otel-replay reads" in result.stderr


def test_directory_package_json_logs_script(mixed_directory: Path, receiver: OTLPReceiver) -> None:
    """A package.json with an npm script named "logs", found in a directory, is skipped with exit 0."""
    package = {**PACKAGE_JSON, "scripts": {"build": "tsc", "logs": "docker compose logs -f"}}
    (mixed_directory / "package.json").write_text(json.dumps(package, indent=2), encoding="utf-8")

    result = run_cli("replay", mixed_directory, "--endpoint", receiver.url)

    assert result.exit_code == 0


@pytest.mark.parametrize("name", ["README.txt", "package.json"])
def test_named_non_telemetry_fails(mixed_directory: Path, name: str) -> None:
    """A non-telemetry file named on the command line is an error naming the file, exit 1."""
    path = mixed_directory / name

    result = run_cli("replay", path, "--endpoint", f"http://127.0.0.1:{unused_port()}")

    errors = error_lines(result)
    assert result.exit_code == 1
    assert len(errors) == 1
    assert str(path) in errors[0]


# --- metrics files ---------------------------------------------------------------------


def count_data_points(path: Path) -> int:
    """Return the number of metric data points in a CodeMachine metrics file."""
    document = json.loads(path.read_text(encoding="utf-8"))
    return sum(
        len(metric["dataPoints"])
        for export in document["metrics"]
        for scope in export["scopeMetrics"]
        for metric in scope["metrics"]
    )


def test_invalid_metric_skipped_others_sent(tmp_path: Path, receiver: OTLPReceiver) -> None:
    """A metric with an unknown type is skipped with file, record and field; the other metrics arrive."""
    document = json.loads(SESSION_B_METRICS.read_text(encoding="utf-8"))
    document["metrics"][0]["scopeMetrics"][0]["metrics"][0]["type"] = "9"
    broken = tmp_path / "broken-metrics.json"
    broken.write_text(json.dumps(document), encoding="utf-8")
    bad_points = len(document["metrics"][0]["scopeMetrics"][0]["metrics"][0]["dataPoints"])

    result = run_cli("replay", broken, "--endpoint", receiver.url, "--json")

    metrics = json.loads(result.stdout)["signals"]["metrics"]
    assert result.exit_code == 1
    assert metrics["skipped_by_reason"] == {"invalid": bad_points}
    assert metrics["sent"] == count_data_points(SESSION_B_METRICS) - bad_points
    assert "record 0, field scopeMetrics[0].metrics[0].type: unknown metric type '9'" in result.stderr


# --- paths and options -----------------------------------------------------------------


def test_missing_path_exit_status(tmp_path: Path, receiver: OTLPReceiver) -> None:
    """A path that does not exist exits with status 2, names the path and sends nothing."""
    missing = tmp_path / "no-such-dir" / "latest.json"

    result = run_cli("replay", SESSION_B_SPANS, missing, "--endpoint", receiver.url)

    assert result.exit_code == 2
    assert str(missing) in result.stderr
    assert "not found" in result.stderr
    assert receiver.received.spans() == []


@pytest.mark.parametrize(
    ("option", "value", "named"),
    [
        pytest.param("--signals", "foo", "'foo'", id="signals-foo"),
        pytest.param("--signals", "", "--signals", id="signals-empty"),
        pytest.param("--header", "Authorization", "--header", id="header-no-equals"),
        pytest.param("--header", "=value", "--header", id="header-no-key"),
        pytest.param("--compression", "zip", "'zip'", id="compression-zip"),
        pytest.param("--endpoint", "localhost:4318", "localhost:4318", id="endpoint-no-scheme"),
    ],
)
def test_invalid_option_exit_status(option: str, value: str, named: str) -> None:
    """An invalid option value exits with status 2 and an error naming the option or the value."""
    # The option comes last, so it replaces the safe --endpoint in the endpoint case.
    endpoint = f"http://127.0.0.1:{unused_port()}"

    result = run_cli("replay", SESSION_B_SPANS, "--endpoint", endpoint, "--timeout", "0.2", option, value)

    assert result.exit_code == 2
    assert result.stderr.startswith("Error:")
    assert named in result.stderr


def test_header_without_equals_hides_value() -> None:
    """A --header without '=' is rejected without printing what was given."""
    header = f"Authorization: Bearer {SECRET}-token"

    result = run_cli("replay", SESSION_B_SPANS, "--header", header, "--endpoint", f"http://127.0.0.1:{unused_port()}")

    assert result.exit_code == 2
    assert SECRET not in result.stdout
    assert SECRET not in result.stderr


def test_header_value_not_printed_on_failure() -> None:
    """A header value never appears in the output of a run whose endpoint refuses connections.

    The timeout leaves room for one retry, so the exporter's retry warning is printed too.
    """
    endpoint = f"http://127.0.0.1:{unused_port()}"
    header = f"Authorization=Bearer {SECRET}-token"

    result = run_cli(
        "replay",
        SESSION_B_SPANS,
        "--signals",
        "traces",
        "--endpoint",
        endpoint,
        "--header",
        header,
        "--timeout",
        "1.5",
        "--verbose",
        "--json",
    )

    assert result.exit_code == 1
    assert "Retrying" in result.stderr
    assert SECRET not in result.stdout
    assert SECRET not in result.stderr


def test_header_value_with_space_not_printed(receiver: OTLPReceiver) -> None:
    """A header value written with a space after '=' is not printed, even when the request fails."""
    header = f"Authorization= Bearer {SECRET}-token"

    result = run_cli("replay", SESSION_B_SPANS, "--signals", "traces", "--endpoint", receiver.url, "--header", header)

    assert SECRET not in result.stdout
    assert SECRET not in result.stderr


def test_missing_time_says_missing(bad_record_runs: BadRecordRuns) -> None:
    """A missing time is named as missing, not shown as Python's None."""
    errors = error_lines(bad_record_runs.outcome("startTime-missing").result)

    assert "got no value (the field is missing or null)" in errors[0]
    assert "None" not in errors[0]
