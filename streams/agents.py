"""Agents: move records between topics and tables and call the pure core (``models.pipeline``)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, ItemsView, Mapping
from datetime import UTC, datetime

import orjson
from aiokafka.errors import IllegalStateError
from faust import EventT, StreamT
from faust.tables import Table
from faust.types import TP
from kafka.partitioner.default import murmur2

from ingest.contiguity import ContiguityGuard, ContiguousBatch, Partition
from ingest.pipeline import BATCH_HEADER, InputMessage
from ingest.state import SeenTable, identities_held, sweep_cutoff, sweep_seen
from models.pipeline import Pipeline, PipelineConfig, PipelineOutcome
from models.schemes import Scheme, build_schemes
from schemas.envelopes import SourcePosition
from schemas.sectors import lead_routes
from streams import metrics
from streams.app import (
    accounts,
    app,
    bank_dead_letter_topics,
    dead_letter_topic,
    department_topics,
    ingest_topic,
    leads_topic,
    progress,
    published_schemes,
    reports_topic,
    scheme_inputs_topic,
    scheme_leads,
    schemes_topic,
    seen_reports,
    settings,
    trails,
    trails_topic,
)
from streams.casework_topics import CaseworkFollower
from streams.changelog import ChangelogChain
from streams.model_registry import ModelRegistry

log = logging.getLogger(__name__)
guard = ContiguityGuard()


class _StoredValues:
    """A table's stored values, read as a plain mapping (its store, without Faust's per-key
    hooks): what ingest.state.SeenTable reads and indexes."""

    def __init__(self, table: Table) -> None:
        self._table = table

    def get(self, key: str, default: None = None) -> bytes | None:
        value: bytes | None = self._table.data.get(key)
        return value

    def __len__(self) -> int:
        return len(self._table.data)

    def items(self) -> ItemsView[str, bytes]:
        items: ItemsView[str, bytes] = self._table.data.items()
        return items


# A table entry for its changelog: (table, partition, key, value; None deletes it).
ChangelogWrite = tuple[Table, int, str, bytes | None]

DAY_MS = 86_400_000
# The identities of each account's reports (one value per account), with this worker's index
# of which account holds an identity (a report_id re-sent under another account).
seen_identities = SeenTable(_StoredValues(seen_reports), settings.dedup_horizon_days * DAY_MS)
pipeline = Pipeline(
    accounts,
    seen_identities,
    PipelineConfig(
        lateness_ms=int(settings.lateness_seconds * 1000),
        trail_topic=settings.topics.name("trails"),
        tx_time_rules=settings.tx_time_rules,
        partitions=settings.partitions,
    ),
    trails,
)
models = ModelRegistry(settings)
# The leads, their status and the negative list, as this worker knows them: the watchlist
# for detection, everything for the web console.
casework = CaseworkFollower(settings)
changelog = ChangelogChain()


@app.task
async def follow_models() -> None:
    """Keep this worker on the latest model published on the models topic."""
    await models.follow()


@app.task
async def follow_casework() -> None:
    """Keep this worker's LeadBook (and so its watchlist) current."""
    await casework.follow()


@app.agent(ingest_topic)
async def ingest(stream: StreamT[bytes]) -> AsyncIterator[None]:
    """Validate, de-duplicate, update features, score and lead, one micro-batch at a time;
    follow the money trails of leads (the movements read beside the reports)."""
    # A batch writes up to two table entries per account (its state, its report identities)
    # and its leads; let Faust's send buffer hold a batch instead of warning and flushing
    # every 100 messages.
    app.producer.buffer.max_messages = 5 * settings.batch_size
    await models.caught_up.wait()
    await casework.caught_up.wait()
    batches = stream.take_events(settings.batch_size, within=settings.batch_wait_seconds)
    assigned: frozenset[TP] = frozenset()
    async for events in batches:
        if assigned != (now_assigned := frozenset(app.consumer.assignment())):
            # A rebalance moved partitions (and their identities) in or out: re-index.
            assigned = now_assigned
            seen_identities.invalidate()
        messages = [_input_message(e) for e in events]
        batch = guard.check(messages, await _watermarks(messages), time.monotonic())
        await _seek_back(batch)
        # Batched messages hold many reports each: the pipeline takes at most about
        # batch_size reports at a time, so a batch's latency stays that of batch_size reports.
        # A chunk's writes wait on Kafka while the next chunk is computed (_process); all are
        # acknowledged before the watermarks are written and the batch is given back.
        try:
            for chunk in _chunks(batch.accepted, settings.batch_size):
                await _process(chunk)
        finally:
            await changelog.drain()
        for (topic, partition), watermark in batch.watermarks.items():
            await _put(progress, partition, f"{topic}:{partition}", str(watermark).encode())
        metrics.REPORTS_REDELIVERED.inc(batch.redelivered)
        yield None


def _chunks(messages: list[InputMessage], reports: int) -> list[list[InputMessage]]:
    """Consecutive runs of messages holding about ``reports`` reports each (a batched
    message counts its lines; one message is never split)."""
    chunks: list[list[InputMessage]] = [[]]
    held = 0
    for message in messages:
        size = message.value.count(b"\n") + 1 if message.batched else 1
        if chunks[-1] and held + size > reports:
            chunks.append([])
            held = 0
        chunks[-1].append(message)
        held += size
    return [chunk for chunk in chunks if chunk]


async def _process(messages: list[InputMessage]) -> None:
    """Run the pipeline over messages and send what it returns: dead letters, leads and
    movements now; the tables' changelog once those are acknowledged (``_finish``, the
    next step of ``changelog``).

    The tables' local values are set at once, so the next chunk reads this one's states:
    they are this worker's memory, and a crash loses them with the rest of it."""
    started = time.perf_counter()
    model = models.current  # one model for the whole batch
    watchlist = casework.book.watchlist
    outcome = pipeline.process(messages, model, datetime.now(UTC), watchlist)
    for dead_letter in outcome.ingest.dead_letters:
        key, value = dead_letter.original_key, dead_letter.to_json()
        await dead_letter_topic.send(key=key, value=value)
        # The sending bank's copy: by the topic the report came on (its ACL says who
        # wrote it), never by the bank_id it claims.
        own = bank_dead_letter_topics.get(dead_letter.source.topic)
        if own is not None:
            await own.send(key=key, value=value)
    for message, reason in outcome.movements_refused:
        log.error("not a movement at %s: %s", message.source, reason)
        metrics.TRAIL_MOVEMENTS_REFUSED.inc()
    deliveries = []
    for lead in outcome.leads:
        key, value = lead.lead_id.encode(), lead.to_json()
        deliveries.append(await leads_topic.send(key=key, value=value))
        deliveries.append(await scheme_inputs_topic.send(key=key, value=value))
        for code in lead_routes(
            lead.sector, lead.lead_department, lead.cross_prefecture, lead.cross_province_major
        ):
            deliveries.append(await department_topics[code].send(key=key, value=value))
    for movement in outcome.movements:
        key = movement.to_account.encode()
        deliveries.append(
            await trails_topic.send(
                key=key, value=movement.to_json(), partition=_account_partition(key)
            )
        )
        metrics.TRAIL_MOVEMENTS_SENT.labels(movement.direction).inc()
    writes = _store_tables(outcome)
    changelog.then(_finish(outcome, deliveries, writes, len(messages), started))
    await asyncio.sleep(0)  # let the producer send this chunk's records while the next runs


async def _finish(
    outcome: PipelineOutcome,
    deliveries: list[Awaitable[object]],
    writes: list[ChangelogWrite],
    message_count: int,
    started: float,
) -> None:
    # Leads and movements are acknowledged before the state that marks their reports as
    # applied is written, and that state before the watermarks: a crash in between
    # replays the reports (re-sending the same revisions) instead of losing them.
    await asyncio.gather(*deliveries)
    published = time.time()
    for arrival_ms in outcome.lead_arrivals_ms:
        if arrival_ms is not None:
            metrics.LEAD_LATENCY.observe(max(0.0, published - arrival_ms / 1000))
    for message, _ in outcome.ingest.accepted:
        if message.source.timestamp_ms is not None:
            metrics.REPORT_LATENCY.observe(max(0.0, published - message.source.timestamp_ms / 1000))
    await _send_all(writes)
    metrics.TRAIL_MOVEMENTS_APPLIED.inc(outcome.movements_applied)
    _record(outcome, message_count, time.perf_counter() - started)


def _account_partition(key: bytes) -> int:
    """The partition Kafka's default partitioner gives an account's key: where the bank's
    producer puts that account's reports, and so where its state lives."""
    return (murmur2(key) & 0x7FFFFFFF) % settings.partitions


# The scheme builder's view: lead_id -> latest revision decoded (rebuilt from the table).
_scheme_leads_decoded: dict[str, dict[str, object]] = {}


@app.agent(scheme_inputs_topic)
async def publish_schemes(stream: StreamT[bytes]) -> AsyncIterator[None]:
    """Keep the latest revision of every lead and publish the schemes they form whenever one
    changes (models.schemes: a pure function of the leads, so a restarted worker rebuilds
    the same schemes from its changelog-backed tables)."""
    async for events in stream.take_events(settings.batch_size, within=1.0):
        if _scheme_leads_decoded.keys() != scheme_leads.data.keys():
            _scheme_leads_decoded.clear()
            _scheme_leads_decoded.update({k: orjson.loads(v) for k, v in scheme_leads.data.items()})
        writes = []
        for event in events:
            lead = orjson.loads(event.message.value)
            known = _scheme_leads_decoded.get(lead["lead_id"])
            if known is None or lead["revision"] > known["revision"]:  # type: ignore[operator]
                _scheme_leads_decoded[lead["lead_id"]] = lead
                writes.append(await _put(scheme_leads, 0, lead["lead_id"], event.message.value))
        schemes = build_schemes(_scheme_leads_decoded.values())  # type: ignore[arg-type]
        deliveries = await _publish_changed(schemes)
        await asyncio.gather(*deliveries)
        await asyncio.gather(*writes)
        for severity in ("general", "major", "case_related"):
            metrics.SCHEMES.labels(severity).set(sum(s.severity == severity for s in schemes))
        yield None


async def _publish_changed(schemes: list[Scheme]) -> list[Awaitable[object]]:
    """Send each new or changed scheme; withdraw the id of a scheme merged into another."""
    sent = []
    current = {s.scheme_id: s for s in schemes}
    for scheme_id, scheme in current.items():
        blob = scheme.to_json()
        if published_schemes.data.get(scheme_id) != blob:
            sent.append(await schemes_topic.send(key=scheme_id.encode(), value=blob))
            sent.append(await _put(published_schemes, 0, scheme_id, blob))
    for scheme_id in [k for k in published_schemes.data if k not in current]:
        old = Scheme.from_dict(orjson.loads(published_schemes.data[scheme_id]))
        merged_into = next(
            (s.scheme_id for s in schemes if set(old.lead_ids) & set(s.lead_ids)), None
        )
        notice = {"schema_version": 1, "scheme_id": scheme_id, "merged_into": merged_into}
        sent.append(await schemes_topic.send(key=scheme_id.encode(), value=orjson.dumps(notice)))
        sent.append(await _put(published_schemes, 0, scheme_id, None))
    metrics.SCHEMES_PUBLISHED.inc(len(sent) // 2)
    return sent


async def _watermarks(messages: list[InputMessage]) -> dict[Partition, int]:
    """The next offset to apply of each input partition in the batch: stored with the
    partition's state, or the partition's first offset when nothing was applied from it."""
    watermarks: dict[Partition, int] = {}
    missing = []
    for topic, partition in {(m.source.topic, m.source.partition) for m in messages}:
        stored = progress.data.get(f"{topic}:{partition}")
        if stored is not None:
            watermarks[(topic, partition)] = int(stored)
        else:
            missing.append(TP(topic, partition))
    if missing:
        earliest = await app.consumer.earliest_offsets(*missing)
        watermarks.update({(tp.topic, tp.partition): earliest[tp] or 0 for tp in missing})
    return watermarks


async def _seek_back(batch: ContiguousBatch) -> None:
    for (topic, partition), offset in batch.seeks.items():
        log.warning(
            "reports skipped by the consumer on %s[%d]: going back to offset %d",
            topic,
            partition,
            offset,
        )
        metrics.CONSUMER_REWINDS.inc()
        # seek_wait, not seek: Faust's seek calls aiokafka from this thread while the
        # consumer's own thread may be walking its fetched records, and the fetcher then
        # crashes with a KeyError (and the worker with it). seek_wait runs in that thread.
        try:
            await app.consumer.seek_wait({TP(topic, partition): offset})
        except IllegalStateError:
            # Revoked meanwhile: its new owner starts from the watermark kept with the state.
            log.info("%s[%d] was revoked before the seek: left to its new owner", topic, partition)
    for (topic, partition), (watermark, offset) in batch.passed_gaps.items():
        log.warning(
            "offsets %d..%d of %s[%d] hold no reports (a transactional producer?): passed over",
            watermark,
            offset - 1,
            topic,
            partition,
        )


@app.timer(interval=settings.dedup_sweep_seconds)
async def forget_old_report_identities() -> None:
    """Forget report identities past the de-duplication horizon: an account's value is
    rewritten without them (deleted, a tombstone, when none is left); a per-report entry of
    before version 3 is deleted."""
    horizon_ms = settings.dedup_horizon_days * DAY_MS
    latest_ms = int(time.time() * 1000) + settings.tx_time_rules.future_tolerance_ms
    cutoff = sweep_cutoff(list(seen_reports.data.items()), horizon_ms, latest_ms)
    forgotten = 0
    rewrites: list[ChangelogWrite] = []
    for key in list(seen_reports.data.keys()):
        # Read and rewritten with no await in between: a batch's newer value of the account
        # is never overwritten by an older one. The records go after those of the chunks
        # whose values were set before (changelog), so the changelog ends on the same value.
        blob = seen_reports.data.get(key)
        rewrite = sweep_seen(key, blob, cutoff, latest_ms) if blob is not None else None
        if rewrite is not None:
            forgotten += rewrite.forgotten
            _store(seen_reports, key, rewrite.value)
            rewrites.append((seen_reports, rewrite.partition, key, rewrite.value))
    changelog.then(_send_all(rewrites))  # a failure surfaces in the ingest agent's drain
    seen_identities.invalidate()  # drop the forgotten identities from the index too
    metrics.SEEN_REPORTS_EXPIRED.inc(forgotten)
    metrics.SEEN_REPORTS.set(sum(identities_held(v) for v in seen_reports.data.values()))


@app.timer(interval=settings.gauge_interval_seconds)
async def measure_lag_and_state() -> None:
    """Consumer lag per assigned input partition, and the accounts this worker holds."""
    consumer = app.consumer
    topics = set(reports_topic.topics)  # the shared topic, or each bank's
    assigned = sorted(tp for tp in consumer.assignment() if tp.topic in topics)
    ends = await consumer.highwaters(*assigned) if assigned else {}
    metrics.CONSUMER_LAG.clear()  # partitions moved to another worker drop out
    for tp in assigned:
        position = await consumer.position(tp)
        if ends.get(tp) is not None and position is not None:
            metrics.CONSUMER_LAG.labels(tp.topic, str(tp.partition)).set(ends[tp] - position)
    metrics.ACCOUNTS_TRACKED.set(len(accounts.data))


def _input_message(event: EventT) -> InputMessage:
    message = event.message
    # The broker timestamp the ingest stage checks tx_time against; Kafka's "no timestamp"
    # (-1) reads as none, so that check is skipped rather than failing every report.
    timestamp_ms = int(message.timestamp * 1000) if message.timestamp > 0 else None
    return InputMessage(
        key=message.key,
        value=message.value,
        source=SourcePosition(message.topic, message.partition, message.offset, timestamp_ms),
        batched=_is_batched(message.headers),
    )


def _is_batched(headers: object) -> bool:
    """Whether a message carries BATCH_HEADER (headers as aiokafka gives them: (key, value)
    pairs; a mapping too)."""
    if not headers:
        return False
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    name, value = BATCH_HEADER
    return any(k == name and v == value for k, v in pairs)  # type: ignore[union-attr]


def _store_tables(outcome: PipelineOutcome) -> list[ChangelogWrite]:
    """Set the batch's state in the tables' local stores; the changelog records to send."""
    writes: list[ChangelogWrite] = [
        (accounts, partition, account_id, blob)
        for account_id, (partition, blob) in outcome.account_writes.items()
    ]
    writes.extend(
        (seen_reports, partition, account_id, identities.to_bytes())
        for account_id, (partition, identities) in outcome.ingest.seen_writes.items()
    )
    writes.extend(
        (trails, partition, account_id, blob)
        for account_id, (partition, blob) in outcome.trail_writes.items()
    )
    for table, _, key, value in writes:
        _store(table, key, value)
    return writes


def _store(table: Table, key: str, value: bytes | None) -> None:
    if value is None:
        table.data.pop(key, None)
    else:
        table.data[key] = value


async def _put(table: Table, partition: int, key: str, value: bytes | None) -> Awaitable[object]:
    """Set (or with None delete) a table entry and send it to the table's changelog."""
    _store(table, key, value)
    return await _send_changelog(table, partition, key, value)


async def _send_all(writes: list[ChangelogWrite]) -> None:
    """Send table entries to their changelogs and wait until Kafka has them all."""
    await asyncio.gather(*[await _send_changelog(*write) for write in writes])


async def _send_changelog(
    table: Table, partition: int, key: str, value: bytes | None
) -> Awaitable[object]:
    """Send a table entry to the table's changelog; the future completes when Kafka has it.

    A batch mixes partitions, so the changelog partition is given explicitly: the one the
    account's reports arrive on, whatever partitioner the bank's producer used. The record
    goes straight to the producer, as Faust's own send_changelog would write it (the key as
    JSON) but without its per-message bookkeeping, which the in-memory store does not use and
    which costs more than the rest of a report's processing."""
    topic = table.changelog_topic.get_topic_name()
    metrics.CHANGELOG_MESSAGES.labels(table.name).inc()
    return await app.producer.send(topic, orjson.dumps(key), value, partition, None, None)


def _record(outcome: PipelineOutcome, batch_size: int, seconds: float) -> None:
    metrics.record_outcome(outcome.ingest)
    metrics.record_leads(outcome.leads)
    metrics.REPORTS_LATE.inc(outcome.late_reports)
    if outcome.scores is not None:
        metrics.SCORED_REPORTS.inc(len(outcome.scores))
        metrics.record_scores(outcome.scores)
        metrics.SCORING_BATCH_SIZE.observe(len(outcome.scores))
        metrics.SCORING_SECONDS.observe(outcome.scoring_seconds)
    metrics.INGEST_BATCH_SIZE.observe(batch_size)
    metrics.INGEST_BATCH_SECONDS.observe(seconds)
