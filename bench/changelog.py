"""Changelog messages per report, and the size of what they carry, without a broker.

Run by hand (not a test): ``python bench/changelog.py [--reports 60000] [--batch 500]
[--baseline REV]``. It passes simulated reports through the pipeline as the worker does
(``offline.replay.OfflineRunner``: batches of ``--batch`` messages, each batch's table writes
applied before the next) and counts the table writes a batch returns, the messages the worker
sends to the changelogs: the account states, the report identities (seen-reports) and the
money trails (none here: no model, so no leads). The worker also writes one progress entry
per input partition per batch (bench/detection.py counts those live). Then the sizes of the
values the tables hold at the end: the account states (their median is kept under 2 KB) and
the seen-reports values.

With ``--baseline REV`` the same run is made in the tree of git revision REV too, for the
before/after figures; a count, not a timing, so one run of each is enough.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.ingest import simulated_lines  # noqa: E402

# Run in a fresh interpreter with one tree on its path: only what every version offers.
COUNT_RUN = """
import json, statistics, sys
from models.pipeline import PipelineConfig
from offline.replay import OfflineRunner, line_messages

lines = open(sys.argv[1], "rb").read().splitlines()
try:  # every touched state encoded once per batch, as the worker writes its changelog
    runner = OfflineRunner(PipelineConfig(), write_back=False)
except TypeError:  # a tree from before the offline runs' write-back
    runner = OfflineRunner(PipelineConfig())
writes = {"accounts": 0, "seen-reports": 0, "trails": 0}
accepted = 0
for outcome in runner.run(line_messages(lines, "bench"), batch_size=int(sys.argv[2])):
    writes["accounts"] += len(outcome.account_writes)
    writes["seen-reports"] += len(outcome.ingest.seen_writes)
    writes["trails"] += len(outcome.trail_writes)
    accepted += len(outcome.ingest.accepted)


def sizes(values):
    lengths = [len(v) for v in values]
    if not lengths:
        return {"values": 0, "median": 0, "mean": 0, "max": 0}
    return {
        "values": len(lengths),
        "median": statistics.median(lengths),
        "mean": statistics.fmean(lengths),
        "max": max(lengths),
    }


print(json.dumps({
    "reports": len(lines),
    "accepted": accepted,
    "writes": writes,
    "accounts": sizes(runner.accounts.values()),
    "seen": sizes(runner.seen.values()),
}))
"""


def count_run(tree: Path, lines_file: Path, batch: int) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-c", COUNT_RUN, str(lines_file), str(batch)],
        cwd=tree,
        env={**os.environ, "PYTHONPATH": str(tree)},
        capture_output=True,
        check=True,
    )
    figures: dict[str, object] = json.loads(result.stdout)
    return figures


def report(name: str, figures: dict[str, object]) -> None:
    reports = int(figures["reports"])  # type: ignore[call-overload]
    writes: dict[str, int] = figures["writes"]  # type: ignore[assignment]
    total = sum(writes.values())
    per_table = ", ".join(f"{table} {count / reports:.3f}" for table, count in writes.items())
    print(f"{name:<12} changelog messages per report {total / reports:.3f} ({per_table})")
    for table in ("accounts", "seen"):
        size: dict[str, float] = figures[table]  # type: ignore[assignment]
        print(
            f"{name:<12} {table} values: {size['values']:,.0f}, bytes median "
            f"{size['median']:,.0f}, mean {size['mean']:,.0f}, max {size['max']:,.0f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=60_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--baseline", help="a git revision to compare against")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        lines_file = Path(tmp) / "reports.jsonl"
        lines_file.write_bytes(b"\n".join(simulated_lines(seed=1, count=args.reports)))
        trees = {"this tree": REPO}
        if args.baseline is not None:
            old = Path(tmp) / "baseline"
            old.mkdir()
            archive = subprocess.run(
                ["git", "-C", str(REPO), "archive", args.baseline], capture_output=True, check=True
            )
            subprocess.run(["tar", "-x", "-C", str(old)], input=archive.stdout, check=True)
            trees[args.baseline] = old
        results = {name: count_run(tree, lines_file, args.batch) for name, tree in trees.items()}
    print(f"{args.reports:,} simulated reports in batches of {args.batch}")
    for name, figures in results.items():
        report(name, figures)


if __name__ == "__main__":
    main()
