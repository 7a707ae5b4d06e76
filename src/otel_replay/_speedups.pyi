from typing import Any

from otel_replay.plainotlp import PlainOtlpSpan
from otel_replay.plainspan import PlainSpan

def encode_codemachine_span(
    index: int, text: str, span: dict[str, object], shift: int, event_times: list[int] | None, /
) -> PlainSpan | None: ...
def encode_codemachine_log_message(log: dict[str, Any], shift: int, /) -> tuple[int, bytes, bytes, bytes] | None: ...
def encode_otlp_span(span: dict[str, Any], shift: int, /) -> PlainOtlpSpan | None: ...
