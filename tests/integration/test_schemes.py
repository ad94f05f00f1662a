"""Schemes on the real broker: a scheme over three banks with a quiet controller is found as
one scheme, a busy merchant that pays one of its accounts is left out, and the trail state
behind it survives a worker killed halfway."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import orjson
import pytest

from feeds.producer import send_lines
from models.forest import FundraisingForest
from models.pipeline import PipelineConfig
from models.schemes import build_schemes
from models.trails import TrailState
from offline.replay import OfflineRunner
from streams.topic_reader import read_all
from tests.integration.conftest import Deployment, wait_for
from tests.integration.test_detection_stream import model_and_live_stream, published_schemes
from tests.outlines import linked_outline, scheme_outline
from tests.worlds import three_bank_scheme

pytestmark = pytest.mark.integration


def latest_leads(deployment: Deployment) -> dict[str, dict]:
    """The highest revision of each lead on the leads topic, as sent."""
    latest: dict[str, dict] = {}
    for _, value in read_all(deployment.settings, deployment.settings.topics.name("leads")):
        lead = orjson.loads(value) if value is not None else None
        if lead and (
            lead["lead_id"] not in latest or lead["revision"] > latest[lead["lead_id"]]["revision"]
        ):
            latest[lead["lead_id"]] = lead
    return latest


def trail_of(deployment: Deployment, account_id: str) -> TrailState | None:
    """The account's trail state as a new worker would recover it from the changelog."""
    topic = f"{deployment.settings.topic_prefix}-trails-changelog"
    found = None
    for key, value in read_all(deployment.settings, topic):
        if key is not None and orjson.loads(key) == account_id and value is not None:
            found = TrailState.from_bytes(value)
    return found


def test_a_three_bank_scheme_with_a_quiet_controller_is_one_scheme_and_survives_a_restart(
    deployment: Deployment, tmp_path: Path
) -> None:
    model_dir, _ = model_and_live_stream(deployment, tmp_path, 1, 2)
    scheme = three_bank_scheme()
    # What an uninterrupted offline run of the same reports finds.
    runner = OfflineRunner(PipelineConfig(), FundraisingForest.load(model_dir))
    offline = [
        orjson.loads(lead.to_json())
        for outcome in runner.run(scheme.world.messages())
        for lead in outcome.leads
    ]
    # The worker dies an hour and a half after the controller got linked, with two more days
    # of sweeps to come.
    linked_at = min(
        datetime.fromisoformat(lead["last_evidence_time"])
        for lead in offline
        if lead["kind"] == "linked" and lead["account_id"] == scheme.controller
    )
    cut = linked_at + timedelta(hours=1, minutes=30)
    lines = scheme.world.lines()
    first = [line for line in lines if datetime.fromisoformat(orjson.loads(line)["tx_time"]) < cut]
    rest = lines[len(first) :]
    assert sum(scheme.controller.encode() in line for line in rest) >= 6

    worker = deployment.start_worker()
    send_lines(first, deployment.settings)
    wait_for(
        lambda: worker.total("fundwatch_reports_accepted_total") == len(first),
        120,
        "the first two days accepted",
    )
    wait_for(lambda: published_schemes(deployment), 60, "a scheme before the restart")
    [before] = published_schemes(deployment)
    assert scheme.controller in before.accounts()
    worker.kill()  # SIGKILL: no chance to flush or commit anything more

    worker = deployment.start_worker()
    send_lines(rest, deployment.settings)
    wait_for(
        lambda: worker.total("fundwatch_reports_accepted_total") == len(rest),
        180,
        "the rest accepted by the new worker",
    )
    wait_for(lambda: worker.total("fundwatch_consumer_lag_messages") == 0, 60, "the lag to drain")

    wait_for(
        lambda: linked_outline(latest_leads(deployment).values()) == linked_outline(offline),
        60,
        "the linked leads of the offline run",
    )
    leads = latest_leads(deployment)
    assert scheme_outline(leads.values()) == scheme_outline(offline)
    wait_for(
        lambda: published_schemes(deployment) == build_schemes(leads.values()),
        60,
        "the published scheme to catch up",
    )

    # One scheme: the three collecting companies and the controller, with the stable id.
    [found] = published_schemes(deployment)
    assert found.scheme_id == before.scheme_id
    roles = {m.account_id: m.role for m in found.members}
    expected_roles = dict.fromkeys(scheme.collectors, "collector")
    assert roles == {**expected_roles, scheme.controller: "controller"}
    assert found.banks == ("ABC-BS", "BSCB", "ICBC-BS", "YNRCU")
    # The controller is quiet: the forest never flagged it, the money trail did.
    [controller] = [m for m in found.members if m.account_id == scheme.controller]
    assert controller.linked and not controller.scored and controller.hop == 1
    # The merchant paid a lead's account 800,000 yuan and is in no lead at all.
    assert all(lead["account_id"] != scheme.merchant for lead in leads.values())

    # Totals: every payer once across the three banks, and the collectors' money, as of each
    # collector's latest revision; the class is decided on them (each collector is general).
    collector_leads = [lead for lead in leads.values() if lead["account_id"] in scheme.collectors]
    until = {
        lead["account_id"]: datetime.fromisoformat(lead["last_evidence_time"])
        for lead in collector_leads
    }
    assert (found.participants, found.money_raised_fen) == scheme.collected(until)
    assert found.participants > max(lead["participants"] for lead in collector_leads)
    assert {lead["severity"] for lead in collector_leads} == {"general"}
    assert found.severity == "major" and found.money_raised_fen >= 500_000_000

    # The trail state came through the kill: each sweep since the collectors' leads opened
    # counted once, as in the uninterrupted run.
    trail = trail_of(deployment, scheme.controller)
    expected = TrailState.from_bytes(runner.trails[scheme.controller])
    assert trail is not None
    assert trail.sources == expected.sources
    assert {s.account for s in trail.sources.values()} == set(scheme.collectors)
    assert sum(s.transfers for s in trail.sources.values()) >= 6
