"""Evaluation against ground truth, on small hand-made cases whose answers are worked out here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest

from models.evaluate import (
    AMLSIM,
    SIMULATOR,
    Evaluation,
    EvaluationInputError,
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


def lead(lead_id: str, account: str, revision: int, last_evidence: str) -> dict[str, Any]:
    return {
        "lead_id": lead_id,
        "account_id": account,
        "revision": revision,
        "last_evidence_time": last_evidence,
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
