"""The transaction report: decoding, validation and normalisation of one Kafka message.

The JSON Schema file in ``schemas/json`` is the contract banks validate against; this module
compiles that same file, so the worker and a bank's own validator accept and reject the same
records. A plainly valid report (printable strings, plain values: what banks send) is decided
by ``plainly_valid``'s few type, length and membership tests, each implying the schema's rule;
any other record takes the compiled schema (fastjsonschema), and a rejected one is run through
the reference validator (jsonschema) once more to list every error, not just the first.

Beyond the schema, the worker refuses what JSON Schema cannot say: an object with a key twice
(readers disagree on which value counts: orjson keeps the last, others the first), and the
character rules of ``schemas.characters`` for characters the schema's patterns do not cover
(above U+FFFF). Both run in full only when a cheap test on the bytes says they could find
something: a plain report pays one re-serialisation, two byte counts and a few substring tests
for them (bench/ingest.py --stage measures it).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import fastjsonschema
import jsonschema
import orjson

from schemas.characters import beyond_schema, describe, first_forbidden, segment, strings
from schemas.errors import FieldError, RejectReason, ReportRejected
from schemas.files import load_schema

REPORT_SCHEMA = load_schema("transaction-report.v1")
# The hot path compiles the same file but for the rule on the names of the top-level keys:
# fastjsonschema would run its pattern over every key of every report, known ones included;
# the known names are fixed, so validate_record runs it over the unknown keys only.
# And the amount's "oneOf" (a string or a number) is compiled as "anyOf": the two branches
# cannot both hold (a value has one type), so the two accept the same values, but the compiled
# oneOf tries the number branch after the string matched and builds an exception per report.
_FAST_SCHEMA = {k: v for k, v in REPORT_SCHEMA.items() if k != "propertyNames"}
_AMOUNT = REPORT_SCHEMA["properties"]["amount"]
_FAST_SCHEMA["properties"] = {
    **REPORT_SCHEMA["properties"],
    "amount": {"anyOf": _AMOUNT["oneOf"]},
}
_fast_validate = fastjsonschema.compile(_FAST_SCHEMA)
_KEY_NAME = re.compile(REPORT_SCHEMA["propertyNames"]["pattern"].replace("$", r"\Z"))
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
# Identifiers, names and memos: what an analyst reads and compares, so no invisible or
# bidi-control character either (schemas.characters DISPLAY); any other string: no control
# character (CONTROL).
DISPLAY_FIELDS = frozenset(
    {
        "report_id",
        "bank_id",
        "tx_id",
        "account_id",
        "customer_id",
        "customer_name",
        "counterparty_account",
        "counterparty_name",
        "counterparty_bank",
        "purpose",
        "str_indicators",
    }
)
# The patterns the schema uses for those two rules: their errors are replaced by precise ones.
_CHARACTER_PATTERNS = frozenset(
    {
        REPORT_SCHEMA["properties"]["purpose"]["pattern"],
        REPORT_SCHEMA["propertyNames"]["pattern"],
    }
)


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
    # tx_time in epoch milliseconds, computed once: every stage reads it, several times.
    _tx_ms: int = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_tx_ms", int(self.tx_time.timestamp() * 1000))

    @property
    def tx_epoch_ms(self) -> int:
        return self._tx_ms

    @property
    def identity(self) -> tuple[str, str]:
        """(bank_id, report_id): what names a report, in a dead letter too."""
        return self.bank_id, self.report_id

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
        JSON key order or amount spelling ("100" vs "100.00" vs 100).

        The digest of ``canonical()`` with its keys sorted, which the seen-reports state of
        earlier versions holds; the dict is built here in that sorted order directly, without
        ``canonical()``'s loop (tests/unit/test_report_fast_path.py compares the bytes)."""
        out: dict[str, Any] = {
            "account_id": self.account_id,
            "account_type": self.account_type,
            "amount_fen": self.amount_fen,
            "bank_id": self.bank_id,
            "channel": self.channel,
            "counterparty_account": self.counterparty_account,
        }
        if self.counterparty_bank is not None:
            out["counterparty_bank"] = self.counterparty_bank
        if self.counterparty_name is not None:
            out["counterparty_name"] = self.counterparty_name
        if self.counterparty_region is not None:
            out["counterparty_region"] = self.counterparty_region
        if self.counterparty_type is not None:
            out["counterparty_type"] = self.counterparty_type
        out["currency"] = self.currency
        if self.customer_id is not None:
            out["customer_id"] = self.customer_id
        if self.customer_name is not None:
            out["customer_name"] = self.customer_name
        out["direction"] = self.direction
        if self.industry is not None:
            out["industry"] = self.industry
        if self.purpose is not None:
            out["purpose"] = self.purpose
        out["region"] = self.region
        out["report_id"] = self.report_id
        out["report_type"] = self.report_type
        out["schema_version"] = 1
        if self.str_indicators:
            out["str_indicators"] = list(self.str_indicators)
        out["tx_id"] = self.tx_id
        out["tx_time"] = self.tx_time.isoformat()
        return hashlib.blake2b(orjson.dumps(out), digest_size=8).digest()


def report_key(bank_id: str, report_id: str) -> str:
    """The identity of a report across re-sends."""
    return f"{bank_id}\x1f{report_id}"


def decode(raw: bytes) -> Any:
    """Parse the message bytes as JSON (UTF-8), or reject as undecodable.

    A lone surrogate escape (``"\\ud800"``) is refused by orjson as bad JSON; it is valid JSON
    holding a character no text may hold, so it is refused as such, with its field."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if "surrogate" in str(exc) and "UTF-8" not in str(exc):
            _refuse_lone_surrogates(raw)
        reason = "not valid UTF-8" if "UTF-8" in str(exc) else "not valid JSON"
        raise ReportRejected(
            RejectReason.UNDECODABLE, [FieldError("", "undecodable", f"{reason}: {exc}")]
        ) from None


def _refuse_lone_surrogates(raw: bytes) -> None:
    try:
        record = json.loads(raw.decode("utf-8"))
    except ValueError:
        return  # not JSON for the standard library either: undecodable
    errors = character_errors(record)
    if errors:
        raise ReportRejected(RejectReason.FORBIDDEN_CHARACTER, errors)


def parse_report(raw: bytes, key: bytes | None = None) -> TransactionReport:
    """Decode, validate and normalise one message. Raises ReportRejected with every error."""
    record = decode(raw)
    if not _every_member_kept(raw, record):
        refuse_duplicate_keys(raw)
    report = plainly_valid(record, key)
    if report is not None:
        return report
    return validate_record(record, key, raw)


def validate_record(
    record: Any, key: bytes | None = None, raw: bytes | None = None
) -> TransactionReport:
    """Validate and normalise a decoded record; ``raw``, its bytes, if it was decoded from
    some (then the character rules beyond the schema run only when the bytes could break
    them)."""
    try:
        _fast_validate(record)
    except fastjsonschema.JsonSchemaException:
        broken = schema_errors(record)
        reason = (
            RejectReason.FORBIDDEN_CHARACTER
            if all(e.reason in CHARACTER_RULES for e in broken)
            else RejectReason.SCHEMA
        )
        raise ReportRejected(reason, broken) from None
    extra = {k: v for k, v in record.items() if k not in KNOWN_FIELDS}
    if raw is None or beyond_schema(raw) or any(_KEY_NAME.match(k) is None for k in extra):
        character = character_errors(record)
        if character:
            raise ReportRejected(RejectReason.FORBIDDEN_CHARACTER, character)
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
    return _report(record, tx_time, amount_fen, extra)


# The slots of a TransactionReport in the order of its fields, written directly: the frozen
# dataclass's __init__ goes through object.__setattr__ once per field, twice as slow, and this
# is once per report. _report sets every field (an import-time check: a field added to the
# class must be added there too).
_FIELD_SETTERS = tuple(
    getattr(TransactionReport, f.name).__set__ for f in dataclasses.fields(TransactionReport)
)
_new_object = object.__new__


def _report(
    record: dict[str, Any], tx_time: datetime, amount_fen: int, extra: dict[str, Any]
) -> TransactionReport:
    """The normalised report of a valid record (both paths build it here), as
    ``TransactionReport(...)`` would."""
    get = record.get
    indicators = get("str_indicators")
    values = (
        record["report_id"],
        record["report_type"],
        record["bank_id"],
        record["tx_id"],
        tx_time,
        record["account_id"],
        record["account_type"],
        record["region"],
        record["direction"],
        amount_fen,
        record["currency"],
        record["channel"],
        record["counterparty_account"],
        _text(get("customer_id")),
        _text(get("customer_name")),
        get("industry"),
        _text(get("counterparty_name")),
        _text(get("counterparty_bank")),
        get("counterparty_type"),
        get("counterparty_region"),
        _text(get("purpose")),
        tuple(t for t in map(_text, indicators) if t) if indicators else (),
        extra,
        int(tx_time.timestamp() * 1000),  # as __post_init__
    )
    report = _new_object(TransactionReport)
    for set_field, value in zip(_FIELD_SETTERS, values, strict=False):  # lengths: see above
        set_field(report, value)
    return report


# The count of values _report gives, checked once here rather than by zip on every report.
if len(_FIELD_SETTERS) != 24:
    raise ImportError("TransactionReport changed: _report must set each of its fields")


# -- the fast path ---------------------------------------------------------------------------
#
# plainly_valid decides the reports that are plainly valid with a few type, length and
# membership tests, and leaves every other record to validate_record (the compiled schema, then
# the reference validator for the reasons). It returns a report only where validate_record
# returns the same one: each test below implies the schema's rule it stands for, never the
# converse, so a record it is unsure of costs one call more, never a different verdict.
#
# - A string passes the schema's character patterns (and schemas.characters' rules, which the
#   bytes could otherwise trigger) when str.isprintable() holds: Python counts every control,
#   format (Cf), separator but the space, surrogate, private-use and unassigned character as
#   unprintable (tests/unit/test_report_fast_path.py checks every code point).
# - A field the schema does not know passes when its name and value are printable strings, or
#   its value is a number, a boolean or null (nested values: validate_record).
# - tx_time: _PLAIN_TX_TIME is narrower than the schema's pattern and format together, but for
#   the calendar, which datetime.fromisoformat checks.

_PROPERTIES = REPORT_SCHEMA["properties"]
_MISSING = object()


def _text_bounds(name: str) -> tuple[str, int, int]:
    rule = _PROPERTIES[name]
    assert rule["type"] == "string" and rule["pattern"] == _PROPERTIES["report_id"]["pattern"]
    return name, rule["minLength"], rule["maxLength"]


_REQUIRED_TEXT = tuple(
    _text_bounds(n) for n in ("report_id", "bank_id", "tx_id", "account_id", "counterparty_account")
)
_OPTIONAL_TEXT = tuple(
    _text_bounds(n)
    for n in ("customer_id", "customer_name", "counterparty_name", "counterparty_bank", "purpose")
)
_INDICATOR = _PROPERTIES["str_indicators"]
_MAX_INDICATORS = _INDICATOR["maxItems"]
_INDICATOR_LENGTH = (_INDICATOR["items"]["minLength"], _INDICATOR["items"]["maxLength"])
_REPORT_TYPES = frozenset(_PROPERTIES["report_type"]["enum"])
_ACCOUNT_TYPES = frozenset(_PROPERTIES["account_type"]["enum"])
_DIRECTIONS = frozenset(_PROPERTIES["direction"]["enum"])
_CHANNELS = frozenset(_PROPERTIES["channel"]["enum"])
_INDUSTRIES = frozenset(_PROPERTIES["industry"]["enum"])
_COUNTERPARTY_TYPES = frozenset(_PROPERTIES["counterparty_type"]["enum"])
_REQUIRED = frozenset(REPORT_SCHEMA["required"])
# ECMA-262's "$" is Python's "\Z" (as fastjsonschema compiles it).
_AMOUNT_TEXT = re.compile(_AMOUNT["oneOf"][0]["pattern"].replace("$", r"\Z"))
_AMOUNT_LOW = _AMOUNT["oneOf"][1]["exclusiveMinimum"]
_AMOUNT_HIGH = _AMOUNT["oneOf"][1]["exclusiveMaximum"]
# Every field the schema knows, as plainly_valid checks it: a new field or rule in the schema
# must be taught to plainly_valid first (tests/unit/test_report_fast_path.py pins the rules).
_PLAINLY_CHECKED = frozenset(
    {
        *(name for name, _, _ in _REQUIRED_TEXT + _OPTIONAL_TEXT),
        *("schema_version", "report_type", "account_type", "direction", "channel", "region"),
        *("currency", "industry", "counterparty_type", "counterparty_region", "str_indicators"),
        *("amount", "tx_time"),
    }
)
if _PLAINLY_CHECKED != KNOWN_FIELDS:
    raise ImportError(f"plainly_valid does not check {sorted(KNOWN_FIELDS - _PLAINLY_CHECKED)}")
_PLAIN_TX_TIME = re.compile(
    r"[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])T(?:[01][0-9]|2[0-3]):[0-5][0-9]:"
    r"[0-5][0-9](?:\.[0-9]{1,9})?(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])\Z"
)


def _is_region(value: Any) -> bool:
    # For an ASCII str, isdigit() is [0-9]: the schema's ^[0-9]{6}$.
    return type(value) is str and len(value) == 6 and value.isascii() and value.isdigit()


def plainly_valid(record: Any, key: bytes | None = None) -> TransactionReport | None:
    """The report of a record that is plainly valid (key: the message key, as in
    validate_record), or None: then validate_record decides it."""
    if type(record) is not dict or not record.keys() >= _REQUIRED:
        return None
    get = record.get
    for name, shortest, longest in _REQUIRED_TEXT:
        value = record[name]
        if type(value) is not str or not shortest <= len(value) <= longest:
            return None
        if not value.isprintable():
            return None
    for name, shortest, longest in _OPTIONAL_TEXT:
        value = get(name, _MISSING)
        if value is not _MISSING and (
            type(value) is not str
            or not shortest <= len(value) <= longest
            or not value.isprintable()
        ):
            return None
    version = record["schema_version"]
    if type(version) is not int or version != 1:
        return None
    report_type, account_type = record["report_type"], record["account_type"]
    direction, channel = record["direction"], record["channel"]
    if (
        type(report_type) is not str
        or report_type not in _REPORT_TYPES
        or type(account_type) is not str
        or account_type not in _ACCOUNT_TYPES
        or type(direction) is not str
        or direction not in _DIRECTIONS
        or type(channel) is not str
        or channel not in _CHANNELS
        or not _is_region(record["region"])
    ):
        return None
    currency = record["currency"]
    if currency != "CNY" and not (
        type(currency) is str
        and len(currency) == 3
        and currency.isascii()
        and currency.isalpha()
        and currency.isupper()
    ):
        return None
    industry = get("industry", _MISSING)
    if industry is not _MISSING and (type(industry) is not str or industry not in _INDUSTRIES):
        return None
    counterparty_type = get("counterparty_type", _MISSING)
    if counterparty_type is not _MISSING and (
        type(counterparty_type) is not str or counterparty_type not in _COUNTERPARTY_TYPES
    ):
        return None
    counterparty_region = get("counterparty_region", _MISSING)
    if counterparty_region is not _MISSING and not _is_region(counterparty_region):
        return None
    indicators = get("str_indicators", _MISSING)
    if indicators is not _MISSING:
        if type(indicators) is not list or len(indicators) > _MAX_INDICATORS:
            return None
        shortest, longest = _INDICATOR_LENGTH
        for item in indicators:
            if type(item) is not str or not shortest <= len(item) <= longest:
                return None
            if not item.isprintable():
                return None
    if record.keys() <= KNOWN_FIELDS:
        extra: dict[str, Any] = {}
    else:
        extra = {k: v for k, v in record.items() if k not in KNOWN_FIELDS}
        for name, value in extra.items():
            if not name.isprintable():
                return None
            kind = type(value)
            if kind is str:
                if not value.isprintable():
                    return None
            elif kind not in (int, float, bool) and value is not None:
                return None
    # The message key, then the values the parser reads (their own errors: validate_record).
    account_id = record["account_id"]
    if key is not None and key != account_id.encode():
        return None
    amount = record["amount"]
    if type(amount) is str:
        if _AMOUNT_TEXT.match(amount) is None:
            return None
    elif type(amount) is int or type(amount) is float:
        if not _AMOUNT_LOW < amount < _AMOUNT_HIGH:
            return None
    else:
        return None
    amount_fen = _parse_amount(amount, [])
    if amount_fen is None:  # more than 2 decimals, say
        return None
    tx_text = record["tx_time"]
    if type(tx_text) is not str or _PLAIN_TX_TIME.match(tx_text) is None:
        return None
    try:
        moment = datetime.fromisoformat(tx_text)
    except ValueError:
        return None
    return _report(record, moment.astimezone(UTC), amount_fen, extra)


CHARACTER_RULES = frozenset({"control_character", "invisible_character", "lone_surrogate"})


def character_errors(record: Any) -> list[FieldError]:
    """One error per string of the record (values and keys) that holds a character its field
    may not hold, naming the first such character and where it is."""
    if not isinstance(record, dict):
        return []
    errors = []
    for name, value in record.items():
        display = name in DISPLAY_FIELDS
        top = segment(name)
        for path, text in ((f"[{top}]", name),) if isinstance(name, str) else ():
            index = first_forbidden(text, display=False)
            if index is not None:
                errors.append(FieldError(path, *describe(text, index, display=False)))
        for path, text in strings(value, top):
            # A key inside a display field's value (there are none in a valid one) is held
            # to the display rule too: simpler than telling keys from values here.
            index = first_forbidden(text, display)
            if index is not None:
                errors.append(FieldError(path, *describe(text, index, display)))
    return errors


def _every_member_kept(raw: bytes, record: Any) -> bool:
    """Cheap proof that the decoded record kept every member of the JSON text (no key twice
    in one object). The text's colons are one per member plus those inside its strings;
    orjson writes the decoded record back with one per kept member plus those of the kept
    strings (it never escapes a colon). Equal counts: no member was dropped. A colon the
    text wrote as an escape (``\\u003a``) would spoil the count: then check properly."""
    if b"\\u003" in raw:
        return False
    return orjson.dumps(record).count(b":") == raw.count(b":")


def refuse_duplicate_keys(raw: bytes) -> None:
    """Raise ReportRejected (duplicate_key) naming each key that appears twice in one object."""
    errors: list[FieldError] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        values: dict[str, list[Any]] = {}
        for key, value in items:
            values.setdefault(key, []).append(value)
        for key, seen in values.items():
            if len(seen) > 1:
                shown = ", ".join(_short(v) for v in seen[:3])
                errors.append(
                    FieldError(
                        segment(key),
                        "duplicate_key",
                        f"key {segment(key)!r} appears {len(seen)} times in one object "
                        f"({shown}); JSON readers disagree on which counts, so send it once",
                    )
                )
        return dict(items)

    json.loads(raw.decode("utf-8"), object_pairs_hook=pairs)
    if errors:
        raise ReportRejected(RejectReason.DUPLICATE_KEY, errors)


def _short(value: Any) -> str:
    text = ascii(value)
    return text if len(text) <= 40 else text[:40] + "…"


def schema_errors(record: Any) -> list[FieldError]:
    """Every JSON Schema error of a record, with the field path and the failed rule; a
    string breaking a character rule is named with the character and its position."""
    errors = character_errors(record)
    for err in sorted(_full_validator.iter_errors(record), key=lambda e: list(e.path)):
        if err.validator == "pattern" and err.validator_value in _CHARACTER_PATTERNS:
            continue  # in character_errors, precisely
        path = ".".join(segment(str(p)) for p in err.absolute_path)
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
    if isinstance(value, str):
        # The schema's pattern has let through only 1 to 13 digits, a non-zero value and at
        # most 2 decimals: always a valid amount, read here without Decimal.
        whole, _, cents = value.strip().partition(".")  # "$" lets a final newline through
        return int(whole) * 100 + int(cents.ljust(2, "0") or 0)
    # A float's shortest repr is what the bank wrote in its JSON (orjson round-trips it).
    text = repr(value)
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
    if value.isprintable() and "  " not in value and value[:1] != " " and value[-1:] != " ":
        # Nothing to clean: a printable string holds no control character and no whitespace
        # but the ASCII space (str.isprintable), and no run of spaces or space at either end.
        return value or None
    cleaned = _SPACES.sub(" ", _CONTROL_CHARS.sub(" ", value)).strip()
    return cleaned or None
