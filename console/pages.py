"""The console's own files and its way in: static files, the page itself, sign-in and
sign-out, and who the signed-in user is (``/console/api/me``, with the code names)."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

from aiohttp.web import Request, Response

from casework.lead_book import SEE_ALL_DEPARTMENTS
from console.auth import SESSION_COOKIE, LoginThrottle, check_login
from console.config import CONFIG, SECRET_ENV, USERS_ENV
from console.labels import labels
from console.messages import RefusedError
from console.shared import (
    ConsoleView,
    api_change,
    api_user,
    check_same_site,
    json_response,
    redirect,
    signed_in_user,
)
from streams.app import app

log = logging.getLogger("console")

STATIC_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
THROTTLE = LoginThrottle()


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
        raise RefusedError(404, "not_found")
    body, content_type = STATIC[name]
    return Response(body=body, headers={"Content-Type": content_type})


@app.page("/console/static/{name}")
class StaticFile(ConsoleView):
    async def get(self, request: Request, name: str) -> Response:
        return _static(name)


@app.page("/console")
class ConsoleRoot(ConsoleView):
    async def get(self, request: Request) -> Response:
        return redirect("/console/")


@app.page("/console/")
class ConsolePage(ConsoleView):
    """The console itself: one page whose script shows the list, a lead, the schemes, the
    watchlist or the health view (``#/lead/<id>`` ...)."""

    async def get(self, request: Request) -> Response:
        if signed_in_user(request) is None:
            return redirect("/console/login")
        return _static("index.html")


@app.page("/console/login")
class SignIn(ConsoleView):
    async def get(self, request: Request) -> Response:
        if signed_in_user(request) is not None:
            return redirect("/console/")
        return _static("login.html")

    async def post(self, request: Request) -> Response:
        check_same_site(request)  # no signing a victim's browser in as someone else
        form = await request.post()
        name, password = str(form.get("name", "")).strip(), str(form.get("password", ""))
        now = time.time()
        if THROTTLE.blocked(name, now):
            return redirect("/console/login?error=blocked")
        assert CONFIG.users is not None
        user = CONFIG.users.get(name)
        # PBKDF2 takes a while on purpose: off the event loop, so the stream keeps flowing.
        ok = await asyncio.get_running_loop().run_in_executor(None, check_login, user, password)
        if not ok or user is None:
            THROTTLE.failed(name, now)
            log.warning("console sign-in refused for %r from %s", name, request.remote)
            return redirect("/console/login?error=refused")
        THROTTLE.succeeded(name)
        log.info("console sign-in: %s (%s)", user.name, ",".join(sorted(user.departments)))
        response = redirect("/console/")
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
        api_change(request)
        response = json_response({"signed_out": True})
        response.del_cookie(SESSION_COOKIE, path="/console")
        return response


@app.page("/console/api/me")
class Me(ConsoleView):
    async def get(self, request: Request) -> Response:
        signed_in = api_user(request)
        return json_response(
            {
                "name": signed_in.user.name,
                "departments": sorted(signed_in.departments),
                "sees_all": bool(signed_in.departments & SEE_ALL_DEPARTMENTS),
                "csrf_token": CONFIG.signer.csrf_token(signed_in.session),
                "session_ends": datetime.fromtimestamp(
                    signed_in.session.expires_at, UTC
                ).isoformat(),
                "labels": labels(),
            }
        )
