"""The names the console shows for codes, in both languages, from ``schemas.glossary``.

``labels()`` is what the page's script gets (``/console/api/me``) to name every code it shows;
``label()`` names one code for a message the server writes. A code no table knows is shown as
itself.
"""

from __future__ import annotations

from typing import Any

from schemas.glossary import (
    COUNTY_NAMES,
    DIRECTION_NAMES,
    ENTITY_TYPE_NAMES,
    OUTCOME_NAMES,
    REJECT_REASON_NAMES,
    ROLE_NAMES,
    SECTOR_NAMES,
    SEVERITY_NAMES,
    SOURCE_NAMES,
    STATUS_NAMES,
)
from schemas.sectors import DEPARTMENTS, SECTORS


def _table(names: dict[Any, tuple[str, str]]) -> dict[str, dict[str, str]]:
    return {str(code): {"zh": zh, "en": en} for code, (zh, en) in names.items()}


LABELS: dict[str, dict[str, dict[str, str]]] = {
    "status": _table(STATUS_NAMES),
    "outcome": _table(OUTCOME_NAMES),
    "severity": _table(SEVERITY_NAMES),
    "department": {d.code: {"zh": d.name_zh, "en": d.name_en} for d in DEPARTMENTS},
    "sector": _table(SECTOR_NAMES),
    # The plan's monitoring category of a sector (二(一) .. 二(八)): the plan's own words.
    "sector_category": {
        code: {"zh": s.seed_category, "en": s.seed_category} for code, s in SECTORS.items()
    },
    "county": _table(COUNTY_NAMES),
    "source": _table(SOURCE_NAMES),
    "entity_type": _table(ENTITY_TYPE_NAMES),
    "reject_reason": _table(REJECT_REASON_NAMES),
    "role": _table(ROLE_NAMES),
    "direction": _table(DIRECTION_NAMES),
}


def labels() -> dict[str, dict[str, dict[str, str]]]:
    return LABELS


def label(kind: str, code: str, lang: str) -> str:
    names = LABELS.get(kind, {}).get(code)
    return names[lang] if names is not None else code
