"""Sessions of people signed in with Spotify, and the CSRF token of session-bound forms.

The session is Starlette's signed cookie (HttpOnly, SameSite=Lax, Secure on an https
PUBLIC_URL, expiring after SESSION_MAX_AGE). It holds the username and a CSRF token; it is
signed, not encrypted, so nothing secret goes in it. Every worker process signs with the same
secret: SESSION_SECRET, or a key derived from the first TOKEN_ENCRYPTION_KEY (see
`application.session_secret`).

Sessions end on the server too: signing out records the moment for the user, and a session
started before it (or before the user existed: a removed user's name taken by someone else)
is dropped by `CurrentSessions` before any endpoint sees it.

CSRF: SameSite=Lax already keeps the cookie off cross-site POSTs in today's browsers; the
token is the second lock, for older browsers and same-site attackers. A form carries
`csrf_field(request)`, its handler calls `await require_csrf(request)`.
"""

from __future__ import annotations

import datetime as dt
import hmac
import logging
import secrets
import time
from collections.abc import MutableMapping
from typing import Any

from markupsafe import Markup
from starlette.datastructures import FormData
from starlette.middleware import Middleware
from starlette.middleware.sessions import Session, SessionMiddleware
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from db.database import DATABASE_UNAVAILABLE
from db.users import end_sessions, session_is_current
from web.access import SESSION_ADMIN, SESSION_USER
from web.problems import Problem

logger = logging.getLogger(__name__)

SESSION_COOKIE = "insight_session"
CSRF_KEY = "csrf"
CSRF_FIELD = "csrf_token"
STARTED = "since"  # seconds since the epoch when the session started


def session_middleware(secret: str, max_age: int, *, https: bool) -> list[Middleware]:
    """Starlette's SessionMiddleware with this service's cookie and flags, then the check
    that drops sessions that ended on the server."""
    return [
        Middleware(
            SessionMiddleware,
            secret_key=secret,
            session_cookie=SESSION_COOKIE,
            max_age=max_age,
            same_site="lax",
            https_only=https,
        ),
        Middleware(CurrentSessions),
    ]


def _started_at(session: MutableMapping[str, Any]) -> dt.datetime | None:
    started = session.get(STARTED)
    if not isinstance(started, int | float) or isinstance(started, bool):
        return None
    return dt.datetime.fromtimestamp(started, dt.UTC).replace(tzinfo=None)


class CurrentSessions:
    """Pure ASGI middleware: a signed-in session the database says has ended is dropped.

    One indexed look-up per request that carries a signed-in session. When the database
    cannot answer, the request goes on as anonymous (and the cookie is left as it is).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        session = scope.get("session")
        if scope["type"] == "http" and session and SESSION_USER in session:
            await self._check(scope, session)
        await self.app(scope, receive, send)

    async def _check(self, scope: Scope, session: MutableMapping[str, Any]) -> None:
        started = _started_at(session)
        database = scope.get("state", {}).get("database")
        try:
            current = (
                started is not None
                and database is not None
                and await database.run(session_is_current, session[SESSION_USER], started)
            )
        except DATABASE_UNAVAILABLE:
            logger.warning("session not checked: the database did not answer")
            # A copy marked unchanged: this request is anonymous, the cookie stays as it was.
            scope["session"] = Session({k: v for k, v in session.items() if k != SESSION_USER})
            return
        if not current:
            session.clear()  # the response removes the cookie


def _has_sessions(request: Request) -> bool:
    return "session" in request.scope


def _fresh_session(request: Request, key: str, who: str) -> None:
    """A new session for `who` under `key`; nothing planted in the cookie before survives it."""
    if not _has_sessions(request):
        return
    request.session.clear()
    request.session[key] = who
    request.session[STARTED] = time.time()
    request.session[CSRF_KEY] = secrets.token_urlsafe(32)


def sign_in(request: Request, username: str) -> None:
    """Start `username`'s session; whatever the cookie held before is dropped."""
    _fresh_session(request, SESSION_USER, username)


def sign_in_admin(request: Request, fingerprint: str) -> None:
    """Start an admin session (see `web.access.admin_fingerprint`); what was there is dropped."""
    _fresh_session(request, SESSION_ADMIN, fingerprint)


async def sign_out(request: Request) -> None:
    """End the session: every session of its user ends on the server, and the response
    removes this one's cookie."""
    if not _has_sessions(request):
        return
    username = request.session.get(SESSION_USER)
    if isinstance(username, str):
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        await request.state.database.run(end_sessions, username, now)
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
