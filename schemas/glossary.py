"""Every name a person reads, in Chinese and English, in one place.

The console, the CLI and the monthly report take their labels from here.
"""

from __future__ import annotations

SEVERITY_NAMES_ZH = {"general": "一般", "major": "重大", "case_related": "涉案"}
SEVERITY_NAMES_EN = {"general": "general", "major": "major", "case_related": "case-related"}


# console
# Industry codes (schemas.sectors.SECTORS, the report schema's industry enum) and counties as
# leads name them, for the console's labels: (zh, en). The monthly report's own table in
# casework.report_render says the same.
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
COUNTY_NAMES: dict[str, tuple[str, str]] = {
    "隆阳区": ("隆阳区", "Longyang District"),
    "施甸县": ("施甸县", "Shidian County"),
    "龙陵县": ("龙陵县", "Longling County"),
    "昌宁县": ("昌宁县", "Changning County"),
    "腾冲市": ("腾冲市", "Tengchong City"),
    "云南省其他地区": ("云南省其他地区", "elsewhere in Yunnan"),
    "省外": ("省外", "outside Yunnan"),
}
