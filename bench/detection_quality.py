"""Detection quality on held-out simulator seeds: fundwatch against a plain baseline.

Run by hand (not a test): ``python bench/detection_quality.py [--seeds 9101 9102]``. Per seed:
  1. simulates a city (individuals, ordinary businesses and legitimate look-alikes, see
     feeds.lookalikes) twice: a scheme-free history (same accounts, other days; it covers the
     September term start) and a period with plain and camouflaged schemes (it covers the
     March term start and the coffee harvest);
  2. trains fundwatch on the history (``fundwatch train``'s code) and backtests the period
     (``fundwatch backtest``'s code: the streaming pipeline, leads and money trails);
  3. computes, in the same run, a plain baseline a data scientist would write: 14 rolling
     30-day features per account-day (numpy), an isolation forest (scikit-learn) trained on the
     history's account-days, the same alert rate; an account is flagged on its first
     account-day at or above the threshold;
  4. prints for both: account precision and recall, PR-AUC of each account's maximum score,
     per-typology scheme recall and time from a scheme's first transaction to its first lead,
     and the share of each kind of look-alike that got a lead.

Both detectors are measured with the same code (``measure``): positives are the schemes' own
accounts at the reporting banks (collectors, controllers, payout accounts); a scheme is
detected when any of them is flagged. The seeds default to ones no detection code has been
developed or compared on so far (9101-9103 served development, 9201-9202 the README's
figures); pass others to check that the figures do not depend on a seed.

``--city`` runs a city of 50,000 accounts (``--workers 2`` splits train and backtest over the
cores; ``--no-baseline`` leaves out the baseline, which holds every report in memory);
``--report`` also prints ``fundwatch evaluate``'s report for each seed: the workload, per
typology and per look-alike kind, and how precision and recall move with the alert rate.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections import defaultdict, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from sklearn.ensemble import IsolationForest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from feeds.model import CST  # noqa: E402
from feeds.simulate import Simulation, SimulationConfig, write_jsonl  # noqa: E402
from models.features import FUNDRAISING_MEMO  # noqa: E402
from models.forest import FundraisingForest  # noqa: E402
from offline.backtest import run_backtest  # noqa: E402
from offline.evaluate import (  # noqa: E402
    average_precision,
    evaluate,
    first_detections,
    leads_from_jsonl,
    parse_truth,
    render,
    scores_from_jsonl,
)
from offline.replay import file_messages  # noqa: E402
from offline.training import train, training_set  # noqa: E402
from schemas.glossary import BEIJING_OFFSET_MS  # noqa: E402

HISTORY_START = datetime(2026, 8, 10, tzinfo=CST)
PERIOD_START = datetime(2027, 2, 10, tzinfo=CST)
LATENESS_MS = 2 * 3_600_000
DAY_MS = 86_400_000
HOUR_MS = 3_600_000
BASELINE_FEATURES = (
    "inflow_count_30d",
    "inflow_sum_30d",
    "outflow_count_30d",
    "outflow_sum_30d",
    "distinct_payers_30d",
    "distinct_payees_30d",
    "mean_inflow_30d",
    "max_inflow_30d",
    "round_inflow_share_30d",
    "night_share_30d",
    "individual_payer_share_30d",
    "out_in_ratio_30d",
    "counterparty_prefectures_30d",
    "fundraising_memo_share_30d",
)


@dataclass
class Figures:
    """One detector's figures on one seed."""

    name: str
    flagged: int
    true_flagged: int
    positives: int
    pr_auc: float | None
    chance: float | None
    typologies: dict[str, tuple[int, int, list[float]]]  # schemes, detected, delays (days)
    kinds: dict[str, tuple[int, int]]  # look-alike kind -> (accounts, flagged)

    @property
    def precision(self) -> float | None:
        return self.true_flagged / self.flagged if self.flagged else None

    @property
    def recall(self) -> float | None:
        return self.true_flagged / self.positives if self.positives else None


def measure(
    name: str,
    truth_data: Mapping[str, Any],
    detections: Mapping[str, list[int]],
    scores: Mapping[str, float],
) -> Figures:
    """Figures of one detector: detections (account -> detection times, epoch ms) and each
    scored account's maximum score."""
    truth = parse_truth(truth_data)
    positives = truth.accounts()
    flagged = set(detections)
    negatives = set(scores) - positives
    pr_auc, chance = average_precision(positives, negatives, scores)
    typologies: dict[str, tuple[int, int, list[float]]] = {}
    for pattern in truth.patterns:
        schemes, detected, delays = typologies.get(pattern.typology, (0, 0, []))
        start = pattern.first_tx_ms or 0
        times = [t for a in pattern.roles for t in detections.get(a, []) if t >= start]
        if times:
            delays = [*delays, (min(times) - start) / DAY_MS]
        typologies[pattern.typology] = (schemes + 1, detected + bool(times), delays)
    kinds: dict[str, list[str]] = defaultdict(list)
    for account, kind in truth.lookalike_kinds.items():
        kinds[kind].append(account)
    return Figures(
        name=name,
        flagged=len(flagged),
        true_flagged=len(flagged & positives),
        positives=len(positives),
        pr_auc=pr_auc,
        chance=chance,
        typologies=dict(sorted(typologies.items())),
        kinds={k: (len(a), len(flagged.intersection(a))) for k, a in sorted(kinds.items())},
    )


# -- the plain baseline --------------------------------------------------------------------------


def _day(ms: int) -> int:
    return (ms + BEIJING_OFFSET_MS) // DAY_MS


def _epoch_ms(iso: str) -> int:
    return round(datetime.fromisoformat(iso).timestamp() * 1000)


def account_days(path: Path) -> tuple[list[str], list[int], np.ndarray]:
    """(account, time of the day's last report, 14 features) per account and active day:
    rolling 30-day figures ending that day, as a pandas groupby-rolling would give them."""
    by_account: dict[str, list[tuple[int, dict[str, Any]]]] = defaultdict(list)
    with path.open("rb") as lines:
        for line in lines:
            r = orjson.loads(line)
            by_account[r["account_id"]].append((_epoch_ms(r["tx_time"]), r))
    accounts: list[str] = []
    times: list[int] = []
    rows: list[list[float]] = []
    for account in sorted(by_account):
        reports = sorted(by_account[account], key=lambda item: item[0])
        days: dict[int, list[tuple[int, dict[str, Any]]]] = defaultdict(list)
        for ms, r in reports:
            days[_day(ms)].append((ms, r))
        window: deque[tuple[int, np.ndarray, list[str], list[str], list[str]]] = deque()
        sums = np.zeros(10)  # in_n, in_sum, out_n, out_sum, round_in, night, n, memo, ind_in
        payers: dict[str, int] = defaultdict(int)
        payees: dict[str, int] = defaultdict(int)
        prefectures: dict[str, int] = defaultdict(int)
        max_in: deque[tuple[int, float]] = deque()
        for day in sorted(days):
            today = np.zeros(10)
            day_payers, day_payees, day_prefs = set(), set(), set()
            biggest = 0.0
            for ms, r in days[day]:
                amount = float(r["amount"])
                today[6] += 1
                today[5] += (ms + BEIJING_OFFSET_MS) % DAY_MS < 6 * HOUR_MS
                today[7] += bool(FUNDRAISING_MEMO.search(r["purpose"] or ""))
                other = r["counterparty_account"]
                if r["counterparty_region"][:4] != r["region"][:4]:
                    day_prefs.add(r["counterparty_region"][:4])
                if r["direction"] == "in":
                    today[0] += 1
                    today[1] += amount
                    today[4] += amount % 1000 == 0
                    today[8] += r["counterparty_type"] == "individual"
                    biggest = max(biggest, amount)
                    if other != "CASH":
                        day_payers.add(other)
                else:
                    today[2] += 1
                    today[3] += amount
                    if other != "CASH":
                        day_payees.add(other)
            while window and window[0][0] <= day - 30:
                old = window.popleft()
                sums -= old[1]
                for key, seen in ((old[2], payers), (old[3], payees), (old[4], prefectures)):
                    for k in key:
                        seen[k] -= 1
                        if not seen[k]:
                            del seen[k]
            window.append((day, today, list(day_payers), list(day_payees), list(day_prefs)))
            sums += today
            for k in day_payers:
                payers[k] += 1
            for k in day_payees:
                payees[k] += 1
            for k in day_prefs:
                prefectures[k] += 1
            while max_in and max_in[0][0] <= day - 30:  # a sliding maximum
                max_in.popleft()
            while max_in and max_in[-1][1] <= biggest:
                max_in.pop()
            max_in.append((day, biggest))
            in_n, in_sum, out_n, out_sum, round_in, night, n, memo, ind_in = sums[:9]
            rows.append(
                [
                    in_n,
                    in_sum,
                    out_n,
                    out_sum,
                    len(payers),
                    len(payees),
                    in_sum / in_n if in_n else 0.0,
                    max_in[0][1],
                    round_in / in_n if in_n else 0.0,
                    night / n,
                    ind_in / in_n if in_n else 0.0,
                    min(out_sum / in_sum, 10.0) if in_sum else 0.0,
                    len(prefectures),
                    memo / n,
                ]
            )
            accounts.append(account)
            times.append(days[day][-1][0])
    return accounts, times, np.log1p(np.asarray(rows, dtype=np.float64))


def baseline(
    history: Path, period: Path, alert_rate: float, seed: int
) -> tuple[dict[str, list[int]], dict[str, float]]:
    """The plain detector: (account -> detection times, account -> max score)."""
    _, _, train_x = account_days(history)
    forest = IsolationForest(n_estimators=100, max_samples=256, random_state=seed)
    forest.fit(train_x)
    threshold = float(np.quantile(-forest.score_samples(train_x), 1.0 - alert_rate))
    accounts, times, x = account_days(period)
    scores = -forest.score_samples(x)
    detections: dict[str, list[int]] = defaultdict(list)
    best: dict[str, float] = {}
    for account, ms, score in zip(accounts, times, scores, strict=True):
        best[account] = max(best.get(account, 0.0), float(score))
        if score >= threshold:
            detections[account].append(ms)
    return dict(detections), best


# -- one seed ------------------------------------------------------------------------------------


def configs(args: argparse.Namespace, seed: int) -> tuple[SimulationConfig, SimulationConfig]:
    common = {
        "seed": seed,
        "individuals": args.individuals,
        "businesses": args.businesses,
        "lookalikes": args.lookalikes,
    }
    history = SimulationConfig(
        **common,
        start=HISTORY_START,
        days=args.history_days,
        schemes=0,
        activity_seed=seed + 1_000_000,
    )
    period = SimulationConfig(
        **common,
        start=PERIOD_START,
        days=args.period_days,
        schemes=args.schemes,
        camouflaged_schemes=args.camouflaged,
    )
    return history, period


def run_seed(args: argparse.Namespace, seed: int, work: Path) -> tuple[list[Figures], str]:
    history_cfg, period_cfg = configs(args, seed)
    history, period = work / f"history-{seed}.jsonl", work / f"period-{seed}.jsonl"
    model_dir = work / f"model-{seed}"
    started = time.perf_counter()
    sim = Simulation(period_cfg)
    truth = sim.truth()
    reuse = args.reuse and history.exists() and period.exists() and model_dir.exists()
    if reuse:  # the same seed's files from an earlier run: only the detection is run again
        history_n = sum(1 for _ in history.open("rb"))
        period_n = sum(1 for _ in period.open("rb"))
    else:
        history_n = write_jsonl(Simulation(history_cfg).reports(), history)
        period_n = write_jsonl(sim.reports(), period)
    simulated = time.perf_counter() - started

    started = time.perf_counter()
    if not reuse:
        model = train(
            training_set(file_messages(history), LATENESS_MS, args.workers),
            FundraisingForest(expected_alert_rate=args.alert_rate),
            version=f"quality-{seed}",
        )
        model.save(model_dir)
    leads_file, scores_file = work / f"leads-{seed}.jsonl", work / f"scores-{seed}.jsonl"
    run_backtest(period, model_dir, leads_file, scores_file, LATENESS_MS, workers=args.workers)
    with leads_file.open("rb") as lines:
        leads = leads_from_jsonl(lines)
    with scores_file.open("rb") as lines:
        scores = scores_from_jsonl(lines)
    ours = measure("fundwatch", truth, first_detections(leads), scores)
    fundwatch_s = time.perf_counter() - started
    if args.report:  # what `fundwatch evaluate --model` prints: workload, alert-rate table
        model = FundraisingForest.load(model_dir)
        evaluation = evaluate(truth, leads, scores, model.score_quantiles_, model.threshold_)
        print(f"seed {seed}, fundwatch evaluate:\n\n{render(evaluation)}", flush=True)

    figures = [ours]
    baseline_s = 0.0
    if not args.no_baseline:
        started = time.perf_counter()
        detections, best = baseline(history, period, args.alert_rate, seed)
        figures.append(measure("baseline", truth, detections, best))
        baseline_s = time.perf_counter() - started
    accounts = truth["accounts"]
    own = accounts["individuals"] + accounts["businesses"] + accounts["lookalikes"]
    note = (
        f"seed {seed}: {own:,} accounts ({len(truth['lookalike_kinds']):,} look-alikes), "
        f"{len(truth['schemes'])} schemes ({sum(s['camouflaged'] for s in truth['schemes'])} "
        f"camouflaged); history {history_n:,} reports over {history_cfg.days} days, period "
        f"{period_n:,} over {period_cfg.days} days; simulated in {simulated:.0f} s, fundwatch "
        f"train+backtest {fundwatch_s:.0f} s, baseline {baseline_s:.0f} s"
    )
    return figures, note


# -- printing ------------------------------------------------------------------------------------


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _num(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def table(header: list[str], rows: Iterable[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + [
        "| " + " | ".join(row) + " |" for row in rows
    ]


def report(results: list[list[Figures]]) -> str:
    """The tables: per seed, each detector's column(s), in the order run_seed gave them."""
    lines = []
    overall = []
    for detectors in results:
        for f in detectors:
            delays = [d for _, _, ds in f.typologies.values() for d in ds]
            schemes = sum(s for s, _, _ in f.typologies.values())
            detected = sum(d for _, d, _ in f.typologies.values())
            kinds_n = sum(n for n, _ in f.kinds.values())
            kinds_f = sum(k for _, k in f.kinds.values())
            overall.append(
                [
                    f.name,
                    f"{f.true_flagged}/{f.flagged}",
                    _pct(f.precision),
                    _pct(f.recall),
                    _num(f.pr_auc, 3),
                    _num(f.chance, 4),
                    f"{detected}/{schemes}",
                    _num(statistics.median(delays) if delays else None, 1),
                    _num(max(delays) if delays else None, 1),
                    f"{kinds_f}/{kinds_n} ({_pct(kinds_f / kinds_n if kinds_n else None)})",
                ]
            )
    lines += table(
        [
            "detector",
            "true/flagged accounts",
            "precision",
            "recall",
            "PR-AUC",
            "chance",
            "schemes found",
            "median days to 1st lead",
            "max days",
            "look-alikes with a lead",
        ],
        overall,
    )
    typologies = sorted({t for detectors in results for t in detectors[0].typologies})
    rows = []
    for typology in typologies:
        row = [typology]
        for detectors in results:
            for f in detectors:
                schemes, detected, delays = f.typologies.get(typology, (0, 0, []))
                delay = _num(statistics.median(delays), 1) if delays else "-"
                row.append(f"{detected}/{schemes} ({delay} d)")
        rows.append(row)
    header = ["typology"] + [f.name for detectors in results for f in detectors]
    lines += ["", "Schemes found per typology (median days to the first lead):", ""]
    lines += table(header, rows)
    kinds = sorted({k for detectors in results for k in detectors[0].kinds})
    rows = []
    for kind in kinds:
        row = [kind]
        for detectors in results:
            for f in detectors:
                n, k = f.kinds.get(kind, (0, 0))
                row.append(f"{k}/{n} ({_pct(k / n if n else None)})")
        rows.append(row)
    lines += ["", "Look-alikes with a lead, per kind:", ""]
    lines += table(["kind", *header[1:]], rows)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[9301, 9302])
    parser.add_argument("--individuals", type=int, default=400)
    parser.add_argument("--businesses", type=int, default=40)
    parser.add_argument("--lookalikes", type=int, default=260)
    parser.add_argument("--history-days", type=int, default=30)
    parser.add_argument("--period-days", type=int, default=40)
    parser.add_argument("--schemes", type=int, default=4, help="Plain schemes.")
    parser.add_argument("--camouflaged", type=int, default=4, help="Camouflaged schemes.")
    parser.add_argument("--alert-rate", type=float, default=FundraisingForest().expected_alert_rate)
    parser.add_argument(
        "--city",
        action="store_true",
        help="City scale: 50,000 accounts (31,000 individuals, 2,000 businesses, 17,000 "
        "look-alikes) and 16 schemes, 8 of them camouflaged; overrides the sizes.",
    )
    parser.add_argument("--workers", type=int, default=1, help="Processes for train/backtest.")
    parser.add_argument(
        "--no-baseline",
        action="store_true",
        help="Leave the plain baseline out: it holds every report in memory, which at city "
        "scale is more than this machine's 24 GiB.",
    )
    parser.add_argument(
        "--report", action="store_true", help="Also print fundwatch evaluate's full report."
    )
    parser.add_argument("--workdir", type=Path, default=None, help="Keep the files here.")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="Reuse the workdir's simulated files and models (same seeds and sizes): "
        "only backtest and measure again, e.g. after a change to detection.",
    )
    args = parser.parse_args()
    if args.city:
        args.individuals, args.businesses, args.lookalikes = 31_000, 2_000, 17_000
        args.schemes = args.camouflaged = 8
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        work = args.workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        for seed in args.seeds:
            figures, note = run_seed(args, seed, work)
            print(note, flush=True)
            results.append(figures)
    print(f"\nalert rate {args.alert_rate:.2%}; columns per seed in order {args.seeds}\n")
    print(report(results))


if __name__ == "__main__":
    main()
