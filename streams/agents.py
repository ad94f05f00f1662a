"""Agents: move records between topics and tables and call the pure core (``ingest``)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from faust import EventT, StreamT
from faust.tables import Table

from ingest.pipeline import BatchOutcome, IngestStage, InputMessage
from ingest.state import expired_reports
from schemas.envelopes import SourcePosition
from streams import metrics
from streams.app import (
    account_ledgers,
    app,
    dead_letter_topic,
    reports_topic,
    seen_reports,
    settings,
)

ingest_stage = IngestStage(account_ledgers, seen_reports)


@app.agent(reports_topic)
async def ingest(stream: StreamT[bytes]) -> AsyncIterator[None]:
    """Validate, de-duplicate and apply each micro-batch of bank reports."""
    # A batch writes up to two table entries per report; let Faust's send buffer hold a batch
    # instead of warning and flushing every 100 messages.
    app.producer.buffer.max_messages = 5 * settings.batch_size
    batches = stream.take_events(settings.batch_size, within=settings.batch_wait_seconds)
    async for events in batches:
        started = time.perf_counter()
        outcome = ingest_stage.process(
            [_input_message(event) for event in events], datetime.now(UTC)
        )
        for dead_letter in outcome.dead_letters:
            await dead_letter_topic.send(key=dead_letter.original_key, value=dead_letter.to_json())
        _write_tables(outcome)
        metrics.record_outcome(outcome)
        metrics.INGEST_BATCH_SIZE.observe(len(events))
        metrics.INGEST_BATCH_SECONDS.observe(time.perf_counter() - started)
        yield None


@app.timer(interval=settings.dedup_sweep_seconds)
async def forget_old_report_identities() -> None:
    """Delete seen-report entries past the de-duplication horizon (tombstones on the changelog)."""
    horizon_ms = settings.dedup_horizon_days * 86_400_000
    expired = expired_reports(seen_reports.data.items(), horizon_ms)
    for key, partition in expired:
        seen_reports.data.pop(key, None)
        seen_reports.send_changelog(partition, key, None, value_serializer="raw")
    metrics.SEEN_REPORTS_EXPIRED.inc(len(expired))
    metrics.SEEN_REPORTS.set(len(seen_reports.data))


def _input_message(event: EventT) -> InputMessage:
    message = event.message
    return InputMessage(
        key=message.key,
        value=message.value,
        source=SourcePosition(
            message.topic, message.partition, message.offset, int(message.timestamp * 1000)
        ),
    )


def _write_tables(outcome: BatchOutcome) -> None:
    for account_id, (partition, ledger) in outcome.ledger_writes.items():
        _put(account_ledgers, partition, account_id, ledger.to_bytes())
    for identity, (partition, entry) in outcome.seen_writes.items():
        _put(seen_reports, partition, identity, entry.to_bytes())


def _put(table: Table, partition: int, key: str, value: bytes) -> None:
    # A batch mixes partitions, so the changelog partition is given explicitly: the one the
    # account's reports arrive on, whatever partitioner the bank's producer used.
    table.data[key] = value
    table.send_changelog(partition, key, value)
