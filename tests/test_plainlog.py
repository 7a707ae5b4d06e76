"""The plain-log path gives exactly the worker's full-path result for a log record, or declines the record."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from otel_replay.encode import RequestEncoder
from otel_replay.errors import RecordError
from otel_replay.formats import codemachine
from otel_replay.model import LogData, ResourceData
from otel_replay.plainlog import PlainLog, PlainLogEncoder
from otel_replay.workers import _Results

PATH = Path("generated-logs.json")
INDEX = 7
# Offsets that move recorded times within range, and some that move them out of it.
SHIFTS = st.one_of(st.just(0), st.integers(-(2**62), 2**62), st.integers(-(2**65), 2**65))
DATA = Path(__file__).parent / "data" / "codemachine"
# Each CodeMachine log file in the test data, and how many of its records are plain: all but
# the one whose body has a lone surrogate, which needs a notice.
PLAIN_COUNTS = {
    "traces/2026-12-02/13-26-45-logs.json": 1000,
    "traces/2026-12-04/19-40-07-logs.json": 88,
    "traces/latest-logs.json": 88,
}

HEX_32 = st.text("0123456789abcdefABCDEF", min_size=32, max_size=32).filter(lambda value: value.strip("0"))
HEX_16 = st.text("0123456789abcdefABCDEF", min_size=16, max_size=16).filter(lambda value: value.strip("0"))
ASCII = st.text(st.characters(max_codepoint=127), max_size=10)
# Any code point, lone surrogates included, as the exact parser gives them from escapes.
# Hypothesis leaves surrogates out of its characters unless asked.
ANY_TEXT = st.text(st.one_of(st.characters(), st.sampled_from(["\ud800", "\ud83d", "\udfff"])), max_size=6)
# Integers that OTLP cannot carry, some of which orjson can write.
BEYOND_INT64 = st.sampled_from([2**63, 2**64 - 1, 2**64, -(2**63) - 1, 10**30])
LONE_SURROGATES = st.sampled_from(["\ud800", "a\udfff", "\ud83d\ude00\ud83d", "é\udc00"])
PRINTABLE = st.text(max_size=8).filter(str.isprintable)
INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)

plain_scalars = st.one_of(
    st.none(),
    st.booleans(),
    INT64,
    st.integers(min_value=0, max_value=200),
    st.floats(),
    ASCII,
    PRINTABLE,
    st.text("é" * 3 + "x", min_size=120, max_size=200),  # lengths beyond a one-byte varint
)
finite_scalars = st.one_of(st.none(), st.booleans(), INT64, st.floats(allow_nan=False, allow_infinity=False), ASCII)


def nested(scalars: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    """Scalars, and arrays and objects of them, a few levels deep."""
    return st.recursive(
        scalars,
        lambda children: st.one_of(
            st.lists(children, max_size=3), st.dictionaries(st.one_of(ASCII, PRINTABLE), children, max_size=3)
        ),
        max_leaves=6,
    )


plain_values = nested(plain_scalars)
plain_resources = st.one_of(st.none(), st.dictionaries(st.one_of(ASCII, PRINTABLE), nested(finite_scalars), max_size=4))


@st.composite
def plain_attributes(draw: st.DrawFn) -> dict[str, object] | None:
    attributes: dict[str, object] = draw(st.dictionaries(st.one_of(ASCII, PRINTABLE), plain_values, max_size=8))
    attributes.pop("trace.id", None)
    attributes.pop("span.id", None)
    if draw(st.booleans()):
        attributes["trace.id"] = draw(st.one_of(HEX_32, st.none()))
    if draw(st.booleans()):
        attributes["span.id"] = draw(st.one_of(HEX_16, st.none()))
    if not attributes and draw(st.booleans()):
        return None
    return attributes


plain_logs = st.fixed_dictionaries(
    {"timestamp": st.tuples(st.integers(0, 2**34), st.integers(0, 999_999_999)).map(list)},
    optional={
        "severityNumber": st.one_of(st.none(), st.integers(0, 24)),
        "severityText": st.one_of(st.none(), ASCII, PRINTABLE),
        "body": plain_values,
        "attributes": plain_attributes(),
        "resource": plain_resources,
    },
)
fallbacks = st.sampled_from([ResourceData({"service.name": "svc"}), ResourceData({})])

# Odd values for one field each: what the full path skips, changes or gives a notice for,
# with plain values among them.
odd_scalars = st.one_of(
    LONE_SURROGATES,
    BEYOND_INT64,
    st.decimals(allow_nan=False, allow_infinity=False),
    ANY_TEXT,
    st.floats(),
    st.integers(),
)
odd_values = st.one_of(
    odd_scalars,
    nested(odd_scalars),
    st.just(Decimal("0.1")),
    st.dictionaries(ANY_TEXT, st.integers(), min_size=1, max_size=2),
    # Deeper than the plain path follows.
    st.integers(1, 40).map(lambda depth: eval("[" * depth + "1" + "]" * depth)),  # noqa: S307  # a literal built here
)


def odd_id(digits: int) -> st.SearchStrategy[object]:
    return st.one_of(
        st.text("0123456789abcdefABCDEF", min_size=digits, max_size=digits),
        st.just("0" * digits),
        st.just("0x" + "1" * (digits - 2)),
        st.just("+" + "1" * (digits - 1)),
        st.just("1_" + "1" * (digits - 2)),
        st.just(" " + "1" * (digits - 1)),
        st.just("1" * (digits - 2) + " 1"),
        st.just("\u0661" * digits),  # Arabic-Indic digits, which int() accepts
        st.just("1" * (digits + 1)),
        st.text(max_size=digits + 1),
        st.integers(),
        st.lists(st.just("1" * digits), max_size=1),
        st.none(),
    )


@st.composite
def odd_attributes(draw: st.DrawFn) -> object:
    attributes = draw(plain_attributes()) or {}
    choice = draw(st.sampled_from(["trace.id", "span.id", "value", "text", "integer", "key", "type"]))
    if choice == "trace.id":
        attributes["trace.id"] = draw(odd_id(32))
    elif choice == "span.id":
        attributes["span.id"] = draw(odd_id(16))
    elif choice == "value":
        attributes[draw(ASCII)] = draw(odd_values)
    elif choice == "text":
        attributes[draw(ASCII)] = draw(LONE_SURROGATES)
    elif choice == "integer":
        attributes[draw(ASCII)] = draw(BEYOND_INT64)
    elif choice == "key":
        attributes[draw(st.one_of(ANY_TEXT, LONE_SURROGATES))] = draw(plain_scalars)
    else:
        return draw(st.one_of(st.lists(st.integers(), max_size=1), ASCII, st.integers()))
    return attributes


odd_resources = st.one_of(
    st.dictionaries(
        st.one_of(ASCII, ANY_TEXT, LONE_SURROGATES), st.one_of(finite_scalars, odd_values), min_size=1, max_size=3
    ),
    st.lists(st.integers(), max_size=1),
    ASCII,
    st.just({"service.name": float("nan")}),
    st.just({"service.name": float("inf")}),
    st.just({"service.name": Decimal("1.5")}),
)
odd_fields: dict[str, st.SearchStrategy[object]] = {
    "timestamp": st.one_of(
        st.tuples(st.integers(), st.integers()).map(list),
        st.tuples(st.integers(0, 10), st.sampled_from([-1, 10**9, 10**9 - 1])).map(list),
        st.tuples(st.sampled_from([2**64, 2**34 * 10**9]), st.integers(0, 10)).map(list),
        st.lists(st.integers(0, 10), max_size=3),
        st.tuples(st.one_of(st.booleans(), st.floats(), st.decimals(), ASCII), st.integers(0, 10)).map(list),
        st.tuples(st.integers(0, 10), st.one_of(st.booleans(), st.floats(), st.none())).map(list),
        st.integers(),
        st.none(),
    ),
    "severityNumber": st.one_of(
        st.integers(), st.booleans(), st.floats(), st.decimals(), ASCII, st.just(Decimal(9)), st.just(9.0)
    ),
    "severityText": st.one_of(LONE_SURROGATES, ANY_TEXT, st.integers(), st.booleans(), st.lists(ASCII, max_size=1)),
    "body": odd_values,
    "attributes": odd_attributes(),
    "resource": odd_resources,
}


@st.composite
def replaced(draw: st.DrawFn, field: str, values: st.SearchStrategy[object]) -> dict[str, object]:
    """Draw a plain log record with one field replaced by an odd value, or removed."""
    json_log = draw(plain_logs)
    if draw(st.booleans()):
        json_log[field] = draw(values)
    else:
        json_log.pop(field, None)
    return json_log


def full_path(json_log: object, fallback: ResourceData) -> tuple[list[object], PlainLog | None]:
    """Decode and encode a record as the worker's full path does.

    Returns the decoded items, and the worker's result if they are one record without a notice.
    """
    items: list[object] = list(codemachine.decode_elements(PATH, "logs", "svc", [json_log], INDEX, fallback))
    if len(items) != 1 or not isinstance(items[0], LogData):
        return items, None
    return items, _worker_results(items, fallback)[0]  # type: ignore[return-value]  # one log result


def _worker_results(items: list[object], fallback: ResourceData, shift: int = 0) -> list[object]:
    """Return the results a worker gives for records the full path decoded, one per record."""
    results = _Results(RequestEncoder(), fallback, runs=False, shift=shift)
    results.add_items(iter(items))  # type: ignore[arg-type]  # decoded items
    results.end()
    return list(results.list)


def check_against_full_path(json_log: object, fallback: ResourceData) -> PlainLog | None:
    plain = PlainLogEncoder().encode(INDEX, json_log, fallback)
    if plain is None:
        return None

    items, expected = full_path(json_log, fallback)
    assert expected is not None, f"the plain path accepted a record the full path gives as {items}"
    assert plain == expected
    return plain


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(json_log=plain_logs, fallback=fallbacks, shift=SHIFTS)
def test_plain_log_moves_times_like_full_path(json_log: dict[str, object], fallback: ResourceData, shift: int) -> None:
    """With a time shift, a plain record gets the full path's result, or is declined when its time cannot move."""
    plain = PlainLogEncoder().encode(INDEX, json_log, fallback, shift=shift)
    items = list(codemachine.decode_elements(PATH, "logs", "svc", [json_log], INDEX, fallback))
    [expected] = _worker_results(items, fallback, shift)

    if plain is None:
        # The worker hands on the error, which the main process reports if it sends the record.
        assert isinstance(expected, tuple)
        assert isinstance(expected[-1], RecordError)
        assert "falls outside 1970 to 2554" in expected[-1].message
    else:
        assert plain == expected


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(json_log=plain_logs, fallback=fallbacks)
def test_plain_log_matches_full_path(json_log: dict[str, object], fallback: ResourceData) -> None:
    """A record without anything that needs a notice or a skip takes the plain path, with the full path's result."""
    plain = check_against_full_path(json_log, fallback)

    assert plain is not None


@pytest.mark.parametrize("field", list(odd_fields))
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), fallback=fallbacks)
def test_odd_field_declined_or_equal(field: str, data: st.DataObject, fallback: ResourceData) -> None:
    """A record with one odd or missing field is declined, or gives exactly the full path's result."""
    check_against_full_path(data.draw(replaced(field, odd_fields[field])), fallback)


@settings(max_examples=50)
@given(json_log=st.one_of(st.none(), st.integers(), ASCII, st.lists(st.integers(), max_size=2)))
def test_non_object_declined(json_log: object) -> None:
    """Only a JSON object can be a plain log record."""
    assert PlainLogEncoder().encode(INDEX, json_log, ResourceData({})) is None


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(json_logs=st.lists(plain_logs, max_size=8), fallback=fallbacks)
def test_chunk_matches_full_path(json_logs: list[dict[str, object]], fallback: ResourceData) -> None:
    """One encoder over a chunk gives the full path's results, once the caller drops repeated resource attributes."""
    for number, json_log in enumerate(json_logs):
        if number % 2:
            # Records of one chunk share resources, as in a real file.
            json_log["resource"] = {"service.name": "codemachine", "service.version": "0.8.0"}
    encoder = PlainLogEncoder()
    plain = [encoder.encode(index, json_log, fallback) for index, json_log in enumerate(json_logs)]

    items = list(codemachine.decode_elements(PATH, "logs", "svc", json_logs, 0, fallback))
    expected = _worker_results(items, fallback)
    sent_keys: set[bytes | None] = set()
    dropped = []
    for result in plain:
        assert result is not None
        resource_key = result[1]
        repeated = resource_key in sent_keys
        sent_keys.add(resource_key)
        dropped.append((*result[:2], None if repeated else result[2], *result[3:]))
    assert dropped == expected


def test_plain_resource_is_shared() -> None:
    """Records with equal resources get the same key and the attributes of the first."""
    encoder = PlainLogEncoder()
    fallback = ResourceData({})
    json_log = {"timestamp": [1796413207, 153000000], "resource": {"service.name": "codemachine", "a": 1}}
    first = encoder.encode(0, json_log, fallback)
    second = encoder.encode(1, {**json_log, "resource": {"a": 1, "service.name": "codemachine"}}, fallback)

    assert first is not None
    assert second is not None
    assert first[1] == second[1] == b'{"a":1,"service.name":"codemachine"}'
    assert second[2] is first[2]


@pytest.mark.parametrize(
    ("resource", "reason"),
    [
        ({"service.name": float("nan")}, "NaN is written as null in the key"),
        ({"service.name": Decimal("1.5")}, "a Decimal is written as a string in the key"),
        ({"service.name": 2**64}, "orjson cannot write the key"),
        ({"service.name": "a\ud800"}, "a lone surrogate needs a notice"),
    ],
)
def test_odd_resource_is_declined(resource: dict[str, object], reason: str) -> None:
    """A resource whose key could stand for another resource, or that needs a notice, takes the full path."""
    json_log = {"timestamp": [1796413207, 153000000], "resource": resource}

    assert PlainLogEncoder().encode(INDEX, json_log, ResourceData({})) is None, reason


def parse_as_worker(path: Path) -> list[object]:
    """Parse a file's log records as a worker does: floats where the float keeps the literal's value, else Decimals.

    A worker parses each record's text with `fastjson.loads`, and a record with any number a
    float would change, or with a lone surrogate escape, with the exact parser.
    """
    json_logs = json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)["logs"]
    return [as_floats(json_log) if floats_are_exact(json_log) else json_log for json_log in json_logs]


def floats_are_exact(value: object) -> bool:
    if isinstance(value, Decimal):
        return Decimal(repr(float(value))) == value
    if isinstance(value, list):
        return all(floats_are_exact(item) for item in value)
    if isinstance(value, dict):
        return all(floats_are_exact(item) for item in value.values())
    return True


def as_floats(value: object) -> object:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, list):
        return [as_floats(item) for item in value]
    if isinstance(value, dict):
        return {key: as_floats(item) for key, item in value.items()}
    return value


@pytest.mark.parametrize(("name", "plain_expected"), PLAIN_COUNTS.items())
def test_recorded_logs_match_full_path(name: str, plain_expected: int) -> None:
    """Every clean record of the test data's CodeMachine log files takes the plain path, with the full path's result.

    The files also contain records that the full path skips or gives a notice for, such as a
    lone surrogate, and those are declined.
    """
    path = DATA / name
    fallback = ResourceData({"service.name": "codemachine"})
    plain_count = 0

    for index, json_log in enumerate(parse_as_worker(path)):
        plain = PlainLogEncoder().encode(INDEX, json_log, fallback)
        items, expected = full_path(json_log, fallback)
        clean = expected is not None  # one record, without a notice
        assert (plain is not None) == clean, f"record {index} of {path.name} gives {items}"
        assert plain == expected
        plain_count += plain is not None

    assert plain_count == plain_expected


def test_log_file_table_is_complete() -> None:
    """The table above lists every CodeMachine log file in the test data."""
    log_files = {str(path.relative_to(DATA)) for path in DATA.rglob("*logs.json")}

    assert log_files == set(PLAIN_COUNTS)


def test_nan_resource_after_null_declined() -> None:
    """A NaN in a resource has the key of a null there, but is not plain, even after the null resource."""
    encoder = PlainLogEncoder()
    fallback = ResourceData({})
    null_log = {"timestamp": [1, 0], "resource": {"a": None}}
    nan_log = {"timestamp": [1, 0], "resource": {"a": float("nan")}}

    assert encoder.encode(0, null_log, fallback) is not None
    assert encoder.encode(1, nan_log, fallback) is None
