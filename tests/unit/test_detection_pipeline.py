"""The whole detection core over simulated reports, without Kafka: train, score, lead.

The worker runs ``Pipeline.process`` on whatever micro-batches Kafka hands it; the backtest
runs it on fixed batches of a file. These tests hold that the cut does not matter, that
re-sent and late reports do not change the outcome, and that a trained model finds schemes.
"""

from __future__ import annotations

import gc
import io
import random
import re
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import orjson
import pytest

from feeds.simulate import Simulation, SimulationConfig, write_jsonl, write_truth
from ingest.pipeline import InputMessage, Verdict
from models.forest import FundraisingForest
from models.pipeline import PipelineConfig
from offline.backtest import run_backtest
from offline.evaluate import evaluate_files
from offline.replay import OfflineRunner, file_messages, line_message, with_progress
from tests.outlines import linked_outline, scheme_outline
from tests.worlds import small_model

LATENESS_MS = 7_200_000
SMALL = {"days": 14, "individuals": 250, "businesses": 30, "schemes": 2}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("world")
    paths = {}
    for name, seed in (("history", 21), ("live", 22)):
        simulation = Simulation(SimulationConfig(seed=seed, **SMALL))
        paths[name] = directory / f"{name}.jsonl"
        write_jsonl(simulation.reports(), paths[name])
        paths[f"{name}-truth"] = directory / f"{name}-truth.json"
        write_truth(simulation.truth(), paths[f"{name}-truth"])
    return paths


@pytest.fixture(scope="module")
def model(world: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    return small_model(world["history"], tmp_path_factory.mktemp("model") / "unit", LATENESS_MS)


def run(
    messages: list[InputMessage], model_dir: Path, batch_size: int
) -> tuple[dict[str, np.ndarray], list[dict]]:
    model = FundraisingForest.load(model_dir)
    runner = OfflineRunner(PipelineConfig(lateness_ms=LATENESS_MS), model)
    leads = []
    for outcome in runner.run(messages, batch_size=batch_size):
        for lead in outcome.leads:
            record = orjson.loads(lead.to_json())
            record.pop("emitted_at")  # wall clock: differs between any two runs
            leads.append(record)
    vectors = {a: s.features.vector() for a, s in runner.final_states().items()}
    return vectors, leads


def test_batch_boundaries_do_not_change_features_or_leads(
    world: dict[str, Path], model: Path
) -> None:
    messages = list(file_messages(world["live"]))
    vectors, leads = run(messages, model, batch_size=1000)
    scored = [lead for lead in leads if lead["kind"] == "scored"]
    assert scored, "the simulated schemes should produce leads"
    assert linked_outline(leads), "their money should reach linked accounts"
    assert scheme_outline(leads), "and the leads should form schemes"
    # The whole file as one batch: every movement arrives after every report, as it does on
    # a worker catching up on a backlog.
    for batch_size in (1, 37, len(messages)):
        other_vectors, other_leads = run(messages, model, batch_size)
        assert [lead for lead in other_leads if lead["kind"] == "scored"] == scored
        assert linked_outline(other_leads) == linked_outline(leads)
        assert scheme_outline(other_leads) == scheme_outline(leads)
        assert other_vectors.keys() == vectors.keys()
        for account, vector in vectors.items():
            np.testing.assert_array_equal(other_vectors[account], vector, err_msg=account)


def with_resends(messages: list[InputMessage], source: str) -> list[InputMessage]:
    """The stream with re-sent reports among its second half: exact copies (duplicates),
    copies with another amount (conflicts), and copies under another account (conflicts
    found through the identity index), each well after the first copy."""
    rng = random.Random(7)
    half = len(messages) // 2
    accounts = sorted({orjson.loads(m.value)["account_id"] for m in messages})
    resent: list[bytes] = []
    for message in rng.sample(messages[:half], 60):
        record = orjson.loads(message.value)
        kind = len(resent) % 3
        if kind == 1:
            record["amount"] = f"{float(record['amount']) + 1:.2f}"
        elif kind == 2:
            record["account_id"] = rng.choice([a for a in accounts if a != record["account_id"]])
        resent.append(orjson.dumps(record))
    lines = [m.value for m in messages]
    for line in resent:
        lines.insert(rng.randrange(half, len(lines) + 1), line)
    return [line_message(line, source, number) for number, line in enumerate(lines)]


def test_offline_write_back_gives_what_a_worker_writes_each_batch(
    world: dict[str, Path], model: Path
) -> None:
    """A backtest keeps the states and report identities decoded and encodes them only when
    they leave its cache; a worker encodes each touched one every batch. Same verdicts, dead
    letters, leads and tables at the end, even with a cache of 5 accounts that evicts and
    decodes again on nearly every batch (a report re-sent under another account is then
    found in the table, else in the cache only)."""
    messages = with_resends(list(file_messages(world["live"])), world["live"].name)
    forest = FundraisingForest.load(model)
    config = PipelineConfig(lateness_ms=LATENESS_MS)
    runs = {
        "worker": OfflineRunner(config, forest, write_back=False),
        "write-back": OfflineRunner(config, forest),
        "write-back, 5 kept": OfflineRunner(config, forest, decoded_accounts=5),
    }
    leads: dict[str, list[dict]] = {}
    verdicts: dict[str, list[Verdict]] = {}
    dead: dict[str, list[tuple[object, ...]]] = {}  # each dead letter but its time
    writes: dict[str, tuple[int, int]] = {}  # account states, seen-reports values
    for name, runner in runs.items():
        leads[name], verdicts[name], dead[name], writes[name] = [], [], [], (0, 0)
        for outcome in runner.run(messages, batch_size=200):
            ingest = outcome.ingest
            states, seen = writes[name]
            writes[name] = (states + len(outcome.account_writes), seen + len(ingest.seen_writes))
            verdicts[name] += [verdict for verdict, _ in ingest.verdicts]
            dead[name] += [(d.reason, d.errors, d.source, d.original) for d in ingest.dead_letters]
            for lead in outcome.leads:
                record = orjson.loads(lead.to_json())
                record.pop("emitted_at")
                leads[name].append(record)
    assert leads["worker"], "the simulated schemes should produce leads"
    # The 60 re-sends: 20 exact copies, 40 conflicts (20 under another account).
    assert verdicts["worker"].count(Verdict.DUPLICATE) == 20
    assert [d[0] for d in dead["worker"]] == ["conflict"] * 40
    tables = {name: (runner.accounts, runner.seen) for name, runner in runs.items()}
    for name in ("write-back", "write-back, 5 kept"):
        assert verdicts[name] == verdicts["worker"], name
        assert dead[name] == dead["worker"], name
        assert leads[name] == leads["worker"], name
        assert tables[name] == tables["worker"], name
    # What the write-back saves: the worker writes every touched account every batch, the
    # backtest none until it is asked for the tables (or its caches are full).
    assert writes["write-back"] == (0, 0)
    for kept, every in zip(writes["write-back, 5 kept"], writes["worker"], strict=True):
        assert 0 < kept < every


def test_a_replay_leaves_the_collector_as_it_found_it(world: dict[str, Path], model: Path) -> None:
    """Between batches a replay leaves what is alive out of the collector's walks (gc.freeze);
    when it ends, or is stopped half-way, the process collects as before: nothing it froze
    stays frozen and the thresholds are back. Objects a process froze itself stay frozen."""
    thresholds = gc.get_threshold()
    forest = FundraisingForest.load(model)
    runner = OfflineRunner(PipelineConfig(lateness_ms=LATENESS_MS), forest)
    frozen = [gc.get_freeze_count() for _ in runner.run(file_messages(world["live"]), 200)]
    assert len(frozen) > 1 and min(frozen) > 0
    assert (gc.get_freeze_count(), gc.get_threshold()) == (0, thresholds)
    stopped = OfflineRunner(PipelineConfig(lateness_ms=LATENESS_MS), forest).run(
        file_messages(world["live"]), 200
    )
    next(stopped)
    assert gc.get_freeze_count() > 0
    stopped.close()
    assert (gc.get_freeze_count(), gc.get_threshold()) == (0, thresholds)
    gc.freeze()  # as a worker does at start-up
    try:
        own = gc.get_freeze_count()
        for _ in OfflineRunner(PipelineConfig(lateness_ms=LATENESS_MS), forest).run(
            file_messages(world["live"]), 200
        ):
            pass
        assert gc.get_freeze_count() >= own
    finally:
        gc.unfreeze()


class BrokenForest(FundraisingForest):
    def anomaly_score(self, features: np.ndarray) -> np.ndarray:
        raise RuntimeError("scoring failed")


@pytest.mark.parametrize("read_first", ["no table", "the account table"])
def test_a_failed_write_back_batch_stops_the_run(
    world: dict[str, Path], model: Path, read_first: str
) -> None:
    """The newest states and report identities of a write-back run are only in memory: after
    a batch fails half-way they cannot be trusted, and the run says so instead of going on
    with older ones; so it does when only the identities are newer than their table."""
    messages = list(file_messages(world["live"]))
    runner = OfflineRunner(PipelineConfig(lateness_ms=LATENESS_MS), FundraisingForest.load(model))
    runner.process(messages[:300])
    if read_first == "the account table":
        assert runner.accounts  # every state written: only the identities are not
    runner.model = BrokenForest.load(model)
    with pytest.raises(RuntimeError, match="scoring failed"):
        runner.process(messages[300:600])
    runner.model = FundraisingForest.load(model)
    with pytest.raises(RuntimeError, match="lost unwritten"):
        runner.process(messages[600:900])


def test_a_write_back_run_with_its_tables_read_goes_on_after_a_failed_batch(
    world: dict[str, Path], model: Path
) -> None:
    """Once the tables were read nothing is only in memory: the failed batch leaves no trace,
    the run goes on as if it had never been given it."""
    messages = list(file_messages(world["live"]))
    config = PipelineConfig(lateness_ms=LATENESS_MS)
    clean = OfflineRunner(config, FundraisingForest.load(model))
    clean.process(messages[:300])
    clean.process(messages[600:900])
    runner = OfflineRunner(config, FundraisingForest.load(model))
    runner.process(messages[:300])
    assert runner.accounts and runner.seen
    runner.model = BrokenForest.load(model)
    with pytest.raises(RuntimeError, match="scoring failed"):
        runner.process(messages[300:600])
    runner.model = FundraisingForest.load(model)
    runner.process(messages[600:900])
    assert runner.seen == clean.seen
    assert runner.accounts == clean.accounts


def test_resent_and_reordered_reports_give_the_same_features(
    world: dict[str, Path], model: Path
) -> None:
    messages = list(file_messages(world["live"]))
    vectors, _ = run(messages, model, batch_size=500)

    # A bank re-sends a tenth of its reports, and reports of each account arrive shuffled
    # within a lateness-sized window of tx_time.
    rng = random.Random(5)
    resent = messages + rng.sample(messages, len(messages) // 10)
    window = timedelta(milliseconds=LATENESS_MS / 4).total_seconds()

    def arrival(message: InputMessage) -> float:
        tx_time = orjson.loads(message.value)["tx_time"]
        return datetime.fromisoformat(tx_time).timestamp() + rng.uniform(0, window)

    # Kafka numbers messages in arrival order: the re-sent and shuffled stream gets new offsets.
    shuffled = [
        replace(message, source=replace(message.source, offset=offset))
        for offset, message in enumerate(sorted(resent, key=arrival))
    ]
    other_vectors, _ = run(shuffled, model, batch_size=500)
    assert other_vectors.keys() == vectors.keys()
    for account, vector in vectors.items():
        np.testing.assert_allclose(other_vectors[account], vector, rtol=1e-9, err_msg=account)


def test_a_trained_model_finds_the_simulated_schemes(
    world: dict[str, Path], model: Path, tmp_path: Path
) -> None:
    leads_file, scores_file = tmp_path / "leads.jsonl", tmp_path / "scores.jsonl"
    run_backtest(world["live"], model, leads_file, scores_file, LATENESS_MS)
    truth = orjson.loads(world["live-truth"].read_bytes())
    collectors = {
        account for scheme in truth["schemes"] for account in scheme["collector_accounts"]
    }
    flagged = {orjson.loads(line)["account_id"] for line in leads_file.read_bytes().splitlines()}
    assert flagged & collectors, "no scheme collector was flagged"
    legitimate_flagged = flagged - {
        account
        for scheme in truth["schemes"]
        for role in ("collector_accounts", "controller_accounts", "payout_accounts")
        for account in scheme.get(role, [])
    }
    assert len(legitimate_flagged) <= len(flagged) // 2, legitimate_flagged
    assert "PR-AUC" in evaluate_files(world["live-truth"], leads_file, scores_file)


def test_reading_a_file_shows_reports_read_rate_and_eta(world: dict[str, Path]) -> None:
    """What `fundwatch train` and `backtest` print on stderr while they read: the messages pass
    through unchanged, and the bar ends at the file's report count, with the rate."""
    path = world["history"]
    reports = len(path.read_bytes().splitlines())
    shown = io.StringIO()
    passed = list(with_progress(file_messages(path), path.stat().st_size, "training set", shown))
    assert passed == list(file_messages(path))
    last = shown.getvalue().split("\r")[-1]
    assert last.startswith("training set: 100%")
    assert f" {reports}/{reports} [" in last  # the total, estimated from the size, is exact
    assert re.search(r"\[\d\d:\d\d<\d\d:\d\d, [\d.]+ reports/s\]", last)  # elapsed<ETA, rate

    from_topic = io.StringIO()  # no file size: the count and the rate, no ETA
    assert len(list(with_progress(file_messages(path), None, "reading", from_topic))) == reports
    assert re.search(
        rf"^reading: {reports} reports \[\d\d:\d\d, [\d.]+ reports/s\]",
        from_topic.getvalue().split("\r")[-1],
    )
