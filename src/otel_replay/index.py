"""Compact sets and counters of 128-bit record fingerprints for deduplication and the parent index.

A Python set of 24-byte keys costs about 150 bytes per entry, which made a replay's memory
grow with the number of records. `FingerprintTable` keeps each entry in flat arrays (two
64-bit words and one value) under open addressing, about 35 to 70 bytes per entry for a
span, so a million spans fit in tens of MiB.
"""

from __future__ import annotations

import hashlib
from array import array
from collections.abc import Iterable, Iterator
from typing import Final

from otel_replay.speedups import table_rehash, table_update

__all__ = ["FingerprintTable", "digest_fingerprint", "span_fingerprint"]

_MASK64: Final = 2**64 - 1
_MIX_HIGH: Final = 0x9E3779B97F4A7C15  # odd constants, so multiplying mixes the bits of a span ID bijectively
_MIX_LOW: Final = 0xC2B2AE3D27D4EB4F
_INITIAL_CAPACITY: Final = 1024  # slots, a power of two
# The loops that the compiled `table_update` runs.
_MERGE_BITS: Final = 0
_COUNT: Final = 1
_ADD: Final = 2
_MAX_LOAD: Final = 0.7  # filled share of the slots above which the table doubles


def span_fingerprint(trace_id: int, span_id: int) -> tuple[int, int]:
    """Return a 128-bit fingerprint of a span's trace ID and span ID, as two 64-bit words.

    For a given span ID the mapping from trace IDs is one-to-one, and spans of one trace
    differ in the span ID mixed into both words. Two distinct spans share a fingerprint
    only by a 128-bit coincidence.
    """
    high = (trace_id >> 64) ^ ((span_id * _MIX_HIGH) & _MASK64)
    low = (trace_id & _MASK64) ^ ((span_id * _MIX_LOW) & _MASK64) ^ (span_id >> 32)
    return high, low


def digest_fingerprint(data: bytes) -> tuple[int, int]:
    """Return a 128-bit BLAKE2b fingerprint of `data`, as two 64-bit words."""
    digest = hashlib.blake2b(data, digest_size=16).digest()
    return int.from_bytes(digest[:8], "little"), int.from_bytes(digest[8:], "little")


class FingerprintTable:
    """Maps 128-bit fingerprints to unsigned values, 0 for a fingerprint never set.

    `typecode` is the array type code of the values: "B" for small bit masks, "Q" for counts.
    A slot whose two words are 0 is empty, so the all-zero fingerprint is stored as (0, 1).
    Only a span with trace ID 0 and span ID 0, which OpenTelemetry does not allow, has it.
    """

    def __init__(self, typecode: str = "Q") -> None:
        self._typecode = typecode
        self._size = 0
        self._allocate(_INITIAL_CAPACITY)

    def __len__(self) -> int:
        return self._size

    def __contains__(self, fingerprint: object) -> bool:
        if not isinstance(fingerprint, tuple):
            return False
        high, low = fingerprint
        low = low or int(not high)
        slot = self._slot(high, low)
        return bool(self._low[slot] or self._high[slot])

    def get(self, fingerprint: tuple[int, int]) -> int:
        """Return the value of `fingerprint`, or 0 when it was never set."""
        high, low = fingerprint
        low = low or int(not high)
        value: int = self._values[self._slot(high, low)]  # 0 in an empty slot
        return value

    def set(self, fingerprint: tuple[int, int], value: int) -> None:
        """Set the value of `fingerprint`, adding it when new."""
        self._update(fingerprint, value, replace=True)

    def add(self, fingerprint: tuple[int, int], amount: int = 1) -> int:
        """Add `amount` to the value of `fingerprint` and return the new value."""
        return self._update(fingerprint, amount, replace=False)

    def merge_bits(self, fingerprint: tuple[int, int], bits: int) -> int:
        """Set `bits` in the value of `fingerprint` and return the value from before."""
        high, low = fingerprint
        low = low or int(not high)
        slot = self._slot(high, low)
        old: int = self._values[slot]
        if old | bits != old or not (self._low[slot] or self._high[slot]):
            self._store(slot, high, low, old | bits)
        return old

    def merge_bits_many(self, fingerprints: Iterable[tuple[int, int]], bits: int) -> list[int]:
        """Set `bits` in the value of each fingerprint; return the positions whose value had them already.

        It does what `merge_bits` does for each fingerprint, in one call for a run of records.
        """
        if table_update is not None:
            return self._update_many(fingerprints, _MERGE_BITS, bits)
        found = []
        for position, (high, recorded_low) in enumerate(fingerprints):
            low = recorded_low or int(not high)
            slot = self._slot(high, low)
            old: int = self._values[slot]
            if old & bits:
                found.append(position)
            else:
                self._store(slot, high, low, old | bits)
        return found

    def count_many(self, fingerprints: Iterable[tuple[int, int]], tag: int) -> list[int]:
        """Count fingerprints whose value carries `tag` in the bits above the lowest 32; return the others' positions.

        A fingerprint not set yet gets the value ``tag | 1``, and one whose value has the same
        upper bits gets 1 added. The positions of the others are returned, their values unchanged.
        """
        if table_update is not None:
            return self._update_many(fingerprints, _COUNT, tag)
        others = []
        for position, (high, recorded_low) in enumerate(fingerprints):
            low = recorded_low or int(not high)
            slot = self._slot(high, low)
            value: int = self._values[slot]  # 0 in an empty slot
            if not value or value >> 32 == tag >> 32:
                self._store(slot, high, low, (value or tag) + 1)
            else:
                others.append(position)
        return others

    def add_many(self, fingerprints: Iterable[tuple[int, int]]) -> None:
        """Add 1 to the value of each fingerprint, as `add` does for one."""
        if table_update is not None:
            self._update_many(fingerprints, _ADD, 1)
            return
        for fingerprint in fingerprints:
            self.add(fingerprint)

    def _update_many(self, fingerprints: Iterable[tuple[int, int]], mode: int, operand: int) -> list[int]:
        """Run the loop of a bulk method in compiled code, growing the table where the Python loop grows it."""
        assert table_update is not None
        positions: list[int] = []
        remaining = iter(fingerprints)
        position = 0
        while True:
            limit = int(self._capacity * _MAX_LOAD)  # the compiled loop stops once the size passes it
            arrays = (self._high, self._low, self._values)
            self._size, position, done = table_update(
                *arrays, self._size, limit, remaining, mode, operand, position, positions
            )
            if done:
                return positions
            self._grow()

    def _update(self, fingerprint: tuple[int, int], value: int, *, replace: bool) -> int:
        high, low = fingerprint
        low = low or int(not high)
        slot = self._slot(high, low)
        if not replace:
            value += self._values[slot]  # 0 in an empty slot
        self._store(slot, high, low, value)
        return value

    def _store(self, slot: int, high: int, low: int, value: int) -> None:
        self._values[slot] = value
        if self._low[slot] or self._high[slot]:
            return
        self._high[slot], self._low[slot] = high, low
        self._size += 1
        if self._size > self._capacity * _MAX_LOAD:
            self._grow()

    def items(self) -> Iterator[tuple[tuple[int, int], int]]:
        """Yield each fingerprint that was set, with its value."""
        for slot, low in enumerate(self._low):
            high = self._high[slot]
            if low or high:
                yield (high, low), self._values[slot]

    def clear(self) -> None:
        """Remove every fingerprint, returning the memory of a grown table."""
        self._size = 0
        self._allocate(_INITIAL_CAPACITY)

    def _slot(self, high: int, low: int) -> int:
        """Return the slot that contains the fingerprint, or the empty slot where it would go."""
        mask = self._mask
        lows = self._low
        highs = self._high
        slot = (low ^ high) & mask
        while True:
            found = lows[slot]
            if found == low and highs[slot] == high:
                return slot
            if not found and not highs[slot]:
                return slot
            slot = (slot + 1) & mask

    def _allocate(self, capacity: int) -> None:
        self._capacity = capacity
        self._mask = capacity - 1
        self._high = array("Q", bytes(8 * capacity))
        self._low = array("Q", bytes(8 * capacity))
        self._values = array(self._typecode, bytes(array(self._typecode).itemsize * capacity))

    def _grow(self) -> None:
        old_high, old_low, old_values = self._high, self._low, self._values
        self._allocate(self._capacity * 2)
        if table_rehash is not None:
            table_rehash(old_high, old_low, old_values, self._high, self._low, self._values)
            return
        mask, lows, highs, values = self._mask, self._low, self._high, self._values
        for high, low, value in zip(old_high, old_low, old_values, strict=True):
            if not (low or high):
                continue
            slot = (low ^ high) & mask
            # Every fingerprint is distinct here, so the first empty slot is the place.
            while lows[slot] or highs[slot]:
                slot = (slot + 1) & mask
            highs[slot], lows[slot], values[slot] = high, low, value
