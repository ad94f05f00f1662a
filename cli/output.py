"""What the CLI prints: every line through one escaping function (schemas.display.printable),
so a control sequence or a bidi override in a report's field never reaches the terminal."""

from __future__ import annotations

import sys

from schemas.display import printable


def say(text: object = "", flush: bool = False) -> None:
    """Print fundwatch's own text (lines kept) with every control character made visible."""
    print(printable(text, newlines=True), flush=flush)


def warn(text: object) -> None:
    """One line on stderr, escaped like ``say``."""
    print(printable(text, newlines=True), file=sys.stderr, flush=True)
