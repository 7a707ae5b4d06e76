"""Find the files to read: named files as given, and every file under named directories."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from otel_replay.errors import UsageError

__all__ = ["Source", "discover"]


@dataclass(frozen=True, slots=True)
class Source:
    """A file to read. `named` is True when the user named it, False when found in a directory."""

    path: Path
    named: bool
    size: int


def discover(paths: Sequence[Path]) -> list[Source]:
    """List the files to read, in a stable order: each named path in turn, directories sorted.

    Raises:
        UsageError: a named path does not exist.
    """
    sources: list[Source] = []
    seen: set[Path] = set()
    for path in paths:
        if not path.exists():
            msg = f"path not found: {path}"
            raise UsageError(msg)
        candidates = _walk(path) if path.is_dir() else iter([(path, True)])
        for file, named in candidates:
            resolved = file.resolve()
            if resolved in seen:
                continue
            seen.add(resolved)
            sources.append(Source(file, named, _size(file)))
    return sources


def _walk(directory: Path) -> Iterator[tuple[Path, bool]]:
    # Hidden directories (.git and the like) never hold telemetry worth replaying.
    for root, directories, files in os.walk(directory):
        directories[:] = sorted(name for name in directories if not name.startswith("."))
        for name in sorted(files):
            if not name.startswith("."):
                yield Path(root) / name, False


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
