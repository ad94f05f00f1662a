"""A real Prometheus (Debian's, deploy/prometheus/install.sh) scrapes a real worker: it sees the
worker's counts, loads the alerting rules and evaluates them, and runs every dashboard query."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from feeds.producer import send_lines
from tests.integration.conftest import REPO_ROOT, Deployment, free_port, wait_for
from tests.reports import encode, valid_report

pytestmark = pytest.mark.integration
ALERTS = REPO_ROOT / "deploy" / "prometheus" / "alerts.yml"
DASHBOARDS = sorted((REPO_ROOT / "deploy" / "grafana" / "dashboards").glob("*.json"))


@dataclass
class Prometheus:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def api(self, path: str, **params: str) -> Any:
        """The `data` of a Prometheus HTTP API answer; fails on an error answer."""
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        try:
            with urllib.request.urlopen(f"{self.url}/api/v1/{path}{query}", timeout=10) as resp:
                answer = json.load(resp)
        except urllib.error.HTTPError as error:
            answer = json.load(error)
        assert answer["status"] == "success", (path, params, answer)
        return answer["data"]

    def query(self, expr: str) -> dict[str, float]:
        """An instant query's samples, keyed by their labels as sorted `name=value` text."""
        data = self.api("query", query=expr)
        assert data["resultType"] == "vector", data
        return {
            ",".join(f"{k}={v}" for k, v in sorted(s["metric"].items())): float(s["value"][1])
            for s in data["result"]
        }

    def wait_until(self, expr: str, expected: dict[str, float], what: str) -> None:
        """Wait until ``expr`` gives ``expected``; on a timeout, say what it gave last."""
        last: list[dict[str, float]] = []

        def arrived() -> bool:
            last[:] = [self.query(expr)]
            return last[0] == expected

        try:
            wait_for(arrived, 120, f"Prometheus to count {what}")
        except AssertionError as error:
            raise AssertionError(f"{error}: {expr} gave {last[0]}, not {expected}") from None

    def ready(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"prometheus exited:\n{self.log_path.read_text()}")
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=5) as resp:
                return resp.status == 200
        except OSError:
            return False


def prometheus_binary() -> str:
    path = shutil.which("prometheus")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("prometheus is missing in CI: run deploy/prometheus/install.sh")
        pytest.skip("prometheus not installed (bash deploy/prometheus/install.sh)")
    return path


def start_prometheus(directory: Path, targets: list[str]) -> Prometheus:
    """Prometheus on a free port with its own storage, scraping ``targets`` every 3 s."""
    binary = prometheus_binary()
    directory.mkdir()
    config = directory / "prometheus.yml"
    # JSON is YAML: the shipped prometheus.yml, with a static target instead of docker's DNS.
    config.write_text(
        json.dumps(
            {
                # A worker busy with a batch can take a while to answer: a timeout of 1 s made
                # the scrapes fail on a loaded machine (and a failed scrape hides the series).
                "global": {
                    "scrape_interval": "3s",
                    "scrape_timeout": "3s",
                    "evaluation_interval": "1s",
                },
                "rule_files": [str(ALERTS)],
                "scrape_configs": [
                    {"job_name": "fundwatch", "static_configs": [{"targets": targets}]}
                ],
            }
        )
    )
    port = free_port()
    log_path = directory / "prometheus.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={directory / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    prometheus = Prometheus(f"http://127.0.0.1:{port}", process, log_path)
    try:
        wait_for(prometheus.ready, 60, "Prometheus to be ready")
    except BaseException:
        stop(prometheus)
        raise
    return prometheus


def stop(prometheus: Prometheus) -> None:
    if prometheus.process.poll() is None:
        prometheus.process.terminate()
        try:
            prometheus.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            prometheus.process.kill()
            prometheus.process.wait(timeout=30)


@pytest.fixture
def scraped_worker(deployment: Deployment, tmp_path: Path) -> Iterator[Prometheus]:
    worker = deployment.start_worker()
    prometheus = start_prometheus(tmp_path / "prometheus", [f"127.0.0.1:{worker.web_port}"])
    yield prometheus
    stop(prometheus)


def test_prometheus_sees_the_workers_counts_and_evaluates_the_rules(
    deployment: Deployment, scraped_worker: Prometheus
) -> None:
    prometheus = scraped_worker
    good = [
        encode(valid_report(report_id=f"P{i}", tx_id=f"PT{i}", account_id=f"A{i % 7:05d}"))
        for i in range(30)
    ]
    bad = [b"not json at all", encode(valid_report(report_id="PBAD", amount="-5"))]
    send_lines(good[:15] + bad + good[15:], deployment.settings)

    assert wait_for(lambda: prometheus.query('up{job="fundwatch"}'), 60, "a first scrape")
    try:
        prometheus.wait_until(
            "sum(fundwatch_reports_accepted_total)", {"": 30.0}, "the 30 accepted reports"
        )
    except AssertionError as error:
        worker = deployment.workers[0]
        (target,) = prometheus.api("targets")["activeTargets"]
        raise AssertionError(
            f"{error}; the worker's own /metrics says "
            f"{worker.total('fundwatch_reports_accepted_total')}; the target is "
            f"{target['health']} ({target['lastError']})"
        ) from None
    # A script that polls one counter asks for it by name and gets that series alone.
    accepted = deployment.workers[0].metrics(["fundwatch_reports_accepted_total"])
    assert {series.split("{")[0] for series in accepted} == {"fundwatch_reports_accepted_total"}
    assert sum(accepted.values()) == 30.0
    prometheus.wait_until(
        "sum by (reason) (fundwatch_reports_rejected_total)",
        {"reason=undecodable": 1.0, "reason=schema": 1.0},
        "the two dead letters by reason",
    )

    # The shipped rules load in the real server and evaluate without error; none fires.
    def evaluated_rules() -> list[dict[str, Any]]:
        rules = [r for g in prometheus.api("rules")["groups"] for r in g["rules"]]
        return rules if rules and all(r["health"] == "ok" for r in rules) else []

    rules = wait_for(evaluated_rules, 60, "every alerting rule to be evaluated")
    alert_names = {r["name"] for r in rules}  # type: ignore[attr-defined]
    assert "FundwatchDeadLetterRateHigh" in alert_names and len(alert_names) >= 6
    firing = [a for a in prometheus.api("alerts")["alerts"] if a["state"] == "firing"]
    assert firing == []

    # Every dashboard query is one the real query engine runs, and the reports panel shows data.
    for path in DASHBOARDS:
        dashboard = json.loads(path.read_text())
        for panel in dashboard["panels"]:
            for target in panel["targets"]:
                prometheus.api("query", query=target["expr"])
    assert wait_for(
        lambda: prometheus.query("sum by (bank_id) (rate(fundwatch_reports_accepted_total[5m]))"),
        60,
        "a rate of accepted reports per bank",
    )
