"""Pages for people: Jinja2 templates, their security headers, and errors shown as pages.

Templates live in `web/templates/`, static files in `web/static/`. Every value a template
shows is escaped by Jinja2's autoescape; chart data reaches the browser only as JSON inside
`<script type="application/json">` blocks (see `json_block`), drawn by `static/charts.js`,
so the Content-Security-Policy can forbid inline scripts and `eval`.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import jinja2
import orjson
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from web import assets
from web.access import is_admin_session, signed_in_username
from web.params import OperationEndpoint
from web.problems import Problem
from web.sessions import csrf_field

TEMPLATES = Path(__file__).parent / "templates"

# Scripts only from this origin (plotly and charts.js), never inline, never eval. Styles may
# be inline because plotly.js sets style rules on the SVG it draws at run time; a style
# cannot run code. Images: no third-party hosts (artists' pictures are not shown).
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; base-uri 'none'; frame-ancestors 'none'; form-action {form_action}"
)


def content_security_policy(form_targets: Iterable[str] = ()) -> str:
    """The pages' policy; `form_targets` are origins a form's redirect may reach (Spotify's
    accounts service, for the login form whose answer is a redirect there)."""
    return _CSP.format(form_action=" ".join(("'self'", *form_targets)))


PAGE_CSP = content_security_policy()


def json_block(value: Any) -> Markup:
    """`value` as JSON safe inside a `<script type="application/json">` element.

    orjson leaves `<`, `>` and `&` alone; escaped as \\u003c etc. no `</script>` in a name
    can end the block early, and JSON.parse reads them back unchanged.
    """
    encoded = orjson.dumps(value).decode()
    for char, escape in (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e")):
        encoded = encoded.replace(char, escape)
    return Markup(encoded)  # noqa: S704 (escaped just above: no markup can get through)


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["json_block"] = json_block
    env.globals["static_url"] = assets.static_url
    env.globals["plotly_url"] = assets.plotly_url
    env.globals["csrf_field"] = csrf_field
    return env


ENVIRONMENT = _environment()


def page_headers(
    extra: Mapping[str, str] | None = None, form_targets: Iterable[str] = ()
) -> dict[str, str]:
    """Headers of every page: a strict CSP, no sniffing, no framing, never cached."""
    return {
        "Content-Security-Policy": content_security_policy(form_targets),
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "same-origin",
        # Pages show private data: never kept by shared caches, or by the browser past a visit.
        "Cache-Control": "no-store",
        **(extra or {}),
    }


def render_page(
    request: Request,
    template: str,
    context: Mapping[str, Any],
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
    form_targets: Iterable[str] = (),
) -> HTMLResponse:
    """The template rendered with `context`, plus the request and who is signed in."""
    viewer = signed_in_username(request)
    admin = is_admin_session(request)
    body = ENVIRONMENT.get_template(template).render(
        {"request": request, "viewer": viewer, "admin": admin, **context}
    )
    return HTMLResponse(body, status_code=status, headers=page_headers(headers, form_targets))


def problem_page(request: Request, problem: Problem) -> HTMLResponse:
    """A problem (bad date, unknown user, not yours) as a page a person can read."""
    # Only headers a browser acts on for a page (WWW-Authenticate, Retry-After, Location).
    kept = {
        name: value
        for name, value in (problem.headers or {}).items()
        if name.lower() in ("www-authenticate", "retry-after", "location")
    }
    return render_page(
        request,
        "problem.html",
        {
            "title": problem.title,
            "status": problem.status,
            "detail": problem.detail,
            "nearest_dates": problem.extensions.get("nearest_dates", []),
        },
        status=problem.status,
        headers=kept,
    )


PageEndpoint = Callable[[Request], Awaitable[Response]]


def page(endpoint: OperationEndpoint) -> PageEndpoint:
    """Answer a page endpoint's problems (bad parameters included) as HTML pages."""

    @functools.wraps(endpoint)
    async def answer(request: Request) -> Response:
        try:
            return await endpoint.answer(request)
        except Problem as problem:
            return problem_page(request, problem)

    return answer
