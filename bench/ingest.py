"""Ingest throughput of one fundwatch worker, against a raw consumer on the same topic.

Run by hand (not a test): ``python bench/ingest.py [--reports 200000]``. It starts the local
broker on its own port (deploy/kafka/kafka.sh), preloads simulated reports into a fresh topic
prefix, then measures in the same run:
  1. a raw aiokafka consumer that only reads the topic (the ceiling of the machine and broker),
  2. one `fundwatch worker` doing validation, de-duplication and ledger writes,
and prints reports/s for each and fundwatch's rate as a ratio of the raw read.

``--stage [--baseline REV]`` measures the pure ingest stage instead, without a broker: the CPU
microseconds per report of ``IngestStage.process`` over the same simulated reports (each with
a broker timestamp, in batches of 500, tables as dicts), in this tree and, with a baseline,
in the tree of git revision REV, runs interleaved, with the ratio of the two.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from aiokafka import AIOKafkaConsumer

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from feeds.model import CST  # noqa: E402
from feeds.producer import send_lines  # noqa: E402
from feeds.simulate import Simulation, SimulationConfig, report_lines  # noqa: E402
from streams.kafka_clients import aiokafka_kwargs  # noqa: E402
from streams.settings import Settings  # noqa: E402
from streams.topics import ensure_topics  # noqa: E402

OCTOBER = datetime(2026, 10, 1, tzinfo=CST)
FUNDWATCH = [sys.executable, "-c", "from cli.main import main; main()"]


def start_broker(port: int) -> str:
    env = {**os.environ, "FUNDWATCH_KAFKA_PORT": str(port), "PYTHON": sys.executable}
    subprocess.run(["bash", str(REPO / "deploy/kafka/kafka.sh"), "start"], env=env, check=True)
    return f"127.0.0.1:{port}"


def simulated_lines(seed: int, count: int, start: datetime = OCTOBER) -> list[bytes]:
    """About ``count`` reports of a month (more people for more reports), cut at ``count``."""
    individuals = max(2000, count // 35)
    config = SimulationConfig(
        seed=seed, start=start, individuals=individuals, businesses=max(200, individuals // 10)
    )
    return list(report_lines(Simulation(config).reports()))[:count]


def bench_environment(kafka_port: int) -> tuple[dict[str, str], Settings]:
    """Start the local broker; the environment and settings of a run on a fresh prefix."""
    env = {
        **os.environ,
        "FUNDWATCH_BOOTSTRAP_SERVERS": start_broker(kafka_port),
        "FUNDWATCH_TOPIC_PREFIX": f"bench{uuid.uuid4().hex[:6]}",
        "PYTHONPATH": str(REPO),
    }
    return env, Settings.from_env(env)


def preload(settings: Settings, count: int) -> int:
    lines = simulated_lines(seed=1, count=count)
    ensure_topics(settings)
    summary = send_lines(lines, settings)
    print(f"preloaded {summary.sent:,} reports ({summary.rate:,.0f}/s)")
    return summary.sent


async def raw_read(settings: Settings, count: int) -> float:
    consumer = AIOKafkaConsumer(
        settings.topics.name("reports"),
        **aiokafka_kwargs(settings),
        # Under the prefix, so that in secure mode the service user's ACLs cover the group.
        group_id=f"{settings.topic_prefix}-bench-raw-{uuid.uuid4().hex[:6]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        seen = 0
        started = None
        while seen < count:
            batch = await consumer.getmany(timeout_ms=1000, max_records=5000)
            if started is None and batch:
                started = time.perf_counter()
            seen += sum(len(records) for records in batch.values())
        return count / (time.perf_counter() - (started or time.perf_counter()))
    finally:
        await consumer.stop()


PROCESSED_VERDICTS = ("accepted", "duplicate", "rejected")
PROCESSED = rf"fundwatch_reports_(?:{'|'.join(PROCESSED_VERDICTS)})_total\{{[^}}]*\}}"
# The series PROCESSED matches, asked for by name: the worker then renders only them. Whole
# pages (15 KB, every series) at up to 20 polls a second were 11 % of a measured worker's
# py-spy samples, time the rate measured would include (a worker that takes no ``name[]``
# still sends every series).
PROCESSED_SERIES = urllib.parse.urlencode(
    [("name[]", f"fundwatch_reports_{verdict}_total") for verdict in PROCESSED_VERDICTS]
)


def metric_total(port: int, sample: str = PROCESSED) -> float:
    """Sum of the worker's samples whose name and labels match ``sample`` (-1: no answer),
    among the processed reports' series."""
    url = f"http://127.0.0.1:{port}/metrics?{PROCESSED_SERIES}"
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            text = resp.read().decode()
    except OSError:
        return -1.0
    return sum(float(v) for v in re.findall(rf"^{sample} ([0-9.e+]+)$", text, re.M))


@contextmanager
def running_worker(env: dict[str, str], port: int) -> Iterator[subprocess.Popen[bytes]]:
    """One `fundwatch worker` with its own data directory, stopped on exit."""
    with tempfile.TemporaryDirectory() as tmp, open(Path(tmp) / "worker.log", "wb") as log:
        proc = subprocess.Popen(
            [*FUNDWATCH, "worker", "--web-port", str(port)],
            env={**env, "FUNDWATCH_DATA_DIR": tmp},
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=tmp,
        )
        try:
            while metric_total(port) < 0:
                if proc.poll() is not None:
                    raise SystemExit((Path(tmp) / "worker.log").read_text())
                time.sleep(0.05)
            yield proc
        finally:
            proc.terminate()
            proc.wait(timeout=60)


def worker_rate(port: int, count: int, sample: str = PROCESSED) -> float:
    """Reports/s of a running worker from its first processed report to ``count``."""
    while metric_total(port, sample) <= 0:
        time.sleep(0.05)
    started, first = time.perf_counter(), metric_total(port, sample)
    while (done := metric_total(port, sample)) < count:
        time.sleep(0.2)
    return (done - first) / (time.perf_counter() - started)


# Run in a fresh interpreter with one tree on its path: only what every version of the stage
# offers (IngestStage(ledger_of, seen).process(messages, now)).
STAGE_RUN = """
import json, sys, time
from datetime import UTC, datetime
from ingest.partitioning import account_key
from ingest.pipeline import IngestStage, InputMessage
from ingest.state import AccountLedger
from schemas.envelopes import SourcePosition

lines = open(sys.argv[1], "rb").read().splitlines()
broker_ms = int(sys.argv[2])
now = datetime.fromtimestamp(broker_ms / 1000, UTC)
messages = [
    InputMessage(account_key(line), line, SourcePosition("bench.reports", 0, n, broker_ms))
    for n, line in enumerate(lines)
]
ledgers, seen = {}, {}
stage = IngestStage(lambda account: ledgers.get(account, AccountLedger()), seen)
rejected = 0
started = time.process_time()  # CPU time: the machine may be shared
for first in range(0, len(messages), 500):
    out = stage.process(messages[first : first + 500], now)
    rejected += len(out.dead_letters)
    for account, (_, ledger) in out.ledger_writes.items():
        ledgers[account] = ledger
    for identity, (_, entry) in out.seen_writes.items():
        seen[identity] = entry.to_bytes()
seconds = time.process_time() - started
print(json.dumps({"us": seconds / len(messages) * 1e6, "rejected": rejected}))
"""


def stage_cost(tree: Path, lines_file: Path, broker_ms: int) -> tuple[float, int]:
    """(microseconds per report, reports rejected) of one pass of the stage of ``tree``."""
    result = subprocess.run(
        [sys.executable, "-c", STAGE_RUN, str(lines_file), str(broker_ms)],
        cwd=tree,
        env={**os.environ, "PYTHONPATH": str(tree)},
        capture_output=True,
        check=True,
    )
    figures = json.loads(result.stdout)
    return figures["us"], figures["rejected"]


def bench_stage(count: int, baseline: str | None, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        lines_file = Path(tmp) / "reports.jsonl"
        lines_file.write_bytes(b"\n".join(simulated_lines(seed=1, count=count)))
        trees = {"this tree": REPO}
        if baseline is not None:
            old = Path(tmp) / "baseline"
            old.mkdir()
            archive = subprocess.run(
                ["git", "-C", str(REPO), "archive", baseline], capture_output=True, check=True
            )
            subprocess.run(["tar", "-x", "-C", str(old)], input=archive.stdout, check=True)
            trees[baseline] = old
        broker_ms = int(time.time() * 1000)
        best: dict[str, float] = {}
        order = list(trees.items())
        for _ in range(rounds):  # interleaved, best of each: the machine's noise hits both
            order.reverse()  # and neither always runs first
            for name, tree in order:
                micros, rejected = stage_cost(tree, lines_file, broker_ms)
                assert rejected == 0, f"{name} rejected {rejected} simulated reports"
                best[name] = min(best.get(name, micros), micros)
    for name, micros in best.items():
        print(f"ingest stage, {name:<12} {micros:>8.2f} us/report ({count:,} reports)")
    if baseline is not None:
        print(f"ratio this tree / {baseline:<9} {best['this tree'] / best[baseline]:>8.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=200_000)
    parser.add_argument("--kafka-port", type=int, default=49092)
    parser.add_argument("--web-port", type=int, default=6099)
    parser.add_argument("--stage", action="store_true", help="the pure ingest stage, no broker")
    parser.add_argument("--baseline", help="with --stage: a git revision to compare against")
    parser.add_argument("--rounds", type=int, default=5, help="with --stage: best of this many")
    args = parser.parse_args()
    if args.stage:
        bench_stage(args.reports, args.baseline, args.rounds)
        return
    env, settings = bench_environment(args.kafka_port)
    count = preload(settings, args.reports)
    raw = asyncio.run(raw_read(settings, count))
    with running_worker(env, args.web_port):
        fundwatch = worker_rate(args.web_port, count)
    print(f"raw aiokafka read          {raw:>10,.0f} reports/s")
    print(f"fundwatch worker (ingest)  {fundwatch:>10,.0f} reports/s")
    print(f"ratio fundwatch / raw read {fundwatch / raw:>10.3f}")


if __name__ == "__main__":
    main()
