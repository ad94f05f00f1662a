"""What the monthly report reads besides the casework topics: the accounts monitored.

An account is monitored in a month when a valid report with its tx_time in that month (Beijing
time) is on the reports topic. Reports can reach the broker late, so each partition is read
from a few days before the month began (by broker timestamp, ``offsets_for_times``) to the end
it had when reading started, and each report is placed by its own tx_time.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import orjson
from kafka import KafkaConsumer, TopicPartition

from casework.monthly_report import MonitoredAccount, month_bounds
from ingest.pipeline import topic_bank
from models.leads import county_of
from schemas.errors import ReportRejected
from schemas.report import validate_record
from streams.kafka_clients import kafka_python_kwargs
from streams.settings import Settings

# How long before the month's first instant a report of the month may have been appended (a
# bank re-sending a day's file, a tx_time in the month's first hours stamped by a slow clock).
EARLY_ARRIVAL_MARGIN = timedelta(days=3)


def monitored_accounts(settings: Settings, month: str) -> list[MonitoredAccount]:
    """One MonitoredAccount per (bank_id, account_id) with a valid report in the month."""
    # kafka-python 3 warns whenever a poll's records take >100 ms to handle, which checking a
    # month of reports does by design: it is not a fault a report reader should see.
    logging.getLogger("kafka.net.selector").setLevel(logging.ERROR)
    start, end = month_bounds(month)
    consumer = KafkaConsumer(
        **kafka_python_kwargs(settings),
        client_id="fundwatch-report",
        enable_auto_commit=False,
    )
    try:
        # The shared reports topic, or each bank's own (FUNDWATCH_BANKS).
        partitions = [
            TopicPartition(topic, p)
            for topic in settings.topics.inputs
            for p in consumer.partitions_for_topic(topic) or ()
        ]
        if not partitions:
            return []
        consumer.assign(partitions)
        ends = consumer.end_offsets(partitions)
        since_ms = int((start - EARLY_ARRIVAL_MARGIN).timestamp() * 1000)
        found = consumer.offsets_for_times({tp: since_ms for tp in partitions})
        for tp in partitions:
            hit = found.get(tp)
            # No message appended since then: nothing of the month in this partition.
            consumer.seek(tp, hit.offset if hit is not None else ends[tp])
        accounts: dict[tuple[str, str], MonitoredAccount] = {}
        remaining = {tp for tp in partitions if consumer.position(tp) < ends[tp]}
        while remaining:
            for tp, records in consumer.poll(timeout_ms=1000).items():
                for record in records:
                    if record.offset >= ends[tp] or record.value is None:
                        continue
                    account = _account_of(record.key, record.value)
                    if account is None:
                        continue
                    monitored, tx_time = account
                    # A report naming another bank than its topic's is dead-lettered.
                    if topic_bank(tp.topic) not in (None, monitored.bank_id):
                        continue
                    if start <= tx_time < end:
                        accounts.setdefault((monitored.bank_id, monitored.account_id), monitored)
            remaining = {tp for tp in remaining if consumer.position(tp) < ends[tp]}
        return sorted(accounts.values(), key=lambda a: (a.bank_id, a.account_id))
    finally:
        consumer.close()


def _account_of(key: bytes | None, value: bytes) -> tuple[MonitoredAccount, datetime] | None:
    """The report's account and tx_time, or None for a report the worker dead-letters."""
    try:
        report = validate_record(orjson.loads(value), key)
    except (orjson.JSONDecodeError, ReportRejected):
        return None
    account = MonitoredAccount(
        account_id=report.account_id,
        bank_id=report.bank_id,
        county=county_of(report.region),
        sector=report.industry or "other",
    )
    return account, report.tx_time
