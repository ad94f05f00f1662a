"""``fundwatch backtest``: the worker's pipeline over a file, as fast as the machine allows.

With ``workers`` above 1 the accounts are split over that many processes as Kafka splits
them over partitions (offline.parallel); the leads and scores are those of one process.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from ingest.pipeline import InputMessage
from models.forest import FundraisingForest
from models.pipeline import PipelineConfig, PipelineOutcome
from models.watchlist import Watchlist
from offline.parallel import ParallelReplay, RoundOutput
from offline.replay import OfflineRunner, file_messages, with_progress


@dataclass
class BacktestJob:
    """One process's part of a backtest: its leads as lines, its accounts' best scores."""

    model_dir: Path
    lateness_ms: int
    watchlist: Watchlist | None = None
    best: dict[str, float] = field(default_factory=dict)

    def runner(self) -> OfflineRunner:
        return self.runner_with(FundraisingForest.load(self.model_dir))

    def runner_with(self, model: FundraisingForest) -> OfflineRunner:
        return OfflineRunner(PipelineConfig(lateness_ms=self.lateness_ms), model, self.watchlist)

    def observe(self, outcome: PipelineOutcome) -> list[bytes]:
        if outcome.scores is not None:
            accepted = outcome.ingest.accepted
            for (_, report), score in zip(accepted, outcome.scores, strict=True):
                if score > self.best.get(report.account_id, -1.0):
                    self.best[report.account_id] = float(score)
        return [lead.to_json() + b"\n" for lead in outcome.leads]

    def result(self) -> dict[str, float]:
        return self.best

    def encode(self, result: dict[str, float]) -> bytes:
        return orjson.dumps(result)  # floats as their shortest exact text: they come back equal

    def decode(self, blob: bytes) -> dict[str, float]:
        best: dict[str, float] = orjson.loads(blob)
        return best


def run_backtest(
    input_file: Path,
    model_dir: Path,
    leads_file: Path,
    scores_file: Path | None,
    lateness_ms: int,
    watchlist: Watchlist | None = None,
    workers: int = 1,
) -> str:
    """``watchlist``: the negative list the run checks reports against (None: empty).
    ``workers``: processes, each with its share of the accounts (1: this process only)."""
    model = FundraisingForest.load(model_dir)
    model.check_features()
    job = BacktestJob(model_dir, lateness_ms, watchlist)
    reports = leads = rejected = 0
    started = time.perf_counter()
    leads_file.parent.mkdir(parents=True, exist_ok=True)
    messages = with_progress(file_messages(input_file), input_file.stat().st_size, "backtest")
    replay = ParallelReplay(job, workers) if workers > 1 else None
    rounds = replay.run(messages) if replay else _in_process(job, model, messages)
    with leads_file.open("wb") as out:
        for output in rounds:
            reports += output.reports
            rejected += output.rejected
            out.writelines(output.lines)
            leads += len(output.lines)
    best = _best_of(replay.results) if replay else job.result()
    seconds = time.perf_counter() - started
    if scores_file is not None:
        scores_file.write_bytes(
            b"".join(
                orjson.dumps({"account_id": a, "score": s}) + b"\n" for a, s in sorted(best.items())
            )
        )
    return (
        f"{reports:,} reports ({rejected:,} rejected) scored with model {model.version_} in "
        f"{seconds:.1f} s ({reports / max(seconds, 1e-9):,.0f}/s): {leads:,} lead revisions "
        f"-> {leads_file}"
    )


def _in_process(
    job: BacktestJob, model: FundraisingForest, messages: Iterable[InputMessage]
) -> Iterator[RoundOutput]:
    """The one-process backtest: each batch of ``OfflineRunner.run`` as a round."""
    for outcome in job.runner_with(model).run(messages):
        lines = job.observe(outcome)
        yield RoundOutput(lines, len(outcome.ingest.verdicts), len(outcome.ingest.dead_letters))


def _best_of(parts: Iterable[dict[str, float]]) -> dict[str, float]:
    """The workers' best scores: each account is one worker's, the max is for safety."""
    best: dict[str, float] = {}
    for part in parts:
        for account, score in part.items():
            best[account] = max(score, best.get(account, -1.0))
    return best
