"""`fundwatch report` on the real broker: the monthly report rebuilt from the topics.

Leads, status records and the negative list are published straight to their topics, and the
month's reports are sent as a bank sends them; the report command, run as a subprocess, must
show exactly those figures in its HTML, Markdown and PDF.
"""

from __future__ import annotations

import csv
import io
import subprocess
import unicodedata
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pypdf
import pytest
from kafka import KafkaProducer

from casework.lead_status import LeadStatus, Outcome
from feeds.producer import send_lines
from models.watchlist import EntityType, ListingSource, WatchlistEntry
from schemas.lead import Severity
from streams.topics import ensure_topics
from tests.integration.conftest import FUNDWATCH, Deployment
from tests.reports import encode, valid_report
from tests.unit.test_monthly_report import figure, lead_value, parse, status_value

pytestmark = pytest.mark.integration

MONTH = "2026-11"
LONGYANG_ACCOUNT = "6222000011112222"  # tests.reports.valid_report's account (隆阳区)
LONGLING_ACCOUNT = "6222000055556666"
TENGCHONG_ACCOUNT = "6222000099990001"
SHIDIAN_ACCOUNT = "6222000033330002"


def publish(deployment: Deployment) -> None:
    settings = deployment.settings
    ensure_topics(settings)
    producer = KafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all")
    try:
        # Sent first, so it is its partition's first message: appended "in September", long
        # before the month began, it lies before where the report starts reading.
        producer.send(
            settings.topics.name("reports"),
            key=b"6222000000000009",
            value=encode(
                valid_report(report_id="R-old", tx_id="T-old", account_id="6222000000000009")
            ),
            timestamp_ms=int(datetime(2026, 9, 1, tzinfo=UTC).timestamp() * 1000),
        ).get(timeout=30)
        leads = [
            lead_value(
                "L-new",
                LONGYANG_ACCOUNT,
                "2026-11-03T02:00:00",
                ("2026-11-01T00:00:00", "2026-11-03T00:00:00"),
                sector="investment_advisory",
                severity=Severity.MAJOR,
                money_raised_fen=48_000_000,
                participants=230,
            ),
            lead_value(
                "L-carried",
                TENGCHONG_ACCOUNT,
                "2026-10-20T00:00:00",
                ("2026-10-10T00:00:00", "2026-10-19T00:00:00"),
                county="腾冲市",
                sector="wealth_management",
            ),
            lead_value(
                "L-listed",
                SHIDIAN_ACCOUNT,
                "2026-11-10T00:00:00",
                ("2026-11-08T00:00:00", "2026-11-09T00:00:00"),
                county="施甸县",
                sector="farmer_cooperative",
                severity=Severity.CASE_RELATED,
            ),
            lead_value(
                "L-closed",
                "6222000088880003",
                "2026-10-02T00:00:00",
                ("2026-09-25T00:00:00", "2026-10-01T00:00:00"),
            ),
        ]
        for value in leads:
            producer.send(
                settings.topics.name("leads"),
                key=orjson.loads(value)["lead_id"].encode(),
                value=value,
            )
        statuses = {
            "L-new": status_value("L-new", (LeadStatus.TRACKING, "2026-11-03T06:00:00", None)),
            "L-listed": status_value(
                "L-listed",
                (LeadStatus.VERIFYING, "2026-11-10T02:00:00", None),
                (LeadStatus.HANDED_OVER, "2026-11-12T00:00:00", None),
            ),
            "L-closed": status_value(
                "L-closed", (LeadStatus.CLOSED, "2026-10-15T00:00:00", Outcome.NOT_CONFIRMED)
            ),
        }
        for lead_id, value in statuses.items():
            producer.send(settings.topics.name("lead-status"), key=lead_id.encode(), value=value)
        listing = WatchlistEntry(
            entity_type=EntityType.ACCOUNT,
            entity_id=SHIDIAN_ACCOUNT,
            source=ListingSource.JUDICIAL,
            reason="法院判决",
            added_by="analyst1",
            added_at=datetime(2026, 11, 11, tzinfo=UTC),
        )
        producer.send(
            settings.topics.name("watchlist"), key=listing.key.encode(), value=listing.to_json()
        )
        producer.flush(timeout=30)
    finally:
        producer.close()
    reports = [
        valid_report(report_id="R-1", tx_id="T-1"),
        valid_report(report_id="R-2", tx_id="T-2", tx_time="2026-11-20T10:00:00+08:00"),
        # 00:30 on 1 November in Baoshan (still 31 October in UTC): in the month.
        valid_report(
            report_id="R-3",
            tx_id="T-3",
            account_id=LONGLING_ACCOUNT,
            region="530523",
            industry="retail",
            tx_time="2026-11-01T00:30:00+08:00",
        ),
        # 23:30 on 31 October in Baoshan: not in the month.
        valid_report(
            report_id="R-4",
            tx_id="T-4",
            account_id="6222000077778888",
            region="530581",
            tx_time="2026-10-31T23:30:00+08:00",
        ),
    ]
    invalid = valid_report(report_id="R-5", tx_id="T-5", account_id="6222000066660005")
    del invalid["account_type"]
    lines = [encode(r) for r in reports] + [encode(invalid), b"{not json"]
    send_lines(lines, settings)


def test_the_monthly_report_shows_what_the_topics_hold(
    deployment: Deployment, tmp_path: Path
) -> None:
    publish(deployment)

    html_path = tmp_path / "report.html"
    result = deployment.run_cli("report", "--month", MONTH, "--output", str(html_path))
    assert f"to {html_path}" in result.stdout
    assert "4 entities monitored, 3 suspected" in result.stdout
    page = parse(html_path.read_text(encoding="utf-8"))
    # 隆阳区 and 龙陵县 from the reports; 腾冲市 and 施甸县 from their leads.
    assert figure(page, "entities-monitored") == "4"
    assert figure(page, "entities-suspected") == "3"
    assert figure(page, "leads-new") == "2"
    assert figure(page, "leads-carried-over") == "1"
    assert figure(page, "risk-level", level="high")
    assert figure(page, "monitored", county="隆阳区") == "1"
    assert figure(page, "suspected", county="隆阳区") == "1"
    assert figure(page, "monitored", county="龙陵县") == "1"
    assert figure(page, "suspected", county="龙陵县") == "0"
    assert figure(page, "monitored", county="腾冲市") == "1"  # the October report is not
    assert figure(page, "leads", sector="investment_advisory") == "1"
    assert figure(page, "monitored", sector="retail") == "1"
    assert figure(page, "status", lead="L-new", value="tracking")
    assert figure(page, "status", lead="L-listed", value="handed_over")
    assert figure(page, "listed", lead="L-listed", value="yes")
    assert figure(page, "listed", lead="L-new", value="no")
    assert figure(page, "money-raised", lead="L-new") == "480,000.00"
    assert figure(page, "status-count", status="new") == "1"
    assert figure(page, "median-hours-to-first-action") == "3.0"  # 4 h and 2 h
    # L-carried began in October; L-closed, emitted in October, began in September.
    assert figure(page, "trend-new", month="2026-10") == "1"

    markdown = tmp_path / "report.md"
    deployment.run_cli(
        "report", "--month", MONTH, "--format", "md", "--lang", "en", "--output", str(markdown)
    )
    text = markdown.read_text(encoding="utf-8")
    assert "| Longyang District | 1 | 1 | 1 | 1 | 1 | yes |" in text

    csv_path = tmp_path / "report.csv"
    deployment.run_cli(
        "report", "--month", MONTH, "--format", "csv", "--lang", "en", "--output", str(csv_path)
    )
    rows = list(csv.reader(io.StringIO(csv_path.read_text(encoding="utf-8-sig"))))
    assert ["Longyang District", "1", "1", "1", "1", "1", "yes"] in rows

    pdf_path = tmp_path / "report.pdf"
    deployment.run_cli("report", "--month", MONTH, "--format", "pdf", "--output", str(pdf_path))
    assert pdf_path.read_bytes().startswith(b"%PDF-")
    reader = pypdf.PdfReader(pdf_path)
    # Chromium's fonts map some characters to their Kangxi-radical twins: NFKC undoes that.
    printed = unicodedata.normalize("NFKC", "\n".join(p.extract_text() for p in reader.pages))
    assert "保山市防范和处置非法集资监测月报" in printed
    assert "2026年11月" in printed
    assert "隆阳区 1 1 1 1 1 是" in printed
    assert "L-listed" in printed and "480,000.00" in printed


def test_a_bad_month_is_one_clear_line(deployment: Deployment) -> None:
    result = subprocess.run(
        [*FUNDWATCH, "report", "--month", "2026-13"],
        env=deployment.env,
        cwd=deployment.workdir,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2  # ReportError's exit code: the request is wrong
    assert result.stderr.strip().splitlines()[-1] == (
        "no report written: month '2026-13' is not YYYY-MM (e.g. 2026-11)"
    )
