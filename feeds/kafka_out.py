"""Sending report lines to the input topic with a plain Kafka client, as a bank would."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import orjson
from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError

from schemas.sectors import DEPARTMENTS
from streams.settings import Settings


@dataclass
class SendSummary:
    sent: int = 0
    unkeyed: int = 0  # lines without a readable account_id: sent unkeyed, the worker rejects them
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds > 0 else 0.0


MODEL_MESSAGE_MAX_BYTES = 16 * 1024 * 1024


def app_topics(settings: Settings) -> dict[str, tuple[int, dict[str, str]]]:
    """The app's own topics: partitions and topic configs."""
    return {
        settings.topic("reports"): (settings.partitions, {}),
        settings.topic("reports.dlq"): (settings.partitions, {}),
        settings.topic("leads"): (settings.partitions, {}),
        # Each department's own leads, so it can be granted read on its topic only.
        **{settings.department_topic(d.code): (settings.partitions, {}) for d in DEPARTMENTS},
        # Current states, compacted: each lead's status with its history, keyed by lead_id;
        # the negative list, keyed by entity, on one partition so every reader applies the
        # changes in one order.
        settings.topic("lead-status"): (settings.partitions, {"cleanup.policy": "compact"}),
        settings.topic("watchlist"): (1, {"cleanup.policy": "compact"}),
        # One partition, so every worker sees the publications in one order; compacted,
        # keyed by model version; a model is one message of a few MB.
        settings.topic("models"): (
            1,
            {"cleanup.policy": "compact", "max.message.bytes": str(MODEL_MESSAGE_MAX_BYTES)},
        ),
    }


def ensure_topics(
    settings: Settings, topics: dict[str, tuple[int, dict[str, str]]] | None = None
) -> list[str]:
    """Create the app's topics (or ``topics``) that do not exist yet; return those created."""
    admin = KafkaAdminClient(bootstrap_servers=settings.bootstrap_servers, client_id="fundwatch")
    try:
        existing = set(admin.list_topics())
        missing = [
            NewTopic(name, partitions, settings.replication_factor, topic_configs=configs)
            for name, (partitions, configs) in (topics or app_topics(settings)).items()
            if name not in existing
        ]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):  # a worker created it meanwhile
                admin.create_topics(missing)
        return [t.name for t in missing]
    finally:
        admin.close()


def report_producer(settings: Settings) -> KafkaProducer:
    return KafkaProducer(
        bootstrap_servers=settings.bootstrap_servers,
        client_id="fundwatch-producer",
        acks="all",
        linger_ms=20,
        batch_size=256 * 1024,
    )


def account_key(line: bytes) -> bytes | None:
    """The message key of a report line: its account_id, as the schema requires."""
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    account = record.get("account_id") if isinstance(record, dict) else None
    return account.encode() if isinstance(account, str) else None


def send_lines(
    lines: Iterable[bytes],
    settings: Settings,
    rate: float = 0.0,
    producer: KafkaProducer | None = None,
) -> SendSummary:
    """Send each line unchanged, keyed by account_id; ``rate`` caps reports per second."""
    own_producer = producer is None
    producer = producer or report_producer(settings)
    topic = settings.topic("reports")
    summary = SendSummary()
    started = time.monotonic()
    try:
        for line in _paced(lines, rate, started):
            key = account_key(line)
            summary.unkeyed += key is None
            producer.send(topic, key=key, value=line)
            summary.sent += 1
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
