"""Learning from the analysts' verdicts: does one month of verdicts make the next month's
leads better? Run by hand (not a test): ``python bench/verdicts.py [--seed 9401]``.

  1. simulates one city three times (feeds.simulate: same accounts, other days): a
     scheme-free history, month A and month B (the month after A), both with plain and
     camouflaged schemes and the legitimate look-alikes;
  2. trains on the history (``fundwatch train``'s code) and backtests month A (``fundwatch
     backtest``'s code), at a wider operating point (``--judged-alert-rate``, 10 %) so that
     a city this small gives the analysts enough false leads to decide (at 3 % they excluded
     2 accounts, too few for the ranker's minimum of 5);
  3. the analysts decide every lead of month A as the simulator's truth says: a scheme's own
     account is confirmed (closed as confirmed illegal fundraising), any other account is
     excluded as legitimate (closed as not confirmed). The decisions are written as the
     lead-status topic's values and read back as ``fundwatch train --verdicts`` reads them;
  4. trains on history + A twice, on the same rows: without the verdicts (the forest alone)
     and with them (the forest, then the ranker, models.ranker);
  5. runs month B through both models, each worker's state carried over from history + A
     (as a worker's tables hold it), and measures both with bench/detection_quality's
     ``measure``: account precision and recall, look-alikes with a lead, false leads per true.

Month B's schemes are new ones of month A's typologies (other collecting accounts, people
and amounts); month A's confirmed accounts are cases already and are left out of B's
figures. The look-alikes are the same businesses on other days, which is what an analyst's
exclusion is about. The default seed, 9401, was used for nothing before.
"""

from __future__ import annotations

import argparse
import itertools
import random
import sys
import tempfile
import time
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.append(str(REPO / "bench"))  # after the repo: bench/ingest.py is no package

from detection_quality import Figures, measure  # noqa: E402

from casework.lead_status import (  # noqa: E402
    LeadStatus,
    LeadStatusRecord,
    Outcome,
    StatusChange,
    change_status,
)
from feeds.model import CST  # noqa: E402
from feeds.simulate import Simulation, SimulationConfig, write_jsonl  # noqa: E402
from feeds.simulated_schemes import plan_scheme  # noqa: E402
from ingest.pipeline import InputMessage  # noqa: E402
from models.forest import FundraisingForest  # noqa: E402
from models.pipeline import PipelineConfig  # noqa: E402
from offline.backtest import run_backtest  # noqa: E402
from offline.evaluate import (  # noqa: E402
    first_detections,
    leads_from_jsonl,
    parse_truth,
    scores_from_jsonl,
)
from offline.replay import OfflineRunner, file_messages  # noqa: E402
from offline.training import TrainingJob, train, train_with_verdicts, training_set  # noqa: E402
from offline.verdicts import read_verdicts  # noqa: E402

HISTORY_START = datetime(2026, 8, 10, tzinfo=CST)  # covers the September term start
MONTH_A_START = datetime(2027, 2, 10, tzinfo=CST)  # covers the March term start
LATENESS_MS = 2 * 3_600_000


def configs(
    args: argparse.Namespace,
) -> tuple[SimulationConfig, SimulationConfig, SimulationConfig]:
    common: dict[str, Any] = {
        "seed": args.seed,
        "individuals": args.individuals,
        "businesses": args.businesses,
        "lookalikes": args.lookalikes,
    }
    schemes = {"schemes": args.schemes, "camouflaged_schemes": args.camouflaged}
    history = SimulationConfig(
        **common,
        start=HISTORY_START,
        days=args.history_days,
        schemes=0,
        activity_seed=args.seed + 1_000_000,
    )
    month_a = SimulationConfig(**common, **schemes, start=MONTH_A_START, days=args.month_days)
    month_b = SimulationConfig(
        **common,
        **schemes,
        start=MONTH_A_START + timedelta(days=args.month_days),
        days=args.month_days,
        activity_seed=args.seed + 2_000_000,
    )
    return history, month_a, month_b


def new_schemes(simulation: Simulation) -> None:
    """Month B's schemes: new plans of month A's typologies (other collecting accounts,
    participants and amounts), as the simulator would draw them under another seed. Month A's
    schemes, closed by the analysts, do not go on."""
    config = simulation.config
    simulation.schemes = [
        plan_scheme(
            random.Random(f"{config.seed}/month-b/scheme/{k}"),
            k,
            plan.typology_name,
            simulation.factory,
            simulation.population,
            simulation.start,
            config.days,
            camouflaged=plan.camouflaged,
        )
        for k, plan in enumerate(simulation.schemes)
    ]


def analysts_decide(leads: list[dict[str, Any]], schemes: set[str], path: Path) -> tuple[int, int]:
    """Every lead verified, then closed as the truth says; the records as the lead-status
    topic's values. (confirmed, excluded) leads."""
    confirmed = excluded = 0
    with path.open("wb") as out:
        for lead_id, lead in {lead["lead_id"]: lead for lead in leads}.items():
            seen = datetime.fromisoformat(lead["last_evidence_time"])
            record: LeadStatusRecord | None = None
            verify = StatusChange(LeadStatus.VERIFYING, "analyst", seen + timedelta(days=1))
            record = change_status(record, lead_id, True, verify)
            is_scheme = lead["account_id"] in schemes
            outcome = Outcome.CONFIRMED if is_scheme else Outcome.NOT_CONFIRMED
            close = StatusChange(
                LeadStatus.CLOSED, "analyst", seen + timedelta(days=3), "", outcome
            )
            record = change_status(record, lead_id, True, close)
            out.write(record.to_json() + b"\n")
            confirmed += is_scheme
            excluded += not is_scheme
    return confirmed, excluded


def month_b(
    model: FundraisingForest, warm: OfflineRunner, messages: Iterable[InputMessage]
) -> tuple[list[dict[str, Any]], dict[str, float]]:
    """Month B's leads and each account's best score, the tables carried over from ``warm``."""
    runner = OfflineRunner(PipelineConfig(lateness_ms=LATENESS_MS), model)
    runner.accounts.update(warm.accounts)
    runner.seen.update(warm.seen)
    leads: list[dict[str, Any]] = []
    best: dict[str, float] = {}
    for outcome in runner.run(messages):
        leads += [orjson.loads(lead.to_json()) for lead in outcome.leads]
        if outcome.scores is not None:
            for (_, report), score in zip(outcome.ingest.accepted, outcome.scores, strict=True):
                best[report.account_id] = max(float(score), best.get(report.account_id, -1.0))
    return leads, best


def row(figures: Figures) -> list[str]:
    kinds_n = sum(n for n, _ in figures.kinds.values())
    kinds_f = sum(k for _, k in figures.kinds.values())
    false = figures.flagged - figures.true_flagged
    schemes = sum(s for s, _, _ in figures.typologies.values())
    found = sum(d for _, d, _ in figures.typologies.values())
    return [
        figures.name,
        f"{figures.true_flagged}/{figures.flagged}",
        "-" if figures.precision is None else f"{figures.precision:.1%}",
        "-" if figures.recall is None else f"{figures.recall:.1%}",
        "-" if figures.pr_auc is None else f"{figures.pr_auc:.3f}",
        f"{found}/{schemes}",
        f"{kinds_f}/{kinds_n}",
        f"{false / figures.true_flagged:.2f}" if figures.true_flagged else "-",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=9401)
    parser.add_argument("--individuals", type=int, default=400)
    parser.add_argument("--businesses", type=int, default=40)
    parser.add_argument("--lookalikes", type=int, default=260)
    parser.add_argument("--history-days", type=int, default=30)
    parser.add_argument("--month-days", type=int, default=30)
    parser.add_argument("--schemes", type=int, default=4, help="Plain schemes.")
    parser.add_argument("--camouflaged", type=int, default=4, help="Camouflaged schemes.")
    parser.add_argument("--alert-rate", type=float, default=FundraisingForest().expected_alert_rate)
    parser.add_argument(
        "--judged-alert-rate",
        type=float,
        default=0.10,
        help="Alert rate of month A's model, whose leads the analysts decide.",
    )
    parser.add_argument("--workdir", type=Path, default=None, help="Keep the files here.")
    args = parser.parse_args()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        work = args.workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        history_cfg, a_cfg, b_cfg = configs(args)
        files = {name: work / f"{name}-{args.seed}.jsonl" for name in ("history", "a", "b")}
        truths = {}
        for name, config in zip(files, (history_cfg, a_cfg, b_cfg), strict=True):
            simulation = Simulation(config)
            if name == "b":
                new_schemes(simulation)
            write_jsonl(simulation.reports(), files[name])
            truths[name] = simulation.truth()

        # Month A, as the analysts saw it: the model of the history, its leads.
        # The analysts' first month runs at a wider operating point (--judged-alert-rate): at
        # 1 % a city this small gives too few false leads to learn from (a real city's month
        # gives dozens).
        forest = FundraisingForest(expected_alert_rate=args.judged_alert_rate)
        first = train(training_set(file_messages(files["history"]), LATENESS_MS), forest, "A")
        first.save(work / "model-history")
        leads_a, scores_a = work / "leads-a.jsonl", work / "scores-a.jsonl"
        run_backtest(files["a"], work / "model-history", leads_a, scores_a, LATENESS_MS)
        with leads_a.open("rb") as lines:
            leads = leads_from_jsonl(lines)
        with scores_a.open("rb") as lines:
            a_scores = scores_from_jsonl(lines)
        schemes = parse_truth(truths["a"]).accounts()
        decided = analysts_decide(leads, set(schemes), work / "lead-status.jsonl")
        verdicts = read_verdicts(work / "lead-status.jsonl", leads_a)
        a_figures = measure("month A", truths["a"], first_detections(leads), a_scores)

        # Train on history + A, keeping the worker's tables for month B.
        job = TrainingJob(LATENESS_MS)
        warm = job.runner()
        history_a = itertools.chain(file_messages(files["history"]), file_messages(files["a"]))
        for outcome in warm.run(history_a):
            job.observe(outcome)
        data = job.training_set()
        plain = train(data, FundraisingForest(expected_alert_rate=args.alert_rate), "B-forest")
        ranked, note = train_with_verdicts(
            data, FundraisingForest(expected_alert_rate=args.alert_rate), verdicts, "B-ranker"
        )

        # Month A's confirmed accounts are cases already: left out of month B's figures.
        closed = {a for a, v in verdicts.accounts.items() if v.confirmed}
        excluded = {a for a, v in verdicts.accounts.items() if not v.confirmed}
        results = [a_figures]
        excluded_again = []
        for name, model in (("B, forest alone", plain), ("B, with verdicts", ranked)):
            b_leads, best = month_b(model, warm, file_messages(files["b"]))
            detections = {a: t for a, t in first_detections(b_leads).items() if a not in closed}
            scores = {a: s for a, s in best.items() if a not in closed}
            results.append(measure(name, truths["b"], detections, scores))
            excluded_again.append(len(excluded & set(detections)))

    accounts = truths["a"]["accounts"]
    own = accounts["individuals"] + accounts["businesses"] + accounts["lookalikes"]
    print(
        f"seed {args.seed}: {own:,} accounts ({accounts['lookalikes']} look-alikes), "
        f"{args.schemes + args.camouflaged} schemes; history {args.history_days} days, months "
        f"A and B {args.month_days} days each; alert rate {args.alert_rate:.2%} (month A "
        f"{args.judged_alert_rate:.2%}); "
        f"{time.perf_counter() - started:.0f} s"
    )
    print(
        f"month A: {len(leads)} lead revisions; analysts confirmed {decided[0]} leads and "
        f"excluded {decided[1]}"
    )
    print(f"training on history + A: {note}\n")
    header = [
        "run",
        "true/flagged accounts",
        "precision",
        "recall",
        "PR-AUC",
        "schemes found",
        "look-alikes with a lead",
        "false leads per true",
    ]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for figures in results:
        print("| " + " | ".join(row(figures)) + " |")
    for figures in results:
        flagged = {kind: k for kind, (_, k) in figures.kinds.items() if k}
        print(f"\n{figures.name}: look-alikes with a lead per kind {flagged or 'none'}", end="")
    excluded_kinds = sorted({truths["a"]["lookalike_kinds"].get(a, "other") for a in excluded})
    print(f"\nkinds excluded in month A: {excluded_kinds}")
    print(
        f"accounts excluded in month A with a lead in month B: {excluded_again[0]} of "
        f"{len(excluded)} with the forest alone, {excluded_again[1]} with the verdicts"
    )


if __name__ == "__main__":
    main()
