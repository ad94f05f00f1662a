"""The parser's fast path (schemas.report.plainly_valid) decides only what the reference path
(validate_record: the compiled schema, the character rules, the parser's own checks) decides
the same way, and builds the same report; the digest it feeds the seen-reports state is the
one earlier versions wrote."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import re
import sys
from datetime import datetime
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feeds.model import CST
from feeds.simulate import Simulation, SimulationConfig
from schemas.characters import first_forbidden
from schemas.errors import ReportRejected
from schemas.report import (
    KNOWN_FIELDS,
    REPORT_SCHEMA,
    TransactionReport,
    parse_report,
    plainly_valid,
    validate_record,
)
from tests.reports import encode, valid_report

PROPERTIES = REPORT_SCHEMA["properties"]


def reference(record: Any, key: bytes | None) -> TransactionReport | ReportRejected:
    """What the reference path makes of a record: its report, or its rejection."""
    try:
        return validate_record(record, key, orjson.dumps(record))
    except ReportRejected as rejection:
        return rejection


def same_report(fast: TransactionReport, slow: TransactionReport) -> None:
    for field in dataclasses.fields(TransactionReport):  # extra and _tx_ms are not compared by ==
        assert getattr(fast, field.name) == getattr(slow, field.name), field.name
    assert fast.tx_epoch_ms == slow.tx_epoch_ms
    assert fast.content_digest() == slow.content_digest()


def check_agrees(record: Any, key: bytes | None = None) -> TransactionReport | None:
    fast = plainly_valid(record, key)
    slow = reference(record, key)
    if fast is not None:
        assert isinstance(slow, TransactionReport), (record, slow)
        same_report(fast, slow)
    return fast


# -- the character rule -----------------------------------------------------------------------


def compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern.replace("$", r"\Z"))  # as fastjsonschema compiles it


CHARACTER_PATTERNS = sorted(
    {
        compiled(PROPERTIES["report_id"]["pattern"]),
        compiled(REPORT_SCHEMA["propertyNames"]["pattern"]),
    },
    key=lambda p: p.pattern,
)


def test_a_printable_character_breaks_no_character_rule() -> None:
    """Every code point Python calls printable passes the schema's character patterns and both
    rules of schemas.characters: the fast path's str.isprintable() stands for them."""
    assert sys.maxunicode == 0x10FFFF
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        if not char.isprintable():
            continue
        assert first_forbidden(char, display=True) is None, hex(code)
        for pattern in CHARACTER_PATTERNS:
            assert pattern.match(char) is not None, (hex(code), pattern.pattern)


def test_the_schema_rules_the_fast_path_was_written_for() -> None:
    """plainly_valid hard-codes these rules; a change here must be taught to it first."""
    display = PROPERTIES["report_id"]["pattern"]
    text = {"report_id", "bank_id", "tx_id", "account_id", "counterparty_account"}
    optional_text = {"customer_id", "customer_name", "counterparty_name", "counterparty_bank"}
    for name in text | optional_text | {"purpose"}:
        assert set(PROPERTIES[name]) <= {"type", "minLength", "maxLength", "pattern", "description"}
        assert PROPERTIES[name]["pattern"] == display
    assert PROPERTIES["schema_version"]["const"] == 1
    for name in ("region", "counterparty_region"):
        assert PROPERTIES[name]["pattern"] == "^[0-9]{6}$"
    assert PROPERTIES["currency"]["pattern"] == "^[A-Z]{3}$"
    tx_time = PROPERTIES["tx_time"]
    assert (tx_time["type"], tx_time["format"]) == ("string", "date-time")
    assert tx_time["pattern"] == (
        "^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,9})?"
        "([Zz]|[+-][0-9]{2}:[0-9]{2})$"
    )
    text_amount, number_amount = PROPERTIES["amount"]["oneOf"]
    assert set(text_amount) == {"type", "pattern"} and text_amount["type"] == "string"
    assert set(number_amount) == {"type", "exclusiveMinimum", "exclusiveMaximum"}
    indicators = PROPERTIES["str_indicators"]
    assert indicators["type"] == "array" and indicators["items"]["pattern"] == display
    assert set(REPORT_SCHEMA) - {"description", "title", "$id", "$schema"} == {
        "type",
        "required",
        "properties",
        "propertyNames",
        "additionalProperties",
        "$defs",
    }
    # (the compiled validator writes the $ref out in full)
    assert list(REPORT_SCHEMA["additionalProperties"]) == ["$ref"]
    assert REPORT_SCHEMA["additionalProperties"]["$ref"].endswith("#/$defs/other_value")
    other = REPORT_SCHEMA["$defs"]["other_value"]
    assert set(other) == {
        "description",
        "pattern",
        "propertyNames",
        "items",
        "additionalProperties",
    }
    assert "type" not in other  # any JSON value: a number, a boolean, null pass unchecked
    assert set(REPORT_SCHEMA["required"]) == text | {
        "schema_version",
        "report_type",
        "tx_time",
        "account_type",
        "region",
        "direction",
        "amount",
        "currency",
        "channel",
    }
    assert set(PROPERTIES) == KNOWN_FIELDS


# -- the fast path is the path taken ------------------------------------------------------------


def simulated_records(count: int) -> list[dict[str, Any]]:
    config = SimulationConfig(seed=5, start=datetime(2026, 10, 1, tzinfo=CST), individuals=300)
    return list(itertools.islice(Simulation(config).reports(), count))


def test_simulated_reports_take_the_fast_path_to_the_same_report() -> None:
    records = simulated_records(3000)
    assert len(records) == 3000
    for record in records:
        assert check_agrees(record, record["account_id"].encode()) is not None, record


def test_an_exact_resend_has_the_digest_of_earlier_versions() -> None:
    """content_digest is the blake2b of canonical() with sorted keys: what the seen-reports
    state of earlier versions holds."""
    for record in [*simulated_records(500), valid_report(str_indicators=["分散转入", "快进快出"])]:
        report = parse_report(encode(record))
        blob = orjson.dumps(report.canonical(), option=orjson.OPT_SORT_KEYS)
        assert report.content_digest() == hashlib.blake2b(blob, digest_size=8).digest()


def test_a_report_built_by_its_constructor_equals_the_parsed_one() -> None:
    parsed = parse_report(encode(valid_report(str_indicators=["x"], risk={"a": [1]})))
    rebuilt = dataclasses.replace(parsed)  # through TransactionReport.__init__
    same_report(parsed, rebuilt)
    assert rebuilt.extra == parsed.extra == {"risk": {"a": [1]}}


# -- random and mutated records -----------------------------------------------------------------

# One value per line would hide the groups (numbers, amounts, times, texts, lists, objects).
# fmt: off
EDGE_VALUES = [
    None, True, False, 0, 1, 1.0, -1, 2, 0.5, 12.345, 10**13, 10**13 - 1, 9999999999999.99,
    "", " ", "1", "0", "0.00", "00.1", "01", "1.", ".5", "1.5", "1.55", "1.555", "1e3",
    "100\n", "10000000000000", "9999999999999.99", "CNY", "cny", "USD", "ÄBC", "CN",
    "530502", "53050", "５３０５０２", "٥٣٠٥٠٢", "5305021",
    "2026-11-03T14:05:09+08:00", "2026-11-03t14:05:09+08:00", "2026-11-03T14:05:09Z",
    "2026-11-03T14:05:09z", "2026-11-03T14:05:09.123456789+08:00", "2026-11-03T14:05:09.1Z",
    "2026-11-03T14:05:09.1234567890Z", "2026-02-29T10:00:00+08:00",
    "2024-02-29T10:00:00+08:00", "2000-02-29T10:00:00Z", "1900-02-29T10:00:00Z",
    "2026-04-31T10:00:00Z", "2026-11-03T24:00:00Z", "2026-11-03T23:59:60Z",
    "2026-11-03T14:05:09+24:00", "2026-11-03T14:05:09+05:60", "2026-11-03T14:05:09+0800",
    "2026-11-03 14:05:09+08:00", "0000-01-01T00:00:00Z", "2026-11-03T14:05:09+08:00\n",
    "2026-11-03",
    "TX", "STR", "LTR", "tx", "in", "out", "corporate", "individual", "transfer", "retail",
    "x" * 64, "x" * 65, "x" * 32, "x" * 33, "投" * 200, "投" * 201, "投" * 256, "投" * 257,
    "  投资款   第3期 ", "a\u3000b", "a\u00a0b", "a\u200bb", "a\ue000b", "a\U00020000b",
    "a\U000e0001b", "a\U0001f600b", "a\x85b", "a\x7fb", "a\tb", "a\n", "\u2028", "\ufeff",
    ["分散转入"], [], [""], [" "], ["x" * 65], ["a"] * 33, ["a\u200b"], [1], "分散转入",
    {"x": 1}, [{"x": "\x1b"}], {"\x1b": 1},
]
# fmt: on
json_values = st.recursive(
    st.sampled_from(EDGE_VALUES)
    | st.none()
    | st.booleans()
    | st.integers(min_value=-(10**15), max_value=10**15)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=70),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=6,
)
field_names = st.sampled_from([*sorted(PROPERTIES), "branch_code", "risk", "\x1bkey", "名\u200b"])


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    changes=st.dictionaries(field_names, json_values, max_size=4),
    removed=st.sets(st.sampled_from(sorted(PROPERTIES)), max_size=2),
    key=st.sampled_from([None, "own", b"6222000011112222", b"someone-else"]),
)
def test_fast_and_reference_paths_decide_mutated_records_alike(
    changes: dict[str, Any], removed: set[str], key: Any
) -> None:
    record = valid_report(**changes)
    for name in removed:
        record.pop(name, None)
    if key == "own":
        account = record.get("account_id")
        key = account.encode() if isinstance(account, str) else None
    check_agrees(record, key)


@settings(max_examples=500, deadline=None)
@given(
    field=st.sampled_from(sorted(PROPERTIES)),
    text=st.text(alphabet=st.characters(codec="utf-8"), max_size=80),
)
def test_fast_and_reference_paths_decide_hostile_strings_alike(field: str, text: str) -> None:
    check_agrees(valid_report(**{field: text}))


@settings(max_examples=300, deadline=None)
@given(
    amount=st.one_of(
        st.integers(min_value=-10, max_value=10**14),
        st.floats(allow_nan=False, allow_infinity=False, min_value=-1, max_value=2e13),
        st.decimals(min_value=0, max_value=10**13, places=3).map(str),
        st.from_regex(r"\A[0-9]{1,15}(\.[0-9]{0,3})?\Z"),
    )
)
def test_fast_and_reference_paths_read_amounts_alike(amount: Any) -> None:
    check_agrees(valid_report(amount=amount))


@settings(max_examples=300, deadline=None)
@given(
    moment=st.datetimes(),
    offset=st.from_regex(r"\A(Z|z|[+-][0-9]{2}:[0-9]{2})\Z"),
    fraction=st.from_regex(r"\A(\.[0-9]{1,10})?\Z"),
    separator=st.sampled_from(["T", "t", " "]),
)
def test_fast_and_reference_paths_read_times_alike(
    moment: datetime, offset: str, fraction: str, separator: str
) -> None:
    text = moment.strftime(f"%Y-%m-%d{separator}%H:%M:%S") + fraction + offset
    check_agrees(valid_report(tx_time=text))


def test_fast_and_reference_paths_decide_unknown_fields_alike() -> None:
    taken = 0
    for value in EDGE_VALUES:
        taken += check_agrees(valid_report(branch_code=value)) is not None
    names = ["branch_code", "\x1b", "a\x85", "名\u200b", "\u3000", "", "a\U000e0001", "x" * 300]
    for name, value in itertools.product(names, [1, "x", None, [], {}, "\x1b"]):
        taken += check_agrees(valid_report(**{name: value})) is not None
    assert taken > 20


@pytest.mark.parametrize("field", sorted(PROPERTIES))
def test_fast_and_reference_paths_decide_edge_values_alike(field: str) -> None:
    taken = 0
    for value in EDGE_VALUES:
        taken += check_agrees(valid_report(**{field: value})) is not None
        taken += check_agrees(valid_report(**{field: value, "branch_code": value})) is not None
    assert taken, "some edge value of every field is plainly valid"
