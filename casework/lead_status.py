"""Lead handling (五(五) of the Baoshan plan): a lead's status, its outcome and its history.

new → tracking (持续跟踪) → verifying (核查) → handed_over (移交) → closed, with an outcome when
closed. A status may skip forward; going back (reopening a closed lead included) needs a note
saying why. Each lead's record, with its whole history, is the value of its key on the
compacted ``fundwatch.lead-status`` topic, so compaction keeps the history.

A record's version is the number of changes in its history: 0 for a lead nobody has touched,
one more with each accepted change. A change may name the version it was decided on; if the
record has moved on since (another analyst changed the lead), the change is refused as stale.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import orjson

from schemas.errors import FundwatchError
from schemas.glossary import OUTCOME_NAMES, STATUS_NAMES


class LeadStatus(StrEnum):
    NEW = "new"
    TRACKING = "tracking"
    VERIFYING = "verifying"
    HANDED_OVER = "handed_over"
    CLOSED = "closed"


class Outcome(StrEnum):
    CONFIRMED = "confirmed"  # confirmed illegal fundraising (确认非法集资)
    NOT_CONFIRMED = "not_confirmed"  # 排除
    OTHER = "other"  # another offence or matter, handed on


# Their names are the glossary's; these views keep the enums as keys.
STATUS_NAMES_ZH = {s: STATUS_NAMES[s.value][0] for s in LeadStatus}
STATUS_NAMES_EN = {s: STATUS_NAMES[s.value][1] for s in LeadStatus}
OUTCOME_NAMES_ZH = {o: OUTCOME_NAMES[o.value][0] for o in Outcome}
OUTCOME_NAMES_EN = {o: OUTCOME_NAMES[o.value][1] for o in Outcome}
STATUS_ORDER = tuple(LeadStatus)


class StatusChangeError(FundwatchError, ValueError):
    """A status change that is not allowed; the message says why and what would be.

    ``code`` names the rule (``needs_note``, ``stale`` ...) and ``params`` its values (codes,
    ids and names, never sentences), so a front door can say it in its reader's language."""

    http_status = 409  # the lead's state does not allow it

    def __init__(self, message: str, code: str = "invalid", **params: str) -> None:
        super().__init__(message)
        self.code = code
        self.params = params


@dataclass(frozen=True, slots=True)
class StatusChange:
    status: LeadStatus
    by: str
    at: datetime
    note: str = ""
    outcome: Outcome | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "by": self.by,
            "at": self.at.astimezone(UTC).isoformat(),
            "note": self.note,
            "outcome": self.outcome.value if self.outcome else None,
        }

    @classmethod
    def from_dict(cls, body: dict[str, Any]) -> StatusChange:
        return cls(
            status=LeadStatus(body["status"]),
            by=str(body["by"]),
            at=datetime.fromisoformat(body["at"]),
            note=str(body.get("note") or ""),
            outcome=Outcome(body["outcome"]) if body.get("outcome") else None,
        )


@dataclass(frozen=True, slots=True)
class LeadStatusRecord:
    lead_id: str
    history: tuple[StatusChange, ...]  # oldest first; a lead with no record is new

    @property
    def status(self) -> LeadStatus:
        return self.history[-1].status if self.history else LeadStatus.NEW

    @property
    def outcome(self) -> Outcome | None:
        return self.history[-1].outcome if self.history else None

    @property
    def changed_at(self) -> datetime | None:
        return self.history[-1].at if self.history else None

    @property
    def version(self) -> int:
        """How many changes the record holds: each accepted change makes the next version."""
        return len(self.history)

    def follows(self, earlier: LeadStatusRecord) -> bool:
        """Whether this record is ``earlier`` with further changes appended."""
        return (
            self.lead_id == earlier.lead_id
            and self.version > earlier.version
            and self.history[: earlier.version] == earlier.history
        )

    def to_json(self) -> bytes:
        return orjson.dumps(
            {
                "schema_version": 1,
                "lead_id": self.lead_id,
                "version": self.version,
                "status": self.status.value,
                "outcome": self.outcome.value if self.outcome else None,
                "history": [change.to_dict() for change in self.history],
            }
        )

    @classmethod
    def from_json(cls, blob: bytes) -> LeadStatusRecord:
        try:
            body = orjson.loads(blob)
            return cls(
                str(body["lead_id"]),
                tuple(StatusChange.from_dict(c) for c in body["history"]),
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise StatusChangeError(f"not a lead status record: {exc}", "not_a_record") from exc


def change_status(
    record: LeadStatusRecord | None,
    lead_id: str,
    lead_known: bool,
    change: StatusChange,
    expected_version: int | None = None,
) -> LeadStatusRecord:
    """The lead's record after ``change``, or StatusChangeError saying why it is refused.

    ``expected_version``: the version of the record the change was decided on (None: not
    checked, for a tool that reads the record and changes it in one go)."""
    if not lead_known:
        raise StatusChangeError(f"no lead {lead_id} on the leads topic", "unknown_lead")
    if not change.by.strip():
        raise StatusChangeError("a status change needs the name of who makes it", "no_author")
    if expected_version is not None:
        # First: the other rules would judge the change against a state its author never saw.
        check_version(record, lead_id, expected_version)
    current = record.status if record is not None else LeadStatus.NEW
    if change.status is current:
        raise StatusChangeError(
            f"lead {lead_id} is already {current.value}", "same_status", status=current.value
        )
    if change.status is LeadStatus.CLOSED and change.outcome is None:
        raise StatusChangeError(
            f"closing lead {lead_id} needs an outcome: " + ", ".join(o.value for o in Outcome),
            "needs_outcome",
        )
    if change.status is not LeadStatus.CLOSED and change.outcome is not None:
        raise StatusChangeError(
            "an outcome is given only when a lead is closed", "outcome_not_closing"
        )
    backwards = STATUS_ORDER.index(change.status) < STATUS_ORDER.index(current)
    if backwards and not change.note.strip():
        raise StatusChangeError(
            f"moving lead {lead_id} back from {current.value} to {change.status.value} "
            "needs a note saying why",
            "needs_note",
            current=current.value,
            status=change.status.value,
        )
    history = record.history if record is not None else ()
    return LeadStatusRecord(lead_id, (*history, change))


def check_version(record: LeadStatusRecord | None, lead_id: str, expected_version: int) -> None:
    """Refuse (``stale``) a change decided on another version of the record than its own:
    someone changed the lead since; the refusal says who, when and to what."""
    version = record.version if record is not None else 0
    if expected_version == version:
        return
    last = record.history[-1] if record is not None and record.history else None
    raise StatusChangeError(
        f"lead {lead_id} was changed since version {expected_version}: it is at version "
        f"{version}"
        + (f", {last.status.value} by {last.by} at {last.at.isoformat()}" if last else ""),
        "stale",
        expected_version=str(expected_version),
        version=str(version),
        status=last.status.value if last else LeadStatus.NEW.value,
        by=last.by if last else "",
        at=last.at.astimezone(UTC).isoformat() if last else "",
    )
