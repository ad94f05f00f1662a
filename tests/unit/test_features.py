"""Rolling features in event time: the right windows, any arrival order, bounded state."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from models.feature_names import AGE_CAP_DAYS, FEATURE_NAMES
from models.features import PAYER_CAP, AccountFeatures
from models.sketch import HyperLogLog, counterparty_hash
from schemas.report import TransactionReport, validate_record
from tests.reports import valid_report

HOUR_MS = 3_600_000
LATENESS_MS = 2 * HOUR_MS
T0 = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)  # 18:00 in Beijing


def report(
    minutes: float,
    direction: str = "in",
    counterparty: str = "P1",
    amount: str = "100",
    **extra: object,
) -> TransactionReport:
    when = (T0 + timedelta(minutes=minutes)).isoformat()
    record = valid_report(
        report_id=f"R{minutes}-{direction}-{counterparty}-{amount}",
        tx_time=when,
        direction=direction,
        counterparty_account=counterparty,
        amount=amount,
        counterparty_type="individual",
        **extra,
    )
    return validate_record(record)


def features_of(reports: list[TransactionReport]) -> dict[str, float]:
    state = AccountFeatures(LATENESS_MS)
    for r in reports:
        state.apply(r)
    return dict(zip(FEATURE_NAMES, state.vector(), strict=True))


def test_windows_cover_the_right_days() -> None:
    reports = [
        report(0, amount="100"),
        report(-3 * 24 * 60, amount="200"),
        report(-10 * 24 * 60, amount="400"),
        report(-40 * 24 * 60, amount="800"),
    ]
    # Oldest first, so none is late.
    f = features_of(sorted(reports, key=lambda r: r.tx_time))
    assert f["inflow_sum_yuan_1d"] == 100
    assert f["inflow_sum_yuan_7d"] == 300
    assert f["inflow_sum_yuan_30d"] == 700  # the report 40 days back is outside every window
    assert f["inflow_count_30d"] == 3


def test_any_arrival_order_within_the_lateness_gives_the_same_features() -> None:
    rng = random.Random(5)
    reports = []
    for i in range(300):
        minutes = i * 3.0
        payer = f"P{rng.randrange(60)}"
        reports.append(report(minutes, "in", payer, str(rng.choice([100, 5000, 10000]))))
        if i % 4 == 0:
            reports.append(report(minutes + 1, "out", f"P{rng.randrange(80)}", "300"))
    in_order = sorted(reports, key=lambda r: r.tx_time)
    expected = features_of(in_order)
    for seed in range(5):
        # Shuffle within blocks of 30 minutes: nothing arrives more than 2 hours late.
        shuffled = []
        for start in range(0, len(in_order), 15):
            block = in_order[start : start + 15]
            random.Random(seed).shuffle(block)
            shuffled.extend(block)
        assert features_of(shuffled) == expected
    assert expected["repeat_payout_share_30d"] > 0


def test_a_report_later_than_the_lateness_goes_to_totals_only() -> None:
    state = AccountFeatures(LATENESS_MS)
    assert state.apply(report(600, amount="100"))
    assert not state.apply(report(600 - 3 * 60, counterparty="P2", amount="50"))  # 3 h behind
    assert state.late_count == 1
    assert state.money_raised_fen == 15_000  # in the lifetime total
    f = dict(zip(FEATURE_NAMES, state.vector(), strict=True))
    assert f["inflow_sum_yuan_1d"] == 100  # not in the windows
    assert state.participants.estimate() == 2


def test_payouts_to_earlier_payers_are_repeat_payouts() -> None:
    f = features_of(
        [
            report(0, "in", "P1"),
            report(10, "in", "P2"),
            report(60, "out", "P1"),
            report(61, "out", "SUPPLIER"),
        ]
    )
    assert f["repeat_payout_share_30d"] == 0.5
    assert f["distinct_payers_1d"] == 2
    assert f["distinct_payees_30d"] == 2


def test_fundraising_vocabulary_round_amounts_and_night() -> None:
    # 18:00 Beijing + 8 h = 02:00 the next day: night
    f = features_of(
        [
            report(0, purpose="理财产品认购", amount="50000"),
            report(8 * 60, purpose="货款", amount="123.45"),
        ]
    )
    assert f["fundraising_memo_share_30d"] == 0.5
    assert f["round_amount_share_30d"] == 0.5
    assert f["night_share_30d"] == 0.5


def test_pass_through_and_same_day_outflow() -> None:
    f = features_of([report(0, "in", "P1", "1000"), report(30, "out", "CTRL", "900")])
    assert f["pass_through_ratio_7d"] == pytest.approx(0.9)
    assert f["same_day_outflow_share_30d"] == pytest.approx(0.9)


def test_a_salesperson_who_hands_the_money_on_concentrates_it_in_few_payees() -> None:
    # Most of the money to one controller; the rest in small sums to many shops and family.
    shops = [report(40 + i, "out", f"SHOP{i}", "50") for i in range(20)]
    f = features_of([report(0, "in", "P1", "10000"), report(30, "out", "CTRL", "9000"), *shops])
    assert f["distinct_payees_30d"] == 21
    assert f["top_payees_outflow_share_30d"] == pytest.approx(9100 / 10000)


def test_the_top_payees_share_forgets_money_paid_more_than_30_days_ago() -> None:
    month = 31 * 24 * 60.0
    f = features_of(
        [
            report(0, "out", "CTRL", "9000"),
            *[report(month + i, "out", f"SHOP{i}", "100") for i in range(4)],
        ]
    )
    assert f["outflow_sum_yuan_30d"] == 400
    assert f["top_payees_outflow_share_30d"] == pytest.approx(0.75)


def test_a_state_from_before_the_payees_money_was_kept_still_decodes() -> None:
    state = AccountFeatures(LATENESS_MS)
    for r in (report(0, "in", "P1", "1000"), report(30, "out", "CTRL", "900")):
        state.apply(r)
    older = state.to_dict()
    del older["pa"]  # as the previous release wrote it
    copy = AccountFeatures.from_dict(older, LATENESS_MS)
    # Only what is paid from here on counts towards the share.
    copy.apply(report(60, "out", "CTRL", "100"))
    f = dict(zip(FEATURE_NAMES, copy.vector(), strict=True))
    assert f["top_payees_outflow_share_30d"] == pytest.approx(100 / 1000)


def test_state_round_trips_through_its_encoding() -> None:
    state = AccountFeatures(LATENESS_MS)
    for i in range(200):
        state.apply(report(i * 7.0, "in" if i % 3 else "out", f"P{i % 50}", str(100 + i)))
    copy = AccountFeatures.from_bytes(state.to_bytes(), LATENESS_MS)
    assert np.array_equal(copy.vector(), state.vector())
    assert copy.participants.estimate() == state.participants.estimate()
    copy.apply(report(2000, "in", "P9"))
    state.apply(report(2000, "in", "P9"))
    assert np.array_equal(copy.vector(), state.vector())


def test_state_stays_bounded_for_a_busy_collector() -> None:
    state = AccountFeatures(LATENESS_MS)
    for i in range(20_000):  # 20,000 distinct payers over 60 days
        state.apply(report(i * 4.3, "in", f"P{i}", "10000"))
    assert len(state.payers) <= PAYER_CAP
    assert state.active_days <= 30
    assert len(state.to_bytes()) < 40_000
    f = dict(zip(FEATURE_NAMES, state.vector(), strict=True))
    assert f["distinct_payers_30d"] <= PAYER_CAP
    assert abs(state.participants.estimate() - 20_000) < 20_000 * 4 * 0.046


def test_hyperloglog_is_exact_for_few_and_close_for_many() -> None:
    sketch = HyperLogLog()
    for i in range(30):
        sketch.add(counterparty_hash(f"A{i}"))
    assert sketch.estimate() == 30
    for i in range(30, 5000):
        sketch.add(counterparty_hash(f"A{i}"))
    assert abs(sketch.estimate() - 5000) < 5000 * 3 * 0.046
    assert HyperLogLog.from_text(sketch.to_text()).estimate() == sketch.estimate()


def test_a_decoded_sketch_estimates_exactly_like_the_live_one() -> None:
    # The worker decodes an account's sketch once per batch, the backtest at other points:
    # the estimate must not depend on where the sketch was last decoded.
    live = HyperLogLog()
    for i in range(20_000):
        live.add(counterparty_hash(f"P{i}"))
        if i % 997 == 0:
            decoded = HyperLogLog.from_text(live.to_text())
            assert decoded._harmonic == live._harmonic
            assert decoded.estimate() == live.estimate()


def test_an_established_account_is_no_older_than_the_age_cap() -> None:
    # Trained on 30 days of history, an account seen for 60 must not look stranger than any.
    f = features_of([report(0), report(60 * 24 * 60.0)])
    assert f["account_age_days"] == AGE_CAP_DAYS == 28
    assert features_of([report(0), report(36 * 60.0)])["account_age_days"] == 1.5
