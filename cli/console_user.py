"""``fundwatch console-user``: the web console's users file (add, remove, list)."""

from __future__ import annotations

import getpass
import sys

import click
from faust.cli import AppCommand, argument, option

from console.auth import (
    AuthError,
    ConsoleUser,
    hash_password,
    load_users,
    password_problem,
    remove_user,
    upsert_user,
)
from console.config import CONFIG, USERS_ENV
from streams.app import app


@app.command(
    argument("action", type=click.Choice(["add", "remove", "list"])),
    argument("name", required=False),
    option(
        "--department",
        "departments",
        multiple=True,
        help="add: a department code (repeat for several), e.g. pboc, dfb, cbrc.",
    ),
    option(
        "--password-stdin",
        is_flag=True,
        help="add: read the password from the first line of standard input (no prompt).",
    ),
)
async def console_user(
    self: AppCommand,
    action: str,
    name: str | None,
    departments: tuple[str, ...],
    password_stdin: bool,
) -> None:
    """Add or change (add), remove or list the web console's users, in the users file named
    by FUNDWATCH_CONSOLE_USERS. Running workers pick the change up at once."""
    if CONFIG.users is None:
        raise SystemExit(f"{USERS_ENV} is not set: it names the console's users file")
    path = CONFIG.users.path
    try:
        if action == "list":
            for user in load_users(path).values():
                print(f"{user.name}\t{','.join(sorted(user.departments))}")
            return
        if not name:
            raise click.UsageError(f"console-user {action} needs a user NAME")
        if action == "remove":
            remove_user(path, name)
            print(f"removed {name} from {path}")
            return
        if not departments:
            raise click.UsageError("console-user add needs --department CODE")
        password = _read_password(password_stdin)
        problem = password_problem(password)
        if problem is not None:
            raise SystemExit(problem)
        user = ConsoleUser(name, frozenset(departments), hash_password(password))
        new = upsert_user(path, user)
        print(f"{'added' if new else 'updated'} {name} ({', '.join(departments)}) in {path}")
    except AuthError as exc:
        raise SystemExit(str(exc)) from exc


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise SystemExit("the passwords differ")
    return first
