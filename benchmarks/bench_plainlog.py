"""Measure the CPU time per log record of a worker's full path and of the plain-log path.

The script generates CodeMachine log records with `bench_scaling.generate_logs`: 8 to 12
attributes with trace.id and span.id, a string body and a resource of 3 attributes. It parses
each from its JSON text as a worker does, and times both paths in one process, with the
workers' garbage collector settings:

- full: `codemachine.decode_elements`, then the workers' `_Results` per record (resource key,
  `log_identity` and `RequestEncoder.log_message`);
- plain: `PlainLogEncoder.encode` per record.

It prints the CPU time (`time.process_time`) per record of each, the best of `--repeat`
runs, and checks that both give the same results.

Example:
    .venv/bin/python benchmarks/bench_plainlog.py --records 50000 --repeat 3
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).parent))

from bench_scaling import generate_logs

from otel_replay import workers
from otel_replay.encode import RequestEncoder
from otel_replay.formats import codemachine
from otel_replay.model import LogData, ResourceData
from otel_replay.plainlog import PlainLogEncoder

PATH = Path("generated-logs.json")
SERVICE = "codemachine"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=50_000, help="log records per run (default 50000)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each path; the best is shown (default 3)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the generated records (default 1)")
    arguments = parser.parse_args()

    texts = [orjson.dumps(record) for record in generate_logs(arguments.records, arguments.seed)]
    gc.collect()
    gc.freeze()
    gc.set_threshold(100_000, 50, 1000)

    full_times, plain_times = [], []
    full_results: list[Any] = []
    plain_results: list[Any] = []
    for _ in range(arguments.repeat):
        seconds, full_results = time_full_path([orjson.loads(text) for text in texts])
        full_times.append(seconds)
        seconds, plain_results = time_plain_path([orjson.loads(text) for text in texts])
        plain_times.append(seconds)

    # The full path sends a resource's attributes with its first record only.
    first_keys: set[bytes | None] = set()
    for result in plain_results:
        if result[1] in first_keys:
            result[2] = None
        first_keys.add(result[1])
    if [list(result) for result in full_results] != plain_results:
        sys.exit("The plain path's results differ from the full path's.")

    full = min(full_times) / arguments.records * 1e6
    plain = min(plain_times) / arguments.records * 1e6
    print(f"records per run: {arguments.records}, best of {arguments.repeat} runs, CPU time per record")
    print(f"full path:  {full:6.2f} µs")
    print(f"plain path: {plain:6.2f} µs ({plain / full:.0%} of the full path)")


def time_full_path(values: list[object]) -> tuple[float, list[Any]]:
    fallback = ResourceData({"service.name": SERVICE})
    results = workers._Results(RequestEncoder(), fallback, runs=False, shift=0)  # the workers' own step
    start = time.process_time()
    for item in codemachine.decode_elements(PATH, "logs", SERVICE, values, 0, fallback):
        if not isinstance(item, LogData):
            sys.exit(f"The full path gave {item} for a generated record.")
        results.add_items(iter([item]))
    results.end()
    return time.process_time() - start, list(results.list)


def time_plain_path(values: list[object]) -> tuple[float, list[Any]]:
    encoder = PlainLogEncoder()
    fallback = ResourceData({"service.name": SERVICE})
    results = []
    start = time.process_time()
    for index, value in enumerate(values):
        results.append(encoder.encode(index, value, fallback))
    seconds = time.process_time() - start
    if None in results:
        sys.exit("The plain path declined a generated record.")
    return seconds, [list(result) for result in results]


if __name__ == "__main__":
    main()
