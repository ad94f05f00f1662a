"""Lead building: when an account becomes a lead, its episodes, revisions, severity and flags.

``observe`` is called once per accepted report, in the account's report order, by the streaming
worker and by the offline backtest alike. It depends only on its inputs (event times from the
snapshot; ``emitted_at`` is passed in), so both paths publish the same leads.

Episodes and revisions
  * A report is anomalous when its score >= ``ModelView.threshold``.
  * With no open episode, an anomalous report opens one and emits revision 1. The lead_id is
    "L" + 16 hex digits of blake2b over (bank_id, account_id, episode start), the episode start
    being the tx time of the opening report.
  * The account's event clock is its newest tx time seen (``snapshot.newest_tx_ms``), so a late
    report cannot move time backwards. An episode closes when a report arrives more than
    ``quiet_days_to_close`` after the last anomalous report's tx time; the next anomalous
    report opens a new lead with a new lead_id.
  * In an open episode an anomalous report emits the next revision (same lead_id) at once when
    the severity or a flag changes, or when money raised or participants have grown by at least
    ``revision_growth`` (50%) since the last revision; otherwise at most one routine revision per
    ``revision_interval_hours`` of event time.
  * A report below the threshold never emits.

Severity (schemas.lead.Severity), with the defaults of LeadPolicy
  * 涉案 case_related: the report involves an entity on the negative list (models.watchlist):
    the account itself (its account, customer id or name is listed) or its counterparty (money
    to or from a listed entity). Such a report counts as anomalous whatever its score, so a
    listed account's activity, or one payment to a listed scheme, raises or revises a lead.
    The lead carries the watchlist keys it matched (``watchlist_matches``) and a reason each.
  * 重大 major: money raised >= 5,000,000 yuan (500万元), or participants >= 200, or the lead is
    跨省重大.
  * 一般 general: otherwise.
  * 跨省重大 cross_province_major: counterparties in >= 2 provinces (so beyond Yunnan) and money
    raised >= 500,000,000 yuan (5亿元) or participants >= 1,000 (domain.md, 五(五)).
  * 跨州(市) cross_prefecture: any counterparty outside the account's prefecture.
  Money raised and participants are the account's lifetime figures from the snapshot. Within an
  episode severity and flags only go up: a lead once major stays major until the episode ends
  (the participant count is an estimate and must not make a lead flap).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
import orjson

from models.feature_names import FEATURE_NAMES
from models.features import AccountFeatures
from models.peers import own_past_reasons, peer_group, peer_reasons, peer_standing
from models.reasons import explain, watchlist_reasons
from models.snapshot import AccountSnapshot
from models.structure import structure_reasons
from models.watchlist import WatchlistHit
from schemas.errors import EX_DATAERR, FundwatchError
from schemas.glossary import county_of
from schemas.lead import Lead, Severity
from schemas.sectors import sector_of

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
LEAD_STATE_VERSION = 2  # 2 added watchlist_matches; version 1 values still decode
MAX_WATCHLIST_MATCHES = 8


PAYEES_30D = FEATURE_NAMES.index("distinct_payees_30d")
_SEVERITY_RANK = {Severity.GENERAL: 0, Severity.MAJOR: 1, Severity.CASE_RELATED: 2}
_SEVERITY_VALUES = frozenset(s.value for s in Severity)


class LeadStateError(FundwatchError, ValueError, exit_code=EX_DATAERR, http_status=500):
    """Stored lead state that cannot be decoded (corrupt, or written by an unknown version)."""


@dataclass(frozen=True)
class ModelView:
    """What lead building needs of the model in use."""

    version: str
    threshold: float  # anomaly score at or above which an account is anomalous
    score_quantiles: Mapping[str, float]  # e.g. "0.999" -> score
    # feature -> {"0.5", "0.9", "0.99", "0.999"} -> value, in natural units
    feature_quantiles: Mapping[str, Mapping[str, float]]
    # peer group -> feature -> limit, and accounts per group (models.peers)
    peer_limits: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    peer_accounts: Mapping[str, int] = field(default_factory=dict)
    # account -> its busiest value of each peer feature in the history (models.peers)
    own_limits: Mapping[str, Sequence[float]] = field(default_factory=dict)


@dataclass(frozen=True)
class LeadPolicy:
    quiet_days_to_close: float = 14.0  # an episode ends after this long with no anomalous report
    revision_interval_hours: float = 24.0  # at most one routine revision per this much event time
    revision_growth: float = 0.5  # ...but at once when money or participants grow by this share
    max_reasons: int = 5
    evidence_tx_ids: int = 5
    major_money_yuan: float = 5_000_000  # 重大
    major_participants: int = 200
    cross_province_money_yuan: float = 500_000_000  # 跨省重大
    cross_province_participants: int = 1000


@dataclass(frozen=True)
class LeadState:
    """The open episode of one account (None when there is none)."""

    lead_id: str
    revision: int  # the last emitted revision
    episode_start_ms: int
    last_anomalous_ms: int  # tx time of the newest anomalous report
    last_revision_ms: int  # account clock when the last revision was emitted
    severity: str  # as of the last revision, like the two flags
    cross_prefecture: bool
    cross_province_major: bool
    money_raised_fen_at_revision: int
    participants_at_revision: int
    # "role|watchlist key" of each listed entity this episode touched (role: account or
    # counterparty), oldest first, at most MAX_WATCHLIST_MATCHES.
    watchlist_matches: tuple[str, ...] = ()

    def to_bytes(self) -> bytes:
        """Compact JSON array, version first (about 120 bytes)."""
        return orjson.dumps(
            [
                LEAD_STATE_VERSION,
                self.lead_id,
                self.revision,
                self.episode_start_ms,
                self.last_anomalous_ms,
                self.last_revision_ms,
                self.severity,
                int(self.cross_prefecture),
                int(self.cross_province_major),
                self.money_raised_fen_at_revision,
                self.participants_at_revision,
                list(self.watchlist_matches),
            ]
        )

    @classmethod
    def from_bytes(cls, blob: bytes) -> LeadState:
        """Decode ``to_bytes``; LeadStateError when the blob is not a lead state we wrote."""
        try:
            fields = orjson.loads(blob)
        except orjson.JSONDecodeError as exc:
            raise LeadStateError(f"lead state is not JSON: {exc}") from exc
        if not isinstance(fields, list) or not fields or fields[0] not in (1, LEAD_STATE_VERSION):
            version = fields[0] if isinstance(fields, list) and fields else None
            raise LeadStateError(f"lead state version {version!r} is not supported")
        expected = 11 if fields[0] == 1 else 12
        if len(fields) != expected:
            raise LeadStateError(f"lead state has {len(fields)} fields, expected {expected}")
        matches = fields[11] if expected == 12 else []
        if not isinstance(matches, list) or not all(isinstance(m, str) for m in matches):
            raise LeadStateError(f"lead state has bad watchlist matches: {matches!r}")
        _, lead_id, revision, start, anomalous, revised, severity, cp, cpm, money, people = fields[
            :11
        ]
        if not isinstance(lead_id, str) or severity not in _SEVERITY_VALUES:
            raise LeadStateError(f"lead state has a bad lead_id or severity: {fields!r}")
        ints = (revision, start, anomalous, revised, cp, cpm, money, people)
        if not all(isinstance(n, int) and not isinstance(n, bool) for n in ints):
            raise LeadStateError(f"lead state has a non-integer field: {fields!r}")
        return cls(
            lead_id=lead_id,
            revision=revision,
            episode_start_ms=start,
            last_anomalous_ms=anomalous,
            last_revision_ms=revised,
            severity=severity,
            cross_prefecture=bool(cp),
            cross_province_major=bool(cpm),
            money_raised_fen_at_revision=money,
            participants_at_revision=people,
            watchlist_matches=tuple(matches),
        )


@dataclass(frozen=True, slots=True)
class _Assessment:
    """Severity and flags of the account as of one report."""

    severity: Severity
    cross_prefecture: bool
    cross_province_major: bool
    watchlist_matches: tuple[str, ...] = ()


def lead_id_of(bank_id: str, account_id: str, episode_start_ms: int) -> str:
    key = f"{bank_id}\x1f{account_id}\x1f{episode_start_ms}".encode()
    return "L" + hashlib.blake2b(key, digest_size=8).hexdigest()


def _yuan_to_fen(yuan: float) -> int:
    return round(yuan * 100)


def is_cross_province_major(
    counterparty_provinces: int, money_raised_fen: int, participants: int, policy: LeadPolicy
) -> bool:
    """跨省重大: counterparties beyond Yunnan and 5亿元 raised or 1,000 participants."""
    large = money_raised_fen >= _yuan_to_fen(policy.cross_province_money_yuan) or (
        participants >= policy.cross_province_participants
    )
    return counterparty_provinces >= 2 and large


def severity_of(
    money_raised_fen: int,
    participants: int,
    cross_province_major: bool,
    policy: LeadPolicy,
    listed: bool = False,
) -> Severity:
    if listed:
        return Severity.CASE_RELATED
    major = (
        money_raised_fen >= _yuan_to_fen(policy.major_money_yuan)
        or participants >= policy.major_participants
        or cross_province_major
    )
    return Severity.MAJOR if major else Severity.GENERAL


def _assess(
    snapshot: AccountSnapshot,
    policy: LeadPolicy,
    hit: WatchlistHit | None,
    state: LeadState | None,
) -> _Assessment:
    """Severity and flags now; within an open episode they never drop below the last revision."""
    cpm = is_cross_province_major(
        snapshot.counterparty_provinces, snapshot.money_raised_fen, snapshot.participants, policy
    )
    listed = hit is not None
    severity = severity_of(snapshot.money_raised_fen, snapshot.participants, cpm, policy, listed)
    matches = state.watchlist_matches if state is not None else ()
    if hit is not None:
        match = f"{hit.role}|{hit.entry_key}"
        if match not in matches and len(matches) < MAX_WATCHLIST_MATCHES:
            matches = (*matches, match)
    if state is None:
        return _Assessment(severity, snapshot.cross_prefecture, cpm, matches)
    previous = Severity(state.severity)
    if _SEVERITY_RANK[previous] > _SEVERITY_RANK[severity]:
        severity = previous
    return _Assessment(
        severity,
        snapshot.cross_prefecture or state.cross_prefecture,
        cpm or state.cross_province_major,
        matches,
    )


def _clock_ms(snapshot: AccountSnapshot) -> int:
    """The account's event clock: its newest tx time, which a late report does not move back."""
    return max(snapshot.newest_tx_ms, snapshot.last_tx_ms)


def _episode_over(state: LeadState, clock_ms: int, policy: LeadPolicy) -> bool:
    return clock_ms - state.last_anomalous_ms > policy.quiet_days_to_close * DAY_MS


def _grew(now: int, at_revision: int, growth: float) -> bool:
    return now > at_revision and now >= at_revision * (1.0 + growth)


def _revision_due(
    state: LeadState,
    assessment: _Assessment,
    snapshot: AccountSnapshot,
    clock_ms: int,
    policy: LeadPolicy,
) -> bool:
    changed = (
        assessment.watchlist_matches != state.watchlist_matches
        or assessment.severity.value != state.severity
        or assessment.cross_prefecture != state.cross_prefecture
        or assessment.cross_province_major != state.cross_province_major
    )
    grown = _grew(
        snapshot.money_raised_fen, state.money_raised_fen_at_revision, policy.revision_growth
    ) or _grew(snapshot.participants, state.participants_at_revision, policy.revision_growth)
    routine = clock_ms - state.last_revision_ms >= policy.revision_interval_hours * HOUR_MS
    return changed or grown or routine


def _revised_state(
    lead_id: str,
    revision: int,
    episode_start_ms: int,
    last_anomalous_ms: int,
    clock_ms: int,
    assessment: _Assessment,
    snapshot: AccountSnapshot,
) -> LeadState:
    return LeadState(
        lead_id=lead_id,
        revision=revision,
        episode_start_ms=episode_start_ms,
        last_anomalous_ms=last_anomalous_ms,
        last_revision_ms=clock_ms,
        severity=assessment.severity.value,
        cross_prefecture=assessment.cross_prefecture,
        cross_province_major=assessment.cross_province_major,
        money_raised_fen_at_revision=snapshot.money_raised_fen,
        participants_at_revision=snapshot.participants,
        watchlist_matches=assessment.watchlist_matches,
    )


def _utc(epoch_ms: int) -> datetime:
    return datetime.fromtimestamp(epoch_ms / 1000, UTC)


@dataclass(frozen=True)
class AccountFacts:
    """What a lead says of its account, scored or linked: who holds it and its figures, as of
    one of its reports (``from_snapshot``) or as its state stands (``from_features``)."""

    account_id: str
    bank_id: str
    account_type: str
    region: str
    industry: str | None
    customer_name: str | None
    customer_id: str | None
    money_raised_fen: int
    participants: int
    participants_sketch: str | None
    provinces: tuple[int, ...]
    cross_prefecture: bool
    features: np.ndarray
    recent_tx_ids: tuple[str, ...]

    @classmethod
    def from_snapshot(cls, snapshot: AccountSnapshot) -> AccountFacts:
        sketch = snapshot.participants_sketch
        return cls(
            account_id=snapshot.account_id,
            bank_id=snapshot.bank_id,
            account_type=snapshot.account_type,
            region=snapshot.region,
            industry=snapshot.industry,
            customer_name=snapshot.customer_name,
            customer_id=snapshot.customer_id,
            money_raised_fen=snapshot.money_raised_fen,
            participants=snapshot.participants,
            participants_sketch=sketch.to_text() if sketch is not None else None,
            provinces=snapshot.provinces,
            cross_prefecture=snapshot.cross_prefecture,
            features=snapshot.features,
            recent_tx_ids=snapshot.recent_tx_ids,
        )

    @classmethod
    def from_features(cls, account_id: str, features: AccountFeatures) -> AccountFacts:
        return cls(
            account_id=account_id,
            bank_id=features.bank_id,
            account_type=features.account_type,
            region=features.region,
            industry=features.industry,
            customer_name=features.customer_name,
            customer_id=features.customer_id,
            money_raised_fen=features.money_raised_fen,
            participants=features.participants.estimate(),
            participants_sketch=features.participants.to_text(),
            provinces=tuple(sorted(features.provinces)),
            cross_prefecture=features.cross_prefecture,
            features=features.vector(),
            recent_tx_ids=tuple(features.recent_tx_ids),
        )

    def lead_fields(self, evidence_tx_ids: int) -> dict[str, Any]:
        """The Lead fields that describe the account (the same for either kind of lead)."""
        sector = sector_of(self.industry)
        return {
            "account_id": self.account_id,
            "bank_id": self.bank_id,
            "region": self.region,
            "county": county_of(self.region),
            "sector": self.industry or "other",
            "seed_category": sector.seed_category,
            "lead_department": sector.department.code,
            "money_raised_fen": self.money_raised_fen,
            "participants": self.participants,
            "customer_name": self.customer_name,
            "evidence_tx_ids": self.recent_tx_ids[-evidence_tx_ids:] if evidence_tx_ids else (),
            "customer_id": self.customer_id,
            "account_type": self.account_type,
            "payees_30d": int(self.features[PAYEES_30D]),
            "counterparty_provinces": tuple(f"{p:02d}" for p in self.provinces),
            "participants_sketch": self.participants_sketch,
        }


def build_lead(
    state: LeadState,
    snapshot: AccountSnapshot,
    score: float,
    model: ModelView,
    policy: LeadPolicy,
    emitted_at: datetime,
) -> Lead:
    """The lead message of a just-revised state."""
    group = peer_group(snapshot.account_type, snapshot.industry)
    row = snapshot.features.reshape(1, -1)
    far_beyond = bool(peer_standing(row, [group], model.peer_limits)[1][0])
    return Lead(
        **AccountFacts.from_snapshot(snapshot).lead_fields(policy.evidence_tx_ids),
        lead_id=state.lead_id,
        revision=state.revision,
        score=score,
        threshold=model.threshold,
        model_version=model.version,
        severity=Severity(state.severity),
        cross_prefecture=state.cross_prefecture,
        cross_province_major=state.cross_province_major,
        first_evidence_time=_utc(state.episode_start_ms),
        last_evidence_time=_utc(state.last_anomalous_ms),
        emitted_at=emitted_at,
        reasons=watchlist_reasons(state.watchlist_matches)
        + structure_reasons(snapshot.features, far_beyond)
        + peer_reasons(snapshot.features, group, model.peer_limits, model.peer_accounts)
        + own_past_reasons(snapshot.features, snapshot.account_id, model.own_limits)
        + explain(snapshot.features, model.feature_quantiles, policy.max_reasons),
        watchlist_matches=state.watchlist_matches,
    )


def observe(
    state: LeadState | None,
    snapshot: AccountSnapshot,
    score: float,
    model: ModelView,
    policy: LeadPolicy,
    emitted_at: datetime,
    watchlist_hit: WatchlistHit | None = None,
) -> tuple[LeadState | None, Lead | None]:
    """Apply one scored report to the account's open episode: (new state, lead to publish).

    ``watchlist_hit`` is set when the report involves an entity on the negative list: the
    report then counts as anomalous and the lead is case-related (涉案).
    """
    clock_ms = _clock_ms(snapshot)
    if state is not None and _episode_over(state, clock_ms, policy):
        state = None
    if not score >= model.threshold and watchlist_hit is None:  # also false for NaN
        return state, None

    tx_ms = snapshot.last_tx_ms
    assessment = _assess(snapshot, policy, watchlist_hit, state)
    if state is None:
        lead_id = lead_id_of(snapshot.bank_id, snapshot.account_id, tx_ms)
        new = _revised_state(lead_id, 1, tx_ms, tx_ms, clock_ms, assessment, snapshot)
        return new, build_lead(new, snapshot, score, model, policy, emitted_at)

    last_anomalous_ms = max(state.last_anomalous_ms, tx_ms)
    if not _revision_due(state, assessment, snapshot, clock_ms, policy):
        return _with_last_anomalous(state, last_anomalous_ms), None
    new = _revised_state(
        state.lead_id,
        state.revision + 1,
        state.episode_start_ms,
        last_anomalous_ms,
        clock_ms,
        assessment,
        snapshot,
    )
    return new, build_lead(new, snapshot, score, model, policy, emitted_at)


def _with_last_anomalous(state: LeadState, last_anomalous_ms: int) -> LeadState:
    if last_anomalous_ms == state.last_anomalous_ms:
        return state
    return replace(state, last_anomalous_ms=last_anomalous_ms)
