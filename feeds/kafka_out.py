"""Sending report lines to the input topic with a plain Kafka client, as a bank would."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import orjson
from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError

from schemas.sectors import DEPARTMENTS
from streams.kafka_clients import kafka_python_kwargs
from streams.settings import Settings


class TopicLayoutError(RuntimeError):
    """An existing topic the worker cannot use as it is (names the topic and what is wrong)."""

    def __init__(self, topic: str, problem: str) -> None:
        self.topic = topic
        super().__init__(f"{topic}: {problem}")


class UnroutableReportError(ValueError):
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
    unkeyed: int = 0  # lines without a readable account_id: sent unkeyed, the worker rejects them
    seconds: float = 0.0
    topics: set[str] = field(default_factory=set)

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds > 0 else 0.0


MODEL_MESSAGE_MAX_BYTES = 16 * 1024 * 1024


def app_topics(settings: Settings) -> dict[str, tuple[int, dict[str, str]]]:
    """The app's own topics: partitions and topic configs."""
    return {
        settings.topic("reports"): (settings.partitions, {}),
        # Each bank's own input topic (FUNDWATCH_BANKS), so a bank can be granted its own only.
        **{topic: (settings.partitions, {}) for topic in settings.report_topics},
        settings.topic("reports.dlq"): (settings.partitions, {}),
        # Money movements keyed by the account they reach (models.trails): read beside the
        # reports, so they need the tables' partition count too.
        settings.topic("trails"): (settings.partitions, {}),
        settings.topic("leads"): (settings.partitions, {}),
        # Every lead revision again, on one partition for the one worker that builds the
        # schemes, keyed by lead_id; and the schemes it publishes, keyed by scheme_id.
        settings.topic("scheme-inputs"): (1, {"cleanup.policy": "compact"}),
        settings.topic("schemes"): (1, {"cleanup.policy": "compact"}),
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
    """Create the app's topics (or ``topics``) that do not exist yet; return those created.

    Raises TopicLayoutError if an existing input topic has another partition count than the
    tables: its partitions would not be co-partitioned with the accounts' state."""
    admin = KafkaAdminClient(**kafka_python_kwargs(settings), client_id="fundwatch")
    try:
        existing = set(admin.list_topics())
        _check_input_partitions(admin, settings, existing)
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


def _check_input_partitions(
    admin: KafkaAdminClient, settings: Settings, existing: set[str]
) -> None:
    inputs = [t for t in (*settings.report_topics, settings.topic("trails")) if t in existing]
    for description in admin.describe_topics(inputs) if inputs else ():
        count = len(description["partitions"])
        if count != settings.partitions:
            raise TopicLayoutError(
                description["name"],
                f"has {count} partitions, the tables {settings.partitions} "
                "(FUNDWATCH_PARTITIONS): every input topic needs the tables' count",
            )


def report_producer(settings: Settings) -> KafkaProducer:
    return KafkaProducer(
        **kafka_python_kwargs(settings),
        client_id="fundwatch-producer",
        acks="all",
        linger_ms=20,
        batch_size=256 * 1024,
    )


def account_key(line: bytes) -> bytes | None:
    """The message key of a report line: its account_id, as the schema requires."""
    return _key_and_bank(line)[0]


def _key_and_bank(line: bytes) -> tuple[bytes | None, str | None]:
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None, None
    if not isinstance(record, dict):
        return None, None
    account, bank = record.get("account_id"), record.get("bank_id")
    return (
        account.encode() if isinstance(account, str) else None,
        bank if isinstance(bank, str) else None,
    )


def send_lines(
    lines: Iterable[bytes],
    settings: Settings,
    rate: float = 0.0,
    producer: KafkaProducer | None = None,
    topic: str | None = None,
) -> SendSummary:
    """Send each line unchanged, keyed by account_id; ``rate`` caps reports per second.

    The lines go to ``topic``; without one, to the shared reports topic, or, when the worker
    reads bank topics (FUNDWATCH_BANKS), each to the topic of its bank_id (the simulator's
    way of being every bank at once; UnroutableReportError for another bank_id)."""
    own_producer = producer is None
    producer = producer or report_producer(settings)
    by_bank = topic is None and bool(settings.bank_ids)
    fixed_topic = topic or settings.topic("reports")
    summary = SendSummary()
    started = time.monotonic()
    try:
        for line in _paced(lines, rate, started):
            key, bank_id = _key_and_bank(line)
            line_topic = fixed_topic
            if by_bank:
                if bank_id is None or bank_id not in settings.bank_ids:
                    raise UnroutableReportError(summary.sent + 1, bank_id, settings.bank_ids)
                line_topic = settings.bank_topic(bank_id)
            summary.unkeyed += key is None
            producer.send(line_topic, key=key, value=line)
            summary.topics.add(line_topic)
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
