"""Run otel-replay as ``python -m otel_replay``."""

from otel_replay.cli import main

main()
