"""Exceptions raised by otel-replay.

    ReplayError                 base of every error the CLI turns into a message
    ├── UsageError              an option value is invalid (exit status 2)
    ├── InputError              a file cannot be read or parsed
    │   └── NotTelemetryError   a file is in no format otel-replay reads
    └── RecordError             one record in a file is invalid, and the others are still sent

Each error carries what the user needs to fix it: the file, the record index and the
field where they apply, and a hint.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["InputError", "NotTelemetryError", "RecordError", "ReplayError", "UsageError"]


class ReplayError(Exception):
    """Base class of the errors otel-replay reports to its user."""


class UsageError(ReplayError):
    """An option or argument has an invalid value."""


class InputError(ReplayError):
    """A file cannot be read, cannot be parsed, or contains no telemetry."""

    def __init__(self, path: Path, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


class NotTelemetryError(InputError):
    """A file looked like a supported format at first but turned out to be something else."""


class RecordError(ReplayError):
    """A record is invalid, so it is skipped while the rest of its file is sent.

    `field` is a path inside the record such as ``traceId`` or ``events[2].time``.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message

    def __reduce__(self) -> tuple[type[RecordError], tuple[str, str]]:
        # Worker processes send it back with their results; the default pickles only `args`.
        return type(self), (self.field, self.message)
