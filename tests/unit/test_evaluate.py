"""Evaluation against ground truth, on small hand-made cases whose answers are worked out here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest

from models.schemes import build_schemes
from offline.evaluate import (
    AMLSIM,
    SIMULATOR,
    Evaluation,
    EvaluationInputError,
    SchemeMatch,
    evaluate,
    evaluate_files,
    first_detections,
    leads_from_jsonl,
    parse_truth,
    ranks,
    render,
    scores_from_jsonl,
)

SIM_TRUTH: dict[str, Any] = {
    "config": {"seed": 7},
    "schemes": [
        {
            "scheme_id": "S01",
            "typology": "p2p_lending",
            "collector_accounts": ["C1", "C2"],
            "controller_accounts": ["K1"],
            "payout_accounts": ["P1"],
            "sink_accounts": ["SINK1"],
            "first_tx_time": "2026-10-01T10:00:00+08:00",
        },
        {
            "scheme_id": "S02",
            "typology": "p2p_lending",
            "collector_accounts": ["C3"],
            "controller_accounts": ["K2"],
            "payout_accounts": [],
            "sink_accounts": ["SINK2"],
            "first_tx_time": "2026-10-05T00:00:00+08:00",
            "participants": 120,
            "participants_at_simulated_banks": 45,
            "amount_raised_fen": 6_000_000,
        },
        {
            "scheme_id": "S03",
            "typology": "elderly_care",
            "collector_accounts": ["C4"],
            "controller_accounts": ["K3", "K4"],
            "payout_accounts": [],
            "sink_accounts": ["SINK3"],
            "first_tx_time": "2026-10-02T00:00:00+08:00",
        },
    ],
    "legit_lookalikes": ["M1", "M2"],
    "accounts": {"individuals": 10},
}


def lead(
    lead_id: str,
    account: str,
    revision: int,
    last_evidence: str,
    *,
    participants: int = 1,
    money_raised_fen: int = 0,
    customer_id: str | None = None,
    linked_from: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """A lead as the backtest writes it. With ``linked_from`` (source lead_id, source account)
    it is a linked lead downstream of that lead; ``participants`` >= 20 makes its account a
    collector in a scheme, fewer a controller."""
    trail = (
        [
            {
                "source_lead_id": linked_from[0],
                "source_account": linked_from[1],
                "direction": "downstream",
                "hop": 1,
                "path": [linked_from[1], account],
                "amount_fen": 20_000_000,
                "transfers": 1,
                "first_tx_time": last_evidence,
                "last_tx_time": last_evidence,
            }
        ]
        if linked_from
        else []
    )
    return {
        "lead_id": lead_id,
        "account_id": account,
        "revision": revision,
        "last_evidence_time": last_evidence,
        "first_evidence_time": last_evidence,
        "emitted_at": last_evidence,
        "bank_id": "BSCB",
        "region": "530502",
        "sector": "other",
        "severity": "general",
        "cross_prefecture": False,
        "money_raised_fen": money_raised_fen,
        "participants": participants,
        "payees_30d": 0,
        "kind": "linked" if linked_from else "scored",
        "hop": 1 if linked_from else 0,
        "trail": trail,
        "customer_id": customer_id or f"BSCB-{account}",  # one customer per account
        "account_type": "individual",
    }


SIM_LEADS = [
    lead("L1", "C1", 2, "2026-10-03T00:00:00+00:00"),  # a later revision, listed first
    lead("L1", "C1", 1, "2026-10-01T04:00:00+00:00"),  # 12:00 +08: S01 + 2 h
    lead("L2", "K1", 1, "2026-10-02T02:00:00+00:00"),  # S01 + 24 h, later than L1
    lead("L3", "C3", 1, "2026-10-05T06:00:00+08:00"),  # S02 + 6 h
    lead("L4", "M1", 1, "2026-10-03T00:00:00+00:00"),  # a look-alike: false positive
    lead("L5", "X9", 1, "2026-10-03T00:00:00+00:00"),  # an ordinary account: false positive
    lead("L6", "K3", 1, "2026-10-01T00:00:00+08:00"),  # before S03 began: no delay for S03
]
SIM_SCORES = {
    "C1": 0.9,
    "C2": 0.5,
    "K1": 0.8,
    "P1": 0.3,
    "C3": 0.7,  # K2 never scored: counts with 0
    "C4": 0.2,
    "K3": 0.6,
    "K4": 0.1,
    "M1": 0.85,
    "X9": 0.75,
    "N1": 0.4,
    "N2": 0.05,
}


def mean(values: list[float]) -> float:
    return sum(values) / len(values)


def by_typology(ev: Evaluation) -> dict[str, Any]:
    return {t.typology: t for t in ev.typologies}


def test_simulator_truth_is_recognised() -> None:
    truth = parse_truth(SIM_TRUTH)
    assert truth.source == SIMULATOR
    assert [p.pattern_id for p in truth.patterns] == ["S01", "S02", "S03"]
    assert truth.patterns[0].roles == {
        "C1": "collector",
        "C2": "collector",
        "K1": "controller",
        "P1": "payout",
    }
    assert "SINK1" not in truth.accounts()


def test_unknown_truth_and_malformed_leads_are_typed_errors() -> None:
    with pytest.raises(EvaluationInputError):
        parse_truth({"something": []})
    with pytest.raises(EvaluationInputError):
        parse_truth({"schemes": [{"scheme_id": "S01"}]})
    with pytest.raises(EvaluationInputError):
        first_detections([{"lead_id": "L1", "revision": 1}])
    with pytest.raises(EvaluationInputError):
        first_detections([lead("L1", "C1", 1, "2026-10-01T04:00:00")])  # no time zone


def test_first_revision_gives_the_detection_time() -> None:
    detections = first_detections(SIM_LEADS)
    assert detections["C1"] == [1_790_827_200_000]  # 2026-10-01T04:00Z, not revision 2's
    assert set(detections) == {"C1", "K1", "C3", "M1", "X9", "K3"}


def test_simulator_account_precision_and_recall() -> None:
    ev = evaluate(SIM_TRUTH, SIM_LEADS)
    # Flagged: C1 K1 C3 M1 X9 K3; in a scheme: C1 K1 C3 K3. Scheme accounts: 9.
    assert (ev.flagged_accounts, ev.flagged_in_schemes, ev.scheme_accounts) == (6, 4, 9)
    assert ev.precision == pytest.approx(4 / 6)
    assert ev.recall == pytest.approx(4 / 9)
    assert ev.lead_ids == 6
    assert (ev.lookalikes, ev.lookalikes_flagged) == (2, 1)
    assert ev.pr_auc is None and ev.patterns == ()


def test_simulator_per_typology_recall_and_delay() -> None:
    typologies = by_typology(evaluate(SIM_TRUTH, SIM_LEADS))
    p2p, elderly = typologies["p2p_lending"], typologies["elderly_care"]
    # p2p: accounts C1 C2 K1 P1 C3 K2, flagged C1 K1 C3.
    assert (p2p.schemes, p2p.schemes_detected, p2p.scheme_accounts, p2p.flagged) == (2, 2, 6, 3)
    assert p2p.recall == pytest.approx(0.5)
    assert p2p.collector_recall == pytest.approx(2 / 3)  # C1 C3 of C1 C2 C3
    assert p2p.controller_recall == pytest.approx(1 / 2)  # K1 of K1 K2
    # S01 first detected 2 h in (L1, not L2 at 24 h), S02 6 h in.
    assert (p2p.median_delay_hours, p2p.max_delay_hours) == (4.0, 6.0)
    # elderly: C4 K3 K4, only K3 flagged, and only by a lead older than the scheme.
    assert (elderly.scheme_accounts, elderly.flagged, elderly.schemes_detected) == (3, 1, 1)
    assert elderly.collector_recall == 0.0
    assert elderly.controller_recall == pytest.approx(1 / 2)
    assert elderly.median_delay_hours is None and elderly.max_delay_hours is None


def test_simulator_pr_auc_per_typology_and_overall() -> None:
    ev = evaluate(SIM_TRUTH, SIM_LEADS, SIM_SCORES)
    typologies = by_typology(ev)
    # Negatives: scored accounts in no scheme, M1 .85 X9 .75 N1 .4 N2 .05 (M2 is unscored).
    assert (ev.negatives, ev.unscored_scheme_accounts) == (4, 1)
    # p2p by score: C1+ M1 K1+ X9 C3+ C2+ N1 P1+ N2 K2+ -> precision at each positive.
    p2p = mean([1 / 1, 2 / 3, 3 / 5, 4 / 6, 5 / 8, 6 / 10])
    assert typologies["p2p_lending"].pr_auc == pytest.approx(p2p)
    assert typologies["p2p_lending"].positive_share == pytest.approx(6 / 10)
    # elderly: M1 X9 K3+ N1 C4+ K4+ N2.
    elderly = mean([1 / 3, 2 / 5, 3 / 6])
    assert typologies["elderly_care"].pr_auc == pytest.approx(elderly)
    # all: C1+ M1 K1+ X9 C3+ K3+ C2+ N1 P1+ C4+ K4+ N2 K2+.
    overall = mean([1 / 1, 2 / 3, 3 / 5, 4 / 6, 5 / 7, 6 / 9, 7 / 10, 8 / 11, 9 / 13])
    assert ev.pr_auc == pytest.approx(overall)
    assert ev.positive_share == pytest.approx(9 / 13)


def test_the_workload_is_leads_per_10k_reporting_accounts_per_month() -> None:
    truth = {**SIM_TRUTH, "config": {"seed": 7, "days": 15}}
    truth["accounts"] = {"individuals": 10, "by_bank": {"BSCB": 30, "YNRCU": 20}}
    ev = evaluate(truth, SIM_LEADS)
    # 6 lead ids on 6 accounts in 15 days among 50 reporting accounts: 2,400 per 10k a month.
    assert ev.leads_per_10k_month == pytest.approx(6 * 10_000 / 50 * 2)
    assert ev.accounts_per_10k_month == pytest.approx(6 * 10_000 / 50 * 2)
    assert "Workload: 2,400.0 lead ids on 2,400.0 accounts per 10,000" in render(ev)
    assert evaluate(SIM_TRUTH, SIM_LEADS).leads_per_10k_month is None  # no days: not measured


def test_precision_and_recall_move_with_the_alert_rate() -> None:
    quantiles = {"0.5": 0.1, "0.9": 0.55, "0.99": 0.72, "0.999": 0.88}
    ev = evaluate(SIM_TRUTH, SIM_LEADS, SIM_SCORES, quantiles, threshold=0.72)
    rows = [
        (round(p.alert_rate, 4), p.flagged, p.precision, p.lookalikes_flagged)
        for p in ev.alert_rates
    ]
    # >= .55: C1 M1 K1 X9 C3 K3; >= .72: C1 M1 K1 X9; >= .88: C1 (9 scheme accounts).
    assert rows == [(0.1, 6, 4 / 6, 1), (0.01, 4, 2 / 4, 1), (0.001, 1, 1.0, 0)]
    assert [p.recall for p in ev.alert_rates] == pytest.approx([4 / 9, 2 / 9, 1 / 9])
    assert [p.operating_point for p in ev.alert_rates] == [False, True, False]
    assert "| 1.0% (operating point) | 0.7200 | 4 | 50.0% | 22.2% | 1 |" in render(ev)


AMLSIM_TRUTH: dict[str, Any] = {
    "source": "IBM AMLSim sample",
    "alerts": [
        {"alert_id": "0", "typology": "fan_in", "is_sar": True, "accounts": ["A1", "A2", "A3"]},
        {"alert_id": "1", "typology": "cycle", "is_sar": True, "accounts": ["A4", "A5"]},
    ],
}
AMLSIM_SCORES = {"A1": 0.9, "A2": 0.8, "A3": 0.1, "A4": 0.5, "B1": 0.95, "B2": 0.5, "B3": 0.2}
AMLSIM_LEADS = [
    lead("L1", "A1", 1, "2017-02-01T12:00:00+08:00"),
    lead("L2", "B1", 1, "2017-03-01T12:00:00+08:00"),
]


def test_ranks_are_one_based_with_ties_averaged() -> None:
    assert ranks({"a": 0.3, "b": 0.9, "c": 0.3, "d": 0.0}) == {"b": 1, "a": 2.5, "c": 2.5, "d": 4}


def test_amlsim_per_pattern_recall_and_median_rank() -> None:
    ev = evaluate(AMLSIM_TRUTH, AMLSIM_LEADS, AMLSIM_SCORES)
    assert ev.source == AMLSIM
    # Ranks among 8 accounts (A5 unscored, 0): B1 1, A1 2, A2 3, A4 = B2 4.5, B3 6, A3 7, A5 8.
    assert ev.ranked_accounts == 8
    fan_in, cycle = ev.patterns
    assert (fan_in.pattern_id, fan_in.members, fan_in.flagged) == ("0", 3, 1)
    assert fan_in.recall == pytest.approx(1 / 3)
    assert fan_in.median_rank == 3  # of 2, 3, 7
    assert (cycle.flagged, cycle.recall, cycle.median_rank) == (0, 0.0, 6.25)  # of 4.5, 8
    assert ev.precision == pytest.approx(1 / 2)  # A1 of A1, B1
    assert ev.recall == pytest.approx(1 / 5)
    typologies = by_typology(ev)
    # fan_in: B1 A1+ A2+ B2 B3 A3+.
    assert typologies["fan_in"].pr_auc == pytest.approx(mean([1 / 2, 2 / 3, 3 / 6]))
    # cycle, with a tie at 0.5 (A4+ with B2): B1, {A4+ B2} -> P 1/3 at R 1/2; A5+ last at 2/5.
    assert typologies["cycle"].pr_auc == pytest.approx(0.5 * 1 / 3 + 0.5 * 2 / 5)
    assert typologies["cycle"].median_delay_hours is None
    assert typologies["cycle"].collector_recall is None


def test_amlsim_without_scores_has_recall_but_no_ranks() -> None:
    ev = evaluate(AMLSIM_TRUTH, AMLSIM_LEADS)
    assert [p.median_rank for p in ev.patterns] == [None, None]
    assert ev.ranked_accounts is None and ev.pr_auc is None


def test_no_leads_means_no_precision_and_zero_recall() -> None:
    ev = evaluate(SIM_TRUTH, [])
    assert ev.precision is None and ev.recall == 0.0 and ev.flagged_accounts == 0


def test_jsonl_readers() -> None:
    lines = [orjson.dumps(x) for x in SIM_LEADS] + [b""]
    assert leads_from_jsonl(lines) == SIM_LEADS
    score_lines = [b'{"account_id":"A1","score":0.5}', b"", b'{"account_id":"A2","score":1}']
    assert scores_from_jsonl(score_lines) == {"A1": 0.5, "A2": 1.0}
    with pytest.raises(EvaluationInputError):
        scores_from_jsonl([b'{"account_id":"A1"}'])
    with pytest.raises(EvaluationInputError):
        leads_from_jsonl([b"[1, 2]"])


def test_render_states_the_figures_and_what_they_measure() -> None:
    ev = evaluate(SIM_TRUTH, SIM_LEADS, SIM_SCORES)
    markdown = render(ev)
    assert "Account precision 66.7% (4 of 6 flagged accounts" in markdown
    assert "account recall 44.4% (4 of 9 scheme accounts" in markdown
    assert "| p2p_lending | 2 | 2 | 6 | 3 | 50.0% | 66.7% | 50.0% | 4.0 | 6.0 |" in markdown
    assert "flagged: 1 of 2" in markdown and "never scored" in markdown
    assert "not participants" in markdown
    text = render(ev, markdown=False)
    assert "|" not in text and "p2p_lending" in text


def test_render_amlsim_lists_patterns() -> None:
    text = render(evaluate(AMLSIM_TRUTH, AMLSIM_LEADS, AMLSIM_SCORES))
    assert "| 0 | fan_in | 3 | 1 | 33.3% | 3.00 |" in text
    assert "among 8 accounts" in text


def test_evaluate_files_reads_what_the_backtest_writes(tmp_path: Path) -> None:
    truth, leads, scores = tmp_path / "truth.json", tmp_path / "leads.jsonl", tmp_path / "s.jsonl"
    truth.write_text(json.dumps(AMLSIM_TRUTH), encoding="utf-8")
    leads.write_bytes(b"".join(orjson.dumps(x) + b"\n" for x in AMLSIM_LEADS))
    scores.write_bytes(
        b"".join(
            orjson.dumps({"account_id": a, "score": s}) + b"\n" for a, s in AMLSIM_SCORES.items()
        )
    )
    assert evaluate_files(truth, leads, scores) == render(
        evaluate(AMLSIM_TRUTH, AMLSIM_LEADS, AMLSIM_SCORES)
    )
    assert "members AMLSim lists" in evaluate_files(truth, leads)
    truth.write_text("[]", encoding="utf-8")
    with pytest.raises(EvaluationInputError):
        evaluate_files(truth, leads)


# -- scheme level ------------------------------------------------------------------------------

T = "2026-10-10T00:00:00+08:00"
# Suspected schemes: {C1 X1} and {K1 P1} (S01's collector and controller apart), {C3 K2 X2}
# (S02 joined by trails, X2 in no truth scheme), {C4 K3 K4} (S03: C4 and K3 are one person,
# K4 linked from K3), {Y1 Y2} (no truth account: a false scheme); M1 alone is no scheme.
SCHEME_LEADS = [
    lead("L1", "C1", 1, T, participants=30, money_raised_fen=1_000_000),
    lead("L2", "X1", 1, T, linked_from=("L1", "C1")),
    lead("L3", "K1", 1, T),
    lead("L4", "P1", 1, T, linked_from=("L3", "K1")),
    lead("L5", "C3", 1, T, participants=40, money_raised_fen=5_000_000),
    lead("L6", "K2", 1, T, linked_from=("L5", "C3")),
    lead("L7", "X2", 1, T, linked_from=("L6", "K2")),
    lead("L8", "C4", 1, T, participants=25, money_raised_fen=2_000_000, customer_id="ID-1"),
    lead("L9", "K3", 1, T, customer_id="ID-1"),
    lead("L10", "K4", 1, T, linked_from=("L9", "K3")),
    lead("L11", "Y1", 1, T, participants=50, money_raised_fen=9_000_000),
    lead("L12", "Y2", 1, T, linked_from=("L11", "Y1")),
    lead("L13", "M1", 1, T),
]


def scheme_holding(account: str, leads: list[dict[str, Any]]) -> str:
    return next(s.scheme_id for s in build_schemes(leads) if account in s.accounts())


def matches(
    leads: list[dict[str, Any]], truth: dict[str, Any] = SIM_TRUTH
) -> dict[str, SchemeMatch]:
    return {m.pattern_id: m for m in evaluate(truth, leads).schemes.matches}


def roles(match: SchemeMatch) -> dict[str, tuple[int, int]]:
    return {c.role: (c.in_scheme, c.total) for c in match.roles}


def test_collector_and_controller_in_two_suspected_schemes_is_not_found() -> None:
    s01 = matches(SCHEME_LEADS)["S01"]
    assert not s01.found and s01.schemes_holding == 2
    # Its largest fragment: both hold one of C1 K1, {K1 P1} holds more of its accounts.
    assert s01.scheme_id == scheme_holding("K1", SCHEME_LEADS)
    assert roles(s01) == {"collector": (0, 2), "controller": (1, 1), "payout": (1, 1)}
    assert s01.spurious == () and s01.flagged == 3


def test_collector_and_controller_joined_by_a_trail_are_found() -> None:
    s02 = matches(SCHEME_LEADS)["S02"]
    assert s02.found and s02.schemes_holding == 1
    assert s02.scheme_id == scheme_holding("C3", SCHEME_LEADS)
    assert roles(s02) == {"collector": (1, 1), "controller": (1, 1), "payout": (0, 0)}
    assert (s02.via_trail, s02.roles_right) == (1, 2)  # K2 by trail; C3 and K2 roles right
    assert s02.spurious == ("X2",) and s02.other_patterns == ()
    # The suspected scheme's figures (its collector C3's) beside the truth's.
    assert s02.money_raised_fen == 5_000_000
    assert (s02.truth_participants, s02.truth_participants_at_banks) == (120, 45)
    assert s02.truth_amount_raised_fen == 6_000_000


def test_every_controller_must_be_in_the_scheme() -> None:
    s03 = matches(SCHEME_LEADS)["S03"]
    assert s03.found and s03.via_trail == 1  # C4 and K3 by entity, K4 by trail
    without_k4 = matches([x for x in SCHEME_LEADS if x["account_id"] != "K4"])["S03"]
    assert not without_k4.found and without_k4.schemes_holding == 1
    assert roles(without_k4)["controller"] == (1, 2)


def test_latest_revision_decides_the_scheme() -> None:
    # K2's later revision names another customer's id shared with K1: S01's fragments and S02
    # join, so S02 is still found and S01's controller is in S02's scheme too.
    revised = [*SCHEME_LEADS, {**lead("L6", "K2", 2, T, linked_from=("L5", "C3"))}]
    revised[-1]["customer_id"] = "BSCB-K1"
    found = matches(revised)
    assert found["S02"].found and found["S02"].other_patterns == ("S01",)
    assert not found["S01"].found  # C1 is still apart
    assert found["S01"].scheme_id == found["S02"].scheme_id


def test_scheme_level_per_typology_and_false_schemes() -> None:
    level = evaluate(SIM_TRUTH, SCHEME_LEADS).schemes
    assert level.suspected == 5 and level.found == 2
    by_name = {t.typology: (t.schemes, t.found, t.split, t.spurious) for t in level.typologies}
    assert by_name == {
        "p2p_lending": (2, 1, 1, 1),  # S02 found, S01 split; X2 spurious
        "elderly_care": (1, 1, 0, 0),
        "all": (3, 2, 1, 1),
    }
    assert level.false_schemes == (scheme_holding("Y1", SCHEME_LEADS),)
    assert level.false_scheme_accounts == 2


def test_merged_truth_schemes_are_each_found_and_name_each_other() -> None:
    merged = [{**x, "customer_id": "ID-1"} if x["account_id"] == "C3" else x for x in SCHEME_LEADS]
    found = matches(merged)
    assert found["S02"].found and found["S03"].found
    assert (found["S02"].other_patterns, found["S03"].other_patterns) == (("S03",), ("S02",))
    assert found["S02"].spurious == ("X2",)  # S03's accounts are no spurious members


def test_leads_without_scheme_fields_are_a_typed_error() -> None:
    # Two leads of one customer form a scheme, whose figures these leads lack.
    bare = [
        {"lead_id": f"L{n}", "account_id": a, "revision": 1, "last_evidence_time": T}
        | {"customer_id": "ID-1"}
        for n, a in enumerate(("C1", "K1"))
    ]
    with pytest.raises(EvaluationInputError):
        evaluate(SIM_TRUTH, bare)


AMLSIM_T = "2017-02-01T12:00:00+08:00"


def test_amlsim_alert_is_found_when_all_its_flagged_members_are_in_one_scheme() -> None:
    leads = [
        lead("M1", "A1", 1, AMLSIM_T, participants=30),
        lead("M2", "A2", 1, AMLSIM_T, customer_id="BSCB-A1"),  # A1's customer: joined
        lead("M3", "A4", 1, AMLSIM_T),
        lead("M4", "B2", 1, AMLSIM_T, linked_from=("M3", "A4")),
        lead("M5", "A5", 1, AMLSIM_T),  # flagged, but alone
    ]
    fan_in, cycle = evaluate(AMLSIM_TRUTH, leads).schemes.matches
    assert fan_in.found and roles(fan_in) == {"member": (2, 3)}  # A3 unflagged
    assert fan_in.roles_right is None
    assert not cycle.found and cycle.flagged == 2 and cycle.spurious == ("B2",)
    # One flagged member in a scheme is not enough.
    only_a4 = evaluate(AMLSIM_TRUTH, leads[2:4]).schemes.matches[1]
    assert not only_a4.found and roles(only_a4) == {"member": (1, 2)}


def test_render_states_the_scheme_level_figures_and_rules() -> None:
    ev = evaluate(SIM_TRUTH, SCHEME_LEADS)
    markdown = render(ev)
    assert "5 suspected schemes" in markdown and "2 of 3 truth schemes found" in markdown
    assert "False schemes (holding no account of any truth scheme): 1, with 2 accounts" in markdown
    assert "| all | 3 | 2 | 1 | 1 |" in markdown
    s02 = scheme_holding("C3", SCHEME_LEADS)
    assert f"| S02 | p2p_lending | yes | {s02} | 1 | 1/1 | 1/1 | - | 1 | 2 | 1 | - |" in markdown
    assert f"| S02 | {s02} | 0 | 120 | 45 | 50,000 | 60,000 |" in markdown
    assert "all its collectors and controllers are members of one single suspected" in markdown
    text = render(ev, markdown=False)
    assert "|" not in text and "truth at simulated banks" in text
    amlsim = render(evaluate(AMLSIM_TRUTH, AMLSIM_LEADS))
    assert "at least two of its members are flagged" in amlsim
    assert "0 of 2 AMLSim alert patterns found" in amlsim
    assert "No two leads were joined" in amlsim and "No two leads" not in markdown


def test_lookalikes_are_counted_per_kind() -> None:
    truth = {**SIM_TRUTH, "lookalike_kinds": {"M1": "private_school", "M2": "private_school"}}
    truth["lookalike_kinds"]["M3"] = "hospital"
    ev = evaluate(truth, SIM_LEADS)
    assert [(k.kind, k.accounts, k.flagged) for k in ev.lookalike_kinds] == [
        ("hospital", 1, 0),
        ("private_school", 2, 1),
    ]
    assert (ev.lookalikes, ev.lookalikes_flagged) == (3, 1)
    assert "| private_school | 2 | 1 | 50.0% |" in render(ev)
