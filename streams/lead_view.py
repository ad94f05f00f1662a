"""``fundwatch leads``: leads as a readable list, with their reasons."""

from __future__ import annotations

import signal
from dataclasses import dataclass
from typing import Any

import orjson
from kafka import KafkaConsumer, TopicPartition

from schemas.sectors import DEPARTMENTS
from streams.settings import Settings

SEVERITY_ZH = {"general": "一般", "major": "重大", "case_related": "涉案"}
DEPARTMENT_NAMES = {d.code: (d.name_zh, d.name_en) for d in DEPARTMENTS}


@dataclass(frozen=True)
class LeadFilter:
    """Which leads to show; an empty field matches every lead."""

    county: str | None = None  # a county name (隆阳区) or its 6-digit region code
    sector: str | None = None
    department: str | None = None  # a department code, e.g. cbrc
    severity: str | None = None
    lead_id: str | None = None

    def matches(self, lead: dict[str, Any]) -> bool:
        return (
            (self.county is None or self.county in (lead["county"], lead["region"]))
            and (self.sector is None or lead["sector"] == self.sector)
            and (self.department is None or lead["lead_department"] == self.department)
            and (self.severity is None or lead["severity"] == self.severity)
            and (self.lead_id is None or lead["lead_id"] == self.lead_id)
        )


def render_lead_detail(lead: dict[str, Any], lang: str = "zh") -> str:
    """One lead in full: the summary and reasons, then every field an analyst checks."""
    zh = lang == "zh"
    department = DEPARTMENT_NAMES.get(lead["lead_department"], (lead["lead_department"],) * 2)
    rows = [
        ("牵头部门" if zh else "lead department", department[0 if zh else 1]),
        ("类别" if zh else "plan category", lead["seed_category"] or "-"),
        ("地区代码" if zh else "region", lead["region"]),
        ("首次证据" if zh else "first evidence", lead["first_evidence_time"]),
        ("最近证据" if zh else "last evidence", lead["last_evidence_time"]),
        ("证据交易" if zh else "evidence tx_ids", ", ".join(lead["evidence_tx_ids"]) or "-"),
        ("发布时间" if zh else "emitted at", lead["emitted_at"]),
    ]
    width = max(len(label) for label, _ in rows)
    return render_lead(lead, lang) + "".join(
        f"\n    {label:<{width}}  {value}" for label, value in rows
    )


def render_lead(lead: dict[str, Any], lang: str = "zh") -> str:
    severity = SEVERITY_ZH[lead["severity"]] if lang == "zh" else lead["severity"]
    flags = []
    if lead["cross_province_major"]:
        flags.append("跨省重大" if lang == "zh" else "cross-province major")
    if lead["cross_prefecture"]:
        flags.append("跨州(市)" if lang == "zh" else "cross-prefecture")
    money = lead["money_raised_fen"] / 100
    head = (
        f"{lead['last_evidence_time'][:16]}  [{severity}{' ' + '/'.join(flags) if flags else ''}]"
        f"  {lead['county']} {lead['sector']} → {lead['lead_department']}  "
        f"{lead['bank_id']}:{lead['account_id']} {lead.get('customer_name') or ''}\n"
        f"    {lead['lead_id']} r{lead['revision']}  score {lead['score']:.3f} "
        f"(threshold {lead['threshold']:.3f}, model {lead['model_version']})  "
        f"{'集资' if lang == 'zh' else 'raised'} {money:,.0f} 元, "
        f"{lead['participants']:,} {'人' if lang == 'zh' else 'participants'}"
    )
    key = "text_zh" if lang == "zh" else "text_en"
    reasons = "".join(f"\n      · {reason[key]}" for reason in lead["reasons"])
    return head + reasons


def show_leads(
    settings: Settings,
    limit: int,
    follow: bool,
    lang: str,
    lead_filter: LeadFilter = LeadFilter(),
) -> None:
    # The consumer blocks the event loop, so the loop's signal handlers never run: let
    # SIGTERM and Ctrl-C stop the process the plain way.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    consumer = KafkaConsumer(bootstrap_servers=settings.bootstrap_servers, enable_auto_commit=False)
    topic = settings.topic("leads")
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        if not partitions:
            print(f"{topic} does not exist yet: start a worker (fundwatch worker)")
            return
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        end = consumer.end_offsets(partitions)
        latest: dict[str, dict[str, Any]] = {}
        while any(consumer.position(tp) < end[tp] for tp in partitions):
            for records in consumer.poll(timeout_ms=1000).values():
                for record in records:
                    lead = orjson.loads(record.value)
                    latest[lead["lead_id"]] = lead
        # Filtered on each lead's latest revision: a lead that became major is not general.
        latest = {key: lead for key, lead in latest.items() if lead_filter.matches(lead)}
        if lead_filter.lead_id is not None:
            if lead_filter.lead_id not in latest:
                raise SystemExit(f"no lead {lead_filter.lead_id} on {topic}")
            print(render_lead_detail(latest[lead_filter.lead_id], lang))
            return
        shown = sorted(latest.values(), key=lambda lead: lead["last_evidence_time"])
        shown = shown[-limit:] if limit > 0 else []
        for lead in shown:
            print(render_lead(lead, lang))
        print(
            f"-- {len(latest)} leads on {topic}"
            + (" matching the filter" if lead_filter != LeadFilter() else "")
            + ("; following new revisions" if follow else "")
        )
        while follow:
            for records in consumer.poll(timeout_ms=1000).values():
                for record in records:
                    lead = orjson.loads(record.value)
                    if lead_filter.matches(lead):
                        print(render_lead(lead, lang), flush=True)
    finally:
        consumer.close()
