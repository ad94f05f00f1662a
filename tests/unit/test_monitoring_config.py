"""The alerting rules and the Grafana dashboards speak only of series the worker exports
(streams/metrics.py), with labels those series have, and the dashboards are well-formed."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.metrics import MetricWrapperBase

import streams.metrics

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
DASHBOARDS = sorted((DEPLOY / "grafana" / "dashboards").glob("*.json"))
# Prometheus's metric name grammar; the fundwatch_ ones are ours.
METRIC = re.compile(r"\bfundwatch_[a-zA-Z0-9_:]*")
SELECTOR = re.compile(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{([^}]*)\}")
MATCHER_LABEL = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)")
GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
# Prometheus adds these to every scraped series; `up` is its own per target.
TARGET_LABELS = {"job", "instance"}
PROMETHEUS_SERIES = {"up": set[str]()}


def exported_series() -> dict[str, set[str]]:
    """Every series name the worker's metrics produce, with its label names."""
    series: dict[str, set[str]] = {}
    for metric in vars(streams.metrics).values():
        if not isinstance(metric, MetricWrapperBase):
            continue
        # prometheus_client keeps a metric's name and label names in these attributes; a
        # labelled metric has no samples to read them from until it is first used.
        name, labels = metric._name, set(metric._labelnames)
        if isinstance(metric, Counter):
            series[name + "_total"] = labels
        elif isinstance(metric, Histogram):
            series[name + "_bucket"] = labels | {"le"}
            series[name + "_count"] = labels
            series[name + "_sum"] = labels
        else:
            assert isinstance(metric, Gauge), f"{name}: a metric type this test does not know"
            series[name] = labels
    return series


def alert_expressions() -> dict[str, str]:
    """Each alert's expr in alerts.yml (inline, or a `|` block)."""
    lines = (DEPLOY / "prometheus" / "alerts.yml").read_text().splitlines()
    exprs: dict[str, str] = {}
    alert = ""
    for i, line in enumerate(lines):
        if match := re.match(r"\s*- alert: (\w+)", line):
            alert = match.group(1)
        elif match := re.match(r"(\s*)expr: (.*)", line):
            indent, value = len(match.group(1)), match.group(2).strip()
            if value == "|":
                block = []
                for following in lines[i + 1 :]:
                    if following.strip() and len(following) - len(following.lstrip()) <= indent:
                        break
                    block.append(following.strip())
                value = " ".join(block)
            exprs[alert] = value
    return exprs


def dashboard_expressions(dashboard: dict) -> list[str]:
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel.get("targets", [])]
    for variable in dashboard.get("templating", {}).get("list", []):
        query = variable.get("query")
        exprs.append(query.get("query", "") if isinstance(query, dict) else str(query or ""))
    return [e for e in exprs if e]


def problems(expr: str, series: dict[str, set[str]]) -> list[str]:
    """What in one PromQL expression names a series or a label the worker does not export."""
    known = series | PROMETHEUS_SERIES
    found = []
    for name in set(METRIC.findall(expr)) - set(known):
        found.append(f"unknown series {name}")
    for name, matchers in SELECTOR.findall(expr):
        if name in known:
            for label in set(MATCHER_LABEL.findall(matchers)) - known[name] - TARGET_LABELS:
                found.append(f"{name} has no label {label}")
    used = set(METRIC.findall(expr))
    used |= {name for name in PROMETHEUS_SERIES if re.search(rf"\b{name}\b", expr)}
    labels = set().union(*(known.get(name, set()) for name in used)) | TARGET_LABELS
    for group in GROUPING.findall(expr):
        for label in {g.strip() for g in group.split(",") if g.strip()} - labels:
            found.append(f"groups by {label}, a label none of its series has")
    return found


def test_the_series_list_is_the_registry() -> None:
    """Nothing registers a fundwatch metric outside streams.metrics, so the list is complete."""
    series = exported_series()
    registered = {f.name for f in REGISTRY.collect() if f.name.startswith("fundwatch_")}
    families = {re.sub(r"_(total|bucket|count|sum)$", "", name) for name in series}
    assert registered == families


def test_the_check_finds_unknown_series_and_labels() -> None:
    series = exported_series()
    assert problems("sum by (bank_id) (rate(fundwatch_reports_accepted_total[5m]))", series) == []
    assert problems("rate(fundwatch_reports_accepted[5m])", series) == [
        "unknown series fundwatch_reports_accepted"
    ]
    assert problems('fundwatch_reports_accepted_total{bank="b01"}', series) == [
        "fundwatch_reports_accepted_total has no label bank"
    ]
    assert problems("sum by (reason) (fundwatch_reports_accepted_total)", series) == [
        "groups by reason, a label none of its series has"
    ]
    assert problems("sum by (le) (rate(fundwatch_lead_latency_seconds_bucket[5m]))", series) == []
    assert problems('sum(up{job="fundwatch"}) by (instance)', series) == []


def test_alert_rules_use_exported_series_and_labels() -> None:
    exprs = alert_expressions()
    assert len(exprs) >= 6 and all(exprs.values()), exprs
    series = exported_series()
    found = {alert: p for alert, expr in exprs.items() if (p := problems(expr, series))}
    assert not found, found


def test_dashboards_use_exported_series_and_labels() -> None:
    assert DASHBOARDS, "no dashboard in deploy/grafana/dashboards"
    series = exported_series()
    for path in DASHBOARDS:
        dashboard = json.loads(path.read_text())
        exprs = dashboard_expressions(dashboard)
        assert exprs, path.name
        found = {expr: p for expr in exprs if (p := problems(expr, series))}
        assert not found, (path.name, found)


def test_dashboards_are_well_formed_and_use_the_provisioned_datasource() -> None:
    provisioning = DEPLOY / "grafana" / "provisioning"
    datasource = (provisioning / "datasources" / "prometheus.yml").read_text()
    uid = re.search(r"uid: (\S+)", datasource)
    assert uid is not None
    uids = set()
    for path in DASHBOARDS:
        dashboard = json.loads(path.read_text())
        assert dashboard["uid"] not in uids, f"{path.name}: a second dashboard uid"
        uids.add(dashboard["uid"])
        panels = dashboard["panels"]
        ids = [p["id"] for p in panels]
        assert len(ids) == len(set(ids)), f"{path.name}: panel ids repeat"
        for panel in panels:
            assert panel["datasource"]["uid"] == uid.group(1), (path.name, panel["title"])
            targets = panel["targets"]
            assert targets and all(t["expr"].strip() for t in targets), panel["title"]
            ref_ids = [t["refId"] for t in targets]
            assert len(ref_ids) == len(set(ref_ids)), (path.name, panel["title"])
        assert not overlapping(panels), (path.name, overlapping(panels))


def overlapping(panels: list[dict]) -> list[tuple[str, str]]:
    """Pairs of panels whose grid rectangles intersect (Grafana would push one aside)."""
    pairs = []
    for i, a in enumerate(panels):
        for b in panels[i + 1 :]:
            ga, gb = a["gridPos"], b["gridPos"]
            if (
                ga["x"] < gb["x"] + gb["w"]
                and gb["x"] < ga["x"] + ga["w"]
                and ga["y"] < gb["y"] + gb["h"]
                and gb["y"] < ga["y"] + ga["h"]
            ):
                pairs.append((a["title"], b["title"]))
    return pairs


def test_prometheus_loads_the_rules_file() -> None:
    config = (DEPLOY / "prometheus" / "prometheus.yml").read_text()
    assert "alerts.yml" in config
