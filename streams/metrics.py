"""Prometheus metrics of the worker (exposed at /metrics on Faust's web port)."""

from __future__ import annotations

import numpy as np
from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics

from ingest.pipeline import BatchOutcome, Verdict
from models.forest import FundraisingForest
from schemas.errors import RejectReason
from schemas.lead import Lead

# The *_created series double the exposition and no dashboard of ours reads them.
disable_created_metrics()

REPORTS_ACCEPTED = Counter(
    "fundwatch_reports_accepted_total", "Reports accepted by the ingest agent.", ["bank_id"]
)
REPORTS_REJECTED = Counter(
    "fundwatch_reports_rejected_total",
    "Messages sent to the dead-letter topic, by reason.",
    ["reason", "bank_id"],
)
REPORTS_DUPLICATE = Counter(
    "fundwatch_reports_duplicate_total",
    "Exact re-sends of a report already accepted (dropped).",
    ["bank_id"],
)
REPORTS_REPLAYED = Counter(
    "fundwatch_reports_replayed_total",
    "Messages read again after a restart whose effect was already in the tables (skipped).",
)
REPORTS_REDELIVERED = Counter(
    "fundwatch_reports_redelivered_total",
    "Reports the consumer handed over again below the partition's watermark (dropped).",
)
CONSUMER_REWINDS = Counter(
    "fundwatch_consumer_rewinds_total",
    "Times the consumer skipped reports and was sent back to the partition's watermark.",
)
INGEST_BATCH_SIZE = Histogram(
    "fundwatch_ingest_batch_size",
    "Messages per ingest micro-batch.",
    buckets=(1, 10, 50, 100, 250, 500, 1000, 2500, 5000),
)
INGEST_BATCH_SECONDS = Histogram(
    "fundwatch_ingest_batch_duration_seconds",
    "Time from the start of an ingest chunk's pipeline to its table writes acknowledged "
    "(a chunk's writes wait for those of the chunk before it).",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
CHANGELOG_MESSAGES = Counter(
    "fundwatch_changelog_messages_total",
    "Table writes sent to a changelog topic, by table (per report: divide by the reports).",
    ["table"],
)
SEEN_REPORTS = Gauge(
    "fundwatch_seen_reports",
    "Report identities held for de-duplication by this worker (at the last sweep).",
)
SEEN_REPORTS_EXPIRED = Counter(
    "fundwatch_seen_reports_expired_total",
    "Report identities forgotten because they fell out of the de-duplication horizon.",
)
REPORTS_LATE = Counter(
    "fundwatch_reports_late_total",
    "Reports further behind their account's newest report than the allowed lateness: "
    "counted in lifetime totals, not in the windows.",
)
SCORED_REPORTS = Counter("fundwatch_scored_reports_total", "Reports scored by the model.")
SCORING_BATCH_SIZE = Histogram(
    "fundwatch_scoring_batch_size",
    "Feature vectors per scoring call.",
    buckets=(1, 10, 50, 100, 250, 500, 1000, 2500, 5000),
)
SCORING_SECONDS = Histogram(
    "fundwatch_scoring_duration_seconds",
    "Time of one vectorised scoring call.",
    buckets=(0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1),
)
LEADS_EMITTED = Counter(
    "fundwatch_leads_emitted_total",
    "Lead revisions published, by severity, sector, county and kind (scored or linked).",
    ["severity", "sector", "county", "kind"],
)
TRAIL_MOVEMENTS_SENT = Counter(
    "fundwatch_trail_movements_sent_total",
    "Transfers that carry a lead's money trail on to the account they reach, by direction.",
    ["direction"],
)
TRAIL_MOVEMENTS_APPLIED = Counter(
    "fundwatch_trail_movements_applied_total",
    "Movements added to the trail of the account they reached (replayed copies excluded).",
)
TRAIL_MOVEMENTS_REFUSED = Counter(
    "fundwatch_trail_movements_refused_total",
    "Records on the trails topic that are not movements (logged with their position).",
)
SCHEMES_PUBLISHED = Counter(
    "fundwatch_schemes_published_total",
    "Scheme records published on the schemes topic (new or changed, and withdrawn ids).",
)
SCHEMES = Gauge(
    "fundwatch_schemes", "Suspected schemes among the leads, by severity.", ["severity"]
)
# Finer around the 250 ms target (issue 15), so that a p99 near it is read, not guessed.
LATENCY_BUCKETS = (
    0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75,
    1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
)  # fmt: skip
LEAD_LATENCY = Histogram(
    "fundwatch_lead_latency_seconds",
    "From the arrival on Kafka of the report that raised or revised a lead to the lead's "
    "publication.",
    buckets=LATENCY_BUCKETS,
)
REPORT_LATENCY = Histogram(
    "fundwatch_report_latency_seconds",
    "From the arrival on Kafka of an accepted report to the publication of its batch's leads "
    "(when its lead, had it raised one, went out): every report, not only the few that lead.",
    buckets=LATENCY_BUCKETS,
)
SCORES = Histogram(
    "fundwatch_anomaly_score",
    "Anomaly score of each scored report (0..1; the model's threshold is in "
    "fundwatch_model_threshold).",
    buckets=(0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.9),
)
CONSUMER_LAG = Gauge(
    "fundwatch_consumer_lag_messages",
    "Reports on the input topic not yet read by this worker, per assigned partition.",
    ["topic", "partition"],
)
ACCOUNTS_TRACKED = Gauge(
    "fundwatch_accounts_tracked", "Accounts whose state this worker holds (its partitions)."
)
MODEL_INFO = Gauge(
    "fundwatch_model_info", "The model in use (value 1 on its version).", ["version"]
)
MODEL_LOADED = Gauge(
    "fundwatch_model_loaded_timestamp_seconds",
    "When this worker switched to the model in use (Unix time).",
)
MODEL_THRESHOLD = Gauge("fundwatch_model_threshold", "Alert threshold of the model in use.")
MODELS_REFUSED = Counter(
    "fundwatch_models_refused_total", "Published model artifacts that failed their checks."
)
# A bank_id read from a record that failed the schema is arbitrary text: not a label.
_UNTRUSTED_BANK = {RejectReason.UNDECODABLE.value, RejectReason.SCHEMA.value}


def record_outcome(outcome: BatchOutcome) -> None:
    reasons = iter(dl.reason for dl in outcome.dead_letters)
    for verdict, bank_id in outcome.verdicts:
        if verdict is Verdict.ACCEPTED:
            REPORTS_ACCEPTED.labels(bank_id).inc()
        elif verdict is Verdict.DUPLICATE:
            REPORTS_DUPLICATE.labels(bank_id).inc()
        elif verdict is Verdict.REPLAYED:
            REPORTS_REPLAYED.inc()
        else:
            reason = next(reasons)
            bank = "unknown" if reason in _UNTRUSTED_BANK or not bank_id else bank_id
            REPORTS_REJECTED.labels(reason, bank).inc()


def record_leads(leads: list[Lead]) -> None:
    for lead in leads:
        LEADS_EMITTED.labels(lead.severity.value, lead.sector, lead.county, lead.kind).inc()


def record_scores(scores: np.ndarray) -> None:
    for score in scores.tolist():
        SCORES.observe(score)


def set_model(model: FundraisingForest) -> None:
    MODEL_INFO.clear()
    MODEL_INFO.labels(model.version_).set(1)
    MODEL_THRESHOLD.set(model.threshold_)
    MODEL_LOADED.set_to_current_time()
