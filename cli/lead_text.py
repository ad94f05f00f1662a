"""``fundwatch leads``: leads as a readable list, with their reasons; the suspected schemes
(案件线索) they form (``--schemes``, ``--scheme ID``, rendered by cli.scheme_text)."""

from __future__ import annotations

import signal
from typing import Any

import orjson
from kafka import KafkaConsumer, TopicPartition

from casework.lead_book import LeadBook, LeadFilter
from casework.lead_status import OUTCOME_NAMES_ZH, STATUS_NAMES_ZH, LeadStatus, LeadStatusRecord
from cli.scheme_text import (
    SchemeFilter,
    display_width,
    lead_kind_text,
    membership_text,
    pad,
    render_scheme,
    render_scheme_detail,
    trail_lines,
)
from models.schemes import Scheme
from schemas.glossary import SEVERITY_NAMES_ZH
from schemas.lead import LeadKind
from schemas.sectors import DEPARTMENTS
from streams.casework_topics import load_lead_book
from streams.kafka_clients import kafka_python_kwargs
from streams.settings import Settings
from streams.topic_reader import read_all

__all__ = [
    "LeadFilter",
    "SchemeFilter",
    "render_lead",
    "render_lead_detail",
    "scheme_detail_of",
    "scheme_listing",
    "show_leads",
    "show_schemes",
]

SEVERITY_ZH = SEVERITY_NAMES_ZH
DEPARTMENT_NAMES = {d.code: (d.name_zh, d.name_en) for d in DEPARTMENTS}


def render_lead_detail(
    lead: dict[str, Any],
    lang: str = "zh",
    status: LeadStatusRecord | None = None,
    listing: str | None = None,
    scheme: Scheme | None = None,
) -> str:
    """One lead in full: the summary and reasons, every field an analyst checks, whether its
    account is on the negative list, its kind and (a linked lead's) money trail, the scheme
    it belongs to, and its status history."""
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
        ("负面清单" if zh else "negative list", listing or "-"),
        ("线索类型" if zh else "kind", lead_kind_text(lead, lang)),
    ]
    rows += [("资金链路" if zh else "money trail", line) for line in trail_lines(lead, lang)]
    rows.append(
        (
            "案件线索" if zh else "scheme",
            membership_text(scheme, lead["account_id"], lang) if scheme is not None else "-",
        )
    )
    for change in status.history if status is not None else ():
        name = STATUS_NAMES_ZH[change.status] if zh else change.status.value
        if change.outcome is not None:
            name += f" ({OUTCOME_NAMES_ZH[change.outcome] if zh else change.outcome.value})"
        when = change.at.isoformat(timespec="minutes")
        rows.append(("处置" if zh else "status", f"{when}  {name}  {change.by}  {change.note}"))
    width = max(display_width(label) for label, _ in rows)
    return render_lead(lead, lang) + "".join(
        f"\n    {pad(label, width)}  {value}" for label, value in rows
    )


def render_lead(lead: dict[str, Any], lang: str = "zh", status: str = "new") -> str:
    severity = SEVERITY_ZH[lead["severity"]] if lang == "zh" else lead["severity"]
    state = STATUS_NAMES_ZH[LeadStatus(status)] if lang == "zh" else status
    flags = []
    if lead["cross_province_major"]:
        flags.append("跨省重大" if lang == "zh" else "cross-province major")
    if lead["cross_prefecture"]:
        flags.append("跨州(市)" if lang == "zh" else "cross-prefecture")
    money = lead["money_raised_fen"] / 100
    # A linked lead was raised by a money trail, not by the model: its score says nothing.
    if lead.get("kind", LeadKind.SCORED.value) == LeadKind.LINKED.value:
        found = lead_kind_text(lead, lang)
    else:
        found = (
            f"score {lead['score']:.3f} "
            f"(threshold {lead['threshold']:.3f}, model {lead['model_version']})"
        )
    head = (
        f"{lead['last_evidence_time'][:16]}  [{severity}{' ' + '/'.join(flags) if flags else ''}]"
        f" [{state}]"
        f"  {lead['county']} {lead['sector']} → {lead['lead_department']}  "
        f"{lead['bank_id']}:{lead['account_id']} {lead.get('customer_name') or ''}\n"
        f"    {lead['lead_id']} r{lead['revision']}  {found}  "
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
    lead_filter: LeadFilter | None = None,
    leads_topic: str | None = None,
) -> None:
    """``leads_topic``: read only these leads (a department's own topic), without the lead
    statuses and the negative list, which a department's Kafka user may not read."""
    lead_filter = lead_filter or LeadFilter()
    # The consumer blocks the event loop, so the loop's signal handlers never run: let
    # SIGTERM and Ctrl-C stop the process the plain way.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    topic = leads_topic or settings.topics.name("leads")
    # Where following starts is taken before the book is read, so that no revision published
    # meanwhile is missed (one read twice is ignored: the book keeps the highest revision).
    consumer = KafkaConsumer(**kafka_python_kwargs(settings), enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        if leads_topic is not None and not partitions:
            # Kafka shows a topic the user may not read as no topic at all.
            raise SystemExit(f"no topic {topic}, or this Kafka user may not read it")
        consumer.assign(partitions)
        consumer.seek_to_end(*partitions)
        for tp in partitions:
            consumer.position(tp)
        _show(settings, consumer, limit, follow, lang, lead_filter, leads_topic)
    finally:
        consumer.close()


def _show(
    settings: Settings,
    consumer: KafkaConsumer,
    limit: int,
    follow: bool,
    lang: str,
    lead_filter: LeadFilter,
    leads_topic: str | None = None,
) -> None:
    topic = leads_topic or settings.topics.name("leads")
    book = load_lead_book(settings) if leads_topic is None else _topic_book(settings, leads_topic)
    if lead_filter.lead_id is not None:
        if lead_filter.lead_id not in book.leads:
            raise SystemExit(f"no lead {lead_filter.lead_id} on {topic}")
        print(detail_of(book, lead_filter.lead_id, lang))
        return
    # Filtered on each lead's latest revision: a lead that became major is not general.
    matching = book.select(lead_filter)
    shown = matching[-limit:] if limit > 0 else []
    for lead in shown:
        print(render_lead(lead, lang, book.status(lead["lead_id"]).value))
    print(
        f"-- {len(matching)} leads on {topic}"
        + (" matching the filter" if lead_filter != LeadFilter() else "")
        + ("; following new revisions" if follow else "")
    )
    while follow:
        for records in consumer.poll(timeout_ms=1000).values():
            for record in records:
                lead = book.apply_lead(orjson.loads(record.value))
                if lead is None:
                    continue
                status = book.status(lead["lead_id"])
                if lead_filter.matches(lead, status):
                    print(render_lead(lead, lang, status.value), flush=True)


def _topic_book(settings: Settings, topic: str) -> LeadBook:
    book = LeadBook()
    for _, value in read_all(settings, topic):
        if value is not None:
            book.apply_lead(value)
    return book


def detail_of(book: LeadBook, lead_id: str, lang: str) -> str:
    lead = book.leads[lead_id]
    listing = book.listing_of(lead)
    listed = (
        f"{listing.key} ({listing.source.value}, {listing.added_at:%Y-%m-%d})" if listing else None
    )
    return render_lead_detail(
        lead, lang, book.statuses.get(lead_id), listed, book.scheme_of(lead_id)
    )


# -- schemes ----------------------------------------------------------------------------------


def show_schemes(
    settings: Settings,
    lang: str,
    limit: int,
    scheme_filter: SchemeFilter | None = None,
    scheme_id: str | None = None,
    leads_topic: str | None = None,
) -> None:
    """List the schemes (newest activity first), or show one in full (``scheme_id``).

    ``leads_topic``: build them from a department's own topic only, without statuses."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    topic = leads_topic or settings.topics.name("leads")
    book = load_lead_book(settings) if leads_topic is None else _topic_book(settings, leads_topic)
    if scheme_id is not None:
        detail = scheme_detail_of(book, scheme_id, lang, with_statuses=leads_topic is None)
        if detail is None:
            raise SystemExit(f"no scheme {scheme_id} among the leads on {topic}")
        print(detail)
        return
    print(
        scheme_listing(
            book, lang, limit, scheme_filter or SchemeFilter(), topic, leads_topic is not None
        )
    )


def scheme_listing(
    book: LeadBook,
    lang: str,
    limit: int,
    scheme_filter: SchemeFilter,
    topic: str,
    one_department: bool = False,
) -> str:
    """The matching schemes, newest activity first (at most ``limit``), and a footer."""
    matching = [s for s in book.schemes() if scheme_filter.matches(s)]
    shown = matching[:limit] if limit > 0 else []
    footer = (
        f"-- {len(matching)} schemes among the {len(book.leads)} leads on {topic}"
        + (" matching the filter" if scheme_filter != SchemeFilter() else "")
        + (f"; the newest {len(shown)} shown" if len(shown) < len(matching) else "")
    )
    if one_department:
        # Members whose leads are routed to other departments are not on this topic.
        footer += "; built from this department's leads only, so members may be missing"
    return "\n".join([*(render_scheme(s, lang) for s in shown), footer])


def scheme_detail_of(
    book: LeadBook, scheme_id: str, lang: str, with_statuses: bool = True
) -> str | None:
    """One scheme in full, with its leads' kinds and (unless the book was read without the
    status topic) their statuses; None when there is no such scheme."""
    scheme = book.scheme(scheme_id)
    if scheme is None:
        return None
    statuses = (
        {lead_id: book.status(lead_id).value for lead_id in scheme.lead_ids}
        if with_statuses
        else None
    )
    return render_scheme_detail(scheme, lang, book.leads, statuses)
