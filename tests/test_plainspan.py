"""The plain-span path writes exactly what the full path decodes and encodes, or declines the record."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from otel_replay.encode import RequestEncoder
from otel_replay.errors import RecordError
from otel_replay.formats import codemachine
from otel_replay.model import SpanData
from otel_replay.plainspan import PlainSpan, PlainSpanEncoder
from otel_replay.timeshift import TimeShift

PATH = Path("generated.json")
INDEX = 7
# Offsets that move recorded times within range, and some that move them out of it.
SHIFTS = st.one_of(st.just(0), st.integers(-(2**62), 2**62), st.integers(-(2**65), 2**65))

HEX_32 = st.text("0123456789abcdef", min_size=32, max_size=32)
HEX_16 = st.text("0123456789abcdef", min_size=16, max_size=16)
ASCII = st.text(st.characters(max_codepoint=127), max_size=10)
# Any code point, lone surrogates included, as the exact parser gives them from escapes.
# Hypothesis leaves surrogates out of its characters unless asked.
ANY_TEXT = st.text(st.one_of(st.characters(), st.sampled_from(["\ud800", "\ud83d", "\udfff"])), max_size=6)
INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
FINITE = st.floats(allow_nan=False, allow_infinity=False)

# Times as the parsers give them: integers, floats whose repr is the literal, and Decimals for
# literals a float would change, with odd ones among them (negative, huge, many digits, bool).
plain_times = st.one_of(
    st.integers(min_value=0, max_value=2**64 // 1_000_000),
    st.floats(min_value=0, max_value=1.8e13),
    st.just(1796218006000.5913),
)
odd_times = st.one_of(
    st.integers(),
    st.floats(),
    st.decimals(allow_nan=True),
    st.sampled_from([Decimal("1796218006000.59131234567"), Decimal("1e40"), Decimal("-0"), Decimal("0.0000001")]),
    st.booleans(),
    st.none(),
    ASCII,
)

# Floats of 2**63 or more in magnitude take the full path: orjson gives wider integers as such floats.
PLAIN_FLOAT = st.floats(min_value=-(2.0**63), max_value=2.0**63, exclude_min=True, exclude_max=True)
plain_scalars = st.one_of(
    st.none(), st.booleans(), INT64, PLAIN_FLOAT, ASCII, st.text(max_size=6).filter(str.isprintable)
)
odd_scalars = st.one_of(
    st.integers(),
    st.sampled_from([2**63, -(2**63) - 1, 2**64, 10**30, 2.0**63, -(2.0**63), 1e300]),
    st.decimals(allow_nan=False, allow_infinity=False),
    st.floats(),
    ANY_TEXT,
    st.lists(st.integers(), max_size=2),
    st.dictionaries(ASCII, st.integers(), max_size=2),
)


def plain_attributes(values: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    return st.one_of(st.none(), st.dictionaries(st.one_of(ASCII, ANY_TEXT), values, max_size=5))


plain_events = st.lists(
    st.fixed_dictionaries(
        {"name": ASCII, "time": plain_times}, optional={"attributes": plain_attributes(plain_scalars)}
    ),
    max_size=3,
)
plain_status = st.one_of(
    st.none(),
    st.fixed_dictionaries({}, optional={"code": st.sampled_from([0, 1, 2]), "message": ASCII}),
)
plain_spans = st.fixed_dictionaries(
    {
        "name": ASCII,
        "traceId": HEX_32.filter(lambda value: value.strip("0")),
        "spanId": HEX_16.filter(lambda value: value.strip("0")),
        "startTime": plain_times,
        "endTime": plain_times,
    },
    optional={
        "parentSpanId": st.one_of(HEX_16, st.just(""), st.none()),
        "status": plain_status,
        "attributes": plain_attributes(plain_scalars),
        "events": st.one_of(st.none(), plain_events),
        "duration": FINITE,
    },
)


def odd_id(digits: int) -> st.SearchStrategy[object]:
    return st.one_of(
        st.text("0123456789abcdefABCDEF", min_size=digits, max_size=digits),
        st.just("0" * digits),
        st.just("0x" + "1" * (digits - 2)),
        st.just("+" + "1" * (digits - 1)),
        st.just("1_" + "1" * (digits - 2)),
        st.just(" " + "1" * (digits - 1)),
        st.just("\u0661" * digits),  # Arabic-Indic digits, which int() accepts
        st.just("0"),
        st.text(max_size=digits + 1),
        st.integers(),
        st.none(),
    )


@st.composite
def replaced(draw: st.DrawFn, field: str, values: st.SearchStrategy[object]) -> dict[str, object]:
    """Draw a plain span with one field replaced by an odd value, or removed."""
    json_span = draw(plain_spans)
    if draw(st.booleans()):
        json_span[field] = draw(values)
    else:
        json_span.pop(field, None)
    return json_span


odd_events = st.one_of(
    st.integers(),
    ASCII,
    st.lists(
        st.one_of(
            st.none(),
            ASCII,
            st.fixed_dictionaries(
                {},
                optional={
                    "name": st.one_of(ANY_TEXT, st.integers()),
                    "time": odd_times,
                    "attributes": st.one_of(plain_attributes(odd_scalars), st.lists(st.integers(), max_size=1)),
                },
            ),
        ),
        max_size=2,
    ),
)
odd_status = st.one_of(
    st.integers(),
    ASCII,
    st.fixed_dictionaries(
        {},
        optional={
            "code": st.one_of(st.integers(-1, 3), st.booleans(), st.floats(), st.none()),
            "message": st.one_of(ANY_TEXT, st.integers(), st.none()),
        },
    ),
)
odd_fields: dict[str, st.SearchStrategy[object]] = {
    "name": st.one_of(ANY_TEXT, st.integers(), st.none()),
    "traceId": odd_id(32),
    "spanId": odd_id(16),
    "parentSpanId": st.one_of(odd_id(16), st.just("000")),
    "startTime": odd_times,
    "endTime": odd_times,
    "status": odd_status,
    "attributes": st.one_of(
        st.dictionaries(st.one_of(ASCII, ANY_TEXT), odd_scalars, min_size=1, max_size=3),
        st.lists(st.integers(), max_size=1),
        ASCII,
    ),
    "events": odd_events,
}


def full_path(json_span: object) -> tuple[list[object], PlainSpan | None]:
    """Decode and encode a record as the worker's full path does: its items, and its result if it is one clean span."""
    items: list[object] = list(codemachine.decode_elements(PATH, "spans", "svc", [json_span], INDEX))
    if len(items) != 1 or not isinstance(items[0], SpanData):
        return items, None
    span = items[0]
    encoded = RequestEncoder().span_message(span)
    fields = (span.name, span.start_time_unix_nano, span.end_time_unix_nano)
    return items, (INDEX, span.trace_id, span.span_id, span.parent_span_id, int(span.kind), *fields, encoded)


def check_against_full_path(json_span: object) -> PlainSpan | None:
    plain = PlainSpanEncoder().encode(INDEX, json_span)
    if plain is None:
        return None

    items, expected = full_path(json_span)
    assert expected is not None, f"the plain path accepted a record the full path gives as {items}"
    assert plain == expected
    return plain


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(json_span=plain_spans)
def test_plain_span_matches_full_path(json_span: dict[str, object]) -> None:
    """A span without anything that needs a notice or a skip takes the plain path, with the full path's bytes."""
    plain = check_against_full_path(json_span)

    # Only attribute keys may hold a lone surrogate here, which takes the full path.
    events = json_span.get("events") or []
    attributes = [json_span.get("attributes") or {}, *(event.get("attributes") or {} for event in events)]
    if all(key.isascii() for mapping in attributes for key in mapping):
        assert plain is not None


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(json_span=plain_spans, shift=SHIFTS)
def test_plain_span_moves_times_like_full_path(json_span: dict[str, object], shift: int) -> None:
    """With a time shift, the message has the full path's moved times, or the span is declined when one cannot move."""
    plain = PlainSpanEncoder().encode(INDEX, json_span, shift=shift)
    if plain is None:
        assert PlainSpanEncoder().encode(INDEX, json_span) is None or _cannot_move(json_span, shift)
        return

    [span] = codemachine.decode_elements(PATH, "spans", "svc", [json_span], INDEX)
    assert isinstance(span, SpanData)
    shifted = TimeShift(shift).apply(span)
    assert plain[:8] == (INDEX, span.trace_id, span.span_id, span.parent_span_id, 1, span.name, *_times(span))
    assert plain[8] == RequestEncoder().span_message(shifted)  # type: ignore[arg-type]  # a SpanData


def _times(span: SpanData) -> tuple[int, int]:
    return span.start_time_unix_nano, span.end_time_unix_nano


def _cannot_move(json_span: dict[str, object], shift: int) -> bool:
    [span] = codemachine.decode_elements(PATH, "spans", "svc", [json_span], INDEX)
    try:
        TimeShift(shift).apply(span)  # type: ignore[arg-type]  # a SpanData
    except RecordError:
        return True
    return False


@pytest.mark.parametrize("field", list(odd_fields))
@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_odd_field_is_declined_or_matches_full_path(field: str, data: st.DataObject) -> None:
    """A span with one odd or missing field is declined, or gives exactly the full path's fields and bytes."""
    check_against_full_path(data.draw(replaced(field, odd_fields[field])))


@settings(max_examples=50)
@given(json_span=st.one_of(st.none(), st.integers(), ASCII, st.lists(st.integers(), max_size=2)))
def test_record_that_is_not_an_object_is_declined(json_span: object) -> None:
    """Only a JSON object can be a plain span."""
    assert PlainSpanEncoder().encode(INDEX, json_span) is None


def test_plain_span_keeps_time_digits() -> None:
    """Times convert from the written digits, as the full path converts them."""
    json_span = {
        "name": "op",
        "traceId": "0b8d1e5057b7057416faa0e529953f64",
        "spanId": "bdc17d91e9d7bac3",
        "startTime": 1796413207753,
        "endTime": Decimal("1796218006000.59131234567"),
    }

    plain = check_against_full_path(json_span)

    assert plain is not None
    assert plain[6:8] == (1796413207753000000, 1796218006000591312)


def test_lone_surrogate_takes_full_path() -> None:
    """A lone surrogate needs a notice, which only the full path gives."""
    json_span = {
        "name": "op\ud83d",
        "traceId": "0b8d1e5057b7057416faa0e529953f64",
        "spanId": "bdc17d91e9d7bac3",
        "startTime": 1,
        "endTime": 2,
    }

    assert PlainSpanEncoder().encode(INDEX, json_span) is None


# Time literals as files write them: shortest round-trip floats as JavaScript writes them, and
# literals with more digits than a double keeps, trailing zeros, exponents or no fraction.
time_literals = st.one_of(
    st.floats(min_value=0, max_value=1.8e13).map(repr),
    st.integers(min_value=0, max_value=2**44).map(str),
    st.sampled_from(
        [
            "1796218006000.5913",
            "1796218006000.59130",
            "1796218006000.59131234567",
            "1796218006000.5913000000001",
            "1.7962180060005913e12",
            "17962180060005913e-4",
            "1796218006000.0",
            "-1796218006000.5",
            "1e40",
        ]
    ),
)


@st.composite
def span_texts(draw: st.DrawFn) -> str:
    """Draw a span's JSON text, pretty-printed or not, with its times written as odd literals."""
    json_span = draw(plain_spans)
    literals = {"startTime": draw(time_literals), "endTime": draw(time_literals)}
    json_span["startTime"] = "@startTime@"
    json_span["endTime"] = "@endTime@"
    for number, event in enumerate(json_span.get("events") or []):
        event["time"] = f"@event{number}@"
        literals[f"event{number}"] = draw(time_literals)
    if draw(st.booleans()):
        # Keys that the text search for times must not take for the span's own time fields.
        json_span["attributes"] = {
            **(json_span.get("attributes") or {}),
            draw(st.sampled_from(["startTime", "time"])): 1.5,
        }
    text = json.dumps(json_span, indent=draw(st.sampled_from([None, 2, 4])))
    for name, literal in literals.items():
        text = text.replace(f'"@{name}@"', literal)
    return text


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(text=span_texts())
def test_plain_text_matches_full_path(text: str) -> None:
    """A span read from its text with orjson gives the full path's result on the exactly parsed text, or is declined."""
    try:
        plain = PlainSpanEncoder().encode_text(INDEX, text)
    except orjson.JSONDecodeError:
        # orjson rejects a lone surrogate escape, which json.dumps writes for such a key. The
        # workers then hand the text back to the main process, which reads it exactly.
        assert "\\ud" in text
        return
    if plain is None:
        return

    values, uncut = codemachine.parse_elements([text])
    assert uncut is None
    items, expected = full_path(values[0])
    assert expected is not None, f"the plain path accepted a record the full path gives as {items}"
    assert plain == expected


def test_plain_text_reads_time_digits() -> None:
    """A time literal with more digits than a double keeps converts from its digits, or declines the record."""
    text = json.dumps(
        {"name": "op", "traceId": "0b8d1e5057b7057416faa0e529953f64", "spanId": "bdc17d91e9d7bac3",
         "startTime": "@", "endTime": 1796218006001.5}, indent=2,
    ).replace('"@"', "1796218006000.591312")  # fmt: skip

    plain = PlainSpanEncoder().encode_text(INDEX, text)

    assert plain is not None
    assert plain[6:8] == (1796218006000591312, 1796218006001500000)
