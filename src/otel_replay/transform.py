"""Transform records between reading and rebuilding: select signals, drop duplicates, add resource attributes."""

from __future__ import annotations

import dataclasses
from collections.abc import Container, Iterable, Mapping, Sequence
from typing import Final, TypeVar

import orjson

from otel_replay.index import FingerprintTable, digest_fingerprint, span_fingerprint
from otel_replay.model import AnyValue, LogData, MetricData, MetricPoint, ResourceData, SpanData

__all__ = ["Deduplicator", "ParentIndex", "ResourceOverlay", "log_identity", "point_identity", "split_metric"]

_Record = TypeVar("_Record", SpanData, LogData, MetricData)
_Fingerprint = tuple[int, int]  # 128 bits keep accidental collisions out of reach for any input size
_COUNT_MASK: Final = 2**32 - 1
_FileCounts = tuple[int, "FingerprintTable"]  # a file's number and its counts of equal records


class Deduplicator:
    """Recognises records that an earlier file of this run already contained.

    CodeMachine writes every record twice, because ``latest*.json`` repeats the newest
    session file. A span is the same span when its trace ID, span ID and kind are equal. A log
    record has no ID, so it is the same record when every field is equal. One file can
    contain equal records that were emitted separately, so the n-th equal record of a file
    is a duplicate only when an earlier file contained at least n of them.
    """

    def __init__(self) -> None:
        # Span fingerprint to a bit mask of the span kinds seen with it.
        self._span_kinds = FingerprintTable("B")
        # Identity to its highest count in one file so far, with the number of the file that
        # first contained it in the upper 32 bits. Within that file the count is the file's
        # own count, so only identities from earlier files need `_counts_in_file`, which
        # keeps one large file of distinct records to one table entry per record.
        self._counts = FingerprintTable()
        self._counts_in_file = FingerprintTable()
        self._file_number = 0
        self._files_started = 0

    def start_file(self) -> _FileCounts:
        """Begin counting equal log records and data points for a new file; return the counts for `resume_file`."""
        self._files_started += 1
        self._file_number = self._files_started
        self._counts_in_file = FingerprintTable()
        return self._file_number, self._counts_in_file

    def resume_file(self, counts: _FileCounts) -> None:
        """Continue counting for a file begun earlier, when files are read interleaved by time."""
        self._file_number, self._counts_in_file = counts

    def is_duplicate(self, record: SpanData | LogData) -> bool:
        """Return True when this record was sent before, and remember it otherwise."""
        if isinstance(record, SpanData):
            # Zipkin and Jaeger may record a client and a server span under one span ID.
            kind = 1 << record.kind
            kinds = self._span_kinds.merge_bits(span_fingerprint(record.trace_id, record.span_id), kind)
            return bool(kinds & kind)

        return self._seen_before(log_identity(record))

    def duplicate_spans(self, keys: Iterable[_Fingerprint], kind: int) -> list[int]:
        """Return the positions of the spans of a run that were sent before, remembering the others.

        `keys` are the spans' `span_fingerprint`, and `kind` the kind they share.
        """
        return self._span_kinds.merge_bits_many(keys, 1 << kind)

    def duplicate_logs(self, identities: Sequence[_Fingerprint]) -> list[int]:
        """Return the positions of the log records of a run that were sent before, given their `log_identity`."""
        # Identities first seen in this file are counted in one pass, as `_seen_before` counts them.
        # Those that an earlier file contained then go through `_seen_before`, in order.
        from_earlier_files = self._counts.count_many(identities, self._file_number << 32)
        seen_before = self._seen_before
        return [position for position in from_earlier_files if seen_before(identities[position])]

    @property
    def span_keys(self) -> Container[_Fingerprint]:
        """The `span_fingerprint` of every span passed so far."""
        return self._span_kinds

    def unique_points(self, metric: MetricData) -> tuple[MetricPoint, ...]:
        """Return the data points of `metric` that were not sent before, remembering them.

        A data point is the same point when its metric, resource, scope, attributes, times
        and values are equal; CodeMachine's latest-metrics.json repeats the session's points.
        """
        return tuple(point for point in metric.points if not self._seen_before(point_identity(metric, point)))

    def _seen_before(self, identity: _Fingerprint) -> bool:
        entry = self._counts.get(identity)
        highest, first_file = entry & _COUNT_MASK, entry >> 32
        if not entry or first_file == self._file_number:
            self._counts.set(identity, (highest + 1) | (self._file_number << 32))
            return False

        occurrence = self._counts_in_file.add(identity)
        if occurrence <= highest:
            return True
        self._counts.set(identity, occurrence | (first_file << 32))
        return False


def log_identity(log: LogData) -> _Fingerprint:
    """Return the fingerprint that makes two log records the same record for deduplication."""
    computed: _Fingerprint | None = getattr(log, "identity", None)  # set by a worker process
    if computed is not None:
        return computed
    fields = [
        log.time_unix_nano,
        log.observed_time_unix_nano,
        log.severity_number,
        log.severity_text,
        log.body,
        log.attributes,
        log.resource.attributes,
        log.resource.schema_url,
        log.scope.name,
        log.scope.version,
        f"{log.trace_id:032x}",  # orjson serializes integers of up to 64 bits only
        f"{log.span_id:016x}",
        log.flags,
        log.event_name,
    ]
    serialized = orjson.dumps(fields, option=orjson.OPT_SORT_KEYS, default=_serialize_other)
    return digest_fingerprint(serialized)


def point_identity(metric: MetricData, point: MetricPoint) -> _Fingerprint:
    """Return the fingerprint of a data point and its metric, resource and scope, its identity for deduplication."""
    fields = [
        metric.name,
        metric.kind.value,
        metric.unit,
        metric.resource.attributes,
        metric.scope.name,
        metric.scope.version,
        point.attributes,
        point.start_time_unix_nano,
        point.time_unix_nano,
        point.value,
        point.count,
        point.sum,
        list(point.bucket_counts),
        list(point.explicit_bounds),
        point.min,
        point.max,
        point.scale,
        point.zero_count,
        point.positive_offset,
        list(point.positive_bucket_counts),
        point.negative_offset,
        list(point.negative_bucket_counts),
        [list(pair) for pair in point.quantile_values],
    ]
    serialized = orjson.dumps(fields, option=orjson.OPT_SORT_KEYS, default=_serialize_other)
    return digest_fingerprint(serialized)


def _serialize_other(value: object) -> str:
    if isinstance(value, bytes):
        return "bytes:" + value.hex()
    return repr(value)


class ResourceOverlay:
    """Adds the user's resource attributes to every record, overriding recorded keys."""

    def __init__(self, attributes: Mapping[str, AnyValue]) -> None:
        self._attributes = dict(attributes)
        self._merged: dict[ResourceData, ResourceData] = {}

    def apply(self, record: _Record) -> _Record:
        """Return `record` with the user's attributes merged into its resource."""
        if not self._attributes:
            return record
        return dataclasses.replace(record, resource=self.resource(record.resource))

    def resource(self, resource: ResourceData) -> ResourceData:
        """Return `resource` with the user's attributes merged in, one object per resource."""
        if not self._attributes:
            return resource
        merged = self._merged.get(resource)
        if merged is None:
            merged = dataclasses.replace(resource, attributes={**resource.attributes, **self._attributes})
            self._merged[resource] = merged
        return merged


def split_metric(metric: MetricData, max_points: int) -> tuple[MetricData, MetricData | None]:
    """Split off the first `max_points` data points (at least one), so a batch keeps its size limit."""
    if len(metric.points) <= max_points:
        return metric, None
    cut = max(max_points, 1)
    head = dataclasses.replace(metric, points=tuple(metric.points[:cut]))
    return head, dataclasses.replace(metric, points=tuple(metric.points[cut:]))


class ParentIndex:
    """Counts spans whose parent span is not in the input, such as trimmed or remote parents.

    Given the span fingerprints a `Deduplicator` keeps anyway, it stores only the parents, counted
    once per parent, so the index costs little beside deduplication.
    """

    def __init__(self, known_spans: Container[_Fingerprint] | None = None) -> None:
        self._own_spans: FingerprintTable | None = None
        self._spans: Container[_Fingerprint]
        if known_spans is None:
            self._own_spans = FingerprintTable("B")
            self._spans = self._own_spans
        else:
            self._spans = known_spans
        self._children = FingerprintTable()

    def add(self, span: SpanData) -> None:
        """Record a span and, if it has one, the parent it refers to."""
        if self._own_spans is not None:
            self._own_spans.set(span_fingerprint(span.trace_id, span.span_id), 1)
        if span.parent_span_id:
            self._children.add(span_fingerprint(span.trace_id, span.parent_span_id))

    def add_run(self, keys: Iterable[_Fingerprint], parents: Iterable[_Fingerprint]) -> None:
        """Record the spans of a run, given their `span_fingerprint` and those of the parents they refer to."""
        if self._own_spans is not None:
            self._own_spans.merge_bits_many(keys, 1)
        self._children.add_many(parents)

    def orphan_count(self) -> int:
        """Return how many added spans have a parent that was never added."""
        return sum(count for parent, count in self._children.items() if parent not in self._spans)
