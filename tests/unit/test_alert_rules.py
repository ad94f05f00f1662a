"""The alerting rules fire on the series that should raise them and stay quiet otherwise:
Prometheus's own `promtool test rules` on deploy/prometheus/tests/*.yml.

promtool comes with Debian's prometheus package (deploy/prometheus/install.sh, run by
`make test`). Without it the tests are skipped, except in CI, where they must run.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

PROMETHEUS = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"
RULE_TESTS = sorted((PROMETHEUS / "tests").glob("*.yml"))


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("promtool is missing in CI: run deploy/prometheus/install.sh")
        pytest.skip("promtool not installed (bash deploy/prometheus/install.sh)")
    return path


def run_promtool(*args: str) -> str:
    result = subprocess.run(
        [promtool(), *args], cwd=PROMETHEUS, capture_output=True, text=True, timeout=120
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    return output


def test_prometheus_accepts_the_config_and_the_rules() -> None:
    run_promtool("check", "config", "prometheus.yml")
    run_promtool("check", "rules", "alerts.yml")


def test_every_alert_fires_when_it_should_and_only_then() -> None:
    output = run_promtool("test", "rules", *(str(p.relative_to(PROMETHEUS)) for p in RULE_TESTS))
    assert output.count("SUCCESS") == len(RULE_TESTS), output


def alert_names() -> set[str]:
    return set(re.findall(r"^\s*- alert: (\w+)", (PROMETHEUS / "alerts.yml").read_text(), re.M))


def expectations() -> dict[str, set[str]]:
    """Per alert, what its rule tests expect: "fires" (alerts listed) and/or "quiet" (none).

    Read from the test files as we write them: `alertname: X` followed by `exp_alerts: []`
    (quiet) or by `exp_alerts:` and a list (fires)."""
    seen: dict[str, set[str]] = {}
    pattern = re.compile(r"alertname: (\w+)\s*\n\s*exp_alerts:(.*)")
    for path in RULE_TESTS:
        for name, rest in pattern.findall(path.read_text()):
            seen.setdefault(name, set()).add("quiet" if rest.strip() == "[]" else "fires")
    return seen


def test_every_alert_has_a_test_where_it_fires_and_one_where_it_stays_quiet() -> None:
    names = alert_names()
    assert len(names) >= 6
    seen = expectations()
    assert set(seen) <= names, f"tests of alerts that do not exist: {sorted(set(seen) - names)}"
    missing = {name: {"fires", "quiet"} - seen.get(name, set()) for name in names}
    assert not {name: lack for name, lack in missing.items() if lack}, missing
