"""Reading topics with a plain Kafka client, for the command-line tools and tests."""

from __future__ import annotations

from collections.abc import Iterator

from kafka import KafkaConsumer, TopicPartition

from streams.settings import Settings


def _consumer(settings: Settings) -> KafkaConsumer:
    return KafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers,
        client_id="fundwatch-reader",
        enable_auto_commit=False,
        consumer_timeout_ms=1000,
    )


def read_all(settings: Settings, topic: str) -> Iterator[tuple[bytes | None, bytes | None]]:
    """Every (key, value) currently in the topic, partition by partition, then stop."""
    consumer = _consumer(settings)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        if not partitions:
            return
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        end = consumer.end_offsets(partitions)
        remaining = {tp for tp in partitions if end[tp] > 0}
        while remaining:
            for tp, records in consumer.poll(timeout_ms=1000).items():
                for record in records:
                    if record.offset < end[tp]:
                        yield record.key, record.value
                if consumer.position(tp) >= end[tp]:
                    remaining.discard(tp)
    finally:
        consumer.close()


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
