"""The direct encoder writes byte for byte the request that the official encoders and completion write."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from otel_replay.encode import RequestEncoder
from otel_replay.model import (
    AnyValue,
    EventData,
    LinkData,
    Location,
    LogData,
    ResourceData,
    ScopeData,
    Signal,
    SpanData,
    SpanKindCode,
)
from otel_replay.rebuild import Rebuilder, encode_request
from otel_replay.receiver import OTLPReceiver
from tests.conftest import CODEMACHINE, run_cli

LOCATION = Location(Path("generated.json"), 0)
UINT32 = st.integers(min_value=0, max_value=2**32 - 1)
UNIX_NANO = st.integers(min_value=0, max_value=2**64 - 1)
TEXT = st.text(max_size=12)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    TEXT,
    st.binary(max_size=8),
)
any_values: st.SearchStrategy[AnyValue] = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.tuples(children, children),
        st.dictionaries(TEXT, children, max_size=3),
    ),
    max_leaves=8,
)
attributes = st.dictionaries(TEXT, any_values, max_size=5)
# Attribute values the SDK's encoder cannot carry and drops, logging an error: integers
# outside int64, alone or inside an array.
droppable = st.one_of(
    st.integers(min_value=2**63, max_value=2**70),
    st.lists(st.integers(max_value=-(2**63) - 1), min_size=1, max_size=2),
)
attributes_with_droppable = st.dictionaries(TEXT, st.one_of(any_values, droppable), max_size=5)
scope_attributes = st.dictionaries(
    TEXT, st.one_of(st.booleans(), st.integers(-5, 5), st.floats(allow_nan=False), TEXT, st.lists(TEXT, max_size=2))
)

resources = st.builds(
    ResourceData,
    attributes=attributes,
    schema_url=st.sampled_from(["", "https://opentelemetry.io/schemas/1.21.0"]),
    dropped_attributes_count=UINT32,
)
scopes = st.one_of(
    st.just(ScopeData()),
    st.builds(ScopeData, dropped_attributes_count=UINT32),
    st.builds(
        ScopeData,
        name=st.sampled_from(["", "tracer", "other"]),
        version=st.sampled_from(["", "1.0"]),
        attributes=scope_attributes,
        schema_url=st.sampled_from(["", "https://example.com/schema"]),
        dropped_attributes_count=UINT32,
    ),
)
events = st.builds(
    EventData, name=TEXT, time_unix_nano=UNIX_NANO, attributes=attributes, dropped_attributes_count=UINT32
)
links = st.builds(
    LinkData,
    trace_id=st.integers(min_value=0, max_value=2**128 - 1),
    span_id=st.integers(min_value=0, max_value=2**64 - 1),
    attributes=attributes,
    trace_state=st.sampled_from(["", "vendor=value", "a=1,b=2", "not a valid header"]),
    flags=UINT32,
    dropped_attributes_count=UINT32,
)


@st.composite
def span_batches(draw: st.DrawFn) -> list[SpanData]:
    """Spans that share a few resource and scope objects, as readers share them."""
    resource_pool = draw(st.lists(resources, min_size=1, max_size=3))
    scope_pool = draw(st.lists(scopes, min_size=1, max_size=3))
    spans = st.builds(
        SpanData,
        location=st.just(LOCATION),
        resource=st.sampled_from(resource_pool),
        scope=st.sampled_from(scope_pool),
        name=TEXT,
        trace_id=st.integers(min_value=0, max_value=2**128 - 1),
        span_id=st.integers(min_value=0, max_value=2**64 - 1),
        parent_span_id=st.one_of(st.just(0), st.integers(min_value=0, max_value=2**64 - 1)),
        start_time_unix_nano=UNIX_NANO,
        end_time_unix_nano=UNIX_NANO,
        kind=st.sampled_from(SpanKindCode),
        status_code=st.sampled_from([0, 1, 2]),
        status_message=st.sampled_from(["", "ok", "failed: timeout"]),
        attributes=attributes_with_droppable,
        events=st.lists(events, max_size=2),
        links=st.lists(links, max_size=2),
        trace_state=st.sampled_from(["", "vendor=value", "x=1,y=2"]),
        flags=UINT32,
        dropped_attributes_count=UINT32,
        dropped_events_count=UINT32,
        dropped_links_count=UINT32,
    )
    return draw(st.lists(spans, min_size=1, max_size=6))


@st.composite
def log_batches(draw: st.DrawFn) -> list[LogData]:
    """Log records that share a few resource and scope objects, with and without span correlation."""
    resource_pool = draw(st.lists(resources, min_size=1, max_size=3))
    scope_pool = draw(st.lists(scopes, min_size=1, max_size=3))
    logs = st.builds(
        LogData,
        location=st.just(LOCATION),
        resource=st.sampled_from(resource_pool),
        scope=st.sampled_from(scope_pool),
        time_unix_nano=UNIX_NANO,
        observed_time_unix_nano=UNIX_NANO,
        severity_number=st.one_of(st.none(), st.integers(min_value=0, max_value=24)),
        severity_text=st.one_of(st.none(), TEXT),
        body=any_values,
        attributes=attributes_with_droppable,
        trace_id=st.one_of(st.just(0), st.integers(min_value=0, max_value=2**128 - 1)),
        span_id=st.one_of(st.just(0), st.integers(min_value=0, max_value=2**64 - 1)),
        flags=UINT32,
        event_name=st.one_of(st.none(), TEXT),
        dropped_attributes_count=UINT32,
    )
    return draw(st.lists(logs, min_size=1, max_size=6))


def official_bytes(signal: Signal, records: list[SpanData] | list[LogData]) -> bytes:
    """The reference: SDK objects, the official encoder and the completion of the missing fields."""
    request = encode_request(signal, records, Rebuilder())
    serialized: bytes = request.SerializeToString()
    return serialized


@pytest.fixture(autouse=True)
def _quiet_encoder_logs(caplog: pytest.LogCaptureFixture) -> None:
    """Both encoders log the attributes they drop; the comparison is about bytes."""
    caplog.set_level(logging.CRITICAL)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spans=span_batches())
def test_spans_match_official_bytes(spans: list[SpanData]) -> None:
    """Generated spans of every field kind encode to the official request bytes."""
    assert RequestEncoder().spans(spans) == official_bytes(Signal.TRACES, spans)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(logs=log_batches())
def test_logs_match_official_bytes(logs: list[LogData]) -> None:
    """Generated log records of every field kind encode to the official request bytes."""
    assert RequestEncoder().logs(logs) == official_bytes(Signal.LOGS, logs)


@given(first=span_batches(), second=span_batches())
@settings(max_examples=50, deadline=None)
def test_encoder_reused_across_batches(first: list[SpanData], second: list[SpanData]) -> None:
    """One encoder with warm caches gives the same bytes for a later batch as a fresh one."""
    encoder = RequestEncoder()
    encoder.spans(first)

    assert encoder.spans(second) == official_bytes(Signal.TRACES, second)


def test_zero_floats_keep_their_sign() -> None:
    """0.0 and -0.0 are equal as dictionary keys but must encode differently."""
    resource = ResourceData({})
    spans = [
        SpanData(LOCATION, resource, ScopeData(), "s", 1, 1, 0, 1, 2, attributes={"x": value}) for value in (0.0, -0.0)
    ]

    assert RequestEncoder().spans(spans) == official_bytes(Signal.TRACES, spans)


def test_shared_attribute_in_span_event_link() -> None:
    """An attribute that a span, its event and its link share keeps each message's own field number."""
    shared = {"workflow.steps.failed": 1, "name": "x", "ratio": 0.5}
    event = EventData("done", 5, dict(shared))
    link = LinkData(3, 4, dict(shared))
    span = SpanData(
        LOCATION, ResourceData(dict(shared)), ScopeData(), "s", 1, 2, 0, 1, 2,
        attributes=dict(shared), events=(event,), links=(link,),
    )  # fmt: skip
    encoder = RequestEncoder()
    encoder.spans([span])

    assert encoder.spans([span]) == official_bytes(Signal.TRACES, [span])


def test_replay_sends_official_bytes(receiver: OTLPReceiver, monkeypatch: pytest.MonkeyPatch) -> None:
    """A replay with the direct encoder sends the requests that OTEL_REPLAY_ENCODER=sdk sends."""
    direct = run_cli("replay", CODEMACHINE / "traces", "--endpoint", receiver.url)
    direct_requests = [request.SerializeToString() for request in receiver.received.traces + receiver.received.logs]
    receiver.received.traces.clear()
    receiver.received.logs.clear()
    monkeypatch.setenv("OTEL_REPLAY_ENCODER", "sdk")
    official = run_cli("replay", CODEMACHINE / "traces", "--endpoint", receiver.url)
    official_requests = [request.SerializeToString() for request in receiver.received.traces + receiver.received.logs]

    assert direct.exit_code == 0, direct.stderr
    assert official.exit_code == 0, official.stderr
    assert len(direct_requests) == 6
    assert direct_requests == official_requests
