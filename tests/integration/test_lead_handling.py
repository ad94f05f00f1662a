"""Lead handling and the negative list from the command line, on the real broker.

Leads are published straight onto the leads topic (as a worker would), so these tests need no
model; what they check is what the analysts' commands do with the topics.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import orjson
import pytest
from kafka import KafkaProducer

from casework.lead_status import LeadStatusRecord
from models.watchlist import WatchlistEntry
from streams.topic_reader import read_all
from streams.topics import ensure_topics
from tests.integration.conftest import FUNDWATCH, Deployment
from tests.unit.test_lead_view import lead

pytestmark = pytest.mark.integration
HOSTILE_NAME = "\x1b[2J\x1b[31m周\u202e丽艳\x07"  # clears the screen, turns it red, reverses


def publish_leads(deployment: Deployment, *leads: dict) -> None:
    settings = deployment.settings
    ensure_topics(settings)
    producer = KafkaProducer(bootstrap_servers=settings.bootstrap_servers)
    for record in leads:
        producer.send(
            settings.topics.name("leads"),
            key=record["lead_id"].encode(),
            value=orjson.dumps(record),
        )
    producer.flush()
    producer.close()


def refused(deployment: Deployment, *args: str, code: int = 2) -> str:
    """Run a command that must be refused with exit ``code`` (its FundwatchError's: 2, the
    request is wrong; 66, no such thing); its one-line reason."""
    result = subprocess.run(
        [*FUNDWATCH, *args], env=deployment.env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == code, result.stdout + result.stderr
    return result.stderr.strip().splitlines()[-1]


def test_an_analyst_verifies_a_lead_and_lists_its_account(deployment: Deployment) -> None:
    publish_leads(deployment, lead(lead_id="L1"), lead(lead_id="L2", account_id="6222000000009999"))
    settings = deployment.settings

    shown = deployment.run_cli("leads", "list", "--lang", "en").stdout
    assert "L1 r2" in shown and "[new]" in shown and "-- 2 leads" in shown

    out = deployment.run_cli(
        "leads",
        "show",
        "L1",
        "--set-status",
        "verifying",
        "--note",
        "调取流水",
        "--by",
        "analyst1",
        "--list-account",
    ).stdout
    assert "now verifying" in out and "negative list" in out

    (status_value,) = [v for k, v in read_all(settings, settings.topics.name("lead-status")) if v]
    record = LeadStatusRecord.from_json(status_value)
    assert (record.lead_id, record.status.value, record.history[0].by) == (
        "L1",
        "verifying",
        "analyst1",
    )
    (listing_value,) = [v for k, v in read_all(settings, settings.topics.name("watchlist")) if v]
    listing = WatchlistEntry.from_json(listing_value)
    assert (listing.key, listing.source.value, listing.lead_id) == (
        f"account:{lead()['account_id']}",
        "verified_lead",
        "L1",
    )

    # The filters and the detail view read the status and the list back from the topics.
    only_verifying = deployment.run_cli(
        "leads", "list", "--status", "verifying", "--lang", "en"
    ).stdout
    assert "L1" in only_verifying and "L2" not in only_verifying
    detail = deployment.run_cli("leads", "show", "L1", "--lang", "en").stdout
    assert "verifying  analyst1  调取流水" in detail and "verified_lead" in detail

    # Refused changes say why and change nothing.
    assert "needs an outcome" in refused(
        deployment, "leads", "show", "L1", "--set-status", "closed"
    )
    assert "needs a note" in refused(deployment, "leads", "show", "L1", "--set-status", "tracking")
    assert "no lead L9" in refused(deployment, "leads", "show", "L9", "--set-status", "tracking")
    assert "no lead L9" in refused(deployment, "leads", "show", "L9", code=66)
    assert "already listed" in refused(deployment, "watchlist", "add", "--from-lead", "L1")
    assert len([v for _, v in read_all(settings, settings.topics.name("lead-status")) if v]) == 1

    closed = deployment.run_cli(
        "leads", "show", "L1", "--set-status", "closed", "--outcome", "confirmed"
    ).stdout
    assert "verifying → closed" in closed


def test_the_old_spellings_still_work_and_say_the_new_ones(deployment: Deployment) -> None:
    publish_leads(
        deployment,
        lead(lead_id="L1", customer_id="C-1"),
        lead(lead_id="L2", account_id="6222000000009999", customer_id="C-1"),
    )
    plain = deployment.run_cli("leads", "--lang", "en")
    assert "L1 r2" in plain.stdout and "-- 2 leads" in plain.stdout
    assert "use fundwatch leads list" in plain.stderr
    shown = deployment.run_cli("leads", "--show", "L1", "--lang", "en")
    assert shown.stdout == deployment.run_cli("leads", "show", "L1", "--lang", "en").stdout
    assert "use fundwatch leads show L1" in shown.stderr
    changed = deployment.run_cli("leads", "--show", "L1", "--set-status", "tracking")
    assert "now tracking" in changed.stdout and "use fundwatch leads show L1" in changed.stderr
    # The two leads are one customer's accounts: one scheme.
    listed = deployment.run_cli("leads", "--schemes", "--lang", "en")
    assert listed.stdout == deployment.run_cli("schemes", "list", "--lang", "en").stdout
    assert "-- 1 schemes among the 2 leads" in listed.stdout
    assert "use fundwatch schemes list" in listed.stderr
    scheme_id = listed.stdout.split()[1]
    one = deployment.run_cli("leads", "--scheme", scheme_id, "--lang", "en")
    assert one.stdout == deployment.run_cli("schemes", "show", scheme_id, "--lang", "en").stdout
    assert f"scheme {scheme_id}" in one.stdout
    assert f"use fundwatch schemes show {scheme_id}" in one.stderr
    assert "no scheme SCnone" in refused(deployment, "schemes", "show", "SCnone", code=66)
    assert "not both" in refused(deployment, "leads", "--schemes", "--scheme", scheme_id)
    # Options of the old command before a subcommand are refused with where they go.
    assert "fundwatch leads list --limit" in refused(deployment, "leads", "--limit", "5", "list")


def test_a_hostile_lead_reaches_the_terminal_escaped(deployment: Deployment) -> None:
    # As a worker that predates the ingest checks of issue 14 would have published it.
    publish_leads(deployment, {**lead(lead_id="L1"), "customer_name": HOSTILE_NAME})
    for args in (("leads", "list"), ("leads", "show", "L1"), ("schemes", "list")):
        out = deployment.run_cli(*args).stdout
        assert "\x1b" not in out and "\u202e" not in out and "\x07" not in out, args
    shown = deployment.run_cli("leads", "list").stdout
    assert "\\x1b[2J\\x1b[31m周\\u202e丽艳\\x07" in shown


def test_the_negative_list_is_imported_listed_and_removed(
    deployment: Deployment, tmp_path: Path
) -> None:
    csv_file = tmp_path / "notice.csv"
    csv_file.write_text(
        "entity_type,entity_id,source,reason\n"
        "account,6222000011112222,judicial,（2026）云05刑初12号\n"
        "name,保山某某 投资有限公司,police,立案侦查\n",
        encoding="utf-8",
    )
    assert "imported 2 entries" in deployment.run_cli("watchlist", "import", str(csv_file)).stdout
    assert "2 already listed" in deployment.run_cli("watchlist", "import", str(csv_file)).stdout
    bad = tmp_path / "bad.csv"
    bad.write_text("entity_type,entity_id,source,reason\nphone,139,police,x\n", encoding="utf-8")
    assert "line 2" in refused(deployment, "watchlist", "import", str(bad))

    exported = tmp_path / "export.csv"
    assert "exported 2 listed" in deployment.run_cli("watchlist", "export", str(exported)).stdout
    assert exported.read_text(encoding="utf-8").splitlines()[1:] == [
        "account,6222000011112222,judicial,（2026）云05刑初12号",
        "name,保山某某 投资有限公司,police,立案侦查",
    ]

    deployment.run_cli(
        "watchlist", "remove", "--type", "name", "--id", "保山某某投资有限公司", "--reason", "撤案"
    )
    listed = deployment.run_cli("watchlist", "list").stdout
    assert "account:6222000011112222" in listed and "保山某某投资有限公司" not in listed
    assert "-- 1 listed" in listed
    everything = deployment.run_cli("watchlist", "list", "--all").stdout
    assert "removed" in everything and "撤案" in everything
