"""Reports through the real broker and real workers: counted, dead-lettered, never doubled."""

from __future__ import annotations

import base64
import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest

from feeds.producer import send_lines
from feeds.simulate import Simulation, SimulationConfig, report_lines
from ingest.state import AccountLedger
from models.pipeline import PipelineConfig
from offline.replay import OfflineRunner, line_messages
from schemas.report import parse_report
from streams.topic_reader import read_all
from streams.topics import ensure_topics
from tests.integration.conftest import Deployment, wait_for
from tests.reports import encode, valid_report

pytestmark = pytest.mark.integration
LATENESS_MS = 7_200_000


def ledgers_in_kafka(deployment: Deployment) -> dict[str, AccountLedger]:
    """The account ledgers as a new worker would recover them: the changelog, last value wins."""
    return {account: state.ledger for account, state in deployment.account_states().items()}


def expected_totals(lines: list[bytes]) -> dict[str, tuple[int, int, int]]:
    """(report count, inflow fen, outflow fen) per account, computed straight from the file."""
    seen: set[tuple[str, str]] = set()
    totals: dict[str, list[int]] = {}
    for line in lines:
        report = parse_report(line)
        if (report.bank_id, report.report_id) in seen:
            continue
        seen.add((report.bank_id, report.report_id))
        row = totals.setdefault(report.account_id, [0, 0, 0])
        row[0] += 1
        row[1 if report.direction == "in" else 2] += report.amount_fen
    return {k: (v[0], v[1], v[2]) for k, v in totals.items()}


def dead_letters(deployment: Deployment) -> list[dict[str, Any]]:
    """Every dead letter on the deployment's shared dead-letter topic, decoded."""
    topic = deployment.settings.topics.name("reports.dlq")
    return [orjson.loads(v) for _, v in read_all(deployment.settings, topic)]


def ledger_totals(ledgers: dict[str, AccountLedger]) -> dict[str, tuple[int, int, int]]:
    return {k: (v.report_count, v.inflow_fen, v.outflow_fen) for k, v in ledgers.items()}


def simple_reports(count: int, accounts: int = 300) -> list[bytes]:
    return [
        encode(
            valid_report(
                report_id=f"R{i}",
                tx_id=f"T{i}",
                account_id=f"A{i % accounts:05d}",
                direction="in" if i % 3 else "out",
                amount=f"{100 + i % 997}.{i % 100:02d}",
            )
        )
        for i in range(count)
    ]


def test_bad_records_are_dead_lettered_with_reasons_and_the_worker_goes_on(
    deployment: Deployment,
) -> None:
    worker = deployment.start_worker()
    good = simple_reports(200)
    bad = {
        b"\xff\xfe not utf-8": "undecodable",
        b'{"truncated": ': "undecodable",
        encode(valid_report(report_id="BAD1", amount="-5")): "schema",
        encode(valid_report(report_id="BAD2", tx_time="2026-02-30T10:00:00+08:00")): "schema",
        encode({**valid_report(report_id="BAD3"), "region": 530502}): "schema",
        encode(valid_report(report_id="BAD4", amount=1.005)): "invalid_value",
    }
    mixed = good[:100] + list(bad) + good[100:]
    send_lines(mixed, deployment.settings)

    wait_for(
        lambda: (
            worker.total("fundwatch_reports_accepted_total") == 200
            and worker.total("fundwatch_reports_rejected_total") == len(bad)
        ),
        120,
        "200 accepted and the bad records rejected",
    )

    letters = dead_letters(deployment)
    by_original = {base64.b64decode(d["original_base64"]): d for d in letters}
    assert set(by_original) == set(bad), "every bad record is in the DLQ with its exact bytes"
    for original, reason in bad.items():
        letter = by_original[original]
        assert letter["reason"] == reason
        assert letter["errors"] and all(e["message"] for e in letter["errors"])
        assert letter["source"]["topic"] == deployment.settings.topics.name("reports")
        assert letter["source"]["offset"] >= 0
    assert (
        by_original[encode(valid_report(report_id="BAD1", amount="-5"))]["errors"][0]["field"]
        == "amount"
    )
    wait_for(
        lambda: sum(v.report_count for v in ledgers_in_kafka(deployment).values()) == 200,
        60,
        "the ledgers in Kafka to hold the 200 good reports",
    )


def hostile_lot() -> dict[bytes, tuple[str, str, str]]:
    """Report lines a careless or hostile bank sends, each with the dead letter it must get:
    (reason, field, field reason) of its first error."""
    lot: dict[bytes, tuple[str, str, str]] = {}
    number = itertools.count()

    def add(raw: bytes, reason: str, field: str, rule: str) -> None:
        lot[raw] = (reason, field, rule)

    controls = ["\x00", "\x07", "\x08", "\t", "\n", "\r", "\x1b[31m", "\x7f", "\x85", "\x9b"]
    invisibles = ["\u200b", "\u200d", "\u200f", "\u202a", "\u202e", "\u2060", "\u2066", "\ufeff"]
    for field in ("report_id", "account_id", "customer_name", "counterparty_name", "purpose"):
        for char, rule in [(c, "control_character") for c in controls] + [
            (c, "invisible_character") for c in invisibles
        ]:
            n = next(number)
            record = valid_report(
                **{"report_id": f"H{n}", "tx_id": f"HT{n}", field: f"H{n}{char}x"}
            )
            add(encode(record), "forbidden_character", field, rule)
    n = next(number)
    add(
        encode(valid_report(report_id=f"H{n}", purpose="x"))[:-3] + b'\\ud800"}',
        "forbidden_character",
        "purpose",
        "lone_surrogate",
    )
    n = next(number)
    add(
        encode(valid_report(report_id=f"H{n}", purpose="\U000e0041\U000e0042")),
        "forbidden_character",
        "purpose",
        "invisible_character",
    )
    n = next(number)
    add(
        encode(valid_report(report_id=f"H{n}", note={"x": "\x1b]0;pwned\x07"})),
        "forbidden_character",
        "note.x",
        "control_character",
    )
    for member in (b'"amount":"9999999.00"', b'"account_id":"6222999999999999"'):
        n = next(number)
        raw = encode(valid_report(report_id=f"H{n}"))[:-1] + b"," + member + b"}"
        add(raw, "duplicate_key", member.split(b'"')[1].decode(), "duplicate_key")
    soon = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    for tx_time, rule in (
        ("9999-12-31T23:59:59+08:00", "in_future"),
        (soon, "in_future"),
        ("1970-01-01T00:00:00Z", "before_earliest"),
        ("1900-01-01T08:00:00+08:00", "before_earliest"),
    ):
        n = next(number)
        record = valid_report(report_id=f"H{n}", tx_id=f"HT{n}", tx_time=tx_time)
        add(encode(record), "time_out_of_range", "tx_time", rule)
    return lot


def test_a_hostile_lot_is_dead_lettered_with_reasons_between_valid_reports(
    deployment: Deployment,
) -> None:
    worker = deployment.start_worker()
    good = simple_reports(300)
    hostile = hostile_lot()
    assert len(hostile) > 90
    bad = list(hostile)
    mixed = good[:100] + bad[::2] + good[100:200] + bad[1::2] + good[200:]
    send_lines(mixed, deployment.settings)

    wait_for(
        lambda: (
            worker.total("fundwatch_reports_accepted_total") == len(good)
            and worker.total("fundwatch_reports_rejected_total") == len(hostile)
        ),
        120,
        "every valid report accepted and every hostile one rejected",
    )
    letters = dead_letters(deployment)
    by_original = {base64.b64decode(d["original_base64"]): d for d in letters}
    assert set(by_original) == set(hostile), "each hostile line in the DLQ with its exact bytes"
    for original, (reason, field, rule) in hostile.items():
        letter = by_original[original]
        first = letter["errors"][0]
        assert (letter["reason"], first["field"], first["reason"]) == (reason, field, rule), (
            original,
            letter["errors"],
        )
    wait_for(
        lambda: ledger_totals(ledgers_in_kafka(deployment)) == expected_totals(good),
        60,
        "the ledgers in Kafka to hold exactly the valid reports",
    )


def test_resent_reports_are_processed_once(deployment: Deployment) -> None:
    worker = deployment.start_worker()
    lines = simple_reports(3000)
    send_lines(lines, deployment.settings)
    send_lines(lines[:1000], deployment.settings)  # a bank re-sends part of its file

    wait_for(
        lambda: (
            worker.total("fundwatch_reports_accepted_total") == 3000
            and worker.total("fundwatch_reports_duplicate_total") == 1000
        ),
        120,
        "3000 accepted and 1000 duplicates",
    )
    changed = encode(valid_report(report_id="R5", tx_id="T5", account_id="A00005", amount="1.00"))
    send_lines([changed], deployment.settings)
    wait_for(
        lambda: (
            worker.metrics().get(
                'fundwatch_reports_rejected_total{bank_id="BSCB",reason="conflict"}'
            )
            == 1
        ),
        60,
        "the changed re-send to be rejected as a conflict",
    )
    wait_for(
        lambda: ledger_totals(ledgers_in_kafka(deployment)) == expected_totals(lines),
        60,
        "the ledgers in Kafka to count each report once",
    )


# One report per message, and batched messages of 250: then each of the worker's batches is
# several chunks, each written while the next is computed (streams.agents._finish).
@pytest.mark.parametrize("reports_per_message", [1, 250])
def test_worker_killed_mid_stream_resumes_with_nothing_lost_or_doubled(
    deployment: Deployment, reports_per_message: int
) -> None:
    simulation = Simulation(SimulationConfig(seed=3))
    lines = list(itertools.islice(report_lines(simulation.reports()), 40_000))
    ensure_topics(deployment.settings)
    send_lines(lines, deployment.settings, batch=reports_per_message)
    worker = deployment.start_worker()
    wait_for(
        lambda: worker.total("fundwatch_reports_accepted_total") >= 8000,
        120,
        "the first worker to be mid-stream",
    )
    worker.kill()
    accepted_before_kill = worker.total("fundwatch_reports_accepted_total")  # gone: 0
    assert accepted_before_kill == 0

    restarted = deployment.start_worker()

    def all_in_kafka() -> bool:
        return sum(v.report_count for v in ledgers_in_kafka(deployment).values()) >= 40_000

    wait_for(all_in_kafka, 240, "all 40,000 reports in the ledgers", interval=2)
    assert ledger_totals(ledgers_in_kafka(deployment)) == expected_totals(lines)
    # The rolling features survived too: equal to one uninterrupted run over the same reports.
    offline = OfflineRunner(PipelineConfig(lateness_ms=LATENESS_MS))
    for _ in offline.run(line_messages(lines, "file")):
        pass
    recovered = deployment.account_states(LATENESS_MS)
    assert recovered.keys() == offline.final_states().keys()
    for account, state in offline.final_states().items():
        np.testing.assert_array_equal(
            recovered[account].features.vector(), state.features.vector(), err_msg=account
        )
    # The restarted worker took over mid-stream: it did not start again from the beginning.
    assert 0 < restarted.total("fundwatch_reports_accepted_total") < 40_000
    assert restarted.total("fundwatch_reports_rejected_total") == 0


def test_fifty_thousand_simulated_reports_all_arrive(
    deployment: Deployment, tmp_path: Path
) -> None:
    out = tmp_path / "reports.jsonl"
    truth = tmp_path / "truth.json"
    deployment.run_cli(
        "simulate", "--output", str(out), "--truth", str(truth), "--limit", "50000", "--seed", "11"
    )
    lines = out.read_bytes().splitlines()
    assert len(lines) >= 50_000
    worker = deployment.start_worker()
    result = deployment.run_cli("produce", str(out))
    assert f"sent {len(lines)} reports" in result.stdout
    wait_for(
        lambda: worker.total("fundwatch_reports_accepted_total") == len(lines),
        300,
        f"{len(lines)} reports accepted",
        interval=1,
    )
    assert worker.total("fundwatch_reports_rejected_total") == 0
    assert ledger_totals(ledgers_in_kafka(deployment)) == expected_totals(lines)


def test_batched_messages_are_decided_report_by_report(
    deployment: Deployment, tmp_path: Path
) -> None:
    worker = deployment.start_worker()
    good = simple_reports(3000)
    bad = {
        encode(valid_report(report_id="BAD1", amount="-5")): "schema",
        b'{"truncated": ': "undecodable",
    }
    lines = good[:1500] + list(bad) + good[1500:]
    file = tmp_path / "reports.jsonl"
    file.write_bytes(b"\n".join(lines) + b"\n")
    sent = deployment.run_cli("produce", str(file), "--batch", "250")
    assert f"sent {len(lines)} reports in " in sent.stdout and " messages " in sent.stdout

    wait_for(
        lambda: (
            worker.total("fundwatch_reports_accepted_total") == len(good)
            and worker.total("fundwatch_reports_rejected_total") == len(bad)
        ),
        120,
        f"{len(good)} accepted and the bad lines rejected one by one",
    )
    letters = dead_letters(deployment)
    by_original = {base64.b64decode(d["original_base64"]): d for d in letters}
    assert {k: d["reason"] for k, d in by_original.items()} == bad
    # The line within its message says where the report was.
    assert all(d["source"]["index"] >= 0 for d in letters)
    assert any(d["source"]["index"] > 0 for d in letters)

    # The same file again, batched differently: every report a duplicate, none counted twice.
    deployment.run_cli("produce", str(file), "--batch", "100")
    wait_for(
        lambda: worker.total("fundwatch_reports_duplicate_total") == len(good),
        120,
        "the re-sent batches recognised as duplicates",
    )
    wait_for(
        lambda: ledger_totals(ledgers_in_kafka(deployment)) == expected_totals(good),
        60,
        "the ledgers in Kafka to count each report once",
    )
