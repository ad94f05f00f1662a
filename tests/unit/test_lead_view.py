"""`fundwatch leads`: which leads a filter keeps, and what one lead shows in full."""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator

from cli.lead_text import LeadFilter, render_lead_detail
from schemas.files import load_schema


def lead(**changes: Any) -> dict[str, Any]:
    record = {
        "schema_version": 1,
        "lead_id": "L30941143c21a4fff",
        "revision": 2,
        "account_id": "6203530000000002201",
        "bank_id": "YNRCU",
        "region": "530581",
        "county": "腾冲市",
        "sector": "p2p_lending",
        "seed_category": "(一)",
        "lead_department": "cbrc",
        "score": 0.69,
        "threshold": 0.68,
        "model_version": "m1",
        "severity": "major",
        "cross_prefecture": True,
        "cross_province_major": False,
        "money_raised_fen": 354_800_000,
        "participants": 284,
        "first_evidence_time": "2026-10-18T15:55:28+00:00",
        "last_evidence_time": "2026-10-19T09:12:00+00:00",
        "emitted_at": "2026-11-27T02:24:51+00:00",
        "customer_name": "周丽艳",
        "evidence_tx_ids": ["T1", "T2"],
        "reasons": [
            {
                "feature": "distinct_payers_7d",
                "value": 176.0,
                "training_percentile": 99.0,
                "training_reference": 86.0,
                "text_zh": "7日内不同付款人 176 个，高于 99% 的账户（86）",
                "text_en": "176 distinct payers in 7 days, more than 99% of accounts (86)",
            }
        ],
    }
    record.update(changes)
    Draft202012Validator(load_schema("lead.v1")).validate(record)
    return record


def test_filters_keep_only_matching_leads() -> None:
    assert LeadFilter().matches(lead())
    assert LeadFilter(county="腾冲市").matches(lead())
    assert LeadFilter(county="530581").matches(lead())
    assert not LeadFilter(county="隆阳区").matches(lead())
    assert LeadFilter(sector="p2p_lending", department="cbrc").matches(lead())
    # A cross-prefecture lead is routed to 打非办 too, so its filter keeps it.
    assert LeadFilter(department="dfb").matches(lead())
    assert not LeadFilter(department="dfb").matches(lead(cross_prefecture=False))
    assert not LeadFilter(department="nyj").matches(lead())
    assert LeadFilter(status="new").matches(lead())
    assert not LeadFilter(status="closed").matches(lead())
    assert not LeadFilter(severity="general").matches(lead())
    assert LeadFilter(severity="general").matches(lead(severity="general"))
    assert not LeadFilter(lead_id="Lother").matches(lead())


def test_one_lead_in_full_names_its_department_evidence_and_reasons() -> None:
    zh = render_lead_detail(lead(), "zh")
    assert "银监保山监管分局" in zh and "T1, T2" in zh and "7日内不同付款人 176 个" in zh
    assert "重大" in zh and "跨州(市)" in zh
    en = render_lead_detail(lead(), "en")
    assert "CBRC Baoshan branch" in en and "176 distinct payers in 7 days" in en
