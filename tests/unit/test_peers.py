"""Peers: an account judged against accounts of its own kind (models.peers)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from models.feature_names import FEATURE_NAMES
from models.forest import FundraisingForest
from models.peers import (
    BEYOND_PEERS,
    FAR_BEYOND_PEERS_REASON,
    MIN_OWN_PAST_PAYERS,
    MIN_PEER_ACCOUNTS,
    PEER_FEATURES,
    WITHIN_OWN_PAST,
    WITHIN_PEERS,
    fit_own_limits,
    fit_peer_limits,
    own_past_reasons,
    peer_group,
    peer_reasons,
    peer_standing,
    within_own_past,
    within_peers,
)
from models.pipeline import lead_scores
from models.structure import FAR_BEYOND_PEERS_BONUS, STRUCTURE_BONUS, WITHIN_PEERS_PENALTY, adjust

PAYERS_30D = FEATURE_NAMES.index("distinct_individual_payers_30d")
SCHOOLS = peer_group("corporate", "private_school")


def rows(payers: list[float]) -> np.ndarray:
    out = np.zeros((len(payers), len(FEATURE_NAMES)))
    out[:, PAYERS_30D] = payers
    return out


def schools(busiest: list[float], days: int = 30) -> tuple[np.ndarray, list[str], list[str]]:
    """Each school's account-days: quiet days, then one busiest day (a term start)."""
    payers, accounts = [], []
    for n, peak in enumerate(busiest):
        payers += [5.0] * (days - 1) + [peak]
        accounts += [f"S{n}"] * days
    return rows(payers), [SCHOOLS] * len(payers), accounts


def test_a_school_at_the_start_of_term_is_judged_against_schools() -> None:
    features, groups, accounts = schools([300, 420, 380, 500, 350, 410])
    limits, sizes = fit_peer_limits(features, groups, accounts)
    assert sizes == {SCHOOLS: 6}
    # The value that three schools reached on their busiest day.
    assert limits[SCHOOLS]["distinct_individual_payers_30d"] == 410
    term_start, recruiting = rows([400]), rows([900])
    assert within_peers(term_start, [SCHOOLS], limits).tolist() == [True]
    assert within_peers(recruiting, [SCHOOLS], limits).tolist() == [False]
    # Lower than the same row without peers: a peer's busy day is no scheme.
    scores = adjust(
        np.array([0.7, 0.7]), np.vstack([term_start, term_start]), np.array([True, False])
    )
    assert scores[0] == pytest.approx(scores[1] - WITHIN_PEERS_PENALTY)


def test_one_account_cannot_make_its_own_extremes_normal_for_its_peers() -> None:
    # A scheme hidden in the history among ordinary schools: its 3,000 payers set no limit.
    features, groups, accounts = schools([300, 320, 310, 290, 305, 3000])
    limits, _ = fit_peer_limits(features, groups, accounts)
    assert limits[SCHOOLS]["distinct_individual_payers_30d"] == 310  # the third highest
    assert within_peers(rows([2500]), [SCHOOLS], limits).tolist() == [False]


def test_a_group_with_too_few_accounts_or_never_seen_has_no_peers() -> None:
    features, groups, accounts = schools([300.0] * (MIN_PEER_ACCOUNTS - 1))
    limits, sizes = fit_peer_limits(features, groups, accounts)
    assert limits == {} and sizes == {}
    other = peer_group("corporate", "private_hospital")
    assert within_peers(rows([10]), [other], limits).tolist() == [False]
    assert peer_reasons(rows([10])[0], other, limits, sizes) == ()


def test_the_lead_says_how_the_account_compares_with_its_peers() -> None:
    features, groups, accounts = schools([300, 420, 380, 500, 350, 410])
    limits, sizes = fit_peer_limits(features, groups, accounts)
    [beyond] = peer_reasons(rows([900])[0], SCHOOLS, limits, sizes)
    assert beyond.feature == BEYOND_PEERS
    assert "民办教育对公账户 6 个" in beyond.text_zh
    assert "900" in beyond.text_zh and "410" in beyond.text_zh
    assert "peers (6 corporate accounts in private schools)" in beyond.text_en
    [within] = peer_reasons(rows([400])[0], SCHOOLS, limits, sizes)
    assert within.feature == WITHIN_PEERS and "评分已调低" in within.text_zh


def test_peer_limits_travel_with_the_model_and_older_models_still_load(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    features, groups, accounts = schools(list(rng.integers(200, 600, 12).astype(float)))
    features = features + rng.random(features.shape)
    model = FundraisingForest(n_estimators=10).fit(features, groups=groups, accounts=accounts)
    model.save(tmp_path / "m")
    loaded = FundraisingForest.load(tmp_path / "m")
    assert loaded.peer_limits_ == model.peer_limits_ and SCHOOLS in loaded.peer_limits_
    assert loaded.lead_view.peer_accounts == {SCHOOLS: 12}
    # A model.json written before peers were learnt: loads with none, scores as before.
    document = json.loads((tmp_path / "m" / "model.json").read_text())
    del document["peer_limits"], document["peer_accounts"]
    (tmp_path / "m" / "model.json").write_text(json.dumps(document))
    older = FundraisingForest.load(tmp_path / "m")
    assert older.peer_limits_ == {} and older.peer_accounts_ == {}
    np.testing.assert_array_equal(older.anomaly_score(features), model.anomaly_score(features))


def collecting(payers: float) -> np.ndarray:
    """A row with a scheme's structure: the money of ``payers`` people handed on at once."""
    row = rows([payers])
    for feature, value in (
        ("distinct_payees_30d", 20),
        ("same_day_outflow_share_30d", 0.8),
        ("pass_through_ratio_30d", 0.9),
        ("top_payees_outflow_share_30d", 0.95),
    ):
        row[0, FEATURE_NAMES.index(feature)] = value
    return row


def test_a_personal_account_paid_by_forty_people_is_far_beyond_its_peers() -> None:
    persons = peer_group("individual", None)
    payers = [1.0] * 260 + [2.0] * 40  # a tenth of the history's people had two payers
    features = rows(payers)
    limits, sizes = fit_peer_limits(features, [persons] * 300, [f"P{i}" for i in range(300)])
    assert limits[persons]["distinct_individual_payers_30d"] == 2
    salesperson = collecting(40)
    _, far = peer_standing(salesperson, [persons], limits)
    assert far.tolist() == [True]
    score = adjust(np.array([0.5]), salesperson, np.array([False]), far)[0]
    assert score == pytest.approx(0.5 + STRUCTURE_BONUS + FAR_BEYOND_PEERS_BONUS)
    [reason] = peer_reasons(salesperson[0], persons, limits, sizes)
    assert reason.feature == FAR_BEYOND_PEERS_REASON
    assert "40 distinct individual payers" in reason.text_en and "score raised" in reason.text_en
    # Without a scheme's structure being far beyond its peers raises nothing.
    quiet = rows([40])
    _, far_quiet = peer_standing(quiet, [persons], limits)
    assert adjust(np.array([0.5]), quiet, None, far_quiet)[0] == adjust(np.array([0.5]), quiet)[0]


def test_a_school_busier_than_its_peers_is_not_far_beyond_them() -> None:
    features, groups, accounts = schools([300, 420, 380, 500, 350, 410])
    limits, sizes = fit_peer_limits(features, groups, accounts)
    _, far = peer_standing(collecting(900), [SCHOOLS], limits)  # 2.2 times the limit of 410
    assert far.tolist() == [False]
    [reason] = peer_reasons(collecting(900)[0], SCHOOLS, limits, sizes)
    assert reason.feature == BEYOND_PEERS


def supermarket_and_person(days: int = 30) -> tuple[np.ndarray, list[str], list[str]]:
    """A supermarket paid by up to 400 people, paying its suppliers about what it takes, half
    of it the same day, and a person paid by 3: their account-days."""
    market = rows([200.0] * (days - 1) + [400.0])
    market[:, FEATURE_NAMES.index("same_day_outflow_share_30d")] = 0.5
    market[:, FEATURE_NAMES.index("pass_through_ratio_30d")] = 0.9
    person = rows([3.0] * days)
    features = np.vstack([market, person])
    accounts = ["SUPERMARKET"] * days + ["PERSON"] * days
    return features, ["corporate|retail"] * days + ["individual|-"] * days, accounts


def test_a_business_is_judged_against_its_own_busiest_days() -> None:
    features, _, accounts = supermarket_and_person()
    own = fit_own_limits(features, accounts)
    # A person paid by a handful has no own past to hide a salesperson's collection behind.
    assert list(own) == ["SUPERMARKET"] and MIN_OWN_PAST_PAYERS > 3
    assert own["SUPERMARKET"][PEER_FEATURES.index("distinct_individual_payers_30d")] == 400
    same_day = FEATURE_NAMES.index("same_day_outflow_share_30d")
    busy, busier, recruiting = rows([500]), rows([600]), rows([601])
    shares = rows([400, 400])
    shares[:, same_day] = [0.84, 0.86]  # its busiest 0.5: 1.5 times that, and a tenth more
    got = within_own_past(
        np.vstack([busy, busier, recruiting, shares, busy]),
        ["SUPERMARKET"] * 5 + ["PERSON"],
        own,
    )
    assert got.tolist() == [True, True, False, True, False, False]


def test_the_lead_score_and_reasons_say_the_account_did_this_before() -> None:
    features, groups, accounts = supermarket_and_person()
    model = FundraisingForest(n_estimators=10, random_state=1).fit(
        features, groups=groups, accounts=accounts
    )
    weekend = collecting(450)
    same = np.vstack([weekend, weekend])
    scores, _ = lead_scores(model, same, ["corporate|retail"] * 2, ["SUPERMARKET", "NEWSHOP"])
    assert scores[0] == pytest.approx(scores[1] - WITHIN_PEERS_PENALTY)
    # Without account ids (a caller of the previous release) nobody's own past is used.
    assert lead_scores(model, same, ["corporate|retail"] * 2)[0].tolist() == [scores[1]] * 2
    [reason] = own_past_reasons(weekend[0], "SUPERMARKET", model.lead_view.own_limits)
    assert reason.feature == WITHIN_OWN_PAST and "up to 400 distinct individual" in reason.text_en
    assert "最繁忙" in reason.text_zh
    assert own_past_reasons(weekend[0], "NEWSHOP", model.lead_view.own_limits) == ()
    assert own_past_reasons(collecting(900)[0], "SUPERMARKET", model.lead_view.own_limits) == ()


def test_own_limits_travel_with_the_model_and_a_model_without_them_writes_none(
    tmp_path: Path,
) -> None:
    features, groups, accounts = supermarket_and_person()
    model = FundraisingForest(n_estimators=10).fit(features, groups=groups, accounts=accounts)
    model.save(tmp_path / "m")
    assert FundraisingForest.load(tmp_path / "m").own_limits_ == model.own_limits_
    # Nobody paid by a crowd: no own_limits field, so a worker of the previous release, which
    # refuses fields it does not know, still loads the model.
    person = [i for i, a in enumerate(accounts) if a == "PERSON"]
    alone = FundraisingForest(n_estimators=10).fit(
        features[person], groups=[groups[i] for i in person], accounts=["PERSON"] * len(person)
    )
    alone.save(tmp_path / "p")
    assert "own_limits" not in json.loads((tmp_path / "p" / "model.json").read_text())
    assert FundraisingForest.load(tmp_path / "p").own_limits_ == {}
