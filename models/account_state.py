"""Everything fundwatch keeps per account, written as one table value.

One value per account, written once per batch, holds the ingest ledger (with the offset of the
last applied report), the rolling features and the open lead. Because the three are written
together, a replay after a crash skips exactly the reports whose effects are already in Kafka.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from ingest.state import AccountLedger
from models.features import AccountFeatures
from models.leads import LeadState

ACCOUNT_STATE_VERSION = 1


@dataclass(slots=True)
class AccountState:
    ledger: AccountLedger
    features: AccountFeatures
    lead: LeadState | None = None

    @classmethod
    def new(cls, lateness_ms: int) -> AccountState:
        return cls(AccountLedger(), AccountFeatures(lateness_ms))

    def to_bytes(self) -> bytes:
        return orjson.dumps(
            {
                "v": ACCOUNT_STATE_VERSION,
                "l": self.ledger.to_bytes().hex(),
                "f": self.features.to_dict(),
                "k": self.lead.to_bytes().hex() if self.lead is not None else None,
            }
        )

    @classmethod
    def from_bytes(cls, blob: bytes, lateness_ms: int) -> AccountState:
        data = orjson.loads(blob)
        if data.get("v") != ACCOUNT_STATE_VERSION:
            raise ValueError(f"account state version {data.get('v')!r} is not supported")
        return cls(
            AccountLedger.from_bytes(bytes.fromhex(data["l"])),
            AccountFeatures.from_dict(data["f"], lateness_ms),
            LeadState.from_bytes(bytes.fromhex(data["k"])) if data["k"] else None,
        )
