"""A straightforward reference implementation of the per-account features (models.features).

It keeps every report it applied (no day buckets, no incremental counters, no numpy) and
recomputes each feature from that list when asked, by the definitions in models.features:
windows end on the Beijing day of the account's newest report; a report more than the
lateness behind the newest tx_time counts in the lifetime totals only; a report more than 29
days before the newest day (when it arrives) is in no window.

Its limits, which the random streams of tests/unit/test_features_reference.py respect: fewer
counterparties and prefectures than models.features' caps (beyond which the fast path forgets
the least recent on purpose), and a counterparty's type fixed per counterparty (the fast path
remembers a payer as individual as long as it keeps paying in, even from before the window).
It is slow on purpose; bench/pipeline_speed.py times it against the fast path.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from models.feature_names import FEATURE_NAMES, TOP_PAYEES
from models.features import (
    DAY_MS,
    FUNDRAISING_MEMO,
    NO_COUNTERPARTY_CHANNELS,
    ROUND_FEN,
    amount_bin,
    beijing_day,
    bin_midpoint_yuan,
    is_night,
)
from schemas.report import TransactionReport


@dataclass
class ReferenceFeatures:
    lateness_ms: int
    first_seen_ms: int = 0
    newest_ms: int = 0
    report_count: int = 0
    windowed: list[TransactionReport] = field(default_factory=list)

    def apply(self, report: TransactionReport) -> bool:
        tx_ms = report.tx_epoch_ms
        if not self.report_count or tx_ms < self.first_seen_ms:
            self.first_seen_ms = tx_ms
        on_time = not self.report_count or tx_ms >= self.newest_ms - self.lateness_ms
        self.report_count += 1
        if not on_time:
            return False
        self.newest_ms = max(self.newest_ms, tx_ms)
        if beijing_day(tx_ms) >= beijing_day(self.newest_ms) - 29:
            self.windowed.append(report)
        return True

    def _within(self, days: int) -> list[TransactionReport]:
        newest_day = beijing_day(self.newest_ms)
        return [r for r in self.windowed if newest_day - beijing_day(r.tx_epoch_ms) < days]

    def vector(self) -> list[float]:
        values: dict[str, float] = {}
        for days in (1, 7, 30):
            window = self._within(days)
            inflows = [r for r in window if r.direction == "in"]
            outflows = [r for r in window if r.direction == "out"]
            values[f"inflow_count_{days}d"] = len(inflows)
            values[f"inflow_sum_yuan_{days}d"] = sum(r.amount_fen for r in inflows) / 100
            values[f"outflow_count_{days}d"] = len(outflows)
            values[f"outflow_sum_yuan_{days}d"] = sum(r.amount_fen for r in outflows) / 100
            payers = {
                r.counterparty_account for r in inflows if r.channel not in NO_COUNTERPARTY_CHANNELS
            }
            individual_payers = {
                r.counterparty_account
                for r in inflows
                if r.channel not in NO_COUNTERPARTY_CHANNELS and r.counterparty_type == "individual"
            }
            payees = {
                r.counterparty_account
                for r in outflows
                if r.channel not in NO_COUNTERPARTY_CHANNELS
            }
            values[f"distinct_payers_{days}d"] = len(payers)
            values[f"distinct_individual_payers_{days}d"] = len(individual_payers)
            values[f"distinct_payees_{days}d"] = len(payees)
            in_fen = sum(r.amount_fen for r in inflows)
            out_fen = sum(r.amount_fen for r in outflows)
            values[f"pass_through_ratio_{days}d"] = _ratio(out_fen, in_fen, 10.0)
        window = self._within(30)
        inflows = [r for r in window if r.direction == "in"]
        outflows = [r for r in window if r.direction == "out"]
        in_fen = sum(r.amount_fen for r in inflows)
        count = len(window)
        payers_30 = values["distinct_payers_30d"]
        prefectures = {int(r.counterparty_region[:4]) for r in window if r.counterparty_region}
        values["distinct_counterparty_prefectures_30d"] = len(prefectures)
        values["distinct_counterparty_provinces_30d"] = len({p // 100 for p in prefectures})
        same_day = 0
        for day in {beijing_day(r.tx_epoch_ms) for r in window}:
            day_in = sum(r.amount_fen for r in inflows if beijing_day(r.tx_epoch_ms) == day)
            day_out = sum(r.amount_fen for r in outflows if beijing_day(r.tx_epoch_ms) == day)
            same_day += min(day_in, day_out)
        values["same_day_outflow_share_30d"] = _ratio(same_day, in_fen)
        bins = sorted(amount_bin(r.amount_fen) for r in inflows)
        values["median_inflow_yuan_30d"] = (
            bin_midpoint_yuan(bins[(len(bins) + 1) // 2 - 1]) if bins else 0.0
        )
        values["max_inflow_yuan_30d"] = max((r.amount_fen for r in inflows), default=0) / 100
        round_in = sum(r.amount_fen % ROUND_FEN == 0 for r in inflows)
        values["round_amount_share_30d"] = _ratio(round_in, len(inflows))
        night = sum(is_night(r.tx_epoch_ms) for r in window)
        values["night_share_30d"] = _ratio(night, count)
        memo = sum(bool(r.purpose and FUNDRAISING_MEMO.search(r.purpose)) for r in window)
        values["fundraising_memo_share_30d"] = _ratio(memo, count)
        # A payout is a repeat payout when its payee paid in (with a counterparty) earlier and
        # it is not a refund: the sum of the payee's first deposit (the smallest of several
        # at that time) given back.
        first_deposits: dict[str, tuple[int, int]] = {}
        for i in self.windowed:
            if i.direction == "in" and i.channel not in NO_COUNTERPARTY_CHANNELS:
                first = (i.tx_epoch_ms, i.amount_fen)
                first_deposits[i.counterparty_account] = min(
                    first_deposits.get(i.counterparty_account, first), first
                )
        repeat = 0
        for o in outflows:
            first = first_deposits.get(o.counterparty_account)
            if o.channel not in NO_COUNTERPARTY_CHANNELS and first is not None:
                repeat += first[0] < o.tx_epoch_ms and first[1] != o.amount_fen
        values["repeat_payout_share_30d"] = _ratio(repeat, len(outflows))
        cash = sum(r.channel in NO_COUNTERPARTY_CHANNELS for r in window)
        values["cash_share_30d"] = _ratio(cash, count)
        values["individual_payer_share_30d"] = _ratio(
            values["distinct_individual_payers_30d"], payers_30
        )
        values["mean_inflow_per_payer_yuan_30d"] = _ratio(in_fen / 100, payers_30, 1e12)
        values["str_report_count_30d"] = sum(r.report_type == "STR" for r in window)
        values["large_value_report_count_30d"] = sum(r.report_type == "LTR" for r in window)
        values["account_age_days"] = min((self.newest_ms - self.first_seen_ms) / DAY_MS, 28)
        newest_day = beijing_day(self.newest_ms)
        observed_days = min(30, newest_day - beijing_day(self.first_seen_ms) + 1)
        values["activity_growth_7d_over_30d"] = _ratio(
            len(self._within(7)) / min(7, observed_days), count / observed_days, 30.0
        )
        paid: dict[str, int] = {}
        for r in outflows:
            if r.channel not in NO_COUNTERPARTY_CHANNELS:
                paid[r.counterparty_account] = paid.get(r.counterparty_account, 0) + r.amount_fen
        top = sum(sorted(paid.values(), reverse=True)[:TOP_PAYEES])
        values["top_payees_outflow_share_30d"] = _ratio(top, sum(r.amount_fen for r in outflows))
        return [float(values[name]) for name in FEATURE_NAMES]


def _ratio(numerator: float, denominator: float, cap: float = 1.0) -> float:
    return min(numerator / denominator, cap) if denominator else 0.0
