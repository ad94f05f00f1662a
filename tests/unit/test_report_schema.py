"""The JSON Schema file banks validate against and the worker's parser agree on every record."""

from __future__ import annotations

import json
import unicodedata
from datetime import UTC, datetime
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.errors import RejectReason, ReportRejected
from schemas.files import SCHEMA_DIR
from schemas.report import DISPLAY_FIELDS, parse_report, validate_record
from tests.reports import encode, valid_report

# What a bank would do: load the shipped file into any JSON Schema validator.
with (SCHEMA_DIR / "transaction-report.v1.schema.json").open(encoding="utf-8") as f:
    BANK_VALIDATOR = jsonschema.Draft202012Validator(
        json.load(f), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def beyond_the_schema(record: Any) -> bool:
    """What the worker refuses though a Python JSON Schema validator accepts it: a Cf character
    above U+FFFF in an identifier, name or memo (no portable pattern covers those), or a string
    ending in a newline (Python's, Java's and .NET's ``$`` match before a final newline; an
    ECMA-262 validator, like fundwatch's compiled one, refuses it)."""
    if not isinstance(record, dict):
        return False
    for name, value in record.items():
        texts = value if isinstance(value, list) else [value]
        for text in texts:
            if not isinstance(text, str):
                continue
            if text.endswith("\n"):
                return True
            if name in DISPLAY_FIELDS and any(
                ord(c) > 0xFFFF and unicodedata.category(c) == "Cf" for c in text
            ):
                return True
    return False


def python_accepts(record: Any) -> bool:
    try:
        validate_record(record)
    except ReportRejected:
        return False
    return True


def bank_accepts(record: Any) -> bool:
    return BANK_VALIDATOR.is_valid(record)


def test_valid_report_is_normalised() -> None:
    report = parse_report(encode(valid_report(amount="1234.5", purpose="  投资款   第3期 ")))
    assert report.amount_fen == 123450
    assert report.tx_time == datetime(2026, 11, 3, 6, 5, 9, tzinfo=UTC)
    assert report.purpose == "投资款 第3期"
    assert bank_accepts(valid_report())


def test_amount_spellings_give_the_same_fen() -> None:
    spellings = ["100", "100.0", "100.00", 100, 100.0]
    assert {parse_report(encode(valid_report(amount=a))).amount_fen for a in spellings} == {10000}


def test_unknown_fields_are_kept_and_ignored() -> None:
    report = parse_report(encode(valid_report(branch_code="BS-01", risk={"x": 1})))
    assert report.extra == {"branch_code": "BS-01", "risk": {"x": 1}}
    assert report.content_digest() == parse_report(encode(valid_report())).content_digest()


BAD_RECORDS = {
    "missing report_id": lambda r: r.pop("report_id"),
    "schema_version 2": lambda r: r.update(schema_version=2),
    "report_type XX": lambda r: r.update(report_type="XX"),
    "bank_id too long": lambda r: r.update(bank_id="B" * 33),
    "empty account_id": lambda r: r.update(account_id=""),
    "region 5 digits": lambda r: r.update(region="53050"),
    "direction sideways": lambda r: r.update(direction="sideways"),
    "amount zero": lambda r: r.update(amount="0.00"),
    "amount negative": lambda r: r.update(amount="-5"),
    "amount negative number": lambda r: r.update(amount=-5),
    "amount 3 decimals": lambda r: r.update(amount="1.005"),
    "amount 10^13": lambda r: r.update(amount="10000000000000"),
    "amount as word": lambda r: r.update(amount="lots"),
    "amount null": lambda r: r.update(amount=None),
    "tx_time without offset": lambda r: r.update(tx_time="2026-11-03T14:05:09"),
    "tx_time date only": lambda r: r.update(tx_time="2026-11-03"),
    "tx_time Feb 30": lambda r: r.update(tx_time="2026-02-30T10:00:00+08:00"),
    "tx_time hour 25": lambda r: r.update(tx_time="2026-11-03T25:00:00+08:00"),
    "currency lower case": lambda r: r.update(currency="cny"),
    "channel carrier pigeon": lambda r: r.update(channel="pigeon"),
    "purpose too long": lambda r: r.update(purpose="投" * 257),
    "str_indicators not a list": lambda r: r.update(str_indicators="分散转入"),
    "industry unknown": lambda r: r.update(industry="casino"),
    "counterparty_account number": lambda r: r.update(counterparty_account=6217000033334444),
}


@pytest.mark.parametrize("name", sorted(BAD_RECORDS))
def test_both_validators_reject(name: str) -> None:
    record = valid_report()
    BAD_RECORDS[name](record)
    assert not bank_accepts(record)
    with pytest.raises(ReportRejected) as caught:
        parse_report(encode(record))
    assert caught.value.errors, "a rejection must say why"
    assert caught.value.reason in (RejectReason.SCHEMA, RejectReason.INVALID_VALUE)


def test_every_error_is_listed_with_its_field() -> None:
    record = valid_report(amount="-1", region="xx")
    del record["tx_id"]
    with pytest.raises(ReportRejected) as caught:
        parse_report(encode(record))
    fields = {e.field for e in caught.value.errors}
    assert {"amount", "region", "tx_id"} <= fields


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"\xff\xfe{}", RejectReason.UNDECODABLE),
        (b'{"report_id": "\xe6\x8a"}', RejectReason.UNDECODABLE),  # truncated UTF-8
        (b"{not json", RejectReason.UNDECODABLE),
        (b'{"amount": NaN}', RejectReason.UNDECODABLE),
        (b"[1, 2, 3]", RejectReason.SCHEMA),
        (b"", RejectReason.UNDECODABLE),
    ],
)
def test_undecodable_messages_are_rejected(raw: bytes, reason: RejectReason) -> None:
    with pytest.raises(ReportRejected) as caught:
        parse_report(raw)
    assert caught.value.reason is reason


def test_message_key_must_be_the_account() -> None:
    record = valid_report()
    assert parse_report(encode(record), record["account_id"].encode()).account_id
    with pytest.raises(ReportRejected) as caught:
        parse_report(encode(record), b"someone-else")
    assert caught.value.reason is RejectReason.KEY_MISMATCH


def test_number_amount_with_three_decimals_is_rejected_by_the_parser() -> None:
    # JSON Schema cannot state "at most 2 decimals" for a JSON number (multipleOf 0.01 fails on
    # binary floats), so the schema documents it and the parser enforces it.
    with pytest.raises(ReportRejected) as caught:
        parse_report(encode(valid_report(amount=12.345)))
    assert caught.value.errors[0].reason == "too_many_decimals"


# -- generated hostile input ---------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**15), max_value=10**15)
    | st.floats(allow_nan=False, allow_infinity=False).map(lambda x: round(x, 2))
    | st.text(max_size=300),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=8,
)
field_names = st.sampled_from([*sorted(valid_report()), "customer_id", "str_indicators"])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(changes=st.dictionaries(field_names, json_values, min_size=1, max_size=3))
def test_validators_agree_on_mutated_records(changes: dict[str, Any]) -> None:
    record = valid_report(**changes)
    assert python_accepts(record) == (bank_accepts(record) and not beyond_the_schema(record)), (
        record
    )


@settings(max_examples=200, deadline=None)
@given(
    field=st.sampled_from(["tx_time", "amount", "region", "report_id", "purpose"]),
    text=st.text(
        alphabet=st.characters(codec="utf-8"),
        min_size=0,
        max_size=400,
    ),
)
def test_validators_agree_on_hostile_strings(field: str, text: str) -> None:
    record = valid_report(**{field: text})
    assert python_accepts(record) == (bank_accepts(record) and not beyond_the_schema(record)), (
        record
    )


@settings(max_examples=300, deadline=None)
@given(raw=st.binary(max_size=2000))
def test_arbitrary_bytes_never_crash_the_parser(raw: bytes) -> None:
    try:
        parse_report(raw)
    except ReportRejected as rejection:
        assert rejection.errors


@settings(max_examples=100, deadline=None)
@given(size=st.integers(min_value=257, max_value=1_000_000))
def test_huge_strings_are_rejected_not_truncated(size: int) -> None:
    with pytest.raises(ReportRejected):
        parse_report(encode(valid_report(purpose="x" * size)))


def test_schema_lists_exactly_the_known_sectors() -> None:
    from schemas.sectors import SECTORS

    schema = json.loads((SCHEMA_DIR / "transaction-report.v1.schema.json").read_text("utf-8"))
    assert schema["properties"]["industry"]["enum"] == list(SECTORS)


# -- hostile characters --------------------------------------------------------------------

CONTROL = {
    "NUL": "\x00",
    "BEL": "\x07",
    "backspace": "\x08",
    "tab": "\t",
    "line feed": "\n",
    "carriage return": "\r",
    "ANSI red": "\x1b[31m",
    "DEL": "\x7f",
    "NEL": "\x85",
    "C1 CSI": "\x9b",
}
INVISIBLE = {
    "zero width space": "\u200b",
    "zero width joiner": "\u200d",
    "left-to-right mark": "\u200e",
    "right-to-left override": "\u202e",
    "word joiner": "\u2060",
    "left-to-right isolate": "\u2066",
    "byte order mark": "\ufeff",
    "soft hyphen": "\u00ad",
    "line separator": "\u2028",
    "Arabic letter mark": "\u061c",
}
TEXT_FIELDS = ["report_id", "account_id", "customer_name", "counterparty_name", "purpose"]


def rejection(raw: bytes) -> ReportRejected:
    with pytest.raises(ReportRejected) as caught:
        parse_report(raw)
    return caught.value


@pytest.mark.parametrize("field", TEXT_FIELDS)
@pytest.mark.parametrize("name", sorted(CONTROL))
def test_control_characters_are_refused_in_every_text_field(field: str, name: str) -> None:
    record = valid_report(**{field: f"A{CONTROL[name]}B"})
    refused = rejection(encode(record))
    assert refused.reason is RejectReason.FORBIDDEN_CHARACTER
    (error,) = refused.errors
    assert (error.field, error.reason) == (field, "control_character")
    assert f"U+{ord(CONTROL[name][0]):04X}" in error.message and "position 1" in error.message
    assert not bank_accepts(record) or CONTROL[name] == "\n"  # see beyond_the_schema


@pytest.mark.parametrize("field", TEXT_FIELDS)
@pytest.mark.parametrize("name", sorted(INVISIBLE))
def test_invisible_and_bidi_characters_are_refused_in_identifiers_names_memos(
    field: str, name: str
) -> None:
    record = valid_report(**{field: f"保山{INVISIBLE[name]}投资"})
    refused = rejection(encode(record))
    assert refused.reason is RejectReason.FORBIDDEN_CHARACTER
    (error,) = refused.errors
    assert (error.field, error.reason) == (field, "invisible_character")
    assert not bank_accepts(record)


def test_control_characters_are_refused_in_unknown_fields_and_their_keys() -> None:
    nested = rejection(encode(valid_report(branch={"notes": ["ok", "bad\x1b[2J"]})))
    assert nested.reason is RejectReason.FORBIDDEN_CHARACTER
    assert [(e.field, e.reason) for e in nested.errors] == [("branch.notes.1", "control_character")]
    key = rejection(encode(valid_report(**{"memo\x07": "x"})))
    assert key.reason is RejectReason.FORBIDDEN_CHARACTER
    # The key is named escaped, so printing the dead letter rings no bell.
    assert [e.field for e in key.errors] == ["['memo\\x07']"]
    for record in (valid_report(branch={"notes": ["bad\x1b"]}), valid_report(**{"m\x07": 1})):
        assert not bank_accepts(record)


def test_invisible_characters_outside_identifiers_names_and_memos_are_kept() -> None:
    # An unknown field is kept and ignored: only control characters are refused there.
    report = parse_report(encode(valid_report(branch_note="a\u200bb")))
    assert report.extra == {"branch_note": "a\u200bb"}


def test_what_names_legitimately_hold_is_accepted() -> None:
    # Rare characters of Chinese names: above U+FFFF (CJK extension B) or in the private use
    # area where banks put the ones their character set lacks; an emoji in a memo.
    for name in ("王𠀀", "李\ue000华", "保山·某某"):
        assert parse_report(encode(valid_report(customer_name=name))).customer_name == name
    assert parse_report(encode(valid_report(purpose="还款😀"))).purpose == "还款😀"


def test_format_characters_above_the_bmp_are_refused_by_the_worker() -> None:
    # Tag characters (U+E0000..U+E007F) hide text; JSON Schema patterns cannot portably name
    # characters above U+FFFF, so the worker checks them after the schema.
    for raw in (
        encode(valid_report(purpose="还款\U000e0041")),
        encode(valid_report(purpose="x"))[:-2] + b'\\udb40\\udc41"}',  # as an escaped pair
    ):
        refused = rejection(raw)
        assert refused.reason is RejectReason.FORBIDDEN_CHARACTER
        assert [(e.field, e.reason) for e in refused.errors] == [("purpose", "invisible_character")]


def test_lone_surrogates_are_refused_with_their_field() -> None:
    for escape in (b"\\ud800", b"\\udfff", b"x\\udc00y"):
        raw = encode(valid_report(purpose="P"))[:-3] + escape + b'"}'
        refused = rejection(raw)
        assert refused.reason is RejectReason.FORBIDDEN_CHARACTER, raw
        assert [(e.field, e.reason) for e in refused.errors] == [("purpose", "lone_surrogate")]
    # Encoded as UTF-8 bytes, a surrogate is not UTF-8 at all.
    raw = encode(valid_report(purpose="P"))[:-3] + b'\xed\xa0\x80"}'
    assert rejection(raw).reason is RejectReason.UNDECODABLE


def test_a_character_error_and_a_schema_error_are_both_listed() -> None:
    record = valid_report(purpose="\x1b[31m")
    del record["amount"]
    refused = rejection(encode(record))
    assert refused.reason is RejectReason.SCHEMA
    assert {(e.field, e.reason) for e in refused.errors} == {
        ("purpose", "control_character"),
        ("amount", "required"),
    }


# -- duplicate keys ------------------------------------------------------------------------


def with_member(raw: bytes, member: bytes) -> bytes:
    """The JSON object ``raw`` with one more member written at its end."""
    return raw[:-1] + b"," + member + b"}"


@pytest.mark.parametrize(
    "member",
    [
        b'"amount":"999999.00"',  # two amounts: which one did the bank mean?
        b'"amount" : "50000.00"',  # the same value twice is refused too
        b'"purpose":"\\u003a"',  # with an escaped colon, which the quick count cannot see
    ],
)
def test_a_key_twice_is_refused(member: bytes) -> None:
    refused = rejection(with_member(encode(valid_report()), member))
    assert refused.reason is RejectReason.DUPLICATE_KEY
    (error,) = refused.errors
    assert error.reason == "duplicate_key"
    assert error.field in ("amount", "purpose")
    assert "2 times" in error.message


def test_a_key_twice_in_a_nested_object_is_refused() -> None:
    raw = with_member(encode(valid_report()), b'"branch":{"code":"A","code":"B"}')
    refused = rejection(raw)
    assert refused.reason is RejectReason.DUPLICATE_KEY
    assert "'A', 'B'" in refused.errors[0].message


@settings(max_examples=300, deadline=None)
@given(
    members=st.lists(
        st.tuples(
            st.sampled_from(["a", "b", "c:d", "e"]),
            st.text(alphabet='x:\\"', max_size=6) | st.integers(0, 99),
            st.sampled_from(["", " ", "\n  "]),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_duplicate_keys_are_found_however_the_json_is_written(
    members: list[tuple[str, str | int, str]],
) -> None:
    # Keys and values with colons, escapes and spaces around the colon: the quick count must
    # never miss a duplicate (it may only send a clean record to the full check).
    extra = b",".join(
        json.dumps(key).encode() + space.encode() + b":" + space.encode() + json.dumps(v).encode()
        for key, v, space in members
    )
    raw = with_member(encode(valid_report()), b'"extra":{' + extra + b"}")
    keys = [key for key, _, _ in members]
    try:
        parse_report(raw)
        refused = None
    except ReportRejected as rejection:
        refused = rejection.reason
    assert (refused is RejectReason.DUPLICATE_KEY) == (len(set(keys)) < len(keys))
