"""Small hand-made worlds of transfers, as the banks would report them, for the tests of
money trails and schemes: every transfer gives an "out" report on the payer's account and an
"in" report on the payee's, when that account is at a reporting bank."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from ingest.pipeline import InputMessage
from models.forest import FundraisingForest
from offline.replay import file_messages
from offline.training import train, training_set
from schemas.envelopes import SourcePosition
from tests.reports import valid_report

START = datetime(2026, 10, 1, 1, 0, tzinfo=UTC)  # 09:00 Beijing time
OUTSIDE = "outside"  # a bank that files no reports here


@dataclass
class Holder:
    bank_id: str = "BSCB"
    account_type: str = "individual"
    name: str | None = None
    industry: str | None = None
    region: str = "530502"


@dataclass
class TransferWorld:
    """Reports of a little world, in time order."""

    holders: dict[str, Holder] = field(default_factory=dict)
    records: list[dict[str, Any]] = field(default_factory=list)

    def holder(self, account: str) -> Holder:
        return self.holders.setdefault(account, Holder())

    def transfer(
        self,
        payer: str,
        payee: str,
        yuan: int,
        hour: float,
        payer_type: str = "individual",
        payee_type: str = "individual",
        purpose: str = "投资款",
        suspicious: tuple[str, ...] = (),
    ) -> None:
        """One transfer at START + hour; the two types apply to accounts not described yet.
        ``suspicious``: the payee's bank files its side as a suspicious-transaction report
        with these indicators."""
        tx_id = f"T{len(self.records):05d}"
        when = (START + timedelta(hours=hour)).isoformat()
        sides = ((payer, payee, "out", payer_type), (payee, payer, "in", payee_type))
        for account, _, _, kind in sides:
            self.holders.setdefault(account, Holder(account_type=kind))
        for account, other, direction, _ in sides:
            mine, theirs = self.holders[account], self.holders[other]
            if mine.bank_id == OUTSIDE:
                continue
            record = valid_report(
                report_id=f"{tx_id}-{direction}",
                bank_id=mine.bank_id,
                tx_id=tx_id,
                tx_time=when,
                account_id=account,
                account_type=mine.account_type,
                customer_name=mine.name or f"name of {account}",
                customer_id=f"C-{account}",
                region=mine.region,
                direction=direction,
                amount=f"{yuan}.00",
                counterparty_account=other,
                counterparty_type=theirs.account_type,
                counterparty_name=theirs.name or f"name of {other}",
                counterparty_region=theirs.region,
                counterparty_bank=theirs.bank_id,
                purpose=purpose if direction == "in" else "转账",
            )
            if mine.industry is None:
                record.pop("industry")
            else:
                record["industry"] = mine.industry
            if suspicious and direction == "in":
                record.update(report_type="STR", str_indicators=list(suspicious))
            self.records.append(record)

    def sweeps(self, payer: str, payee: str, yuan: int, hour: float, times: int = 3) -> None:
        """``yuan`` passed on in ``times`` equal transfers six minutes apart, as a scheme's
        pool moves on (a money trail links from three transfers, models.trails)."""
        for n in range(times):
            self.transfer(payer, payee, yuan // times, hour + n * 0.1)

    def fundraising(self, collector: str, people: int, hour: float = 0.0) -> None:
        for n in range(people):
            self.transfer(f"P{collector}-{n:03d}", collector, 50_000, hour + n * 0.1)

    def ordered(self) -> list[dict[str, Any]]:
        return sorted(self.records, key=lambda r: (r["tx_time"], r["report_id"]))

    def lines(self) -> list[bytes]:
        return [orjson.dumps(r) for r in self.ordered()]

    def messages(self) -> list[InputMessage]:
        return [
            InputMessage(r["account_id"].encode(), orjson.dumps(r), SourcePosition("file:t", 0, i))
            for i, r in enumerate(self.ordered())
        ]


@dataclass(frozen=True)
class ThreeBankScheme:
    """A scheme over three banks, a quiet controller at a fourth, and a busy merchant."""

    world: TransferWorld
    collectors: tuple[str, ...]
    controller: str
    merchant: str

    def collected(self, until: dict[str, datetime]) -> tuple[int, int]:
        """(distinct payers, fen) into the collectors, each payer once across the three, from
        the reports of each collector up to the given time (its lead's latest revision)."""
        inflows = [
            r
            for r in self.world.records
            if r["account_id"] in until
            and r["direction"] == "in"
            and datetime.fromisoformat(r["tx_time"]) <= until[r["account_id"]]
        ]
        payers = {r["counterparty_account"] for r in inflows}
        return len(payers), sum(round(float(r["amount"]) * 100) for r in inflows)


def three_bank_scheme() -> ThreeBankScheme:
    """Three collecting companies at BSCB, ICBC-BS and ABC-BS take 100,000 yuan each from 60
    people over five days (four of them pay two collectors, and some pay again later), sweep
    the takings every evening to one person's account at YNRCU, which sends the pool out of
    the province; a trading company at BSCB, busy with its own customers, pays the first
    collector four large sums. No collector alone raises 5 million yuan; the scheme does.
    Each collector's bank files half the deposits as suspicious, and the collectors pay
    small "interest". Seven days in all."""
    world = TransferWorld()
    collectors = ("6222000100000001", "6222000200000002", "6222000300000003")
    for account, bank, name in zip(
        collectors,
        ("BSCB", "ICBC-BS", "ABC-BS"),
        ("保山金盛投资咨询有限公司", "保山金盛财富管理有限公司", "腾冲金盛养老服务有限公司"),
        strict=True,
    ):
        world.holders[account] = Holder(bank, "corporate", name, "investment_advisory")
    controller, sink, merchant = "6222000400000004", "6222999900000009", "6222000500000005"
    world.holders[controller] = Holder("YNRCU", "individual", "李某某", None, "530521")
    world.holders[sink] = Holder(OUTSIDE, "corporate", "某某资产管理有限公司", None, "440300")
    world.holders[merchant] = Holder("BSCB", "corporate", "保山慧明商贸有限公司", "retail")
    regions = ("530502", "530521", "530102", "510100", "530581")  # Baoshan, Kunming, Sichuan
    for day in range(7):
        for index, collector in enumerate(collectors):
            # four new people a day for five days, then one earlier payer pays again
            people = [f"P{index}-{day * 4 + n:03d}" for n in range(4)] if day < 5 else []
            people = people or [f"P{index}-{day:03d}"]
            for n, person in enumerate(people):
                world.holders.setdefault(person, Holder(region=regions[(day + n) % 5]))
                world.transfer(
                    person,
                    collector,
                    100_000,
                    day * 24 + 1 + index + n * 0.2,
                    suspicious=("短期内资金分散转入、集中转出",) if n % 2 == 0 else (),
                )
            if day >= 2:  # "interest" back to the first days' payers
                for n in range(8):
                    payer = f"P{index}-{(day - 2) * 4 + n % 4:03d}"
                    world.transfer(collector, payer, 1_500, day * 24 + 5 + n * 0.1, purpose="利息")
        # the merchant's own trade: many small customers, and four large payments to a lead
        for n in range(20):
            world.transfer(
                f"BUYER-{day}-{n}", merchant, 800, day * 24 + 2 + n * 0.3, purpose="货款"
            )
        if 1 <= day <= 4:
            world.transfer(merchant, collectors[0], 200_000, day * 24 + 7, purpose="货款")
        for index, collector in enumerate(collectors):
            world.transfer(collector, controller, 300_000, day * 24 + 10 + index, purpose="往来款")
        if day in (2, 4, 6):
            world.transfer(controller, sink, 2_000_000, day * 24 + 15, purpose="往来款")
    for n in range(4):  # four people pay a second collector too: counted once
        world.transfer(f"P0-{n:03d}", collectors[1], 100_000, 4 * 24 + 8 + n * 0.2)
    return ThreeBankScheme(world, collectors, controller, merchant)


def small_model(history: Path, directory: Path, lateness_ms: int = 7_200_000) -> Path:
    """A small forest ("unit", 60 trees) trained on a history file, saved in directory."""
    data = training_set(file_messages(history), lateness_ms)
    forest = train(data, FundraisingForest(n_estimators=60, expected_alert_rate=0.01), "unit")
    forest.save(directory)
    return directory
