"""Evidence of a scheme's structure (models.structure) on simulated accounts: legitimate
look-alikes at their busiest show none, a camouflaged scheme of each typology does."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

import numpy as np
import pytest

from feeds.model import CST
from feeds.simulate import Simulation, SimulationConfig, report_lines
from models.feature_names import FEATURE_NAMES
from models.features import AccountFeatures
from models.reasons import CONCENTRATED, EMERGING, FAN_IN_FAST_OUT
from models.structure import (
    EMERGING_BONUS,
    STRUCTURE_BONUS,
    UNSTRUCTURED_PENALTY,
    adjust,
    structure_reasons,
    structured,
)
from schemas.report import parse_report

# A month from the last week of August: the autumn term, a presale launch cycle, loans repaid.
CITY = SimulationConfig(
    seed=31,
    start=datetime(2026, 8, 26, tzinfo=CST),
    days=30,
    individuals=400,
    businesses=20,
    lookalikes=120,
    schemes=0,
    camouflaged_schemes=9,  # the rebate scheme and every other typology in disguise
)
LATENESS_MS = 7_200_000


@pytest.fixture(scope="module")
def city() -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Every account's feature rows, one per report, and the truth."""
    sim = Simulation(CITY)
    states: dict[str, AccountFeatures] = {}
    rows: dict[str, list[np.ndarray]] = defaultdict(list)
    for line in report_lines(sim.reports()):
        report = parse_report(line)
        state = states.setdefault(report.account_id, AccountFeatures(LATENESS_MS))
        state.apply(report)
        rows[report.account_id].append(state.vector())
    return {a: np.vstack(r) for a, r in rows.items()}, sim.truth()


@pytest.mark.parametrize(
    "kind",
    [
        "private_school",
        pytest.param(
            "property_developer",
            marks=pytest.mark.xfail(
                strict=True,
                reason="known gap: in its first days watched, early in a launch, the "
                "deposits moved on to the builders the same day look like a collector's "
                "(its refunds of 认筹金 are no repeat payouts: they give back the first sum)",
            ),
        ),
        pytest.param(
            "microloan",
            marks=pytest.mark.xfail(
                strict=True,
                reason="known gap: in its first days watched, a lender's repayments from a "
                "dozen borrowers lent out again to one borrower look like many in, quickly "
                "out to one account",
            ),
        ),
    ],
)
def test_a_lookalike_at_its_busiest_shows_no_scheme_structure(
    city: tuple[dict[str, np.ndarray], dict[str, Any]], kind: str
) -> None:
    rows, truth = city
    accounts = [a for a, k in truth["lookalike_kinds"].items() if k == kind and a in rows]
    assert accounts
    for account in accounts:
        assert not structured(rows[account]).any(), (kind, account)


def test_the_rebate_shop_and_quiet_p2p_salespeople_show_scheme_structure(
    city: tuple[dict[str, np.ndarray], dict[str, Any]],
) -> None:
    rows, truth = city
    for typology in ("ecommerce_rebate", "p2p_lending"):
        scheme = next(s for s in truth["schemes"] if s["typology"] == typology)
        assert any(structured(rows[a]).any() for a in scheme["collector_accounts"]), typology


def test_every_camouflaged_typology_shows_scheme_structure(
    city: tuple[dict[str, np.ndarray], dict[str, Any]],
) -> None:
    rows, truth = city
    found = {
        scheme["typology"]
        for scheme in truth["schemes"]
        if any(structured(rows[a]).any() for a in scheme["collector_accounts"] if a in rows)
    }
    assert found == {s["typology"] for s in truth["schemes"]}
    assert len(found) == 9


def feature_rows(*rows: dict[str, float]) -> np.ndarray:
    """Feature rows (natural units) with the named features set, every other one 0."""
    out = np.zeros((len(rows), len(FEATURE_NAMES)))
    for i, values in enumerate(rows):
        for name, value in values.items():
            out[i, FEATURE_NAMES.index(name)] = value
    return out


def test_structure_moves_the_forest_score_up_or_down_row_by_row() -> None:
    rows = feature_rows(
        {
            "distinct_individual_payers_30d": 50,
            "distinct_payees_30d": 2,
            "top_payees_outflow_share_30d": 1.0,
            "same_day_outflow_share_30d": 0.8,
        },
        {},
    )
    adjusted = adjust(np.array([0.5, 0.5]), rows)
    assert adjusted.tolist() == [0.5 + STRUCTURE_BONUS, 0.5 - UNSTRUCTURED_PENALTY]
    # Batched or one row at a time: the same scores (stream and backtest parity).
    assert [adjust(np.array([0.5]), rows[i : i + 1])[0] for i in range(2)] == adjusted.tolist()


def test_a_scheme_in_its_first_days_counts_up_before_its_many_payers() -> None:
    rows = feature_rows(
        # Eight people have paid in, and their money left the same day for one account.
        {
            "distinct_individual_payers_30d": 8,
            "distinct_payees_30d": 1,
            "top_payees_outflow_share_30d": 1.0,
            "same_day_outflow_share_30d": 0.9,
        },
        # Eight people paid a family account that keeps the money: no shape, the penalty stays.
        {"distinct_individual_payers_30d": 8},
        # Three people and money out at once: too few to say anything.
        {
            "distinct_individual_payers_30d": 3,
            "distinct_payees_30d": 1,
            "same_day_outflow_share_30d": 0.9,
        },
    )
    adjusted = adjust(np.array([0.5, 0.5, 0.5]), rows)
    assert adjusted.tolist() == [
        0.5 + EMERGING_BONUS,
        0.5 - UNSTRUCTURED_PENALTY,
        0.5 - UNSTRUCTURED_PENALTY,
    ]
    assert [r.feature for r in structure_reasons(rows[0])] == [EMERGING]


def test_a_salesperson_handing_the_money_on_shows_structure_with_ten_payers() -> None:
    salesperson = {
        "distinct_individual_payers_30d": 12,
        "distinct_payees_30d": 20,  # shops and family as well as the controller
        "same_day_outflow_share_30d": 0.8,
        "pass_through_ratio_30d": 0.95,
        "top_payees_outflow_share_30d": 0.96,
    }
    spender = {**salesperson, "top_payees_outflow_share_30d": 0.5}  # spends it on many things
    rows = feature_rows(salesperson, spender)
    assert structured(rows).tolist() == [True, False]
    reasons = structure_reasons(rows[0])
    assert [r.feature for r in reasons] == [FAN_IN_FAST_OUT, CONCENTRATED]
    assert "96% of the money paid out in 30 days went to the three largest" in reasons[1].text_en


def test_paying_out_several_times_what_came_in_is_no_collector_passing_money_on() -> None:
    # A hospital on the first day it is watched: a few patients' payments, and suppliers paid
    # from its balance; 100 % of the money in "left the same day".
    rows = feature_rows(
        {
            "distinct_individual_payers_30d": 25,
            "distinct_payees_30d": 3,
            "same_day_outflow_share_30d": 1.0,
            "pass_through_ratio_30d": 8.1,
        }
    )
    assert not structured(rows).any()


def test_a_lender_lending_the_days_repayments_out_again_is_no_concentration() -> None:
    # 340 borrowers repaid this month; the repayments went out the same day as new loans to
    # 60 borrowers, no three of whom took most of it. A collector with the same payers and
    # payees whose three largest payees take most of the money is concentrating it.
    lender = {
        "distinct_individual_payers_30d": 340,
        "distinct_payees_30d": 60,
        "top_payees_outflow_share_30d": 0.15,
        "same_day_outflow_share_30d": 0.62,
        "pass_through_ratio_30d": 0.9,
    }
    collector = {**lender, "top_payees_outflow_share_30d": 0.7}
    assert structured(feature_rows(lender, collector)).tolist() == [False, True]
