"""Time conversion: milliseconds as written become integer nanoseconds, decimal-exact."""

from __future__ import annotations

import json
import math
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from otel_replay.errors import RecordError
from otel_replay.values import NANOS_PER_MILLISECOND, to_unix_nano


def _parse(text: str) -> object:
    """Parse a JSON number the way the CodeMachine reader does."""
    return json.loads(text, parse_float=Decimal)


def _exact_nanos(text: str) -> int:
    """Reference: the decimal as written, scaled by 10**6 with rational arithmetic, rounded half to even."""
    return round(Fraction(text) * NANOS_PER_MILLISECOND)


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("1796413207753", 1796413207753_000000),
        ("1796413207818.6055", 1796413207818_605500),
        ("1796413207987.6543", 1796413207987_654300),
        ("1796413207395.6296", 1796413207395_629600),
        ("0", 0),
        ("0.000001", 1),
        ("1e-7", 0),
        ("1.5e-6", 2),
        ("2.5e-6", 2),
        ("1796413207753.123456", 1796413207753_123456),
        ("1796413207753.1234565", 1796413207753_123456),
        ("1796413207753.12345650000000000000000000000000000001", 1796413207753_123457),
        ("1.796413207753e12", 1796413207753_000000),
    ],
)
def test_milliseconds_table(written: str, expected: int) -> None:
    """Each written number converts to the listed nanoseconds."""
    assert to_unix_nano(_parse(written), NANOS_PER_MILLISECOND, "startTime") == expected


def test_float_arithmetic_would_be_wrong() -> None:
    """The case the conversion exists for: float multiplication is 64 ns off."""
    assert int(1796413207753 * 1e6) == 1796413207752999936
    assert to_unix_nano(1796413207753, NANOS_PER_MILLISECOND, "startTime") == 1796413207753000000


@pytest.mark.parametrize("written", ['"1796413207753"', "true", "null", "-1", "1.5e+300", "[1]"])
def test_invalid_times_are_rejected(written: str) -> None:
    """Strings, booleans, null, negatives, arrays and times past 2554 raise a RecordError naming the field."""
    with pytest.raises(RecordError) as caught:
        to_unix_nano(_parse(written), NANOS_PER_MILLISECOND, "endTime")

    assert caught.value.field == "endTime"


@given(
    seconds=st.integers(min_value=0, max_value=4_000_000_000),
    nanos=st.integers(min_value=0, max_value=999_999_999),
)
def test_js_serialized_times_are_exact(seconds: int, nanos: int) -> None:
    """Any time the JS SDK writes converts exactly to the decimal it wrote.

    The JS SDK computes ``seconds * 1e3 + nanos / 1e6`` in doubles and JSON.stringify writes the
    shortest decimal that round-trips; Python's repr writes the same digits.
    """
    milliseconds = seconds * 1e3 + nanos / 1e6
    written = repr(milliseconds)

    converted = to_unix_nano(_parse(written), NANOS_PER_MILLISECOND, "endTime")

    assert converted == _exact_nanos(written)
    assert abs(converted - (seconds * 1_000_000_000 + nanos)) <= math.ulp(milliseconds) * NANOS_PER_MILLISECOND


@given(
    whole=st.integers(min_value=0, max_value=10**13),
    fraction=st.text(alphabet="0123456789", min_size=0, max_size=40),
)
def test_long_decimals_are_exact(whole: int, fraction: str) -> None:
    """Hand-written decimals with more digits than a double can represent still convert from the digits as written."""
    written = f"{whole}.{fraction}" if fraction else str(whole)

    assert to_unix_nano(_parse(written), NANOS_PER_MILLISECOND, "time") == _exact_nanos(written)
