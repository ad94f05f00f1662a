"""The ordinary population: individuals and businesses, and how their accounts move money."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from feeds.lookalikes import Lookalike, build_lookalikes
from feeds.model import (
    Account,
    company_name,
    external_individual,
    person_name,
    pick_region,
    pools,
)

# Business sector mix (weights); monitored sectors appear here too, run legitimately.
SECTOR_WEIGHTS: dict[str, float] = {
    "retail": 26,
    "catering": 18,
    "manufacturing": 9,
    "agriculture": 5,
    "logistics": 5,
    "construction": 6,
    "private_school": 4,
    "private_hospital": 3,
    "real_estate_agency": 2,
    "real_estate_developer": 2,
    "ecommerce": 3,
    "pawn": 1,
    "microloan": 1,
    "farmer_cooperative": 5,
    "elderly_care": 2,
    "high_tech": 2,
    "financial_leasing": 1,
    "financing_guarantee": 1,
    "other": 4,
}
# The first businesses are fixed so that even a tiny population has every legitimate role.
GUARANTEED_SECTORS: tuple[str, ...] = (
    "retail",
    "catering",
    "private_school",
    "private_hospital",
    "manufacturing",
    "real_estate_developer",
    "construction",
    "farmer_cooperative",
    "elderly_care",
)
MIN_BUSINESSES = len(GUARANTEED_SECTORS)
MERCHANT_SECTORS = frozenset({"retail", "catering"})
EMPLOYER_SECTORS = frozenset(
    {
        "manufacturing",
        "construction",
        "logistics",
        "private_school",
        "private_hospital",
        "retail",
        "catering",
        "high_tech",
        "real_estate_developer",
        "elderly_care",
        "agriculture",
    }
)
FEE_COLLECTOR_SECTORS = {"private_school": "school", "elderly_care": "elderly_fee"}
# The ordinary businesses that resemble collectors, by the look-alike kind they count as.
ORDINARY_LOOKALIKE_KIND = {
    "retail": "merchant",
    "catering": "merchant",
    "private_school": "private_school",
    "elderly_care": "care_home",
    "private_hospital": "hospital",
    "farmer_cooperative": "agri_purchaser",
}
# Government and pension payers bank outside the simulation; only the credit is reported.
EXTERNAL_PAYROLL: tuple[Account, ...] = tuple(
    Account(f"EXT-PAYROLL-{i}", "corporate", "", name, "530502", "PSBC")
    for i, name in enumerate(
        ("保山市财政国库支付中心", "保山市社会保险事业管理局", "云南省农村信用社代发专户")
    )
)

# Per sector: (supplier payments/day, median yuan, sigma) for outgoing invoices.
SUPPLIER_PROFILE: dict[str, tuple[float, float, float]] = {
    "manufacturing": (0.5, 60_000, 1.2),
    "construction": (0.5, 120_000, 1.3),
    "retail": (0.4, 8_000, 1.0),
    "catering": (0.3, 3_000, 0.9),
    "logistics": (0.3, 15_000, 1.0),
    "real_estate_developer": (0.3, 200_000, 1.3),
    "agriculture": (0.2, 10_000, 1.0),
}
DEFAULT_SUPPLIER_PROFILE = (0.15, 10_000, 1.0)
# Per sector: (sales receipts from companies/day, median yuan).
SALES_PROFILE: dict[str, tuple[float, float]] = {
    "manufacturing": (0.4, 50_000),
    "construction": (0.2, 300_000),
    "agriculture": (0.3, 20_000),
    "logistics": (0.4, 8_000),
    "high_tech": (0.2, 40_000),
    "ecommerce": (0.5, 5_000),
    "farmer_cooperative": (0.3, 30_000),
}
# External card payers per day at a merchant; 腾冲 (530581) draws tourists.
WALK_IN_PAYERS = {"retail": 2.5, "catering": 3.5}
TOURIST_COUNTY = "530581"


@dataclass(slots=True)
class Person:
    account: Account
    employer: Account | None = None
    salary_fen: int = 0
    payday: int = 0
    spend_rate: float = 0.5
    favourites: tuple[Account, ...] = ()
    family: tuple[Account, ...] = ()
    landlord: Account | None = None
    rent_fen: int = 0
    rent_day: int = 0
    fee_payee: Account | None = None  # a private school or elderly-care home billed monthly
    fee_memo: str = "school"
    fee_fen: int = 0
    fee_day: int = 0


@dataclass(slots=True)
class Business:
    account: Account
    sector: str
    suppliers: tuple[Account, ...] = ()
    owner: Account | None = None
    payday: int = 10
    employees: int = 0


@dataclass(slots=True)
class Population:
    persons: list[Person]
    businesses: list[Business]
    merchants: list[Account]
    hospitals: list[Account]
    property_sellers: list[Account]
    companies: list[Account]  # external corporate counterparties
    platforms: list[Account]  # payment platforms for online spending
    treasury: Account
    by_sector: dict[str, list[Account]] = field(default_factory=dict)
    lookalikes: list[Lookalike] = field(default_factory=list)  # feeds.lookalikes

    def lookalike_ids(self) -> list[str]:
        """Legitimate accounts that look like collectors: merchants, fee collectors, payroll."""
        return sorted(self.lookalike_kinds())

    def lookalike_kinds(self) -> dict[str, str]:
        """account_id -> kind of look-alike (feeds.lookalikes.KINDS names), for the truth."""
        kinds: dict[str, str] = {}
        for b in self.businesses:
            kind = ORDINARY_LOOKALIKE_KIND.get(b.sector)
            if kind is None and b.employees >= 20:
                kind = "payroll"
            if kind is not None:
                kinds[b.account.account_id] = kind
        for lk in self.lookalikes:
            kinds[lk.account.account_id] = lk.kind
        return dict(sorted(kinds.items()))


class AccountFactory:
    """Issues unique account and customer ids for accounts at the simulated banks."""

    def __init__(self, banks: Sequence[str]) -> None:
        self.banks = tuple(banks)
        self.serial = 0

    def open(
        self,
        rng: random.Random,
        account_type: str,
        name: str,
        region: str,
        industry: str | None = None,
        bank: str | None = None,
    ) -> Account:
        self.serial += 1
        bank_id = bank if bank is not None else rng.choice(self.banks)
        bank_no = self.banks.index(bank_id)
        if account_type == "individual":
            account_id = f"62{bank_no:02d}53{self.serial:013d}"
        else:
            account_id = f"53{bank_no:02d}{self.serial:014d}"
        customer_id = f"{bank_id}-C{self.serial:09d}"
        return Account(account_id, account_type, customer_id, name, region, bank_id, industry)


def build_population(
    rng: random.Random, factory: AccountFactory, individuals: int, businesses: int
) -> Population:
    person_accounts = [_open_person(rng, factory) for _ in range(individuals)]
    business_list = [
        _open_business(rng, factory, i) for i in range(max(businesses, MIN_BUSINESSES))
    ]
    companies = [
        Account(
            f"EXT-CORP-{i:04d}",
            "corporate",
            "",
            name,
            _company_region(rng),
            rng.choice(pools()["external_banks"]),
        )
        for i, name in enumerate(pools()["external_companies"])
    ]
    platforms = [
        Account(f"{code}-SETTLE", "corporate", "", name, "310115", code)
        for name, code in pools()["payment_platforms"]
    ]
    treasury = Account(
        "EXT-TREASURY-5305", "corporate", "", "国家金库保山市中心支库", "530502", "PBOC"
    )
    by_sector: dict[str, list[Account]] = {}
    for b in business_list:
        by_sector.setdefault(b.sector, []).append(b.account)
    population = Population(
        persons=[Person(a) for a in person_accounts],
        businesses=business_list,
        merchants=[b.account for b in business_list if b.sector in MERCHANT_SECTORS],
        hospitals=by_sector["private_hospital"],
        property_sellers=(
            by_sector["real_estate_developer"] + by_sector.get("real_estate_agency", [])
        ),
        companies=companies,
        platforms=platforms,
        treasury=treasury,
        by_sector=by_sector,
    )
    _link_businesses(rng, population)
    employers = [b for b in business_list if b.sector in EMPLOYER_SECTORS]
    for person in population.persons:
        _link_person(rng, person, population, employers)
    return population


def add_lookalikes(
    rng: random.Random, factory: AccountFactory, population: Population, count: int
) -> None:
    """Open ``count`` look-alike businesses (feeds.lookalikes) at the simulated banks."""

    def open_account(account_type: str, name: str, industry: str) -> Account:
        return factory.open(rng, account_type, name, pick_region(rng, 0.92, 0.06), industry)

    persons = [p.account for p in population.persons]
    population.lookalikes = build_lookalikes(
        rng, open_account, persons, population.companies, count
    )


def _open_person(rng: random.Random, factory: AccountFactory) -> Account:
    return factory.open(rng, "individual", person_name(rng), pick_region(rng, 0.86, 0.11))


def _open_business(rng: random.Random, factory: AccountFactory, index: int) -> Business:
    if index < len(GUARANTEED_SECTORS):
        sector = GUARANTEED_SECTORS[index]
    else:
        sector = rng.choices(list(SECTOR_WEIGHTS), list(SECTOR_WEIGHTS.values()))[0]
    region = pick_region(rng, 0.9, 0.08)
    account = factory.open(rng, "corporate", company_name(rng, sector), region, sector)
    return Business(account, sector, payday=rng.choice((5, 10, 15, 20, 25)))


def _company_region(rng: random.Random) -> str:
    return pick_region(rng, 0.2, 0.4)


def _link_businesses(rng: random.Random, population: Population) -> None:
    accounts = [b.account for b in population.businesses]
    for business in population.businesses:
        n = rng.randint(1, 4)
        business.suppliers = tuple(
            rng.choice(accounts) if rng.random() < 0.5 else rng.choice(population.companies)
            for _ in range(n)
        )
        business.suppliers = tuple(s for s in business.suppliers if s != business.account) or (
            population.companies[0],
        )
        if population.persons:
            business.owner = rng.choice(population.persons).account


def _link_person(
    rng: random.Random, person: Person, population: Population, employers: list[Business]
) -> None:
    _assign_employer(rng, person, employers)
    person.spend_rate = rng.lognormvariate(0.0, 0.5) * 0.45
    if population.merchants:
        person.favourites = tuple(rng.choice(population.merchants) for _ in range(3))
    person.family = tuple(
        rng.choice(population.persons).account
        if rng.random() < 0.6
        else external_individual(rng, 0.6, 0.3)
        for _ in range(rng.randint(1, 3))
    )
    if rng.random() < 0.25:
        person.landlord = (
            rng.choice(population.persons).account
            if rng.random() < 0.5
            else external_individual(rng, 0.9, 0.1)
        )
        person.rent_fen = rng.randrange(600, 3100, 100) * 100
        person.rent_day = rng.randint(1, 28)
    _assign_monthly_fee(rng, person, population)


def _assign_employer(rng: random.Random, person: Person, employers: list[Business]) -> None:
    u = rng.random()
    if u < 0.45 and employers:
        business = rng.choice(employers)
        business.employees += 1
        person.employer, person.payday = business.account, business.payday
        person.salary_fen = rng.randrange(2500, 9000, 50) * 100
    elif u < 0.80:
        person.employer = rng.choice(EXTERNAL_PAYROLL)
        person.payday = 15
        person.salary_fen = rng.randrange(1800, 8000, 50) * 100


def _assign_monthly_fee(rng: random.Random, person: Person, population: Population) -> None:
    u = rng.random()
    if u < 0.10:
        sector = "private_school"
        person.fee_fen = rng.randrange(800, 6100, 100) * 100
    elif u < 0.13:
        sector = "elderly_care"
        person.fee_fen = rng.randrange(1500, 4600, 100) * 100
    else:
        return
    person.fee_payee = rng.choice(population.by_sector[sector])
    person.fee_memo = FEE_COLLECTOR_SECTORS[sector]
    person.fee_day = rng.randint(1, 8)  # fees are due early in the month
