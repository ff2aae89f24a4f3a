"""A registered user's Spotify session for requests answered live (not in a snapshot run)."""

from __future__ import annotations

import functools

from db.database import Database
from db.queries import user_id_of
from db.snapshots import replace_refresh_token, stored_refresh_token
from db.token_cipher import TokenCipher, TokenCipherError
from db.users import set_user_status
from spotify_client import SpotifyClient, UserSession

REAUTH_REQUIRED = "reauth_required"


class SessionUnavailable(RuntimeError):
    """This service cannot read the user's stored token (no key, or the wrong keys)."""


class NeedsReauthorisation(RuntimeError):
    """The user has no usable refresh token: they must log in again."""

    def __init__(self, username: str) -> None:
        super().__init__(f"Spotify refused {username}'s authorisation: they must log in again")
        self.username = username


class UserSessions:
    """Opens users' sessions; a token Spotify rotates is stored, one it refuses is recorded."""

    def __init__(
        self, database: Database, spotify: SpotifyClient, cipher: TokenCipher | None
    ) -> None:
        self._database = database
        self._spotify = spotify
        self._cipher = cipher

    async def open(self, username: str) -> tuple[int, UserSession]:
        """The user's id and session; UnknownUser, SessionUnavailable or NeedsReauthorisation."""
        user_id = await self._database.run(user_id_of, username)
        if self._cipher is None:
            raise SessionUnavailable(
                "TOKEN_ENCRYPTION_KEY is not set: stored tokens are unreadable"
            )
        encrypted = await self._database.run(stored_refresh_token, user_id)
        if not encrypted:
            raise NeedsReauthorisation(username)
        try:
            token = self._cipher.decrypt(encrypted)
        except TokenCipherError:
            raise SessionUnavailable(
                "the stored token cannot be decrypted with TOKEN_ENCRYPTION_KEY"
            ) from None
        keep = functools.partial(self._store_rotated, user_id)
        return user_id, self._spotify.for_user(token, keep)

    async def refused(self, user_id: int, username: str) -> NeedsReauthorisation:
        """Record that Spotify refused the user's token; the error to raise."""
        await self._database.run(set_user_status, user_id, REAUTH_REQUIRED)
        return NeedsReauthorisation(username)

    async def _store_rotated(self, user_id: int, refresh_token: str) -> None:
        assert self._cipher is not None
        encrypted = self._cipher.encrypt(refresh_token)
        await self._database.run(replace_refresh_token, user_id, encrypted)
