"""A lead status record's version, the stale-change check, and how a worker's LeadBook takes
its own accepted changes before and after they come back on the topic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from casework.lead_book import LeadBook, LeadFilter
from casework.lead_status import (
    LeadStatus,
    LeadStatusRecord,
    Outcome,
    StatusChange,
    StatusChangeError,
    change_status,
)
from schemas.lead import Lead, Severity

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "scheme_leads.jsonl"
AT = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


def change(status: LeadStatus, by: str = "张伟", minutes: int = 0, note: str = "") -> StatusChange:
    outcome = Outcome.CONFIRMED if status is LeadStatus.CLOSED else None
    return StatusChange(status, by, AT + timedelta(minutes=minutes), note, outcome)


def fixture_book() -> LeadBook:
    book = LeadBook()
    for line in FIXTURE.read_bytes().splitlines():
        book.apply_lead(line)
    return book


def test_the_version_counts_the_changes_and_travels_with_the_record() -> None:
    first = change_status(None, "L1", True, change(LeadStatus.TRACKING), expected_version=0)
    second = change_status(first, "L1", True, change(LeadStatus.VERIFYING, minutes=1), 1)
    assert (first.version, second.version) == (1, 2)
    assert orjson.loads(second.to_json())["version"] == 2
    assert LeadStatusRecord.from_json(second.to_json()) == second
    assert second.follows(first) and not first.follows(second) and not second.follows(second)


def test_a_change_decided_on_an_older_version_is_refused_saying_who_changed_it() -> None:
    theirs = change_status(None, "L1", True, change(LeadStatus.TRACKING, by="王芳"), 0)
    with pytest.raises(StatusChangeError) as refused:
        # 张伟's form was drawn before 王芳 saved: version 0, the record is at 1.
        change_status(theirs, "L1", True, change(LeadStatus.VERIFYING, minutes=1), 0)
    error = refused.value
    assert (error.code, error.http_status) == ("stale", 409)
    assert error.params == {
        "expected_version": "0",
        "version": "1",
        "status": "tracking",
        "by": "王芳",
        "at": AT.isoformat(),
    }
    # Checked before the other rules: a change to the status the lead now has is still
    # "someone changed it", not "it is already so".
    with pytest.raises(StatusChangeError) as same:
        change_status(theirs, "L1", True, change(LeadStatus.TRACKING, minutes=1), 0)
    assert same.value.code == "stale"
    # A version from the future (a record lost or reset) is just as stale.
    with pytest.raises(StatusChangeError, match="changed since version 5"):
        change_status(theirs, "L1", True, change(LeadStatus.VERIFYING), 5)
    # Named on the current version, it passes; not named at all (the CLI), it is not checked.
    assert change_status(theirs, "L1", True, change(LeadStatus.VERIFYING), 1).version == 2
    assert change_status(theirs, "L1", True, change(LeadStatus.VERIFYING)).version == 2


def test_every_refusal_names_its_rule_and_the_codes_it_needs() -> None:
    record = change_status(None, "L1", True, change(LeadStatus.VERIFYING), 0)
    cases = {
        "unknown_lead": lambda: change_status(None, "L9", False, change(LeadStatus.TRACKING)),
        "no_author": lambda: change_status(None, "L1", True, change(LeadStatus.TRACKING, by=" ")),
        "same_status": lambda: change_status(record, "L1", True, change(LeadStatus.VERIFYING)),
        "needs_outcome": lambda: change_status(
            record, "L1", True, StatusChange(LeadStatus.CLOSED, "张伟", AT)
        ),
        "outcome_not_closing": lambda: change_status(
            record, "L1", True, StatusChange(LeadStatus.HANDED_OVER, "张伟", AT, "", Outcome.OTHER)
        ),
        "needs_note": lambda: change_status(record, "L1", True, change(LeadStatus.TRACKING)),
    }
    for code, attempt in cases.items():
        with pytest.raises(StatusChangeError) as refused:
            attempt()
        assert refused.value.code == code
        assert refused.value.http_status == 409
    with pytest.raises(StatusChangeError) as backwards:
        cases["needs_note"]()
    assert backwards.value.params == {"current": "verifying", "status": "tracking"}


def test_the_book_checks_the_version_of_its_own_record() -> None:
    book = fixture_book()
    lead_id = next(iter(book.leads))
    assert book.status_version(lead_id) == 0
    record = book.status_change(lead_id, change(LeadStatus.TRACKING), expected_version=0)
    book.apply_status(record)
    assert book.status_version(lead_id) == 1
    book.check_version(lead_id, 1)
    with pytest.raises(StatusChangeError, match="changed since version 0"):
        book.check_version(lead_id, 0)
    with pytest.raises(StatusChangeError, match="changed since version 0"):
        book.status_change(lead_id, change(LeadStatus.VERIFYING, minutes=1), expected_version=0)


def test_an_own_change_is_held_at_once_and_its_echo_changes_nothing() -> None:
    book = fixture_book()
    lead_id = next(iter(book.leads))
    one = book.status_change(lead_id, change(LeadStatus.TRACKING), 0)
    book.apply_status(one)  # read-your-writes: applied when the broker acknowledged it
    two = book.status_change(lead_id, change(LeadStatus.VERIFYING, minutes=1), 1)
    book.apply_status(two)
    version = book.version
    # The topic brings both back, late: the older one does not take the lead back, the
    # equal one is no news; the book's version (the pages' token) stays.
    assert book.apply_status(one.to_json()) == two
    assert book.apply_status(two.to_json()) == two
    assert book.status(lead_id) is LeadStatus.VERIFYING and book.version == version
    # Another worker's change that does not extend this one (two analysts at once on two
    # workers): the topic's order decides, as it does for every reader of the topic.
    other = change_status(one, lead_id, True, change(LeadStatus.HANDED_OVER, "王芳", 2), 1)
    assert book.apply_status(other.to_json()) == other
    assert book.status(lead_id) is LeadStatus.HANDED_OVER and book.version == version + 1


def test_typed_leads_are_the_topics_leads() -> None:
    book = fixture_book()
    for lead_id, body in book.leads.items():
        lead = book.lead(lead_id)
        assert isinstance(lead, Lead)
        assert (lead.lead_id, lead.revision, lead.money_raised_fen, lead.county) == (
            body["lead_id"],
            body["revision"],
            body["money_raised_fen"],
            body["county"],
        )
        assert lead is book.lead(lead_id)  # parsed once per revision
    assert book.lead("L-none") is None
    assert [lead.lead_id for lead in book.select_leads()] == [
        body["lead_id"] for body in book.select()
    ]
    chosen = LeadFilter(severity="major", department="dfb")
    assert [lead.lead_id for lead in book.select_leads(chosen, frozenset({"dfb"}))] == [
        body["lead_id"] for body in book.select(chosen, frozenset({"dfb"}))
    ]
    assert all(lead.severity is Severity.MAJOR for lead in book.select_leads(chosen))
    # A newer revision replaces the typed lead as well.
    first = next(iter(book.leads.values()))
    newer = {**first, "revision": first["revision"] + 1, "participants": 99}
    book.apply_lead(orjson.dumps(newer))
    typed = book.lead(first["lead_id"])
    assert typed is not None and typed.participants == 99
