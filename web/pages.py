"""The sign-in screens' pages (login, connected, refusals, admin) on the site's base template.

They send `Referrer-Policy: no-referrer` where other pages send `same-origin`: the OAuth
callback's URL carries Spotify's code and the state, which no link from its page passes on.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse

from web.templating import render_page

SIGN_IN_HEADERS = {"Referrer-Policy": "no-referrer"}


@dataclasses.dataclass(frozen=True)
class Next:
    """Where a message page sends the reader next."""

    href: str
    label: str


def _headers(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    return {**SIGN_IN_HEADERS, **(extra or {})}


def sign_in_page(
    request: Request, template: str, context: Mapping[str, Any], *, status: int = 200
) -> HTMLResponse:
    """A sign-in screen's template, with the site's header and the no-referrer policy."""
    return render_page(request, template, context, status=status, headers=_headers())


def login_page(
    request: Request, context: Mapping[str, Any], *, status: int, accounts_origin: str
) -> HTMLResponse:
    """The login form, whose answer is a redirect to Spotify's accounts service."""
    return render_page(
        request,
        "login.html",
        context,
        status=status,
        headers=_headers(),
        form_targets=[accounts_origin],
    )


def message_page(
    request: Request,
    title: str,
    *sentences: str,
    status: int = 200,
    next_step: Next | None = None,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """A title, a few sentences (escaped by the template) and perhaps a link onwards."""
    context = {"title": title, "sentences": sentences, "status": status, "next": next_step}
    return render_page(request, "message.html", context, status=status, headers=_headers(headers))


def too_many(request: Request, title: str, sentence: str, retry_after: int) -> HTMLResponse:
    """The 429 page a rate-limited person sees, with when to try again."""
    headers = {"Retry-After": str(retry_after)}
    return message_page(request, title, sentence, status=429, headers=headers)
