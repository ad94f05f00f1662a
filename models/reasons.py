"""Reasons of a lead: the features that sit highest in the training population, in words.

Every feature of ``models.feature_names.FEATURE_NAMES`` has one entry in ``FEATURE_TEXTS`` (a
unit test holds them equal): a Chinese label, an English template and a unit that says how the
value is written (counts with a measure word, yuan with thousands separators, shares as %, days,
ratios with 2 decimals).

A feature becomes a reason only when its value is above the training 0.9 quantile and above 0
(upper tail only: the training quantiles say nothing about unusually low values). Reasons are
ordered by how far into the tail the value sits (above the 0.999 quantile, then 0.99, then 0.9),
then by value / quantile, then by feature order, so the order is deterministic.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from models.feature_names import FEATURE_NAMES
from schemas.lead import Reason


class Unit(StrEnum):
    COUNT = "count"  # integer with a Chinese measure word (个, 笔, 份)
    YUAN = "yuan"  # thousands separators, no decimals
    SHARE = "share"  # 0..1, written as a percentage
    DAYS = "days"
    RATIO = "ratio"  # 2 decimals


@dataclass(frozen=True, slots=True)
class FeatureText:
    zh: str  # label, followed by the value: "30日内不同付款人 412 个"
    en: str  # template with {v}: "{v} distinct payers in 30 days"
    unit: Unit
    measure_zh: str = ""  # measure word of a count


def _count(zh: str, en: str, measure: str) -> FeatureText:
    return FeatureText(zh, en, Unit.COUNT, measure)


FEATURE_TEXTS: dict[str, FeatureText] = {
    "inflow_count_1d": _count("1日内转入", "{v} inflows in 1 day", "笔"),
    "inflow_count_7d": _count("7日内转入", "{v} inflows in 7 days", "笔"),
    "inflow_count_30d": _count("30日内转入", "{v} inflows in 30 days", "笔"),
    "inflow_sum_yuan_1d": FeatureText("1日内转入金额", "{v} yuan received in 1 day", Unit.YUAN),
    "inflow_sum_yuan_7d": FeatureText("7日内转入金额", "{v} yuan received in 7 days", Unit.YUAN),
    "inflow_sum_yuan_30d": FeatureText("30日内转入金额", "{v} yuan received in 30 days", Unit.YUAN),
    "outflow_count_1d": _count("1日内转出", "{v} outflows in 1 day", "笔"),
    "outflow_count_7d": _count("7日内转出", "{v} outflows in 7 days", "笔"),
    "outflow_count_30d": _count("30日内转出", "{v} outflows in 30 days", "笔"),
    "outflow_sum_yuan_1d": FeatureText("1日内转出金额", "{v} yuan paid out in 1 day", Unit.YUAN),
    "outflow_sum_yuan_7d": FeatureText("7日内转出金额", "{v} yuan paid out in 7 days", Unit.YUAN),
    "outflow_sum_yuan_30d": FeatureText(
        "30日内转出金额", "{v} yuan paid out in 30 days", Unit.YUAN
    ),
    "distinct_payers_1d": _count("1日内不同付款人", "{v} distinct payers in 1 day", "个"),
    "distinct_payers_7d": _count("7日内不同付款人", "{v} distinct payers in 7 days", "个"),
    "distinct_payers_30d": _count("30日内不同付款人", "{v} distinct payers in 30 days", "个"),
    "distinct_individual_payers_7d": _count(
        "7日内不同个人付款人", "{v} distinct individual payers in 7 days", "个"
    ),
    "distinct_individual_payers_30d": _count(
        "30日内不同个人付款人", "{v} distinct individual payers in 30 days", "个"
    ),
    "distinct_payees_7d": _count("7日内不同收款人", "{v} distinct payees in 7 days", "个"),
    "distinct_payees_30d": _count("30日内不同收款人", "{v} distinct payees in 30 days", "个"),
    "distinct_counterparty_prefectures_30d": _count(
        "30日内对手方所在州(市)", "counterparties in {v} prefectures in 30 days", "个"
    ),
    "distinct_counterparty_provinces_30d": _count(
        "30日内对手方所在省份", "counterparties in {v} provinces in 30 days", "个"
    ),
    "pass_through_ratio_7d": FeatureText(
        "7日内转出/转入金额比", "outflow/inflow ratio of {v} in 7 days", Unit.RATIO
    ),
    "pass_through_ratio_30d": FeatureText(
        "30日内转出/转入金额比", "outflow/inflow ratio of {v} in 30 days", Unit.RATIO
    ),
    "same_day_outflow_share_30d": FeatureText(
        "30日内当日即转出的资金占比", "{v} of 30-day inflow left the same day", Unit.SHARE
    ),
    "median_inflow_yuan_30d": FeatureText(
        "30日内单笔转入中位数", "median inflow of {v} yuan in 30 days", Unit.YUAN
    ),
    "max_inflow_yuan_30d": FeatureText(
        "30日内单笔最大转入", "largest inflow of {v} yuan in 30 days", Unit.YUAN
    ),
    "round_amount_share_30d": FeatureText(
        "30日内整千元转入占比", "{v} of inflows in whole thousands of yuan in 30 days", Unit.SHARE
    ),
    "night_share_30d": FeatureText(
        "30日内夜间(0-6时)交易占比",
        "{v} of transactions at night (00:00-06:00) in 30 days",
        Unit.SHARE,
    ),
    "fundraising_memo_share_30d": FeatureText(
        "30日内含集资用语的附言占比", "{v} of memos with fundraising words in 30 days", Unit.SHARE
    ),
    "repeat_payout_share_30d": FeatureText(
        "30日内转给原付款人的转出占比",
        "{v} of outflows went back to earlier payers in 30 days",
        Unit.SHARE,
    ),
    "cash_share_30d": FeatureText(
        "30日内现金交易占比", "{v} of transactions in cash in 30 days", Unit.SHARE
    ),
    "individual_payer_share_30d": FeatureText(
        "30日内个人付款人占比", "{v} of payers were individuals in 30 days", Unit.SHARE
    ),
    "mean_inflow_per_payer_yuan_30d": FeatureText(
        "30日内人均转入金额", "{v} yuan received per payer in 30 days", Unit.YUAN
    ),
    "str_report_count_30d": _count(
        "30日内可疑交易报告", "{v} suspicious-transaction reports in 30 days", "份"
    ),
    "large_value_report_count_30d": _count(
        "30日内大额交易报告", "{v} large-value transaction reports in 30 days", "份"
    ),
    "account_age_days": FeatureText(
        "账户首笔交易距今", "first transaction {v} days ago", Unit.DAYS
    ),
    "activity_growth_7d_over_30d": FeatureText(
        "近7日与近30日日均交易数之比",
        "daily activity of the last 7 days {v} times that of 30 days",
        Unit.RATIO,
    ),
    "top_payees_outflow_share_30d": FeatureText(
        "30日内转给前三大收款人的资金占比",
        "{v} of the money paid out in 30 days went to its three largest payees",
        Unit.SHARE,
    ),
}

# (quantile key, the training percentile a value above it is at least at), most extreme first.
PERCENTILE_TIERS: tuple[tuple[str, float], ...] = (("0.999", 99.9), ("0.99", 99.0), ("0.9", 90.0))


@dataclass(frozen=True, slots=True)
class _Candidate:
    tier: int  # 0 = above the 0.999 quantile, the most extreme
    ratio: float  # value / exceeded quantile (inf when the quantile is 0)
    index: int  # position in FEATURE_NAMES, the last tie-breaker
    reason: Reason


def format_number(value: float, unit: Unit) -> str:
    """A value as written in both languages, without its measure word."""
    if unit is Unit.SHARE:
        return f"{_trim(value * 100)}%"
    if unit is Unit.RATIO:
        return f"{value:,.2f}"
    if unit is Unit.DAYS:
        return _trim(value)
    return f"{value:,.0f}"  # counts and yuan


def _trim(value: float) -> str:
    """One decimal, dropped when it is 0: "12.5", "30"."""
    text = f"{value:,.1f}"
    return text[:-2] if text.endswith(".0") else text


def _with_unit_zh(value: float, text: FeatureText) -> str:
    number = format_number(value, text.unit)
    if text.unit is Unit.COUNT:
        return f"{number} {text.measure_zh}"
    if text.unit is Unit.YUAN:
        return f"{number} 元"
    if text.unit is Unit.DAYS:
        return f"{number} 天"
    return number


def reason_texts(
    feature: str, value: float, percentile: float, reference: float
) -> tuple[str, str]:
    """(text_zh, text_en) of one reason; KeyError for a feature without a template."""
    text = FEATURE_TEXTS[feature]
    ref = format_number(reference, text.unit)
    pct = _trim(percentile)
    zh = f"{text.zh} {_with_unit_zh(value, text)}，高于 {pct}% 的账户（{ref}）"
    en = (
        f"{text.en.format(v=format_number(value, text.unit))}, more than {pct}% of accounts ({ref})"
    )
    return zh, en


def _candidate(
    index: int, value: float, quantiles: Mapping[str, float] | None
) -> _Candidate | None:
    if quantiles is None or not math.isfinite(value) or value <= 0:
        return None
    for tier, (key, percentile) in enumerate(PERCENTILE_TIERS):
        reference = quantiles.get(key)
        if reference is None or not math.isfinite(reference) or value <= reference:
            continue
        feature = FEATURE_NAMES[index]
        zh, en = reason_texts(feature, value, percentile, reference)
        ratio = value / reference if reference > 0 else math.inf
        return _Candidate(tier, ratio, index, Reason(feature, value, percentile, reference, zh, en))
    return None


def explain(
    features: Sequence[float] | np.ndarray,
    feature_quantiles: Mapping[str, Mapping[str, float]],
    max_reasons: int,
) -> tuple[Reason, ...]:
    """At most ``max_reasons`` features (values in FEATURE_NAMES order) that sit above the
    training 0.9 quantile, the most extreme first."""
    candidates = [
        c
        for index, name in enumerate(FEATURE_NAMES)
        if (c := _candidate(index, float(features[index]), feature_quantiles.get(name))) is not None
    ]
    candidates.sort(key=lambda c: (c.tier, -c.ratio, c.index))
    return tuple(c.reason for c in candidates[: max(0, max_reasons)])


def watchlist_reasons(matches: Sequence[str]) -> tuple[Reason, ...]:
    """One reason per negative-list entity a lead's episode touched ("role|key", see
    models.leads), first in the list because they decide the lead's severity."""
    reasons = []
    for match in matches:
        role, _, key = match.partition("|")
        if role == "account":
            zh, en = (
                f"账户主体在负面清单上（{key}）",
                f"the account's holder is on the negative list ({key})",
            )
        else:
            zh, en = (
                f"与负面清单主体有资金往来（{key}）",
                f"money to or from a listed entity ({key})",
            )
        reasons.append(Reason(f"watchlist_{role}", 1.0, 100.0, 0.0, zh, en))
    return tuple(reasons)


# -- evidence of a scheme's structure (models.structure) ---------------------------------------

FAN_IN_FAST_OUT = "structure_fan_in_fast_out"
REPEAT_PAYOUTS = "structure_repeat_payouts"
ACCELERATING = "structure_accelerating"
CONCENTRATED = "structure_concentrated"
FOREST_ONLY = "forest_only"
EMERGING = "structure_emerging"
COLLECTING_FOR_OTHERS = "structure_collecting_for_others"
NEW_MONEY_PAYS_OLD = "structure_new_money_pays_old"
# evidence -> (zh, en); {payers}: individual payers in 30 days, {share}: the evidence's share
EVIDENCE_TEXTS: dict[str, tuple[str, str]] = {
    FAN_IN_FAST_OUT: (
        "结构特征：30日内 {payers} 个个人付款，{share} 的转入资金当日即转出（分散转入、快进快出）",
        "scheme structure: {payers} individual payers in 30 days, {share} of the money in left "
        "the same day (many in, quickly out)",
    ),
    CONCENTRATED: (
        "结构特征：30日内转出资金的 {share} 流向三个最大收款人（疑似代收后集中转交）",
        "scheme structure: {share} of the money paid out in 30 days went to the three largest "
        "payees (collected for someone and handed on)",
    ),
    REPEAT_PAYOUTS: (
        "结构特征：30日内 {payers} 个个人付款，{share} 的转出付给此前的付款人（疑似返息、返利）",
        "scheme structure: {payers} individual payers in 30 days, {share} of the payments went "
        "to earlier payers (returns paid back)",
    ),
    ACCELERATING: (
        "结构特征：30日内 {payers} 个个人付款人中 {share} 在最近7日出现（参与人数加速增长）",
        "scheme structure: {share} of {payers} individual payers in 30 days came in the last "
        "7 days (accelerating recruitment)",
    ),
    EMERGING: (
        "早期结构特征：30日内 {payers} 个个人付款，资金已呈集资形态"
        "（当日转出或返还付款人），人数尚少",
        "early scheme structure: {payers} individual payers in 30 days, the money already moves "
        "as a scheme's does (out the same day, or back to payers), with few people yet",
    ),
    COLLECTING_FOR_OTHERS: (
        "结构特征：30日内 {payers} 个个人付款，远超同类账户，{share} 的转入资金当日即转出，"
        "大部分流向三个收款人（疑似以个人账户代收）",
        "scheme structure: {payers} individual payers in 30 days, far more than its peers have, "
        "and {share} of the money in left the same day, mostly to three payees (collecting for "
        "someone in a personal account)",
    ),
    NEW_MONEY_PAYS_OLD: (
        "结构特征：新付款当日转出，同时向此前的付款人返款（借新还旧）",
        "scheme structure: new payers' money leaves the same day while earlier payers are paid "
        "returns (new money pays the old)",
    ),
    FOREST_ONLY: (
        "无集资结构特征：仅因账户资金活动远离正常范围（孤立森林）而预警",
        "no scheme structure: raised only because the account's activity is far from the "
        "normal range (isolation forest)",
    ),
}


def evidence_reason(key: str, payers: int, share: float) -> Reason:
    """One piece of structure evidence as a lead reason."""
    zh, en = EVIDENCE_TEXTS[key]
    values = {"payers": payers, "share": f"{share:.0%}"}
    return Reason(key, share, 100.0, 0.0, zh.format(**values), en.format(**values))


# -- the analysts' verdicts (models.ranker) ----------------------------------------------------

VERDICTS = "analyst_verdicts"
# {probability}: P(like the confirmed accounts); {shift}: what it did to the score, signed
VERDICT_TEXTS: tuple[str, str] = (
    "分析人员研判：资金活动与已确认案件的相似度 {probability}（已排除的正常账户为反例），"
    "评分{direction_zh} {shift}",
    "analysts' verdicts: activity {probability} like confirmed cases (against accounts excluded "
    "as legitimate), score {direction_en} by {shift}",
)


def verdict_reason(probability: float, shift: float) -> Reason:
    """The ranker's part in a lead's score: how like the confirmed accounts its activity is."""
    zh, en = VERDICT_TEXTS
    values = {
        "probability": f"{probability:.0%}",
        "shift": f"{abs(shift):.3f}",
        "direction_zh": "调高" if shift >= 0 else "调低",
        "direction_en": "raised" if shift >= 0 else "lowered",
    }
    return Reason(VERDICTS, probability, 100.0, 0.0, zh.format(**values), en.format(**values))
