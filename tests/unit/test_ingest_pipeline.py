"""The ingest stage decides each message the same way on every path, replays included."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import orjson
import pytest

from ingest.pipeline import DAY_MS, BatchOutcome, IngestStage, InputMessage, TxTimeRules, Verdict
from ingest.state import (
    AccountLedger,
    AccountSeen,
    SeenReport,
    SeenTable,
    StateDecodeError,
    expired_reports,
    identity_digest,
)
from models.account_state import AccountState
from models.leads import LeadState
from models.pipeline import Pipeline, PipelineConfig
from models.trails import OutflowLog
from schemas.envelopes import SourcePosition
from schemas.report import parse_report, report_key
from streams.settings import Settings, SettingsError
from tests.reports import encode, valid_report

NOW = datetime(2026, 11, 26, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)  # the broker timestamp of every message


class Tables:
    """The two tables as plain dicts, written back the way the agent writes Faust tables."""

    def __init__(self, rules: TxTimeRules | None = None) -> None:
        self.ledgers: dict[str, bytes] = {}
        self.seen: dict[str, bytes] = {}
        self.stage = IngestStage(self.ledger, self.seen, rules)

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
    record: dict | bytes,
    offset: int,
    partition: int = 0,
    key: bytes | None = None,
    broker_ms: int | None = NOW_MS,
) -> InputMessage:
    raw = record if isinstance(record, bytes) else encode(record)
    if key is None and isinstance(record, dict):
        key = record["account_id"].encode()
    source = SourcePosition("fundwatch.reports", partition, offset, broker_ms)
    return InputMessage(key, raw, source)


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
    seen = AccountSeen.from_bytes(tables.seen[valid_report()["account_id"]])
    assert len(seen.entries) == 3
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
        "timestamp_ms": NOW_MS,
        "index": 0,
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
    assert expired(entries, horizon_ms=35 * day) == [("old", 1)]
    assert expired([], horizon_ms=day) == []


def expired(entries: list[tuple[str, bytes]], **kwargs: int) -> list[tuple[str, int]]:
    """(key, partition) of the values the sweep deletes."""
    return [(r.key, r.partition) for r in expired_reports(entries, **kwargs) if r.value is None]


# -- hostile input -------------------------------------------------------------------------

HOSTILE = {
    "ANSI escape in the memo": (
        encode(valid_report(purpose="\x1b[31m高息\x1b[0m")),
        "forbidden_character",
        ("purpose", "control_character"),
    ),
    "NUL in the report id": (
        encode(valid_report(report_id="R\x00")),
        "forbidden_character",
        ("report_id", "control_character"),
    ),
    "NEL in a name": (
        encode(valid_report(customer_name="某某\x85公司")),
        "forbidden_character",
        ("customer_name", "control_character"),
    ),
    "right-to-left override in a name": (
        encode(valid_report(counterparty_name="张三\u202e四李")),
        "forbidden_character",
        ("counterparty_name", "invisible_character"),
    ),
    "zero width space in the account": (
        encode(valid_report(counterparty_account="6217\u200b000033334444")),
        "forbidden_character",
        ("counterparty_account", "invisible_character"),
    ),
    "lone surrogate": (
        encode(valid_report(purpose="P"))[:-3] + b'\\ud800"}',
        "forbidden_character",
        ("purpose", "lone_surrogate"),
    ),
    "amount twice": (
        encode(valid_report())[:-1] + b',"amount":"1.00"}',
        "duplicate_key",
        ("amount", "duplicate_key"),
    ),
    "year 9999": (
        encode(valid_report(tx_time="9999-12-31T23:59:59+08:00")),
        "time_out_of_range",
        ("tx_time", "in_future"),
    ),
    "two days ahead of the broker": (
        encode(valid_report(tx_time="2026-11-28T00:00:01Z")),
        "time_out_of_range",
        ("tx_time", "in_future"),
    ),
    "the epoch": (
        encode(valid_report(tx_time="1970-01-01T00:00:00Z")),
        "time_out_of_range",
        ("tx_time", "before_earliest"),
    ),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_report_is_dead_lettered_with_its_reason_and_bytes(name: str) -> None:
    raw, reason, first_error = HOSTILE[name]
    tables = Tables()
    outcome = tables.run([message(raw, 0, key=valid_report()["account_id"].encode())])
    assert verdicts(outcome) == [Verdict.REJECTED]
    letter = orjson.loads(outcome.dead_letters[0].to_json())
    assert letter["reason"] == reason
    assert (letter["errors"][0]["field"], letter["errors"][0]["reason"]) == first_error
    assert base64.b64decode(letter["original_base64"]) == raw
    assert not tables.ledgers and not outcome.seen_writes  # no state touched


def test_tx_time_within_the_tolerance_of_the_broker_is_accepted() -> None:
    # NOW is 2026-11-26T00:00Z: a day ahead is clock skew, a day and a second is refused.
    on_edge = valid_report(report_id="R1", tx_time="2026-11-27T00:00:00Z")
    beyond = valid_report(report_id="R2", tx_time="2026-11-27T00:00:01Z")
    outcome = Tables().run([message(on_edge, 0), message(beyond, 1)])
    assert verdicts(outcome) == [Verdict.ACCEPTED, Verdict.REJECTED]
    assert "24 h" in outcome.dead_letters[0].errors[0].message


def test_tolerance_and_earliest_date_are_settings() -> None:
    settings = Settings.from_env(
        {
            "FUNDWATCH_FUTURE_TOLERANCE_SECONDS": "3600",
            "FUNDWATCH_EARLIEST_TX_TIME": "2026-01-01",
        }
    )
    rules = settings.tx_time_rules
    assert rules.future_tolerance_ms == 3_600_000
    assert rules.earliest_tx_ms == int(datetime(2025, 12, 31, 16, tzinfo=UTC).timestamp() * 1000)
    tables = Tables(rules)
    outcome = tables.run(
        [
            message(valid_report(report_id="R1", tx_time="2026-11-26T00:59:59Z"), 0),
            message(valid_report(report_id="R2", tx_time="2026-11-26T01:00:01Z"), 1),
            message(valid_report(report_id="R3", tx_time="2025-12-31T23:59:59+08:00"), 2),
        ]
    )
    assert verdicts(outcome) == [Verdict.ACCEPTED, Verdict.REJECTED, Verdict.REJECTED]
    assert Settings.from_env({}).tx_time_rules == TxTimeRules()
    for variable, value in (
        ("FUNDWATCH_FUTURE_TOLERANCE_SECONDS", "-1"),
        ("FUNDWATCH_EARLIEST_TX_TIME", "last year"),
    ):
        with pytest.raises(SettingsError, match=variable):
            Settings.from_env({variable: value})


def test_without_a_broker_timestamp_only_the_earliest_date_is_checked() -> None:
    # A report file replayed offline has no broker time: the future check is skipped there, so
    # a valid report is decided alike by the worker and by a backtest.
    future = valid_report(report_id="R1", tx_time="2027-06-01T00:00:00Z")
    ancient = valid_report(report_id="R2", tx_time="1999-12-31T00:00:00Z")
    outcome = Tables().run(
        [message(future, 0, broker_ms=None), message(ancient, 1, broker_ms=None)]
    )
    assert verdicts(outcome) == [Verdict.ACCEPTED, Verdict.REJECTED]


# -- recovery from a far-future event time -------------------------------------------------

ACCOUNT = valid_report()["account_id"]


def days_of_reports(first_day: int, days: int, offset: int) -> list[InputMessage]:
    """Two deposits a day into ACCOUNT from different payers, each sent when it happened."""
    out = []
    for day in range(first_day, first_day + days):
        for n in range(2):
            moment = datetime(2026, 11, 1, 2 + n, tzinfo=UTC).timestamp() + day * 86_400
            record = valid_report(
                report_id=f"R{day}-{n}",
                tx_id=f"T{day}-{n}",
                tx_time=datetime.fromtimestamp(moment, UTC).isoformat(),
                counterparty_account=f"62170000{day:04d}{n:04d}",
                amount="900.00",
            )
            out.append(message(record, offset + len(out), broker_ms=int(moment * 1000) + 60_000))
    return out


def test_an_account_poisoned_by_a_far_future_date_recovers() -> None:
    # The state as a worker before the rule left it: a 9999-12-31 report was accepted (an
    # offline replay still accepts it, having no broker time to check it against).
    accounts: dict[str, bytes] = {}
    seen: dict[str, bytes] = {}
    pipeline = Pipeline(accounts, seen, PipelineConfig())

    def run(messages: list[InputMessage]) -> int:
        outcome = pipeline.process(messages, None, NOW)
        for account_id, (_, blob) in outcome.account_writes.items():
            accounts[account_id] = blob
        for identity, (_, entry) in outcome.ingest.seen_writes.items():
            seen[identity] = entry.to_bytes()
        return outcome.late_reports

    run(days_of_reports(0, 3, 0))
    poison = valid_report(report_id="X", tx_id="X", tx_time="9999-12-31T23:59:59+08:00")
    run([message(poison, 100, broker_ms=None)])
    state = pipeline._state(ACCOUNT)
    assert state.features.newest_ms > 10**14  # the account's "now" is in year 9999

    # The next reports, each with its broker time: applied on time, none late.
    assert run(days_of_reports(3, 4, 200)) == 0
    recovered = Pipeline(accounts, seen, PipelineConfig())._state(ACCOUNT)
    clean = Pipeline({}, {}, PipelineConfig())
    clean.process(days_of_reports(3, 4, 200), None, NOW)
    untouched = clean._state(ACCOUNT)
    # The windows see exactly what a never-poisoned account sees of those days...
    assert recovered.features.newest_ms == untouched.features.newest_ms
    assert (recovered.features.buckets == untouched.features.buckets).all()
    assert recovered.features.payers == untouched.features.payers
    assert recovered.ledger.last_tx_ms == untouched.ledger.last_tx_ms
    # ...while the lifetime totals keep everything accepted before, the poison included.
    assert recovered.features.report_count == 3 * 2 + 1 + 4 * 2
    assert recovered.ledger.report_count == 3 * 2 + 1 + 4 * 2


def test_a_state_within_the_tolerance_is_left_alone() -> None:
    accounts: dict[str, bytes] = {}
    pipeline = Pipeline(accounts, {}, PipelineConfig())
    outcome = pipeline.process(days_of_reports(0, 2, 0), None, NOW)
    state = pipeline._state(ACCOUNT)
    before = state.features.to_dict()
    bound = TxTimeRules().state_bound_ms(state.features.newest_ms - DAY_MS + 1)
    assert bound is not None and not state.recover_from_future(bound)
    assert state.features.to_dict() == before
    assert outcome.late_reports == 0


def test_seen_reports_of_a_far_future_date_do_not_expire_the_rest() -> None:
    day = 86_400_000
    entries = [
        ("recent", SeenReport(b"a" * 8, 1, 5, 50 * day).to_bytes()),
        ("year-9999", SeenReport(b"b" * 8, 2, 6, 253_402_300_799_000).to_bytes()),
    ]
    # Without the clock, the far-future entry is "the newest" and everything else expires.
    assert ("recent", 1) in expired(entries, horizon_ms=35 * day)
    assert expired(entries, horizon_ms=35 * day, latest_ms=51 * day) == [("year-9999", 2)]


def test_recovery_cuts_back_the_lead_ledger_and_outflow_times() -> None:
    future = 253_402_300_799_000  # 9999-12-31
    state = AccountState.new(7_200_000)
    state.features.newest_ms = future
    state.features.report_count = 3
    state.ledger = AccountLedger(0, 9, 3, 3, 300, 0, 0, NOW_MS - DAY_MS, future, 0)
    state.lead = LeadState("L1", 2, NOW_MS - DAY_MS, future, future, "ordinary", False, False, 1, 1)
    state.outflows = OutflowLog([["P1", 100, NOW_MS - DAY_MS, "T1"], ["P2", 100, future, "T2"]])
    assert state.recover_from_future(NOW_MS)
    assert state.features.newest_ms == 0 and state.features.report_count == 3
    assert (state.ledger.first_tx_ms, state.ledger.last_tx_ms) == (NOW_MS - DAY_MS, NOW_MS)
    assert state.lead is not None
    assert (state.lead.episode_start_ms, state.lead.last_anomalous_ms) == (NOW_MS - DAY_MS, NOW_MS)
    assert state.lead.last_revision_ms == NOW_MS and state.lead.revision == 2
    assert [e[3] for e in state.outflows.entries] == ["T1"]
    assert not state.recover_from_future(NOW_MS)  # once recovered, left alone


def batched(records: list[dict | bytes], offset: int, partition: int = 0) -> InputMessage:
    """One batched message (JSON lines), as `fundwatch produce --batch N` sends it."""
    lines = [r if isinstance(r, bytes) else encode(r) for r in records]
    source = SourcePosition("fundwatch.reports", partition, offset, NOW_MS)
    return InputMessage(b"batch", b"\n".join(lines) + b"\n", source, batched=True)


def test_a_batched_message_is_decided_report_by_report() -> None:
    tables = Tables()
    good = [valid_report(report_id=f"R{n}", tx_id=f"T{n}") for n in range(3)]
    bad = valid_report(report_id="R-bad", amount="-3")
    outcome = tables.run([batched([good[0], bad, b"{not json", good[1], good[2]], 7)])
    assert verdicts(outcome) == [
        Verdict.ACCEPTED,
        Verdict.REJECTED,
        Verdict.REJECTED,
        Verdict.ACCEPTED,
        Verdict.ACCEPTED,
    ]
    # Each bad report dead-lettered alone, with its own bytes and its line in the message.
    letters = [orjson.loads(d.to_json()) for d in outcome.dead_letters]
    assert [(d["reason"], d["source"]["offset"], d["source"]["index"]) for d in letters] == [
        ("schema", 7, 1),
        ("undecodable", 7, 2),
    ]
    assert base64.b64decode(letters[1]["original_base64"]) == b"{not json"
    assert tables.ledger(good[0]["account_id"]).report_count == 3


def test_a_batched_message_read_again_after_a_crash_changes_nothing() -> None:
    tables = Tables()
    reports = [valid_report(report_id=f"R{n}", tx_id=f"T{n}") for n in range(4)]
    message_ = batched(reports, 3)
    assert verdicts(tables.run([message_])) == [Verdict.ACCEPTED] * 4
    # Read again: every line is recognised by (offset, line), none counted twice.
    assert verdicts(tables.run([message_])) == [Verdict.REPLAYED] * 4
    # The same reports re-sent in a later message are duplicates, as single messages are.
    assert verdicts(tables.run([batched(reports, 9)])) == [Verdict.DUPLICATE] * 4
    assert tables.ledger(reports[0]["account_id"]).report_count == 4


def test_a_batched_report_of_another_partitions_account_is_refused() -> None:
    from ingest.partitioning import partition_for

    ledgers: dict[str, bytes] = {}
    stage = IngestStage(
        lambda a: AccountLedger.from_bytes(ledgers[a]) if a in ledgers else AccountLedger(),
        {},
        partitions=4,
    )
    accounts = [f"62220000{n:08d}" for n in range(12)]
    home = {a: partition_for(a.encode(), 4) for a in accounts}
    reports = [valid_report(report_id=a, account_id=a) for a in accounts]
    outcome = stage.process([batched(reports, 0, partition=2)], NOW)
    expected = [Verdict.ACCEPTED if home[a] == 2 else Verdict.REJECTED for a in accounts]
    assert verdicts(outcome) == expected and Verdict.REJECTED in expected
    assert {d.reason for d in outcome.dead_letters} == {"wrong_partition"}


def test_a_batched_message_over_the_limit_is_refused_whole() -> None:
    stage = IngestStage(lambda a: AccountLedger(), {}, max_batched_reports=3)
    reports = [valid_report(report_id=f"R{n}", tx_id=f"T{n}") for n in range(4)]
    outcome = stage.process([batched(reports, 0)], NOW)
    assert verdicts(outcome) == [Verdict.REJECTED]
    [letter] = outcome.dead_letters
    assert letter.reason == "batch_too_large" and letter.original.count(b"\n") == 4


def test_states_written_before_batched_messages_still_decode() -> None:
    import struct

    old_ledger = struct.pack("<Biqqqqqqqqq", 1, 2, 40, 5, 3, 300, 2, 200, 10, 20, 1)
    ledger = AccountLedger.from_bytes(old_ledger)
    assert (ledger.last_offset, ledger.last_index, ledger.report_count) == (40, 0, 5)
    assert ledger.already_applied(2, 40) and not ledger.already_applied(2, 41)
    old_seen = struct.pack("<B8siqq", 1, b"digest!!", 2, 40, 1_000)
    assert SeenReport.from_bytes(old_seen).is_same_message(2, 40, 0)
    assert AccountLedger.from_bytes(ledger.to_bytes()) == ledger


# -- report identities, one value per account -----------------------------------------------

OTHER_ACCOUNT = "6222000099998888"


def test_an_accounts_identities_are_one_write_per_batch() -> None:
    tables = Tables()
    reports = [valid_report(report_id=f"R{n}", tx_id=f"T{n}") for n in range(5)]
    other = valid_report(report_id="Q1", account_id=OTHER_ACCOUNT)
    outcome = tables.run([message(r, n) for n, r in enumerate(reports)] + [message(other, 9)])
    assert verdicts(outcome) == [Verdict.ACCEPTED] * 6
    # Six reports of two accounts: two values, one per account, each holding its identities.
    assert set(outcome.seen_writes) == {ACCOUNT, OTHER_ACCOUNT}
    assert len(AccountSeen.from_bytes(tables.seen[ACCOUNT]).entries) == 5
    # A later batch with a re-send and a new report rewrites the account's value once.
    again = tables.run([message(reports[2], 20), message(valid_report(report_id="R9"), 21)])
    assert verdicts(again) == [Verdict.DUPLICATE, Verdict.ACCEPTED]
    assert set(again.seen_writes) == {ACCOUNT}
    assert len(AccountSeen.from_bytes(tables.seen[ACCOUNT]).entries) == 6


def test_a_report_id_re_sent_under_another_account_is_a_conflict() -> None:
    tables = Tables()
    tables.run([message(valid_report(report_id="R1"), 0)])
    moved = valid_report(report_id="R1", account_id=OTHER_ACCOUNT)
    outcome = tables.run([message(moved, 1)])
    assert verdicts(outcome) == [Verdict.REJECTED]
    assert outcome.dead_letters[0].reason == "conflict"
    assert OTHER_ACCOUNT not in tables.ledgers
    # In one batch too, and for a worker that starts afresh on the same table.
    both = [message(valid_report(report_id="R2"), 2), message(dict(moved, report_id="R2"), 3)]
    assert verdicts(tables.run(both)) == [Verdict.ACCEPTED, Verdict.REJECTED]
    restarted = IngestStage(tables.ledger, tables.seen)
    outcome = restarted.process([message(dict(moved, report_id="R2", tx_id="T9"), 4)], NOW)
    assert verdicts(outcome) == [Verdict.REJECTED]
    # Identities that the table no longer holds are not conflicts (the index is only a hint).
    del tables.seen[ACCOUNT]
    outcome = restarted.process([message(dict(moved, report_id="R2", tx_id="T9"), 5)], NOW)
    assert verdicts(outcome) == [Verdict.ACCEPTED]


def test_a_replay_of_a_batch_after_a_crash_is_recognised_by_its_positions() -> None:
    tables = Tables()
    batch = [message(valid_report(report_id=f"R{n}", tx_id=f"T{n}"), n) for n in range(4)]
    tables.run(batch)
    seen_before = dict(tables.seen)
    # Read again (offsets not committed): replayed, nothing written, nothing counted twice.
    outcome = tables.run(batch)
    assert verdicts(outcome) == [Verdict.REPLAYED] * 4
    assert not outcome.seen_writes and tables.seen == seen_before
    # Only the identities reached Kafka: the account's value names these very positions, so
    # the reports are applied, not taken for re-sends.
    fresh = Tables()
    fresh.run(batch, write_ledgers=False)
    assert verdicts(fresh.run(batch)) == [Verdict.ACCEPTED] * 4
    assert fresh.ledger(ACCOUNT).report_count == 4


def test_identities_are_forgotten_past_the_horizon_of_the_accounts_newest_report() -> None:
    seen: dict[str, bytes] = {}
    ledgers: dict[str, AccountLedger] = {}
    stage = IngestStage(lambda a: ledgers.get(a, AccountLedger()), SeenTable(seen, 10 * DAY_MS))

    def run(messages: list[InputMessage]) -> BatchOutcome:
        outcome = stage.process(messages, NOW)
        ledgers.update({a: ledger for a, (_, ledger) in outcome.ledger_writes.items()})
        seen.update({a: value.to_bytes() for a, (_, value) in outcome.seen_writes.items()})
        return outcome

    run([message(valid_report(report_id="OLD", tx_time="2026-10-01T10:00:00+08:00"), 0)])
    run([message(valid_report(report_id="NEW", tx_time="2026-11-03T10:00:00+08:00"), 1)])
    kept = AccountSeen.from_bytes(seen[ACCOUNT]).entries
    assert set(kept) == {identity_digest(report_key("BSCB", "NEW"))}
    # An account that reports no more is swept: its value is deleted once all is past.
    other = valid_report(
        report_id="Q1", account_id=OTHER_ACCOUNT, tx_time="2026-10-02T10:00:00+08:00"
    )
    run([message(other, 2)])
    rewrites = expired_reports(seen.items(), horizon_ms=10 * DAY_MS)
    assert [(r.key, r.value, r.forgotten) for r in rewrites] == [(OTHER_ACCOUNT, None, 1)]
    # One with some identities within the horizon keeps those.
    mixed = AccountSeen()
    mixed.add(b"old-id!!", SeenReport(b"d" * 8, 3, 1, 1 * DAY_MS))
    mixed.add(b"new-id!!", SeenReport(b"e" * 8, 3, 2, 30 * DAY_MS))
    [rewrite] = expired_reports([("A", mixed.to_bytes())], horizon_ms=10 * DAY_MS)
    assert rewrite.partition == 3 and rewrite.value is not None
    assert set(AccountSeen.from_bytes(rewrite.value).entries) == {b"new-id!!"}


def test_per_report_entries_of_before_the_upgrade_are_still_honoured() -> None:
    import struct

    record = valid_report(report_id="R1")
    identity = report_key("BSCB", "R1")
    digest = parse_report(encode(record), None).content_digest()
    for old_value in (
        struct.pack("<B8siqq", 1, digest, 0, 40, NOW_MS),  # version 1
        SeenReport(digest, 0, 40, NOW_MS, 2).to_bytes(),  # version 2
    ):
        tables = Tables()
        tables.seen[identity] = old_value
        outcome = tables.run([message(record, 50), message(dict(record, amount="1.00"), 51)])
        assert verdicts(outcome) == [Verdict.DUPLICATE, Verdict.REJECTED]
        assert outcome.dead_letters[0].reason == "conflict"
        assert "offset 40" in outcome.dead_letters[0].errors[0].message
        # Under another account too, as before the upgrade.
        moved = dict(record, account_id=OTHER_ACCOUNT)
        assert verdicts(tables.run([message(moved, 52)])) == [Verdict.REJECTED]
        # The sweep forgets the old entry past the horizon, with the new values.
        later = valid_report(report_id="R7", tx_time="2027-01-03T14:05:09+08:00")
        tables.run([message(later, 60, broker_ms=None)])
        deleted = [
            r.key for r in expired_reports(tables.seen.items(), 35 * DAY_MS) if r.value is None
        ]
        assert deleted == [identity]


def test_account_identities_round_trip_and_refuse_a_torn_value() -> None:
    seen = AccountSeen()
    seen.add(b"12345678", SeenReport(b"abcdefgh", 7, 2**40, 1_700_000_000_000, 999))
    seen.add(b"87654321", SeenReport(b"hgfedcba", 7, 3, 1_700_000_000_001, 0))
    blob = seen.to_bytes()
    assert AccountSeen.from_bytes(blob).entries == seen.entries
    assert len(blob) == 1 + 2 * 38
    with pytest.raises(StateDecodeError):
        AccountSeen.from_bytes(blob[:-1])


def test_the_identity_index_follows_values_that_change_under_it() -> None:
    # A rebalance swaps one account's value for another's, the count of values unchanged:
    # the worker invalidates the index, and the moved-in account's identities are found.
    first, moved_in = Tables(), Tables()
    first.run([message(valid_report(report_id="R1"), 0)])
    moved_in.run([message(valid_report(report_id="R5", account_id=OTHER_ACCOUNT), 0)])
    values = dict(first.seen)
    table = SeenTable(values)
    stage = IngestStage(first.ledger, table)
    resent = valid_report(report_id="R5", account_id=ACCOUNT, tx_id="T5")
    assert verdicts(stage.process([message(resent, 1)], NOW)) == [Verdict.ACCEPTED]
    values.clear()
    values.update(moved_in.seen)
    table.invalidate()
    assert verdicts(stage.process([message(resent, 2)], NOW)) == [Verdict.REJECTED]


# -- write-back (offline runs): identities kept decoded between batches ---------------------


def test_a_rebuilt_identity_index_counts_the_values_write_back_holds() -> None:
    values: dict[str, bytes] = {}
    stage = IngestStage(lambda _: AccountLedger(), values, write_back=True)
    outcome = stage.process([message(valid_report(report_id="R1"), 0)], NOW)
    assert verdicts(outcome) == [Verdict.ACCEPTED]
    assert not outcome.seen_writes and not values  # R1's identity is only in memory
    # The table changes under the stage (values carried over from another run): the index
    # is rebuilt from the table and from what the stage holds newer than it.
    carried = AccountSeen()
    carried.add(b"carried!", SeenReport(b"d" * 8, 0, 7, NOW_MS))
    values["6222000077776666"] = carried.to_bytes()
    values[ACCOUNT] = AccountSeen().to_bytes()  # an older value of the account, without R1
    moved = valid_report(report_id="R1", account_id=OTHER_ACCOUNT)
    outcome = stage.process([message(moved, 1)], NOW)
    assert verdicts(outcome) == [Verdict.REJECTED]
    assert outcome.dead_letters[0].reason == "conflict"
    assert "offset 0" in outcome.dead_letters[0].errors[0].message
    # Flushed, the table holds R1 under its account.
    values.update({a: v.to_bytes() for a, (_, v) in stage.flush_seen().items()})
    assert set(AccountSeen.from_bytes(values[ACCOUNT]).entries) == {
        identity_digest(report_key("BSCB", "R1"))
    }


def test_a_failed_write_back_batch_keeps_nothing_of_itself_and_stops_if_it_lost_values() -> None:
    def ledger_of(account: str) -> AccountLedger:
        if account == OTHER_ACCOUNT:
            raise RuntimeError("ledger store failed")
        return AccountLedger()

    values: dict[str, bytes] = {}
    stage = IngestStage(ledger_of, values, write_back=True)
    failing = message(valid_report(report_id="Q1", account_id=OTHER_ACCOUNT), 9)
    stage.process([message(valid_report(report_id="R1"), 0)], NOW)
    values.update({a: v.to_bytes() for a, (_, v) in stage.flush_seen().items()})
    # Everything written: the batch that fails after R2 leaves no trace and the stage goes on.
    r2 = valid_report(report_id="R2", tx_id="T2")
    with pytest.raises(RuntimeError, match="ledger store failed"):
        stage.process([message(r2, 1), failing], NOW)
    assert verdicts(stage.process([message(r2, 2)], NOW)) == [Verdict.ACCEPTED]
    # R2's identity is only in memory: a batch that fails now loses it, and the stage stops.
    with pytest.raises(RuntimeError, match="ledger store failed"):
        stage.process([message(valid_report(report_id="R3"), 3), failing], NOW)
    with pytest.raises(RuntimeError, match="lost unwritten"):
        stage.process([message(valid_report(report_id="R4"), 4)], NOW)
    # A worker's stage (every value written each batch) loses nothing and goes on.
    worker = IngestStage(ledger_of, {})
    with pytest.raises(RuntimeError, match="ledger store failed"):
        worker.process([message(r2, 1), failing], NOW)
    assert verdicts(worker.process([message(r2, 2)], NOW)) == [Verdict.ACCEPTED]
