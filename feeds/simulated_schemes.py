"""Illegal-fundraising schemes: planned whole at start, then replayed day by day.

A scheme has 1-3 collector accounts (new, often at different banks) that take deposits from
many participants, a payout source that pays periodic "interest" back to them, 1-2 controller
accounts that receive the pooled money within hours (快进快出), and an external sink outside the
prefecture where the controllers forward it. The plan is small (at most a few thousand
transfers per scheme), so it is held in memory, indexed by day.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from feeds.model import (
    BAOSHAN_COUNTIES,
    BAOSHAN_WEIGHTS,
    HOURS_PERSONAL,
    HOURS_SCHEME,
    OTHER_PROVINCES,
    Account,
    Transfer,
    cash_party,
    company_name,
    external_individual,
    moment,
    person_name,
    pools,
)
from feeds.population import AccountFactory, Population

COVER_SECTORS = ("other", "high_tech", "ecommerce", "agriculture")
FUNDRAISING_MEMO_SHARE = 0.68
SECOND_DEPOSIT_SHARE = 0.3
# Share of reports the bank files as suspicious, per role of the scheme's own account.
STR_RATE = {"deposit": 0.01, "payout": 0.005, "sweep": 0.15, "funding": 0.05, "forward": 0.2}


@dataclass(frozen=True)
class Typology:
    sector: str
    seed_category: str
    inflow_memos: tuple[str, ...]
    payout_memos: tuple[str, ...]
    amounts_yuan: tuple[int, ...]  # round sums, the first ones the most common
    payout_cycle_days: int
    monthly_rate: float
    reach: str  # local | prefecture | province | national
    individual_front: float  # probability that a collector is a person, not a company


TYPOLOGIES: dict[str, Typology] = {
    t.sector: t
    for t in (
        Typology(
            "p2p_lending",
            "(一)",
            ("投资款", "出借", "理财", "标的认购", "充值"),
            ("利息", "收益", "本息"),
            (5_000, 10_000, 20_000, 50_000, 100_000),
            7,
            0.02,
            "national",
            0.1,
        ),
        Typology(
            "private_fund",
            "(一)(二)",
            ("认购", "入股", "投资款", "私募基金认购款"),
            ("分红", "收益"),
            (50_000, 100_000, 200_000, 300_000, 500_000),
            15,
            0.015,
            "province",
            0.2,
        ),
        Typology(
            "farmer_cooperative",
            "(七)",
            ("入股", "股金", "互助金", "借款", "存款"),
            ("利息", "分红", "股金分红"),
            (2_000, 5_000, 10_000, 20_000, 30_000, 50_000),
            10,
            0.012,
            "local",
            0.4,
        ),
        Typology(
            "real_estate_developer",
            "(六)",
            ("认筹金", "购房认筹", "商铺认购款", "认购"),
            ("返租款", "租金", "包租收益"),
            (100_000, 200_000, 300_000, 500_000),
            15,
            0.01,
            "province",
            0.0,
        ),
        Typology(
            "elderly_care",
            "(八)",
            ("养老服务费", "会员费", "养老投资", "床位预订费", "入会费"),
            ("返利", "服务补贴", "收益"),
            (10_000, 20_000, 36_800, 50_000, 68_000, 100_000),
            10,
            0.015,
            "prefecture",
            0.2,
        ),
        Typology(
            "wealth_management",
            "(五)",
            ("理财", "理财产品认购", "投资款", "保本理财"),
            ("收益", "利息", "返利"),
            (10_000, 30_000, 50_000, 100_000, 200_000),
            7,
            0.018,
            "national",
            0.3,
        ),
        Typology(
            "investment_advisory",
            "(五)",
            ("会员费", "投资咨询费", "入会费", "投资款"),
            ("返利", "收益", "分红"),
            (3_000, 5_000, 10_000, 30_000, 50_000),
            7,
            0.02,
            "national",
            0.5,
        ),
        Typology(
            "equity_crowdfunding",
            "(一)(二)",
            ("入股", "股权认购", "众筹款"),
            ("分红",),
            (10_000, 20_000, 50_000, 100_000),
            15,
            0.015,
            "province",
            0.1,
        ),
    )
}
# The e-commerce rebate scheme (返利): many small "purchases" from each participant, rebates paid
# back within days. It only ever runs camouflaged (quiet memos, odd amounts, slow recruitment).
REBATE = Typology(
    "ecommerce",
    "(四)",
    ("货款", "订单支付", "商品款", ""),
    ("佣金", "推广费", "退款", ""),
    (100, 200, 300, 500, 800, 1_000, 2_000, 3_000),
    3,
    0.25,
    "national",
    0.0,
)
REBATE_TYPOLOGY = "ecommerce_rebate"
# Camouflaged schemes: memos with no fundraising words, amounts that are not round, deposits
# split below the cash large-value line, collection through salespeople's own accounts.
QUIET_INFLOW_MEMOS = ("转账", "", "货款", "往来款", "还款", "代付")
QUIET_PAYOUT_MEMOS = ("", "转账", "报销", "货款", "往来款")
SPLIT_BELOW_FEN = 5_000_000  # the cash large-value line: 50,000 yuan
CAMOUFLAGE_STR_FACTOR = 0.3  # banks notice quiet schemes less often
# reach -> (share of participants drawn from the simulated population, baoshan, other Yunnan)
REACH: dict[str, tuple[float, float, float]] = {
    "local": (0.75, 0.9, 0.1),
    "prefecture": (0.55, 0.7, 0.3),
    "province": (0.4, 0.55, 0.35),
    "national": (0.2, 0.35, 0.25),
}


@dataclass
class SchemePlan:
    scheme_id: str
    typology: Typology
    start_day: int
    collectors: list[Account]
    controllers: list[Account]
    payout_account: Account | None
    sink: Account
    participants: list[Account]
    local_participants: int
    transfers_by_day: dict[int, list[Transfer]] = field(default_factory=dict)
    camouflaged: bool = False
    typology_name: str = ""  # the truth's typology (REBATE_TYPOLOGY for the rebate scheme)

    def add(self, day: int, transfer: Transfer) -> None:
        transfer.scheme_id = self.scheme_id
        self.transfers_by_day.setdefault(day, []).append(transfer)

    def own_accounts(self) -> list[Account]:
        payout = [self.payout_account] if self.payout_account else []
        return self.collectors + self.controllers + payout

    def truth(self, simulated_banks: tuple[str, ...]) -> dict[str, object]:
        """Ground truth of this scheme (a JSON-serialisable dict)."""
        transfers = [t for day in sorted(self.transfers_by_day) for t in self.transfers_by_day[day]]
        collector_ids = {a.account_id for a in self.collectors}
        participant_ids = {a.account_id for a in self.participants}
        deposits = [
            t
            for t in transfers
            if t.payee.account_id in collector_ids and t.payer.account_id in participant_ids
        ]
        raised = sum(t.amount_fen for t in deposits)
        regions = sorted({p.region for p in self.participants})
        times = sorted(t.time for t in transfers)
        own = self.own_accounts()
        return {
            "scheme_id": self.scheme_id,
            "typology": self.typology_name or self.typology.sector,
            "camouflaged": self.camouflaged,
            "seed_category": self.typology.seed_category,
            "reach": self.typology.reach,
            "start_day": self.start_day,
            "collector_accounts": [a.account_id for a in self.collectors],
            "controller_accounts": [a.account_id for a in self.controllers],
            "payout_accounts": [self.payout_account.account_id] if self.payout_account else [],
            "sink_accounts": [self.sink.account_id],
            "participants": len({t.payer.account_id for t in deposits}),
            "participants_at_simulated_banks": self.local_participants,
            "deposits": len(deposits),
            "amount_raised_fen": raised,
            "amount_raised": f"{raised // 100}.{raised % 100:02d}",
            "first_tx_time": times[0].isoformat(timespec="seconds") if times else None,
            "last_tx_time": times[-1].isoformat(timespec="seconds") if times else None,
            "banks": sorted({a.bank_id for a in own if a.bank_id in simulated_banks}),
            "counties": sorted({a.region for a in self.collectors}),
            "participant_regions": regions,
            "cross_prefecture": any(not r.startswith("5305") for r in regions),
            "cross_province": any(not r.startswith("53") for r in regions),
            "str_sides": sum(bool(t.str_payer) + bool(t.str_payee) for t in transfers),
        }


def typology_order(rng: random.Random) -> list[str]:
    """Typologies in a seeded order; scheme k takes entry k modulo the length."""
    order = sorted(TYPOLOGIES)
    rng.shuffle(order)
    return order


def camouflaged_order(rng: random.Random) -> list[str]:
    """Typologies of the camouflaged schemes: the rebate scheme first, then the others."""
    return [REBATE_TYPOLOGY, *typology_order(rng)]


def plan_scheme(
    rng: random.Random,
    index: int,
    sector: str,
    factory: AccountFactory,
    population: Population,
    start: datetime,
    days: int,
    camouflaged: bool = False,
) -> SchemePlan:
    typology = REBATE if sector == REBATE_TYPOLOGY else TYPOLOGIES[sector]
    # Even-numbered schemes run from the start; the others begin mid-period. A camouflaged
    # scheme starts in the first fifth and recruits slowly over the whole run.
    if camouflaged:
        start_day = rng.randint(0, max(0, days // 5))
    else:
        start_day = 0 if index % 2 == 0 or days < 3 else rng.randint(days // 5, days // 2)
    home = rng.choices(BAOSHAN_COUNTIES, BAOSHAN_WEIGHTS)[0]
    if camouflaged:
        collectors = _salespeople(rng, typology, factory, population, home)
    else:
        collectors = _open_collectors(rng, typology, factory, home)
    plan = SchemePlan(
        scheme_id=f"S{index + 1:02d}",
        typology=typology,
        start_day=start_day,
        collectors=collectors,
        controllers=_open_controllers(rng, factory, home, camouflaged, typology),
        payout_account=_open_payout(rng, factory, home),
        sink=_sink(rng),
        participants=[],
        local_participants=0,
        camouflaged=camouflaged,
        typology_name=sector,
    )
    _recruit(rng, plan, population)
    deposits = _plan_deposits(rng, plan, start, days)
    _plan_sweeps(rng, plan, deposits, start, days)
    return plan


def _salespeople(
    rng: random.Random,
    typology: Typology,
    factory: AccountFactory,
    population: Population,
    home: str,
) -> list[Account]:
    """Collectors of a camouflaged scheme: salespeople's own long-standing personal accounts
    (people of the population), or for the rebate scheme a web shop's account."""
    if typology is REBATE:
        name = company_name(rng, "ecommerce")
        shop = factory.open(rng, "corporate", name, home, "ecommerce")
        return [shop]
    n = min(rng.randint(3, 6), max(1, len(population.persons) // 20))
    return [p.account for p in rng.sample(population.persons, n)]


def _open_collectors(
    rng: random.Random, typology: Typology, factory: AccountFactory, home: str
) -> list[Account]:
    banks = rng.sample(factory.banks, min(rng.randint(1, 3), len(factory.banks)))
    collectors = []
    for bank in banks:
        if rng.random() < typology.individual_front:
            collectors.append(factory.open(rng, "individual", person_name(rng), home, bank=bank))
        else:
            industry = typology.sector if rng.random() < 0.7 else rng.choice(COVER_SECTORS)
            name = company_name(rng, typology.sector)
            collectors.append(factory.open(rng, "corporate", name, home, industry, bank))
    return collectors


def _open_controllers(
    rng: random.Random,
    factory: AccountFactory,
    home: str,
    camouflaged: bool = False,
    typology: Typology | None = None,
) -> list[Account]:
    regions = (home, home, "530102")  # the boss banks at home or in Kunming
    if camouflaged and typology is not None and typology is not REBATE:
        # Salespeople pass the money to the company's own account, in its trade's sector.
        name = company_name(rng, typology.sector)
        return [factory.open(rng, "corporate", name, home, rng.choice(COVER_SECTORS))]
    return [
        factory.open(rng, "individual", person_name(rng), rng.choice(regions))
        for _ in range(rng.randint(1, 2))
    ]


def _open_payout(rng: random.Random, factory: AccountFactory, home: str) -> Account | None:
    if rng.random() < 0.5:
        return None  # collectors pay the returns themselves
    return factory.open(rng, "individual", person_name(rng), home)


def _sink(rng: random.Random) -> Account:
    """Where controllers send the pool: an account in another province, outside the banks."""
    sink = external_individual(rng, 0.0, 0.0)
    if rng.random() < 0.5:
        return Account(
            sink.account_id,
            "corporate",
            "",
            company_name(rng, "asset_management"),
            rng.choice(OTHER_PROVINCES),
            sink.bank_id,
        )
    return sink


def _recruit(rng: random.Random, plan: SchemePlan, population: Population) -> None:
    total = rng.randint(60, 300) if plan.camouflaged else rng.randint(100, 1500)
    local_share, baoshan, yunnan = REACH[plan.typology.reach]
    local = min(int(total * local_share), len(population.persons) // 3)
    chosen = rng.sample(population.persons, local)
    if plan.camouflaged:  # a salesperson does not pay into their own account
        chosen = [p for p in chosen if p.account not in plan.collectors]
        local = len(chosen)
    plan.participants = [p.account for p in chosen] + [
        external_individual(rng, baoshan, yunnan) for _ in range(total - local)
    ]
    plan.local_participants = local


def _day_start(start: datetime, day: int) -> datetime:
    return start + timedelta(days=day)


def _plan_deposits(
    rng: random.Random, plan: SchemePlan, start: datetime, days: int
) -> list[tuple[int, Transfer]]:
    """Deposits and the payouts they earn; recruitment accelerates towards the end."""
    deposits: list[tuple[int, Transfer]] = []
    amounts = plan.typology.amounts_yuan
    weights = [1.0 / (i + 1) for i in range(len(amounts))]
    span = days - plan.start_day
    payout_hour = rng.randint(9, 20)
    # Plain schemes recruit faster towards the end; camouflaged ones at an even, slow pace.
    spread = 1.0 if plan.camouflaged else 0.6
    rebate = plan.typology is REBATE
    for participant in plan.participants:
        collector = rng.choice(plan.collectors)
        first = plan.start_day + min(span - 1, int(span * rng.random() ** spread))
        days_paid = [first]
        if rebate:  # a rebate participant keeps "buying", every few days
            for _ in range(rng.randint(2, 12)):
                days_paid.append(min(days - 1, days_paid[-1] + rng.randint(1, 6)))
        elif rng.random() < SECOND_DEPOSIT_SHARE:
            days_paid.append(rng.randint(first, days - 1))
        own: list[tuple[int, Transfer]] = []
        for day in days_paid:
            fen = rng.choices(amounts, weights)[0] * 100
            for piece_day, piece in _pieces(rng, plan, fen, day, days):
                t = _deposit(rng, plan, participant, collector, piece, _day_start(start, piece_day))
                own.append((piece_day, t))
                plan.add(piece_day, t)
        deposits.extend(own)
        _plan_payouts(
            rng,
            plan,
            participant,
            collector,
            own,
            (start, days, payout_hour),
        )
    return deposits


def _pieces(
    rng: random.Random, plan: SchemePlan, fen: int, day: int, days: int
) -> list[tuple[int, int]]:
    """(day, fen) of the transfers one deposit is paid in: itself for a plain scheme; for a
    camouflaged one an amount that is not round, split below the large-value line over the
    day and the next ones."""
    if not plan.camouflaged:
        return [(day, fen)]
    fen = int(fen * rng.uniform(0.9, 1.1)) // 100 * 100 + rng.randrange(1, 100) * 100
    pieces = []
    while fen >= SPLIT_BELOW_FEN:
        piece = rng.randrange(2_000_000, SPLIT_BELOW_FEN - 100_000) // 100 * 100 + 100
        pieces.append(piece)
        fen -= piece
    pieces.append(fen)
    return [(min(days - 1, day + k // 2), piece) for k, piece in enumerate(pieces)]


def _deposit(
    rng: random.Random,
    plan: SchemePlan,
    participant: Account,
    collector: Account,
    fen: int,
    day_start: datetime,
) -> Transfer:
    if plan.camouflaged:
        memo_pool: tuple[str, ...] | list[str] = (
            plan.typology.inflow_memos if plan.typology is REBATE else QUIET_INFLOW_MEMOS
        )
    elif rng.random() < FUNDRAISING_MEMO_SHARE:
        memo_pool = plan.typology.inflow_memos
    else:
        memo_pool = pools()["innocuous_memos"]
    channel = "transfer" if rng.random() < 0.8 else "online"
    t = Transfer(
        moment(rng, day_start, HOURS_PERSONAL if plan.camouflaged else HOURS_SCHEME),
        participant,
        collector,
        fen,
        channel,
        rng.choice(memo_pool),
    )
    t.str_payee = _indicators(rng, "deposit", plan.camouflaged)
    return t


def _plan_payouts(
    rng: random.Random,
    plan: SchemePlan,
    participant: Account,
    collector: Account,
    own_deposits: list[tuple[int, Transfer]],
    window: tuple[datetime, int, int],
) -> None:
    """Periodic returns to one participant, every cycle after the first deposit."""
    start, days, payout_hour = window
    cycle = plan.typology.payout_cycle_days
    payer = plan.payout_account or collector
    first = own_deposits[0][0]
    for day in range(first + cycle, days, cycle):
        principal = sum(t.amount_fen for d, t in own_deposits if d < day)
        fen = max(100, round(principal * plan.typology.monthly_rate * cycle / 30 / 100) * 100)
        if plan.camouflaged:
            fen += rng.randrange(1, 100) * 100  # not a round sum
            memo = rng.choice(
                plan.typology.payout_memos if plan.typology is REBATE else QUIET_PAYOUT_MEMOS
            )
        else:
            memo = rng.choice(plan.typology.payout_memos) if rng.random() < 0.85 else ""
        when = _day_start(start, day) + timedelta(hours=payout_hour, seconds=rng.randrange(5400))
        t = Transfer(when, payer, participant, fen, "transfer", memo)
        t.str_payer = _indicators(rng, "payout", plan.camouflaged)
        plan.add(day, t)


def _plan_sweeps(
    rng: random.Random,
    plan: SchemePlan,
    deposits: list[tuple[int, Transfer]],
    start: datetime,
    days: int,
) -> None:
    """Collectors pass most of each day's takings to a controller within hours (快进快出);
    controllers fund the payout account and forward the rest out of the prefecture."""
    share = rng.uniform(0.7, 0.9)
    forward_every = rng.randint(2, 4)
    held = 0
    for day in range(plan.start_day, days):
        day_start = _day_start(start, day)
        todays = [t for d, t in deposits if d == day]
        for collector in plan.collectors:
            held += _sweep(rng, plan, day, [t for t in todays if t.payee is collector], share)
        held -= _fund_payouts(rng, plan, day, day_start)
        if (day - plan.start_day) % forward_every == forward_every - 1 and held > 1_000_000:
            held -= _forward(rng, plan, day, day_start, held)


def _sweep(
    rng: random.Random, plan: SchemePlan, day: int, takings: list[Transfer], share: float
) -> int:
    total = sum(t.amount_fen for t in takings)
    fen = int(total * share) // 100_000 * 100_000  # whole thousands of yuan
    if plan.camouflaged:
        fen = int(total * share) // 100 * 100  # to the yuan, "for goods"
    if fen <= 0:
        return 0
    last = max(t.time for t in takings)
    when = last + timedelta(seconds=_delay(rng, last, 1200, 10800))
    t = Transfer(
        when,
        takings[0].payee,
        rng.choice(plan.controllers),
        fen,
        "transfer",
        rng.choice(("货款", "转账", "") if plan.camouflaged else ("往来款", "转账", "", "借款")),
    )
    t.str_payer = _indicators(rng, "sweep", plan.camouflaged)
    t.str_payee = _indicators(rng, "sweep", plan.camouflaged)
    plan.add(day, t)
    return fen


def _fund_payouts(rng: random.Random, plan: SchemePlan, day: int, day_start: datetime) -> int:
    if plan.payout_account is None:
        return 0
    due = sum(
        t.amount_fen for t in plan.transfers_by_day.get(day, []) if t.payer is plan.payout_account
    )
    if due == 0:
        return 0
    fen = math.ceil(due / 1_000_000) * 1_000_000  # round up to 10,000 yuan
    earliest = min(t.time for t in plan.transfers_by_day[day] if t.payer is plan.payout_account)
    when = max(day_start, earliest - timedelta(minutes=rng.randint(20, 90)))
    t = Transfer(when, plan.controllers[0], plan.payout_account, fen, "transfer", "")
    t.str_payer = _indicators(rng, "funding", plan.camouflaged)
    plan.add(day, t)
    return fen


def _forward(rng: random.Random, plan: SchemePlan, day: int, day_start: datetime, held: int) -> int:
    """Move the pool on: mostly to the out-of-prefecture sink, some drawn in cash."""
    total = int(held * 0.85) // 1_000_000 * 1_000_000
    if total <= 0:  # a small pool (a quiet scheme's) waits for the next forward
        return 0
    controller = rng.choice(plan.controllers)
    when = moment(rng, day_start, HOURS_SCHEME)
    cash = 0
    if rng.random() < 0.3 and total > 10_000_000:
        # Never more than the pool minus 10,000 yuan: the rest still goes to the sink.
        cash = min(rng.randrange(5, 30) * 1_000_000, total - 1_000_000)
        t = Transfer(when, controller, cash_party(controller), cash, "cash", "取现")
        t.str_payer = _indicators(rng, "forward", plan.camouflaged)
        plan.add(day, t)
        when += timedelta(seconds=_delay(rng, when, 300, 3600))
    t = Transfer(
        when, controller, plan.sink, total - cash, "transfer", rng.choice(("往来款", "", "还款"))
    )
    t.str_payer = _indicators(rng, "forward", plan.camouflaged)
    plan.add(day, t)
    return total


def _delay(rng: random.Random, after: datetime, shortest: int, longest: int) -> int:
    """Seconds to wait after `after`, shrunk late in the evening to stay on the same day."""
    left = int((after.replace(hour=23, minute=59, second=59) - after).total_seconds())
    return rng.randint(min(shortest, left // 2), min(longest, left))


def _indicators(rng: random.Random, role: str, quiet: bool = False) -> tuple[str, ...]:
    if rng.random() >= STR_RATE[role] * (CAMOUFLAGE_STR_FACTOR if quiet else 1.0):
        return ()
    return tuple(sorted(rng.sample(pools()["str_indicators_scheme"], rng.randint(1, 3))))
