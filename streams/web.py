"""Pages served by the worker's own web server (Faust's)."""

from __future__ import annotations

from aiohttp.web import Request, Response
from faust import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from streams.app import app


@app.page("/metrics")
async def metrics(self: web.View, request: Request) -> Response:
    """Every series in Prometheus' text format; with ``name[]`` (repeatable, as
    prometheus_client's own exporters take it) only the series named: a script that polls one
    counter many times a second asks for that one, not for the whole page each time."""
    names = request.query.getall("name[]", [])
    registry = REGISTRY.restricted_registry(names) if names else REGISTRY
    return Response(body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST})
