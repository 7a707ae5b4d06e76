"""The one-pass encoder of plain OTLP/JSON spans writes what decoding and then encoding write, or declines."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from otel_replay.encode import RequestEncoder
from otel_replay.errors import RecordError
from otel_replay.formats import otlp_plain
from otel_replay.formats.limits import MAX_VALUE_DEPTH, too_deep
from otel_replay.model import Location, ResourceData, ScopeData, SpanData
from otel_replay.plainotlp import PlainOtlpSpan, PlainOtlpSpanEncoder
from otel_replay.timeshift import TimeShift
from tests.test_otlp_plain import PLAIN_SPANS, SPANS, collector_span

LOCATION = Location(Path("spans.jsonl"), 0, "resourceSpans[0].scopeSpans[0].spans[0]")
# One encoder for every example, so that attributes cached by one example meet the others.
SHARED = PlainOtlpSpanEncoder()


def two_step(json_span: object) -> SpanData | None:
    return otlp_plain.decode_plain_span(json_span, ResourceData({}), ScopeData(), LOCATION)


def fields_of(span: SpanData) -> PlainOtlpSpan:
    message = RequestEncoder().span_message(span)
    times = (span.start_time_unix_nano, span.end_time_unix_nano)
    return (span.trace_id, span.span_id, span.parent_span_id, int(span.kind), span.name, *times, message)


def has_deep_value(span: SpanData) -> bool:
    groups = [span.attributes, *(event.attributes for event in span.events), *(link.attributes for link in span.links)]
    return any(too_deep(value) for attributes in groups for value in attributes.values())


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(json_span=SPANS)
def test_encoded_span_equals_decoded_then_encoded(json_span: object) -> None:
    """Plain or odd, a span gets the same fields and bytes as the two-step path, or is declined by both."""
    decoded = two_step(json_span)
    for encoder in (PlainOtlpSpanEncoder(), SHARED):
        encoded = encoder.encode(json_span)
        if decoded is None:
            assert encoded is None
        else:
            assert encoded == fields_of(decoded)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(json_span=PLAIN_SPANS, shift=st.one_of(st.integers(-(2**62), 2**62), st.integers(-(2**65), 2**65)))
def test_shifted_span_equals_moved_then_encoded(json_span: object, shift: int) -> None:
    """The message has the times that `TimeShift` gives, or the span is declined when one cannot move."""
    decoded = two_step(json_span)
    if decoded is None:
        return
    encoded = SHARED.encode(json_span, shift=shift)
    try:
        shifted = TimeShift(shift).apply(decoded)
    except RecordError:
        assert encoded is None
        return

    assert encoded is not None
    assert encoded[:7] == fields_of(decoded)[:7]
    assert encoded[7] == RequestEncoder().span_message(shifted)  # type: ignore[arg-type]  # a SpanData


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(json_span=PLAIN_SPANS)
def test_plain_span_is_encoded(json_span: object) -> None:
    """Every span that the two-step path takes is encoded in one pass too."""
    decoded = two_step(json_span)
    if decoded is not None:
        assert SHARED.encode(json_span) is not None


def test_collector_span_is_encoded() -> None:
    json_span = collector_span(0)
    decoded = two_step(json_span)
    assert decoded is not None
    encoded = PlainOtlpSpanEncoder().encode(json_span)
    assert encoded == fields_of(decoded)
    assert encoded[0] == 0x5B8EFFF798038103D269B633813FC60C
    assert encoded[3] == 2  # SERVER


def nested_array(levels: int) -> dict[str, object]:
    value: dict[str, object] = {"stringValue": "leaf"}
    for _ in range(levels):
        value = {"arrayValue": {"values": [value]}}
    return value


@pytest.mark.parametrize(
    ("levels", "accepted"), [(MAX_VALUE_DEPTH, True), (MAX_VALUE_DEPTH + 1, False)], ids=["at-limit", "over-limit"]
)
def test_value_nested_past_the_limit_is_declined(levels: int, accepted: bool) -> None:
    """A value nested too deeply goes to the general path, which skips the span and names the field."""
    json_span = collector_span(0) | {"attributes": [{"key": "deep", "value": nested_array(levels)}]}
    decoded = two_step(json_span)
    assert decoded is not None
    assert has_deep_value(decoded) is not accepted

    encoded = PlainOtlpSpanEncoder().encode(json_span)
    assert (encoded is not None) is accepted
    if encoded is not None:
        assert encoded == fields_of(decoded)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ({"intValue": 1}, {"boolValue": True}),
        ({"intValue": 1}, {"intValue": True}),
        ({"doubleValue": 1}, {"doubleValue": True}),
        ({"doubleValue": 1}, {"intValue": 1}),
        ({"doubleValue": 1.0}, {"intValue": 1}),
        ({"intValue": "1"}, {"intValue": 1}),
        ({"doubleValue": 0.0}, {"doubleValue": -0.0}),
    ],
)
def test_cache_keeps_equal_values_apart(first: object, second: object) -> None:
    """Values that compare equal in Python but differ in JSON type or sign get their own encoding and checks."""
    encoder = PlainOtlpSpanEncoder()
    spans = [collector_span(0) | {"attributes": [{"key": "k", "value": value}]} for value in (first, second)]
    for json_span in spans:
        decoded = two_step(json_span)
        encoded = encoder.encode(json_span)
        assert encoded == (None if decoded is None else fields_of(decoded))
