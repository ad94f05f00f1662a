"""``fundwatch watchlist`` and lead status changes: the analysts' commands on the casework topics.

Each change is checked against the topics as they are now (a fresh LeadBook) and published
only if it is allowed; a refused change exits with one line saying why.
"""

from __future__ import annotations

import getpass
from datetime import UTC, datetime
from pathlib import Path

import click
from faust.cli import AppCommand, argument, option

from casework.lead_status import STATUS_NAMES_ZH, LeadStatus, Outcome, StatusChange
from cli.commands import failing_clearly
from models.watchlist import (
    SOURCE_NAMES_ZH,
    EntityType,
    ListingSource,
    WatchlistEntry,
    WatchlistError,
    entries_from_csv,
)
from streams.app import app, settings
from streams.casework_topics import change_status, load_lead_book, publish_watchlist


def default_user() -> str:
    return getpass.getuser()


@app.command(
    argument("action", type=click.Choice(["add", "remove", "list", "import"])),
    argument(
        "csv_file",
        required=False,
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
    ),
    option("--type", "entity_type", type=click.Choice([t.value for t in EntityType])),
    option("--id", "entity_id", default=None, help="The account, customer id or name."),
    option(
        "--source",
        type=click.Choice([s.value for s in ListingSource]),
        default=None,
        help="add: where the listing comes from.",
    ),
    option("--reason", default="", help="add/remove: why (a case number, a notice, a tip-off)."),
    option("--from-lead", "lead_id", default=None, help="add: list the account of this lead."),
    option("--by", default=None, help="Who makes the change (default: the login name)."),
    option("--all", "show_removed", is_flag=True, help="list: removed entries too."),
)
async def watchlist(
    self: AppCommand,
    action: str,
    csv_file: Path | None,
    entity_type: str | None,
    entity_id: str | None,
    source: str | None,
    reason: str,
    lead_id: str | None,
    by: str | None,
    show_removed: bool,
) -> None:
    """The negative list (负面清单): add, remove or list entities, or import a CSV file.

    A lead whose account, customer or counterparty is listed is case-related (涉案).
    The CSV header is ``entity_type,entity_id,source,reason``; a file is imported whole or
    not at all.
    """
    by = by or default_user()
    now = datetime.now(UTC)
    with failing_clearly(f"watchlist {action} refused"):
        book = load_lead_book(settings)
        if action == "list":
            _print_entries(book.watchlist.entries(include_removed=show_removed))
            return
        if action == "import":
            if csv_file is None:
                raise click.UsageError("import needs a CSV file")
            entries = entries_from_csv(csv_file.read_text(encoding="utf-8"), by, now)
            new = [e for e in entries if book.watchlist.listed(*_match_args(e)) is None]
            publish_watchlist(settings, new)
            print(
                f"imported {len(new)} entries from {csv_file} "
                f"({len(entries) - len(new)} already listed, left as they were)"
            )
            return
        if action == "add" and lead_id is not None:
            entry = book.listing_from_lead(lead_id, by, now, reason)
        else:
            if entity_type is None or entity_id is None:
                raise click.UsageError(f"{action} needs --type and --id (or --from-lead)")
            kind = EntityType(entity_type)
            if action == "remove":
                entry = book.watchlist.remove(kind, entity_id, by, reason, now)
            else:
                if source is None:
                    raise click.UsageError("add needs --source")
                entry = book.watchlist.add(
                    WatchlistEntry(kind, entity_id, ListingSource(source), reason, by, now)
                )
        publish_watchlist(settings, [entry])
        print(f"{'removed' if action == 'remove' else 'listed'} {entry.key} on {_topic()}")


def _match_args(entry: WatchlistEntry) -> tuple[str | None, str | None, str | None]:
    values = {t: None for t in EntityType} | {entry.entity_type: entry.entity_id}
    return values[EntityType.ACCOUNT], values[EntityType.CUSTOMER], values[EntityType.NAME]


def _topic() -> str:
    return settings.topics.name("watchlist")


def _print_entries(entries: list[WatchlistEntry]) -> None:
    for e in entries:
        state = (
            f"removed {e.removed_at:%Y-%m-%d} by {e.removed_by}: {e.removal_reason}"
            if e.removed_at is not None
            else ""
        )
        print(
            f"{e.added_at:%Y-%m-%d %H:%M}  {e.key}  [{SOURCE_NAMES_ZH[e.source]}/{e.source.value}]"
            f"  {e.reason}  (by {e.added_by}{', lead ' + e.lead_id if e.lead_id else ''})"
            + (f"  -- {state}" if state else "")
        )
    print(f"-- {sum(e.active for e in entries)} listed on {_topic()}")


def set_lead_status(
    lead_id: str,
    status: str,
    note: str,
    outcome: str | None,
    by: str | None,
    list_account: bool,
) -> str:
    """``fundwatch leads --set-status``: validate, publish, and say what was done."""
    change = StatusChange(
        LeadStatus(status),
        by or default_user(),
        datetime.now(UTC),
        note,
        Outcome(outcome) if outcome else None,
    )
    with failing_clearly(f"status of {lead_id} not changed"):
        try:
            record = change_status(settings, lead_id, change, list_account)
        except WatchlistError as exc:
            raise WatchlistError(f"{exc} (the status was not changed either)") from exc
    listed = " and put its account on the negative list" if list_account else ""
    return (
        f"lead {lead_id} is now {record.status.value} ({STATUS_NAMES_ZH[record.status]})"
        f"{listed}; history: " + " → ".join(c.status.value for c in record.history)
    )
