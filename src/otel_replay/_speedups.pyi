from otel_replay.plainspan import PlainSpan

def encode_codemachine_span(
    index: int, text: str, span: dict[str, object], shift: int, event_times: list[int] | None, /
) -> PlainSpan | None: ...
