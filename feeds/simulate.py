"""Deterministic simulator of bank transaction reports (schema v1) from Baoshan banks.

Pure Python, no Kafka. A population of individuals and businesses banks at the simulated banks
and moves money in ordinary ways (salaries, shopping, rent, fees, invoices, cash); a few
illegal-fundraising schemes (one typology each, see feeds.simulated_schemes) take deposits from many
participants, pay periodic returns and pass the pool on. Every transfer becomes one report per
side held at a simulated bank: "out" on the payer's account, "in" on the payee's.

Usage:
    sim = Simulation(SimulationConfig(seed=7))
    write_jsonl(sim.reports(), "reports.jsonl")   # sorted by (tx_time, report_id)
    write_truth(sim.truth(), "truth.json")        # ground truth, never in the reports
or  fundwatch simulate --output reports.jsonl --truth truth.json [--seed 7] ...

Report types: "STR" when the bank flagged that side (takes precedence, one report per side),
else "LTR" when the side meets a large-value threshold (single transaction; daily accumulation
is not modelled), else "TX" (only with report_all_activity). Cash and ATM movements have the
counterparty account "CASH" at the holder's own bank and region. Foreign counterparties have
region "000000". Generation runs day by day, so memory stays flat as the population grows.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from feeds.activity import normal_day
from feeds.lookalikes import lookalike_day
from feeds.model import (
    CASH_ACCOUNT,
    CASH_CHANNELS,
    CST,
    LTR_CASH_FEN,
    LTR_CORPORATE_FEN,
    LTR_INDIVIDUAL_CROSS_BORDER_FEN,
    LTR_INDIVIDUAL_FEN,
    Account,
    Transfer,
)
from feeds.population import MIN_BUSINESSES, AccountFactory, add_lookalikes, build_population
from feeds.simulated_schemes import SchemePlan, camouflaged_order, plan_scheme, typology_order
from schemas.errors import FundwatchError

SCHEMA_VERSION = 1


class SimulationConfigError(FundwatchError, ValueError):
    """Simulation settings that make no city (the CLI answers with exit code 2)."""


# BSCB: a local commercial bank; ICBC-BS, ABC-BS: the Baoshan branches of ICBC and ABC;
# YNRCU: the Yunnan rural credit union. Other banks appear only as counterparties.
DEFAULT_BANKS: tuple[str, ...] = ("BSCB", "ICBC-BS", "ABC-BS", "YNRCU")


@dataclass(frozen=True)
class SimulationConfig:
    seed: int = 7
    start: datetime = datetime(2026, 10, 1, tzinfo=CST)
    days: int = 30
    individuals: int = 2000
    businesses: int = 200
    schemes: int = 4  # typologies assigned from a seeded order, round-robin
    banks: tuple[str, ...] = DEFAULT_BANKS
    # Legitimate businesses that resemble fundraising (feeds.lookalikes), beyond the ordinary
    # businesses; a real city has thousands per 5,000 accounts.
    lookalikes: int = 0
    # Schemes in disguise (quiet memos, odd amounts, split deposits, salespeople's accounts,
    # slow recruitment), after the plain ones; the first is the e-commerce rebate scheme.
    camouflaged_schemes: int = 0
    # Seed of the day-by-day activity (default: seed). Another value gives the same accounts
    # other days: a scheme-free history of the same city for training.
    activity_seed: int | None = None
    # True: every movement is reported (TX, or LTR/STR where they apply);
    # False: only LTR and STR reports, like a bank filing only what the rules require.
    report_all_activity: bool = True

    def validate(self) -> None:
        if self.start.tzinfo is None:
            raise SimulationConfigError("start must carry a time zone")
        if self.days < 1 or self.individuals < 3 or self.businesses < MIN_BUSINESSES:
            raise SimulationConfigError(
                f"need days >= 1, individuals >= 3, businesses >= {MIN_BUSINESSES}"
            )
        if self.lookalikes < 0 or self.camouflaged_schemes < 0:
            raise SimulationConfigError("lookalikes and camouflaged_schemes must be >= 0")
        if self.schemes < 0 or not self.banks or len(set(self.banks)) != len(self.banks):
            raise SimulationConfigError("schemes must be >= 0 and banks distinct and non-empty")

    def as_dict(self) -> dict[str, Any]:
        fields = asdict(self)
        fields["start"] = self.start.isoformat()
        fields["banks"] = list(self.banks)
        return fields


class Simulation:
    """Plans population and schemes at construction; reports() replays them day by day."""

    def __init__(self, config: SimulationConfig) -> None:
        config.validate()
        self.config = config
        self.start = config.start.astimezone(CST)
        self.factory = AccountFactory(config.banks)
        self.population = build_population(
            random.Random(f"{config.seed}/population"),
            self.factory,
            config.individuals,
            config.businesses,
        )
        # Look-alikes and camouflaged schemes draw from their own seeds, so a config without
        # them gives exactly the reports it gave before they existed; the look-alikes open
        # before any scheme, so a seed's accounts are the same whatever its schemes.
        add_lookalikes(
            random.Random(f"{config.seed}/lookalikes"),
            self.factory,
            self.population,
            config.lookalikes,
        )
        order = typology_order(random.Random(f"{config.seed}/typologies"))
        self.schemes: list[SchemePlan] = [
            plan_scheme(
                random.Random(f"{config.seed}/scheme/{k}"),
                k,
                order[k % len(order)],
                self.factory,
                self.population,
                self.start,
                config.days,
            )
            for k in range(config.schemes)
        ]
        quiet = camouflaged_order(random.Random(f"{config.seed}/camouflaged-typologies"))
        for j in range(config.camouflaged_schemes):
            k = config.schemes + j
            self.schemes.append(
                plan_scheme(
                    random.Random(f"{config.seed}/scheme/{k}"),
                    k,
                    quiet[j % len(quiet)],
                    self.factory,
                    self.population,
                    self.start,
                    config.days,
                    camouflaged=True,
                )
            )

    def transfers(self, day: int) -> list[Transfer]:
        """All transfers of day `day` (0-based), sorted by time, ties in generation order."""
        day_start = self.start + timedelta(days=day)
        activity = (
            self.config.seed if self.config.activity_seed is None else self.config.activity_seed
        )
        rng = random.Random(f"{activity}/day/{day}")
        transfers = normal_day(rng, self.population, day_start)
        if self.population.lookalikes:
            lookalike_rng = random.Random(f"{activity}/day/{day}/lookalikes")
            for lookalike in self.population.lookalikes:
                lookalike_day(lookalike_rng, lookalike, day_start, transfers)
        for plan in self.schemes:
            transfers.extend(plan.transfers_by_day.get(day, []))
        transfers.sort(key=lambda t: t.time)
        return transfers

    def reports(self) -> Iterator[dict[str, Any]]:
        """Report dicts sorted by (tx_time, report_id), generated one day at a time."""
        banks = frozenset(self.config.banks)
        for day in range(self.config.days):
            stamp = (self.start + timedelta(days=day)).strftime("%Y%m%d")
            day_reports: list[dict[str, Any]] = []
            for seq, transfer in enumerate(self.transfers(day)):
                tx_id = f"T{stamp}{seq:07d}"
                day_reports.extend(
                    reports_of(transfer, tx_id, banks, self.config.report_all_activity)
                )
            day_reports.sort(key=lambda r: (r["tx_time"], r["report_id"]))
            yield from day_reports

    def truth(self) -> dict[str, Any]:
        """Ground truth: the schemes, legitimate look-alikes and account counts."""
        banks = self.config.banks
        return {
            "config": self.config.as_dict(),
            "schemes": [plan.truth(banks) for plan in self.schemes],
            "legit_lookalikes": self.population.lookalike_ids(),
            "lookalike_kinds": self.population.lookalike_kinds(),
            "accounts": self._account_counts(),
        }

    def _account_counts(self) -> dict[str, Any]:
        own: list[Account] = [p.account for p in self.population.persons]
        own += [b.account for b in self.population.businesses]
        own += [lk.account for lk in self.population.lookalikes]
        scheme_accounts = [a for plan in self.schemes for a in plan.own_accounts()]
        unique = {a.account_id: a for a in own + scheme_accounts}  # salespeople are in both
        by_bank = Counter(a.bank_id for a in unique.values())
        return {
            "individuals": len(self.population.persons),
            "businesses": len(self.population.businesses),
            "lookalikes": len(self.population.lookalikes),
            "scheme_accounts": len(scheme_accounts),
            "external_participants": sum(
                len(p.participants) - p.local_participants for p in self.schemes
            ),
            "by_bank": {bank: by_bank[bank] for bank in self.config.banks},
        }


def simulate(config: SimulationConfig) -> tuple[Iterator[dict[str, Any]], dict[str, Any]]:
    """Reports (a lazy iterator) and ground truth for a config."""
    sim = Simulation(config)
    return sim.reports(), sim.truth()


def is_internal(account: Account, banks: frozenset[str]) -> bool:
    return account.bank_id in banks and account.account_id != CASH_ACCOUNT


def is_large_value(amount_fen: int, channel: str, account_type: str) -> bool:
    """PBOC 2016 large-value thresholds, applied to a single transaction."""
    if channel in CASH_CHANNELS:
        return amount_fen >= LTR_CASH_FEN
    if account_type == "corporate":
        return amount_fen >= LTR_CORPORATE_FEN
    if channel == "cross_border":
        return amount_fen >= LTR_INDIVIDUAL_CROSS_BORDER_FEN
    return amount_fen >= LTR_INDIVIDUAL_FEN


def format_fen(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def reports_of(
    t: Transfer, tx_id: str, banks: frozenset[str], report_all_activity: bool
) -> list[dict[str, Any]]:
    """The reports a transfer yields: one per side held at a simulated bank."""
    sides = (("out", t.payer, t.payee, t.str_payer), ("in", t.payee, t.payer, t.str_payee))
    reports = []
    for direction, account, other, indicators in sides:
        if not is_internal(account, banks):
            continue
        if indicators:
            report_type = "STR"
        elif is_large_value(t.amount_fen, t.channel, account.account_type):
            report_type = "LTR"
        elif report_all_activity:
            report_type = "TX"
        else:
            continue
        reports.append(_report(t, tx_id, direction, account, other, report_type, indicators))
    return reports


def _report(
    t: Transfer,
    tx_id: str,
    direction: str,
    account: Account,
    other: Account,
    report_type: str,
    indicators: tuple[str, ...],
) -> dict[str, Any]:
    report: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "report_id": f"{account.bank_id}-{tx_id}-{direction}",
        "report_type": report_type,
        "bank_id": account.bank_id,
        "tx_id": tx_id,
        "tx_time": t.time.isoformat(timespec="seconds"),
        "account_id": account.account_id,
        "account_type": account.account_type,
        "customer_id": account.customer_id,
        "customer_name": account.customer_name,
    }
    if account.industry is not None:
        report["industry"] = account.industry
    report.update(
        {
            "region": account.region,
            "direction": direction,
            "amount": format_fen(t.amount_fen),
            "currency": "CNY",
            "channel": t.channel,
            "counterparty_account": other.account_id,
            "counterparty_name": other.customer_name,
            "counterparty_bank": other.bank_id,
            "counterparty_type": other.account_type,
            "counterparty_region": other.region,
            "purpose": t.purpose,
        }
    )
    if report_type == "STR":
        report["str_indicators"] = list(indicators)
    return report


def report_lines(reports: Iterable[dict[str, Any]]) -> Iterator[bytes]:
    """Each report as one compact UTF-8 JSON line, without the newline."""
    for report in reports:
        yield orjson.dumps(report)


def write_jsonl(reports: Iterable[dict[str, Any]], path: str | Path) -> int:
    """Write one JSON object per line (UTF-8, compact); returns the number written."""
    count = 0
    with open(path, "wb") as f:
        for line in report_lines(reports):
            f.write(line + b"\n")
            count += 1
    return count


def write_truth(truth: dict[str, Any], path: str | Path) -> None:
    Path(path).write_text(json.dumps(truth, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
