"""The command line itself: help text, the demo and usage errors."""

from __future__ import annotations

import json

import pytest
import typer.main

from otel_replay.cli import app
from otel_replay.receiver import OTLPReceiver
from tests.conftest import DATA, SESSION_B_SPANS, run_cli


def _commands() -> list[str]:
    group = typer.main.get_command(app)
    return sorted(group.commands)  # type: ignore[attr-defined]


@pytest.mark.parametrize("command", _commands())
def test_every_option_has_help(command: str) -> None:
    """Each command has a summary and an example, and each of its options has help text."""
    click_command = typer.main.get_command(app).commands[command]  # type: ignore[attr-defined]

    assert click_command.help
    assert "Example:" in click_command.help
    for parameter in click_command.params:
        if parameter.param_type_name == "option":
            assert parameter.help, f"{command} {parameter.opts} has no help"


def test_demo_shows_what_arrived() -> None:
    """The demo replays the bundled bug report into its own receiver and shows the decoded traces."""
    result = run_cli("demo")

    assert result.exit_code == 0, result.stderr
    assert "The receiver decoded 51 spans" in result.stdout
    assert "89 log records" in result.stdout
    assert "241 metric data points" in result.stdout
    assert "2a020191f1d4cd2af6d84c5aaf8e3f51" in result.stdout
    assert "51 duplicate" in result.stderr


def test_demo_json_summary() -> None:
    """demo --json prints only the summary on stdout."""
    result = run_cli("demo", "--json")

    summary = json.loads(result.stdout)
    assert summary["signals"]["traces"]["sent"] == 51
    assert summary["signals"]["logs"]["sent"] == 89
    assert summary["received"]["spans"] == 51
    assert summary["received"]["traces"] == 7
    assert summary["received"]["log_records_with_trace_id"] == 55


def test_missing_path_is_a_usage_error() -> None:
    """A path that does not exist exits with status 2 and names the path."""
    result = run_cli("replay", "no/such/dir", "--endpoint", "http://127.0.0.1:9")

    assert result.exit_code == 2
    assert "path not found: no/such/dir" in result.stderr


def test_endpoint_without_scheme_is_a_usage_error() -> None:
    """An endpoint that is not an http(s) URL exits with status 2 before anything is read."""
    result = run_cli("replay", DATA, "--endpoint", "collector:4318")

    assert result.exit_code == 2
    assert "invalid --endpoint URL 'collector:4318'" in result.stderr


def test_version_is_printed() -> None:
    """--version prints the version on stdout."""
    result = run_cli("--version")

    assert result.exit_code == 0
    assert result.stdout.startswith("otel-replay ")


def _run_with_stderr_tty(*args: str) -> str:
    """Run the CLI in a subprocess whose stderr is a pseudo-terminal, and return what it wrote there."""
    import os
    import pty
    import subprocess
    import sys

    controller, terminal = pty.openpty()
    command = [sys.executable, "-m", "otel_replay", *args]
    with subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=terminal) as process:
        os.close(terminal)
        chunks = []
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # the terminal closes when the process exits
                break
            if not chunk:
                break
            chunks.append(chunk)
        process.wait(timeout=60)
    os.close(controller)
    return b"".join(chunks).decode(errors="replace")


def test_progress_bar_only_on_tty(receiver: OTLPReceiver) -> None:
    """A terminal on stderr shows the progress bar; --quiet turns it off."""
    shown = _run_with_stderr_tty("replay", str(SESSION_B_SPANS), "--endpoint", receiver.url)
    quiet = _run_with_stderr_tty("replay", str(SESSION_B_SPANS), "--endpoint", receiver.url, "--quiet")

    assert "Replaying" in shown
    assert "Replaying" not in quiet


def test_summary_counts_every_warning_printed(receiver: OTLPReceiver) -> None:
    """The summary's warning count includes run-level warnings such as the age of the records, even with --quiet."""
    loud = run_cli("replay", SESSION_B_SPANS, "--endpoint", receiver.url)
    quiet = run_cli("replay", SESSION_B_SPANS, "--endpoint", receiver.url, "--quiet", "--json")

    printed = [line for line in loud.stderr.splitlines() if line.startswith("Warning: ")]
    assert len(printed) >= 2  # the lone surrogate in record 11 and the age of the spans
    assert f"\n0 error(s), {len(printed)} warning(s)" in loud.stderr
    assert json.loads(quiet.stdout)["warnings"] == len(printed)
    assert "Warning" not in quiet.stderr


def test_interrupt_before_reading(receiver: OTLPReceiver, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C while the files are still being found exits with 130 and reports that nothing was sent."""

    def interrupted(*_args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("otel_replay.replay.discover", interrupted)

    result = run_cli("replay", SESSION_B_SPANS, "--endpoint", receiver.url)

    assert result.exit_code == 130
    assert "Interrupted before any record was read; nothing was sent" in result.stderr
    assert receiver.received.traces == []
