"""Who may use the web console: the users file, password hashes and signed session cookies.

Users live in a JSON file outside the repository (its path in ``FUNDWATCH_CONSOLE_USERS``;
``deploy/console-users.example.json`` shows the format), written by ``fundwatch console-user``.
Passwords are kept as PBKDF2-SHA256 hashes in the usual ``pbkdf2_sha256$iterations$salt$hash``
form. A session is a cookie signed with HMAC-SHA256: no server-side store, so every worker
accepts the sessions of the others when they share ``FUNDWATCH_CONSOLE_SECRET``.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import os
import re
import secrets
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from schemas.errors import FundwatchError
from schemas.sectors import DEPARTMENTS

PASSWORD_SCHEME = "pbkdf2_sha256"
# OWASP's 2023 figure for PBKDF2-SHA256; about 0.15 s per check on this project's machines.
DEFAULT_ITERATIONS = 600_000
MIN_PASSWORD_LENGTH = 10
SESSION_SECONDS = 8 * 3600  # a working day: sign in again the next morning
SESSION_COOKIE = "fundwatch_console"
DEPARTMENT_CODES = frozenset(d.code for d in DEPARTMENTS)
# Names end up as the ``by`` of status records: any visible text (张伟 too), no spaces.
_USER_NAME = re.compile(r"^[^\s\x00-\x1f\x7f]{1,64}$")


class AuthError(FundwatchError, ValueError):
    """A users file, user or password that cannot be accepted; the message says why.

    Reaching the console, it is its users file that is unreadable: nobody is let in (503)."""

    http_status = 503
    code = "users_file"


# -- passwords ---------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str, iterations: int = DEFAULT_ITERATIONS, salt: str = "") -> str:
    """``pbkdf2_sha256$<iterations>$<salt>$<base64 of the 32-byte key>`` (Django's layout)."""
    salt = salt or secrets.token_hex(16)
    if "$" in salt:
        raise AuthError("a salt must not contain $")
    key = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), iterations)
    return f"{PASSWORD_SCHEME}${iterations}${salt}${base64.b64encode(key).decode('ascii')}"


def verify_password(password: str, encoded: str) -> bool:
    """Whether ``password`` matches the hash; a malformed hash matches nothing."""
    try:
        scheme, iterations, salt, expected = encoded.split("$")
        rounds = int(iterations)
        wanted = base64.b64decode(expected, validate=True)
    except ValueError:
        return False
    if scheme != PASSWORD_SCHEME or rounds < 1 or not salt:
        return False
    key = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), rounds, len(wanted))
    return hmac.compare_digest(key, wanted)


def password_problem(password: str) -> str | None:
    """Why a new password is refused, or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"a password needs at least {MIN_PASSWORD_LENGTH} characters"
    if password != password.strip():
        return "a password must not start or end with spaces"
    return None


@functools.cache
def _dummy_hash() -> str:
    return hash_password(secrets.token_hex(16), salt="no-such-user")


def check_login(user: ConsoleUser | None, password: str) -> bool:
    """Whether the password is the user's. An unknown name is checked against a made-up hash,
    so that it takes as long to refuse as a wrong password."""
    if user is None:
        verify_password(password, _dummy_hash())
        return False
    return verify_password(password, user.password_hash)


# -- users -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConsoleUser:
    name: str
    departments: frozenset[str]  # department codes (schemas.sectors.DEPARTMENTS)
    password_hash: str

    def __post_init__(self) -> None:
        if not _USER_NAME.match(self.name):
            raise AuthError(f"user name {self.name!r}: 1 to 64 visible characters, no spaces")
        if not self.departments:
            raise AuthError(f"user {self.name}: at least one department")
        unknown = sorted(self.departments - DEPARTMENT_CODES)
        if unknown:
            raise AuthError(
                f"user {self.name}: unknown department {', '.join(unknown)}; "
                f"known: {', '.join(sorted(DEPARTMENT_CODES))}"
            )
        if not self.password_hash.startswith(PASSWORD_SCHEME + "$"):
            raise AuthError(f"user {self.name}: the password hash is not {PASSWORD_SCHEME}")

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "departments": sorted(self.departments),
            "password_hash": self.password_hash,
        }

    @classmethod
    def from_dict(cls, body: dict[str, object]) -> ConsoleUser:
        departments = body.get("departments")
        if not isinstance(departments, list) or not all(isinstance(d, str) for d in departments):
            raise AuthError(f"user {body.get('name')!r}: departments must be a list of codes")
        return cls(str(body.get("name", "")), frozenset(departments), str(body["password_hash"]))


def load_users(path: Path) -> dict[str, ConsoleUser]:
    """The users of a users file (a missing file has none); AuthError if it is malformed."""
    try:
        body = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        return {}
    except orjson.JSONDecodeError as exc:
        raise AuthError(f"{path}: not JSON: {exc}") from exc
    if not isinstance(body, dict) or not isinstance(body.get("users"), list):
        raise AuthError(f'{path}: expected {{"users": [...]}}')
    users: dict[str, ConsoleUser] = {}
    for entry in body["users"]:
        try:
            user = ConsoleUser.from_dict(entry)
        except (KeyError, TypeError, AttributeError) as exc:
            raise AuthError(f"{path}: a user lacks {exc}") from exc
        if user.name in users:
            raise AuthError(f"{path}: user {user.name} appears twice")
        users[user.name] = user
    return users


def save_users(path: Path, users: Iterable[ConsoleUser]) -> None:
    """Write the file whole, readable by its owner only; a reader never sees half a file."""
    body = {
        "format": "fundwatch console users v1",
        "users": [u.to_dict() for u in sorted(users, key=lambda u: u.name)],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(orjson.dumps(body, option=orjson.OPT_INDENT_2) + b"\n")
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def upsert_user(path: Path, user: ConsoleUser) -> bool:
    """Add the user or replace the one of that name; True if it was new."""
    users = load_users(path)
    new = user.name not in users
    users[user.name] = user
    save_users(path, users.values())
    return new


def remove_user(path: Path, name: str) -> None:
    users = load_users(path)
    if users.pop(name, None) is None:
        raise AuthError(f"no user {name} in {path}")
    save_users(path, users.values())


class UsersFile:
    """The users file as it is now: read again whenever it changed on disk, so users added,
    changed or removed with ``fundwatch console-user`` take effect without a restart."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int, int] | None = None
        self._users: dict[str, ConsoleUser] = {}

    def get(self, name: str) -> ConsoleUser | None:
        self._refresh()
        return self._users.get(name)

    def _refresh(self) -> None:
        try:
            info = self.path.stat()
            stamp = (info.st_mtime_ns, info.st_size, info.st_ino)
        except FileNotFoundError:
            stamp = None
        if stamp != self._stamp:
            # A malformed file raises AuthError and keeps the stamp, so it is read (and
            # reported) again on the next request instead of leaving the old users in place.
            self._users = load_users(self.path) if stamp is not None else {}
            self._stamp = stamp


# -- sessions ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Session:
    user_name: str
    expires_at: int  # Unix seconds
    nonce: str  # random per sign-in; the CSRF token is derived from it
    password_mark: str  # ties the session to the password it was opened with


class SessionSigner:
    """Issues and checks session cookies: ``<base64 JSON payload>.<base64 HMAC-SHA256>``."""

    def __init__(self, secret: bytes, lifetime_seconds: int = SESSION_SECONDS) -> None:
        if len(secret) < 16:
            raise AuthError("the session secret needs at least 16 bytes")
        # One key per use, so a CSRF token can never pass as a session signature.
        self._session_key = hmac.digest(secret, b"fundwatch console session", "sha256")
        self._csrf_key = hmac.digest(secret, b"fundwatch console csrf", "sha256")
        self._password_key = hmac.digest(secret, b"fundwatch console password", "sha256")
        self.lifetime_seconds = lifetime_seconds

    def _password_mark(self, user: ConsoleUser) -> str:
        # A new password (or a removed user) ends the sessions opened with the old one.
        return _b64(hmac.digest(self._password_key, user.password_hash.encode(), "sha256")[:12])

    def issue(self, user: ConsoleUser, now: float) -> str:
        payload = _b64(
            orjson.dumps(
                {
                    "u": user.name,
                    "e": int(now) + self.lifetime_seconds,
                    "n": secrets.token_urlsafe(16),
                    "p": self._password_mark(user),
                }
            )
        )
        return f"{payload}.{self._sign(payload)}"

    def _sign(self, payload: str) -> str:
        return _b64(hmac.digest(self._session_key, payload.encode("ascii"), "sha256"))

    def read(self, cookie: str | None, now: float) -> Session | None:
        """The session in a cookie, or None if it is missing, forged, malformed or expired."""
        if not cookie or cookie.count(".") != 1:
            return None
        payload, signature = cookie.split(".")
        try:
            if not hmac.compare_digest(self._sign(payload), signature):
                return None
            body = orjson.loads(_unb64(payload))
            session = Session(str(body["u"]), int(body["e"]), str(body["n"]), str(body["p"]))
        except (ValueError, KeyError, TypeError, UnicodeEncodeError):
            return None
        return session if now < session.expires_at else None

    def user_of(
        self, session: Session | None, users: UsersFile
    ) -> tuple[Session, ConsoleUser] | None:
        """The session's user as the users file has it now (departments included)."""
        if session is None:
            return None
        user = users.get(session.user_name)
        if user is None or not hmac.compare_digest(
            self._password_mark(user), session.password_mark
        ):
            return None
        return session, user

    def csrf_token(self, session: Session) -> str:
        return _b64(hmac.digest(self._csrf_key, session.nonce.encode(), "sha256"))

    def check_csrf(self, session: Session, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(self.csrf_token(session), str(token))


@dataclass
class LoginThrottle:
    """Refuses sign-ins for a name after too many wrong passwords in a short time (per
    worker: PBKDF2 already makes each guess slow, this bounds how many)."""

    max_failures: int = 5
    window_seconds: float = 900.0
    _failures: dict[str, list[float]] = field(default_factory=dict)

    def blocked(self, name: str, now: float) -> bool:
        recent = [t for t in self._failures.get(name, ()) if now - t < self.window_seconds]
        if recent:
            self._failures[name] = recent
        else:
            self._failures.pop(name, None)
        return len(recent) >= self.max_failures

    def failed(self, name: str, now: float) -> None:
        self._failures.setdefault(name, []).append(now)
        if len(self._failures) > 10_000:  # bounded memory under a spray of made-up names
            oldest = min(self._failures, key=lambda n: self._failures[n][-1])
            del self._failures[oldest]

    def succeeded(self, name: str) -> None:
        self._failures.pop(name, None)
