"""``fundwatch schemes list`` and ``schemes show ID``: suspected schemes (案件线索) as text.

Pure: every function takes schemes (models.schemes) and typed leads as they stand and returns
text, so the command and its tests render alike. Every name comes from the glossary
(schemas.glossary), as the monthly report's and the console's do; every id and name a bank
sent is escaped (schemas.display.printable) before it is laid out. Times are shown as the
leads show them (UTC, to the minute), so a scheme's times match its leads'.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from casework.lead_status import STATUS_ORDER, LeadStatus
from models.schemes import COLLECTOR, CONTROLLER, PAYOUT, ROLES, Scheme, SchemeFlow
from schemas.display import printable
from schemas.glossary import (
    DIRECTION_NAMES,
    FLAG_NAMES,
    LEAD_KIND_NAMES,
    OUTSIDE_ROLE_SHORT_NAMES,
    ROLE_NAMES,
    ROLE_SHORT_NAMES,
    county_name,
    department_name,
    sector_name,
    severity_name,
    status_name,
    yuan,
)
from schemas.glossary import (
    name as named,
)
from schemas.lead import Lead, LeadKind, TrailDirection

# Short role names for the money-flow picture, where each account is labelled inline.
ROLE_SHORT = ROLE_SHORT_NAMES
OUTSIDE_ROLE = OUTSIDE_ROLE_SHORT_NAMES  # a flow's account whose lead is not among those read
# The picture's order: money is raised by collectors, pooled by controllers, paid out last.
ROLE_STAGE = {COLLECTOR: 0, CONTROLLER: 1, PAYOUT: 2}
OUTSIDE_STAGE = len(ROLE_STAGE)


def _pick(names: tuple[str, str], lang: str) -> str:
    return names[0] if lang == "zh" else names[1]


_yuan = yuan


def _minute(moment: str | datetime) -> str:
    """To the minute, in UTC: a scheme carries ISO strings, a typed lead datetimes."""
    if isinstance(moment, datetime):
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")
    return moment[:16]


def display_width(text: str) -> int:
    """Terminal columns: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def pad(text: str, width: int, right: bool = False) -> str:
    gap = " " * max(0, width - display_width(text))
    return gap + text if right else text + gap


def text_table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], right: frozenset[int] = frozenset()
) -> list[str]:
    """Rows aligned in columns (``right``: indexes of right-aligned, numeric, columns)."""
    widths = [max(display_width(row[i]) for row in [headers, *rows]) for i in range(len(headers))]
    return [
        "  ".join(pad(cell, widths[i], i in right) for i, cell in enumerate(row)).rstrip()
        for row in [headers, *rows]
    ]


# -- which schemes --------------------------------------------------------------------------


@dataclass(frozen=True)
class SchemeFilter:
    """Which schemes to list, from the options ``fundwatch leads`` has for leads; an empty
    field matches every scheme."""

    county: str | None = None  # a member's county name (隆阳区) or 6-digit region code
    sector: str | None = None  # the scheme's sector (its main collector's)
    department: str | None = None  # a department the scheme is routed to
    severity: str | None = None

    def matches(self, scheme: Scheme) -> bool:
        return (
            (
                self.county is None
                or any(self.county in (m.county, m.region) for m in scheme.members)
            )
            and (self.sector is None or scheme.sector == self.sector)
            and (self.department is None or self.department in scheme.routes)
            and (self.severity is None or scheme.severity == self.severity)
        )


# -- pieces ---------------------------------------------------------------------------------


def scheme_class(scheme: Scheme, lang: str = "zh") -> str:
    """Severity and flags, as a lead shows them: 重大 跨省重大/跨州(市)."""
    flags = [
        named(FLAG_NAMES, flag, lang)
        for flag, raised in (
            ("cross_province_major", scheme.cross_province_major),
            ("cross_prefecture", scheme.cross_prefecture),
        )
        if raised
    ]
    severity = severity_name(scheme.severity, lang)
    return severity + (" " + "/".join(flags) if flags else "")


def role_counts(scheme: Scheme, lang: str = "zh") -> str:
    """Accounts by role: 4（归集 2、控制 1、返利 1）."""
    counts = Counter(m.role for m in scheme.members)
    parts = [f"{_pick(ROLE_SHORT[role], lang)} {counts[role]}" for role in ROLES if counts[role]]
    if lang == "zh":
        return f"{len(scheme.members)}（{'、'.join(parts)}）"
    return f"{len(scheme.members)} ({', '.join(parts)})"


def _counties(scheme: Scheme, lang: str) -> str:
    return ("、" if lang == "zh" else ", ").join(county_name(c, lang) for c in scheme.counties)


def status_summary(lead_ids: Sequence[str], statuses: Mapping[str, str], lang: str = "zh") -> str:
    """How many of the leads stand at each status: 新线索 5、核查 1."""
    counts = Counter(statuses.get(lead_id, LeadStatus.NEW.value) for lead_id in lead_ids)
    parts = [f"{status_name(s, lang)} {counts[s.value]}" for s in STATUS_ORDER if counts[s.value]]
    return ("、" if lang == "zh" else ", ").join(parts)


def short_accounts(scheme: Scheme) -> dict[str, str]:
    """Each account of the scheme (members and flows) as 6203…2201, or in full when two
    accounts would look alike."""
    accounts = {m.account_id for m in scheme.members}
    accounts |= {f.from_account for f in scheme.flows} | {f.to_account for f in scheme.flows}
    short = {a: printable(f"{a[:4]}…{a[-4:]}" if len(a) > 9 else a) for a in accounts}
    if len(set(short.values())) < len(short):
        return {a: printable(a) for a in accounts}
    return short


# -- the list -------------------------------------------------------------------------------


def render_scheme(scheme: Scheme, lang: str = "zh") -> str:
    """One scheme as a list entry: last activity, id, class, department; its money and
    people; its accounts by role, banks and counties."""
    zh = lang == "zh"
    head = (
        f"{_minute(scheme.last_activity)}  {scheme.scheme_id}  [{scheme_class(scheme, lang)}]"
        f"  → {department_name(scheme.lead_department, lang)}"
    )
    money = (
        f"集资 {_yuan(scheme.money_raised_fen)} 元, {scheme.participants:,} 人"
        if zh
        else f"raised {_yuan(scheme.money_raised_fen)} yuan from "
        f"{scheme.participants:,} participants"
    )
    accounts = f"{'账户' if zh else 'accounts'} {role_counts(scheme, lang)}"
    leads = f"{'线索' if zh else 'leads'} {len(scheme.lead_ids)}"
    banks = f"{'银行' if zh else 'banks'} {', '.join(map(printable, scheme.banks))}"
    counties = f"{'地区' if zh else 'counties'} {_counties(scheme, lang)}"
    return f"{head}\n    {money};  {accounts};  {leads}\n    {banks};  {counties}"


# -- one scheme in full ---------------------------------------------------------------------


def _member_label(
    account_id: str,
    roles: Mapping[str, str],
    banks: Mapping[str, str],
    short: Mapping[str, str],
    lang: str,
) -> str:
    role = roles.get(account_id)
    name = _pick(ROLE_SHORT[role], lang) if role else _pick(OUTSIDE_ROLE, lang)
    bank = f" ({printable(banks[account_id])})" if account_id in banks else ""
    return f"{name} {short[account_id]}{bank}"


def flows_in_order(scheme: Scheme) -> list[SchemeFlow]:
    """The flows as the money moves: from collectors, then controllers, then payout
    accounts (accounts outside the scheme last); the most money first within each."""
    roles = {m.account_id: m.role for m in scheme.members}

    def stage(account_id: str) -> int:
        return ROLE_STAGE.get(roles.get(account_id, ""), OUTSIDE_STAGE)

    return sorted(
        scheme.flows,
        key=lambda f: (
            stage(f.from_account),
            stage(f.to_account),
            -f.amount_fen,
            f.from_account,
            f.to_account,
        ),
    )


def money_flow_picture(scheme: Scheme, lang: str = "zh") -> list[str]:
    """The money between members, collectors first, then controllers, then payout
    accounts, each arrow labelled with its amount and transfers; a blank line between the
    stages. Members no money was followed to or from are named after (they joined as one
    customer's accounts)."""
    roles = {m.account_id: m.role for m in scheme.members}
    banks = {m.account_id: m.bank_id for m in scheme.members}
    short = short_accounts(scheme)
    flows = flows_in_order(scheme)

    def stage(account_id: str) -> int:
        return ROLE_STAGE.get(roles.get(account_id, ""), OUTSIDE_STAGE)

    unit, count = ("元", "笔") if lang == "zh" else (" yuan", " tx")
    labels = [f"{_yuan(f.amount_fen)}{unit}/{f.transfers}{count}" for f in flows]
    label_width = max((display_width(label) for label in labels), default=0)
    senders = [_member_label(f.from_account, roles, banks, short, lang) for f in flows]
    sender_width = max((display_width(sender) for sender in senders), default=0)
    lines: list[str] = []
    previous_stage: int | None = None
    for flow, label, sender in zip(flows, labels, senders, strict=True):
        if previous_stage is not None and stage(flow.from_account) != previous_stage:
            lines.append("")
        previous_stage = stage(flow.from_account)
        # Arrows padded to one length, so the receivers line up in a column.
        arrow = f"──{label}{'─' * (label_width - display_width(label))}──▶"
        receiver = _member_label(flow.to_account, roles, banks, short, lang)
        lines.append(f"{pad(sender, sender_width)} {arrow} {receiver}")
    in_flows = {f.from_account for f in flows} | {f.to_account for f in flows}
    alone = [m for m in scheme.members if m.account_id not in in_flows]
    if alone:
        named = ", ".join(_member_label(m.account_id, roles, banks, short, lang) for m in alone)
        lines.append(
            f"未见资金往来（同一客户的账户并入）：{named}"
            if lang == "zh"
            else f"no money followed (joined as one customer's accounts): {named}"
        )
    return lines


def _member_rows(scheme: Scheme, lang: str) -> tuple[list[str], list[list[str]]]:
    zh = lang == "zh"
    headers = (
        [
            "账户",
            "银行",
            "地区",
            "角色",
            "跳数",
            "来源",
            "集资（元）",
            "付款人",
            "30日收款人",
            "户名",
            "线索",
        ]
        if zh
        else [
            "account",
            "bank",
            "county",
            "role",
            "hop",
            "found as",
            "raised (yuan)",
            "payers",
            "payees 30d",
            "name",
            "leads",
        ]
    )
    order = {role: i for i, role in enumerate(ROLES)}
    members = sorted(
        scheme.members, key=lambda m: (order[m.role], m.hop, -m.money_raised_fen, m.account_id)
    )
    rows = []
    for m in members:
        found = [
            name
            for flag, name in ((m.scored, ("评分", "scored")), (m.linked, ("关联", "linked")))
            if flag
        ]
        leads = ", ".join(map(printable, m.lead_ids))
        rows.append(
            [
                printable(m.account_id),
                printable(m.bank_id),
                county_name(m.county, lang),
                _pick(ROLE_NAMES[m.role], lang),
                str(m.hop),
                "+".join(_pick(name, lang) for name in found),
                _yuan(m.money_raised_fen),
                f"{m.participants:,}",
                f"{m.payees_30d:,}",
                printable(m.customer_name or "-"),
                leads,
            ]
        )
    return headers, rows


def _flow_rows(scheme: Scheme, lang: str) -> tuple[list[str], list[list[str]]]:
    headers = (
        ["付款账户", "收款账户", "追踪方向", "金额（元）", "笔数", "首笔", "末笔"]
        if lang == "zh"
        else ["from", "to", "followed as", "amount (yuan)", "transfers", "first", "last"]
    )
    rows = [
        [
            printable(f.from_account),
            printable(f.to_account),
            named(DIRECTION_NAMES, f.direction, lang),
            _yuan(f.amount_fen),
            str(f.transfers),
            _minute(f.first_tx_time),
            _minute(f.last_tx_time),
        ]
        for f in flows_in_order(scheme)
    ]
    return headers, rows


def _sector(scheme: Scheme, lang: str) -> str:
    """The sector's name, its code (for --sector) and the plan's category: 高新技术 (high_tech)."""
    name = sector_name(scheme.sector, lang)
    code = f" ({scheme.sector})" if name != scheme.sector else ""
    return f"{name}{code} {printable(scheme.seed_category)}".rstrip()


def render_scheme_detail(
    scheme: Scheme,
    lang: str = "zh",
    leads: Mapping[str, Lead] | None = None,
    statuses: Mapping[str, str] | None = None,
) -> str:
    """One scheme in full: class and flags, totals, members, a picture of the money flow,
    and the flows. ``leads`` (lead_id -> its latest revision) counts the leads by kind;
    ``statuses`` (lead_id -> LeadStatus value) shows where each lead stands."""
    zh = lang == "zh"
    leads = leads or {}
    statuses = statuses or {}
    kinds = Counter(leads[lead_id].kind for lead_id in scheme.lead_ids if lead_id in leads)
    lead_count = str(len(scheme.lead_ids))
    if kinds:
        scored, linked = kinds[LeadKind.SCORED.value], kinds[LeadKind.LINKED.value]
        lead_count += (
            f"（评分 {scored}、关联 {linked}）" if zh else f" ({scored} scored, {linked} linked)"
        )
    routes = ", ".join(department_name(code, lang) for code in scheme.routes)
    activity = f"{_minute(scheme.first_activity)} — {_minute(scheme.last_activity)}"
    rows = [
        ("牵头部门" if zh else "lead department", department_name(scheme.lead_department, lang)),
        ("推送部门" if zh else "routed to", routes),
        (
            "行业" if zh else "sector",
            _sector(scheme, lang),
        ),
        (
            "集资金额" if zh else "money raised",
            f"{_yuan(scheme.money_raised_fen)} 元（归集账户合计）"
            if zh
            else f"{_yuan(scheme.money_raised_fen)} yuan (its collector accounts together)",
        ),
        (
            "参与人数" if zh else "participants",
            f"{scheme.participants:,} 人（归集账户的付款人，各计一次）"
            if zh
            else f"{scheme.participants:,} (payers of its collector accounts, each once)",
        ),
        ("主归集账户" if zh else "main collector", printable(scheme.main_collector)),
        ("账户" if zh else "accounts", role_counts(scheme, lang)),
        ("线索" if zh else "leads", lead_count),
        ("银行" if zh else "banks", ", ".join(map(printable, scheme.banks))),
        ("地区" if zh else "counties", _counties(scheme, lang)),
        (
            "涉及省份" if zh else "provinces",
            f"{len(scheme.provinces)} ({', '.join(scheme.provinces)})",
        ),
        ("活动期间" if zh else "activity", activity),
        ("更新时间" if zh else "updated at", _minute(scheme.updated_at)),
    ]
    if statuses:
        rows.append(
            ("线索处置" if zh else "lead statuses", status_summary(scheme.lead_ids, statuses, lang))
        )
    width = max(display_width(label) for label, _ in rows)
    lines = [f"{'案件线索' if zh else 'scheme'} {scheme.scheme_id}  [{scheme_class(scheme, lang)}]"]
    lines += [f"    {pad(label, width)}  {value}" for label, value in rows]
    headers, member_rows = _member_rows(scheme, lang)
    lines += ["", "成员账户" if zh else "members"]
    lines += ["    " + line for line in text_table(headers, member_rows, frozenset({4, 6, 7, 8}))]
    lines += [
        "",
        "资金流向（归集 → 控制 → 返利）"
        if zh
        else "money flow (collectors → controllers → payout)",
    ]
    lines += ["    " + line if line else "" for line in money_flow_picture(scheme, lang)]
    headers, flow_rows = _flow_rows(scheme, lang)
    lines += ["", "资金往来" if zh else "flows"]
    lines += ["    " + line for line in text_table(headers, flow_rows, frozenset({3, 4}))]
    return "\n".join(lines)


# -- a lead's trail and scheme, for ``leads show`` --------------------------------------------


def trail_lines(lead: Lead, lang: str = "zh") -> list[str]:
    """A linked lead's money trail, one line per source lead: the direction in words, the
    money, the transfers, when, and the path from the scored lead's account."""
    zh = lang == "zh"
    lines = []
    for link in lead.trail:
        source_lead, source_account = printable(link.source_lead_id), printable(link.source_account)
        source = (
            f"线索 {source_lead} 的账户 {source_account}"
            if zh
            else f"account {source_account} of lead {source_lead}"
        )
        money = _yuan(link.amount_fen)
        when = f"{_minute(link.first_tx_time)} — {_minute(link.last_tx_time)}"
        here = "本账户" if zh else "this account"
        path = " → ".join([*map(printable, link.path), here])
        if link.direction == TrailDirection.UPSTREAM.value:
            moved = (
                f"资金来源：本账户转给 {source} {money} 元"
                if zh
                else f"where the money came from: this account sent {source} {money} yuan"
            )
        else:
            moved = (
                f"资金去向：{source} 转入本账户 {money} 元"
                if zh
                else f"where the money went: {source} sent this account {money} yuan"
            )
        counted = (
            f"{link.transfers} 笔，第 {link.hop} 跳，{when}；链路 {path}"
            if zh
            else f"{link.transfers} transfer(s), hop {link.hop}, {when}; trail {path}"
        )
        lines.append(f"{moved}，{counted}" if zh else f"{moved}, {counted}")
    return lines


def lead_kind_text(lead: Lead, lang: str = "zh") -> str:
    """评分线索, or 关联线索（第 2 跳）for a lead raised by a money trail."""
    kind = named(LEAD_KIND_NAMES, lead.kind, lang)
    if lead.kind == LeadKind.LINKED.value:
        return f"{kind}（第 {lead.hop} 跳）" if lang == "zh" else f"{kind} (hop {lead.hop})"
    return kind


def membership_text(scheme: Scheme, account_id: str, lang: str = "zh") -> str:
    """The scheme a lead belongs to, in one line: its class, accounts, the role of the
    lead's account in it, and how to see it in full."""
    role = next((m.role for m in scheme.members if m.account_id == account_id), None)
    role_text = _pick(ROLE_NAMES[role], lang) if role else "-"
    if lang == "zh":
        return (
            f"{scheme.scheme_id} [{scheme_class(scheme, lang)}] 账户 {role_counts(scheme, lang)}，"
            f"本账户为{role_text}；集资 {_yuan(scheme.money_raised_fen)} 元；"
            f"详见 fundwatch schemes show {scheme.scheme_id}"
        )
    return (
        f"{scheme.scheme_id} [{scheme_class(scheme, lang)}] accounts {role_counts(scheme, lang)};"
        f" this account is its {role_text}; raised {_yuan(scheme.money_raised_fen)} yuan;"
        f" see fundwatch schemes show {scheme.scheme_id}"
    )
