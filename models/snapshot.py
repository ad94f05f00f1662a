"""What the lead builder sees of one account at the moment one of its reports is scored."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.sketch import HyperLogLog


@dataclass(frozen=True, slots=True)
class AccountSnapshot:
    account_id: str
    bank_id: str
    account_type: str  # "individual" | "corporate"
    region: str  # 6-digit code of the account's branch
    industry: str | None  # sector code from the reports, None if never given
    customer_name: str | None
    features: np.ndarray  # float64, in models.features.FEATURE_NAMES order
    # Lifetime figures (all reports of the account, late ones included):
    money_raised_fen: int  # inflow from counterparties other than the account's own
    participants: int  # distinct payers (HyperLogLog estimate, ~3% error)
    counterparty_provinces: int  # distinct provinces (2-digit codes) among counterparties
    cross_prefecture: bool  # any counterparty region outside the account's prefecture
    first_seen_ms: int  # earliest tx_time seen (epoch ms, UTC)
    last_tx_ms: int  # tx_time of the report just applied
    newest_tx_ms: int  # newest tx_time seen for the account
    tx_id: str  # the report just applied
    recent_tx_ids: tuple[str, ...]  # the latest few tx_ids, newest last
    customer_id: str | None = None
    provinces: tuple[int, ...] = ()  # 2-digit province codes of the counterparties
    # The distinct payers as of this report, so that a scheme can count each person once
    # across its collecting accounts (models.schemes).
    participants_sketch: HyperLogLog | None = None
