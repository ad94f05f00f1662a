"""Money trails from leads (资金去向 / 资金来源): which accounts a lead's money reaches.

Pure: the worker and the offline runner call these with the same inputs. A *movement* is one
transfer that leaves (or, from a listed sender, reaches) an account with an open lead; it is
sent to the partition of the other account (the worker keys it by that account), where the
account's ``TrailState`` adds it up and, past the minimum, raises a linked lead.

Rules (``TrailPolicy`` defaults)
  * Downstream (资金去向): an account with an open lead sends >= 10,000 yuan in one transfer;
    the payee is linked. An open lead is a scored lead in its episode (the transfer no earlier
    than the episode's first anomalous report) whose account has taken money from at least
    10 payers (as of its last revision) or is itself on the negative list (not merely paid
    by or paying a listed entity: a listed employer's staff are not its accomplices), or a
    linked lead whose linked money arrived no later than the transfer and not more than 14
    days before it.
    The payer minimum keeps a flagged individual (a scheme's participant, say) from linking
    the fundraising account it pays into: trails follow pooled money, not single payments.
  * Upstream (资金来源): an account with such an open lead receives >= 10,000 yuan from a
    sender on the negative list; the sender is linked.
  * Money into a lead's account from anyone else links nobody: the senders of a fundraising
    account are its participants (the public) or its customers. So a busy merchant that pays
    a lead's account is never pulled in by that payment; one that *receives* 100,000 yuan or
    more from it is, with the transfers named in the lead.
  * Hops: a linked account passes the trail on one hop further, up to 3 hops from the scored
    lead. Cash and transfers to the account itself are not followed.
  * A linked lead is raised once the money linked to the account reaches 100,000 yuan in one
    episode, in at least 3 transfers; the episode ends after 14 days with no linked money. A
    scheme's pool moves on in repeated sweeps (快进快出); one or two large payments out of a
    lead's account are a deal (a purchase, a loan, a refund), which stays among the source
    account's transactions, not a pool passed on. One or two transfers link from 1,000,000
    yuan, the sum from which taking public deposits is prosecuted; money from a listed sender
    (upstream) links from one.
  * Except a participant's payment: money from downstream only, into an account that has 20
    or more payers of its own and had raised ten times as much (a school paid tuition by
    parents who are a scheme's salespeople, a developer paid a deposit by one of them) is a
    sliver of that account's takings, not a scheme's pool passed on. It raises no linked lead
    and carries the trail no further (models.schemes does not join schemes through it either).
  * Order: movements reach an account's partition later than its own reports may. So each
    account keeps its last few large outflows (``OutflowLog``), and when an account becomes
    linked its outflows since the linked money arrived are passed on then; a receiver counts
    each transfer once (by tx_id and sender). The result does not depend on which arrived first.

``TrailStage`` is the pipeline's last stage: once per batch, after the scored leads, it takes
the batch's scored reports (each with its account's lead just after it) and the movements that
arrived, and returns the linked leads raised, the movements to send and the trail states to
write.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import orjson

from ingest.pipeline import InputMessage, ReadView
from models.leads import DAY_MS, PAYEES_30D, AccountFacts, LeadPolicy, LeadState, severity_of
from models.leads import is_cross_province_major as _cross_province_major
from models.snapshot import AccountSnapshot
from models.watchlist import WatchlistHit
from schemas.errors import EX_DATAERR, FundwatchError
from schemas.glossary import yuan
from schemas.lead import Lead, LeadKind, Reason, TrailDirection, TrailLink
from schemas.report import TransactionReport

if TYPE_CHECKING:  # account_state keeps an OutflowLog: it imports this module
    from models.account_state import AccountState

TRAIL_STATE_VERSION = 1
MOVEMENT_VERSION = 1
CASH_ACCOUNT = "CASH"
MAX_SEEN_MOVEMENTS = 256  # per account: enough to recognise a replay after a crash
HOUR_MS = 3_600_000
END_OF_TIME_MS = 2**62  # a span end past any tx_time


class TrailRecordError(FundwatchError, ValueError, exit_code=EX_DATAERR, http_status=500):
    """A movement or trail state that cannot be decoded."""


@dataclass(frozen=True)
class TrailPolicy:
    max_hops: int = 3
    min_source_payers: int = 10  # a scored lead starts a trail from this many payers
    min_transfer_yuan: float = 10_000  # a transfer is followed from this amount
    min_linked_yuan: float = 100_000  # a linked lead is raised from this much linked money...
    min_linked_transfers: int = 3  # ...in this many transfers (see the module rules)...
    few_transfers_linked_yuan: float = 1_000_000  # ...or from this much in fewer
    quiet_days_to_close: float = 14.0  # a linked episode ends after this long without money
    outflows_kept: int = 32  # large outflows an account remembers for a late link...
    outflows_kept_days: float = 30.0  # ...and for how long
    revision_growth: float = 0.5  # a linked lead is revised when its money grows by this share
    revision_interval_hours: float = 24.0  # ...or routinely on the account's own reports
    sources_shown: int = 5
    # The figures that decide an account's role in a scheme (models.schemes): a linked lead
    # is revised when the account crosses one, so its latest revision tells the role.
    collector_min_payers: int = 20
    payout_min_payees: int = 20
    # A scheme's pool passed on is a large part of what its next account receives (a
    # controller: a quarter to all of it); one participant's money is a sliver (under 6 % in
    # the benchmark's merged schemes, where pools passed on were 9-97 % of a controller's).
    participant_share: float = 0.1

    @property
    def min_transfer_fen(self) -> int:
        return round(self.min_transfer_yuan * 100)

    @property
    def min_linked_fen(self) -> int:
        return round(self.min_linked_yuan * 100)

    @property
    def few_transfers_linked_fen(self) -> int:
        return round(self.few_transfers_linked_yuan * 100)

    @property
    def quiet_ms(self) -> int:
        return round(self.quiet_days_to_close * DAY_MS)


@dataclass(frozen=True, slots=True)
class Movement:
    """One followed transfer, on its way to the other account's partition (the record key)."""

    to_account: str
    direction: str  # TrailDirection
    source_lead_id: str
    source_account: str
    source_hop: int  # 0: the source is a scored lead
    path: tuple[str, ...]  # from the scored lead's account to source_account
    amount_fen: int
    tx_id: str
    tx_ms: int

    @property
    def identity(self) -> str:
        return f"{self.tx_id}\x1f{self.source_account}"

    def to_json(self) -> bytes:
        return orjson.dumps(
            [
                MOVEMENT_VERSION,
                self.to_account,
                self.direction,
                self.source_lead_id,
                self.source_account,
                self.source_hop,
                list(self.path),
                self.amount_fen,
                self.tx_id,
                self.tx_ms,
            ]
        )

    @classmethod
    def from_json(cls, blob: bytes) -> Movement:
        try:
            fields = orjson.loads(blob)
            version, to, direction, lead_id, source, hop, path, amount, tx_id, tx_ms = fields
        except (orjson.JSONDecodeError, TypeError, ValueError) as exc:
            raise TrailRecordError(f"not a movement record: {exc}") from None
        if version != MOVEMENT_VERSION or direction not in set(TrailDirection):
            raise TrailRecordError(f"movement version {version!r} / {direction!r} not known")
        return cls(to, direction, lead_id, source, hop, tuple(path), amount, tx_id, tx_ms)


@dataclass(slots=True)
class TrailSource:
    """The money linked to an account from one source lead, in the current episode."""

    lead_id: str
    account: str
    direction: str
    hop: int  # this account's hop through this source
    path: tuple[str, ...]  # to the source account (this account not included)
    amount_fen: int
    transfers: int
    first_ms: int
    last_ms: int

    def to_list(self) -> list[object]:
        return [
            self.lead_id,
            self.account,
            self.direction,
            self.hop,
            list(self.path),
            self.amount_fen,
            self.transfers,
            self.first_ms,
            self.last_ms,
        ]

    @classmethod
    def from_list(cls, row: list) -> TrailSource:  # type: ignore[type-arg]
        lead_id, account, direction, hop, path, amount, transfers, first, last = row
        return cls(lead_id, account, direction, hop, tuple(path), amount, transfers, first, last)


@dataclass(slots=True)
class TrailState:
    """What an account knows of the leads whose money reached it (one table value)."""

    episode: int = 0  # linked episodes before the current one
    sources: dict[str, TrailSource] = field(default_factory=dict)
    seen: list[str] = field(default_factory=list)  # movement identities, newest last
    revision: int = 0  # the linked lead's last revision in this episode (0: none yet)
    amount_at_revision: int = 0
    sources_at_revision: int = 0
    hop_at_revision: int = 0
    last_revision_ms: int = 0
    payers_at_revision: int = 0
    payees_at_revision: int = 0
    # The span of the linked money (its start, its end plus the quiet days) when the account's
    # own outflows were last passed on: a late movement that widens it, at either end, passes
    # on the outflows it newly covers.
    passed_on_span: tuple[int, int] | None = None

    # -- figures ---------------------------------------------------------------------------

    @property
    def amount_fen(self) -> int:
        return sum(s.amount_fen for s in self.sources.values())

    @property
    def first_ms(self) -> int:
        return min((s.first_ms for s in self.sources.values()), default=0)

    @property
    def last_ms(self) -> int:
        return max((s.last_ms for s in self.sources.values()), default=0)

    @property
    def hop(self) -> int:
        return min((s.hop for s in self.sources.values()), default=0)

    def linked(self, policy: TrailPolicy) -> bool:
        """Whether the linked money makes a linked lead (see the module rules). Only grows
        within an episode: movements only add money and transfers."""
        amount = self.amount_fen
        if not self.sources or amount < policy.min_linked_fen:
            return False
        return (
            amount >= policy.few_transfers_linked_fen
            or sum(s.transfers for s in self.sources.values()) >= policy.min_linked_transfers
            or any(s.direction == TrailDirection.UPSTREAM for s in self.sources.values())
        )

    def open_at(self, tx_ms: int, policy: TrailPolicy) -> bool:
        """Whether money sent at tx_ms carries the trail on (see the module rules)."""
        return self.linked(policy) and self.first_ms <= tx_ms <= self.last_ms + policy.quiet_ms

    def nearest(self) -> TrailSource:
        """The source to pass on: fewest hops, then the most money, then the lead id."""
        return min(self.sources.values(), key=lambda s: (s.hop, -s.amount_fen, s.lead_id))

    def lead_id(self, account_id: str) -> str:
        key = f"linked\x1f{account_id}\x1f{self.episode}".encode()
        return "L" + hashlib.blake2b(key, digest_size=8).hexdigest()

    # -- updating --------------------------------------------------------------------------

    def apply(self, movement: Movement, policy: TrailPolicy) -> bool:
        """Add one movement; False when it was already counted (a replay or a late copy)."""
        if movement.identity in self.seen:
            return False
        self.seen = [*self.seen[-(MAX_SEEN_MOVEMENTS - 1) :], movement.identity]
        if self.sources and movement.tx_ms > self.last_ms + policy.quiet_ms:
            self._next_episode()
        source = self.sources.get(movement.source_lead_id)
        if source is None:
            self.sources[movement.source_lead_id] = TrailSource(
                movement.source_lead_id,
                movement.source_account,
                movement.direction,
                movement.source_hop + 1,
                movement.path,
                movement.amount_fen,
                1,
                movement.tx_ms,
                movement.tx_ms,
            )
        else:
            source.amount_fen += movement.amount_fen
            source.transfers += 1
            source.first_ms = min(source.first_ms, movement.tx_ms)
            source.last_ms = max(source.last_ms, movement.tx_ms)
        return True

    def _next_episode(self) -> None:
        self.episode += 1
        self.sources = {}
        self.revision = self.amount_at_revision = self.sources_at_revision = 0
        self.hop_at_revision = self.last_revision_ms = 0
        self.payers_at_revision = self.payees_at_revision = 0
        self.passed_on_span = None

    def revision_due(
        self, clock_ms: int, policy: TrailPolicy, figures: tuple[int, int] | None = None
    ) -> bool:
        """A linked lead is raised once linked, and revised when its money grows by half, a
        new source lead links it, or it comes nearer to one. On the account's own reports
        (``figures``: its payers and 30-day payees then) also when it crosses a figure that
        decides its role in a scheme, and routinely, so that its figures stay current."""
        if not self.linked(policy):
            return False
        if self.revision == 0:
            return True
        amount = self.amount_fen
        grown = amount >= self.amount_at_revision * (1 + policy.revision_growth)
        changed = len(self.sources) > self.sources_at_revision or self.hop < self.hop_at_revision
        if figures is None:
            return grown or changed
        payers, payees = figures
        crossed = (self.payers_at_revision < policy.collector_min_payers <= payers) or (
            self.payees_at_revision < policy.payout_min_payees <= payees
        )
        routine = clock_ms - self.last_revision_ms >= policy.revision_interval_hours * HOUR_MS
        return grown or changed or crossed or routine

    def revised(self, clock_ms: int, figures: tuple[int, int]) -> None:
        self.revision += 1
        self.amount_at_revision = self.amount_fen
        self.sources_at_revision = len(self.sources)
        self.hop_at_revision = self.hop
        self.last_revision_ms = clock_ms
        self.payers_at_revision, self.payees_at_revision = figures

    # -- encoding --------------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        return orjson.dumps(
            [
                TRAIL_STATE_VERSION,
                self.episode,
                [s.to_list() for s in self.sources.values()],
                self.seen,
                [
                    self.revision,
                    self.amount_at_revision,
                    self.sources_at_revision,
                    self.hop_at_revision,
                    self.last_revision_ms,
                    self.payers_at_revision,
                    self.payees_at_revision,
                ],
                self.passed_on_span,
            ]
        )

    @classmethod
    def from_bytes(cls, blob: bytes) -> TrailState:
        try:
            version, episode, sources, seen, revision, passed_on = orjson.loads(blob)
        except (orjson.JSONDecodeError, TypeError, ValueError) as exc:
            raise TrailRecordError(f"not a trail state: {exc}") from None
        if version != TRAIL_STATE_VERSION:
            raise TrailRecordError(f"trail state version {version!r} is not supported")
        # revision: the stored list of the *_at_revision fields, in their order
        if isinstance(passed_on, int):
            # Written before the span's end was kept: the start alone, which covered all after.
            passed_on = (passed_on, END_OF_TIME_MS)
        elif passed_on is not None:
            passed_on = tuple(passed_on)
        state = cls(episode, {}, seen, *revision, passed_on)  # type: ignore[call-arg]
        for row in sources:
            source = TrailSource.from_list(row)
            state.sources[source.lead_id] = source
        return state


@dataclass(slots=True)
class OutflowLog:
    """An account's large outflows of the last weeks: [payee, fen, tx_ms, tx_id].

    A link can reach an account days (of event time) after its own reports when the worker
    is catching up on a backlog, so the log is bounded by time and size, and when full it
    forgets the smallest transfer first: the pooled sums a trail exists to follow stay."""

    entries: list[list] = field(default_factory=list)  # type: ignore[type-arg]

    def add(
        self, payee: str, amount_fen: int, tx_ms: int, tx_id: str, keep: int, keep_ms: int
    ) -> None:
        self.entries.append([payee, amount_fen, tx_ms, tx_id])
        newest = max(e[2] for e in self.entries)
        self.entries = [e for e in self.entries if e[2] >= newest - keep_ms]
        if len(self.entries) > keep:
            self.entries.sort(key=lambda e: (-e[1], -e[2], e[3]))
            del self.entries[keep:]
            self.entries.sort(key=lambda e: (e[2], e[3]))


def followed(counterparty: str, account_id: str, amount_fen: int, policy: TrailPolicy) -> bool:
    """Whether a transfer is one a trail follows: large enough, to another real account."""
    return (
        amount_fen >= policy.min_transfer_fen
        and counterparty != account_id
        and counterparty != CASH_ACCOUNT
    )


def is_participant_share(
    amount_fen: int, participants: int, money_raised_fen: int, min_payers: int, share: float
) -> bool:
    """Whether downstream money into an account is a participant's sliver of its takings: the
    account has ``min_payers`` payers of its own and the money is under ``share`` of what it
    raised (the one rule of models.trails and models.schemes)."""
    return participants >= min_payers and amount_fen < share * money_raised_fen


def participant_payment(
    trail: TrailState, participants: int, money_raised_fen: int, policy: TrailPolicy
) -> bool:
    """Whether the money linked to an account is only participants' payments into a collector
    of its own (see the module rules)."""
    return is_participant_share(
        trail.amount_fen,
        participants,
        money_raised_fen,
        policy.collector_min_payers,
        policy.participant_share,
    ) and all(s.direction == TrailDirection.DOWNSTREAM.value for s in trail.sources.values())


def passed_on(
    trail: TrailState, account_id: str, outflows: OutflowLog, policy: TrailPolicy
) -> list[Movement]:
    """The movements a newly linked account owes for its outflows since the linked money
    arrived (the ones its own reports could not pass on before the link reached it)."""
    if not trail.linked(policy) or trail.hop >= policy.max_hops:
        return []
    # Within an episode the span only widens: its sources only add money.
    start, end = trail.first_ms, trail.last_ms + policy.quiet_ms
    already = trail.passed_on_span
    if already is not None and already[0] <= start and end <= already[1]:
        return []
    trail.passed_on_span = (start, end)
    return [
        downstream(trail, account_id, payee, fen, tx_id, tx_ms)
        for payee, fen, tx_ms, tx_id in outflows.entries
        if start <= tx_ms <= end and (already is None or not already[0] <= tx_ms <= already[1])
    ]


def downstream(
    trail: TrailState, account_id: str, payee: str, amount_fen: int, tx_id: str, tx_ms: int
) -> Movement:
    """A linked account's outflow, carrying its nearest trail one hop further."""
    nearest = trail.nearest()
    return Movement(
        to_account=payee,
        direction=TrailDirection.DOWNSTREAM.value,
        source_lead_id=trail.lead_id(account_id),
        source_account=account_id,
        source_hop=trail.hop,
        path=(*nearest.path, account_id),
        amount_fen=amount_fen,
        tx_id=tx_id,
        tx_ms=tx_ms,
    )


def _utc(epoch_ms: int) -> datetime:
    return datetime.fromtimestamp(epoch_ms / 1000, UTC)


def trail_reasons(trail: TrailState, policy: TrailPolicy) -> tuple[Reason, ...]:
    """One reason per source lead, the most money first."""
    reasons = []
    ranked = sorted(trail.sources.values(), key=lambda s: (-s.amount_fen, s.lead_id))
    for source in ranked[: policy.sources_shown]:
        amount = yuan(source.amount_fen)
        if source.direction == TrailDirection.DOWNSTREAM:
            zh = (
                f"资金去向：线索 {source.lead_id} 的账户 {source.account} 转入 {amount} 元"
                f"（{source.transfers} 笔，第 {source.hop} 跳）"
            )
            en = (
                f"money trail: received {amount} yuan in {source.transfers} transfer(s) from "
                f"account {source.account} of lead {source.lead_id} (hop {source.hop})"
            )
        else:
            zh = (
                f"资金来源：向线索 {source.lead_id} 的账户 {source.account} 转出 {amount} 元"
                f"（{source.transfers} 笔，本账户主体在负面清单上）"
            )
            en = (
                f"money source: sent {amount} yuan in {source.transfers} transfer(s) to account "
                f"{source.account} of lead {source.lead_id} (this account's holder is listed)"
            )
        reasons.append(
            Reason(f"trail_{source.direction}", source.amount_fen / 100, 100.0, 0.0, zh, en)
        )
    return tuple(reasons)


def trail_links(trail: TrailState) -> tuple[TrailLink, ...]:
    ranked = sorted(trail.sources.values(), key=lambda s: (-s.amount_fen, s.lead_id))
    return tuple(
        TrailLink(
            source_lead_id=s.lead_id,
            source_account=s.account,
            direction=s.direction,
            hop=s.hop,
            path=s.path,
            amount_fen=s.amount_fen,
            transfers=s.transfers,
            first_tx_time=_utc(s.first_ms),
            last_tx_time=_utc(s.last_ms),
        )
        for s in ranked
    )


def build_linked_lead(
    trail: TrailState,
    account: AccountFacts,
    policy: TrailPolicy,
    lead_policy: LeadPolicy,
    model: tuple[str, float],
    emitted_at: datetime,
) -> Lead:
    """The linked lead of an account as its trail stands (``revised`` already applied).
    ``model``: (version, threshold) of the model in use; a linked lead has no score of its
    own (0.0): it is raised by the money, not by the forest."""
    cpm = _cross_province_major(
        len(account.provinces), account.money_raised_fen, account.participants, lead_policy
    )
    return Lead(
        **account.lead_fields(lead_policy.evidence_tx_ids),
        lead_id=trail.lead_id(account.account_id),
        revision=trail.revision,
        score=0.0,
        threshold=model[1],
        model_version=model[0],
        severity=severity_of(account.money_raised_fen, account.participants, cpm, lead_policy),
        cross_prefecture=account.cross_prefecture,
        cross_province_major=cpm,
        first_evidence_time=_utc(trail.first_ms),
        last_evidence_time=_utc(trail.last_ms),
        emitted_at=emitted_at,
        reasons=trail_reasons(trail, policy),
        kind=LeadKind.LINKED.value,
        hop=trail.hop,
        trail=trail_links(trail),
    )


# -- the pipeline stage ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FollowedReport:
    """One scored report of the batch, as the trail stage reads it."""

    report: TransactionReport
    snapshot: AccountSnapshot  # its account right after it
    lead: LeadState | None  # the account's scored lead right after it
    hit: WatchlistHit | None  # the negative-list entity it involves, if any
    partition: int
    arrival_ms: int | None  # when it reached Kafka
    emitted_at: datetime  # the time stamp of a lead it raises


@dataclass
class TrailOutcome:
    # Per followed report, in order: the linked lead it raised or revised (or None).
    linked_on_reports: list[Lead | None] = field(default_factory=list)
    # The linked leads the arrived movements raised or revised: (lead, arrival epoch ms).
    linked_on_movements: list[tuple[Lead, int | None]] = field(default_factory=list)
    # Transfers that carry a lead's money trail on, each for its counterparty's partition.
    movements: list[Movement] = field(default_factory=list)
    # One write per account whose trail changed: (partition, encoded TrailState).
    writes: dict[str, tuple[int, bytes]] = field(default_factory=dict)
    movements_applied: int = 0
    movements_refused: list[tuple[InputMessage, str]] = field(default_factory=list)


class TrailStage:
    """Money trails over one batch: the accounts' own reports first, then the movements.

    ``trails``: the trail table (account -> encoded TrailState). ``account``: the account's
    state as the batch left it, or None for an account that has never reported (the stage
    adds to its outflow log and reads its features, never creates one).
    """

    def __init__(
        self,
        trails: ReadView,
        account: Callable[[str], AccountState | None],
        policy: TrailPolicy,
        lead_policy: LeadPolicy,
    ) -> None:
        self._table = trails
        self._account = account
        self._policy = policy
        self._lead_policy = lead_policy
        # account -> (partition, trail) read or changed in this batch; the changed ones
        self._batch: dict[str, tuple[int, TrailState | None]] = {}
        self._changed: set[str] = set()

    def process(
        self,
        reports: Sequence[FollowedReport],
        movements: Sequence[InputMessage],
        model: tuple[str, float],
        now: datetime,
    ) -> TrailOutcome:
        """``model``: (version, threshold) of the model in use, for the linked leads."""
        self._batch = {}
        self._changed = set()
        out = TrailOutcome()
        for followed_report in reports:
            out.linked_on_reports.append(self._follow(followed_report, model, out))
        for message in movements:
            self._apply(message, model, now, out)
        for account_id in sorted(self._changed):
            partition, trail = self._batch[account_id]
            assert trail is not None
            out.writes[account_id] = (partition, trail.to_bytes())
        return out

    def _follow(
        self, followed_report: FollowedReport, model: tuple[str, float], out: TrailOutcome
    ) -> Lead | None:
        """Pass the trail on from an account's own report; raise or refresh its linked lead."""
        policy = self._policy
        report, snapshot = followed_report.report, followed_report.snapshot
        hit = followed_report.hit
        account_id, tx_ms = report.account_id, report.tx_epoch_ms
        trail = self._trail(account_id, followed_report.partition)
        if trail is not None and participant_payment(
            trail, snapshot.participants, snapshot.money_raised_fen, policy
        ):
            trail = None  # this account carries no trail on, and has no linked lead
        if policy.max_hops >= 1 and followed(
            report.counterparty_account, account_id, report.amount_fen, policy
        ):
            lead = followed_report.lead
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
                state = self._account(account_id)
                assert state is not None  # it has just reported
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
            return None
        figures = (snapshot.participants, int(snapshot.features[PAYEES_30D]))
        if not trail.revision_due(snapshot.newest_tx_ms, policy, figures):
            return None
        trail.revised(max(snapshot.newest_tx_ms, trail.last_ms), figures)
        self._changed.add(account_id)
        linked = AccountFacts.from_snapshot(snapshot)
        return self._linked_lead(trail, linked, model, followed_report.emitted_at)

    def _apply(
        self, message: InputMessage, model: tuple[str, float], now: datetime, out: TrailOutcome
    ) -> None:
        """Add an arrived movement to its account's trail; pass it on, raise a linked lead."""
        policy = self._policy
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
        self._changed.add(account_id)
        state = self._account(account_id)
        if state is None:
            return  # not (yet) an account of the reporting banks: its first report raises it
        features = state.features
        if participant_payment(
            trail, features.participants.estimate(), features.money_raised_fen, policy
        ):
            return
        out.movements.extend(passed_on(trail, account_id, state.outflows, policy))
        clock = max(trail.last_ms, state.features.newest_ms)
        if trail.revision_due(clock, policy):
            linked = AccountFacts.from_features(account_id, state.features)
            trail.revised(clock, (linked.participants, int(linked.features[PAYEES_30D])))
            arrival = message.source.timestamp_ms
            emitted_at = _utc(arrival) if arrival is not None else now
            out.linked_on_movements.append(
                (self._linked_lead(trail, linked, model, emitted_at), arrival)
            )

    def _linked_lead(
        self,
        trail: TrailState,
        account: AccountFacts,
        model: tuple[str, float],
        emitted_at: datetime,
    ) -> Lead:
        return build_linked_lead(trail, account, self._policy, self._lead_policy, model, emitted_at)

    def _trail(self, account_id: str, partition: int, create: bool = False) -> TrailState | None:
        known = self._batch.get(account_id)
        if known is None:
            blob = self._table.get(account_id)
            trail = TrailState.from_bytes(blob) if blob is not None else None
            known = (partition, trail)
            self._batch[account_id] = known
        if known[1] is None and create:
            known = (partition, TrailState())
            self._batch[account_id] = known
        return known[1]
