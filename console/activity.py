"""An account's money in and out per day, as the worker's feature state holds it.

Leads carry no transaction history, and re-reading the reports topic for one account would
scan every report. The account's rolling features already keep the last 30 Beijing days as
day buckets (``models.features``: inflow and outflow sums and counts), so the console charts
those: exact daily totals of the reports that arrived on time, for the 30 days ending on the
account's newest report. The state is in the ``accounts`` table of the worker that holds the
account's partition only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np

from models.account_state import AccountState
from models.features import (
    IN_COUNT,
    IN_FEN,
    KEEP_DAYS,
    OUT_COUNT,
    OUT_FEN,
    AccountFeatures,
    beijing_day,
)

EPOCH = date(1970, 1, 1)


@dataclass(frozen=True, slots=True)
class DayFlow:
    day: date  # a Beijing calendar day
    inflow_fen: int
    inflow_count: int
    outflow_fen: int
    outflow_count: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "day": self.day.isoformat(),
            "inflow_yuan": self.inflow_fen / 100,
            "inflow_count": self.inflow_count,
            "outflow_yuan": self.outflow_fen / 100,
            "outflow_count": self.outflow_count,
        }


def daily_flows(features: AccountFeatures) -> list[DayFlow]:
    """One entry per day of the 30-day window ending on the newest report's day, oldest
    first; days without reports are zeros."""
    if not features.report_count:
        return []
    newest = beijing_day(features.newest_ms)
    by_day: dict[int, np.ndarray] = {
        int(label): features.buckets[slot]
        for slot, label in enumerate(features.day_labels)
        if label >= 0 and newest - label < KEEP_DAYS
    }
    flows = []
    for day in range(newest - KEEP_DAYS + 1, newest + 1):
        bucket = by_day.get(day)
        flows.append(
            DayFlow(
                EPOCH + timedelta(days=day),
                int(bucket[IN_FEN]) if bucket is not None else 0,
                int(bucket[IN_COUNT]) if bucket is not None else 0,
                int(bucket[OUT_FEN]) if bucket is not None else 0,
                int(bucket[OUT_COUNT]) if bucket is not None else 0,
            )
        )
    return flows


def account_activity(blob: bytes | None, lateness_ms: int) -> dict[str, Any]:
    """What the console shows of an account's state value (None: not held by this worker)."""
    if blob is None:
        return {"held_here": False}
    features = AccountState.from_bytes(blob, lateness_ms).features
    return {
        "held_here": True,
        "days": [flow.to_dict() for flow in daily_flows(features)],
        "report_count": features.report_count,
        "late_count": features.late_count,
        "money_raised_yuan": features.money_raised_fen / 100,
        "first_seen": _iso(features.first_seen_ms),
        "newest": _iso(features.newest_ms),
    }


def _iso(epoch_ms: int) -> str | None:
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).isoformat() if epoch_ms else None
