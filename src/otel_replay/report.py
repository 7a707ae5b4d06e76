"""Account for every record read (sent, skipped with a reason, or failed) and render the summary."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from otel_replay.model import Location, Signal
from otel_replay.timeshift import format_duration

__all__ = ["Problem", "SignalCounts", "Summary"]

logger = logging.getLogger(__name__)

MAX_PROBLEMS_KEPT: Final = 1000
"""Problems kept for the JSON summary; the counts stay exact beyond it."""

MAX_PROBLEMS_LOGGED: Final = 50
"""Warnings written to stderr per run before the rest are only counted, to keep output readable."""

DUPLICATE: Final = "duplicate"
INVALID: Final = "invalid"
NOT_SELECTED: Final = "signal not selected"
TOO_LARGE: Final = "larger than --max-batch-bytes"
REJECTED: Final = "rejected by the receiver"
INTERRUPTED: Final = "interrupted"
"""The reason of records that were read but not delivered because the user pressed Ctrl-C."""
EXIT_INTERRUPTED: Final = 130
"""The exit status of a run stopped by Ctrl-C, as shells report a process ended by SIGINT."""
COUNTED: Final = {"otel_replay_counted": True}
"""Logging `extra` of a message that the summary counts already, so that the CLI does not count it again."""

_NOUNS: Final = {
    Signal.TRACES: ("span", "spans"),
    Signal.LOGS: ("log record", "log records"),
    Signal.METRICS: ("metric data point", "metric data points"),
}


def _count(number: int, signal: Signal) -> str:
    singular, plural = _NOUNS[signal]
    return f"{number} {singular if number == 1 else plural}"


@dataclass(slots=True)
class SignalCounts:
    """Record counts of one signal. Every record read is sent, skipped or failed."""

    files: int = 0
    read: int = 0
    sent: int = 0
    failed: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    failed_by_reason: Counter[str] = field(default_factory=Counter)
    orphan_spans: int = 0

    def fail(self, number: int, reason: str) -> None:
        """Count `number` records as failed for `reason`."""
        self.failed += number
        self.failed_by_reason[reason] += number

    def to_dict(self) -> dict[str, object]:
        """Return the counts as JSON-ready values."""
        return {
            "files": self.files,
            "read": self.read,
            "sent": self.sent,
            "skipped": sum(self.skipped.values()),
            "skipped_by_reason": {reason: number for reason, number in sorted(self.skipped.items()) if number},
            "failed": self.failed,
            "failed_by_reason": {reason: number for reason, number in sorted(self.failed_by_reason.items()) if number},
            "rejected": self.failed_by_reason[REJECTED],
        }


@dataclass(frozen=True, slots=True)
class Problem:
    """An error or warning about a file or record, for the summary."""

    level: str
    location: Location
    message: str

    def to_dict(self) -> dict[str, object]:
        """Return the problem as JSON-ready values."""
        return {
            "level": self.level,
            "file": str(self.location.path),
            "record": self.location.index,
            "field": self.location.field,
            "message": self.message,
        }


@dataclass(slots=True)
class Summary:
    """The outcome of a run: counts per signal, files and the problems met."""

    endpoints: dict[Signal, str] = field(default_factory=dict)
    counts: dict[Signal, SignalCounts] = field(default_factory=lambda: {signal: SignalCounts() for signal in Signal})
    files_read: int = 0
    files_not_telemetry: list[Path] = field(default_factory=list)
    file_errors: int = 0
    errors: int = 0
    warnings: int = 0
    problems: list[Problem] = field(default_factory=list)
    problems_logged: int = 0
    export_errors: list[str] = field(default_factory=list)
    export_warnings: list[str] = field(default_factory=list)
    dry_run: bool = False
    """True when nothing was sent: `sent` counts the records that would have been sent."""
    dry_run_bytes: int = 0
    """Size of the encoded export requests of a dry run, in bytes."""
    passes: int = 0
    """Passes over the input completed (--loop)."""
    endless: bool = False
    """True for --loop 0, which an interrupt ends as planned."""
    interrupted: bool = False
    """True when the user stopped the run with Ctrl-C."""
    repeating: bool = False
    """True from the second --loop pass on: problems are counted but not logged or listed again."""
    ledger: Path | None = None
    """The --ledger file of the run, if any."""
    time_offset_nanos: int | None = None
    """The offset added to every time of the first pass, when the run moved times."""

    @property
    def exit_status(self) -> int:
        """0 when every record was delivered, 130 when interrupted (unless looping endlessly), else 1.

        Duplicates, unselected signals, filtered records and records delivered by an earlier
        run are expected skips. Invalid records, records too large to send, unreadable files
        and failed or rejected exports are not. An endless loop ends only by Ctrl-C, so there
        the records that the interrupt cut off do not count as failures.
        """
        if self.interrupted and not self.endless:
            return EXIT_INTERRUPTED
        if self.file_errors:
            return 1
        for counts in self.counts.values():
            failed = counts.failed
            if self.endless:
                failed -= counts.failed_by_reason[INTERRUPTED]
            if failed or counts.skipped[INVALID] or counts.skipped[TOO_LARGE]:
                return 1
        return 0

    def error(self, location: Location, message: str) -> None:
        """Record an error about a file or record and write it to stderr."""
        self.errors += 1
        self._add(Problem("error", location, message), logging.ERROR)

    def warning(self, location: Location, message: str) -> None:
        """Record a warning about a file or record and write it to stderr."""
        self.warnings += 1
        self._add(Problem("warning", location, message), logging.WARNING)

    def _add(self, problem: Problem, level: int) -> None:
        if self.repeating:
            return
        if len(self.problems) < MAX_PROBLEMS_KEPT:
            self.problems.append(problem)
        if self.problems_logged < MAX_PROBLEMS_LOGGED:
            logger.log(level, "%s: %s", problem.location, problem.message, extra=COUNTED)
        elif self.problems_logged == MAX_PROBLEMS_LOGGED:
            logger.warning("More problems follow; they are counted in the summary and listed by --json", extra=COUNTED)
        self.problems_logged += 1

    def to_dict(self) -> dict[str, object]:
        """Return the summary as JSON-ready values."""
        signals: dict[str, object] = {}
        for signal, counts in self.counts.items():
            values = counts.to_dict()
            if signal is Signal.TRACES:
                values["orphan_spans"] = counts.orphan_spans
            if signal in self.endpoints:
                values["endpoint"] = self.endpoints[signal]
            signals[signal.value] = values

        extra: dict[str, object] = {"dry_run": self.dry_run, "passes": self.passes, "interrupted": self.interrupted}
        if self.dry_run:
            extra["dry_run_bytes"] = self.dry_run_bytes
        if self.time_offset_nanos is not None:
            extra["time_offset_ns"] = self.time_offset_nanos
        return {
            "exit_status": self.exit_status,
            **extra,
            "files_read": self.files_read,
            "files_not_telemetry": [str(path) for path in self.files_not_telemetry],
            "file_errors": self.file_errors,
            "warnings": self.warnings,
            "signals": signals,
            "problems": [problem.to_dict() for problem in self.problems],
            "export_errors": self.export_errors[:MAX_PROBLEMS_KEPT],
            "export_warnings": self.export_warnings[:MAX_PROBLEMS_KEPT],
            "problems_not_listed": max(0, self.problems_logged - len(self.problems)),
        }

    def render(self) -> str:
        """Return the summary as a table for people."""
        sent_label, sent_width = ("would send", 10) if self.dry_run else ("sent", 8)
        header = f"{'signal':<8} {'files':>6} {'read':>8} {sent_label:>{sent_width}} {'skipped':>8} {'failed':>7}"
        lines = [header]
        for signal, counts in self.counts.items():
            if not counts.read and not counts.files:
                continue
            skipped = sum(counts.skipped.values())
            sent = f"{counts.sent:>{sent_width}}"
            line = f"{signal.value:<8} {counts.files:>6} {counts.read:>8} {sent} {skipped:>8} {counts.failed:>7}"
            details = [f"{number} {reason}" for reason, number in sorted(counts.skipped.items()) if number]
            details += [f"{number} {reason}" for reason, number in sorted(counts.failed_by_reason.items()) if number]
            if signal is Signal.TRACES and counts.orphan_spans:
                details.append(f"{_count(counts.orphan_spans, signal)} with a parent not in the input")
            if details:
                line += "  (" + ", ".join(details) + ")"
            lines.append(line)

        if len(lines) == 1:
            lines.append("no telemetry records found")
        lines.extend(self._footer())
        return "\n".join(lines)

    def _footer(self) -> list[str]:
        lines = []
        if self.passes > 1 or self.interrupted:
            ending = ", then interrupted" if self.interrupted else ""
            lines.append(f"{self.passes} complete pass(es) over the input{ending}")
        if self.time_offset_nanos is not None:
            shift = format_duration(self.time_offset_nanos)
            lines.append(f"Times moved by {shift}; to move another run the same way, pass --shift={shift}")
        if self.dry_run:
            lines.append(f"Dry run: nothing was sent; the export requests would take {self.dry_run_bytes} bytes")
        for signal, endpoint in self.endpoints.items():
            counts = self.counts[signal]
            if counts.sent:
                verb = "would be sent" if self.dry_run else "sent"
                lines.append(f"{_count(counts.sent, signal)} {verb} to {endpoint}")
            if counts.failed:
                lines.append(f"{_count(counts.failed, signal)} failed to send to {endpoint}")
        if self.files_not_telemetry:
            lines.append(f"{len(self.files_not_telemetry)} file(s) not read: not in a format otel-replay reads")
        if self.interrupted:
            resume = f"a rerun with --ledger {self.ledger} sends only what is missing"
            if self.ledger is None:
                resume = "a run with --ledger FILE can be resumed after an interruption"
            lines.append(f"Interrupted before the end of the input; {resume}")
        errors = self.errors + len(self.export_errors)
        if errors or self.warnings:
            lines.append(f"{errors} error(s), {self.warnings} warning(s)")
        return lines
