"""Suspected schemes (案件线索): leads joined by their money trails and by their entities.

Pure: a function of the leads as they stand (the latest revision of each lead_id), so every
reader (``fundwatch leads``, the console, the monthly report, ``fundwatch evaluate``) and the
worker that publishes schemes get the same schemes from the same leads, and a restarted
worker rebuilds them from the compacted leads topic.

Joining
  * Accounts: all leads of one account are one member.
  * Money trails: a linked lead joins the account of each of its source leads
    (models.trails: 资金去向 / 资金来源), except a participant's payment: money that reached
    a collector of its own (many payers) and is less than ``participant_share`` of what that
    collector raised. A scheme's salesperson who also invests in another scheme, or pays a
    developer's deposit, is one of its many payers there; joining on that would merge
    unrelated schemes into one (and add a legitimate collector to a scheme). Such a payment
    is not drawn as a flow of either scheme.
  * Entities: accounts of one customer are one entity, so their leads join: the same
    customer_id, or, for corporate accounts, the same name (NFKC, spaces dropped) in the same
    prefecture. Limits: customer ids are the banks' own, so two banks' ids for one person
    match only when the banks use the same id (e.g. the ID card number); a person's accounts
    are not matched by name (namesakes are common); an entity's account with no lead of its
    own is not pulled in.
  * A scheme is a joined group of two or more accounts; a lone lead is not a scheme.

Roles (from each member's own figures, in this order)
  * collector (归集账户): at least ``collector_min_participants`` distinct payers;
  * payout (返利账户): at least ``payout_min_payees`` distinct payees in 30 days;
  * controller (控制账户): the others (few large transfers in, the pool passed on).

Figures and classes
  * money raised = the collectors' money raised; participants = the collectors' distinct
    payers, each counted once across them (HyperLogLog union, exact up to 64 payers);
  * severity, 跨州(市) and 跨省重大 are decided on these totals with the lead thresholds
    (models.leads.LeadPolicy); 涉案 when any member's lead is;
  * the scheme's sector, lead department and routes follow its main collector (the one that
    raised the most).
  * The scheme id is "SC" + 12 hex digits of its earliest scored lead (first evidence, then
    lead_id): it stays as the scheme grows, and when two schemes merge the older id stays.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson

from models.leads import LeadPolicy, is_cross_province_major, severity_of
from models.sketch import union_estimate
from models.trails import TrailPolicy, is_participant_share
from schemas.glossary import (  # noqa: F401 (the role names, importable where the roles are)
    DIRECTION_NAMES_EN,
    DIRECTION_NAMES_ZH,
    ROLE_NAMES_EN,
    ROLE_NAMES_ZH,
    ROLE_SHORT_NAMES,
    county_of,
)
from schemas.lead import Severity
from schemas.sectors import lead_routes, sector_of

SCHEME_VERSION = 1
COLLECTOR = "collector"
CONTROLLER = "controller"
PAYOUT = "payout"
ROLES = (COLLECTOR, CONTROLLER, PAYOUT)


@dataclass(frozen=True)
class SchemePolicy:
    # The trails' own thresholds: a linked lead is revised when its account crosses one.
    collector_min_participants: int = TrailPolicy.collector_min_payers
    payout_min_payees: int = TrailPolicy.payout_min_payees
    participant_share: float = TrailPolicy.participant_share  # models.trails.participant_payment
    lead_policy: LeadPolicy = field(default_factory=LeadPolicy)


@dataclass(frozen=True, slots=True)
class SchemeMember:
    account_id: str
    bank_id: str
    region: str
    county: str
    role: str
    entity: str  # "customer:<id>", "corporate:<prefecture>:<name>" or "account:<id>"
    customer_name: str | None
    lead_ids: tuple[str, ...]
    linked: bool  # reached by a money trail
    scored: bool  # the forest (or the negative list) flagged it on its own
    hop: int  # 0 when scored; else the fewest hops from a scored lead
    money_raised_fen: int
    participants: int
    payees_30d: int
    sector: str
    first_evidence_time: str
    last_evidence_time: str


@dataclass(frozen=True, slots=True)
class SchemeFlow:
    """Money followed from one member to another (as of the linked lead's last revision)."""

    from_account: str
    to_account: str
    direction: str  # downstream 资金去向 | upstream 资金来源
    amount_fen: int
    transfers: int
    first_tx_time: str
    last_tx_time: str


@dataclass(frozen=True, slots=True)
class Scheme:
    scheme_id: str
    members: tuple[SchemeMember, ...]
    flows: tuple[SchemeFlow, ...]
    lead_ids: tuple[str, ...]
    banks: tuple[str, ...]
    counties: tuple[str, ...]
    provinces: tuple[str, ...]  # of the members and of the collectors' counterparties
    money_raised_fen: int
    participants: int
    first_activity: str
    last_activity: str
    severity: str
    cross_prefecture: bool
    cross_province_major: bool
    main_collector: str
    sector: str
    seed_category: str
    lead_department: str
    routes: tuple[str, ...]
    updated_at: str  # the newest emitted_at among its leads

    def accounts(self, role: str | None = None) -> list[str]:
        return [m.account_id for m in self.members if role is None or m.role == role]

    def to_dict(self) -> dict[str, Any]:
        body = asdict(self)
        body["schema_version"] = SCHEME_VERSION
        return body

    def to_json(self) -> bytes:
        return orjson.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, body: Mapping[str, Any]) -> Scheme:
        data = {k: v for k, v in body.items() if k != "schema_version"}
        data["members"] = tuple(
            SchemeMember(**{**m, "lead_ids": tuple(m["lead_ids"])}) for m in data["members"]
        )
        data["flows"] = tuple(SchemeFlow(**f) for f in data["flows"])
        for name in ("lead_ids", "banks", "counties", "provinces", "routes"):
            data[name] = tuple(data[name])
        return cls(**data)


def normalised_name(name: str) -> str:
    return "".join(unicodedata.normalize("NFKC", name).split())


def entity_of(lead: Mapping[str, Any]) -> str:
    """The entity an account belongs to (see the module's joining rules)."""
    customer_id = lead.get("customer_id")
    if customer_id:
        return f"customer:{customer_id}"
    name = lead.get("customer_name")
    if lead.get("account_type") == "corporate" and name:
        return f"corporate:{lead['region'][:4]}:{normalised_name(name)}"
    return f"account:{lead['account_id']}"


class _Joins:
    """Union-find over account ids."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, item: str) -> str:
        parent = self.parent.setdefault(item, item)
        if parent != item:
            parent = self.parent[item] = self.find(parent)
        return parent

    def join(self, a: str, b: str) -> None:
        root_a, root_b = self.find(a), self.find(b)
        if root_a != root_b:
            self.parent[max(root_a, root_b)] = min(root_a, root_b)


def build_schemes(
    leads: Iterable[Mapping[str, Any]], policy: SchemePolicy | None = None
) -> list[Scheme]:
    """The schemes among leads (any revisions: the highest of each lead_id is used), the
    newest activity first."""
    policy = policy or SchemePolicy()
    latest: dict[str, Mapping[str, Any]] = {}
    for lead in leads:
        known = latest.get(lead["lead_id"])
        if known is None or lead["revision"] > known["revision"]:
            latest[lead["lead_id"]] = lead
    by_account: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for lead in latest.values():
        by_account[lead["account_id"]].append(lead)
    joins = _Joins()
    by_entity: dict[str, str] = {}
    for account_id, account_leads in sorted(by_account.items()):
        joins.find(account_id)
        figures = _figures(account_leads)
        for lead in account_leads:
            entity = entity_of(lead)
            joins.join(by_entity.setdefault(entity, account_id), account_id)
            for link in lead.get("trail", ()):
                source = latest.get(link["source_lead_id"])
                source_account = source["account_id"] if source else link["source_account"]
                if source_account in by_account and not _participant_payment(link, figures, policy):
                    joins.join(account_id, source_account)
    groups: dict[str, list[str]] = defaultdict(list)
    for account_id in sorted(by_account):
        groups[joins.find(account_id)].append(account_id)
    schemes = [
        _scheme({a: by_account[a] for a in accounts}, policy)
        for accounts in groups.values()
        if len(accounts) >= 2
    ]
    return sorted(schemes, key=lambda s: (s.last_activity, s.scheme_id), reverse=True)


def scheme_of_leads(schemes: Iterable[Scheme]) -> dict[str, str]:
    """lead_id -> the id of the scheme it belongs to."""
    return {lead_id: s.scheme_id for s in schemes for lead_id in s.lead_ids}


def _participant_payment(
    link: Mapping[str, Any], figures: Mapping[str, Any], policy: SchemePolicy
) -> bool:
    """Whether a trail link is one participant's money into a collector of its own (see the
    module's joining rules); ``figures``: the linked account's (``_figures``)."""
    return link["direction"] == "downstream" and is_participant_share(
        link["amount_fen"],
        figures["participants"],
        figures["money_raised_fen"],
        policy.collector_min_participants,
        policy.participant_share,
    )


def _role(participants: int, payees: int, policy: SchemePolicy) -> str:
    if participants >= policy.collector_min_participants:
        return COLLECTOR
    if payees >= policy.payout_min_payees:
        return PAYOUT
    return CONTROLLER


def _figures(leads: list[Mapping[str, Any]]) -> Mapping[str, Any]:
    """The lead whose figures describe the account: its scored lead with the newest evidence if
    it has one (a scored lead's figures are those of the report that raised it, the same
    however the stream was cut), else its linked lead with the newest evidence."""
    scored = [lead for lead in leads if lead.get("kind", "scored") == "scored"]
    return max(scored or leads, key=lambda lead: (lead["last_evidence_time"], lead["lead_id"]))


def _member(account_id: str, leads: list[Mapping[str, Any]], policy: SchemePolicy) -> SchemeMember:
    figures = _figures(leads)
    participants = figures["participants"]
    payees = figures.get("payees_30d", 0)
    kinds = {lead.get("kind", "scored") for lead in leads}
    return SchemeMember(
        account_id=account_id,
        bank_id=figures["bank_id"],
        region=figures["region"],
        county=county_of(figures["region"]),
        role=_role(participants, payees, policy),
        entity=entity_of(figures),
        customer_name=figures.get("customer_name"),
        lead_ids=tuple(sorted(lead["lead_id"] for lead in leads)),
        linked="linked" in kinds,
        scored="scored" in kinds,
        hop=min(lead.get("hop", 0) for lead in leads),
        money_raised_fen=figures["money_raised_fen"],
        participants=participants,
        payees_30d=payees,
        sector=figures["sector"],
        first_evidence_time=min(lead["first_evidence_time"] for lead in leads),
        last_evidence_time=max(lead["last_evidence_time"] for lead in leads),
    )


def _flows(
    by_account: Mapping[str, list[Mapping[str, Any]]], policy: SchemePolicy
) -> tuple[SchemeFlow, ...]:
    totals: dict[tuple[str, str, str], list[Any]] = {}
    for account_id, leads in by_account.items():
        figures = _figures(leads)
        for lead in leads:
            for link in lead.get("trail", ()):
                source = link["source_account"]
                if source not in by_account and _participant_payment(link, figures, policy):
                    continue  # a participant's payment from another scheme: not this one's
                if link["direction"] == "upstream":  # the listed sender paid the lead
                    key = (account_id, source, "upstream")
                else:
                    key = (source, account_id, "downstream")
                total = totals.setdefault(key, [0, 0, link["first_tx_time"], link["last_tx_time"]])
                total[0] += link["amount_fen"]
                total[1] += link["transfers"]
                total[2] = min(total[2], link["first_tx_time"])
                total[3] = max(total[3], link["last_tx_time"])
    return tuple(
        SchemeFlow(a, b, direction, amount, transfers, first, last)
        for (a, b, direction), (amount, transfers, first, last) in sorted(totals.items())
    )


def _scheme(by_account: Mapping[str, list[Mapping[str, Any]]], policy: SchemePolicy) -> Scheme:
    members = tuple(_member(a, leads, policy) for a, leads in sorted(by_account.items()))
    leads = [lead for account_leads in by_account.values() for lead in account_leads]
    collectors = [m for m in members if m.role == COLLECTOR]
    collector_leads = [_figures(by_account[m.account_id]) for m in collectors]
    sketches = [lead.get("participants_sketch") or "x" for lead in collector_leads]
    participants = union_estimate(sketches) if collectors else 0
    money = sum(m.money_raised_fen for m in collectors)
    provinces = {m.region[:2] for m in members} | {
        p for lead in collector_leads for p in lead.get("counterparty_provinces", ())
    }
    lead_policy = policy.lead_policy
    cpm = is_cross_province_major(len(provinces), money, participants, lead_policy)
    listed = any(lead["severity"] == Severity.CASE_RELATED for lead in leads)
    severity = severity_of(money, participants, cpm, lead_policy, listed)
    prefectures = {m.region[:4] for m in members}
    cross_prefecture = len(prefectures) > 1 or any(lead["cross_prefecture"] for lead in leads)
    main = max(
        collectors or members, key=lambda m: (m.money_raised_fen, m.participants, m.account_id)
    )
    sector = sector_of(main.sector)
    department = sector.department.code
    roots = [lead for lead in leads if lead.get("kind", "scored") == "scored"] or leads
    root = min(roots, key=lambda lead: (lead["first_evidence_time"], lead["lead_id"]))
    return Scheme(
        scheme_id="SC" + hashlib.blake2b(root["lead_id"].encode(), digest_size=6).hexdigest(),
        members=members,
        flows=_flows(by_account, policy),
        lead_ids=tuple(sorted(lead["lead_id"] for lead in leads)),
        banks=tuple(sorted({m.bank_id for m in members})),
        counties=tuple(sorted({m.county for m in members})),
        provinces=tuple(sorted(provinces)),
        money_raised_fen=money,
        participants=participants,
        first_activity=min(m.first_evidence_time for m in members),
        last_activity=max(m.last_evidence_time for m in members),
        severity=severity.value,
        cross_prefecture=cross_prefecture,
        cross_province_major=cpm,
        main_collector=main.account_id,
        sector=main.sector,
        seed_category=sector.seed_category,
        lead_department=department,
        routes=tuple(lead_routes(main.sector, department, cross_prefecture, cpm)),
        updated_at=max(lead.get("emitted_at", "") for lead in leads),
    )
