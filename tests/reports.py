"""Report records for tests: one valid report to start from."""

from __future__ import annotations

from typing import Any

import orjson


def valid_report(**overrides: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "schema_version": 1,
        "report_id": "R-0001",
        "report_type": "TX",
        "bank_id": "BSCB",
        "tx_id": "T-0001",
        "tx_time": "2026-11-03T14:05:09+08:00",
        "account_id": "6222000011112222",
        "account_type": "corporate",
        "customer_name": "保山某某投资咨询有限公司",
        "industry": "investment_advisory",
        "region": "530502",
        "direction": "in",
        "amount": "50000.00",
        "currency": "CNY",
        "channel": "transfer",
        "counterparty_account": "6217000033334444",
        "counterparty_type": "individual",
        "counterparty_region": "530521",
        "purpose": "投资款",
    }
    record.update(overrides)
    return record


def encode(record: dict[str, Any]) -> bytes:
    return orjson.dumps(record)
