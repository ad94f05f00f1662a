"""Everything fundwatch keeps per account, written as one table value.

One value per account, written once per batch, holds the ingest ledger (with the offset of the
last applied report), the rolling features, the open lead and the last large outflows. Because
they are written together, a replay after a crash skips exactly the reports whose effects are
already in Kafka.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

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

    def recover_from_future(self, bound_ms: int) -> bool:
        """Undo what a far-future tx_time left in this state; True if there was any.

        Before the ingest stage refused a tx_time ahead of its broker timestamp (ingest.pipeline
        TxTimeRules), one report dated 9999-12-31 became the account's newest event time: every
        later report counted as late, the windows froze and the account went blind for good.
        ``bound_ms`` is the latest event time a state can hold now (the broker timestamp of the
        report about to be applied plus the tolerance). The rule, when the state holds a later
        time:

        - the rolling windows (30-day buckets, counterparties, pending outflows) are emptied
          and the account's clock starts again at the report about to be applied: they hold
          only the far-future day, as the jump to it had already dropped every real day;
        - lifetime totals (report count, money raised, participants, provinces) are kept: the
          far-future report was accepted then, and its contribution cannot be told apart;
        - the ledger's and the open lead's times, and the large-outflow log, are cut back to
          ``bound_ms`` (outflows after it are dropped).
        """
        features = self.features
        ledger = self.ledger
        # Every time in the state comes from a report, and the newest of them is in both of
        # these: two comparisons per report.
        if features.newest_ms <= bound_ms and ledger.last_tx_ms <= bound_ms:
            return False
        lead = self.lead
        future_outflows = any(entry[2] > bound_ms for entry in self.outflows.entries)
        future_lead = (
            lead is not None
            and max(lead.episode_start_ms, lead.last_anomalous_ms, lead.last_revision_ms) > bound_ms
        )
        if features.newest_ms > bound_ms:
            self.features = _windows_emptied(features, bound_ms)
        if ledger.last_tx_ms > bound_ms or ledger.first_tx_ms > bound_ms:
            self.ledger = replace(
                ledger,
                first_tx_ms=min(ledger.first_tx_ms, bound_ms),
                last_tx_ms=min(ledger.last_tx_ms, bound_ms),
            )
        if lead is not None and future_lead:
            self.lead = replace(
                lead,
                episode_start_ms=min(lead.episode_start_ms, bound_ms),
                last_anomalous_ms=min(lead.last_anomalous_ms, bound_ms),
                last_revision_ms=min(lead.last_revision_ms, bound_ms),
            )
        if future_outflows:
            self.outflows = OutflowLog([e for e in self.outflows.entries if e[2] <= bound_ms])
        return True

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


def _windows_emptied(features: AccountFeatures, bound_ms: int) -> AccountFeatures:
    """The lifetime part of ``features``, with empty windows and no clock (newest_ms 0: the
    next report applied is on time and sets it)."""
    return AccountFeatures(
        features.lateness_ms,
        bank_id=features.bank_id,
        account_type=features.account_type,
        region=features.region,
        industry=features.industry,
        customer_name=features.customer_name,
        customer_id=features.customer_id,
        first_seen_ms=min(features.first_seen_ms, bound_ms),
        newest_ms=0,
        report_count=features.report_count,
        late_count=features.late_count,
        money_raised_fen=features.money_raised_fen,
        cross_prefecture=features.cross_prefecture,
        provinces=set(features.provinces),
        participants=features.participants,
        recent_tx_ids=list(features.recent_tx_ids),
    )
