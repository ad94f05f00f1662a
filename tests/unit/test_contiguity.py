"""The agent applies each partition's reports exactly in offset order, whatever Faust delivers."""

from __future__ import annotations

from ingest.contiguity import ContiguityGuard
from ingest.pipeline import InputMessage
from schemas.envelopes import SourcePosition


def messages(*positions: tuple[int, int]) -> list[InputMessage]:
    return [InputMessage(b"k", b"v", SourcePosition("r", p, o)) for p, o in positions]


def offsets(batch: list[InputMessage]) -> list[tuple[int, int]]:
    return [(m.source.partition, m.source.offset) for m in batch]


def on_r(by_partition: dict[int, int]) -> dict[tuple[str, int], int]:
    """Watermarks (or seeks) of topic "r" by partition number."""
    return {("r", p): o for p, o in by_partition.items()}


def test_records_in_order_are_applied_and_move_the_watermark() -> None:
    batch = ContiguityGuard().check(messages((0, 5), (1, 0), (0, 6)), on_r({0: 5, 1: 0}), now=0.0)
    assert offsets(batch.accepted) == [(0, 5), (1, 0), (0, 6)]
    assert batch.watermarks == on_r({0: 7, 1: 1}) and batch.seeks == {}


def test_a_redelivered_record_is_dropped() -> None:
    batch = ContiguityGuard().check(messages((0, 3), (0, 4), (0, 5)), on_r({0: 5}), now=0.0)
    assert offsets(batch.accepted) == [(0, 5)] and batch.redelivered == 2


def test_a_skipped_record_sends_the_consumer_back_and_holds_the_partition() -> None:
    guard = ContiguityGuard()
    # 11 never came (the consumer skipped it): nothing after it on partition 0 is applied.
    batch = guard.check(messages((0, 10), (0, 12), (1, 7), (0, 13)), on_r({0: 10, 1: 7}), now=0.0)
    assert offsets(batch.accepted) == [(0, 10), (1, 7)]
    assert batch.seeks == on_r({0: 11}) and batch.watermarks == on_r({0: 11, 1: 8})
    # After the seek the missing record arrives and the partition goes on.
    again = guard.check(messages((0, 11), (0, 12)), on_r({0: 11}), now=1.0)
    assert offsets(again.accepted) == [(0, 11), (0, 12)] and again.seeks == {}


def test_a_gap_that_stays_is_passed_over_as_real() -> None:
    guard = ContiguityGuard(persistent_gap_seconds=30)
    assert guard.check(messages((0, 8)), on_r({0: 5}), now=0.0).seeks == on_r({0: 5})
    assert guard.check(messages((0, 8)), on_r({0: 5}), now=10.0).seeks == on_r({0: 5})
    batch = guard.check(messages((0, 8), (0, 9)), on_r({0: 5}), now=31.0)
    assert offsets(batch.accepted) == [(0, 8), (0, 9)]
    assert batch.passed_gaps == {("r", 0): (5, 8)} and batch.watermarks == on_r({0: 10})
