"""Failures survived on the real broker: workers killed while they share the stream, and the
broker itself stopped mid-stream. Each test has a fixed, bounded run and ends by comparing
what is in Kafka with one uninterrupted offline run over the same reports."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections import defaultdict
from pathlib import Path

import numpy as np
import orjson
import pytest

from feeds.producer import send_lines
from models.forest import FundraisingForest
from models.pipeline import PipelineConfig
from offline.replay import OfflineRunner, line_messages
from streams.topic_reader import read_all
from streams.topics import ensure_topics
from tests.integration.conftest import KAFKA_SCRIPT, TEST_KAFKA_PORT, Deployment, wait_for
from tests.integration.test_detection_stream import LATENESS_MS, model_and_live_stream
from tests.outlines import linked_outline, scheme_outline

pytestmark = pytest.mark.integration


def uninterrupted_run(lines: list[bytes], model_dir: Path) -> tuple[OfflineRunner, dict]:
    """Features and lead revisions of one offline run (leads keyed by (lead_id, revision),
    without emitted_at, which is processing time when a report has no broker time)."""
    model = FundraisingForest.load(model_dir)
    runner = OfflineRunner(PipelineConfig(lateness_ms=LATENESS_MS), model)
    leads = {}
    for outcome in runner.run(line_messages(lines, "file")):
        for lead in outcome.leads:
            record = orjson.loads(lead.to_json())
            record.pop("emitted_at")
            leads[(record["lead_id"], record["revision"])] = record
    return runner, leads


def streamed_leads(deployment: Deployment) -> dict[tuple[str, int], list[bytes]]:
    """Every message published for each lead revision, in the order published."""
    copies: dict[tuple[str, int], list[bytes]] = defaultdict(list)
    for _, value in read_all(deployment.settings, deployment.settings.topics.name("leads")):
        assert value is not None
        lead = orjson.loads(value)
        copies[(lead["lead_id"], lead["revision"])].append(value)
    return copies


def arrived(deployment: Deployment, offline_leads: dict) -> bool:
    """Every scored revision of the offline run, and its linked leads as they end, are on the
    leads topic (the linked ones come a little after the reports that cause them)."""
    copies = streamed_leads(deployment)
    scored = {key for key, lead in offline_leads.items() if lead["kind"] == "scored"}
    latest = [orjson.loads(values[-1]) for values in copies.values()]
    return set(copies) >= scored and linked_outline(latest) == linked_outline(
        offline_leads.values()
    )


def reports_applied(deployment: Deployment) -> int:
    return sum(s.ledger.report_count for s in deployment.account_states(LATENESS_MS).values())


def assert_same_as_uninterrupted(
    deployment: Deployment, runner: OfflineRunner, offline_leads: dict
) -> None:
    recovered = deployment.account_states(LATENESS_MS)
    expected = runner.final_states()
    assert recovered.keys() == expected.keys()
    for account, state in expected.items():
        np.testing.assert_array_equal(
            recovered[account].features.vector(), state.features.vector(), err_msg=account
        )
    copies = streamed_leads(deployment)
    scored = {k: v for k, v in copies.items() if orjson.loads(v[0])["kind"] == "scored"}
    # A replay after a crash may publish a scored revision again, but only byte for byte the
    # same.
    changed = {key: len(set(values)) for key, values in scored.items() if len(set(values)) > 1}
    assert not changed, f"revisions published with different content: {changed}"
    streamed = {}
    for key, values in scored.items():
        record = orjson.loads(values[0])
        record.pop("emitted_at")
        streamed[key] = record
    assert streamed == {k: v for k, v in offline_leads.items() if v["kind"] == "scored"}
    # Linked leads: the same accounts, hops and source leads, and so the same schemes (a
    # replayed linked revision carries the account's figures as the replay found them).
    latest = [orjson.loads(values[-1]) for values in copies.values()]
    assert linked_outline(latest) == linked_outline(offline_leads.values())
    assert scheme_outline(latest) == scheme_outline(offline_leads.values())


def send_in_background(deployment: Deployment, lines: list[bytes], rate: float) -> threading.Thread:
    thread = threading.Thread(
        target=send_lines, args=(lines, deployment.settings, rate), daemon=True
    )
    thread.start()
    return thread


def test_three_workers_with_one_killed_again_and_again_lose_nothing(
    deployment: Deployment, tmp_path: Path
) -> None:
    model_dir, live = model_and_live_stream(deployment, tmp_path, 31, 32)
    lines = live.read_bytes().splitlines()
    runner, offline_leads = uninterrupted_run(lines, model_dir)
    assert offline_leads, "the simulated schemes should produce leads"

    ensure_topics(deployment.settings)
    workers = [deployment.start_worker() for _ in range(3)]
    sender = send_in_background(deployment, lines, rate=len(lines) / 45)
    for round_ in range(3):
        # Each kill comes once the live workers have taken in another sixth of the stream.
        target = sum(w.total("fundwatch_reports_accepted_total") for w in workers) + len(lines) / 6
        wait_for(
            lambda target=target: (
                sum(w.total("fundwatch_reports_accepted_total") for w in workers) >= target
            ),
            120,
            f"the workers to take in more reports before kill {round_ + 1}",
        )
        victim = workers[round_ % 3]
        victim.kill()  # SIGKILL: no goodbye, its partitions move after the session timeout
        workers[round_ % 3] = deployment.start_worker()
    sender.join(timeout=120)
    assert not sender.is_alive()

    wait_for(
        lambda: reports_applied(deployment) >= len(lines),
        300,
        f"all {len(lines)} reports applied",
        interval=3,
    )
    assert reports_applied(deployment) == len(lines)
    wait_for(
        lambda: arrived(deployment, offline_leads),
        60,
        "every lead of the uninterrupted run",
    )
    assert_same_as_uninterrupted(deployment, runner, offline_leads)


def test_the_broker_stopped_mid_stream_and_restarted(
    deployment: Deployment, tmp_path: Path
) -> None:
    model_dir, live = model_and_live_stream(deployment, tmp_path, 41, 42)
    lines = live.read_bytes().splitlines()
    runner, offline_leads = uninterrupted_run(lines, model_dir)

    ensure_topics(deployment.settings)
    worker = deployment.start_worker()
    sender = send_in_background(deployment, lines, rate=len(lines) / 30)
    wait_for(
        lambda: worker.total("fundwatch_reports_accepted_total") > len(lines) / 5,
        120,
        "the worker to be mid-stream",
    )
    env = {**os.environ, "FUNDWATCH_KAFKA_PORT": str(TEST_KAFKA_PORT), "PYTHON": sys.executable}
    subprocess.run(["bash", str(KAFKA_SCRIPT), "stop"], env=env, check=True)
    # The broker comes back once the worker has stalled without it (no report taken in
    # between two looks a second apart).
    seen = [worker.total("fundwatch_reports_accepted_total")]

    def stalled() -> bool:
        seen.append(worker.total("fundwatch_reports_accepted_total"))
        return seen[-1] == seen[-2]

    try:
        wait_for(stalled, 60, "the worker to stall without its broker", interval=1)
    finally:
        # Whatever happened, the broker comes back: the tests after this one need it.
        subprocess.run(["bash", str(KAFKA_SCRIPT), "start"], env=env, check=True)
    sender.join(timeout=180)
    assert not sender.is_alive()

    wait_for(
        lambda: reports_applied(deployment) >= len(lines),
        300,
        f"all {len(lines)} reports applied after the broker came back",
        interval=3,
    )
    assert worker.process.poll() is None, "the worker should have reconnected, not exited"
    wait_for(
        lambda: arrived(deployment, offline_leads),
        60,
        "every lead of the uninterrupted run",
    )
    assert_same_as_uninterrupted(deployment, runner, offline_leads)
