"""Every report exactly in offset order, whatever the consumer hands over.

Faust 0.15 can hand an agent a partition's records out of order or skip one around a
rebalance (records fetched before it, then a seek; faust-streaming issues #216, #221): the
failure test with three workers killed in turn lost a few reports that way, while their
offsets were committed. So the agent keeps, per input partition, the next offset it must
apply (a *watermark*, stored with the partition's state) and checks each batch against it:

* a record below the watermark was applied already: dropped (a re-delivery);
* a record at the watermark is applied, and the watermark moves on;
* a record above it means records were skipped: the rest of that partition's batch is
  dropped and the consumer is sent back to the watermark.

A watermark may lag behind what was applied (then reports are re-read and the account
ledgers skip them) but must never run ahead, so it is written only after the batch's state
is acknowledged by Kafka.

Offsets of the reports topic are contiguous (no compaction, no transactions). A gap that
stays for ``persistent_gap_seconds`` is taken to be real (a transactional producer's markers)
and passed over, with a warning.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ingest.pipeline import InputMessage

# An input partition: (topic, partition number). Banks may each have a topic of their own.
Partition = tuple[str, int]


@dataclass
class ContiguousBatch:
    accepted: list[InputMessage] = field(default_factory=list)
    redelivered: int = 0  # records below the watermark, dropped
    # partition -> offset to seek back to (records were skipped before this batch's records)
    seeks: dict[Partition, int] = field(default_factory=dict)
    # partition -> (watermark, first offset after it) of a gap passed over as real
    passed_gaps: dict[Partition, tuple[int, int]] = field(default_factory=dict)
    # partition -> the watermark after the accepted records
    watermarks: dict[Partition, int] = field(default_factory=dict)


@dataclass
class ContiguityGuard:
    persistent_gap_seconds: float = 30.0
    # partition -> (watermark, when the gap at it was first seen)
    _open_gaps: dict[Partition, tuple[int, float]] = field(default_factory=dict)

    def check(
        self, messages: Iterable[InputMessage], watermarks: Mapping[Partition, int], now: float
    ) -> ContiguousBatch:
        """Split a batch into the records to apply, in order, and the seeks to make.

        ``watermarks`` must hold every partition in the batch; ``now`` is a monotonic clock.
        """
        out = ContiguousBatch()
        current = dict(watermarks)
        blocked: set[Partition] = set()
        for message in messages:
            partition = (message.source.topic, message.source.partition)
            offset = message.source.offset
            if partition in blocked:
                continue
            expected = current[partition]
            if offset < expected:
                out.redelivered += 1
                continue
            if offset > expected:
                if not self._gap_is_real(partition, expected, now):
                    out.seeks[partition] = expected
                    blocked.add(partition)
                    continue
                out.passed_gaps[partition] = (expected, offset)
            self._open_gaps.pop(partition, None)
            out.accepted.append(message)
            current[partition] = offset + 1
            out.watermarks[partition] = offset + 1
        return out

    def _gap_is_real(self, partition: Partition, watermark: int, now: float) -> bool:
        seen = self._open_gaps.get(partition)
        if seen is None or seen[0] != watermark:
            self._open_gaps[partition] = (watermark, now)
            return False
        return now - seen[1] >= self.persistent_gap_seconds
