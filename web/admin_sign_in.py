"""Signing in with ADMIN_TOKEN in a browser, which cannot send a bearer header, to see every page.

The admin session reads every user's pages and JSON, like the token; the admin API itself
still takes the header only (`web.access.require_admin`). Replacing ADMIN_TOKEN ends every
admin session; `POST /auth/logout` ends this one. Tries are limited per client address.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from web.access import admin_fingerprint, is_admin_token
from web.pages import message_page, sign_in_page, too_many
from web.params import operation
from web.rate_limit import rate_limited
from web.sessions import require_csrf, sign_in_admin

TRIES_PER_CLIENT = 10
TRIES_WINDOW_SECONDS = 60
FORM_FIELD = "token"

# Seconds since the epoch; tests move it to let the window pass.
clock: Callable[[], float] = time.time


def _form(request: Request, error: str | None, status: int) -> Response:
    context = {"field": FORM_FIELD, "error": error}
    return sign_in_page(request, "admin_sign_in.html", context, status=status)


def _no_sessions(request: Request) -> Response:
    return message_page(
        request,
        "Admin sign-in is off",
        "Set SESSION_SECRET (or TOKEN_ENCRYPTION_KEY) to let the admin sign in here.",
        status=503,
    )


@operation(
    "Admin sign-in page (a form for ADMIN_TOKEN)",
    responses={200: "An HTML form.", 503: "Sessions are off (HTML page)."},
    protected=False,
    tag="auth",
)
async def admin_sign_in_page(request: Request) -> Response:
    if admin_fingerprint(request) is None:
        return _no_sessions(request)
    return _form(request, None, 200)


@operation(
    "Sign in as the admin: the form's token must be ADMIN_TOKEN",
    responses={
        303: "Signed in; redirect to the home page.",
        401: "Not the admin token (HTML page).",
        403: "The form's CSRF token is missing or wrong.",
        429: "Too many tries from this client (HTML page).",
        503: "Sessions are off (HTML page).",
    },
    protected=False,
    tag="auth",
)
async def admin_sign_in(request: Request) -> Response:
    fingerprint = admin_fingerprint(request)
    if fingerprint is None:
        return _no_sessions(request)
    wait = rate_limited(
        request, "admin_sign_ins", window=TRIES_WINDOW_SECONDS, limit=TRIES_PER_CLIENT, now=clock()
    )
    if wait:
        return too_many(
            request,
            "Too many tries",
            "Too many admin sign-ins were tried from here; try again in a minute.",
            wait,
        )
    form = await require_csrf(request)
    if not is_admin_token(request, str(form.get(FORM_FIELD) or "")):
        return _form(request, "That is not the admin token.", 401)
    sign_in_admin(request, fingerprint)
    return RedirectResponse("/", status_code=303)
