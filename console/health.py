"""This worker's health as the console shows it: the model in use, the casework topics,
report counts and consumer lag (the same figures as ``/metrics``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp.web import Request, Response
from prometheus_client import Metric

from console.shared import ConsoleView, api_user, json_response
from streams import metrics
from streams.agents import casework, models
from streams.app import app


def _samples(metric: Any) -> list[tuple[dict[str, str], float]]:
    collected: list[Metric] = list(metric.collect())
    return [
        (dict(s.labels), float(s.value))
        for m in collected
        for s in m.samples
        if not s.name.endswith("_created")
    ]


def _total(metric: Any) -> float:
    return sum(value for _, value in _samples(metric))


@app.page("/console/api/health")
class Health(ConsoleView):
    """This worker's view: the model in use, the casework topics, report counts and lag."""

    async def get(self, request: Request) -> Response:
        api_user(request)
        model = models.current
        rejected: dict[str, float] = {}
        for labels, value in _samples(metrics.REPORTS_REJECTED):
            rejected[labels["reason"]] = rejected.get(labels["reason"], 0) + value
        lag = [
            {"topic": labels["topic"], "partition": int(labels["partition"]), "lag": value}
            for labels, value in _samples(metrics.CONSUMER_LAG)
        ]
        book = casework.book
        return json_response(
            {
                "model": (
                    {
                        "version": model.version_,
                        "threshold": model.threshold_,
                        "loaded_at": _total(metrics.MODEL_LOADED),
                    }
                    if model is not None
                    else None
                ),
                "models_refused": _total(metrics.MODELS_REFUSED),
                "reports_accepted": _total(metrics.REPORTS_ACCEPTED),
                "reports_rejected": sum(rejected.values()),
                "rejected_by_reason": rejected,
                "reports_duplicate": _total(metrics.REPORTS_DUPLICATE),
                "leads_emitted": _total(metrics.LEADS_EMITTED),
                "consumer_lag": sum(p["lag"] for p in lag),
                "lag_by_partition": sorted(lag, key=lambda p: (p["topic"], p["partition"])),
                "accounts_tracked": _total(metrics.ACCOUNTS_TRACKED),
                "casework": {
                    "caught_up": casework.caught_up.is_set(),
                    "leads": len(book.leads),
                    "statuses": len(book.statuses),
                    "watchlist": len(book.watchlist),
                },
                "now": datetime.now(UTC).isoformat(),
            }
        )
