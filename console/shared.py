"""What every console endpoint shares: answers, sign-in and CSRF checks, and the one place a
refusal becomes its HTTP answer.

An endpoint raises a ``schemas.errors.FundwatchError`` (the console's ``RefusedError`` or one
from below, e.g. a refused status change) and ``ConsoleView.dispatch`` answers it with the
error's ``http_status`` and its message in the page's language (``console.messages``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import orjson
from aiohttp.web import Request, Response
from faust import web

from casework.lead_book import visible_to
from console.auth import SESSION_COOKIE, ConsoleUser, Session
from console.config import CONFIG
from console.messages import LANG_COOKIE, RefusedError, message_of, page_language, refusal_body
from schemas.errors import FundwatchError
from schemas.lead import Lead
from streams.agents import casework

log = logging.getLogger("console")

CSRF_HEADER = "X-CSRF-Token"
API_PREFIX = "/console/api/"
SECURITY_HEADERS = {
    # Scripts and styles from the console's own files only: no inline code to inject into.
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
# One status change or listing at a time on this worker: each is checked against the book
# and applied to it after it is published, with an await in between.
CHANGE_LOCK = asyncio.Lock()


def json_response(body: Any, status: int = 200) -> Response:
    return Response(
        body=orjson.dumps(body), status=status, content_type="application/json", charset="utf-8"
    )


def redirect(location: str) -> Response:
    return Response(status=303, headers={"Location": location})


def language(request: Request) -> str:
    """The page's language: the script keeps it in a cookie the browser sends along."""
    return page_language(request.cookies.get(LANG_COOKIE))


def refusal_response(request: Request, error: FundwatchError) -> Response:
    lang = language(request)
    if request.path.startswith(API_PREFIX):
        return json_response(refusal_body(error, lang), error.http_status)
    return Response(text=message_of(error, lang)[1], status=error.http_status)


class ConsoleView(web.View):
    """A console endpoint: security headers on every answer, a closed console when no users
    file is configured, and every FundwatchError answered with its own HTTP status."""

    async def dispatch(self, request: Any) -> Any:
        try:
            if CONFIG.users is None:
                raise RefusedError(503, "console_closed")
            response = await super().dispatch(request)
        except FundwatchError as error:
            if error.http_status >= 500:
                log.error("console %s %s: %s", request.method, request.path, error)
            response = refusal_response(request, error)
        response.headers.update(SECURITY_HEADERS)
        return response


@dataclass(frozen=True)
class SignedIn:
    session: Session
    user: ConsoleUser

    @property
    def departments(self) -> frozenset[str]:
        return self.user.departments

    def may_see(self, lead: Lead) -> bool:
        return visible_to(lead, self.user.departments)


def signed_in_user(request: Request) -> SignedIn | None:
    assert CONFIG.users is not None
    session = CONFIG.signer.read(request.cookies.get(SESSION_COOKIE), time.time())
    found = CONFIG.signer.user_of(session, CONFIG.users)
    return SignedIn(*found) if found is not None else None


def api_user(request: Request) -> SignedIn:
    """The signed-in user of an API request, or a 401 answer."""
    signed_in = signed_in_user(request)
    if signed_in is None:
        raise RefusedError(401, "not_signed_in", {"sign_in": "/console/login"})
    return signed_in


def check_same_site(request: Request) -> None:
    """A state-changing request must come from the console's own pages."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None and site not in ("same-origin", "none"):
        raise RefusedError(403, "cross_site")
    origin = request.headers.get("Origin")
    if origin is not None and urlsplit(origin).netloc != request.host:
        raise RefusedError(403, "cross_site")


def api_change(request: Request) -> SignedIn:
    """The user of a POST: signed in, from the console's own page, with its CSRF token."""
    check_same_site(request)
    signed_in = api_user(request)
    if not CONFIG.signer.check_csrf(signed_in.session, request.headers.get(CSRF_HEADER)):
        raise RefusedError(403, "csrf")
    return signed_in


def choice(request: Request, name: str, allowed: list[str] | None = None) -> str | None:
    """A query parameter, None when empty; refused when not among ``allowed``."""
    value = request.query.get(name, "").strip() or None
    if value is not None and allowed is not None and value not in allowed:
        raise RefusedError(400, "bad_choice", name=name, value=value)
    return value


def list_token(signed_in: SignedIn) -> str:
    """Changes with the book and with the user's departments (the users file): a page whose
    token is unchanged has nothing new to show."""
    return f"{casework.book.version}:{','.join(sorted(signed_in.departments))}"


def visible_lead(signed_in: SignedIn, lead_id: str) -> Lead:
    lead = casework.book.lead(lead_id)
    # A lead the user may not see is answered exactly as one that does not exist.
    if lead is None or not signed_in.may_see(lead):
        raise RefusedError(404, "no_lead")
    return lead


async def publish(topic: Any, key: str, value: bytes) -> None:
    """Send and wait for the broker's acknowledgement, so "saved" on the page means saved."""
    delivery = await topic.send(key=key.encode(), value=value)
    await asyncio.wait_for(asyncio.ensure_future(delivery), timeout=30)
