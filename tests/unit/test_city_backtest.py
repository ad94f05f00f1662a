"""One backtest over a small simulated city, as a user runs it (fundwatch train on a scheme-free
history, fundwatch backtest on a period with nine camouflaged schemes, one of each typology):
the legitimate look-alikes at their busiest raise no lead, every typology does."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from feeds.lookalikes import MEMOS
from feeds.model import CST
from feeds.simulate import Simulation, SimulationConfig, write_jsonl
from models.forest import FundraisingForest
from offline.backtest import run_backtest
from offline.replay import file_messages
from offline.training import train, training_set

LATENESS_MS = 2 * 3_600_000
SIZES = {"seed": 41, "individuals": 200, "businesses": 20, "lookalikes": 120}
HISTORY = SimulationConfig(
    **SIZES,
    start=datetime(2026, 8, 10, tzinfo=CST),
    days=30,
    schemes=0,
    activity_seed=41 + 1_000_000,
)
# 20 Feb - 21 Mar 2027: the spring term's first ten days (tuition from every parent) inside it.
PERIOD = SimulationConfig(
    **SIZES,
    start=datetime(2027, 2, 20, tzinfo=CST),
    days=30,
    schemes=0,
    camouflaged_schemes=9,
)
ROLES = ("collector_accounts", "controller_accounts", "payout_accounts")


class City:
    def __init__(self, work: Path) -> None:
        period = Simulation(PERIOD)
        self.truth: dict[str, Any] = period.truth()
        write_jsonl(Simulation(HISTORY).reports(), work / "history.jsonl")
        write_jsonl(period.reports(), work / "period.jsonl")
        model = train(
            training_set(file_messages(work / "history.jsonl"), LATENESS_MS),
            FundraisingForest(),
            version="city",
        )
        model.save(work / "model")
        self.own_past = set(model.own_limits_)
        # Per account, the individuals who paid it in the history.
        self.history_payers: dict[str, set[str]] = defaultdict(set)
        with (work / "history.jsonl").open("rb") as lines:
            for line in lines:
                report = orjson.loads(line)
                if report["direction"] == "in" and report.get("counterparty_type") == "individual":
                    self.history_payers[report["account_id"]].add(report["counterparty_account"])
        run_backtest(work / "period.jsonl", work / "model", work / "leads.jsonl", None, LATENESS_MS)
        with (work / "leads.jsonl").open("rb") as lines:
            self.led = {orjson.loads(line)["account_id"] for line in lines}
        # Per account, the memos of the money it received in the period.
        self.memos_in: dict[str, list[str]] = defaultdict(list)
        with (work / "period.jsonl").open("rb") as lines:
            for line in lines:
                report = orjson.loads(line)
                if report["direction"] == "in":
                    self.memos_in[report["account_id"]].append(report.get("purpose") or "")

    def of_kind(self, kind: str) -> list[str]:
        return [a for a, k in self.truth["lookalike_kinds"].items() if k == kind]


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> City:
    return City(tmp_path_factory.mktemp("city"))


def test_private_schools_in_their_first_week_of_term_raise_no_lead(city: City) -> None:
    schools = city.of_kind("private_school")
    paid = {a: sum(memo in MEMOS["tuition"] for memo in city.memos_in[a]) for a in schools}
    assert sum(n >= 50 for n in paid.values()) >= 3, paid  # term started for most of them
    assert [a for a in schools if a in city.led] == []


def test_a_property_developers_presale_raises_no_lead(city: City) -> None:
    developers = city.of_kind("property_developer")
    deposits = {a: sum(m in MEMOS["presale"] for m in city.memos_in[a]) for a in developers}
    assert max(deposits.values()) >= 20, deposits  # a presale launch in the period
    assert [a for a in developers if a in city.led] == []


def test_a_microloan_lender_raises_no_lead(city: City) -> None:
    assert [a for a in city.of_kind("microloan") if a in city.led] == []


def test_a_camouflaged_scheme_of_every_typology_raises_a_lead(city: City) -> None:
    found = {
        scheme["typology"]
        for scheme in city.truth["schemes"]
        if any(a in city.led for role in ROLES for a in scheme.get(role) or ())
    }
    assert len(city.truth["schemes"]) == 9
    assert found == {scheme["typology"] for scheme in city.truth["schemes"]}


def test_busy_businesses_have_an_own_past_and_no_scheme_account_has_one(city: City) -> None:
    # The schools' autumn term start is in the history: their spring one is judged against it.
    schools = [a for a in city.of_kind("private_school") if len(city.history_payers[a]) >= 30]
    assert len(schools) >= 5 and set(schools) <= city.own_past
    # The salespeople whose own accounts collect for a scheme were ordinary people in the
    # history, paid by a handful: none has a past to hide the collection behind.
    scheme_accounts = {a for s in city.truth["schemes"] for role in ROLES for a in s[role]}
    assert scheme_accounts and not scheme_accounts & city.own_past
