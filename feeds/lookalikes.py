"""Legitimate businesses that look like fundraising, each with the rhythm of its trade.

A private school collects tuition from hundreds of parents in round sums at the start of a
term; a hospital takes money from patients every day; a property developer takes presale
deposits (认筹金, 定金) from many buyers during a launch and passes them to its construction and
loan accounts; a payroll account receives one large transfer and pays hundreds of people; a
microloan lender pays out to many and collects repayments from the same people; a registered
private fund takes large sums from a few qualified investors and pays them distributions; a
care home collects monthly fees; a supermarket takes small sums daily and pays suppliers; an
e-commerce shop sells to the whole country and refunds some buyers; an agricultural purchaser
pays many farmers in the harvest season; a merchant takes QR payments from passers-by.

Each look-alike's counterparties (parents, patients, buyers, borrowers, staff, farmers) are a
fixed roster, so the same people come back month after month. A roster member is either a
person of the simulated population or an external individual derived from a hash of
(look-alike, member index): nothing is stored per member, so thousands of look-alikes with
hundreds of members each cost no memory.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from feeds.model import (
    BAOSHAN_COUNTIES,
    HOURS_OFFICE,
    HOURS_PERSONAL,
    HOURS_SHOPPING,
    OTHER_PROVINCES,
    OTHER_YUNNAN,
    Account,
    Transfer,
    cash_party,
    company_name,
    lognormal_fen,
    moment,
    poisson,
    pools,
)

# kind -> (industry code on the account, weight in the mix, roster size range,
#          (Baoshan, other Yunnan) shares of external roster members)
KINDS: dict[str, tuple[str, float, tuple[int, int], tuple[float, float]]] = {
    "private_school": ("private_school", 8, (150, 600), (0.95, 0.04)),
    "hospital": ("private_hospital", 5, (300, 1500), (0.85, 0.12)),
    "property_developer": ("real_estate_developer", 5, (80, 400), (0.75, 0.18)),
    "payroll": ("manufacturing", 9, (80, 500), (0.9, 0.08)),
    "microloan": ("microloan", 3, (100, 400), (0.95, 0.05)),
    "private_fund": ("private_fund", 2, (8, 40), (0.5, 0.3)),
    "care_home": ("elderly_care", 5, (30, 200), (0.8, 0.15)),
    "supermarket": ("retail", 14, (300, 1500), (0.95, 0.04)),
    "ecommerce": ("ecommerce", 14, (500, 3000), (0.2, 0.2)),
    "agri_purchaser": ("agriculture", 12, (60, 400), (1.0, 0.0)),
    "merchant": ("catering", 23, (200, 1200), (0.75, 0.15)),
}
LOCAL_MEMBER_SHARE = 0.3  # of a roster, people of the simulated population (both sides report)
TERM_STARTS = ((9, 1), (3, 1))  # autumn and spring terms: tuition is paid in the first 10 days
TERM_DAYS = 10
COFFEE_SEASON = frozenset({11, 12, 1, 2, 3})  # Baoshan's coffee harvest; tea in April-May
TEA_SEASON = frozenset({4, 5})
LAUNCH_CYCLE_DAYS = 70  # a developer opens a new building for presale about every 70 days
LAUNCH_DAYS = 21
MEMOS: dict[str, tuple[str, ...]] = {
    "tuition": ("学费", "学杂费", "秋季学费", "春季学费", "学费住宿费", "报名费"),
    "meals": ("伙食费", "餐费", "校车费"),
    "patient": ("医疗费", "门诊费", "住院押金", "检查费", "药费", ""),
    "insurance": ("医保结算款", "医保基金拨付"),
    "presale": ("认筹金", "购房认筹", "定金", "诚意金"),
    "down_payment": ("首付款", "购房款", "房款"),
    "refund_presale": ("退认筹金", "退诚意金"),
    "construction": ("工程款", "工程进度款"),
    "loan_repay": ("还贷", "归还开发贷款", "贷款本息"),
    "payroll_in": ("代发工资", "工资款", "发放工资"),
    "salary": ("工资", "代发工资", "绩效", "工资奖金"),
    "loan_out": ("放款", "贷款发放", "借款发放"),
    "loan_in": ("还款", "贷款还款", "分期还款", "还本付息"),
    "fund_in": ("认购款", "私募基金认购款", "基金认购", "追加认购"),
    "fund_out": ("基金分红", "赎回款", "收益分配"),
    "custody": ("托管户划款", "投资款划转"),
    "care_fee": ("养老服务费", "床位费", "护理费", "伙食费"),
    "care_deposit": ("入住押金", "押金"),
    "shop": ("货款", "扫码付款", "", "购物"),
    "topup": ("储值卡充值", "会员卡充值"),
    "order": ("货款", "订单支付", "商品款", ""),
    "refund": ("退款", "订单退款", "售后退款"),
    "farm": ("咖啡鲜果款", "收购款", "茶叶款", "货款"),
    "produce_sale": ("咖啡豆货款", "货款", "茶叶货款"),
    "supplier": ("货款", "采购款", "进货款"),
    "settlement": ("POS结算", "收单结算款", "商户结算"),
}


@dataclass(slots=True)
class Lookalike:
    kind: str
    account: Account
    serial: int
    roster: int
    local: tuple[Account, ...]  # roster members 0..len-1 are these population people
    regions: tuple[float, float]
    suppliers: tuple[Account, ...]
    staff: int
    phase: int  # days: offsets launches, seasons and paydays between businesses
    scale: float  # larger and smaller businesses of the same kind
    # member index -> day of month (1..28) of its monthly payment, for monthly rhythms
    by_day: dict[int, list[int]] = field(default_factory=dict)


def _h(*parts: object) -> int:
    key = "/".join(map(str, parts)).encode()
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big")


def member(lk: Lookalike, index: int, salt: str = "m") -> Account:
    """Roster member ``index`` (stable across days); salt "s" is the staff roster."""
    if salt == "m" and index < len(lk.local):
        return lk.local[index]
    h = _h(lk.serial, salt, index)
    p = pools()
    u = (h & 0xFFFF) / 65536
    baoshan, yunnan = lk.regions if salt == "m" else (0.92, 0.08)
    if u < baoshan:
        region = BAOSHAN_COUNTIES[(h >> 16) % len(BAOSHAN_COUNTIES)]
    elif u < baoshan + yunnan:
        region = OTHER_YUNNAN[(h >> 16) % len(OTHER_YUNNAN)]
    else:
        region = OTHER_PROVINCES[(h >> 16) % len(OTHER_PROVINCES)]
    surname = p["surnames"][(h >> 20) % len(p["surnames"])]
    given = p["given_chars"][(h >> 28) % len(p["given_chars"])]
    given2 = p["given_chars"][(h >> 36) % len(p["given_chars"])] if (h >> 44) & 1 else ""
    bank = p["external_banks"][(h >> 45) % len(p["external_banks"])]
    card = f"62{h % 10**17:017d}"
    return Account(card, "individual", "", surname + given + given2, region, bank)


def build_lookalikes(
    rng: random.Random,
    open_account: Callable[[str, str, str], Account],
    persons: list[Account],
    companies: list[Account],
    count: int,
) -> list[Lookalike]:
    """``count`` look-alikes in the KINDS mix; open_account(type, name, industry) opens one."""
    kinds = list(KINDS)
    weights = [KINDS[k][1] for k in kinds]
    result = []
    for serial in range(count):
        kind = kinds[serial] if serial < len(kinds) else rng.choices(kinds, weights)[0]
        industry, _, (low, high), regions = KINDS[kind]
        account = open_account("corporate", company_name(rng, industry), industry)
        roster = rng.randint(low, high)
        local_n = min(int(roster * LOCAL_MEMBER_SHARE * rng.random()), len(persons))
        local = tuple(rng.sample(persons, local_n)) if local_n else ()
        lk = Lookalike(
            kind=kind,
            account=account,
            serial=_h(account.account_id),
            roster=roster,
            local=local,
            regions=regions,
            suppliers=tuple(rng.choice(companies) for _ in range(rng.randint(2, 6))),
            staff=rng.randint(10, 120),
            phase=rng.randrange(LAUNCH_CYCLE_DAYS),
            scale=rng.lognormvariate(0.0, 0.4),
        )
        if kind in ("care_home", "microloan", "private_school"):
            for i in range(roster):
                lk.by_day.setdefault(1 + _h(lk.serial, "d", i) % 28, []).append(i)
        result.append(lk)
    return result


def _t(
    rng: random.Random,
    day_start: datetime,
    hours: tuple[float, ...],
    payer: Account,
    payee: Account,
    fen: int,
    channel: str,
    memo_kind: str,
) -> Transfer:
    return Transfer(
        moment(rng, day_start, hours), payer, payee, fen, channel, rng.choice(MEMOS[memo_kind])
    )


def _round_yuan(rng: random.Random, choices: tuple[int, ...]) -> int:
    return rng.choice(choices) * 100


def lookalike_day(
    rng: random.Random, lk: Lookalike, day_start: datetime, out: list[Transfer]
) -> None:
    """One day of a look-alike's own activity, appended to out."""
    DAY_FUNCS[lk.kind](rng, lk, day_start, out)
    _pay_staff(rng, lk, day_start, out)


def _pay_staff(rng: random.Random, lk: Lookalike, day_start: datetime, out: list[Transfer]) -> None:
    """Monthly salaries to the look-alike's own staff, on its payday; payroll accounts are
    handled by their kind (their roster is the staff)."""
    if lk.kind == "payroll" or day_start.day != 5 + lk.phase % 20:
        return
    for i in range(lk.staff):
        fen = (3000 + _h(lk.serial, "sal", i) % 6000) * 100 + rng.randrange(0, 50) * 100
        out.append(
            _t(
                rng,
                day_start,
                HOURS_OFFICE,
                lk.account,
                member(lk, i, "s"),
                fen,
                "transfer",
                "salary",
            )
        )


def _school(rng: random.Random, lk: Lookalike, day_start: datetime, out: list[Transfer]) -> None:
    month, dom = day_start.month, day_start.day
    in_term_start = any(month == m and d <= dom < d + TERM_DAYS for m, d in TERM_STARTS)
    if in_term_start:
        # Every parent pays once in the first TERM_DAYS days, most in the first three.
        for i in range(lk.roster):
            pay_day = 1 + min(TERM_DAYS - 1, int((_h(lk.serial, "t", i) % 1000 / 1000) ** 2 * 10))
            if pay_day == dom:
                fee = (8_000, 12_000, 15_000, 18_000, 25_000)[_h(lk.serial, "f", i) % 5]
                out.append(
                    _t(
                        rng,
                        day_start,
                        HOURS_PERSONAL,
                        member(lk, i),
                        lk.account,
                        fee * 100,
                        rng.choice(("transfer", "online", "pos")),
                        "tuition",
                    )
                )
    for i in lk.by_day.get(dom, ()):
        if i % 3 == 0:  # a third of the families pay monthly meals or the school bus
            out.append(
                _t(
                    rng,
                    day_start,
                    HOURS_PERSONAL,
                    member(lk, i),
                    lk.account,
                    _round_yuan(rng, (300, 450, 600, 800)),
                    "online",
                    "meals",
                )
            )
    _suppliers(rng, lk, day_start, out, 0.3, 20_000)


def _hospital(rng: random.Random, lk: Lookalike, day_start: datetime, out: list[Transfer]) -> None:
    patients = poisson(rng, 12 * lk.scale)
    for _ in range(patients):
        i = rng.randrange(lk.roster)
        out.append(
            _t(
                rng,
                day_start,
                HOURS_OFFICE,
                member(lk, i),
                lk.account,
                lognormal_fen(rng, 350, 1.1, 80_000),
                rng.choice(("pos", "online", "transfer")),
                "patient",
            )
        )
    _settlement(rng, lk, day_start, out, 30_000)
    if rng.random() < 0.6:
        out.append(
            _t(
                rng,
                day_start,
                HOURS_OFFICE,
                cash_party(lk.account),
                lk.account,
                lognormal_fen(rng, 8_000 * lk.scale, 0.6, 300_000),
                "cash",
                "patient",
            )
        )
    if day_start.day == 20:  # the medical-insurance fund settles the month's claims
        out.append(
            _t(
                rng,
                day_start,
                HOURS_OFFICE,
                INSURANCE_FUND,
                lk.account,
                lognormal_fen(rng, 600_000 * lk.scale, 0.5, 20_000_000),
                "transfer",
                "insurance",
            )
        )
    _suppliers(rng, lk, day_start, out, 0.6, 60_000)


PRESALE_DEPOSITS = (20_000, 50_000, 50_000, 100_000)  # yuan


def _developer(rng: random.Random, lk: Lookalike, day_start: datetime, out: list[Transfer]) -> None:
    launch_day = (day_start.toordinal() + lk.phase) % LAUNCH_CYCLE_DAYS
    batch = (day_start.toordinal() + lk.phase) // LAUNCH_CYCLE_DAYS
    if launch_day < LAUNCH_DAYS:
        # Buyers of this launch: a slice of the roster; each pays 认筹金 early in the launch,
        # half of them a down payment two weeks later, a fifth get the 认筹金 back.
        for i in range(lk.roster):
            if _h(lk.serial, "b", batch, i) % 3:
                continue
            first = int((_h(lk.serial, "bd", batch, i) % 1000 / 1000) ** 1.5 * 10)
            buyer = member(lk, i)
            # The buyer's 认筹金, the same sum when it is refunded.
            deposit = PRESALE_DEPOSITS[_h(lk.serial, "bf", batch, i) % len(PRESALE_DEPOSITS)]
            if first == launch_day:
                fen = deposit * 100
                out.append(
                    _t(rng, day_start, HOURS_OFFICE, buyer, lk.account, fen, "transfer", "presale")
                )
            elif first + 11 == launch_day:
                if i % 5 == 0:
                    fen = deposit * 100
                    out.append(
                        _t(
                            rng,
                            day_start,
                            HOURS_OFFICE,
                            lk.account,
                            buyer,
                            fen,
                            "transfer",
                            "refund_presale",
                        )
                    )
                elif i % 2 == 0:
                    fen = rng.randrange(150_000, 600_000) * 100
                    out.append(
                        _t(
                            rng,
                            day_start,
                            HOURS_OFFICE,
                            buyer,
                            lk.account,
                            fen,
                            "transfer",
                            "down_payment",
                        )
                    )
        if launch_day % 3 == 2:  # presale money moves on to construction and loan accounts
            fen = lognormal_fen(rng, 1_500_000 * lk.scale, 0.5, 30_000_000)
            kind = "construction" if rng.random() < 0.6 else "loan_repay"
            out.append(
                _t(
                    rng,
                    day_start,
                    HOURS_OFFICE,
                    lk.account,
                    rng.choice(lk.suppliers),
                    fen,
                    "transfer",
                    kind,
                )
            )
    elif rng.random() < 0.1:
        buyer = member(lk, rng.randrange(lk.roster))
        fen = rng.randrange(150_000, 900_000) * 100
        out.append(
            _t(rng, day_start, HOURS_OFFICE, buyer, lk.account, fen, "transfer", "down_payment")
        )
    _suppliers(rng, lk, day_start, out, 0.2, 300_000)


def _payroll(rng: random.Random, lk: Lookalike, day_start: datetime, out: list[Transfer]) -> None:
    payday = 5 + lk.phase % 20
    if day_start.day == payday - 1:
        total = sum((3000 + _h(lk.serial, "sal", i) % 5000) for i in range(lk.roster)) * 100
        out.append(
            _t(
                rng,
                day_start,
                HOURS_OFFICE,
                lk.suppliers[0],
                lk.account,
                total + rng.randrange(0, 1000) * 100,
                "transfer",
                "payroll_in",
            )
        )
    elif day_start.day == payday:
        for i in range(lk.roster):
            fen = (3000 + _h(lk.serial, "sal", i) % 5000) * 100 + rng.randrange(0, 300) * 100
            out.append(
                _t(
                    rng,
                    day_start,
                    HOURS_OFFICE,
                    lk.account,
                    member(lk, i),
                    fen,
                    "transfer",
                    "salary",
                )
            )


def _microloan(rng: random.Random, lk: Lookalike, day_start: datetime, out: list[Transfer]) -> None:
    # Borrower i takes a loan on its day of the month in the month where (month + i) % 12 == 0
    # and repays in the eleven months after: the same people receive and pay back.
    month_index = day_start.year * 12 + day_start.month
    for i in lk.by_day.get(day_start.day, ()):
        principal = (10 + _h(lk.serial, "p", i) % 190) * 100_000  # 10k-200k yuan
        borrower = member(lk, i)
        cycle = (month_index + i) % 12
        if cycle == 0:
            out.append(
                _t(
                    rng,
                    day_start,
                    HOURS_OFFICE,
                    lk.account,
                    borrower,
                    principal,
                    "transfer",
                    "loan_out",
                )
            )
        else:
            installment = principal // 11 + principal * 18 // 1000  # 1.8 % a month
            out.append(
                _t(
                    rng,
                    day_start,
                    HOURS_PERSONAL,
                    borrower,
                    lk.account,
                    installment,
                    rng.choice(("transfer", "online")),
                    "loan_in",
                )
            )
    if rng.random() < 0.03:  # a bank credit line or the shareholders fund the lender
        out.append(
            _t(
                rng,
                day_start,
                HOURS_OFFICE,
                lk.suppliers[0],
                lk.account,
                _round_yuan(rng, (1_000_000, 2_000_000, 5_000_000)),
                "transfer",
                "loan_out",
            )
        )


def _private_fund(
    rng: random.Random, lk: Lookalike, day_start: datetime, out: list[Transfer]
) -> None:
    # Subscriptions: each qualified investor (>= 1 million yuan) once in an opening window,
    # then quarterly distributions to the same investors; money goes to the custodian.
    opening = (day_start.toordinal() + lk.phase) % 90
    for i in range(lk.roster):
        if opening == _h(lk.serial, "o", i) % 20 and _h(lk.serial, "y", i, day_start.year) % 4 == 0:
            fen = _round_yuan(rng, (1_000_000, 1_000_000, 2_000_000, 3_000_000, 5_000_000))
            out.append(
                _t(
                    rng,
                    day_start,
                    HOURS_OFFICE,
                    member(lk, i),
                    lk.account,
                    fen,
                    "transfer",
                    "fund_in",
                )
            )
    if opening == 25:
        out.append(
            _t(
                rng,
                day_start,
                HOURS_OFFICE,
                lk.account,
                lk.suppliers[0],
                lognormal_fen(rng, 5_000_000, 0.5, 100_000_000),
                "transfer",
                "custody",
            )
        )
    if opening == 60:
        for i in range(lk.roster):
            fen = (50 + _h(lk.serial, "dv", i) % 300) * 100_00 + rng.randrange(100) * 100
            out.append(
                _t(
                    rng,
                    day_start,
                    HOURS_OFFICE,
                    lk.account,
                    member(lk, i),
                    fen,
                    "transfer",
                    "fund_out",
                )
            )


def _care_home(rng: random.Random, lk: Lookalike, day_start: datetime, out: list[Transfer]) -> None:
    for i in lk.by_day.get(day_start.day, ()):
        if i < lk.roster and day_start.day <= 28:
            fee = (2_500 + (_h(lk.serial, "cf", i) % 8) * 500) * 100
            out.append(
                _t(
                    rng,
                    day_start,
                    HOURS_PERSONAL,
                    member(lk, i),
                    lk.account,
                    fee,
                    rng.choice(("transfer", "online")),
                    "care_fee",
                )
            )
    if rng.random() < 0.05:  # a new resident's deposit
        out.append(
            _t(
                rng,
                day_start,
                HOURS_OFFICE,
                member(lk, rng.randrange(lk.roster)),
                lk.account,
                _round_yuan(rng, (10_000, 20_000, 30_000, 50_000)),
                "transfer",
                "care_deposit",
            )
        )
    _suppliers(rng, lk, day_start, out, 0.3, 15_000)


def _supermarket(
    rng: random.Random, lk: Lookalike, day_start: datetime, out: list[Transfer]
) -> None:
    weekend = day_start.weekday() >= 5
    for _ in range(poisson(rng, 8 * lk.scale * (1.6 if weekend else 1.0))):
        out.append(
            _t(
                rng,
                day_start,
                HOURS_SHOPPING,
                member(lk, rng.randrange(lk.roster)),
                lk.account,
                lognormal_fen(rng, 80, 0.9, 5_000),
                rng.choice(("pos", "online")),
                "shop",
            )
        )
    for _ in range(poisson(rng, 0.5)):
        out.append(
            _t(
                rng,
                day_start,
                HOURS_SHOPPING,
                member(lk, rng.randrange(lk.roster)),
                lk.account,
                _round_yuan(rng, (200, 500, 1_000, 2_000)),
                "online",
                "topup",
            )
        )
    _settlement(rng, lk, day_start, out, 15_000)
    _suppliers(rng, lk, day_start, out, 1.5, 20_000)


def _ecommerce(rng: random.Random, lk: Lookalike, day_start: datetime, out: list[Transfer]) -> None:
    orders = poisson(rng, 7 * lk.scale)
    for _ in range(orders):
        i = rng.randrange(lk.roster)
        out.append(
            _t(
                rng,
                day_start,
                HOURS_PERSONAL,
                member(lk, i),
                lk.account,
                lognormal_fen(rng, 150, 0.8, 10_000),
                "online",
                "order",
            )
        )
    for _ in range(poisson(rng, 0.4 * lk.scale)):  # refunds go back to earlier buyers
        out.append(
            _t(
                rng,
                day_start,
                HOURS_OFFICE,
                lk.account,
                member(lk, rng.randrange(min(lk.roster, 200))),
                lognormal_fen(rng, 120, 0.8, 5_000),
                "online",
                "refund",
            )
        )
    _settlement(rng, lk, day_start, out, 5_000)
    _suppliers(rng, lk, day_start, out, 0.5, 10_000)


def _agri(rng: random.Random, lk: Lookalike, day_start: datetime, out: list[Transfer]) -> None:
    season = COFFEE_SEASON if lk.serial % 3 else TEA_SEASON
    if day_start.month in season:
        for _ in range(poisson(rng, 10 * lk.scale)):
            out.append(
                _t(
                    rng,
                    day_start,
                    HOURS_OFFICE,
                    lk.account,
                    member(lk, rng.randrange(lk.roster)),
                    lognormal_fen(rng, 2_500, 0.9, 100_000),
                    "transfer",
                    "farm",
                )
            )
        if rng.random() < 0.2:  # a roaster or trader in another province buys a lot
            out.append(
                _t(
                    rng,
                    day_start,
                    HOURS_OFFICE,
                    lk.suppliers[0],
                    lk.account,
                    lognormal_fen(rng, 300_000 * lk.scale, 0.6, 10_000_000),
                    "transfer",
                    "produce_sale",
                )
            )
    elif rng.random() < 0.05:
        out.append(
            _t(
                rng,
                day_start,
                HOURS_OFFICE,
                lk.suppliers[0],
                lk.account,
                lognormal_fen(rng, 100_000, 0.6, 5_000_000),
                "transfer",
                "produce_sale",
            )
        )


def _merchant(rng: random.Random, lk: Lookalike, day_start: datetime, out: list[Transfer]) -> None:
    for _ in range(poisson(rng, 6 * lk.scale)):
        out.append(
            _t(
                rng,
                day_start,
                HOURS_SHOPPING,
                member(lk, rng.randrange(lk.roster)),
                lk.account,
                lognormal_fen(rng, 60, 0.9, 3_000),
                "pos",
                "shop",
            )
        )
    _suppliers(rng, lk, day_start, out, 0.4, 5_000)


def _settlement(
    rng: random.Random, lk: Lookalike, day_start: datetime, out: list[Transfer], median_yuan: float
) -> None:
    """The card acquirer's daily settlement of the day's card takings: one credit."""
    out.append(
        _t(
            rng,
            day_start,
            HOURS_OFFICE,
            ACQUIRER,
            lk.account,
            lognormal_fen(rng, median_yuan * lk.scale, 0.5, 2_000_000),
            "transfer",
            "settlement",
        )
    )


def _suppliers(
    rng: random.Random,
    lk: Lookalike,
    day_start: datetime,
    out: list[Transfer],
    rate: float,
    median_yuan: float,
) -> None:
    for _ in range(poisson(rng, rate)):
        out.append(
            _t(
                rng,
                day_start,
                HOURS_OFFICE,
                lk.account,
                rng.choice(lk.suppliers),
                lognormal_fen(rng, median_yuan * lk.scale, 1.0, 10_000_000),
                "transfer",
                "supplier",
            )
        )


ACQUIRER = Account(
    "UMS-ACQ-5305", "corporate", "", "银联商务股份有限公司云南分公司", "530102", "UMS"
)
INSURANCE_FUND = Account(
    "EXT-MEDINS-5305", "corporate", "", "保山市医疗保障基金结算户", "530502", "PSBC"
)
DAY_FUNCS: dict[str, Callable[[random.Random, Lookalike, datetime, list[Transfer]], None]] = {
    "private_school": _school,
    "hospital": _hospital,
    "property_developer": _developer,
    "payroll": _payroll,
    "microloan": _microloan,
    "private_fund": _private_fund,
    "care_home": _care_home,
    "supermarket": _supermarket,
    "ecommerce": _ecommerce,
    "agri_purchaser": _agri,
    "merchant": _merchant,
}
