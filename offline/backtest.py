"""``fundwatch backtest``: the worker's pipeline over a file, as fast as the machine allows."""

from __future__ import annotations

import time
from pathlib import Path

import orjson

from models.forest import FundraisingForest
from models.pipeline import PipelineConfig
from models.watchlist import Watchlist
from offline.replay import OfflineRunner, file_messages, with_progress


def run_backtest(
    input_file: Path,
    model_dir: Path,
    leads_file: Path,
    scores_file: Path | None,
    lateness_ms: int,
    watchlist: Watchlist | None = None,
) -> str:
    """``watchlist``: the negative list the run checks reports against (None: empty)."""
    model = FundraisingForest.load(model_dir)
    model.check_features()
    runner = OfflineRunner(PipelineConfig(lateness_ms=lateness_ms), model, watchlist)
    best: dict[str, float] = {}
    reports = leads = rejected = 0
    started = time.perf_counter()
    leads_file.parent.mkdir(parents=True, exist_ok=True)
    messages = with_progress(file_messages(input_file), input_file.stat().st_size, "backtest")
    with leads_file.open("wb") as out:
        for outcome in runner.run(messages):
            accepted = outcome.ingest.accepted
            reports += len(outcome.ingest.verdicts)
            rejected += len(outcome.ingest.dead_letters)
            for lead in outcome.leads:
                out.write(lead.to_json() + b"\n")
            leads += len(outcome.leads)
            if outcome.scores is not None:
                for (_, report), score in zip(accepted, outcome.scores, strict=True):
                    if score > best.get(report.account_id, -1.0):
                        best[report.account_id] = float(score)
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
