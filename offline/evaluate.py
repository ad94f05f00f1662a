"""Evaluation of leads against ground truth: account-level precision and recall, per typology
recall, detection delay and PR-AUC; per AMLSim pattern recall and the rank of its members; and
scheme-level recall of the suspected schemes (案件线索) built from the leads.

Pure functions over already-decoded inputs, plus a text/markdown renderer:
  * truth: the simulator's truth.json (``schemes``: typology, collector / controller / payout
    accounts, first_tx_time) or the AMLSim truth.json of convert.py (``alerts``: typology
    fan_in / fan_out / cycle, member accounts); told apart by those keys.
  * leads: lead dicts (``Lead.to_json()`` decoded), any number of revisions per lead_id. Only
    each lead_id's first revision is used, for the time of detection.
  * scores (optional): account_id -> the account's maximum anomaly score over the run, for
    every scored account (``fundwatch backtest --scores``). Truth accounts missing from it are
    unscored and count with score 0.

What is measured (the rendered report states this too):
  * An account is flagged when any lead names it, at any time in the run. Scheme accounts are
    the scheme's own accounts at the reporting banks (collectors, controllers, payout accounts);
    participants and the external sink are not counted.
  * precision = flagged accounts that belong to any scheme / all flagged accounts;
    recall = scheme accounts flagged / all scheme accounts.
  * Detection delay of a scheme (event time): from its first_tx_time to the last_evidence_time
    of the first revision of the earliest lead on any of its accounts that is not older than
    the scheme. Undetected schemes are left out of the median and the maximum.
  * PR-AUC is sklearn's average precision of the per-account maximum score; positives are the
    typology's accounts, negatives are the scored accounts in no scheme. Its chance level is
    the positive share, reported beside it.

Scheme level (models.schemes.build_schemes over the latest revision of each lead_id, i.e.
the suspected schemes as they stand at the end of the run; each account is in at most one):
  * Simulator: a truth scheme is found when all its collectors and controllers are members of
    one single suspected scheme (the truth lists only accounts at the simulated banks; the
    payout account may be missing). AMLSim (no roles): an alert is found when at least two of
    its members are flagged and all of its flagged members are in one suspected scheme.
  * A truth scheme's suspected scheme is the one holding the most of its collectors and
    controllers (AMLSim: members), then of its accounts: the match when found, else its
    largest fragment. Spurious members are accounts of that suspected scheme in no truth
    scheme; a false scheme is a suspected scheme holding no truth scheme's account.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from sklearn.metrics import average_precision_score

from models.forest import FundraisingForest
from models.schemes import Scheme, SchemeMember, build_schemes
from schemas.errors import FundwatchError
from schemas.glossary import yuan

SIMULATOR = "simulator"
AMLSIM = "amlsim"
COLLECTOR = "collector"
CONTROLLER = "controller"
PAYOUT = "payout"
MEMBER = "member"  # AMLSim gives no roles
HOUR_MS = 3_600_000
# Keys of a simulator scheme that list its own accounts, and the role each gives.
SCHEME_ROLES = (
    ("collector_accounts", COLLECTOR),
    ("controller_accounts", CONTROLLER),
    ("payout_accounts", PAYOUT),
)


class EvaluationInputError(FundwatchError, ValueError):
    """Truth, leads or scores that cannot be read."""


@dataclass(frozen=True, slots=True)
class Pattern:
    """One scheme (simulator) or alert pattern (AMLSim)."""

    pattern_id: str
    typology: str
    roles: Mapping[str, str]  # account_id -> role
    first_tx_ms: int | None  # None for AMLSim, whose truth has no times
    # The simulator's own figures (None for AMLSim): its participants wherever they bank, those
    # of them at the simulated (reporting) banks, and the money they paid the collectors.
    participants: int | None = None
    participants_at_banks: int | None = None
    amount_raised_fen: int | None = None


@dataclass(frozen=True, slots=True)
class Truth:
    source: str  # SIMULATOR or AMLSIM
    patterns: tuple[Pattern, ...]
    lookalikes: frozenset[str]  # legitimate accounts that resemble collectors (simulator)
    # account -> kind of look-alike (school, hospital, ...), when the truth names them
    lookalike_kinds: Mapping[str, str] = field(default_factory=dict)
    # The simulator's accounts at the reporting banks and its days (None for AMLSim): the
    # denominators of the analysts' workload.
    reporting_accounts: int | None = None
    period_days: float | None = None

    def accounts(self) -> set[str]:
        return {a for p in self.patterns for a in p.roles}


@dataclass(frozen=True, slots=True)
class TypologyResult:
    typology: str
    schemes: int
    scheme_accounts: int
    flagged: int
    recall: float | None
    collector_recall: float | None  # None when the typology has no such accounts
    controller_recall: float | None
    schemes_detected: int
    median_delay_hours: float | None  # over detected schemes with a known start
    max_delay_hours: float | None
    pr_auc: float | None  # None without scores or without negatives
    positive_share: float | None  # the chance level of pr_auc


@dataclass(frozen=True, slots=True)
class LookalikeResult:
    """Legitimate look-alikes of one kind, and how many of them got a lead."""

    kind: str
    accounts: int
    flagged: int

    @property
    def rate(self) -> float | None:
        return self.flagged / self.accounts if self.accounts else None


@dataclass(frozen=True, slots=True)
class AlertRatePoint:
    """Accounts whose highest score reaches the threshold of one alert rate (the training
    scores' quantile the model stores): scored leads only, no money trails or negative list."""

    alert_rate: float
    threshold: float
    flagged: int
    precision: float | None
    recall: float | None
    lookalikes_flagged: int
    flagged_per_10k_month: float | None
    operating_point: bool  # the model's own threshold


@dataclass(frozen=True, slots=True)
class PatternResult:
    pattern_id: str
    typology: str
    members: int
    flagged: int
    recall: float | None
    median_rank: float | None  # 1 = highest score; None without scores


@dataclass(frozen=True, slots=True)
class RoleCount:
    """How many of a truth scheme's accounts of one role are in its suspected scheme."""

    role: str
    in_scheme: int
    total: int


@dataclass(frozen=True, slots=True)
class SchemeMatch:
    """One truth scheme (or AMLSim alert) against the suspected schemes."""

    pattern_id: str
    typology: str
    found: bool
    scheme_id: str | None  # its suspected scheme (the match when found); None: in none
    schemes_holding: int  # suspected schemes holding any of its accounts (2+: split)
    roles: tuple[RoleCount, ...]  # simulator: collector, controller, payout; AMLSim: member
    flagged: int  # its accounts named by any lead
    via_trail: int  # its accounts in the suspected scheme that a money trail reached
    roles_right: int | None  # ...whose role there is the truth's; None for AMLSim
    spurious: tuple[str, ...]  # accounts of the suspected scheme in no truth scheme
    other_patterns: tuple[str, ...]  # other truth schemes with accounts in the suspected scheme
    participants: int | None  # of the suspected scheme
    money_raised_fen: int | None
    truth_participants: int | None
    truth_participants_at_banks: int | None
    truth_amount_raised_fen: int | None


@dataclass(frozen=True, slots=True)
class TypologySchemes:
    typology: str  # or "all"
    schemes: int
    found: int
    split: int  # truth schemes whose accounts are in two or more suspected schemes
    spurious: int  # distinct spurious members of their suspected schemes


@dataclass(frozen=True, slots=True)
class SchemeEvaluation:
    suspected: int  # suspected schemes built from the leads
    matches: tuple[SchemeMatch, ...]  # in truth order
    typologies: tuple[TypologySchemes, ...]  # per typology, then "all"
    false_schemes: tuple[str, ...]  # suspected schemes holding no truth scheme's account
    false_scheme_accounts: int

    @property
    def found(self) -> int:
        return sum(1 for m in self.matches if m.found)


@dataclass(frozen=True, slots=True)
class Evaluation:
    source: str
    lead_ids: int
    flagged_accounts: int
    flagged_in_schemes: int
    precision: float | None  # None when nothing was flagged
    scheme_accounts: int
    recall: float | None
    typologies: tuple[TypologyResult, ...]
    patterns: tuple[PatternResult, ...]  # per AMLSim alert; empty for the simulator
    pr_auc: float | None
    positive_share: float | None
    ranked_accounts: int | None  # scored accounts plus unscored truth accounts
    unscored_scheme_accounts: int | None
    negatives: int | None  # scored accounts in no scheme
    lookalikes: int
    lookalikes_flagged: int
    schemes: SchemeEvaluation
    lookalike_kinds: tuple[LookalikeResult, ...] = ()  # per kind, when the truth names kinds
    # The analysts' workload: lead ids per 10,000 reporting accounts per 30 days (None when
    # the truth gives neither the accounts nor the days).
    leads_per_10k_month: float | None = None
    accounts_per_10k_month: float | None = None
    alert_rates: tuple[AlertRatePoint, ...] = ()  # with the model's score quantiles


# -- reading inputs ----------------------------------------------------------------------------


def parse_truth(data: Mapping[str, Any]) -> Truth:
    """The simulator's or AMLSim's truth.json, told apart by its keys."""
    try:
        if "schemes" in data:
            return _simulator_truth(data)
        if "alerts" in data:
            return _amlsim_truth(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise EvaluationInputError(f"truth file is malformed: {exc!r}") from exc
    raise EvaluationInputError("truth has neither 'schemes' (simulator) nor 'alerts' (AMLSim)")


def _simulator_truth(data: Mapping[str, Any]) -> Truth:
    patterns = []
    for scheme in data["schemes"]:
        roles: dict[str, str] = {}
        for key, role in SCHEME_ROLES:
            for account in scheme.get(key, []):
                roles.setdefault(account, role)
        first = scheme.get("first_tx_time")
        first_ms = _epoch_ms(first) if first else None
        patterns.append(
            Pattern(
                str(scheme["scheme_id"]),
                scheme["typology"],
                roles,
                first_ms,
                participants=_optional_int(scheme.get("participants")),
                participants_at_banks=_optional_int(scheme.get("participants_at_simulated_banks")),
                amount_raised_fen=_optional_int(scheme.get("amount_raised_fen")),
            )
        )
    kinds = {str(a): str(k) for a, k in data.get("lookalike_kinds", {}).items()}
    lookalikes = frozenset(data.get("legit_lookalikes", [])) | frozenset(kinds)
    by_bank = data.get("accounts", {}).get("by_bank")
    days = data.get("config", {}).get("days")
    return Truth(
        SIMULATOR,
        tuple(patterns),
        lookalikes,
        kinds,
        reporting_accounts=sum(int(n) for n in by_bank.values()) if by_bank else None,
        period_days=float(days) if days else None,
    )


def _amlsim_truth(data: Mapping[str, Any]) -> Truth:
    patterns = tuple(
        Pattern(
            str(alert["alert_id"]),
            alert["typology"],
            dict.fromkeys(alert["accounts"], MEMBER),
            None,
        )
        for alert in data["alerts"]
    )
    return Truth(AMLSIM, patterns, frozenset())


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _epoch_ms(iso_time: str) -> int:
    moment = datetime.fromisoformat(iso_time)
    if moment.tzinfo is None:
        raise ValueError(f"time without a zone: {iso_time!r}")
    return round(moment.timestamp() * 1000)


def first_detections(leads: Iterable[Mapping[str, Any]]) -> dict[str, list[int]]:
    """account_id -> detection times (epoch ms) of its leads, earliest first: the
    last_evidence_time of each lead_id's lowest revision."""
    first: dict[str, tuple[int, str, int]] = {}  # lead_id -> (revision, account, time)
    try:
        for lead in leads:
            revision = int(lead["revision"])
            known = first.get(lead["lead_id"])
            if known is None or revision < known[0]:
                seen_ms = _epoch_ms(lead["last_evidence_time"])
                first[lead["lead_id"]] = (revision, lead["account_id"], seen_ms)
    except (KeyError, TypeError, ValueError) as exc:
        raise EvaluationInputError(f"lead is malformed: {exc!r}") from exc
    by_account: dict[str, list[int]] = defaultdict(list)
    for _, account, seen_ms in first.values():
        by_account[account].append(seen_ms)
    return {account: sorted(times) for account, times in by_account.items()}


def leads_from_jsonl(lines: Iterable[bytes]) -> list[dict[str, Any]]:
    """Lead dicts from the lines of a leads file (blank lines skipped)."""
    return [_json_line(line) for line in lines if line.strip()]


def scores_from_jsonl(lines: Iterable[bytes]) -> dict[str, float]:
    """account_id -> score from the backtest's scores file ({"account_id", "score"} lines)."""
    scores: dict[str, float] = {}
    for line in lines:
        if line.strip():
            row = _json_line(line)
            try:
                scores[row["account_id"]] = float(row["score"])
            except (KeyError, TypeError, ValueError) as exc:
                raise EvaluationInputError(f"score line is malformed: {exc!r}") from exc
    return scores


def evaluate_files(
    truth_path: Path,
    leads_path: Path,
    scores_path: Path | None = None,
    markdown: bool = True,
    model_dir: Path | None = None,
) -> str:
    """``fundwatch evaluate``: read the files and render the evaluation (``model_dir``: the
    model the backtest ran, for the alert-rate table)."""
    try:
        truth = orjson.loads(truth_path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise EvaluationInputError(f"{truth_path}: not JSON: {exc}") from exc
    if not isinstance(truth, dict):
        raise EvaluationInputError(f"{truth_path}: not a JSON object")
    with leads_path.open("rb") as lines:
        leads = leads_from_jsonl(lines)
    scores = None
    if scores_path is not None:
        with scores_path.open("rb") as lines:
            scores = scores_from_jsonl(lines)
    quantiles, threshold = None, None
    if model_dir is not None:
        model = FundraisingForest.load(model_dir)
        quantiles, threshold = model.score_quantiles_, model.threshold_
    return render(evaluate(truth, leads, scores, quantiles, threshold), markdown)


def _json_line(line: bytes) -> dict[str, Any]:
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise EvaluationInputError(f"not a JSON line: {line[:80]!r}") from exc
    if not isinstance(value, dict):
        raise EvaluationInputError(f"not a JSON object: {line[:80]!r}")
    return value


# -- measures ----------------------------------------------------------------------------------


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _role_recall(patterns: list[Pattern], flagged: set[str], role: str) -> float | None:
    accounts = {a for p in patterns for a, r in p.roles.items() if r == role}
    return _share(len(accounts & flagged), len(accounts))


def scheme_delay_hours(pattern: Pattern, detections: Mapping[str, list[int]]) -> float | None:
    """Hours from the scheme's first transaction to its first detection; None when it has no
    start time or no lead on its accounts at or after that start."""
    if pattern.first_tx_ms is None:
        return None
    start = pattern.first_tx_ms
    times = [t for a in pattern.roles for t in detections.get(a, []) if t >= start]
    return (min(times) - start) / HOUR_MS if times else None


def average_precision(
    positives: set[str], negatives: set[str], scores: Mapping[str, float]
) -> tuple[float | None, float | None]:
    """(average precision, positive share); (None, None) without positives or negatives."""
    if not positives or not negatives:
        return None, None
    ordered = sorted(positives) + sorted(negatives)
    labels = np.array([1] * len(positives) + [0] * len(negatives))
    values = np.array([scores.get(a, 0.0) for a in ordered])
    share = len(positives) / len(ordered)
    return float(average_precision_score(labels, values)), share


def ranks(scores: Mapping[str, float]) -> dict[str, float]:
    """Rank of each account by score, 1 = highest; tied accounts share their average rank."""
    ordered = sorted(scores.items(), key=lambda item: -item[1])
    result: dict[str, float] = {}
    start = 0
    while start < len(ordered):
        end = start
        while end + 1 < len(ordered) and ordered[end + 1][1] == ordered[start][1]:
            end += 1
        for account, _ in ordered[start : end + 1]:
            result[account] = (start + end) / 2 + 1
        start = end + 1
    return result


def _typology_result(
    typology: str,
    patterns: list[Pattern],
    flagged: set[str],
    detections: Mapping[str, list[int]],
    scores: Mapping[str, float] | None,
    negatives: set[str],
) -> TypologyResult:
    accounts = {a for p in patterns for a in p.roles}
    delays = [d for p in patterns if (d := scheme_delay_hours(p, detections)) is not None]
    detected = sum(1 for p in patterns if flagged & set(p.roles))
    pr_auc, share = (
        (None, None) if scores is None else average_precision(accounts, negatives, scores)
    )
    return TypologyResult(
        typology=typology,
        schemes=len(patterns),
        scheme_accounts=len(accounts),
        flagged=len(accounts & flagged),
        recall=_share(len(accounts & flagged), len(accounts)),
        collector_recall=_role_recall(patterns, flagged, COLLECTOR),
        controller_recall=_role_recall(patterns, flagged, CONTROLLER),
        schemes_detected=detected,
        median_delay_hours=statistics.median(delays) if delays else None,
        max_delay_hours=max(delays) if delays else None,
        pr_auc=pr_auc,
        positive_share=share,
    )


def _pattern_result(
    pattern: Pattern, flagged: set[str], account_ranks: Mapping[str, float] | None
) -> PatternResult:
    members = set(pattern.roles)
    median_rank = (
        statistics.median(account_ranks[a] for a in members)
        if account_ranks is not None and members
        else None
    )
    return PatternResult(
        pattern_id=pattern.pattern_id,
        typology=pattern.typology,
        members=len(members),
        flagged=len(members & flagged),
        recall=_share(len(members & flagged), len(members)),
        median_rank=median_rank,
    )


def suspected_schemes(leads: Iterable[Mapping[str, Any]]) -> list[Scheme]:
    """The suspected schemes among the leads, as every other reader of the leads builds them."""
    try:
        return build_schemes(leads)
    except (KeyError, TypeError, ValueError) as exc:
        raise EvaluationInputError(f"lead is malformed for schemes: {exc!r}") from exc


def required_accounts(pattern: Pattern, source: str, flagged: set[str]) -> set[str]:
    """The accounts one suspected scheme must hold for the pattern to be found: its collectors
    and controllers (simulator), or its flagged members when there are two or more (AMLSim,
    whose truth has no roles); empty when it cannot be found."""
    if source == AMLSIM:
        members = set(pattern.roles) & flagged
        return members if len(members) >= 2 else set()
    core = {a for a, r in pattern.roles.items() if r in (COLLECTOR, CONTROLLER)}
    return core or set(pattern.roles)


def _match(
    pattern: Pattern,
    truth: Truth,
    scheme_of: Mapping[str, Scheme],
    flagged: set[str],
) -> SchemeMatch:
    own = set(pattern.roles)
    required = required_accounts(pattern, truth.source, flagged)
    ranked_by = required or own  # an AMLSim alert with fewer than two flagged members
    holding = {scheme_of[a].scheme_id: scheme_of[a] for a in own if a in scheme_of}

    def fragment_rank(scheme: Scheme) -> tuple[int, int, str]:
        accounts = set(scheme.accounts())
        return -len(ranked_by & accounts), -len(own & accounts), scheme.scheme_id

    suspected = min(holding.values(), key=fragment_rank, default=None)
    accounts = set(suspected.accounts()) if suspected is not None else set()
    members: dict[str, SchemeMember] = (
        {m.account_id: m for m in suspected.members} if suspected is not None else {}
    )
    inside = own & accounts
    is_amlsim = truth.source == AMLSIM
    roles = tuple(
        RoleCount(
            role,
            sum(1 for a in inside if pattern.roles[a] == role),
            sum(1 for r in pattern.roles.values() if r == role),
        )
        for role in ((MEMBER,) if is_amlsim else (COLLECTOR, CONTROLLER, PAYOUT))
    )
    others = sorted(
        p.pattern_id
        for p in truth.patterns
        if p.pattern_id != pattern.pattern_id and accounts & set(p.roles)
    )
    return SchemeMatch(
        pattern_id=pattern.pattern_id,
        typology=pattern.typology,
        found=bool(required) and required <= accounts,
        scheme_id=suspected.scheme_id if suspected is not None else None,
        schemes_holding=len(holding),
        roles=roles,
        flagged=len(own & flagged),
        via_trail=sum(1 for a in inside if members[a].linked),
        roles_right=None
        if is_amlsim
        else sum(1 for a in inside if members[a].role == pattern.roles[a]),
        spurious=tuple(sorted(accounts - truth.accounts())),
        other_patterns=tuple(others),
        participants=suspected.participants if suspected is not None else None,
        money_raised_fen=suspected.money_raised_fen if suspected is not None else None,
        truth_participants=pattern.participants,
        truth_participants_at_banks=pattern.participants_at_banks,
        truth_amount_raised_fen=pattern.amount_raised_fen,
    )


def _typology_schemes(typology: str, matches: list[SchemeMatch]) -> TypologySchemes:
    return TypologySchemes(
        typology=typology,
        schemes=len(matches),
        found=sum(1 for m in matches if m.found),
        split=sum(1 for m in matches if m.schemes_holding >= 2),
        spurious=len({a for m in matches for a in m.spurious}),
    )


def evaluate_schemes(
    truth: Truth, schemes: Iterable[Scheme], flagged: set[str]
) -> SchemeEvaluation:
    """Scheme-level recall: which truth schemes one suspected scheme holds (module docstring)."""
    schemes = list(schemes)
    scheme_of = {a: s for s in schemes for a in s.accounts()}
    matches = tuple(_match(p, truth, scheme_of, flagged) for p in truth.patterns)
    by_typology: dict[str, list[SchemeMatch]] = defaultdict(list)
    for match in matches:
        by_typology[match.typology].append(match)
    typologies = [_typology_schemes(name, by_typology[name]) for name in sorted(by_typology)]
    positives = truth.accounts()
    false_schemes = [s for s in schemes if not positives & set(s.accounts())]
    return SchemeEvaluation(
        suspected=len(schemes),
        matches=matches,
        typologies=(*typologies, _typology_schemes("all", list(matches))),
        false_schemes=tuple(sorted(s.scheme_id for s in false_schemes)),
        false_scheme_accounts=sum(len(s.members) for s in false_schemes),
    )


def evaluate(
    truth: Truth | Mapping[str, Any],
    leads: Iterable[Mapping[str, Any]],
    scores: Mapping[str, float] | None = None,
    score_quantiles: Mapping[str, float] | None = None,
    threshold: float | None = None,
) -> Evaluation:
    """Measure leads (and optionally per-account maximum scores) against the truth.
    ``score_quantiles`` and ``threshold``: the model's (``score_quantiles_``, ``threshold_``),
    for the table of how precision and recall move with the alert rate (needs ``scores``)."""
    truth = truth if isinstance(truth, Truth) else parse_truth(truth)
    leads = list(leads)  # read twice: for detection times and for the schemes
    detections = first_detections(leads)
    flagged = set(detections)
    positives = truth.accounts()
    negatives = set(scores) - positives if scores is not None else set()
    by_typology: dict[str, list[Pattern]] = defaultdict(list)
    for pattern in truth.patterns:
        by_typology[pattern.typology].append(pattern)
    typologies = tuple(
        _typology_result(name, by_typology[name], flagged, detections, scores, negatives)
        for name in sorted(by_typology)
    )
    account_ranks = None
    if scores is not None:
        # Truth accounts never scored rank with score 0, among all accounts.
        account_ranks = ranks({**dict.fromkeys(positives, 0.0), **scores})
    patterns = (
        tuple(_pattern_result(p, flagged, account_ranks) for p in truth.patterns)
        if truth.source == AMLSIM
        else ()
    )
    pr_auc, share = (
        (None, None) if scores is None else average_precision(positives, negatives, scores)
    )
    return Evaluation(
        source=truth.source,
        lead_ids=sum(len(times) for times in detections.values()),
        flagged_accounts=len(flagged),
        flagged_in_schemes=len(flagged & positives),
        precision=_share(len(flagged & positives), len(flagged)),
        scheme_accounts=len(positives),
        recall=_share(len(flagged & positives), len(positives)),
        typologies=typologies,
        patterns=patterns,
        pr_auc=pr_auc,
        positive_share=share,
        ranked_accounts=len(account_ranks) if account_ranks is not None else None,
        unscored_scheme_accounts=len(positives - set(scores)) if scores is not None else None,
        negatives=len(negatives) if scores is not None else None,
        lookalikes=len(truth.lookalikes),
        lookalikes_flagged=len(truth.lookalikes & flagged),
        schemes=evaluate_schemes(truth, suspected_schemes(leads), flagged),
        lookalike_kinds=lookalike_results(truth.lookalike_kinds, flagged),
        leads_per_10k_month=_per_10k_month(
            sum(len(times) for times in detections.values()), truth, scores
        ),
        accounts_per_10k_month=_per_10k_month(len(flagged), truth, scores),
        alert_rates=(
            alert_rate_points(truth, scores, score_quantiles, threshold)
            if scores is not None and score_quantiles is not None
            else ()
        ),
    )


def _per_10k_month(count: int, truth: Truth, scores: Mapping[str, float] | None) -> float | None:
    """``count`` per 10,000 reporting accounts (the truth's, else the scored ones) per 30
    days (the truth's period; None without it)."""
    accounts = truth.reporting_accounts or (len(scores) if scores else None)
    if not accounts or not truth.period_days:
        return None
    return count * 10_000 / accounts * 30 / truth.period_days


def alert_rate_points(
    truth: Truth,
    scores: Mapping[str, float],
    score_quantiles: Mapping[str, float],
    threshold: float | None,
) -> tuple[AlertRatePoint, ...]:
    """Precision, recall, look-alikes and workload at each stored quantile from the 90th up
    (alert rates 10 % down to 0.1 %) and at the model's own threshold, the highest rate first."""
    positives = truth.accounts()
    levels = {1.0 - float(q): t for q, t in score_quantiles.items() if float(q) >= 0.9}
    if threshold is not None:
        # the operating point: the alert rate whose quantile it is, else the nearest one's
        known = [rate for rate, t in levels.items() if t == threshold]
        levels[known[0] if known else float("nan")] = threshold
    points = []
    for rate, cut in sorted(levels.items(), key=lambda item: item[1]):
        flagged = {account for account, score in scores.items() if score >= cut}
        points.append(
            AlertRatePoint(
                alert_rate=rate,
                threshold=cut,
                flagged=len(flagged),
                precision=_share(len(flagged & positives), len(flagged)),
                recall=_share(len(flagged & positives), len(positives)),
                lookalikes_flagged=len(flagged & truth.lookalikes),
                flagged_per_10k_month=_per_10k_month(len(flagged), truth, scores),
                operating_point=cut == threshold,
            )
        )
    return tuple(points)


def lookalike_results(kinds: Mapping[str, str], flagged: set[str]) -> tuple[LookalikeResult, ...]:
    """Per kind of look-alike (alphabetical): its accounts and those with a lead."""
    by_kind: dict[str, list[str]] = defaultdict(list)
    for account, kind in kinds.items():
        by_kind[kind].append(account)
    return tuple(
        LookalikeResult(kind, len(accounts), len(flagged.intersection(accounts)))
        for kind, accounts in sorted(by_kind.items())
    )


# -- rendering ---------------------------------------------------------------------------------


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _num(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _table(header: list[str], rows: list[list[str]], markdown: bool) -> list[str]:
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        return lines + ["| " + " | ".join(row) + " |" for row in rows]
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    ]


def _summary(ev: Evaluation) -> list[str]:
    unit = "schemes" if ev.source == SIMULATOR else "AMLSim alert patterns"
    lines = [
        f"Truth: {ev.source} ({sum(t.schemes for t in ev.typologies)} {unit} with "
        f"{ev.scheme_accounts} accounts of their own). Leads: {ev.lead_ids} lead ids on "
        f"{ev.flagged_accounts} accounts.",
        f"Account precision {_pct(ev.precision)} ({ev.flagged_in_schemes} of "
        f"{ev.flagged_accounts} flagged accounts belong to a scheme); account recall "
        f"{_pct(ev.recall)} ({ev.flagged_in_schemes} of {ev.scheme_accounts} scheme accounts "
        "flagged).",
    ]
    if ev.pr_auc is not None:
        lines.append(
            f"PR-AUC (average precision of the max score per account) {_num(ev.pr_auc, 3)}, "
            f"chance level {_num(ev.positive_share, 3)}: {ev.scheme_accounts} positives against "
            f"{ev.negatives} scored accounts in no scheme. Scheme accounts never scored "
            f"(counted with score 0): {ev.unscored_scheme_accounts}."
        )
    if ev.source == SIMULATOR:
        lines.append(
            f"Legitimate look-alikes (merchants, fee collectors, payroll) flagged: "
            f"{ev.lookalikes_flagged} of {ev.lookalikes}."
        )
    if ev.leads_per_10k_month is not None:
        lines.append(
            f"Workload: {_num(ev.leads_per_10k_month)} lead ids on "
            f"{_num(ev.accounts_per_10k_month)} accounts per 10,000 reporting accounts per "
            "month (30 days)."
        )
    return lines


ALERT_RATE_HEADER = [
    "alert rate",
    "threshold",
    "accounts flagged",
    "precision",
    "recall",
    "look-alikes flagged",
    "accounts per 10k per month",
]


def _alert_rate_rows(ev: Evaluation) -> list[list[str]]:
    return [
        [
            ("model" if point.alert_rate != point.alert_rate else f"{point.alert_rate:.1%}")
            + (" (operating point)" if point.operating_point else ""),
            f"{point.threshold:.4f}",
            str(point.flagged),
            _pct(point.precision),
            _pct(point.recall),
            str(point.lookalikes_flagged),
            _num(point.flagged_per_10k_month),
        ]
        for point in ev.alert_rates
    ]


def _typology_rows(ev: Evaluation) -> list[list[str]]:
    return [
        [
            t.typology,
            str(t.schemes),
            f"{t.schemes_detected}",
            str(t.scheme_accounts),
            str(t.flagged),
            _pct(t.recall),
            _pct(t.collector_recall),
            _pct(t.controller_recall),
            _num(t.median_delay_hours),
            _num(t.max_delay_hours),
            _num(t.pr_auc, 3),
            _num(t.positive_share, 3),
        ]
        for t in ev.typologies
    ]


def _pattern_rows(ev: Evaluation) -> list[list[str]]:
    return [
        [
            p.pattern_id,
            p.typology,
            str(p.members),
            str(p.flagged),
            _pct(p.recall),
            _num(p.median_rank, 2),
        ]
        for p in ev.patterns
    ]


TYPOLOGY_HEADER = [
    "typology",
    "schemes",
    "detected",
    "accounts",
    "flagged",
    "recall",
    "collector recall",
    "controller recall",
    "median delay h",
    "max delay h",
    "PR-AUC",
    "PR-AUC chance",
]
PATTERN_HEADER = ["pattern", "typology", "members", "flagged", "recall", "median rank"]
SCHEME_TYPOLOGY_HEADER = ["typology", "schemes", "found", "split", "spurious members"]
SIM_MATCH_HEADER = [
    "scheme",
    "typology",
    "found",
    "suspected scheme",
    "schemes holding it",
    "collectors",
    "controllers",
    "payout",
    "via trail",
    "roles right",
    "spurious",
    "other truth schemes",
]
AMLSIM_MATCH_HEADER = [
    "alert",
    "typology",
    "found",
    "suspected scheme",
    "schemes holding it",
    "members in it",
    "flagged",
    "via trail",
    "spurious",
    "other alerts",
]
SIM_FIGURES_HEADER = [
    "scheme",
    "suspected scheme",
    "participants",
    "truth participants",
    "truth at simulated banks",
    "raised 元",
    "truth raised 元",
]
FALSE_SCHEMES_LISTED = 10  # beyond this only their count is given


def _yuan(fen: int | None) -> str:
    return "-" if fen is None else yuan(fen, places=0)


def _count(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def _role_cell(count: RoleCount) -> str:
    return f"{count.in_scheme}/{count.total}" if count.total else "-"


def _scheme_summary(ev: Evaluation) -> list[str]:
    level = ev.schemes
    unit = "truth schemes" if ev.source == SIMULATOR else "AMLSim alert patterns"
    listed = ", ".join(level.false_schemes[:FALSE_SCHEMES_LISTED])
    more = len(level.false_schemes) - FALSE_SCHEMES_LISTED
    if more > 0:
        listed += f" and {more} more"
    lines = [
        f"Scheme level: {level.suspected} suspected schemes (案件线索) built from the leads; "
        f"{level.found} of {len(level.matches)} {unit} found as one suspected scheme. "
        f"False schemes (holding no account of any truth scheme): {len(level.false_schemes)}, "
        f"with {level.false_scheme_accounts} accounts" + (f" ({listed})." if listed else ".")
    ]
    if not level.suspected:
        # Say why every scheme is missed, so that 0 found is not read as a matching fault.
        lines.append(
            "No two leads were joined (no money trail between lead accounts, no shared "
            "customer), so no scheme can be found."
        )
    return lines


def _scheme_typology_rows(ev: Evaluation) -> list[list[str]]:
    return [
        [t.typology, str(t.schemes), str(t.found), str(t.split), str(t.spurious)]
        for t in ev.schemes.typologies
    ]


def _match_rows(ev: Evaluation) -> list[list[str]]:
    rows: list[list[str]] = []
    for m in ev.schemes.matches:
        head = [
            m.pattern_id,
            m.typology,
            "yes" if m.found else "no",
            m.scheme_id or "-",
            str(m.schemes_holding),
            *(_role_cell(count) for count in m.roles),
        ]
        if ev.source == AMLSIM:
            rows.append([*head, str(m.flagged), str(m.via_trail)])
        else:
            rows.append([*head, str(m.via_trail), _count(m.roles_right)])
        rows[-1] += [str(len(m.spurious)), ", ".join(m.other_patterns) or "-"]
    return rows


def _figure_rows(ev: Evaluation) -> list[list[str]]:
    return [
        [
            m.pattern_id,
            m.scheme_id or "-",
            _count(m.participants),
            _count(m.truth_participants),
            _count(m.truth_participants_at_banks),
            _yuan(m.money_raised_fen),
            _yuan(m.truth_amount_raised_fen),
        ]
        for m in ev.schemes.matches
    ]


def _scheme_tables(ev: Evaluation, markdown: bool) -> list[str]:
    match_header = SIM_MATCH_HEADER if ev.source == SIMULATOR else AMLSIM_MATCH_HEADER
    lines = [
        *_scheme_summary(ev),
        "",
        *_table(SCHEME_TYPOLOGY_HEADER, _scheme_typology_rows(ev), markdown),
        "",
        *_table(match_header, _match_rows(ev), markdown),
    ]
    if ev.source == SIMULATOR:
        lines += ["", *_table(SIM_FIGURES_HEADER, _figure_rows(ev), markdown)]
    return lines


def _notes(ev: Evaluation) -> list[str]:
    members = (
        "scheme accounts are the scheme's own accounts (collectors, controllers, payout), not "
        "participants."
        if ev.source == SIMULATOR
        else "scheme accounts are the members AMLSim lists for each alert pattern."
    )
    notes = [
        f"Notes: an account is flagged if any lead names it during the run; {members}",
        "A scheme is detected when any of its accounts is flagged. Delay is event time from the "
        "scheme's first transaction to the first revision of its earliest lead not older than "
        "the scheme; schemes without one are not in the median or maximum.",
        "PR-AUC is the average precision of each account's max score: positives are the "
        "typology's accounts, negatives the scored accounts in no scheme; its chance level is "
        "the positive share. '-' means not measurable.",
    ]
    if ev.alert_rates:
        notes.append(
            "The alert-rate table flags an account when its highest score reaches the training "
            "scores' quantile of that rate (from the model): scored leads only, without money "
            "trails or the negative list, so its operating point can flag fewer accounts than "
            "the leads do."
        )
    if ev.source == AMLSIM:
        notes.append(
            "AMLSim patterns are money-laundering typologies (fan_in is the closest to "
            "fundraising) and have no start times, so no delay is measured. Median rank is "
            f"among {ev.ranked_accounts} accounts by max score (1 = highest, ties averaged)."
            if ev.ranked_accounts is not None
            else "AMLSim patterns have no start times, so no delay is measured; ranks need "
            "--scores."
        )
    return [*notes, *_scheme_notes(ev)]


def _scheme_notes(ev: Evaluation) -> list[str]:
    if ev.source == SIMULATOR:
        rule = (
            "A truth scheme is found when all its collectors and controllers are members of one "
            "single suspected scheme (its payout account may be missing)."
        )
        columns = (
            "Role cells: its accounts of that role in the suspected scheme / all of them; "
            "'roles right': those whose role in the suspected scheme (from their own figures) "
            "is the truth's."
        )
    else:
        rule = (
            "AMLSim gives no roles: an alert is found when at least two of its members are "
            "flagged and all of its flagged members are in one suspected scheme."
        )
        columns = "'members in it': its members in the suspected scheme / all of them."
    notes = [
        "Suspected schemes are models.schemes over the latest revision of each lead_id (the "
        "schemes as they stand at the end of the run; a lone lead is no scheme). " + rule,
        "A truth scheme's suspected scheme is the one holding the most of its accounts that "
        "must be found (then of all its accounts): the match when found, else its largest "
        "fragment. 'schemes holding it' counts the suspected schemes holding any of its "
        "accounts (split: two or more). " + columns + " 'via trail': its accounts there that "
        "a money trail reached. Spurious members are accounts of the suspected scheme in no "
        "truth scheme; a false scheme holds no account of any truth scheme.",
    ]
    if ev.source == SIMULATOR:
        notes.append(
            "Participants and money raised of a suspected scheme are its collectors' (distinct "
            "payers by HyperLogLog; money in from others), as of each lead's last revision. "
            "The truth counts every participant's deposits into the collectors; its "
            "participants include people at banks that do not report, and 'truth at "
            "simulated banks' counts only those at the reporting banks."
        )
    return notes


LOOKALIKE_HEADER = ["look-alike kind", "accounts", "with a lead", "share"]


def _lookalike_rows(ev: Evaluation) -> list[list[str]]:
    return [[k.kind, str(k.accounts), str(k.flagged), _pct(k.rate)] for k in ev.lookalike_kinds]


def render(ev: Evaluation, markdown: bool = True) -> str:
    """The evaluation as a report: summary lines, a table per typology (and per AMLSim
    pattern, and per kind of look-alike), the scheme-level tables, then notes on what the
    figures measure."""
    lines = [*_summary(ev), "", *_table(TYPOLOGY_HEADER, _typology_rows(ev), markdown)]
    if ev.lookalike_kinds:
        lines += ["", *_table(LOOKALIKE_HEADER, _lookalike_rows(ev), markdown)]
    if ev.alert_rates:
        lines += ["", *_table(ALERT_RATE_HEADER, _alert_rate_rows(ev), markdown)]
    if ev.patterns:
        lines += ["", *_table(PATTERN_HEADER, _pattern_rows(ev), markdown)]
    lines += ["", *_scheme_tables(ev, markdown)]
    return "\n".join([*lines, "", *_notes(ev)]) + "\n"
