"""The alerting rules and the Grafana dashboard only speak of metrics the worker exposes."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client import REGISTRY

import streams.metrics  # noqa: F401  (registers the worker's metrics)

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
METRIC = re.compile(r"\bfundwatch_[a-z_]+\b")
# Series Prometheus derives from a histogram or counter family.
SUFFIXES = ("_bucket", "_count", "_sum")


def exposed_names() -> set[str]:
    names = set()
    for family in REGISTRY.collect():
        names.add(family.name)
        names.update(sample.name for sample in family.samples)
        names.update(family.name + suffix for suffix in SUFFIXES)
        if family.type == "counter":  # the family is named without it; a labelled counter
            names.add(family.name + "_total")  # has no sample before its first increment
    return names


def referenced(text: str) -> set[str]:
    return set(METRIC.findall(text)) - {"fundwatch"}


def test_alert_rules_use_exposed_metrics() -> None:
    text = (DEPLOY / "prometheus" / "alerts.yml").read_text()
    used = referenced(text)
    assert {"fundwatch_consumer_lag_messages", "fundwatch_reports_rejected_total"} <= used
    assert used <= exposed_names(), sorted(used - exposed_names())


def test_dashboard_uses_exposed_metrics_and_the_provisioned_datasource() -> None:
    dashboard = json.loads((DEPLOY / "grafana" / "dashboards" / "fundwatch.json").read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    used = referenced("\n".join(exprs))
    assert used <= exposed_names(), sorted(used - exposed_names())
    provisioning = DEPLOY / "grafana" / "provisioning"
    datasource = (provisioning / "datasources" / "prometheus.yml").read_text()
    uid = re.search(r"uid: (\S+)", datasource)
    assert uid is not None
    assert {p["datasource"]["uid"] for p in dashboard["panels"]} == {uid.group(1)}


def test_prometheus_loads_the_rules_file() -> None:
    config = (DEPLOY / "prometheus" / "prometheus.yml").read_text()
    assert "alerts.yml" in config
