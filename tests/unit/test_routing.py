"""Each lead goes to its sector's lead department, and to 打非办 when the plan says so (三)."""

from __future__ import annotations

from schemas.sectors import DEPARTMENTS, SECTORS, lead_routes, sector_of


def test_a_local_lead_goes_to_its_sector_department_only() -> None:
    p2p = sector_of("p2p_lending")
    assert lead_routes("p2p_lending", p2p.department.code, False, False) == ("cbrc",)
    farm = sector_of("farmer_cooperative")
    assert lead_routes("farmer_cooperative", farm.department.code, False, False) == ("nyj",)


def test_cross_prefecture_and_cross_province_major_leads_also_go_to_dfb() -> None:
    assert lead_routes("p2p_lending", "cbrc", True, False) == ("cbrc", "dfb")
    assert lead_routes("p2p_lending", "cbrc", False, True) == ("cbrc", "dfb")


def test_trading_venues_go_to_the_financial_office_and_dfb_once() -> None:
    venue = sector_of("trading_venue")
    assert lead_routes("trading_venue", venue.department.code, True, True) == ("jrb", "dfb")
    # An unknown sector is 打非办's, and is not sent to it twice.
    assert lead_routes("unknown", sector_of("unknown").department.code, True, False) == ("dfb",)


def test_every_sector_routes_to_a_known_department() -> None:
    codes = {d.code for d in DEPARTMENTS}
    assert len(codes) == 13
    for code, sector in SECTORS.items():
        assert set(lead_routes(code, sector.department.code, True, True)) <= codes
