"""The fundwatch Faust app: topics and tables are declared here, once.

``fundwatch`` (the console command) is this app's own Faust CLI: ``fundwatch worker`` starts a
worker; the project's commands (``fundwatch simulate``, ``fundwatch produce`` ...) are app
commands declared in ``cli.commands``.
"""

from __future__ import annotations

import gc
from typing import Any

import faust

from models.pipeline import collect_garbage_rarely
from schemas.sectors import DEPARTMENTS
from streams.kafka_clients import faust_credentials
from streams.settings import Settings

settings = Settings.from_env()

app = faust.App(
    # The app id: the workers' consumer group and the start of the names Faust gives its own
    # topics (<prefix>-<table>-changelog, <prefix>-__assignor-__leader). The access policy
    # grants exactly those names (streams.topics.TopicManager.faust_internal, worker_group).
    settings.topics.worker_group,
    broker=settings.broker_url,
    # SASL/TLS from the client.properties named by FUNDWATCH_CLIENT_PROPERTIES (None: plaintext).
    broker_credentials=faust_credentials(settings),
    topic_partitions=settings.partitions,
    topic_replication_factor=settings.replication_factor,
    datadir=settings.worker_data_dir,
    store="memory://",
    # Offsets are committed after the producer is flushed, so a table write or a dead letter
    # is in Kafka before the input offset that caused it is committed (at-least-once; the
    # account ledgers make replays harmless).
    broker_commit_interval=1.0,
    # A worker that dies is noticed after this long and its partitions move to the others.
    broker_session_timeout=settings.session_timeout_seconds,
    broker_heartbeat_interval=settings.session_timeout_seconds / 5,
    producer_linger=settings.linger_ms / 1000,
    table_standby_replicas=settings.standby_replicas,
    web_enabled=True,
    # Faust's table and router views would show account state to anyone who reaches the
    # port; the console (streams/console) is the signed-in way in.
    web_tables_enabled=False,
    web_router_enabled=False,
    autodiscover=False,
    # Faust's worker, with the root logger's level restored after start-up (streams.worker).
    Worker="streams.worker:Worker",
)


@app.on_worker_init.connect
def _collect_garbage_rarely(sender: faust.App, **_: Any) -> None:
    """A worker runs the pipeline for as long as it lives: its collector works as a replay's
    (models.pipeline.collect_garbage_rarely), and what was made before the first batch (the
    modules, Faust's services) is left out of every full collection (gc.freeze): such a
    collection pauses the stream for as long as it takes."""
    collect_garbage_rarely()
    gc.freeze()


def bytes_topic(*names: str, partitions: int = settings.partitions) -> faust.TopicT:
    """A topic of raw bytes, keys and values: fundwatch encodes and decodes its records
    itself, so a bad record reaches the dead-letter topic exactly as it was sent."""
    return app.topic(
        *names,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=partitions,
        internal=True,
    )


# The shared fundwatch.reports, or with FUNDWATCH_BANKS each bank's fundwatch.reports.<bank_id>.
# A list, not a pattern: Faust 0.15.3 subscribes by topic names only (its aiokafka driver
# never passes a pattern on). All of them need the tables' partition count, so that partition
# p of every input topic and of every table lands on the same worker (ensure_topics checks).
reports_topic = bytes_topic(*settings.topics.inputs)
# Money movements (models.trails), keyed by the account they reach and sent to the partition
# its reports use (Kafka's default partitioner), so that the partition holding an account's
# state learns which of its counterparties have open leads.
trails_topic = bytes_topic(settings.topics.name("trails"))
# What the ingest agent reads: the reports and the movements, partition p of each together.
ingest_topic = bytes_topic(*settings.topics.inputs, settings.topics.name("trails"))
dead_letter_topic = bytes_topic(settings.topics.name("reports.dlq"))
# With FUNDWATCH_BANKS, each bank's own dead letters too, by the bank topic they were read from.
bank_dead_letter_topics = {
    settings.topics.bank(b): bytes_topic(settings.topics.bank_dead_letters(b), partitions=1)
    for b in settings.bank_ids
}
leads_topic = bytes_topic(settings.topics.name("leads"))
# The same leads, routed: one topic per lead department (schemas.sectors.lead_routes).
department_topics = {d.code: bytes_topic(settings.topics.department(d.code)) for d in DEPARTMENTS}
# Compacted current states written by analysts (casework.lead_status, models.watchlist).
lead_status_topic = bytes_topic(settings.topics.name("lead-status"))
watchlist_topic = bytes_topic(settings.topics.name("watchlist"))
# Every lead revision again, for the one worker that builds the schemes (models.schemes),
# and the schemes it publishes (compacted, keyed by scheme_id).
scheme_inputs_topic = bytes_topic(settings.topics.name("scheme-inputs"), partitions=1)
schemes_topic = bytes_topic(settings.topics.name("schemes"), partitions=1)

# Per-account state (models.account_state.AccountState: ledger, features, open lead) and
# per-report identities (ingest.state.SeenReport), written on the partition of the account's
# reports so they move with it on a rebalance. Values are our own encodings (bytes: Faust's
# "raw" serializer); keys are text (Faust's JSON serializer: "A1" with the quotes).
accounts = app.Table("accounts", key_type=str, value_type=bytes, partitions=settings.partitions)
seen_reports = app.Table(
    "seen-reports", key_type=str, value_type=bytes, partitions=settings.partitions
)
# Per input partition, the next report offset to apply (ingest.contiguity), written after the
# batch's state is acknowledged; key: "<topic>:<partition>".
progress = app.Table("progress", key_type=str, value_type=bytes, partitions=settings.partitions)
# Per account, the money trails that reached it (models.trails.TrailState).
trails = app.Table("trails", key_type=str, value_type=bytes, partitions=settings.partitions)
# The scheme builder's state, on one partition: the latest revision of every lead, and the
# schemes as last published (to publish only changes, and withdraw a merged scheme's id).
scheme_leads = app.Table("scheme-leads", key_type=str, value_type=bytes, partitions=1)
published_schemes = app.Table("published-schemes", key_type=str, value_type=bytes, partitions=1)
