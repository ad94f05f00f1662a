"""Reading topics with a plain Kafka client, for the command-line tools and tests."""

from __future__ import annotations

from collections.abc import Iterator

from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord

from ingest.pipeline import InputMessage
from schemas.envelopes import SourcePosition
from streams.kafka_clients import kafka_python_kwargs
from streams.settings import Settings


def _consumer(settings: Settings) -> KafkaConsumer:
    return KafkaConsumer(
        **kafka_python_kwargs(settings),
        client_id="fundwatch-reader",
        enable_auto_commit=False,
        consumer_timeout_ms=1000,
    )


def read_all(settings: Settings, topic: str) -> Iterator[tuple[bytes | None, bytes | None]]:
    """Every (key, value) currently in the topic, partition by partition, then stop."""
    for record in _records_to_end(settings, topic):
        yield record.key, record.value


def read_latest(settings: Settings, topic: str, limit: int) -> list[bytes]:
    """The values of the last ``limit`` messages of each partition, oldest first."""
    consumer = _consumer(settings)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        if not partitions:
            return []
        consumer.assign(partitions)
        end = consumer.end_offsets(partitions)
        begin = consumer.beginning_offsets(partitions)
        for tp in partitions:
            consumer.seek(tp, max(begin[tp], end[tp] - limit))
        values: list[tuple[int, bytes]] = []
        remaining = {tp for tp in partitions if consumer.position(tp) < end[tp]}
        while remaining:
            for tp, records in consumer.poll(timeout_ms=1000).items():
                values.extend((r.timestamp, r.value) for r in records if r.offset < end[tp])
                if consumer.position(tp) >= end[tp]:
                    remaining.discard(tp)
        values.sort(key=lambda item: item[0])
        return [v for _, v in values[-limit:]]
    finally:
        consumer.close()


def topic_messages(
    settings: Settings, topic: str, until_ms: int | None = None
) -> Iterator[InputMessage]:
    """The topic's messages as pipeline input, partition by partition from the beginning,
    up to those appended at ``until_ms`` (all of them when None)."""
    for record in _records_to_end(settings, topic):
        if until_ms is not None and record.timestamp > until_ms:
            continue
        yield InputMessage(
            record.key,
            record.value,
            SourcePosition(topic, record.partition, record.offset, record.timestamp),
        )


def _records_to_end(settings: Settings, topic: str) -> Iterator[ConsumerRecord]:
    consumer = _consumer(settings)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        for tp in sorted(partitions, key=lambda t: t.partition):
            end = consumer.end_offsets([tp])[tp]
            consumer.assign([tp])
            consumer.seek_to_beginning(tp)
            while consumer.position(tp) < end:
                for records in consumer.poll(timeout_ms=1000).values():
                    yield from (r for r in records if r.offset < end)
    finally:
        consumer.close()
