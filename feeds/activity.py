"""One day of ordinary (legitimate) account activity of the population."""

from __future__ import annotations

import random
from datetime import datetime

from feeds.model import (
    FOREIGN_REGION,
    HOURS_OFFICE,
    HOURS_PERSONAL,
    HOURS_SHOPPING,
    Account,
    Transfer,
    cash_party,
    external_individual,
    lognormal_fen,
    moment,
    poisson,
    pools,
    round_to,
)
from feeds.population import (
    DEFAULT_SUPPLIER_PROFILE,
    SALES_PROFILE,
    SUPPLIER_PROFILE,
    TOURIST_COUNTY,
    WALK_IN_PAYERS,
    Business,
    Person,
    Population,
)

# Banks file a few suspicious reports on ordinary accounts too (false positives of their rules).
FALSE_STR_RATE = 0.001
FOREIGN_BANKS = ("MM-KBZ", "TH-BBL", "MM-AYA")
FALSE_STR_MIN_FEN = 500_000


def normal_day(rng: random.Random, population: Population, day_start: datetime) -> list[Transfer]:
    """All ordinary transfers of one calendar day (day_start is 00:00 CST), unsorted."""
    out: list[Transfer] = []
    for person in population.persons:
        _person_day(rng, person, population, day_start, out)
    for business in population.businesses:
        _business_day(rng, business, population, day_start, out)
    _mark_false_strs(rng, out)
    return out


def _memo(rng: random.Random, kind: str) -> str:
    memo: str = rng.choice(pools()["memos"][kind])
    return memo


def _person_day(
    rng: random.Random,
    person: Person,
    population: Population,
    day_start: datetime,
    out: list[Transfer],
) -> None:
    me = person.account
    dom = day_start.day
    if person.employer is not None and dom == person.payday:
        fen = round_to(int(person.salary_fen * rng.uniform(0.95, 1.1)), 1)
        out.append(
            Transfer(
                moment(rng, day_start, HOURS_OFFICE),
                person.employer,
                me,
                fen,
                "transfer",
                _memo(rng, "salary"),
            )
        )
    for _ in range(poisson(rng, person.spend_rate)):
        out.append(_purchase(rng, person, population, day_start))
    if rng.random() < 0.035:
        out.append(
            Transfer(
                moment(rng, day_start, HOURS_PERSONAL),
                me,
                cash_party(me),
                rng.randrange(2, 31) * 10_000,
                "atm",
                _memo(rng, "atm"),
            )
        )
    if person.family and rng.random() < 0.02:
        fen = lognormal_fen(rng, 800, 1.0, 50_000)
        fen = round_to(fen, 100) if rng.random() < 0.6 else fen
        out.append(
            Transfer(
                moment(rng, day_start, HOURS_PERSONAL),
                me,
                rng.choice(person.family),
                fen,
                rng.choice(("transfer", "online")),
                _memo(rng, "family"),
            )
        )
    _monthly_bills(rng, person, day_start, out)
    _occasional(rng, person, population, day_start, out)


def _purchase(
    rng: random.Random, person: Person, population: Population, day_start: datetime
) -> Transfer:
    when = moment(rng, day_start, HOURS_SHOPPING)
    if person.favourites and rng.random() < 0.6:
        shop = (
            rng.choice(person.favourites)
            if rng.random() < 0.7
            else rng.choice(population.merchants)
        )
        return Transfer(
            when,
            person.account,
            shop,
            lognormal_fen(rng, 45, 0.9, 20_000),
            "pos",
            _memo(rng, "pos"),
        )
    return Transfer(
        when,
        person.account,
        rng.choice(population.platforms),
        lognormal_fen(rng, 60, 0.9, 10_000),
        "online",
        _memo(rng, "online"),
    )


def _monthly_bills(
    rng: random.Random, person: Person, day_start: datetime, out: list[Transfer]
) -> None:
    dom = day_start.day
    if person.landlord is not None and dom == person.rent_day:
        out.append(
            Transfer(
                moment(rng, day_start, HOURS_PERSONAL),
                person.account,
                person.landlord,
                person.rent_fen,
                rng.choice(("transfer", "online")),
                _memo(rng, "rent"),
            )
        )
    if person.fee_payee is not None and dom == person.fee_day:
        out.append(
            Transfer(
                moment(rng, day_start, HOURS_PERSONAL),
                person.account,
                person.fee_payee,
                person.fee_fen,
                rng.choice(("transfer", "online", "pos")),
                _memo(rng, person.fee_memo),
            )
        )


def _occasional(
    rng: random.Random,
    person: Person,
    population: Population,
    day_start: datetime,
    out: list[Transfer],
) -> None:
    me = person.account
    u = rng.random()
    if u < 0.006 and population.hospitals:
        out.append(
            Transfer(
                moment(rng, day_start, HOURS_OFFICE),
                me,
                rng.choice(population.hospitals),
                lognormal_fen(rng, 400, 1.1, 60_000),
                "pos",
                _memo(rng, "hospital"),
            )
        )
    elif u < 0.0064 and population.property_sellers:
        fen = rng.randrange(150, 900) * 100_000  # a flat or car: 150k-900k yuan
        out.append(
            Transfer(
                moment(rng, day_start, HOURS_OFFICE),
                me,
                rng.choice(population.property_sellers),
                fen,
                "transfer",
                _memo(rng, "purchase"),
            )
        )
    elif u < 0.0184:
        sender = external_individual(rng, 0.7, 0.2)
        out.append(
            Transfer(
                moment(rng, day_start, HOURS_PERSONAL),
                sender,
                me,
                lognormal_fen(rng, 1000, 1.0, 100_000),
                "transfer",
                _memo(rng, "transfer_in"),
            )
        )
    elif u < 0.0189:  # a relative working abroad (Myanmar, Thailand) sends money home
        out.append(
            Transfer(
                moment(rng, day_start, HOURS_OFFICE),
                foreign_individual(rng),
                me,
                lognormal_fen(rng, 40_000, 1.0, 1_000_000),
                "cross_border",
                _memo(rng, "remittance"),
            )
        )


def foreign_individual(rng: random.Random) -> Account:
    """A sender abroad; region "000000" stands for outside mainland China."""
    sender = external_individual(rng, 0.0, 0.0)
    return Account(
        sender.account_id,
        "individual",
        "",
        sender.customer_name,
        FOREIGN_REGION,
        rng.choice(FOREIGN_BANKS),
    )


def _business_day(
    rng: random.Random,
    business: Business,
    population: Population,
    day_start: datetime,
    out: list[Transfer],
) -> None:
    _invoices(rng, business, population, day_start, out)
    _walk_in_sales(rng, business, day_start, out)
    me = business.account
    if business.sector in ("retail", "catering", "pawn") and rng.random() < 0.3:
        out.append(
            Transfer(
                moment(rng, day_start, HOURS_OFFICE),
                cash_party(me),
                me,
                lognormal_fen(rng, 6000, 0.8, 300_000),
                "cash",
                _memo(rng, "cash_deposit"),
            )
        )
    if day_start.day == 15:
        out.append(
            Transfer(
                moment(rng, day_start, HOURS_OFFICE),
                me,
                population.treasury,
                lognormal_fen(rng, 5000, 1.0, 2_000_000),
                "transfer",
                _memo(rng, "tax"),
            )
        )
    if business.owner is not None and rng.random() < 0.02:
        out.append(
            Transfer(
                moment(rng, day_start, HOURS_OFFICE),
                me,
                business.owner,
                lognormal_fen(rng, 5000, 1.0, 200_000),
                "transfer",
                _memo(rng, "owner"),
            )
        )
    if rng.random() < 0.003:  # a shareholder injects capital: round sums, fundraising-like memo
        fen = rng.choice((100_000, 200_000, 500_000, 1_000_000)) * 100
        investor = external_individual(rng, 0.8, 0.15)
        out.append(
            Transfer(
                moment(rng, day_start, HOURS_OFFICE),
                investor,
                me,
                fen,
                "transfer",
                _memo(rng, "capital"),
            )
        )
    if business.sector == "farmer_cooperative" and population.persons and rng.random() < 0.4:
        for _ in range(rng.randint(2, 8)):  # buys produce from member farmers
            out.append(
                Transfer(
                    moment(rng, day_start, HOURS_OFFICE),
                    me,
                    rng.choice(population.persons).account,
                    lognormal_fen(rng, 3000, 0.8, 100_000),
                    "transfer",
                    _memo(rng, "coop_purchase"),
                )
            )


def _invoices(
    rng: random.Random,
    business: Business,
    population: Population,
    day_start: datetime,
    out: list[Transfer],
) -> None:
    rate, median, sigma = SUPPLIER_PROFILE.get(business.sector, DEFAULT_SUPPLIER_PROFILE)
    for _ in range(poisson(rng, rate)):
        fen = round_to(lognormal_fen(rng, median, sigma, 8_000_000), 1)
        out.append(
            Transfer(
                moment(rng, day_start, HOURS_OFFICE),
                business.account,
                rng.choice(business.suppliers),
                fen,
                "transfer",
                _memo(rng, "supplier"),
            )
        )
    sales_rate, sales_median = SALES_PROFILE.get(business.sector, (0.0, 0.0))
    for _ in range(poisson(rng, sales_rate)):
        fen = round_to(lognormal_fen(rng, sales_median, 1.0, 5_000_000), 1)
        out.append(
            Transfer(
                moment(rng, day_start, HOURS_OFFICE),
                rng.choice(population.companies),
                business.account,
                fen,
                "transfer",
                _memo(rng, "sales"),
            )
        )


def _walk_in_sales(
    rng: random.Random, business: Business, day_start: datetime, out: list[Transfer]
) -> None:
    """Card payments from strangers (tourists, passers-by): many distinct payers, many regions."""
    rate = WALK_IN_PAYERS.get(business.sector, 0.0)
    if business.account.region == TOURIST_COUNTY:
        rate *= 2
    for _ in range(poisson(rng, rate)):
        payer = external_individual(rng, 0.5, 0.3)
        out.append(
            Transfer(
                moment(rng, day_start, HOURS_SHOPPING),
                payer,
                business.account,
                lognormal_fen(rng, 60, 0.9, 5_000),
                "pos",
                _memo(rng, "pos"),
            )
        )


def _mark_false_strs(rng: random.Random, transfers: list[Transfer]) -> None:
    indicators = pools()["str_indicators_false"]
    for t in transfers:
        if t.amount_fen < FALSE_STR_MIN_FEN or rng.random() >= FALSE_STR_RATE * 2:
            continue
        chosen = tuple(sorted(rng.sample(indicators, rng.randint(1, 2))))
        if rng.random() < 0.5:
            t.str_payee = chosen
        else:
            t.str_payer = chosen
