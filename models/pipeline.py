"""One batch of input messages through ingest, features, scoring, leads and money trails:
no Kafka here.

The Faust agent, the backtest and the tests all call ``Pipeline.process``, so the streaming
and offline paths compute the same feature vectors and the same leads from the same reports.
Every accepted report is scored on its own (its account's features right after it), in the
account's report order; the batch only groups the scoring into one vectorised call. So the
results do not depend on how the stream happened to be cut into batches.

The stages, in order: ingest (models below: ingest.pipeline.IngestStage) -> features (each
accepted report applied to its account) -> score (the model, once per batch) -> leads (each
scored report observed by its account's lead) -> trails (models.trails.TrailStage, once per
batch: the scored reports, then the movements that arrived beside them).
"""

from __future__ import annotations

import gc
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import NamedTuple

import numpy as np

from ingest.pipeline import (
    DECODED_SEEN_ACCOUNTS,
    BatchOutcome,
    IngestStage,
    InputMessage,
    ReadView,
    TxTimeRules,
)
from ingest.state import AccountLedger, AccountSeen
from models.account_state import AccountState
from models.forest import FundraisingForest
from models.leads import LeadPolicy, observe
from models.peers import peer_group, peer_standing, within_own_past
from models.ranker import ranker_input
from models.reasons import verdict_reason
from models.snapshot import AccountSnapshot
from models.structure import adjust
from models.trails import FollowedReport, Movement, TrailPolicy, TrailStage
from models.watchlist import Watchlist, WatchlistHit
from schemas.lead import Lead
from schemas.report import TransactionReport

TRAIL_TOPIC = "trails"  # the name offline runs give the movements they loop back

# A batch allocates a few hundred thousand short-lived objects among the millions the decoded
# account states hold. At Python's default threshold (700) the collector scans the young ones
# every few reports (a fifth of a replay), and its full collections walk every decoded state
# (half a second for 3,500 accounts) in the middle of a batch. Whatever runs the pipeline for
# long collects the young generation only every this many allocations.
GC_YOUNG_THRESHOLD = 50_000


def collect_garbage_rarely() -> tuple[int, int, int]:
    """Collect the young generation every GC_YOUNG_THRESHOLD allocations (the older ones as
    rarely, after it); returns the thresholds before, to put back."""
    before = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *before[1:])
    return before


@contextmanager
def replay_collection() -> Iterator[Callable[[], None]]:
    """The collector for an offline replay while it runs: collect_garbage_rarely, and a
    ``settle`` to call between batches that leaves everything alive then (the accounts'
    decoded states, the messages read ahead) out of every later collection (gc.freeze).

    What survives a batch is freed by reference counting when it is dropped: the states hold
    no reference cycles (a replay of 600,000 reports of 45,000 accounts left 66 unreachable
    objects for the collector at its end). The collections walking them again and again were
    9 % of that replay's time, a full one 3.5 s. Put back as it was when the replay ends (a
    process that had frozen objects of its own keeps them frozen)."""
    thresholds = collect_garbage_rarely()
    frozen_before = gc.get_freeze_count()
    try:
        yield gc.freeze
    finally:
        if not frozen_before:
            gc.unfreeze()
        gc.set_threshold(*thresholds)


@dataclass(frozen=True)
class PipelineConfig:
    lateness_ms: int = 2 * 3_600_000
    lead_policy: LeadPolicy = field(default_factory=LeadPolicy)
    keep_vectors: bool = False  # return each report's snapshot (training, backtest, tests)
    # Decoded account states kept between batches (decoding costs more than the batch's
    # feature updates); an entry is used only while the table still holds the exact value
    # this pipeline wrote.
    decoded_cache_accounts: int = 10_000  # about 30 KB each decoded
    trail_policy: TrailPolicy = field(default_factory=TrailPolicy)
    # Messages read from this topic are movements (models.trails), not reports.
    trail_topic: str = TRAIL_TOPIC
    # Which tx_time a report may carry, against its broker timestamp (streams.settings).
    tx_time_rules: TxTimeRules = field(default_factory=TxTimeRules)
    # Partitions of the input topics: each report of a batched message must be on its
    # account's (None: not checked, as in a replay of a file).
    partitions: int | None = None


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
    # Transfers that carry a lead's money trail on, each for its counterparty's partition.
    movements: list[Movement] = field(default_factory=list)
    # One write per account whose trail changed: (partition, encoded TrailState).
    trail_writes: dict[str, tuple[int, bytes]] = field(default_factory=dict)
    movements_applied: int = 0
    movements_refused: list[tuple[InputMessage, str]] = field(default_factory=list)


class _Observed(NamedTuple):
    """An accepted report after the features stage: what scoring and leads need of it (a
    named tuple: one is made per report, at a third of a frozen dataclass's cost)."""

    message: InputMessage
    report: TransactionReport
    snapshot: AccountSnapshot
    hit: WatchlistHit | None


def _utc_ms(epoch_ms: int) -> datetime:
    return datetime.fromtimestamp(epoch_ms / 1000, UTC)


def lead_scores(
    model: FundraisingForest,
    features: np.ndarray,
    groups: list[str],
    accounts: list[str] | None = None,
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray] | None]:
    """The scores leads are raised on, for rows of features, their peer groups and their
    accounts (None: no account's own past is used); and, with the analysts' verdicts'
    ranker, its probability and score shift per row (else None)."""
    view = model.lead_view
    within, far_beyond = peer_standing(features, groups, view.peer_limits)
    if accounts is not None:
        # Like its own busiest days counts as like its peers' (once, not twice).
        within = within | within_own_past(features, accounts, view.own_limits)
    forest_scores = model.anomaly_score(features)
    scores = adjust(forest_scores, features, within, far_beyond)
    ranker = model.ranker
    if ranker is None:
        return scores, None
    # The analysts' verdicts (models.ranker): activity like the confirmed accounts' rises,
    # like the excluded ones' falls, by at most RANKER_WEIGHT, as much as the peer penalty,
    # so the forest's threshold keeps its meaning. Without a ranker the scores are the forest
    # path's, bit for bit.
    probability, shift = ranker.shift(ranker_input(features, forest_scores))
    shifted: np.ndarray = scores + shift
    return shifted, (probability, shift)


class Pipeline:
    def __init__(
        self,
        accounts: ReadView,
        seen: ReadView,
        config: PipelineConfig,
        trails: ReadView | None = None,
        write_back: bool = False,
    ) -> None:
        """``write_back``: for a run with no changelog to feed (a backtest, training). A
        touched account's state then stays decoded and is encoded only when it leaves the
        decoded cache, or at ``flush``: ``account_writes`` holds only those; so do its report
        identities (``ingest.seen_writes``, ``flush_seen``), in a cache as large. A worker
        encodes every touched state once per batch, as its changelog needs."""
        self._accounts = accounts
        self._config = config
        self._write_back = write_back
        self._batch_states: dict[str, AccountState] = {}
        # account -> (the value written for it, or None while write-back holds a newer state
        # than the table; its partition; the state decoded), least recently used first
        self._decoded: OrderedDict[str, tuple[bytes | None, int, AccountState]] = OrderedDict()
        self._broken = False
        self._ingest = IngestStage(
            self._ledger_of,
            seen,
            config.tx_time_rules,
            config.partitions,
            write_back=write_back,
            decoded_seen_accounts=(
                config.decoded_cache_accounts if write_back else DECODED_SEEN_ACCOUNTS
            ),
        )
        self._trails = TrailStage(
            trails if trails is not None else {},
            self._existing_state,
            config.trail_policy,
            config.lead_policy,
        )

    def process(
        self,
        messages: Iterable[InputMessage],
        model: FundraisingForest | None,
        now: datetime,
        watchlist: Watchlist | None = None,
    ) -> PipelineOutcome:
        """``watchlist``: the negative list as it stands for this batch (None: empty)."""
        if self._broken:
            raise RuntimeError("a write-back pipeline that failed has lost unwritten states")
        self._batch_states = {}
        try:
            out, written = self._process(messages, model, now, watchlist)
        except BaseException:
            # States may be half-updated: decode afresh next time. Under write-back the
            # newest states (and report identities) were only here, so this pipeline cannot
            # go on.
            seen_lost = self._ingest.abandon_batch()
            self._broken = self._write_back and (
                seen_lost or any(e[0] is None for e in self._decoded.values())
            )
            self._decoded.clear()
            raise
        for account_id, (partition, state) in written.items():
            blob = None if self._write_back else state.to_bytes()
            if blob is not None:
                out.account_writes[account_id] = (partition, blob)
            self._decoded.pop(account_id, None)  # now the most recently used
            self._decoded[account_id] = (blob, partition, state)
        while len(self._decoded) > self._config.decoded_cache_accounts:
            account_id, (blob, partition, state) = self._decoded.popitem(last=False)
            if blob is None:
                out.account_writes[account_id] = (partition, state.to_bytes())
        return out

    def flush(self) -> dict[str, tuple[int, bytes]]:
        """Under write-back: encode every state newer than the table's value, for the table
        (the states stay decoded). Otherwise there is none."""
        writes: dict[str, tuple[int, bytes]] = {}
        for account_id, (blob, partition, state) in list(self._decoded.items()):
            if blob is None:
                blob = state.to_bytes()
                writes[account_id] = (partition, blob)
                self._decoded[account_id] = (blob, partition, state)
        return writes

    def flush_seen(self) -> dict[str, tuple[int, AccountSeen]]:
        """``flush`` for the report identities (IngestStage.flush_seen)."""
        return self._ingest.flush_seen()

    def _process(
        self,
        messages: Iterable[InputMessage],
        model: FundraisingForest | None,
        now: datetime,
        watchlist: Watchlist | None,
    ) -> tuple[PipelineOutcome, dict[str, tuple[int, AccountState]]]:
        reports: list[InputMessage] = []
        movements: list[InputMessage] = []
        for message in messages:
            is_movement = message.source.topic == self._config.trail_topic
            (movements if is_movement else reports).append(message)

        # ingest -> features -> score -> leads -> trails
        ingested = self._ingest.process(reports, now)
        out = PipelineOutcome(ingested)
        written: dict[str, tuple[int, AccountState]] = {}
        for account_id, (partition, ledger) in ingested.ledger_writes.items():
            state = self._state(account_id)
            state.ledger = ledger
            written[account_id] = (partition, state)

        observed = self._features(ingested, model is not None, watchlist, out)
        scored_leads: list[Lead | None] = []
        followed: list[FollowedReport] = []
        if model is not None and observed:
            out.scores, verdicts = self._score(model, observed, out)
            scored_leads, followed = self._leads(observed, out.scores, verdicts, model, now)

        version = (model.version_, model.threshold_) if model is not None else ("", 0.0)
        trails = self._trails.process(followed, movements, version, now)

        # Each report's scored lead, then the linked lead it revised; then the movements' leads.
        on_reports = zip(scored_leads, trails.linked_on_reports, followed, strict=True)
        for scored, linked, report in on_reports:
            for lead in (scored, linked):
                if lead is not None:
                    out.leads.append(lead)
                    out.lead_arrivals_ms.append(report.arrival_ms)
        for lead, arrival in trails.linked_on_movements:
            out.leads.append(lead)
            out.lead_arrivals_ms.append(arrival)
        out.movements = trails.movements
        out.trail_writes = trails.writes
        out.movements_applied = trails.movements_applied
        out.movements_refused = trails.movements_refused
        return out, written

    def _features(
        self,
        ingested: BatchOutcome,
        scoring: bool,
        watchlist: Watchlist | None,
        out: PipelineOutcome,
    ) -> list[_Observed]:
        """Apply each accepted report to its account's features, in order; snapshot each one
        when it is to be scored (or kept)."""
        observed: list[_Observed] = []
        keep = scoring or self._config.keep_vectors
        state_of, state_bound_ms = self._state, self._config.tx_time_rules.state_bound_ms
        late_reports = 0
        for message, report in ingested.accepted:
            state = state_of(report.account_id)
            bound_ms = state_bound_ms(message.source.timestamp_ms)
            if bound_ms is not None:
                state.recover_from_future(bound_ms)  # a far-future date written before the rule
            features = state.features
            late_reports += not features.apply(report)
            if keep:
                snapshot = features.snapshot(report, features.vector())
                hit = watchlist.hit(report) if watchlist is not None else None
                observed.append(_Observed(message, report, snapshot, hit))
        out.late_reports += late_reports
        if self._config.keep_vectors:
            out.snapshots = [item.snapshot for item in observed]
        return observed

    def _score(
        self, model: FundraisingForest, observed: list[_Observed], out: PipelineOutcome
    ) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray] | None]:
        started = time.perf_counter()
        features = np.vstack([item.snapshot.features for item in observed])
        # The lead score: the forest's, raised for a scheme's structure and lowered without
        # it (models.structure), row by row so that batching changes nothing.
        groups = [peer_group(i.snapshot.account_type, i.snapshot.industry) for i in observed]
        accounts = [item.snapshot.account_id for item in observed]
        scores, verdicts = lead_scores(model, features, groups, accounts)
        out.scoring_seconds = time.perf_counter() - started
        return scores, verdicts

    def _leads(
        self,
        observed: list[_Observed],
        scores: np.ndarray,
        verdicts: tuple[np.ndarray, np.ndarray] | None,
        model: FundraisingForest,
        now: datetime,
    ) -> tuple[list[Lead | None], list[FollowedReport]]:
        """Each scored report observed by its account's lead: per report, the scored lead it
        raised or revised (or None), and the report as the trail stage follows it.
        ``verdicts``: the ranker's probability and score shift per report (None: no ranker)."""
        policy = self._config.lead_policy
        view = model.lead_view
        leads: list[Lead | None] = []
        followed: list[FollowedReport] = []
        for row, (item, score) in enumerate(zip(observed, scores, strict=True)):
            state = self._state(item.report.account_id)
            arrival = item.message.source.timestamp_ms
            # A revision is stamped with the broker time of the report that raised it, so a
            # worker replaying that report after a crash re-emits the very same bytes.
            emitted_at = _utc_ms(arrival) if arrival is not None else now
            state.lead, lead = observe(
                state.lead, item.snapshot, float(score), view, policy, emitted_at, item.hit
            )
            if lead is not None and verdicts is not None:
                probability, shift = (float(v[row]) for v in verdicts)
                lead = replace(lead, reasons=(*lead.reasons, verdict_reason(probability, shift)))
            leads.append(lead)
            followed.append(
                FollowedReport(
                    item.report,
                    item.snapshot,
                    state.lead,
                    item.hit,
                    item.message.source.partition,
                    arrival,
                    emitted_at,
                )
            )
        return leads, followed

    def _existing_state(self, account_id: str) -> AccountState | None:
        """The account's state if it has reported anything (never creates one)."""
        if (
            account_id in self._batch_states
            or account_id in self._decoded
            or self._accounts.get(account_id) is not None
        ):
            return self._state(account_id)
        return None

    def _state(self, account_id: str) -> AccountState:
        state = self._batch_states.get(account_id)
        if state is None:
            blob = self._accounts.get(account_id)
            cached = self._decoded.get(account_id)
            lateness = self._config.lateness_ms
            if cached is not None and (cached[0] is None or cached[0] is blob):
                state = cached[2]
            elif blob is None:
                state = AccountState.new(lateness)
            else:
                state = AccountState.from_bytes(blob, lateness)
            self._batch_states[account_id] = state
        return state

    def _ledger_of(self, account_id: str) -> AccountLedger:
        return self._state(account_id).ledger
