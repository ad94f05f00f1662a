"""Characters a report may not carry: control characters anywhere, invisible ones where read.

Two rules, each a set of code points:

- ``CONTROL``: C0 (U+0000..U+001F, tab and line feed included), DEL and C1 (U+0080..U+009F,
  NEL U+0085 included), and lone surrogates. Refused in every string of a report, the fields
  fundwatch does not know and their keys included: printed to a terminal, a control character
  repaints it (``ESC [31m``), rings it or erases what came before.
- ``DISPLAY``: CONTROL, every format character of Unicode (general category Cf: zero-width
  space and joiners, the bidi embeddings, overrides and isolates, the word joiner and invisible
  operators, the BOM, soft hyphen, the tag characters U+E0000..U+E007F) and the line and
  paragraph separators U+2028/U+2029. Refused in identifiers, names and memos: a name with a
  U+202E displays differently from what it is, and one with a U+200B is a different name that
  looks the same. Private-use characters stay allowed: banks write rare characters of
  people's names (生僻字) there.

The JSON Schema says the part of each rule that its patterns can say portably (characters of
the Basic Multilingual Plane, ``BMP_*_CLASS``); the worker checks the rest (lone surrogates, the
Cf characters above U+FFFF) with ``first_forbidden`` on the decoded strings.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from typing import Any

# Unicode 14 (Python 3.11's unicodedata), ranges of general category Cf, plus U+2028/U+2029.
_CF_RANGES: tuple[tuple[int, int], ...] = tuple(
    (lo, hi)
    for lo, hi in (
        (0x00AD, 0x00AD),
        (0x0600, 0x0605),
        (0x061C, 0x061C),
        (0x06DD, 0x06DD),
        (0x070F, 0x070F),
        (0x0890, 0x0891),
        (0x08E2, 0x08E2),
        (0x180E, 0x180E),
        (0x200B, 0x200F),
        (0x2028, 0x202E),  # line and paragraph separators, then the bidi embeddings/overrides
        (0x2060, 0x2064),
        (0x2066, 0x206F),
        (0xFEFF, 0xFEFF),
        (0xFFF9, 0xFFFB),
        (0x110BD, 0x110BD),
        (0x110CD, 0x110CD),
        (0x13430, 0x1343F),  # 13439..1343F became Cf in Unicode 15
        (0x1BCA0, 0x1BCA3),
        (0x1D173, 0x1D17A),
        (0xE0001, 0xE0001),
        (0xE0020, 0xE007F),
    )
)
_CONTROL_RANGES: tuple[tuple[int, int], ...] = ((0x00, 0x1F), (0x7F, 0x9F))
_SURROGATES = (0xD800, 0xDFFF)


def _class(ranges: tuple[tuple[int, int], ...]) -> str:
    """A regex character class as JSON Schema (ECMA-262) and Python both read it."""
    parts = [f"\\u{lo:04x}" if lo == hi else f"\\u{lo:04x}-\\u{hi:04x}" for lo, hi in ranges]
    return "[" + "".join(parts) + "]"


_BMP_CF = tuple(r for r in _CF_RANGES if r[1] <= 0xFFFF)
# The classes the schema's patterns ``^[^...]*$`` exclude. fastjsonschema, like ECMA-262, reads
# ``$`` as the end of the string; Python's re (and so the jsonschema package) also lets it
# match before a final newline, which first_forbidden catches.
BMP_CONTROL_CLASS = _class(_CONTROL_RANGES)
BMP_DISPLAY_CLASS = _class(_CONTROL_RANGES + _BMP_CF)

_CONTROL = re.compile(f"[\\x00-\\x1f\\x7f-\\x9f{chr(_SURROGATES[0])}-{chr(_SURROGATES[1])}]")
_DISPLAY = re.compile(
    "["
    + "\\x00-\\x1f\\x7f-\\x9f"
    + f"{chr(_SURROGATES[0])}-{chr(_SURROGATES[1])}"
    + "".join(f"{re.escape(chr(lo))}-{re.escape(chr(hi))}" for lo, hi in _CF_RANGES)
    + "]"
)
# Every Cf character above U+FFFF is in U+10000..U+3FFFF or U+C0000..U+FFFFF, whose UTF-8
# begins with F0 or F3; a surrogate can only be spelled as an escape.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD]")


def beyond_schema(raw: bytes) -> bool:
    """Whether message bytes could break a character rule that the schema's patterns do not
    check (three substring tests: a regex over the bytes costs several times more)."""
    return (
        b"\xf0" in raw
        or b"\xf3" in raw
        or (b"\\u" in raw and _SURROGATE_ESCAPE.search(raw) is not None)
    )


def first_forbidden(text: str, display: bool) -> int | None:
    """Index of the first character ``text`` may not hold (DISPLAY rule or CONTROL rule)."""
    match = (_DISPLAY if display else _CONTROL).search(text)
    return match.start() if match is not None else None


def describe(text: str, index: int, display: bool) -> tuple[str, str]:
    """(rule, message) for the forbidden character at ``index`` of a field's value."""
    char = ord(text[index])
    name = unicodedata.name(text[index], "")
    if _SURROGATES[0] <= char <= _SURROGATES[1]:
        rule, what = "lone_surrogate", "a lone surrogate"
    elif _CONTROL.match(text[index]):
        rule, what = "control_character", "a control character"
    else:
        rule, what = "invisible_character", "an invisible or bidi-control character"
    label = f"U+{char:04X}" + (f" {name}" if name else "")
    where = "an identifier, name or memo" if rule == "invisible_character" else "any string"
    message = f"{label} at position {index} is {what}, not allowed in {where}"
    return rule, message


def segment(key: str) -> str:
    """A key as a part of a dotted field path: as it is, or escaped when it holds a character
    that may not reach a terminal."""
    return key if _DISPLAY.search(key) is None else ascii(key)


def strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """(dotted path, string) of every string in a decoded JSON value at ``path``, object keys
    included (a key's path is the object's path and the key in brackets)."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            name = segment(key)
            yield f"{path}[{name}]", key
            yield from strings(item, f"{path}.{name}")
    elif isinstance(value, list):
        for number, item in enumerate(value):
            yield from strings(item, f"{path}.{number}")
