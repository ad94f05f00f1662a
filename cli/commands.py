"""The project's own commands on the Faust CLI (``fundwatch <command>``)."""

from __future__ import annotations

import asyncio
import functools
import itertools
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import urlsplit

import click
import orjson
from faust.cli import AppCommand, argument, option
from kafka.errors import KafkaConnectionError, KafkaTimeoutError
from tqdm import tqdm

from cli.output import say, warn
from feeds.producer import send_lines
from feeds.simulate import Simulation, SimulationConfig, report_lines, write_jsonl, write_truth
from ingest.pipeline import MAX_BATCHED_REPORTS, InputMessage
from models.forest import FundraisingForest
from schemas.display import printable
from schemas.errors import BrokerUnavailableError, FundwatchError
from schemas.glossary import BEIJING, BEIJING_IANA
from streams.app import app, settings
from streams.topics import ensure_topics

if TYPE_CHECKING:
    from offline.verdicts import Verdicts

# `fundwatch train` defaults: the estimator's own.
_FOREST_SETTINGS = FundraisingForest().get_params()


def workers_option() -> Any:
    """``--workers N``: processes for an offline replay, the accounts split as Kafka splits them
    over N partitions (offline.parallel); the results are those of one process."""
    return option(
        "--workers",
        type=click.IntRange(min=1),
        default=1,
        show_default=True,
        help="Processes, each with its share of the accounts (as N partitions); same results "
        "as one.",
    )


@contextmanager
def failing_clearly(what: str | None = None) -> Iterator[None]:
    """Any FundwatchError (a broken model, too little history, a refused change, no such
    lead) as one line on stderr, ``what`` first, and the error's own exit code, instead of
    the traceback Faust's command runner would print. A broker that cannot be reached is
    answered the same way (exit 69), and so are options that do not go together (click's
    UsageError raised inside a command's body, which click itself no longer catches: exit 2)."""
    try:
        try:
            yield
        except (KafkaConnectionError, KafkaTimeoutError) as exc:
            raise BrokerUnavailableError(
                f"the Kafka broker at {settings.bootstrap_servers} does not answer ({exc})"
            ) from exc
    except FundwatchError as exc:
        warn(f"{what}: {exc}" if what else str(exc))
        raise SystemExit(exc.exit_code) from exc
    except click.UsageError as exc:
        warn(f"Error: {exc.format_message()}")
        raise SystemExit(exc.exit_code) from exc


Command = Callable[..., Awaitable[None]]


def command(*options: Any) -> Callable[[Command], Any]:
    """``app.command`` for fundwatch's own commands: each answers a FundwatchError through
    ``failing_clearly``, so no command keeps its own list of errors."""

    def register(fun: Command) -> Any:
        @functools.wraps(fun)
        async def answered(self: AppCommand, *args: Any, **kwargs: Any) -> None:
            with failing_clearly():
                await fun(self, *args, **kwargs)

        return app.command(*options)(answered)

    return register


def command_config_option(
    help: str = "Kafka client.properties: security.protocol, sasl.*, ssl.* "
    "(and bootstrap.servers).",
) -> Any:
    """``--command-config FILE``, as Kafka's own command-line tools name it."""
    return option(
        "--command-config",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        default=None,
        help=help,
    )


REPO_ROOT = Path(__file__).resolve().parents[1]
KAFKA_SCRIPT = REPO_ROOT / "deploy" / "kafka" / "kafka.sh"


@command(
    argument("action", type=click.Choice(["start", "stop", "status", "reset", "fetch"])),
)
async def kafka(self: AppCommand, action: str) -> None:
    """Run the local Kafka broker (KRaft, one node, 127.0.0.1) from Maven Central jars."""
    if not KAFKA_SCRIPT.exists():
        raise FundwatchError(
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


@command(
    command_config_option(
        "Kafka client.properties of a user who may create the topics: the service user "
        "(after `fundwatch acl apply`) or an admin (default: FUNDWATCH_CLIENT_PROPERTIES)."
    ),
)
async def topics(self: AppCommand, command_config: Path | None) -> None:
    """Create the app's topics on the broker if they do not exist yet."""
    client_settings = (
        settings.with_client_properties(str(command_config)) if command_config else settings
    )
    created = ensure_topics(client_settings)
    say(f"created: {', '.join(created)}" if created else "all topics exist")


@command(
    argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path)),
    option(
        "--rate",
        type=float,
        default=0.0,
        show_default=True,
        help="Reports per second at most (0: as fast as the broker takes them).",
    ),
    option(
        "--bank-topic",
        "bank_id",
        default=None,
        help="Send to this bank's own topic, <prefix>.reports.<BANK_ID> (created by the "
        "operator), instead of the shared reports topic.",
    ),
    option(
        "--batch",
        type=click.IntRange(1, MAX_BATCHED_REPORTS),
        default=1,
        show_default=True,
        help="Reports per Kafka message: above 1, a partition's reports go together as JSON "
        "lines (the README's batched messages).",
    ),
    command_config_option(),
)
async def produce(
    self: AppCommand,
    file: Path,
    rate: float,
    bank_id: str | None,
    batch: int,
    command_config: Path | None,
) -> None:
    """Send a JSONL file of reports to the input topic, keyed by account_id."""
    client_settings = (
        settings.with_client_properties(str(command_config)) if command_config else settings
    )
    topic = client_settings.topics.bank(bank_id) if bank_id else None
    if topic is None and settings.bank_ids:
        raise click.UsageError("the workers read bank topics (FUNDWATCH_BANKS): give --bank-topic")
    if topic is None:
        # A bank's user may not create topics: its topic is the operator's to create.
        ensure_topics(client_settings)
    with (
        file.open("rb") as f,
        tqdm(
            total=file.stat().st_size, unit="B", unit_scale=True, desc=file.name, file=sys.stderr
        ) as bar,
    ):
        summary = send_lines(
            _progress_lines(f, bar), client_settings, rate=rate, topic=topic, batch=batch
        )
    in_messages = f" in {summary.messages} messages" if summary.messages != summary.sent else ""
    say(
        f"sent {summary.sent} reports{in_messages} to "
        f"{', '.join(sorted(summary.topics)) or '-'} "
        f"in {summary.seconds:.1f} s ({summary.rate:,.0f}/s)"
    )
    if summary.unkeyed:
        say(
            f"warning: {summary.unkeyed} lines had no readable account_id; they were sent "
            f"unkeyed and will be dead-lettered on {settings.topics.name('reports.dlq')}"
        )


def _progress_lines(f: BinaryIO, bar: tqdm) -> Iterator[bytes]:
    for line in f:
        bar.update(len(line))
        stripped = line.rstrip(b"\r\n")
        if stripped:
            yield stripped


@command(
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
        help=f"First day ({BEIJING_IANA} time).",
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
        "--lookalikes",
        type=int,
        default=0,
        show_default=True,
        help="Legitimate businesses that resemble fundraising (schools, developers, ...).",
    ),
    option(
        "--camouflaged-schemes",
        type=int,
        default=0,
        show_default=True,
        help="Schemes in disguise, after the plain ones (the first: e-commerce rebates).",
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
    lookalikes: int,
    camouflaged_schemes: int,
    only_ltr_str: bool,
    rate: float,
    limit: int,
) -> None:
    """Generate realistic Baoshan bank reports with illegal-fundraising schemes in them."""
    config = SimulationConfig(
        seed=seed,
        start=start.replace(tzinfo=BEIJING),
        days=days,
        individuals=individuals,
        businesses=businesses,
        schemes=schemes,
        lookalikes=lookalikes,
        camouflaged_schemes=camouflaged_schemes,
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
        say(f"wrote {count} reports to {output}; ground truth in {truth}")
        return
    ensure_topics(settings)
    with tqdm(unit=" reports", desc="simulate", file=sys.stderr) as bar:
        summary = send_lines(_counted(report_lines(reports), bar), settings, rate=rate)
    say(
        f"sent {summary.sent} reports to {', '.join(sorted(summary.topics)) or '-'} "
        f"({summary.rate:,.0f}/s); ground truth in {truth}"
    )


def _counted(lines: Iterable[bytes], bar: tqdm) -> Iterator[bytes]:
    for line in lines:
        bar.update(1)
        yield line


@command(
    option("--limit", type=int, default=20, show_default=True, help="Dead letters to show."),
    option(
        "--bank",
        "bank_id",
        default=None,
        help="Read this bank's own dead letters, <prefix>.reports.<BANK_ID>.dlq (what a "
        "bank's user may read), instead of the operators' shared topic.",
    ),
    command_config_option(),
)
async def dlq(
    self: AppCommand, limit: int, bank_id: str | None, command_config: Path | None
) -> None:
    """Show the latest dead letters: why each report was refused and where it came from."""
    from streams.topic_reader import read_latest

    client_settings = (
        settings.with_client_properties(str(command_config)) if command_config else settings
    )
    topics = client_settings.topics
    topic = topics.bank_dead_letters(bank_id) if bank_id else topics.name("reports.dlq")
    for body in read_latest(client_settings, topic, limit):
        say(dead_letter_text(orjson.loads(body)))


@command(
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
    from cli.flow import fetch_flow, render_flow

    while True:
        say(render_flow(fetch_flow(web_url)), flush=True)
        if not follow:
            return
        await asyncio.sleep(2)


@command(
    option(
        "--input",
        "input_file",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        default=None,
        help="A JSONL file of reports (else: the reports topic).",
    ),
    option(
        "--until",
        type=click.DateTime(),
        default=None,
        help="With the topic: read reports appended up to this time (UTC).",
    ),
    option(
        "--output",
        type=click.Path(file_okay=False, path_type=Path),
        required=True,
        help="Directory for the model artifact (model.json + forest.npz).",
    ),
    option(
        "--alert-rate",
        type=float,
        default=_FOREST_SETTINGS["expected_alert_rate"],
        show_default=True,
        help="Expected share of account-days above the threshold.",
    ),
    option("--trees", type=int, default=_FOREST_SETTINGS["n_estimators"], show_default=True),
    option("--max-samples", type=int, default=_FOREST_SETTINGS["max_samples"], show_default=True),
    option("--seed", type=int, default=_FOREST_SETTINGS["random_state"], show_default=True),
    option(
        "--version",
        "model_version",
        default=None,
        help="Model version (default: creation time and data hash).",
    ),
    option(
        "--verdicts",
        "verdicts_file",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        default=None,
        help="The analysts' verdicts: a JSONL file of lead-status records (the topic's "
        "values); needs --leads. The history must hold the judged accounts' reports.",
    ),
    option(
        "--leads",
        "leads_file",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        default=None,
        help="With --verdicts: a JSONL file of the leads they are on (a backtest's output).",
    ),
    option(
        "--verdicts-from-topics",
        is_flag=True,
        default=False,
        help="Read the verdicts from the lead-status and leads topics instead.",
    ),
    workers_option(),
)
async def train(
    self: AppCommand,
    input_file: Path | None,
    until: datetime | None,
    output: Path,
    alert_rate: float,
    trees: int,
    max_samples: int,
    seed: int,
    model_version: str | None,
    verdicts_file: Path | None,
    leads_file: Path | None,
    verdicts_from_topics: bool,
    workers: int,
) -> None:
    """Train the isolation forest on a history of reports and write a model artifact; with
    the analysts' verdicts, also the ranker that learns from them."""
    from offline.replay import with_progress
    from offline.training import train as train_model
    from offline.training import train_with_verdicts, training_set

    if workers > 1 and input_file is None:
        raise click.UsageError(
            "--workers splits a file (--input); to split the topic, run several workers"
        )
    if (verdicts_file is None) != (leads_file is None):
        raise click.UsageError("--verdicts and --leads go together")
    if verdicts_file is not None and verdicts_from_topics:
        raise click.UsageError("--verdicts or --verdicts-from-topics, not both")
    verdicts = _verdicts(verdicts_file, leads_file, verdicts_from_topics)
    size = input_file.stat().st_size if input_file is not None else None
    messages = with_progress(_history(input_file, until), size, "training set")
    with failing_clearly("no model trained"):
        data = training_set(messages, int(settings.lateness_seconds * 1000), workers)
    forest = FundraisingForest(
        n_estimators=trees,
        max_samples=max_samples,
        expected_alert_rate=alert_rate,
        random_state=seed,
    )
    if verdicts is None:
        model = train_model(data, forest, version=model_version)
    else:
        model, ranker_note = train_with_verdicts(data, forest, verdicts, version=model_version)
        say(ranker_note)
    model.save(output)
    period = model.training_period_
    say(
        f"model {model.version_}: {data.features.shape[0]:,} account-days from "
        f"{data.record_count:,} reports ({period['start'][:10]} .. "
        f"{period['end'][:10]}), threshold {model.threshold_:.4f}; peers for "
        f"{len(model.peer_limits_):,} groups, an own past for {len(model.own_limits_):,} "
        f"accounts -> {output}"
    )


def _verdicts(
    status_file: Path | None, leads_file: Path | None, from_topics: bool
) -> Verdicts | None:
    """The analysts' verdicts of two files or of the topics, or None when none were asked
    for."""
    from offline.verdicts import read_verdicts, verdicts_from_book

    with failing_clearly("no model trained"):
        if status_file is not None and leads_file is not None:
            return read_verdicts(status_file, leads_file)
        if from_topics:
            from streams.casework_topics import load_lead_book

            return verdicts_from_book(load_lead_book(settings))
    return None


def _history(input_file: Path | None, until: datetime | None) -> Iterable[InputMessage]:
    from offline.replay import file_messages
    from streams.topic_reader import topic_messages

    if input_file is not None:
        return file_messages(input_file)
    until_ms = int(until.replace(tzinfo=UTC).timestamp() * 1000) if until else None
    return topic_messages(settings, settings.topics.name("reports"), until_ms)


@command(
    option(
        "--input",
        "input_file",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        required=True,
        help="A JSONL file of reports.",
    ),
    option(
        "--model",
        "model_dir",
        type=click.Path(exists=True, file_okay=False, path_type=Path),
        required=True,
    ),
    option(
        "--output",
        type=click.Path(dir_okay=False, path_type=Path),
        required=True,
        help="Leads, one JSON per line (every revision).",
    ),
    option(
        "--scores",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Also write each account's highest score (for fundwatch evaluate).",
    ),
    option(
        "--watchlist",
        "watchlist_csv",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        default=None,
        help="A negative list as CSV (the format of `fundwatch watchlist import`).",
    ),
    workers_option(),
)
async def backtest(
    self: AppCommand,
    input_file: Path,
    model_dir: Path,
    output: Path,
    scores: Path | None,
    watchlist_csv: Path | None,
    workers: int,
) -> None:
    """Run the worker's feature, scoring and lead code over a file, without Kafka."""
    from models.watchlist import Watchlist, entries_from_csv
    from offline.backtest import run_backtest

    with failing_clearly("backtest not run"):
        watchlist = (
            Watchlist(
                entries_from_csv(watchlist_csv.read_text("utf-8"), "backtest", datetime.now(UTC))
            )
            if watchlist_csv is not None
            else None
        )
        summary = run_backtest(
            input_file,
            model_dir,
            output,
            scores,
            lateness_ms=int(settings.lateness_seconds * 1000),
            watchlist=watchlist,
            workers=workers,
        )
    say(summary)


@command(
    option(
        "--truth",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        required=True,
        help="Ground truth: the simulator's or the AMLSim converter's.",
    ),
    option(
        "--leads",
        "leads_file",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        required=True,
    ),
    option(
        "--scores",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        default=None,
        help="Per-account highest scores from fundwatch backtest.",
    ),
    option(
        "--model",
        "model_dir",
        type=click.Path(exists=True, file_okay=False, path_type=Path),
        default=None,
        help="The model the backtest ran: adds how precision and recall move with the alert "
        "rate (needs --scores).",
    ),
)
async def evaluate(
    self: AppCommand, truth: Path, leads_file: Path, scores: Path | None, model_dir: Path | None
) -> None:
    """Precision, recall, workload, PR-AUC and detection delay per typology and per kind of
    look-alike against ground truth."""
    from offline.evaluate import evaluate_files

    say(evaluate_files(truth, leads_file, scores, model_dir=model_dir))


@command(
    argument("action", type=click.Choice(["publish", "list"])),
    argument(
        "directory", required=False, type=click.Path(exists=True, file_okay=False, path_type=Path)
    ),
    option(
        "--version",
        "model_version",
        default=None,
        help="publish: re-publish this version from the models topic (a rollback).",
    ),
)
async def model(
    self: AppCommand, action: str, directory: Path | None, model_version: str | None
) -> None:
    """Publish a model artifact to every running worker, or list the published versions.

    Workers switch to a published model between two batches, without a restart; an artifact
    that fails its checks is refused by every worker, which keeps the model it has.
    (This replaces Faust's own ``model`` command, which lists Faust record types.)
    """
    from streams.model_topic import list_models, publish_model

    if action == "list":
        for line in list_models(settings):
            say(line)
        return
    if directory is None and model_version is None:
        raise click.UsageError("publish needs a model directory or --version VERSION")
    with failing_clearly("model not published"):
        say(publish_model(settings, directory, model_version))


def dead_letter_text(letter: dict[str, Any]) -> str:
    """One dead letter: when, why, whose report, where it was read; its first errors. A
    refused report's fields are the bank's, hostile ones too: each is escaped, so one
    letter is always its own lines."""
    src = letter["source"]
    who = f"{letter.get('bank_id') or '?'}/{letter.get('report_id') or '?'}"
    # The line within a batched message, when the report was one of several.
    line = f" line {src['index']}" if src.get("index") else ""
    lines = [
        printable(
            f"{letter['dead_lettered_at']}  {letter['reason']:<14} {who}  "
            f"[{src['topic']}:{src['partition']}@{src['offset']}{line}]"
        )
    ]
    for error in letter["errors"][:5]:
        lines.append("    " + printable(f"{error['field'] or '<message>'}: {error['message']}"))
    return "\n".join(lines)
