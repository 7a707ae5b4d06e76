"""New IDs: consistent within a pass across spans, parents, links and log records, distinct across passes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from otel_replay.ids import IdMapper
from otel_replay.receiver import OTLPReceiver
from tests.conftest import CODEMACHINE, run_cli
from tests.recording import SECOND, Log, Span, write_recording

KEY = bytes(range(32))
ROOT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
OTHER_TRACE = "0af7651916cd43dd8448eb211c80319c"


def test_same_id_maps_to_same_new_id() -> None:
    """Within one mapper, a recorded ID always maps to the same new ID."""
    mapper = IdMapper(KEY)

    assert mapper.trace_id(0x4BF92F3577B34DA6A3CE929D0E0E4736) == mapper.trace_id(0x4BF92F3577B34DA6A3CE929D0E0E4736)
    assert mapper.span_id(0x00F067AA0BA902B7) == mapper.span_id(0x00F067AA0BA902B7)


def test_zero_stays_zero() -> None:
    """OTLP's "no ID" stays "no ID" for traces and spans."""
    mapper = IdMapper(KEY)

    assert mapper.trace_id(0) == 0
    assert mapper.span_id(0) == 0


def test_keys_give_distinct_ids() -> None:
    """Two mappers with different keys, such as two loop passes, give different IDs."""
    first, second = IdMapper(KEY), IdMapper(bytes(32))

    assert first.trace_id(1) != second.trace_id(1)
    assert first.span_id(1) != second.span_id(1)


def test_random_keys_differ() -> None:
    """Mappers created without a key draw their own random key."""
    assert IdMapper().trace_id(1) != IdMapper().trace_id(1)


@given(trace_id=st.integers(min_value=1, max_value=2**128 - 1), span_id=st.integers(min_value=1, max_value=2**64 - 1))
def test_new_ids_fit_and_are_never_zero(trace_id: int, span_id: int) -> None:
    """New trace IDs fit 128 bits and span IDs 64 bits, and a non-zero ID never maps to zero."""
    mapper = IdMapper(KEY)

    assert 0 < mapper.trace_id(trace_id) < 2**128
    assert 0 < mapper.span_id(span_id) < 2**64


@given(ids=st.sets(st.integers(min_value=1, max_value=2**64 - 1), min_size=2, max_size=50))
def test_distinct_ids_stay_distinct(ids: set[int]) -> None:
    """Distinct recorded span IDs map to distinct new IDs (no collision in practice at 64 bits)."""
    mapper = IdMapper(KEY)

    assert len({mapper.span_id(span_id) for span_id in ids}) == len(ids)


def _linked_recording(tmp_path: Path) -> Path:
    spans = [
        Span(ROOT_TRACE, "b7ad6b7169203331", "charge", start=SECOND, end=2 * SECOND, parent_span_id="00f067aa0ba902b7"),
        Span(ROOT_TRACE, "00f067aa0ba902b7", "checkout", start=0, end=4 * SECOND),
        Span(
            OTHER_TRACE,
            "53995c3f42cd8ad8",
            "send receipt",
            start=5 * SECOND,
            end=6 * SECOND,
            links=((ROOT_TRACE, "00f067aa0ba902b7"),),
        ),
        Span(
            OTHER_TRACE,
            "1111111111111111",
            "remote child",
            start=5 * SECOND,
            end=6 * SECOND,
            parent_span_id="2222222222222222",
        ),
    ]
    logs = [
        Log(SECOND // 2, "cart loaded", ROOT_TRACE, "00f067aa0ba902b7"),
        Log(3 * SECOND, "charged", ROOT_TRACE, "b7ad6b7169203331"),
        Log(7 * SECOND, "no trace"),
    ]
    return write_recording(tmp_path / "linked.jsonl", spans, logs)


def _received(receiver: OTLPReceiver) -> tuple[dict[str, Any], list[Any]]:
    spans = {span.name: span for _, _, span in receiver.received.spans()}
    logs = [record for _, _, record in receiver.received.log_records()]
    return spans, logs


def test_new_ids_follow_parents_links_and_logs(tmp_path: Path, receiver: OTLPReceiver) -> None:
    """Parents, links and log records carry the new IDs of the spans they refer to; nothing keeps an old ID."""
    result = run_cli("replay", _linked_recording(tmp_path), "--endpoint", receiver.url, "--new-ids")

    assert result.exit_code == 0, result.stderr
    spans, logs = _received(receiver)
    checkout, charge, receipt, remote = spans["checkout"], spans["charge"], spans["send receipt"], spans["remote child"]
    assert checkout.trace_id.hex() != ROOT_TRACE
    assert charge.trace_id == checkout.trace_id
    assert charge.parent_span_id == checkout.span_id
    assert checkout.parent_span_id == b""
    assert receipt.trace_id not in (checkout.trace_id, bytes.fromhex(OTHER_TRACE))
    assert receipt.links[0].trace_id == checkout.trace_id
    assert receipt.links[0].span_id == checkout.span_id
    assert remote.trace_id == receipt.trace_id
    assert remote.parent_span_id not in (b"", bytes.fromhex("2222222222222222"))
    assert (logs[0].trace_id, logs[0].span_id) == (checkout.trace_id, checkout.span_id)
    assert (logs[1].trace_id, logs[1].span_id) == (charge.trace_id, charge.span_id)
    assert (logs[2].trace_id, logs[2].span_id) == (b"", b"")


def test_loop_passes_get_distinct_ids(tmp_path: Path, receiver: OTLPReceiver) -> None:
    """--loop 3 --new-ids sends three copies of each trace, each with its own IDs and the same shape."""
    result = run_cli("replay", _linked_recording(tmp_path), "--endpoint", receiver.url, "--new-ids", "--loop", "3")

    assert result.exit_code == 0, result.stderr
    received = [span for _, _, span in receiver.received.spans()]
    assert len(received) == 3 * 4
    assert len({span.span_id for span in received}) == 12
    assert len({span.trace_id for span in received}) == 3 * 2
    by_id = {span.span_id: span for span in received}
    for span in received:
        if span.name == "charge":
            assert by_id[span.parent_span_id].name == "checkout"
            assert by_id[span.parent_span_id].trace_id == span.trace_id


def test_dedupe_uses_recorded_ids(receiver: OTLPReceiver) -> None:
    """latest.json repeats the session file; with --new-ids the duplicates are still recognised and skipped."""
    result = run_cli("replay", CODEMACHINE / "traces", "--endpoint", receiver.url, "--new-ids", "--json")

    summary = json.loads(result.stdout)
    assert summary["signals"]["traces"]["skipped_by_reason"] == {"duplicate": 51}
    assert summary["signals"]["traces"]["orphan_spans"] == 3
    span_keys = [(span.trace_id, span.span_id) for _, _, span in receiver.received.spans()]
    assert len(span_keys) == 51 + 1000
    assert len(set(span_keys)) == len(span_keys)
