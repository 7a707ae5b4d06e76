from typing import Any

from otel_replay.plainspan import PlainSpan

def encode_codemachine_span(
    index: int, text: str, span: dict[str, object], shift: int, event_times: list[int] | None, /
) -> PlainSpan | None: ...
def encode_codemachine_log_message(log: dict[str, Any], shift: int, /) -> tuple[int, bytes, bytes, bytes] | None: ...
