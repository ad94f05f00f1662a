"""What the console shows and says, without Faust: refusals in the page's language, the
labels of codes, a lead's row and page, and the status change with its version check and
read-your-writes (the publishing passed in, as the endpoint passes the worker's)."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from casework.lead_book import LeadBook
from casework.lead_status import LeadStatus, LeadStatusRecord, StatusChange, StatusChangeError
from console.auth import AuthError
from console.labels import LABELS, label
from console.lead_pages import (
    ChangeRequest,
    change_request,
    lead_page,
    lead_row,
    save_change,
)
from console.messages import MESSAGES, RefusedError, message_of, page_language, refusal_body
from models.watchlist import WatchlistEntry
from schemas.errors import FundwatchError
from schemas.sectors import SECTORS

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "scheme_leads.jsonl"
NOW = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
# A word of English in a Chinese sentence: what the console must never show (codes in
# placeholders are named first; names such as FUNDWATCH_CONSOLE_USERS, README and Kafka are
# what they are in both languages).
ENGLISH_WORD = re.compile(r"\b(?!(?:FUNDWATCH_CONSOLE_USERS|README|Kafka)\b)[A-Za-z]{3,}\b")


def book() -> LeadBook:
    book = LeadBook()
    for line in FIXTURE.read_bytes().splitlines():
        book.apply_lead(line)
    return book


def first_lead_id(book: LeadBook) -> str:
    return next(iter(book.leads))


# -- labels and messages -------------------------------------------------------------------


def test_every_industry_code_has_a_chinese_and_an_english_name() -> None:
    for code in SECTORS:
        names = LABELS["sector"][code]
        assert names["zh"] != code and not ENGLISH_WORD.search(names["zh"]), code
        assert names["en"]
    assert label("sector", "p2p_lending", "zh") == "P2P网络借贷"
    assert label("sector", "other", "zh") == "其他"
    assert label("county", "腾冲市", "en") == "Tengchong City"
    assert label("sector", "unheard_of", "zh") == "unheard_of"  # an unknown code as itself


def test_every_message_is_in_both_languages_with_the_same_placeholders() -> None:
    for code, (zh, en) in MESSAGES.items():
        assert set(re.findall(r"{(\w+)}", zh)) == set(re.findall(r"{(\w+)}", en)), code
        assert not ENGLISH_WORD.search(re.sub(r"{\w+}", "", zh)), (code, zh)


def sample_params() -> dict[str, str]:
    return {
        "status": "verifying",
        "current": "closed",
        "by": "王芳",
        "at": "2026-12-01T09:30:00+00:00",
        "name": "severity",
        "value": "x",
        "version": "2",
    }


def test_a_refused_status_change_is_told_in_the_pages_language() -> None:
    error = StatusChangeError(
        "moving back needs a note", "needs_note", current="closed", status="tracking"
    )
    assert message_of(error, "zh") == (
        "needs_note",
        "将线索从“办结”退回“持续跟踪”，须在说明中写明原因。",
    )
    assert message_of(error, "en")[1] == (
        "Moving the lead back from “closed” to “tracking” needs a note saying why."
    )
    stale = StatusChangeError(
        "changed", "stale", version="2", status="tracking", by="王芳", at=NOW.isoformat()
    )
    zh = message_of(stale, "zh")[1]
    assert zh.startswith("王芳 已于 2026-12-01 17:30 将这条线索改为“持续跟踪”")  # Beijing time
    body = refusal_body(stale, "zh")
    assert (body["code"], body["params"]["version"]) == ("stale", "2")
    # The lang cookie the page sets picks the language; anything else is Chinese.
    assert [page_language(c) for c in ("en", "zh", None, "fr")] == ["en", "zh", "zh", "zh"]


def test_each_code_the_console_can_meet_has_its_message() -> None:
    for code in MESSAGES:
        error = RefusedError(409, code, **sample_params())
        for lang in ("zh", "en"):
            shown_code, text = message_of(error, lang)
            assert shown_code in (code, "stale_unknown") and "{" not in text
            if lang == "zh":
                assert not ENGLISH_WORD.search(text), text
    # Codes raised below the console are among them.
    assert AuthError.code in MESSAGES and AuthError.http_status == 503
    for code in ("stale", "same_status", "needs_outcome", "outcome_not_closing", "needs_note"):
        assert code in MESSAGES


def test_an_error_without_a_known_code_is_still_told_in_the_pages_language() -> None:
    class StrangeError(FundwatchError):
        http_status = 422

    code, text = message_of(StrangeError("internal detail in English"), "zh")
    assert (code, text) == ("refused", "请求未被接受（422）。")
    assert "internal" not in refusal_body(StrangeError("internal detail"), "zh")["error"]


# -- a lead's row and page -----------------------------------------------------------------


def test_a_lead_row_and_page_come_from_the_typed_lead() -> None:
    leads = book()
    lead_id = first_lead_id(leads)
    lead = leads.lead(lead_id)
    assert lead is not None
    row = lead_row(leads, lead)
    body = leads.leads[lead_id]
    assert row["last_evidence_time"] == body["last_evidence_time"]
    assert row["money_raised_yuan"] == body["money_raised_fen"] / 100
    assert (row["status"], row["listed"], row["severity"]) == ("new", False, body["severity"])
    page = orjson.loads(orjson.dumps(lead_page(leads, None, lead)))
    assert page["lead"]["lead_id"] == lead_id and page["lead"]["reasons"] == body["reasons"]
    assert (page["status"], page["status_version"], page["history"]) == ("new", 0, [])


# -- a status change -----------------------------------------------------------------------


def test_the_form_must_say_which_version_it_was_drawn_from() -> None:
    wanted = change_request({"status": "tracking", "note": " x ", "version": 0}, "张伟", NOW)
    assert wanted.version == 0 and wanted.note == "x" and wanted.change is not None
    for body, code in [
        ({"status": "tracking"}, "no_version"),
        ({"status": "tracking", "version": "0"}, "no_version"),
        ({"status": "tracking", "version": True}, "no_version"),
        ({"status": "tracking", "version": -1}, "no_version"),
        ({"status": "", "version": 0}, "nothing_chosen"),
        ({"status": "bogus", "version": 0}, "not_a_change"),
        (["tracking"], "not_a_change"),
    ]:
        with pytest.raises(RefusedError) as refused:
            change_request(body, "张伟", NOW)
        assert refused.value.code == code, body
        assert refused.value.http_status == 400


class Broker:
    """Stands in for the worker's producer: records what was sent and what the book held at
    that moment; ``fail`` makes it refuse."""

    def __init__(self, leads: LeadBook, fail: bool = False) -> None:
        self.leads = leads
        self.fail = fail
        self.sent: list[tuple[str, str, bytes, int]] = []

    async def publish(self, topic: str, key: str, value: bytes) -> None:
        if self.fail:
            raise TimeoutError("no acknowledgement")
        self.sent.append((topic, key, value, self.leads.version))


def save(leads: LeadBook, broker: Broker, lead_id: str, wanted: ChangeRequest) -> Any:
    return asyncio.run(save_change(leads, asyncio.Lock(), lead_id, wanted, "张伟", broker.publish))


def request(status: str, version: int, list_account: bool = False) -> ChangeRequest:
    return change_request(
        {"status": status, "version": version, "list_account": list_account, "note": "核查"},
        "张伟",
        NOW,
    )


def test_a_saved_change_is_in_the_book_when_the_answer_goes_back() -> None:
    leads = book()
    lead_id = first_lead_id(leads)
    broker = Broker(leads)
    saved = save(leads, broker, lead_id, request("verifying", 0, list_account=True))
    # Published first (the book not yet changed), then held by the book at once, before the
    # topics bring the records back.
    assert [(topic, key) for topic, key, _, _ in broker.sent] == [
        ("lead-status", lead_id),
        ("watchlist", f"account:{leads.leads[lead_id]['account_id']}"),
    ]
    assert broker.sent[0][3] == broker.sent[1][3] - 1  # status applied before the listing
    assert leads.status(lead_id) is LeadStatus.VERIFYING and leads.status_version(lead_id) == 1
    lead = leads.lead(lead_id)
    assert lead is not None and leads.listing_of(lead) == saved.listing
    assert LeadStatusRecord.from_json(broker.sent[0][2]) == saved.record
    assert WatchlistEntry.from_json(broker.sent[1][2]) == saved.listing
    # The echo of both changes nothing.
    version = leads.version
    leads.apply_status(broker.sent[0][2])
    assert leads.version == version


def test_a_change_on_a_stale_version_is_refused_and_nothing_is_published() -> None:
    leads = book()
    lead_id = first_lead_id(leads)
    theirs = leads.status_change(lead_id, StatusChange(LeadStatus.TRACKING, "王芳", NOW), 0)
    leads.apply_status(theirs)
    broker = Broker(leads)
    for wanted in (request("verifying", 0), request("", 0, list_account=True)):
        with pytest.raises(StatusChangeError) as refused:
            save(leads, broker, lead_id, wanted)
        assert (refused.value.code, refused.value.http_status) == ("stale", 409)
        assert refused.value.params["by"] == "王芳"
    assert broker.sent == [] and leads.status(lead_id) is LeadStatus.TRACKING


def test_a_change_the_broker_did_not_take_is_not_applied() -> None:
    leads = book()
    lead_id = first_lead_id(leads)
    with pytest.raises(RefusedError) as refused:
        save(leads, Broker(leads, fail=True), lead_id, request("verifying", 0))
    assert (refused.value.code, refused.value.http_status) == ("not_saved", 503)
    assert leads.status_version(lead_id) == 0


def test_an_account_listed_meanwhile_is_not_listed_twice() -> None:
    leads = book()
    lead_id = first_lead_id(leads)
    broker = Broker(leads)
    save(leads, broker, lead_id, request("", 0, list_account=True))
    with pytest.raises(RefusedError) as refused:
        save(leads, broker, lead_id, request("", 0, list_account=True))
    assert (refused.value.code, refused.value.http_status) == ("already_listed", 409)
    assert len(broker.sent) == 1
