"""The accounts service: authorize (auto-consenting) and the token endpoint."""

from __future__ import annotations

import base64
import binascii
import html
import secrets
from typing import Any
from urllib.parse import urlencode, urlsplit

from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import Route

from spotify_emulator.state import EmulatorState, state_of
from spotify_emulator.tokens import ACCESS_TOKEN_SECONDS, GrantError

_LOOPBACK_HOSTS = ("127.0.0.1", "::1")
# Query parameters of the emulator's own consent page (never sent by a real client).
PICK_USER = "emulator_user"
PICK_DENY = "emulator_deny"
_PICK_PARAMS = (PICK_USER, PICK_DENY)
# Each listener is one large target (a thumb on a phone); nothing loaded from elsewhere.
_PICKER_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem}"
    "ul{list-style:none;padding:0}li{margin:.5rem 0}"
    "a.user{display:block;padding:.8rem 1rem;border-radius:2rem;background:#1db954;"
    "color:#000;font-weight:600;text-decoration:none}a.user small{font-weight:400}"
    "a.user:hover,a.user:focus{background:#1ed760}"
)


def _redirect_uri_allowed(uri: str) -> bool:
    # Spotify accepts HTTPS anywhere, or plain HTTP on a loopback address (never "localhost").
    parts = urlsplit(uri)
    if parts.scheme == "https":
        return bool(parts.hostname)
    return parts.scheme == "http" and parts.hostname in _LOOPBACK_HOSTS


def _redirect(uri: str, **params: str) -> RedirectResponse:
    separator = "&" if urlsplit(uri).query else "?"
    return RedirectResponse(f"{uri}{separator}{urlencode(params)}", status_code=302)


async def authorize(request: Request) -> Response:
    """Consent: answers at once for `consent_user` (or denies if told to); with `pick_user`
    on, or `show_dialog=true`, shows a page where the person picks who they are."""
    state = state_of(request)
    params = request.query_params
    if params.get("client_id") != state.world.client_id:
        return PlainTextResponse("INVALID_CLIENT: Invalid client", status_code=400)
    redirect_uri = params.get("redirect_uri", "")
    if not _redirect_uri_allowed(redirect_uri):
        return PlainTextResponse("INVALID_CLIENT: Invalid redirect URI", status_code=400)
    extra = {"state": params["state"]} if "state" in params else {}
    if params.get("response_type") != "code":
        return _redirect(redirect_uri, error="unsupported_response_type", **extra)
    if state.deny_consent or PICK_DENY in params:
        return _redirect(redirect_uri, error="access_denied", **extra)
    user_id = params.get(PICK_USER)
    if user_id is None and (state.pick_user or params.get("show_dialog") == "true"):
        return HTMLResponse(consent_page(state, request))
    try:
        user_id = state.world.user(user_id or state.consent_user).id
    except KeyError:
        return PlainTextResponse("INVALID_REQUEST: Unknown emulated user", status_code=400)
    code = state.tokens.issue_code(user_id, redirect_uri, params.get("scope", ""))
    return _redirect(redirect_uri, code=code, **extra)


def consent_page(state: EmulatorState, request: Request) -> str:
    """The picker: one link per emulated user (each signs in as that user), and a refusal."""
    query = [(k, v) for k, v in request.query_params.multi_items() if k not in _PICK_PARAMS]

    def link(**extra: str) -> str:
        return html.escape(f"{request.url.path}?{urlencode([*query, *extra.items()])}")

    users = "".join(
        f'<li><a class="user" href="{link(**{PICK_USER: user.id})}">'
        f"{html.escape(user.display_name)} <small>({html.escape(user.id)})</small></a></li>"
        for user in state.world.users
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Spotify emulator: sign in</title><style>{_PICKER_STYLE}</style></head><body>"
        "<h1>Who are you?</h1><p>The Spotify emulator signs you in as the listener you pick,"
        " and grants the app the scopes it asked for.</p>"
        f'<ul>{users}</ul><p><a class="deny" href="{link(**{PICK_DENY: "1"})}">Cancel</a></p>'
        "</body></html>"
    )


def _oauth_error(status: int, error: str, description: str) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


def _client_ok(state: EmulatorState, request: Request, form: dict[str, str]) -> bool:
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(encoded, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return False
        client_id, _, secret = decoded.partition(":")
    else:
        client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
    world = state.world
    return secrets.compare_digest(client_id.encode(), world.client_id.encode()) and (
        secrets.compare_digest(secret.encode(), world.client_secret.encode())
    )


def _token_answer(access_token: str, scope: str | None, refresh_token: str | None) -> JSONResponse:
    body: dict[str, Any] = {
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": ACCESS_TOKEN_SECONDS,
    }
    if scope is not None:
        body["scope"] = scope
    if refresh_token:
        body["refresh_token"] = refresh_token
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


async def token(request: Request) -> Response:
    """Exchange client credentials, an authorization code or a refresh token."""
    state = state_of(request)
    form = {key: str(value) for key, value in (await request.form()).items()}
    if not _client_ok(state, request, form):
        return JSONResponse({"error": "invalid_client"}, status_code=401)
    grant_type = form.get("grant_type")
    try:
        if grant_type == "client_credentials":
            return _client_credentials(state)
        if grant_type == "authorization_code":
            return _authorization_code(state, form)
        if grant_type == "refresh_token":
            return _refresh(state, form)
    except GrantError as exc:
        return _oauth_error(400, "invalid_grant", str(exc))
    return _oauth_error(400, "unsupported_grant_type", "grant_type parameter is missing or unknown")


def _client_credentials(state: EmulatorState) -> JSONResponse:
    access = state.tokens.issue_access(None, "", state.faults.token_lifetime)
    return _token_answer(access, None, None)


def _authorization_code(state: EmulatorState, form: dict[str, str]) -> JSONResponse:
    if "code" not in form:
        return _oauth_error(400, "invalid_request", "code must be supplied")
    refresh, grant = state.tokens.redeem_code(form["code"], form.get("redirect_uri", ""))
    access = state.tokens.issue_access(grant.user_id, grant.scope, state.faults.token_lifetime)
    return _token_answer(access, grant.scope, refresh)


def _refresh(state: EmulatorState, form: dict[str, str]) -> JSONResponse:
    if "refresh_token" not in form:
        return _oauth_error(400, "invalid_request", "refresh_token must be supplied")
    faults = state.faults
    grant, rotated = state.tokens.use_refresh_token(
        form["refresh_token"], faults.revoked_users, faults.rotate_refresh_every
    )
    access = state.tokens.issue_access(grant.user_id, grant.scope, faults.token_lifetime)
    return _token_answer(access, grant.scope, rotated)


routes = [
    Route("/authorize", authorize, methods=["GET"]),
    Route("/api/token", token, methods=["POST"]),
]
