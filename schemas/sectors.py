"""Sector codes of the Baoshan plan: its monitoring category (二) and lead department (三).

The report schema's ``industry`` enum lists the same codes (a unit test holds them equal).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Department:
    code: str  # used in topic names: fundwatch.leads.dept.<code>
    name_zh: str
    name_en: str


FINANCE_OFFICE = Department("jrb", "市金融办", "City financial affairs office")
PBOC = Department("pboc", "人民银行保山市中心支行", "PBOC Baoshan central sub-branch")
CBRC = Department("cbrc", "银监保山监管分局", "CBRC Baoshan branch")
FINANCE_BUREAU = Department("czj", "市财政局", "City finance bureau")
COMMERCE_BUREAU = Department("swj", "市商务局", "City commerce bureau")
AIC = Department("gsj", "市工商局", "City administration for industry and commerce")
HOUSING_BUREAU = Department(
    "zjj", "市住房城乡建设局", "City housing and urban-rural development bureau"
)
AGRICULTURE_BUREAU = Department("nyj", "市农业局", "City agriculture bureau")
CIVIL_AFFAIRS = Department("mzj", "市民政局", "City civil affairs bureau")
EDUCATION_BUREAU = Department("jyj", "市教育局", "City education bureau")
HEALTH_COMMISSION = Department("wjw", "市卫生计生委", "City health and family planning commission")
SCIENCE_BUREAU = Department("kjj", "市科技局", "City science and technology bureau")
ANTI_FRAUD_OFFICE = Department("dfb", "市打非办", "City office against illegal fundraising")

DEPARTMENTS = (
    FINANCE_OFFICE,
    PBOC,
    CBRC,
    FINANCE_BUREAU,
    COMMERCE_BUREAU,
    AIC,
    HOUSING_BUREAU,
    AGRICULTURE_BUREAU,
    CIVIL_AFFAIRS,
    EDUCATION_BUREAU,
    HEALTH_COMMISSION,
    SCIENCE_BUREAU,
    ANTI_FRAUD_OFFICE,
)


@dataclass(frozen=True, slots=True)
class Sector:
    code: str
    seed_category: str  # the plan's monitoring category, 二(一) .. 二(八); "" outside its scope
    department: Department


def _sectors(category: str, department: Department, *codes: str) -> list[Sector]:
    return [Sector(code, category, department) for code in codes]


SECTORS: dict[str, Sector] = {
    s.code: s
    for s in [
        *_sectors("(一) P2P/众筹", CBRC, "p2p_lending"),
        *_sectors("(一) 互联网金融", PBOC, "third_party_payment"),
        *_sectors(
            "(一)(二) 金融类机构",
            FINANCE_OFFICE,
            "equity_crowdfunding",
            "microloan",
            "private_fund",
            "financing_registration",
            "capital_management",
            "financial_services",
        ),
        *_sectors("(三) 交易场所", FINANCE_OFFICE, "trading_venue"),
        *_sectors("(四) 融资担保", FINANCE_BUREAU, "financing_guarantee"),
        *_sectors(
            "(四) 电商/典当/融资租赁", COMMERCE_BUREAU, "ecommerce", "pawn", "financial_leasing"
        ),
        *_sectors(
            "(五) 投资咨询/理财/寄卖",
            AIC,
            "investment_advisory",
            "wealth_management",
            "asset_management",
            "consignment",
        ),
        *_sectors("(六) 房地产", HOUSING_BUREAU, "real_estate_agency", "real_estate_developer"),
        *_sectors("(七) 农民专业合作社", AGRICULTURE_BUREAU, "farmer_cooperative"),
        *_sectors("(八) 养老", CIVIL_AFFAIRS, "elderly_care"),
        *_sectors("(八) 民办教育", EDUCATION_BUREAU, "private_school"),
        *_sectors("(八) 民营医疗", HEALTH_COMMISSION, "private_hospital"),
        *_sectors("(八) 高科技", SCIENCE_BUREAU, "high_tech"),
        *_sectors(
            "",
            ANTI_FRAUD_OFFICE,
            "retail",
            "manufacturing",
            "agriculture",
            "logistics",
            "catering",
            "construction",
            "other",
        ),
    ]
}
# Trading venues are not named in 三: they go to the financial office and to 打非办 as well.
EXTRA_DEPARTMENTS: dict[str, tuple[Department, ...]] = {"trading_venue": (ANTI_FRAUD_OFFICE,)}


def sector_of(code: str | None) -> Sector:
    """The sector of an industry code; unknown or missing codes go to 打非办."""
    return SECTORS.get(code or "other", SECTORS["other"])


def lead_routes(
    sector: str, lead_department: str, cross_prefecture: bool, cross_province_major: bool
) -> tuple[str, ...]:
    """Department codes whose topic (``<prefix>.leads.dept.<code>``) gets a lead (三, 五(五)).

    The sector's lead department always; 打非办 as well for a trading venue, and for a lead
    whose money crosses the prefecture or that is a cross-province major lead.
    """
    routes = [lead_department]
    routes += [d.code for d in EXTRA_DEPARTMENTS.get(sector, ())]
    if cross_prefecture or cross_province_major:
        routes.append(ANTI_FRAUD_OFFICE.code)
    return tuple(dict.fromkeys(routes))  # in order, once each
