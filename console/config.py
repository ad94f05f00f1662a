"""The console's configuration, from the environment: who may sign in, and how sessions are
signed. No Faust here, so ``fundwatch console-user`` reads it without starting a worker."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from console.auth import AuthError, SessionSigner, UsersFile

USERS_ENV = "FUNDWATCH_CONSOLE_USERS"
SECRET_ENV = "FUNDWATCH_CONSOLE_SECRET"
# Set to 1 when the console is reached over HTTPS (a TLS proxy in front of the worker).
SECURE_COOKIE_ENV = "FUNDWATCH_CONSOLE_SECURE_COOKIE"


@dataclass
class ConsoleConfig:
    users: UsersFile | None  # None: FUNDWATCH_CONSOLE_USERS unset, the console is closed
    signer: SessionSigner
    secret_generated: bool  # sessions end when this worker restarts
    secure_cookie: bool


def console_config(env: dict[str, str]) -> ConsoleConfig:
    users_path = env.get(USERS_ENV, "").strip()
    secret = env.get(SECRET_ENV, "").encode()
    return ConsoleConfig(
        users=UsersFile(Path(users_path)) if users_path else None,
        signer=SessionSigner(secret or secrets.token_bytes(32)),
        secret_generated=not secret,
        secure_cookie=env.get(SECURE_COOKIE_ENV, "") in ("1", "true", "yes"),
    )


try:
    CONFIG = console_config(dict(os.environ))
except AuthError as exc:
    raise SystemExit(f"{SECRET_ENV}: {exc}") from exc
