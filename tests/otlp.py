"""Helpers that turn received protobuf values and file values into comparable Python values."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def load_json(path: Path) -> Any:
    """Parse a file keeping decimal numbers exact, as an independent reference for the reader."""
    return json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)


def from_any_value(value: Any) -> tuple[str, Any]:
    """Return a received AnyValue as (type, value), so that int 2 and double 2.0 differ."""
    kind = value.WhichOneof("value")
    if kind is None:
        return ("empty", None)
    if kind == "array_value":
        return ("array", [from_any_value(item) for item in value.array_value.values])
    if kind == "kvlist_value":
        return ("kvlist", {pair.key: from_any_value(pair.value) for pair in value.kvlist_value.values})
    return (kind.removesuffix("_value"), getattr(value, kind))


def from_attributes(pairs: Any) -> dict[str, tuple[str, Any]]:
    """Return received key-value pairs as a dict of typed values."""
    return {pair.key: from_any_value(pair.value) for pair in pairs}


def expected_value(json_value: Any) -> tuple[str, Any]:
    """Return the typed value a JSON value from a file must arrive as."""
    if json_value is None:
        return ("empty", None)
    if isinstance(json_value, bool):
        return ("bool", json_value)
    if isinstance(json_value, int):
        return ("int", json_value)
    if isinstance(json_value, Decimal):
        return ("double", float(json_value))
    if isinstance(json_value, str):
        return ("string", LONE_SURROGATE.sub("\ufffd", json_value))
    if isinstance(json_value, list):
        return ("array", [expected_value(item) for item in json_value])
    return ("kvlist", {key: expected_value(item) for key, item in json_value.items()})


def expected_attributes(json_attributes: dict[str, Any] | None) -> dict[str, tuple[str, Any]]:
    """Return the typed attributes a JSON object of attributes must arrive as."""
    return {key: expected_value(value) for key, value in (json_attributes or {}).items()}


def ms_to_ns(milliseconds: int | Decimal) -> int:
    """Convert milliseconds as written in the file to nanoseconds, exactly."""
    nanos = Decimal(milliseconds) * 1_000_000
    assert nanos == nanos.to_integral_value(), f"{milliseconds} ms has digits below 1 ns"
    return int(nanos)
