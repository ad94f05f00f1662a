"""``fundwatch console-user``: the web console's users file (add, remove, list)."""

from __future__ import annotations

import getpass
import sys

import click
from faust.cli import AppCommand, argument, option

from cli.commands import command
from cli.output import say
from console.auth import (
    ConsoleUser,
    hash_password,
    load_users,
    password_problem,
    remove_user,
    upsert_user,
)
from console.config import CONFIG, USERS_ENV
from schemas.errors import FundwatchError


@command(
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
        raise FundwatchError(f"{USERS_ENV} is not set: it names the console's users file")
    path = CONFIG.users.path
    # An AuthError (a malformed users file, a bad name) is answered by failing_clearly.
    if action == "list":
        for user in load_users(path).values():
            say(f"{user.name}\t{','.join(sorted(user.departments))}")
        return
    if not name:
        raise click.UsageError(f"console-user {action} needs a user NAME")
    if action == "remove":
        remove_user(path, name)
        say(f"removed {name} from {path}")
        return
    if not departments:
        raise click.UsageError("console-user add needs --department CODE")
    password = _read_password(password_stdin)
    problem = password_problem(password)
    if problem is not None:
        raise FundwatchError(problem)
    user = ConsoleUser(name, frozenset(departments), hash_password(password))
    new = upsert_user(path, user)
    say(f"{'added' if new else 'updated'} {name} ({', '.join(departments)}) in {path}")


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise FundwatchError("the passwords differ")
    return first
