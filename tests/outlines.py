"""What of the linked leads and schemes must not depend on how the stream was cut or
interleaved: the stream and an offline run are compared on these.

A movement reaches an account's partition some time after the report that sent it, so a
linked lead's revisions (and the account figures each carries) depend on when it was read;
its account, hop and source leads, and the schemes' members, roles and class do not. A
scheme's totals are exact where its collectors have scored leads; a collector found only by
a money trail counts with the figures of its linked lead's last revision, which can be a few
reports apart between two runs.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from models.schemes import build_schemes


def linked_outline(leads: Iterable[dict[str, Any]]) -> dict[str, tuple[Any, ...]]:
    """Per linked lead, as of its last revision: its account, hop and source leads."""
    latest: dict[str, dict[str, Any]] = {}
    for lead in leads:
        known = latest.get(lead["lead_id"])
        if lead["kind"] == "linked" and (known is None or lead["revision"] > known["revision"]):
            latest[lead["lead_id"]] = lead
    return {
        lead_id: (
            lead["account_id"],
            lead["hop"],
            tuple(sorted(link["source_lead_id"] for link in lead["trail"])),
        )
        for lead_id, lead in latest.items()
    }


def scheme_outline(leads: Iterable[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Each scheme's id, members with their roles, class and banks; its totals when every
    collector has a scored lead."""
    return sorted(
        (
            scheme.scheme_id,
            tuple((m.account_id, m.role) for m in scheme.members),
            scheme.severity,
            scheme.banks,
            (scheme.money_raised_fen, scheme.participants)
            if all(m.scored for m in scheme.members if m.role == "collector")
            else None,
        )
        for scheme in build_schemes(leads)
    )


def scheme_totals(leads: Iterable[dict[str, Any]]) -> dict[str, tuple[int, int]]:
    """Each scheme's money raised and participants."""
    return {s.scheme_id: (s.money_raised_fen, s.participants) for s in build_schemes(leads)}


def totals_close(a: dict[str, tuple[int, int]], b: dict[str, tuple[int, int]]) -> bool:
    """The same schemes, with totals within 2 % of each other."""
    return a.keys() == b.keys() and all(
        abs(x - y) <= 0.02 * max(x, y) for k in a for x, y in zip(a[k], b[k], strict=True)
    )
