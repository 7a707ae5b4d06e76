"""Shared fixtures: hermetic environment, the bundled CodeMachine files, a real OTLP receiver and the CLI."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from otel_replay.cli import app
from otel_replay.receiver import OTLPReceiver

DATA = Path(__file__).parent / "data"
CODEMACHINE = DATA / "codemachine"
SESSION_B_SPANS = CODEMACHINE / "traces" / "2026-12-04" / "19-40-07.json"
SESSION_B_LOGS = CODEMACHINE / "traces" / "2026-12-04" / "19-40-07-logs.json"
SESSION_A_SPANS = CODEMACHINE / "traces" / "2026-12-02" / "13-26-45.json"
SESSION_A_LOGS = CODEMACHINE / "traces" / "2026-12-02" / "13-26-45-logs.json"


@pytest.fixture(autouse=True)
def _hermetic_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Clear OTEL_* variables so the machine's settings cannot change what a test sends."""
    for name in list(os.environ):
        if name.startswith("OTEL_"):
            monkeypatch.delenv(name)


@pytest.fixture
def receiver() -> Iterator[OTLPReceiver]:
    """A real OTLP/HTTP receiver on 127.0.0.1 that decodes every request it accepts."""
    with OTLPReceiver() as started:
        yield started


@dataclass(frozen=True)
class Result:
    """The outcome of one CLI run."""

    exit_code: int
    stdout: str
    stderr: str


def run_cli(*args: str | Path) -> Result:
    """Run the otel-replay CLI in this process and capture its output streams separately."""
    result = CliRunner().invoke(app, [str(arg) for arg in args], catch_exceptions=False)
    return Result(result.exit_code, result.stdout, result.stderr)
