"""Shared types and constants of the bank-report simulator."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from itertools import accumulate
from pathlib import Path
from typing import Any

from schemas.glossary import BAOSHAN_COUNTIES as BAOSHAN_COUNTY_NAMES
from schemas.glossary import BEIJING

CST = BEIJING  # the simulated banks' clocks
CASH_ACCOUNT = "CASH"
FOREIGN_REGION = "000000"  # counterparties outside mainland China
DATA_DIR = Path(__file__).resolve().parent / "data"

BAOSHAN_COUNTIES: tuple[str, ...] = tuple(BAOSHAN_COUNTY_NAMES)  # region codes
# 隆阳 is the city seat, 腾冲 the tourist town; the rural counties are smaller.
BAOSHAN_WEIGHTS: tuple[float, ...] = (0.40, 0.12, 0.10, 0.13, 0.25)
# Kunming, Qujing, Dali, Ruili, Lijiang, Pu'er, Lincang, Dehong.
OTHER_YUNNAN: tuple[str, ...] = (
    "530102",
    "530302",
    "532901",
    "533102",
    "530702",
    "530802",
    "530902",
    "533103",
)
# Chengdu, Guangzhou, Hangzhou, Chongqing, Guiyang, Beijing, Shenzhen, Changsha.
OTHER_PROVINCES: tuple[str, ...] = (
    "510104",
    "440106",
    "330106",
    "500103",
    "520102",
    "110105",
    "440305",
    "430102",
)

# Large-value report thresholds in fen (PBOC 2016 rules, single transaction).
LTR_CASH_FEN = 5_000_000
LTR_CORPORATE_FEN = 200_000_000
LTR_INDIVIDUAL_FEN = 50_000_000
LTR_INDIVIDUAL_CROSS_BORDER_FEN = 20_000_000
CASH_CHANNELS = frozenset({"cash", "atm"})


@cache
def pools() -> dict[str, Any]:
    """Name and memo pools, loaded once from feeds/data/pools.json."""
    with open(DATA_DIR / "pools.json", encoding="utf-8") as f:
        loaded: dict[str, Any] = json.load(f)
    return loaded


@dataclass(frozen=True, slots=True)
class Account:
    """A bank account; bank_id outside the simulated banks means an external account."""

    account_id: str
    account_type: str  # "individual" | "corporate"
    customer_id: str
    customer_name: str
    region: str
    bank_id: str
    industry: str | None = None


@dataclass(slots=True)
class Transfer:
    """One movement of money; becomes up to two reports (payer "out", payee "in")."""

    time: datetime
    payer: Account
    payee: Account
    amount_fen: int
    channel: str
    purpose: str
    scheme_id: str | None = None
    str_payer: tuple[str, ...] = field(default=())
    str_payee: tuple[str, ...] = field(default=())


def cash_party(holder: Account) -> Account:
    """The counterparty of a cash deposit or withdrawal: the holder's own branch counter."""
    return Account(CASH_ACCOUNT, holder.account_type, "", "现金", holder.region, holder.bank_id)


def pick_region(rng: random.Random, baoshan: float, yunnan: float) -> str:
    """A region code: Baoshan county with probability baoshan, other Yunnan with yunnan."""
    u = rng.random()
    if u < baoshan:
        return rng.choices(BAOSHAN_COUNTIES, BAOSHAN_WEIGHTS)[0]
    if u < baoshan + yunnan:
        return rng.choice(OTHER_YUNNAN)
    return rng.choice(OTHER_PROVINCES)


def person_name(rng: random.Random) -> str:
    p = pools()
    given = "".join(rng.choice(p["given_chars"]) for _ in range(rng.choice((1, 2, 2))))
    return rng.choice(p["surnames"]) + given


def company_name(rng: random.Random, sector: str) -> str:
    p = pools()
    suffixes = p["sector_suffixes"].get(sector, p["sector_suffixes"]["other"])
    return rng.choice(p["places"]) + rng.choice(p["brand_words"]) + rng.choice(suffixes)


def external_individual(rng: random.Random, baoshan: float, yunnan: float) -> Account:
    """A fresh individual at a bank outside the simulation (only their counterpart is reported)."""
    card = f"62{rng.randrange(10**17):017d}"
    bank = rng.choice(pools()["external_banks"])
    region = pick_region(rng, baoshan, yunnan)
    return Account(card, "individual", "", person_name(rng), region, bank)


def moment(rng: random.Random, day_start: datetime, hour_weights: tuple[float, ...]) -> datetime:
    """A time on the day of day_start, the hour drawn from 24 weights."""
    hour = rng.choices(HOURS, cum_weights=_cumulative(hour_weights))[0]
    return day_start + timedelta(hours=hour, seconds=rng.randrange(3600))


HOURS = range(24)


@cache
def _cumulative(weights: tuple[float, ...]) -> tuple[float, ...]:
    """Running sums, so each draw skips re-adding the 24 weights."""
    return tuple(accumulate(weights))


def lognormal_fen(rng: random.Random, median_yuan: float, sigma: float, cap_yuan: float) -> int:
    """A positive amount in fen, log-normal around median_yuan, capped."""
    yuan = min(rng.lognormvariate(0.0, sigma) * median_yuan, cap_yuan)
    return max(100, int(yuan * 100))


def round_to(fen: int, step_yuan: int) -> int:
    step = step_yuan * 100
    return max(step, (fen // step) * step)


def poisson(rng: random.Random, lam: float) -> int:
    """Poisson draw by inversion; lam is small here (daily counts)."""
    threshold = rng.random()
    k, p = 0, pow(2.718281828459045, -lam)
    cumulative = p
    while threshold > cumulative and k < 200:
        k += 1
        p *= lam / k
        cumulative += p
    return k


# Hour-of-day weights (index = hour, CST).
HOURS_SHOPPING: tuple[float, ...] = (
    0.3,
    0.1,
    0.05,
    0.02,
    0.02,
    0.05,
    0.3,
    1.5,
    3,
    3,
    3.5,
    4,
    6,
    5,
    3.5,
    3.5,
    4,
    5,
    7,
    7,
    6,
    4.5,
    2.5,
    1,
)
HOURS_OFFICE: tuple[float, ...] = (
    0.0,
    0.0,
    0.0,
    0.0,
    0.0,
    0.0,
    0.0,
    0.2,
    2,
    6,
    7,
    6,
    2,
    2,
    6,
    6,
    6,
    4,
    1,
    0.3,
    0.1,
    0.05,
    0.0,
    0.0,
)
HOURS_PERSONAL: tuple[float, ...] = (
    0.4,
    0.15,
    0.05,
    0.03,
    0.03,
    0.05,
    0.3,
    1.5,
    3,
    4,
    4,
    4,
    4,
    3,
    3,
    3,
    3,
    3.5,
    4,
    5,
    5,
    4,
    3,
    1.5,
)
# Schemes: heavier evenings and night (00:00-06:00), as collectors sweep and solicit late.
HOURS_SCHEME: tuple[float, ...] = (
    2.5,
    2,
    1.6,
    1.2,
    1,
    1,
    0.8,
    1.5,
    3,
    4,
    4,
    4,
    3.5,
    3,
    3.5,
    4,
    4,
    4,
    4.5,
    5,
    5.5,
    5,
    4.5,
    3.5,
)
