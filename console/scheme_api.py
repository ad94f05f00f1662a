"""The suspected schemes (案件线索): the list, a scheme's page and its money-flow picture.
What they show is ``console.scheme_pages``."""

from __future__ import annotations

from aiohttp.web import Request, Response

from casework.charts import scheme_flow_chart
from console.messages import RefusedError
from console.scheme_pages import MAX_LISTED_SCHEMES, scheme_page, scheme_rows, visible_scheme
from console.shared import ConsoleView, SignedIn, api_user, choice, json_response, list_token
from models.schemes import Scheme
from streams.agents import casework
from streams.app import app


def _visible_scheme(signed_in: SignedIn, scheme_id: str) -> Scheme:
    scheme = visible_scheme(casework.book, signed_in.departments, scheme_id)
    # As for a lead: a scheme the user may not see is answered as one that does not exist.
    if scheme is None:
        raise RefusedError(404, "no_scheme")
    return scheme


@app.page("/console/api/schemes")
class Schemes(ConsoleView):
    """The suspected schemes the user may see, newest activity first; polled like the leads
    (``since=<token>``)."""

    async def get(self, request: Request) -> Response:
        signed_in = api_user(request)
        token = list_token(signed_in)
        if request.query.get("since") == token:
            return json_response({"token": token, "changed": False})
        rows = scheme_rows(casework.book, signed_in.departments)
        return json_response(
            {
                "token": token,
                "changed": True,
                "caught_up": casework.caught_up.is_set(),
                "total": len(rows),
                "schemes": rows[:MAX_LISTED_SCHEMES],
            }
        )


@app.page("/console/api/schemes/{scheme_id}")
class SchemeDetail(ConsoleView):
    async def get(self, request: Request, scheme_id: str) -> Response:
        signed_in = api_user(request)
        scheme = _visible_scheme(signed_in, scheme_id)
        return json_response(
            {"token": list_token(signed_in)}
            | scheme_page(casework.book, signed_in.departments, scheme)
        )


@app.page("/console/api/schemes/{scheme_id}/flow.svg")
class SchemeFlowChart(ConsoleView):
    """The scheme's money flow as an SVG picture, which the page shows as an image: no markup
    from the server is put into the page itself."""

    async def get(self, request: Request, scheme_id: str) -> Response:
        signed_in = api_user(request)
        lang = choice(request, "lang", ["zh", "en"]) or "zh"
        scheme = _visible_scheme(signed_in, scheme_id)
        return Response(
            text=scheme_flow_chart(scheme, lang),
            content_type="image/svg+xml",
            charset="utf-8",
        )
