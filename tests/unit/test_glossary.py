"""Every code a person is shown has a Chinese and an English name in the glossary."""

from __future__ import annotations

import pytest

from casework.lead_status import LeadStatus, Outcome
from models.schemes import ROLES
from models.watchlist import EntityType, ListingSource
from schemas.errors import RejectReason
from schemas.glossary import (
    DEPARTMENT_NAMES,
    ENTITY_TYPE_NAMES,
    OUTCOME_NAMES,
    REJECT_REASON_NAMES,
    ROLE_NAMES,
    SECTOR_NAMES,
    SEVERITY_NAMES,
    SOURCE_NAMES,
    STATUS_NAMES,
)
from schemas.lead import Severity
from schemas.sectors import DEPARTMENTS, SECTORS

TABLES = [
    (SEVERITY_NAMES, [s.value for s in Severity]),
    (STATUS_NAMES, [s.value for s in LeadStatus]),
    (OUTCOME_NAMES, [o.value for o in Outcome]),
    (REJECT_REASON_NAMES, [r.value for r in RejectReason]),
    (ENTITY_TYPE_NAMES, [e.value for e in EntityType]),
    (SOURCE_NAMES, [s.value for s in ListingSource]),
    (ROLE_NAMES, list(ROLES)),
    (SECTOR_NAMES, list(SECTORS)),
    (DEPARTMENT_NAMES, [d.code for d in DEPARTMENTS]),
]


@pytest.mark.parametrize(("names", "codes"), TABLES)
def test_every_code_has_a_chinese_and_an_english_name(
    names: dict[str, tuple[str, str]], codes: list[str]
) -> None:
    assert codes
    for code in codes:
        zh, en = names[code]
        assert zh and en, code
        assert any("\u4e00" <= ch <= "\u9fff" for ch in zh), (code, zh)
