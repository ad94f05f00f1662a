"""Detection throughput and lead latency of one fundwatch worker, with a raw read as baseline.

Run by hand (not a test): ``python bench/detection.py [--reports 1000000]``. On the local broker
(its own port and topic prefix) it, in one run:
  1. trains a model on a simulated history (another seed) and publishes it on the models topic;
  2. preloads ``--reports`` simulated reports and reads them with a raw aiokafka consumer (the
     ceiling of this machine and broker) and with a bare Faust agent that only decodes and
     forwards each report (bench/bare_agent.py: what Faust itself costs; run twice, by Faust's
     own worker class and by fundwatch's, streams.worker), then starts one
     worker and measures reports/s through validation, de-duplication, features, scoring and
     leads;
  3. streams more reports at half the throughput just measured (or ``--rate``), for
     ``--paced-seconds``, and reads the latency from a report's arrival on Kafka to its lead
     from the worker's ``fundwatch_lead_latency_seconds`` histogram (p50 and p99 by linear
     interpolation);
  4. with ``--batch N`` (default 500), sends the same backlog again, on a fresh topic prefix,
     in batched messages of N reports (JSON lines, README) and measures a second worker on it,
     then its lead latency at half its own throughput, the paced reports batched alike.
For each worker it also prints the changelog messages it wrote per report of the backlog
(every table, read from the changelog topics' end offsets: any version of the worker).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from kafka import KafkaConsumer, TopicPartition

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.ingest import (  # noqa: E402
    PROCESSED,
    bench_environment,
    raw_read,
    running_worker,
    simulated_lines,
    worker_rate,
)
from feeds.model import CST  # noqa: E402
from feeds.producer import send_lines  # noqa: E402
from models.forest import FundraisingForest  # noqa: E402
from offline.replay import line_messages  # noqa: E402
from offline.training import train, training_set  # noqa: E402
from streams.model_topic import publish_model  # noqa: E402
from streams.settings import Settings  # noqa: E402
from streams.topics import TopicSpec, ensure_topics  # noqa: E402

SEPTEMBER = datetime(2026, 9, 1, tzinfo=CST)
NOVEMBER = datetime(2026, 11, 1, tzinfo=CST)
LEAD_LATENCY = "fundwatch_lead_latency_seconds"
# Every accepted report's, to the publication of its batch's leads: many more samples.
REPORT_LATENCY = "fundwatch_report_latency_seconds"
# The bare agent's worker classes: Faust's own, and fundwatch's (streams.worker), which puts
# the root logger back at its level after start-up instead of leaving it at DEBUG.
FAUST_WORKER = "faust.worker:Worker"
FUNDWATCH_WORKER = "streams.worker:Worker"


def train_first_model(directory: Path) -> None:
    lines = simulated_lines(seed=101, count=80_000, start=SEPTEMBER)
    messages = line_messages(lines, "history")
    started = time.perf_counter()
    model = train(training_set(messages, 7_200_000), FundraisingForest(), version="bench")
    model.save(directory)
    seconds = time.perf_counter() - started
    print(f"trained a model on {len(lines):,} history reports in {seconds:.0f} s")


@dataclass
class WorkerRun:
    rate: float  # reports/s over the backlog
    changelog: dict[str, int]  # messages per table's changelog after the backlog
    paced_rate: float = 0.0
    latency: tuple[str, str, float] = ("", "", 0.0)  # p50, p99, lead revisions observed
    report_latency: tuple[str, str, float] = ("", "", 0.0)  # p50, p99, reports observed
    batches: str = ""  # mean size and duration of the paced phase's micro-batches


def changelog_messages(settings: Settings) -> dict[str, int]:
    """Messages on each changelog topic of the run's worker group, by table."""
    consumer = KafkaConsumer(bootstrap_servers=settings.bootstrap_servers)
    try:
        prefix = f"{settings.topics.worker_group}-"
        counts = {}
        for topic in sorted(consumer.topics()):
            if topic.startswith(prefix) and topic.endswith("-changelog"):
                partitions = [
                    TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)
                ]
                counts[topic[len(prefix) : -len("-changelog")]] = sum(
                    consumer.end_offsets(partitions).values()
                )
        return counts
    finally:
        consumer.close()


def measure_worker(
    env: dict[str, str],
    settings: Settings,
    web_port: int,
    backlog: int,
    paced_pool: list[bytes],
    args: argparse.Namespace,
    batch: int = 1,
) -> WorkerRun:
    """Throughput over the preloaded backlog, the changelog messages it cost, then the lead
    latency at half that throughput (or --rate) for --paced-seconds."""
    with running_worker(env, web_port):
        run = WorkerRun(worker_rate(web_port, backlog, PROCESSED), changelog_messages(settings))
        run.paced_rate = args.rate or run.rate / 2
        paced = paced_pool[: int(run.paced_rate * args.paced_seconds)]
        before = latency_buckets(web_port)
        reports_before = latency_buckets(web_port, REPORT_LATENCY)
        batches_before = batch_figures(web_port)
        print(f"streaming {len(paced):,} more reports at {run.paced_rate:,.0f}/s ...")
        send_lines(paced, settings, rate=run.paced_rate, batch=batch)
        worker_rate(web_port, backlog + len(paced), PROCESSED)
        after = latency_buckets(web_port)
        reports_after = latency_buckets(web_port, REPORT_LATENCY)
        batches_after = batch_figures(web_port)
    leads = after[-1][1] - before[-1][1]
    run.latency = (quantile(before, after, 0.5), quantile(before, after, 0.99), leads)
    if reports_before and reports_after:  # a worker of before this histogram has none
        run.report_latency = (
            quantile(reports_before, reports_after, 0.5),
            quantile(reports_before, reports_after, 0.99),
            reports_after[-1][1] - reports_before[-1][1],
        )
    size, seconds, count = (a - b for a, b in zip(batches_after, batches_before, strict=True))
    if count > 0:
        run.batches = (
            f"{count:,.0f} batches of {size / count:,.1f} messages, "
            f"{seconds / count * 1000:,.0f} ms each"
        )
    return run


def batched_worker(
    kafka_port: int,
    web_port: int,
    model_dir: Path,
    backlog: list[bytes],
    paced_pool: list[bytes],
    args: argparse.Namespace,
) -> WorkerRun:
    """A worker reading the same backlog in batched messages of ``--batch`` reports (a fresh
    topic prefix, the same model), and paced reports batched alike."""
    env, settings = bench_environment(kafka_port)
    ensure_topics(settings)
    print(publish_model(settings, model_dir, None))
    sent = send_lines(backlog, settings, batch=args.batch)
    print(f"preloaded {sent.sent:,} reports in {sent.messages:,} batched messages")
    return measure_worker(env, settings, web_port, len(backlog), paced_pool, args, args.batch)


def print_run(name: str, run: WorkerRun, backlog: int) -> None:
    total = sum(run.changelog.values())
    tables = ", ".join(f"{table} {count / backlog:.3f}" for table, count in run.changelog.items())
    print(f"{name}: changelog messages per report {total / backlog:.3f} ({tables})")
    p50, p99, leads = run.latency
    print(
        f"{name}: lead latency at {run.paced_rate:,.0f} reports/s over {leads:,.0f} lead "
        f"revisions: p50 {p50}, p99 {p99}"
    )
    p50, p99, reports = run.report_latency
    if reports:
        print(
            f"{name}: report latency (arrival to its batch's leads out) over {reports:,.0f} "
            f"reports: p50 {p50}, p99 {p99}; {run.batches}"
        )


def bare_agent_rate(
    settings: Settings, env: dict[str, str], count: int, worker_class: str = FAUST_WORKER
) -> float:
    """Reports/s of bench/bare_agent.py run by ``worker_class``, from the growth of its output
    topic; each worker class is its own run (consumer group and output topic)."""
    name = "bare" if worker_class == FAUST_WORKER else "bare-quiet"
    output = f"{settings.topic_prefix}.{name}-forwarded"
    ensure_topics(settings, {output: TopicSpec(output, settings.partitions)})
    consumer = KafkaConsumer(bootstrap_servers=settings.bootstrap_servers)
    partitions = [TopicPartition(output, p) for p in range(settings.partitions)]

    def forwarded() -> int:
        return sum(consumer.end_offsets(partitions).values())

    with tempfile.TemporaryDirectory() as tmp, open(Path(tmp) / "bare.log", "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, str(REPO / "bench" / "bare_agent.py"), "worker", "-l", "warn"],
            env={**env, "BARE_AGENT_WORKER": worker_class, "BARE_AGENT_NAME": name},
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=tmp,
        )
        try:
            while (first := forwarded()) == 0:
                if proc.poll() is not None:
                    raise SystemExit((Path(tmp) / "bare.log").read_text())
                time.sleep(0.05)
            started = time.perf_counter()
            while (done := forwarded()) < count:
                time.sleep(0.2)
            return (done - first) / (time.perf_counter() - started)
        finally:
            proc.terminate()
            proc.wait(timeout=60)
            consumer.close()


def latency_buckets(port: int, name: str = LEAD_LATENCY) -> list[tuple[float, float]]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    bucket = re.compile(rf'^{name}_bucket\{{le="([^"]+)"\}} (\S+)$', re.M)
    return [(float(le), float(count)) for le, count in bucket.findall(text)]


def batch_figures(port: int) -> tuple[float, float, float]:
    """(messages, seconds) summed over the worker's ingest micro-batches so far, and their
    count: the mean batch size and duration between two readings."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        text = resp.read().decode()

    def sample(name: str) -> float:
        found = re.search(rf"^{name} (\S+)$", text, re.M)
        return float(found.group(1)) if found else 0.0

    return (
        sample("fundwatch_ingest_batch_size_sum"),
        sample("fundwatch_ingest_batch_duration_seconds_sum"),
        sample("fundwatch_ingest_batch_size_count"),
    )


def quantile(before: list[tuple[float, float]], after: list[tuple[float, float]], q: float) -> str:
    """The q-quantile of the observations made between two readings of a histogram."""
    counts = [(le, a - b) for (le, a), (_, b) in zip(after, before, strict=True)]
    total = counts[-1][1]
    if total <= 0:
        return "no leads"
    rank = q * total
    lower_le, lower_count = 0.0, 0.0
    for le, cumulative in counts:
        if cumulative >= rank:
            if le == float("inf"):
                return f"> {lower_le:g} s"
            share = (rank - lower_count) / max(cumulative - lower_count, 1e-9)
            return f"{(lower_le + share * (le - lower_le)) * 1000:,.0f} ms"
        lower_le, lower_count = le, cumulative
    return "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=1_000_000)
    parser.add_argument("--paced-seconds", type=float, default=60.0)
    parser.add_argument(
        "--rate", type=float, default=0.0, help="Paced rate (default: half the throughput)."
    )
    parser.add_argument(
        "--batch",
        type=int,
        default=500,
        help="Also measure a worker on the backlog in batched messages of this many reports "
        "(0: not).",
    )
    parser.add_argument("--kafka-port", type=int, default=49092)
    parser.add_argument("--web-port", type=int, default=6099)
    args = parser.parse_args()
    env, settings = bench_environment(args.kafka_port)
    ensure_topics(settings)
    model_tmp = tempfile.TemporaryDirectory()
    model_dir = Path(model_tmp.name) / "model"
    train_first_model(model_dir)
    print(publish_model(settings, model_dir, None))
    started = time.perf_counter()
    lines = simulated_lines(seed=1, count=args.reports)
    # The paced reports come from another month of another seed, so none is a re-send.
    paced_pool = simulated_lines(seed=2, count=max(20_000, args.reports // 10), start=NOVEMBER)
    seconds = time.perf_counter() - started
    print(f"simulated {len(lines) + len(paced_pool):,} reports in {seconds:.0f} s")
    backlog = lines
    sent = send_lines(backlog, settings)
    print(f"preloaded {sent.sent:,} reports ({sent.rate:,.0f}/s)")
    raw = asyncio.run(raw_read(settings, len(backlog)))
    bare = bare_agent_rate(settings, env, len(backlog))
    bare_quiet = bare_agent_rate(settings, env, len(backlog), FUNDWATCH_WORKER)
    single = measure_worker(env, settings, args.web_port, len(backlog), paced_pool, args)
    rate = single.rate
    batched_run = (
        batched_worker(args.kafka_port, args.web_port + 1, model_dir, backlog, paced_pool, args)
        if args.batch > 1
        else None
    )
    batched = batched_run.rate if batched_run is not None else None
    model_tmp.cleanup()
    print(f"raw aiokafka read                {raw:>10,.0f} reports/s")
    print(f"bare Faust agent (decode, forward) {bare:>8,.0f} reports/s")
    print(f"bare agent, fundwatch's worker class {bare_quiet:>6,.0f} reports/s")
    print(f"fundwatch worker (detection)     {rate:>10,.0f} reports/s")
    print(f"ratio fundwatch / raw read       {rate / raw:>10.4f}")
    print(f"ratio fundwatch / bare agent     {rate / bare:>10.4f}")
    print(f"ratio fundwatch / bare agent with fundwatch's worker class {rate / bare_quiet:.4f}")
    if batched is not None:
        print(f"fundwatch worker, {args.batch} reports per message {batched:>8,.0f} reports/s")
        print(f"ratio batched fundwatch / bare agent {batched / bare:>6.4f}")
        print(f"ratio batched / one per message  {batched / rate:>10.4f}")
        quiet_ratio = batched / bare_quiet
        print(f"ratio batched / bare agent with fundwatch's worker class {quiet_ratio:.4f}")
    print_run("one report per message", single, len(backlog))
    if batched_run is not None:
        print_run(f"{args.batch} reports per message", batched_run, len(backlog))


if __name__ == "__main__":
    main()
