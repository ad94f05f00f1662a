"""Peers: an account judged against accounts of its own kind, not against the whole city.

A school at the start of term, a developer's presale launch or a payroll account on payday is
far from the city's ordinary accounts, and so from the isolation forest's training population,
but ordinary for its own kind. So the model also learns, per peer group (account type and
sector: a school is judged against schools), how far the group's accounts go on their busiest
days in the history:

* for each of ``PEER_FEATURES`` (the measures of fundraising: individual payers, money in,
  money out the same day, payouts to earlier payers, fundraising words, money per payer,
  growth), each account's highest value over its history days;
* the limit is the value that at least ``ACCOUNTS_AT_LIMIT`` accounts of the group reached (the
  k-th highest of those maxima, k at least 3 and a tenth of the group), so that a scheme hidden
  in the history cannot make its own behaviour "normal for its peers" on its own.

A group needs ``MIN_PEER_ACCOUNTS`` accounts in the history to have limits. An account whose
every peer feature is within its group's limits does what several of its peers do on their
busy days: ``within_peers`` is True for it, and the lead score is lowered (models.structure).
An account of a group without limits (too few peers, a sector not seen) is judged as before.

The other way round, an account with ``FAR_BEYOND_PEERS`` times as many individual payers as
its group's limit (``far_beyond_peers``: a personal account paid by forty people, where no
person of the history had more than two) is far from its kind on the very measure of public
fundraising; with a scheme's structure as well, its lead score is raised (models.structure).

**Its own past.** A school is also judged against its own history: the model keeps, for each
account paid by at least ``MIN_OWN_PAST_PAYERS`` individuals in 30 days on some day of the
history (a business with a crowd of payers: a person's account, where a scheme's salesperson
collects, has no such past), its busiest value of each peer feature. An account within
``OWN_PAST_FACTOR`` times its own busiest (shares ``OWN_PAST_SHARE_SLACK`` above it) on every
one does what it did before: a supermarket's weekend, a lender's month, a school's term start
when the history held the last one. ``within_own_past`` is True for it and the lead score is
lowered as within its peers (models.structure; once, not twice). The history is the forest's:
what it learns as normal, the account's own past is too (with the analysts' verdicts, a
confirmed account's rows are left out of both).

Pure functions of a feature row and its group, so stream and backtest agree however batched.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from typing import TypeVar

import numpy as np

from models.feature_names import FEATURE_NAMES
from models.reasons import FEATURE_TEXTS, format_number
from models.structure import structured
from schemas.glossary import ACCOUNT_TYPE_NAMES, SECTOR_NAMES, name
from schemas.lead import Reason

PEER_FEATURES: tuple[str, ...] = (
    "distinct_individual_payers_7d",
    "distinct_individual_payers_30d",
    "inflow_sum_yuan_30d",
    "same_day_outflow_share_30d",
    "repeat_payout_share_30d",
    "pass_through_ratio_30d",
    "fundraising_memo_share_30d",
    "mean_inflow_per_payer_yuan_30d",
    "activity_growth_7d_over_30d",
)
_PEER_COLUMNS = [FEATURE_NAMES.index(feature) for feature in PEER_FEATURES]
MIN_PEER_ACCOUNTS = 5
ACCOUNTS_AT_LIMIT = 3  # at least this many accounts, and ACCOUNTS_AT_LIMIT_SHARE of the group
ACCOUNTS_AT_LIMIT_SHARE = 0.1
FAR_BEYOND_PEERS = 5.0  # times the group's limit of individual payers in 30 days
_INDIVIDUAL_PAYERS_30D = "distinct_individual_payers_30d"
_FAR_COLUMN = PEER_FEATURES.index(_INDIVIDUAL_PAYERS_30D)
BEYOND_PEERS = "beyond_peers"
FAR_BEYOND_PEERS_REASON = "far_beyond_peers"
WITHIN_PEERS = "within_peers"
_NO_SECTOR = "-"
MIN_OWN_PAST_PAYERS = 20  # models.structure.MIN_INDIVIDUAL_PAYERS: "many individuals"
OWN_PAST_FACTOR = 1.5  # a busier month than the history's busiest is still the same business
OWN_PAST_SHARE_SLACK = 0.1  # ...and a share a tenth above its busiest
_SHARE_COLUMNS = np.array([feature.endswith("_share_30d") for feature in PEER_FEATURES], dtype=bool)
WITHIN_OWN_PAST = "within_own_past"
_Key = TypeVar("_Key", bound=Hashable)


def peer_group(account_type: str, industry: str | None) -> str:
    """The group an account is compared within: "corporate|private_school", "individual|-"."""
    return f"{account_type}|{industry or _NO_SECTOR}"


def _busiest(features: np.ndarray, keys: Sequence[_Key]) -> dict[_Key, np.ndarray]:
    """key -> the highest value of each PEER_FEATURES over the rows (n, features) of that key."""
    busiest: dict[_Key, np.ndarray] = {}
    for row, key in zip(features[:, _PEER_COLUMNS], keys, strict=True):
        known = busiest.get(key)
        busiest[key] = row.copy() if known is None else np.maximum(known, row)
    return busiest


def fit_peer_limits(
    features: np.ndarray, groups: Sequence[str], accounts: Sequence[str]
) -> tuple[dict[str, dict[str, float]], dict[str, int]]:
    """(group -> PEER_FEATURES -> limit, group -> accounts) from training rows (n, features)
    in natural units, each with its account's group and id."""
    if not len(features) == len(groups) == len(accounts):
        raise ValueError("features, groups and accounts must have one entry per row")
    by_group: dict[str, list[np.ndarray]] = {}
    for (group, _), row in _busiest(features, list(zip(groups, accounts, strict=True))).items():
        by_group.setdefault(group, []).append(row)
    limits: dict[str, dict[str, float]] = {}
    sizes: dict[str, int] = {}
    for group, accounts_busiest in sorted(by_group.items()):
        if len(accounts_busiest) < MIN_PEER_ACCOUNTS:
            continue
        maxima = np.sort(np.vstack(accounts_busiest), axis=0)[::-1]
        k = max(ACCOUNTS_AT_LIMIT, math.ceil(ACCOUNTS_AT_LIMIT_SHARE * len(accounts_busiest)))
        limits[group] = {f: float(v) for f, v in zip(PEER_FEATURES, maxima[k - 1], strict=True)}
        sizes[group] = len(accounts_busiest)
    return limits, sizes


def peer_standing(
    features: np.ndarray, groups: Sequence[str], limits: Mapping[str, Mapping[str, float]]
) -> tuple[np.ndarray, np.ndarray]:
    """Rows (n, features) -> (within, far_beyond), bool (n,) each: the row's group has limits
    and no peer feature of the row is beyond them; the row's group has limits and the row has
    FAR_BEYOND_PEERS times its group's limit of individual payers (a limit of 0 counts as 1)."""
    # One limit row per feature row (infinite where the group has no limits), then one
    # comparison over the batch: this runs on every scored report.
    bounds = np.full((len(groups), len(PEER_FEATURES)), np.inf)
    known = np.zeros(len(groups), dtype=bool)
    rows_of: dict[str, list[int]] = {}
    for i, group in enumerate(groups):
        rows_of.setdefault(group, []).append(i)
    for group, rows in rows_of.items():
        group_limits = limits.get(group)
        if group_limits is not None:
            bounds[rows] = [group_limits[feature] for feature in PEER_FEATURES]
            known[rows] = True
    values = features[:, _PEER_COLUMNS]
    within: np.ndarray = known & ~(values > bounds).any(axis=1)
    far_limit = FAR_BEYOND_PEERS * np.maximum(bounds[:, _FAR_COLUMN], 1.0)
    far_beyond: np.ndarray = known & (values[:, _FAR_COLUMN] >= far_limit)
    return within, far_beyond


def fit_own_limits(features: np.ndarray, accounts: Sequence[str]) -> dict[str, list[float]]:
    """account -> its busiest value of each PEER_FEATURES in the training rows (n, features),
    for the accounts paid by MIN_OWN_PAST_PAYERS individuals or more on some day."""
    if len(features) != len(accounts):
        raise ValueError("features and accounts must have one entry per row")
    return {
        account: [float(v) for v in row]
        for account, row in sorted(_busiest(features, accounts).items())
        if row[_FAR_COLUMN] >= MIN_OWN_PAST_PAYERS
    }


def within_own_past(
    features: np.ndarray, accounts: Sequence[str], own_limits: Mapping[str, Sequence[float]]
) -> np.ndarray:
    """Rows (n, features) of ``accounts`` -> bool (n,): the account has an own past in the
    model and no peer feature of the row is beyond OWN_PAST_FACTOR times its busiest (shares
    OWN_PAST_SHARE_SLACK more)."""
    within = np.zeros(len(accounts), dtype=bool)
    rows = [i for i, account in enumerate(accounts) if account in own_limits]
    if rows:
        busiest = np.array([own_limits[accounts[i]] for i in rows], dtype=np.float64)
        bounds = busiest * OWN_PAST_FACTOR + np.where(_SHARE_COLUMNS, OWN_PAST_SHARE_SLACK, 0.0)
        within[rows] = ~(features[rows][:, _PEER_COLUMNS] > bounds).any(axis=1)
    return within


def own_past_reasons(
    row: np.ndarray, account: str, own_limits: Mapping[str, Sequence[float]]
) -> tuple[Reason, ...]:
    """ "Like its own busiest days", as a lead reason, when the row is within its own past."""
    busiest = own_limits.get(account)
    values = np.asarray(row, dtype=np.float64).reshape(1, -1)
    if busiest is None or not within_own_past(values, [account], own_limits)[0]:
        return ()
    payers = busiest[_FAR_COLUMN]
    return (
        Reason(
            WITHIN_OWN_PAST,
            float(values[0, FEATURE_NAMES.index(_INDIVIDUAL_PAYERS_30D)]),
            100.0,
            payers,
            f"与本账户训练期最繁忙时相当（30日内个人付款最多 {payers:.0f} 个）：评分已调低",
            f"like its own busiest days in the training history (up to {payers:.0f} distinct "
            "individual payers in 30 days): score lowered",
        ),
    )


def within_peers(
    features: np.ndarray, groups: Sequence[str], limits: Mapping[str, Mapping[str, float]]
) -> np.ndarray:
    """Rows (n, features) -> bool (n,): the ``within`` of ``peer_standing``."""
    return peer_standing(features, groups, limits)[0]


def _beyond(row: np.ndarray, limits: Mapping[str, float]) -> list[tuple[float, str, float]]:
    """(how far beyond, feature, limit) of each peer feature of the row above its limit."""
    out = []
    for feature, column in zip(PEER_FEATURES, _PEER_COLUMNS, strict=True):
        value, limit = float(row[column]), limits[feature]
        if value > limit:
            out.append((value / limit if limit > 0 else math.inf, feature, limit))
    return sorted(out, reverse=True)


def peer_reasons(
    row: np.ndarray,
    group: str,
    limits: Mapping[str, Mapping[str, float]],
    sizes: Mapping[str, int],
) -> tuple[Reason, ...]:
    """How the account compares with its peers, as a lead reason (none without peers)."""
    group_limits = limits.get(group)
    if group_limits is None:
        return ()
    who_zh, who_en = _group_names(group, sizes.get(group, 0))
    beyond = _beyond(np.asarray(row, dtype=np.float64), group_limits)
    if not beyond:
        return (
            Reason(
                WITHIN_PEERS,
                0.0,
                100.0,
                0.0,
                f"与同类账户（{who_zh}）最繁忙时相当：评分已调低",
                f"like its peers ({who_en}) on their busiest days: score lowered",
            ),
        )
    row_array = np.asarray(row, dtype=np.float64).reshape(1, -1)
    far_beyond = peer_standing(row_array, [group], limits)[1]
    if far_beyond[0] and structured(row_array, far_beyond)[0]:
        limit = group_limits[_INDIVIDUAL_PAYERS_30D]
        value = float(row_array[0, FEATURE_NAMES.index(_INDIVIDUAL_PAYERS_30D)])
        return (
            Reason(
                FAR_BEYOND_PEERS_REASON,
                value,
                100.0,
                limit,
                f"个人付款人数远超同类账户（{who_zh}）最繁忙时：30日内 {value:.0f} 个"
                f"（同类 {limit:.0f} 个），且具有集资结构：评分已调高",
                f"far beyond its peers ({who_en}) on their busiest days: {value:.0f} distinct "
                f"individual payers in 30 days (peers {limit:.0f}), with a scheme's structure: "
                "score raised",
            ),
        )
    _, feature, limit = beyond[0]
    value = float(row[FEATURE_NAMES.index(feature)])
    text = FEATURE_TEXTS[feature]
    shown, shown_limit = format_number(value, text.unit), format_number(limit, text.unit)
    return (
        Reason(
            BEYOND_PEERS,
            value,
            100.0,
            limit,
            f"超出同类账户（{who_zh}）最繁忙时的水平：{text.zh} {shown}（同类 {shown_limit}）",
            f"beyond its peers ({who_en}) on their busiest days: "
            f"{text.en.format(v=shown)} (peers {shown_limit})",
        ),
    )


def _group_names(group: str, accounts: int) -> tuple[str, str]:
    account_type, _, industry = group.partition("|")
    kind_zh = name(ACCOUNT_TYPE_NAMES, account_type, "zh")
    kind_en = name(ACCOUNT_TYPE_NAMES, account_type, "en")
    if industry == _NO_SECTOR:
        return f"{kind_zh}账户 {accounts} 个", f"{accounts} {kind_en} accounts"
    sector_zh, sector_en = name(SECTOR_NAMES, industry, "zh"), name(SECTOR_NAMES, industry, "en")
    return (
        f"{sector_zh}{kind_zh}账户 {accounts} 个",
        f"{accounts} {kind_en} accounts in {sector_en}",
    )
