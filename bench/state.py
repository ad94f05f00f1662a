"""State per account with 1,000,000 accounts tracked: in a worker's memory and in Kafka.

Run by hand (not a test): ``python bench/state.py [--accounts 1000000]``. It

  1. runs the detection pipeline (no Kafka) over a simulated month to get real account
     states of every kind (quiet individuals, merchants, scheme collectors);
  2. fills a table like a worker's in-memory store (key -> encoded state) with
     ``--accounts`` accounts drawn from those states, and measures the bytes it takes
     (tracemalloc: keys, values and the dict);
  3. measures a decoded state, as the worker keeps up to 10,000 of them between batches;
  4. writes the same ``--accounts`` records to a compacted topic on the local broker and
     reads the size of its log on disk: the table store (the changelog a new worker
     recovers from).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
from kafka import KafkaProducer

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.ingest import bench_environment, simulated_lines  # noqa: E402
from models.account_state import AccountState  # noqa: E402
from models.pipeline import PipelineConfig  # noqa: E402
from offline.replay import OfflineRunner, line_messages  # noqa: E402
from streams.topics import TopicSpec, ensure_topics  # noqa: E402

LATENESS_MS = 7_200_000


def real_states(reports: int) -> list[bytes]:
    runner = OfflineRunner(PipelineConfig(lateness_ms=LATENESS_MS))
    for _ in runner.run(line_messages(simulated_lines(seed=3, count=reports), "bench")):
        pass
    return list(runner.accounts.values())


def memory_per_account(states: list[bytes], accounts: int) -> float:
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    table = {f"62{i:017d}": bytes(bytearray(states[i % len(states)])) for i in range(accounts)}
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert len(table) == accounts
    return used / accounts


def decoded_bytes(states: list[bytes], sample: int = 2000) -> float:
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    kept = [AccountState.from_bytes(blob, LATENESS_MS) for blob in states[:sample]]
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    return used / len(kept)


def disk_per_account(states: list[bytes], accounts: int, kafka_port: int) -> float:
    _, settings = bench_environment(kafka_port)
    topic = f"{settings.topic_prefix}-accounts-changelog"
    ensure_topics(
        settings, {topic: TopicSpec(topic, settings.partitions, {"cleanup.policy": "compact"})}
    )
    producer = KafkaProducer(
        bootstrap_servers=settings.bootstrap_servers, linger_ms=20, batch_size=512 * 1024
    )
    for i in range(accounts):
        producer.send(topic, key=f'"62{i:017d}"'.encode(), value=states[i % len(states)])
    producer.flush()
    producer.close()
    time.sleep(2)
    kafka_home = Path(os.environ.get("FUNDWATCH_KAFKA_HOME", REPO / ".kafka"))
    data = kafka_home / f"run-{kafka_port}" / "data"
    size = subprocess.run(
        ["du", "-sb", *[str(d) for d in data.glob(f"{topic}-*")]],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return sum(int(line.split()[0]) for line in size.splitlines()) / accounts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--reports", type=int, default=200_000, help="Simulated for real states.")
    parser.add_argument("--kafka-port", type=int, default=49092)
    args = parser.parse_args()
    states = real_states(args.reports)
    sizes = np.array([len(s) for s in states])
    print(
        f"{len(states):,} real account states: encoded {sizes.mean():,.0f} B mean, "
        f"{np.median(sizes):,.0f} B median, {np.percentile(sizes, 99):,.0f} B p99, "
        f"{sizes.max():,} B max"
    )
    memory = memory_per_account(states, args.accounts)
    print(f"in memory, {args.accounts:,} accounts in the table: {memory:,.0f} B per account")
    print(f"one decoded state (the worker keeps up to 10,000): {decoded_bytes(states):,.0f} B")
    disk = disk_per_account(states, args.accounts, args.kafka_port)
    print(f"in the changelog topic on disk: {disk:,.0f} B per account")


if __name__ == "__main__":
    main()
