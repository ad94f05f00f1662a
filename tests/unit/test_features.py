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
            # some the sum a payer paid in: refunds, or repeat payouts after all once that
            # payer's earlier deposit of another sum arrives
            amount = rng.choice(["300", "100", "5000"])
            reports.append(report(minutes + 1, "out", f"P{rng.randrange(80)}", amount))
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
            report(60, "out", "P1", amount="1.50"),  # "interest" on the 100 paid in
            report(61, "out", "SUPPLIER"),
        ]
    )
    assert f["repeat_payout_share_30d"] == 0.5
    assert f["distinct_payers_1d"] == 2
    assert f["distinct_payees_30d"] == 2


def test_a_deposit_given_back_is_a_refund_not_a_repeat_payout() -> None:
    """A developer refunds a buyer's 认筹金: the sum of the buyer's first deposit, whatever
    the buyer paid after it; any other sum back to a payer is a repeat payout."""
    deposit_then_refund = [
        report(0, "in", "BUYER", amount="20000"),
        report(30, "in", "BUYER", amount="150000"),  # a down payment
        report(60, "out", "BUYER", amount="20000"),
    ]
    assert features_of(deposit_then_refund)["repeat_payout_share_30d"] == 0.0
    # Arriving in any order within the lateness, the refund is still one...
    assert features_of(deposit_then_refund[::-1])["repeat_payout_share_30d"] == 0.0
    # ...until an earlier deposit of another sum shows it was not the first one given back.
    earlier = report(-10, "in", "BUYER", amount="5000")
    for reports in ([*deposit_then_refund, earlier], [earlier, *deposit_then_refund]):
        assert features_of(reports)["repeat_payout_share_30d"] == 1.0
    # Paying back the down payment instead is a repeat payout too.
    down_payment_back = [*deposit_then_refund[:2], report(60, "out", "BUYER", amount="150000")]
    assert features_of(down_payment_back)["repeat_payout_share_30d"] == 1.0


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


def test_states_from_before_the_first_sums_were_kept_decode_both_ways() -> None:
    """A rolling upgrade: a new worker reads a state written by the previous release (no
    first sums, no recent payouts) as that release would have gone on; the previous release
    reads a new state's payers and waiting payouts in its own shape."""
    state = AccountFeatures(LATENESS_MS)
    for r in (report(0, "in", "P1", "1000"), report(30, "out", "P2", "500")):
        state.apply(r)
    new = state.to_dict()
    assert [len(row) for row in new["py"]] == [4]  # [payer, first tx_ms, last day, individual]
    assert new["po"] == [[new["rp"][0][0], new["rp"][0][1]]]  # [payee, tx_ms]: still waiting
    older = {k: v for k, v in new.items() if k not in ("pv", "rp")}
    copy = AccountFeatures.from_dict(older, LATENESS_MS)
    # P2 paid in before the payout waiting for it: a repeat payout, as before; and with P1's
    # first sum unknown, giving P1 back its 1,000 yuan counts as one too.
    for r in (report(20, "in", "P2", "500"), report(40, "out", "P1", "1000")):
        copy.apply(r)
    f = dict(zip(FEATURE_NAMES, copy.vector(), strict=True))
    assert f["repeat_payout_share_30d"] == 1.0


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
    assert len(state.to_bytes()) < 48_000  # 1,024 payers: each one's first time and sum
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
