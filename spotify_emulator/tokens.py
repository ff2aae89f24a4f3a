"""The accounts service's memory: authorization codes, access and refresh tokens."""

from __future__ import annotations

import dataclasses
import secrets
import threading
from collections.abc import Callable

from spotify_emulator.world import World

ACCESS_TOKEN_SECONDS = 3600
CODE_SECONDS = 600
# Spotify: refresh tokens die six months after consent, and refreshing does not extend them.
REFRESH_TOKEN_SECONDS = 182 * 24 * 3600
ALL_SCOPES = (
    "user-top-read user-read-recently-played user-library-read playlist-read-private "
    "playlist-read-collaborative user-read-private user-read-email"
)


class GrantError(Exception):
    """A code or refresh token cannot be exchanged; the text is the error_description."""


@dataclasses.dataclass(frozen=True)
class AccessGrant:
    """What an access token stands for; `user_id` is None for client credentials."""

    user_id: str | None
    scope: str
    expires_at: float


@dataclasses.dataclass(frozen=True)
class RefreshGrant:
    """A user's consent, carried by a refresh token."""

    user_id: str
    scope: str
    consented_at: float


@dataclasses.dataclass(frozen=True)
class _Code:
    user_id: str
    redirect_uri: str
    scope: str
    issued_at: float


class TokenStore:
    """Issues and checks tokens against the injected clock; thread-safe."""

    def __init__(self, world: World, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._codes: dict[str, _Code] = {}
        self._access: dict[str, AccessGrant] = {}
        self._refresh: dict[str, RefreshGrant] = {}
        self._refreshes = 0
        for user in world.users:
            self._refresh[user.refresh_token] = RefreshGrant(user.id, ALL_SCOPES, clock())

    def issue_code(self, user_id: str, redirect_uri: str, scope: str) -> str:
        """A single-use authorization code for the user's consent."""
        code = secrets.token_urlsafe(32)
        with self._lock:
            self._codes[code] = _Code(user_id, redirect_uri, scope, self._clock())
        return code

    def redeem_code(self, code: str, redirect_uri: str) -> tuple[str, RefreshGrant]:
        """Exchange a code for a new refresh token and its grant."""
        with self._lock:
            found = self._codes.pop(code, None)
            if found is None or self._clock() - found.issued_at > CODE_SECONDS:
                raise GrantError("Invalid authorization code")
            if found.redirect_uri != redirect_uri:
                raise GrantError("Invalid redirect URI")
            grant = RefreshGrant(found.user_id, found.scope, self._clock())
            token = "AQ" + secrets.token_urlsafe(48)
            self._refresh[token] = grant
            return token, grant

    def use_refresh_token(
        self, token: str, revoked_users: frozenset[str], rotate_every: int
    ) -> tuple[RefreshGrant, str | None]:
        """Check a refresh token; answer its grant and, on rotation, the replacement token."""
        with self._lock:
            grant = self._refresh.get(token)
            expired = (
                grant is not None and self._clock() - grant.consented_at > REFRESH_TOKEN_SECONDS
            )
            if grant is None or expired or grant.user_id in revoked_users:
                raise GrantError("Refresh token revoked")
            self._refreshes += 1
            if not rotate_every or self._refreshes % rotate_every:
                return grant, None
            # The old token stops working, so a client that drops the new one is caught.
            del self._refresh[token]
            rotated = "AQ" + secrets.token_urlsafe(48)
            self._refresh[rotated] = grant
            return grant, rotated

    def issue_access(self, user_id: str | None, scope: str, lifetime: float | None) -> str:
        """A bearer token valid for `lifetime` seconds (an hour unless shortened)."""
        token = "BQ" + secrets.token_urlsafe(48)
        seconds = ACCESS_TOKEN_SECONDS if lifetime is None else lifetime
        with self._lock:
            self._access[token] = AccessGrant(user_id, scope, self._clock() + seconds)
        return token

    def access(self, token: str) -> AccessGrant | None:
        """The grant of a live access token, or None if unknown or expired."""
        with self._lock:
            grant = self._access.get(token)
        if grant is None or self._clock() >= grant.expires_at:
            return None
        return grant

    def revoke_user(self, user_id: str) -> None:
        """The user removed the app: every refresh token of theirs stops working."""
        with self._lock:
            for token in [t for t, g in self._refresh.items() if g.user_id == user_id]:
                del self._refresh[token]

    def expire_access_tokens(self) -> None:
        """Make every access token issued so far expire now."""
        with self._lock:
            self._access.clear()
