"""Per-bank input topics: a report must name the bank whose topic it came on; the access
policy grants each bank its own topic and each department its own leads."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from cli.acl import Grant, PolicyError, load_policy, parse_policy, policy_grants
from ingest.pipeline import IngestStage, InputMessage, Verdict, topic_bank
from ingest.state import AccountLedger
from schemas.envelopes import SourcePosition
from streams.settings import Settings
from tests.reports import encode, valid_report

NOW = datetime(2026, 11, 26, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)  # the broker timestamp of every message
POLICY = Path(__file__).resolve().parents[2] / "deploy" / "security" / "policy.toml"


def message(topic: str, bank_id: str, offset: int = 0) -> InputMessage:
    record = valid_report(bank_id=bank_id, report_id=f"R-{offset}")
    return InputMessage(
        record["account_id"].encode(), encode(record), SourcePosition(topic, 0, offset, NOW_MS)
    )


def test_which_topics_belong_to_a_bank() -> None:
    assert topic_bank("fundwatch.reports.BSCB") == "BSCB"
    assert topic_bank("t1a2b.reports.ICBC-BS") == "ICBC-BS"
    for not_a_bank in ("fundwatch.reports", "fundwatch.reports.dlq", "file:x.reports.jsonl"):
        assert topic_bank(not_a_bank) is None


def test_a_report_naming_another_bank_is_dead_lettered_before_any_state() -> None:
    stage = IngestStage(lambda _: AccountLedger(), {})
    outcome = stage.process(
        [
            message("fundwatch.reports.BSCB", "BSCB", 0),
            message("fundwatch.reports.BSCB", "ICBC-BS", 1),
            message("fundwatch.reports", "ICBC-BS", 2),  # the shared topic: any bank
        ],
        NOW,
    )
    assert [v for v, _ in outcome.verdicts] == [
        Verdict.ACCEPTED,
        Verdict.REJECTED,
        Verdict.ACCEPTED,
    ]
    (letter,) = outcome.dead_letters
    body = orjson.loads(letter.to_json())
    assert (body["reason"], body["bank_id"], body["report_id"]) == (
        "bank_mismatch",
        "ICBC-BS",
        "R-1",
    )
    assert body["errors"][0]["field"] == "bank_id"
    assert "fundwatch.reports.BSCB" in body["errors"][0]["message"]
    # Nothing of the forged report reached the state.
    assert all(seen.offset != 1 for _, seen in outcome.seen_writes.values())


def test_the_policy_grants_each_principal_its_own_topics() -> None:
    grants = policy_grants(load_policy(POLICY), Settings(topic_prefix="fundwatch"))

    def of(user: str) -> set[tuple[str, str, str, str]]:
        return {
            (g.operation, g.resource_type, g.pattern_type, g.resource_name)
            for g in grants
            if g.principal == f"User:{user}"
        }

    assert of("bank-bscb") == {
        ("WRITE", "TOPIC", "LITERAL", "fundwatch.reports.BSCB"),
        ("DESCRIBE", "TOPIC", "LITERAL", "fundwatch.reports.BSCB"),
    }
    assert of("dept-cbrc") == {
        ("READ", "TOPIC", "LITERAL", "fundwatch.leads.dept.cbrc"),
        ("DESCRIBE", "TOPIC", "LITERAL", "fundwatch.leads.dept.cbrc"),
        ("READ", "GROUP", "PREFIXED", "fundwatch.dept.cbrc."),
    }
    assert ("READ", "TOPIC", "LITERAL", "fundwatch.leads") in of("dept-pboc")
    assert ("READ", "TOPIC", "PREFIXED", "fundwatch.leads.dept.") in of("dept-dfb")
    worker = of("fundwatch-worker")
    assert ("CREATE", "TOPIC", "PREFIXED", "fundwatch") in worker
    assert not any(op in ("DELETE", "ALTER", "ALL") for op, *_ in worker)
    assert all(isinstance(g, Grant) and g.to_acl() for g in grants)


@pytest.mark.parametrize(
    ("document", "entry"),
    [
        ({"service": {"users": []}}, "service.users"),
        ({"service": {"users": ["w"]}, "banks": {"dlq": "b"}}, "banks.dlq"),
        ({"service": {"users": ["w"]}, "departments": {"police": "p"}}, "departments.police"),
        ({"service": {"users": ["w"]}, "banks": {"BSCB": "w"}}, "w"),
        ({"service": {"users": ["w"]}, "all_leads": {"departments": ["pboc"]}}, "all_leads"),
        ({"service": {"users": ["a b"]}}, "service.users"),
    ],
)
def test_policy_mistakes_are_named(document: dict[str, object], entry: str) -> None:
    with pytest.raises(PolicyError) as refused:
        parse_policy(document, "policy.toml")
    assert refused.value.entry.startswith(entry)
