"""FingerprintTable behaves like a dictionary of counts, in flat arrays."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from otel_replay.index import FingerprintTable, span_fingerprint
from otel_replay.model import Location, LogData, ResourceData, ScopeData
from otel_replay.transform import Deduplicator

RESOURCE = ResourceData({"service.name": "test"})

WORD = st.integers(min_value=0, max_value=2**64 - 1)
# Small words too, so that fingerprints differing in one bit and the all-zero one come up.
fingerprints = st.tuples(st.one_of(WORD, st.integers(0, 3)), st.one_of(WORD, st.integers(0, 3))).filter(any)
operations = st.lists(st.tuples(fingerprints, st.integers(min_value=0, max_value=2**32)), max_size=3000)


@settings(max_examples=50, deadline=None)
@given(operations=operations)
def test_table_matches_dict(operations: list[tuple[tuple[int, int], int]]) -> None:
    """Setting values, growing past the initial capacity included, gives what a dict gives."""
    table = FingerprintTable()
    expected: dict[tuple[int, int], int] = {}
    for fingerprint, value in operations:
        table.set(fingerprint, value)
        expected[fingerprint] = value

    assert len(table) == len(expected)
    assert all(table.get(fingerprint) == value for fingerprint, value in expected.items())
    assert dict(table.items()) == expected


@settings(max_examples=50, deadline=None)
@given(operations=st.lists(fingerprints, max_size=2000), absent=fingerprints)
def test_absent_fingerprint_reads_zero(operations: list[tuple[int, int]], absent: tuple[int, int]) -> None:
    """A fingerprint never added is not contained and reads 0."""
    table = FingerprintTable("B")
    for fingerprint in operations:
        table.set(fingerprint, 1)

    assert (absent in table) == (absent in set(operations))
    assert table.get(absent) == (1 if absent in set(operations) else 0)


def test_clear_empties_table() -> None:
    """After clear, nothing is contained and counting starts again."""
    table = FingerprintTable()
    for number in range(5000):
        table.add(span_fingerprint(number, 1))
    table.clear()

    assert len(table) == 0
    assert table.add(span_fingerprint(1, 1)) == 1


def test_span_fingerprints_of_sequential_ids_differ() -> None:
    """Small, structured IDs such as test fixtures use do not collide."""
    fingerprints = {span_fingerprint(trace_id, span_id) for trace_id in range(1, 300) for span_id in range(1, 300)}

    assert len(fingerprints) == 299 * 299


def test_merge_bits_returns_previous_value() -> None:
    """merge_bits reports the bits set before, so a caller can tell a repeat from a first sighting."""
    table = FingerprintTable("B")
    fingerprint = span_fingerprint(7, 9)

    assert table.merge_bits(fingerprint, 0b10) == 0
    assert table.merge_bits(fingerprint, 0b10) == 0b10
    assert table.merge_bits(fingerprint, 0b01) == 0b10
    assert table.get(fingerprint) == 0b11
    assert len(table) == 1


class _ReferenceDeduplicator:
    """The counting rule with plain dictionaries: the n-th equal record of a file is a
    duplicate when an earlier file contained at least n of them."""

    def __init__(self) -> None:
        self.counts: dict[int, int] = {}
        self.in_file: dict[int, int] = {}

    def start_file(self) -> None:
        self.in_file = {}

    def seen_before(self, identity: int) -> bool:
        self.in_file[identity] = self.in_file.get(identity, 0) + 1
        occurrence = self.in_file[identity]
        if occurrence <= self.counts.get(identity, 0):
            return True
        self.counts[identity] = occurrence
        return False


@settings(max_examples=200, deadline=None)
@given(files=st.lists(st.lists(st.integers(0, 5), max_size=12), min_size=1, max_size=5))
def test_log_dedupe_matches_counting_rule(files: list[list[int]]) -> None:
    """Equal log records are duplicates exactly as the per-file counting rule defines."""
    deduplicator = Deduplicator()
    reference = _ReferenceDeduplicator()
    for records in files:
        deduplicator.start_file()
        reference.start_file()
        for identity in records:
            log = LogData(Location(Path("f.json"), 0), RESOURCE, ScopeData(), identity, identity)

            assert deduplicator.is_duplicate(log) == reference.seen_before(identity)


# Small words collide in the table's slots, so probing and growth are exercised.
small_fingerprints = st.lists(st.tuples(st.integers(0, 40), st.integers(0, 40)), max_size=3000)


@settings(max_examples=60, deadline=None)
@given(fingerprints=small_fingerprints, bits=st.sampled_from([1, 2, 6]))
def test_merge_bits_many_is_merge_bits_in_turn(fingerprints: list[tuple[int, int]], bits: int) -> None:
    """The bulk call gives the positions and leaves the values that `merge_bits` one at a time would."""
    one_by_one, bulk = FingerprintTable("B"), FingerprintTable("B")

    expected = [position for position, key in enumerate(fingerprints) if one_by_one.merge_bits(key, bits) & bits]

    assert bulk.merge_bits_many(fingerprints, bits) == expected
    assert sorted(bulk.items()) == sorted(one_by_one.items())
    assert len(bulk) == len(one_by_one)


@settings(max_examples=60, deadline=None)
@given(fingerprints=small_fingerprints)
def test_add_many_is_add_in_turn(fingerprints: list[tuple[int, int]]) -> None:
    """The bulk call counts each fingerprint as `add` one at a time would."""
    one_by_one, bulk = FingerprintTable(), FingerprintTable()
    for key in fingerprints:
        one_by_one.add(key)

    bulk.add_many(fingerprints)

    assert sorted(bulk.items()) == sorted(one_by_one.items())
    assert [bulk.get(key) for key in fingerprints] == [one_by_one.get(key) for key in fingerprints]


@settings(max_examples=200, deadline=None)
@given(
    files=st.lists(
        st.lists(st.lists(st.integers(0, 5), max_size=8), max_size=4),  # runs of identities per file
        min_size=1,
        max_size=5,
    )
)
def test_log_runs_match_counting_rule(files: list[list[list[int]]]) -> None:
    """Runs of log identities are duplicates exactly where the rule for one record at a time finds them."""
    deduplicator = Deduplicator()
    reference = _ReferenceDeduplicator()
    for runs in files:
        deduplicator.start_file()
        reference.start_file()
        for run in runs:
            expected = [position for position, identity in enumerate(run) if reference.seen_before(identity)]

            assert deduplicator.duplicate_logs([(identity, 7) for identity in run]) == expected
