"""The home page: the service, the sign-in button, and a signed-in person's way to their page.

It shows no one's data: pages are private (`web.access`), and a person's own page is one
link away once they have signed in.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from web.params import operation
from web.templating import page, render_page


@page
@operation(
    "A page for people: the service, the sign-in button, a link to one's own page",
    responses={200: "An HTML page."},
    protected=False,
    tag="pages",
    strict=False,
)
async def home(request: Request) -> Response:
    return render_page(request, "home.html", {})
