"""Interleave the records of several files by time, for --pace real, opening each file only when its time comes.

Files are read one after another otherwise. Paced that way, a session's log file would be
paced over the session's length and its span file, read next, would be sent at once, since
all its moments would have passed. The merge keeps one pending group per open file, and it
opens a file only when it reaches the file's first time. So memory and open file handles
grow with the number of files that overlap in time, not with the number of files.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["Stream", "merge_by_time"]

_Group = TypeVar("_Group")


@dataclass(frozen=True, slots=True)
class Stream(Generic[_Group]):
    """A file's groups of items, opened on demand. `first_time` is the time of its first group."""

    first_time: int
    open: Callable[[], Iterator[tuple[int, _Group]]]
    """Opens the file and yields (time, group) pairs; groups within a file should come in time order."""


def merge_by_time(streams: Sequence[Stream[_Group]]) -> Iterator[_Group]:
    """Yield the groups of all streams, earliest time first.

    A group that comes after a later one in its own stream is yielded when its stream
    reaches it: the merge never reorders a stream, so it needs no buffering.
    """
    pending = sorted(range(len(streams)), key=lambda index: streams[index].first_time, reverse=True)
    heap: list[tuple[int, int, int, _Group, Iterator[tuple[int, _Group]]]] = []
    sequence = 0

    def push_next(index: int, groups: Iterator[tuple[int, _Group]]) -> None:
        nonlocal sequence
        for time, group in groups:
            sequence += 1
            heapq.heappush(heap, (time, index, sequence, group, groups))
            return

    while pending or heap:
        while pending and (not heap or streams[pending[-1]].first_time <= heap[0][0]):
            index = pending.pop()
            push_next(index, streams[index].open())
        if not heap:
            continue
        _, index, _, group, groups = heapq.heappop(heap)
        yield group
        push_next(index, groups)
