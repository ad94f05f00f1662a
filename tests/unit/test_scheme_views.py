"""What the console shows of suspected schemes: the money-flow picture and the JSON behind the
schemes list, a scheme's page and a lead's scheme and trail.

``tests/fixtures/scheme_leads.jsonl`` holds the latest revision of each lead of a backtest of
a simulated month (18 leads, 4 schemes); the other schemes here are made by hand.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from casework.charts import (
    LABEL_HEIGHT,
    money_text,
    scheme_flow_chart,
    short_account,
    text_width,
)
from casework.lead_book import LeadBook
from console.scheme_pages import (
    lead_scheme,
    lead_trail,
    scheme_page,
    scheme_rows,
    visible_scheme,
)
from models.schemes import Scheme

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "scheme_leads.jsonl"
SVG = "{http://www.w3.org/2000/svg}"
# The fixture's schemes (ids follow from their earliest scored leads) and where they go.
PAYOUT_SCHEME = "SC2d8cc8f42578"  # 2 collectors -> 1 controller -> 1 payout; routed to dfb
THREE_COLLECTORS = "SCba0cbf4e0840"  # 3 collectors -> 2 controllers; jrb and dfb
TWO_ACCOUNTS = "SC52a8dd4af766"  # 1 collector -> 1 controller; dfb
SCIENCE_SCHEME = "SC294a69c463c9"  # kjj and dfb


@pytest.fixture(scope="module")
def book() -> LeadBook:
    book = LeadBook()
    for line in FIXTURE.read_bytes().splitlines():
        book.apply_lead(line)
    return book


def scheme_of(book: LeadBook, scheme_id: str) -> Scheme:
    scheme = book.scheme(scheme_id)
    assert scheme is not None, f"{scheme_id} is not among the fixture's schemes"
    return scheme


def lead(lead_id: str, account_id: str, **changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "lead_id": lead_id,
        "revision": 1,
        "account_id": account_id,
        "bank_id": "BSCB",
        "region": "530502",
        "county": "隆阳区",
        "sector": "p2p_lending",
        "lead_department": "cbrc",
        "severity": "general",
        "cross_prefecture": False,
        "cross_province_major": False,
        "customer_name": None,
        "customer_id": f"customer-{account_id}",
        "account_type": "individual",
        "money_raised_fen": 0,
        "participants": 1,
        "payees_30d": 0,
        "kind": "scored",
        "hop": 0,
        "trail": [],
        "first_evidence_time": "2026-10-01T00:00:00+00:00",
        "last_evidence_time": "2026-10-20T00:00:00+00:00",
        "emitted_at": "2026-10-20T01:00:00+00:00",
    }
    record.update(changes)
    return record


def linked(
    lead_id: str,
    account_id: str,
    source: dict[str, Any],
    amount_yuan: int,
    transfers: int,
    direction: str = "downstream",
    **changes: Any,
) -> dict[str, Any]:
    hop = source["hop"] + 1
    link = {
        "source_lead_id": source["lead_id"],
        "source_account": source["account_id"],
        "direction": direction,
        "hop": hop,
        "path": [source["account_id"]],
        "amount_fen": amount_yuan * 100,
        "transfers": transfers,
        "first_tx_time": "2026-10-02T00:00:00+00:00",
        "last_tx_time": "2026-10-18T00:00:00+00:00",
    }
    return lead(lead_id, account_id, kind="linked", hop=hop, trail=[link], **changes)


def collector(lead_id: str, account_id: str, **changes: Any) -> dict[str, Any]:
    return lead(lead_id, account_id, money_raised_fen=900_000_000, participants=300, **changes)


def book_of(leads: list[dict[str, Any]]) -> LeadBook:
    book = LeadBook()
    for item in leads:
        book.apply_lead(item)
    return book


def only_scheme(leads: list[dict[str, Any]]) -> Scheme:
    schemes = book_of(leads).schemes()
    assert len(schemes) == 1
    return schemes[0]


def parse(svg: str) -> ET.Element:
    """The chart as XML: a browser shows an image only if it is well formed."""
    return ET.fromstring(svg)


def boxes(chart: ET.Element) -> dict[str, ET.Element]:
    return {
        g.attrib["data-account"]: g for g in chart.iter(f"{SVG}g") if "data-account" in g.attrib
    }


def arrows(chart: ET.Element) -> list[ET.Element]:
    return [g for g in chart.iter(f"{SVG}g") if "data-from" in g.attrib]


def box_left(box: ET.Element) -> float:
    rect = box.find(f"{SVG}rect")
    assert rect is not None
    return float(rect.attrib["x"])


def size(chart: ET.Element) -> tuple[float, float]:
    return float(chart.attrib["width"]), float(chart.attrib["height"])


def all_text(element: ET.Element) -> str:
    return "".join(element.itertext())


# -- the money-flow picture ---------------------------------------------------------------------


def test_accounts_stand_in_columns_by_role_and_each_flow_is_one_labelled_arrow(
    book: LeadBook,
) -> None:
    scheme = scheme_of(book, PAYOUT_SCHEME)
    chart = parse(scheme_flow_chart(scheme))
    drawn = boxes(chart)
    assert {a: g.attrib["data-role"] for a, g in drawn.items()} == {
        m.account_id: m.role for m in scheme.members
    }
    left = {
        role: {box_left(g) for g in drawn.values() if g.attrib["data-role"] == role}
        for role in ("collector", "controller", "payout")
    }
    assert max(left["collector"]) < min(left["controller"])
    assert max(left["controller"]) < min(left["payout"])
    for member in scheme.members:  # a box names its account, bank, county and role
        text = all_text(drawn[member.account_id])
        assert short_account(member.account_id) in text
        assert member.bank_id in text and member.county in text
        assert {"collector": "归集账户", "controller": "控制账户", "payout": "返利账户"}[
            member.role
        ] in text
    assert sorted(
        (g.attrib["data-from"], g.attrib["data-to"], int(g.attrib["data-value"]))
        for g in arrows(chart)
    ) == sorted((f.from_account, f.to_account, f.amount_fen) for f in scheme.flows)
    labels = {
        scheme.flows[int(t.attrib["data-flow"])].from_account: all_text(t)
        for t in chart.iter(f"{SVG}text")
        if "data-flow" in t.attrib
    }
    # 6,378,000 yuan in 26 transfers from the farmers' cooperative to the controlling account.
    assert labels["530100000000002202"] == "637.8万元26笔"


def test_the_chart_sizes_itself_to_the_scheme(book: LeadBook) -> None:
    small = size(parse(scheme_flow_chart(scheme_of(book, TWO_ACCOUNTS))))
    tall = size(parse(scheme_flow_chart(scheme_of(book, THREE_COLLECTORS))))
    wide = size(parse(scheme_flow_chart(scheme_of(book, PAYOUT_SCHEME))))
    assert tall[1] > small[1] and tall[0] == small[0]  # three rows, two columns
    assert wide[0] > small[0]  # a third column for the payout account
    assert all(0 < width < 1600 and 0 < height < 800 for width, height in (small, tall, wide))


def test_flow_labels_do_not_cover_one_another(book: LeadBook) -> None:
    chart = parse(scheme_flow_chart(scheme_of(book, THREE_COLLECTORS)))
    spans = []
    for label in chart.iter(f"{SVG}text"):
        if "data-flow" in label.attrib:
            width = max(text_width(line) for line in label.itertext())
            spans.append((float(label.attrib["x"]), float(label.attrib["y"]), width))
    assert len(spans) == 6
    for index, (x, y, width) in enumerate(spans):
        for other_x, other_y, other_width in spans[index + 1 :]:
            apart = abs(x - other_x) >= (width + other_width) / 2
            assert apart or abs(y - other_y) >= LABEL_HEIGHT - 0.1


def test_labels_of_money_both_ways_between_two_accounts_stay_apart() -> None:
    pool = collector("LC", "6222000000000000001")
    onward = linked("LK", "6228000000000000011", pool, 6_000_000, 24)
    # The controlling account, on the negative list, also paid the collector.
    returned = linked("LK", "6228000000000000011", pool, 700_000, 2, direction="upstream")
    both_ways = {**onward, "trail": onward["trail"] + returned["trail"]}
    chart = parse(scheme_flow_chart(only_scheme([pool, both_ways])))
    (x1, y1), (x2, y2) = (
        (float(t.attrib["x"]), float(t.attrib["y"]))
        for t in chart.iter(f"{SVG}text")
        if "data-flow" in t.attrib
    )
    assert abs(y1 - y2) >= LABEL_HEIGHT - 0.1 or abs(x1 - x2) >= 100


def test_money_from_a_listed_sender_is_dashed_and_points_at_the_lead() -> None:
    pool = collector("LC", "6222000000000000001")
    sender = linked("LS", "6230000000000000031", pool, 800_000, 3, direction="upstream")
    onward = linked("LK", "6228000000000000011", pool, 6_000_000, 24)
    scheme = only_scheme([pool, sender, onward])
    chart = parse(scheme_flow_chart(scheme))
    by_direction = {g.attrib["data-direction"]: g for g in arrows(chart)}
    upstream, downstream = by_direction["upstream"], by_direction["downstream"]
    assert (upstream.attrib["data-from"], upstream.attrib["data-to"]) == (
        sender["account_id"],
        pool["account_id"],
    )
    assert "stroke-dasharray" in upstream.find(f"{SVG}path").attrib  # type: ignore[union-attr]
    assert "stroke-dasharray" not in downstream.find(f"{SVG}path").attrib  # type: ignore[union-attr]
    # The sender stands right of the collector (a controlling account): the arrow ends on the
    # collector's right edge, its head pointing left.
    drawn = boxes(chart)
    tip = upstream.find(f"{SVG}polygon").attrib["points"].split()  # type: ignore[union-attr]
    tip_x, back_x = float(tip[0].split(",")[0]), float(tip[1].split(",")[0])
    assert tip_x == pytest.approx(box_left(drawn[pool["account_id"]]) + 196)
    assert back_x > tip_x
    legend = {
        g.attrib["data-direction"]: all_text(g)
        for g in chart.iter(f"{SVG}g")
        if g.attrib.get("class") == "legend"
    }
    assert legend == {"downstream": "资金去向", "upstream": "资金来源"}


def test_flows_within_a_column_and_to_accounts_without_a_lead_are_drawn_too() -> None:
    pool = collector("LC", "6222000000000000001")
    first = linked("LK1", "6228000000000000011", pool, 6_000_000, 24)
    second = linked("LK2", "6228000000000000012", first, 1_500_000, 6)
    # Joined to the scheme as the same customer as LK2; its source lead is not in the book.
    stray = linked(
        "LX",
        "6230000000000000041",
        lead("Lgone", "6299000000000000099"),
        300_000,
        2,
        customer_id="customer-6228000000000000012",
    )
    scheme = only_scheme([pool, first, second, stray])
    chart = parse(scheme_flow_chart(scheme))
    drawn = boxes(chart)
    assert drawn["6299000000000000099"].attrib["data-role"] == "outside"
    assert len(arrows(chart)) == len(scheme.flows) == 3
    loop = next(g for g in arrows(chart) if g.attrib["data-to"] == second["account_id"])
    path = loop.find(f"{SVG}path").attrib["d"]  # type: ignore[union-attr]
    numbers = [float(n) for n in re.findall(r"-?\d+\.\d", path)]
    assert numbers[0] == numbers[-2]  # leaves and re-enters on the same (right) edge...
    assert numbers[2] > numbers[0]  # ...looping out beside the column, not through its boxes


def test_hostile_names_stay_text() -> None:
    hostile = {
        "bank_id": "<script>alert(1)</script>",
        "county": '"/><image href="x" onerror="alert(1)',
        "customer_name": "</title><script>alert(2)</script>",
    }
    account = 'A&B" onload="alert(3)'
    pool = collector("LC", account, **hostile)
    odd = linked("LK", "6228\x07000000000011", pool, 6_000_000, 24, bank_id="B\x00S\x1fC")
    svg = scheme_flow_chart(only_scheme([pool, odd]))
    chart = parse(svg)  # well formed: the control characters are gone, not escaped
    tags = {element.tag.removeprefix(SVG) for element in chart.iter()}
    assert tags <= {"svg", "title", "g", "rect", "text", "tspan", "path", "polygon", "line"}
    attributes = {name for element in chart.iter() for name in element.attrib}
    assert not {name for name in attributes if name.lower().startswith("on")}
    drawn = boxes(chart)
    assert account in drawn  # the attribute reads back as the account number itself
    box = drawn[account]
    assert box.findtext(f"{SVG}title") == f"{account} {hostile['customer_name']}"
    assert "<script>" in all_text(box)  # shown, clipped, as the bank's name
    assert "BSC" in all_text(drawn["6228000000000011"])
    assert "<script" not in svg and "\x07" not in svg


def test_the_chart_is_the_same_whatever_order_the_leads_came_in(book: LeadBook) -> None:
    leads = list(book.leads.values())
    again = book_of(list(reversed(leads)))
    for scheme in book.schemes():
        for lang in ("zh", "en"):
            assert scheme_flow_chart(scheme, lang) == scheme_flow_chart(
                scheme_of(again, scheme.scheme_id), lang
            )


def test_the_english_chart_speaks_english(book: LeadBook) -> None:
    chart = parse(scheme_flow_chart(scheme_of(book, PAYOUT_SCHEME), "en"))
    text = all_text(chart)
    assert "collecting account" in text and "payout account" in text
    assert "6.38M yuan" in text and "26 transfers" in text
    assert not re.search(r"[\u4e00-\u9fff]{2}账户|万元|笔", text)
    with pytest.raises(ValueError):
        scheme_flow_chart(scheme_of(book, PAYOUT_SCHEME), "fr")


@pytest.mark.parametrize(
    ("fen", "zh", "en"),
    [
        (637_800_000, "637.8万元", "6.38M yuan"),
        (12_345_678_900, "1.23亿元", "123.46M yuan"),
        (5_000_000, "5.0万元", "50.0k yuan"),
        (500_000, "5,000元", "5.0k yuan"),
        (9_900, "99元", "99 yuan"),
    ],
)
def test_amounts_read_as_an_analyst_writes_them(fen: int, zh: str, en: str) -> None:
    assert (money_text(fen, "zh"), money_text(fen, "en")) == (zh, en)


# -- the JSON behind the console's pages ----------------------------------------------------------


@pytest.mark.parametrize(
    ("departments", "expected"),
    [
        ({"dfb"}, {PAYOUT_SCHEME, THREE_COLLECTORS, TWO_ACCOUNTS, SCIENCE_SCHEME}),
        ({"pboc"}, {PAYOUT_SCHEME, THREE_COLLECTORS, TWO_ACCOUNTS, SCIENCE_SCHEME}),
        ({"kjj"}, {SCIENCE_SCHEME}),
        ({"jrb", "kjj"}, {THREE_COLLECTORS, SCIENCE_SCHEME}),
        # 农业局 has a lead of the payout scheme (a farmers' cooperative), not the scheme,
        # which follows its main collector (sector "other": 打非办 alone).
        ({"nyj"}, set()),
        ({"cbrc"}, set()),
    ],
)
def test_the_schemes_list_shows_a_department_only_its_schemes(
    book: LeadBook, departments: set[str], expected: set[str]
) -> None:
    rows = scheme_rows(book, frozenset(departments))
    assert {row["scheme_id"] for row in rows} == expected
    assert [row["last_activity"] for row in rows] == sorted(
        (row["last_activity"] for row in rows), reverse=True
    )


def test_a_schemes_row_has_what_the_list_shows(book: LeadBook) -> None:
    (row,) = scheme_rows(book, frozenset({"kjj"}))
    scheme = scheme_of(book, SCIENCE_SCHEME)
    assert row["banks"] == list(scheme.banks) and len(row["banks"]) == 4
    assert row["counties"] == list(scheme.counties)
    assert row["money_raised_yuan"] == scheme.money_raised_fen / 100 > 1_000_000
    assert row["participants"] == scheme.participants
    assert row["accounts"] == 4
    assert row["accounts_by_role"] == {"collector": 2, "controller": 1, "payout": 1}
    assert (row["severity"], row["lead_department"]) == ("major", "kjj")
    assert row["last_activity"] == scheme.last_activity


def test_a_scheme_not_yours_is_answered_like_one_that_does_not_exist(book: LeadBook) -> None:
    assert visible_scheme(book, frozenset({"kjj"}), SCIENCE_SCHEME) is not None
    assert visible_scheme(book, frozenset({"kjj"}), PAYOUT_SCHEME) is None
    assert visible_scheme(book, frozenset({"kjj"}), "SC000000000000") is None
    assert visible_scheme(book, frozenset({"pboc"}), PAYOUT_SCHEME) is not None


def test_a_scheme_page_links_only_the_leads_the_user_may_open(book: LeadBook) -> None:
    scheme = scheme_of(book, SCIENCE_SCHEME)
    page = scheme_page(book, frozenset({"kjj"}), scheme)
    assert [m["role"] for m in page["members"]] == [
        "collector",
        "collector",
        "controller",
        "payout",
    ]
    links = {link["lead_id"]: link for m in page["members"] for link in m["leads"]}
    assert set(links) == set(scheme.lead_ids)
    # The science bureau's own lead opens (with its status); the others are only named.
    assert links["Lb854bd25508635b7"] == {
        "lead_id": "Lb854bd25508635b7",
        "visible": True,
        "status": "new",
    }
    assert links["L92cd560f6cbe5391"] == {
        "lead_id": "L92cd560f6cbe5391",
        "visible": False,
        "status": None,
    }
    everyone = scheme_page(book, frozenset({"dfb"}), scheme)
    assert all(link["visible"] for m in everyone["members"] for link in m["leads"])
    amounts = [flow["amount_yuan"] for flow in page["flows"]]
    assert amounts == sorted(amounts, reverse=True) and len(amounts) == len(scheme.flows)
    assert page["scheme"]["provinces"] == list(scheme.provinces)


def test_a_lead_page_names_its_scheme_or_only_who_leads_it(book: LeadBook) -> None:
    cooperative = "L788516cd35e84fa7"  # routed to 农业局 and 打非办; its scheme to 打非办
    shown = lead_scheme(book, frozenset({"dfb"}), cooperative)
    assert shown is not None
    assert (shown["visible"], shown["scheme_id"], shown["role"]) == (
        True,
        PAYOUT_SCHEME,
        "collector",
    )
    assert lead_scheme(book, frozenset({"nyj"}), cooperative) == {
        "visible": False,
        "lead_department": "dfb",
    }
    alone = book_of([lead("L1", "6222000000000000001")])
    assert lead_scheme(alone, None, "L1") is None


def test_a_linked_leads_trail_names_its_sources_and_the_way_the_money_went(
    book: LeadBook,
) -> None:
    linked_lead = book.lead("Ld83592b1cd4dad41")  # the science scheme's controlling account
    assert linked_lead is not None
    trail = lead_trail(book, frozenset({"kjj"}), linked_lead)
    by_source = {link["source_lead_id"]: link for link in trail}
    assert set(by_source) == {"Lb854bd25508635b7", "L92cd560f6cbe5391"}
    assert by_source["Lb854bd25508635b7"]["source_visible"] is True
    assert by_source["L92cd560f6cbe5391"]["source_visible"] is False  # 住建局's lead
    first = by_source["Lb854bd25508635b7"]
    assert first["direction"] == "downstream"
    assert first["path"] == [first["source_account"], linked_lead.account_id]
    assert first["amount_yuan"] == 20_520_000 and first["transfers"] == 15
    scored = book.lead("Lb854bd25508635b7")
    assert scored is not None
    assert lead_trail(book, frozenset({"kjj"}), scored) == []
