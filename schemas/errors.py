"""Typed errors for rejected input: each carries what a bank engineer needs to fix the record."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum


class FundwatchError(Exception):
    """Base of every error fundwatch raises on purpose.

    Carries what a front door needs to answer it: the CLI's exit code (2: the input or the
    configuration is wrong, as click does for usage errors) and the console's HTTP status.
    A subclass says where they differ in its class line, so each error's answer stands where
    it is defined: ``class StatusChangeError(FundwatchError, ValueError, http_status=409)``.
    """

    exit_code: int = 2
    http_status: int = 400

    def __init_subclass__(
        cls, exit_code: int | None = None, http_status: int | None = None, **kwargs: object
    ) -> None:
        super().__init_subclass__(**kwargs)
        if exit_code is not None:
            cls.exit_code = exit_code
        if http_status is not None:
            cls.http_status = http_status


# Exit codes other than 2 follow BSD's sysexits.h, so scripts can tell them apart.
EX_DATAERR = 65  # stored data fundwatch cannot read (a corrupt or unknown-version state)
EX_NOINPUT = 66  # the thing asked for does not exist
EX_UNAVAILABLE = 69  # a service fundwatch needs (the Kafka broker) cannot be reached
EX_NOPERM = 77  # the user may not do this


class NotFoundError(FundwatchError, exit_code=EX_NOINPUT, http_status=404):
    """The lead, scheme, topic or user asked for does not exist (or may not be seen)."""


class BrokerUnavailableError(FundwatchError, exit_code=EX_UNAVAILABLE, http_status=503):
    """The Kafka broker cannot be reached: nothing is wrong with the request itself."""


class RejectReason(StrEnum):
    """Why a message went to the dead-letter topic (one value per message; also a metric label)."""

    UNDECODABLE = "undecodable"  # not UTF-8 or not JSON
    DUPLICATE_KEY = "duplicate_key"  # an object holds a key twice (readers disagree on which)
    # A control character in any string, an invisible/bidi-control one in an identifier, name
    # or memo, or a lone surrogate (schemas.characters)
    FORBIDDEN_CHARACTER = "forbidden_character"
    SCHEMA = "schema"  # fails the JSON Schema
    INVALID_VALUE = "invalid_value"  # passes the schema but a value is impossible (Feb 30, 0.001)
    KEY_MISMATCH = "key_mismatch"  # message key is not the account_id
    # tx_time too far ahead of the message's broker timestamp, or before the earliest date
    TIME_OUT_OF_RANGE = "time_out_of_range"
    CONFLICT = "conflict"  # same (bank_id, report_id) as an earlier report, different content
    BANK_MISMATCH = "bank_mismatch"  # on a bank's own topic, but bank_id names another bank
    # A batched message (JSON lines): a report whose account belongs to another partition
    WRONG_PARTITION = "wrong_partition"
    BATCH_TOO_LARGE = "batch_too_large"  # a batched message holds more reports than allowed


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str  # dotted path into the record, "" for the whole message
    reason: str  # the failed rule: "required", "maxLength", "invalid_date", ...
    message: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


class ReportRejected(FundwatchError, ValueError):  # noqa: N818 (a rejection is the expected outcome)
    """A message that cannot be accepted as a transaction report."""

    def __init__(self, reason: RejectReason, errors: list[FieldError]) -> None:
        self.reason = reason
        self.errors = errors
        detail = "; ".join(f"{e.field or '<message>'}: {e.message}" for e in errors[:5])
        super().__init__(f"{reason.value}: {detail}")
