"""The compiled encoders give the bytes of the Python plain encoders, or decline the record to them.

The test suite runs on a package built with them (scripts/test requires the build), so these
tests import the module directly rather than skip when it is missing.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from otel_replay import _speedups, index, plainlog, plainotlp, plainspan, speedups
from otel_replay.errors import RecordError
from otel_replay.index import FingerprintTable
from otel_replay.plainlog import PlainLogEncoder
from otel_replay.plainotlp import PlainOtlpSpan, PlainOtlpSpanEncoder
from otel_replay.plainspan import PlainSpan, PlainSpanEncoder
from otel_replay.receiver import OTLPReceiver
from tests import test_otlp_plain, test_plainlog
from tests.conftest import CODEMACHINE, run_cli
from tests.test_plainspan import SHIFTS, odd_fields, plain_spans, replaced, span_texts

INDEX = 7
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

# Times that the compiled encoder reads itself: whole milliseconds, and floats whose shortest
# form is a plain decimal with at most 6 fraction digits, as JavaScript writes them.
native_times = st.one_of(
    st.integers(min_value=0, max_value=2**64 // 1_000_000 - 1),
    st.floats(min_value=1.0, max_value=1.8e13).map(lambda value: round(value, 4)),
)


def python_encode(text: str, shift: int = 0) -> tuple[PlainSpan | None, list[int]]:
    """Encode a span's text with the Python plain encoder alone."""
    event_times: list[int] = []
    compiled = plainspan.encode_codemachine_span
    plainspan.encode_codemachine_span = None
    try:
        result = PlainSpanEncoder().encode_text(INDEX, text, shift=shift, event_times=event_times)
    finally:
        plainspan.encode_codemachine_span = compiled
    return result, event_times


def native_encode(text: str, shift: int = 0) -> tuple[PlainSpan | None, list[int]]:
    event_times: list[int] = []
    result = _speedups.encode_codemachine_span(INDEX, text, orjson.loads(text), shift, event_times)
    return result, event_times


def check_same(text: str, shift: int = 0) -> PlainSpan | None:
    """Assert that the compiled encoder declines the text or gives the Python encoder's result; return its result."""
    native, native_times_seen = native_encode(text, shift)
    if native is None:
        assert native_times_seen == [], "a declined record must leave the event times as they were"
        return None
    expected, expected_times = python_encode(text, shift)
    assert expected is not None, "the compiled encoder took a record that the Python encoder declines"
    assert native == expected
    assert native_times_seen == expected_times
    return native


@st.composite
def native_span_texts(draw: st.DrawFn) -> str:
    """Draw a plain span's text, compact or pretty-printed, with times that the compiled encoder reads."""
    json_span = draw(plain_spans)
    json_span["startTime"] = draw(native_times)
    json_span["endTime"] = draw(native_times)
    for event in json_span.get("events") or []:
        event["time"] = draw(native_times)
    return json.dumps(json_span, indent=draw(st.sampled_from([None, 2])))


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(text=native_span_texts(), shift=SHIFTS)
def test_native_takes_plain_spans(text: str, shift: int) -> None:
    """A plain span is encoded by the compiled encoder, unless the shift moves a time out of range."""
    native = check_same(text, shift)

    expected, _ = python_encode(text, shift)
    if INT64_MIN <= shift <= INT64_MAX:  # the compiled encoder leaves larger offsets to Python
        assert (native is None) == (expected is None)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(text=span_texts(), shift=SHIFTS)
def test_native_reads_time_literals_like_python(text: str, shift: int) -> None:
    """Times written as odd literals, and time keys among the attributes, give the Python result or a decline."""
    try:
        orjson.loads(text)
    except orjson.JSONDecodeError:
        return  # the workers hand such texts back to the main process before either encoder gets them
    check_same(text, shift)


def _decimal_marker(value: object) -> object:
    if isinstance(value, Decimal):
        return f"@decimal {value}@"
    msg = f"cannot write {value!r}"
    raise TypeError(msg)


def dumps(json_span: object, indent: int | None, *, ensure_ascii: bool = True) -> str:
    """Write a record as JSON, with each Decimal as its literal."""
    text = json.dumps(json_span, default=_decimal_marker, indent=indent, ensure_ascii=ensure_ascii)
    return re.sub(r'"@decimal ([^@]*)@"', r"\1", text)


@pytest.mark.parametrize("field", list(odd_fields))
@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_native_declines_odd_fields_or_matches(field: str, data: st.DataObject) -> None:
    """Wrong types, IDs, times, surrogates and values out of range are declined or encoded as Python encodes them."""
    json_span = data.draw(replaced(field, odd_fields[field]))
    text = dumps(json_span, data.draw(st.sampled_from([None, 2])))
    try:
        orjson.loads(text)
    except orjson.JSONDecodeError:
        return
    check_same(text)


@pytest.mark.parametrize(
    ("changes", "accepted"),
    [
        ({}, True),
        ({"traceId": "0" * 32}, False),
        ({"spanId": "0" * 16}, False),
        ({"parentSpanId": "0" * 16}, True),
        ({"parentSpanId": "ABCDEF0123456789"}, True),
        ({"traceId": "g" * 32}, False),
        ({"name": "caf\u00e9 \U0001f600"}, True),
        ({"attributes": {"big": 2**63}}, False),
        ({"attributes": {"small": -(2**63), "": "empty key", "none": None, "no": False}}, True),
        ({"attributes": {"list": [1]}}, False),
        ({"status": {"code": True}}, False),
        ({"status": {"code": 2, "message": "failed"}}, True),
        ({"events": [{"name": "e", "time": 1796218006550.5}] * 65}, True),
        ({"events": [{"name": "e", "time": 1796218006550.5}], "attributes": {"time": 1}}, False),
        ({"events": [{"name": "e", "time": 1796218006550.25, "attributes": {"k": 1.5}}] * 3}, True),
        ({"startTime": Decimal("1796218006550.1234567")}, False),
    ],
)
def test_native_cases(changes: dict[str, object], accepted: bool) -> None:
    """Cases at the edges of what the compiled encoder takes, compared with the Python encoder."""
    json_span = {
        "name": "op",
        "traceId": "0b8d1e5057b7057416faa0e529953f64",
        "spanId": "bdc17d91e9d7bac3",
        "startTime": 1796218006549,
        "endTime": 1796218006550.2722,
        **changes,
    }
    text = dumps(json_span, None, ensure_ascii=False)

    native = check_same(text)

    assert (native is not None) is accepted


def test_native_declines_text_with_lone_surrogate() -> None:
    """A text that has no UTF-8 form goes to the Python path, which reports it."""
    json_span = {"name": "op", "traceId": "1" * 32, "spanId": "1" * 16, "startTime": 1, "endTime": 2}
    text = json.dumps(json_span)[:-1] + ', "note": "\ud83d"}'

    assert _speedups.encode_codemachine_span(INDEX, text, json_span, 0, None) is None


def test_native_takes_bundled_spans() -> None:
    """Every span of the bundled CodeMachine files that the Python encoder takes, the compiled one takes too."""
    texts = []
    for path in sorted((CODEMACHINE / "traces").rglob("*.json")):
        if path.name.endswith(("-logs.json", "-metrics.json")):
            continue
        texts += [json.dumps(span, indent=2) for span in json.loads(path.read_text())["spans"]]

    assert len(texts) > 20
    for text in texts:
        try:
            orjson.loads(text)
        except orjson.JSONDecodeError:
            continue  # a lone surrogate escape: the workers hand the text back to the main process
        expected, _ = python_encode(text)
        assert (check_same(text) is None) == (expected is None)


def test_native_keeps_reference_counts() -> None:
    """Encoding many spans leaves the reference counts of the record's objects as they were."""
    name = "".join(["op", "-name"])  # a str of its own, not an interned constant
    index = 10**20
    json_span = {"name": name, "traceId": "12" * 16, "spanId": "34" * 8, "startTime": 5, "endTime": 6}
    text = json.dumps(json_span)
    counts = (sys.getrefcount(name), sys.getrefcount(index), sys.getrefcount(json_span))

    for _ in range(1000):
        result = _speedups.encode_codemachine_span(index, text, json_span, 0, None)
        assert result is not None
        declined = _speedups.encode_codemachine_span(index, text, {**json_span, "spanId": 1}, 0, [])
        assert declined is None
    del result

    assert (sys.getrefcount(name), sys.getrefcount(index), sys.getrefcount(json_span)) == counts


def check_same_log(json_log: dict[str, object], shift: int = 0) -> tuple[int, bytes, bytes, bytes] | None:
    """Assert that the compiled log encoder declines the record or gives the message of the Python encoder."""
    native = _speedups.encode_codemachine_log_message(json_log, shift)
    if native is None:
        return None
    try:
        expected = PlainLogEncoder()._message(json_log, shift)
    except (plainlog._NotPlainError, RecordError):
        pytest.fail("the compiled encoder took a log record that the Python encoder declines")
    assert native == expected
    return native


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(json_log=test_plainlog.plain_logs, shift=SHIFTS)
def test_native_log_matches_python(json_log: dict[str, object], shift: int) -> None:
    """A plain log record with a string or null body and scalar attributes is encoded by the compiled encoder."""
    native = check_same_log(json_log, shift)

    scalars = (str, int, float, bool, type(None))
    simple = (
        INT64_MIN <= shift <= INT64_MAX
        and type(json_log.get("body")) in (str, type(None))
        and all(type(value) in scalars for value in (json_log.get("attributes") or {}).values())
    )
    try:
        PlainLogEncoder()._message(json_log, shift)
    except (plainlog._NotPlainError, RecordError):
        simple = False
    assert (native is not None) is simple


@pytest.mark.parametrize("field", list(test_plainlog.odd_fields))
@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_native_log_declines_odd_fields_or_matches(field: str, data: st.DataObject) -> None:
    """Odd timestamps, severities, bodies, attributes and IDs are declined or encoded as Python encodes them."""
    json_log = data.draw(test_plainlog.replaced(field, test_plainlog.odd_fields[field]))

    check_same_log(json_log, data.draw(SHIFTS))


def test_native_takes_bundled_logs() -> None:
    """The bundled CodeMachine log records that the Python encoder takes go through the compiled one."""
    records = []
    for path in sorted((CODEMACHINE / "traces").rglob("*-logs.json")):
        records += json.loads(path.read_text())["logs"]

    assert len(records) > 20
    encoded = [check_same_log(record) is not None for record in records]
    assert sum(encoded) > len(records) // 2


def python_otlp_encode(json_span: object, shift: int = 0) -> PlainOtlpSpan | None:
    """Encode an OTLP/JSON span with the Python plain encoder alone."""
    compiled = plainotlp.encode_otlp_span
    plainotlp.encode_otlp_span = None
    try:
        return PlainOtlpSpanEncoder().encode(json_span, shift=shift)
    finally:
        plainotlp.encode_otlp_span = compiled


def check_same_otlp(json_span: object, shift: int = 0) -> PlainOtlpSpan | None:
    """Assert that the compiled OTLP span encoder declines the span or gives the Python encoder's result."""
    native = _speedups.encode_otlp_span(json_span, shift)  # type: ignore[arg-type]  # any parsed JSON
    if native is None:
        return None
    expected = python_otlp_encode(json_span, shift)
    assert expected is not None, "the compiled encoder took a span that the Python encoder declines"
    assert native == expected
    return native


def scalar_attributes_only(json_span: dict[str, Any]) -> bool:
    """Whether every attribute of the span, its events and links has one scalar member."""
    groups = [json_span.get("attributes")]
    groups += [event.get("attributes") for event in json_span.get("events") or []]
    groups += [link.get("attributes") for link in json_span.get("links") or []]
    scalars = {"stringValue", "intValue", "boolValue", "doubleValue"}
    return all(
        type(pair.get("value")) is dict and len(pair) == 2 and len(pair["value"]) == 1
        and pair["value"].keys() <= scalars and next(iter(pair["value"].values())) is not None
        for pairs in groups for pair in pairs or []
    )  # fmt: skip


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(json_span=test_otlp_plain.SPANS, shift=SHIFTS)
def test_native_otlp_span_declines_or_matches(json_span: object, shift: int) -> None:
    """Plain and odd OTLP/JSON spans are declined or encoded as the Python encoder encodes them."""
    check_same_otlp(json_span, shift)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(json_span=test_otlp_plain.PLAIN_SPANS)
def test_native_takes_plain_otlp_spans(json_span: dict[str, Any]) -> None:
    """A plain span whose attributes are scalars is encoded by the compiled encoder."""
    native = check_same_otlp(json_span)

    if python_otlp_encode(json_span) is not None and scalar_attributes_only(json_span):
        assert native is not None


def test_native_takes_collector_span() -> None:
    """A Collector span goes through the compiled encoder, unless it has array or kvlist values."""
    json_span = test_otlp_plain.collector_span(3)
    assert check_same_otlp(json_span) is None

    scalars = [pair for pair in json_span["attributes"] if pair["key"] not in ("tags", "map")]  # type: ignore[union-attr]

    assert check_same_otlp({**json_span, "attributes": scalars, "kind": "SPAN_KIND_SERVER"}) is not None


# Fingerprints from a small set, so that runs repeat some, with the all-zero one among them.
WORD = st.integers(0, 2**64 - 1)
table_fingerprints = st.lists(
    st.one_of(st.tuples(st.integers(0, 3), st.integers(0, 3)), st.tuples(WORD, WORD)), max_size=1500
)
table_runs = st.lists(
    st.tuples(st.sampled_from(["merge", "count", "add"]), table_fingerprints, st.integers(0, 7)), max_size=4
)


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(runs=table_runs)
def test_native_table_loops_match_python(runs: list[tuple[str, list[tuple[int, int]], int]]) -> None:
    """The compiled bulk loops leave the arrays and return the positions that the Python loops do."""
    check_table_loops(runs)


def test_native_table_loops_across_growth() -> None:
    """Runs of thousands of new fingerprints, which grow the tables several times, give the Python loops' tables."""
    fingerprints = [(number * 0x9E3779B97F4A7C15 % 2**64, number) for number in range(6000)]

    check_table_loops([("merge", fingerprints, 1), ("count", fingerprints[::2], 3), ("add", fingerprints, 0)])


def check_table_loops(runs: list[tuple[str, list[tuple[int, int]], int]]) -> None:
    results = []
    for compiled in (True, False):
        with pytest.MonkeyPatch.context() as patch:
            if not compiled:
                patch.setattr(index, "table_update", None)
                patch.setattr(index, "table_rehash", None)
            bits, counts = FingerprintTable("B"), FingerprintTable()
            returned: list[object] = []
            for operation, fingerprints, number in runs:
                if operation == "merge":
                    returned.append(bits.merge_bits_many(iter(fingerprints), 1 << number))
                elif operation == "count":
                    returned.append(counts.count_many(fingerprints, number << 32))
                else:
                    counts.add_many(fingerprints)
            tables = [(table._high, table._low, table._values, len(table)) for table in (bits, counts)]
            results.append((returned, tables))

    assert results[0] == results[1]


def test_native_table_rejects_value_too_large() -> None:
    """A value past a 1-byte table's range fails, as the Python array would."""
    table = FingerprintTable("B")

    with pytest.raises(OverflowError):
        table.merge_bits_many([(1, 2)], 1 << 8)


@pytest.mark.parametrize(
    ("setting", "version", "warned"),
    [("off", "off (OTEL_REPLAY_SPEEDUPS=off)", False), ("auto", "on", False), ("of", "on", True)],
)
def test_setting_turns_off_or_warns(setting: str, version: str, *, warned: bool) -> None:
    """OTEL_REPLAY_SPEEDUPS=off turns the module off at run time, and an unknown value gets a warning."""
    environment = {**os.environ, "OTEL_REPLAY_SPEEDUPS": setting}
    command = [sys.executable, "-m", "otel_replay"]

    version_run = subprocess.run([*command, "--version"], env=environment, capture_output=True, text=True, check=True)
    help_run = subprocess.run(
        [*command, "replay", "--help"], env=environment, capture_output=True, text=True, check=True
    )

    assert version_run.stdout.strip().endswith(f"compiled encoders: {version}")
    assert ("OTEL_REPLAY_SPEEDUPS='of' is not a known value" in version_run.stderr) is warned
    assert ("OTEL_REPLAY_SPEEDUPS='of' is not a known value" in help_run.stderr) is warned


def test_state_names_compiled_encoders() -> None:
    assert speedups.state() == "on"
    assert run_cli("--version").stdout.strip().endswith("compiled encoders: on")


@pytest.mark.parametrize("workers", ["1", "2"])
def test_replay_same_requests_without_compiled_encoders(
    receiver: OTLPReceiver, monkeypatch: pytest.MonkeyPatch, workers: str
) -> None:
    """A replay sends the same requests with and without the compiled encoders."""

    def replay() -> list[bytes]:
        receiver.received.traces.clear()
        receiver.received.logs.clear()
        result = run_cli("replay", CODEMACHINE / "traces", "--endpoint", receiver.url, "--workers", workers)
        assert result.exit_code == 0, result.stderr
        received = receiver.received.traces + receiver.received.logs
        return [request.SerializeToString() for request in received]

    compiled = replay()
    monkeypatch.setattr(plainspan, "encode_codemachine_span", None)
    monkeypatch.setattr(plainlog, "encode_codemachine_log_message", None)
    python = replay()

    assert len(compiled) > 0
    assert compiled == python


def test_module_is_the_built_one() -> None:
    """The test suite runs on the compiled module built from this checkout's source."""
    source = Path(plainspan.__file__).with_name("_speedups.c")
    assert source.exists()
    assert Path(_speedups.__file__).stat().st_mtime >= source.stat().st_mtime
