"""The negative list as the console shows it."""

from __future__ import annotations

from aiohttp.web import Request, Response

from console.lead_pages import entry_json
from console.shared import ConsoleView, api_user, json_response, list_token
from streams.agents import casework
from streams.app import app


@app.page("/console/api/watchlist")
class WatchlistView(ConsoleView):
    """The negative list. Entries that came from a lead are shown to those who may see the
    lead; the others (judicial and police notifications ...) to every user."""

    async def get(self, request: Request) -> Response:
        signed_in = api_user(request)
        book = casework.book
        include_removed = request.query.get("removed") == "1"
        shown = []
        for entry in book.watchlist.entries(include_removed=include_removed):
            lead = book.lead(entry.lead_id) if entry.lead_id else None
            if entry.lead_id is None or (lead is not None and signed_in.may_see(lead)):
                shown.append(entry_json(entry))
        shown.reverse()  # newest first
        return json_response({"token": list_token(signed_in), "entries": shown})
