"""Time each stage of a replay of one CodeMachine file in this process: parse, decode, dedupe, encode.

It shows where the time of `otel-replay replay` goes, without the HTTP requests, interpreter
start or worker processes. Each stage runs on its own over the whole input, so the stage
times add up to about one single-process replay. Generate an input with bench_scaling.py.

Example:
    .venv/bin/python benchmarks/bench_stages.py /tmp/perf-bench/traces-200000.json
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from otel_replay.encode import RequestEncoder
from otel_replay.formats import codemachine
from otel_replay.model import LogData, SpanData
from otel_replay.rebuild import Rebuilder, encode_request
from otel_replay.transform import Deduplicator, ParentIndex

BATCH_SIZE = 512


def timed(label: str, records: int, function: Any) -> Any:
    started = time.process_time()
    result = function()
    seconds = time.process_time() - started
    print(f"{label:<58} {seconds:8.2f} s CPU {seconds / records * 1e6:8.1f} us/record", flush=True)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", type=Path, help="a CodeMachine trace or log file")
    parser.add_argument("--official", action="store_true", help="also time the official encoders (slow)")
    arguments = parser.parse_args()
    path: Path = arguments.path
    data = path.read_bytes()

    count = len(orjson.loads(data).get("spans") or orjson.loads(data).get("logs"))
    print(f"{path.name}: {count:,} records, {len(data) / 1e6:.1f} MB, Python {sys.version.split()[0]}")
    gc.disable()
    timed("orjson.loads of the whole file, gc off (floor)", count, lambda: orjson.loads(data))
    gc.enable()
    timed("orjson.loads of the whole file, gc on", count, lambda: orjson.loads(data))
    timed("json.loads with Decimal floats, the exact parser", count, lambda: json.loads(data, parse_float=Decimal))

    records = timed(
        "codemachine.read: stream, parse with orjson, decode",
        count,
        lambda: [item for item in codemachine.read(path) if isinstance(item, (SpanData, LogData))],
    )
    deduplicator = Deduplicator()
    parents = ParentIndex(deduplicator.span_keys)

    def dedupe() -> None:
        for record in records:
            deduplicator.is_duplicate(record)
            if isinstance(record, SpanData):
                parents.add(record)

    timed("Deduplicator and ParentIndex", count, dedupe)
    batches = [records[start : start + BATCH_SIZE] for start in range(0, len(records), BATCH_SIZE)]
    encoder = RequestEncoder()
    is_spans = isinstance(records[0], SpanData)
    timed(
        "RequestEncoder (direct encoding, batches of 512)",
        count,
        lambda: [encoder.spans(batch) if is_spans else encoder.logs(batch) for batch in batches],
    )
    if arguments.official:
        signal = records[0].signal
        timed(
            "official path: rebuild, encode_*, complete, serialize",
            count,
            lambda: [encode_request(signal, batch, Rebuilder()).SerializeToString() for batch in batches],
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
