"""Detection on the real broker: the worker and the backtest agree; models swap live."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
import pytest

from feeds.producer import send_lines
from models.pipeline import PipelineConfig
from models.schemes import Scheme, build_schemes
from offline.replay import OfflineRunner, file_messages
from schemas.sectors import DEPARTMENTS, lead_routes
from streams.topic_reader import read_all
from tests.integration.conftest import Deployment, wait_for
from tests.outlines import linked_outline, scheme_outline, scheme_totals, totals_close

pytestmark = pytest.mark.integration
LATENESS_MS = 7_200_000
SMALL_WORLD = ["--days", "21", "--individuals", "500", "--businesses", "60", "--schemes", "3"]


def simulate(deployment: Deployment, directory: Path, seed: int) -> tuple[Path, Path]:
    reports, truth = directory / f"reports-{seed}.jsonl", directory / f"truth-{seed}.json"
    deployment.run_cli(
        "simulate",
        "--output",
        str(reports),
        "--truth",
        str(truth),
        "--seed",
        str(seed),
        *SMALL_WORLD,
    )
    return reports, truth


def train(deployment: Deployment, reports: Path, directory: Path, version: str) -> Path:
    model_dir = directory / version
    deployment.run_cli(
        "train",
        "--input",
        str(reports),
        "--output",
        str(model_dir),
        "--version",
        version,
        "--alert-rate",
        "0.01",
    )
    return model_dir


def model_and_live_stream(
    deployment: Deployment, directory: Path, history_seed: int, live_seed: int
) -> tuple[Path, Path]:
    """A model "m1" trained on one simulated history and published, and another seed's
    reports to stream: (model directory, live reports file)."""
    history, _ = simulate(deployment, directory, seed=history_seed)
    model_dir = train(deployment, history, directory, "m1")
    deployment.run_cli("model", "publish", str(model_dir))
    live, _ = simulate(deployment, directory, seed=live_seed)
    return model_dir, live


def lead_revisions(values: list[bytes]) -> dict[tuple[str, int], dict]:
    revisions = {}
    for value in values:
        lead = orjson.loads(value)
        lead.pop("emitted_at")  # wall-clock time of publication: the one field that differs
        revisions[(lead["lead_id"], lead["revision"])] = lead
    return revisions


def stream_leads(deployment: Deployment) -> dict[tuple[str, int], dict]:
    values = [v for _, v in read_all(deployment.settings, deployment.settings.topics.name("leads"))]
    return lead_revisions([v for v in values if v is not None])


def scored(revisions: dict[tuple[str, int], dict]) -> dict[tuple[str, int], dict]:
    """The revisions of scored leads: the same bytes in the stream and in a backtest."""
    return {key: lead for key, lead in revisions.items() if lead["kind"] == "scored"}


def published_schemes(deployment: Deployment) -> list[Scheme]:
    """The schemes on the schemes topic (latest value per id; withdrawn ids left out)."""
    latest = dict(read_all(deployment.settings, deployment.settings.topics.name("schemes")))
    schemes = [orjson.loads(v) for v in latest.values() if v is not None]
    return sorted(
        (Scheme.from_dict(s) for s in schemes if "members" in s),
        key=lambda s: (s.last_activity, s.scheme_id),
        reverse=True,
    )


# One report per message, and batched messages of 250 (each of the worker's batches then
# several chunks, each chunk's state written while the next is computed).
@pytest.mark.parametrize("reports_per_message", [1, 250])
def test_worker_and_backtest_give_identical_features_and_leads(
    deployment: Deployment, tmp_path: Path, reports_per_message: int
) -> None:
    model_dir, live = model_and_live_stream(deployment, tmp_path, 1, 2)
    lines = live.read_bytes().splitlines()
    # One ordinary account on the negative list, as a police notice would put it there: its
    # leads are case-related, in the stream and in the backtest alike.
    listed_account = orjson.loads(lines[0])["account_id"]
    watchlist = tmp_path / "watchlist.csv"
    watchlist.write_text(
        f"entity_type,entity_id,source,reason\naccount,{listed_account},police,立案侦查\n"
    )
    deployment.run_cli("watchlist", "import", str(watchlist))

    worker = deployment.start_worker()
    send_lines(lines, deployment.settings, batch=reports_per_message)
    wait_for(
        lambda: worker.total("fundwatch_reports_accepted_total") == len(lines),
        300,
        f"{len(lines)} reports accepted",
        interval=1,
    )
    wait_for(
        lambda: worker.total("fundwatch_scored_reports_total") == len(lines),
        60,
        "every report scored",
    )
    # The operational metrics move with the stream: scores, lag drained, accounts held.
    assert worker.total("fundwatch_anomaly_score_count") == len(lines)
    accounts = len({orjson.loads(line)["account_id"] for line in lines})
    wait_for(
        lambda: worker.total("fundwatch_accounts_tracked") == accounts,
        30,
        f"the worker to report {accounts} accounts tracked",
    )
    lag = {k: v for k, v in worker.metrics().items() if k.startswith("fundwatch_consumer_lag")}
    assert len(lag) == deployment.settings.partitions, lag
    wait_for(lambda: worker.total("fundwatch_consumer_lag_messages") == 0, 30, "the lag to drain")

    leads_file = tmp_path / "leads.jsonl"
    deployment.run_cli(
        "backtest",
        "--input",
        str(live),
        "--model",
        str(model_dir),
        "--output",
        str(leads_file),
        "--watchlist",
        str(watchlist),
    )
    offline_leads = lead_revisions(leads_file.read_bytes().splitlines())
    assert offline_leads, "the simulated schemes should produce leads"
    listed_leads = [x for x in offline_leads.values() if x["account_id"] == listed_account]
    assert listed_leads and all(x["severity"] == "case_related" for x in listed_leads)
    assert listed_leads[0]["watchlist_matches"] == [f"account|account:{listed_account}"]
    assert all(lead["model_version"] == "m1" for lead in offline_leads.values())
    offline_scored = scored(offline_leads)
    assert linked_outline(offline_leads.values()), "the schemes' money should link accounts"
    wait_for(
        lambda: (
            scored(stream_leads(deployment)) == offline_scored
            and linked_outline(stream_leads(deployment).values())
            == linked_outline(offline_leads.values())
        ),
        60,
        "the leads on the topic to equal the backtest's",
    )
    streamed_leads = stream_leads(deployment)
    assert scheme_outline(streamed_leads.values()) == scheme_outline(offline_leads.values())
    assert totals_close(
        scheme_totals(streamed_leads.values()), scheme_totals(offline_leads.values())
    )
    # The schemes topic holds the schemes the stream's leads form.
    values = read_all(deployment.settings, deployment.settings.topics.name("leads"))
    leads_as_sent = [orjson.loads(v) for _, v in values if v is not None]
    wait_for(
        lambda: published_schemes(deployment) == build_schemes(leads_as_sent),
        30,
        "the published schemes",
    )
    # Every revision also reached each department it is routed to, and no other.
    settings = deployment.settings
    for department in DEPARTMENTS:
        values = read_all(settings, settings.topics.department(department.code))
        routed = lead_revisions([v for _, v in values if v is not None])
        expected = {
            key: lead
            for key, lead in streamed_leads.items()
            if department.code
            in lead_routes(
                lead["sector"],
                lead["lead_department"],
                lead["cross_prefecture"],
                lead["cross_province_major"],
            )
        }
        assert routed == expected, department.code

    runner = OfflineRunner(PipelineConfig(lateness_ms=LATENESS_MS))
    for _ in runner.run(file_messages(live)):
        pass
    offline_features = {k: s.features.vector() for k, s in runner.final_states().items()}
    streamed = {k: s.features.vector() for k, s in deployment.account_states(LATENESS_MS).items()}
    assert streamed.keys() == offline_features.keys()
    for account, vector in offline_features.items():
        assert np.array_equal(streamed[account], vector), account


def test_a_published_model_is_used_and_a_broken_one_refused(
    deployment: Deployment, tmp_path: Path
) -> None:
    history, _ = simulate(deployment, tmp_path, seed=3)
    first = train(deployment, history, tmp_path, "first")
    deployment.run_cli("model", "publish", str(first))
    worker = deployment.start_worker()
    wait_for(
        lambda: worker.metrics().get('fundwatch_model_info{version="first"}') == 1,
        60,
        "the worker to use the first model",
    )

    # A corrupt artifact put on the topic by hand: refused, the worker keeps its model.
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=deployment.settings.bootstrap_servers)
    producer.send(deployment.settings.topics.name("models"), key=b"broken", value=b"not a model")
    producer.flush()
    producer.close()
    wait_for(
        lambda: worker.total("fundwatch_models_refused_total") == 1,
        60,
        "the broken model to be refused",
    )
    assert worker.metrics().get('fundwatch_model_info{version="first"}') == 1

    second = train(deployment, history, tmp_path, "second")
    deployment.run_cli("model", "publish", str(second))
    wait_for(
        lambda: worker.metrics().get('fundwatch_model_info{version="second"}') == 1,
        60,
        "the worker to switch to the second model without a restart",
    )
    listing = deployment.run_cli("model", "list").stdout
    assert "first" in listing and "second  " in listing and "INVALID" in listing

    deployment.run_cli("model", "publish", "--version", "first")  # roll back
    wait_for(
        lambda: worker.metrics().get('fundwatch_model_info{version="first"}') == 1,
        60,
        "the rollback to the first model",
    )
