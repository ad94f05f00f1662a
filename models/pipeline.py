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

from ingest.pipeline import BatchOutcome, IngestStage, InputMessage, ReadView, TxTimeRules
from ingest.state import AccountLedger
from models.account_state import AccountState
from models.active_model import ActiveModel
from models.leads import DAY_MS, PAYEES_30D, AccountFacts, LeadPolicy, observe
from models.snapshot import AccountSnapshot
from models.trails import (
    Movement,
    TrailPolicy,
    TrailRecordError,
    TrailState,
    build_linked_lead,
    downstream,
    followed,
    passed_on,
)
from models.watchlist import Watchlist, WatchlistHit
from schemas.lead import Lead, TrailDirection
from schemas.report import TransactionReport

TRAIL_TOPIC = "trails"  # the name offline runs give the movements they loop back


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


def _utc_ms(epoch_ms: int) -> datetime:
    return datetime.fromtimestamp(epoch_ms / 1000, UTC)


class Pipeline:
    def __init__(
        self,
        accounts: ReadView,
        seen: ReadView,
        config: PipelineConfig,
        trails: ReadView | None = None,
    ) -> None:
        self._accounts = accounts
        self._trails: ReadView = trails if trails is not None else {}
        self._config = config
        self._batch_states: dict[str, AccountState] = {}
        # account -> (partition, trail) read or changed in this batch; the changed ones
        self._batch_trails: dict[str, tuple[int, TrailState | None]] = {}
        self._trails_changed: set[str] = set()
        # account -> (the value written for it, that value decoded), least recently used first
        self._decoded: OrderedDict[str, tuple[bytes, AccountState]] = OrderedDict()
        self._ingest = IngestStage(self._ledger_of, seen, config.tx_time_rules)

    def process(
        self,
        messages: Iterable[InputMessage],
        model: ActiveModel | None,
        now: datetime,
        watchlist: Watchlist | None = None,
    ) -> PipelineOutcome:
        """``watchlist``: the negative list as it stands for this batch (None: empty)."""
        self._batch_states = {}
        self._batch_trails = {}
        self._trails_changed = set()
        try:
            out, written = self._process(messages, model, now, watchlist)
        except BaseException:
            self._decoded.clear()  # states may be half-updated: decode afresh next time
            raise
        for account_id, (partition, state) in written.items():
            blob = state.to_bytes()
            out.account_writes[account_id] = (partition, blob)
            self._remember(account_id, blob, state)
        for account_id in sorted(self._trails_changed):
            partition, trail = self._batch_trails[account_id]
            assert trail is not None
            out.trail_writes[account_id] = (partition, trail.to_bytes())
        return out

    def _process(
        self,
        messages: Iterable[InputMessage],
        model: ActiveModel | None,
        now: datetime,
        watchlist: Watchlist | None,
    ) -> tuple[PipelineOutcome, dict[str, tuple[int, AccountState]]]:
        reports: list[InputMessage] = []
        movements: list[InputMessage] = []
        for message in messages:
            is_movement = message.source.topic == self._config.trail_topic
            (movements if is_movement else reports).append(message)
        ingested = self._ingest.process(reports, now)
        out = PipelineOutcome(ingested)
        written: dict[str, tuple[int, AccountState]] = {}
        for account_id, (partition, ledger) in ingested.ledger_writes.items():
            state = self._state(account_id)
            state.ledger = ledger
            written[account_id] = (partition, state)

        snapshots: list[AccountSnapshot] = []
        arrivals: list[int | None] = []
        hits: list[WatchlistHit | None] = []
        scored_reports: list[tuple[InputMessage, TransactionReport]] = []
        for message, report in ingested.accepted:
            state = self._state(report.account_id)
            bound_ms = self._config.tx_time_rules.state_bound_ms(message.source.timestamp_ms)
            if bound_ms is not None:
                state.recover_from_future(bound_ms)  # a far-future date written before the rule
            features = state.features
            out.late_reports += not features.apply(report)
            if model is not None or self._config.keep_vectors:
                vector = features.vector()
                snapshots.append(features.snapshot(report, vector))
                arrivals.append(message.source.timestamp_ms)
                hits.append(watchlist.hit(report) if watchlist is not None else None)
                scored_reports.append((message, report))
        if self._config.keep_vectors:
            out.snapshots = snapshots
        if model is not None and snapshots:
            started = time.perf_counter()
            out.scores = model.score(np.vstack([s.features for s in snapshots]))
            out.scoring_seconds = time.perf_counter() - started
            scored = zip(snapshots, out.scores, arrivals, hits, scored_reports, strict=True)
            for snapshot, score, arrival, hit, (message, report) in scored:
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
                self._follow_report(report, snapshot, state, hit, message, emitted_at, model, out)
        for message in movements:
            self._apply_movement(message, model, now, out)
        return out, written

    # -- money trails (models.trails) -----------------------------------------------------

    def _follow_report(
        self,
        report: TransactionReport,
        snapshot: AccountSnapshot,
        state: AccountState,
        hit: WatchlistHit | None,
        message: InputMessage,
        emitted_at: datetime,
        model: ActiveModel,
        out: PipelineOutcome,
    ) -> None:
        """Pass the trail on from an account's own report; raise or refresh its linked lead."""
        policy = self._config.trail_policy
        account_id, tx_ms = report.account_id, report.tx_epoch_ms
        partition = message.source.partition
        trail = self._trail(account_id, partition)
        if policy.max_hops >= 1 and followed(
            report.counterparty_account, account_id, report.amount_fen, policy
        ):
            lead = state.lead
            scored_open = (
                lead is not None
                and tx_ms >= lead.episode_start_ms
                and (
                    lead.participants_at_revision >= policy.min_source_payers
                    or any(m.startswith("account|") for m in lead.watchlist_matches)
                )
            )
            counterparty = report.counterparty_account
            if report.direction == "out":
                state.outflows.add(
                    counterparty,
                    report.amount_fen,
                    tx_ms,
                    report.tx_id,
                    policy.outflows_kept,
                    round(policy.outflows_kept_days * DAY_MS),
                )
            if (
                scored_open
                and lead is not None
                and (report.direction == "out" or (hit is not None and hit.role == "counterparty"))
            ):
                direction = (
                    TrailDirection.DOWNSTREAM
                    if report.direction == "out"
                    else TrailDirection.UPSTREAM
                )
                out.movements.append(
                    Movement(
                        counterparty,
                        direction.value,
                        lead.lead_id,
                        account_id,
                        0,
                        (account_id,),
                        report.amount_fen,
                        report.tx_id,
                        tx_ms,
                    )
                )
            elif (
                report.direction == "out"
                and trail is not None
                and trail.open_at(tx_ms, policy)
                and trail.hop < policy.max_hops
            ):
                out.movements.append(
                    downstream(
                        trail, account_id, counterparty, report.amount_fen, report.tx_id, tx_ms
                    )
                )
        if trail is None:
            return
        figures = (snapshot.participants, int(snapshot.features[PAYEES_30D]))
        if trail.revision_due(snapshot.newest_tx_ms, policy, figures):
            trail.revised(max(snapshot.newest_tx_ms, trail.last_ms), figures)
            self._trails_changed.add(account_id)
            linked = AccountFacts.from_snapshot(snapshot)
            out.leads.append(self._linked_lead(trail, linked, model, emitted_at))
            out.lead_arrivals_ms.append(message.source.timestamp_ms)

    def _apply_movement(
        self, message: InputMessage, model: ActiveModel | None, now: datetime, out: PipelineOutcome
    ) -> None:
        policy = self._config.trail_policy
        try:
            movement = Movement.from_json(message.value)
        except TrailRecordError as exc:
            out.movements_refused.append((message, str(exc)))
            return
        account_id = movement.to_account
        trail = self._trail(account_id, message.source.partition, create=True)
        assert trail is not None
        if not trail.apply(movement, policy):
            return
        out.movements_applied += 1
        self._trails_changed.add(account_id)
        state = self._existing_state(account_id)
        if state is None:
            return  # not (yet) an account of the reporting banks: its first report raises it
        out.movements.extend(passed_on(trail, account_id, state.outflows, policy))
        clock = max(trail.last_ms, state.features.newest_ms)
        if trail.revision_due(clock, policy):
            linked = AccountFacts.from_features(account_id, state.features)
            trail.revised(clock, (linked.participants, int(linked.features[PAYEES_30D])))
            arrival = message.source.timestamp_ms
            emitted_at = _utc_ms(arrival) if arrival is not None else now
            out.leads.append(self._linked_lead(trail, linked, model, emitted_at))
            out.lead_arrivals_ms.append(arrival)

    def _linked_lead(
        self,
        trail: TrailState,
        account: AccountFacts,
        model: ActiveModel | None,
        emitted_at: datetime,
    ) -> Lead:
        version = (model.view.version, model.view.threshold) if model is not None else ("", 0.0)
        return build_linked_lead(
            trail,
            account,
            self._config.trail_policy,
            self._config.lead_policy,
            version,
            emitted_at,
        )

    def _trail(self, account_id: str, partition: int, create: bool = False) -> TrailState | None:
        known = self._batch_trails.get(account_id)
        if known is None:
            blob = self._trails.get(account_id)
            trail = TrailState.from_bytes(blob) if blob is not None else None
            known = (partition, trail)
            self._batch_trails[account_id] = known
        if known[1] is None and create:
            known = (partition, TrailState())
            self._batch_trails[account_id] = known
        return known[1]

    def _existing_state(self, account_id: str) -> AccountState | None:
        """The account's state if it has reported anything (never creates one)."""
        if account_id in self._batch_states or self._accounts.get(account_id) is not None:
            return self._state(account_id)
        return None

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
