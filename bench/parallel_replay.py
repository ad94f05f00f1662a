"""`fundwatch train` and `backtest` on one process against several, in the same run.

Run by hand (not a test): ``python bench/parallel_replay.py [--input FILE] [--workers 2]``.
Without ``--input`` it simulates a month (seed 12, the simulator's default city: about 80,000
reports). It builds the training set on 1 and on N workers (offline.parallel) and checks the
two give the same rows, so the same forest; then it backtests the file on 1 and on N workers
with that model and checks the scored leads, the linked and scheme outlines and the best
scores agree. It prints each run's seconds and reports/s and the ratio N-vs-1.

The ratio needs N idle cores: it prints the load average before and after, because on a
shared machine the other processes take their share of the cores too. So it also prints the
ratio in CPU time, which other processes do not change: one process's CPU time against the
parent's plus, per round, the busiest worker's (the workers wait for the slowest each round).
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import orjson  # noqa: E402

from feeds.simulate import Simulation, SimulationConfig, write_jsonl  # noqa: E402
from models.forest import FundraisingForest  # noqa: E402
from offline.backtest import run_backtest  # noqa: E402
from offline.replay import file_messages  # noqa: E402
from offline.training import TrainingSet, train, training_set  # noqa: E402
from tests.outlines import linked_outline, scheme_outline  # noqa: E402

LATENESS_MS = 7_200_000


class CriticalPath(logging.Handler):
    """The CPU seconds offline.parallel logs at the end of a run: each round's busiest worker."""

    seconds = 0.0

    def emit(self, record: logging.LogRecord) -> None:
        self.seconds = float(record.args[1])  # type: ignore[index]


CRITICAL = CriticalPath()
logging.getLogger("offline.parallel").addHandler(CRITICAL)
logging.getLogger("offline.parallel").setLevel(logging.INFO)


class Timed:
    """Wall seconds, and CPU seconds on the critical path (this process's, the busiest
    workers')."""

    def __enter__(self) -> Timed:
        CRITICAL.seconds = 0.0
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *_: object) -> None:
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu + CRITICAL.seconds


def timed_training(path: Path, workers: int) -> tuple[Timed, TrainingSet]:
    with Timed() as timed:
        data = training_set(file_messages(path), LATENESS_MS, workers)
    return timed, data


def timed_backtest(path: Path, model: Path, out: Path, workers: int) -> tuple[Timed, list[bytes]]:
    """Times, and the lead lines without their wall-clock emitted_at; scores in ``out``."""
    out.mkdir()
    with Timed() as timed:
        run_backtest(
            path, model, out / "leads.jsonl", out / "scores.jsonl", LATENESS_MS, None, workers
        )
    lines = (out / "leads.jsonl").read_bytes().splitlines()
    return timed, [re.sub(rb'"emitted_at":"[^"]*",?', b"", line) for line in lines]


def same_backtest(one: list[bytes], many: list[bytes], one_dir: Path, many_dir: Path) -> bool:
    def scored(lines: list[bytes]) -> list[bytes]:
        return sorted(line for line in lines if b'"kind":"scored"' in line)

    one_leads, many_leads = [orjson.loads(x) for x in one], [orjson.loads(x) for x in many]
    return (
        scored(one) == scored(many)
        and linked_outline(one_leads) == linked_outline(many_leads)
        and scheme_outline(one_leads) == scheme_outline(many_leads)
        and (one_dir / "scores.jsonl").read_bytes() == (many_dir / "scores.jsonl").read_bytes()
    )


def show(what: str, reports: int, times: dict[int, Timed], agree: bool) -> None:
    for workers, t in times.items():
        print(
            f"  {what} on {workers} worker(s): {t.wall:6.1f} s, {reports / t.wall:8,.0f} "
            f"reports/s (CPU on the critical path {t.cpu:.1f} s)"
        )
    (_, one), (n, many) = times.items()
    print(
        f"  {what} ratio {n}-vs-1: {one.wall / many.wall:.2f}x measured, "
        f"{one.cpu / many.cpu:.2f}x in CPU time; results agree: {'yes' if agree else 'NO'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--input", type=Path, default=None, help="reports (default: simulate)")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        work = Path(directory)
        path = args.input
        if path is None:
            path = work / "reports.jsonl"
            write_jsonl(Simulation(SimulationConfig(seed=12)).reports(), path)
        reports = sum(1 for line in path.read_bytes().splitlines() if line)
        print(f"{reports:,} reports; {os.cpu_count()} cores; load {os.getloadavg()[0]:.2f}")

        train_seconds, sets = {}, {}
        for workers in (1, args.workers):
            train_seconds[workers], sets[workers] = timed_training(path, workers)
        one_set, many_set = sets[1], sets[args.workers]
        show(
            "train",
            reports,
            train_seconds,
            one_set.features.tobytes() == many_set.features.tobytes(),
        )

        model = work / "model"
        train(one_set, FundraisingForest(expected_alert_rate=0.01), "bench").save(model)
        seconds, leads = {}, {}
        for workers in (1, args.workers):
            seconds[workers], leads[workers] = timed_backtest(
                path, model, work / f"backtest-{workers}", workers
            )
        agree = same_backtest(
            leads[1], leads[args.workers], work / "backtest-1", work / f"backtest-{args.workers}"
        )
        show("backtest", reports, seconds, agree)
        print(f"load average after: {os.getloadavg()[0]:.2f} (an idle machine reads about 0)")


if __name__ == "__main__":
    main()
