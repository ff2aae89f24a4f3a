"""History polling: each user's recent plays, read often enough that none is lost.

Spotify keeps only a user's last 50 plays, so a nightly read loses the rest of a busy day.
The poller reads `/me/player/recently-played` with the `after` cursor (the end of the newest
play stored) every HISTORY_INTERVAL, stores each play once and records a gap when the page
could not reach back to the history. It calls Spotify through the service's one client, so
it shares its concurrency cap and Retry-After gate with the snapshot workers.
"""

from __future__ import annotations

import dataclasses
import functools
import logging

from db import catalogue
from db.database import DATABASE_UNAVAILABLE, Database
from db.models import User
from db.polled import RECENT_LIMIT, poll_cursor, record_polled_plays, users_to_poll
from db.polled_episodes import record_polled_episodes
from db.snapshots import replace_refresh_token, stored_refresh_token
from db.token_cipher import TokenCipher, TokenCipherError
from db.users import set_user_status
from metrics import HISTORY_POLLS
from spotify_client import InvalidGrant, SpotifyClient, SpotifyError

logger = logging.getLogger(__name__)
# What one failed poll may raise; the next poll starts from the same cursor.
REAUTH_REQUIRED = "re-authorisation required"
POLL_FAILURES: tuple[type[Exception], ...] = (SpotifyError, TokenCipherError, *DATABASE_UNAVAILABLE)


@dataclasses.dataclass(frozen=True)
class PollOutcome:
    """One user's poll: plays added, or why nothing was read."""

    user_id: int
    added: int = 0
    skipped: str | None = None
    error: str | None = None


class HistoryPoller:
    """Polls one user's recent plays at a time; a failure is logged and never raised."""

    def __init__(self, database: Database, spotify: SpotifyClient, cipher: TokenCipher) -> None:
        self.database = database
        self.spotify = spotify
        self.cipher = cipher

    async def users(self) -> list[int]:
        """The users to poll now: active, with a stored token."""
        return await self.database.run(users_to_poll)

    async def poll_all(self) -> list[PollOutcome]:
        """Poll every active user once, one after another (the CLI and tests)."""
        return [await self.poll(user_id) for user_id in await self.users()]

    async def poll(self, user_id: int) -> PollOutcome:
        """Read and store the user's plays since the newest one stored; counted for /metrics."""
        outcome = await self._poll_or_say_why(user_id)
        HISTORY_POLLS.labels(_result(outcome)).inc()
        return outcome

    async def _poll_or_say_why(self, user_id: int) -> PollOutcome:
        try:
            return await self._poll(user_id)
        except InvalidGrant:
            await self.database.run(set_user_status, user_id, User.REAUTH_REQUIRED)
            logger.info("history poll of user %d: the user must log in again", user_id)
            return PollOutcome(user_id, skipped=REAUTH_REQUIRED)
        except POLL_FAILURES as exc:
            logger.warning("history poll of user %d failed: %s", user_id, _reason(exc))
            return PollOutcome(user_id, error=_reason(exc))

    async def _poll(self, user_id: int) -> PollOutcome:
        encrypted = await self.database.run(stored_refresh_token, user_id)
        if encrypted is None:
            return PollOutcome(user_id, skipped="no refresh token is stored")
        session = self.spotify.for_user(
            self.cipher.decrypt(encrypted), functools.partial(self._keep_token, user_id)
        )
        after = await self.database.run(poll_cursor, user_id)
        recent = await session.recent_plays(RECENT_LIMIT, after=after)
        # Podcast plays are kept as episodes, apart from the music history.
        await self.database.run(record_polled_episodes, user_id, recent.episodes)
        plays = recent.music
        if not plays:
            return PollOutcome(user_id)
        await self.database.run(catalogue.upsert_tracks, [play.track for play in plays])
        pairs = [(play.track.id, play.played_at) for play in plays]
        added = await self.database.run(record_polled_plays, user_id, pairs)
        logger.debug("history poll of user %d: %d new plays", user_id, added)
        return PollOutcome(user_id, added=added)

    async def _keep_token(self, user_id: int, refresh_token: str) -> None:
        await self.database.run(replace_refresh_token, user_id, self.cipher.encrypt(refresh_token))


def _result(outcome: PollOutcome) -> str:
    if outcome.error is not None:
        return "failed"
    if outcome.skipped == REAUTH_REQUIRED:
        return "reauth_required"
    return "skipped" if outcome.skipped is not None else "ok"


def _reason(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
