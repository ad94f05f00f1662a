"""``fundwatch report``: the monthly monitoring report (五(四)) of any past month.

Rebuilt from the topics each time: the leads, their status histories and the negative list
(``load_lead_book``), and the accounts reported in the month (``monitored_accounts``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click
from faust.cli import AppCommand, option

from casework.monthly_report import MonthlyReport, build_monthly_report, parse_month
from cli.commands import command, failing_clearly
from cli.output import say
from streams.app import settings

FORMATS = {"html": "html", "pdf": "pdf", "md": "md", "csv": "csv"}  # --format -> extension


@command(
    option("--month", required=True, help="The month to report, YYYY-MM (Beijing time)."),
    option(
        "--format",
        "output_format",
        type=click.Choice(list(FORMATS)),
        default="html",
        show_default=True,
        help="html: one self-contained page; pdf: that page printed by Chromium; md: Markdown; "
        "csv: its tables, for a spreadsheet.",
    ),
    option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True),
    option(
        "--output",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Where to write it (default: fundwatch-report-<month>.<format>).",
    ),
)
async def report(
    self: AppCommand, month: str, output_format: str, lang: str, output: Path | None
) -> None:
    """Write the monthly monitoring report: per county and sector, suspected entities and
    their leads, overall risk, new and carried-over leads, handling and trend."""
    with failing_clearly("no report written"):
        write_report(month, output_format, lang, output)


def write_report(month: str, output_format: str, lang: str, output: Path | None) -> Path:
    """Build, render and write the report; return where it went. ReportError if it cannot."""
    from casework.report_render import render_csv, render_html, render_markdown
    from streams.casework_topics import load_lead_book
    from streams.report_inputs import monitored_accounts

    parse_month(month)  # a bad month fails before anything is read
    path = output or Path(f"fundwatch-report-{month}.{FORMATS[output_format]}")
    book = load_lead_book(settings)
    built = build_monthly_report(
        book, month, monitored_accounts(settings, month), generated_at=datetime.now(UTC)
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    if output_format == "md":
        path.write_text(render_markdown(built, lang), encoding="utf-8")
    elif output_format == "csv":
        # With a BOM: Excel opens a UTF-8 CSV as UTF-8 only with one.
        path.write_text("\ufeff" + render_csv(built, lang), encoding="utf-8")
    elif output_format == "html":
        path.write_text(render_html(built, lang), encoding="utf-8")
    else:
        from casework.pdf import html_to_pdf

        html_to_pdf(render_html(built, lang), path)
    say(f"wrote the {month} report ({output_format}, {lang}) to {path}: {headline(built)}")
    return path


def headline(built: MonthlyReport) -> str:
    return (
        f"{built.entities_monitored} entities monitored, {built.entities_suspected} suspected; "
        f"{built.leads_in_month} leads ({built.leads_new} new, "
        f"{built.leads_carried_over} carried over); risk {built.risk.level}"
    )
