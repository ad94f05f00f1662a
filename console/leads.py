"""The leads: the live list, a lead's page, and the status change (with, in the same step,
the listing of the lead's account on the negative list)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp.web import Request, Response

from casework.lead_book import LeadFilter
from casework.lead_status import LeadStatus
from console.activity import account_activity
from console.lead_pages import change_request, history, lead_page, lead_row, save_change
from console.messages import RefusedError
from console.shared import (
    CHANGE_LOCK,
    ConsoleView,
    api_change,
    api_user,
    choice,
    json_response,
    list_token,
    publish,
    visible_lead,
)
from schemas.lead import Severity
from streams.agents import casework
from streams.app import accounts, app, lead_status_topic, settings, watchlist_topic

log = logging.getLogger("console")

MAX_LISTED_LEADS = 500


@app.page("/console/api/leads")
class Leads(ConsoleView):
    """The leads the user may see, newest evidence first; ``since=<token>`` answers
    ``{"changed": false}`` at once when nothing changed (the page polls every 2 s)."""

    async def get(self, request: Request) -> Response:
        signed_in = api_user(request)
        token = list_token(signed_in)
        if request.query.get("since") == token:
            return json_response({"token": token, "changed": False})
        lead_filter = LeadFilter(
            county=choice(request, "county"),
            sector=choice(request, "sector"),
            severity=choice(request, "severity", [s.value for s in Severity]),
            status=choice(request, "status", [s.value for s in LeadStatus]),
        )
        book = casework.book
        visible = book.select_leads(departments=signed_in.departments)
        chosen = [lead for lead in visible if lead_filter.matches(lead, book.status(lead.lead_id))]
        chosen.reverse()  # newest evidence first
        return json_response(
            {
                "token": token,
                "changed": True,
                "caught_up": casework.caught_up.is_set(),
                "total": len(chosen),
                "leads": [lead_row(book, lead) for lead in chosen[:MAX_LISTED_LEADS]],
                "counties": sorted({lead.county for lead in visible}),
                "sectors": sorted({lead.sector for lead in visible}),
            }
        )


def _activity(account_id: str) -> dict[str, Any]:
    lateness_ms = int(settings.lateness_seconds * 1000)
    try:
        return account_activity(accounts.data.get(account_id), lateness_ms)
    except (ValueError, KeyError, TypeError) as exc:
        log.error("account state of %s unreadable: %s", account_id, exc)
        return {"held_here": True, "error": "unreadable"}


@app.page("/console/api/leads/{lead_id}")
class LeadDetail(ConsoleView):
    async def get(self, request: Request, lead_id: str) -> Response:
        signed_in = api_user(request)
        lead = visible_lead(signed_in, lead_id)
        return json_response(
            {"token": list_token(signed_in)}
            | lead_page(casework.book, signed_in.departments, lead)
            | {"activity": _activity(lead.account_id)}
        )


CASEWORK_TOPICS = {"lead-status": lead_status_topic, "watchlist": watchlist_topic}


async def _publish(name: str, key: str, value: bytes) -> None:
    await publish(CASEWORK_TOPICS[name], key, value)


@app.page("/console/api/leads/{lead_id}/status")
class LeadStatusChange(ConsoleView):
    """Change a lead's status and, in the same step, put its account on the negative list
    (either may be asked alone). Both are checked before either is published; the form's
    version of the lead's status must still be the book's (else 409, ``stale``)."""

    async def post(self, request: Request, lead_id: str) -> Response:
        signed_in = api_change(request)
        visible_lead(signed_in, lead_id)
        try:
            body = await request.json()
        except (ValueError, UnicodeDecodeError) as exc:
            raise RefusedError(400, "not_a_change") from exc
        by = signed_in.user.name
        wanted = change_request(body, by, datetime.now(UTC))
        book = casework.book
        saved = await save_change(
            book,
            CHANGE_LOCK,
            lead_id,
            wanted,
            by,
            _publish,
        )
        log.info(
            "console: %s set %s to %s%s",
            by,
            lead_id,
            saved.record.status.value if saved.record is not None else "(unchanged)",
            " and listed its account" if saved.listing is not None else "",
        )
        return json_response(
            {
                "token": list_token(signed_in),
                "status": book.status(lead_id).value,
                "status_version": book.status_version(lead_id),
                "history": history(book, lead_id),
                "listing": orjson.loads(saved.listing.to_json()) if saved.listing else None,
            }
        )
