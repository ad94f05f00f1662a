"""`fundwatch schemes list / schemes show ID / leads show ID`: schemes and trails as text."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from casework.lead_book import LeadBook
from casework.lead_status import LeadStatus, LeadStatusRecord, StatusChange
from cli.lead_text import (
    SchemeFilter,
    detail_of,
    render_lead,
    scheme_detail_of,
    scheme_listing,
)
from cli.scheme_text import (
    display_width,
    money_flow_picture,
    render_scheme,
    render_scheme_detail,
    short_accounts,
)
from models.schemes import Scheme
from schemas.lead import Lead, LeadKind, Severity, TrailDirection, TrailLink

START = datetime(2026, 10, 4, 8, 0, tzinfo=UTC)
REGIONS = {"隆阳区": "530502", "腾冲市": "530581", "昆明": "530102"}


def lead(
    lead_id: str,
    account_id: str,
    bank_id: str,
    county: str = "腾冲市",
    trail: tuple[TrailLink, ...] = (),
    **changes: Any,
) -> dict[str, Any]:
    """A lead as the worker publishes it, read back as the book holds it."""
    record = Lead(
        lead_id=lead_id,
        revision=1,
        account_id=account_id,
        bank_id=bank_id,
        region=REGIONS[county],
        county=county,
        sector="p2p_lending",
        seed_category="(一)",
        lead_department="cbrc",
        score=0.7,
        threshold=0.6,
        model_version="m1",
        severity=Severity.GENERAL,
        cross_prefecture=False,
        cross_province_major=False,
        money_raised_fen=300_000_000,
        participants=40,
        first_evidence_time=START,
        last_evidence_time=START + timedelta(days=10),
        emitted_at=START + timedelta(days=11),
        kind=LeadKind.LINKED.value if trail else LeadKind.SCORED.value,
        hop=max((link.hop for link in trail), default=0),
        trail=trail,
    )
    return orjson.loads(replace(record, **changes).to_json())


def link(
    source_lead_id: str,
    source_account: str,
    amount_yuan: int,
    hop: int = 1,
    path: tuple[str, ...] = (),
) -> TrailLink:
    return TrailLink(
        source_lead_id=source_lead_id,
        source_account=source_account,
        direction=TrailDirection.DOWNSTREAM.value,
        hop=hop,
        path=path or (source_account,),
        amount_fen=amount_yuan * 100,
        transfers=26,
        first_tx_time=START + timedelta(days=1),
        last_tx_time=START + timedelta(days=9),
    )


def scheme_book() -> LeadBook:
    """Collectors at YNRCU and BSCB pass money to a controller at ICBC-BS (Kunming), which
    pays a payout account at BSCB, two hops from the first collector."""
    book = LeadBook()
    for value in (
        lead("L-c1", "6203530000000002201", "YNRCU"),
        lead("L-c2", "5301530000000002202", "BSCB", county="隆阳区", money_raised_fen=250_000_000),
        lead(
            "L-k",
            "6201530000000002203",
            "ICBC-BS",
            county="昆明",
            participants=2,
            money_raised_fen=1_326_800_000,
            trail=(
                link("L-c1", "6203530000000002201", 6_890_000),
                link("L-c2", "5301530000000002202", 6_378_000),
            ),
        ),
        lead(
            "L-p",
            "6200530000000002204",
            "BSCB",
            participants=1,
            payees_30d=300,
            money_raised_fen=19_000_000,
            trail=(
                link(
                    "L-k",
                    "6201530000000002203",
                    190_000,
                    hop=2,
                    path=("6203530000000002201", "6201530000000002203"),
                ),
            ),
        ),
        lead("L-lone", "6222000000000009999", "ABC-BS"),
    ):
        book.apply_lead(value)
    return book


def the_scheme(book: LeadBook) -> Scheme:
    [scheme] = book.schemes()
    return scheme


def test_the_list_shows_class_money_accounts_by_role_banks_and_department() -> None:
    scheme = the_scheme(scheme_book())
    zh = render_scheme(scheme, "zh")
    assert scheme.scheme_id in zh and "[重大 跨州(市)]" in zh  # 5.5 million yuan together
    assert "集资 5,500,000.00 元" in zh
    assert "账户 4（归集 2、控制 1、返利 1）" in zh
    assert "银行 BSCB, ICBC-BS, YNRCU" in zh and "→ 银监保山监管分局" in zh
    assert "2026-10-14T08:00" in zh  # the last activity
    en = render_scheme(scheme, "en")
    assert "[major cross-prefecture]" in en and "CBRC Baoshan branch" in en
    assert "accounts 4 (collector 2, controller 1, payout 1)" in en
    assert "Tengchong City" in en


def test_the_list_filters_like_the_leads_and_keeps_the_limit() -> None:
    book = scheme_book()
    listing = scheme_listing(book, "zh", 20, SchemeFilter(), "fundwatch.leads")
    assert listing.endswith("-- 1 schemes among the 5 leads on fundwatch.leads")
    for kept in (
        SchemeFilter(county="隆阳区"),
        SchemeFilter(county="530102"),
        SchemeFilter(department="dfb"),  # cross-prefecture: routed to 打非办 as well
        SchemeFilter(severity="major", sector="p2p_lending"),
    ):
        assert the_scheme(book).scheme_id in scheme_listing(book, "zh", 20, kept, "t"), kept
    for dropped in (
        SchemeFilter(county="龙陵县"),
        SchemeFilter(department="nyj"),
        SchemeFilter(severity="general"),
    ):
        text = scheme_listing(book, "zh", 20, dropped, "t")
        assert text == "-- 0 schemes among the 5 leads on t matching the filter", dropped
    limited = scheme_listing(book, "zh", 0, SchemeFilter(), "t", one_department=True)
    assert "SC" not in limited and "the newest 0 shown" in limited
    assert "members may be missing" in limited


def test_the_money_flow_reads_collectors_then_controllers_then_payout() -> None:
    scheme = the_scheme(scheme_book())
    picture = money_flow_picture(scheme, "zh")
    # Senders padded to one width and arrows to one length, so the receivers line up.
    assert picture == [
        "归集 6203…2201 (YNRCU)   ──6,890,000.00元/26笔──▶ 控制 6201…2203 (ICBC-BS)",
        "归集 5301…2202 (BSCB)    ──6,378,000.00元/26笔──▶ 控制 6201…2203 (ICBC-BS)",
        "",
        "控制 6201…2203 (ICBC-BS) ──190,000.00元/26笔────▶ 返利 6200…2204 (BSCB)",
    ]
    # In the terminal too, where CJK characters take two columns.
    heads = {display_width(line[: line.index("▶")]) for line in picture if line}
    assert len(heads) == 1
    en = money_flow_picture(scheme, "en")
    assert en[0].startswith("collector 6203…2201 (YNRCU)") and "6,890,000.00 yuan/26 tx" in en[0]
    assert en[-1].endswith("payout 6200…2204 (BSCB)")


def test_one_scheme_in_full_has_totals_members_picture_and_flows() -> None:
    book = scheme_book()
    book.apply_status(
        LeadStatusRecord(
            "L-k",
            (StatusChange(LeadStatus.VERIFYING, "analyst1", START + timedelta(days=12)),),
        ).to_json()
    )
    scheme = the_scheme(book)
    text = scheme_detail_of(book, scheme.scheme_id, "zh")
    assert text is not None
    assert text.startswith(f"案件线索 {scheme.scheme_id}  [重大 跨州(市)]")
    assert "5,500,000.00 元（归集账户合计）" in text
    assert "线索        4（评分 2、关联 2）" in text
    assert "线索处置    新线索 3、核查 1" in text
    member_lines = text.split("成员账户\n")[1].split("\n\n")[0].splitlines()
    assert member_lines[0].split() == [
        "账户",
        "银行",
        "地区",
        "角色",
        "跳数",
        "来源",
        "集资（元）",
        "付款人",
        "30日收款人",
        "户名",
        "线索",
    ]
    # Collectors first, then the controller, then the payout account two hops away.
    assert [line.split()[3] for line in member_lines[1:]] == [
        "归集账户",
        "归集账户",
        "控制账户",
        "返利账户",
    ]
    payout = member_lines[-1].split()
    assert payout[0] == "6200530000000002204" and payout[4:6] == ["2", "关联"]
    assert payout[-1] == "L-p"
    assert "    归集 6203…2201 (YNRCU)   ──6,890,000.00元/26笔──▶ 控制 6201…2203 (ICBC-BS)" in text
    flows = text.split("资金往来\n")[1].splitlines()
    assert flows[1].split()[:4] == [
        "6203530000000002201",
        "6201530000000002203",
        "资金去向",
        "6,890,000.00",
    ]
    assert scheme_detail_of(book, "SCnothing", "zh") is None
    # Read from a department's topic, the book has no statuses to show.
    assert "线索处置" not in (scheme_detail_of(book, scheme.scheme_id, "zh", False) or "")
    typed = {lead_id: Lead.from_json(value) for lead_id, value in book.leads.items()}
    en = render_scheme_detail(scheme, "en", typed)
    assert "leads            4 (2 scored, 2 linked)" in en
    assert "collector account" in en and "where the money went" in en


def test_a_salesperson_investing_in_another_scheme_does_not_merge_the_two() -> None:
    """The scheme book's collector pays 100,000 yuan into another scheme's collector (400
    payers, 114 million raised): there it is one participant among many, so the two schemes
    stay apart and neither draws that payment; the pool it passed to its controller joins."""
    book = scheme_book()
    other = "6203530000000003301"
    book.apply_lead(
        lead(
            "L-other",
            other,
            "BSCB",
            participants=400,
            money_raised_fen=11_420_000_000,
            trail=(link("L-c1", "6203530000000002201", 100_000),),
        )
    )
    book.apply_lead(
        lead(
            "L-other-k",
            "6201530000000003302",
            "BSCB",
            participants=1,
            money_raised_fen=9_000_000_000,
            trail=(link("L-other", other, 8_000_000),),
        )
    )
    schemes = {tuple(s.accounts()): s for s in book.schemes()}
    assert set(schemes) == {
        (
            "5301530000000002202",
            "6200530000000002204",
            "6201530000000002203",
            "6203530000000002201",
        ),
        ("6201530000000003302", other),
    }
    for scheme in schemes.values():
        members = set(scheme.accounts())
        assert all({f.from_account, f.to_account} <= members for f in scheme.flows)


def test_members_joined_as_one_customer_are_named_without_money_between_them() -> None:
    book = LeadBook()
    book.apply_lead(lead("L-a", "6203530000000001001", "YNRCU", customer_id="ID-5305"))
    book.apply_lead(lead("L-b", "6200530000000001002", "BSCB", customer_id="ID-5305"))
    picture = money_flow_picture(the_scheme(book), "zh")
    assert picture == [
        "未见资金往来（同一客户的账户并入）：归集 6200…1002 (BSCB), 归集 6203…1001 (YNRCU)"
    ]


def test_accounts_are_shown_in_full_when_their_short_forms_would_clash() -> None:
    book = LeadBook()
    book.apply_lead(lead("L-a", "6203530000000001001", "YNRCU", customer_id="ID-1"))
    book.apply_lead(lead("L-b", "6203999999999991001", "BSCB", customer_id="ID-1"))
    short = short_accounts(the_scheme(book))
    assert short == {
        "6203530000000001001": "6203530000000001001",
        "6203999999999991001": "6203999999999991001",
    }


def test_show_names_the_scheme_and_a_linked_leads_trail() -> None:
    book = scheme_book()
    scheme_id = the_scheme(book).scheme_id
    payout = detail_of(book, "L-p", "zh")
    # A linked lead was not scored: its list entry says how it was found instead.
    assert "score" not in payout.splitlines()[1]
    assert "L-p r1  关联线索（第 2 跳）" in payout
    assert "线索类型  关联线索（第 2 跳）" in payout
    assert (
        "资金链路  资金去向：线索 L-k 的账户 6201530000000002203 转入本账户 190,000.00 元，26 笔，"
        "第 2 跳，2026-10-05T08:00 — 2026-10-13T08:00；"
        "链路 6203530000000002201 → 6201530000000002203 → 本账户"
    ) in payout
    assert f"案件线索  {scheme_id} [重大 跨州(市)]" in payout and "本账户为返利账户" in payout
    assert f"fundwatch schemes show {scheme_id}" in payout
    en = detail_of(book, "L-p", "en")
    assert "where the money went: account 6201530000000002203 of lead L-k sent" in en
    assert "this account is its payout account" in en
    collector = detail_of(book, "L-c1", "zh")
    assert "线索类型  评分线索" in collector and "资金链路" not in collector
    assert "本账户为归集账户" in collector
    assert "score 0.700" in render_lead(book.leads["L-c1"], "zh")
    assert "案件线索  -" in detail_of(book, "L-lone", "zh")
