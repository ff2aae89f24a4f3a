"""Who may read a user's data: the one place that decides, for the JSON API and the pages.

Credentials, strongest first: ADMIN_TOKEN (a bearer header, or an admin session from
`/auth/admin`) reads everything; an instance key (API_KEYS) reads
every user through the JSON API; a scoped key (`keys create`) reads the users it covers; the
session of a person signed in with Spotify reads that person's own data. With no key of
either kind configured the JSON API is open, as it always was, for a service on a private
network; the pages never are: a person's pages are theirs (or everyone's, once made public).
Secrets are compared in constant time, or looked up by a hash (see `db.api_keys`).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

from starlette.datastructures import Secret, State
from starlette.requests import Request

from db.users import user_is_public
from web.key_scopes import KeyScopes
from web.lifespan_state import database_of
from web.problems import Problem

BEARER = "bearer "
SESSION_USER = "user"
SESSION_ADMIN = "admin"
_REALM = 'Bearer realm="spotify-insight"'


def bearer_token(request: Request) -> str | None:
    """The token of an `Authorization: Bearer` header, if there is one."""
    header = request.headers.get("authorization", "")
    if header[: len(BEARER)].lower() != BEARER:
        return None
    return header[len(BEARER) :].strip()


def _matches_any(token: str, secrets: Sequence[Secret]) -> bool:
    # Compare against every key so the time taken does not reveal which one matched.
    given = token.encode()
    found = False
    for secret in secrets:
        found |= hmac.compare_digest(given, str(secret).encode())
    return found


def signed_in_username(request: Request) -> str | None:
    """The user whose session this request carries, if anyone signed in."""
    if "session" not in request.scope:  # no SESSION_SECRET and no key to derive one from
        return None
    user = request.session.get(SESSION_USER)
    return user if isinstance(user, str) else None


def is_admin_token(request: Request, token: str | None) -> bool:
    """Whether `token` is ADMIN_TOKEN (compared in constant time)."""
    admin: Secret | None = request.app.state.settings.admin_token
    return admin is not None and token is not None and _matches_any(token, [admin])


def admin_fingerprint(request: Request) -> str | None:
    """What an admin session holds: the current ADMIN_TOKEN, keyed with the session key.

    Keyed, so a copy of the (readable) cookie gives nobody a hash to guess the token from;
    of the current token, so replacing ADMIN_TOKEN ends every admin session.
    """
    admin: Secret | None = request.app.state.settings.admin_token
    key: bytes | None = getattr(request.app.state, "admin_session_key", None)
    if admin is None or key is None:
        return None
    return hmac.new(key, str(admin).encode(), hashlib.sha256).hexdigest()


def is_admin_session(request: Request) -> bool:
    """Whether the browser signed in with ADMIN_TOKEN (`/auth/admin`), and that token is current."""
    if "session" not in request.scope:
        return False
    held = request.session.get(SESSION_ADMIN)
    expected = admin_fingerprint(request)
    if not isinstance(held, str) or expected is None:
        return False
    return hmac.compare_digest(held.encode(), expected.encode())


def _sees_everything(request: Request, token: str | None) -> bool:
    return is_admin_token(request, token) or is_admin_session(request)


def _scopes(app_state: State) -> KeyScopes:
    scopes: KeyScopes | None = getattr(app_state, "key_scopes", None)
    if scopes is None:
        scopes = app_state.key_scopes = KeyScopes()
    return scopes


async def _api_is_open(request: Request) -> bool:
    """No key of either kind is configured: the JSON API reads as it did before keys."""
    # The app's state read once: every snapshot read passes here.
    app_state = request.app.state
    if app_state.settings.api_keys:
        return False
    return not await _scopes(app_state).any_configured(database_of(request))


def _unauthorized(detail: str, *, invalid: bool = False) -> Problem:
    challenge = _REALM + (', error="invalid_token"' if invalid else "")
    return Problem(
        401, "Unauthorized", detail, slug="unauthorized", headers={"WWW-Authenticate": challenge}
    )


_NEEDS_CREDENTIALS = (
    "this endpoint needs an API key (`Authorization: Bearer <key>`) or a signed-in session"
)


async def _key_users(request: Request, token: str) -> frozenset[str] | None:
    """The users `token` may read: None for every user, or the scoped key's users.

    Raises a 401 for a token that is no key at all, or a revoked one.
    """
    settings = request.app.state.settings
    if is_admin_token(request, token) or _matches_any(token, settings.api_keys):
        return None
    covered = await _scopes(request.app.state).users_of(database_of(request), token)
    if covered is None:
        raise _unauthorized("this API key is not valid (unknown or revoked)", invalid=True)
    return covered


def _not_yours(username: str) -> Problem:
    # The same 403 for every username the credentials do not cover, whether or not such a
    # user exists: the answer is decided from the credentials alone, before any look-up, so
    # a key or session cannot be used to learn who else is registered here.
    return Problem(
        403,
        "Forbidden",
        f"these credentials do not cover user {username[:64]!r}",
        slug="forbidden",
    )


async def require_reader(request: Request, username: str) -> None:
    """Refuse the request unless it may read `username`'s data through the JSON API."""
    if await _api_is_open(request) or is_admin_session(request):
        return
    token = bearer_token(request)
    if token is not None:
        covered = await _key_users(request, token)
        if covered is None or username in covered:
            return
        raise _not_yours(username)
    signed_in = signed_in_username(request)
    if signed_in is None:
        raise _unauthorized(_NEEDS_CREDENTIALS)
    if signed_in != username:
        raise _not_yours(username)


async def require_client(request: Request) -> None:
    """Refuse the request unless the API is open or it carries any valid credential.

    For catalogue routes, which read no user's data: any key, or a signed-in session, will do.
    """
    if await _api_is_open(request) or is_admin_session(request):
        return
    token = bearer_token(request)
    if token is not None:
        await _key_users(request, token)
        return
    if signed_in_username(request) is None:
        raise _unauthorized(_NEEDS_CREDENTIALS)


def sign_in_required(username: str) -> Problem:
    """An anonymous visitor asked for a page that is not public: the page offers sign-in."""
    return Problem(
        401,
        "Sign in required",
        f"sign in with Spotify to see the pages of {username[:64]!r}",
        slug="sign-in-required",
        headers={"WWW-Authenticate": _REALM},
        sign_in="/auth/login",
    )


def page_not_found(username: str) -> Problem:
    """The same answer for another person's private page as for a user who does not exist."""
    return Problem(404, "Not found", f"no pages for {username[:64]!r}", slug="not-found")


async def require_page_viewer(request: Request, username: str) -> None:
    """Refuse the request unless its viewer may see `username`'s pages.

    Passes for the user's own session, ADMIN_TOKEN (a bearer header, or an admin session
    from `/auth/admin`), or a public user.
    Otherwise a 401 `sign-in-required` for a visitor who has not signed in, and a 404 for
    one signed in as someone else (who may not learn whether `username` exists).
    """
    signed_in = signed_in_username(request)
    if signed_in == username or _sees_everything(request, bearer_token(request)):
        return
    if await database_of(request).run(user_is_public, username):
        return
    raise sign_in_required(username) if signed_in is None else page_not_found(username)


def require_admin(request: Request) -> None:
    """Refuse the request unless it carries ADMIN_TOKEN.

    The header only, never an admin session: the admin API changes things, and a request
    a browser adds no cookie to cannot be forged from another site.
    """
    if not is_admin_token(request, bearer_token(request)):
        raise Problem(
            401,
            "Unauthorized",
            "admin endpoints need `Authorization: Bearer <ADMIN_TOKEN>`",
            slug="unauthorized",
            headers={"WWW-Authenticate": 'Bearer realm="spotify-insight-admin"'},
        )
