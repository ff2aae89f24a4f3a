"""Sessions of people signed in with Spotify, and the CSRF token of session-bound forms.

The session is Starlette's signed cookie (HttpOnly, SameSite=Lax, Secure on an https
PUBLIC_URL, expiring after SESSION_MAX_AGE). It holds the username and a CSRF token; it is
signed, not encrypted, so nothing secret goes in it. Every worker process signs with the same
secret: SESSION_SECRET, or a key derived from the first TOKEN_ENCRYPTION_KEY (see
`application.session_secret`).

CSRF: SameSite=Lax already keeps the cookie off cross-site POSTs in today's browsers; the
token is the second lock, for older browsers and same-site attackers. A form carries
`csrf_field(request)`, its handler calls `await require_csrf(request)`.
"""

from __future__ import annotations

import hmac
import secrets

from markupsafe import Markup
from starlette.datastructures import FormData
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request

from web.access import SESSION_USER
from web.problems import Problem

SESSION_COOKIE = "insight_session"
CSRF_KEY = "csrf"
CSRF_FIELD = "csrf_token"


def session_middleware(secret: str, max_age: int, *, https: bool) -> Middleware:
    """Starlette's SessionMiddleware with this service's cookie and flags."""
    return Middleware(
        SessionMiddleware,
        secret_key=secret,
        session_cookie=SESSION_COOKIE,
        max_age=max_age,
        same_site="lax",
        https_only=https,
    )


def _has_sessions(request: Request) -> bool:
    return "session" in request.scope


def sign_in(request: Request, username: str) -> None:
    """Start `username`'s session; whatever the cookie held before is dropped."""
    if not _has_sessions(request):
        return
    # A fresh session on every sign-in: nothing planted in the cookie before survives it.
    request.session.clear()
    request.session[SESSION_USER] = username
    request.session[CSRF_KEY] = secrets.token_urlsafe(32)


def sign_out(request: Request) -> None:
    """End the session: the response removes the cookie."""
    if _has_sessions(request):
        request.session.clear()


def csrf_token(request: Request) -> str:
    """The session's CSRF token, created on first use; '' where sessions are off."""
    if not _has_sessions(request):
        return ""
    token = request.session.get(CSRF_KEY)
    if not isinstance(token, str) or not token:
        token = request.session[CSRF_KEY] = secrets.token_urlsafe(32)
    return token


def csrf_field(request: Request) -> Markup:
    """The hidden input a session-bound form carries (safe to put in a Jinja2 template)."""
    return Markup('<input type="hidden" name="{}" value="{}">').format(
        CSRF_FIELD, csrf_token(request)
    )


def _csrf_refused() -> Problem:
    return Problem(
        403,
        "Forbidden",
        "this form expired or came from another site; reload the page and try again",
        slug="csrf",
    )


async def require_csrf(request: Request) -> FormData:
    """The submitted form, once its CSRF token matches the session's (constant time)."""
    form = await request.form()
    submitted = form.get(CSRF_FIELD)
    expected = request.session.get(CSRF_KEY) if _has_sessions(request) else None
    if not isinstance(submitted, str) or not isinstance(expected, str) or not expected:
        raise _csrf_refused()
    if not hmac.compare_digest(submitted.encode(), expected.encode()):
        raise _csrf_refused()
    return form
