from array import array
from collections.abc import Iterator
from typing import Any

from otel_replay.plainotlp import PlainOtlpSpan
from otel_replay.plainspan import PlainSpan

def encode_codemachine_span(
    index: int, text: str, span: dict[str, object], shift: int, event_times: list[int] | None, /
) -> PlainSpan | None: ...
def encode_codemachine_log_message(log: dict[str, Any], shift: int, /) -> tuple[int, bytes, bytes, bytes] | None: ...
def encode_otlp_span(span: dict[str, Any], shift: int, /) -> PlainOtlpSpan | None: ...
def table_update(
    highs: array[int],
    lows: array[int],
    values: array[int],
    size: int,
    limit: int,
    fingerprints: Iterator[tuple[int, int]],
    mode: int,
    operand: int,
    position: int,
    positions: list[int],
    /,
) -> tuple[int, int, bool]: ...
def table_rehash(
    old_highs: array[int],
    old_lows: array[int],
    old_values: array[int],
    highs: array[int],
    lows: array[int],
    values: array[int],
    /,
) -> None: ...
