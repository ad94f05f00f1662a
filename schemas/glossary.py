"""Every name a person reads, in Chinese and English, in one place.

The console, the CLI and the monthly report take their labels from here.
"""

from __future__ import annotations

SEVERITY_NAMES_ZH = {"general": "一般", "major": "重大", "case_related": "涉案"}
SEVERITY_NAMES_EN = {"general": "general", "major": "major", "case_related": "case-related"}
