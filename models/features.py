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

import heapq
import json
import math
import re
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from itertools import accumulate
from operator import sub
from typing import Any

import numpy as np
import orjson

from models.feature_names import AGE_CAP_DAYS, TOP_PAYEES
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
AMOUNT_BINS = 64  # log10(fen) * 4, up to 10^16 fen
_BIN_MIDPOINTS_YUAN = [bin_midpoint_yuan(index) for index in range(AMOUNT_BINS)]
# Counts of windowed counterparties by the day they were last seen: columns of a second ring.
(PAYERS, INDIVIDUAL_PAYERS, PAYEES) = range(3)
_TOTAL_SIZE = BUCKET_SIZE + 3  # a window's totals: the day counters, then those counts


def _zero_rows(width: int, rows: int) -> list[list[int]]:
    return [[0] * width for _ in range(rows)]


# What a free slot (label -1) holds: these three objects, shared by every free slot of every
# account and never written to (a slot gets rows of its own when it takes a day), so that a
# new or decoded state allocates rows only for the days it holds.
_FREE_DAY: list[int] = [0] * BUCKET_SIZE
_FREE_SEEN: list[int] = [0, 0, 0]
_FREE_BINS: dict[int, int] = {}


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
    # Ring buffers over the last 30 Beijing days, slot = day % 30; labels says which day a
    # slot holds (-1: none). Plain Python lists: a report touches a few counters, and numpy's
    # cost per call is more than the arithmetic.
    labels: list[int] = field(default_factory=lambda: [-1] * KEEP_DAYS)
    days: list[list[int]] = field(default_factory=lambda: [_FREE_DAY] * KEEP_DAYS)
    bins: list[dict[int, int]] = field(default_factory=lambda: [_FREE_BINS] * KEEP_DAYS)
    # How many windowed counterparties were last seen on each slot's day (derived from the
    # maps below; rebuilt when the state is decoded).
    seen_on: list[list[int]] = field(default_factory=lambda: [_FREE_SEEN] * KEEP_DAYS)
    # The 1-, 7- and 30-day totals of the counters above (the day counters, then the three
    # counterparty counts), kept up to date on every change and recomputed when the newest
    # day moves, so that reading the features adds nothing up.
    totals: list[list[int]] = field(default_factory=lambda: _zero_rows(_TOTAL_SIZE, 3))
    bins_30d: list[int] = field(default_factory=lambda: [0] * AMOUNT_BINS)
    max_in_30d: int = 0
    same_day_out_30d: int = 0  # sum over the 30 days of min(day's inflow, day's outflow)
    totals_day: int = 0  # the newest day the totals are for
    # A copy of ``participants`` for the snapshots, shared by them until a payer is added
    # (a snapshot only reads its sketch); not encoded.
    participants_copy: HyperLogLog | None = None
    # counterparty short hash -> [first inflow tx_ms, last day, is individual, first inflow
    # fen (the smallest of those at that tx_ms; -1: unknown, in a state from before it was
    # kept)]
    payers: dict[int, list[int]] = field(default_factory=dict)
    payees: dict[int, int] = field(default_factory=dict)  # short hash -> last day
    # short hash -> {day: fen paid to it that day}, over the days in the 30-day window
    payee_fen: dict[int, dict[int, int]] = field(default_factory=dict)
    # Derived from payee_fen (not encoded): the TOP_PAYEES largest 30-day totals as
    # [fen, payee], descending (None: to be recomputed, after money left the window).
    top_payees: list[list[int]] | None = None
    prefectures: dict[int, int] = field(default_factory=dict)  # 4-digit code -> last day
    # Outflows within the lateness, by payee: [tx_ms, fen, counted as a repeat payout]. An
    # earlier deposit arriving late can still change what such a payout is (_is_repeat).
    recent_payouts: dict[int, list[list[int]]] = field(default_factory=dict)
    recent_tx_ids: list[str] = field(default_factory=list)
    # Derived, not encoded: what reading the features would otherwise work out again on
    # every report though it changes far less often. None: to be worked out.
    # The midpoint of the middle inflow's bin (None after bins_30d changed).
    median_inflow_yuan: float | None = field(default=None, compare=False)
    # (distinct prefectures, distinct provinces among them) within 30 days of the newest day
    # prefecture_counts_day (None after the prefectures changed).
    prefecture_counts: tuple[int, int] | None = field(default=None, compare=False)
    prefecture_counts_day: int = field(default=-1, compare=False)
    # sorted(provinces) for the snapshots: provinces only grows, so its length says when
    # this is out of date.
    provinces_sorted: tuple[int, ...] = field(default=(), compare=False)

    @property
    def active_days(self) -> int:
        return sum(label >= 0 for label in self.labels)

    @property
    def day_labels(self) -> np.ndarray:
        """Which Beijing day each of the 30 slots holds (-1: none)."""
        return np.array(self.labels, np.int64)

    @property
    def buckets(self) -> np.ndarray:
        """The day counters of each slot (30 x BUCKET_SIZE), for readers such as the console."""
        return np.array(self.days, np.int64).reshape(KEEP_DAYS, BUCKET_SIZE)

    # -- updating --------------------------------------------------------------------------

    def apply(self, report: TransactionReport) -> bool:
        """Add one accepted report; returns False when it was beyond the lateness."""
        tx_ms = report.tx_epoch_ms
        # Hashed once here: the lifetime payers and the windowed maps both key on it.
        counterparty = counterparty_hash(report.counterparty_account)
        self._apply_lifetime(report, tx_ms, counterparty)
        on_time = not self.report_count or tx_ms >= self.newest_ms - self.lateness_ms
        self.report_count += 1
        if not on_time:
            self.late_count += 1
            return False
        day = beijing_day(tx_ms)
        if tx_ms > self.newest_ms:
            previous_day = beijing_day(self.newest_ms)
            self.newest_ms = tx_ms
            if day != previous_day:
                self._forget_old_days(previous_day)
            newest_day = day
        else:
            newest_day = beijing_day(self.newest_ms)
        self._apply_windows(report, tx_ms, day, newest_day, short_hash(counterparty))
        self.recent_tx_ids = [*self.recent_tx_ids[-(RECENT_TX_IDS - 1) :], report.tx_id]
        return True

    def _apply_lifetime(self, report: TransactionReport, tx_ms: int, counterparty: int) -> None:
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
            has_counterparty = report.channel not in NO_COUNTERPARTY_CHANNELS
            if has_counterparty and self.participants.add(counterparty):
                self.participants_copy = None  # the snapshots' copy is out of date

    def _slot(self, day: int) -> int:
        slot = day % KEEP_DAYS
        if self.labels[slot] != day:  # the slot held a day more than 30 days older: in no window
            self.labels[slot] = day
            self.days[slot] = [0] * BUCKET_SIZE
            self.bins[slot] = {}
            self.seen_on[slot] = [0, 0, 0]
        return slot

    def _windows_of(self, day: int) -> list[list[int]]:
        """The totals (1, 7, 30 days) that a change on ``day`` adds to."""
        age = beijing_day(self.newest_ms) - day
        return self.totals[(age >= 1) + (age >= 7) + (age >= 30) :]

    def _apply_windows(
        self, report: TransactionReport, tx_ms: int, day: int, newest_day: int, key: int
    ) -> None:
        """``day``: the report's Beijing day; ``newest_day``: the account's newest report's;
        ``key``: the counterparty's short hash."""
        if day < newest_day - (KEEP_DAYS - 1):
            return  # on time but more than 30 days old: outside every window
        slot = self._slot(day)
        bucket = self.days[slot]
        age = newest_day - day  # as _windows_of, without a second look at newest_ms
        windows = self.totals[(age >= 1) + (age >= 7) + (age >= 30) :]
        fen = report.amount_fen
        inflow = report.direction == "in"
        channel_has_counterparty = report.channel not in NO_COUNTERPARTY_CHANNELS
        # The counters this report adds one to; then its amount to IN_FEN or OUT_FEN. Added
        # to the day and each window in one pass below, with no (counter, increment) pairs.
        counted = [IN_COUNT if inflow else OUT_COUNT]
        if not channel_has_counterparty:
            counted.append(CASH)
        if is_night(tx_ms):
            counted.append(NIGHT)
        purpose = report.purpose
        if purpose and FUNDRAISING_MEMO.search(purpose):
            counted.append(MEMO_HITS)
        report_type = report.report_type
        if report_type == "STR":
            counted.append(STR_COUNT)
        elif report_type == "LTR":
            counted.append(LTR_COUNT)
        counterparty_region = report.counterparty_region
        if counterparty_region is not None:
            code = int(counterparty_region[:4])
            prefectures = self.prefectures
            last_day = prefectures.get(code)
            if last_day is None or last_day < day:
                if last_day is None and len(prefectures) >= PREFECTURE_CAP:
                    _forget_least_recent(prefectures, lambda seen_day: seen_day, None)
                prefectures[code] = day
                self.prefecture_counts = None
        before = min(bucket[IN_FEN], bucket[OUT_FEN])
        if inflow:
            individual = report.counterparty_type == "individual"
            amount_column = IN_FEN
            if fen % ROUND_FEN == 0:
                counted.append(ROUND_IN)
            if individual:
                counted.append(INDIVIDUAL_IN)
            if fen > bucket[MAX_IN_FEN]:
                bucket[MAX_IN_FEN] = fen
            index = amount_bin(fen)
            slot_bins = self.bins[slot]
            slot_bins[index] = slot_bins.get(index, 0) + 1
            if windows:
                self.bins_30d[index] += 1
                self.median_inflow_yuan = None
                if fen > self.max_in_30d:
                    self.max_in_30d = fen
        else:
            amount_column = OUT_FEN
        for counter in counted:
            bucket[counter] += 1
        bucket[amount_column] += fen
        for totals in windows:
            for counter in counted:
                totals[counter] += 1
            totals[amount_column] += fen
        if windows:
            self.same_day_out_30d += min(bucket[IN_FEN], bucket[OUT_FEN]) - before
        if channel_has_counterparty:
            if inflow:
                self._see_payer(key, tx_ms, fen, day, individual)
            else:
                self._see_payee(key, day)
                self._pay(key, day, fen)
                self._count_payout(key, tx_ms, fen, slot, day)

    def _see_payer(self, key: int, tx_ms: int, fen: int, day: int, individual: bool) -> None:
        entry = self.payers.get(key)
        if entry is None:
            if len(self.payers) >= PAYER_CAP:
                _forget_least_recent(self.payers, lambda e: e[1], self._unsee_payer)
            entry = self.payers[key] = [tx_ms, day, int(individual), fen]
            self._count_last_seen(day, PAYERS, 1, individual)
            first_changed = True
        else:
            first_changed = tx_ms < entry[0] or (tx_ms == entry[0] and fen < entry[3])
            if first_changed:
                entry[0], entry[3] = tx_ms, fen
            if day > entry[1] or (individual and not entry[2]):
                self._unsee_payer(entry)
                entry[1] = max(entry[1], day)
                entry[2] |= individual
                self._count_last_seen(entry[1], PAYERS, 1, bool(entry[2]))
        # The payouts to this payer within the lateness, judged again against its (earlier)
        # first deposit: a payout arriving before the deposit it follows, a refund that is not.
        payouts = self.recent_payouts.get(key) if first_changed else None
        if payouts:
            for payout in payouts:
                counted = int(_is_repeat(entry, payout[0], payout[1]))
                if counted != payout[2]:
                    payout[2] = counted
                    self._add_repeat(payout[0], 1 if counted else -1)

    def _unsee_payer(self, entry: list[int]) -> None:
        self._count_last_seen(entry[1], PAYERS, -1, bool(entry[2]))

    def _see_payee(self, key: int, day: int) -> None:
        last = self.payees.get(key)
        if last is None and len(self.payees) >= PAYEE_CAP:
            _forget_least_recent(
                self.payees, lambda d: d, lambda d: self._count_last_seen(d, PAYEES, -1)
            )
            self.payee_fen = {k: v for k, v in self.payee_fen.items() if k in self.payees}
            self.top_payees = None
        if last is None or day > last:
            if last is not None:
                self._count_last_seen(last, PAYEES, -1)
            self.payees[key] = day
            self._count_last_seen(day, PAYEES, 1)

    def _pay(self, key: int, day: int, fen: int) -> None:
        """Add an outflow to its payee's money; keep the largest payees' list up to date (a
        payee's 30-day total only grows until the newest day moves)."""
        amounts = self.payee_fen.get(key)
        if amounts is None:
            amounts = self.payee_fen[key] = {}
        amounts[day] = amounts.get(day, 0) + fen
        top = self.top_payees
        if top is None:
            return
        total = sum(amounts.values())
        for entry in top:
            if entry[1] == key:
                entry[0] = total
                break
        else:
            if len(top) == TOP_PAYEES and total <= top[-1][0]:
                return
            top.append([total, key])
        top.sort(reverse=True)
        del top[TOP_PAYEES:]

    def _top_payees_fen(self) -> int:
        if self.top_payees is None:
            self.top_payees = heapq.nlargest(
                TOP_PAYEES, ([sum(days.values()), k] for k, days in self.payee_fen.items())
            )
        return sum([entry[0] for entry in self.top_payees])

    def _count_last_seen(self, day: int, column: int, delta: int, individual: bool = False) -> None:
        slot = day % KEEP_DAYS
        if self.labels[slot] == day:
            seen = self.seen_on[slot]
            seen[column] += delta
            if individual:
                seen[INDIVIDUAL_PAYERS] += delta
            for totals in self._windows_of(day):
                totals[BUCKET_SIZE + column] += delta
                if individual:
                    totals[BUCKET_SIZE + INDIVIDUAL_PAYERS] += delta

    def _count_payout(self, key: int, tx_ms: int, fen: int, slot: int, day: int) -> None:
        payer = self.payers.get(key)
        counted = payer is not None and _is_repeat(payer, tx_ms, fen)
        if counted:
            self._add_repeat_on(slot, day, 1)
        payouts = self.recent_payouts.get(key)
        if payouts is None:
            payouts = self.recent_payouts[key] = []
        payouts.append([tx_ms, fen, int(counted)])

    def _add_repeat(self, out_ms: int, delta: int) -> None:
        day = beijing_day(out_ms)
        slot = day % KEEP_DAYS
        if self.labels[slot] == day:
            self._add_repeat_on(slot, day, delta)

    def _add_repeat_on(self, slot: int, day: int, delta: int) -> None:
        self.days[slot][REPEAT_OUT] += delta
        for totals in self._windows_of(day):
            totals[REPEAT_OUT] += delta

    def _forget_old_days(self, previous_day: int) -> None:
        """The newest day moved on from ``previous_day``: move the windows with it, and free
        the slots of the days no window holds any more."""
        newest_day = beijing_day(self.newest_ms)
        if self.totals_day == previous_day:
            self._advance_windows(previous_day, newest_day)
        else:  # the totals were for another day (a state emptied of a far-future date)
            self.totals_day = -1
        oldest = newest_day - (KEEP_DAYS - 1)
        freed = False
        for slot, label in enumerate(self.labels):
            if 0 <= label < oldest:
                self.labels[slot] = -1
                self.days[slot] = _FREE_DAY
                self.bins[slot] = _FREE_BINS
                self.seen_on[slot] = _FREE_SEEN
                freed = True
        if freed:  # else no counterparty was last seen before oldest (days_cover_the_maps)
            self._forget_counterparties_before(oldest)
        if self.recent_payouts:
            self.recent_payouts = _payouts_since(self.recent_payouts, self._payout_horizon())
        if self.totals_day != newest_day:
            self._add_up_windows()

    def windows_are_added_up(self) -> bool:
        """Whether the window totals kept as days come and go are what adding up the slots
        gives (what _advance_windows keeps so). The max-inflow column of the totals is not
        kept (max_in_30d is), so it is left out."""
        added = AccountFeatures(self.lateness_ms, newest_ms=self.newest_ms)
        added.labels, added.days, added.bins, added.seen_on = (
            self.labels,
            self.days,
            self.bins,
            self.seen_on,
        )
        added._add_up_windows()

        def kept(totals: list[list[int]]) -> list[list[int]]:
            return [[v for c, v in enumerate(row) if c != MAX_IN_FEN] for row in totals]

        return (
            self.totals_day == added.totals_day
            and kept(self.totals) == kept(added.totals)
            and self.bins_30d == added.bins_30d
            and self.max_in_30d == added.max_in_30d
            and self.same_day_out_30d == added.same_day_out_30d
        )

    def _advance_windows(self, previous_day: int, newest_day: int) -> None:
        """Window totals exact for ``previous_day`` -> exact for ``newest_day``: take out the
        days that leave each window (all counters are sums), rather than add up the 30 days
        again. The new day itself holds nothing yet."""
        totals = self.totals
        left_month = False
        for slot, label in enumerate(self.labels):
            if label < 0:
                continue
            old_age, new_age = previous_day - label, newest_day - label
            if new_age < 1 or old_age >= KEEP_DAYS:
                continue
            # The windows (1, 7, 30 days) this day leaves: most days of the month leave none.
            leaves_day = old_age < 1
            leaves_week = old_age < 7 <= new_age
            leaves_month = new_age >= KEEP_DAYS
            if not (leaves_day or leaves_week or leaves_month):
                continue
            row = self.days[slot] + self.seen_on[slot]
            for leaves, target in zip((leaves_day, leaves_week, leaves_month), totals, strict=True):
                if leaves:
                    target[:] = map(sub, target, row)
            if leaves_month:
                left_month = True
                for index, count in self.bins[slot].items():
                    self.bins_30d[index] -= count
                self.median_inflow_yuan = None
                self.same_day_out_30d -= min(row[IN_FEN], row[OUT_FEN])
        if left_month:
            self.max_in_30d = max(
                (
                    self.days[slot][MAX_IN_FEN]
                    for slot, label in enumerate(self.labels)
                    if label >= 0 and newest_day - label < KEEP_DAYS
                ),
                default=0,
            )
        self.totals_day = newest_day

    def _payout_horizon(self) -> int:
        """No deposit can change a payout before this any more: one that arrives on time is at
        or after it, and changes only the payouts after it."""
        return self.newest_ms - self.lateness_ms

    def days_cover_the_maps(self) -> bool:
        """Whether each day in the counterparty maps is a day a slot holds: what lets
        _forget_old_days leave the maps alone on a new day that frees no slot. A day enters
        the maps only through a report applied to its slot, and leaves with it."""
        held = {label for label in self.labels if label >= 0}
        days = {entry[1] for entry in self.payers.values()}
        days.update(self.payees.values(), self.prefectures.values())
        for amounts in self.payee_fen.values():
            days.update(amounts)
        return days <= held

    def _forget_counterparties_before(self, oldest: int) -> None:
        self.payers = {k: v for k, v in self.payers.items() if v[1] >= oldest}
        self.payees = {k: d for k, d in self.payees.items() if d >= oldest}
        if self.payee_fen:
            kept: dict[int, dict[int, int]] = {}
            for key, amounts in self.payee_fen.items():
                if min(amounts) < oldest:
                    amounts = {d: fen for d, fen in amounts.items() if d >= oldest}
                if amounts:
                    kept[key] = amounts
            self.payee_fen = kept
            self.top_payees = None
        self.prefectures = {k: d for k, d in self.prefectures.items() if d >= oldest}
        self.prefecture_counts = None

    def _add_up_windows(self) -> None:
        """The window totals from the day slots, for the newest day (when it has moved)."""
        newest_day = beijing_day(self.newest_ms)
        windows: tuple[list[list[int]], ...] = ([], [], [])  # each window's slot rows
        bins_30d = [0] * AMOUNT_BINS
        for slot, label in enumerate(self.labels):
            age = newest_day - label
            if label < 0 or age >= KEEP_DAYS:
                continue  # (a decoded state holds no such day: _forget_old_days dropped it)
            row = self.days[slot] + self.seen_on[slot]
            windows[2].append(row)
            if age < 7:
                windows[1].append(row)
                if age < 1:
                    windows[0].append(row)
            for index, count in self.bins[slot].items():
                bins_30d[index] += count
        self.totals = [
            [sum(column) for column in zip(*rows, strict=True)] or [0] * _TOTAL_SIZE
            for rows in windows
        ]
        self.bins_30d = bins_30d
        self.median_inflow_yuan = None
        month = windows[2]
        self.max_in_30d = max((row[MAX_IN_FEN] for row in month), default=0)
        self.same_day_out_30d = sum(min(row[IN_FEN], row[OUT_FEN]) for row in month)
        self.totals_day = newest_day

    # -- reading ---------------------------------------------------------------------------

    def vector(self) -> np.ndarray:
        """The features in FEATURE_NAMES order, as of the account's newest report."""
        newest_day = beijing_day(self.newest_ms)
        if self.totals_day != newest_day:
            self._add_up_windows()
        w1, w7, w30 = self.totals
        prefectures_30d, provinces_30d = self._prefecture_counts(newest_day)
        payers_30d = w30[BUCKET_SIZE + PAYERS]
        individual_payers_30d = w30[BUCKET_SIZE + INDIVIDUAL_PAYERS]
        in_fen_30 = float(w30[IN_FEN])
        in_count_30 = w30[IN_COUNT]
        out_count_30 = w30[OUT_COUNT]
        count_30d = in_count_30 + out_count_30
        count_7d = w7[IN_COUNT] + w7[OUT_COUNT]
        observed_days = min(30, newest_day - beijing_day(self.first_seen_ms) + 1)
        # The ratios are _ratio's, written out: twelve calls were a sixth of this method.
        # Each is min(float(numerator) / float(denominator), cap), or 0.0 over nothing.
        in_fen_7, out_fen_7, out_fen_30 = float(w7[IN_FEN]), float(w7[OUT_FEN]), float(w30[OUT_FEN])
        count_30 = float(count_30d)
        payers_30 = float(payers_30d)
        out_share_7d = out_fen_7 / in_fen_7 if in_fen_7 else 0.0
        out_share_30d = out_fen_30 / in_fen_30 if in_fen_30 else 0.0
        same_day_out_share = self.same_day_out_30d / in_fen_30 if in_fen_30 else 0.0
        round_share = w30[ROUND_IN] / float(in_count_30) if in_count_30 else 0.0
        night_share = w30[NIGHT] / count_30 if count_30d else 0.0
        memo_share = w30[MEMO_HITS] / count_30 if count_30d else 0.0
        repeat_share = w30[REPEAT_OUT] / float(out_count_30) if out_count_30 else 0.0
        cash_share = w30[CASH] / count_30 if count_30d else 0.0
        individual_share = individual_payers_30d / payers_30 if payers_30d else 0.0
        yuan_per_payer = in_fen_30 / 100 / payers_30 if payers_30d else 0.0
        daily_30d = count_30d / observed_days
        burst = count_7d / min(7, observed_days) / daily_30d if daily_30d else 0.0
        top_payees_fen = self._top_payees_fen()
        top_payees_share = top_payees_fen / out_fen_30 if out_fen_30 else 0.0
        # In FEATURE_NAMES order (models.feature_names); test_features checks each by name.
        return np.array(
            (
                w1[IN_COUNT],
                w7[IN_COUNT],
                in_count_30,
                _yuan(w1[IN_FEN]),
                in_fen_7 / 100,
                in_fen_30 / 100,
                w1[OUT_COUNT],
                w7[OUT_COUNT],
                out_count_30,
                _yuan(w1[OUT_FEN]),
                out_fen_7 / 100,
                out_fen_30 / 100,
                w1[BUCKET_SIZE + PAYERS],
                w7[BUCKET_SIZE + PAYERS],
                payers_30d,
                w7[BUCKET_SIZE + INDIVIDUAL_PAYERS],
                individual_payers_30d,
                w7[BUCKET_SIZE + PAYEES],
                w30[BUCKET_SIZE + PAYEES],
                prefectures_30d,
                provinces_30d,
                out_share_7d if out_share_7d < 10.0 else 10.0,
                out_share_30d if out_share_30d < 10.0 else 10.0,
                same_day_out_share if same_day_out_share < 1.0 else 1.0,
                self._median_inflow_yuan(),
                self.max_in_30d / 100,
                round_share if round_share < 1.0 else 1.0,
                night_share if night_share < 1.0 else 1.0,
                memo_share if memo_share < 1.0 else 1.0,
                repeat_share if repeat_share < 1.0 else 1.0,
                cash_share if cash_share < 1.0 else 1.0,
                individual_share if individual_share < 1.0 else 1.0,
                yuan_per_payer if yuan_per_payer < 1e12 else 1e12,
                w30[STR_COUNT],
                w30[LTR_COUNT],
                min((self.newest_ms - self.first_seen_ms) / DAY_MS, AGE_CAP_DAYS),
                burst if burst < 30.0 else 30.0,
                top_payees_share if top_payees_share < 1.0 else 1.0,
            ),
            np.float64,
        )

    def _prefecture_counts(self, newest_day: int) -> tuple[int, int]:
        """Distinct counterparty prefectures seen within 30 days of ``newest_day``, and the
        provinces they are in."""
        if self.prefecture_counts is None or self.prefecture_counts_day != newest_day:
            codes = [code for code, d in self.prefectures.items() if newest_day - d < 30]
            self.prefecture_counts = (len(codes), len({c // 100 for c in codes}))
            self.prefecture_counts_day = newest_day
        return self.prefecture_counts

    def _median_inflow_yuan(self) -> float:
        if self.median_inflow_yuan is None:
            self.median_inflow_yuan = self._work_out_median_inflow_yuan()
        return self.median_inflow_yuan

    def _work_out_median_inflow_yuan(self) -> float:
        """The midpoint of the amount bin that holds the middle inflow of the 30 days: the
        first bin whose inflows and those of the bins below reach the middle one."""
        at_or_below = list(accumulate(self.bins_30d))
        middle = (at_or_below[-1] + 1) // 2
        if not middle:
            return 0.0
        return _BIN_MIDPOINTS_YUAN[bisect_left(at_or_below, middle)]

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
            provinces=self._provinces_sorted(),
            participants_sketch=self._participants_copy(),
        )

    def _provinces_sorted(self) -> tuple[int, ...]:
        if len(self.provinces_sorted) != len(self.provinces):
            self.provinces_sorted = tuple(sorted(self.provinces))
        return self.provinces_sorted

    def _participants_copy(self) -> HyperLogLog:
        if self.participants_copy is None:
            self.participants_copy = self.participants.copy()
        return self.participants_copy

    # -- encoding --------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        # Only the payouts a deposit can still change (memory drops the rest on a new day),
        # by payee: the same bytes whenever the state is encoded, decoded in between or not.
        recent_payouts = dict(
            sorted(_payouts_since(self.recent_payouts, self._payout_horizon()).items())
        )
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
                [label, *self.days[s], *[v for pair in sorted(self.bins[s].items()) for v in pair]]
                for s, label in enumerate(self.labels)
                if label >= 0
            ],
            # [payer, first tx_ms, last day, is individual]; first fen in "pv", in the same
            # order (a worker from before it was kept reads "py" alone)
            "py": [[k, *v[:3]] for k, v in self.payers.items()],
            "pv": [v[3] for v in self.payers.values()],
            "pe": [[k, d] for k, d in self.payees.items()],
            # [payee, then day, fen pairs]
            "pa": [
                [k, *[v for pair in days.items() for v in pair]]
                for k, days in self.payee_fen.items()
            ],
            "pf": [[k, d] for k, d in self.prefectures.items()],
            # [payee, then tx_ms, fen, counted triples]; "po": the uncounted ones as
            # [payee, tx_ms], what a worker from before "rp" reads
            "rp": [
                [k, *[v for payout in payouts for v in payout]]
                for k, payouts in recent_payouts.items()
            ],
            "po": [
                [k, payout[0]]
                for k, payouts in recent_payouts.items()
                for payout in payouts
                if not payout[2]
            ],
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
            state.labels[slot] = row[0]
            state.days[slot] = row[1 : 1 + BUCKET_SIZE]
            state.seen_on[slot] = [0, 0, 0]
            pairs = row[1 + BUCKET_SIZE :]
            state.bins[slot] = dict(zip(pairs[0::2], pairs[1::2], strict=True))
        # Unknown (-1) in a state written before the first sums were kept.
        first_fen = data.get("pv", [-1] * len(data["py"]))
        state.payers = {
            row[0]: [*row[1:4], fen] for row, fen in zip(data["py"], first_fen, strict=True)
        }
        state.payees = {k: d for k, d in data["pe"]}
        # A state written before the payees' money was kept has none: the share of the top
        # payees then counts only what is paid from here on, for up to 30 days.
        state.payee_fen = {
            row[0]: dict(zip(row[1::2], row[2::2], strict=True)) for row in data.get("pa", ())
        }
        state.prefectures = {k: d for k, d in data["pf"]}
        if "rp" in data:
            state.recent_payouts = {
                row[0]: [list(row[i : i + 3]) for i in range(1, len(row), 3)] for row in data["rp"]
            }
        else:  # from before "rp": the payouts waiting for an earlier deposit, fen unknown
            for key, out_ms in data["po"]:
                state.recent_payouts.setdefault(key, []).append([out_ms, -1, 0])
        state.recent_tx_ids = data["tx"]
        # The counterparty counts per day, straight into the slots (the window totals are
        # added up from the slots once, below).
        labels, seen_on = state.labels, state.seen_on
        for _, last_day, individual, _ in state.payers.values():
            if labels[last_day % KEEP_DAYS] == last_day:
                seen = seen_on[last_day % KEEP_DAYS]
                seen[PAYERS] += 1
                seen[INDIVIDUAL_PAYERS] += bool(individual)
        for last_day in state.payees.values():
            if labels[last_day % KEEP_DAYS] == last_day:
                seen_on[last_day % KEEP_DAYS][PAYEES] += 1
        state._add_up_windows()
        return state

    def to_bytes(self) -> bytes:
        return orjson.dumps(self.to_dict())

    @classmethod
    def from_bytes(cls, blob: bytes, lateness_ms: int) -> AccountFeatures:
        return cls.from_dict(orjson.loads(blob), lateness_ms)


def _payouts_since(
    payouts_by_payee: dict[int, list[list[int]]], horizon: int
) -> dict[int, list[list[int]]]:
    kept: dict[int, list[list[int]]] = {}
    for key, payouts in payouts_by_payee.items():
        recent = [p for p in payouts if p[0] >= horizon]
        if recent:
            kept[key] = recent
    return kept


def _is_repeat(payer: list[int], out_ms: int, fen: int) -> bool:
    """Whether a payout to a payer is a repeat payout: it follows the payer's first deposit and
    does not give back that same sum (a refund: a presale's 认筹金, a shop's order). A sum
    not kept (-1, from an older state) is no refund."""
    return payer[0] < out_ms and (fen != payer[3] or fen < 0)


def _yuan(fen: int) -> float:
    return float(fen) / 100  # as numpy divided an int64 counter: the same to the last bit


def _ratio(numerator: float, denominator: float, cap: float = 1.0) -> float:
    # As floats, the way numpy divided two int64 counters before: the same to the last bit.
    return min(float(numerator) / float(denominator), cap) if denominator else 0.0


def _forget_least_recent(
    seen: dict[int, Any], last_day: Callable[[Any], int], on_forget: Callable[[Any], None] | None
) -> None:
    """Drop the least recently seen tenth of a full map (amortises the scan)."""
    ordered = sorted(seen, key=lambda k: last_day(seen[k]))
    for key in ordered[: max(1, len(ordered) // 10)]:
        value = seen.pop(key)
        if on_forget is not None:
            on_forget(value)
