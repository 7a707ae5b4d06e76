"""End to end into oteltap, an independent OTLP/HTTP receiver: the spans and logs it decodes match the files."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

from oteltap import OtelTapHttpProtobufReceiver, OtelTapHttpProtobufReceiverSettings

from tests.conftest import SESSION_B_LOGS, SESSION_B_SPANS, run_cli
from tests.otlp import expected_attributes, expected_value, from_any_value, from_attributes, load_json, ms_to_ns

TIMEOUT_SECONDS = 30


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _collect(stream: AsyncIterator[Any], count: int, into: list[Any]) -> None:
    async for item in stream:
        into.append(item)
        if len(into) == count:
            return


async def _replay_into_oteltap(span_count: int, log_count: int) -> tuple[int, list[Any], list[Any]]:
    port = _free_port()
    settings = OtelTapHttpProtobufReceiverSettings(http_port=port)
    spans: list[Any] = []
    logs: list[Any] = []
    async with OtelTapHttpProtobufReceiver(settings) as tap:
        # oteltap drops what arrives before a subscriber exists, so subscribe before replaying.
        collectors = [
            asyncio.create_task(_collect(tap.stream_traces(), span_count, spans)),
            asyncio.create_task(_collect(tap.stream_logs(), log_count, logs)),
        ]
        await asyncio.sleep(0)
        endpoint = f"http://127.0.0.1:{port}"
        result = await asyncio.to_thread(run_cli, "replay", SESSION_B_SPANS, SESSION_B_LOGS, "--endpoint", endpoint)
        await asyncio.wait_for(asyncio.gather(*collectors), TIMEOUT_SECONDS)
    return result.exit_code, spans, logs


def test_oteltap_receives_every_span_and_log() -> None:
    """oteltap decodes each span with its IDs, times, kind, status, attributes and events, and each log record."""
    span_document = load_json(SESSION_B_SPANS)
    log_document = load_json(SESSION_B_LOGS)

    exit_code, spans, logs = asyncio.run(_replay_into_oteltap(len(span_document["spans"]), len(log_document["logs"])))

    assert exit_code == 0
    assert len(spans) == len(span_document["spans"])
    assert len(logs) == len(log_document["logs"])

    received = {span.span_id.hex(): span for span in spans}
    for json_span in span_document["spans"]:
        span = received[json_span["spanId"]]
        assert span.trace_id.hex() == json_span["traceId"]
        assert span.parent_span_id.hex() == json_span.get("parentSpanId", "")
        assert span.start_time_unix_nano == ms_to_ns(json_span["startTime"])
        assert span.end_time_unix_nano == ms_to_ns(json_span["endTime"])
        assert span.kind == 1
        assert span.status.code == json_span["status"]["code"]
        assert from_attributes(span.attributes) == expected_attributes(json_span["attributes"])
        assert [event.time_unix_nano for event in span.events] == [ms_to_ns(e["time"]) for e in json_span["events"]]

    received_logs = sorted(
        repr((record.time_unix_nano, from_any_value(record.body), record.trace_id.hex(), record.severity_number))
        for record in logs
    )
    expected_logs = sorted(
        repr(
            (
                json_log["timestamp"][0] * 1_000_000_000 + json_log["timestamp"][1],
                expected_value(json_log.get("body")),
                json_log["attributes"].get("trace.id", ""),
                json_log.get("severityNumber", 0),
            )
        )
        for json_log in log_document["logs"]
    )
    assert received_logs == expected_logs
