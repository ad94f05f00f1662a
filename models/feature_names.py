"""The per-account features, in the column order of the model. Natural units throughout
(counts, yuan, shares in 0..1, days); the model sees log1p of each."""

from __future__ import annotations

WINDOW_DAYS = (1, 7, 30)

FEATURE_NAMES: tuple[str, ...] = (
    "inflow_count_1d",
    "inflow_count_7d",
    "inflow_count_30d",
    "inflow_sum_yuan_1d",
    "inflow_sum_yuan_7d",
    "inflow_sum_yuan_30d",
    "outflow_count_1d",
    "outflow_count_7d",
    "outflow_count_30d",
    "outflow_sum_yuan_1d",
    "outflow_sum_yuan_7d",
    "outflow_sum_yuan_30d",
    "distinct_payers_1d",
    "distinct_payers_7d",
    "distinct_payers_30d",
    "distinct_individual_payers_7d",
    "distinct_individual_payers_30d",
    "distinct_payees_7d",
    "distinct_payees_30d",
    "distinct_counterparty_prefectures_30d",
    "distinct_counterparty_provinces_30d",
    "pass_through_ratio_7d",  # outflow sum / inflow sum
    "pass_through_ratio_30d",
    "same_day_outflow_share_30d",  # share of inflow that leaves the account the same day
    "median_inflow_yuan_30d",
    "max_inflow_yuan_30d",
    "round_amount_share_30d",  # amounts that are a multiple of 1,000 yuan
    "night_share_30d",  # 00:00-06:00 Beijing time
    "fundraising_memo_share_30d",  # memos with fundraising vocabulary
    "repeat_payout_share_30d",  # outflows to counterparties who paid in earlier
    "cash_share_30d",
    "individual_payer_share_30d",
    "mean_inflow_per_payer_yuan_30d",
    "str_report_count_30d",  # the banks' own suspicious-transaction reports
    "large_value_report_count_30d",
    "account_age_days",  # since the first report, at most AGE_CAP_DAYS
    "activity_growth_7d_over_30d",  # daily report rate of 7 days over that of 30 days
    "top_payees_outflow_share_30d",  # share of the outflow paid to the TOP_PAYEES largest payees
)
# Older than this, an account is "established": uncapped, every account older than the
# training history would be further out than any training row, and so strange to the forest.
AGE_CAP_DAYS = 28  # four weeks: below a training history of 30 days or more, so rows sit at it
TOP_PAYEES = 3  # "a few accounts" that a collector's money is concentrated into
