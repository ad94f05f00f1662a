"""Lead building: episodes, revisions, severity, flags, reasons and the stored state."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from models.feature_names import FEATURE_NAMES
from models.leads import (
    DAY_MS,
    HOUR_MS,
    LeadPolicy,
    LeadState,
    LeadStateError,
    ModelView,
    county_of,
    is_cross_province_major,
    lead_id_of,
    observe,
    severity_of,
)
from models.reasons import FEATURE_TEXTS, explain
from models.snapshot import AccountSnapshot
from models.watchlist import WatchlistHit
from schemas.lead import Lead, Severity

T0 = 1_790_000_000_000  # 2026-09-21, epoch ms
EMITTED = datetime(2026, 10, 1, tzinfo=UTC)
POLICY = LeadPolicy()
QUANTILES = {"0.5": 1.0, "0.9": 10.0, "0.99": 20.0, "0.999": 35.0}
MODEL = ModelView(
    version="m1",
    threshold=0.6,
    score_quantiles={"0.5": 0.4, "0.999": 0.7},
    feature_quantiles={name: QUANTILES for name in FEATURE_NAMES},
)
HIGH, LOW = 0.8, 0.3
YUAN = 100  # fen


def feature_vector(**values: float) -> np.ndarray:
    vector = np.zeros(len(FEATURE_NAMES))
    for name, value in values.items():
        vector[FEATURE_NAMES.index(name)] = value
    return vector


def snap(tx_ms: int, **changes: Any) -> AccountSnapshot:
    base = AccountSnapshot(
        account_id="6217000011112222",
        bank_id="BSCB",
        account_type="corporate",
        region="530502",
        industry="p2p_lending",
        customer_name="保山某某投资咨询有限公司",
        features=feature_vector(distinct_payers_30d=412),
        money_raised_fen=1_000_000 * YUAN,
        participants=50,
        counterparty_provinces=1,
        cross_prefecture=False,
        first_seen_ms=T0 - 10 * DAY_MS,
        last_tx_ms=tx_ms,
        newest_tx_ms=tx_ms,
        tx_id=f"T{tx_ms}",
        recent_tx_ids=tuple(f"T{i}" for i in range(8)),
    )
    return replace(base, **changes)


def run(
    reports: list[tuple[AccountSnapshot, float]], state: LeadState | None = None
) -> tuple[LeadState | None, list[Lead]]:
    leads = []
    for snapshot, score in reports:
        state, lead = observe(state, snapshot, score, MODEL, POLICY, EMITTED)
        if lead is not None:
            leads.append(lead)
    return state, leads


# -- lead ids and episodes ---------------------------------------------------------------------


def test_lead_id_is_deterministic_and_depends_on_the_episode_start() -> None:
    _, first = observe(None, snap(T0), HIGH, MODEL, POLICY, EMITTED)
    _, again = observe(None, snap(T0), HIGH, MODEL, POLICY, EMITTED)
    _, later = observe(None, snap(T0 + 1), HIGH, MODEL, POLICY, EMITTED)
    assert first is not None and again is not None and later is not None
    assert first == again
    assert re.fullmatch(r"L[0-9a-f]{16}", first.lead_id)
    assert first.lead_id == lead_id_of("BSCB", "6217000011112222", T0)
    assert later.lead_id != first.lead_id
    assert lead_id_of("ICBC-BS", "6217000011112222", T0) != first.lead_id


def test_first_anomalous_report_opens_revision_1_with_the_account_facts() -> None:
    state, lead = observe(None, snap(T0), HIGH, MODEL, POLICY, EMITTED)
    assert state is not None and lead is not None
    assert (lead.revision, lead.score, lead.threshold, lead.model_version) == (1, HIGH, 0.6, "m1")
    assert (lead.county, lead.sector, lead.lead_department) == ("隆阳区", "p2p_lending", "cbrc")
    assert lead.seed_category == "(一) P2P/众筹"
    assert (
        lead.first_evidence_time
        == lead.last_evidence_time
        == datetime.fromtimestamp(T0 / 1000, UTC)
    )
    assert lead.evidence_tx_ids == ("T3", "T4", "T5", "T6", "T7")
    assert lead.emitted_at == EMITTED
    assert lead.customer_name == "保山某某投资咨询有限公司"
    assert (lead.money_raised_fen, lead.participants) == (1_000_000 * YUAN, 50)


def test_missing_industry_goes_to_the_anti_fraud_office() -> None:
    _, lead = observe(None, snap(T0, industry=None), HIGH, MODEL, POLICY, EMITTED)
    assert lead is not None
    assert (lead.sector, lead.lead_department, lead.seed_category) == ("other", "dfb", "")


def test_fifty_anomalous_reports_in_a_day_give_one_lead() -> None:
    every_20_minutes = [T0 + i * 20 * 60_000 for i in range(50)]
    reports = [
        (snap(t, money_raised_fen=(1_000_000 + i) * YUAN), HIGH)
        for i, t in enumerate(every_20_minutes)
    ]
    state, leads = run(reports)
    assert [(lead.revision, lead.lead_id) for lead in leads] == [(1, leads[0].lead_id)]
    assert state is not None and state.last_anomalous_ms == T0 + 49 * 20 * 60_000


def test_routine_revision_at_most_once_per_interval() -> None:
    hours = [0, 1, 23, 24, 25, 47, 48]
    _, leads = run([(snap(T0 + h * HOUR_MS), HIGH) for h in hours])
    emitted_at_hours = [
        (lead.last_evidence_time.timestamp() * 1000 - T0) / HOUR_MS for lead in leads
    ]
    assert emitted_at_hours == [0, 24, 48]
    assert [lead.revision for lead in leads] == [1, 2, 3]
    assert len({lead.lead_id for lead in leads}) == 1


def test_revision_at_once_on_severity_change() -> None:
    state, leads = run(
        [
            (snap(T0, participants=150), HIGH),
            (snap(T0 + 60_000, participants=199), HIGH),  # +33%: not enough on its own
            (snap(T0 + 120_000, participants=200), HIGH),
        ]
    )
    assert [(lead.revision, lead.severity) for lead in leads] == [
        (1, Severity.GENERAL),
        (2, Severity.MAJOR),
    ]
    assert state is not None and state.severity == "major"


def test_revision_at_once_on_50_percent_money_growth() -> None:
    million = 1_000_000 * YUAN
    _, leads = run(
        [
            (snap(T0, money_raised_fen=million), HIGH),
            (snap(T0 + 60_000, money_raised_fen=million * 3 // 2 - 1), HIGH),
            (snap(T0 + 120_000, money_raised_fen=million * 3 // 2), HIGH),
            (snap(T0 + 180_000, money_raised_fen=million * 2), HIGH),  # +33% since revision 2
        ]
    )
    assert [(lead.revision, lead.money_raised_fen) for lead in leads] == [
        (1, million),
        (2, million * 3 // 2),
    ]


def test_revision_at_once_on_participant_growth_and_on_a_new_flag() -> None:
    _, leads = run(
        [
            (snap(T0, participants=40), HIGH),
            (snap(T0 + 60_000, participants=60), HIGH),
            (snap(T0 + 120_000, participants=60, cross_prefecture=True), HIGH),
        ]
    )
    assert [lead.revision for lead in leads] == [1, 2, 3]
    assert [lead.cross_prefecture for lead in leads] == [False, False, True]


def test_severity_does_not_drop_within_an_episode() -> None:
    state, leads = run(
        [(snap(T0, participants=201), HIGH), (snap(T0 + 60_000, participants=198), HIGH)]
    )
    assert [(lead.revision, lead.severity) for lead in leads] == [(1, Severity.MAJOR)]
    assert state is not None and state.severity == "major"


def test_quiet_period_closes_the_episode_and_a_later_anomaly_opens_a_new_lead() -> None:
    quiet = int(POLICY.quiet_days_to_close * DAY_MS)
    state, leads = run([(snap(T0), HIGH), (snap(T0 + quiet), LOW)])
    assert state is not None  # exactly 14 days is not "more than"
    state, more = run([(snap(T0 + quiet + 1), LOW)], state)
    assert state is None and more == []
    state, reopened = run([(snap(T0 + quiet + HOUR_MS), HIGH)], state)
    assert [lead.revision for lead in reopened] == [1]
    assert reopened[0].lead_id != leads[0].lead_id
    assert reopened[0].first_evidence_time == datetime.fromtimestamp(
        (T0 + quiet + HOUR_MS) / 1000, UTC
    )


def test_anomaly_after_a_quiet_gap_opens_a_new_lead_without_a_closing_report() -> None:
    _, leads = run([(snap(T0), HIGH), (snap(T0 + 15 * DAY_MS), HIGH)])
    assert [lead.revision for lead in leads] == [1, 1]
    assert leads[0].lead_id != leads[1].lead_id


def test_late_reports_neither_move_time_back_nor_keep_an_episode_open() -> None:
    newest = T0 + 2 * HOUR_MS
    state, _ = run([(snap(T0), HIGH), (snap(T0 + HOUR_MS), HIGH)])
    late = snap(T0 - HOUR_MS, newest_tx_ms=newest)
    state, none = run([(late, HIGH)], state)
    assert none == [] and state is not None and state.last_anomalous_ms == T0 + HOUR_MS
    # A late report, old itself, arriving when the account's clock is 15 days on: closes.
    state, none = run([(snap(T0, newest_tx_ms=T0 + 15 * DAY_MS), LOW)], state)
    assert state is None and none == []


def test_a_non_anomalous_report_inside_the_episode_keeps_it() -> None:
    state, _ = run([(snap(T0), HIGH)])
    after, leads = run([(snap(T0 + DAY_MS, participants=5000), LOW)], state)
    assert leads == [] and after == state


@given(st.lists(st.floats(0.0, MODEL.threshold, exclude_max=True), max_size=30))
def test_below_threshold_reports_never_emit(scores: list[float]) -> None:
    state, leads = run([(snap(T0 + i * HOUR_MS), s) for i, s in enumerate(scores)])
    assert state is None and leads == []
    opened, _ = run([(snap(T0), HIGH)])
    still, leads = run([(snap(T0 + i * HOUR_MS), s) for i, s in enumerate(scores)], opened)
    assert leads == [] and still == opened


def test_nan_score_is_not_anomalous() -> None:
    assert observe(None, snap(T0), float("nan"), MODEL, POLICY, EMITTED) == (None, None)


def test_listed_account_is_case_related() -> None:
    hit = WatchlistHit("account:A1", "account", 100_00, "in")
    _, lead = observe(None, snap(T0), HIGH, MODEL, POLICY, EMITTED, hit)
    assert lead is not None and lead.severity is Severity.CASE_RELATED


def test_money_from_a_listed_entity_raises_a_case_related_lead_whatever_the_score() -> None:
    hit = WatchlistHit("name:某某投资有限公司", "counterparty", 5_000 * YUAN, "in")
    state, lead = observe(None, snap(T0), LOW, MODEL, POLICY, EMITTED, hit)
    assert lead is not None and state is not None
    assert lead.severity is Severity.CASE_RELATED
    assert lead.watchlist_matches == ("counterparty|name:某某投资有限公司",)
    assert lead.reasons[0].feature == "watchlist_counterparty"
    assert (
        "负面清单" in lead.reasons[0].text_zh and "name:某某投资有限公司" in lead.reasons[0].text_en
    )

    # A quiet report after it emits nothing; the episode stays case-related...
    state, quiet = observe(state, snap(T0 + HOUR_MS), LOW, MODEL, POLICY, EMITTED)
    assert quiet is None and state is not None
    # ...and a second listed entity is news: a revision at once, carrying both.
    other = WatchlistHit("account:6222000099990000", "counterparty", 100 * YUAN, "out")
    state, revised = observe(state, snap(T0 + 2 * HOUR_MS), LOW, MODEL, POLICY, EMITTED, other)
    assert revised is not None and revised.revision == 2
    assert revised.severity is Severity.CASE_RELATED
    assert revised.watchlist_matches == (
        "counterparty|name:某某投资有限公司",
        "counterparty|account:6222000099990000",
    )
    assert state is not None and LeadState.from_bytes(state.to_bytes()) == state


def test_lead_state_written_before_the_watchlist_still_decodes() -> None:
    version_1 = orjson.dumps([1, "L0123456789abcdef", 2, T0, T0, T0, "major", 1, 0, 500, 40])
    state = LeadState.from_bytes(version_1)
    assert (state.revision, state.severity, state.watchlist_matches) == (2, "major", ())


# -- severity and flags ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("money_yuan", "participants", "cpm", "listed", "expected"),
    [
        (4_999_999.99, 199, False, False, Severity.GENERAL),
        (5_000_000, 0, False, False, Severity.MAJOR),
        (0, 200, False, False, Severity.MAJOR),
        (0, 0, True, False, Severity.MAJOR),
        (0, 0, False, True, Severity.CASE_RELATED),
        (9e9, 9999, True, True, Severity.CASE_RELATED),
    ],
)
def test_severity_rules(
    money_yuan: float, participants: int, cpm: bool, listed: bool, expected: Severity
) -> None:
    fen = round(money_yuan * 100)
    assert severity_of(fen, participants, cpm, POLICY, listed) is expected


@pytest.mark.parametrize(
    ("provinces", "money_yuan", "participants", "expected"),
    [
        (1, 1e10, 100_000, False),  # all counterparties in one province
        (2, 499_999_999.99, 999, False),
        (2, 500_000_000, 0, True),
        (2, 0, 1000, True),
        (3, 0, 999, False),
    ],
)
def test_cross_province_major_at_the_thresholds(
    provinces: int, money_yuan: float, participants: int, expected: bool
) -> None:
    fen = round(money_yuan * 100)
    assert is_cross_province_major(provinces, fen, participants, POLICY) is expected


def test_cross_province_major_lead_is_major() -> None:
    big = snap(T0, counterparty_provinces=2, participants=1000, cross_prefecture=True)
    _, lead = observe(None, big, HIGH, MODEL, POLICY, EMITTED)
    assert lead is not None
    assert lead.cross_province_major and lead.cross_prefecture
    assert lead.severity is Severity.MAJOR


@pytest.mark.parametrize(
    ("region", "county"),
    [
        ("530502", "隆阳区"),
        ("530521", "施甸县"),
        ("530523", "龙陵县"),
        ("530524", "昌宁县"),
        ("530581", "腾冲市"),
        ("530102", "云南省其他地区"),
        ("530599", "云南省其他地区"),
        ("110101", "省外"),
    ],
)
def test_county_of(region: str, county: str) -> None:
    assert county_of(region) == county


# -- reasons -----------------------------------------------------------------------------------


def test_every_feature_has_a_text_template() -> None:
    assert set(FEATURE_TEXTS) == set(FEATURE_NAMES)
    for text in FEATURE_TEXTS.values():
        assert "{v}" in text.en and text.zh


def test_reasons_are_ordered_by_extremity_and_carry_the_numbers() -> None:
    vector = feature_vector(
        inflow_count_7d=15,  # above 0.9: ratio 1.5
        distinct_payers_30d=412,  # above 0.999: ratio 11.8
        outflow_count_7d=36,  # above 0.999: ratio 1.03
        inflow_sum_yuan_30d=25,  # above 0.99
        inflow_count_30d=12,  # above 0.9: ratio 1.2
        distinct_payees_7d=10,  # at the 0.9 quantile: not above it
    )
    reasons = explain(vector, MODEL.feature_quantiles, max_reasons=10)
    assert [r.feature for r in reasons] == [
        "distinct_payers_30d",
        "outflow_count_7d",
        "inflow_sum_yuan_30d",
        "inflow_count_7d",
        "inflow_count_30d",
    ]
    assert [(r.training_percentile, r.training_reference) for r in reasons[:3]] == [
        (99.9, 35.0),
        (99.9, 35.0),
        (99.0, 20.0),
    ]
    first = reasons[0]
    assert first.text_zh == "30日内不同付款人 412 个，高于 99.9% 的账户（35）"
    assert first.text_en == "412 distinct payers in 30 days, more than 99.9% of accounts (35)"
    assert len(explain(vector, MODEL.feature_quantiles, max_reasons=2)) == 2


def test_reason_units() -> None:
    quantiles = {
        "inflow_sum_yuan_30d": {"0.9": 100_000.0, "0.99": 500_000.0, "0.999": 1_000_000.0},
        "same_day_outflow_share_30d": {"0.9": 0.2, "0.99": 0.5, "0.999": 0.95},
        "pass_through_ratio_7d": {"0.9": 0.0, "0.99": 0.0, "0.999": 0.0},
        "account_age_days": {"0.9": 200.0, "0.99": 300.0, "0.999": 365.0},
    }
    vector = feature_vector(
        inflow_sum_yuan_30d=3_456_789,
        same_day_outflow_share_30d=0.875,
        pass_through_ratio_7d=0.9,
        account_age_days=250.5,
    )
    texts = {r.feature: (r.text_zh, r.text_en) for r in explain(vector, quantiles, 5)}
    assert texts["inflow_sum_yuan_30d"] == (
        "30日内转入金额 3,456,789 元，高于 99.9% 的账户（1,000,000）",
        "3,456,789 yuan received in 30 days, more than 99.9% of accounts (1,000,000)",
    )
    assert "87.5%" in texts["same_day_outflow_share_30d"][0]
    assert "高于 99% 的账户（50%）" in texts["same_day_outflow_share_30d"][0]
    assert "0.90" in texts["pass_through_ratio_7d"][1]
    assert texts["account_age_days"][0].startswith("账户首笔交易距今 250.5 天")


def test_zero_values_and_features_without_quantiles_are_never_reasons() -> None:
    zero_quantiles = {name: {"0.9": 0.0, "0.99": 0.0, "0.999": 0.0} for name in FEATURE_NAMES}
    assert explain(feature_vector(), zero_quantiles, 5) == ()
    assert explain(feature_vector(distinct_payers_30d=1e6), {}, 5) == ()
    assert explain(feature_vector(distinct_payers_30d=np.inf), MODEL.feature_quantiles, 5) == ()


def test_lead_reasons_come_from_the_snapshot_features() -> None:
    _, lead = observe(None, snap(T0), HIGH, MODEL, replace(POLICY, max_reasons=1), EMITTED)
    assert lead is not None
    # The evidence that raised it first (here the forest alone), then the top feature.
    assert [r.feature for r in lead.reasons] == ["forest_only", "distinct_payers_30d"]


def test_lead_reasons_say_which_scheme_structure_raised_it() -> None:
    features = feature_vector(
        distinct_payers_30d=412,
        distinct_individual_payers_30d=400,
        distinct_individual_payers_7d=300,
        same_day_outflow_share_30d=0.8,
        repeat_payout_share_30d=0.45,
        outflow_count_30d=300,
        distinct_payees_30d=60,
        top_payees_outflow_share_30d=0.7,  # most to a few, not all: no "concentrated"
    )
    _, lead = observe(None, snap(T0, features=features), HIGH, MODEL, POLICY, EMITTED)
    assert lead is not None
    evidence = [r for r in lead.reasons if r.feature.startswith("structure_")]
    assert [r.feature for r in evidence] == [
        "structure_fan_in_fast_out",
        "structure_repeat_payouts",
        "structure_new_money_pays_old",  # both at once: 借新还旧
        "structure_accelerating",
    ]
    assert "400 individual payers" in evidence[0].text_en and "80%" in evidence[0].text_en
    assert "快进快出" in evidence[0].text_zh and "返息" in evidence[1].text_zh
    assert all(r.feature != "forest_only" for r in lead.reasons)


# -- stored state and the published message ----------------------------------------------------


def test_lead_state_round_trips_and_is_small() -> None:
    state, _ = run([(snap(T0, cross_prefecture=True, participants=300), HIGH)])
    assert state is not None
    blob = state.to_bytes()
    assert len(blob) < 300
    assert LeadState.from_bytes(blob) == state


@pytest.mark.parametrize(
    "blob",
    [
        b"not json",
        b"{}",
        b"[]",
        b'[2, "L0", 1, 0, 0, 0, "general", 0, 0, 0, 0]',
        b'[1, "L0", 1, 0, 0, 0, "general", 0, 0, 0]',
        b'[1, "L0", 1, 0, 0, 0, "severe", 0, 0, 0, 0]',
        b'[1, "L0", "1", 0, 0, 0, "general", 0, 0, 0, 0]',
    ],
)
def test_lead_state_rejects_what_it_did_not_write(blob: bytes) -> None:
    with pytest.raises(LeadStateError):
        LeadState.from_bytes(blob)


def lead_validator() -> Draft202012Validator:
    text = files("schemas").joinpath("json/lead.v1.schema.json").read_text(encoding="utf-8")
    return Draft202012Validator(
        json.loads(text), format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def test_lead_json_validates_against_the_schema() -> None:
    validator = lead_validator()
    reports = [
        (snap(T0, features=feature_vector(distinct_payers_30d=412, night_share_30d=0.5)), HIGH),
        (snap(T0 + 60_000, participants=1000, counterparty_provinces=3), 0.95),
    ]
    _, leads = run(reports)
    assert len(leads) == 2
    for lead in leads:
        body = orjson.loads(lead.to_json())
        validator.validate(body)
        assert body["reasons"] and body["severity"] in ("general", "major")
    broken = {**orjson.loads(leads[0].to_json()), "emitted_at": "2026-10-01 25:00"}
    with pytest.raises(ValidationError):  # the format checker is live
        validator.validate(broken)


def test_a_lead_read_back_from_the_topic_is_the_lead_that_was_written() -> None:
    fixture = Path(__file__).resolve().parents[1] / "fixtures" / "scheme_leads.jsonl"
    lines = fixture.read_bytes().splitlines()
    assert any(b'"kind":"linked"' in line for line in lines)  # trails are read back too
    for line in lines:
        lead = Lead.from_json(line)
        assert orjson.loads(lead.to_json()) == orjson.loads(line)
        assert lead == Lead.from_json(lead.to_json())
