"""One batch of input messages through ingest, features, scoring and leads: no Kafka here.

The Faust agent, the backtest and the tests all call ``Pipeline.process``, so the streaming
and offline paths compute the same feature vectors and the same leads from the same reports.
Every accepted report is scored on its own (its account's features right after it), in the
account's report order; the batch only groups the scoring into one vectorised call. So the
results do not depend on how the stream happened to be cut into batches.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from casework.watchlist import Watchlist, WatchlistHit
from ingest.pipeline import BatchOutcome, IngestStage, InputMessage, ReadView
from ingest.state import AccountLedger
from models.account_state import AccountState
from models.active_model import ActiveModel
from models.leads import LeadPolicy, observe
from models.snapshot import AccountSnapshot
from schemas.lead import Lead


@dataclass(frozen=True)
class PipelineConfig:
    lateness_ms: int = 2 * 3_600_000
    lead_policy: LeadPolicy = field(default_factory=LeadPolicy)
    keep_vectors: bool = False  # return each report's snapshot (training, backtest, tests)
    # Decoded account states kept between batches (decoding costs more than the batch's
    # feature updates); an entry is used only while the table still holds the exact value
    # this pipeline wrote.
    decoded_cache_accounts: int = 10_000  # about 30 KB each decoded


@dataclass
class PipelineOutcome:
    ingest: BatchOutcome
    # One write per account touched: (partition, encoded AccountState).
    account_writes: dict[str, tuple[int, bytes]] = field(default_factory=dict)
    leads: list[Lead] = field(default_factory=list)
    # Per lead: when the report that raised or revised it reached Kafka (epoch ms, if known).
    lead_arrivals_ms: list[int | None] = field(default_factory=list)
    late_reports: int = 0
    scores: np.ndarray | None = None  # per accepted report, in order
    scoring_seconds: float = 0.0
    snapshots: list[AccountSnapshot] = field(default_factory=list)  # with keep_vectors


def _utc_ms(epoch_ms: int) -> datetime:
    return datetime.fromtimestamp(epoch_ms / 1000, UTC)


class Pipeline:
    def __init__(self, accounts: ReadView, seen: ReadView, config: PipelineConfig) -> None:
        self._accounts = accounts
        self._config = config
        self._batch_states: dict[str, AccountState] = {}
        # account -> (the value written for it, that value decoded), least recently used first
        self._decoded: OrderedDict[str, tuple[bytes, AccountState]] = OrderedDict()
        self._ingest = IngestStage(self._ledger_of, seen)

    def process(
        self,
        messages: Iterable[InputMessage],
        model: ActiveModel | None,
        now: datetime,
        watchlist: Watchlist | None = None,
    ) -> PipelineOutcome:
        """``watchlist``: the negative list as it stands for this batch (None: empty)."""
        self._batch_states = {}
        try:
            out, written = self._process(messages, model, now, watchlist)
        except BaseException:
            self._decoded.clear()  # states may be half-updated: decode afresh next time
            raise
        for account_id, (partition, state) in written.items():
            blob = state.to_bytes()
            out.account_writes[account_id] = (partition, blob)
            self._remember(account_id, blob, state)
        return out

    def _process(
        self,
        messages: Iterable[InputMessage],
        model: ActiveModel | None,
        now: datetime,
        watchlist: Watchlist | None,
    ) -> tuple[PipelineOutcome, dict[str, tuple[int, AccountState]]]:
        ingested = self._ingest.process(messages, now)
        out = PipelineOutcome(ingested)
        written: dict[str, tuple[int, AccountState]] = {}
        for account_id, (partition, ledger) in ingested.ledger_writes.items():
            state = self._state(account_id)
            state.ledger = ledger
            written[account_id] = (partition, state)

        snapshots: list[AccountSnapshot] = []
        arrivals: list[int | None] = []
        hits: list[WatchlistHit | None] = []
        for message, report in ingested.accepted:
            features = self._state(report.account_id).features
            out.late_reports += not features.apply(report)
            if model is not None or self._config.keep_vectors:
                vector = features.vector()
                snapshots.append(features.snapshot(report, vector))
                arrivals.append(message.source.timestamp_ms)
                hits.append(watchlist.hit(report) if watchlist is not None else None)
        if self._config.keep_vectors:
            out.snapshots = snapshots
        if model is not None and snapshots:
            started = time.perf_counter()
            out.scores = model.score(np.vstack([s.features for s in snapshots]))
            out.scoring_seconds = time.perf_counter() - started
            scored = zip(snapshots, out.scores, arrivals, hits, strict=True)
            for snapshot, score, arrival, hit in scored:
                state = self._state(snapshot.account_id)
                policy = self._config.lead_policy
                # A revision is stamped with the broker time of the report that raised it, so a
                # worker replaying that report after a crash re-emits the very same bytes.
                emitted_at = _utc_ms(arrival) if arrival is not None else now
                state.lead, lead = observe(
                    state.lead, snapshot, float(score), model.view, policy, emitted_at, hit
                )
                if lead is not None:
                    out.leads.append(lead)
                    out.lead_arrivals_ms.append(arrival)
        return out, written

    def _state(self, account_id: str) -> AccountState:
        state = self._batch_states.get(account_id)
        if state is None:
            blob = self._accounts.get(account_id)
            cached = self._decoded.pop(account_id, None)
            lateness = self._config.lateness_ms
            if blob is None:
                state = AccountState.new(lateness)
            elif cached is not None and cached[0] is blob:
                state = cached[1]
            else:
                state = AccountState.from_bytes(blob, lateness)
            self._batch_states[account_id] = state
        return state

    def _remember(self, account_id: str, blob: bytes, state: AccountState) -> None:
        self._decoded[account_id] = (blob, state)
        while len(self._decoded) > self._config.decoded_cache_accounts:
            self._decoded.popitem(last=False)

    def _ledger_of(self, account_id: str) -> AccountLedger:
        return self._state(account_id).ledger
