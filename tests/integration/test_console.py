"""The web console in a real headless Chromium, against a real worker and broker.

A PBOC analyst signs in, watches a lead appear without reloading, opens it, moves it to
verifying with a note and lists its account in one step; the records land on the lead-status
and watchlist topics. The page shows her change at once; while she fills in the next one, the
live refresh redraws the page around her form and keeps what she chose; when a colleague
changes the lead before her, her save is refused, saying who changed it, in her language.
Once the stream's leads join into a suspected scheme, the analyst opens
it: its accounts by role, its money-flow picture and flows, and a member's lead, which links
back to it. A user of a department the lead is not routed to does not see it (nor the schemes
not routed to them), and nobody gets in without signing in.
"""

from __future__ import annotations

import base64
import http.client
import re
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from casework.lead_book import SEE_ALL_DEPARTMENTS, lead_departments
from casework.lead_status import LeadStatus, LeadStatusRecord
from casework.monthly_report import BEIJING
from casework.pdf import CHROMIUM_OFFLINE_FLAGS
from console.auth import SESSION_COOKIE, ConsoleUser, hash_password, save_users
from feeds.producer import send_lines
from models.schemes import ROLE_NAMES_ZH
from models.watchlist import EntityType, ListingSource, WatchlistEntry
from schemas.glossary import SECTOR_NAMES
from schemas.sectors import DEPARTMENTS
from streams.casework_topics import publish_watchlist
from streams.topic_reader import read_all
from tests.integration.conftest import FUNDWATCH, Deployment, wait_for
from tests.integration.test_detection_stream import model_and_live_stream
from tests.unit.test_monthly_report import figure, parse

pytestmark = pytest.mark.integration

CHROMIUM = Path("/usr/bin/chromium")
ANALYST, ANALYST_PASSWORD = "张伟", "pboc analyst password"
COLLEAGUE, COLLEAGUE_PASSWORD = "李娜", "dfb colleague password"
OTHER, OTHER_PASSWORD = "wang.fang", "department user password"
NOTE = "多名个人集中转入后分散转出，转核查"
HANDOVER_NOTE = "核查属实，移交公安机关"
CLOSING_NOTE = "公安机关已立案"
COLLEAGUE_NOTE = "经核实为正常经营往来"
# Every wait below is on a condition; this is only how long a condition may take on a busy
# machine before the test gives up.
expect.set_options(timeout=60_000)
# A word of English in a Chinese message (lead ids are not in messages).
ENGLISH_WORD = re.compile(r"[A-Za-z]{3,}")


@pytest.fixture
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: run `bash deploy/browser/install.sh` (Debian chromium)"
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=list(CHROMIUM_OFFLINE_FLAGS)
        )
        yield browser
        browser.close()


def request(
    port: int, method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b""
) -> tuple[int, dict[str, str], bytes]:
    """One request, no redirect followed."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request(method, path, body=body or None, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def sign_in(page: Page, base: str, name: str, password: str) -> None:
    page.goto(f"{base}/console/")
    expect(page).to_have_url(f"{base}/console/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    expect(page.locator("#user")).to_contain_text(name)


def main_token(page: Page) -> str:
    """Which state of the worker's book the open view was last drawn from."""
    return str(page.locator("#main").get_attribute("data-token"))


def wait_for_redraw(page: Page, drawn: str) -> None:
    page.wait_for_function(
        "(drawn) => document.getElementById('main').dataset.token !== drawn", arg=drawn
    )


def topic_values(deployment: Deployment, name: str) -> dict[str, bytes]:
    topic = deployment.settings.topics.name(name)
    return {
        key.decode(): value
        for key, value in read_all(deployment.settings, topic)
        if key is not None and value is not None
    }


def picture_stats(browser: Browser, png: bytes) -> dict[str, Any]:
    """Distinct colours and the share of non-background pixels, read back by the browser."""
    page = browser.new_page()
    try:
        page.set_content("<canvas></canvas>")
        return page.evaluate(
            """async (data) => {
                const image = new Image();
                image.src = "data:image/png;base64," + data;
                await image.decode();
                const canvas = document.querySelector("canvas");
                canvas.width = image.width; canvas.height = image.height;
                const context = canvas.getContext("2d");
                context.drawImage(image, 0, 0);
                const pixels = context.getImageData(0, 0, image.width, image.height).data;
                const colours = new Set();
                let inked = 0;
                for (let i = 0; i < pixels.length; i += 4) {
                    const [r, g, b] = [pixels[i] >> 3, pixels[i + 1] >> 3, pixels[i + 2] >> 3];
                    colours.add(r << 10 | g << 5 | b);
                    if (pixels[i] + pixels[i + 1] + pixels[i + 2] < 600) inked++;
                }
                return {width: image.width, height: image.height, colours: colours.size,
                        inked: inked / (pixels.length / 4)};
            }""",
            base64.b64encode(png).decode(),
        )
    finally:
        page.close()


def test_console_shows_leads_live_and_records_an_analysts_decision(
    deployment: Deployment, browser: Browser, tmp_path: Path
) -> None:
    users_file = tmp_path / "console-users.json"
    save_users(
        users_file,
        [
            ConsoleUser(ANALYST, frozenset({"pboc"}), hash_password(ANALYST_PASSWORD)),
            ConsoleUser(COLLEAGUE, frozenset({"dfb"}), hash_password(COLLEAGUE_PASSWORD)),
        ],
    )
    deployment.env["FUNDWATCH_CONSOLE_USERS"] = str(users_file)
    deployment.env["FUNDWATCH_CONSOLE_SECRET"] = "console test secret, not a real one"
    _, live = model_and_live_stream(deployment, tmp_path, 1, 2)
    lines = live.read_bytes().splitlines()
    worker = deployment.start_worker()
    port, base = worker.web_port, f"http://127.0.0.1:{worker.web_port}"

    # Nobody gets in without signing in; Prometheus still scrapes /metrics.
    status, headers, _ = request(port, "GET", "/console/")
    assert (status, headers["Location"]) == (303, "/console/login")
    for method, path in [
        ("GET", "/console/api/leads"),
        ("GET", "/console/api/me"),
        ("GET", "/console/api/health"),
        ("GET", "/console/api/watchlist"),
        ("GET", "/console/api/schemes"),
        ("GET", "/console/api/schemes/SC000000000000/flow.svg"),
        ("POST", "/console/api/leads/L1/status"),
    ]:
        assert request(port, method, path)[0] == 401, path
    forged = {"Cookie": "fundwatch_console=eyJ1IjoiXHU1ZjIwXHU0ZjFmIn0.c2lnbmF0dXJl"}
    assert request(port, "GET", "/console/api/leads", forged)[0] == 401
    wrong = b"name=%E5%BC%A0%E4%BC%9F&password=guess"
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    status, headers, _ = request(port, "POST", "/console/login", form, wrong)
    assert (status, headers["Location"]) == (303, "/console/login?error=refused")
    assert request(port, "GET", "/metrics")[0] == 200

    # The analyst opens the list before any lead exists; one appears without a reload.
    context = browser.new_context(viewport={"width": 1280, "height": 1000}, locale="zh-CN")
    context.set_default_timeout(60_000)
    page = context.new_page()
    sign_in(page, base, ANALYST, ANALYST_PASSWORD)
    expect(page.locator("#no-leads")).to_contain_text("暂无线索")
    page.evaluate("window.sameDocument = true")
    send_lines(lines, deployment.settings)
    first_row = page.locator("tr.lead-row").first
    first_row.wait_for(timeout=90_000)
    assert page.evaluate("window.sameDocument") is True, "the page was reloaded"
    lead_id = first_row.get_attribute("data-lead-id")
    assert lead_id
    sector = page.request.get(f"{base}/console/api/leads/{lead_id}").json()["lead"]["sector"]
    # p2p_lending reads P2P网络借贷 (the list's first row may be a newer lead by now)
    expect(page.locator(f'tr[data-lead-id="{lead_id}"]')).to_contain_text(SECTOR_NAMES[sector][0])

    # The lead's page: reasons, evidence, the account's money in and out, the form.
    page.click(f'tr[data-lead-id="{lead_id}"]')
    expect(page).to_have_url(f"{base}/console/#/lead/{lead_id}")
    expect(page.locator("#reasons li").first).to_be_visible()
    expect(page.locator("#lead-status")).to_have_text("新线索")
    expect(page.locator("#no-history")).to_be_visible()
    expect(page.locator("#flow-chart rect.in")).to_have_count(30)  # one worker holds all
    detail = page.request.get(f"{base}/console/api/leads/{lead_id}").json()
    lead = detail["lead"]
    assert detail["activity"]["held_here"] and detail["activity"]["report_count"] > 0
    assert sum(day["inflow_yuan"] for day in detail["activity"]["days"]) > 0

    # Verifying, with a note, and the account on the negative list: one step.
    page.select_option("#new-status", "verifying")
    page.fill("#note", NOTE)
    page.check("#list-account")
    page.click("#save-status")
    # Read-your-writes: the page drawn right after the save, the moment "saved" appears,
    # already has the new status (the worker's book took it when the broker acknowledged
    # it, not when the lead-status topic came back around).
    status_when_saved = page.wait_for_function(
        """() => {
            const message = document.getElementById('change-message');
            if (message === null || message.textContent !== '已保存。') return false;
            return document.getElementById('lead-status').textContent;
        }"""
    ).json_value()
    assert status_when_saved == "核查"
    expect(page.locator("#lead-status")).to_have_text("核查")
    expect(page.locator("#lead-listed")).to_be_visible()
    expect(page.locator("#history")).to_contain_text(NOTE)
    expect(page.locator("#history")).to_contain_text(ANALYST)
    expect(page.locator("#change-message")).to_have_text("已保存。")
    screenshot = tmp_path / "console-lead.png"
    page.screenshot(path=str(screenshot), full_page=True)

    statuses = wait_for(
        lambda: topic_values(deployment, "lead-status").get(lead_id), 60, "the status record"
    )
    record = LeadStatusRecord.from_json(statuses)  # type: ignore[arg-type]
    assert record.status is LeadStatus.VERIFYING and record.version == 1
    assert (record.history[-1].by, record.history[-1].note) == (ANALYST, NOTE)
    key = f"account:{lead['account_id']}"
    listed = wait_for(
        lambda: topic_values(deployment, "watchlist").get(key), 60, "the watchlist entry"
    )
    entry = WatchlistEntry.from_json(listed)  # type: ignore[arg-type]
    assert (entry.source, entry.lead_id, entry.added_by) == (
        ListingSource.VERIFIED_LEAD,
        lead_id,
        ANALYST,
    )

    # A refused change says why; a POST without the page's CSRF token is refused.
    page.select_option("#new-status", "tracking")  # backwards without a note
    page.click("#save-status")
    refusal = page.locator("#change-message")
    expect(refusal).to_have_text("出错了：将线索从“核查”退回“持续跟踪”，须在说明中写明原因。")
    no_token = page.request.post(
        f"{base}/console/api/leads/{lead_id}/status", data={"status": "closed"}
    )
    assert no_token.status == 403
    assert not ENGLISH_WORD.search(no_token.json()["error"])  # the page's language: zh

    # She picks the next status and writes her note. Meanwhile the book changes (a colleague
    # lists a company on the negative list): the live refresh redraws the page around her
    # form and leaves what she chose alone, so her save is the change she made.
    page.select_option("#new-status", "handed_over")
    page.fill("#note", HANDOVER_NOTE)
    page.locator("#lead-status").click()  # the focus leaves the form; her choices stay
    drawn = main_token(page)
    police_notice = WatchlistEntry(
        EntityType.NAME,
        "保山某某投资咨询有限公司",
        ListingSource.POLICE,
        "公安机关通报",
        COLLEAGUE,
        datetime.now(UTC),
    )
    publish_watchlist(deployment.settings, [police_notice])
    wait_for_redraw(page, drawn)
    expect(page.locator("#new-status")).to_have_value("handed_over")
    expect(page.locator("#note")).to_have_value(HANDOVER_NOTE)
    expect(refusal).to_contain_text("须在说明中写明原因")  # her form, not a new one
    page.click("#save-status")
    expect(page.locator("#change-message")).to_have_text("已保存。")
    expect(page.locator("#lead-status")).to_have_text("移交")
    expect(page.locator("#history")).to_contain_text(HANDOVER_NOTE)

    # Two analysts at once: a colleague closes the lead while she is filling in her own
    # closing. Her save is refused, saying who changed it and to what; her form stays.
    colleague_context = browser.new_context(locale="zh-CN")
    colleague_context.set_default_timeout(60_000)
    colleague = colleague_context.new_page()
    sign_in(colleague, base, COLLEAGUE, COLLEAGUE_PASSWORD)
    colleague.goto(f"{base}/console/#/lead/{lead_id}")
    expect(colleague.locator("#lead-status")).to_have_text("移交")
    page.select_option("#new-status", "closed")
    page.select_option("#outcome", "confirmed")
    page.fill("#note", CLOSING_NOTE)
    colleague.select_option("#new-status", "closed")
    colleague.select_option("#outcome", "not_confirmed")
    colleague.fill("#note", COLLEAGUE_NOTE)
    colleague.click("#save-status")
    expect(colleague.locator("#change-message")).to_have_text("已保存。")
    # Her page shows the colleague's change around her form, which keeps her choices.
    expect(page.locator("#lead-status")).to_have_text("办结")
    expect(page.locator("#history")).to_contain_text(COLLEAGUE_NOTE)
    expect(page.locator("#outcome")).to_have_value("confirmed")
    page.click("#save-status")
    stale = page.locator("#change-message")
    expect(stale).to_contain_text(f"{COLLEAGUE} 已于")
    expect(stale).to_contain_text("将这条线索改为“办结”，晚于您填写时看到的状态")
    assert not ENGLISH_WORD.search(stale.inner_text())
    expect(page.locator("#note")).to_have_value(CLOSING_NOTE)
    expect(page.locator("#outcome")).to_have_value("confirmed")
    # Saving again is deliberate, and judged against the lead as it now is.
    page.click("#save-status")
    expect(stale).to_have_text("出错了：这条线索已经是“办结”状态。")
    closed = LeadStatusRecord.from_json(
        wait_for(
            lambda: (
                (v := topic_values(deployment, "lead-status").get(lead_id))
                and LeadStatusRecord.from_json(v).version == 3
                and v
            ),
            60,
            "the colleague's closing on the topic",
        )  # type: ignore[arg-type]
    )
    assert [(c.status, c.by) for c in closed.history] == [
        (LeadStatus.VERIFYING, ANALYST),
        (LeadStatus.HANDED_OVER, ANALYST),
        (LeadStatus.CLOSED, COLLEAGUE),
    ]
    assert closed.outcome is not None and closed.outcome.value == "not_confirmed"
    # The same check on the API: a change named on an old version is a 409, in English
    # for an English page.
    token = page.request.get(f"{base}/console/api/me").json()["csrf_token"]
    session = next(c["value"] for c in context.cookies() if c["name"] == SESSION_COOKIE)
    status, _, answer = request(
        port,
        "POST",
        f"/console/api/leads/{lead_id}/status",
        {
            "Cookie": f"{SESSION_COOKIE}={session}; lang=en",
            "X-CSRF-Token": token,
            "Content-Type": "application/json",
        },
        orjson.dumps({"status": "verifying", "note": "重新核查", "version": 1}),
    )
    assert status == 409
    stale_answer = orjson.loads(answer)
    assert stale_answer["code"] == "stale"
    assert stale_answer["error"].startswith(f"{COLLEAGUE} changed this lead to “closed” at ")
    colleague_context.close()

    # The negative list and the worker's health; then the English switch.
    page.click("nav a[data-view=watchlist]")
    expect(page.locator("#watchlist")).to_contain_text(lead["account_id"])
    page.click("nav a[data-view=health]")
    expect(page.locator("#health")).to_contain_text("m1")
    page.click("#lang-switch")
    expect(page.locator("nav a[data-view=health]")).to_have_text("Health")
    expect(page.locator("#health")).to_contain_text("Reports accepted")
    page.click("#lang-switch")

    # A suspected scheme: the stream's money trails join leads of several accounts into one.
    # Looked at once the whole stream is in, so that its accounts and flows hold still.
    wait_for(
        lambda: worker.total("fundwatch_scored_reports_total") == len(lines),
        300,
        "every report scored",
        interval=1,
    )
    wait_for(lambda: worker.total("fundwatch_consumer_lag_messages") == 0, 60, "the lag to drain")
    page.click("nav a[data-view=schemes]")
    scheme_row = page.locator("tr[data-scheme-id]").first
    scheme_row.wait_for(timeout=90_000)
    scheme_id = scheme_row.get_attribute("data-scheme-id")
    assert scheme_id
    scheme_row.click()
    expect(page).to_have_url(f"{base}/console/#/scheme/{scheme_id}")
    scheme_detail = page.request.get(f"{base}/console/api/schemes/{scheme_id}").json()
    members, flows = scheme_detail["members"], scheme_detail["flows"]
    assert len(members) >= 2
    expect(page.locator("#scheme-members tbody tr")).to_have_count(len(members))
    first_member = page.locator("#scheme-members tbody tr").first
    expect(first_member).to_contain_text(ROLE_NAMES_ZH[members[0]["role"]])
    expect(first_member).to_contain_text(members[0]["account_id"])
    if flows:
        expect(page.locator("#scheme-flows tbody tr")).to_have_count(len(flows))
    # The money flow is an image the browser could read: one box per account.
    page.wait_for_function(
        "() => { const img = document.getElementById('scheme-flow');"
        " return img !== null && img.complete && img.naturalWidth > 0; }"
    )
    picture = page.request.get(f"{base}/console/api/schemes/{scheme_id}/flow.svg?lang=zh")
    assert picture.headers["content-type"].startswith("image/svg+xml")
    assert picture.text().count('<g class="account"') == len(members)
    assert picture.text().count('<g class="flow"') == len(flows)
    # A member's lead opens from the scheme, and its page links back to the scheme.
    page.locator("#scheme-members a[href^='#/lead/']").first.click()
    expect(page.locator("#lead-scheme-link")).to_have_text(scheme_id)
    page.click("#lead-scheme-link")
    expect(page).to_have_url(f"{base}/console/#/scheme/{scheme_id}")
    page.click("#sign-out")
    expect(page).to_have_url(f"{base}/console/login")

    # A department the lead is not routed to: added while the worker runs, sees none of it.
    routed = set(lead_departments(lead)) | SEE_ALL_DEPARTMENTS
    department = next(d.code for d in DEPARTMENTS if d.code not in routed)
    subprocess.run(
        [*FUNDWATCH, "console-user", "add", OTHER, "--password-stdin", "--department", department],
        input=OTHER_PASSWORD + "\n",
        env=deployment.env,
        cwd=tmp_path,
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    sign_in(page, base, OTHER, OTHER_PASSWORD)
    expect(page.locator("#lead-count")).to_be_visible()
    expect(page.locator(f'tr[data-lead-id="{lead_id}"]')).to_have_count(0)
    for row in page.request.get(f"{base}/console/api/leads").json()["leads"]:
        assert department in lead_departments(row)
    assert page.request.get(f"{base}/console/api/leads/{lead_id}").status == 404
    for row in page.request.get(f"{base}/console/api/schemes").json()["schemes"]:
        assert department in row["routes"]
    if department not in scheme_detail["scheme"]["routes"]:
        for path in (
            f"/console/api/schemes/{scheme_id}",
            f"/console/api/schemes/{scheme_id}/flow.svg",
        ):
            assert page.request.get(f"{base}{path}").status == 404
    token = page.request.get(f"{base}/console/api/me").json()["csrf_token"]
    refused = page.request.post(
        f"{base}/console/api/leads/{lead_id}/status",
        data={"status": "closed", "outcome": "not_confirmed"},
        headers={"X-CSRF-Token": token},
    )
    assert refused.status == 404
    entries = page.request.get(f"{base}/console/api/watchlist").json()["entries"]
    assert all(e["lead_id"] != lead_id for e in entries)
    page.goto(f"{base}/console/#/lead/{lead_id}")
    expect(page.locator("#not-found")).to_be_visible()
    context.close()

    # The month's report, rebuilt from the topics, has the lead, its account listed.
    month = (
        datetime.fromisoformat(lead["first_evidence_time"]).astimezone(BEIJING).strftime("%Y-%m")
    )
    report = tmp_path / "report.html"
    subprocess.run(
        [*FUNDWATCH, "report", "--month", month, "--output", str(report), "--lang", "en"],
        env=deployment.env,
        cwd=tmp_path,
        check=True,
        capture_output=True,
        timeout=120,
    )
    figures = parse(report.read_text(encoding="utf-8"))
    assert figure(figures, "lead-id", lead=lead_id) == lead_id
    assert figure(figures, "listed", lead=lead_id).startswith("yes")

    png = screenshot.read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 30_000
    stats = picture_stats(browser, png)
    assert stats["width"] == 1280 and stats["height"] >= 1000
    assert stats["colours"] > 50 and 0.02 < stats["inked"] < 0.9, stats
