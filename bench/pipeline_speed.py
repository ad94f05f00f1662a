"""The pure pipeline's rate on one core, and the features against a plain reference.

Run by hand (not a test): ``python bench/pipeline_speed.py [--days 14] [--workdir DIR --reuse]``.
  1. simulates a look-alike-rich city twice (bench/detection_quality.py's way: a scheme-free
     history of the same accounts, then a period with plain and camouflaged schemes);
  2. trains a model on the history (``fundwatch train``'s code);
  3. times the backtest path (offline.backtest.BacktestJob through offline.replay) over the
     period, the messages already in memory, and prints reports/s;
  4. in the same run, times the features stage alone (apply + vector for every accepted report
     of every ``--reference-every``-th account by id, in the backtest's order: accounts with
     their whole history, as the pipeline meets them) for the fast path (models.features) and
     for the straightforward reference implementation the property test compares it with
     (tests/reference_features.py), and prints the ratio.

``--profile FILE`` writes a cProfile of the backtest step (read it with ``python -m pstats``).

``--baseline REV [--rounds N]`` compares instead the backtest step of this tree with that of
git revision REV over the same simulated period and model: each runs in a fresh interpreter
with its tree on the path, the two interleaved, best CPU time of N rounds each; it prints the
reports/s of both, their ratio, and whether the two trees wrote byte-identical leads.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from feeds.model import CST  # noqa: E402
from feeds.simulate import Simulation, SimulationConfig, write_jsonl  # noqa: E402
from ingest.pipeline import InputMessage  # noqa: E402
from models.features import AccountFeatures  # noqa: E402
from models.forest import FundraisingForest  # noqa: E402
from models.pipeline import replay_collection  # noqa: E402
from offline.backtest import BacktestJob  # noqa: E402
from offline.replay import file_messages  # noqa: E402
from offline.training import train, training_set  # noqa: E402
from schemas.report import TransactionReport  # noqa: E402
from tests.reference_features import ReferenceFeatures  # noqa: E402

LATENESS_MS = 2 * 3_600_000


def simulate(args: argparse.Namespace, work: Path) -> tuple[Path, Path]:
    common = {
        "seed": args.seed,
        "individuals": args.individuals,
        "businesses": args.businesses,
        "lookalikes": args.lookalikes,
    }
    history = SimulationConfig(
        **common,
        start=datetime(2026, 8, 10, tzinfo=CST),
        days=args.history_days,
        schemes=0,
        activity_seed=args.seed + 1_000_000,
    )
    period = SimulationConfig(
        **common,
        start=datetime(2027, 2, 10, tzinfo=CST),
        days=args.days,
        schemes=4,
        camouflaged_schemes=4,
    )
    history_file, period_file = work / "history.jsonl", work / "period.jsonl"
    if not (args.reuse and history_file.exists() and period_file.exists()):
        write_jsonl(Simulation(history).reports(), history_file)
        write_jsonl(Simulation(period).reports(), period_file)
    return history_file, period_file


def time_backtest(
    job: BacktestJob, model: FundraisingForest, messages: list[InputMessage], profile: Path | None
) -> tuple[float, list[TransactionReport], int]:
    """Seconds for the whole replay, the accepted reports in order, the lead lines."""
    runner = job.runner_with(model)
    accepted: list[TransactionReport] = []
    lines = 0
    profiler = cProfile.Profile() if profile else None
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    for outcome in runner.run(messages):
        lines += len(job.observe(outcome))
        accepted.extend(report for _, report in outcome.ingest.accepted)
    if profiler:
        profiler.disable()
        profiler.dump_stats(str(profile))
    return time.perf_counter() - started, accepted, lines


def time_features(reports: list[TransactionReport], reference: bool) -> float:
    """Seconds to apply each report to its account's features and read the vector."""
    states: dict[str, AccountFeatures | ReferenceFeatures] = {}
    # Collected as a replay is, the backtest's heap (the messages, the states) left out:
    # otherwise this times the collector walking it, not the features.
    with replay_collection() as settle:
        settle()
        started = time.perf_counter()
        for report in reports:
            state = states.get(report.account_id)
            if state is None:
                state = states[report.account_id] = (
                    ReferenceFeatures(LATENESS_MS) if reference else AccountFeatures(LATENESS_MS)
                )
            state.apply(report)
            state.vector()
        return time.perf_counter() - started


# Run in a fresh interpreter with one tree on its path: only what every version offers.
BACKTEST_RUN = """
import hashlib, json, sys, time
from pathlib import Path
from ingest.pipeline import IngestStage
from models.forest import FundraisingForest
from offline.backtest import BacktestJob
from offline.replay import file_messages

period, model_dir, lateness_ms = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
messages = list(file_messages(period))
job = BacktestJob(model_dir, lateness_ms)
runner = job.runner_with(FundraisingForest.load(model_dir))
leads, lines = hashlib.sha256(), 0
started = time.process_time()  # CPU time: the machine may be shared
ingest = IngestStage.process
ingest_seconds = 0.0


def timed_ingest(*args, **kwargs):
    global ingest_seconds
    begun = time.process_time()
    try:
        return ingest(*args, **kwargs)
    finally:
        ingest_seconds += time.process_time() - begun


IngestStage.process = timed_ingest
outcomes = []
started = time.process_time()
for outcome in runner.run(messages):
    outcomes.append(job.observe(outcome))
seconds = time.process_time() - started
for revisions in outcomes:  # the time of the run apart, byte for byte
    for line in revisions:
        lead = json.loads(line)
        lead.pop("emitted_at")
        leads.update(json.dumps(lead, sort_keys=True, ensure_ascii=False).encode())
        lines += 1
print(json.dumps({
    "rate": len(messages) / seconds,
    "ingest_us": ingest_seconds / len(messages) * 1e6,
    "lines": lines,
    "leads": leads.hexdigest(),
}))
"""


def backtest_rate(tree: Path, period: Path, model_dir: Path) -> dict[str, float | int | str]:
    """Reports/s, lead lines and the digest of the leads of one backtest run of ``tree``."""
    result = subprocess.run(
        [sys.executable, "-c", BACKTEST_RUN, str(period), str(model_dir), str(LATENESS_MS)],
        cwd=tree,
        env={**os.environ, "PYTHONPATH": str(tree)},
        capture_output=True,
        check=True,
    )
    figures: dict[str, float | int | str] = json.loads(result.stdout)
    return figures


def compare_with(baseline: str, rounds: int, period: Path, model_dir: Path, tmp: Path) -> None:
    old = tmp / "baseline"
    old.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", baseline], capture_output=True, check=True
    )
    subprocess.run(["tar", "-x", "-C", str(old)], input=archive.stdout, check=True)
    trees = [("this tree", REPO), (baseline, old)]
    best: dict[str, float] = {}
    ingest: dict[str, float] = {}  # CPU microseconds per report in IngestStage.process
    leads: dict[str, set[str]] = {}
    for _ in range(rounds):  # interleaved, best of each: the machine's noise hits both
        trees.reverse()  # and neither always runs first
        for name, tree in trees:
            run = backtest_rate(tree, period, model_dir)
            best[name] = max(best.get(name, 0.0), float(run["rate"]))
            ingest[name] = min(ingest.get(name, 1e9), float(run["ingest_us"]))
            leads.setdefault(name, set()).add(f"{run['lines']} lines, sha256 {run['leads']}")
    for name, rate in best.items():
        print(
            f"backtest, {name:<12} {rate:>8,.0f} reports/s, ingest stage "
            f"{ingest[name]:6.2f} us/report (best of {rounds})"
        )
    print(
        f"ratio this tree / {baseline}: backtest {best['this tree'] / best[baseline]:.3f} "
        f"(reports/s), ingest stage {ingest['this tree'] / ingest[baseline]:.3f} (us/report)"
    )
    same = leads["this tree"] == leads[baseline] and len(leads[baseline]) == 1
    print(f"leads: {'identical' if same else 'DIFFERENT'} ({', '.join(sorted(leads[baseline]))})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=9401)
    parser.add_argument("--individuals", type=int, default=2000)
    parser.add_argument("--businesses", type=int, default=200)
    parser.add_argument("--lookalikes", type=int, default=1300)
    parser.add_argument("--history-days", type=int, default=20)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument(
        "--reference-every", type=int, default=20, help="time the features of every Nth account"
    )
    parser.add_argument("--workdir", type=Path, default=None, help="Keep the files here.")
    parser.add_argument("--reuse", action="store_true", help="Reuse the workdir's files.")
    parser.add_argument("--profile", type=Path, default=None)
    parser.add_argument("--baseline", help="a git revision to compare the backtest with")
    parser.add_argument("--rounds", type=int, default=3, help="with --baseline: best of this many")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = args.workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        history, period = simulate(args, work)
        model_dir = work / "model"
        if not (args.reuse and model_dir.exists()):
            model = train(
                training_set(file_messages(history), LATENESS_MS),
                FundraisingForest(),
                version="speed",
            )
            model.save(model_dir)
        if args.baseline is not None:
            compare_with(args.baseline, args.rounds, period, model_dir, Path(tmp))
            return
        model = FundraisingForest.load(model_dir)
        messages = list(file_messages(period))
        job = BacktestJob(model_dir, LATENESS_MS)
        seconds, accepted, lines = time_backtest(job, model, messages, args.profile)
        accounts = len({r.account_id for r in accepted})
        print(
            f"backtest: {len(messages):,} reports of {accounts:,} accounts in {seconds:.1f} s: "
            f"{len(messages) / seconds:,.0f} reports/s, {lines:,} lead revisions"
        )
        # The reference recomputes every window from its reports: a sample of the accounts.
        chosen = set(sorted({r.account_id for r in accepted})[:: args.reference_every])
        sample = [report for report in accepted if report.account_id in chosen]
        fast = time_features(sample, reference=False)
        plain = time_features(sample, reference=True)
        print(
            f"features (apply + vector) of {len(sample):,} reports, every report of "
            f"{len(chosen):,} accounts (every {args.reference_every}th): fast "
            f"{len(sample) / fast:,.0f} reports/s, reference {len(sample) / plain:,.0f} "
            f"reports/s, ratio {plain / fast:.1f}"
        )


if __name__ == "__main__":
    main()
