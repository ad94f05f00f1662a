"""The monthly monitoring report (五(四) of the Baoshan plan), as plain figures.

Per county and per sector: the entities (accounts) monitored and those suspected of taking
public funds, with their leads; for the city: the overall risk, the high-risk counties and
sectors, new and carried-over leads, how leads were handled, and the trend of recent months.
``casework.report_render`` turns a ``MonthlyReport`` into Markdown or HTML.

Months are calendar months in Beijing time (UTC+8): the plan is a local one, so a lead
emitted at 2026-11-30T20:00Z (01:00 on 1 December in Baoshan) belongs to December.

Which leads are in a month: a lead is *in* the month when

- it is **new** in it: it started in the month, a lead starting when its first revision was
  emitted or, if earlier, when its evidence begins (a lead raised from late or replayed
  reports counts in the month of the activity);
- or it is **carried over** into it: started before the month, and not closed when the
  month began (its status at the month's start, from its history, is not ``closed``);
- or its **evidence** falls in it: first_evidence_time..last_evidence_time overlaps the month
  (a lead emitted after the month ended, or closed before it began, but whose evidence lies in
  the month). A report rebuilt later can therefore list leads found after the month ended.

Statuses are taken as they stood at the end of the month (each lead's history up to then).
A lead's figures (severity, money raised, participants) are those of its latest revision,
and "listed" is the negative list as it stands when the report is generated. Linked leads
(kind "linked", raised by a money trail) count as leads like the others, and are marked so.

Which suspected schemes (models.schemes, built from all the leads as they stand) are in a
month: a scheme is *in* the month when one of its leads is, and it is

- **new** in the month its first lead started (by the lead rule above: the earliest first
  emission or evidence among its leads), so a scheme begun in September is not new in
  October even if most of its leads were raised in October;
- **carried over** when it started earlier and one of its leads is new or carried over in
  the month (it grew, or its casework is still open);
- otherwise in the month **by evidence**.

A scheme counts once however many banks, counties or leads it spans. The counts by class
leave out schemes ruled out by the end of the month (every lead closed as not confirmed), as
the leads' counts do.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from casework.lead_book import LeadBook
from casework.lead_status import STATUS_ORDER, LeadStatus, Outcome, StatusChange
from models.schemes import ROLES, Scheme, scheme_of_leads
from schemas.errors import FundwatchError
from schemas.glossary import BAOSHAN_COUNTIES, BEIJING
from schemas.lead import LeadKind, Severity
from schemas.sectors import SECTORS

# Why a lead stands in the month (see the module docstring).
NEW = "new"
CARRIED_OVER = "carried_over"
BY_EVIDENCE = "by_evidence"

# Lead flags shown with each lead.
CROSS_PREFECTURE = "cross_prefecture"
CROSS_PROVINCE_MAJOR = "cross_province_major"
WATCHLIST_MATCH = "watchlist_match"

# Risk levels of the city roll-up, highest first.
RISK_HIGH = "high"
RISK_ELEVATED = "elevated"
RISK_LOW = "low"
# The city's risk is high from this many major leads on (one case-related or cross-province
# major lead is enough by itself: the plan has those handled at once or reported upward).
HIGH_RISK_MAJOR_LEADS = 3
# A county or sector is high-risk with one serious lead, or with this many leads of any kind.
HIGH_RISK_AREA_LEADS = 3
SERIOUS_SEVERITIES = frozenset({Severity.MAJOR.value, Severity.CASE_RELATED.value})

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_SEVERITY_RANK = {
    Severity.GENERAL.value: 0,
    Severity.MAJOR.value: 1,
    Severity.CASE_RELATED.value: 2,
}


class ReportError(FundwatchError):
    """A report that cannot be made (a bad month, a failed PDF print); the message says why."""


@dataclass(frozen=True, slots=True)
class MonitoredAccount:
    """An account seen in reports whose tx_time falls in the month."""

    account_id: str
    bank_id: str
    county: str  # models.leads.county_of(region): 隆阳区 ... or a coarser area
    sector: str  # the report's industry, "other" when it has none


@dataclass(frozen=True, slots=True)
class LeadLine:
    """One lead of a suspected entity, as it stood at the end of the month."""

    lead_id: str
    severity: str  # schemas.lead.Severity value
    flags: tuple[str, ...]  # CROSS_PREFECTURE, CROSS_PROVINCE_MAJOR, WATCHLIST_MATCH
    money_raised_fen: int
    participants: int
    status: str  # casework.lead_status.LeadStatus value at the end of the month
    outcome: str | None  # the Outcome value when closed by the end of the month
    department: str  # the lead department's code
    listed: bool  # the account or customer is on the negative list
    listing_source: str | None  # the listing's ListingSource value
    standing: str  # NEW, CARRIED_OVER or BY_EVIDENCE
    first_emitted_at: datetime
    kind: str  # schemas.lead.LeadKind value: scored, or linked by a money trail
    hop: int  # a linked lead's distance from the scored lead its trail starts at
    scheme_id: str | None  # the suspected scheme the lead belongs to, if any


@dataclass(frozen=True, slots=True)
class SuspectedEntity:
    """An account with at least one lead in the month."""

    account_id: str
    bank_id: str
    customer_name: str | None
    county: str
    sector: str
    leads: tuple[LeadLine, ...]  # most serious first


@dataclass(frozen=True, slots=True)
class AreaFigures:
    """One county's or one sector's figures."""

    name: str  # a county name, or a sector code
    monitored: int  # accounts reported in the month, plus suspected ones not reported
    suspected: int  # accounts with a lead in the month
    leads: int  # leads in the month
    new_leads: int
    serious_leads: int  # major or case-related leads not ruled out by the end of the month
    high_risk: bool


@dataclass(frozen=True, slots=True)
class RiskAssessment:
    """The city's overall risk, from the leads not ruled out by the end of the month."""

    level: str  # RISK_HIGH, RISK_ELEVATED or RISK_LOW
    major: int
    case_related: int
    cross_prefecture: int
    cross_province_major: int


@dataclass(frozen=True, slots=True)
class Handling:
    """How leads were handled: statuses at the end of the month and the month's actions."""

    status_counts: dict[str, int]  # every LeadStatus value, over leads emitted by month end
    outcome_counts: dict[str, int]  # every Outcome value, over leads closed at month end
    funnel: tuple[tuple[str, int], ...]  # leads that had reached each status by month end
    first_actions_in_month: int  # leads whose first status change was in the month
    closed_in_month: int  # leads closed in the month (and still closed at its end)
    median_hours_to_first_action: float | None  # first emission -> first status change
    median_hours_to_close: float | None  # first emission -> closing


@dataclass(frozen=True, slots=True)
class SchemeLine:
    """One suspected scheme in the month: its figures as they stand, its leads' statuses at
    the end of the month."""

    scheme_id: str
    lead_ids: tuple[str, ...]
    severity: str  # schemas.lead.Severity value
    flags: tuple[str, ...]  # CROSS_PROVINCE_MAJOR, CROSS_PREFECTURE
    banks: tuple[str, ...]
    counties: tuple[str, ...]
    money_raised_fen: int  # its collector accounts together
    participants: int  # its collectors' distinct payers, each once
    accounts: int
    accounts_by_role: tuple[tuple[str, int], ...]  # (models.schemes role, accounts), ROLES order
    leads: int
    linked_leads: int
    department: str  # the lead department's code
    lead_statuses: tuple[tuple[str, int], ...]  # (LeadStatus value, leads) at month end
    standing: str  # NEW, CARRIED_OVER or BY_EVIDENCE
    ruled_out: bool  # every lead closed as not confirmed by the end of the month
    first_activity: datetime
    last_activity: datetime


@dataclass(frozen=True, slots=True)
class SchemeFigures:
    """How many schemes were in the month, and of which class (those not ruled out)."""

    in_month: int
    new: int
    carried_over: int
    by_evidence: int
    by_severity: dict[str, int]  # every Severity value
    cross_prefecture: int
    cross_province_major: int


@dataclass(frozen=True, slots=True)
class TrendPoint:
    month: str
    new: int  # leads first emitted in the month
    in_month: int  # leads in the month (new, carried over or by evidence)
    closed: int  # leads closed in the month


@dataclass(frozen=True, slots=True)
class MonthlyReport:
    month: str  # YYYY-MM
    period_start: datetime  # the month's first instant, Beijing time
    period_end: datetime  # the next month's first instant (exclusive)
    generated_at: datetime
    entities_monitored: int
    entities_suspected: int
    leads_in_month: int
    leads_new: int
    leads_carried_over: int
    leads_by_evidence: int
    leads_linked: int  # of the leads in the month, those raised by a money trail
    risk: RiskAssessment
    counties: tuple[AreaFigures, ...]  # Baoshan's five counties first, always
    sectors: tuple[AreaFigures, ...]  # sectors with monitored accounts or leads
    high_risk_counties: tuple[str, ...]
    high_risk_sectors: tuple[str, ...]
    suspected: tuple[SuspectedEntity, ...]  # most serious first
    handling: Handling
    trend: tuple[TrendPoint, ...]  # oldest first, ending with this month
    scheme_figures: SchemeFigures
    schemes: tuple[SchemeLine, ...]  # most serious first


# -- months -----------------------------------------------------------------------------------


def parse_month(month: str) -> tuple[int, int]:
    """(year, month) of "YYYY-MM", or ReportError."""
    match = _MONTH.match(month)
    if match is None:
        raise ReportError(f"month {month!r} is not YYYY-MM (e.g. 2026-11)")
    return int(match.group(1)), int(match.group(2))


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """The month's first instant and the next month's, in Beijing time."""
    year, number = parse_month(month)
    start = datetime(year, number, 1, tzinfo=BEIJING)
    end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=BEIJING)
    return start, end


def recent_months(month: str, count: int) -> list[str]:
    """``count`` months ending with ``month``, oldest first."""
    year, number = parse_month(month)
    index = year * 12 + number - 1
    return [f"{i // 12:04d}-{i % 12 + 1:02d}" for i in range(index - count + 1, index + 1)]


def month_of(moment: datetime) -> str:
    """The Beijing-time month of an instant, as YYYY-MM."""
    return f"{moment.astimezone(BEIJING):%Y-%m}"


# -- leads in a month ---------------------------------------------------------------------------


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _history(book: LeadBook, lead_id: str) -> tuple[StatusChange, ...]:
    record = book.statuses.get(lead_id)
    return record.history if record is not None else ()


def _before(history: Sequence[StatusChange], moment: datetime) -> list[StatusChange]:
    return [change for change in history if change.at < moment]


def _status_at(history: Sequence[StatusChange], moment: datetime) -> StatusChange | None:
    """The status change in force just before ``moment`` (None: the lead was still new)."""
    earlier = _before(history, moment)
    return earlier[-1] if earlier else None


def _first_emitted(book: LeadBook, lead: dict[str, Any]) -> datetime:
    return _time(book.first_emitted_at.get(lead["lead_id"], lead["emitted_at"]))


def lead_start(book: LeadBook, lead: dict[str, Any]) -> datetime:
    """When a lead started: when it was first emitted or, if earlier, when its evidence
    begins (a lead raised late, from reports sent late or replayed, counts in the month of
    its activity)."""
    return min(_first_emitted(book, lead), _time(lead["first_evidence_time"]))


def standing_in(book: LeadBook, lead: dict[str, Any], start: datetime, end: datetime) -> str | None:
    """NEW, CARRIED_OVER or BY_EVIDENCE when the lead is in [start, end), else None."""
    emitted = lead_start(book, lead)
    if start <= emitted < end:
        return NEW
    if emitted < start:
        at_start = _status_at(_history(book, lead["lead_id"]), start)
        if at_start is None or at_start.status is not LeadStatus.CLOSED:
            return CARRIED_OVER
    first, last = _time(lead["first_evidence_time"]), _time(lead["last_evidence_time"])
    if first < end and last >= start:
        return BY_EVIDENCE
    return None


def _closed_in(history: Sequence[StatusChange], start: datetime, end: datetime) -> datetime | None:
    """When the lead was closed in [start, end), if it was and still is closed at ``end``."""
    last = _status_at(history, end)
    if last is not None and last.status is LeadStatus.CLOSED and start <= last.at:
        return last.at
    return None


def _ruled_out(history: Sequence[StatusChange], end: datetime) -> bool:
    last = _status_at(history, end)
    return last is not None and last.outcome is Outcome.NOT_CONFIRMED


def _flags(lead: dict[str, Any]) -> tuple[str, ...]:
    flags = []
    if lead["cross_province_major"]:
        flags.append(CROSS_PROVINCE_MAJOR)
    if lead["cross_prefecture"]:
        flags.append(CROSS_PREFECTURE)
    if lead.get("watchlist_matches"):
        flags.append(WATCHLIST_MATCH)
    return tuple(flags)


def _median_hours(durations: list[timedelta]) -> float | None:
    if not durations:
        return None
    return statistics.median(d.total_seconds() / 3600 for d in durations)


# -- the report -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _InMonth:
    lead: dict[str, Any]
    line: LeadLine
    ruled_out: bool  # closed as not confirmed by the end of the month

    @property
    def entity(self) -> tuple[str, str]:
        return self.lead["bank_id"], self.lead["account_id"]

    @property
    def serious(self) -> bool:
        return not self.ruled_out and (
            self.lead["severity"] in SERIOUS_SEVERITIES or self.lead["cross_province_major"]
        )


def build_monthly_report(
    book: LeadBook,
    month: str,
    monitored: Iterable[MonitoredAccount],
    generated_at: datetime,
    months_of_trend: int = 6,
) -> MonthlyReport:
    """The report of ``month`` (YYYY-MM, Beijing time) from the book and the accounts
    reported in the month; ReportError for a month that is not YYYY-MM."""
    start, end = month_bounds(month)
    schemes = book.schemes()
    in_month = _leads_in(book, start, end, scheme_of_leads(schemes))
    scheme_lines = _schemes_in(book, schemes, in_month, start, end)
    accounts = {(a.bank_id, a.account_id): a for a in monitored}
    # A suspected account is monitored even in a month without reports of its own.
    for item in in_month:
        lead = item.lead
        accounts.setdefault(
            item.entity,
            MonitoredAccount(lead["account_id"], lead["bank_id"], lead["county"], lead["sector"]),
        )
    standings = Counter(item.line.standing for item in in_month)
    counties = _areas(
        accounts.values(),
        in_month,
        lambda a: a.county,
        lambda lead: lead["county"],
        first=list(BAOSHAN_COUNTIES.values()),
    )
    sector_order = {code: i for i, code in enumerate(SECTORS)}
    sectors = sorted(
        _areas(accounts.values(), in_month, lambda a: a.sector, lambda lead: lead["sector"]),
        key=lambda area: (sector_order.get(area.name, len(sector_order)), area.name),
    )
    return MonthlyReport(
        month=month,
        period_start=start,
        period_end=end,
        generated_at=generated_at,
        entities_monitored=len(accounts),
        entities_suspected=len({item.entity for item in in_month}),
        leads_in_month=len(in_month),
        leads_new=standings[NEW],
        leads_carried_over=standings[CARRIED_OVER],
        leads_by_evidence=standings[BY_EVIDENCE],
        leads_linked=sum(item.line.kind == LeadKind.LINKED.value for item in in_month),
        risk=_risk(in_month),
        counties=tuple(counties),
        sectors=tuple(sectors),
        high_risk_counties=tuple(area.name for area in counties if area.high_risk),
        high_risk_sectors=tuple(area.name for area in sectors if area.high_risk),
        suspected=_suspected(in_month),
        handling=_handling(book, in_month, start, end),
        trend=tuple(_trend_point(book, m) for m in recent_months(month, months_of_trend)),
        scheme_figures=_scheme_figures(scheme_lines),
        schemes=tuple(scheme_lines),
    )


def _leads_in(
    book: LeadBook, start: datetime, end: datetime, scheme_ids: dict[str, str]
) -> list[_InMonth]:
    chosen = []
    for lead_id, lead in sorted(book.leads.items()):
        standing = standing_in(book, lead, start, end)
        if standing is None:
            continue
        history = _history(book, lead_id)
        at_end = _status_at(history, end)
        listing = book.listing_of(lead)
        line = LeadLine(
            lead_id=lead_id,
            severity=lead["severity"],
            flags=_flags(lead),
            money_raised_fen=int(lead["money_raised_fen"]),
            participants=int(lead["participants"]),
            status=(at_end.status if at_end is not None else LeadStatus.NEW).value,
            outcome=at_end.outcome.value if at_end is not None and at_end.outcome else None,
            department=lead["lead_department"],
            listed=listing is not None,
            listing_source=listing.source.value if listing is not None else None,
            standing=standing,
            first_emitted_at=_first_emitted(book, lead),
            kind=lead.get("kind", LeadKind.SCORED.value),
            hop=int(lead.get("hop", 0)),
            scheme_id=scheme_ids.get(lead_id),
        )
        chosen.append(_InMonth(lead, line, _ruled_out(history, end)))
    return chosen


def _areas(
    accounts: Iterable[MonitoredAccount],
    in_month: list[_InMonth],
    account_area: Callable[[MonitoredAccount], str],
    lead_area: Callable[[dict[str, Any]], str],
    first: Sequence[str] = (),
) -> list[AreaFigures]:
    """Figures per area (county or sector); ``first`` areas come first and always appear."""
    monitored = Counter(account_area(account) for account in accounts)
    by_area: dict[str, list[_InMonth]] = {}
    for item in in_month:
        by_area.setdefault(lead_area(item.lead), []).append(item)
    names = list(first) + sorted((set(monitored) | set(by_area)) - set(first))
    areas = []
    for name in names:
        items = by_area.get(name, [])
        risk_bearing = [item for item in items if not item.ruled_out]
        serious = sum(item.serious for item in items)
        areas.append(
            AreaFigures(
                name=name,
                monitored=monitored[name],
                suspected=len({item.entity for item in items}),
                leads=len(items),
                new_leads=sum(item.line.standing == NEW for item in items),
                serious_leads=serious,
                high_risk=serious > 0 or len(risk_bearing) >= HIGH_RISK_AREA_LEADS,
            )
        )
    return areas


def _risk(in_month: list[_InMonth]) -> RiskAssessment:
    bearing = [item.lead for item in in_month if not item.ruled_out]
    major = sum(lead["severity"] == Severity.MAJOR.value for lead in bearing)
    case_related = sum(lead["severity"] == Severity.CASE_RELATED.value for lead in bearing)
    cross_prefecture = sum(bool(lead["cross_prefecture"]) for lead in bearing)
    cross_province = sum(bool(lead["cross_province_major"]) for lead in bearing)
    if case_related or cross_province or major >= HIGH_RISK_MAJOR_LEADS:
        level = RISK_HIGH
    elif major or cross_prefecture:
        level = RISK_ELEVATED
    else:
        level = RISK_LOW
    return RiskAssessment(level, major, case_related, cross_prefecture, cross_province)


def _seriousness(line: LeadLine) -> tuple[int, int, int]:
    return (
        _SEVERITY_RANK.get(line.severity, 0),
        CROSS_PROVINCE_MAJOR in line.flags,
        line.money_raised_fen,
    )


def _suspected(in_month: list[_InMonth]) -> tuple[SuspectedEntity, ...]:
    by_entity: dict[tuple[str, str], list[_InMonth]] = {}
    for item in in_month:
        by_entity.setdefault(item.entity, []).append(item)
    entities = []
    for (bank_id, account_id), items in by_entity.items():
        latest = max(items, key=lambda item: item.lead["last_evidence_time"]).lead
        lines = sorted((item.line for item in items), key=_seriousness, reverse=True)
        entities.append(
            SuspectedEntity(
                account_id=account_id,
                bank_id=bank_id,
                customer_name=latest.get("customer_name"),
                county=latest["county"],
                sector=latest["sector"],
                leads=tuple(lines),
            )
        )
    entities.sort(key=lambda e: (_seriousness(e.leads[0]), e.bank_id, e.account_id), reverse=True)
    return tuple(entities)


def _schemes_in(
    book: LeadBook,
    schemes: Iterable[Scheme],
    in_month: list[_InMonth],
    start: datetime,
    end: datetime,
) -> list[SchemeLine]:
    """The schemes with a lead in the month (see the module docstring), most serious first;
    ties keep the schemes' order, newest activity first."""
    standings = {item.line.lead_id: item.line.standing for item in in_month}
    lines = []
    for scheme in schemes:
        in_month_standings = {standings[i] for i in scheme.lead_ids if i in standings}
        if not in_month_standings:
            continue
        leads = [book.leads[lead_id] for lead_id in scheme.lead_ids]
        # One of its leads is in the month, so it began before the month's end.
        if min(lead_start(book, lead) for lead in leads) >= start:
            standing = NEW
        elif in_month_standings & {NEW, CARRIED_OVER}:
            standing = CARRIED_OVER
        else:
            standing = BY_EVIDENCE
        histories = [_history(book, lead_id) for lead_id in scheme.lead_ids]
        at_end = Counter(
            (change.status if change is not None else LeadStatus.NEW).value
            for change in (_status_at(history, end) for history in histories)
        )
        roles = Counter(member.role for member in scheme.members)
        flags = [
            flag
            for flag, present in (
                (CROSS_PROVINCE_MAJOR, scheme.cross_province_major),
                (CROSS_PREFECTURE, scheme.cross_prefecture),
            )
            if present
        ]
        lines.append(
            SchemeLine(
                scheme_id=scheme.scheme_id,
                lead_ids=scheme.lead_ids,
                severity=scheme.severity,
                flags=tuple(flags),
                banks=scheme.banks,
                counties=scheme.counties,
                money_raised_fen=scheme.money_raised_fen,
                participants=scheme.participants,
                accounts=len(scheme.members),
                accounts_by_role=tuple((role, roles[role]) for role in ROLES),
                leads=len(scheme.lead_ids),
                linked_leads=sum(
                    lead.get("kind", LeadKind.SCORED.value) == LeadKind.LINKED.value
                    for lead in leads
                ),
                department=scheme.lead_department,
                lead_statuses=tuple(
                    (status.value, at_end[status.value])
                    for status in STATUS_ORDER
                    if at_end[status.value]
                ),
                standing=standing,
                ruled_out=all(_ruled_out(history, end) for history in histories),
                first_activity=_time(scheme.first_activity),
                last_activity=_time(scheme.last_activity),
            )
        )
    lines.sort(
        key=lambda line: (
            _SEVERITY_RANK.get(line.severity, 0),
            CROSS_PROVINCE_MAJOR in line.flags,
            line.money_raised_fen,
        ),
        reverse=True,
    )
    return lines


def _scheme_figures(lines: list[SchemeLine]) -> SchemeFigures:
    standings = Counter(line.standing for line in lines)
    bearing = [line for line in lines if not line.ruled_out]
    severities = Counter(line.severity for line in bearing)
    return SchemeFigures(
        in_month=len(lines),
        new=standings[NEW],
        carried_over=standings[CARRIED_OVER],
        by_evidence=standings[BY_EVIDENCE],
        by_severity={severity.value: severities[severity.value] for severity in Severity},
        cross_prefecture=sum(CROSS_PREFECTURE in line.flags for line in bearing),
        cross_province_major=sum(CROSS_PROVINCE_MAJOR in line.flags for line in bearing),
    )


def _handling(book: LeadBook, in_month: list[_InMonth], start: datetime, end: datetime) -> Handling:
    existing = [item for item in in_month if item.line.first_emitted_at < end]
    statuses = Counter(item.line.status for item in existing)
    outcomes = Counter(item.line.outcome for item in existing if item.line.outcome)
    reached: Counter[str] = Counter()
    to_first_action: list[timedelta] = []
    to_close: list[timedelta] = []
    for item in existing:
        history = _before(_history(book, item.line.lead_id), end)
        highest = max((STATUS_ORDER.index(c.status) for c in history), default=0)
        reached.update(status.value for status in STATUS_ORDER[: highest + 1])
        if history and history[0].at >= start:
            to_first_action.append(history[0].at - item.line.first_emitted_at)
        closed_at = _closed_in(history, start, end)
        if closed_at is not None:
            to_close.append(closed_at - item.line.first_emitted_at)
    return Handling(
        status_counts={status.value: statuses[status.value] for status in LeadStatus},
        outcome_counts={outcome.value: outcomes[outcome.value] for outcome in Outcome},
        funnel=tuple((status.value, reached[status.value]) for status in STATUS_ORDER),
        first_actions_in_month=len(to_first_action),
        closed_in_month=len(to_close),
        median_hours_to_first_action=_median_hours(to_first_action),
        median_hours_to_close=_median_hours(to_close),
    )


def _trend_point(book: LeadBook, month: str) -> TrendPoint:
    start, end = month_bounds(month)
    standings = [standing_in(book, lead, start, end) for lead in book.leads.values()]
    closed = sum(
        _closed_in(_history(book, lead_id), start, end) is not None for lead_id in book.leads
    )
    return TrendPoint(
        month=month,
        new=standings.count(NEW),
        in_month=sum(standing is not None for standing in standings),
        closed=closed,
    )
