"""Parse JSON with orjson where that keeps every number exact, and raise when it does not.

The readers parse numbers with `Decimal` so that times keep every digit written. orjson is
several times faster but gives floats. A float is as good as the digits when the literal is
the float's shortest round-trip form, because then ``repr(float)`` writes the literal's value
back. That holds for every literal of at most 15 significant digits in the normal range of
doubles (a double tells apart all such decimals), and for longer literals that JavaScript's
number-to-string or Python's `repr` wrote, since both write the shortest round-trip form.
So `loads` checks each literal of 16 or more digits against `repr` and refuses a value whose
literal would lose digits, leaving it to the exact parser. Below the normal range (under
about 1e-308) a float may differ from its literal, but any such time is 0 nanoseconds either
way, and any other number becomes the same double as through `Decimal`. orjson rejects
literals beyond the double range.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Final

import orjson

__all__ = ["NotExact", "NotJson", "loads"]

# Digits and dots become NUL bytes, so one C-speed search finds runs of 16 or more: the
# literals that may not survive a double. Runs inside strings are checked too, which costs
# time, not correctness.
_MARK_DIGITS: Final = bytes.maketrans(b"0123456789.", b"\x00" * 11)
_LONG_RUN: Final = b"\x00" * 16
_LITERAL: Final = re.compile(rb"-?[0-9.]+(?:[eE][-+]?[0-9]+)?")
_INT_MIN: Final = -(2**63)  # orjson keeps integers from int64's minimum to uint64's maximum exact
_UINT_MAX: Final = 2**64 - 1


class NotExact(ValueError):  # noqa: N818  # a condition, not an error: the caller falls back
    """The text is not JSON orjson accepts, or one of its numbers would not keep its digits."""


class NotJson(NotExact):
    """orjson rejects the text: it is not one JSON value, or it has a lone surrogate escape."""


def loads(text: str) -> object:
    """Parse one JSON value, with floats whose `repr` has the value of the literal written.

    Raises:
        NotJson: orjson rejects the text (such as a lone surrogate escape, which the
            standard library accepts).
        NotExact: a number would lose digits as a float.
    """
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as error:
        raise NotJson(str(error)) from error

    data = text.encode()
    marked = data.translate(_MARK_DIGITS)
    position = marked.find(_LONG_RUN)
    while position >= 0:
        start = position - 1 if position and data[position - 1] == ord("-") else position
        match = _LITERAL.match(data, start)
        literal = match.group().decode() if match else ""
        if not _round_trips(literal):
            msg = f"the number {literal} does not round-trip through a double"
            raise NotExact(msg)
        position = marked.find(_LONG_RUN, start + len(literal) + 1)
    return value


def _round_trips(literal: str) -> bool:
    if literal.lstrip("-").isdigit():
        return _INT_MIN <= int(literal) <= _UINT_MAX
    try:
        shortest = repr(float(literal))
    except ValueError:  # a digit run with two dots, found inside a string
        return False
    # JavaScript and repr write most numbers alike, which spares the Decimal comparison.
    return shortest == literal or Decimal(literal) == Decimal(shortest)
