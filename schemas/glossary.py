"""Every name a person reads, in Chinese and English, in one place; and how times and money
are shown.

The console, the CLI and the monthly report take their labels from here. Tables are keyed by
the code a record carries (a severity value, a sector code, a region code, a status value),
as plain strings: the enums that define the codes live with their records (``schemas.lead``,
``casework.lead_status``, ``models.watchlist``) and, being ``StrEnum``, look up here as their
values do. ``name(table, code, lang)`` gives one name; an unknown code is shown as itself.

Labels of one page's layout (a report's headings, a form's buttons) stay with that page.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta, timezone

from schemas.sectors import DEPARTMENTS

LANGUAGES = ("zh", "en")

# -- time ---------------------------------------------------------------------------------
# The plan is a local one: days, months and night hours are Beijing time's (UTC+8, no
# daylight saving). One zone, spelled three ways for three readers:
BEIJING = timezone(timedelta(hours=8), "UTC+8")  # for datetime
BEIJING_OFFSET_MS = 8 * 3_600_000  # for epoch milliseconds (features' day buckets)
BEIJING_IANA = "Asia/Shanghai"  # for the browser's Intl.DateTimeFormat and the docs


# -- money --------------------------------------------------------------------------------


def yuan(fen: int, places: int = 2) -> str:
    """An amount in fen as yuan with thousands separators: 1,234,567.80 (``places=0``:
    1,234,568)."""
    return f"{fen / 100:,.{places}f}"


def yuan_short(fen: int, lang: str = "zh") -> str:
    """An amount for a label: 万元 and 亿元 in Chinese, k and M yuan in English."""
    amount = fen / 100
    if lang == "zh":
        if amount >= 1e8:
            return f"{amount / 1e8:,.2f}亿元"
        if amount >= 1e4:
            return f"{amount / 1e4:,.1f}万元"
        return f"{amount:,.0f}元"
    if amount >= 1e6:
        return f"{amount / 1e6:,.2f}M yuan"
    if amount >= 1e3:
        return f"{amount / 1e3:,.1f}k yuan"
    return f"{amount:,.0f} yuan"


# -- names --------------------------------------------------------------------------------


def name(table: Mapping[str, tuple[str, str]], code: str, lang: str) -> str:
    """The Chinese (``lang="zh"``) or English name of ``code`` in a (zh, en) table; the code
    itself when the table does not know it."""
    names = table.get(code)
    if names is None:
        return code
    return names[0] if lang == "zh" else names[1]


def _zh(table: Mapping[str, tuple[str, str]]) -> dict[str, str]:
    return {code: names[0] for code, names in table.items()}


def _en(table: Mapping[str, tuple[str, str]]) -> dict[str, str]:
    return {code: names[1] for code, names in table.items()}


# Lead severities (schemas.lead.Severity values) and the two flags a lead or a scheme carries.
SEVERITY_NAMES: dict[str, tuple[str, str]] = {
    "general": ("一般", "general"),
    "major": ("重大", "major"),
    "case_related": ("涉案", "case-related"),
}
SEVERITY_NAMES_ZH = _zh(SEVERITY_NAMES)
SEVERITY_NAMES_EN = _en(SEVERITY_NAMES)
FLAG_NAMES: dict[str, tuple[str, str]] = {
    "cross_province_major": ("跨省重大", "cross-province major"),
    "cross_prefecture": ("跨州(市)", "cross-prefecture"),
    "watchlist_match": ("涉负面清单主体", "touches a listed entity"),
}

# How a lead was found (schemas.lead.LeadKind values).
LEAD_KIND_NAMES: dict[str, tuple[str, str]] = {
    "scored": ("评分线索", "scored lead"),
    "linked": ("关联线索", "linked lead"),
}

# The departments of the plan (三), by the code in their topic names.
DEPARTMENT_NAMES: dict[str, tuple[str, str]] = {d.code: (d.name_zh, d.name_en) for d in DEPARTMENTS}

# Industry codes (schemas.sectors.SECTORS; the report schema's industry enum).
ACCOUNT_TYPE_NAMES: dict[str, tuple[str, str]] = {
    "individual": ("个人", "personal"),
    "corporate": ("对公", "corporate"),
}
SECTOR_NAMES: dict[str, tuple[str, str]] = {
    "p2p_lending": ("P2P网络借贷", "P2P lending"),
    "third_party_payment": ("第三方支付", "third-party payment"),
    "equity_crowdfunding": ("股权众筹", "equity crowdfunding"),
    "microloan": ("小额贷款", "microloans"),
    "private_fund": ("私募基金", "private funds"),
    "financing_registration": ("融资登记", "financing registration"),
    "capital_management": ("资本管理", "capital management"),
    "financial_services": ("金融服务", "financial services"),
    "trading_venue": ("交易场所", "trading venues"),
    "financing_guarantee": ("融资担保", "financing guarantee"),
    "ecommerce": ("电子商务", "e-commerce"),
    "pawn": ("典当", "pawnbroking"),
    "financial_leasing": ("融资租赁", "financial leasing"),
    "investment_advisory": ("投资咨询", "investment advisory"),
    "wealth_management": ("理财", "wealth management"),
    "asset_management": ("资产管理", "asset management"),
    "consignment": ("寄卖", "consignment"),
    "real_estate_agency": ("房地产中介", "real estate agencies"),
    "real_estate_developer": ("房地产开发", "real estate developers"),
    "farmer_cooperative": ("农民专业合作社", "farmer cooperatives"),
    "elderly_care": ("养老服务", "elderly care"),
    "private_school": ("民办教育", "private schools"),
    "private_hospital": ("民营医疗", "private hospitals"),
    "high_tech": ("高新技术", "high tech"),
    "retail": ("零售", "retail"),
    "manufacturing": ("制造业", "manufacturing"),
    "agriculture": ("农业", "agriculture"),
    "logistics": ("物流", "logistics"),
    "catering": ("餐饮", "catering"),
    "construction": ("建筑业", "construction"),
    "other": ("其他", "other"),
}

# Counties. A lead names its county in Chinese (models.leads.county_of): one of Baoshan's
# five by region code, or a coarser area for money from elsewhere.
YUNNAN_PROVINCE = "53"  # the first two digits of a Yunnan region code
BAOSHAN_COUNTIES: dict[str, str] = {  # region code -> county, in the plan's order
    "530502": "隆阳区",
    "530521": "施甸县",
    "530523": "龙陵县",
    "530524": "昌宁县",
    "530581": "腾冲市",
}
OTHER_YUNNAN = "云南省其他地区"
OUTSIDE_YUNNAN = "省外"
COUNTY_NAMES: dict[str, tuple[str, str]] = {  # a county as a lead names it -> (zh, en)
    "隆阳区": ("隆阳区", "Longyang District"),
    "施甸县": ("施甸县", "Shidian County"),
    "龙陵县": ("龙陵县", "Longling County"),
    "昌宁县": ("昌宁县", "Changning County"),
    "腾冲市": ("腾冲市", "Tengchong City"),
    OTHER_YUNNAN: (OTHER_YUNNAN, "elsewhere in Yunnan"),
    OUTSIDE_YUNNAN: (OUTSIDE_YUNNAN, "outside Yunnan"),
}
COUNTY_NAMES_EN = _en(COUNTY_NAMES)


def county_of(region: str) -> str:
    """The county of a 6-digit region code, as leads and the monthly report name it."""
    if region in BAOSHAN_COUNTIES:
        return BAOSHAN_COUNTIES[region]
    return OTHER_YUNNAN if region.startswith(YUNNAN_PROVINCE) else OUTSIDE_YUNNAN


# A scheme's accounts by role (models.schemes), full and short (where each account is
# labelled inline), and the two directions a money trail is followed in (TrailDirection).
# A flow's account outside the scheme (no lead among those read) is named as a role would be.
OUTSIDE_ROLE = "outside"
ROLE_NAMES: dict[str, tuple[str, str]] = {
    "collector": ("归集账户", "collecting account"),
    "controller": ("控制账户", "controlling account"),
    "payout": ("返利账户", "payout account"),
}
OUTSIDE_ROLE_NAMES = ("无线索的账户", "account with no lead")
ROLE_NAMES_ZH = _zh(ROLE_NAMES)
ROLE_NAMES_EN = _en(ROLE_NAMES)
ROLE_SHORT_NAMES: dict[str, tuple[str, str]] = {
    "collector": ("归集", "collector"),
    "controller": ("控制", "controller"),
    "payout": ("返利", "payout"),
}
OUTSIDE_ROLE_SHORT_NAMES = ("外部", "outside")
DIRECTION_NAMES: dict[str, tuple[str, str]] = {
    "downstream": ("资金去向", "where the money went"),
    "upstream": ("资金来源", "where the money came from"),
}
DIRECTION_NAMES_ZH = _zh(DIRECTION_NAMES)
DIRECTION_NAMES_EN = _en(DIRECTION_NAMES)

# Lead handling (casework.lead_status): statuses, in their order, and a closed lead's outcome.
STATUS_NAMES: dict[str, tuple[str, str]] = {
    "new": ("新线索", "new"),
    "tracking": ("持续跟踪", "tracking"),
    "verifying": ("核查", "verifying"),
    "handed_over": ("移交", "handed over"),
    "closed": ("办结", "closed"),
}
OUTCOME_NAMES: dict[str, tuple[str, str]] = {
    "confirmed": ("确认非法集资", "confirmed illegal fundraising"),
    "not_confirmed": ("排除", "ruled out"),
    "other": ("其他", "other matter"),
}

# Where a negative-list entry comes from (models.watchlist.ListingSource values).
SOURCE_NAMES: dict[str, tuple[str, str]] = {
    "judicial": ("司法机关通报", "judicial notice"),
    "police": ("公安机关通报", "police notice"),
    "regulator": ("监管部门", "regulator"),
    "tip_off": ("群众举报", "public tip-off"),
    "verified_lead": ("核实线索", "verified lead"),
}

# What a negative-list entry names (models.watchlist.EntityType values).
ENTITY_TYPE_NAMES: dict[str, tuple[str, str]] = {
    "account": ("账户", "account"),
    "customer": ("客户号", "customer id"),
    "name": ("名称", "name"),
}

# Why reports went to the dead letters (schemas.errors.RejectReason values).
REJECT_REASON_NAMES: dict[str, tuple[str, str]] = {
    "undecodable": ("无法解码", "undecodable"),
    "schema": ("不符合报告格式", "fails the schema"),
    "invalid_value": ("取值不可能", "impossible value"),
    "key_mismatch": ("消息键与账户不符", "key is not the account"),
    "conflict": ("与先前报告冲突", "conflicts with an earlier report"),
    "bank_mismatch": ("银行与主题不符", "bank is not the topic's"),
    "forbidden_character": ("含禁用字符", "forbidden character"),
    "duplicate_key": ("字段重复", "duplicate key"),
    "time_out_of_range": ("交易时间超出范围", "tx_time out of range"),
    "wrong_partition": ("账户不属于该分区", "account of another partition"),
    "batch_too_large": ("批量消息报告过多", "batch too large"),
}


def severity_name(code: str, lang: str) -> str:
    return name(SEVERITY_NAMES, code, lang)


def department_name(code: str, lang: str) -> str:
    return name(DEPARTMENT_NAMES, code, lang)


def sector_name(code: str, lang: str) -> str:
    return name(SECTOR_NAMES, code, lang)


def county_name(county: str, lang: str) -> str:
    return name(COUNTY_NAMES, county, lang)


def status_name(code: str, lang: str) -> str:
    return name(STATUS_NAMES, code, lang)


def outcome_name(code: str, lang: str) -> str:
    return name(OUTCOME_NAMES, code, lang)


def source_name(code: str, lang: str) -> str:
    return name(SOURCE_NAMES, code, lang)
