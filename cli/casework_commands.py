"""``fundwatch watchlist`` and lead status changes: the analysts' commands on the casework topics.

Each change is checked against the topics as they are now (a fresh LeadBook) and published
only if it is allowed; a refused change exits with one line saying why. The list is printed
escaped (cli.output) and exported as CSV whose cells no spreadsheet runs as formulas
(schemas.display.csv_text).
"""

from __future__ import annotations

import getpass
import sys
from datetime import UTC, datetime
from pathlib import Path

import click
from faust.cli import AppCommand, argument, option

from casework.lead_status import LeadStatus, Outcome, StatusChange
from cli.commands import command, failing_clearly
from cli.output import say
from models.watchlist import (
    CSV_COLUMNS,
    EntityType,
    ListingSource,
    WatchlistEntry,
    WatchlistError,
    entries_from_csv,
)
from schemas.display import csv_text, printable
from schemas.glossary import source_name, status_name
from streams.app import settings
from streams.casework_topics import change_status, load_lead_book, publish_watchlist


def default_user() -> str:
    return getpass.getuser()


@command(
    argument("action", type=click.Choice(["add", "remove", "list", "import", "export"])),
    argument("csv_file", required=False, type=click.Path(dir_okay=False, path_type=Path)),
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
    option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True),
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
    lang: str,
) -> None:
    """The negative list (负面清单): add, remove or list entities, import a CSV file, or
    export the listed entities as one (to CSV_FILE, else to standard output).

    A lead whose account, customer or counterparty is listed is case-related (涉案).
    The CSV header is ``entity_type,entity_id,source,reason``; a file is imported whole or
    not at all. An exported cell that a spreadsheet would run as a formula (=, +, -, @)
    starts with ' instead.
    """
    by = by or default_user()
    now = datetime.now(UTC)
    with failing_clearly(f"watchlist {action} refused"):
        book = load_lead_book(settings)
        if action == "list":
            _print_entries(book.watchlist.entries(include_removed=show_removed), lang)
            return
        if action == "export":
            listed = book.watchlist.entries(include_removed=False)
            text = watchlist_csv(listed)
            if csv_file is None and sys.stdout.isatty():
                say(text.replace("\r\n", "\n").rstrip("\n"))  # shown, so escaped as shown
            elif csv_file is None:
                sys.stdout.write(text)
            else:
                csv_file.write_text(text, encoding="utf-8")
                say(f"exported {len(listed)} listed entities to {csv_file}")
            return
        if action == "import":
            if csv_file is None or not csv_file.is_file():
                raise click.UsageError(f"import needs an existing CSV file, not {csv_file}")
            entries = entries_from_csv(csv_file.read_text(encoding="utf-8"), by, now)
            new = [e for e in entries if book.watchlist.listed(*_match_args(e)) is None]
            publish_watchlist(settings, new)
            say(
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
        say(f"{'removed' if action == 'remove' else 'listed'} {printable(entry.key)} on {_topic()}")


def _match_args(entry: WatchlistEntry) -> tuple[str | None, str | None, str | None]:
    values = {t: None for t in EntityType} | {entry.entity_type: entry.entity_id}
    return values[EntityType.ACCOUNT], values[EntityType.CUSTOMER], values[EntityType.NAME]


def _topic() -> str:
    return settings.topics.name("watchlist")


def _print_entries(entries: list[WatchlistEntry], lang: str = "zh") -> None:
    for e in entries:
        state = (
            f"removed {e.removed_at:%Y-%m-%d} by {printable(e.removed_by)}: "
            f"{printable(e.removal_reason)}"
            if e.removed_at is not None
            else ""
        )
        lead = f", lead {printable(e.lead_id)}" if e.lead_id else ""
        say(
            f"{e.added_at:%Y-%m-%d %H:%M}  {printable(e.key)}  "
            f"[{source_name(e.source, lang)}/{e.source.value}]"
            f"  {printable(e.reason)}  (by {printable(e.added_by)}{lead})"
            + (f"  -- {state}" if state else "")
        )
    say(f"-- {sum(e.active for e in entries)} listed on {_topic()}")


def watchlist_csv(entries: list[WatchlistEntry]) -> str:
    """The entries in the import format (``entity_type,entity_id,source,reason``)."""
    rows = [(e.entity_type.value, e.entity_id, e.source.value, e.reason) for e in entries]
    return csv_text([CSV_COLUMNS, *rows])


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
        f"lead {printable(lead_id)} is now {record.status.value} "
        f"({status_name(record.status, 'zh')})"
        f"{listed}; history: " + " → ".join(c.status.value for c in record.history)
    )
