"""The orjson path parses numbers exactly, or refuses them so the exact Decimal parser reads them."""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from otel_replay.formats import codemachine, fastjson
from otel_replay.model import Location, LogData, SpanData
from otel_replay.values import NANOS_PER_MILLISECOND, to_unix_nano
from tests.conftest import SESSION_A_LOGS, SESSION_A_SPANS


def _exact_nanos(text: str) -> int:
    """Reference: the decimal as written, scaled by 10**6 with rational arithmetic, rounded half to even."""
    return round(Fraction(text) * NANOS_PER_MILLISECOND)


def _parse_or_none(text: str) -> object:
    try:
        return fastjson.loads(text)
    except fastjson.NotExact:
        return None


@given(
    seconds=st.integers(min_value=0, max_value=4_000_000_000),
    nanos=st.integers(min_value=0, max_value=999_999_999),
)
def test_js_written_times_take_the_fast_path(seconds: int, nanos: int) -> None:
    """Times as the JS SDK writes them (shortest round-trip decimals) parse with orjson and convert exactly."""
    written = repr(seconds * 1e3 + nanos / 1e6)

    span = fastjson.loads(f'{{"endTime": {written}}}')

    assert isinstance(span, dict)
    assert to_unix_nano(span["endTime"], NANOS_PER_MILLISECOND, "endTime") == _exact_nanos(written)


@given(
    whole=st.integers(min_value=0, max_value=10**13),
    fraction=st.text(alphabet="0123456789", min_size=0, max_size=40),
)
def test_long_decimals_are_exact_or_refused(whole: int, fraction: str) -> None:
    """Hand-written decimals either convert to the nanoseconds of their digits or go to the exact parser."""
    written = f"{whole}.{fraction}" if fraction else str(whole)

    parsed = _parse_or_none(f"[{written}]")

    if parsed is not None:
        assert isinstance(parsed, list)
        assert to_unix_nano(parsed[0], NANOS_PER_MILLISECOND, "time") == _exact_nanos(written)


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_any_double_repr_round_trips(number: float) -> None:
    """A double written with repr parses back to the same double, as the Decimal path gives it."""
    written = repr(number)

    parsed = fastjson.loads(written)

    assert parsed == float(json.loads(written, parse_float=Decimal))
    assert Decimal(repr(parsed)) == Decimal(written)


@given(st.integers(min_value=-(2**70), max_value=2**70))
def test_integers_are_exact_or_refused(number: int) -> None:
    """orjson turns integers beyond 64 bits into floats, so those are refused."""
    parsed = _parse_or_none(str(number))

    if parsed is not None:
        assert parsed == number
        assert isinstance(parsed, int)
    else:
        assert not -(2**63) <= number <= 2**64 - 1


@pytest.mark.parametrize(
    "text",
    [
        '{"time": 1796413207753.12345650000000000000000000000000000001}',
        '{"time": 0.10000000000000001}',
        '{"count": 18446744073709551616}',
        '{"count": -9223372036854775809}',
        '{"name": "\\ud83d"}',
        '{"time": 1e400}',
    ],
)
def test_inexact_or_rejected_text_is_refused(text: str) -> None:
    """Digits a double would lose, wide integers, lone surrogates and overflowing exponents go to the exact parser."""
    with pytest.raises(fastjson.NotExact):
        fastjson.loads(text)


def test_digits_in_strings_only_cost_a_check() -> None:
    """A long digit run inside a string that is a valid number which round-trips does not refuse the value."""
    assert fastjson.loads('{"id": "12345678901234567", "t": 1796218006550.2722}') == {
        "id": "12345678901234567",
        "t": 1796218006550.2722,
    }


@pytest.mark.parametrize("source", [SESSION_A_SPANS, SESSION_A_LOGS])
def test_codemachine_layouts_read_alike(tmp_path: Path, source: Path) -> None:
    """A compact file (exact parser) and a pretty-printed one (orjson per record) give the same records."""
    compact = tmp_path / "compact.json"
    compact.write_text(json.dumps(json.loads(source.read_text(encoding="utf-8"))), encoding="utf-8")

    pretty_records = [_without_location(item) for item in codemachine.read(source)]
    compact_records = [_without_location(item) for item in codemachine.read(compact)]

    assert len(pretty_records) == 1000
    assert pretty_records == compact_records


def _without_location(item: object) -> object:
    if isinstance(item, (SpanData, LogData)):
        return dataclasses.replace(item, location=Location(Path()), resource=None, scope=None)  # type: ignore[arg-type]
    return type(item).__name__
