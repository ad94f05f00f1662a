"""Evidence of a fundraising scheme's structure, alongside the isolation forest.

The forest finds accounts unlike the training population; a school at the start of term, a
payroll account on payday or a private fund's subscription day are unlike it too. What a
collector of illegal fundraising does that they do not (domain.md; the simulator's
feeds.simulated_schemes against feeds.lookalikes):

* FAN_IN_FAST_OUT (分散转入、集中转出): money from many individuals leaves the account the same
  day it came in (快进快出), to a few accounts: at most 0.3 payees per individual payer with the
  three largest taking most of the money, or at least 90 % of the money paid out going to the
  three largest payees. A lender that lends the day's repayments out again pays them to dozens
  of borrowers, no three of whom take most of it: that is not concentration. The second form finds a
  salesperson collecting in their own account, which also pays shops and family (many payees,
  little money); with it, 10 individual payers are enough (a personal account that takes money
  from ten people and hands nine tenths of it on the same day is collecting for someone: 代收).
  A school or care home keeps its takings and pays salaries and suppliers from a balance, on its
  own calendar. (A busy hospital or supermarket that pays suppliers daily can still look like
  this: the residual false leads of the benchmark.)
* REPEAT_PAYOUTS (向先前付款人反复付款): many individuals pay in and a large share of the
  account's payments go back to people who paid in earlier ("interest", "rebates"), at least
  one for every five payers. A lender pays out first and is repaid after; a refund, which gives
  a payer's first sum back (a developer's 认筹金), is no repeat payout (models.features).
* COLLECTING_FOR_OTHERS (以个人账户代收): the same money out the same day, in an account paid
  by FAR_BEYOND_PEERS times the individual payers its peers have at their busiest
  (models.peers), with three payees taking most of what it pays out
  (``OTHERS_TOP_PAYEES_SHARE``). A salesperson who collects in their own account also pays
  shops, family and bills: dozens of payees, so neither form above holds; that the account
  is paid by ten or more people where no person of its kind is by more than a couple is the
  evidence the payee count gave. It counts as FAN_IN_FAST_OUT does.
* NEW_MONEY_PAYS_OLD (借新还旧): FAN_IN_FAST_OUT and REPEAT_PAYOUTS in the same account: new
  payers' money passed on at once while earlier payers are paid returns, the cycle of a
  Ponzi scheme. Each alone has legitimate look-alikes (a supermarket paying suppliers daily,
  a lender lending repayments out again); together they are two independent pieces of
  evidence, which the forest, trained on accounts without either, cannot weigh:
  ``CORROBORATED_BONUS`` on top of the structure's. Both together count from
  MIN_EMERGING_PAYERS: a rebate shop passing its first buyers' money on while paying the
  first of them back is a scheme with eight buyers as with eighty.
* ACCELERATING (参与人数加速增长): most of the 30-day individual payers first appeared in the
  last 7 days. Shown as a reason; on its own it does not count as structure (term starts and
  presale launches recruit fast too).

Each lead says which of these raised it (models.reasons.EVIDENCE_TEXTS, zh + en), or that
the forest alone did.

``adjust`` turns the forest's scores into the scores leads are raised on: an account showing
FAN_IN_FAST_OUT, COLLECTING_FOR_OTHERS or REPEAT_PAYOUTS gets ``STRUCTURE_BONUS`` added (and
NEW_MONEY_PAYS_OLD ``CORROBORATED_BONUS`` more); any other account has
``UNSTRUCTURED_PENALTY`` taken off, so only a far outlier without a scheme's structure still
reaches the threshold. A scheme's shape with fewer payers (EMERGING: 5 or more) gets
``EMERGING_BONUS``, so a collector's first lead need not wait for its many payers. An account
within its peers' limits (models.peers: a school against schools) has
``WITHIN_PEERS_PENALTY`` taken off as well. A scheme's controllers and payout
accounts, which have few payers of their own, are reached by the money trails from its
collectors' leads (models.trails).

Everything here is a pure, element-wise function of each feature row, so the stream and the
backtest, however batched, give the same scores.
"""

from __future__ import annotations

import numpy as np

from models.feature_names import FEATURE_NAMES
from models.reasons import (
    ACCELERATING,
    COLLECTING_FOR_OTHERS,
    CONCENTRATED,
    EMERGING,
    FAN_IN_FAST_OUT,
    FOREST_ONLY,
    NEW_MONEY_PAYS_OLD,
    REPEAT_PAYOUTS,
    evidence_reason,
)
from schemas.lead import Reason

_INDIVIDUAL_PAYERS_7D = FEATURE_NAMES.index("distinct_individual_payers_7d")
_INDIVIDUAL_PAYERS_30D = FEATURE_NAMES.index("distinct_individual_payers_30d")
_SAME_DAY_OUT = FEATURE_NAMES.index("same_day_outflow_share_30d")
_REPEAT_PAYOUTS = FEATURE_NAMES.index("repeat_payout_share_30d")
_PAYEES_30D = FEATURE_NAMES.index("distinct_payees_30d")
_OUTFLOWS_30D = FEATURE_NAMES.index("outflow_count_30d")
_TOP_PAYEES_SHARE = FEATURE_NAMES.index("top_payees_outflow_share_30d")
_PASS_THROUGH_30D = FEATURE_NAMES.index("pass_through_ratio_30d")

MIN_INDIVIDUAL_PAYERS = 20  # "many individuals": fewer is a family or a club
MIN_EMERGING_PAYERS = 5  # a scheme's shape with this many: EMERGING_BONUS
FAST_OUT_SHARE = 0.6  # of the 30-day inflow, paid out again on the day it came in
# ...and the money out is the money in: an account paying out several times what it took in
# pays from a balance (a hospital's suppliers, a lender's new loans), as a collector does not.
# Not less: a salesperson collecting in a personal account also pays from their own money
# (1.2 was tried: it lost two such collectors of a held-out city for three developers).
FAST_OUT_MAX_PASS_THROUGH = 2.0
FEW_PAYEES_PER_PAYER = 0.3  # "into a few accounts": payees at most this many per payer...
FEW_PAYEES_TOP_SHARE = 0.5  # ...and the three largest of them take most of the money
TOP_PAYEES_SHARE = 0.9  # ...or this share of the money paid out to the three largest payees
MIN_CONCENTRATED_PAYERS = 10  # enough individual payers when the money is concentrated so
REPEAT_PAYOUT_SHARE = 0.3  # of the 30-day payments, to counterparties who paid in earlier
REPEAT_PAYOUTS_PER_PAYER = 0.2  # ...and that many of them per individual payer: returns reach
# a good part of the participants, where a developer refunds a few presale deposits
ACCELERATING_SHARE = 0.6  # of the 30-day individual payers, seen in the last 7 days
STRUCTURE_BONUS = 0.05
# A scheme's shape with 5-19 individual payers counts up too: at 0, a collector's first lead
# waited for its tenth payer (the concentrated form's minimum), days into the scheme. Less
# than STRUCTURE_BONUS: at 0.05 a microloan lender's first days (a dozen repayments lent out
# again to one borrower) raised leads in two of three development cities.
EMERGING_BONUS = 0.03
UNSTRUCTURED_PENALTY = 0.1
WITHIN_PEERS_PENALTY = 0.1  # more than the bonus: a peer's busy day is no scheme's structure
# Structure, and five times the individual payers its kind has at its busiest: two pieces of
# evidence the forest, trained on the whole city, cannot weigh (many payers are ordinary for a
# business, not for a person). As much up as within its peers' limits is down.
FAR_BEYOND_PEERS_BONUS = 0.1
# COLLECTING_FOR_OTHERS: three payees take three fifths of what the account pays out. More
# than the few-payees form's half: here the payee count says nothing, as a person's own
# spending has many payees.
OTHERS_TOP_PAYEES_SHARE = 0.6
# NEW_MONEY_PAYS_OLD: two independent pieces of structure, as much up as a far outlier of its
# peers; at 0.05 (one more STRUCTURE_BONUS) the rebate shop of two of four development cities
# still waited two weeks for its lead.
CORROBORATED_BONUS = 0.1


def _fast_out(features: np.ndarray) -> np.ndarray:
    """The money in leaves the same day, and it is the money out (not paid from a balance)."""
    rows: np.ndarray = (features[..., _SAME_DAY_OUT] >= FAST_OUT_SHARE) & (
        features[..., _PASS_THROUGH_30D] <= FAST_OUT_MAX_PASS_THROUGH
    )
    return rows


def fan_in_fast_out(features: np.ndarray, min_payers: int = MIN_INDIVIDUAL_PAYERS) -> np.ndarray:
    """Rows (n, features) -> bool (n,): many individual payers, money out the same day, to a
    few accounts."""
    payers = features[..., _INDIVIDUAL_PAYERS_30D]
    top_share = features[..., _TOP_PAYEES_SHARE]
    few = (features[..., _PAYEES_30D] <= FEW_PAYEES_PER_PAYER * payers) & (
        top_share >= FEW_PAYEES_TOP_SHARE
    )
    concentrated = top_share >= TOP_PAYEES_SHARE
    fast = _fast_out(features)
    enough = payers >= min_payers
    enough_concentrated = payers >= min(min_payers, MIN_CONCENTRATED_PAYERS)
    rows: np.ndarray = fast & ((enough & few) | (enough_concentrated & concentrated))
    return rows


def collecting_for_others(features: np.ndarray, far_beyond_peers: np.ndarray) -> np.ndarray:
    """Rows (n, features) and their ``far_beyond_peers`` (models.peers.peer_standing) -> bool
    (n,): paid by far more individuals than its peers, the money out the same day, mostly to
    three payees."""
    rows: np.ndarray = (
        far_beyond_peers
        & _fast_out(features)
        & (features[..., _INDIVIDUAL_PAYERS_30D] >= MIN_CONCENTRATED_PAYERS)
        & (features[..., _TOP_PAYEES_SHARE] >= OTHERS_TOP_PAYEES_SHARE)
    )
    return rows


def new_money_pays_old(features: np.ndarray) -> np.ndarray:
    """Rows showing FAN_IN_FAST_OUT and REPEAT_PAYOUTS at once, from MIN_EMERGING_PAYERS
    individual payers: the two together need no crowd to be told from a look-alike."""
    rows: np.ndarray = fan_in_fast_out(features, MIN_EMERGING_PAYERS) & repeat_payouts(
        features, MIN_EMERGING_PAYERS
    )
    return rows


def repeat_payouts(features: np.ndarray, min_payers: int = MIN_INDIVIDUAL_PAYERS) -> np.ndarray:
    payers = features[..., _INDIVIDUAL_PAYERS_30D]
    share = features[..., _REPEAT_PAYOUTS]
    count = share * features[..., _OUTFLOWS_30D]
    rows: np.ndarray = (
        (payers >= min_payers)
        & (share >= REPEAT_PAYOUT_SHARE)
        & (count >= REPEAT_PAYOUTS_PER_PAYER * payers)
    )
    return rows


def emerging(features: np.ndarray, structured_rows: np.ndarray | None = None) -> np.ndarray:
    """Rows with a scheme's shape but not yet its many payers (MIN_EMERGING_PAYERS or more,
    fewer than MIN_INDIVIDUAL_PAYERS): a scheme in its first days. ``structured_rows``:
    ``structured(features)``, when the caller has it already."""
    if structured_rows is None:
        structured_rows = structured(features)
    shaped = fan_in_fast_out(features, MIN_EMERGING_PAYERS) | repeat_payouts(
        features, MIN_EMERGING_PAYERS
    )
    rows: np.ndarray = shaped & ~structured_rows
    return rows


def accelerating(features: np.ndarray) -> np.ndarray:
    payers = features[..., _INDIVIDUAL_PAYERS_30D]
    recent = features[..., _INDIVIDUAL_PAYERS_7D]
    return (payers >= MIN_INDIVIDUAL_PAYERS) & (recent >= ACCELERATING_SHARE * payers)


def structured(features: np.ndarray, far_beyond_peers: np.ndarray | None = None) -> np.ndarray:
    """Rows showing a scheme's structure (FAN_IN_FAST_OUT or REPEAT_PAYOUTS; with
    ``far_beyond_peers``, bool per row, COLLECTING_FOR_OTHERS too)."""
    rows: np.ndarray = fan_in_fast_out(features) | repeat_payouts(features)
    if far_beyond_peers is not None:
        rows = rows | collecting_for_others(features, far_beyond_peers)
    return rows


def adjust(
    forest_scores: np.ndarray,
    features: np.ndarray,
    within_peers: np.ndarray | None = None,
    far_beyond_peers: np.ndarray | None = None,
) -> np.ndarray:
    """The scores leads are raised on: the forest's, up for structure, down without it, down
    for an account that does what its peers do on their busy days, and up again for structure
    in an account far beyond its peers (``within_peers``, ``far_beyond_peers``: bool per row,
    models.peers.peer_standing)."""
    structured_rows = structured(features, far_beyond_peers)
    scores: np.ndarray = forest_scores + np.where(
        structured_rows,
        STRUCTURE_BONUS,
        np.where(emerging(features, structured_rows), EMERGING_BONUS, -UNSTRUCTURED_PENALTY),
    )
    scores = scores + np.where(new_money_pays_old(features), CORROBORATED_BONUS, 0.0)
    if within_peers is not None:
        scores = scores - np.where(within_peers, WITHIN_PEERS_PENALTY, 0.0)
    if far_beyond_peers is not None:
        scores = scores + np.where(far_beyond_peers & structured_rows, FAR_BEYOND_PEERS_BONUS, 0.0)
    return scores


def structure_reasons(features: np.ndarray, far_beyond_peers: bool = False) -> tuple[Reason, ...]:
    """Which evidence raised a lead (texts in models.reasons): the structure one feature row
    shows (``far_beyond_peers``: the row's, models.peers.peer_standing), or, without any,
    that the forest alone did."""
    row = np.asarray(features, dtype=np.float64)
    payers = int(row[_INDIVIDUAL_PAYERS_30D])
    same_day = float(row[_SAME_DAY_OUT])
    reasons = []
    far = np.asarray(far_beyond_peers)
    fanned = bool(fan_in_fast_out(row))
    if fanned:
        reasons.append(evidence_reason(FAN_IN_FAST_OUT, payers, same_day))
        top_share = float(row[_TOP_PAYEES_SHARE])
        if top_share >= TOP_PAYEES_SHARE:
            reasons.append(evidence_reason(CONCENTRATED, payers, top_share))
    elif bool(collecting_for_others(row, far)):
        reasons.append(evidence_reason(COLLECTING_FOR_OTHERS, payers, same_day))
    if bool(repeat_payouts(row)):
        reasons.append(evidence_reason(REPEAT_PAYOUTS, payers, float(row[_REPEAT_PAYOUTS])))
    if not reasons and bool(emerging(row, structured(row, far))):
        reasons.append(evidence_reason(EMERGING, payers, float(row[_SAME_DAY_OUT])))
    if bool(new_money_pays_old(row)):
        reasons.append(evidence_reason(NEW_MONEY_PAYS_OLD, payers, 1.0))
    if not reasons:
        reasons.append(evidence_reason(FOREST_ONLY, payers, 0.0))
    if bool(accelerating(row)):
        share = min(float(row[_INDIVIDUAL_PAYERS_7D]) / max(payers, 1), 1.0)
        reasons.append(evidence_reason(ACCELERATING, payers, share))
    return tuple(reasons)
