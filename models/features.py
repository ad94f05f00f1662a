"""Rolling per-account features in event time, kept in a bounded state per account.

The state is a set of Beijing-time day buckets for the last 30 days (sums and counts), maps
of recent counterparties with the last day each was seen, and lifetime totals. Every update is
commutative, so the same reports in any arrival order within the allowed lateness give the
same state and the same features. A report further behind the account's newest tx_time than
the lateness goes into the lifetime totals only (money raised, participants, regions) and is
counted as late.

Windows end on the day of the account's newest report: the 7-day window is that day and the six
before it. Distinct counterparty counts are exact while an account has at most
``PAYER_CAP``/``PAYEE_CAP`` counterparties in 30 days; past that the least recent are
forgotten and the 30-day counts saturate at the cap (the forest still sees an extreme value).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import numpy as np
import orjson

from models.feature_names import FEATURE_NAMES
from models.sketch import HyperLogLog, counterparty_hash, short_hash
from models.snapshot import AccountSnapshot
from schemas.glossary import BEIJING_OFFSET_MS
from schemas.report import TransactionReport

DAY_MS = 86_400_000
KEEP_DAYS = 30
PAYER_CAP = 1024
PAYEE_CAP = 512
PREFECTURE_CAP = 128
RECENT_TX_IDS = 5
ROUND_FEN = 100_000  # a multiple of 1,000 yuan
HIST_BINS_PER_DECADE = 4
NO_COUNTERPARTY_CHANNELS = frozenset({"cash", "atm"})
STATE_VERSION = 1


def _fundraising_pattern() -> re.Pattern[str]:
    text = resources.files("models").joinpath("data/fundraising_terms.json").read_text("utf-8")
    terms = json.loads(text)
    words = sorted({*terms["deposit_terms"], *terms["return_terms"]}, key=len, reverse=True)
    return re.compile("|".join(map(re.escape, words)))


FUNDRAISING_MEMO = _fundraising_pattern()


def beijing_day(tx_ms: int) -> int:
    return (tx_ms + BEIJING_OFFSET_MS) // DAY_MS


def is_night(tx_ms: int) -> bool:
    return (tx_ms + BEIJING_OFFSET_MS) % DAY_MS < 6 * 3_600_000


def amount_bin(fen: int) -> int:
    return int(math.log10(fen) * HIST_BINS_PER_DECADE)


def bin_midpoint_yuan(index: int) -> float:
    return 10 ** ((index + 0.5) / HIST_BINS_PER_DECADE) / 100


# Counters of a day bucket: columns of the ring buffer below.
(
    IN_COUNT,
    IN_FEN,
    OUT_COUNT,
    OUT_FEN,
    INDIVIDUAL_IN,
    CASH,
    NIGHT,
    ROUND_IN,
    MEMO_HITS,
    REPEAT_OUT,
    STR_COUNT,
    LTR_COUNT,
    MAX_IN_FEN,
) = range(13)
BUCKET_SIZE = 13
SUMMED = slice(0, MAX_IN_FEN)  # every counter but the max adds up over a window
AMOUNT_BINS = 64  # log10(fen) * 4, up to 10^16 fen
# Counts of windowed counterparties by the day they were last seen: columns of a second ring.
(PAYERS, INDIVIDUAL_PAYERS, PAYEES) = range(3)


@dataclass(slots=True)
class AccountFeatures:
    """The bounded feature state of one account."""

    lateness_ms: int
    bank_id: str = ""
    account_type: str = ""
    region: str = ""
    industry: str | None = None
    customer_name: str | None = None
    customer_id: str | None = None  # the bank's customer number: one entity across accounts
    first_seen_ms: int = 0
    newest_ms: int = 0
    report_count: int = 0
    late_count: int = 0
    money_raised_fen: int = 0
    cross_prefecture: bool = False
    provinces: set[int] = field(default_factory=set)
    participants: HyperLogLog = field(default_factory=HyperLogLog)
    # Ring buffers over the last 30 Beijing days, slot = day % 30; day_labels says which day
    # a slot holds (-1: none). Window sums are one masked numpy sum, not a loop per report.
    day_labels: np.ndarray = field(default_factory=lambda: np.full(KEEP_DAYS, -1, np.int64))
    buckets: np.ndarray = field(
        default_factory=lambda: np.zeros((KEEP_DAYS, BUCKET_SIZE), np.int64)
    )
    inflow_bins: np.ndarray = field(
        default_factory=lambda: np.zeros((KEEP_DAYS, AMOUNT_BINS), np.int64)
    )
    # How many windowed counterparties were last seen on each slot's day (derived from the
    # maps below; rebuilt when the state is decoded).
    last_seen: np.ndarray = field(default_factory=lambda: np.zeros((KEEP_DAYS, 3), np.int64))
    # counterparty short hash -> [first inflow tx_ms, last day, is individual]
    payers: dict[int, list[int]] = field(default_factory=dict)
    payees: dict[int, int] = field(default_factory=dict)  # short hash -> last day
    prefectures: dict[int, int] = field(default_factory=dict)  # 4-digit code -> last day
    # outflows within the lateness whose payee has not (yet) paid in earlier: [hash, tx_ms]
    pending_outflows: list[list[int]] = field(default_factory=list)
    recent_tx_ids: list[str] = field(default_factory=list)

    @property
    def active_days(self) -> int:
        return int((self.day_labels >= 0).sum())

    # -- updating --------------------------------------------------------------------------

    def apply(self, report: TransactionReport) -> bool:
        """Add one accepted report; returns False when it was beyond the lateness."""
        tx_ms = report.tx_epoch_ms
        self._apply_lifetime(report, tx_ms)
        on_time = not self.report_count or tx_ms >= self.newest_ms - self.lateness_ms
        self.report_count += 1
        if not on_time:
            self.late_count += 1
            return False
        if tx_ms > self.newest_ms:
            new_day = beijing_day(tx_ms) != beijing_day(self.newest_ms)
            self.newest_ms = tx_ms
            if new_day:
                self._forget_old_days()
        self._apply_windows(report, tx_ms)
        self.recent_tx_ids = [*self.recent_tx_ids[-(RECENT_TX_IDS - 1) :], report.tx_id]
        return True

    def _apply_lifetime(self, report: TransactionReport, tx_ms: int) -> None:
        self.bank_id = report.bank_id
        self.account_type = report.account_type
        self.region = report.region
        self.industry = report.industry or self.industry
        self.customer_name = report.customer_name or self.customer_name
        self.customer_id = report.customer_id or self.customer_id
        if not self.report_count or tx_ms < self.first_seen_ms:
            self.first_seen_ms = tx_ms
        region = report.counterparty_region
        if region is not None:
            self.provinces.add(int(region[:2]))
            if region[:4] != report.region[:4]:
                self.cross_prefecture = True
        if report.direction == "in" and report.counterparty_account != report.account_id:
            self.money_raised_fen += report.amount_fen
            if report.channel not in NO_COUNTERPARTY_CHANNELS:
                self.participants.add(counterparty_hash(report.counterparty_account))

    def _slot(self, day: int) -> int:
        slot = day % KEEP_DAYS
        if self.day_labels[slot] != day:  # the slot held a day more than 30 days older
            self.day_labels[slot] = day
            self.buckets[slot] = 0
            self.inflow_bins[slot] = 0
            self.last_seen[slot] = 0
        return slot

    def _apply_windows(self, report: TransactionReport, tx_ms: int) -> None:
        day = beijing_day(tx_ms)
        if day < beijing_day(self.newest_ms) - (KEEP_DAYS - 1):
            return  # on time but more than 30 days old: outside every window
        slot = self._slot(day)
        bucket = self.buckets[slot]
        fen = report.amount_fen
        channel_has_counterparty = report.channel not in NO_COUNTERPARTY_CHANNELS
        bucket[CASH] += not channel_has_counterparty
        bucket[NIGHT] += is_night(tx_ms)
        bucket[MEMO_HITS] += bool(report.purpose and FUNDRAISING_MEMO.search(report.purpose))
        bucket[STR_COUNT] += report.report_type == "STR"
        bucket[LTR_COUNT] += report.report_type == "LTR"
        key = short_hash(counterparty_hash(report.counterparty_account))
        if report.counterparty_region is not None:
            code = int(report.counterparty_region[:4])
            if code not in self.prefectures and len(self.prefectures) >= PREFECTURE_CAP:
                _forget_least_recent(self.prefectures, lambda last_day: last_day, None)
            self.prefectures[code] = max(self.prefectures.get(code, day), day)
        if report.direction == "in":
            bucket[IN_COUNT] += 1
            bucket[IN_FEN] += fen
            bucket[ROUND_IN] += fen % ROUND_FEN == 0
            bucket[MAX_IN_FEN] = max(bucket[MAX_IN_FEN], fen)
            individual = report.counterparty_type == "individual"
            bucket[INDIVIDUAL_IN] += individual
            self.inflow_bins[slot, amount_bin(fen)] += 1
            if channel_has_counterparty:
                self._see_payer(key, tx_ms, day, individual)
        else:
            bucket[OUT_COUNT] += 1
            bucket[OUT_FEN] += fen
            if channel_has_counterparty:
                self._see_payee(key, day)
                self._count_payout(key, tx_ms, slot)

    def _see_payer(self, key: int, tx_ms: int, day: int, individual: bool) -> None:
        entry = self.payers.get(key)
        if entry is None:
            if len(self.payers) >= PAYER_CAP:
                _forget_least_recent(self.payers, lambda e: e[1], self._unsee_payer)
            entry = self.payers[key] = [tx_ms, day, int(individual)]
            self._count_last_seen(day, PAYERS, 1, individual)
        else:
            entry[0] = min(entry[0], tx_ms)
            if day > entry[1] or (individual and not entry[2]):
                self._unsee_payer(entry)
                entry[1] = max(entry[1], day)
                entry[2] |= individual
                self._count_last_seen(entry[1], PAYERS, 1, bool(entry[2]))
        # A payout to this payer that arrived before this (earlier) deposit is a repeat payout.
        still_pending = []
        for payee, out_ms in self.pending_outflows:
            if payee == key and out_ms > tx_ms:
                self._add_repeat(out_ms)
            else:
                still_pending.append([payee, out_ms])
        self.pending_outflows = still_pending

    def _unsee_payer(self, entry: list[int]) -> None:
        self._count_last_seen(entry[1], PAYERS, -1, bool(entry[2]))

    def _see_payee(self, key: int, day: int) -> None:
        last = self.payees.get(key)
        if last is None and len(self.payees) >= PAYEE_CAP:
            _forget_least_recent(
                self.payees, lambda d: d, lambda d: self._count_last_seen(d, PAYEES, -1)
            )
        if last is None or day > last:
            if last is not None:
                self._count_last_seen(last, PAYEES, -1)
            self.payees[key] = day
            self._count_last_seen(day, PAYEES, 1)

    def _count_last_seen(self, day: int, column: int, delta: int, individual: bool = False) -> None:
        slot = day % KEEP_DAYS
        if self.day_labels[slot] == day:
            self.last_seen[slot, column] += delta
            if individual:
                self.last_seen[slot, INDIVIDUAL_PAYERS] += delta

    def _count_payout(self, key: int, tx_ms: int, slot: int) -> None:
        payer = self.payers.get(key)
        if payer is not None and payer[0] < tx_ms:
            self.buckets[slot, REPEAT_OUT] += 1
        else:
            self.pending_outflows.append([key, tx_ms])

    def _add_repeat(self, out_ms: int) -> None:
        day = beijing_day(out_ms)
        slot = day % KEEP_DAYS
        if self.day_labels[slot] == day:
            self.buckets[slot, REPEAT_OUT] += 1

    def _forget_old_days(self) -> None:
        oldest = beijing_day(self.newest_ms) - (KEEP_DAYS - 1)
        stale = (self.day_labels >= 0) & (self.day_labels < oldest)
        self.day_labels[stale] = -1
        self.buckets[stale] = 0
        self.inflow_bins[stale] = 0
        self.last_seen[stale] = 0
        self.payers = {k: v for k, v in self.payers.items() if v[1] >= oldest}
        self.payees = {k: d for k, d in self.payees.items() if d >= oldest}
        self.prefectures = {k: d for k, d in self.prefectures.items() if d >= oldest}
        horizon = self.newest_ms - self.lateness_ms
        self.pending_outflows = [p for p in self.pending_outflows if p[1] >= horizon]

    # -- reading ---------------------------------------------------------------------------

    def vector(self) -> np.ndarray:
        """The features in FEATURE_NAMES order, as of the account's newest report."""
        newest_day = beijing_day(self.newest_ms)
        age = newest_day - self.day_labels
        live = self.day_labels >= 0
        in_30 = live & (age < 30)
        in_7 = live & (age < 7)
        in_1 = live & (age < 1)
        w1 = self.buckets[in_1, SUMMED].sum(axis=0)
        w7 = self.buckets[in_7, SUMMED].sum(axis=0)
        w30 = self.buckets[in_30, SUMMED].sum(axis=0)
        seen_1 = self.last_seen[in_1].sum(axis=0)
        seen_7 = self.last_seen[in_7].sum(axis=0)
        seen_30 = self.last_seen[in_30].sum(axis=0)
        window_buckets = self.buckets[in_30]
        max_in = int(window_buckets[:, MAX_IN_FEN].max(initial=0))
        same_day_out = int(np.minimum(window_buckets[:, IN_FEN], window_buckets[:, OUT_FEN]).sum())
        prefectures_30d = [code for code, d in self.prefectures.items() if newest_day - d < 30]
        payers_30d = int(seen_30[PAYERS])
        individual_payers_30d = int(seen_30[INDIVIDUAL_PAYERS])
        count_30d = int(w30[IN_COUNT] + w30[OUT_COUNT])
        count_7d = int(w7[IN_COUNT] + w7[OUT_COUNT])
        observed_days = min(30, newest_day - beijing_day(self.first_seen_ms) + 1)
        values = {
            "inflow_count_1d": w1[IN_COUNT],
            "inflow_count_7d": w7[IN_COUNT],
            "inflow_count_30d": w30[IN_COUNT],
            "inflow_sum_yuan_1d": w1[IN_FEN] / 100,
            "inflow_sum_yuan_7d": w7[IN_FEN] / 100,
            "inflow_sum_yuan_30d": w30[IN_FEN] / 100,
            "outflow_count_1d": w1[OUT_COUNT],
            "outflow_count_7d": w7[OUT_COUNT],
            "outflow_count_30d": w30[OUT_COUNT],
            "outflow_sum_yuan_1d": w1[OUT_FEN] / 100,
            "outflow_sum_yuan_7d": w7[OUT_FEN] / 100,
            "outflow_sum_yuan_30d": w30[OUT_FEN] / 100,
            "distinct_payers_1d": seen_1[PAYERS],
            "distinct_payers_7d": seen_7[PAYERS],
            "distinct_payers_30d": payers_30d,
            "distinct_individual_payers_7d": seen_7[INDIVIDUAL_PAYERS],
            "distinct_individual_payers_30d": individual_payers_30d,
            "distinct_payees_7d": seen_7[PAYEES],
            "distinct_payees_30d": seen_30[PAYEES],
            "distinct_counterparty_prefectures_30d": len(prefectures_30d),
            "distinct_counterparty_provinces_30d": len({c // 100 for c in prefectures_30d}),
            "pass_through_ratio_7d": _ratio(w7[OUT_FEN], w7[IN_FEN], cap=10.0),
            "pass_through_ratio_30d": _ratio(w30[OUT_FEN], w30[IN_FEN], cap=10.0),
            "same_day_outflow_share_30d": _ratio(same_day_out, w30[IN_FEN]),
            "median_inflow_yuan_30d": self._median_inflow_yuan(in_30),
            "max_inflow_yuan_30d": max_in / 100,
            "round_amount_share_30d": _ratio(w30[ROUND_IN], w30[IN_COUNT]),
            "night_share_30d": _ratio(w30[NIGHT], count_30d),
            "fundraising_memo_share_30d": _ratio(w30[MEMO_HITS], count_30d),
            "repeat_payout_share_30d": _ratio(w30[REPEAT_OUT], w30[OUT_COUNT]),
            "cash_share_30d": _ratio(w30[CASH], count_30d),
            "individual_payer_share_30d": _ratio(individual_payers_30d, payers_30d),
            "mean_inflow_per_payer_yuan_30d": _ratio(w30[IN_FEN] / 100, payers_30d, cap=1e12),
            "str_report_count_30d": w30[STR_COUNT],
            "large_value_report_count_30d": w30[LTR_COUNT],
            "account_age_days": (self.newest_ms - self.first_seen_ms) / DAY_MS,
            "activity_growth_7d_over_30d": _ratio(
                count_7d / min(7, observed_days), count_30d / observed_days, cap=30.0
            ),
        }
        return np.fromiter((values[name] for name in FEATURE_NAMES), np.float64, len(FEATURE_NAMES))

    def _median_inflow_yuan(self, window: np.ndarray) -> float:
        counts = self.inflow_bins[window].sum(axis=0)
        total = int(counts.sum())
        if not total:
            return 0.0
        index = int(np.searchsorted(np.cumsum(counts), (total + 1) // 2))
        return bin_midpoint_yuan(index)

    def snapshot(self, report: TransactionReport, features: np.ndarray) -> AccountSnapshot:
        return AccountSnapshot(
            account_id=report.account_id,
            bank_id=self.bank_id,
            account_type=self.account_type,
            region=self.region,
            industry=self.industry,
            customer_name=self.customer_name,
            customer_id=self.customer_id,
            features=features,
            money_raised_fen=self.money_raised_fen,
            participants=self.participants.estimate(),
            counterparty_provinces=len(self.provinces),
            cross_prefecture=self.cross_prefecture,
            first_seen_ms=self.first_seen_ms,
            last_tx_ms=report.tx_epoch_ms,
            newest_tx_ms=self.newest_ms,
            tx_id=report.tx_id,
            recent_tx_ids=tuple(self.recent_tx_ids),
            provinces=tuple(sorted(self.provinces)),
            participants_sketch=self.participants.copy(),
        )

    # -- encoding --------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        live = np.flatnonzero(self.day_labels >= 0)
        return {
            "v": STATE_VERSION,
            "m": [
                self.bank_id,
                self.account_type,
                self.region,
                self.industry,
                self.customer_name,
                self.customer_id,
            ],
            "t": [
                self.first_seen_ms,
                self.newest_ms,
                self.report_count,
                self.late_count,
                self.money_raised_fen,
                int(self.cross_prefecture),
            ],
            "pr": sorted(self.provinces),
            "h": self.participants.to_text(),
            # Only the days that hold something: [day, 13 counters, then bin, count pairs].
            "d": [
                [
                    int(self.day_labels[s]),
                    *self.buckets[s].tolist(),
                    *[
                        v
                        for b in np.flatnonzero(self.inflow_bins[s])
                        for v in (int(b), int(self.inflow_bins[s, b]))
                    ],
                ]
                for s in live
            ],
            "py": [[k, *v] for k, v in self.payers.items()],
            "pe": [[k, d] for k, d in self.payees.items()],
            "pf": [[k, d] for k, d in self.prefectures.items()],
            "po": self.pending_outflows,
            "tx": self.recent_tx_ids,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], lateness_ms: int) -> AccountFeatures:
        if data.get("v") != STATE_VERSION:
            raise ValueError(f"feature state version {data.get('v')!r} is not {STATE_VERSION}")
        state = cls(lateness_ms)
        meta = data["m"]  # five entries before customer_id was kept
        (state.bank_id, state.account_type, state.region, state.industry, state.customer_name) = (
            meta[:5]
        )
        state.customer_id = meta[5] if len(meta) > 5 else None
        (
            state.first_seen_ms,
            state.newest_ms,
            state.report_count,
            state.late_count,
            state.money_raised_fen,
            cross,
        ) = data["t"]
        state.cross_prefecture = bool(cross)
        state.provinces = set(data["pr"])
        state.participants = HyperLogLog.from_text(data["h"])
        for row in data["d"]:
            slot = row[0] % KEEP_DAYS
            state.day_labels[slot] = row[0]
            state.buckets[slot] = row[1 : 1 + BUCKET_SIZE]
            pairs = row[1 + BUCKET_SIZE :]
            state.inflow_bins[slot, pairs[0::2]] = pairs[1::2]
        state.payers = {row[0]: row[1:] for row in data["py"]}
        state.payees = {k: d for k, d in data["pe"]}
        state.prefectures = {k: d for k, d in data["pf"]}
        state.pending_outflows = data["po"]
        state.recent_tx_ids = data["tx"]
        for _, last_day, individual in state.payers.values():
            state._count_last_seen(last_day, PAYERS, 1, bool(individual))
        for last_day in state.payees.values():
            state._count_last_seen(last_day, PAYEES, 1)
        return state

    def to_bytes(self) -> bytes:
        return orjson.dumps(self.to_dict())

    @classmethod
    def from_bytes(cls, blob: bytes, lateness_ms: int) -> AccountFeatures:
        return cls.from_dict(orjson.loads(blob), lateness_ms)


def _ratio(numerator: float, denominator: float, cap: float = 1.0) -> float:
    return min(numerator / denominator, cap) if denominator else 0.0


def _forget_least_recent(
    seen: dict[int, Any], last_day: Callable[[Any], int], on_forget: Callable[[Any], None] | None
) -> None:
    """Drop the least recently seen tenth of a full map (amortises the scan)."""
    ordered = sorted(seen, key=lambda k: last_day(seen[k]))
    for key in ordered[: max(1, len(ordered) // 10)]:
        value = seen.pop(key)
        if on_forget is not None:
            on_forget(value)
