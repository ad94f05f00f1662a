"""The Lead: one suspected account, as published on the leads topic.

A lead is revised, not repeated: further anomalous activity of the same account in the same
episode publishes the same ``lead_id`` with a higher ``revision``. Consumers keep the highest
revision per lead_id (the topic is keyed by lead_id).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import orjson


class Severity(StrEnum):
    GENERAL = "general"  # 一般线索: the regulator keeps tracking and warns
    MAJOR = "major"  # 重大线索: verify and handle at once
    CASE_RELATED = "case_related"  # 涉案线索: the entity is on the negative list


@dataclass(frozen=True, slots=True)
class Reason:
    """One feature that drives the score, placed against the training population."""

    feature: str
    value: float
    training_percentile: float  # share of training accounts below this value, 0..100
    training_reference: float  # the training population's value at a high quantile
    text_zh: str
    text_en: str


class LeadKind(StrEnum):
    SCORED = "scored"  # the account's own reports scored anomalous (or touched the negative list)
    LINKED = "linked"  # money from or to another lead's account (models.trails)


class TrailDirection(StrEnum):
    DOWNSTREAM = "downstream"  # 资金去向: the lead's account sent the money to this account
    UPSTREAM = "upstream"  # 资金来源: this listed account sent the money to the lead's account


@dataclass(frozen=True, slots=True)
class TrailLink:
    """The money that links a linked lead to one source lead."""

    source_lead_id: str
    source_account: str
    direction: str  # TrailDirection
    hop: int  # this account's distance from the scored lead the trail starts at
    path: tuple[str, ...]  # accounts from that scored lead's account to this one
    amount_fen: int
    transfers: int
    first_tx_time: datetime
    last_tx_time: datetime


@dataclass(frozen=True, slots=True)
class Lead:
    lead_id: str
    revision: int
    account_id: str
    bank_id: str
    region: str
    county: str
    sector: str
    seed_category: str
    lead_department: str
    score: float
    threshold: float
    model_version: str
    severity: Severity
    cross_prefecture: bool
    cross_province_major: bool
    money_raised_fen: int
    participants: int
    first_evidence_time: datetime
    last_evidence_time: datetime
    emitted_at: datetime
    customer_name: str | None = None
    evidence_tx_ids: tuple[str, ...] = ()
    reasons: tuple[Reason, ...] = field(default_factory=tuple)
    # "role|entity" of each negative-list entity the episode touched: "account|account:622..."
    # (the account is listed) or "counterparty|name:某某投资有限公司" (money to or from it).
    watchlist_matches: tuple[str, ...] = ()
    # What a scheme (models.schemes) is assembled from:
    kind: str = LeadKind.SCORED.value
    hop: int = 0  # 0 for a scored lead; for a linked one its nearest distance from one
    trail: tuple[TrailLink, ...] = ()  # a linked lead's source leads, the most money first
    customer_id: str | None = None
    account_type: str | None = None
    payees_30d: int = 0  # distinct payees in 30 days: a payout account pays many
    counterparty_provinces: tuple[str, ...] = ()  # 2-digit codes
    # The distinct payers (models.sketch.HyperLogLog.to_text: hashes, never account numbers),
    # so that a scheme counts a participant once across all its collecting accounts.
    participants_sketch: str | None = None

    def to_json(self) -> bytes:
        body: dict[str, Any] = asdict(self)
        body["schema_version"] = 1
        for name in ("first_evidence_time", "last_evidence_time", "emitted_at"):
            body[name] = getattr(self, name).astimezone(UTC).isoformat()
        body["severity"] = self.severity.value
        for link in body["trail"]:
            for name in ("first_tx_time", "last_tx_time"):
                link[name] = link[name].astimezone(UTC).isoformat()
        return orjson.dumps(body)

    @classmethod
    def from_json(cls, blob: bytes | str | dict[str, Any]) -> Lead:
        """The lead of one message of the leads topic (``to_json``'s output, or its parsed
        object). Fields a newer writer added are ignored; missing optional ones default."""
        body = dict(orjson.loads(blob) if isinstance(blob, bytes | str) else blob)
        body.pop("schema_version", None)
        names = {f.name for f in fields(cls)}
        body = {k: v for k, v in body.items() if k in names}
        for name in ("first_evidence_time", "last_evidence_time", "emitted_at"):
            body[name] = datetime.fromisoformat(body[name])
        body["severity"] = Severity(body["severity"])
        body["evidence_tx_ids"] = tuple(body.get("evidence_tx_ids", ()))
        body["reasons"] = tuple(Reason(**r) for r in body.get("reasons", ()))
        body["watchlist_matches"] = tuple(body.get("watchlist_matches", ()))
        body["counterparty_provinces"] = tuple(body.get("counterparty_provinces", ()))
        body["trail"] = tuple(
            TrailLink(
                **{
                    **link,
                    "path": tuple(link["path"]),
                    "first_tx_time": datetime.fromisoformat(link["first_tx_time"]),
                    "last_tx_time": datetime.fromisoformat(link["last_tx_time"]),
                }
            )
            for link in body.get("trail", ())
        )
        return cls(**body)
