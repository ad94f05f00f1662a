"""The ingest stage decides each message the same way on every path, replays included."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import orjson

from ingest.pipeline import BatchOutcome, IngestStage, InputMessage, Verdict
from ingest.state import AccountLedger, SeenReport, expired_reports
from schemas.envelopes import SourcePosition
from tests.reports import encode, valid_report

NOW = datetime(2026, 11, 26, tzinfo=UTC)


class Tables:
    """The two tables as plain dicts, written back the way the agent writes Faust tables."""

    def __init__(self) -> None:
        self.ledgers: dict[str, bytes] = {}
        self.seen: dict[str, bytes] = {}
        self.stage = IngestStage(self.ledger, self.seen)

    def run(
        self, messages: list[InputMessage], write_ledgers: bool = True, write_seen: bool = True
    ) -> BatchOutcome:
        outcome = self.stage.process(messages, NOW)
        if write_ledgers:
            for key, (_, ledger) in outcome.ledger_writes.items():
                self.ledgers[key] = ledger.to_bytes()
        if write_seen:
            for key, (_, entry) in outcome.seen_writes.items():
                self.seen[key] = entry.to_bytes()
        return outcome

    def ledger(self, account: str) -> AccountLedger:
        blob = self.ledgers.get(account)
        return AccountLedger.from_bytes(blob) if blob is not None else AccountLedger()


def message(
    record: dict | bytes, offset: int, partition: int = 0, key: bytes | None = None
) -> InputMessage:
    raw = record if isinstance(record, bytes) else encode(record)
    if key is None and isinstance(record, dict):
        key = record["account_id"].encode()
    return InputMessage(key, raw, SourcePosition("fundwatch.reports", partition, offset, 0))


def verdicts(outcome: BatchOutcome) -> list[Verdict]:
    return [v for v, _ in outcome.verdicts]


def test_accepted_reports_add_up_in_the_ledger() -> None:
    tables = Tables()
    first = valid_report(report_id="R1", amount="100.00", direction="in")
    second = valid_report(report_id="R2", amount="30.50", direction="out")
    outcome = tables.run([message(first, 0), message(second, 1)])
    assert verdicts(outcome) == [Verdict.ACCEPTED, Verdict.ACCEPTED]
    ledger = tables.ledger(first["account_id"])
    assert (ledger.report_count, ledger.inflow_fen, ledger.outflow_fen) == (2, 10000, 3050)
    # One ledger write per account per batch, not one per report.
    assert len(outcome.ledger_writes) == 1


def test_exact_resend_is_processed_once() -> None:
    tables = Tables()
    record = valid_report(report_id="R1", amount="100.00")
    tables.run([message(record, 0)])
    # Same report re-sent later, keys reordered and amount spelled differently.
    resent = dict(reversed(list(valid_report(report_id="R1", amount=100).items())))
    outcome = tables.run([message(resent, 7)])
    assert verdicts(outcome) == [Verdict.DUPLICATE]
    ledger = tables.ledger(record["account_id"])
    assert (ledger.report_count, ledger.duplicate_count) == (1, 1)


def test_same_report_id_with_different_content_is_a_conflict() -> None:
    tables = Tables()
    tables.run([message(valid_report(report_id="R1", amount="100.00"), 0)])
    changed = valid_report(report_id="R1", amount="999.00")
    outcome = tables.run([message(changed, 1)])
    assert verdicts(outcome) == [Verdict.REJECTED]
    dead = orjson.loads(outcome.dead_letters[0].to_json())
    assert dead["reason"] == "conflict"
    assert "partition 0 offset 0" in dead["errors"][0]["message"]
    assert base64.b64decode(dead["original_base64"]) == encode(changed)
    assert tables.ledger(changed["account_id"]).report_count == 1


def test_same_report_id_from_another_bank_is_another_report() -> None:
    tables = Tables()
    outcome = tables.run(
        [
            message(valid_report(report_id="R1", bank_id="BSCB"), 0),
            message(valid_report(report_id="R1", bank_id="ICBC-BS", amount="1.00"), 1),
        ]
    )
    assert verdicts(outcome) == [Verdict.ACCEPTED, Verdict.ACCEPTED]


def test_replay_after_crash_changes_nothing() -> None:
    tables = Tables()
    batch = [message(valid_report(report_id=f"R{i}"), i) for i in range(5)]
    tables.run(batch)
    before = dict(tables.ledgers)
    # The worker died before committing offsets: the same messages are read again.
    outcome = tables.run(batch)
    assert verdicts(outcome) == [Verdict.REPLAYED] * 5
    assert tables.ledgers == before


def test_crash_between_table_writes_neither_loses_nor_doubles() -> None:
    # Only the seen-report entries reached Kafka: the reports are applied on replay.
    tables = Tables()
    batch = [message(valid_report(report_id=f"R{i}"), i) for i in range(3)]
    tables.run(batch, write_ledgers=False)
    outcome = tables.run(batch)
    assert verdicts(outcome) == [Verdict.ACCEPTED] * 3
    assert tables.ledger(valid_report()["account_id"]).report_count == 3

    # Only the ledger reached Kafka: replay skips, and the missing entries are repaired so a
    # later re-send is still recognised.
    tables = Tables()
    tables.run(batch, write_seen=False)
    outcome = tables.run(batch)
    assert verdicts(outcome) == [Verdict.REPLAYED] * 3
    assert len(tables.seen) == 3
    assert verdicts(tables.run([message(valid_report(report_id="R1"), 50)])) == [Verdict.DUPLICATE]


def test_bad_message_is_dead_lettered_and_the_batch_goes_on() -> None:
    tables = Tables()
    outcome = tables.run(
        [
            message(b"\xff not json", 0, key=b"k"),
            message(valid_report(report_id="R1", amount="-3"), 1),
            message(valid_report(report_id="R2"), 2),
        ]
    )
    assert verdicts(outcome) == [Verdict.REJECTED, Verdict.REJECTED, Verdict.ACCEPTED]
    first = orjson.loads(outcome.dead_letters[0].to_json())
    assert first["reason"] == "undecodable"
    assert first["original_text"] is None
    assert base64.b64decode(first["original_base64"]) == b"\xff not json"
    assert first["source"] == {
        "topic": "fundwatch.reports",
        "partition": 0,
        "offset": 0,
        "timestamp_ms": 0,
    }
    second = orjson.loads(outcome.dead_letters[1].to_json())
    assert (second["bank_id"], second["report_id"]) == ("BSCB", "R1")
    assert second["errors"][0]["field"] == "amount"


def test_state_codecs_round_trip() -> None:
    ledger = AccountLedger(3, 99, 5, 2, 1000, 3, 500, 1, 2, 1)
    assert AccountLedger.from_bytes(ledger.to_bytes()) == ledger
    entry = SeenReport(b"12345678", 3, 99, 1_700_000_000_000)
    assert SeenReport.from_bytes(entry.to_bytes()) == entry


def test_identities_past_the_horizon_are_forgotten_and_recent_ones_kept() -> None:
    day = 86_400_000
    entries = [
        ("old", SeenReport(b"a" * 8, 1, 5, 10 * day).to_bytes()),
        ("edge", SeenReport(b"b" * 8, 2, 6, 15 * day).to_bytes()),
        ("new", SeenReport(b"c" * 8, 3, 7, 50 * day).to_bytes()),
    ]
    assert expired_reports(entries, horizon_ms=35 * day) == [("old", 1)]
    assert expired_reports([], horizon_ms=day) == []
