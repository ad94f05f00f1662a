"""``fundwatch leads``: leads as a readable list, with their reasons."""

from __future__ import annotations

import signal
from typing import Any

import orjson
from kafka import KafkaConsumer, TopicPartition

from streams.settings import Settings

SEVERITY_ZH = {"general": "一般", "major": "重大", "case_related": "涉案"}


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


def show_leads(settings: Settings, limit: int, follow: bool, lang: str) -> None:
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
        shown = sorted(latest.values(), key=lambda lead: lead["last_evidence_time"])
        shown = shown[-limit:] if limit > 0 else []
        for lead in shown:
            print(render_lead(lead, lang))
        print(
            f"-- {len(latest)} leads on {topic}" + ("; following new revisions" if follow else "")
        )
        while follow:
            for records in consumer.poll(timeout_ms=1000).values():
                for record in records:
                    print(render_lead(orjson.loads(record.value), lang), flush=True)
    finally:
        consumer.close()
