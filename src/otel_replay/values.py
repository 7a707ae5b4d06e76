"""Decode JSON values into values OTLP can carry, and JSON numbers into integer nanoseconds.

Readers parse numbers with `decimal.Decimal`, or as floats only where the float's repr has
the value of the literal written (formats/fastjson.py). So a time is converted from the
digits written in the file, never from a rounded binary float.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping
from decimal import ROUND_HALF_EVEN, Context, Decimal
from typing import Final

import orjson

from otel_replay.errors import RecordError
from otel_replay.model import AnyValue, Location, Notice

__all__ = [
    "NANOS_PER_MICROSECOND",
    "NANOS_PER_MILLISECOND",
    "NANOS_PER_SECOND",
    "decode_attributes",
    "decode_text",
    "decode_value",
    "digits_to_unix_nano",
    "iso_to_unix_nano",
    "json_type",
    "show",
    "to_unix_nano",
]

NANOS_PER_SECOND: Final = 1_000_000_000
NANOS_PER_MILLISECOND: Final = 1_000_000
NANOS_PER_MICROSECOND: Final = 1_000

# OTLP carries integers as int64 and the SDK's encoder drops anything outside that range.
_INT64_MIN: Final = -(2**63)
_INT64_MAX: Final = 2**63 - 1
_MAX_UNIX_NANO: Final = 2**64 - 1  # fixed64 in the protocol
_DIGITS_BELOW_UNIT: Final = {NANOS_PER_SECOND: 9, NANOS_PER_MILLISECOND: 6, NANOS_PER_MICROSECOND: 3, 1: 0}
_POWERS_OF_TEN: Final = tuple(10**exponent for exponent in range(19))
_ISO_TIME: Final = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?(Z|[+-]\d{2}:?\d{2})?",
    re.IGNORECASE,
)
_LONE_SURROGATE: Final = re.compile("[\ud800-\udfff]")
# The default context keeps 28 significant digits and would round long hand-written decimals.
# This precision makes scaling any time within range to nanoseconds exact.
_EXACT: Final = Context(prec=120, rounding=ROUND_HALF_EVEN)


def to_unix_nano(value: object, nanos_per_unit: int, field: str) -> int:
    """Convert a JSON number of time units since the epoch into integer nanoseconds.

    The conversion is exact for the decimal as written: ``1796413207753`` ms becomes
    ``1796413207753000000`` ns, where float arithmetic would give ...752999936.
    Digits below one nanosecond are rounded half to even.

    Raises:
        RecordError: the value is not a number, is negative, or is out of range.
    """
    if isinstance(value, float):
        # Readers give a float only where its repr has the value of the literal written
        # (formats/fastjson.py), so the conversion still starts from the written digits.
        unix_nano = _float_to_unix_nano(value, nanos_per_unit)
        if unix_nano is not None:
            return unix_nano
        value = Decimal(repr(value))
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        msg = f"expected a number of {_unit_name(nanos_per_unit)} since the Unix epoch, got {_show(value)}"
        raise RecordError(field, msg)

    if isinstance(value, int):
        unix_nano = value * nanos_per_unit
    else:
        if not value.is_finite():
            raise RecordError(field, f"expected a finite number, got {value}")
        if value.adjusted() > 30:
            msg = f"time {_show(value)} is outside the range OTLP can carry (0 to year 2554)"
            raise RecordError(field, msg)
        scaled = _EXACT.multiply(value, Decimal(nanos_per_unit))
        unix_nano = int(scaled.quantize(Decimal(1), context=_EXACT))

    if not 0 <= unix_nano <= _MAX_UNIX_NANO:
        msg = f"time {_show(value)} is outside the range OTLP can carry (0 to year 2554)"
        raise RecordError(field, msg)
    return unix_nano


def literal_to_unix_nano(literal: str, nanos_per_unit: int, field: str) -> int:
    """Convert a JSON number literal of time units since the epoch into integer nanoseconds, as `to_unix_nano` does.

    Raises:
        RecordError: the value is negative or out of range.
    """
    unix_nano = digits_to_unix_nano(literal, nanos_per_unit)
    if unix_nano is not None:
        return unix_nano
    return to_unix_nano(Decimal(literal), nanos_per_unit, field)


def _float_to_unix_nano(value: float, nanos_per_unit: int) -> int | None:
    """Scale the digits of repr(value) with integer arithmetic, or return None to leave it to Decimal.

    Handles the common case of a plain decimal with at most as many fraction digits as the
    unit has nanosecond digits, such as 1796218006550.2722 ms, where the result is exact.
    """
    return digits_to_unix_nano(repr(value), nanos_per_unit)


def digits_to_unix_nano(text: str, nanos_per_unit: int) -> int | None:
    """Scale a plain decimal such as 1796218006550.2722 exactly with integers, or return None to leave it to Decimal.

    It takes ASCII digits with a fraction of at most as many digits as the unit has
    nanosecond digits, and returns None for anything else.
    """
    whole, dot, fraction = text.partition(".")
    scale = _DIGITS_BELOW_UNIT.get(nanos_per_unit)
    if scale is None:
        scale = len(str(nanos_per_unit)) - 1  # nanos_per_unit is a power of ten
    # isdigit alone would also accept digits of other scripts.
    if not (dot and len(fraction) <= scale and text.isascii() and whole.isdigit() and fraction.isdigit()):
        return None
    unix_nano = int(whole) * nanos_per_unit + int(fraction) * _POWERS_OF_TEN[scale - len(fraction)]
    return unix_nano if unix_nano <= _MAX_UNIX_NANO else None


def iso_to_unix_nano(value: object, field: str) -> int:
    """Convert an ISO-8601 UTC time such as ``2026-12-04T19:40:09.983Z`` into integer nanoseconds.

    The fraction is read digit by digit, so up to nine decimals convert exactly. A time
    without an offset is taken as UTC.

    Raises:
        RecordError: the value is not an ISO-8601 time.
    """
    match = _ISO_TIME.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise RecordError(field, f"expected an ISO-8601 time such as 2026-12-04T19:40:09.983Z, got {_show(value)}")

    year, month, day, hour, minute, second = (int(part) for part in match.groups()[:6])
    fraction = (match.group(7) or "").ljust(9, "0")
    try:
        seconds = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))
    except (ValueError, OverflowError) as error:
        raise RecordError(field, f"invalid date or time {value!r}") from error
    if not (1 <= month <= 12 and 1 <= day <= 31 and hour < 24 and minute < 60 and second < 61):
        raise RecordError(field, f"invalid date or time {value!r}")

    offset = match.group(8) or "Z"
    if offset.upper() != "Z":
        sign = 1 if offset[0] == "+" else -1
        digits = offset[1:].replace(":", "")
        seconds -= sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)
    if seconds < 0:
        raise RecordError(field, f"time {value!r} is before 1970, which OTLP cannot carry")
    return seconds * NANOS_PER_SECOND + int(fraction)


def decode_text(text: str, location: Location, notices: list[Notice]) -> str:
    """Return `text` with lone UTF-16 surrogates replaced by U+FFFD, noting each replacement.

    JavaScript writes a lone surrogate escape such as ``\\ud83d`` when it cuts a string in the
    middle of an emoji. Such a string has no UTF-8 form, so it cannot be sent unchanged.
    """
    # isascii() is a constant-time flag check on CPython strings.
    if text.isascii() or _LONE_SURROGATE.search(text) is None:
        return text

    count = len(_LONE_SURROGATE.findall(text))
    notices.append(
        Notice(location, f"replaced {count} lone UTF-16 surrogate(s) with U+FFFD, since UTF-8 cannot encode them")
    )
    return _LONE_SURROGATE.sub("\ufffd", text)


def decode_attributes(json_attributes: object, location: Location, notices: list[Notice]) -> dict[str, AnyValue]:
    """Decode a JSON object of attributes, keeping each value's type.

    Raises:
        RecordError: `json_attributes` is not an object.
    """
    if json_attributes is None:
        return {}
    if not isinstance(json_attributes, Mapping):
        msg = f"expected an object of attributes, got {_show(json_attributes)}"
        raise RecordError(location.field or "attributes", msg)

    attributes: dict[str, AnyValue] = {}
    for key, json_value in json_attributes.items():
        plain = _plain_scalar(json_value)
        if plain is not _NOT_PLAIN and (key.isascii() or _LONE_SURROGATE.search(key) is None):
            # Most attributes are clean scalars; skipping the Location saves time per record.
            attributes[key] = plain  # type: ignore[assignment]  # a scalar AnyValue when not _NOT_PLAIN
            continue
        key_location = _child(location, f"[{_quote(key)}]")
        clean_key = decode_text(key, key_location, notices)
        attributes[clean_key] = decode_value(json_value, key_location, notices)
    return attributes


_NOT_PLAIN: Final = object()


def _plain_scalar(json_value: object) -> object:
    """Return a scalar that needs no notice as its OTLP value, or _NOT_PLAIN."""
    if isinstance(json_value, str):
        return json_value if json_value.isascii() or _LONE_SURROGATE.search(json_value) is None else _NOT_PLAIN
    if json_value is None or isinstance(json_value, bool):
        return json_value
    if isinstance(json_value, int):
        return json_value if _INT64_MIN <= json_value <= _INT64_MAX else _NOT_PLAIN
    if isinstance(json_value, float):
        return json_value
    if isinstance(json_value, Decimal):
        return float(json_value)
    return _NOT_PLAIN


def decode_value(json_value: object, location: Location, notices: list[Notice]) -> AnyValue:
    """Decode one JSON value: strings, booleans, numbers, null, arrays and objects.

    An integer outside int64 becomes its decimal string, with a notice, because the
    protocol has no wider integer and dropping it would lose data silently.
    """
    if json_value is None or isinstance(json_value, bool):
        return json_value
    if isinstance(json_value, str):
        return decode_text(json_value, location, notices)
    if isinstance(json_value, int):
        return _decode_int(json_value, location, notices)
    if isinstance(json_value, Decimal):
        return float(json_value)
    if isinstance(json_value, float):
        return json_value
    if isinstance(json_value, list):
        return [decode_value(item, _child(location, f"[{index}]"), notices) for index, item in enumerate(json_value)]
    if isinstance(json_value, Mapping):
        return decode_attributes(json_value, location, notices)

    notices.append(Notice(location, f"sent a value of type {type(json_value).__name__} as a JSON string"))
    return orjson.dumps(json_value, default=str).decode()


def _decode_int(value: int, location: Location, notices: list[Notice]) -> AnyValue:
    if _INT64_MIN <= value <= _INT64_MAX:
        return value

    notices.append(
        Notice(location, f"integer {value} is outside int64, which OTLP requires, so it is sent as a string")
    )
    return str(value)


def json_type(value: object) -> str:
    """Name the JSON type of a parsed value for a message: "null", "a boolean", "a number" and so on."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float, Decimal)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


def show(value: object) -> str:
    """Return a parsed JSON value as a message shows it, cut to 60 characters."""
    if isinstance(value, str):
        text = repr(value)
    elif isinstance(value, Decimal):
        text = str(value)
    else:
        try:
            text = orjson.dumps(value, default=str).decode()
        except TypeError:  # orjson rejects integers wider than 64 bits
            text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _child(location: Location, suffix: str) -> Location:
    return Location(location.path, location.index, f"{location.field or ''}{suffix}")


def _quote(key: str) -> str:
    return orjson.dumps(key).decode() if _LONE_SURROGATE.search(key) is None else repr(key)


def _unit_name(nanos_per_unit: int) -> str:
    names = {NANOS_PER_SECOND: "seconds", NANOS_PER_MILLISECOND: "milliseconds"}
    return names.get(nanos_per_unit, "microseconds" if nanos_per_unit == NANOS_PER_MICROSECOND else "nanoseconds")


def _show(value: object) -> str:
    if value is None:
        # Readers pass None both for JSON null and for a field that is not there.
        return "no value (the field is missing or null)"
    text = repr(value) if not isinstance(value, Decimal) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."
