"""Unit tests of the deterministic bank-report simulator (feeds.simulate)."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from feeds.lookalikes import MEMOS
from feeds.model import CST, pools
from feeds.simulate import (
    Simulation,
    SimulationConfig,
    SimulationConfigError,
    report_lines,
    write_jsonl,
    write_truth,
)
from schemas.report import parse_report

SMALL = SimulationConfig(seed=11, days=20, individuals=400, businesses=40, schemes=3)
SECTORS = {
    "p2p_lending",
    "third_party_payment",
    "equity_crowdfunding",
    "microloan",
    "private_fund",
    "financing_registration",
    "capital_management",
    "financial_services",
    "trading_venue",
    "financing_guarantee",
    "ecommerce",
    "pawn",
    "financial_leasing",
    "investment_advisory",
    "wealth_management",
    "asset_management",
    "consignment",
    "real_estate_agency",
    "real_estate_developer",
    "farmer_cooperative",
    "elderly_care",
    "private_school",
    "private_hospital",
    "high_tech",
    "retail",
    "manufacturing",
    "agriculture",
    "logistics",
    "catering",
    "construction",
    "other",
}
CHANNELS = {"transfer", "cash", "online", "pos", "atm", "cross_border", "other"}
PARTY_TYPES = {"individual", "corporate"}
REQUIRED_STR_FIELDS = {
    "report_id": 64,
    "bank_id": 32,
    "tx_id": 64,
    "account_id": 64,
    "customer_id": 64,
    "counterparty_account": 64,
    "counterparty_name": 256,
    "counterparty_bank": 64,
    "purpose": 256,
}
SCHEMA_FIELDS = set(REQUIRED_STR_FIELDS) | {
    "schema_version",
    "report_type",
    "tx_time",
    "account_type",
    "customer_name",
    "industry",
    "region",
    "direction",
    "amount",
    "currency",
    "channel",
    "counterparty_type",
    "counterparty_region",
    "str_indicators",
}
REGION = re.compile(r"^\d{6}$")
AMOUNT = re.compile(r"^\d+\.\d{2}$")


@pytest.fixture(scope="module")
def simulation() -> Simulation:
    return Simulation(SMALL)


@pytest.fixture(scope="module")
def reports(simulation: Simulation) -> list[dict[str, Any]]:
    return list(simulation.reports())


@pytest.fixture(scope="module")
def truth(simulation: Simulation) -> dict[str, Any]:
    return simulation.truth()


def _write(config: SimulationConfig, directory: Path) -> tuple[bytes, bytes]:
    sim = Simulation(config)
    write_jsonl(sim.reports(), directory / "reports.jsonl")
    write_truth(sim.truth(), directory / "truth.json")
    return (directory / "reports.jsonl").read_bytes(), (directory / "truth.json").read_bytes()


def test_same_seed_gives_identical_bytes(tmp_path: Path) -> None:
    config = SimulationConfig(seed=3, days=4, individuals=200, businesses=20, schemes=2)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = _write(config, tmp_path / "a")
    assert first == _write(config, tmp_path / "b")
    assert len(first[0]) > 10_000


def test_different_seed_gives_different_output() -> None:
    config = SimulationConfig(seed=3, days=3, individuals=200, businesses=20, schemes=1)
    other = SimulationConfig(seed=4, days=3, individuals=200, businesses=20, schemes=1)
    assert list(Simulation(config).reports()) != list(Simulation(other).reports())


def _check_report(r: dict[str, Any], banks: set[str], window: tuple[datetime, datetime]) -> None:
    assert set(r) <= SCHEMA_FIELDS, set(r) - SCHEMA_FIELDS
    assert r["schema_version"] == 1
    for name, limit in REQUIRED_STR_FIELDS.items():
        assert isinstance(r[name], str) and len(r[name]) <= limit, name
    assert r["report_type"] in {"LTR", "STR", "TX"}
    assert r["bank_id"] in banks
    assert r["account_type"] in PARTY_TYPES and r["counterparty_type"] in PARTY_TYPES
    assert r["direction"] in {"in", "out"}
    assert r["currency"] == "CNY" and r["channel"] in CHANNELS
    assert REGION.match(r["region"]) and REGION.match(r["counterparty_region"])
    assert r.get("industry", "retail") in SECTORS
    assert isinstance(r.get("customer_name", ""), str)
    assert AMOUNT.match(r["amount"]) and Decimal(r["amount"]) > 0
    when = datetime.fromisoformat(r["tx_time"])
    assert r["tx_time"].endswith("+08:00") and when.utcoffset() == timedelta(hours=8)
    assert window[0] <= when < window[1]
    if r["report_type"] == "STR":
        indicators = r["str_indicators"]
        assert indicators and all(isinstance(i, str) and i for i in indicators)
    else:
        assert "str_indicators" not in r


def test_every_report_is_valid(reports: list[dict[str, Any]]) -> None:
    window = (SMALL.start, SMALL.start + timedelta(days=SMALL.days))
    for r in reports:
        _check_report(r, set(SMALL.banks), window)
    assert {r["report_type"] for r in reports} == {"LTR", "STR", "TX"}
    assert {r["account_type"] for r in reports} == PARTY_TYPES


def test_report_ids_unique_per_bank(reports: list[dict[str, Any]]) -> None:
    keys = [(r["bank_id"], r["report_id"]) for r in reports]
    assert len(keys) == len(set(keys))


def test_sorted_by_time_then_report_id(reports: list[dict[str, Any]]) -> None:
    keys = [(datetime.fromisoformat(r["tx_time"]), r["report_id"]) for r in reports]
    assert keys == sorted(keys)


def test_internal_transfer_yields_matching_out_and_in(reports: list[dict[str, Any]]) -> None:
    by_tx: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for r in reports:
        assert r["direction"] not in by_tx[r["tx_id"]], "one report per side"
        by_tx[r["tx_id"]][r["direction"]] = r
    pairs = 0
    for sides in by_tx.values():
        out = sides.get("out")
        if (
            out is None
            or out["counterparty_bank"] not in SMALL.banks
            or out["counterparty_account"] == "CASH"
        ):
            continue
        inn = sides["in"]
        assert (inn["account_id"], inn["counterparty_account"]) == (
            out["counterparty_account"],
            out["account_id"],
        )
        assert (inn["amount"], inn["tx_time"], inn["bank_id"]) == (
            out["amount"],
            out["tx_time"],
            out["counterparty_bank"],
        )
        pairs += 1
    assert pairs > 1000


def _scheme_reports(
    reports: list[dict[str, Any]], accounts: list[str], direction: str
) -> list[dict[str, Any]]:
    wanted = set(accounts)
    return [r for r in reports if r["account_id"] in wanted and r["direction"] == direction]


def test_collectors_take_many_fundraising_deposits(
    reports: list[dict[str, Any]], truth: dict[str, Any]
) -> None:
    vocabulary = set(pools()["fundraising_memos"])
    assert len(truth["schemes"]) == SMALL.schemes
    for scheme in truth["schemes"]:
        internal = set(scheme["controller_accounts"]) | set(scheme["payout_accounts"])
        deposits = [
            r
            for r in _scheme_reports(reports, scheme["collector_accounts"], "in")
            if r["counterparty_account"] not in internal
        ]
        payers = {r["counterparty_account"] for r in deposits}
        assert len(payers) >= scheme["participants"] >= 100
        fundraising = sum(r["purpose"] in vocabulary for r in deposits)
        assert fundraising > 0.5 * len(deposits)


def test_payouts_go_back_to_earlier_payers(
    reports: list[dict[str, Any]], truth: dict[str, Any]
) -> None:
    payouts = 0
    for scheme in truth["schemes"]:
        first_paid: dict[str, str] = {}
        for r in _scheme_reports(reports, scheme["collector_accounts"], "in"):
            first_paid.setdefault(r["counterparty_account"], r["tx_time"])
        onward = set(scheme["controller_accounts"]) | set(scheme["payout_accounts"])
        payers = scheme["payout_accounts"] or scheme["collector_accounts"]
        for r in _scheme_reports(reports, payers, "out"):
            if r["counterparty_account"] in onward:
                continue
            when = datetime.fromisoformat(r["tx_time"])
            assert datetime.fromisoformat(first_paid[r["counterparty_account"]]) < when
            payouts += 1
    assert payouts > 50


def _large(r: dict[str, Any]) -> bool:
    amount = Decimal(r["amount"])
    if r["channel"] in {"cash", "atm"}:
        return amount >= 50_000
    if r["account_type"] == "corporate":
        return amount >= 2_000_000
    return amount >= (200_000 if r["channel"] == "cross_border" else 500_000)


def test_large_value_thresholds(reports: list[dict[str, Any]]) -> None:
    for r in reports:
        if r["report_type"] == "LTR":
            assert _large(r), r
        elif _large(r):
            assert r["report_type"] == "STR", r
    ltr_kinds = {
        (r["channel"] in {"cash", "atm"}, r["account_type"])
        for r in reports
        if r["report_type"] == "LTR"
    }
    assert len(ltr_kinds) >= 2


def test_only_ltr_and_str_when_not_reporting_all(reports: list[dict[str, Any]]) -> None:
    config = SimulationConfig(
        seed=SMALL.seed,
        days=SMALL.days,
        individuals=SMALL.individuals,
        businesses=SMALL.businesses,
        schemes=SMALL.schemes,
        report_all_activity=False,
    )
    filtered = list(Simulation(config).reports())
    assert filtered == [r for r in reports if r["report_type"] != "TX"]
    assert filtered


def test_truth_never_leaks_into_reports(
    reports: list[dict[str, Any]], truth: dict[str, Any]
) -> None:
    scheme_id = re.compile(r"(?<![A-Za-z0-9])S\d{2}(?![0-9])")
    typologies = {s["typology"] for s in truth["schemes"]}
    for r in reports:
        assert set(r) <= SCHEMA_FIELDS
        text = json.dumps(r, ensure_ascii=False)
        assert not scheme_id.search(text), text
        assert all(t not in r["purpose"] for t in typologies)
    json.dumps(truth)  # serialisable


def test_schemes_use_night_hours_more(reports: list[dict[str, Any]], truth: dict[str, Any]) -> None:
    scheme_accounts = {
        a for s in truth["schemes"] for a in s["collector_accounts"] + s["controller_accounts"]
    }

    def night_share(rows: list[dict[str, Any]]) -> float:
        return sum(int(r["tx_time"][11:13]) < 6 for r in rows) / len(rows)

    scheme = [r for r in reports if r["account_id"] in scheme_accounts]
    normal = [r for r in reports if r["account_id"] not in scheme_accounts]
    assert night_share(scheme) > 2 * night_share(normal)


def test_some_scheme_starts_mid_period_with_new_accounts(
    reports: list[dict[str, Any]], truth: dict[str, Any]
) -> None:
    starts = [datetime.fromisoformat(s["first_tx_time"]) for s in truth["schemes"]]
    assert any(start >= SMALL.start + timedelta(days=2) for start in starts)
    for scheme, start in zip(truth["schemes"], starts, strict=True):
        own = set(scheme["collector_accounts"])
        assert all(
            datetime.fromisoformat(r["tx_time"]) >= start for r in reports if r["account_id"] in own
        )


def test_regions_mostly_baoshan_some_elsewhere(reports: list[dict[str, Any]]) -> None:
    regions = [r["counterparty_region"] for r in reports]
    baoshan = sum(r.startswith("5305") for r in regions) / len(regions)
    assert 0.6 < baoshan < 0.99
    assert any(r.startswith("53") and not r.startswith("5305") for r in regions)
    assert any(not r.startswith("53") for r in regions)


def test_config_rejects_naive_start() -> None:
    with pytest.raises(SimulationConfigError) as refused:
        Simulation(SimulationConfig(start=datetime(2026, 10, 1)))
    assert refused.value.exit_code == 2  # the CLI's usage-error answer, not a traceback


def test_start_is_cst_by_default() -> None:
    assert SimulationConfig().start.utcoffset() == CST.utcoffset(None)


def test_a_scheme_never_forwards_more_than_it_holds() -> None:
    # Seed 1 at full size once sent a controller's pool on with a negative amount (cash drawn
    # exceeded the pool); every report of a month at the demo's size must pass the schema.
    for line in report_lines(Simulation(SimulationConfig(seed=1)).reports()):
        parse_report(line)


# -- look-alikes and camouflaged schemes ------------------------------------------------------

CITY = SimulationConfig(
    seed=23,
    start=datetime(2026, 8, 28, tzinfo=CST),  # the autumn term starts on day 4
    days=14,
    individuals=300,
    businesses=20,
    lookalikes=120,
    schemes=1,
    camouflaged_schemes=3,
)


@pytest.fixture(scope="module")
def city() -> tuple[list[dict[str, Any]], dict[str, Any]]:
    sim = Simulation(CITY)
    return list(sim.reports()), sim.truth()


def _inflows(reports: list[dict[str, Any]], account: str) -> list[dict[str, Any]]:
    return [r for r in reports if r["account_id"] == account and r["direction"] == "in"]


def test_every_lookalike_kind_is_in_the_truth(
    city: tuple[list[dict[str, Any]], dict[str, Any]],
) -> None:
    reports, truth = city
    kinds = truth["lookalike_kinds"]
    assert set(kinds.values()) >= {
        "private_school",
        "hospital",
        "property_developer",
        "payroll",
        "microloan",
        "private_fund",
        "care_home",
        "supermarket",
        "ecommerce",
        "agri_purchaser",
        "merchant",
    }
    assert sorted(kinds) == truth["legit_lookalikes"]
    scheme_accounts = {a for s in truth["schemes"] for a in s["collector_accounts"]}
    assert not scheme_accounts & set(kinds)
    reporting = {r["account_id"] for r in reports}
    assert len(set(kinds) & reporting) >= 0.9 * len(kinds)


def test_a_school_takes_round_tuition_from_many_parents_at_term_start(
    city: tuple[list[dict[str, Any]], dict[str, Any]],
) -> None:
    reports, _ = city
    schools = [
        lk.account.account_id
        for lk in Simulation(CITY).population.lookalikes
        if lk.kind == "private_school" and lk.roster >= 100
    ]
    assert schools
    for school in schools[:3]:
        tuition = [r for r in _inflows(reports, school) if "学" in r["purpose"]]
        days = {r["tx_time"][:10] for r in tuition}
        assert len({r["counterparty_account"] for r in tuition}) >= 100
        assert days <= {f"2026-09-{d:02d}" for d in range(1, 11)}
        assert all(Decimal(r["amount"]) % 1000 == 0 for r in tuition)


def test_a_microloan_lender_is_repaid_by_the_people_it_lent_to(
    city: tuple[list[dict[str, Any]], dict[str, Any]],
) -> None:
    reports, truth = city
    lender = next(a for a, k in truth["lookalike_kinds"].items() if k == "microloan")
    mine = [r for r in reports if r["account_id"] == lender]
    borrowers = {
        r["counterparty_account"] for r in mine if r["purpose"] in ("放款", "贷款发放", "借款发放")
    }
    payers = {r["counterparty_account"] for r in mine if r["direction"] == "in"}
    assert borrowers and payers and len(payers) > 20


def test_a_developer_refunds_a_buyers_presale_deposit_in_the_sum_paid() -> None:
    """Refunds of 认筹金 give back what that buyer paid (models.features tells them from a
    scheme's returns by that)."""
    reports = list(
        Simulation(
            SimulationConfig(seed=29, days=60, individuals=40, businesses=10, lookalikes=60)
        ).reports()
    )
    refunds = [
        r for r in reports if r["purpose"] in MEMOS["refund_presale"] and r["direction"] == "out"
    ]
    assert refunds
    deposits: dict[tuple[str, str], list[Decimal]] = {}
    for r in reports:
        if r["purpose"] in MEMOS["presale"] and r["direction"] == "in":
            key = (r["account_id"], r["counterparty_account"])
            deposits.setdefault(key, []).append(Decimal(r["amount"]))
    for r in refunds:
        assert Decimal(r["amount"]) in deposits[(r["account_id"], r["counterparty_account"])]


def test_camouflaged_schemes_are_quiet(city: tuple[list[dict[str, Any]], dict[str, Any]]) -> None:
    reports, truth = city
    vocabulary = set(pools()["fundraising_memos"])
    quiet = [s for s in truth["schemes"] if s["camouflaged"]]
    assert quiet[0]["typology"] == "ecommerce_rebate"
    assert len(quiet) == CITY.camouflaged_schemes
    for scheme in quiet:
        internal = set(scheme["controller_accounts"]) | set(scheme["payout_accounts"])
        deposits = [
            r
            for a in scheme["collector_accounts"]
            for r in _inflows(reports, a)
            if r["counterparty_account"] not in internal and r["channel"] != "cash"
        ]
        assert deposits
        assert not any(
            r["purpose"] in vocabulary for r in deposits if r["tx_time"] >= scheme["first_tx_time"]
        )
        if scheme["typology"] != "ecommerce_rebate":
            # salespeople's personal accounts, no deposit at or above the cash LTR line
            assert all(
                r["account_type"] == "individual"
                for a in scheme["collector_accounts"]
                for r in _inflows(reports, a)[:1]
            )
    plain = [s for s in truth["schemes"] if not s["camouflaged"]]
    assert plain and all(s["typology"] != "ecommerce_rebate" for s in plain)


def test_camouflaged_deposits_are_split_below_the_large_value_line() -> None:
    sim = Simulation(CITY)
    quiet = [p for p in sim.schemes if p.camouflaged]
    deposits = [
        t
        for p in quiet
        for day in p.transfers_by_day.values()
        for t in day
        if t.payee in p.collectors and t.payer in p.participants
    ]
    assert deposits
    assert all(t.amount_fen < 5_000_000 for t in deposits)
    assert sum(t.amount_fen % 100_000 != 0 for t in deposits) > 0.9 * len(deposits)


def test_a_seed_has_the_same_accounts_whatever_its_schemes_and_days() -> None:
    # What a scheme-free history of the same city needs (bench/detection_quality.py).
    history = SimulationConfig(
        seed=3,
        days=2,
        individuals=200,
        businesses=20,
        schemes=0,
        lookalikes=30,
        activity_seed=99,
    )
    period = SimulationConfig(
        seed=3,
        days=3,
        individuals=200,
        businesses=20,
        schemes=1,
        lookalikes=30,
        camouflaged_schemes=1,
    )
    first, second = Simulation(history), Simulation(period)
    assert first.truth()["lookalike_kinds"] == second.truth()["lookalike_kinds"]
    assert len(first.truth()["lookalike_kinds"]) >= 30
    people = [p.account for p in first.population.persons]
    assert people == [p.account for p in second.population.persons]
    assert first.transfers(0) != second.transfers(0)
