"""The monthly report (五(四)) from a hand-made LeadBook: figures, Markdown and HTML."""

from __future__ import annotations

import stat
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from casework.charts import bar_chart, funnel_chart, line_chart, nice_step
from casework.lead_book import LeadBook
from casework.lead_status import LeadStatus, LeadStatusRecord, Outcome, StatusChange
from casework.monthly_report import (
    CARRIED_OVER,
    CROSS_PREFECTURE,
    NEW,
    RISK_HIGH,
    RISK_LOW,
    MonitoredAccount,
    MonthlyReport,
    ReportError,
    SchemeLine,
    build_monthly_report,
    month_bounds,
    recent_months,
)
from casework.pdf import CHROMIUM_ENV, html_to_pdf
from casework.report_render import SECTOR_NAMES, render_html, render_markdown
from models.schemes import COLLECTOR, CONTROLLER, PAYOUT
from models.sketch import HyperLogLog, counterparty_hash
from models.watchlist import EntityType, ListingSource, WatchlistEntry
from schemas.lead import Lead, LeadKind, Severity, TrailDirection, TrailLink
from schemas.sectors import SECTORS

GENERATED = datetime(2026, 12, 3, 1, 0, tzinfo=UTC)
COUNTY_REGIONS = {"隆阳区": "530502", "施甸县": "530521", "昌宁县": "530524", "腾冲市": "530581"}


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def lead_value(
    lead_id: str,
    account_id: str,
    emitted_at: str,
    evidence: tuple[str, str],
    revision: int = 1,
    county: str = "隆阳区",
    sector: str = "p2p_lending",
    severity: Severity = Severity.GENERAL,
    **changes: Any,
) -> bytes:
    """A lead revision exactly as the worker publishes it (Lead.to_json)."""
    lead = Lead(
        lead_id=lead_id,
        revision=revision,
        account_id=account_id,
        bank_id="BSCB",
        region=COUNTY_REGIONS[county],
        county=county,
        sector=sector,
        seed_category=SECTORS[sector].seed_category,
        lead_department=SECTORS[sector].department.code,
        score=0.71,
        threshold=0.62,
        model_version="m1",
        severity=severity,
        cross_prefecture=False,
        cross_province_major=False,
        money_raised_fen=12_000_000,
        participants=40,
        first_evidence_time=utc(evidence[0]),
        last_evidence_time=utc(evidence[1]),
        emitted_at=utc(emitted_at),
        customer_name=None,
        evidence_tx_ids=("T-1", "T-2"),
    )
    return replace(lead, **changes).to_json()


def status_value(lead_id: str, *changes: tuple[LeadStatus, str, Outcome | None]) -> bytes:
    history = tuple(
        StatusChange(status, "analyst1", utc(at), outcome=outcome)
        for status, at, outcome in changes
    )
    return LeadStatusRecord(lead_id, history).to_json()


def scenario_book() -> LeadBook:
    """November 2026 (Beijing time: 2026-10-31T16:00Z .. 2026-11-30T16:00Z):

    new: L-new-a (emitted 17:00Z on 31 October: 1 November in Baoshan), L-new-b, L-new-c;
    carried over: L-oct (23:00 Beijing on 31 October), L-closed-in (closed in November);
    new by its evidence: L-dec (emitted 1 December in Baoshan, evidence from November);
    not in November: L-closed-before (closed in October), L-jun (June).
    """
    book = LeadBook()
    leads = [
        lead_value(
            "L-new-a",
            "A-1",
            "2026-10-31T17:00:00",
            ("2026-11-01T00:00:00", "2026-11-04T00:00:00"),
            severity=Severity.MAJOR,
            cross_prefecture=True,
        ),
        # Its second revision: more money; the first emission still dates the lead.
        lead_value(
            "L-new-a",
            "A-1",
            "2026-11-05T00:00:00",
            ("2026-11-01T00:00:00", "2026-11-05T00:00:00"),
            revision=2,
            severity=Severity.MAJOR,
            cross_prefecture=True,
            money_raised_fen=35_000_000,
            participants=120,
        ),
        lead_value(
            "L-new-c", "A-1", "2026-11-15T00:00:00", ("2026-11-12T00:00:00", "2026-11-14T00:00:00")
        ),
        lead_value(
            "L-new-b",
            "A-b",
            "2026-11-20T00:00:00",
            ("2026-11-18T00:00:00", "2026-11-19T00:00:00"),
            county="施甸县",
            severity=Severity.CASE_RELATED,
            customer_name="施甸某某农业合作社",
        ),
        lead_value(
            "L-oct",
            "A-oct",
            "2026-10-31T15:00:00",
            ("2026-10-25T00:00:00", "2026-10-30T00:00:00"),
            county="腾冲市",
            sector="wealth_management",
        ),
        lead_value(
            "L-closed-in",
            "A-ci",
            "2026-10-10T00:00:00",
            ("2026-10-01T00:00:00", "2026-10-09T00:00:00"),
            county="昌宁县",
            sector="private_school",
        ),
        lead_value(
            "L-dec",
            "A-dec",
            "2026-11-30T17:00:00",
            ("2026-11-29T00:00:00", "2026-11-30T10:00:00"),
        ),
        lead_value(
            "L-closed-before",
            "A-cb",
            "2026-10-05T00:00:00",
            ("2026-10-01T00:00:00", "2026-10-04T00:00:00"),
        ),
        lead_value(
            "L-jun", "A-jun", "2026-06-10T00:00:00", ("2026-06-01T00:00:00", "2026-06-09T00:00:00")
        ),
    ]
    for value in leads:
        book.apply_lead(value)
    statuses = [
        status_value(
            "L-new-a",
            (LeadStatus.TRACKING, "2026-11-01T05:00:00", None),  # 12 h after emission
            (LeadStatus.VERIFYING, "2026-11-03T00:00:00", None),
        ),
        status_value(
            "L-new-b",
            (LeadStatus.TRACKING, "2026-11-20T06:00:00", None),  # 6 h
            (LeadStatus.HANDED_OVER, "2026-11-22T00:00:00", None),
            # After the month: not in November's figures.
            (LeadStatus.CLOSED, "2026-12-02T00:00:00", Outcome.CONFIRMED),
        ),
        status_value(
            "L-closed-in",
            (LeadStatus.TRACKING, "2026-10-11T00:00:00", None),
            (LeadStatus.CLOSED, "2026-11-10T00:00:00", Outcome.CONFIRMED),  # 744 h
        ),
        status_value(
            "L-closed-before",
            (LeadStatus.CLOSED, "2026-10-20T00:00:00", Outcome.NOT_CONFIRMED),
        ),
        status_value("L-jun", (LeadStatus.CLOSED, "2026-06-20T00:00:00", Outcome.NOT_CONFIRMED)),
    ]
    for value in statuses:
        book.apply_status(value)
    book.apply_watchlist(
        WatchlistEntry(
            entity_type=EntityType.ACCOUNT,
            entity_id="A-b",
            source=ListingSource.POLICE,
            reason="公安机关立案侦查",
            added_by="analyst1",
            added_at=utc("2026-11-21T00:00:00"),
        ).to_json()
    )
    return book


MONITORED = [
    MonitoredAccount("A-1", "BSCB", "隆阳区", "p2p_lending"),
    MonitoredAccount("A-1", "BSCB", "隆阳区", "p2p_lending"),  # one account, two reports
    MonitoredAccount("X-1", "BSCB", "隆阳区", "retail"),
    MonitoredAccount("X-2", "YNRCU", "龙陵县", "other"),
    MonitoredAccount("A-oct", "BSCB", "腾冲市", "wealth_management"),
]


@pytest.fixture(scope="module")
def report() -> MonthlyReport:
    return build_monthly_report(scenario_book(), "2026-11", MONITORED, GENERATED)


def standings(report: MonthlyReport) -> dict[str, str]:
    return {line.lead_id: line.standing for e in report.suspected for line in e.leads}


# -- months and which leads are in one --------------------------------------------------------


def test_months_are_beijing_calendar_months() -> None:
    start, end = month_bounds("2026-12")
    assert start.astimezone(UTC) == utc("2026-11-30T16:00:00")
    assert end.astimezone(UTC) == utc("2026-12-31T16:00:00")
    assert recent_months("2027-02", 4) == ["2026-11", "2026-12", "2027-01", "2027-02"]
    for bad in ("2026-13", "2026-1", "26-11", "2026/11", ""):
        with pytest.raises(ReportError, match="YYYY-MM"):
            month_bounds(bad)


def test_new_carried_over_and_by_evidence_across_the_beijing_month_boundary(
    report: MonthlyReport,
) -> None:
    assert standings(report) == {
        "L-new-a": NEW,  # 17:00Z on 31 October is 1 November in Baoshan
        "L-new-b": NEW,
        "L-new-c": NEW,
        "L-oct": CARRIED_OVER,  # 23:00 on 31 October in Baoshan
        "L-closed-in": CARRIED_OVER,
        "L-dec": NEW,  # emitted on 1 December in Baoshan, but its activity began in November
    }
    assert (report.leads_new, report.leads_carried_over, report.leads_by_evidence) == (4, 2, 0)
    assert report.leads_in_month == 6
    assert report.period_start.isoformat() == "2026-11-01T00:00:00+08:00"


def test_figures_per_county_and_sector(report: MonthlyReport) -> None:
    counties = {a.name: a for a in report.counties}
    # The five counties always, in the plan's order; other areas only when they have figures.
    assert [a.name for a in report.counties] == ["隆阳区", "施甸县", "龙陵县", "昌宁县", "腾冲市"]
    longyang = counties["隆阳区"]
    assert (longyang.monitored, longyang.suspected, longyang.leads) == (3, 2, 3)
    assert (longyang.new_leads, longyang.serious_leads, longyang.high_risk) == (3, 1, True)
    assert (counties["龙陵县"].monitored, counties["龙陵县"].suspected) == (1, 0)
    # Suspected accounts without reports this month are still counted as monitored.
    assert (counties["施甸县"].monitored, counties["施甸县"].suspected) == (1, 1)
    assert not counties["腾冲市"].high_risk
    sectors = {a.name: a for a in report.sectors}
    assert list(sectors) == [
        "p2p_lending",
        "wealth_management",
        "private_school",
        "retail",
        "other",
    ]
    p2p = sectors["p2p_lending"]
    assert (p2p.monitored, p2p.suspected, p2p.leads, p2p.serious_leads) == (3, 3, 4, 2)
    assert (report.entities_monitored, report.entities_suspected) == (7, 5)
    assert report.high_risk_counties == ("隆阳区", "施甸县")
    assert report.high_risk_sectors == ("p2p_lending",)


def test_risk_level_and_the_suspected_list(report: MonthlyReport) -> None:
    risk = report.risk
    assert risk.level == RISK_HIGH  # a case-related lead
    assert (risk.major, risk.case_related, risk.cross_prefecture) == (1, 1, 1)
    first = report.suspected[0]  # most serious first
    assert (first.account_id, first.customer_name) == ("A-b", "施甸某某农业合作社")
    [listed] = first.leads
    assert (listed.listed, listed.listing_source, listed.status) == (True, "police", "handed_over")
    a1 = next(e for e in report.suspected if e.account_id == "A-1")
    assert [line.lead_id for line in a1.leads] == ["L-new-a", "L-new-c"]
    newest = a1.leads[0]
    assert (newest.money_raised_fen, newest.participants) == (35_000_000, 120)
    assert newest.flags == ("cross_prefecture",)
    assert newest.department == "cbrc" and not newest.listed


def test_handling_as_of_the_end_of_the_month(report: MonthlyReport) -> None:
    handling = report.handling
    # L-dec did not exist at the end of November; L-new-b's closing came in December.
    assert handling.status_counts == {
        "new": 2,
        "tracking": 0,
        "verifying": 1,
        "handed_over": 1,
        "closed": 1,
    }
    assert handling.outcome_counts == {"confirmed": 1, "not_confirmed": 0, "other": 0}
    assert dict(handling.funnel) == {
        "new": 5,
        "tracking": 3,
        "verifying": 3,
        "handed_over": 2,
        "closed": 1,
    }
    assert handling.first_actions_in_month == 2
    assert handling.median_hours_to_first_action == pytest.approx(9.0)  # 12 h and 6 h
    assert handling.closed_in_month == 1
    assert handling.median_hours_to_close == pytest.approx(744.0)


def test_trend_over_recent_months(report: MonthlyReport) -> None:
    trend = {p.month: (p.new, p.in_month, p.closed) for p in report.trend}
    assert list(trend) == ["2026-06", "2026-07", "2026-08", "2026-09", "2026-10", "2026-11"]
    assert trend["2026-06"] == (1, 1, 1)
    assert trend["2026-07"] == (0, 0, 0)
    assert trend["2026-10"] == (3, 3, 1)
    assert trend["2026-11"] == (4, 6, 1)


def test_ruled_out_leads_do_not_raise_the_risk() -> None:
    book = LeadBook()
    book.apply_lead(
        lead_value(
            "L1",
            "A1",
            "2026-11-02T00:00:00",
            ("2026-11-01T00:00:00", "2026-11-02T00:00:00"),
            severity=Severity.CASE_RELATED,
        )
    )
    book.apply_status(
        status_value("L1", (LeadStatus.CLOSED, "2026-11-03T00:00:00", Outcome.NOT_CONFIRMED))
    )
    built = build_monthly_report(book, "2026-11", [], GENERATED)
    assert built.risk.level == RISK_LOW and built.high_risk_counties == ()
    assert built.leads_new == 1


# -- suspected schemes ------------------------------------------------------------------------


def sketch(payers: range) -> str:
    """The participants sketch of an account these payers paid."""
    payer_set = HyperLogLog()
    for payer in payers:
        payer_set.add(counterparty_hash(f"P{payer}"))
    return payer_set.to_text()


def trail_link(source_lead_id: str, source_account: str, amount_fen: int, at: str) -> TrailLink:
    return TrailLink(
        source_lead_id=source_lead_id,
        source_account=source_account,
        direction=TrailDirection.DOWNSTREAM.value,
        hop=1,
        path=(source_account,),
        amount_fen=amount_fen,
        transfers=5,
        first_tx_time=utc(at),
        last_tx_time=utc(at) + timedelta(days=2),
    )


def scheme_book() -> LeadBook:
    """Three schemes and a lone lead, seen from November 2026:

    three banks: collectors S-c1 (BSCB, 隆阳区; its evidence begins 00:30 on 1 November in
    Baoshan) and S-c2 (YNRCU, 腾冲市) pass money to S-k (ICBC-BS, Kunming), a linked lead.
    Each lead alone is general; the scheme, 5.5 million yuan from 50 payers (5 of them paid
    both collectors), is major. New in November.
    September: collector S-sep (closed in September) and its linked controller S-sep-k
    (October): begun in September, so carried over in October and November, never new.
    ruled out: two accounts of one customer (BSCB-C9), both closed as not confirmed in
    November: in the month, but not counted by class.
    S-lone: one account, no scheme.
    """
    book = LeadBook()
    leads = [
        lead_value(
            "S-c1",
            "C-1",
            "2026-10-31T17:00:00",
            ("2026-10-31T16:30:00", "2026-11-06T00:00:00"),
            money_raised_fen=300_000_000,
            participants=25,
            participants_sketch=sketch(range(0, 25)),
        ),
        lead_value(
            "S-c2",
            "C-2",
            "2026-11-05T00:00:00",
            ("2026-11-02T00:00:00", "2026-11-06T00:00:00"),
            county="腾冲市",
            bank_id="YNRCU",
            money_raised_fen=250_000_000,
            participants=30,
            participants_sketch=sketch(range(20, 50)),
        ),
        lead_value(
            "S-k",
            "K-1",
            "2026-11-07T00:00:00",
            ("2026-11-03T00:00:00", "2026-11-06T00:00:00"),
            bank_id="ICBC-BS",
            region="530102",  # Kunming: the money leaves the prefecture
            county="隆阳区",
            sector="other",
            money_raised_fen=350_000_000,
            participants=2,
            kind=LeadKind.LINKED.value,
            hop=1,
            trail=(
                trail_link("S-c1", "C-1", 200_000_000, "2026-11-03T00:00:00"),
                trail_link("S-c2", "C-2", 150_000_000, "2026-11-04T00:00:00"),
            ),
        ),
        lead_value(
            "S-sep",
            "SEP-1",
            "2026-09-22T00:00:00",
            ("2026-09-20T00:00:00", "2026-09-21T00:00:00"),
        ),
        lead_value(
            "S-sep-k",
            "SEP-K",
            "2026-10-12T00:00:00",
            ("2026-10-10T00:00:00", "2026-10-11T00:00:00"),
            participants=1,
            kind=LeadKind.LINKED.value,
            hop=1,
            trail=(trail_link("S-sep", "SEP-1", 15_000_000, "2026-10-10T00:00:00"),),
        ),
        lead_value(
            "S-ro1",
            "RO-1",
            "2026-11-10T00:00:00",
            ("2026-11-08T00:00:00", "2026-11-09T00:00:00"),
            money_raised_fen=300_000_000,
            customer_id="BSCB-C9",
        ),
        lead_value(
            "S-ro2",
            "RO-2",
            "2026-11-10T00:00:00",
            ("2026-11-08T00:00:00", "2026-11-09T00:00:00"),
            money_raised_fen=300_000_000,
            customer_id="BSCB-C9",
        ),
        lead_value(
            "S-lone", "L-1", "2026-11-12T00:00:00", ("2026-11-11T00:00:00", "2026-11-12T00:00:00")
        ),
    ]
    for value in leads:
        book.apply_lead(value)
    for value in (
        # Closed on 29 September in Baoshan: not in October by itself.
        status_value("S-sep", (LeadStatus.CLOSED, "2026-09-29T00:00:00", Outcome.CONFIRMED)),
        status_value("S-sep-k", (LeadStatus.TRACKING, "2026-10-20T00:00:00", None)),
        status_value("S-ro1", (LeadStatus.CLOSED, "2026-11-20T00:00:00", Outcome.NOT_CONFIRMED)),
        status_value("S-ro2", (LeadStatus.CLOSED, "2026-11-21T00:00:00", Outcome.NOT_CONFIRMED)),
    ):
        book.apply_status(value)
    return book


def scheme_lines(book: LeadBook, month: str) -> dict[str, SchemeLine]:
    """The month's schemes by their first lead (scheme ids are hashes)."""
    built = build_monthly_report(book, month, [], GENERATED)
    return {line.lead_ids[0]: line for line in built.schemes}


def test_schemes_are_new_in_the_month_their_first_lead_began() -> None:
    book = scheme_book()
    november = build_monthly_report(book, "2026-11", [], GENERATED)
    figures = november.scheme_figures
    assert (figures.in_month, figures.new, figures.carried_over, figures.by_evidence) == (
        3,
        2,
        1,
        0,
    )
    lines = scheme_lines(book, "2026-11")
    assert set(lines) == {"S-c1", "S-ro1", "S-sep"}
    assert (lines["S-c1"].standing, lines["S-ro1"].standing) == (NEW, NEW)
    # Begun in September: carried over, though its only lead in October was new then.
    assert lines["S-sep"].standing == CARRIED_OVER
    assert scheme_lines(book, "2026-10")["S-sep"].standing == CARRIED_OVER
    assert scheme_lines(book, "2026-09")["S-sep"].standing == NEW
    # S-c1 began at 00:30 on 1 November in Baoshan: not in October at all.
    assert set(scheme_lines(book, "2026-10")) == {"S-sep"}
    october = build_monthly_report(book, "2026-10", [], GENERATED).scheme_figures
    assert (october.in_month, october.new, october.carried_over) == (1, 0, 1)


def test_a_scheme_across_three_banks_counts_once_with_its_own_class() -> None:
    lines = scheme_lines(scheme_book(), "2026-11")
    three_banks = lines["S-c1"]
    assert three_banks.lead_ids == ("S-c1", "S-c2", "S-k")
    assert three_banks.banks == ("BSCB", "ICBC-BS", "YNRCU")
    assert three_banks.counties == ("云南省其他地区", "腾冲市", "隆阳区")
    assert three_banks.accounts == 3
    assert dict(three_banks.accounts_by_role) == {COLLECTOR: 2, CONTROLLER: 1, PAYOUT: 0}
    assert (three_banks.leads, three_banks.linked_leads) == (3, 1)
    # The collectors' money together; their payers once each (5 paid both).
    assert (three_banks.money_raised_fen, three_banks.participants) == (550_000_000, 50)
    # Each lead is general; the scheme's totals make it major.
    assert three_banks.severity == Severity.MAJOR.value
    assert three_banks.flags == (CROSS_PREFECTURE,)
    assert three_banks.lead_statuses == (("new", 3),)


def test_schemes_by_class_leave_out_the_ruled_out_ones() -> None:
    book = scheme_book()
    figures = build_monthly_report(book, "2026-11", [], GENERATED).scheme_figures
    lines = scheme_lines(book, "2026-11")
    ruled_out = lines["S-ro1"]
    assert ruled_out.ruled_out and ruled_out.severity == Severity.MAJOR.value
    assert ruled_out.lead_statuses == (("closed", 2),)
    assert lines["S-sep"].lead_statuses == (("tracking", 1), ("closed", 1))
    # Major: the three-bank scheme only; general: the September one.
    assert figures.by_severity == {"general": 1, "major": 1, "case_related": 0}
    assert (figures.cross_prefecture, figures.cross_province_major) == (1, 0)


def test_linked_leads_count_as_leads_and_name_their_scheme() -> None:
    book = scheme_book()
    built = build_monthly_report(book, "2026-11", [], GENERATED)
    lines = {line.lead_id: line for e in built.suspected for line in e.leads}
    # S-sep, closed in September, is the only lead not in November; S-sep-k is carried over.
    assert set(lines) == {"S-c1", "S-c2", "S-k", "S-sep-k", "S-ro1", "S-ro2", "S-lone"}
    assert (built.leads_in_month, built.leads_new, built.leads_linked) == (7, 6, 2)
    assert lines["S-sep-k"].standing == CARRIED_OVER
    assert (lines["S-k"].kind, lines["S-k"].hop) == (LeadKind.LINKED.value, 1)
    assert lines["S-c1"].kind == LeadKind.SCORED.value
    assert lines["S-k"].scheme_id == lines["S-c1"].scheme_id == book.scheme_of("S-c1").scheme_id
    assert lines["S-lone"].scheme_id is None


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_report_shows_the_schemes(lang: str) -> None:
    book = scheme_book()
    built = build_monthly_report(book, "2026-11", [], GENERATED)
    scheme_id = book.scheme_of("S-c1").scheme_id
    page = parse(render_html(built, lang))
    assert figure(page, "schemes-in-month") == "3"
    assert figure(page, "schemes-new") == "2"
    assert figure(page, "schemes-carried-over") == "1"
    assert figure(page, "schemes-severity", severity="major") == "1"
    assert figure(page, "leads-linked") == "2"
    assert figure(page, "scheme-id", scheme=scheme_id) == scheme_id
    sep = "、" if lang == "zh" else ", "
    assert figure(page, "scheme-banks", scheme=scheme_id) == sep.join(("BSCB", "ICBC-BS", "YNRCU"))
    assert figure(page, "scheme-money-raised", scheme=scheme_id) == "5,500,000.00"
    assert figure(page, "scheme-participants", scheme=scheme_id) == "50"
    assert figure(page, "scheme-accounts", scheme=scheme_id, value="3").startswith("3")
    assert figure(page, "scheme-standing", scheme=scheme_id, value=NEW)
    assert figure(page, "scheme-statuses", scheme=scheme_id, value="new:3")
    assert figure(page, "scheme-class", scheme=scheme_id, value="major", flags=CROSS_PREFECTURE)
    ruled_out = figure(page, "scheme-class", scheme=book.scheme_of("S-ro1").scheme_id)
    assert ruled_out.endswith("已排除）" if lang == "zh" else "ruled out)")
    assert figure(page, "lead-scheme", lead="S-k") == scheme_id
    assert figure(page, "lead-scheme", lead="S-lone") == "—"
    linked = figure(page, "flags", lead="S-k", kind="linked")
    assert linked.startswith("关联（第1跳）" if lang == "zh" else "linked (hop 1)")
    text = render_markdown(built, lang)
    assert f"| {scheme_id} |" in text and "5,500,000.00" in text


# -- rendering --------------------------------------------------------------------------------


class FigureParser(HTMLParser):
    """Every element with data-figure: its data-* attributes and its text."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: list[tuple[dict[str, str], str]] = []
        self.charts: dict[str, list[dict[str, str]]] = {}
        self._open: dict[str, str] | None = None
        self._text: list[str] = []
        self._chart: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        data = {k[5:]: v or "" for k, v in attrs if k.startswith("data-")}
        if tag == "svg" and "chart" in data:
            self._chart = data["chart"]
            self.charts[self._chart] = []
        elif self._chart is not None and "label" in data:
            self.charts[self._chart].append(data)
        if "figure" in data:
            self._open, self._text = data, []

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self._chart = None
        if tag == "td" and self._open is not None:
            self.cells.append((self._open, "".join(self._text)))
            self._open = None

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._text.append(data)


def parse(html: str) -> FigureParser:
    parser = FigureParser()
    parser.feed(html)
    return parser


def figure(parser: FigureParser, name: str, **who: str) -> str:
    found = [
        text
        for attrs, text in parser.cells
        if attrs["figure"] == name and all(attrs.get(k) == v for k, v in who.items())
    ]
    assert len(found) == 1, (name, who, found)
    return found[0]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_html_holds_the_figures(report: MonthlyReport, lang: str) -> None:
    html = render_html(report, lang)
    page = parse(html)
    assert figure(page, "entities-monitored") == "7"
    assert figure(page, "entities-suspected") == "5"
    assert figure(page, "leads-new") == "4"
    assert figure(page, "leads-carried-over") == "2"
    assert figure(page, "leads-by-evidence") == "0"
    assert figure(page, "risk-level", level="high") == ("高" if lang == "zh" else "high")
    assert figure(page, "high-risk-counties", names="隆阳区|施甸县")
    assert figure(page, "suspected", county="隆阳区") == "2"
    assert figure(page, "monitored", county="隆阳区") == "3"
    assert figure(page, "leads", sector="p2p_lending") == "4"
    assert figure(page, "status", lead="L-new-b", value="handed_over")
    assert figure(page, "listed", lead="L-new-b", value="yes")
    assert figure(page, "money-raised", lead="L-new-a") == "350,000.00"
    assert figure(page, "standing", lead="L-dec", value=NEW)
    assert figure(page, "status-count", status="verifying") == "1"
    assert figure(page, "outcome-count", outcome="confirmed") == "1"
    assert figure(page, "median-hours-to-first-action") == "9.0"
    assert figure(page, "median-hours-to-close") == "744.0"
    assert figure(page, "trend-in-month", month="2026-11") == "6"
    assert figure(page, "trend-new", month="2026-10") == "3"
    # The charts carry the same figures.
    by_county = {bar["label"]: bar["value"] for bar in page.charts["leads-by-county"]}
    longyang = "隆阳区" if lang == "zh" else "Longyang District"
    assert by_county[longyang] == "3"
    funnel = [bar["value"] for bar in page.charts["status-funnel"]]
    assert funnel == ["5", "3", "3", "2", "1"]
    assert {p["value"] for p in page.charts["trend"] if p["label"] == "2026-11"} == {"6", "4", "1"}
    # Self-contained: nothing to fetch when printed.
    assert "<script" not in html and "http://" not in html.replace("http://www.w3.org", "")
    if lang == "zh":
        assert "保山市防范和处置非法集资监测月报" in html and "2026年11月" in html
    else:
        assert "Baoshan City illegal fundraising monitoring report" in html
        assert "November 2026" in html


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_markdown_holds_the_figures(report: MonthlyReport, lang: str) -> None:
    text = render_markdown(report, lang)
    longyang = "隆阳区" if lang == "zh" else "Longyang District"
    assert f"| {longyang} | 3 | 2 | 3 | 3 | 1 |" in text
    assert "L-new-b" in text and "350,000.00" in text
    assert text.startswith("# 保山市" if lang == "zh" else "# Baoshan")
    assert ("2026年11月" if lang == "zh" else "November 2026") in text


def test_an_empty_month_renders() -> None:
    empty = build_monthly_report(LeadBook(), "2026-02", [], GENERATED, months_of_trend=3)
    assert empty.risk.level == RISK_LOW and empty.suspected == ()
    assert empty.handling.median_hours_to_close is None
    assert empty.schemes == () and empty.scheme_figures.in_month == 0
    for lang in ("zh", "en"):
        page = parse(render_html(empty, lang))
        assert figure(page, "entities-monitored") == "0"
        assert figure(page, "median-hours-to-first-action") == "—"
        assert figure(page, "suspected", county="腾冲市") == "0"
        assert figure(page, "schemes-in-month") == "0"
        assert figure(page, "schemes-severity", severity="major") == "0"
        assert "2026" in render_markdown(empty, lang)


def test_text_is_escaped() -> None:
    book = LeadBook()
    book.apply_lead(
        lead_value(
            "L<1>",
            "A&1",
            "2026-11-02T00:00:00",
            ("2026-11-01T00:00:00", "2026-11-02T00:00:00"),
            customer_name='<script>alert("x")</script>',
        )
    )
    html = render_html(build_monthly_report(book, "2026-11", [], GENERATED))
    assert "<script>" not in html
    assert "&lt;script&gt;" in html and "A&amp;1" in html
    assert figure(parse(html), "lead-id", lead="L<1>") == "L<1>"


def test_every_sector_has_a_display_name() -> None:
    assert set(SECTOR_NAMES) == set(SECTORS)


# -- charts -----------------------------------------------------------------------------------


def test_chart_axes_and_empty_charts() -> None:
    assert [nice_step(n) for n in (0, 3, 7, 40, 130)] == [1, 1, 2, 10, 50]
    assert "—" in bar_chart([], "t", "c")
    assert 'data-value="0"' in bar_chart([("a", 0)], "t", "c")
    assert "nothing" in funnel_chart([("a", 0)], "t", "c", no_data="nothing")
    svg = line_chart(["1", "2"], [], "t", "c", no_data="none")
    assert svg.startswith("<svg") and "none" in svg


# -- PDF --------------------------------------------------------------------------------------


def test_a_missing_chromium_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CHROMIUM_ENV, str(tmp_path / "no-chromium"))
    with pytest.raises(ReportError, match=r"deploy/browser/install\.sh"):
        html_to_pdf("<p>x</p>", tmp_path / "out.pdf")


def test_a_failing_chromium_is_reported_with_its_stderr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = tmp_path / "chromium"
    fake.write_text("#!/bin/sh\necho 'cannot open display' >&2\nexit 3\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv(CHROMIUM_ENV, str(fake))
    target = tmp_path / "out.pdf"
    with pytest.raises(ReportError, match=r"exit status 3.*cannot open display"):
        html_to_pdf("<p>x</p>", target)
    assert not target.exists()


def test_generated_times_are_shown_in_beijing_time(report: MonthlyReport) -> None:
    assert "2026-12-03 09:00" in render_markdown(report)
    assert "2026-11-01 — 2026-11-30" in render_markdown(report)
    assert report.period_end - report.period_start == timedelta(days=30)
