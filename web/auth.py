"""Onboarding through Spotify's authorization-code flow: the login page and the callback.

A login records a single-use nonce, signs it into the OAuth `state` with a key derived from
TOKEN_ENCRYPTION_KEY, and binds it to the browser with an HttpOnly cookie. The callback
accepts the state only with a valid signature, within ten minutes, from the same browser,
and once. Nothing is stored unless every step succeeds.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Callable, Iterable
from urllib.parse import quote, urlencode, urlsplit

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from db.oauth_states import StateRejected, TooManyStates, consume_state, record_state
from db.token_cipher import TokenCipher
from db.users import AccountConflict, InvalidUsername, save_spotify_login, validate_username
from spotify_client import (
    BadRequest,
    Forbidden,
    InvalidGrant,
    SpotifyAuthError,
    SpotifyClient,
    SpotifyError,
)
from web.pages import Next, login_page, message_page, sign_in_page, too_many
from web.params import Param, operation
from web.rate_limit import rate_limited
from web.sessions import require_csrf, sign_in, sign_out

logger = logging.getLogger(__name__)

SCOPES = (
    "user-top-read user-read-recently-played user-library-read "
    "playlist-read-private playlist-read-collaborative"
)
STATE_MAX_AGE = 600
STATE_COOKIE = "insight_oauth"
FORM_COOKIE = "insight_login_form"
_STATE_SALT = "oauth-state"
# Login starts per client address in any LOGIN_WINDOW_SECONDS; each start stores a state row.
LOGIN_STARTS_PER_CLIENT = 10
LOGIN_WINDOW_SECONDS = 60

# Seconds since the epoch; tests move it to expire states without waiting.
clock: Callable[[], float] = time.time


class _ClockedSigner(TimestampSigner):
    def get_timestamp(self) -> int:
        return int(clock())


@dataclasses.dataclass(frozen=True)
class _Onboarding:
    """What a login needs, present only when the operator configured all of it."""

    client_id: str
    redirect_uri: str
    accounts_url: str
    cipher: TokenCipher
    spotify: SpotifyClient

    def serializer(self) -> URLSafeTimedSerializer:
        key = self.cipher.derive_key(_STATE_SALT)
        return URLSafeTimedSerializer(key, salt=_STATE_SALT, signer=_ClockedSigner)

    def accounts_origin(self) -> str:
        parts = urlsplit(self.accounts_url)
        return f"{parts.scheme}://{parts.netloc}"


class _Refused(Exception):
    """The callback cannot go on; carries the page to show."""

    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.title = title
        self.message = message


def _onboarding(request: Request) -> _Onboarding | None:
    settings = request.app.state.settings
    cipher: TokenCipher | None = getattr(request.state, "cipher", None)
    if not (settings.has_spotify_app and cipher):
        return None
    return _Onboarding(
        settings.spotify_client_id,
        settings.spotify_redirect_uri,
        settings.spotify_accounts_url,
        cipher,
        request.state.spotify,
    )


def _not_configured(request: Request) -> Response:
    return message_page(
        request,
        "Onboarding is not configured",
        "This server cannot connect Spotify accounts yet: its operator must set "
        "SPOTIFY_CLIENT_ID, SPOTIFY_CLIENT_SECRET and TOKEN_ENCRYPTION_KEY.",
        status=503,
    )


def _now() -> dt.datetime:
    return dt.datetime.fromtimestamp(clock(), dt.UTC).replace(tzinfo=None)


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _set_cookie(response: Response, request: Request, name: str, value: str) -> None:
    response.set_cookie(
        name,
        value,
        max_age=STATE_MAX_AGE,
        path="/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


def _login_form(
    request: Request,
    onboarding: _Onboarding,
    username: str,
    form_token: str,
    error: str | None,
    status: int,
) -> Response:
    context = {
        "form_token": form_token,
        "username": username,
        "error": error,
    }
    return login_page(request, context, status=status, accounts_origin=onboarding.accounts_origin())


def _show_form(
    request: Request, onboarding: _Onboarding, username: str, error: str | None, status: int
) -> Response:
    form_token = secrets.token_urlsafe(32)
    response = _login_form(request, onboarding, username, form_token, error, status)
    _set_cookie(response, request, FORM_COOKIE, form_token)
    return response


USERNAME_QUERY = Param(
    "username",
    "query",
    "Username to fill in (re-authorisation links carry it).",
    str,
    {"type": "string"},
    default="",
)


@operation(
    "Login page: choose a username, then continue to Spotify's consent screen",
    USERNAME_QUERY,
    responses={200: "An HTML form.", 503: "Onboarding is not configured (HTML page)."},
    protected=False,
    tag="auth",
)
async def login(request: Request, username: str) -> Response:
    onboarding = _onboarding(request)
    if onboarding is None:
        return _not_configured(request)
    return _show_form(request, onboarding, username[:64], None, 200)


def _form_token_ok(request: Request, submitted: str) -> bool:
    # Double-submit check: a cross-site POST cannot read or carry our SameSite cookie.
    cookie = request.cookies.get(FORM_COOKIE, "")
    return bool(cookie) and hmac.compare_digest(cookie.encode(), submitted.encode())


async def _issue_state(request: Request, onboarding: _Onboarding, username: str | None) -> Response:
    nonce = secrets.token_urlsafe(24)
    binding = secrets.token_urlsafe(32)
    now = _now()
    expires_at = now + dt.timedelta(seconds=STATE_MAX_AGE)
    try:
        await request.state.database.run(record_state, nonce, username, expires_at, now)
    except TooManyStates as exc:
        logger.warning("login start refused: %s", exc)
        return _too_many(request, STATE_MAX_AGE // 10)
    state = onboarding.serializer().dumps({"n": nonce, "b": _digest(binding)})
    query = urlencode(
        {
            "client_id": onboarding.client_id,
            "response_type": "code",
            "redirect_uri": onboarding.redirect_uri,
            "scope": SCOPES,
            "state": state,
        }
    )
    response = RedirectResponse(f"{onboarding.accounts_url}/authorize?{query}", status_code=303)
    _set_cookie(response, request, STATE_COOKIE, binding)
    response.delete_cookie(FORM_COOKIE, path="/")
    return response


def _too_many(request: Request, retry_after: int) -> Response:
    sentence = "Too many logins were started from here or at once; try again in a minute."
    return too_many(request, "Too many logins", sentence, retry_after)


@operation(
    "Start a login: record a single-use state and redirect to Spotify",
    responses={
        303: "Redirect to Spotify's consent screen.",
        400: "The form was not sent by this server's login page (HTML page).",
        429: "Too many logins started from this client, or in progress at once (HTML page).",
        503: "Onboarding is not configured (HTML page).",
    },
    protected=False,
    tag="auth",
)
async def start_login(request: Request) -> Response:
    onboarding = _onboarding(request)
    if onboarding is None:
        return _not_configured(request)
    wait = rate_limited(
        request,
        "login_starts",
        window=LOGIN_WINDOW_SECONDS,
        limit=LOGIN_STARTS_PER_CLIENT,
        now=clock(),
    )
    if wait:
        return _too_many(request, wait)
    form = await request.form()
    username = str(form.get("username") or "").strip()
    if not _form_token_ok(request, str(form.get("form_token") or "")):
        error = "This form expired or came from another site; please submit it again."
        return _show_form(request, onboarding, username[:64], error, 400)
    try:
        if username:
            validate_username(username)
    except InvalidUsername as exc:
        return _show_form(request, onboarding, username[:64], str(exc), 400)
    return await _issue_state(request, onboarding, username or None)


def _verified_nonce(onboarding: _Onboarding, state: str, binding: str | None) -> str:
    try:
        payload = onboarding.serializer().loads(state, max_age=STATE_MAX_AGE)
    except SignatureExpired:
        raise _Refused(400, "Login expired", "This login took too long.") from None
    except BadSignature:
        raise _Refused(
            400, "Invalid login", "This login link is not one this server issued."
        ) from None
    if not isinstance(payload, dict) or not isinstance(payload.get("n"), str):
        raise _Refused(400, "Invalid login", "This login link is malformed.")
    expected = str(payload.get("b", ""))
    if binding is None or not hmac.compare_digest(_digest(binding), expected):
        raise _Refused(
            400,
            "Login from another browser",
            "This login was started in another browser (or its cookie was blocked).",
        )
    return str(payload["n"])


async def _check_state(request: Request, onboarding: _Onboarding, state: str) -> str | None:
    """The username the login asked for; _Refused unless the state is good and fresh."""
    if not state:
        raise _Refused(400, "Invalid login", "Spotify sent no state back.")
    nonce = _verified_nonce(onboarding, state, request.cookies.get(STATE_COOKIE))
    try:
        issued = await request.state.database.run(consume_state, nonce, _now())
    except StateRejected as exc:
        raise _Refused(400, "Invalid login", f"{str(exc).capitalize()}.") from None
    return issued.username


def _spotify_refusal(exc: SpotifyError, step: str) -> _Refused:
    logger.warning("OAuth callback: %s failed (%s)", step, type(exc).__name__)
    if isinstance(exc, InvalidGrant | SpotifyAuthError | BadRequest):
        return _Refused(400, "Spotify refused the login", f"Spotify refused the {step}.")
    if isinstance(exc, Forbidden):
        return _Refused(
            403,
            "Spotify refused access",
            "Spotify refused access to this account; is it on the app's allow-list?",
        )
    return _Refused(502, "Spotify did not answer", "Spotify could not be reached; try again.")


async def _connect(
    request: Request, onboarding: _Onboarding, code: str, username: str | None
) -> tuple[str, bool]:
    try:
        grant = await onboarding.spotify.exchange_code(code, onboarding.redirect_uri)
    except SpotifyError as exc:
        raise _spotify_refusal(exc, "authorization code") from None
    if not grant.refresh_token:
        raise _Refused(502, "Spotify did not answer", "Spotify returned no refresh token.")
    try:
        login = await onboarding.spotify.check_login(grant.refresh_token)
    except SpotifyError as exc:
        raise _spotify_refusal(exc, "profile request") from None
    profile = login.profile
    encrypted = onboarding.cipher.encrypt(login.refresh_token)
    account_id = profile.account_id or profile.id
    try:
        return await request.state.database.run(
            save_spotify_login, account_id, profile.display_name, encrypted, username
        )
    except (AccountConflict, InvalidUsername) as exc:
        raise _Refused(409, "Username not available", _sentence(str(exc))) from None


def _sentence(message: str) -> str:
    """`message` as a sentence of its own, so the next one does not run into it."""
    message = message.strip()
    if not message:
        return message
    ending = "" if message.endswith((".", "!", "?")) else "."
    return message[0].upper() + message[1:] + ending


def _params(*names: str) -> Iterable[Param]:
    return (
        Param(name, "query", f"Set by Spotify: {name}.", str, {"type": "string"}, default="")
        for name in names
    )


def _outcome(request: Request, username: str, created: bool) -> Response:
    """A returning person goes straight to their page; a newcomer learns what happens next."""
    if not created:
        return RedirectResponse(f"/u/{quote(username, safe='')}", status_code=303)
    return sign_in_page(request, "connected.html", {"username": username})


@operation(
    "OAuth callback: check the state, exchange the code, store the user",
    *_params("code", "state", "error"),
    responses={
        200: "A new account is connected (HTML page).",
        303: "A returning person is signed in: on to their page.",
        400: "Bad, expired or replayed state, or Spotify refused the code (HTML page).",
        403: "The user declined, or Spotify refused this account (HTML page).",
        409: "The chosen username belongs to someone else (HTML page).",
        503: "Onboarding is not configured (HTML page).",
    },
    protected=False,
    tag="auth",
    # Spotify calls this, not our clients, and may add parameters (RFC 9207's `iss`).
    strict=False,
)
async def callback(request: Request, code: str, state: str, error: str) -> Response:
    onboarding = _onboarding(request)
    if onboarding is None:
        return _not_configured(request)
    try:
        response = await _handle_callback(request, onboarding, code, state, error)
    except _Refused as refused:
        response = message_page(
            request,
            refused.title,
            f"{_sentence(refused.message)} Nothing was stored.",
            status=refused.status,
            next_step=Next(str(request.url_for("login")), "Start again"),
        )
    response.delete_cookie(STATE_COOKIE, path="/")
    return response


async def _handle_callback(
    request: Request, onboarding: _Onboarding, code: str, state: str, error: str
) -> Response:
    username = await _check_state(request, onboarding, state)
    if error == "access_denied":
        raise _Refused(403, "Access not granted", "You declined access on Spotify.")
    if error:
        raise _Refused(400, "Spotify reported an error", f"Spotify answered {error[:64]!r}.")
    if not code:
        raise _Refused(400, "Invalid login", "Spotify sent no authorization code.")
    final_name, created = await _connect(request, onboarding, code, username)
    # Spotify has just proved this browser holds the account: it is signed in as its user.
    sign_in(request, final_name)
    logger.info(
        "user %s %s through OAuth", final_name, "registered" if created else "re-authorised"
    )
    return _outcome(request, final_name, created)


@operation(
    "Sign out: end this browser's session (a form with the session's CSRF token)",
    responses={
        303: "Signed out; redirect to the home page.",
        403: "The form's CSRF token is missing or wrong.",
    },
    protected=False,
    tag="auth",
)
async def logout(request: Request) -> Response:
    await require_csrf(request)
    await sign_out(request)
    return RedirectResponse("/", status_code=303)
