"""One worker against two on the same data: does adding a worker add throughput here?

Run by hand (not a test): ``python bench/scale.py [--reports 200000]``. Each round uses a fresh
topic prefix on the local broker, preloads the same simulated reports (a published model, so
the whole detection path runs), starts N workers in one consumer group and measures reports/s
from the first processed report to the last, summed over the workers' metrics.

This machine has 2 cores, shared by the broker, the workers and this script, so two workers
compete with the broker for the second core: the ratio says what that costs here, not what
two machines would give.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.detection import publish_first_model  # noqa: E402
from bench.ingest import (  # noqa: E402
    PROCESSED,
    bench_environment,
    metric_total,
    running_worker,
    simulated_lines,
)
from feeds.producer import send_lines  # noqa: E402
from streams.topics import ensure_topics  # noqa: E402


def group_rate(ports: list[int], count: int) -> float:
    """Reports/s of a group of workers, from their first processed report to ``count``."""

    def done() -> float:
        return sum(max(0.0, metric_total(port, PROCESSED)) for port in ports)

    while done() <= 0:
        time.sleep(0.05)
    started, first = time.perf_counter(), done()
    while (now := done()) < count:
        time.sleep(0.2)
    return (now - first) / (time.perf_counter() - started)


def run_round(workers: int, lines: list[bytes], kafka_port: int, web_port: int) -> float:
    env, settings = bench_environment(kafka_port)
    ensure_topics(settings)
    with tempfile.TemporaryDirectory() as tmp:
        publish_first_model(settings, Path(tmp) / "model")
    send_lines(lines, settings)
    ports = [web_port + i for i in range(workers)]
    with contextlib.ExitStack() as stack:
        for port in ports:
            stack.enter_context(running_worker(env, port))
        return group_rate(ports, len(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=200_000)
    parser.add_argument("--kafka-port", type=int, default=49092)
    parser.add_argument("--web-port", type=int, default=6099)
    args = parser.parse_args()
    lines = simulated_lines(seed=1, count=args.reports)
    one = run_round(1, lines, args.kafka_port, args.web_port)
    two = run_round(2, lines, args.kafka_port, args.web_port)
    print(f"one worker   {one:>10,.0f} reports/s")
    print(f"two workers  {two:>10,.0f} reports/s")
    print(f"ratio two / one {two / one:>7.2f}")


if __name__ == "__main__":
    main()
