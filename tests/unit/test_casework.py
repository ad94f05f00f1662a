"""The negative list, lead status and the LeadBook: the regulators' side, without Kafka."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from casework.lead_book import LeadBook, LeadFilter, build_book, visible_to
from casework.lead_status import (
    LeadStatus,
    LeadStatusRecord,
    Outcome,
    StatusChange,
    StatusChangeError,
)
from feeds.simulate import Simulation, SimulationConfig
from ingest.pipeline import InputMessage
from models.forest import FundraisingForest
from models.pipeline import PipelineConfig
from models.watchlist import (
    EntityType,
    ListingSource,
    Watchlist,
    WatchlistEntry,
    WatchlistError,
    entries_from_csv,
)
from offline.replay import OfflineRunner, line_messages
from offline.training import train, training_set
from schemas.envelopes import SourcePosition
from schemas.report import parse_report
from tests.reports import encode, valid_report

AT = datetime(2026, 11, 5, 9, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def trained_model() -> FundraisingForest:
    """A small real model whose threshold no score reaches: only the watchlist raises leads."""
    simulation = Simulation(SimulationConfig(seed=5, days=7, individuals=80, businesses=10))
    lines = (orjson.dumps(report) for report in simulation.reports())
    data = training_set(line_messages(lines, "history"), 7_200_000)
    forest = train(data, FundraisingForest(n_estimators=20), "unit")
    forest.threshold_ = 1.01
    return forest


def entry(entity_type: EntityType, entity_id: str, **changes: Any) -> WatchlistEntry:
    fields: dict[str, Any] = {
        "entity_type": entity_type,
        "entity_id": entity_id,
        "source": ListingSource.POLICE,
        "reason": "公安机关立案侦查",
        "added_by": "analyst1",
        "added_at": AT,
    }
    fields.update(changes)
    return WatchlistEntry(**fields)


def lead(lead_id: str, revision: int = 1, **changes: Any) -> dict[str, Any]:
    record = {
        "lead_id": lead_id,
        "revision": revision,
        "account_id": f"A-{lead_id}",
        "bank_id": "BSCB",
        "region": "530502",
        "county": "隆阳区",
        "sector": "p2p_lending",
        "lead_department": "cbrc",
        "severity": "general",
        "cross_prefecture": False,
        "cross_province_major": False,
        "customer_name": None,
        "first_evidence_time": "2026-11-01T00:00:00+00:00",
        "last_evidence_time": "2026-11-02T00:00:00+00:00",
        "emitted_at": f"2026-11-0{revision}T01:00:00+00:00",
    }
    record.update(changes)
    return record


# -- the negative list --------------------------------------------------------------------------


def test_names_match_after_width_and_space_normalisation() -> None:
    watchlist = Watchlist([entry(EntityType.NAME, "保山某某 投资有限公司")])
    assert watchlist.listed(None, None, "保山某某投资有限公司") is not None
    assert watchlist.listed(None, None, "保山某某投资有限公司（分公司）") is None
    fullwidth = Watchlist([entry(EntityType.ACCOUNT, "６２２２０００１")])
    assert fullwidth.listed("62220001") is not None


def test_a_listed_entity_cannot_be_listed_twice_and_a_removal_keeps_who_and_why() -> None:
    watchlist = Watchlist([entry(EntityType.ACCOUNT, "62220001")])
    with pytest.raises(WatchlistError, match="already listed"):
        watchlist.add(entry(EntityType.ACCOUNT, "62220001"))
    removal = watchlist.remove(EntityType.ACCOUNT, "62220001", "chief", "误报，已核实", AT)
    watchlist.apply(WatchlistEntry.from_json(removal.to_json()))
    assert watchlist.listed("62220001") is None and len(watchlist) == 0
    kept = watchlist.entries(include_removed=True)
    assert [(e.removed_by, e.removal_reason) for e in kept] == [("chief", "误报，已核实")]
    with pytest.raises(WatchlistError, match="not on the watchlist"):
        watchlist.remove(EntityType.ACCOUNT, "62220001", "chief", "again", AT)
    # Removed entities can be listed again.
    assert watchlist.add(entry(EntityType.ACCOUNT, "62220001")).active


def test_csv_import_is_all_or_nothing_with_line_numbers() -> None:
    header = "entity_type,entity_id,source,reason\n"
    good = "\ufeff" + header + "account,6222,judicial,法院判决\nname,某某公司,tip_off,群众举报\n"
    entries = entries_from_csv(good, "importer", AT)
    assert [(e.entity_type, e.entity_id, e.source) for e in entries] == [
        (EntityType.ACCOUNT, "6222", ListingSource.JUDICIAL),
        (EntityType.NAME, "某某公司", ListingSource.TIP_OFF),
    ]
    bad = header + "account,6222,judicial,x\nphone,1390,police,x\naccount,,police,x\n"
    with pytest.raises(WatchlistError, match=r"line 3.*line 4"):
        entries_from_csv(bad, "importer", AT)
    with pytest.raises(WatchlistError, match="lacks source"):
        entries_from_csv("entity_type,entity_id,reason\n", "importer", AT)


def test_a_report_hits_the_list_through_its_account_customer_or_counterparty() -> None:
    watchlist = Watchlist(
        [entry(EntityType.CUSTOMER, "C-9"), entry(EntityType.NAME, "保山某某投资有限公司")]
    )
    own = parse_report(encode(valid_report(customer_id="C-9")))
    hit = watchlist.hit(own)
    assert hit is not None and (hit.role, hit.entry_key) == ("account", "customer:C-9")
    paying = parse_report(encode(valid_report(counterparty_name="保山某某投资有限公司")))
    hit = watchlist.hit(paying)
    assert hit is not None and hit.role == "counterparty" and hit.amount_fen == 5_000_000
    assert watchlist.hit(parse_report(encode(valid_report()))) is None


def test_money_from_a_listed_counterparty_raises_a_case_related_lead_in_the_pipeline(
    trained_model: FundraisingForest,
) -> None:
    report = valid_report(counterparty_name="保山某某投资有限公司", amount="800.00")
    message = InputMessage(b"6222000011112222", encode(report), SourcePosition("t", 0, 0))
    plain = OfflineRunner(PipelineConfig(), trained_model)
    assert [o.leads for o in plain.run([message])] == [[]]  # an ordinary small payment
    listed = Watchlist([entry(EntityType.NAME, "保山某某投资有限公司")])
    runner = OfflineRunner(PipelineConfig(), trained_model, listed)
    (outcome,) = runner.run([message])
    (found,) = outcome.leads
    assert found.severity.value == "case_related"
    assert found.watchlist_matches == ("counterparty|name:保山某某投资有限公司",)


# -- lead status ----------------------------------------------------------------------------------


def change(status: LeadStatus, note: str = "", outcome: Outcome | None = None) -> StatusChange:
    return StatusChange(status, "analyst1", AT, note, outcome)


def test_status_moves_forward_and_back_only_with_a_reason() -> None:
    book = build_book([orjson.dumps(lead("L1"))], [], [])
    record = book.status_change("L1", change(LeadStatus.TRACKING))
    book.apply_status(LeadStatusRecord.from_json(record.to_json()))
    record = book.status_change("L1", change(LeadStatus.HANDED_OVER))  # skipping is allowed
    book.apply_status(record)
    with pytest.raises(StatusChangeError, match="needs a note"):
        book.status_change("L1", change(LeadStatus.VERIFYING))
    record = book.status_change("L1", change(LeadStatus.VERIFYING, note="材料不全，退回核查"))
    book.apply_status(record)
    assert [c.status for c in book.statuses["L1"].history] == [
        LeadStatus.TRACKING,
        LeadStatus.HANDED_OVER,
        LeadStatus.VERIFYING,
    ]
    assert book.status("L1") is LeadStatus.VERIFYING


def test_closing_needs_an_outcome_and_an_existing_lead() -> None:
    book = build_book([orjson.dumps(lead("L1"))], [], [])
    with pytest.raises(StatusChangeError, match="no lead L2"):
        book.status_change("L2", change(LeadStatus.CLOSED, outcome=Outcome.CONFIRMED))
    with pytest.raises(StatusChangeError, match="needs an outcome"):
        book.status_change("L1", change(LeadStatus.CLOSED))
    with pytest.raises(StatusChangeError, match="only when a lead is closed"):
        book.status_change("L1", change(LeadStatus.TRACKING, outcome=Outcome.OTHER))
    with pytest.raises(StatusChangeError, match="already new"):
        book.status_change("L1", change(LeadStatus.NEW))
    closed = book.status_change("L1", change(LeadStatus.CLOSED, outcome=Outcome.CONFIRMED))
    assert (closed.status, closed.outcome) == (LeadStatus.CLOSED, Outcome.CONFIRMED)


def test_a_verified_lead_puts_its_account_on_the_list_in_one_step() -> None:
    book = build_book([orjson.dumps(lead("L1"))], [], [])
    listing = book.listing_from_lead("L1", "analyst1", AT, "核查属实")
    assert (listing.entity_type, listing.entity_id, listing.source, listing.lead_id) == (
        EntityType.ACCOUNT,
        "A-L1",
        ListingSource.VERIFIED_LEAD,
        "L1",
    )
    book.apply_watchlist(listing.to_json())
    assert book.listing_of(book.leads["L1"]) is not None
    with pytest.raises(WatchlistError, match="already listed"):
        book.listing_from_lead("L1", "analyst1", AT)


# -- the book -------------------------------------------------------------------------------------


def test_the_book_keeps_each_leads_highest_revision_in_any_order() -> None:
    book = build_book(
        [orjson.dumps(lead("L1", 2, severity="major")), orjson.dumps(lead("L1", 1))], [], []
    )
    assert book.leads["L1"]["revision"] == 2 and book.leads["L1"]["severity"] == "major"
    assert book.first_emitted_at["L1"] == "2026-11-01T01:00:00+00:00"


def test_departments_see_only_the_leads_routed_to_them() -> None:
    local = lead("L1")  # p2p_lending -> cbrc
    wide = lead("L2", sector="farmer_cooperative", lead_department="nyj", cross_prefecture=True)
    book = build_book([orjson.dumps(local), orjson.dumps(wide)], [], [])
    ids = lambda departments: [x["lead_id"] for x in book.select(departments=departments)]  # noqa: E731
    assert ids(frozenset({"cbrc"})) == ["L1"]
    assert ids(frozenset({"nyj"})) == ["L2"]
    assert ids(frozenset({"dfb"})) == ids(frozenset({"pboc"})) == ["L1", "L2"]  # see all
    assert ids(frozenset({"jyj"})) == []
    assert visible_to(wide, None)


def test_filters_apply_to_the_latest_revision_and_status() -> None:
    book = LeadBook()
    book.apply_lead(lead("L1"))
    book.apply_lead(lead("L2", county="腾冲市", region="530581"))
    book.apply_status(book.status_change("L2", change(LeadStatus.VERIFYING)))
    assert [x["lead_id"] for x in book.select(LeadFilter(status="verifying"))] == ["L2"]
    assert [x["lead_id"] for x in book.select(LeadFilter(status="new"))] == ["L1"]
    assert [x["lead_id"] for x in book.select(LeadFilter(county="530581"))] == ["L2"]
    assert book.select(LeadFilter(department="cbrc", severity="major")) == []
    assert book.version == 3


def test_a_status_record_round_trips_with_its_history() -> None:
    record = LeadStatusRecord(
        "L1",
        (
            change(LeadStatus.VERIFYING),
            StatusChange(
                LeadStatus.CLOSED, "chief", AT + timedelta(days=2), "移交公安", Outcome.OTHER
            ),
        ),
    )
    again = LeadStatusRecord.from_json(record.to_json())
    assert again == record and again.outcome is Outcome.OTHER
    with pytest.raises(StatusChangeError, match="not a lead status record"):
        LeadStatusRecord.from_json(b'{"lead_id": "L1"}')
