"""The negative list (负面清单, 四(一) and 四(七) of the Baoshan plan).

Entries name an entity (an account, a customer id, or a customer name) with where the listing
came from. The list lives on the compacted ``fundwatch.watchlist`` topic, keyed by
``Entry.key``: a removal is a new value of the same key (``removed_at`` set), so the list keeps
who removed an entity and why. ``Watchlist`` is the current list rebuilt from those values.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import orjson

from schemas.errors import FundwatchError
from schemas.glossary import SOURCE_NAMES


class EntityType(StrEnum):
    ACCOUNT = "account"  # a bank account number, as reported in account_id
    CUSTOMER = "customer"  # a bank's customer id, as reported in customer_id
    NAME = "name"  # a person's or company's name, matched after normalisation


class ListingSource(StrEnum):
    JUDICIAL = "judicial"  # 司法机关通报 (court or procuratorate)
    POLICE = "police"  # 公安机关通报
    REGULATOR = "regulator"  # 监管部门
    TIP_OFF = "tip_off"  # 群众举报
    VERIFIED_LEAD = "verified_lead"  # a fundwatch lead verified by an analyst


# Their names are the glossary's; this view keeps the enum as the key.
SOURCE_NAMES_ZH = {s: SOURCE_NAMES[s.value][0] for s in ListingSource}


class WatchlistError(FundwatchError, ValueError):
    """A watchlist change or entry that cannot be accepted; the message says why."""


def normalise_entity_id(entity_type: EntityType, entity_id: str) -> str:
    """Names are compared after NFKC (full-width to half-width) with spaces removed, so
    "某某 投资有限公司" and "某某投资有限公司" are one entity; ids are only stripped."""
    text = unicodedata.normalize("NFKC", entity_id).strip()
    if entity_type is EntityType.NAME:
        text = "".join(text.split())
    return text


def entry_key(entity_type: EntityType, entity_id: str) -> str:
    return f"{entity_type.value}:{normalise_entity_id(entity_type, entity_id)}"


@dataclass(frozen=True, slots=True)
class WatchlistEntry:
    entity_type: EntityType
    entity_id: str
    source: ListingSource
    reason: str
    added_by: str
    added_at: datetime
    lead_id: str | None = None  # the verified lead that put the entity on the list
    removed_at: datetime | None = None
    removed_by: str | None = None
    removal_reason: str | None = None

    @property
    def key(self) -> str:
        return entry_key(self.entity_type, self.entity_id)

    @property
    def active(self) -> bool:
        return self.removed_at is None

    def to_json(self) -> bytes:
        body: dict[str, Any] = asdict(self)
        body["entity_type"] = self.entity_type.value
        body["source"] = self.source.value
        body["added_at"] = self.added_at.astimezone(UTC).isoformat()
        removed = self.removed_at
        body["removed_at"] = removed.astimezone(UTC).isoformat() if removed else None
        return orjson.dumps(body)

    @classmethod
    def from_json(cls, blob: bytes) -> WatchlistEntry:
        try:
            body = orjson.loads(blob)
            return cls(
                entity_type=EntityType(body["entity_type"]),
                entity_id=str(body["entity_id"]),
                source=ListingSource(body["source"]),
                reason=str(body["reason"]),
                added_by=str(body["added_by"]),
                added_at=datetime.fromisoformat(body["added_at"]),
                lead_id=body.get("lead_id"),
                removed_at=(
                    datetime.fromisoformat(body["removed_at"]) if body.get("removed_at") else None
                ),
                removed_by=body.get("removed_by"),
                removal_reason=body.get("removal_reason"),
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise WatchlistError(f"not a watchlist entry: {exc}") from exc


@dataclass(frozen=True, slots=True)
class WatchlistHit:
    """A report that involves a listed entity: the account itself or its counterparty."""

    entry_key: str
    role: str  # "account" (the reporting account is listed) or "counterparty"
    amount_fen: int
    direction: str  # "in" or "out", the reporting account's side


class Watchlist:
    """The current negative list: the latest value of every key, removals included."""

    def __init__(self, entries: Iterable[WatchlistEntry] = ()) -> None:
        self._entries: dict[str, WatchlistEntry] = {}
        for entry in entries:
            self.apply(entry)

    def apply(self, entry: WatchlistEntry) -> None:
        self._entries[entry.key] = entry

    def get(self, entity_type: EntityType, entity_id: str) -> WatchlistEntry | None:
        return self._entries.get(entry_key(entity_type, entity_id))

    def entries(self, include_removed: bool = False) -> list[WatchlistEntry]:
        chosen = (e for e in self._entries.values() if include_removed or e.active)
        return sorted(chosen, key=lambda e: (e.added_at, e.key))

    def __len__(self) -> int:
        return sum(1 for e in self._entries.values() if e.active)

    def listed(
        self,
        account_id: str | None,
        customer_id: str | None = None,
        name: str | None = None,
    ) -> WatchlistEntry | None:
        """The active entry naming this account, its customer or its name, if any."""
        if not self._entries:
            return None
        for entity_type, entity_id in (
            (EntityType.ACCOUNT, account_id),
            (EntityType.CUSTOMER, customer_id),
            (EntityType.NAME, name),
        ):
            if entity_id:
                entry = self._entries.get(entry_key(entity_type, entity_id))
                if entry is not None and entry.active:
                    return entry
        return None

    def hit(self, report: Any) -> WatchlistHit | None:
        """The listed entity a report involves (the account first, then its counterparty)."""
        if not self._entries:
            return None
        own = self.listed(report.account_id, report.customer_id, report.customer_name)
        role = "account"
        if own is None:
            own = self.listed(report.counterparty_account, None, report.counterparty_name)
            role = "counterparty"
        if own is None:
            return None
        return WatchlistHit(own.key, role, report.amount_fen, report.direction)

    def add(self, entry: WatchlistEntry) -> WatchlistEntry:
        """Check that ``entry`` may be added (its entity is not listed already) and return it."""
        if not entry.entity_id.strip():
            raise WatchlistError("the entity id is empty")
        if not entry.reason.strip():
            raise WatchlistError("a listing needs a reason")
        current = self._entries.get(entry.key)
        if current is not None and current.active:
            raise WatchlistError(
                f"{entry.key} is already listed (since {current.added_at:%Y-%m-%d}, "
                f"source {current.source.value}, by {current.added_by})"
            )
        return entry

    def remove(
        self, entity_type: EntityType, entity_id: str, by: str, reason: str, at: datetime
    ) -> WatchlistEntry:
        """The removal of a listed entity, as the entry to publish."""
        current = self.get(entity_type, entity_id)
        if current is None or not current.active:
            raise WatchlistError(f"{entry_key(entity_type, entity_id)} is not on the watchlist")
        if not reason.strip():
            raise WatchlistError("a removal needs a reason")
        return replace(current, removed_at=at, removed_by=by, removal_reason=reason)


CSV_COLUMNS = ("entity_type", "entity_id", "source", "reason")


def entries_from_csv(text: str, added_by: str, added_at: datetime) -> list[WatchlistEntry]:
    """Entries from a CSV file with the header ``entity_type,entity_id,source,reason``.

    The whole file is checked before anything is returned: one bad row fails the import with
    its line number, so a file is imported completely or not at all."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))  # Excel writes a BOM
    missing = [c for c in CSV_COLUMNS if c not in (reader.fieldnames or ())]
    if missing:
        raise WatchlistError(f"the CSV header lacks {', '.join(missing)}; expected {CSV_COLUMNS}")
    entries: list[WatchlistEntry] = []
    errors: list[str] = []
    for line, row in enumerate(reader, start=2):
        try:
            entries.append(
                WatchlistEntry(
                    entity_type=EntityType((row["entity_type"] or "").strip()),
                    entity_id=(row["entity_id"] or "").strip(),
                    source=ListingSource((row["source"] or "").strip()),
                    reason=(row["reason"] or "").strip(),
                    added_by=added_by,
                    added_at=added_at,
                )
            )
            if not entries[-1].entity_id or not entries[-1].reason:
                raise ValueError("entity_id and reason must not be empty")
        except ValueError as exc:
            errors.append(f"line {line}: {exc}")
    if errors:
        raise WatchlistError("; ".join(errors[:10]) + (" ..." if len(errors) > 10 else ""))
    return entries
