"""Training: the same features over a history, then ``FundraisingForest.fit`` on them.

The training population is one row per account per Beijing day: the account's features after
its last report of that day. So a busy account does not outweigh a quiet one by its report
count, and the expected alert rate reads as a share of account-days.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from ingest.pipeline import InputMessage
from models.features import beijing_day
from models.forest import FundraisingForest
from models.peers import peer_group
from models.pipeline import PipelineConfig
from offline.replay import OfflineRunner
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

    @property
    def training_period(self) -> dict[str, str]:
        def iso(ms: int) -> str:
            return datetime.fromtimestamp(ms / 1000, UTC).isoformat()

        return {"start": iso(self.period_start_ms), "end": iso(self.period_end_ms)}


def training_set(messages: Iterable[InputMessage], lateness_ms: int) -> TrainingSet:
    runner = OfflineRunner(PipelineConfig(lateness_ms=lateness_ms, keep_vectors=True))
    last_of_day: dict[tuple[str, int], np.ndarray] = {}
    group_of: dict[str, str] = {}
    records = 0
    start, end = None, None
    for outcome in runner.run(messages):
        for snapshot in outcome.snapshots:
            records += 1
            last_of_day[(snapshot.account_id, beijing_day(snapshot.newest_tx_ms))] = (
                snapshot.features
            )
            group_of[snapshot.account_id] = peer_group(snapshot.account_type, snapshot.industry)
            start = min(start or snapshot.last_tx_ms, snapshot.last_tx_ms)
            end = max(end or snapshot.last_tx_ms, snapshot.last_tx_ms)
    if len(last_of_day) < 100 or start is None or end is None:
        raise TrainingError(
            f"the history gave {len(last_of_day)} account-days from {records} valid reports; "
            "at least 100 account-days are needed to train"
        )
    # An account's group as of its last report: the sector it finally gave.
    accounts = tuple(account for account, _ in last_of_day)
    return TrainingSet(
        np.vstack(list(last_of_day.values())),
        records,
        start,
        end,
        accounts,
        tuple(group_of[account] for account in accounts),
    )


def train(
    data: TrainingSet, forest: FundraisingForest, version: str | None = None
) -> FundraisingForest:
    """``forest`` (its settings) fitted on the training set's account-days."""
    return forest.fit(
        data.features,
        training_period=data.training_period,
        record_count=data.record_count,
        version=version,
        groups=data.groups or None,
        accounts=data.accounts or None,
    )
