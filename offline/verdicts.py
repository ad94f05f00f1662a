"""The analysts' verdicts on leads, read from the lead-status records, as labels per account.

An analyst's decision on a lead (casework.lead_status) says what the lead's account was:
  * confirmed illegal fundraising (closed with outcome ``confirmed``), or handed over as a case
    (``handed_over``, 移交): positive, "confirmed";
  * closed with outcome ``not_confirmed`` (排除, excluded as legitimate): negative, "excluded";
  * anything else (new, tracking, verifying, closed as another matter): no verdict.
A record's current state is its latest decision: a lead excluded and then reopened has no
verdict until it is decided again. An account with several judged leads takes the latest
decision (by the time of the change).

A status record names its lead only (its id is a hash of bank, account and episode start), so
the leads themselves (the leads topic's values, or a backtest's leads file) say whose account
a lead is, and when the activity the analyst judged began (the lead's first evidence).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from casework.lead_book import LeadBook
from casework.lead_status import LeadStatus, LeadStatusRecord, Outcome
from schemas.errors import EX_DATAERR, FundwatchError


class VerdictsError(FundwatchError, ValueError, exit_code=EX_DATAERR):
    """A verdicts or leads file that cannot be read."""


@dataclass(frozen=True, slots=True)
class AccountVerdict:
    account_id: str
    confirmed: bool  # False: excluded as legitimate
    lead_id: str  # the lead whose decision is the account's latest
    decided_at: datetime
    # Epoch ms of the first evidence of the account's leads that were decided so: the activity
    # the analysts judged starts there.
    since_ms: int


@dataclass(frozen=True)
class Verdicts:
    accounts: dict[str, AccountVerdict] = field(default_factory=dict)
    records: int = 0  # status records read (one per lead, its latest)
    undecided: int = 0  # leads whose state is no verdict (tracking, closed as other...)
    unknown_leads: int = 0  # decided leads missing from the leads given

    @property
    def confirmed(self) -> int:
        return sum(v.confirmed for v in self.accounts.values())

    @property
    def excluded(self) -> int:
        return sum(not v.confirmed for v in self.accounts.values())

    def summary(self) -> str:
        return (
            f"{self.confirmed} confirmed and {self.excluded} excluded accounts from "
            f"{self.records} lead status records ({self.undecided} without a verdict, "
            f"{self.unknown_leads} of leads not in the leads given)"
        )


def verdict_of(record: LeadStatusRecord) -> bool | None:
    """True: confirmed (or handed over as a case), False: excluded, None: no verdict."""
    if record.status is LeadStatus.HANDED_OVER:
        return True
    if record.status is LeadStatus.CLOSED:
        if record.outcome is Outcome.CONFIRMED:
            return True
        if record.outcome is Outcome.NOT_CONFIRMED:
            return False
    return None


def verdicts_from_book(book: LeadBook) -> Verdicts:
    """The verdicts of a LeadBook's status records (each lead's latest), on its leads."""
    decided: list[tuple[datetime, str, str, bool, int]] = []
    undecided = unknown = 0
    for lead_id, record in book.statuses.items():
        verdict = verdict_of(record)
        if verdict is None or record.changed_at is None:
            undecided += 1
            continue
        lead = book.leads.get(lead_id)  # the topic's JSON object, its latest revision
        if lead is None:
            unknown += 1
            continue
        since = datetime.fromisoformat(lead["first_evidence_time"])
        since_ms = round(since.timestamp() * 1000)
        decided.append((record.changed_at, lead_id, str(lead["account_id"]), verdict, since_ms))
    accounts: dict[str, AccountVerdict] = {}
    earliest: dict[tuple[str, bool], int] = {}
    for at, lead_id, account, verdict, since_ms in sorted(decided):  # the latest decision last
        key = (account, verdict)
        earliest[key] = min(since_ms, earliest.get(key, since_ms))
        accounts[account] = AccountVerdict(account, verdict, lead_id, at, earliest[key])
    return Verdicts(dict(sorted(accounts.items())), len(book.statuses), undecided, unknown)


def verdicts_from_records(
    records: Iterable[LeadStatusRecord | bytes], leads: Iterable[bytes | dict[str, Any]]
) -> Verdicts:
    """Verdicts from status records (typed, or the topic's values: a later value of a lead
    replaces an earlier one, as on the compacted topic) and the leads they are on."""
    book = LeadBook()
    for lead in leads:
        book.apply_lead(lead)
    for record in records:
        book.apply_status(record)
    return verdicts_from_book(book)


def read_verdicts(status_file: Path, leads_file: Path) -> Verdicts:
    """Verdicts from two JSON-lines files: the lead-status topic's values and the leads'."""
    try:
        with status_file.open("rb") as statuses, leads_file.open("rb") as leads:
            return verdicts_from_records(
                (line for line in statuses if line.strip()),
                (line for line in leads if line.strip()),
            )
    except OSError as exc:
        raise VerdictsError(f"cannot read verdicts: {exc}") from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise VerdictsError(f"{status_file} or {leads_file} is malformed: {exc!r}") from exc
