"""Money trails through the pure pipeline: who gets linked, who does not, and why.

The model here is a stand-in that flags an account once 10 or more people have paid it in 30
days (a fundraising account), or once it has received exactly 60,000 yuan in one transfer (a
person the forest happens to flag), so the tests decide exactly which accounts have scored
leads.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any

import numpy as np
import orjson
import pytest
from jsonschema import Draft202012Validator, ValidationError

from ingest.pipeline import InputMessage
from models.account_state import AccountState
from models.feature_names import FEATURE_NAMES
from models.leads import LeadPolicy, ModelView
from models.pipeline import PipelineConfig
from models.schemes import build_schemes
from models.trails import (
    END_OF_TIME_MS,
    FollowedReport,
    Movement,
    OutflowLog,
    TrailPolicy,
    TrailStage,
    TrailState,
)
from models.watchlist import EntityType, ListingSource, Watchlist, WatchlistEntry
from offline.replay import OfflineRunner
from schemas.envelopes import SourcePosition
from schemas.files import load_schema
from schemas.report import parse_report
from tests.outlines import linked_outline
from tests.reports import encode, valid_report
from tests.worlds import START, TransferWorld

PAYERS_30D = FEATURE_NAMES.index("distinct_payers_30d")
MAX_INFLOW_30D = FEATURE_NAMES.index("max_inflow_yuan_30d")
FLAGGED_INFLOW_YUAN = 60_000
COLLECTOR = "COLLECTOR-1"


PAYERS_MODEL_VIEW = ModelView("payers", 0.5, {}, {})


@dataclass(frozen=True)
class PayersModel:
    """Scores 1.0 once an account has 10 or more payers in 30 days or has received the
    flagged amount in one transfer, else 0.0: the part of models.forest.FundraisingForest
    the pipeline uses."""

    version_: str = "payers"
    threshold_: float = 0.5
    lead_view: ModelView = PAYERS_MODEL_VIEW
    ranker: None = None  # no analysts' verdicts (models.ranker)

    def anomaly_score(self, features: np.ndarray) -> np.ndarray:
        flagged = (features[:, PAYERS_30D] >= 10) | (
            features[:, MAX_INFLOW_30D] == FLAGGED_INFLOW_YUAN
        )
        return flagged.astype(float)


def run(
    messages: Iterable[InputMessage], batch_size: int = 1000, watchlist: Watchlist | None = None
) -> tuple[list[dict[str, Any]], OfflineRunner]:
    runner = OfflineRunner(PipelineConfig(), PayersModel(), watchlist)  # type: ignore[arg-type]
    leads = [
        orjson.loads(lead.to_json())
        for outcome in runner.run(messages, batch_size)
        for lead in outcome.leads
    ]
    return leads, runner


def latest(leads: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for lead in leads:
        if lead["lead_id"] not in out or lead["revision"] > out[lead["lead_id"]]["revision"]:
            out[lead["lead_id"]] = lead
    return out


def linked_accounts(leads: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {lead["account_id"]: lead for lead in latest(leads).values() if lead["kind"] == "linked"}


def test_a_quiet_controller_gets_a_linked_lead_with_the_path_and_the_money() -> None:
    world = TransferWorld()
    world.fundraising(COLLECTOR, 12)
    # The pool goes on to a controller in three sweeps, then to a third account.
    world.transfer(COLLECTOR, "CONTROLLER", 300_000, 5)
    world.transfer(COLLECTOR, "CONTROLLER", 200_000, 6)
    world.transfer(COLLECTOR, "CONTROLLER", 100_000, 7)
    world.sweeps("CONTROLLER", "OUTSIDE", 450_000, 30)
    leads, _ = run(world.messages())
    scored = [lead for lead in latest(leads).values() if lead["kind"] == "scored"]
    assert [lead["account_id"] for lead in scored] == [COLLECTOR]
    linked = linked_accounts(leads)
    controller = linked["CONTROLLER"]
    assert controller["hop"] == 1 and controller["score"] == 0.0
    [link] = controller["trail"]
    assert link["source_lead_id"] == scored[0]["lead_id"]
    assert link["direction"] == "downstream"
    assert (link["amount_fen"], link["transfers"]) == (60_000_000, 3)
    assert link["path"] == [COLLECTOR]
    assert "资金去向" in controller["reasons"][0]["text_zh"]
    # One hop further: the controller's own outflow links the next account.
    assert linked["OUTSIDE"]["hop"] == 2
    assert linked["OUTSIDE"]["trail"][0]["path"] == [COLLECTOR, "CONTROLLER"]


def test_one_large_payment_out_of_a_lead_account_is_a_deal_not_a_pool_passed_on() -> None:
    world = TransferWorld()
    world.fundraising(COLLECTOR, 12)
    # A deal: the lead's account buys a car. The seller pays the money on: no trail reaches
    # the seller's supplier either.
    world.transfer(COLLECTOR, "CAR-DEALER", 400_000, 5, payee_type="corporate")
    world.sweeps("CAR-DEALER", "CAR-MAKER", 390_000, 8)
    world.transfer(COLLECTOR, "LENDER", 30_000, 6)  # two payments, under the sweeps' three
    world.transfer(COLLECTOR, "LENDER", 90_000, 7)
    # The pool: three sweeps to the controller, and one transfer of 1,000,000 yuan (the sum
    # from which taking public deposits is prosecuted) to a second one.
    world.sweeps(COLLECTOR, "CONTROLLER", 150_000, 9)
    world.transfer(COLLECTOR, "SECOND-CONTROLLER", 1_000_000, 10)
    leads, _ = run(world.messages())
    linked = linked_accounts(leads)
    assert set(linked) == {"CONTROLLER", "SECOND-CONTROLLER"}
    assert linked["CONTROLLER"]["trail"][0]["transfers"] == 3


def test_a_merchant_paying_into_a_lead_account_is_not_pulled_in() -> None:
    world = TransferWorld()
    world.fundraising(COLLECTOR, 12)
    for n in range(10):  # a busy supplier pays the lead's account large sums
        world.transfer("MERCHANT", COLLECTOR, 90_000, 3 + n, payer_type="corporate")
    leads, _ = run(world.messages())
    assert "MERCHANT" not in linked_accounts(leads)


@dataclass(frozen=True)
class FlaggedInflowModel(PayersModel):
    """Flags only an account that received the flagged amount in one transfer."""

    def anomaly_score(self, features: np.ndarray) -> np.ndarray:
        return (features[:, MAX_INFLOW_30D] == FLAGGED_INFLOW_YUAN).astype(float)


def test_tuition_a_schemes_salesperson_pays_a_school_links_neither_the_school_nor_on() -> None:
    world = TransferWorld()
    world.fundraising("SCHOOL", 30)  # 30 parents, 1,500,000 yuan of fees
    world.fundraising(COLLECTOR, 12, hour=2.0)
    world.transfer("PAYER-X", COLLECTOR, FLAGGED_INFLOW_YUAN, 4)  # the salesperson is flagged
    for n in range(6):  # 108,000 yuan of tuition for the salesperson's children: 7 % of it
        world.transfer(COLLECTOR, "SCHOOL", 18_000, 10 + n)
    world.transfer("SCHOOL", "BUILDER", 400_000, 30, payee_type="corporate")
    world.sweeps(COLLECTOR, "CONTROLLER", 300_000, 31)  # the pool itself is still followed
    runner = OfflineRunner(PipelineConfig(), FlaggedInflowModel())  # type: ignore[arg-type]
    leads = [orjson.loads(lead.to_json()) for o in runner.run(world.messages()) for lead in o.leads]
    scored = {lead["account_id"] for lead in leads if lead["kind"] == "scored"}
    assert scored == {COLLECTOR}
    assert set(linked_accounts(leads)) == {"CONTROLLER"}


def test_small_payments_and_a_flagged_individual_start_no_trail() -> None:
    world = TransferWorld()
    world.fundraising(COLLECTOR, 12)
    for n in range(12):  # interest back to the participants: below 10,000 yuan each
        world.transfer(COLLECTOR, f"P{COLLECTOR}-{n:03d}", 9_000, 24 + n)
    # A person the forest would flag but who has few payers: their payment to another
    # account is no trail (it would link the fundraising account a participant pays into).
    world.transfer("PAYER-A", "PERSON", FLAGGED_INFLOW_YUAN, 1)
    world.transfer("PERSON", "SHOP", 150_000, 2)
    leads, _ = run(world.messages())
    scored = {lead["account_id"] for lead in latest(leads).values() if lead["kind"] == "scored"}
    assert scored == {COLLECTOR, "PERSON"}
    assert linked_accounts(leads) == {}


def test_links_stop_after_three_hops_and_below_the_minimum() -> None:
    world = TransferWorld()
    world.fundraising(COLLECTOR, 12)
    chain = [COLLECTOR, "HOP1", "HOP2", "HOP3", "HOP4"]
    for n, (payer, payee) in enumerate(pairwise(chain)):
        world.sweeps(payer, payee, 210_000, 5 + n)
    world.transfer(COLLECTOR, "SMALL", 90_000, 10)  # under 100,000 yuan in all
    leads, _ = run(world.messages())
    linked = linked_accounts(leads)
    assert {a: lead["hop"] for a, lead in linked.items()} == {"HOP1": 1, "HOP2": 2, "HOP3": 3}


def test_a_link_that_arrives_after_the_accounts_own_outflows_still_passes_them_on() -> None:
    world = TransferWorld()
    world.fundraising(COLLECTOR, 12)
    world.sweeps(COLLECTOR, "CONTROLLER", 300_000, 5)
    world.sweeps("CONTROLLER", "NEXT", 250_000, 6)
    messages = world.messages()
    in_order, _ = run(messages, batch_size=1)
    # The controller's outflow is read long before the movement that links it.
    controller_out = [m for m in messages if b'"CONTROLLER"' in (m.key or b"")]
    late = [m for m in messages if m not in controller_out] + controller_out
    reordered, _ = run(late, batch_size=1000)
    assert linked_outline(in_order) == linked_outline(reordered)
    assert set(linked_accounts(reordered)) == {"CONTROLLER", "NEXT"}


def test_a_late_movement_that_extends_the_linked_span_passes_on_the_outflows_it_covers() -> None:
    world = TransferWorld()
    world.fundraising(COLLECTOR, 12)
    world.sweeps(COLLECTOR, "CONTROLLER", 300_000, 5)
    world.sweeps(COLLECTOR, "CONTROLLER", 300_000, 5 + 10 * 24)
    # 20 days after the first sum, 10 after the second: inside the span only the second opens.
    world.sweeps("CONTROLLER", "NEXT", 250_000, 5 + 20 * 24)
    messages = world.messages()
    in_order, _ = run(messages, batch_size=1)
    # One batch of every report, then both movements together: the account's outflow was
    # read before either of them, as a worker catching up on a backlog reads it.
    all_at_once, _ = run(messages, batch_size=len(messages))
    assert set(linked_accounts(in_order)) == {"CONTROLLER", "NEXT"}
    assert linked_outline(all_at_once) == linked_outline(in_order)


def test_money_from_a_listed_sender_links_the_sender_upstream() -> None:
    world = TransferWorld()
    world.fundraising(COLLECTOR, 12)
    world.transfer("BOSS", COLLECTOR, 120_000, 3)
    listed = Watchlist()
    listed.apply(
        WatchlistEntry(
            EntityType.ACCOUNT,
            "BOSS",
            ListingSource.POLICE,
            "立案侦查",
            "police",
            START,
        )
    )
    leads, _ = run(world.messages(), watchlist=listed)
    boss = linked_accounts(leads)["BOSS"]
    assert boss["trail"][0]["direction"] == "upstream"
    assert "资金来源" in boss["reasons"][0]["text_zh"]


def test_a_replayed_movement_counts_once_and_the_state_round_trips() -> None:
    policy = TrailPolicy()
    trail = TrailState()
    movement = Movement("B", "downstream", "L1", "A", 0, ("A",), 6_000_000, "T1", 1_000)
    assert trail.apply(movement, policy)
    assert not trail.apply(movement, policy)
    assert trail.amount_fen == 6_000_000 and not trail.linked(policy)
    trail.apply(Movement("B", "downstream", "L1", "A", 0, ("A",), 6_000_000, "T2", 2_000), policy)
    assert trail.amount_fen == 12_000_000 and not trail.linked(policy)  # two transfers
    trail.apply(Movement("B", "downstream", "L1", "A", 0, ("A",), 1_000_000, "T3", 3_000), policy)
    assert trail.linked(policy) and trail.hop == 1
    assert TrailState.from_bytes(trail.to_bytes()) == trail
    assert Movement.from_json(movement.to_json()) == movement
    # A state written when only the span's start was kept still covers everything after it.
    old = orjson.loads(trail.to_bytes())
    old[-1] = 1_000
    assert TrailState.from_bytes(orjson.dumps(old)).passed_on_span == (1_000, END_OF_TIME_MS)


def test_the_outflow_log_keeps_the_largest_sums_when_full() -> None:
    log = OutflowLog()
    for n in range(40):
        log.add(f"X{n}", 1_000_000 + n * (10 if n % 2 else 1_000_000), n, f"T{n}", 32, 10**9)
    assert len(log.entries) == 32
    kept = {e[0] for e in log.entries}
    assert {f"X{n}" for n in range(2, 40, 2)} <= kept  # every large even-numbered one


def test_linked_leads_and_schemes_validate_against_their_schemas() -> None:
    world = TransferWorld()
    world.fundraising(COLLECTOR, 12)
    world.sweeps(COLLECTOR, "CONTROLLER", 300_000, 5)
    leads, _ = run(world.messages())
    lead_schema = Draft202012Validator(
        load_schema("lead.v1"), format_checker=Draft202012Validator.FORMAT_CHECKER
    )
    for lead in leads:
        lead_schema.validate(lead)
    [scheme] = build_schemes(leads)
    scheme_schema = Draft202012Validator(
        load_schema("scheme.v1"), format_checker=Draft202012Validator.FORMAT_CHECKER
    )
    scheme_schema.validate(orjson.loads(scheme.to_json()))
    scheme_schema.validate(
        {"schema_version": 1, "scheme_id": scheme.scheme_id, "merged_into": None}
    )
    with pytest.raises(ValidationError):
        scheme_schema.validate({**orjson.loads(scheme.to_json()), "members": []})


def test_the_trail_stage_on_its_own_links_an_account_then_carries_its_outflow_on() -> None:
    """TrailStage, the pipeline's last stage, given one batch's movements and then the next
    batch's report: 1,000,000 yuan in one transfer from a lead's account raises the receiver's
    linked lead (below that sum it takes three transfers); the receiver's own 50,000-yuan
    transfer an hour later carries the trail one hop further."""
    report = parse_report(
        encode(
            valid_report(
                account_id="RECEIVER", direction="out", counterparty_account="NEXT", amount="50000"
            )
        )
    )
    state = AccountState.new(7_200_000)
    state.features.apply(report)
    accounts = {"RECEIVER": state}
    table: dict[str, bytes] = {}  # the trail table, as the worker's holds it between batches
    stage = TrailStage(table, accounts.get, TrailPolicy(), LeadPolicy())
    arrived = Movement(
        "RECEIVER", "downstream", "LSOURCE", "SOURCE", 0, ("SOURCE",), 100_000_000, "T-1",
        report.tx_epoch_ms - 3_600_000,
    )  # fmt: skip
    message = InputMessage(b"RECEIVER", arrived.to_json(), SourcePosition("trails", 3, 0, 1_000))
    now = datetime(2026, 11, 5, tzinfo=UTC)

    first = stage.process([], [message], ("m1", 0.6), now)
    assert (first.movements_applied, first.movements_refused, first.movements) == (1, [], [])
    [(linked, arrival)] = first.linked_on_movements
    assert (linked.kind, linked.account_id, linked.hop, linked.model_version) == (
        "linked", "RECEIVER", 1, "m1",
    )  # fmt: skip
    assert arrival == 1_000 and [link.path for link in linked.trail] == [("SOURCE",)]
    assert list(first.writes) == ["RECEIVER"] and first.writes["RECEIVER"][0] == 3

    table.update({account: blob for account, (_, blob) in first.writes.items()})
    snapshot = state.features.snapshot(report, state.features.vector())
    followed = FollowedReport(report, snapshot, None, None, 3, None, now)
    second = stage.process([followed], [], ("m1", 0.6), now)
    assert second.linked_on_reports == [None]  # linked already, nothing new to revise
    assert second.movements == [
        Movement(
            "NEXT", "downstream", linked.lead_id, "RECEIVER", 1, ("SOURCE", "RECEIVER"),
            5_000_000, report.tx_id, report.tx_epoch_ms,
        )
    ]  # fmt: skip
    assert [entry[0] for entry in state.outflows.entries] == ["NEXT"]  # kept for a late link
