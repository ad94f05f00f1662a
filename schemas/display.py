"""Text from reports made safe where a person reads it: a terminal, a spreadsheet.

A bank's report can carry any string (a hostile or careless bank's too), and it travels into
leads, dead letters and the negative list. Two rules, one function each:

- ``printable``: everything printed to a terminal. Control characters (C0, DEL, C1, so every
  ESC sequence), bidi controls and invisible format characters (U+200B, U+202E, U+FEFF ...),
  line and paragraph separators and lone surrogates are shown as Python escapes
  (``\\x1b``, ``\\u202e``), so no control sequence reaches the terminal and a name shows what
  it is. ``newlines=True`` keeps line feeds and tabs, for text fundwatch itself lays out.
- ``csv_cell``: everything written to CSV. A text cell starting with ``=``, ``+``, ``-``,
  ``@``, tab or CR (or their full-width forms, which some spreadsheets read alike) is
  prefixed with ``'``, as OWASP's "CSV injection" advises, so it is never run as a formula.
  Numbers fundwatch writes itself stay numbers: a negative number is not a formula.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable, Sequence

# Format characters beyond the BMP (Unicode 15): a BMP scan finds the rest.
_ASTRAL_FORMAT = [
    (0x110BD, 0x110BD),
    (0x110CD, 0x110CD),
    (0x13430, 0x1343F),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0001, 0xE0001),
    (0xE0020, 0xE007F),
]
_ESCAPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def _unprintable_class() -> str:
    ranges: list[tuple[int, int]] = []
    for code in range(0x10000):
        if unicodedata.category(chr(code)) in _ESCAPED_CATEGORIES:
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1] = (ranges[-1][0], code)
            else:
                ranges.append((code, code))
    parts = [
        f"\\U{first:08x}" if first == last else f"\\U{first:08x}-\\U{last:08x}"
        for first, last in [*ranges, *_ASTRAL_FORMAT]
    ]
    return "[" + "".join(parts) + "]"


_UNPRINTABLE = re.compile(_unprintable_class())
_UNPRINTABLE_BUT_LAYOUT = re.compile(f"(?![\n\t]){_UNPRINTABLE.pattern}")


_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _SHORT_ESCAPES:
        return _SHORT_ESCAPES[char]
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def printable(text: object, newlines: bool = False) -> str:
    """``text`` with every control, bidi and invisible character shown as its escape:
    ``"\\x1b[31mred"`` gives ``"\\\\x1b[31mred"``. ``newlines``: keep line feeds and tabs."""
    pattern = _UNPRINTABLE_BUT_LAYOUT if newlines else _UNPRINTABLE
    return pattern.sub(_escape, str(text))


# -- CSV ------------------------------------------------------------------------------------

_FORMULA_STARTS = frozenset("=+-@\t\r＝＋－＠")

CsvValue = str | int | float | None


def csv_cell(value: CsvValue) -> str:
    """One CSV cell: a number as it is, None as empty, text that a spreadsheet would take
    for a formula with ``'`` in front."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float):
        return repr(value)
    return "'" + value if value[:1] in _FORMULA_STARTS else value


def csv_text(rows: Iterable[Sequence[CsvValue]]) -> str:
    """Rows as CSV (RFC 4180: quoted where needed, CRLF line ends), every cell escaped."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for row in rows:
        writer.writerow([csv_cell(value) for value in row])
    return out.getvalue()
