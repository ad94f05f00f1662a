"""The names the console shows for codes, in both languages, from the modules that define them.

``labels()`` is what the page's script gets (``/console/api/me``) to name every code it shows;
``label()`` names one code for a message the server writes. A code no table knows is shown as
itself.
"""

from __future__ import annotations

from typing import Any

from casework.lead_status import (
    OUTCOME_NAMES_EN,
    OUTCOME_NAMES_ZH,
    STATUS_NAMES_EN,
    STATUS_NAMES_ZH,
)
from models.schemes import DIRECTION_NAMES_EN, DIRECTION_NAMES_ZH, ROLE_NAMES_EN, ROLE_NAMES_ZH
from models.watchlist import SOURCE_NAMES_ZH, EntityType
from schemas.errors import RejectReason
from schemas.glossary import COUNTY_NAMES, SECTOR_NAMES, SEVERITY_NAMES_EN, SEVERITY_NAMES_ZH
from schemas.sectors import DEPARTMENTS, SECTORS

LANGUAGES = ("zh", "en")
ENTITY_TYPE_NAMES: dict[str, tuple[str, str]] = {
    EntityType.ACCOUNT: ("账户", "account"),
    EntityType.CUSTOMER: ("客户号", "customer id"),
    EntityType.NAME: ("名称", "name"),
}
# Why reports went to the dead letters, as the health view counts them.
REJECT_REASON_NAMES: dict[str, tuple[str, str]] = {
    RejectReason.UNDECODABLE: ("无法解码", "undecodable"),
    RejectReason.SCHEMA: ("不符合报告格式", "fails the schema"),
    RejectReason.INVALID_VALUE: ("取值不可能", "impossible value"),
    RejectReason.KEY_MISMATCH: ("消息键与账户不符", "key is not the account"),
    RejectReason.CONFLICT: ("与先前报告冲突", "conflicts with an earlier report"),
    RejectReason.BANK_MISMATCH: ("银行与主题不符", "bank is not the topic's"),
}


def _pairs(zh: dict[Any, str], en: dict[Any, str]) -> dict[str, dict[str, str]]:
    return {str(code): {"zh": name, "en": en.get(code, str(code))} for code, name in zh.items()}


def _table(names: dict[Any, tuple[str, str]]) -> dict[str, dict[str, str]]:
    return {str(code): {"zh": zh, "en": en} for code, (zh, en) in names.items()}


LABELS: dict[str, dict[str, dict[str, str]]] = {
    "status": _pairs(STATUS_NAMES_ZH, STATUS_NAMES_EN),
    "outcome": _pairs(OUTCOME_NAMES_ZH, OUTCOME_NAMES_EN),
    "severity": _pairs(SEVERITY_NAMES_ZH, SEVERITY_NAMES_EN),
    "department": {d.code: {"zh": d.name_zh, "en": d.name_en} for d in DEPARTMENTS},
    "sector": _table(SECTOR_NAMES),
    # The plan's monitoring category of a sector (二(一) .. 二(八)): the plan's own words.
    "sector_category": {
        code: {"zh": s.seed_category, "en": s.seed_category} for code, s in SECTORS.items()
    },
    "county": _table(COUNTY_NAMES),
    "source": {
        str(s): {"zh": name, "en": str(s).replace("_", " ")} for s, name in SOURCE_NAMES_ZH.items()
    },
    "entity_type": _table(ENTITY_TYPE_NAMES),
    "reject_reason": _table(REJECT_REASON_NAMES),
    "role": _pairs(ROLE_NAMES_ZH, ROLE_NAMES_EN),
    "direction": _pairs(DIRECTION_NAMES_ZH, DIRECTION_NAMES_EN),
}


def labels() -> dict[str, dict[str, dict[str, str]]]:
    return LABELS


def label(kind: str, code: str, lang: str) -> str:
    names = LABELS.get(kind, {}).get(code)
    return names[lang] if names is not None else code
