"""Lead handling (五(五) of the Baoshan plan): a lead's status, its outcome and its history.

new → tracking (持续跟踪) → verifying (核查) → handed_over (移交) → closed, with an outcome when
closed. A status may skip forward; going back (reopening a closed lead included) needs a note
saying why. Each lead's record, with its whole history, is the value of its key on the
compacted ``fundwatch.lead-status`` topic, so compaction keeps the history.
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


class StatusChangeError(FundwatchError, ValueError, http_status=409):
    """A status change that is not allowed; the message says why and what would be."""


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

    def to_json(self) -> bytes:
        return orjson.dumps(
            {
                "schema_version": 1,
                "lead_id": self.lead_id,
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
            raise StatusChangeError(f"not a lead status record: {exc}") from exc


def change_status(
    record: LeadStatusRecord | None,
    lead_id: str,
    lead_known: bool,
    change: StatusChange,
) -> LeadStatusRecord:
    """The lead's record after ``change``, or StatusChangeError saying why it is refused."""
    if not lead_known:
        raise StatusChangeError(f"no lead {lead_id} on the leads topic")
    if not change.by.strip():
        raise StatusChangeError("a status change needs the name of who makes it")
    current = record.status if record is not None else LeadStatus.NEW
    if change.status is current:
        raise StatusChangeError(f"lead {lead_id} is already {current.value}")
    if change.status is LeadStatus.CLOSED and change.outcome is None:
        raise StatusChangeError(
            f"closing lead {lead_id} needs an outcome: " + ", ".join(o.value for o in Outcome)
        )
    if change.status is not LeadStatus.CLOSED and change.outcome is not None:
        raise StatusChangeError("an outcome is given only when a lead is closed")
    backwards = STATUS_ORDER.index(change.status) < STATUS_ORDER.index(current)
    if backwards and not change.note.strip():
        raise StatusChangeError(
            f"moving lead {lead_id} back from {current.value} to {change.status.value} "
            "needs a note saying why"
        )
    history = record.history if record is not None else ()
    return LeadStatusRecord(lead_id, (*history, change))
