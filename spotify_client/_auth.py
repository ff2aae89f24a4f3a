"""Tokens: the accounts service's token endpoint, a token cache and the bearer `httpx.Auth`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable

import httpx

from spotify_client._errors import (
    InvalidGrant,
    RateLimited,
    SpotifyAuthError,
    SpotifyError,
    SpotifyUnavailable,
    body_object,
    parse_answer,
)
from spotify_client._requester import Requester
from spotify_models import TokenGrant, parse_token_grant

FetchGrant = Callable[[], Awaitable[TokenGrant]]

# Seconds a token request waits for its answer, however short SPOTIFY_TIMEOUT is. The answer
# may carry a rotated refresh token while the old one stops working: an answer given up on
# may have been the only copy of the working token, and Spotify then refuses the old one
# (invalid_grant) the next time it is sent. No answer by itself is not a refusal: the grant
# fails as SpotifyUnavailable, and the old token is sent again on the next call.
TOKEN_ANSWER_TIMEOUT = 30.0


class TokenCache:
    """One access token, fetched once however many tasks want it at the same moment."""

    def __init__(self, fetch: FetchGrant, clock: Callable[[], float], margin: float) -> None:
        self._fetch = fetch
        self._clock = clock
        self._margin = margin
        self._lock = asyncio.Lock()
        self._token: str | None = None
        self._expires_at = 0.0

    async def get(self) -> str:
        """The current token, fetched when there is none or it is about to expire."""
        async with self._lock:
            if self._token is None or self._clock() >= self._expires_at:
                grant = await self._fetch()
                self._token = grant.access_token
                # Renew a little early, but never turn a short-lived token into no token.
                lifetime = max(grant.expires_in - self._margin, grant.expires_in / 2)
                self._expires_at = self._clock() + lifetime
            return self._token

    async def invalidate(self, token: str) -> None:
        """Forget `token` after a 401, unless another task already replaced it."""
        async with self._lock:
            if self._token == token:
                self._token = None


class BearerAuth(httpx.Auth):
    """Bearer token from a cache; a 401 refreshes it once and retries the request."""

    def __init__(self, tokens: TokenCache) -> None:
        self._tokens = tokens

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        token = await self._tokens.get()
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401:
            await self._tokens.invalidate(token)
            request.headers["Authorization"] = f"Bearer {await self._tokens.get()}"
            yield request


class Accounts:
    """Spotify's token endpoint, asked with the app's credentials; hands out bearer auths."""

    def __init__(
        self,
        requester: Requester,
        accounts_url: str,
        credentials: httpx.BasicAuth,
        *,
        clock: Callable[[], float],
        token_margin: float,
    ) -> None:
        self._requester = requester
        self._token_url = accounts_url.rstrip("/") + "/api/token"
        self._credentials = credentials
        self._clock = clock
        self._token_margin = token_margin

    def bearer(self, fetch: FetchGrant) -> BearerAuth:
        """An auth whose tokens come from `fetch`, cached until shortly before they expire."""
        return BearerAuth(TokenCache(fetch, self._clock, self._token_margin))

    async def grant(self, form: dict[str, str], purpose: str) -> TokenGrant:
        """POST `form` to the token endpoint; `purpose` names the grant in errors."""
        request = self._requester.build("POST", self._token_url, data=form)
        _wait_for_the_answer(request)
        try:
            response, body = await self._requester.send_json(
                request, self._credentials, limited=False
            )
        except RateLimited:
            raise
        except SpotifyUnavailable as exc:
            # A job's failure and the logs show this line: only Spotify's invalid_grant means
            # the user must log in again, so it says that Spotify did not refuse.
            raise SpotifyUnavailable(
                f"no answer from Spotify to the {purpose} ({exc}), which is not a refusal of it"
            ) from exc
        if not response.is_success:
            raise token_error(response, purpose)
        return parse_answer(request, body, parse_token_grant)


def _wait_for_the_answer(request: httpx.Request) -> None:
    """Let the request read its answer for TOKEN_ANSWER_TIMEOUT at least (None: no limit)."""
    timeout = dict(request.extensions.get("timeout", {}))
    read = timeout.get("read")
    if read is not None and read < TOKEN_ANSWER_TIMEOUT:
        timeout["read"] = TOKEN_ANSWER_TIMEOUT
        request.extensions["timeout"] = timeout


def token_error(response: httpx.Response, purpose: str) -> SpotifyError:
    """The error a refused token request stands for."""
    # Only the OAuth error code is repeated: descriptions could echo what was sent.
    code = body_object(response).get("error")
    code = code if isinstance(code, str) else None
    if code == "invalid_grant":
        return InvalidGrant(
            f"Spotify refused the {purpose} (invalid_grant): the user must log in again"
        )
    return SpotifyAuthError(
        f"Spotify's token endpoint refused the {purpose}: {code or response.status_code}"
    )
