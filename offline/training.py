"""Training: the same features over a history, then ``FundraisingForest.fit`` on them.

The training population is one row per account per Beijing day: the account's features after
its last report of that day. So a busy account does not outweigh a quiet one by its report
count, and the expected alert rate reads as a share of account-days.
The rows are ordered by (account_id, day), so a split over processes (offline.parallel)
gives the same set, and the same model.

With the analysts' verdicts (offline.verdicts), ``train_with_verdicts`` fits the forest as
``train`` does, then the verdicts' ranker (models.ranker) on the rows of the judged accounts,
when there are at least MIN_VERDICT_ACCOUNTS confirmed and as many excluded among them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
import orjson

from ingest.pipeline import InputMessage
from models.feature_names import FEATURE_NAMES
from models.features import beijing_day
from models.forest import FundraisingForest
from models.peers import peer_group
from models.pipeline import PipelineConfig, PipelineOutcome
from models.ranker import MIN_VERDICT_ACCOUNTS, VerdictRanker, ranker_input
from offline.parallel import ParallelReplay, pack, unpack
from offline.replay import OfflineRunner
from offline.verdicts import Verdicts
from schemas.errors import FundwatchError


class TrainingError(FundwatchError, ValueError):
    """The history cannot train a model (too little data, nothing valid)."""


@dataclass(frozen=True)
class TrainingSet:
    features: np.ndarray  # one row per account-day, FEATURE_NAMES columns, natural units
    record_count: int  # accepted reports the rows were computed from
    period_start_ms: int
    period_end_ms: int
    accounts: tuple[str, ...] = ()  # each row's account
    groups: tuple[str, ...] = ()  # each row's peer group (models.peers.peer_group)
    days: tuple[int, ...] = ()  # each row's Beijing day (models.features.beijing_day)

    @property
    def training_period(self) -> dict[str, str]:
        def iso(ms: int) -> str:
            return datetime.fromtimestamp(ms / 1000, UTC).isoformat()

        return {"start": iso(self.period_start_ms), "end": iso(self.period_end_ms)}


@dataclass
class TrainingJob:
    """One process's part of a training set: its accounts' account-day rows."""

    lateness_ms: int
    rows: dict[tuple[str, int], np.ndarray] = field(default_factory=dict)
    # An account's peer group as of its last report: the sector it finally gave.
    groups: dict[str, str] = field(default_factory=dict)
    records: int = 0
    start: int | None = None
    end: int | None = None

    def runner(self) -> OfflineRunner:
        return OfflineRunner(PipelineConfig(lateness_ms=self.lateness_ms, keep_vectors=True))

    def observe(self, outcome: PipelineOutcome) -> list[bytes]:
        for snapshot in outcome.snapshots:
            self.records += 1
            self.rows[(snapshot.account_id, beijing_day(snapshot.newest_tx_ms))] = snapshot.features
            self.groups[snapshot.account_id] = peer_group(snapshot.account_type, snapshot.industry)
            self.start = min(self.start or snapshot.last_tx_ms, snapshot.last_tx_ms)
            self.end = max(self.end or snapshot.last_tx_ms, snapshot.last_tx_ms)
        return []

    def result(self) -> TrainingJob:
        return self

    def training_set(self) -> TrainingSet:
        """This job's rows as a training set (``training_set`` merges several jobs')."""
        return _merged([self])

    def encode(self, result: TrainingJob) -> bytes:
        """The rows as float64 bytes in key order, the rest as JSON beside them."""
        keys = list(result.rows)
        header = {
            "lateness_ms": result.lateness_ms,
            "keys": keys,
            "groups": result.groups,
            "records": result.records,
            "start": result.start,
            "end": result.end,
        }
        rows = b"".join(result.rows[key].astype(np.float64).tobytes() for key in keys)
        return pack([orjson.dumps(header), rows])

    def decode(self, blob: bytes) -> TrainingJob:
        [[header_bytes, rows]] = unpack(blob)
        header = orjson.loads(header_bytes)
        matrix = np.frombuffer(rows, np.float64).reshape(len(header["keys"]), len(FEATURE_NAMES))
        return TrainingJob(
            header["lateness_ms"],
            {
                (account, day): row.copy()
                for (account, day), row in zip(header["keys"], matrix, strict=True)
            },
            header["groups"],
            header["records"],
            header["start"],
            header["end"],
        )


def training_set(
    messages: Iterable[InputMessage], lateness_ms: int, workers: int = 1
) -> TrainingSet:
    """The account-day rows of ``messages``, ordered by (account_id, day) so that the set,
    and the model fitted on it, do not depend on ``workers``: processes, each with its share
    of the accounts (above 1, ``messages`` are a file's, as ``file_messages`` reads them)."""
    job = TrainingJob(lateness_ms)
    if workers > 1:
        replay = ParallelReplay(job, workers)
        for _ in replay.run(messages):
            pass
        parts = replay.results
    else:
        for outcome in job.runner().run(messages):
            job.observe(outcome)
        parts = [job]
    return _merged(parts)


def _merged(parts: list[TrainingJob]) -> TrainingSet:
    rows = {key: row for part in parts for key, row in part.rows.items()}
    records = sum(part.records for part in parts)
    starts = [part.start for part in parts if part.start is not None]
    ends = [part.end for part in parts if part.end is not None]
    if len(rows) < 100 or not starts or not ends:
        raise TrainingError(
            f"the history gave {len(rows)} account-days from {records} valid reports; "
            "at least 100 account-days are needed to train"
        )
    groups = {account: group for part in parts for account, group in part.groups.items()}
    keys = sorted(rows)
    return TrainingSet(
        np.vstack([rows[key] for key in keys]),
        records,
        min(starts),
        max(ends),
        tuple(account for account, _ in keys),
        tuple(groups[account] for account, _ in keys),
        tuple(day for _, day in keys),
    )


def train(
    data: TrainingSet, forest: FundraisingForest, version: str | None = None
) -> FundraisingForest:
    """``forest`` (its settings) fitted on the training set's account-days."""
    return _fit_forest(data, forest, version)


def train_with_verdicts(
    data: TrainingSet,
    forest: FundraisingForest,
    verdicts: Verdicts,
    version: str | None = None,
) -> tuple[FundraisingForest, str]:
    """The forest fitted as ``train`` fits it, then, with enough verdicts, the ranker
    (models.ranker) on the labelled rows: (the model, a line saying what was used or why
    the ranker was left out). Too few verdicts: the model is ``train``'s, bit for bit."""
    labels = verdict_labels(data, verdicts)
    # Confirmed fundraising is not the normal activity the forest learns: fitted on it, the
    # forest would score next month's schemes of the same kind as ordinary (bench/verdicts.py
    # lost a quarter of its recall so). Its labelled rows are left out of the forest's fit.
    model = _fit_forest(_without(data, labels == 1), forest, version)
    counts = label_counts(data, labels)
    confirmed, excluded = counts["confirmed_accounts"], counts["excluded_accounts"]
    used = (
        f"{confirmed} confirmed accounts ({counts['confirmed_rows']:,} account-days) and "
        f"{excluded} excluded ({counts['excluded_rows']:,})"
    )
    if min(confirmed, excluded) < MIN_VERDICT_ACCOUNTS:
        missing = len(verdicts.accounts) - confirmed - excluded
        hint = (
            f"; {missing} judged accounts have no rows in the history from their lead on: "
            "does it hold the judged month?"
            if missing
            else ""
        )
        return model, (
            f"no ranker: {used} in the training set, at least {MIN_VERDICT_ACCOUNTS} of each "
            f"are needed ({verdicts.summary()}){hint}; the forest alone ranks the leads"
        )
    rows = labels >= 0
    features = data.features[rows]
    inputs = ranker_input(features, model.anomaly_score(features))
    model.set_ranker(VerdictRanker().fit(inputs, labels[rows]), counts)
    return model, f"ranker learnt from {used} ({verdicts.summary()})"


def verdict_labels(data: TrainingSet, verdicts: Verdicts) -> np.ndarray:
    """Per training row: 1 confirmed, 0 excluded, -1 no verdict (scikit-learn's "unlabelled").

    A judged account's rows are labelled from the day its judged leads' first evidence on:
    the activity the analysts saw and the rest of its history after it. Its earlier days are
    not, since an account may have been ordinary before a scheme recruited it (or before a
    term started), and the verdict is on what raised the lead."""
    labels = np.full(len(data.accounts), -1, dtype=np.int64)
    for row, (account, day) in enumerate(zip(data.accounts, data.days, strict=True)):
        verdict = verdicts.accounts.get(account)
        if verdict is not None and day >= beijing_day(verdict.since_ms):
            labels[row] = int(verdict.confirmed)
    return labels


def label_counts(data: TrainingSet, labels: np.ndarray) -> dict[str, int]:
    """Accounts and rows of each verdict among the labelled rows (models.forest's
    RANKER_VERDICT_KEYS)."""
    accounts = np.asarray(data.accounts, dtype=object)
    return {
        "confirmed_accounts": len(set(accounts[labels == 1])),
        "excluded_accounts": len(set(accounts[labels == 0])),
        "confirmed_rows": int(np.sum(labels == 1)),
        "excluded_rows": int(np.sum(labels == 0)),
    }


def _without(data: TrainingSet, rows: np.ndarray) -> TrainingSet:
    """The training set without the rows marked in ``rows`` (bool per row); itself when none
    are, so that a model without confirmed verdicts is ``train``'s bit for bit."""
    if not rows.any():
        return data
    keep = ~rows

    def kept(column: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(v for v, k in zip(column, keep, strict=True) if k) if column else column

    return replace(
        data,
        features=data.features[keep],
        accounts=kept(data.accounts),
        groups=kept(data.groups),
        days=kept(data.days),
    )


def _fit_forest(
    data: TrainingSet, forest: FundraisingForest, version: str | None
) -> FundraisingForest:
    return forest.fit(
        data.features,
        training_period=data.training_period,
        record_count=data.record_count,
        version=version,
        groups=data.groups or None,
        accounts=data.accounts or None,
    )
