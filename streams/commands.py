"""The project's own commands on the Faust CLI (``fundwatch <command>``)."""

from __future__ import annotations

import asyncio
import itertools
import os
import subprocess
import sys
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit

import click
import orjson
from faust.cli import AppCommand, argument, option
from tqdm import tqdm

from feeds.kafka_out import ensure_topics, send_lines
from feeds.model import CST
from feeds.simulate import Simulation, SimulationConfig, report_lines, write_jsonl, write_truth
from streams.app import app, settings

REPO_ROOT = Path(__file__).resolve().parents[1]
KAFKA_SCRIPT = REPO_ROOT / "deploy" / "kafka" / "kafka.sh"


@app.command(
    argument("action", type=click.Choice(["start", "stop", "status", "reset", "fetch"])),
)
async def kafka(self: AppCommand, action: str) -> None:
    """Run the local Kafka broker (KRaft, one node, 127.0.0.1) from Maven Central jars."""
    if not KAFKA_SCRIPT.exists():
        raise SystemExit(
            f"{KAFKA_SCRIPT} not found: the local broker runs from a fundwatch checkout "
            "(pip install -e .); with Docker, use docker compose up instead"
        )
    env = dict(os.environ)
    # The broker listens where the app looks for it unless FUNDWATCH_KAFKA_PORT says otherwise.
    first_server = settings.bootstrap_servers.split(",")[0]
    env.setdefault("FUNDWATCH_KAFKA_PORT", str(urlsplit(f"//{first_server}").port or 9092))
    env.setdefault("PYTHON", sys.executable)
    result = subprocess.run(["bash", str(KAFKA_SCRIPT), action], env=env, check=False)
    if result.returncode != 0:
        raise SystemExit(result.returncode)


@app.command()
async def topics(self: AppCommand) -> None:
    """Create the app's topics on the broker if they do not exist yet."""
    created = ensure_topics(settings)
    print(f"created: {', '.join(created)}" if created else "all topics exist")


@app.command(
    argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path)),
    option(
        "--rate",
        type=float,
        default=0.0,
        show_default=True,
        help="Reports per second at most (0: as fast as the broker takes them).",
    ),
)
async def produce(self: AppCommand, file: Path, rate: float) -> None:
    """Send a JSONL file of reports to the input topic, keyed by account_id."""
    ensure_topics(settings)
    with (
        file.open("rb") as f,
        tqdm(
            total=file.stat().st_size, unit="B", unit_scale=True, desc=file.name, file=sys.stderr
        ) as bar,
    ):
        summary = send_lines(_progress_lines(f, bar), settings, rate=rate)
    print(
        f"sent {summary.sent} reports to {settings.topic('reports')} "
        f"in {summary.seconds:.1f} s ({summary.rate:,.0f}/s)"
    )
    if summary.unkeyed:
        print(
            f"warning: {summary.unkeyed} lines had no readable account_id; they were sent "
            f"unkeyed and will be dead-lettered on {settings.topic('reports.dlq')}"
        )


def _progress_lines(f: BinaryIO, bar: tqdm) -> Iterator[bytes]:
    for line in f:
        bar.update(len(line))
        stripped = line.rstrip(b"\r\n")
        if stripped:
            yield stripped


@app.command(
    option(
        "--output",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Write the reports to this JSONL file instead of the input topic.",
    ),
    option(
        "--truth",
        type=click.Path(dir_okay=False, path_type=Path),
        default=Path(".fundwatch/simulated-truth.json"),
        show_default=True,
        help="Where the schemes' ground truth goes (never into the stream).",
    ),
    option("--seed", type=int, default=7, show_default=True),
    option(
        "--start",
        type=click.DateTime(["%Y-%m-%d"]),
        default="2026-10-01",
        show_default=True,
        help="First day (Asia/Shanghai time).",
    ),
    option("--days", type=int, default=30, show_default=True),
    option("--individuals", type=int, default=2000, show_default=True),
    option("--businesses", type=int, default=200, show_default=True),
    option(
        "--schemes",
        type=int,
        default=4,
        show_default=True,
        help="Illegal-fundraising schemes, typologies in turn.",
    ),
    option(
        "--only-ltr-str",
        is_flag=True,
        help="Banks file only large-value and suspicious reports, not every movement.",
    ),
    option(
        "--rate",
        type=float,
        default=0.0,
        show_default=True,
        help="Reports per second at most when streaming (0: as fast as possible).",
    ),
    option("--limit", type=int, default=0, help="Stop after this many reports (0: all)."),
)
async def simulate(
    self: AppCommand,
    output: Path | None,
    truth: Path,
    seed: int,
    start: datetime,
    days: int,
    individuals: int,
    businesses: int,
    schemes: int,
    only_ltr_str: bool,
    rate: float,
    limit: int,
) -> None:
    """Generate realistic Baoshan bank reports with illegal-fundraising schemes in them."""
    config = SimulationConfig(
        seed=seed,
        start=start.replace(tzinfo=CST),
        days=days,
        individuals=individuals,
        businesses=businesses,
        schemes=schemes,
        report_all_activity=not only_ltr_str,
    )
    simulation = Simulation(config)
    reports = simulation.reports()
    if limit:
        reports = itertools.islice(reports, limit)
    truth.parent.mkdir(parents=True, exist_ok=True)
    write_truth(simulation.truth(), truth)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        count = write_jsonl(reports, output)
        print(f"wrote {count} reports to {output}; ground truth in {truth}")
        return
    ensure_topics(settings)
    with tqdm(unit=" reports", desc="simulate", file=sys.stderr) as bar:
        summary = send_lines(_counted(report_lines(reports), bar), settings, rate=rate)
    print(
        f"sent {summary.sent} reports to {settings.topic('reports')} "
        f"({summary.rate:,.0f}/s); ground truth in {truth}"
    )


def _counted(lines: Iterable[bytes], bar: tqdm) -> Iterator[bytes]:
    for line in lines:
        bar.update(1)
        yield line


@app.command(
    option("--limit", type=int, default=20, show_default=True, help="Dead letters to show."),
)
async def dlq(self: AppCommand, limit: int) -> None:
    """Show the latest dead letters: why each report was refused and where it came from."""
    from streams.topic_reader import read_latest

    for body in read_latest(settings, settings.topic("reports.dlq"), limit):
        letter = orjson.loads(body)
        src = letter["source"]
        who = f"{letter.get('bank_id') or '?'}/{letter.get('report_id') or '?'}"
        print(
            f"{letter['dead_lettered_at']}  {letter['reason']:<14} {who}  "
            f"[{src['topic']}:{src['partition']}@{src['offset']}]"
        )
        for error in letter["errors"][:5]:
            print(f"    {error['field'] or '<message>'}: {error['message']}")


@app.command(
    option(
        "--web-url",
        default="http://127.0.0.1:6066",
        show_default=True,
        help="A worker's web address (its /metrics page is read).",
    ),
    option("--follow", is_flag=True, help="Refresh every 2 seconds until interrupted."),
)
async def status(self: AppCommand, web_url: str, follow: bool) -> None:
    """Show what is flowing through a worker: reports accepted, rejected and duplicated."""
    from streams.flow import fetch_flow, render_flow

    while True:
        print(render_flow(fetch_flow(web_url)), flush=True)
        if not follow:
            return
        await asyncio.sleep(2)
