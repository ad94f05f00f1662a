"""The fast features (models.features) against a straightforward reference implementation
(tests/reference_features.py) on random report streams: several accounts, amounts,
counterparties and channels, times that jump ahead, arrive out of order within the lateness
and late beyond it, across Beijing midnights and past the 30-day window; with the state
encoded and decoded between reports now and then, as a worker's table does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models import features
from models.account_state import AccountState
from models.feature_names import FEATURE_NAMES
from models.features import AccountFeatures
from schemas.report import TransactionReport
from tests.reference_features import ReferenceFeatures

LATENESS_MS = 2 * 3_600_000
FEATURE_INDEX = {name: i for i, name in enumerate(FEATURE_NAMES)}
START = datetime(2026, 11, 1, 15, 30, tzinfo=UTC)  # 23:30 in Beijing
CHANNELS = ("transfer", "transfer", "mobile", "cash", "atm", "pos")
PURPOSES = (None, "货款", "投资款", "月息分红", "工资", "")
REGIONS = (None, "530502", "530521", "530102", "510104", "110101")
AMOUNTS = st.one_of(
    st.integers(1, 10_000_000_000),
    st.sampled_from([100_000, 5_000_000, 100_000_000, 1, 99_999]),
)

step = st.fixed_dictionaries(
    {
        "account": st.integers(0, 2),
        # ms to move the clock: mostly ahead (up to 4 days), sometimes back within the
        # lateness, sometimes back beyond it (a late report)
        "move": st.one_of(
            st.integers(0, 4 * 86_400_000),
            st.integers(0, 3_600_000),
            st.integers(-LATENESS_MS, 0),
            st.integers(-3 * LATENESS_MS, -LATENESS_MS - 1),
        ),
        "direction": st.sampled_from(["in", "out"]),
        "amount_fen": AMOUNTS,
        "counterparty": st.integers(0, 11),
        "channel": st.sampled_from(CHANNELS),
        "report_type": st.sampled_from(["TX", "TX", "LTR", "STR"]),
        "region": st.sampled_from(REGIONS),
        "purpose": st.sampled_from(PURPOSES),
        "round_trip": st.integers(0, 9),  # 0: encode and decode the state before this report
    }
)


def report_of(number: int, item: dict[str, object], tx_time: datetime) -> TransactionReport:
    counterparty = int(item["counterparty"])  # type: ignore[call-overload]
    account = f"62220000{item['account']}"
    return TransactionReport(
        report_id=f"R-{number}",
        report_type=str(item["report_type"]),
        bank_id="BSCB",
        tx_id=f"T-{number}",
        tx_time=tx_time,
        account_id=account,
        account_type="corporate",
        region="530502",
        direction=str(item["direction"]),
        amount_fen=int(item["amount_fen"]),  # type: ignore[call-overload]
        currency="CNY",
        channel=str(item["channel"]),
        # Counterparty 0 is the account itself; odd ones are businesses, even ones people.
        counterparty_account=account if counterparty == 0 else f"6217{counterparty:04d}",
        counterparty_type="corporate" if counterparty % 2 else "individual",
        counterparty_region=item["region"],  # type: ignore[arg-type]
        purpose=item["purpose"],  # type: ignore[arg-type]
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(step, min_size=1, max_size=120))
def test_fast_features_equal_the_reference_on_random_streams(
    steps: list[dict[str, object]],
) -> None:
    fast: dict[int, AccountState] = {}
    reference: dict[int, ReferenceFeatures] = {}
    clock = START
    for number, item in enumerate(steps):
        clock += timedelta(milliseconds=int(item["move"]))  # type: ignore[call-overload]
        account = int(item["account"])  # type: ignore[call-overload]
        report = report_of(number, item, clock)
        state = fast.setdefault(account, AccountState.new(LATENESS_MS))
        if item["round_trip"] == 0:
            state = fast[account] = AccountState.from_bytes(state.to_bytes(), LATENESS_MS)
        plain = reference.setdefault(account, ReferenceFeatures(LATENESS_MS))
        assert state.features.apply(report) == plain.apply(report)
        assert state.features.vector().tolist() == plain.vector()
        assert state.features.days_cover_the_maps()
        assert state.features.windows_are_added_up()
    # The rows every free slot shares were only read, never written.
    assert features._FREE_DAY == [0] * features.BUCKET_SIZE
    assert features._FREE_SEEN == [0, 0, 0] and features._FREE_BINS == {}


def test_the_reference_sees_the_windows_the_fast_path_sees() -> None:
    """A hand-made case: a deposit and a repeat payout, then a month later only the payout's
    day has left the 30-day window (so the comparison above is not vacuous)."""
    items = [
        {"account": 0, "direction": "in", "amount_fen": 100_000, "counterparty": 2},
        {"account": 0, "direction": "out", "amount_fen": 50_000, "counterparty": 2},
    ]
    fast = AccountFeatures(LATENESS_MS)
    plain = ReferenceFeatures(LATENESS_MS)
    base = {"channel": "transfer", "report_type": "TX", "region": "530521", "purpose": "投资款"}
    for number, item in enumerate(items):
        report = report_of(number, {**base, **item}, START + timedelta(hours=number))
        fast.apply(report)
        plain.apply(report)
    vector = fast.vector().tolist()
    assert vector == plain.vector()
    assert vector[FEATURE_INDEX["repeat_payout_share_30d"]] == 1.0
    assert vector[FEATURE_INDEX["distinct_payers_30d"]] == 1.0


def test_days_leave_each_window_as_the_reference_says_day_after_day() -> None:
    """Forty days of money in and out on every day, each day's largest inflow smaller than the
    day before's: each day leaves the 1-, 7- and 30-day windows in turn, the month's largest
    inflow and its same-day outflow with it (what the random streams above rarely reach)."""
    fast = AccountFeatures(LATENESS_MS)
    plain = ReferenceFeatures(LATENESS_MS)
    base = {"channel": "transfer", "report_type": "TX", "region": "530521", "purpose": "货款"}
    number = 0
    for day in range(40):
        for direction, amount, counterparty in (
            ("in", 90_000_000 - day * 1_000_000, 2 + day % 9),
            ("out", 40_000_000 + day * 700_000, 3 + day % 7),
            ("in", 1_000_000 + day, 4),
        ):
            item = {**base, "account": 0, "direction": direction, "amount_fen": amount}
            item["counterparty"] = counterparty
            at = START + timedelta(days=day, hours=number % 3)
            report = report_of(number, item, at)
            number += 1
            fast.apply(report)
            plain.apply(report)
            assert fast.windows_are_added_up(), (day, direction)
            assert fast.vector().tolist() == plain.vector(), (day, direction)
    # The last reports fall on Beijing day 40 (START is 23:30 in Beijing): the window holds
    # days 11-40, and its largest inflow is day 11's.
    vector = fast.vector().tolist()
    assert vector[FEATURE_INDEX["max_inflow_yuan_30d"]] == (90_000_000 - 11 * 1_000_000) / 100
