"""End to end: replay the CodeMachine files with --shift-to-now --new-ids and compare with the recorded replay."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from otel_replay.receiver import OTLPReceiver
from otel_replay.timeshift import ORIGINAL_LOG_TIME, ORIGINAL_SPAN_START_TIME
from tests.conftest import CODEMACHINE, SESSION_B_SPANS, run_cli
from tests.otlp import from_attributes, load_json, ms_to_ns


class Replays:
    """The same input replayed as recorded and with --shift-to-now --new-ids --keep-original-time."""

    def __init__(self, recorded: OTLPReceiver, shifted: OTLPReceiver, before: int, after: int) -> None:
        self.recorded = recorded.received
        self.shifted = shifted.received
        self.before = before
        self.after = after
        self.spans = list(zip(self.recorded.spans(), self.shifted.spans(), strict=True))
        self.logs = list(zip(self.recorded.log_records(), self.shifted.log_records(), strict=True))
        self.offset = self.spans[0][1][2].start_time_unix_nano - self.spans[0][0][2].start_time_unix_nano


@pytest.fixture(scope="module")
def replays() -> Iterator[Replays]:
    """Replay the whole CodeMachine folder twice, once unchanged and once moved to now with new IDs."""
    with OTLPReceiver() as recorded, OTLPReceiver() as shifted:
        result = run_cli("replay", CODEMACHINE, "--endpoint", recorded.url)
        assert result.exit_code == 0, result.stderr

        before = time.time_ns()
        result = run_cli(
            "replay", CODEMACHINE, "--endpoint", shifted.url, "--shift-to-now", "--new-ids", "--keep-original-time"
        )
        after = time.time_ns()
        assert result.exit_code == 0, result.stderr

        yield Replays(recorded, shifted, before, after)


def _all_times(received: Any) -> Iterator[int]:
    for _, _, span in received.spans():
        yield span.start_time_unix_nano
        yield span.end_time_unix_nano
        yield from (event.time_unix_nano for event in span.events)
    for _, _, record in received.log_records():
        yield record.time_unix_nano
        yield record.observed_time_unix_nano
    for _, _, metric in received.metrics_received():
        for point in _points(metric):
            yield point.time_unix_nano
            if point.start_time_unix_nano:
                yield point.start_time_unix_nano


def _points(metric: Any) -> Any:
    return getattr(metric, metric.WhichOneof("data")).data_points


def test_newest_record_lands_at_now(replays: Replays) -> None:
    """The newest time of any signal lands between the start and the end of the run."""
    newest = max(_all_times(replays.shifted))

    assert replays.before <= newest <= replays.after
    assert newest - max(_all_times(replays.recorded)) == replays.offset


def test_one_offset_for_every_time(replays: Replays) -> None:
    """Span, event, log and metric point times all move by the same offset, to the nanosecond."""
    recorded_times = list(_all_times(replays.recorded))
    shifted_times = list(_all_times(replays.shifted))

    assert len(recorded_times) == len(shifted_times) > 5000
    assert {shifted - recorded for recorded, shifted in zip(recorded_times, shifted_times, strict=True)} == {
        replays.offset
    }


def test_spans_match_field_by_field(replays: Replays) -> None:
    """Each span keeps name, duration, event offsets, status, kind and attributes, plus its original start."""
    for (resource, _, recorded), (shifted_resource, _, shifted) in replays.spans:
        assert shifted.name == recorded.name
        assert shifted.end_time_unix_nano - shifted.start_time_unix_nano == (
            recorded.end_time_unix_nano - recorded.start_time_unix_nano
        )
        assert [event.time_unix_nano - shifted.start_time_unix_nano for event in shifted.events] == [
            event.time_unix_nano - recorded.start_time_unix_nano for event in recorded.events
        ]
        assert shifted.status == recorded.status
        assert shifted.kind == recorded.kind
        attributes = from_attributes(shifted.attributes)
        assert attributes.pop(ORIGINAL_SPAN_START_TIME) == ("int", recorded.start_time_unix_nano)
        assert attributes == from_attributes(recorded.attributes)
        assert shifted_resource == resource


def test_ids_map_consistently(replays: Replays) -> None:
    """Every recorded ID has one new ID, distinct IDs stay distinct, and parents follow their spans."""
    trace_map: dict[bytes, set[bytes]] = {}
    span_map: dict[bytes, set[bytes]] = {}
    for (_, _, recorded), (_, _, shifted) in replays.spans:
        trace_map.setdefault(recorded.trace_id, set()).add(shifted.trace_id)
        span_map.setdefault(recorded.span_id, set()).add(shifted.span_id)
        assert shifted.trace_id != recorded.trace_id
        assert shifted.span_id != recorded.span_id

    assert all(len(new_ids) == 1 for new_ids in trace_map.values())
    assert all(len(new_ids) == 1 for new_ids in span_map.values())
    assert len({next(iter(new_ids)) for new_ids in trace_map.values()}) == len(trace_map)
    for (_, _, recorded), (_, _, shifted) in replays.spans:
        if not recorded.parent_span_id:
            assert shifted.parent_span_id == b""
        elif recorded.parent_span_id in span_map:
            assert {shifted.parent_span_id} == span_map[recorded.parent_span_id]
        else:
            assert shifted.parent_span_id not in (b"", recorded.parent_span_id)


def test_logs_follow_their_spans(replays: Replays) -> None:
    """Log records keep body and order, carry their original time, and point to the new IDs of their span."""
    new_trace = {recorded.trace_id: shifted.trace_id for (_, _, recorded), (_, _, shifted) in replays.spans}
    new_span = {recorded.span_id: shifted.span_id for (_, _, recorded), (_, _, shifted) in replays.spans}
    correlated = 0
    for (_, _, recorded), (_, _, shifted) in replays.logs:
        assert shifted.body == recorded.body
        assert shifted.time_unix_nano - recorded.time_unix_nano == replays.offset
        attributes = from_attributes(shifted.attributes)
        assert attributes.pop(ORIGINAL_LOG_TIME) == ("int", recorded.time_unix_nano)
        assert attributes == from_attributes(recorded.attributes)
        if not recorded.trace_id:
            assert (shifted.trace_id, shifted.span_id) == (b"", b"")
            continue
        if recorded.span_id in new_span:
            assert shifted.trace_id == new_trace[recorded.trace_id]
            assert shifted.span_id == new_span[recorded.span_id]
            correlated += 1
        assert shifted.trace_id != recorded.trace_id

    assert correlated > 50


def test_session_spans_keep_recorded_durations(replays: Replays) -> None:
    """Against the input file itself: every span of a session arrives with its recorded duration in nanoseconds."""
    arrived = {
        (span.name, from_attributes(span.attributes)[ORIGINAL_SPAN_START_TIME][1]): set()
        for _, _, span in replays.shifted.spans()
    }
    for _, _, span in replays.shifted.spans():
        key = (span.name, from_attributes(span.attributes)[ORIGINAL_SPAN_START_TIME][1])
        arrived[key].add(span.end_time_unix_nano - span.start_time_unix_nano)

    for json_span in load_json(SESSION_B_SPANS)["spans"]:
        start, end = ms_to_ns(json_span["startTime"]), ms_to_ns(json_span["endTime"])
        assert end - start in arrived[(json_span["name"], start)]
