"""Printing the HTML report to PDF with Debian's Chromium, headless.

Chromium lays out the Chinese text with the system's CJK fonts (fonts-noto-cjk) and honours
the report's ``@page`` A4 rule; ``deploy/browser/install.sh`` installs both. Each print runs
in a fresh profile directory, offline (no sync, updates or background requests).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from casework.monthly_report import ReportError

DEFAULT_CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ENV = "FUNDWATCH_CHROMIUM"
PRINT_TIMEOUT_SECONDS = 120
# Chromium as these machines run it: as root (no sandbox), no GPU, and no connection of its
# own (sync, updates, background requests), which a closed network would refuse many times.
CHROMIUM_OFFLINE_FLAGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
INSTALL_HINT = "run `bash deploy/browser/install.sh` to install Chromium and the CJK fonts"


def chromium_path() -> str:
    """The Chromium to print with: $FUNDWATCH_CHROMIUM, else /usr/bin/chromium."""
    wanted = os.environ.get(CHROMIUM_ENV) or DEFAULT_CHROMIUM
    found = shutil.which(wanted)
    if found is None:
        where = f"{wanted} (from {CHROMIUM_ENV})" if os.environ.get(CHROMIUM_ENV) else wanted
        raise ReportError(f"Chromium not found at {where}: {INSTALL_HINT}")
    return found


def _tail(text: str, lines: int = 8) -> str:
    # Chromium logs D-Bus complaints on machines without a session bus: not the failure.
    kept = [line for line in text.splitlines() if line.strip() and "dbus" not in line]
    return "\n".join(kept[-lines:]) or "(nothing on stderr)"


def html_to_pdf(html: str, pdf_path: Path) -> None:
    """Print ``html`` (a self-contained page) to ``pdf_path``; ReportError if that fails."""
    chromium = chromium_path()
    with tempfile.TemporaryDirectory(prefix="fundwatch-print-") as work:
        page = Path(work) / "report.html"
        page.write_text(html, encoding="utf-8")
        profile = Path(work) / "profile"
        profile.mkdir()
        target = pdf_path.resolve()
        target.parent.mkdir(parents=True, exist_ok=True)
        # Chromium writes the file itself: print into the temporary directory and move, so a
        # failed print never leaves a half-written PDF where the old one was.
        printed = Path(work) / "report.pdf"
        command = [
            chromium,
            "--headless",
            *CHROMIUM_OFFLINE_FLAGS,
            f"--user-data-dir={profile}",
            "--no-pdf-header-footer",
            f"--print-to-pdf={printed}",
            page.as_uri(),
        ]
        try:
            result = subprocess.run(
                command,
                capture_output=True,
                text=True,
                errors="replace",
                timeout=PRINT_TIMEOUT_SECONDS,
                check=False,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired as exc:
            raise ReportError(
                f"Chromium did not print the report within {PRINT_TIMEOUT_SECONDS} s"
            ) from exc
        except OSError as exc:
            raise ReportError(f"Chromium ({chromium}) could not be started: {exc}") from exc
        if result.returncode != 0 or not printed.is_file() or printed.stat().st_size == 0:
            raise ReportError(
                f"Chromium ({chromium}) failed to print the report "
                f"(exit status {result.returncode}): {_tail(result.stderr)}"
            )
        shutil.move(printed, target)
