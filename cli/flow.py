"""A readable summary of a worker's counters, read from its /metrics page."""

from __future__ import annotations

import urllib.request
from collections import defaultdict
from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families


@dataclass
class Flow:
    accepted: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    duplicates: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    rejected: dict[str, float] = field(default_factory=lambda: defaultdict(float))  # by reason
    replayed: float = 0.0
    scored: float = 0.0
    lead_revisions: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    model_version: str = ""


def fetch_flow(web_url: str) -> Flow:
    with urllib.request.urlopen(web_url.rstrip("/") + "/metrics", timeout=5) as response:
        text = response.read().decode("utf-8")
    flow = Flow()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "fundwatch_reports_accepted_total":
                flow.accepted[sample.labels["bank_id"]] += sample.value
            elif sample.name == "fundwatch_reports_duplicate_total":
                flow.duplicates[sample.labels["bank_id"]] += sample.value
            elif sample.name == "fundwatch_reports_rejected_total":
                flow.rejected[sample.labels["reason"]] += sample.value
            elif sample.name == "fundwatch_reports_replayed_total":
                flow.replayed += sample.value
            elif sample.name == "fundwatch_scored_reports_total":
                flow.scored += sample.value
            elif sample.name == "fundwatch_leads_emitted_total":
                flow.lead_revisions[sample.labels["severity"]] += sample.value
            elif sample.name == "fundwatch_model_info" and sample.value == 1:
                flow.model_version = sample.labels["version"]
    return flow


def render_flow(flow: Flow) -> str:
    banks = sorted(set(flow.accepted) | set(flow.duplicates))
    lines = [f"{'bank':<12}{'accepted':>12}{'duplicates':>12}"]
    for bank in banks:
        lines.append(f"{bank:<12}{flow.accepted[bank]:>12,.0f}{flow.duplicates[bank]:>12,.0f}")
    lines.append(
        f"{'total':<12}{sum(flow.accepted.values()):>12,.0f}{sum(flow.duplicates.values()):>12,.0f}"
    )
    rejected = ", ".join(f"{r} {n:,.0f}" for r, n in sorted(flow.rejected.items())) or "none"
    lines.append(f"dead-lettered: {rejected}")
    leads = ", ".join(f"{s} {n:,.0f}" for s, n in sorted(flow.lead_revisions.items())) or "none"
    model = f"model {flow.model_version}" if flow.model_version else "no model yet"
    lines.append(f"scored: {flow.scored:,.0f} ({model}); lead revisions: {leads}")
    return "\n".join(lines)
