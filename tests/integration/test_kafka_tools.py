"""Kafka's own command-line tools (deploy/kafka/kafka-tool.sh, jars fetched by kafka.sh) against
the test broker: they see fundwatch's topics, and what they send is what fundwatch reads."""

from __future__ import annotations

import os
import subprocess
import zipfile
from pathlib import Path

import pytest

from streams.topic_reader import read_all
from tests.integration.conftest import REPO_ROOT, Deployment
from tests.reports import encode, valid_report

pytestmark = pytest.mark.integration
KAFKA_TOOL = REPO_ROOT / "deploy" / "kafka" / "kafka-tool.sh"


def kafka_tool(*args: str, stdin: bytes = b"") -> str:
    result = subprocess.run(
        ["bash", str(KAFKA_TOOL), *args], input=stdin, capture_output=True, timeout=180
    )
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    return result.stdout.decode()


def test_every_named_tool_is_a_class_in_the_fetched_jars(kafka_broker: str) -> None:
    home = Path(os.environ.get("FUNDWATCH_KAFKA_HOME", REPO_ROOT / ".kafka"))
    classes: set[str] = set()
    for jar in (home / "libs").glob("*.jar"):
        with zipfile.ZipFile(jar) as archive:
            classes.update(n[: -len(".class")].replace("/", ".") for n in archive.namelist())
    tools = dict(line.split() for line in kafka_tool("--list").splitlines())
    assert {"topics", "console-producer", "console-consumer", "acls"} <= set(tools)
    assert {name: cls for name, cls in tools.items() if cls not in classes} == {}


def test_kafka_topics_and_the_console_tools_work_on_fundwatchs_topics(
    deployment: Deployment, kafka_broker: str
) -> None:
    settings = deployment.settings
    settings.topics.create_all()
    reports = settings.topics.name("reports")

    listed = kafka_tool("topics", "--bootstrap-server", kafka_broker, "--list").split()
    assert reports in listed and settings.topics.name("reports.dlq") in listed
    described = kafka_tool(
        "topics", "--bootstrap-server", kafka_broker, "--describe", "--topic", reports
    )
    assert f"PartitionCount: {settings.partitions}" in described

    # An operator sends a report by hand, keyed by its account as the bank-side producer does.
    report = encode(valid_report(report_id="BY-HAND-1", account_id="6222000099990001"))
    kafka_tool(
        "console-producer",
        "--bootstrap-server",
        kafka_broker,
        "--topic",
        reports,
        "--property",
        "parse.key=true",
        "--property",
        "key.separator=\t",
        stdin=b"6222000099990001\t" + report + b"\n",
    )
    assert list(read_all(settings, reports)) == [(b"6222000099990001", report)]
    consumed = kafka_tool(
        "console-consumer",
        "--bootstrap-server",
        kafka_broker,
        "--topic",
        reports,
        "--from-beginning",
        "--max-messages",
        "1",
        "--timeout-ms",
        "60000",
        "--property",
        "print.key=true",
    )
    assert consumed == "6222000099990001\t" + report.decode() + "\n"
