"""The JSON Schema files shipped in schemas/json, loaded once by name."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

SCHEMA_DIR = Path(__file__).resolve().parent / "json"


@cache
def load_schema(name: str) -> dict[str, Any]:
    """Load ``schemas/json/<name>.schema.json`` (e.g. ``transaction-report.v1``)."""
    path = SCHEMA_DIR / f"{name}.schema.json"
    with path.open(encoding="utf-8") as f:
        schema: dict[str, Any] = json.load(f)
    return schema
