"""The model in use by this worker, followed from the compacted models topic.

Every worker reads the whole models topic (one partition, no consumer group) and uses the
last valid artifact published on it. A new model replaces the old one by a single reference
assignment, which the ingest agent reads once per batch: a batch is scored by one model.
An artifact that fails its checks is refused and the worker keeps the model it has.
"""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaConsumer, TopicPartition

from models.forest import FundraisingForest, ModelArtifactError
from streams import metrics
from streams.kafka_clients import aiokafka_kwargs
from streams.settings import Settings
from streams.topics import MODEL_MESSAGE_MAX_BYTES

log = logging.getLogger(__name__)


class ModelRegistry:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self.current: FundraisingForest | None = None
        # Set once the topic has been read up to its end at start-up, so the first batch is
        # scored by the model that was current when the worker started.
        self.caught_up = asyncio.Event()

    def offer(self, blob: bytes, source: str) -> bool:
        """Switch to the artifact in ``blob`` if it passes every check."""
        try:
            model = FundraisingForest.from_bytes(blob)
            model.check_features()  # trained on the features this code computes
        except ModelArtifactError as exc:
            log.error(
                "refused model from %s, keeping %s: %s",
                source,
                self.current.version_ if self.current else "no model",
                exc,
            )
            metrics.MODELS_REFUSED.inc()
            return False
        self.current = model
        metrics.set_model(model)
        log.info("now scoring with model %s (from %s)", model.version_, source)
        return True

    async def follow(self) -> None:
        topic = TopicPartition(self._settings.topics.name("models"), 0)
        consumer = AIOKafkaConsumer(
            **aiokafka_kwargs(self._settings),
            enable_auto_commit=False,
            max_partition_fetch_bytes=MODEL_MESSAGE_MAX_BYTES,
            fetch_max_bytes=4 * MODEL_MESSAGE_MAX_BYTES,
        )
        await consumer.start()
        try:
            consumer.assign([topic])
            await consumer.seek_to_beginning(topic)
            end = (await consumer.end_offsets([topic]))[topic]
            if end == 0:
                self.caught_up.set()
            while True:
                batches = await consumer.getmany(timeout_ms=1000)
                for record in batches.get(topic, []):
                    if record.value is not None:
                        self.offer(record.value, f"{topic.topic}@{record.offset}")
                if not self.caught_up.is_set() and await consumer.position(topic) >= end:
                    self.caught_up.set()
        finally:
            await consumer.stop()
