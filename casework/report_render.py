"""The monthly report as Markdown, as one self-contained HTML page (print-ready for A4), or
its tables as CSV.

The renderings come from one outline (sections of paragraphs, tables and charts), so they
hold the same figures. In the CSV, figures are numbers and every text cell is escaped so no
spreadsheet runs it as a formula (schemas.display.csv_text). In the HTML every key figure
carries ``data-figure`` (and ``data-county``, ``data-sector``, ``data-lead``, ``data-status``,
``data-month`` ... saying whose figure it is), so tests and other tools read figures
without parsing the layout.
Chinese by default (``lang="zh"``); ``lang="en"`` for English.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from html import escape

from casework.charts import SERIES_COLORS, Series, bar_chart, funnel_chart, line_chart
from casework.monthly_report import (
    BY_EVIDENCE,
    CARRIED_OVER,
    HIGH_RISK_AREA_LEADS,
    HIGH_RISK_MAJOR_LEADS,
    NEW,
    RISK_ELEVATED,
    RISK_HIGH,
    RISK_LOW,
    AreaFigures,
    MonthlyReport,
    SchemeLine,
    parse_month,
)
from schemas.display import CsvValue, csv_text
from schemas.glossary import (  # noqa: F401 (county_name ... importable from the report, as before)
    BEIJING,
    FLAG_NAMES,
    ROLE_SHORT_NAMES,
    SECTOR_NAMES,
    SEVERITY_NAMES,
    county_name,
    department_name,
    outcome_name,
    sector_name,
    source_name,
    status_name,
    yuan,
)
from schemas.lead import LeadKind, Severity
from schemas.sectors import sector_of

LANGUAGES = ("zh", "en")

MONTH_NAMES_EN = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)

LABELS: dict[str, tuple[str, str]] = {
    "title": (
        "保山市防范和处置非法集资监测月报",
        "Baoshan City illegal fundraising monitoring report",
    ),
    "period": ("统计期间（北京时间）", "Period (Beijing time)"),
    "generated": ("生成时间", "Generated"),
    "overview": ("一、总体情况", "1. Overview"),
    "by_county": ("二、分县（市、区）监测情况", "2. By county"),
    "by_sector": ("三、分行业监测情况", "3. By sector"),
    "suspected": ("四、涉嫌非法集资主体及线索", "4. Entities suspected and their leads"),
    "schemes": ("五、案件线索", "5. Suspected schemes"),
    "handling": ("六、线索处置情况", "6. How leads were handled"),
    "trend": ("七、近期趋势", "7. Trend over recent months"),
    "notes": ("说明", "Notes"),
    "item": ("项目", "Item"),
    "value": ("数值", "Value"),
    "entities_monitored": ("监测主体数", "Entities monitored"),
    "entities_suspected": ("涉嫌主体数", "Entities suspected"),
    "leads_in_month": ("本月线索数", "Leads in the month"),
    "leads_new": ("新增线索", "New leads"),
    "leads_carried_over": ("结转线索", "Carried-over leads"),
    "leads_by_evidence": ("证据涉及本月的其他线索", "Other leads with evidence in the month"),
    "leads_linked": ("其中关联线索", "Of which linked leads"),
    "schemes_in_month": ("本月案件线索数", "Suspected schemes in the month"),
    "schemes_new": ("新增案件线索", "New schemes"),
    "schemes_carried_over": ("结转案件线索", "Carried-over schemes"),
    "schemes_by_evidence": (
        "证据涉及本月的其他案件线索",
        "Other schemes with evidence in the month",
    ),
    "schemes_general": ("一般案件线索", "General schemes"),
    "schemes_major": ("重大案件线索", "Major schemes"),
    "schemes_case_related": ("涉案案件线索", "Case-related schemes"),
    "schemes_cross_prefecture": ("跨州(市)案件线索", "Cross-prefecture schemes"),
    "schemes_cross_province_major": ("跨省重大案件线索", "Cross-province major schemes"),
    "scheme_figures": (
        "本月案件线索（分类不含已排除的）",
        "Schemes in the month (by class: those not ruled out)",
    ),
    "no_schemes": ("本月无案件线索。", "No suspected scheme this month."),
    "scheme_id": ("案件编号", "Scheme"),
    "scheme_class": ("等级及标记", "Class"),
    "banks": ("银行", "Banks"),
    "scheme_counties": ("县（市、区）", "Counties"),
    "scheme_accounts": ("账户（按角色）", "Accounts (by role)"),
    "scheme_leads": ("线索（其中关联）", "Leads (linked)"),
    "lead_statuses": ("线索状态（月末）", "Lead statuses at month end"),
    "scheme": ("案件线索", "Scheme"),
    "ruled_out": ("已排除", "ruled out"),
    "risk_level": ("总体风险等级", "Overall risk level"),
    "leads_major": ("重大线索", "Major leads"),
    "leads_case_related": ("涉案线索", "Case-related leads"),
    "leads_cross_prefecture": ("跨州(市)线索", "Cross-prefecture leads"),
    "leads_cross_province_major": ("跨省重大线索", "Cross-province major leads"),
    "high_risk_counties": ("高风险地区", "High-risk counties"),
    "high_risk_sectors": ("高风险行业", "High-risk sectors"),
    "none": ("无", "none"),
    "county": ("县（市、区）", "County"),
    "sector": ("行业", "Sector"),
    "category": ("监测类别", "Plan category"),
    "department": ("牵头部门", "Lead department"),
    "monitored": ("监测主体", "Monitored"),
    "suspected_entities": ("涉嫌主体", "Suspected"),
    "leads": ("线索", "Leads"),
    "new_leads": ("新增", "New"),
    "serious_leads": ("重大/涉案", "Major/case"),
    "high_risk": ("高风险", "High risk"),
    "yes": ("是", "yes"),
    "no": ("否", "no"),
    "chart_county": ("各县（市、区）线索数", "Leads by county"),
    "chart_sector": ("各行业线索数", "Leads by sector"),
    "chart_funnel": ("线索处置进度（截至月末）", "Lead handling funnel (at month end)"),
    "chart_trend": ("近期各月线索数", "Leads per month"),
    "no_data": ("本月无数据", "no data this month"),
    "no_suspected": ("本月无涉嫌主体。", "No entity was suspected this month."),
    "entity": ("主体（账户@银行）", "Entity (account@bank)"),
    "lead_id": ("线索编号", "Lead"),
    "severity": ("等级", "Severity"),
    "flags": ("标记", "Flags"),
    "money_raised": ("集资金额（元）", "Raised (CNY)"),
    "participants": ("参与人数", "People"),
    "status": ("状态（月末）", "Status at month end"),
    "listed": ("负面清单", "Listed"),
    "standing": ("类型", "Standing"),
    "lead_status": ("状态（月末）", "Status"),
    "status_counts": ("月末线索状态", "Lead status at the end of the month"),
    "count": ("数量", "Count"),
    "outcomes": ("办结结果", "Outcomes of closed leads"),
    "outcome": ("结果", "Outcome"),
    "first_actions": ("本月首次处置线索数", "Leads first acted on in the month"),
    "closed_in_month": ("本月办结线索数", "Leads closed in the month"),
    "median_first_action": (
        "发布至首次处置时长中位数（小时）",
        "Median hours from emission to first action",
    ),
    "median_close": ("发布至办结时长中位数（小时）", "Median hours from emission to closing"),
    "month": ("月份", "Month"),
    "trend_new": ("新增线索", "New leads"),
    "trend_in_month": ("当月线索", "Leads in the month"),
    "trend_closed": ("办结线索", "Leads closed"),
}
RISK_NAMES = {
    RISK_HIGH: ("高", "high"),
    RISK_ELEVATED: ("较高", "elevated"),
    RISK_LOW: ("低", "low"),
}
ROLE_NAMES = ROLE_SHORT_NAMES
STANDING_NAMES = {
    NEW: ("新增", "new"),
    CARRIED_OVER: ("结转", "carried over"),
    BY_EVIDENCE: ("证据涉及本月", "by evidence"),
}

NOTES: tuple[tuple[str, str], ...] = (
    (
        "月份按北京时间（UTC+8）划分。",
        "Months are calendar months in Beijing time (UTC+8).",
    ),
    (
        "本月线索：本月首次发布的（新增），本月之前发布且月初未办结的（结转），"
        "或证据时间与本月重叠的（证据涉及本月，含月后发现的线索）。",
        "Leads in the month: first emitted in it (new); emitted before it and not closed when it "
        "began (carried over); or with evidence in it (including leads found after it ended).",
    ),
    (
        f"总体风险：有涉案或跨省重大线索，或重大线索不少于{HIGH_RISK_MAJOR_LEADS}条，为高；"
        "有重大或跨州(市)线索，为较高；否则为低。已排除（办结且结果为排除）的线索不计。",
        "Overall risk: high with any case-related or cross-province major lead, or at least "
        f"{HIGH_RISK_MAJOR_LEADS} major leads; elevated with any major or cross-prefecture lead; "
        "low otherwise. Leads closed as ruled out are not counted.",
    ),
    (
        f"高风险地区、行业：有重大、涉案或跨省重大线索，或线索不少于{HIGH_RISK_AREA_LEADS}条"
        "（已排除的不计）。",
        "High-risk county or sector: one major, case-related or cross-province major lead, or "
        f"at least {HIGH_RISK_AREA_LEADS} leads (leads ruled out are not counted).",
    ),
    (
        "关联线索：账户因资金链路（资金去向、资金来源）与其他线索的账户相连而产生的线索，"
        "计入线索数，在“标记”栏注明及其跳数。",
        "Linked leads: raised because the account is joined by a money trail (where the money "
        "went, or came from) to another lead's account; counted as leads, marked in Flags "
        "with their hop.",
    ),
    (
        "案件线索：由资金链路或同一主体相连的两个以上账户的线索组成，跨多家银行、多个地区的也"
        "只计一起；集资金额为其归集账户之和，参与人数为归集账户的付款人（各计一次）。"
        "在其最早线索开始的月份计为新增；此前开始、本月有新增或结转线索的为结转；"
        "否则因证据涉及本月列入。分类不计已排除（全部线索办结且结果为排除）的案件线索。",
        "Suspected schemes: the leads of two or more accounts joined by money trails or by one "
        "entity; a scheme spanning several banks or counties counts once. Money raised is its "
        "collector accounts'; participants are their payers, each once. A scheme is new in the "
        "month its earliest lead started; carried over when it started earlier and has a lead "
        "new or carried over in the month; otherwise in the month by evidence. The counts by "
        "class leave out schemes ruled out (every lead closed as ruled out).",
    ),
    (
        "状态为月末时的状态；处置时长自线索首次发布起计，统计本月内的首次处置和办结。",
        "Statuses are those at the end of the month; handling times run from a lead's first "
        "emission, over first actions and closings made in the month.",
    ),
    (
        "监测主体：本月有交易报告的账户，以及本月有线索的账户。线索金额、人数取最新版本；"
        "负面清单为生成报告时的名单。",
        "Entities monitored: accounts with reports in the month, and accounts with a lead in it. "
        "A lead's figures are its latest revision's; the negative list is as at generation.",
    ),
)


def _t(key: str, lang: str) -> str:
    zh, en = LABELS[key]
    return zh if lang == "zh" else en


def _pick(names: tuple[str, str], lang: str) -> str:
    return names[0] if lang == "zh" else names[1]


def month_title(month: str, lang: str) -> str:
    year, number = parse_month(month)
    return f"{year}年{number}月" if lang == "zh" else f"{MONTH_NAMES_EN[number - 1]} {year}"


def _aside(text: str, lang: str) -> str:
    """Text in brackets after a value: full-width ones in Chinese."""
    return f"（{text}）" if lang == "zh" else f" ({text})"


def _hours(hours: float | None) -> str:
    return "—" if hours is None else f"{hours:.1f}"


def _local(moment: datetime) -> str:
    return f"{moment.astimezone(BEIJING):%Y-%m-%d %H:%M}"


# -- the outline both renderings share ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Cell:
    text: str
    attrs: dict[str, str] = field(default_factory=dict)  # data-* attributes (HTML only)
    number: int | float | None = None  # a count or a figure: a number in the CSV


@dataclass(frozen=True, slots=True)
class Table:
    headers: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    caption: str = ""


@dataclass(frozen=True, slots=True)
class Paragraph:
    text: str
    attrs: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Chart:
    svg: str  # HTML only: Markdown has the same figures in a table


@dataclass(frozen=True, slots=True)
class Section:
    heading: str
    blocks: tuple[Table | Paragraph | Chart, ...]
    slug: str


def _figure(text: object, figure: str, **who: str) -> Cell:
    attrs = {"figure": figure, **{k.replace("_", "-"): v for k, v in who.items()}}
    number = text if isinstance(text, int | float) and not isinstance(text, bool) else None
    return Cell(str(text), attrs, number)


def _area_rows(
    areas: Sequence[AreaFigures], kind: str, lang: str, with_sector_columns: bool
) -> tuple[tuple[Cell, ...], ...]:
    rows = []
    for area in areas:
        who = {kind: area.name}
        if kind == "county":
            head: tuple[Cell, ...] = (Cell(county_name(area.name, lang)),)
        else:
            sector = sector_of(area.name)
            head = (Cell(sector_name(area.name, lang)),)
            if with_sector_columns:
                head += (
                    Cell(sector.seed_category or "—"),
                    Cell(department_name(sector.department.code, lang)),
                )
        rows.append(
            (
                *head,
                _figure(area.monitored, "monitored", **who),
                _figure(area.suspected, "suspected", **who),
                _figure(area.leads, "leads", **who),
                _figure(area.new_leads, "new-leads", **who),
                _figure(area.serious_leads, "serious-leads", **who),
                _figure(_t("yes" if area.high_risk else "no", lang), "high-risk", **who),
            )
        )
    return tuple(rows)


def outline(report: MonthlyReport, lang: str = "zh") -> list[Section]:
    """The report's sections, in the language asked for."""
    if lang not in LANGUAGES:
        raise ValueError(f"lang must be one of {LANGUAGES}, not {lang!r}")
    return [
        _overview(report, lang),
        _by_county(report, lang),
        _by_sector(report, lang),
        _suspected_section(report, lang),
        _schemes_section(report, lang),
        _handling_section(report, lang),
        _trend_section(report, lang),
        Section(_t("notes", lang), tuple(Paragraph(_pick(note, lang)) for note in NOTES), "notes"),
    ]


def _overview(report: MonthlyReport, lang: str) -> Section:
    risk = report.risk
    none = _t("none", lang)
    sep = "、" if lang == "zh" else ", "
    counties = sep.join(county_name(c, lang) for c in report.high_risk_counties) or none
    sectors = sep.join(sector_name(s, lang) for s in report.high_risk_sectors) or none
    rows = [
        ("entities_monitored", report.entities_monitored, "entities-monitored"),
        ("entities_suspected", report.entities_suspected, "entities-suspected"),
        ("leads_in_month", report.leads_in_month, "leads-in-month"),
        ("leads_new", report.leads_new, "leads-new"),
        ("leads_carried_over", report.leads_carried_over, "leads-carried-over"),
        ("leads_by_evidence", report.leads_by_evidence, "leads-by-evidence"),
        ("leads_linked", report.leads_linked, "leads-linked"),
        ("leads_major", risk.major, "leads-major"),
        ("leads_case_related", risk.case_related, "leads-case-related"),
        ("leads_cross_prefecture", risk.cross_prefecture, "leads-cross-prefecture"),
        ("leads_cross_province_major", risk.cross_province_major, "leads-cross-province-major"),
        ("schemes_in_month", report.scheme_figures.in_month, "schemes-in-month"),
        ("schemes_new", report.scheme_figures.new, "schemes-new"),
    ]
    table_rows: list[tuple[Cell, ...]] = [
        (
            Cell(_t("risk_level", lang)),
            _figure(_pick(RISK_NAMES[risk.level], lang), "risk-level", level=risk.level),
        )
    ]
    table_rows += [(Cell(_t(key, lang)), _figure(value, figure)) for key, value, figure in rows]
    table_rows += [
        (
            Cell(_t("high_risk_counties", lang)),
            _figure(counties, "high-risk-counties", names="|".join(report.high_risk_counties)),
        ),
        (
            Cell(_t("high_risk_sectors", lang)),
            _figure(sectors, "high-risk-sectors", names="|".join(report.high_risk_sectors)),
        ),
    ]
    return Section(
        _t("overview", lang),
        (
            Table((_t("item", lang), _t("value", lang)), tuple(table_rows)),
            Paragraph(_pick(NOTES[2], lang)),
        ),
        "overview",
    )


def _by_county(report: MonthlyReport, lang: str) -> Section:
    headers = (
        _t("county", lang),
        _t("monitored", lang),
        _t("suspected_entities", lang),
        _t("leads", lang),
        _t("new_leads", lang),
        _t("serious_leads", lang),
        _t("high_risk", lang),
    )
    chart = bar_chart(
        [(county_name(a.name, lang), a.leads) for a in report.counties],
        _t("chart_county", lang),
        "leads-by-county",
        no_data=_t("no_data", lang),
    )
    table = Table(headers, _area_rows(report.counties, "county", lang, False))
    return Section(_t("by_county", lang), (table, Chart(chart)), "by-county")


def _by_sector(report: MonthlyReport, lang: str) -> Section:
    headers = (
        _t("sector", lang),
        _t("category", lang),
        _t("department", lang),
        _t("monitored", lang),
        _t("suspected_entities", lang),
        _t("leads", lang),
        _t("new_leads", lang),
        _t("serious_leads", lang),
        _t("high_risk", lang),
    )
    with_leads = [a for a in report.sectors if a.leads]
    chart = bar_chart(
        [(sector_name(a.name, lang), a.leads) for a in with_leads],
        _t("chart_sector", lang),
        "leads-by-sector",
        color="#c98a1b",
        no_data=_t("no_data", lang),
    )
    if not report.sectors:
        return Section(_t("by_sector", lang), (Paragraph(_t("no_data", lang)),), "by-sector")
    table = Table(headers, _area_rows(report.sectors, "sector", lang, True))
    return Section(_t("by_sector", lang), (table, Chart(chart)), "by-sector")


def _suspected_section(report: MonthlyReport, lang: str) -> Section:
    if not report.suspected:
        return Section(_t("suspected", lang), (Paragraph(_t("no_suspected", lang)),), "suspected")
    headers = (
        _t("entity", lang),
        _t("county", lang),
        _t("sector", lang),
        _t("lead_id", lang),
        _t("severity", lang),
        _t("flags", lang),
        _t("money_raised", lang),
        _t("participants", lang),
        _t("lead_status", lang),
        _t("department", lang),
        _t("listed", lang),
        _t("standing", lang),
        _t("scheme", lang),
    )
    sep = "、" if lang == "zh" else ", "
    rows = []
    for entity in report.suspected:
        name = f"{entity.account_id}@{entity.bank_id}"
        if entity.customer_name:
            name += _aside(entity.customer_name, lang)
        for line in entity.leads:
            who = {"lead": line.lead_id}
            status = status_name(line.status, lang)
            if line.outcome:
                status += _aside(outcome_name(line.outcome, lang), lang)
            listed = _t("no", lang)
            if line.listed:
                listed = _t("yes", lang)
                if line.listing_source:
                    listed += _aside(source_name(line.listing_source, lang), lang)
            flag_names = [_pick(FLAG_NAMES[f], lang) for f in line.flags]
            rows.append(
                (
                    Cell(name, {"account": entity.account_id}),
                    Cell(county_name(entity.county, lang)),
                    Cell(sector_name(entity.sector, lang)),
                    _figure(line.lead_id, "lead-id", **who),
                    _figure(
                        _pick(SEVERITY_NAMES.get(line.severity, (line.severity,) * 2), lang),
                        "severity",
                        value=line.severity,
                        **who,
                    ),
                    _figure(
                        sep.join([*_kind_marks(line.kind, line.hop, lang), *flag_names]) or "—",
                        "flags",
                        value=" ".join(line.flags),
                        kind=line.kind,
                        **who,
                    ),
                    _figure(yuan(line.money_raised_fen), "money-raised", **who),
                    _figure(f"{line.participants:,}", "participants", **who),
                    _figure(status, "status", value=line.status, **who),
                    Cell(department_name(line.department, lang)),
                    _figure(listed, "listed", value="yes" if line.listed else "no", **who),
                    _figure(
                        _pick(STANDING_NAMES[line.standing], lang),
                        "standing",
                        value=line.standing,
                        **who,
                    ),
                    _figure(
                        line.scheme_id or "—", "lead-scheme", value=line.scheme_id or "", **who
                    ),
                )
            )
    return Section(_t("suspected", lang), (Table(headers, tuple(rows)),), "suspected")


def _kind_marks(kind: str, hop: int, lang: str) -> list[str]:
    """A linked lead is marked with its hop (short: the table is a crowded one); a scored
    lead is not marked."""
    if kind != LeadKind.LINKED.value:
        return []
    return [f"关联（第{hop}跳）" if lang == "zh" else f"linked (hop {hop})"]


def _scheme_accounts(line: SchemeLine, lang: str) -> str:
    """4（归集 2、控制 1、返利 1）."""
    parts = [f"{_pick(ROLE_NAMES[role], lang)} {n}" for role, n in line.accounts_by_role if n]
    return f"{line.accounts}" + _aside(("、" if lang == "zh" else ", ").join(parts), lang)


def _scheme_rows(report: MonthlyReport, lang: str) -> tuple[tuple[Cell, ...], ...]:
    sep = "、" if lang == "zh" else ", "
    rows = []
    for line in report.schemes:
        who = {"scheme": line.scheme_id}
        severity = _pick(SEVERITY_NAMES.get(line.severity, (line.severity,) * 2), lang)
        marks = [_pick(FLAG_NAMES[f], lang) for f in line.flags]
        if line.ruled_out:
            marks.append(_t("ruled_out", lang))
        statuses = sep.join(f"{status_name(s, lang)} {n}" for s, n in line.lead_statuses)
        leads = f"{line.leads}" + _aside(str(line.linked_leads), lang)
        rows.append(
            (
                _figure(line.scheme_id, "scheme-id", **who),
                _figure(
                    severity + (_aside(sep.join(marks), lang) if marks else ""),
                    "scheme-class",
                    value=line.severity,
                    flags=" ".join(line.flags),
                    **who,
                ),
                _figure(sep.join(line.banks), "scheme-banks", **who),
                _figure(
                    sep.join(county_name(c, lang) for c in line.counties),
                    "scheme-counties",
                    **who,
                ),
                _figure(yuan(line.money_raised_fen), "scheme-money-raised", **who),
                _figure(f"{line.participants:,}", "scheme-participants", **who),
                _figure(
                    _scheme_accounts(line, lang), "scheme-accounts", value=str(line.accounts), **who
                ),
                _figure(leads, "scheme-leads", value=str(line.leads), **who),
                Cell(department_name(line.department, lang)),
                _figure(
                    statuses,
                    "scheme-statuses",
                    value=" ".join(f"{s}:{n}" for s, n in line.lead_statuses),
                    **who,
                ),
                _figure(
                    _pick(STANDING_NAMES[line.standing], lang),
                    "scheme-standing",
                    value=line.standing,
                    **who,
                ),
            )
        )
    return tuple(rows)


def _schemes_section(report: MonthlyReport, lang: str) -> Section:
    """The month's schemes: how many (the total and the new ones are in the overview) and
    of which class, then one row per scheme."""
    figures = report.scheme_figures
    counts = [
        ("schemes_carried_over", figures.carried_over, "schemes-carried-over", {}),
        ("schemes_by_evidence", figures.by_evidence, "schemes-by-evidence", {}),
        *(
            (
                f"schemes_{severity}",
                figures.by_severity[severity],
                "schemes-severity",
                {"severity": severity},
            )
            for severity in (s.value for s in Severity)
        ),
        ("schemes_cross_prefecture", figures.cross_prefecture, "schemes-cross-prefecture", {}),
        (
            "schemes_cross_province_major",
            figures.cross_province_major,
            "schemes-cross-province-major",
            {},
        ),
    ]
    summary = Table(
        (_t("item", lang), _t("value", lang)),
        tuple(
            (Cell(_t(key, lang)), _figure(value, figure, **who))
            for key, value, figure, who in counts
        ),
        caption=_t("scheme_figures", lang),
    )
    if not report.schemes:
        return Section(_t("schemes", lang), (summary, Paragraph(_t("no_schemes", lang))), "schemes")
    headers = (
        _t("scheme_id", lang),
        _t("scheme_class", lang),
        _t("banks", lang),
        _t("scheme_counties", lang),
        _t("money_raised", lang),
        _t("participants", lang),
        _t("scheme_accounts", lang),
        _t("scheme_leads", lang),
        _t("department", lang),
        _t("lead_statuses", lang),
        _t("standing", lang),
    )
    table = Table(headers, _scheme_rows(report, lang))
    return Section(_t("schemes", lang), (summary, table), "schemes")


def _handling_section(report: MonthlyReport, lang: str) -> Section:
    handling = report.handling
    status_table = Table(
        (_t("status", lang), _t("count", lang)),
        tuple(
            (Cell(status_name(status, lang)), _figure(count, "status-count", status=status))
            for status, count in handling.status_counts.items()
        ),
        caption=_t("status_counts", lang),
    )
    outcome_table = Table(
        (_t("outcome", lang), _t("count", lang)),
        tuple(
            (Cell(outcome_name(outcome, lang)), _figure(count, "outcome-count", outcome=outcome))
            for outcome, count in handling.outcome_counts.items()
        ),
        caption=_t("outcomes", lang),
    )
    timing = Table(
        (_t("item", lang), _t("value", lang)),
        (
            (
                Cell(_t("first_actions", lang)),
                _figure(handling.first_actions_in_month, "first-actions-in-month"),
            ),
            (
                Cell(_t("closed_in_month", lang)),
                _figure(handling.closed_in_month, "closed-in-month"),
            ),
            (
                Cell(_t("median_first_action", lang)),
                _figure(
                    _hours(handling.median_hours_to_first_action), "median-hours-to-first-action"
                ),
            ),
            (
                Cell(_t("median_close", lang)),
                _figure(_hours(handling.median_hours_to_close), "median-hours-to-close"),
            ),
        ),
    )
    funnel = funnel_chart(
        [(status_name(status, lang), count) for status, count in handling.funnel],
        _t("chart_funnel", lang),
        "status-funnel",
        no_data=_t("no_data", lang),
    )
    return Section(
        _t("handling", lang), (status_table, Chart(funnel), outcome_table, timing), "handling"
    )


def _trend_section(report: MonthlyReport, lang: str) -> Section:
    months = [point.month for point in report.trend]
    chart = line_chart(
        months,
        [
            Series(
                _t("trend_in_month", lang), [p.in_month for p in report.trend], SERIES_COLORS[1]
            ),
            Series(_t("trend_new", lang), [p.new for p in report.trend], SERIES_COLORS[0]),
            Series(_t("trend_closed", lang), [p.closed for p in report.trend], SERIES_COLORS[2]),
        ],
        _t("chart_trend", lang),
        "trend",
        no_data=_t("no_data", lang),
    )
    rows = tuple(
        (
            Cell(point.month),
            _figure(point.new, "trend-new", month=point.month),
            _figure(point.in_month, "trend-in-month", month=point.month),
            _figure(point.closed, "trend-closed", month=point.month),
        )
        for point in report.trend
    )
    headers = (
        _t("month", lang),
        _t("trend_new", lang),
        _t("trend_in_month", lang),
        _t("trend_closed", lang),
    )
    return Section(_t("trend", lang), (Table(headers, rows), Chart(chart)), "trend")


def _subtitle(report: MonthlyReport, lang: str) -> tuple[str, str]:
    last_day = report.period_end - timedelta(days=1)
    colon = "：" if lang == "zh" else ": "
    period = f"{_t('period', lang)}{colon}{report.period_start:%Y-%m-%d} — {last_day:%Y-%m-%d}"
    generated = f"{_t('generated', lang)}{colon}{_local(report.generated_at)} (UTC+8)"
    return period, generated


# -- Markdown -----------------------------------------------------------------------------------


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _md_table(table: Table) -> list[str]:
    lines = [f"**{table.caption}**", ""] if table.caption else []
    lines.append("| " + " | ".join(_md_cell(h) for h in table.headers) + " |")
    lines.append("|" + "|".join("---" for _ in table.headers) + "|")
    lines += ["| " + " | ".join(_md_cell(c.text) for c in row) + " |" for row in table.rows]
    return [*lines, ""]


def render_markdown(report: MonthlyReport, lang: str = "zh") -> str:
    """The report as Markdown (tables only: the charts' figures are in the tables)."""
    sections = outline(report, lang)
    period, generated = _subtitle(report, lang)
    lines = [
        f"# {_t('title', lang)}",
        "",
        f"## {month_title(report.month, lang)}",
        "",
        f"{period}  ",
        generated,
        "",
    ]
    for section in sections:
        lines += [f"## {section.heading}", ""]
        for block in section.blocks:
            if isinstance(block, Table):
                lines += _md_table(block)
            elif isinstance(block, Paragraph):
                bullet = "- " if section.slug == "notes" else ""
                lines += [bullet + block.text, ""]
    return "\n".join(lines).rstrip() + "\n"


# -- CSV --------------------------------------------------------------------------------------


def render_csv(report: MonthlyReport, lang: str = "zh") -> str:
    """The report's tables as one CSV file: each table under a row naming its section (and
    caption), then its header row and rows, a blank row between tables. Counts are numbers;
    text cells starting with =, +, -, @ are escaped with a leading '."""
    rows: list[Sequence[CsvValue]] = [
        [_t("title", lang), month_title(report.month, lang)],
        list(_subtitle(report, lang)),
    ]
    for section in outline(report, lang):
        for block in section.blocks:
            if isinstance(block, Table):
                title = f"{section.heading} {block.caption}".strip()
                rows += [[], [title], list(block.headers)]
                rows += [
                    [c.number if c.number is not None else c.text for c in row]
                    for row in block.rows
                ]
    return csv_text(rows)


# -- HTML -------------------------------------------------------------------------------------

CSS = """
@page { size: A4; margin: 15mm 13mm 16mm 13mm; }
* { box-sizing: border-box; }
body { font-family: "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "PingFang SC",
  "Microsoft YaHei", sans-serif; font-size: 10pt; color: #1a1a1a; line-height: 1.45; margin: 0; }
@media screen { body { max-width: 210mm; margin: 0 auto; padding: 12mm; } }
header { text-align: center; border-bottom: 2px solid #b03a2e; padding-bottom: 6px;
  margin-bottom: 10px; }
h1 { font-size: 18pt; color: #b03a2e; margin: 0 0 4px; letter-spacing: 1px; }
.month { font-size: 13pt; font-weight: bold; margin: 0 0 4px; }
.meta { color: #555; font-size: 9pt; margin: 0; }
h2 { font-size: 12.5pt; border-left: 4px solid #b03a2e; padding-left: 6px; margin: 16px 0 8px;
  break-after: avoid; page-break-after: avoid; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 10px; font-size: 9pt; }
caption { text-align: left; font-weight: bold; padding: 2px 0; }
th, td { border: 1px solid #bfbfbf; padding: 3px 5px; vertical-align: top; }
th { background: #f3ece9; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.narrow { width: auto; min-width: 55%; }
thead { display: table-header-group; }
tr { break-inside: avoid; page-break-inside: avoid; }
.chart { display: block; max-width: 170mm; margin: 4px 0 12px; break-inside: avoid; }
.risk-high { color: #fff; background: #b03a2e; font-weight: bold; }
.risk-elevated { background: #f6d7a7; font-weight: bold; }
.risk-low { background: #dcefdc; }
section.notes p { color: #444; font-size: 8.5pt; margin: 2px 0; }
section.suspected table, section.schemes table:not(.narrow) { font-size: 7.5pt; }
section.suspected th, section.suspected td { padding: 2px 3px; }
section.schemes table:not(.narrow) th, section.schemes table:not(.narrow) td { padding: 2px 3px; }
section.suspected td[data-account], section.suspected td[data-figure="lead-id"],
section.suspected td[data-figure="lead-scheme"], section.schemes td[data-figure="scheme-id"] {
  overflow-wrap: anywhere; }
"""


_NUMBER = re.compile(r"^[\d,.]+$")


def _attrs(attrs: dict[str, str]) -> str:
    return "".join(f' data-{escape(k)}="{escape(v)}"' for k, v in attrs.items())


def _html_cell(cell: Cell) -> str:
    css = ""
    if cell.attrs.get("figure") == "risk-level":
        css = f' class="risk-{escape(cell.attrs.get("level", ""))}"'
    elif _NUMBER.match(cell.text):
        css = ' class="num"'
    return f"<td{css}{_attrs(cell.attrs)}>{escape(cell.text)}</td>"


def _html_table(table: Table) -> str:
    # Item/value tables need not span the page.
    css = ' class="narrow"' if len(table.headers) == 2 else ""
    caption = f"<caption>{escape(table.caption)}</caption>" if table.caption else ""
    head = "".join(f"<th>{escape(h)}</th>" for h in table.headers)
    body = "".join("<tr>" + "".join(_html_cell(c) for c in row) + "</tr>" for row in table.rows)
    return f"<table{css}>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(report: MonthlyReport, lang: str = "zh") -> str:
    """The report as one HTML page: inline CSS and SVG, nothing fetched, A4 when printed."""
    sections = outline(report, lang)
    period, generated = _subtitle(report, lang)
    title = f"{_t('title', lang)} {month_title(report.month, lang)}"
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="{"zh-CN" if lang == "zh" else "en"}">',
        '<head><meta charset="utf-8">',
        f"<title>{escape(title)}</title>",
        f"<style>{CSS}</style></head>",
        f'<body data-month="{escape(report.month)}" data-lang="{lang}">',
        "<header>",
        f"<h1>{escape(_t('title', lang))}</h1>",
        f'<p class="month">{escape(month_title(report.month, lang))}</p>',
        f'<p class="meta">{escape(period)}</p>',
        f'<p class="meta">{escape(generated)}</p>',
        "</header>",
    ]
    for section in sections:
        parts.append(f'<section class="{section.slug}"><h2>{escape(section.heading)}</h2>')
        for block in section.blocks:
            if isinstance(block, Table):
                parts.append(_html_table(block))
            elif isinstance(block, Chart):
                parts.append(block.svg)
            else:
                parts.append(f"<p{_attrs(block.attrs)}>{escape(block.text)}</p>")
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
