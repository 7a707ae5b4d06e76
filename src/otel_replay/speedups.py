"""The compiled encoders and table loops (`_speedups.c`), where the package was built with them.

They give the same bytes as the plain encoders written in Python, which decide for every
record they decline, and the same tables as the loops of `index.FingerprintTable`. They are
optional: a package built without a C compiler runs the Python code alone.
``OTEL_REPLAY_SPEEDUPS=off`` at run time turns them off, which helps to tell whether a
problem lies in them.
"""

from __future__ import annotations

import os
from array import array
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import TYPE_CHECKING, Any, Final, TypeAlias

if TYPE_CHECKING:
    from otel_replay.plainotlp import PlainOtlpSpan
    from otel_replay.plainspan import PlainSpan

__all__ = [
    "encode_codemachine_log_message",
    "encode_codemachine_span",
    "encode_otlp_span",
    "setting_problem",
    "state",
    "table_rehash",
    "table_update",
]

_module: ModuleType | None
try:
    from otel_replay import _speedups as _module
except ImportError:  # built without a C compiler, or with OTEL_REPLAY_SPEEDUPS=off
    _module = None

_SETTING: Final = os.environ.get("OTEL_REPLAY_SPEEDUPS", "").strip().lower()
_turned_off = _SETTING == "off"

SpanEncoder: TypeAlias = Callable[[int, str, dict[str, object], int, "list[int] | None"], "PlainSpan | None"]
"""`PlainSpanEncoder.encode_text` for a record's text and its parsed JSON, with the shift and event times list."""

LogMessageEncoder: TypeAlias = Callable[[dict[str, Any], int], "tuple[int, bytes, bytes, bytes] | None"]
"""`PlainLogEncoder._message` for a parsed record and the shift: its time, trace and span IDs, and message."""

OtlpSpanEncoder: TypeAlias = Callable[[dict[str, Any], int], "PlainOtlpSpan | None"]
"""`PlainOtlpSpanEncoder.encode` for a parsed span and the shift."""

TableUpdate: TypeAlias = (
    "Callable[[array[int], array[int], array[int], int, int, Iterator[tuple[int, int]], int, int, int, list[int]],"
    " tuple[int, int, bool]]"
)
"""The bulk loops of `index.FingerprintTable`, whose `_update_many` and `_grow` pass the arguments."""
TableRehash: TypeAlias = "Callable[[array[int], array[int], array[int], array[int], array[int], array[int]], None]"

encode_codemachine_span: SpanEncoder | None = None
encode_codemachine_log_message: LogMessageEncoder | None = None
encode_otlp_span: OtlpSpanEncoder | None = None
table_update: TableUpdate | None = None
table_rehash: TableRehash | None = None
if _module is not None and not _turned_off:
    encode_codemachine_span = _module.encode_codemachine_span
    encode_codemachine_log_message = _module.encode_codemachine_log_message
    encode_otlp_span = _module.encode_otlp_span
    table_update = _module.table_update
    table_rehash = _module.table_rehash


def state() -> str:
    """Describe whether the compiled encoders run, for --version and bug reports."""
    if _module is None:
        return "not built (the Python encoders run alone)"
    if _turned_off:
        return "off (OTEL_REPLAY_SPEEDUPS=off)"
    return "on"


def setting_problem() -> str | None:
    """Return a warning about an OTEL_REPLAY_SPEEDUPS value other than off, on or auto, or None."""
    if _SETTING in ("", "off", "on", "auto", "required"):  # the build's values mean on at run time
        return None
    return (
        f"OTEL_REPLAY_SPEEDUPS={_SETTING!r} is not a known value, so the compiled encoders stay {state()}; "
        "set it to off to run the Python encoders alone"
    )
