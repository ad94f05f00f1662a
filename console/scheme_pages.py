"""What the console shows of the suspected schemes (案件线索, ``models.schemes``).

The schemes list, a scheme's page, and on a lead's page the scheme it belongs to and, for a
linked lead, its money trail. Pure functions of a LeadBook and the user's departments (no
Faust in them), so the unit tests call them exactly as the views do.

Visibility: a user sees the schemes routed to one of their departments
(``LeadBook.visible_schemes``). A scheme's page shows all its accounts, but links only the
leads the user may open themselves, and gives the status of those only. A lead whose scheme
the user may not see says which department leads that scheme, not its id or its accounts.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from casework.lead_book import LeadBook, visible_to
from models.schemes import ROLES, Scheme, SchemeFlow, SchemeMember
from schemas.lead import Lead

MAX_LISTED_SCHEMES = 500


def visible_scheme(
    book: LeadBook, departments: frozenset[str] | None, scheme_id: str
) -> Scheme | None:
    """The scheme if the user may see it; None both when it does not exist and when it is not
    theirs, so that the two are answered alike."""
    return next((s for s in book.visible_schemes(departments) if s.scheme_id == scheme_id), None)


def scheme_row(scheme: Scheme) -> dict[str, Any]:
    """What the schemes list shows of a scheme."""
    return {
        "scheme_id": scheme.scheme_id,
        "severity": scheme.severity,
        "cross_prefecture": scheme.cross_prefecture,
        "cross_province_major": scheme.cross_province_major,
        "banks": list(scheme.banks),
        "counties": list(scheme.counties),
        "money_raised_yuan": scheme.money_raised_fen / 100,
        "participants": scheme.participants,
        "accounts": len(scheme.members),
        "accounts_by_role": {role: len(scheme.accounts(role)) for role in ROLES},
        "leads": len(scheme.lead_ids),
        "sector": scheme.sector,
        "seed_category": scheme.seed_category,
        "lead_department": scheme.lead_department,
        "routes": list(scheme.routes),
        "first_activity": scheme.first_activity,
        "last_activity": scheme.last_activity,
        "updated_at": scheme.updated_at,
    }


def scheme_rows(book: LeadBook, departments: frozenset[str] | None) -> list[dict[str, Any]]:
    """The schemes the user may see, newest activity first."""
    return [scheme_row(s) for s in book.visible_schemes(departments)]


def _lead_link(book: LeadBook, departments: frozenset[str] | None, lead_id: str) -> dict[str, Any]:
    lead = book.lead(lead_id)
    visible = lead is not None and visible_to(lead, departments)
    return {
        "lead_id": lead_id,
        "visible": visible,
        # Only the leads the user may open: the status is casework of the lead's departments.
        "status": book.status(lead_id).value if visible else None,
    }


def _member(
    book: LeadBook, departments: frozenset[str] | None, member: SchemeMember
) -> dict[str, Any]:
    return {
        "account_id": member.account_id,
        "bank_id": member.bank_id,
        "region": member.region,
        "county": member.county,
        "customer_name": member.customer_name,
        "role": member.role,
        "hop": member.hop,
        "linked": member.linked,
        "scored": member.scored,
        "money_raised_yuan": member.money_raised_fen / 100,
        "participants": member.participants,
        "payees_30d": member.payees_30d,
        "sector": member.sector,
        "first_evidence_time": member.first_evidence_time,
        "last_evidence_time": member.last_evidence_time,
        "leads": [_lead_link(book, departments, lead_id) for lead_id in member.lead_ids],
    }


def _flow(flow: SchemeFlow) -> dict[str, Any]:
    return {
        "from_account": flow.from_account,
        "to_account": flow.to_account,
        "direction": flow.direction,
        "amount_yuan": flow.amount_fen / 100,
        "transfers": flow.transfers,
        "first_tx_time": flow.first_tx_time,
        "last_tx_time": flow.last_tx_time,
    }


def scheme_page(
    book: LeadBook, departments: frozenset[str] | None, scheme: Scheme
) -> dict[str, Any]:
    """A scheme's page: its figures, its accounts (collectors first) and its flows."""
    order = {role: index for index, role in enumerate(ROLES)}
    members = sorted(
        scheme.members, key=lambda m: (order.get(m.role, len(ROLES)), m.hop, m.account_id)
    )
    return {
        "scheme": {
            **scheme_row(scheme),
            "provinces": list(scheme.provinces),
            "main_collector": scheme.main_collector,
        },
        "members": [_member(book, departments, m) for m in members],
        "flows": [_flow(f) for f in sorted(scheme.flows, key=lambda f: -f.amount_fen)],
    }


def lead_scheme(
    book: LeadBook, departments: frozenset[str] | None, lead_id: str
) -> dict[str, Any] | None:
    """The scheme a lead belongs to, as its page shows it; None when it belongs to none."""
    scheme = book.scheme_of(lead_id)
    if scheme is None:
        return None
    if visible_scheme(book, departments, scheme.scheme_id) is None:
        # Enough to know whom to ask, nothing of the scheme itself.
        return {"visible": False, "lead_department": scheme.lead_department}
    role = next((m.role for m in scheme.members if lead_id in m.lead_ids), None)
    return {"visible": True, "role": role, **scheme_row(scheme)}


def lead_trail(
    book: LeadBook, departments: frozenset[str] | None, lead: Lead
) -> list[dict[str, Any]]:
    """A linked lead's money trail: each source lead (linked only if the user may open it),
    the direction, the money and the path from the scored lead's account."""
    trail = []
    for link in lead.trail:
        source = book.lead(link.source_lead_id)
        trail.append(
            {
                "source_lead_id": link.source_lead_id,
                "source_visible": source is not None and visible_to(source, departments),
                "source_account": link.source_account,
                "direction": link.direction,
                "hop": link.hop,
                # From the scored lead's account to this lead's: the trail as a whole.
                "path": [*link.path, lead.account_id],
                "amount_yuan": link.amount_fen / 100,
                "transfers": link.transfers,
                "first_tx_time": link.first_tx_time.astimezone(UTC).isoformat(),
                "last_tx_time": link.last_tx_time.astimezone(UTC).isoformat(),
            }
        )
    return trail
