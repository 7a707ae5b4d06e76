"""The plain path of the OTLP/JSON reader gives exactly what the general path gives, or declines the record."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, is_dataclass
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.logs.v1 import logs_pb2
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from otel_replay.encode import RequestEncoder
from otel_replay.formats import otlp_json, otlp_plain
from otel_replay.formats.otlp_records import RecordConverter
from otel_replay.model import Item, Location, LogData, ResourceData, ScopeData, SpanData, SpanKindCode

HEX = "0123456789abcdefABCDEF"
ASCII = st.text(st.characters(max_codepoint=127), max_size=8)
# Few distinct keys, so that repeated keys come up.
KEYS = st.sampled_from(["a", "b", "http.method", "", "é"])
INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)


def hex_id(digits: int) -> st.SearchStrategy[str]:
    return st.text(HEX, min_size=digits, max_size=digits).filter(lambda value: value.strip("0"))


def odd_id(digits: int) -> st.SearchStrategy[object]:
    """IDs the general path decodes, rejects or reads as base64."""
    return st.one_of(
        st.just("0" * digits),
        st.just(""),
        st.just("0x" + "1" * (digits - 2)),
        st.just(" " + "1" * (digits - 1)),
        st.just("\u0661" * digits),  # Arabic-Indic digits, which int() accepts
        st.just("AAAAAAAAAAAAAAAAAAAAAQ==" if digits == 32 else "AAAAAAAAAAE="),  # base64
        st.text(HEX, max_size=digits + 2),
        st.integers(),
        st.none(),
    )


def plain_unsigned(maximum: int) -> st.SearchStrategy[object]:
    """Integers as the Collector writes them: numbers or strings of digits."""
    plain = st.integers(min_value=0, max_value=maximum)
    return st.one_of(plain, plain.map(str), st.none())


ODD_UNSIGNED = st.one_of(
    st.integers().map(str),
    st.integers(),
    st.sampled_from(["", "-0", "007", "1e3", "\u0661", " 1", "+1", "0" * 25 + "1", 2**64, -1]),
    st.floats(allow_nan=False),
    st.booleans(),
)


def plain_enum(names: list[str], maximum: int) -> st.SearchStrategy[object]:
    return st.one_of(st.integers(min_value=0, max_value=maximum), st.sampled_from(names), st.none())


ODD_ENUM = st.one_of(st.integers(min_value=-3, max_value=8), st.sampled_from(["2", "UNKNOWN", True, 1.0]))

PLAIN_MEMBERS = st.one_of(
    st.fixed_dictionaries({"stringValue": st.one_of(ASCII, st.text(max_size=4))}),
    st.fixed_dictionaries({"boolValue": st.booleans()}),
    st.fixed_dictionaries({"intValue": st.one_of(INT64, INT64.map(str))}),
    st.fixed_dictionaries({"doubleValue": st.one_of(st.floats(allow_nan=False, allow_infinity=False), INT64)}),
    st.sampled_from([{}, {"stringValue": None}, {"intValue": None, "boolValue": True}]),
)
ODD_MEMBERS = st.one_of(
    st.fixed_dictionaries({"stringValue": st.integers()}),
    st.fixed_dictionaries({"boolValue": st.integers(0, 1)}),
    st.fixed_dictionaries({"intValue": st.one_of(st.integers().map(str), st.integers(), st.floats())}),
    st.fixed_dictionaries({"doubleValue": st.one_of(st.integers(), st.sampled_from(["NaN", "1.5", 10**400]))}),
    st.fixed_dictionaries({"bytesValue": st.sampled_from(["AQI=", "AQI", "!!"])}),
    st.fixed_dictionaries({"stringValueStrindex": st.integers(0, 3)}),
    st.sampled_from([{"stringValue": "a", "intValue": "1"}, {"stringValue": "a", "unknown": 1}, [], "a"]),
    st.just({"arrayValue": {"values": [None]}}),
    st.just({"arrayValue": {"values": "a"}}),
    st.just({"kvlistValue": {"values": [], "extra": 1}}),
)


def nested(members: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    return st.one_of(
        members,
        st.fixed_dictionaries({"arrayValue": st.fixed_dictionaries({}, optional={"values": st.lists(members)})}),
        st.fixed_dictionaries(
            {"kvlistValue": st.fixed_dictionaries({}, optional={"values": st.lists(key_value(members))})}
        ),
        st.just({"arrayValue": None}),
    )


def key_value(values: st.SearchStrategy[object]) -> st.SearchStrategy[dict[str, object]]:
    return st.fixed_dictionaries({"key": st.one_of(KEYS, ASCII)}, optional={"value": st.one_of(values, st.none())})


PLAIN_VALUES = st.recursive(PLAIN_MEMBERS, nested, max_leaves=6)
ODD_VALUES = st.recursive(st.one_of(PLAIN_MEMBERS, ODD_MEMBERS), nested, max_leaves=6)
PLAIN_ATTRIBUTES = st.one_of(st.lists(key_value(PLAIN_VALUES), max_size=5), st.none())
# One odd value among plain ones, at the top or one level down, so that it alone decides.
ODD_VALUE = st.one_of(
    ODD_MEMBERS,
    ODD_MEMBERS.map(lambda member: {"arrayValue": {"values": [{"stringValue": "a"}, member]}}),
    ODD_MEMBERS.map(lambda member: {"kvlistValue": {"values": [{"key": "k", "value": member}]}}),
)
ODD_ATTRIBUTES = st.one_of(
    st.tuples(st.lists(key_value(PLAIN_VALUES), max_size=3), ODD_VALUE).map(
        lambda pair: [*pair[0], {"key": "odd", "value": pair[1]}]
    ),
    st.lists(key_value(ODD_VALUES), min_size=1, max_size=3),
    st.lists(KEYS.map(lambda key: {"key": key, "value": {"stringValue": "a"}}), min_size=2, max_size=3),
    st.sampled_from([[None], "a", [{"value": {"stringValue": "a"}}], [{"key": "a", "keyStrindex": 1}]]),
)


@st.composite
def replaced(draw: st.DrawFn, json_object: dict[str, object], odd: dict[str, st.SearchStrategy[object]]) -> object:
    """Replace one field of a plain object by an odd value, or remove it."""
    field = draw(st.sampled_from(sorted(odd)))
    if draw(st.integers(0, 3)):
        json_object[field] = draw(odd[field])
    else:
        json_object.pop(field, None)
    return json_object


def plain_or_odd(
    plain: st.SearchStrategy[dict[str, object]], odd: dict[str, st.SearchStrategy[object]]
) -> st.SearchStrategy[object]:
    return st.one_of(plain, plain.flatmap(lambda json_object: replaced(json_object, odd)))


PLAIN_EVENTS = st.fixed_dictionaries(
    {},
    optional={
        "timeUnixNano": plain_unsigned(2**64 - 1),
        "name": ASCII,
        "attributes": PLAIN_ATTRIBUTES,
        "droppedAttributesCount": plain_unsigned(2**32 - 1),
    },
)
EVENTS = st.lists(
    plain_or_odd(
        PLAIN_EVENTS,
        {
            "timeUnixNano": ODD_UNSIGNED,
            "name": st.integers(),
            "attributes": ODD_ATTRIBUTES,
            "droppedAttributesCount": ODD_UNSIGNED,
            "time_unix_nano": st.just("1"),
        },
    ),
    max_size=2,
)
PLAIN_LINKS = st.fixed_dictionaries(
    {"traceId": hex_id(32), "spanId": hex_id(16)},
    optional={
        "traceState": ASCII,
        "attributes": PLAIN_ATTRIBUTES,
        "flags": plain_unsigned(2**32 - 1),
        "droppedAttributesCount": plain_unsigned(2**32 - 1),
    },
)
LINKS = st.lists(
    plain_or_odd(
        PLAIN_LINKS,
        {
            "traceId": odd_id(32),
            "spanId": odd_id(16),
            "traceState": st.integers(),
            "attributes": ODD_ATTRIBUTES,
            "flags": ODD_UNSIGNED,
            "droppedAttributesCount": ODD_UNSIGNED,
            "span_id": st.just("1" * 16),
        },
    ),
    max_size=2,
)
PLAIN_STATUS = st.fixed_dictionaries(
    {}, optional={"code": plain_enum(list(Status.StatusCode.keys()), 2), "message": st.one_of(ASCII, st.none())}
)
PLAIN_SPANS = st.fixed_dictionaries(
    {"traceId": hex_id(32), "spanId": hex_id(16)},
    optional={
        "parentSpanId": st.one_of(hex_id(16), st.sampled_from(["", "0" * 16, None])),
        "name": st.one_of(ASCII, st.none()),
        "kind": plain_enum(list(Span.SpanKind.keys()), 5),
        "startTimeUnixNano": plain_unsigned(2**64 - 1),
        "endTimeUnixNano": plain_unsigned(2**64 - 1),
        "attributes": PLAIN_ATTRIBUTES,
        "events": st.one_of(st.lists(PLAIN_EVENTS, max_size=2), st.none()),
        "links": st.one_of(st.lists(PLAIN_LINKS, max_size=2), st.none()),
        "status": st.one_of(PLAIN_STATUS, st.none()),
        "traceState": ASCII,
        "flags": plain_unsigned(2**32 - 1),
        "droppedAttributesCount": plain_unsigned(2**32 - 1),
        "droppedEventsCount": plain_unsigned(2**32 - 1),
        "droppedLinksCount": plain_unsigned(2**32 - 1),
    },
)
SPANS = plain_or_odd(
    PLAIN_SPANS,
    {
        "traceId": odd_id(32),
        "spanId": odd_id(16),
        "parentSpanId": odd_id(16),
        "name": st.integers(),
        "kind": ODD_ENUM,
        "startTimeUnixNano": ODD_UNSIGNED,
        "endTimeUnixNano": ODD_UNSIGNED,
        "attributes": ODD_ATTRIBUTES,
        "events": st.one_of(EVENTS, st.just([None]), st.just({})),
        "links": st.one_of(LINKS, st.just("a")),
        "status": st.one_of(
            st.sampled_from(["OK", {"code": 1, "extra": 1}]),
            st.fixed_dictionaries({"code": ODD_ENUM}),
            st.fixed_dictionaries({"message": st.integers()}),
        ),
        "traceState": st.integers(),
        "flags": ODD_UNSIGNED,
        "droppedAttributesCount": ODD_UNSIGNED,
        "droppedEventsCount": ODD_UNSIGNED,
        "droppedLinksCount": ODD_UNSIGNED,
        "trace_id": st.just("0" * 31 + "1"),
        "unknownField": st.just(1),
    },
)
SEVERITY_NAMES = list(logs_pb2.SeverityNumber.keys())
PLAIN_LOGS = st.fixed_dictionaries(
    {},
    optional={
        "timeUnixNano": plain_unsigned(2**64 - 1),
        "observedTimeUnixNano": plain_unsigned(2**64 - 1),
        "severityNumber": plain_enum(SEVERITY_NAMES, 24),
        "severityText": st.one_of(ASCII, st.none()),
        "body": st.one_of(PLAIN_VALUES, st.none()),
        "attributes": PLAIN_ATTRIBUTES,
        "droppedAttributesCount": plain_unsigned(2**32 - 1),
        "flags": plain_unsigned(2**32 - 1),
        "traceId": st.one_of(hex_id(32), st.sampled_from(["", "0" * 32, None])),
        "spanId": st.one_of(hex_id(16), st.sampled_from(["", "0" * 16, None])),
        "eventName": st.one_of(ASCII, st.none()),
    },
)
LOGS = plain_or_odd(
    PLAIN_LOGS,
    {
        "timeUnixNano": ODD_UNSIGNED,
        "observedTimeUnixNano": ODD_UNSIGNED,
        "severityNumber": st.one_of(ODD_ENUM, st.integers(min_value=20, max_value=30)),
        "severityText": st.integers(),
        "body": st.one_of(ODD_VALUE, st.sampled_from(["text", 1, [], {"kvlistValue": {"values": [{"key": "a"}] * 2}}])),
        "attributes": ODD_ATTRIBUTES,
        "droppedAttributesCount": ODD_UNSIGNED,
        "flags": ODD_UNSIGNED,
        "traceId": odd_id(32),
        "spanId": odd_id(16),
        "eventName": st.integers(),
        "severity_number": st.just(9),
    },
)


def collector_span(number: int) -> dict[str, object]:
    """A span as the Collector's file exporter writes it."""
    return {
        "traceId": "5b8efff798038103d269b633813fc60c",
        "spanId": f"{number + 1:016x}",
        "parentSpanId": "eee19b7ec3c1b174",
        "name": "GET /checkout",
        "kind": 2,
        "startTimeUnixNano": "1544712660000000000",
        "endTimeUnixNano": "1544712661000000000",
        "attributes": [
            {"key": "http.method", "value": {"stringValue": "GET"}},
            {"key": "http.status_code", "value": {"intValue": "200"}},
            {"key": "retry", "value": {"boolValue": False}},
            {"key": "cost", "value": {"doubleValue": 0.25}},
            {"key": "tags", "value": {"arrayValue": {"values": [{"stringValue": "a"}, {"intValue": 1}]}}},
            {"key": "map", "value": {"kvlistValue": {"values": [{"key": "k", "value": {"stringValue": "v"}}]}}},
        ],
        "events": [{"timeUnixNano": "1544712660500000000", "name": "retry", "attributes": []}],
        "links": [{"traceId": "5b8efff798038103d269b633813fc60d", "spanId": "eee19b7ec3c1b175", "flags": 257}],
        "status": {"code": 1, "message": "ok"},
        "flags": 257,
    }


def write_request(path: Path, json_spans: list[object]) -> Path:
    return _write(path, "resourceSpans", "scopeSpans", "spans", json_spans)


def write_logs_request(path: Path, json_logs: list[object]) -> Path:
    return _write(path, "resourceLogs", "scopeLogs", "logRecords", json_logs)


def _write(path: Path, resource_list: str, scope_list: str, record_list: str, json_records: list[object]) -> Path:
    resource = {"attributes": [{"key": "service.name", "value": {"stringValue": "checkout"}}]}
    request = {
        resource_list: [{"resource": resource, scope_list: [{"scope": {"name": "tests"}, record_list: json_records}]}]
    }
    # The standard library writes integers beyond 64 bits, which orjson cannot.
    path.write_text(json.dumps(request) + "\n", encoding="utf-8")
    return path


def described(items: Iterator[Item]) -> list[tuple[str, str]]:
    """Describe items by type and by the repr of every field, because SpanKindCode(1) and 1.0 both equal 1."""
    return [(type(item).__name__, repr(asdict(item)) if is_dataclass(item) else repr(item)) for item in items]


def read_general(path: Path) -> list[Item]:
    with mock.patch.object(RecordConverter, "plain_decoder", return_value=None):
        return list(otlp_json.read(path))


@pytest.fixture(scope="module")
def request_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("plain") / "request.jsonl"


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(json_spans=st.lists(SPANS, min_size=1, max_size=3))
def test_read_matches_general_path(request_path: Path, json_spans: list[object]) -> None:
    """Reading with the plain path gives the same records, skips and notices, in the same order."""
    write_request(request_path, json_spans)

    general = read_general(request_path)
    plain = list(otlp_json.read(request_path))

    assert described(plain) == described(general)
    encoder = RequestEncoder()
    for plain_item, general_item in zip(plain, general, strict=True):
        if isinstance(plain_item, SpanData) and isinstance(general_item, SpanData):
            assert encoder.span_message(plain_item) == encoder.span_message(general_item)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(json_logs=st.lists(LOGS, min_size=1, max_size=3))
def test_read_logs_matches_general_path(request_path: Path, json_logs: list[object]) -> None:
    """Log records read with the plain path equal the general path's, with the same skips and notices."""
    write_logs_request(request_path, json_logs)

    assert described(iter(otlp_json.read(request_path))) == described(iter(read_general(request_path)))


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(json_log=PLAIN_LOGS)
def test_plain_log_is_general_result(request_path: Path, json_log: dict[str, object]) -> None:
    """A log record with plain values and unique attribute keys is plain, and valid for the general path."""
    location = Location(request_path, 0, "resourceLogs[0].scopeLogs[0].logRecords[0]")
    plain = otlp_plain.decode_plain_log(json_log, ResourceData({}), ScopeData(), location)
    if plain is None:
        assert _repeats_key(json_log)
        return

    general = read_general(write_logs_request(request_path, [json_log]))
    assert len(general) == 1
    assert isinstance(general[0], LogData)
    assert _fields_but_shared(plain) == _fields_but_shared(general[0])


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(json_attributes=st.lists(st.one_of(ODD_ATTRIBUTES, PLAIN_ATTRIBUTES), min_size=1, max_size=3))
def test_attributes_match_general_path(request_path: Path, json_attributes: list[object]) -> None:
    """Attribute values of every form give the same records, skips and notices on both paths."""
    json_spans = [collector_span(number) | {"attributes": value} for number, value in enumerate(json_attributes)]
    write_request(request_path, json_spans)

    assert described(iter(otlp_json.read(request_path))) == described(iter(read_general(request_path)))


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(json_span=PLAIN_SPANS)
def test_plain_span_is_general_result(request_path: Path, json_span: dict[str, object]) -> None:
    """A span with plain values and unique attribute keys is plain, and valid for the general path, without notices."""
    location = Location(request_path, 0, "resourceSpans[0].scopeSpans[0].spans[0]")
    plain = otlp_plain.decode_plain_span(json_span, ResourceData({}), ScopeData(), location)
    if plain is None:
        assert _repeats_key(json_span)
        return

    general = read_general(write_request(request_path, [json_span]))
    assert len(general) == 1
    assert isinstance(general[0], SpanData)
    assert _fields_but_shared(plain) == _fields_but_shared(general[0])


def _repeats_key(json_value: object) -> bool:
    """Tell whether a list of KeyValue objects anywhere in the value repeats a key."""
    if isinstance(json_value, dict):
        return any(_repeats_key(item) for item in json_value.values())
    if not isinstance(json_value, list):
        return False
    keys = [item["key"] for item in json_value if isinstance(item, dict) and "key" in item]
    return len(keys) != len(set(keys)) or any(_repeats_key(item) for item in json_value)


def _fields_but_shared(record: SpanData | LogData) -> str:
    """Describe a record's fields but its resource and scope, which the general path reads from the file."""
    return repr(asdict(record) | {"resource": None, "scope": None})


def test_collector_spans_take_plain_path(tmp_path: Path) -> None:
    """Spans as the Collector writes them never reach the protobuf decoder."""
    path = write_request(tmp_path / "collector.jsonl", [collector_span(number) for number in range(3)])

    with mock.patch.object(otlp_json, "_parse_record", side_effect=AssertionError("general path taken")):
        items = list(otlp_json.read(path))

    assert [type(item) for item in items] == [SpanData] * 3
    assert described(iter(items)) == described(iter(read_general(path)))


def test_collector_span_fields(tmp_path: Path) -> None:
    """The plain path keeps IDs, nanosecond times and attribute types exactly."""
    path = write_request(tmp_path / "collector.jsonl", [collector_span(0)])

    [span] = list(otlp_json.read(path))

    assert isinstance(span, SpanData)
    assert span.trace_id == 0x5B8EFFF798038103D269B633813FC60C
    assert span.parent_span_id == 0xEEE19B7EC3C1B174
    assert span.start_time_unix_nano == 1_544_712_660_000_000_000
    assert span.kind is SpanKindCode.SERVER
    assert span.attributes == {
        "http.method": "GET",
        "http.status_code": 200,
        "retry": False,
        "cost": 0.25,
        "tags": ["a", 1],
        "map": {"k": "v"},
    }
    assert span.links[0].flags == 257


@pytest.mark.parametrize(
    ("keys", "descriptor"),
    [
        (otlp_plain.SPAN_KEYS, Span.DESCRIPTOR),
        (otlp_plain.EVENT_KEYS, Span.Event.DESCRIPTOR),
        (otlp_plain.LINK_KEYS, Span.Link.DESCRIPTOR),
        (otlp_plain.LOG_KEYS, LogRecord.DESCRIPTOR),
    ],
)
def test_plain_keys_cover_message(keys: frozenset[str], descriptor: object) -> None:
    """Every field of the message is decoded by the plain path, so none is dropped unnoticed."""
    assert keys == {field.json_name for field in descriptor.fields}  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("signal", "field", "value"),
    [
        ("traces", "kind", 5),
        ("traces", "kind", 6),
        ("traces", "kind", -1),
        ("traces", "status", {"code": 2}),
        ("traces", "status", {"code": 3}),
        ("traces", "flags", 2**32 - 1),
        ("traces", "flags", 2**32),
        ("traces", "startTimeUnixNano", str(2**64 - 1)),
        ("traces", "startTimeUnixNano", str(2**64)),
        ("logs", "severityNumber", 24),
        ("logs", "severityNumber", 25),
        ("logs", "severityNumber", "SEVERITY_NUMBER_FATAL4"),
        ("logs", "timeUnixNano", "-1"),
    ],
)
def test_bounds_match_general_path(tmp_path: Path, signal: str, field: str, value: object) -> None:
    """Values at the edge of their range give the same items on both paths."""
    json_record = collector_span(0) if signal == "traces" else {"timeUnixNano": "1", "body": {"stringValue": "a"}}
    json_record[field] = value
    write = write_request if signal == "traces" else write_logs_request
    path = write(tmp_path / "edge.jsonl", [json_record])

    assert described(iter(otlp_json.read(path))) == described(iter(read_general(path)))
