"""The regulators' view of the leads: latest revisions, their status, and the negative list.

Rebuilt by applying the values of three topics (leads, lead-status, watchlist) in any
interleaving: a lead's highest revision wins, a status record or watchlist entry replaces the
previous value of its key. The command-line tools, the web console and the monthly report all
read leads through a LeadBook, and the suspected schemes (models.schemes) are built from its
leads.

``leads`` holds each lead as the topic's JSON object (the CLI and the monthly report read
those); ``lead``, ``typed_leads`` and ``select_leads`` give the typed ``schemas.lead.Lead``.

A worker applies its own accepted status change at once (read-your-writes), before the record
comes back on the topic; when it does come back, it changes nothing (``apply_status``).
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
    check_version,
)
from models.schemes import Scheme, build_schemes, scheme_of_leads
from models.watchlist import EntityType, ListingSource, Watchlist, WatchlistEntry
from schemas.lead import Lead
from schemas.sectors import lead_routes

# A lead as the topic's JSON object or as the typed record: the routing and filtering below
# read the same fields of either.
AnyLead = Lead | dict[str, Any]

# Departments that see every lead (三: the PBOC branch watches all, 打非办 coordinates).
SEE_ALL_DEPARTMENTS = frozenset({"pboc", "dfb"})


def _field(lead: AnyLead, name: str) -> Any:
    return getattr(lead, name) if isinstance(lead, Lead) else lead[name]


def lead_departments(lead: AnyLead) -> tuple[str, ...]:
    """The departments a lead is routed to (its lead department first)."""
    return lead_routes(
        _field(lead, "sector"),
        _field(lead, "lead_department"),
        _field(lead, "cross_prefecture"),
        _field(lead, "cross_province_major"),
    )


def visible_to(lead: AnyLead, departments: frozenset[str] | None) -> bool:
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

    def matches(self, lead: AnyLead, status: LeadStatus = LeadStatus.NEW) -> bool:
        def field(name: str) -> Any:
            return _field(lead, name)

        return (
            (self.county is None or self.county in (field("county"), field("region")))
            and (self.sector is None or field("sector") == self.sector)
            and (self.department is None or self.department in lead_departments(lead))
            and (self.severity is None or field("severity") == self.severity)
            and (self.status is None or status.value == self.status)
            and (self.lead_id is None or field("lead_id") == self.lead_id)
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
        self._typed: dict[str, Lead] = {}  # lead_id -> Lead.from_json of leads[lead_id]

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
        self._typed.pop(lead_id, None)
        self.version += 1
        return lead

    def apply_status(self, value: bytes | LeadStatusRecord) -> LeadStatusRecord:
        """Apply a lead's status record; return the record the book holds afterwards.

        The topic's latest value wins, but for what this worker already holds: the echo of a
        record it applied itself (equal), or an older state of it (one the held record
        extends), arriving late on the topic after the worker's own newer change. Neither
        changes the book, nor its version, so a page drawn from it is not redrawn for nothing.
        """
        record = LeadStatusRecord.from_json(value) if isinstance(value, bytes) else value
        held = self.statuses.get(record.lead_id)
        if held is not None and (held == record or held.follows(record)):
            return held
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

    def status_version(self, lead_id: str) -> int:
        """The version of the lead's status record (0: never changed)."""
        record = self.statuses.get(lead_id)
        return record.version if record is not None else 0

    def lead(self, lead_id: str) -> Lead | None:
        """The lead's latest revision as the typed record (parsed once per revision)."""
        typed = self._typed.get(lead_id)
        if typed is None:
            body = self.leads.get(lead_id)
            if body is None:
                return None
            typed = self._typed[lead_id] = Lead.from_json(body)
        return typed

    def typed_leads(self) -> list[Lead]:
        """Every lead's latest revision, typed, in the order the book first saw them."""
        return [lead for lead_id in self.leads if (lead := self.lead(lead_id)) is not None]

    def select_leads(
        self, lead_filter: LeadFilter = LeadFilter(), departments: frozenset[str] | None = None
    ) -> list[Lead]:
        """``select``, as typed records: matching leads, oldest evidence first."""
        chosen = [
            lead
            for lead in self.typed_leads()
            if visible_to(lead, departments)
            and lead_filter.matches(lead, self.status(lead.lead_id))
        ]
        return sorted(chosen, key=lambda lead: (lead.last_evidence_time, lead.lead_id))

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

    def listing_of(self, lead: AnyLead) -> WatchlistEntry | None:
        """The active watchlist entry for the lead's account or customer, if any."""
        customer = lead.customer_name if isinstance(lead, Lead) else lead.get("customer_name")
        return self.watchlist.listed(_field(lead, "account_id"), None, customer)

    # -- changes (validated here, published by the caller, then applied) ---------------------

    def status_change(
        self, lead_id: str, change: StatusChange, expected_version: int | None = None
    ) -> LeadStatusRecord:
        """The lead's next record (``casework.lead_status.change_status``): refused as stale
        when ``expected_version`` is given and the record has moved on from it."""
        return change_status(
            self.statuses.get(lead_id), lead_id, lead_id in self.leads, change, expected_version
        )

    def check_version(self, lead_id: str, expected_version: int) -> None:
        """Refuse as stale a change decided on another version of the lead's status."""
        check_version(self.statuses.get(lead_id), lead_id, expected_version)

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
    for status in statuses:
        if status is not None:
            book.apply_status(status)
    for entry in watchlist:
        if entry is not None:
            book.apply_watchlist(entry)
    return book
