"""Ingest throughput of one fundwatch worker, against a raw consumer on the same topic.

Run by hand (not a test): ``python bench/ingest.py [--reports 200000]``. It starts the local
broker on its own port (deploy/kafka/kafka.sh), preloads simulated reports into a fresh topic
prefix, then measures in the same run:
  1. a raw aiokafka consumer that only reads the topic (the ceiling of the machine and broker),
  2. one `fundwatch worker` doing validation, de-duplication and ledger writes,
and prints reports/s for each and fundwatch's rate as a ratio of the raw read.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import tempfile
import time
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


PROCESSED = r"fundwatch_reports_(?:accepted|duplicate|rejected)_total\{[^}]*\}"


def metric_total(port: int, sample: str = PROCESSED) -> float:
    """Sum of the worker's samples whose name and labels match ``sample`` (-1: no answer)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=200_000)
    parser.add_argument("--kafka-port", type=int, default=49092)
    parser.add_argument("--web-port", type=int, default=6099)
    args = parser.parse_args()
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
