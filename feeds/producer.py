"""Sending report lines to the input topic with a plain Kafka client, as a bank would."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from kafka import KafkaProducer

from ingest.partitioning import key_and_bank, partition_for
from ingest.pipeline import BATCH_HEADER
from schemas.errors import FundwatchError
from streams.kafka_clients import kafka_python_kwargs
from streams.settings import Settings


class UnroutableReportError(FundwatchError, ValueError):
    """A report line that has no bank topic to go to (its bank_id is not a configured bank)."""

    def __init__(self, line_number: int, bank_id: str | None, bank_ids: tuple[str, ...]) -> None:
        self.line_number = line_number
        self.bank_id = bank_id
        super().__init__(
            f"report {line_number}: bank_id {bank_id!r} has no topic of its own "
            f"(FUNDWATCH_BANKS={','.join(bank_ids)}); give the topic with --bank-topic"
        )


@dataclass
class SendSummary:
    sent: int = 0
    messages: int = 0  # Kafka messages: fewer than reports when they are batched
    unkeyed: int = 0  # lines without a readable account_id: sent unkeyed, the worker rejects them
    seconds: float = 0.0
    topics: set[str] = field(default_factory=set)

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds > 0 else 0.0


def report_producer(settings: Settings) -> KafkaProducer:
    return KafkaProducer(
        **kafka_python_kwargs(settings),
        client_id="fundwatch-producer",
        acks="all",
        linger_ms=20,
        batch_size=256 * 1024,
    )


def send_lines(
    lines: Iterable[bytes],
    settings: Settings,
    rate: float = 0.0,
    producer: KafkaProducer | None = None,
    topic: str | None = None,
    batch: int = 1,
) -> SendSummary:
    """Send each line unchanged, keyed by account_id; ``rate`` caps reports per second.

    The lines go to ``topic``; without one, to the shared reports topic, or, when the worker
    reads bank topics (FUNDWATCH_BANKS), each to the topic of its bank_id (the simulator's
    way of being every bank at once; UnroutableReportError for another bank_id).

    ``batch`` > 1: up to that many lines of one partition's accounts go in one message, as
    JSON lines with ingest.pipeline.BATCH_HEADER, on that partition (a line without a
    readable account_id goes alone)."""
    own_producer = producer is None
    producer = producer or report_producer(settings)
    by_bank = topic is None and bool(settings.bank_ids)
    fixed_topic = topic or settings.topics.name("reports")
    summary = SendSummary()
    pending: dict[tuple[str, int], list[bytes]] = {}

    def send_batch(line_topic: str, partition: int) -> None:
        lines_of = pending.pop((line_topic, partition))
        producer.send(
            line_topic, value=b"\n".join(lines_of), partition=partition, headers=[BATCH_HEADER]
        )
        summary.messages += 1

    started = time.monotonic()
    try:
        for line in _paced(lines, rate, started):
            key, bank_id = key_and_bank(line)
            line_topic = fixed_topic
            if by_bank:
                if bank_id is None or bank_id not in settings.bank_ids:
                    raise UnroutableReportError(summary.sent + 1, bank_id, settings.bank_ids)
                line_topic = settings.topics.bank(bank_id)
            summary.unkeyed += key is None
            summary.topics.add(line_topic)
            summary.sent += 1
            if batch <= 1 or key is None:
                producer.send(line_topic, key=key, value=line)
                summary.messages += 1
                continue
            partition = partition_for(key, len(producer.partitions_for(line_topic)))
            pending.setdefault((line_topic, partition), []).append(line)
            if len(pending[(line_topic, partition)]) >= batch:
                send_batch(line_topic, partition)
        for line_topic, partition in list(pending):
            send_batch(line_topic, partition)
        producer.flush()
    finally:
        if own_producer:
            producer.close()
    summary.seconds = time.monotonic() - started
    return summary


def _paced(lines: Iterable[bytes], rate: float, started: float) -> Iterator[bytes]:
    for count, line in enumerate(lines):
        if rate > 0 and count % 100 == 0:
            ahead = count / rate - (time.monotonic() - started)
            if ahead > 0:
                time.sleep(ahead)
        yield line
