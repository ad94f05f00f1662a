"""``fundwatch leads list|show|follow``: leads as a readable list, with their reasons; and
``fundwatch schemes list|show``: the suspected schemes (案件线索) they form (rendered by
cli.scheme_text).

Leads are rendered from the typed record (``schemas.lead.Lead``), read back from the topic's
JSON; the lead book keeps the latest revision of each as it came. Every value a bank sent
(ids, names) is escaped where it is laid out (``schemas.display.printable``), so columns stay
aligned and no line is forged; the command prints through ``cli.output.say`` besides.
"""

from __future__ import annotations

import signal
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson
from kafka import KafkaConsumer, TopicPartition

from casework.lead_book import LeadBook, LeadFilter
from casework.lead_status import LeadStatus, LeadStatusRecord
from cli.output import say
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
from schemas.display import printable
from schemas.errors import NotFoundError
from schemas.glossary import (
    FLAG_NAMES,
    department_name,
    outcome_name,
    severity_name,
    status_name,
    yuan,
)
from schemas.glossary import (
    name as named,
)
from schemas.lead import Lead, LeadKind
from streams.casework_topics import load_lead_book
from streams.kafka_clients import kafka_python_kwargs
from streams.settings import Settings
from streams.topic_reader import read_all

__all__ = [
    "LeadFilter",
    "SchemeFilter",
    "detail_of",
    "render_lead",
    "render_lead_detail",
    "scheme_detail_of",
    "scheme_listing",
    "show_leads",
    "show_schemes",
]


def typed(lead: Lead | Mapping[str, Any]) -> Lead:
    """The typed record of a lead the book holds as the topic's JSON object."""
    return lead if isinstance(lead, Lead) else Lead.from_json(dict(lead))


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def _minute(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")


def render_lead_detail(
    lead: Lead | Mapping[str, Any],
    lang: str = "zh",
    status: LeadStatusRecord | None = None,
    listing: str | None = None,
    scheme: Scheme | None = None,
) -> str:
    """One lead in full: the summary and reasons, every field an analyst checks, whether its
    account is on the negative list, its kind and (a linked lead's) money trail, the scheme
    it belongs to, and its status history."""
    lead = typed(lead)
    zh = lang == "zh"
    evidence = ", ".join(printable(tx_id) for tx_id in lead.evidence_tx_ids)
    rows = [
        ("牵头部门" if zh else "lead department", department_name(lead.lead_department, lang)),
        ("类别" if zh else "plan category", printable(lead.seed_category) or "-"),
        ("地区代码" if zh else "region", printable(lead.region)),
        ("首次证据" if zh else "first evidence", _utc(lead.first_evidence_time)),
        ("最近证据" if zh else "last evidence", _utc(lead.last_evidence_time)),
        ("证据交易" if zh else "evidence tx_ids", evidence or "-"),
        ("发布时间" if zh else "emitted at", _utc(lead.emitted_at)),
        ("负面清单" if zh else "negative list", printable(listing) if listing else "-"),
        ("线索类型" if zh else "kind", lead_kind_text(lead, lang)),
    ]
    rows += [("资金链路" if zh else "money trail", line) for line in trail_lines(lead, lang)]
    rows.append(
        (
            "案件线索" if zh else "scheme",
            membership_text(scheme, lead.account_id, lang) if scheme is not None else "-",
        )
    )
    for change in status.history if status is not None else ():
        state = status_name(change.status, lang)
        if change.outcome is not None:
            state += f" ({outcome_name(change.outcome, lang)})"
        when = change.at.isoformat(timespec="minutes")
        rows.append(
            (
                "处置" if zh else "status",
                f"{when}  {state}  {printable(change.by)}  {printable(change.note)}",
            )
        )
    width = max(display_width(label) for label, _ in rows)
    return render_lead(lead, lang) + "".join(
        f"\n    {pad(label, width)}  {value}" for label, value in rows
    )


def render_lead(lead: Lead | Mapping[str, Any], lang: str = "zh", status: str = "new") -> str:
    """A lead as a list entry: when, class, status, where, whose account; how it was found,
    the money and the people; its reasons."""
    lead = typed(lead)
    zh = lang == "zh"
    severity = severity_name(lead.severity, lang) if zh else lead.severity.value
    state = status_name(LeadStatus(status), lang) if zh else status
    flags = [
        named(FLAG_NAMES, flag, lang)
        for flag, raised in (
            ("cross_province_major", lead.cross_province_major),
            ("cross_prefecture", lead.cross_prefecture),
        )
        if raised
    ]
    # A linked lead was raised by a money trail, not by the model: its score says nothing.
    if lead.kind == LeadKind.LINKED.value:
        found = lead_kind_text(lead, lang)
    else:
        found = (
            f"score {lead.score:.3f} "
            f"(threshold {lead.threshold:.3f}, model {printable(lead.model_version)})"
        )
    who = f"{printable(lead.bank_id)}:{printable(lead.account_id)}"
    head = (
        f"{_minute(lead.last_evidence_time)}  [{severity}{' ' + '/'.join(flags) if flags else ''}]"
        f" [{state}]"
        f"  {printable(lead.county)} {printable(lead.sector)} → {lead.lead_department}  "
        f"{who} {printable(lead.customer_name or '')}\n"
        f"    {printable(lead.lead_id)} r{lead.revision}  {found}  "
        f"{'集资' if zh else 'raised'} {yuan(lead.money_raised_fen, places=0)} 元, "
        f"{lead.participants:,} {'人' if zh else 'participants'}"
    )
    reasons = "".join(
        f"\n      · {printable(reason.text_zh if zh else reason.text_en)}"
        for reason in lead.reasons
    )
    return head + reasons


# -- reading the topics -------------------------------------------------------------------------


def _plain_signals() -> None:
    # The consumer blocks the event loop, so the loop's signal handlers never run: let
    # SIGTERM and Ctrl-C stop the process the plain way.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)


def read_book(settings: Settings, leads_topic: str | None = None) -> LeadBook:
    """The lead book of the three topics, or (``leads_topic``, a department's own topic) of
    those leads alone, without statuses and the negative list, which a department's Kafka
    user may not read."""
    return load_lead_book(settings) if leads_topic is None else _topic_book(settings, leads_topic)


def show_leads(
    settings: Settings,
    limit: int,
    follow: bool,
    lang: str,
    lead_filter: LeadFilter | None = None,
    leads_topic: str | None = None,
) -> None:
    """The latest ``limit`` matching leads, then (``follow``) each new revision as it comes;
    with ``lead_filter.lead_id``, that one lead in full."""
    lead_filter = lead_filter or LeadFilter()
    _plain_signals()
    topic = leads_topic or settings.topics.name("leads")
    # Where following starts is taken before the book is read, so that no revision published
    # meanwhile is missed (one read twice is ignored: the book keeps the highest revision).
    consumer = KafkaConsumer(**kafka_python_kwargs(settings), enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        if leads_topic is not None and not partitions:
            # Kafka shows a topic the user may not read as no topic at all.
            raise NotFoundError(f"no topic {topic}, or this Kafka user may not read it")
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
    book = read_book(settings, leads_topic)
    if lead_filter.lead_id is not None:
        if lead_filter.lead_id not in book.leads:
            raise NotFoundError(f"no lead {lead_filter.lead_id} on {topic}")
        say(detail_of(book, lead_filter.lead_id, lang))
        return
    # Filtered on each lead's latest revision: a lead that became major is not general.
    matching = book.select(lead_filter)
    shown = matching[-limit:] if limit > 0 else []
    for lead in shown:
        say(render_lead(lead, lang, book.status(lead["lead_id"]).value))
    say(
        f"-- {len(matching)} leads on {topic}"
        + (" matching the filter" if lead_filter != LeadFilter() else "")
        + ("; following new revisions" if follow else "")
    )
    while follow:
        for records in consumer.poll(timeout_ms=1000).values():
            for record in records:
                newest = book.apply_lead(orjson.loads(record.value))
                if newest is None:
                    continue
                status = book.status(newest["lead_id"])
                if lead_filter.matches(newest, status):
                    say(render_lead(newest, lang, status.value), flush=True)


def _topic_book(settings: Settings, topic: str) -> LeadBook:
    book = LeadBook()
    for _, value in read_all(settings, topic):
        if value is not None:
            book.apply_lead(value)
    return book


def detail_of(book: LeadBook, lead_id: str, lang: str) -> str:
    lead = typed(book.leads[lead_id])
    listing = book.listing_of(book.leads[lead_id])
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
    _plain_signals()
    topic = leads_topic or settings.topics.name("leads")
    book = read_book(settings, leads_topic)
    if scheme_id is not None:
        detail = scheme_detail_of(book, scheme_id, lang, with_statuses=leads_topic is None)
        if detail is None:
            raise NotFoundError(f"no scheme {scheme_id} among the leads on {topic}")
        say(detail)
        return
    say(
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
    known = book.leads
    leads = {lead_id: typed(known[lead_id]) for lead_id in scheme.lead_ids if lead_id in known}
    return render_scheme_detail(scheme, lang, leads, statuses)
