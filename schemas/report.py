"""The transaction report: decoding, validation and normalisation of one Kafka message.

The JSON Schema file in ``schemas/json`` is the contract banks validate against; this module
compiles that same file, so the worker and a bank's own validator accept and reject the same
records. Valid records take the compiled fast path (fastjsonschema); a rejected record is run
through the reference validator (jsonschema) once more to list every error, not just the first.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import fastjsonschema
import jsonschema
import orjson

from schemas.errors import FieldError, RejectReason, ReportRejected
from schemas.files import load_schema

REPORT_SCHEMA = load_schema("transaction-report.v1")
_fast_validate = fastjsonschema.compile(REPORT_SCHEMA)
_full_validator = jsonschema.Draft202012Validator(
    REPORT_SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
)

KNOWN_FIELDS = frozenset(REPORT_SCHEMA["properties"])
# Free-text fields: trimmed, inner whitespace runs collapsed, control characters dropped.
TEXT_FIELDS = ("customer_name", "counterparty_name", "counterparty_bank", "purpose")
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]+")
_SPACES = re.compile(r"\s+")
MAX_AMOUNT_FEN = 10**15  # 10^13 yuan
_REQUIRED_NAME = re.compile(r"^'(.+)' is a required property$")


@dataclass(slots=True, frozen=True)
class TransactionReport:
    """A validated, normalised report: amounts in integer fen, times in UTC."""

    report_id: str
    report_type: str
    bank_id: str
    tx_id: str
    tx_time: datetime  # UTC
    account_id: str
    account_type: str
    region: str
    direction: str
    amount_fen: int
    currency: str
    channel: str
    counterparty_account: str
    customer_id: str | None = None
    customer_name: str | None = None
    industry: str | None = None
    counterparty_name: str | None = None
    counterparty_bank: str | None = None
    counterparty_type: str | None = None
    counterparty_region: str | None = None
    purpose: str | None = None
    str_indicators: tuple[str, ...] = ()
    # Fields this version does not know: kept with the report, ignored by the detector.
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def tx_epoch_ms(self) -> int:
        return int(self.tx_time.timestamp() * 1000)

    def canonical(self) -> dict[str, Any]:
        """The normalised content as plain JSON types (what a digest or a file holds)."""
        out: dict[str, Any] = {
            "schema_version": 1,
            "report_id": self.report_id,
            "report_type": self.report_type,
            "bank_id": self.bank_id,
            "tx_id": self.tx_id,
            "tx_time": self.tx_time.isoformat(),
            "account_id": self.account_id,
            "account_type": self.account_type,
            "region": self.region,
            "direction": self.direction,
            "amount_fen": self.amount_fen,
            "currency": self.currency,
            "channel": self.channel,
            "counterparty_account": self.counterparty_account,
        }
        for name in (
            "customer_id",
            "customer_name",
            "industry",
            "counterparty_name",
            "counterparty_bank",
            "counterparty_type",
            "counterparty_region",
            "purpose",
        ):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        if self.str_indicators:
            out["str_indicators"] = list(self.str_indicators)
        return out

    def content_digest(self) -> bytes:
        """8-byte digest of the normalised content: equal for an exact re-send, whatever the
        JSON key order or amount spelling ("100" vs "100.00" vs 100)."""
        blob = orjson.dumps(self.canonical(), option=orjson.OPT_SORT_KEYS)
        return hashlib.blake2b(blob, digest_size=8).digest()


def report_key(bank_id: str, report_id: str) -> str:
    """The identity of a report across re-sends."""
    return f"{bank_id}\x1f{report_id}"


def decode(raw: bytes) -> Any:
    """Parse the message bytes as JSON (UTF-8), or reject as undecodable."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        reason = "not valid UTF-8" if "UTF-8" in str(exc) else "not valid JSON"
        raise ReportRejected(
            RejectReason.UNDECODABLE, [FieldError("", "undecodable", f"{reason}: {exc}")]
        ) from None


def parse_report(raw: bytes, key: bytes | None = None) -> TransactionReport:
    """Decode, validate and normalise one message. Raises ReportRejected with every error."""
    record = decode(raw)
    return validate_record(record, key)


def validate_record(record: Any, key: bytes | None = None) -> TransactionReport:
    try:
        _fast_validate(record)
    except fastjsonschema.JsonSchemaException:
        raise ReportRejected(RejectReason.SCHEMA, schema_errors(record)) from None
    errors: list[FieldError] = []
    tx_time = _parse_tx_time(record["tx_time"], errors)
    amount_fen = _parse_amount(record["amount"], errors)
    if key is not None and key != record["account_id"].encode():
        errors.append(
            FieldError(
                "account_id",
                "key_mismatch",
                f"message key {key[:80]!r} differs from account_id; banks must key each "
                "report by its account_id so an account's reports stay in order on one partition",
            )
        )
    if errors:
        reason = (
            RejectReason.KEY_MISMATCH
            if all(e.reason == "key_mismatch" for e in errors)
            else RejectReason.INVALID_VALUE
        )
        raise ReportRejected(reason, errors)
    assert tx_time is not None and amount_fen is not None
    extra = {k: v for k, v in record.items() if k not in KNOWN_FIELDS}
    return TransactionReport(
        report_id=record["report_id"],
        report_type=record["report_type"],
        bank_id=record["bank_id"],
        tx_id=record["tx_id"],
        tx_time=tx_time,
        account_id=record["account_id"],
        account_type=record["account_type"],
        region=record["region"],
        direction=record["direction"],
        amount_fen=amount_fen,
        currency=record["currency"],
        channel=record["channel"],
        counterparty_account=record["counterparty_account"],
        customer_id=_text(record.get("customer_id")),
        customer_name=_text(record.get("customer_name")),
        industry=record.get("industry"),
        counterparty_name=_text(record.get("counterparty_name")),
        counterparty_bank=_text(record.get("counterparty_bank")),
        counterparty_type=record.get("counterparty_type"),
        counterparty_region=record.get("counterparty_region"),
        purpose=_text(record.get("purpose")),
        str_indicators=tuple(t for t in map(_text, record.get("str_indicators", ())) if t),
        extra=extra,
    )


def schema_errors(record: Any) -> list[FieldError]:
    """Every JSON Schema error of a record, with the field path and the failed rule."""
    errors = []
    for err in sorted(_full_validator.iter_errors(record), key=lambda e: list(e.path)):
        path = ".".join(str(p) for p in err.absolute_path)
        if err.validator == "required":  # name the missing field, not its parent
            missing = _REQUIRED_NAME.search(err.message)
            path = ".".join(filter(None, [path, missing.group(1) if missing else ""]))
        message = err.message if len(err.message) <= 300 else err.message[:300] + "…"
        errors.append(FieldError(path, str(err.validator), message))
    if not errors:  # the two validators disagree: should not happen, but never drop the record
        errors.append(FieldError("", "schema", "rejected by the compiled schema"))
    return errors


def _parse_tx_time(text: str, errors: list[FieldError]) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        errors.append(FieldError("tx_time", "invalid_date", f"{text!r} is not a real date: {exc}"))
        return None
    if moment.tzinfo is None:  # the schema's pattern requires an offset; keep the guard anyway
        errors.append(FieldError("tx_time", "missing_offset", f"{text!r} has no UTC offset"))
        return None
    return moment.astimezone(UTC)


def _parse_amount(value: str | int | float, errors: list[FieldError]) -> int | None:
    # A float's shortest repr is what the bank wrote in its JSON (orjson round-trips it).
    text = value if isinstance(value, str) else repr(value)
    try:
        amount = Decimal(text)
    except InvalidOperation:
        errors.append(FieldError("amount", "invalid_amount", f"{value!r} is not a decimal"))
        return None
    fen = amount * 100
    if not amount.is_finite() or fen != fen.to_integral_value():
        errors.append(
            FieldError("amount", "too_many_decimals", f"{value!r} has more than 2 decimals")
        )
        return None
    fen_int = int(fen)
    if not 0 < fen_int < MAX_AMOUNT_FEN:
        errors.append(FieldError("amount", "out_of_range", f"{value!r} is not in (0, 10^13)"))
        return None
    return fen_int


def _text(value: str | None) -> str | None:
    if value is None:
        return None
    cleaned = _SPACES.sub(" ", _CONTROL_CHARS.sub(" ", value)).strip()
    return cleaned or None
