"""Per-bank input topics: a report must name the bank whose topic it came on; the access
policy grants each bank its own topic and dead letters, each department its own leads, the
service user its own prefix exactly; ``acl apply`` manages its own prefix's ACLs only."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from kafka.admin import (
    ACL,
    ACLOperation,
    ACLPermissionType,
    ACLResourcePatternType,
    ResourcePattern,
    ResourceType,
)

from cli.acl import Grant, PolicyError, load_policy, parse_policy, policy_grants, sort_acls
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
    assert all(
        entry.offset != 1
        for _, seen in outcome.seen_writes.values()
        for entry in seen.entries.values()
    )


def grants_of(grants: set[Grant], user: str) -> set[tuple[str, str, str, str]]:
    return {
        (g.operation, g.resource_type, g.pattern_type, g.resource_name)
        for g in grants
        if g.principal == f"User:{user}"
    }


def reaches(grants: set[Grant], user: str, kind: str, name: str) -> set[str]:
    """The operations ``user`` may do on the resource ``name``, as Kafka's authorizer matches
    ALLOW ACLs: a LITERAL name exactly, a PREFIXED one by how the name starts."""
    return {
        g.operation
        for g in grants
        if g.principal == f"User:{user}"
        and g.resource_type == kind
        and (
            name == g.resource_name
            if g.pattern_type == "LITERAL"
            else name.startswith(g.resource_name)
        )
    }


def test_the_policy_grants_each_principal_its_own_topics() -> None:
    grants = policy_grants(load_policy(POLICY), Settings(topic_prefix="fundwatch"))
    assert grants_of(grants, "bank-bscb") == {
        ("WRITE", "TOPIC", "LITERAL", "fundwatch.reports.BSCB"),
        ("DESCRIBE", "TOPIC", "LITERAL", "fundwatch.reports.BSCB"),
        ("DESCRIBE_CONFIGS", "TOPIC", "LITERAL", "fundwatch.reports.BSCB"),
        # Its own dead letters, to read with groups of its own.
        ("READ", "TOPIC", "LITERAL", "fundwatch.reports.BSCB.dlq"),
        ("DESCRIBE", "TOPIC", "LITERAL", "fundwatch.reports.BSCB.dlq"),
        ("DESCRIBE_CONFIGS", "TOPIC", "LITERAL", "fundwatch.reports.BSCB.dlq"),
        ("READ", "GROUP", "PREFIXED", "fundwatch.bank.BSCB."),
    }
    assert grants_of(grants, "dept-cbrc") == {
        ("READ", "TOPIC", "LITERAL", "fundwatch.leads.dept.cbrc"),
        ("DESCRIBE", "TOPIC", "LITERAL", "fundwatch.leads.dept.cbrc"),
        ("DESCRIBE_CONFIGS", "TOPIC", "LITERAL", "fundwatch.leads.dept.cbrc"),
        ("READ", "GROUP", "PREFIXED", "fundwatch.dept.cbrc."),
    }
    assert ("READ", "TOPIC", "LITERAL", "fundwatch.leads") in grants_of(grants, "dept-pboc")
    assert ("READ", "TOPIC", "PREFIXED", "fundwatch.leads.dept.") in grants_of(grants, "dept-dfb")
    worker = grants_of(grants, "fundwatch-worker")
    assert ("CREATE", "TOPIC", "PREFIXED", "fundwatch.") in worker
    assert ("READ", "GROUP", "LITERAL", "fundwatch") in worker
    assert not any(op in ("DELETE", "ALTER", "ALL") for op, *_ in worker)
    # Every PREFIXED grant ends with the separator.
    assert all(g.resource_name.endswith(".") for g in grants if g.pattern_type == "PREFIXED")
    assert all(isinstance(g, Grant) and g.to_acl() for g in grants)


def test_the_service_user_reaches_its_deployment_exactly() -> None:
    settings = Settings(topic_prefix="fundwatch", bank_ids=("BSCB", "ICBC-BS"))
    grants = policy_grants(load_policy(POLICY), settings)
    everything = {"READ", "WRITE", "CREATE", "DESCRIBE", "DESCRIBE_CONFIGS"}
    for topic in (*settings.topics.specs(), *settings.topics.faust_internal):
        assert reaches(grants, "fundwatch-worker", "TOPIC", topic) == everything, topic
    for stranger in ("fundwatchEVIL", "fundwatch2.reports", "fundwatch-v2.reports", "fundwatch"):
        assert not reaches(grants, "fundwatch-worker", "TOPIC", stranger), stranger
    assert reaches(grants, "fundwatch-worker", "GROUP", "fundwatch") == {"READ", "DESCRIBE"}
    for group in ("fundwatch.dept.cbrc.console", "fundwatch.bank.BSCB.dlq", "fundwatch2"):
        assert not reaches(grants, "fundwatch-worker", "GROUP", group), group
    # A bank's groups are its own: BSCB's prefix does not cover a bank "BSCB2".
    assert reaches(grants, "bank-bscb", "GROUP", "fundwatch.bank.BSCB.tail") == {"READ"}
    assert not reaches(grants, "bank-bscb", "GROUP", "fundwatch.bank.BSCB2.tail")
    assert not reaches(grants, "bank-bscb", "TOPIC", "fundwatch.reports.ICBC-BS.dlq")
    assert not reaches(grants, "bank-bscb", "TOPIC", "fundwatch.reports.dlq")


def test_the_faust_app_names_what_the_policy_grants() -> None:
    """Faust names its changelogs, leader topic and group after the app id: the names the
    policy grants the service user literally are the ones this app uses."""
    import faust

    import streams.app as declared

    names = {t.changelog_topic.get_topic_name() for t in declared.app.tables.values()}
    names.add(declared.app._leader_assignor._leader_topic_name)
    assert names == set(declared.settings.topics.faust_internal)
    assert declared.app.conf.id == declared.settings.topics.worker_group
    # Every topic the app declares is one of the layout's, so under <prefix>.
    topics = [v for v in vars(declared).values() if isinstance(v, faust.types.TopicT)]
    topics += [*declared.department_topics.values(), *declared.bank_dead_letter_topics.values()]
    specs = declared.settings.topics.specs()
    assert {name for t in topics for name in t.topics} <= set(specs)


def test_each_bank_topic_has_its_dead_letters() -> None:
    topics = Settings(topic_prefix="fw", bank_ids=("BSCB", "YNRCU")).topics
    specs = topics.specs()
    assert topics.bank_dead_letters("BSCB") == "fw.reports.BSCB.dlq"
    assert {"fw.reports.BSCB.dlq", "fw.reports.YNRCU.dlq", "fw.reports.dlq"} <= set(specs)
    assert specs["fw.reports.BSCB.dlq"].partitions == 1
    # A bank's dead letters are never read as a bank's reports.
    assert topic_bank("fw.reports.BSCB.dlq") is None
    assert topics.inputs == ("fw.reports.BSCB", "fw.reports.YNRCU")
    # Without bank topics (the shared one, anyone may write it): the shared dead letters only.
    shared = Settings(topic_prefix="fw").topics.specs()
    assert [name for name in shared if name.endswith(".dlq")] == ["fw.reports.dlq"]


def acl(name: str, operation: str = "READ", kind: str = "TOPIC", pattern: str = "LITERAL") -> ACL:
    return ACL(
        principal="User:u",
        host="*",
        operation=ACLOperation[operation],
        permission_type=ACLPermissionType.ALLOW,
        resource_pattern=ResourcePattern(ResourceType[kind], name, ACLResourcePatternType[pattern]),
    )


def test_apply_manages_its_own_prefix_and_leaves_other_deployments_alone() -> None:
    policy = load_policy(POLICY)
    mine = {g.to_acl() for g in policy_grants(policy, Settings(topic_prefix="fundwatch"))}
    # Deployments whose names start like ours: with '-', with a digit, nested with '.'.
    others = {
        other: [g.to_acl() for g in policy_grants(policy, Settings(topic_prefix=other))]
        for other in ("fundwatch-v2", "fundwatch2", "fundwatch.v2")
    }
    legacy = [acl("fundwatch", "CREATE", pattern="PREFIXED"), acl("fundwatch", kind="GROUP")]
    unrelated = [
        acl("payments.ledger"),
        acl("fundwatchEVIL", "WRITE"),
        acl("fundwatch.tx", "WRITE", kind="TRANSACTIONAL_ID"),
    ]
    denied = ACL(
        principal="User:dept-cbrc",
        host="*",
        operation=ACLOperation.READ,
        permission_type=ACLPermissionType.DENY,
        resource_pattern=ResourcePattern(
            ResourceType.TOPIC, "fundwatch.leads", ACLResourcePatternType.LITERAL
        ),
    )
    broker = [*mine, *legacy, *unrelated, denied, *(a for acls in others.values() for a in acls)]

    seen = sort_acls(broker, "fundwatch")
    assert {g.to_acl() for g in seen.grants} == {*mine, *legacy}
    assert seen.other_deployments == {other: len(acls) for other, acls in others.items()}
    assert seen.elsewhere == 3 and seen.not_from_policy == [denied]
    assert seen.nested == ["fundwatch.v2"]
    lines = seen.left_alone("fundwatch")
    assert f"left alone: {len(others['fundwatch-v2'])} ACLs of prefix fundwatch-v2" in lines
    assert any(
        line.startswith("warning: the prefixes fundwatch and fundwatch.v2") for line in lines
    )
    # The nested deployment's view: only its own; ours are not its to touch.
    inner = sort_acls(broker, "fundwatch.v2")
    assert {g.to_acl() for g in inner.grants} == set(others["fundwatch.v2"])


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
