"""The file replay on several processes (offline.parallel) against one process: the accounts
split as Kafka splits them over partitions, money trails crossing between the workers.

Scored leads and best scores are the same bytes; linked leads and schemes the same outline
(tests/outlines.py), as for the stream against the backtest; a training set the same rows in
the same order, so the same forest.
"""

from __future__ import annotations

import json
import re
from array import array
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from feeds.simulate import Simulation, SimulationConfig, write_jsonl
from ingest.partitioning import account_key, key_and_bank, partition_for, routing_key
from models.forest import FundraisingForest
from models.pipeline import PipelineConfig, PipelineOutcome
from offline import parallel
from offline.backtest import run_backtest
from offline.parallel import ParallelReplay, ParallelReplayError, pack, unpack
from offline.replay import OfflineRunner, file_messages, line_messages
from offline.training import TrainingJob, train, training_set
from tests.outlines import linked_outline, scheme_outline
from tests.worlds import small_model

LATENESS_MS = 7_200_000
SMALL = {"days": 14, "individuals": 250, "businesses": 30, "schemes": 2}
UNREADABLE = [b"not json", b'{"account_id": 5}', b"[1, 2]"]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("parallel")
    paths = {}
    for name, seed in (("history", 31), ("live", 32)):
        paths[name] = directory / f"{name}.jsonl"
        write_jsonl(Simulation(SimulationConfig(seed=seed, **SMALL)).reports(), paths[name])
    # Lines without a readable key, among the others: each is to be dead-lettered once.
    lines = paths["live"].read_bytes().splitlines()
    for n, line in enumerate(UNREADABLE):
        lines.insert(1 + n * len(lines) // 3, line)
    paths["live"].write_bytes(b"\n".join(lines) + b"\n")
    return paths


@pytest.fixture(scope="module")
def model(world: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    return small_model(world["history"], tmp_path_factory.mktemp("model") / "unit", LATENESS_MS)


@pytest.fixture(scope="module")
def one_process(
    world: dict[str, Path], model: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    return backtest(world, model, tmp_path_factory.mktemp("one"), workers=1)


def backtest(world: dict[str, Path], model: Path, directory: Path, workers: int) -> dict[str, Any]:
    leads_file, scores_file = directory / "leads.jsonl", directory / "scores.jsonl"
    summary = run_backtest(
        world["live"], model, leads_file, scores_file, LATENESS_MS, None, workers
    )
    # emitted_at: the wall clock of the batch (a file has no broker time).
    lines = [re.sub(rb'"emitted_at":"[^"]*",?', b"", line) for line in read_lines(leads_file)]
    return {
        "lines": lines,
        "leads": [orjson.loads(line) for line in lines],
        "scores": scores_file.read_bytes(),
        "counts": summary.split(" scored ")[0],  # "7,712 reports (3 rejected)"
    }


def owner(account_id: str, workers: int) -> int:
    return partition_for(account_id.encode(), workers)


def read_lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines()


@pytest.mark.parametrize("round_lines", [300, parallel.ROUND_LINES])
@pytest.mark.parametrize("workers", [2, 3])
def test_a_backtest_on_several_workers_gives_the_leads_and_scores_of_one(
    world: dict[str, Path],
    model: Path,
    one_process: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    workers: int,
    round_lines: int,
) -> None:
    monkeypatch.setattr(parallel, "ROUND_LINES", round_lines)  # many rounds, or one or two
    split = backtest(world, model, tmp_path, workers)
    scored = sorted(line for line in one_process["lines"] if b'"kind":"scored"' in line)
    assert scored, "the simulated schemes should produce scored leads"
    assert linked_outline(one_process["leads"]), "their money should reach linked accounts"
    crossing = [
        lead
        for lead in one_process["leads"]
        if lead["kind"] == "linked"
        and any(
            owner(link["source_account"], workers) != owner(lead["account_id"], workers)
            for link in lead["trail"]
        )
    ]
    assert crossing, "some money trails should cross from one worker to another"

    assert sorted(line for line in split["lines"] if b'"kind":"scored"' in line) == scored
    assert linked_outline(split["leads"]) == linked_outline(one_process["leads"])
    assert scheme_outline(split["leads"]) == scheme_outline(one_process["leads"])
    assert split["scores"] == one_process["scores"]
    assert split["counts"] == one_process["counts"]
    assert f"({len(UNREADABLE)} rejected)" in split["counts"]


def test_two_backtests_on_the_same_workers_write_the_same_file(
    world: dict[str, Path], model: Path, tmp_path: Path
) -> None:
    first = backtest(world, model, tmp_path / "a", workers=2)
    second = backtest(world, model, tmp_path / "b", workers=2)
    assert first["lines"] == second["lines"]


def test_a_training_set_on_two_workers_trains_the_forest_of_one(
    world: dict[str, Path], tmp_path: Path
) -> None:
    one = training_set(file_messages(world["history"]), LATENESS_MS)
    two = training_set(file_messages(world["history"]), LATENESS_MS, workers=2)
    assert one.features.tobytes() == two.features.tobytes()
    assert (one.record_count, one.training_period) == (two.record_count, two.training_period)
    for name, data in (("one", one), ("two", two)):
        forest = FundraisingForest(n_estimators=60, expected_alert_rate=0.01)
        train(data, forest, "unit").save(tmp_path / name)
    one_dir, two_dir = tmp_path / "one", tmp_path / "two"
    assert (one_dir / "forest.npz").read_bytes() == (two_dir / "forest.npz").read_bytes()
    one_json, two_json = (orjson.loads((d / "model.json").read_bytes()) for d in (one_dir, two_dir))
    one_json.pop("created_at")
    two_json.pop("created_at")
    assert one_json == two_json


def test_the_rows_of_a_training_set_are_ordered_by_account_and_day(
    world: dict[str, Path],
) -> None:
    job = TrainingJob(LATENESS_MS)
    for outcome in job.runner().run(file_messages(world["history"])):
        job.observe(outcome)
    ordered = [job.rows[key] for key in sorted(job.rows)]
    data = training_set(file_messages(world["history"]), LATENESS_MS)
    assert [row.tobytes() for row in data.features] == [row.tobytes() for row in ordered]


def test_spawned_workers_split_the_accounts_as_the_partitioner_does(
    world: dict[str, Path],
) -> None:
    """Spawned, not forked: the job reaches the workers pickled."""
    replay = ParallelReplay(TrainingJob(LATENESS_MS), 2, batch_size=500, start_method="spawn")
    for _ in replay.run(file_messages(world["history"])):
        pass
    for worker, part in enumerate(replay.results):
        assert part.rows
        assert {partition_for(a.encode(), 2) for a, _ in part.rows} == {worker}
    every_key = {account_key(line) for line in read_lines(world["history"])}
    assert {a.encode() for part in replay.results for a, _ in part.rows} == every_key


class FailingJob:
    """A job whose worker fails on its first batch."""

    def runner(self) -> OfflineRunner:
        return OfflineRunner(TrainingJob(LATENESS_MS).runner().config)

    def observe(self, outcome: PipelineOutcome) -> list[bytes]:
        raise RuntimeError("this worker breaks")

    def result(self) -> None:
        return None

    def encode(self, result: None) -> bytes:
        return b""

    def decode(self, blob: bytes) -> None:
        return None


def test_a_failing_worker_stops_the_replay_with_its_error(world: dict[str, Path]) -> None:
    replay = ParallelReplay(FailingJob(), 2)
    with pytest.raises(ParallelReplayError, match="this worker breaks"):
        for _ in replay.run(file_messages(world["history"])):
            pass


def test_the_parent_routes_every_line_of_a_file_by_its_account(world: dict[str, Path]) -> None:
    lines = [line for path in world.values() for line in path.read_bytes().splitlines() if line]
    assert [routing_key(line) for line in lines] == [account_key(line) for line in lines]


_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)


@given(
    account=st.one_of(_TEXT, st.integers(), st.none()),
    others=st.dictionaries(_TEXT, st.one_of(_TEXT, st.integers())),
    nested=st.one_of(st.none(), _TEXT),
    ascii_only=st.booleans(),
    spaced=st.booleans(),
)
def test_a_line_is_routed_as_it_is_keyed_however_it_is_written(
    account: object, others: dict[str, object], nested: str | None, ascii_only: bool, spaced: bool
) -> None:
    """The parent's routing key, read without decoding the line, is the key a worker decodes
    for any JSON object: an escaped, nested, missing or non-text account_id included."""
    record: dict[str, object] = {**others, "account_id": account}
    if nested is not None:
        record["extra"] = {"account_id": nested}
    separators = (" , ", " : ") if spaced else (",", ":")
    line = json.dumps(record, ensure_ascii=ascii_only, separators=separators).encode()
    assert routing_key(line) == account_key(line)


def test_a_replayed_line_carries_the_key_a_bank_producer_sends() -> None:
    """A line that is no JSON object has no key on Kafka (feeds.producer), so its dead letter
    has none in a replay either, though routing_key may read an account_id from it."""
    broken = b'{"account_id":"A1","amount":'
    assert routing_key(broken) == b"A1"
    messages = list(line_messages([broken, b'{"account_id":"A2"}'], "f.jsonl"))
    assert [m.key for m in messages] == [key_and_bank(broken)[0], b"A2"] == [None, b"A2"]
    frame = parallel._Chunk(array("q", [0]), [broken]).frame("file:f.jsonl")
    runner = OfflineRunner(PipelineConfig())
    assert [m.key for m in parallel._batch(runner, frame)] == [None]


def test_packed_byte_strings_come_back_as_they_were() -> None:
    groups = [[b"", b"a\nb", "账户".encode()], [], [bytes(range(256))]]
    assert unpack(pack(*groups)) == groups
    assert unpack(pack()) == []
