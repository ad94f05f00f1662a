"""The regulators' view of the leads: latest revisions, their status, and the negative list.

Rebuilt by applying the values of three topics (leads, lead-status, watchlist) in any
interleaving: a lead's highest revision wins, a status record or watchlist entry replaces the
previous value of its key. The command-line tools, the web console and the monthly report all
read leads through a LeadBook, and the suspected schemes (models.schemes) are built from its
leads.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from casework.lead_status import (
    LeadStatus,
    LeadStatusRecord,
    StatusChange,
    StatusChangeError,
    change_status,
)
from models.schemes import Scheme, build_schemes, scheme_of_leads
from models.watchlist import EntityType, ListingSource, Watchlist, WatchlistEntry
from schemas.sectors import lead_routes

# Departments that see every lead (三: the PBOC branch watches all, 打非办 coordinates).
SEE_ALL_DEPARTMENTS = frozenset({"pboc", "dfb"})


def lead_departments(lead: dict[str, Any]) -> tuple[str, ...]:
    """The departments a lead is routed to (its lead department first)."""
    return lead_routes(
        lead["sector"],
        lead["lead_department"],
        lead["cross_prefecture"],
        lead["cross_province_major"],
    )


def visible_to(lead: dict[str, Any], departments: frozenset[str] | None) -> bool:
    """Whether a user of these departments may see the lead (None: no restriction)."""
    if departments is None or departments & SEE_ALL_DEPARTMENTS:
        return True
    return bool(departments.intersection(lead_departments(lead)))


@dataclass(frozen=True)
class LeadFilter:
    """Which leads to show; an empty field matches every lead."""

    county: str | None = None  # a county name (隆阳区) or its 6-digit region code
    sector: str | None = None
    department: str | None = None  # a department code, e.g. cbrc
    severity: str | None = None
    status: str | None = None  # a casework.lead_status.LeadStatus value
    lead_id: str | None = None

    def matches(self, lead: dict[str, Any], status: LeadStatus = LeadStatus.NEW) -> bool:
        return (
            (self.county is None or self.county in (lead["county"], lead["region"]))
            and (self.sector is None or lead["sector"] == self.sector)
            and (self.department is None or self.department in lead_departments(lead))
            and (self.severity is None or lead["severity"] == self.severity)
            and (self.status is None or status.value == self.status)
            and (self.lead_id is None or lead["lead_id"] == self.lead_id)
        )


class LeadBook:
    def __init__(self) -> None:
        self.leads: dict[str, dict[str, Any]] = {}  # lead_id -> its highest revision
        self.first_emitted_at: dict[str, str] = {}  # lead_id -> emitted_at of revision 1
        self.statuses: dict[str, LeadStatusRecord] = {}
        self.watchlist = Watchlist()
        # Bumped on every change, so a console can ask "anything new since version N?".
        self.version = 0
        self._schemes: tuple[int, list[Scheme], dict[str, str]] | None = None

    # -- applying topic values -------------------------------------------------------------

    def apply_lead(self, value: bytes | dict[str, Any]) -> dict[str, Any] | None:
        """Apply one lead revision; return it if it is the lead's newest, else None."""
        lead = orjson.loads(value) if isinstance(value, bytes) else value
        lead_id = lead["lead_id"]
        if lead["revision"] == 1 or lead_id not in self.first_emitted_at:
            self.first_emitted_at[lead_id] = lead["emitted_at"]
        current = self.leads.get(lead_id)
        if current is not None and current["revision"] >= lead["revision"]:
            return None
        self.leads[lead_id] = lead
        self.version += 1
        return lead

    def apply_status(self, value: bytes | LeadStatusRecord) -> LeadStatusRecord:
        record = LeadStatusRecord.from_json(value) if isinstance(value, bytes) else value
        self.statuses[record.lead_id] = record
        self.version += 1
        return record

    def apply_watchlist(self, value: bytes | WatchlistEntry) -> WatchlistEntry:
        entry = WatchlistEntry.from_json(value) if isinstance(value, bytes) else value
        self.watchlist.apply(entry)
        self.version += 1
        return entry

    # -- reading ---------------------------------------------------------------------------

    def status(self, lead_id: str) -> LeadStatus:
        record = self.statuses.get(lead_id)
        return record.status if record is not None else LeadStatus.NEW

    def select(
        self, lead_filter: LeadFilter = LeadFilter(), departments: frozenset[str] | None = None
    ) -> list[dict[str, Any]]:
        """Matching leads (filtered on their latest revision), oldest evidence first."""
        chosen = [
            lead
            for lead_id, lead in self.leads.items()
            if visible_to(lead, departments) and lead_filter.matches(lead, self.status(lead_id))
        ]
        return sorted(chosen, key=lambda lead: (lead["last_evidence_time"], lead["lead_id"]))

    def schemes(self) -> list[Scheme]:
        """The suspected schemes among the leads, newest activity first (rebuilt on change)."""
        return self._scheme_index()[0]

    def scheme(self, scheme_id: str) -> Scheme | None:
        return next((s for s in self.schemes() if s.scheme_id == scheme_id), None)

    def scheme_of(self, lead_id: str) -> Scheme | None:
        """The scheme a lead belongs to, if any."""
        scheme_id = self._scheme_index()[1].get(lead_id)
        return self.scheme(scheme_id) if scheme_id is not None else None

    def visible_schemes(self, departments: frozenset[str] | None) -> list[Scheme]:
        """Schemes a user of these departments may see: those routed to one of them."""
        if departments is None or departments & SEE_ALL_DEPARTMENTS:
            return self.schemes()
        return [s for s in self.schemes() if departments.intersection(s.routes)]

    def _scheme_index(self) -> tuple[list[Scheme], dict[str, str]]:
        if self._schemes is None or self._schemes[0] != self.version:
            schemes = build_schemes(self.leads.values())
            self._schemes = (self.version, schemes, scheme_of_leads(schemes))
        return self._schemes[1], self._schemes[2]

    def listing_of(self, lead: dict[str, Any]) -> WatchlistEntry | None:
        """The active watchlist entry for the lead's account or customer, if any."""
        return self.watchlist.listed(lead["account_id"], None, lead.get("customer_name"))

    # -- changes (validated here, published by the caller, then applied) ---------------------

    def status_change(self, lead_id: str, change: StatusChange) -> LeadStatusRecord:
        return change_status(self.statuses.get(lead_id), lead_id, lead_id in self.leads, change)

    def listing_from_lead(
        self, lead_id: str, by: str, at: datetime, reason: str = ""
    ) -> WatchlistEntry:
        """The watchlist entry that puts a verified lead's account on the negative list."""
        lead = self.leads.get(lead_id)
        if lead is None:
            raise StatusChangeError(f"no lead {lead_id} on the leads topic")
        entry = WatchlistEntry(
            entity_type=EntityType.ACCOUNT,
            entity_id=lead["account_id"],
            source=ListingSource.VERIFIED_LEAD,
            reason=reason or f"verified lead {lead_id}",
            added_by=by,
            added_at=at,
            lead_id=lead_id,
        )
        return self.watchlist.add(entry)


def build_book(
    leads: Iterable[bytes], statuses: Iterable[bytes | None], watchlist: Iterable[bytes | None]
) -> LeadBook:
    """A LeadBook from the values of the three topics (tombstones, None, are skipped)."""
    book = LeadBook()
    for value in leads:
        book.apply_lead(value)
    for value in statuses:
        if value is not None:
            book.apply_status(value)
    for value in watchlist:
        if value is not None:
            book.apply_watchlist(value)
    return book
