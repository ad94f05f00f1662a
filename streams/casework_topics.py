"""The casework topics (leads, lead-status, watchlist) read into a LeadBook, and changes
published to them.

Tools read the topics to their end once (``load_lead_book``); a worker follows them for as
long as it runs (``CaseworkFollower``), for the watchlist its detection uses and for the web
console. Changes are validated against a freshly read book before they are published.
"""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaConsumer, TopicPartition
from kafka import KafkaProducer

from casework.lead_book import LeadBook
from casework.lead_status import LeadStatusRecord, StatusChange
from models.watchlist import WatchlistEntry
from streams.kafka_clients import aiokafka_kwargs, kafka_python_kwargs
from streams.settings import Settings
from streams.topic_reader import read_all
from streams.topics import ensure_topics

log = logging.getLogger(__name__)

CASEWORK_TOPICS = ("leads", "lead-status", "watchlist")


def load_lead_book(settings: Settings) -> LeadBook:
    """The book as of now: every value of the three topics, read to their end."""
    book = LeadBook()
    for name in CASEWORK_TOPICS:
        for _, value in read_all(settings, settings.topics.name(name)):
            if value is not None:
                _apply(book, name, value)
    return book


def _apply(book: LeadBook, name: str, value: bytes) -> None:
    if name == "leads":
        book.apply_lead(value)
    elif name == "lead-status":
        book.apply_status(value)
    else:
        book.apply_watchlist(value)


def publish_status(settings: Settings, record: LeadStatusRecord) -> None:
    _publish(
        settings, settings.topics.name("lead-status"), record.lead_id.encode(), record.to_json()
    )


def publish_watchlist(settings: Settings, entries: list[WatchlistEntry]) -> None:
    """Publish entries in order, all acknowledged before returning."""
    _publish_many(
        settings,
        settings.topics.name("watchlist"),
        [(e.key.encode(), e.to_json()) for e in entries],
    )


def _publish(settings: Settings, topic: str, key: bytes, value: bytes) -> None:
    _publish_many(settings, topic, [(key, value)])


def _publish_many(settings: Settings, topic: str, messages: list[tuple[bytes, bytes]]) -> None:
    ensure_topics(settings)
    producer = KafkaProducer(**kafka_python_kwargs(settings), acks="all")
    try:
        for key, value in messages:
            producer.send(topic, key=key, value=value)
        producer.flush(timeout=60)
    finally:
        producer.close()


def change_status(
    settings: Settings, lead_id: str, change: StatusChange, list_account: bool = False
) -> LeadStatusRecord:
    """Validate and publish a status change (and, if asked, list the lead's account)."""
    book = load_lead_book(settings)
    record = book.status_change(lead_id, change)
    listing = (
        book.listing_from_lead(lead_id, change.by, change.at, change.note) if list_account else None
    )
    publish_status(settings, record)
    if listing is not None:
        publish_watchlist(settings, [listing])
    return record


class CaseworkFollower:
    """A worker's LeadBook, kept current by following the three topics from their start.

    Each worker reads every partition (no consumer group): the watchlist and the lead list
    are small and every worker needs all of them."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self.book = LeadBook()
        # Set once every topic was read to the end it had at start-up, so the first batch is
        # checked against the watchlist as it stood when the worker started.
        self.caught_up = asyncio.Event()

    async def follow(self) -> None:
        consumer = AIOKafkaConsumer(**aiokafka_kwargs(self._settings), enable_auto_commit=False)
        await consumer.start()
        try:
            names = {self._settings.topics.name(n): n for n in CASEWORK_TOPICS}
            # The worker created the topics before starting (streams.topics.ensure_topics),
            # with the partition counts declared there.
            declared = self._settings.topics.specs()
            partitions = [
                TopicPartition(topic, p)
                for topic in names
                for p in range(declared[topic].partitions)
            ]
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            ends = await consumer.end_offsets(partitions)
            pending = {tp for tp in partitions if ends[tp] > 0}
            if not pending:
                self.caught_up.set()
            while True:
                batches = await consumer.getmany(timeout_ms=1000)
                for tp, records in batches.items():
                    for record in records:
                        if record.value is None:
                            continue
                        try:
                            _apply(self.book, names[tp.topic], record.value)
                        except (ValueError, KeyError) as exc:
                            log.error("skipped %s@%d: %s", tp.topic, record.offset, exc)
                if pending:
                    for tp in list(pending):
                        if await consumer.position(tp) >= ends[tp]:
                            pending.discard(tp)
                    if not pending:
                        self.caught_up.set()
        finally:
            await consumer.stop()
