"""The analysts' web console, on the worker's own web server (Faust's, aiohttp underneath).

Pages under ``/console/``: a live lead list, a lead's page (reasons, evidence, the account's
money in and out, its scheme and money trail, status history, the status change form), the
suspected schemes (案件线索) and a scheme's page with its money flow, the negative list and
the worker's health. The browser code (``static/``) polls small JSON endpoints under
``/console/api/``. Every page and endpoint needs a signed-in user (``console.auth``),
and a user sees the leads and schemes routed to their departments only (PBOC and 打非办 see
all).

Status changes and listings are checked against this worker's LeadBook, published on the
lead-status and watchlist topics, then applied to the book at once so the page shows them.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
from aiohttp.web import Request, Response
from faust import web
from prometheus_client import Metric

from casework.charts import scheme_flow_chart
from casework.lead_book import SEE_ALL_DEPARTMENTS, LeadFilter, lead_departments, visible_to
from casework.lead_status import (
    OUTCOME_NAMES_EN,
    OUTCOME_NAMES_ZH,
    STATUS_NAMES_EN,
    STATUS_NAMES_ZH,
    LeadStatus,
    Outcome,
    StatusChange,
    StatusChangeError,
)
from console.activity import account_activity
from console.auth import (
    SESSION_COOKIE,
    AuthError,
    ConsoleUser,
    LoginThrottle,
    Session,
    SessionSigner,
    UsersFile,
    check_login,
)
from console.scheme_pages import (
    MAX_LISTED_SCHEMES,
    lead_scheme,
    lead_trail,
    scheme_page,
    scheme_rows,
    visible_scheme,
)
from models.schemes import (
    DIRECTION_NAMES_EN,
    DIRECTION_NAMES_ZH,
    ROLE_NAMES_EN,
    ROLE_NAMES_ZH,
    ROLES,
    Scheme,
)
from models.watchlist import SOURCE_NAMES_ZH, WatchlistEntry, WatchlistError
from schemas.errors import FundwatchError
from schemas.glossary import SEVERITY_NAMES_EN, SEVERITY_NAMES_ZH
from schemas.lead import Severity
from schemas.sectors import DEPARTMENTS, SECTORS
from streams import metrics
from streams.agents import casework, models
from streams.app import accounts, app, lead_status_topic, settings, watchlist_topic

log = logging.getLogger(__name__)

USERS_ENV = "FUNDWATCH_CONSOLE_USERS"
SECRET_ENV = "FUNDWATCH_CONSOLE_SECRET"
# Set to 1 when the console is reached over HTTPS (a TLS proxy in front of the worker).
SECURE_COOKIE_ENV = "FUNDWATCH_CONSOLE_SECURE_COOKIE"
MAX_LISTED_LEADS = 500
CSRF_HEADER = "X-CSRF-Token"
STATIC_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
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


# -- configuration -----------------------------------------------------------------------------


@dataclass
class ConsoleConfig:
    users: UsersFile | None  # None: FUNDWATCH_CONSOLE_USERS unset, the console is closed
    signer: SessionSigner
    secret_generated: bool  # sessions end when this worker restarts
    secure_cookie: bool


def _config(env: dict[str, str]) -> ConsoleConfig:
    users_path = env.get(USERS_ENV, "").strip()
    secret = env.get(SECRET_ENV, "").encode()
    return ConsoleConfig(
        users=UsersFile(Path(users_path)) if users_path else None,
        signer=SessionSigner(secret or secrets.token_bytes(32)),
        secret_generated=not secret,
        secure_cookie=env.get(SECURE_COOKIE_ENV, "") in ("1", "true", "yes"),
    )


try:
    CONFIG = _config(dict(os.environ))
except AuthError as exc:
    raise SystemExit(f"{SECRET_ENV}: {exc}") from exc
THROTTLE = LoginThrottle()
# One status change or listing at a time on this worker: each is checked against the book
# and applied to it after it is published, with an await in between.
CHANGE_LOCK = asyncio.Lock()


@app.task
async def announce_console() -> None:
    if CONFIG.users is None:
        log.warning("web console closed: set %s to a users file to open /console/", USERS_ENV)
        return
    log.info("web console at /console/ for the users in %s", CONFIG.users.path)
    if CONFIG.secret_generated:
        log.warning(
            "%s is unset: console sessions are signed with a key made at start-up, so they "
            "end when this worker restarts and are not accepted by other workers",
            SECRET_ENV,
        )


# -- responses and sign-in checks --------------------------------------------------------------


class RefusedError(FundwatchError):
    """Carries the response that refuses a request (401, 403, 404 ...)."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


def _json(body: Any, status: int = 200) -> Response:
    return Response(
        body=orjson.dumps(body), status=status, content_type="application/json", charset="utf-8"
    )


def _error(status: int, message: str, **extra: Any) -> RefusedError:
    return RefusedError(_json({"error": message, **extra}, status))


def _redirect(location: str) -> Response:
    return Response(status=303, headers={"Location": location})


@dataclass(frozen=True)
class SignedIn:
    session: Session
    user: ConsoleUser

    @property
    def departments(self) -> frozenset[str]:
        return self.user.departments

    def may_see(self, lead: dict[str, Any]) -> bool:
        return visible_to(lead, self.user.departments)


class ConsoleView(web.View):
    """A console endpoint: security headers on every answer, a closed console when no users
    file is configured, and ``RefusedError`` turned into its response."""

    async def dispatch(self, request: Any) -> Any:
        try:
            if CONFIG.users is None:
                raise RefusedError(
                    Response(
                        text=f"The web console is closed: set {USERS_ENV} (see the README).",
                        status=503,
                    )
                )
            response = await super().dispatch(request)
        except RefusedError as refused:
            response = refused.response
        except AuthError as exc:  # the users file is malformed: say so, let nobody in
            log.error("console users file: %s", exc)
            response = Response(text="The console's users file is unreadable.", status=503)
        response.headers.update(SECURITY_HEADERS)
        return response


def _signed_in(request: Request) -> SignedIn | None:
    assert CONFIG.users is not None
    session = CONFIG.signer.read(request.cookies.get(SESSION_COOKIE), time.time())
    found = CONFIG.signer.user_of(session, CONFIG.users)
    return SignedIn(*found) if found is not None else None


def _api_user(request: Request) -> SignedIn:
    """The signed-in user of an API request, or a 401 answer."""
    signed_in = _signed_in(request)
    if signed_in is None:
        raise _error(401, "not signed in", sign_in="/console/login")
    return signed_in


def _check_same_site(request: Request) -> None:
    """A state-changing request must come from the console's own pages."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None and site not in ("same-origin", "none"):
        raise _error(403, "cross-site request refused")
    origin = request.headers.get("Origin")
    if origin is not None and urlsplit(origin).netloc != request.host:
        raise _error(403, "cross-origin request refused")


def _api_change(request: Request) -> SignedIn:
    """The user of a POST: signed in, from the console's own page, with its CSRF token."""
    _check_same_site(request)
    signed_in = _api_user(request)
    if not CONFIG.signer.check_csrf(signed_in.session, request.headers.get(CSRF_HEADER)):
        raise _error(403, "missing or wrong CSRF token: reload the page")
    return signed_in


def _visible_lead(signed_in: SignedIn, lead_id: str) -> dict[str, Any]:
    lead = casework.book.leads.get(lead_id)
    # A lead the user may not see is answered exactly as one that does not exist.
    if lead is None or not signed_in.may_see(lead):
        raise _error(404, f"no lead {lead_id}")
    return lead


def _visible_scheme(signed_in: SignedIn, scheme_id: str) -> Scheme:
    scheme = visible_scheme(casework.book, signed_in.departments, scheme_id)
    # As for a lead: a scheme the user may not see is answered as one that does not exist.
    if scheme is None:
        raise _error(404, f"no scheme {scheme_id}")
    return scheme


# -- static files and pages --------------------------------------------------------------------


def _static_files() -> dict[str, tuple[bytes, str]]:
    folder = resources.files("console").joinpath("static")
    files = {}
    for item in folder.iterdir():
        content_type = STATIC_TYPES.get(Path(item.name).suffix)
        if item.is_file() and content_type is not None:
            files[item.name] = (item.read_bytes(), content_type)
    return files


STATIC = _static_files()


def _static(name: str) -> Response:
    if name not in STATIC:
        raise RefusedError(Response(text="not found", status=404))
    body, content_type = STATIC[name]
    return Response(body=body, headers={"Content-Type": content_type})


@app.page("/console/static/{name}")
class StaticFile(ConsoleView):
    async def get(self, request: Request, name: str) -> Response:
        return _static(name)


@app.page("/console")
class ConsoleRoot(ConsoleView):
    async def get(self, request: Request) -> Response:
        return _redirect("/console/")


@app.page("/console/")
class ConsolePage(ConsoleView):
    """The console itself: one page whose script shows the list, a lead, the watchlist or
    the health view (``#/lead/<id>`` ...)."""

    async def get(self, request: Request) -> Response:
        if _signed_in(request) is None:
            return _redirect("/console/login")
        return _static("index.html")


@app.page("/console/login")
class SignIn(ConsoleView):
    async def get(self, request: Request) -> Response:
        if _signed_in(request) is not None:
            return _redirect("/console/")
        return _static("login.html")

    async def post(self, request: Request) -> Response:
        _check_same_site(request)  # no signing a victim's browser in as someone else
        form = await request.post()
        name, password = str(form.get("name", "")).strip(), str(form.get("password", ""))
        now = time.time()
        if THROTTLE.blocked(name, now):
            return _redirect("/console/login?error=blocked")
        assert CONFIG.users is not None
        user = CONFIG.users.get(name)
        # PBKDF2 takes a while on purpose: off the event loop, so the stream keeps flowing.
        ok = await asyncio.get_running_loop().run_in_executor(None, check_login, user, password)
        if not ok or user is None:
            THROTTLE.failed(name, now)
            log.warning("console sign-in refused for %r from %s", name, request.remote)
            return _redirect("/console/login?error=refused")
        THROTTLE.succeeded(name)
        log.info("console sign-in: %s (%s)", user.name, ",".join(sorted(user.departments)))
        response = _redirect("/console/")
        response.set_cookie(
            SESSION_COOKIE,
            CONFIG.signer.issue(user, now),
            max_age=CONFIG.signer.lifetime_seconds,
            path="/console",
            httponly=True,
            samesite="Strict",
            secure=CONFIG.secure_cookie,
        )
        return response


@app.page("/console/logout")
class SignOut(ConsoleView):
    async def post(self, request: Request) -> Response:
        _api_change(request)
        response = _json({"signed_out": True})
        response.del_cookie(SESSION_COOKIE, path="/console")
        return response


# -- the API -----------------------------------------------------------------------------------


def _labels() -> dict[str, Any]:
    """Names of codes in both languages, from the modules that define the codes."""
    return {
        "status": {
            s.value: {"zh": STATUS_NAMES_ZH[s], "en": STATUS_NAMES_EN[s]} for s in LeadStatus
        },
        "outcome": {
            o.value: {"zh": OUTCOME_NAMES_ZH[o], "en": OUTCOME_NAMES_EN[o]} for o in Outcome
        },
        "severity": {
            s.value: {"zh": SEVERITY_NAMES_ZH[s.value], "en": SEVERITY_NAMES_EN[s.value]}
            for s in Severity
        },
        "department": {d.code: {"zh": d.name_zh, "en": d.name_en} for d in DEPARTMENTS},
        "source": {s.value: {"zh": name, "en": s.value} for s, name in SOURCE_NAMES_ZH.items()},
        "sector_category": {code: s.seed_category for code, s in SECTORS.items()},
        "role": {role: {"zh": ROLE_NAMES_ZH[role], "en": ROLE_NAMES_EN[role]} for role in ROLES},
        "direction": {
            code: {"zh": name, "en": DIRECTION_NAMES_EN[code]}
            for code, name in DIRECTION_NAMES_ZH.items()
        },
    }


@app.page("/console/api/me")
class Me(ConsoleView):
    async def get(self, request: Request) -> Response:
        signed_in = _api_user(request)
        return _json(
            {
                "name": signed_in.user.name,
                "departments": sorted(signed_in.departments),
                "sees_all": bool(signed_in.departments & SEE_ALL_DEPARTMENTS),
                "csrf_token": CONFIG.signer.csrf_token(signed_in.session),
                "session_ends": datetime.fromtimestamp(
                    signed_in.session.expires_at, UTC
                ).isoformat(),
                "labels": _labels(),
            }
        )


def _choice(request: Request, name: str, allowed: Iterable[str] | None = None) -> str | None:
    value = request.query.get(name, "").strip() or None
    if value is not None and allowed is not None and value not in allowed:
        raise _error(400, f"{name} must be one of {', '.join(allowed)}")
    return value


def _lead_row(lead: dict[str, Any]) -> dict[str, Any]:
    """What the list shows of a lead."""
    book = casework.book
    record = book.statuses.get(lead["lead_id"])
    return {
        "lead_id": lead["lead_id"],
        "revision": lead["revision"],
        "severity": lead["severity"],
        "county": lead["county"],
        "region": lead["region"],
        "sector": lead["sector"],
        "lead_department": lead["lead_department"],
        "account_id": lead["account_id"],
        "bank_id": lead["bank_id"],
        "customer_name": lead.get("customer_name"),
        "score": lead["score"],
        "threshold": lead["threshold"],
        "money_raised_yuan": lead["money_raised_fen"] / 100,
        "participants": lead["participants"],
        "cross_prefecture": lead["cross_prefecture"],
        "cross_province_major": lead["cross_province_major"],
        "first_evidence_time": lead["first_evidence_time"],
        "last_evidence_time": lead["last_evidence_time"],
        "first_emitted_at": book.first_emitted_at.get(lead["lead_id"], lead["emitted_at"]),
        "status": record.status.value if record else LeadStatus.NEW.value,
        "listed": book.listing_of(lead) is not None,
    }


def _list_token(signed_in: SignedIn) -> str:
    # The list changes with the book and with the user's departments (the users file).
    return f"{casework.book.version}:{','.join(sorted(signed_in.departments))}"


@app.page("/console/api/leads")
class Leads(ConsoleView):
    """The leads the user may see, newest evidence first; ``since=<token>`` answers
    ``{"changed": false}`` at once when nothing changed (the page polls every 2 s)."""

    async def get(self, request: Request) -> Response:
        signed_in = _api_user(request)
        token = _list_token(signed_in)
        if request.query.get("since") == token:
            return _json({"token": token, "changed": False})
        lead_filter = LeadFilter(
            county=_choice(request, "county"),
            sector=_choice(request, "sector"),
            severity=_choice(request, "severity", [s.value for s in Severity]),
            status=_choice(request, "status", [s.value for s in LeadStatus]),
        )
        book = casework.book
        visible = book.select(departments=signed_in.departments)
        chosen = [
            lead for lead in visible if lead_filter.matches(lead, book.status(lead["lead_id"]))
        ]
        chosen.reverse()  # newest evidence first
        return _json(
            {
                "token": token,
                "changed": True,
                "caught_up": casework.caught_up.is_set(),
                "total": len(chosen),
                "leads": [_lead_row(lead) for lead in chosen[:MAX_LISTED_LEADS]],
                "counties": sorted({lead["county"] for lead in visible}),
                "sectors": sorted({lead["sector"] for lead in visible}),
            }
        )


def _history(lead_id: str) -> list[dict[str, Any]]:
    record = casework.book.statuses.get(lead_id)
    return [change.to_dict() for change in record.history] if record is not None else []


def _entry(entry: WatchlistEntry) -> dict[str, Any]:
    return {"key": entry.key, **orjson.loads(entry.to_json())}


def _activity(account_id: str) -> dict[str, Any]:
    lateness_ms = int(settings.lateness_seconds * 1000)
    try:
        return account_activity(accounts.data.get(account_id), lateness_ms)
    except (ValueError, KeyError, TypeError) as exc:
        log.error("account state of %s unreadable: %s", account_id, exc)
        return {"held_here": True, "error": "unreadable account state"}


@app.page("/console/api/leads/{lead_id}")
class LeadDetail(ConsoleView):
    async def get(self, request: Request, lead_id: str) -> Response:
        signed_in = _api_user(request)
        lead = _visible_lead(signed_in, lead_id)
        book = casework.book
        listing = book.listing_of(lead)
        return _json(
            {
                "token": _list_token(signed_in),
                "lead": lead,
                "departments": list(lead_departments(lead)),
                "first_emitted_at": book.first_emitted_at.get(lead_id, lead["emitted_at"]),
                "status": book.status(lead_id).value,
                "history": _history(lead_id),
                "listing": _entry(listing) if listing is not None else None,
                "activity": _activity(lead["account_id"]),
                "scheme": lead_scheme(book, signed_in.departments, lead_id),
                "trail": lead_trail(book, signed_in.departments, lead),
            }
        )


@app.page("/console/api/leads/{lead_id}/status")
class LeadStatusChange(ConsoleView):
    """Change a lead's status and, in the same step, put its account on the negative list
    (either may be asked alone). Both are checked before either is published."""

    async def post(self, request: Request, lead_id: str) -> Response:
        signed_in = _api_change(request)
        _visible_lead(signed_in, lead_id)
        try:
            body = await request.json()
            status = str(body.get("status") or "")
            note = str(body.get("note") or "").strip()
            outcome = Outcome(body["outcome"]) if body.get("outcome") else None
            list_account = bool(body.get("list_account"))
            change = (
                StatusChange(
                    LeadStatus(status), signed_in.user.name, datetime.now(UTC), note, outcome
                )
                if status
                else None
            )
        except (ValueError, AttributeError, TypeError) as exc:
            raise _error(400, f"not a status change: {exc}") from exc
        if change is None and not list_account:
            raise _error(400, "choose a new status or the listing of the account")
        async with CHANGE_LOCK:
            book = casework.book
            now = datetime.now(UTC)
            try:
                record = book.status_change(lead_id, change) if change is not None else None
                listing = (
                    book.listing_from_lead(lead_id, signed_in.user.name, now, note)
                    if list_account
                    else None
                )
            except (StatusChangeError, WatchlistError) as exc:
                raise _error(409, str(exc)) from exc
            try:
                if record is not None:
                    await _publish(lead_status_topic, lead_id, record.to_json())
                if listing is not None:
                    await _publish(watchlist_topic, listing.key, listing.to_json())
            except Exception as exc:  # the broker refused or timed out: nothing is applied
                log.exception("console change of %s not published", lead_id)
                raise _error(503, f"not saved, Kafka did not take it: {exc}") from exc
            if record is not None:
                book.apply_status(record)
            if listing is not None:
                book.apply_watchlist(listing)
        log.info(
            "console: %s set %s to %s%s",
            signed_in.user.name,
            lead_id,
            status or "(unchanged)",
            " and listed its account" if listing is not None else "",
        )
        return _json(
            {
                "status": book.status(lead_id).value,
                "history": _history(lead_id),
                "listing": _entry(listing) if listing is not None else None,
            }
        )


@app.page("/console/api/schemes")
class Schemes(ConsoleView):
    """The suspected schemes the user may see, newest activity first; polled like the leads
    (``since=<token>``)."""

    async def get(self, request: Request) -> Response:
        signed_in = _api_user(request)
        token = _list_token(signed_in)
        if request.query.get("since") == token:
            return _json({"token": token, "changed": False})
        rows = scheme_rows(casework.book, signed_in.departments)
        return _json(
            {
                "token": token,
                "changed": True,
                "caught_up": casework.caught_up.is_set(),
                "total": len(rows),
                "schemes": rows[:MAX_LISTED_SCHEMES],
            }
        )


@app.page("/console/api/schemes/{scheme_id}")
class SchemeDetail(ConsoleView):
    async def get(self, request: Request, scheme_id: str) -> Response:
        signed_in = _api_user(request)
        scheme = _visible_scheme(signed_in, scheme_id)
        return _json(
            {"token": _list_token(signed_in)}
            | scheme_page(casework.book, signed_in.departments, scheme)
        )


@app.page("/console/api/schemes/{scheme_id}/flow.svg")
class SchemeFlowChart(ConsoleView):
    """The scheme's money flow as an SVG picture, which the page shows as an image: no markup
    from the server is put into the page itself."""

    async def get(self, request: Request, scheme_id: str) -> Response:
        signed_in = _api_user(request)
        lang = _choice(request, "lang", ["zh", "en"]) or "zh"
        scheme = _visible_scheme(signed_in, scheme_id)
        return Response(
            text=scheme_flow_chart(scheme, lang),
            content_type="image/svg+xml",
            charset="utf-8",
        )


async def _publish(topic: Any, key: str, value: bytes) -> None:
    """Send and wait for the broker's acknowledgement, so "saved" on the page means saved."""
    delivery = await topic.send(key=key.encode(), value=value)
    await asyncio.wait_for(asyncio.ensure_future(delivery), timeout=30)


@app.page("/console/api/watchlist")
class WatchlistView(ConsoleView):
    """The negative list. Entries that came from a lead are shown to those who may see the
    lead; the others (judicial and police notifications ...) to every user."""

    async def get(self, request: Request) -> Response:
        signed_in = _api_user(request)
        book = casework.book
        include_removed = request.query.get("removed") == "1"
        shown = []
        for entry in book.watchlist.entries(include_removed=include_removed):
            lead = book.leads.get(entry.lead_id) if entry.lead_id else None
            if entry.lead_id is None or (lead is not None and signed_in.may_see(lead)):
                shown.append(_entry(entry))
        shown.reverse()  # newest first
        return _json({"token": _list_token(signed_in), "entries": shown})


def _samples(metric: Any) -> list[tuple[dict[str, str], float]]:
    collected: list[Metric] = list(metric.collect())
    return [
        (dict(s.labels), float(s.value))
        for m in collected
        for s in m.samples
        if not s.name.endswith("_created")
    ]


def _total(metric: Any) -> float:
    return sum(value for _, value in _samples(metric))


@app.page("/console/api/health")
class Health(ConsoleView):
    """This worker's view: the model in use, the casework topics, report counts and lag."""

    async def get(self, request: Request) -> Response:
        _api_user(request)
        model = models.current
        rejected: dict[str, float] = {}
        for labels, value in _samples(metrics.REPORTS_REJECTED):
            rejected[labels["reason"]] = rejected.get(labels["reason"], 0) + value
        lag = [
            {"topic": labels["topic"], "partition": int(labels["partition"]), "lag": value}
            for labels, value in _samples(metrics.CONSUMER_LAG)
        ]
        book = casework.book
        return _json(
            {
                "model": (
                    {
                        "version": model.version_,
                        "threshold": model.threshold_,
                        "loaded_at": _total(metrics.MODEL_LOADED),
                    }
                    if model is not None
                    else None
                ),
                "models_refused": _total(metrics.MODELS_REFUSED),
                "reports_accepted": _total(metrics.REPORTS_ACCEPTED),
                "reports_rejected": sum(rejected.values()),
                "rejected_by_reason": rejected,
                "reports_duplicate": _total(metrics.REPORTS_DUPLICATE),
                "leads_emitted": _total(metrics.LEADS_EMITTED),
                "consumer_lag": sum(p["lag"] for p in lag),
                "lag_by_partition": sorted(lag, key=lambda p: (p["topic"], p["partition"])),
                "accounts_tracked": _total(metrics.ACCOUNTS_TRACKED),
                "casework": {
                    "caught_up": casework.caught_up.is_set(),
                    "leads": len(book.leads),
                    "statuses": len(book.statuses),
                    "watchlist": len(book.watchlist),
                },
                "now": datetime.now(UTC).isoformat(),
            }
        )
