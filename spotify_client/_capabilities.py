"""Which optional endpoints this app may call, learnt from Spotify's 403/404 answers.

Endpoints that Spotify closed to development-mode apps are discovered by their first 403/404,
remembered through a `CapabilityStore`, and then never probed again until the mark expires.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Protocol

from spotify_client._clock import utcnow

logger = logging.getLogger(__name__)

CAPABILITIES = ("recommendations", "audio_features", "batch_tracks", "batch_artists")


class CapabilityStore(Protocol):
    """Where marks of closed endpoints outlive the process."""

    async def load(self) -> dict[str, bool]: ...

    async def save(self, name: str, available: bool, expires_at: dt.datetime) -> None: ...


class MemoryCapabilityStore:
    """A CapabilityStore in memory, for tests and the CLI without a database."""

    def __init__(self, now: Callable[[], dt.datetime] = utcnow) -> None:
        self._now = now
        self.marks: dict[str, tuple[bool, dt.datetime]] = {}

    async def load(self) -> dict[str, bool]:
        """Unexpired marks only."""
        now = self._now()
        return {name: ok for name, (ok, expires) in self.marks.items() if expires > now}

    async def save(self, name: str, available: bool, expires_at: dt.datetime) -> None:
        """Remember `name` until `expires_at` (aware UTC)."""
        self.marks[name] = (available, expires_at)


class Capabilities:
    """The marks of this process: True until proven closed, shared with the store."""

    def __init__(
        self, store: CapabilityStore, ttl: dt.timedelta, now: Callable[[], dt.datetime]
    ) -> None:
        self._store = store
        self._ttl = ttl
        self._now = now
        self._known: dict[str, bool] = {}

    async def load(self) -> None:
        """Take in the store's unexpired marks."""
        loaded = await self._store.load()
        # A mark learnt in this process is newer than anything stored.
        loaded.update(self._known)
        self._known = loaded

    def available(self, name: str) -> bool:
        """Whether `name` may still work."""
        return self._known.get(name, True)

    async def mark_closed(self, name: str) -> None:
        """Remember that Spotify closed `name`, here and in the store, for the TTL."""
        if self._known.get(name) is False:
            return
        self._known[name] = False
        expires_at = self._now() + self._ttl
        logger.warning(
            "Spotify endpoint %r is closed to this app; not probing it until %s",
            name,
            expires_at.isoformat(timespec="seconds"),
        )
        await self._store.save(name, False, expires_at)
