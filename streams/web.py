"""Pages served by the worker's own web server (Faust's)."""

from __future__ import annotations

from aiohttp.web import Response
from faust import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from streams.app import app


@app.page("/metrics")
async def metrics(self: web.View, request: web.Request) -> Response:
    return Response(body=generate_latest(REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST})
