"""The broker in secure mode (SASL_SSL, SCRAM-SHA-512, StandardAuthorizer) with the ACLs of
deploy/security/policy.toml: each bank writes only its own reports and reads only its own dead
letters, each department reads only its own leads, the service user reaches its own prefix and
nothing else (not ``<prefix>EVIL``, not a department's consumer group, not a second
deployment's topics on the same broker), and the worker runs end to end over TLS as the
service user. Every probe is a real client logged in as a user of the policy.

The secure broker is started by this module on its own port (FUNDWATCH_TEST_SECURE_KAFKA_PORT,
default 29492, below the ephemeral ports as conftest says; controller port + 1000), with the
local throwaway secrets kafka.sh makes.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient, NewTopic
from kafka.errors import (
    GroupAuthorizationFailedError,
    KafkaError,
    KafkaTimeoutError,
    TopicAuthorizationFailedError,
)
from kafka.structs import OffsetAndMetadata

from streams.kafka_clients import kafka_python_kwargs
from streams.settings import Settings
from streams.topic_reader import read_all
from streams.topics import TopicManager
from tests.integration.conftest import (
    FUNDWATCH,
    KAFKA_SCRIPT,
    REPO_ROOT,
    Deployment,
    wait_for,
)
from tests.reports import encode, valid_report
from tests.unit.test_lead_view import lead

pytestmark = pytest.mark.integration

SECURE_PORT = int(os.environ.get("FUNDWATCH_TEST_SECURE_KAFKA_PORT", "29492"))
KAFKA_HOME = Path(os.environ.get("FUNDWATCH_KAFKA_HOME", REPO_ROOT / ".kafka")).resolve()
SECRETS = KAFKA_HOME / f"run-{SECURE_PORT}" / "secrets"
SERVER_LOG = KAFKA_HOME / f"run-{SECURE_PORT}" / "logs" / "server.log"
BANKS = ("BSCB", "ICBC-BS")
# Short client timeouts: a refused connection should fail the check in seconds, not minutes.
QUICK = {"request_timeout_ms": 5000, "bootstrap_timeout_ms": 5000}
# What the broker logs for each refused connection (kafka-python only sees a failed bootstrap).
BAD_PASSWORD = "invalid credentials with SASL mechanism SCRAM-SHA-512"
NOT_TLS = "(SSL handshake failed)"


@dataclass
class SecureDeployment:
    """One topic prefix on the secure broker, with the policy's ACLs applied."""

    bootstrap: str
    prefix: str
    env: dict[str, str]

    def settings(self, user: str) -> Settings:
        """Settings of a client logged in as ``user`` (a user of the policy, or admin)."""
        return Settings.from_env(
            {**self.env, "FUNDWATCH_CLIENT_PROPERTIES": str(client_properties(user))}
        )

    def kwargs(self, user: str) -> dict[str, object]:
        return {**kafka_python_kwargs(self.settings(user)), **QUICK}

    @property
    def topics(self) -> TopicManager:
        return Settings.from_env(self.env).topics


def client_properties(user: str) -> Path:
    return SECRETS / "clients" / f"{user}.properties"


@pytest.fixture(scope="module")
def secure_broker() -> Iterator[str]:
    env = {
        **os.environ,
        "FUNDWATCH_KAFKA_PORT": str(SECURE_PORT),
        "FUNDWATCH_KAFKA_SECURITY": "sasl_ssl",
        "PYTHON": sys.executable,
    }
    env.pop("FUNDWATCH_KAFKA_SECRETS", None)  # the local throwaway secrets of this port
    status = subprocess.run(
        ["bash", str(KAFKA_SCRIPT), "status"], env=env, capture_output=True, check=False
    )
    started_here = status.returncode != 0
    subprocess.run(["bash", str(KAFKA_SCRIPT), "start"], env=env, check=True)
    yield f"127.0.0.1:{SECURE_PORT}"
    if started_here:
        subprocess.run(["bash", str(KAFKA_SCRIPT), "stop"], env=env, check=False)


@pytest.fixture(scope="module")
def secure(secure_broker: str) -> SecureDeployment:
    return deploy(secure_broker)


def deploy(secure_broker: str) -> SecureDeployment:
    """A fresh topic prefix with the policy's ACLs and the app's topics."""
    prefix = f"s{uuid.uuid4().hex[:10]}"
    env = {
        **os.environ,
        "FUNDWATCH_BOOTSTRAP_SERVERS": secure_broker,
        "FUNDWATCH_TOPIC_PREFIX": prefix,
        "FUNDWATCH_PARTITIONS": "4",
        "FUNDWATCH_BANKS": ",".join(BANKS),
        "PYTHONPATH": str(REPO_ROOT),
    }
    env.pop("FUNDWATCH_CLIENT_PROPERTIES", None)
    deployment = SecureDeployment(secure_broker, prefix, env)
    applied = subprocess.run(
        [*FUNDWATCH, "acl", "apply", "--command-config", str(client_properties("admin"))],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert f"removed 0, kept 0 ACLs under {prefix}" in applied.stdout, applied.stdout
    # The secure start order: the ACLs (as the admin), then the topics as the service user.
    created = fundwatch("topics", "--command-config", str(client_properties("fundwatch-worker")))
    assert f"{prefix}.reports.BSCB.dlq" in run(created, env).stdout
    return deployment


def fundwatch(*args: str) -> list[str]:
    return [*FUNDWATCH, *args]


def run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run a fundwatch command; fail the test with its output if it fails."""
    done = subprocess.run(
        command, env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"{command[3:]} failed:\n{done.stdout}\n{done.stderr[-3000:]}"
    return done


def test_acl_apply_is_idempotent(secure: SecureDeployment) -> None:
    again = subprocess.run(
        [*FUNDWATCH, "acl", "apply", "--command-config", str(client_properties("admin"))],
        env=secure.env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "added 0, removed 0, kept" in again.stdout, again.stdout


def test_the_service_user_reaches_its_own_prefix_exactly(secure: SecureDeployment) -> None:
    prefix = secure.prefix
    admin = KafkaAdminClient(**secure.kwargs("fundwatch-worker"))
    try:
        admin.create_topics([NewTopic(f"{prefix}.probe", 1, 1)])  # under "<prefix>."
        for stranger in (f"{prefix}EVIL", f"{prefix}2.reports"):
            with pytest.raises(TopicAuthorizationFailedError):
                admin.create_topics([NewTopic(stranger, 1, 1)])
    finally:
        admin.close()

    # Its own consumer group (Faust's app id) it may join; a department's it may neither join
    # nor commit to.
    own = KafkaConsumer(
        secure.topics.name("leads"),
        **secure.kwargs("fundwatch-worker"),
        group_id=prefix,
        enable_auto_commit=False,
    )

    def joined() -> bool:
        own.poll(timeout_ms=500)
        return bool(own.assignment())

    try:
        wait_for(joined, 60, "the service user to join its own group")
    finally:
        own.close()
    department_group = f"{prefix}.dept.cbrc.console"
    department_topic = secure.topics.department("cbrc")
    joining = KafkaConsumer(
        department_topic,
        **secure.kwargs("fundwatch-worker"),
        group_id=department_group,
        enable_auto_commit=False,
    )
    try:
        with pytest.raises(GroupAuthorizationFailedError):
            for _ in range(20):
                joining.poll(timeout_ms=500)
    finally:
        joining.close()
    committing = KafkaConsumer(
        **secure.kwargs("fundwatch-worker"), group_id=department_group, enable_auto_commit=False
    )
    try:
        with pytest.raises(GroupAuthorizationFailedError):
            committing.commit({TopicPartition(department_topic, 0): OffsetAndMetadata(0, "", -1)})
    finally:
        committing.close()


def test_a_bank_describes_its_own_topics_only(secure: SecureDeployment) -> None:
    topics = secure.settings("bank-bscb").topics
    admin = KafkaAdminClient(**secure.kwargs("bank-bscb"))
    try:
        for own in (topics.bank("BSCB"), topics.bank_dead_letters("BSCB")):
            (described,) = admin.describe_topics([own])
            assert described["error_code"] == 0 and described["partitions"], described
            configs = admin.describe_configs(
                [ConfigResource(ConfigResourceType.TOPIC, own)], config_filter="all"
            )
            assert "retention.ms" in configs["topic"][own]
        for other in (topics.bank("ICBC-BS"), topics.bank_dead_letters("ICBC-BS")):
            (described,) = admin.describe_topics([other])
            assert described["error_code"] == TopicAuthorizationFailedError.errno
            # kafka-python reports a refused resource's configs as none at all.
            configs = admin.describe_configs(
                [ConfigResource(ConfigResourceType.TOPIC, other)], config_filter="all"
            )
            assert not configs["topic"][other]
    finally:
        admin.close()


def test_a_second_prefix_on_the_same_broker_keeps_its_own_acls(
    secure: SecureDeployment, tmp_path: Path
) -> None:
    """Deployment B (prefix "<A>-v2", its own policy and users) next to deployment A: applying
    either policy leaves the other's ACLs in place, and neither service user reaches the
    other's topics."""
    a, b_prefix = secure, f"{secure.prefix}-v2"
    users = {"service": "probe-b-worker", "bank": "probe-b-bank-bscb"}
    policy = tmp_path / "policy-b.toml"
    policy.write_text(
        f'[service]\nusers = ["{users["service"]}"]\n[banks]\nBSCB = "{users["bank"]}"\n'
    )
    passwords = tmp_path / "passwords"
    passwords.mkdir()
    admin_properties = client_properties("admin").read_text()
    for user in users.values():
        (passwords / user).write_text(secrets.token_hex(24))
        (tmp_path / f"{user}.properties").write_text(
            admin_properties.replace('username="admin"', f'username="{user}"').replace(
                f"${{dir:{SECRETS / 'passwords'}:admin}}", f"${{dir:{passwords}:{user}}}"
            )
        )
    b_env = {**a.env, "FUNDWATCH_TOPIC_PREFIX": b_prefix, "FUNDWATCH_BANKS": "BSCB"}
    as_admin = ["--command-config", str(client_properties("admin"))]

    def a_grants() -> list[str]:
        shown = run(fundwatch("acl", "show", *as_admin), a.env).stdout
        return [line for line in shown.splitlines() if line.startswith("User:")]

    a_before = a_grants()
    assert len(a_before) > 100, a_before

    applied_b = run(
        fundwatch(
            "acl", "apply", "--policy", str(policy), "--passwords", str(passwords), *as_admin
        ),
        b_env,
    ).stdout
    assert f"removed 0, kept 0 ACLs under {b_prefix}" in applied_b, applied_b
    assert f"left alone: {len(a_before)} ACLs of prefix {a.prefix}" in applied_b, applied_b
    assert a_grants() == a_before
    applied_a = run(fundwatch("acl", "apply", *as_admin), a.env).stdout
    assert "added 0, removed 0" in applied_a, applied_a
    assert f"ACLs of prefix {b_prefix}" in applied_a, applied_a

    b_worker = tmp_path / f"{users['service']}.properties"

    def b_logs_in() -> bool:  # the new SCRAM credentials reach the broker's cache
        try:
            KafkaAdminClient(**b_settings(b_worker), **QUICK).close()
        except KafkaError:
            return False
        return True

    def b_settings(properties: Path) -> dict[str, object]:
        return kafka_python_kwargs(
            Settings.from_env({**b_env, "FUNDWATCH_CLIENT_PROPERTIES": str(properties)})
        )

    wait_for(b_logs_in, 60, "B's service user to log in")
    run(fundwatch("topics", "--command-config", str(b_worker)), b_env)
    b_topics = Settings(topic_prefix=b_prefix, bank_ids=("BSCB",)).topics

    # A's service user and B's: each its own deployment only.
    for kwargs, foreign in (
        (secure.kwargs("fundwatch-worker"), b_topics),
        ({**b_settings(b_worker), **QUICK}, a.topics),
    ):
        producer = KafkaProducer(**kwargs, max_block_ms=10_000)
        try:
            with pytest.raises(TopicAuthorizationFailedError):
                producer.send(foreign.name("leads"), value=b"{}").get(timeout=30)
        finally:
            producer.close(timeout=5)
        assert_cannot_read(kwargs, foreign.name("reports.dlq"))
        admin = KafkaAdminClient(**kwargs)
        try:
            with pytest.raises(TopicAuthorizationFailedError):
                admin.create_topics([NewTopic(foreign.name("new"), 1, 1)])
        finally:
            admin.close()
    # B's bank writes B's BSCB topic, not A's.
    producer = KafkaProducer(
        **b_settings(tmp_path / f"{users['bank']}.properties"), **QUICK, max_block_ms=10_000
    )
    try:
        producer.send(b_topics.bank("BSCB"), key=b"A1", value=b"{}").get(timeout=30)
        with pytest.raises(TopicAuthorizationFailedError):
            producer.send(a.topics.bank("BSCB"), value=b"{}").get(timeout=30)
    finally:
        producer.close(timeout=5)


def test_a_bank_writes_its_own_topic_and_nothing_else(secure: SecureDeployment) -> None:
    settings = secure.settings("bank-bscb")
    producer = KafkaProducer(**secure.kwargs("bank-bscb"), max_block_ms=10_000)
    try:
        own = producer.send(settings.topics.bank("BSCB"), key=b"A1", value=encode(valid_report()))
        assert own.get(timeout=30).topic == settings.topics.bank("BSCB")
        with pytest.raises(TopicAuthorizationFailedError):
            producer.send(settings.topics.bank("ICBC-BS"), value=b"{}").get(timeout=30)
        with pytest.raises(TopicAuthorizationFailedError):
            producer.send(settings.topics.name("reports"), value=b"{}").get(timeout=30)
    finally:
        producer.close(timeout=5)

    admin = KafkaAdminClient(**secure.kwargs("bank-bscb"))
    try:
        with pytest.raises(KafkaError, match=r"(?i)authoriz"):
            admin.create_topics([NewTopic(settings.topics.name("reports.NEWBANK"), 1, 1)])
    finally:
        admin.close()

    # A bank reads nothing, not even its own reports.
    for topic in (
        settings.topics.name("leads"),
        settings.topics.department("pboc"),
        own.get().topic,
    ):
        assert_cannot_read(secure.kwargs("bank-bscb"), topic)


def assert_cannot_read(kwargs: dict[str, object], topic: str) -> None:
    consumer = KafkaConsumer(**kwargs, enable_auto_commit=False)
    partition = TopicPartition(topic, 0)
    try:
        with pytest.raises(TopicAuthorizationFailedError):
            consumer.end_offsets([partition])  # refused without DESCRIBE
            consumer.assign([partition])
            consumer.seek(partition, 0)
            for _ in range(20):
                consumer.poll(timeout_ms=500)  # refused without READ
    finally:
        consumer.close()


def test_a_department_reads_its_own_leads_only(secure: SecureDeployment) -> None:
    service = secure.settings("fundwatch-worker")
    cbrc_lead = lead(lead_id="Lcbrc0000000001", lead_department="cbrc")
    jrb_lead = lead(lead_id="Ljrb00000000001", lead_department="jrb", sector="private_fund")
    producer = KafkaProducer(**secure.kwargs("fundwatch-worker"))
    try:
        for record in (cbrc_lead, jrb_lead):
            key, value = record["lead_id"].encode(), orjson.dumps(record)
            producer.send(
                service.topics.department(record["lead_department"]), key=key, value=value
            )
            producer.send(service.topics.name("leads"), key=key, value=value)
        producer.flush(timeout=30)
    finally:
        producer.close(timeout=5)

    cbrc = secure.settings("dept-cbrc")
    assert [k for k, _ in read_all(cbrc, cbrc.topics.department("cbrc"))] == [b"Lcbrc0000000001"]
    for topic in (
        cbrc.topics.department("jrb"),
        cbrc.topics.name("leads"),
        cbrc.topics.name("lead-status"),
    ):
        assert_cannot_read(secure.kwargs("dept-cbrc"), topic)
    # PBOC reads every lead.
    pboc = secure.settings("dept-pboc")
    assert [k for k, _ in read_all(pboc, pboc.topics.department("jrb"))] == [b"Ljrb00000000001"]
    assert len(list(read_all(pboc, pboc.topics.name("leads")))) == 2

    # The regulator's own command and client.properties: its topic, and no other.
    leads = [*FUNDWATCH, "leads", "--department-topic", "--limit", "5", "--lang", "en"]
    config = ["--command-config", str(client_properties("dept-cbrc"))]
    shown = subprocess.run(
        [*leads, "--department", "cbrc", *config],
        env=secure.env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "Lcbrc0000000001" in shown.stdout and "Ljrb" not in shown.stdout, shown.stdout
    refused = subprocess.run(
        [*leads, "--department", "jrb", *config],
        env=secure.env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert refused.returncode != 0
    assert "may not read it" in refused.stderr, refused.stderr[-2000:]


def test_a_wrong_password_and_a_plaintext_connection_are_refused(
    secure: SecureDeployment, tmp_path: Path
) -> None:
    wrong = tmp_path / "wrong.properties"
    wrong.write_text(
        client_properties("bank-bscb")
        .read_text()
        .replace('password="${dir:', 'password="not-it" x="${dir:')
    )
    settings = Settings.from_env({**secure.env, "FUNDWATCH_CLIENT_PROPERTIES": str(wrong)})
    refused_logins = broker_log_count(BAD_PASSWORD)
    with pytest.raises(KafkaTimeoutError, match="Unable to bootstrap"):
        KafkaAdminClient(**kafka_python_kwargs(settings), **QUICK)
    assert broker_log_count(BAD_PASSWORD) > refused_logins

    refused_handshakes = broker_log_count(NOT_TLS)
    with pytest.raises(KafkaTimeoutError, match="Unable to bootstrap"):
        KafkaAdminClient(bootstrap_servers=secure.bootstrap, **QUICK)  # PLAINTEXT
    assert broker_log_count(NOT_TLS) > refused_handshakes
    # TLS that does not trust the local CA (the system's CAs): the client drops the handshake.
    with pytest.raises(KafkaTimeoutError, match="Unable to bootstrap"):
        KafkaAdminClient(**{**secure.kwargs("bank-bscb"), "ssl_cafile": None})
    # The same user with the right password gets in.
    KafkaAdminClient(**secure.kwargs("bank-bscb")).close()


def broker_log_count(text: str) -> int:
    return SERVER_LOG.read_text(errors="replace").count(text) if SERVER_LOG.exists() else 0


def test_the_worker_processes_bank_topics_over_tls(secure_broker: str, tmp_path: Path) -> None:
    secure = deploy(secure_broker)  # its own topics: no report of the other tests in them
    worker_env = {
        **secure.env,
        "FUNDWATCH_CLIENT_PROPERTIES": str(client_properties("fundwatch-worker")),
    }
    deployment = Deployment(secure.settings("fundwatch-worker"), worker_env, tmp_path)
    try:
        worker = deployment.start_worker()
        bscb = [
            valid_report(report_id=f"B-{i}", tx_id=f"TB-{i}", account_id=f"62220000{i:04d}")
            for i in range(30)
        ]
        # A report claiming another bank's id, on BSCB's own topic.
        forged = valid_report(report_id="F-1", tx_id="TF-1", bank_id="ICBC-BS")
        icbc = [
            valid_report(
                bank_id="ICBC-BS", report_id=f"I-{i}", tx_id=f"TI-{i}", account_id=f"6212{i:04d}"
            )
            for i in range(10)
        ]
        for bank_id, user, lines in (
            ("BSCB", "bank-bscb", [*map(encode, bscb), encode(forged)]),
            ("ICBC-BS", "bank-icbc-bs", [*map(encode, icbc), b"not json"]),
        ):
            reports = tmp_path / f"{bank_id}.jsonl"
            reports.write_bytes(b"\n".join(lines) + b"\n")
            sent = subprocess.run(
                [
                    *FUNDWATCH,
                    "produce",
                    str(reports),
                    "--bank-topic",
                    bank_id,
                    "--command-config",
                    str(client_properties(user)),
                ],
                env={k: v for k, v in secure.env.items() if k != "FUNDWATCH_BANKS"},
                cwd=tmp_path,
                capture_output=True,
                text=True,
                timeout=120,
                check=True,
            )
            assert f"sent {len(lines)} reports to {secure.prefix}.reports.{bank_id}" in (
                sent.stdout
            )

        def taken() -> bool:
            if worker.process.poll() is not None:
                raise AssertionError(f"the worker died:\n{worker.log()[-3000:]}")
            return (
                worker.total("fundwatch_reports_accepted_total") >= 40
                and worker.total("fundwatch_reports_rejected_total") >= 2
            )

        wait_for(taken, 90, "the worker to take both banks' reports")
        assert worker.total("fundwatch_reports_accepted_total") == 40
        service = deployment.settings
        letters = [
            orjson.loads(v) for _, v in read_all(service, service.topics.name("reports.dlq"))
        ]
        assert sorted((d["reason"], d["report_id"]) for d in letters) == [
            ("bank_mismatch", "F-1"),
            ("undecodable", None),
        ]
        forged_letter = next(d for d in letters if d["reason"] == "bank_mismatch")
        assert forged_letter["source"]["topic"] == service.topics.bank("BSCB")
        assert "ICBC-BS" in forged_letter["errors"][0]["message"]

        # Each bank reads the dead letters of the reports it sent, and no other's: BSCB the
        # forged report (sent on its topic), ICBC-BS its line that is not JSON.
        topics = service.topics
        bscb_letters = wait_for(
            lambda: read_with_group(
                secure.kwargs("bank-bscb"),
                topics.bank_dead_letters("BSCB"),
                f"{secure.prefix}.bank.BSCB.integration",
            ),
            60,
            "BSCB's dead letters",
        )
        assert [d["report_id"] for d in bscb_letters] == ["F-1"]
        icbc = secure.settings("bank-icbc-bs")
        icbc_letters = wait_for(
            lambda: [
                orjson.loads(v) for _, v in read_all(icbc, topics.bank_dead_letters("ICBC-BS"))
            ],
            60,
            "ICBC-BS's dead letters",
        )
        assert [d["reason"] for d in icbc_letters] == ["undecodable"]
        assert icbc_letters[0]["original_text"] == "not json"
        # And with fundwatch's own command, as the bank's integration engineer would.
        shown = subprocess.run(
            [
                *FUNDWATCH,
                "dlq",
                "--bank",
                "ICBC-BS",
                "--command-config",
                str(client_properties("bank-icbc-bs")),
            ],
            env={k: v for k, v in secure.env.items() if k != "FUNDWATCH_BANKS"},
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        assert "undecodable" in shown.stdout and topics.bank("ICBC-BS") in shown.stdout
        for topic in (topics.bank_dead_letters("ICBC-BS"), topics.name("reports.dlq")):
            assert_cannot_read(secure.kwargs("bank-bscb"), topic)
        with pytest.raises(GroupAuthorizationFailedError):  # another bank's group name
            read_with_group(
                secure.kwargs("bank-bscb"),
                topics.bank_dead_letters("BSCB"),
                f"{secure.prefix}.bank.ICBC-BS.it",
            )
    finally:
        for worker in deployment.workers:
            worker.stop()


def read_with_group(kwargs: dict[str, object], topic: str, group: str) -> list[dict[str, object]]:
    """The values of ``topic`` read from the start by a consumer in ``group``, committed there
    (as an integrator's consumer would), until a poll brings nothing more."""
    consumer = KafkaConsumer(
        topic, **kwargs, group_id=group, auto_offset_reset="earliest", enable_auto_commit=False
    )
    values: list[dict[str, object]] = []

    def joined() -> bool:
        consumer.poll(timeout_ms=500)
        return bool(consumer.assignment())

    try:
        wait_for(joined, 60, f"a join of {group}")
        consumer.seek_to_beginning()
        while batch := consumer.poll(timeout_ms=2000):
            values += [orjson.loads(r.value) for records in batch.values() for r in records]
        consumer.commit()
    finally:
        consumer.close()
    return values
