"""Everything fundwatch keeps per account, written as one table value.

One value per account, written once per batch, holds the ingest ledger (with the offset of the
last applied report), the rolling features, the open lead and the last large outflows. Because
they are written together, a replay after a crash skips exactly the reports whose effects are
already in Kafka.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson

from ingest.state import AccountLedger
from models.features import AccountFeatures
from models.leads import LeadState
from models.trails import OutflowLog

ACCOUNT_STATE_VERSION = 1


@dataclass(slots=True)
class AccountState:
    ledger: AccountLedger
    features: AccountFeatures
    lead: LeadState | None = None
    # Large outflows, for a money trail that reaches the account after them (models.trails).
    outflows: OutflowLog = field(default_factory=OutflowLog)

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
                **({"o": self.outflows.entries} if self.outflows.entries else {}),
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
            OutflowLog(data.get("o", [])),
        )
