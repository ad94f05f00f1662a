"""Hostile strings from a bank's report, shown in a terminal and written to CSV (issue 14):
no control sequence reaches a terminal, no spreadsheet runs a cell as a formula."""

from __future__ import annotations

import csv
import io
import sys
import unicodedata
from datetime import UTC, datetime

import orjson
import pytest

from casework.lead_book import LeadBook
from casework.monthly_report import build_monthly_report
from casework.report_render import render_csv
from cli.casework_commands import watchlist_csv
from cli.commands import dead_letter_text
from cli.lead_text import detail_of, render_lead, scheme_listing
from cli.scheme_text import SchemeFilter
from models.watchlist import EntityType, ListingSource, WatchlistEntry, entries_from_csv
from schemas.display import csv_cell, csv_text, printable
from tests.unit.test_lead_view import lead as lead_record
from tests.unit.test_monthly_report import GENERATED, lead_value

# What the hostile-input run of issue 14 found accepted, and the like.
HOSTILE = {
    "ansi colour": "\x1b[31mred\x1b[0m",
    "ansi clear screen": "\x1b[2J\x1b[H",
    "osc title": "\x1b]0;owned\x07",
    "nul": "a\x00b",
    "bell": "ding\x07",
    "backspace": "paid\x08\x08\x08\x08owed",
    "carriage return": "safe\rforged",
    "newline": "name\n2026-11-01  [涉案] forged lead",
    "del": "x\x7fy",
    "c1 next line": "a\x85b",
    "c1 csi": "\x9b31m",
    "bidi override": "\u202egnp.exe",
    "bidi isolate": "a\u2066b\u2069",
    "zero width space": "张\u200b伟",
    "byte order mark": "\ufeffname",
    "line separator": "a\u2028b",
    "tag characters": "a\U000e0041\U000e0042",
    "lone surrogate": "a\ud800b",
}
ESCAPED = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def unsafe(text: str, newlines: bool = False) -> list[str]:
    allowed = {"\n", "\t"} if newlines else set()
    return [ch for ch in text if unicodedata.category(ch) in ESCAPED and ch not in allowed]


@pytest.mark.parametrize("hostile", HOSTILE.values(), ids=HOSTILE.keys())
def test_no_control_or_invisible_character_survives(hostile: str) -> None:
    shown = printable(hostile)
    assert unsafe(shown) == []
    assert "\n" not in shown and "\x1b" not in shown
    # The escape says what was there, so an analyst can tell.
    assert shown != hostile
    shown.encode("utf-8")  # a lone surrogate would make print() raise


def test_escapes_are_the_ones_python_writes() -> None:
    assert printable("\x1b[31mred") == "\\x1b[31mred"
    assert printable("a\nb\tc\rd") == "a\\nb\\tc\\rd"
    assert printable("\u202eevil") == "\\u202eevil"
    assert printable("\U000e0041") == "\\U000e0041"
    assert (
        printable("保山某某投资有限公司 Ltd. 1,234.00 元")
        == "保山某某投资有限公司 Ltd. 1,234.00 元"
    )


def test_layout_keeps_its_lines_but_nothing_else() -> None:
    text = "line one\n\tline two \x1b[2J\r"
    assert printable(text, newlines=True) == "line one\n\tline two \\x1b[2J\\r"


def test_every_format_and_control_character_of_unicode_is_escaped() -> None:
    every = "".join(
        chr(code)
        for code in range(sys.maxunicode + 1)
        if unicodedata.category(chr(code)) in ESCAPED
    )
    assert unsafe(printable(every)) == []


def test_a_hostile_lead_prints_as_one_entry_with_its_escapes() -> None:
    hostile = lead_record(
        customer_name="\x1b[2J\x1b[H周\u202e丽艳",
        account_id="6203\n2026-11-27  [涉案] forged",
        evidence_tx_ids=["T1\x07"],
    )
    book = LeadBook()
    book.apply_lead(orjson.dumps(hostile))
    entry = render_lead(hostile, "zh")
    detail = detail_of(book, hostile["lead_id"], "en")
    for text in (entry, detail):
        assert unsafe(text, newlines=True) == []
        assert "\\x1b[2J" in text and "\\u202e" in text
    # The forged line stays inside the entry: the entry is its head, one line, and reasons.
    assert len(entry.splitlines()) == 2 + len(hostile["reasons"])
    assert "6203\\n2026-11-27" in entry


def test_a_hostile_scheme_listing_has_no_control_character() -> None:
    book = LeadBook()
    for i, name in enumerate(("\x1b[31m甲", "乙\u202e")):
        book.apply_lead(
            orjson.dumps(
                lead_record(
                    lead_id=f"L{i}",
                    account_id=f"620353000000000220{i}",
                    bank_id="\x1b]0;x\x07",
                    customer_name=name,
                    customer_id="C-same",
                )
            )
        )
    listing = scheme_listing(book, "zh", 20, SchemeFilter(), "fundwatch.leads")
    assert "1 schemes" in listing
    assert unsafe(listing, newlines=True) == []


def test_a_dead_letter_of_a_hostile_report_is_escaped() -> None:
    letter = {
        "dead_lettered_at": "2026-11-03T06:05:09+00:00",
        "reason": "schema",
        "bank_id": "BSCB\x1b[2J",
        "report_id": "R\n1",
        "source": {"topic": "fundwatch.reports", "partition": 0, "offset": 7},
        "errors": [{"field": "customer_name", "message": "bad value '\x1b[31m\u202e'"}],
    }
    text = dead_letter_text(letter)
    assert unsafe(text, newlines=True) == []
    assert len(text.splitlines()) == 2
    assert "BSCB\\x1b[2J/R\\n1" in text


# -- CSV --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cell",
    [
        '=HYPERLINK("http://evil","click")',
        "=1+1",
        "+1+1",
        "-1+1",
        "@SUM(A1:A2)",
        "\t=1",
        "\r=1",
        "＝1+1",
        "=cmd|' /C calc'!A0",
    ],
)
def test_a_formula_cell_is_escaped(cell: str) -> None:
    assert csv_cell(cell) == "'" + cell
    (row,) = csv.reader(io.StringIO(csv_text([[cell, "ok"]])))
    assert row == ["'" + cell, "ok"]


def test_numbers_written_as_numbers_stay_numbers() -> None:
    assert [csv_cell(v) for v in (-5, -0.5, 0, 12_000_000, None)] == [
        "-5",
        "-0.5",
        "0",
        "12000000",
        "",
    ]
    assert csv_cell("-5") == "'-5"  # text that looks like a number is still text
    assert csv_cell("保山 = 隆阳") == "保山 = 隆阳"  # only a leading sign is a formula


def test_the_watchlist_export_is_escaped_and_reimports() -> None:
    at = datetime(2026, 11, 5, tzinfo=UTC)
    entries = [
        WatchlistEntry(
            EntityType.NAME, '=HYPERLINK("http://x")', ListingSource.POLICE, "立案", "a", at
        ),
        WatchlistEntry(
            EntityType.ACCOUNT, "6222000011112222", ListingSource.JUDICIAL, "@case", "a", at
        ),
        WatchlistEntry(EntityType.NAME, '保山某某, "投资"', ListingSource.TIP_OFF, "-", "a", at),
    ]
    text = watchlist_csv(entries)
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["entity_type", "entity_id", "source", "reason"]
    assert rows[1][1] == '\'=HYPERLINK("http://x")' and rows[2][3] == "'@case"
    assert rows[3] == ["name", '保山某某, "投资"', "tip_off", "'-"]
    assert not any(cell[:1] in "=+-@" for row in rows for cell in row)
    # The file is the import format: it reads back, the escaped cells as the text they show.
    again = entries_from_csv(text, "b", at)
    assert [e.entity_id for e in again][1:] == ["6222000011112222", '保山某某, "投资"']


def test_the_report_tables_in_csv_are_escaped_with_figures_as_numbers() -> None:
    book = LeadBook()
    book.apply_lead(
        lead_value(
            "L-1",
            "=1+2",
            "2026-11-02T00:00:00",
            ("2026-11-01T00:00:00", "2026-11-02T00:00:00"),
            customer_name="@SUM(A1)",
        )
    )
    text = render_csv(build_monthly_report(book, "2026-11", [], GENERATED), "en")
    rows = list(csv.reader(io.StringIO(text)))
    cells = [cell for row in rows for cell in row]
    assert not any(cell[:1] in "=+-@\t\r" for cell in cells)
    assert any(cell.startswith("'=1+2@BSCB") for cell in cells)
    county = next(row for row in rows if row[:1] == ["Longyang District"])
    assert county[1:6] == ["1", "1", "1", "1", "0"]  # monitored .. serious leads, as numbers
