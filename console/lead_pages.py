"""What the console shows of leads, and how it takes an analyst's status change.

Pure functions of a LeadBook and the user's departments, and ``save_change`` with the
publishing passed in (no Faust in this module), so the unit tests run them exactly as the
endpoints in ``console.leads`` do.

A status change names the version of the lead's status record its form was drawn from; a
change decided on an older version is refused (another analyst changed the lead meanwhile).
An accepted change is published, and once the broker acknowledged it, applied to this
worker's book at once (read-your-writes): the analyst's next request sees it, whether or not
the lead-status topic has come back around yet.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from casework.lead_book import LeadBook, lead_departments
from casework.lead_status import LeadStatus, LeadStatusRecord, Outcome, StatusChange
from console.messages import RefusedError
from console.scheme_pages import lead_scheme, lead_trail
from models.watchlist import WatchlistEntry
from schemas.lead import Lead

# Sends one message and returns once the broker acknowledged it: (the casework topic's short
# name, "lead-status" or "watchlist"; key; value).
Publish = Callable[[str, str, bytes], Awaitable[None]]


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def lead_row(book: LeadBook, lead: Lead) -> dict[str, Any]:
    """What the list shows of a lead."""
    return {
        "lead_id": lead.lead_id,
        "revision": lead.revision,
        "severity": lead.severity.value,
        "county": lead.county,
        "region": lead.region,
        "sector": lead.sector,
        "lead_department": lead.lead_department,
        "account_id": lead.account_id,
        "bank_id": lead.bank_id,
        "customer_name": lead.customer_name,
        "score": lead.score,
        "threshold": lead.threshold,
        "money_raised_yuan": lead.money_raised_fen / 100,
        "participants": lead.participants,
        "cross_prefecture": lead.cross_prefecture,
        "cross_province_major": lead.cross_province_major,
        "first_evidence_time": _iso(lead.first_evidence_time),
        "last_evidence_time": _iso(lead.last_evidence_time),
        "first_emitted_at": book.first_emitted_at.get(lead.lead_id, _iso(lead.emitted_at)),
        "status": book.status(lead.lead_id).value,
        "listed": book.listing_of(lead) is not None,
    }


def history(book: LeadBook, lead_id: str) -> list[dict[str, Any]]:
    record = book.statuses.get(lead_id)
    return [change.to_dict() for change in record.history] if record is not None else []


def entry_json(entry: WatchlistEntry) -> dict[str, Any]:
    return {"key": entry.key, **orjson.loads(entry.to_json())}


def lead_page(book: LeadBook, departments: frozenset[str] | None, lead: Lead) -> dict[str, Any]:
    """A lead's page but for the account's activity (which only the worker's table holds):
    the lead, where it is routed, its status (with the version a change must name), its
    history, its listing, its scheme and its money trail."""
    listing = book.listing_of(lead)
    return {
        "lead": orjson.Fragment(lead.to_json()),
        "departments": list(lead_departments(lead)),
        "first_emitted_at": book.first_emitted_at.get(lead.lead_id, _iso(lead.emitted_at)),
        "status": book.status(lead.lead_id).value,
        "status_version": book.status_version(lead.lead_id),
        "history": history(book, lead.lead_id),
        "listing": entry_json(listing) if listing is not None else None,
        "scheme": lead_scheme(book, departments, lead.lead_id),
        "trail": lead_trail(book, departments, lead),
    }


# -- a status change -------------------------------------------------------------------------


@dataclass(frozen=True)
class ChangeRequest:
    """What the status form sends."""

    change: StatusChange | None  # None: the status stays
    list_account: bool
    version: int  # the version of the status record the form was drawn from
    note: str


def change_request(body: Any, by: str, now: datetime) -> ChangeRequest:
    """The form's JSON body as a change request, or a 400 refusal."""
    try:
        if not isinstance(body, dict):
            raise TypeError("not an object")
        status = str(body.get("status") or "")
        note = str(body.get("note") or "").strip()
        outcome = Outcome(body["outcome"]) if body.get("outcome") else None
        version = body.get("version")
        change = StatusChange(LeadStatus(status), by, now, note, outcome) if status else None
    except (ValueError, AttributeError, TypeError, KeyError) as exc:
        raise RefusedError(400, "not_a_change") from exc
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        raise RefusedError(400, "no_version")
    list_account = bool(body.get("list_account"))
    if change is None and not list_account:
        raise RefusedError(400, "nothing_chosen")
    return ChangeRequest(change, list_account, version, note)


@dataclass(frozen=True)
class SavedChange:
    record: LeadStatusRecord | None
    listing: WatchlistEntry | None


async def save_change(
    book: LeadBook,
    lock: asyncio.Lock,
    lead_id: str,
    request: ChangeRequest,
    by: str,
    publish: Publish,
) -> SavedChange:
    """Check the change against the book, publish it, then apply it to the book.

    Both the status and the listing are checked before either is published. Under ``lock``
    (one change at a time on this worker), so two analysts' changes of one lead on this
    worker cannot both pass the version check."""
    async with lock:
        # Checked even when only the listing is asked: the analyst decided on the lead as the
        # form showed it.
        book.check_version(lead_id, request.version)
        record = (
            book.status_change(lead_id, request.change, request.version)
            if request.change is not None
            else None
        )
        listing = None
        if request.list_account:
            lead = book.lead(lead_id)
            if lead is None or book.listing_of(lead) is not None:
                raise RefusedError(409, "already_listed")
            at = request.change.at if request.change is not None else datetime.now(UTC)
            listing = book.listing_from_lead(lead_id, by, at, request.note)
        # Read-your-writes: each record is applied to the book once the broker has it; its
        # echo from the topic later changes nothing (LeadBook.apply_status).
        try:
            if record is not None:
                await publish("lead-status", lead_id, record.to_json())
                book.apply_status(record)
            if listing is not None:
                await publish("watchlist", listing.key, listing.to_json())
                book.apply_watchlist(listing)
        except Exception as exc:
            # The broker refused or timed out: what it did not take is neither applied nor
            # said to be saved.
            raise RefusedError(503, "not_saved") from exc
        return SavedChange(record, listing)
