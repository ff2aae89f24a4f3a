"""Marks of Spotify endpoints closed to this app, kept in the `Capability` table."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

import peewee as pw

from db.database import Database
from db.models import Capability, naive_utc, utcnow

logger = logging.getLogger(__name__)


def _load(now: dt.datetime) -> dict[str, bool]:
    query = Capability.select().where(Capability.expires_at > now)
    return {row.name: row.available for row in query}


def _save(name: str, available: bool, expires_at: dt.datetime) -> None:
    (
        Capability.insert(name=name, available=available, expires_at=expires_at)
        .on_conflict(
            conflict_target=[Capability.name],
            update={Capability.available: available, Capability.expires_at: expires_at},
        )
        .execute()
    )


class DatabaseCapabilityStore:
    """The spotify_client CapabilityStore backed by the database."""

    def __init__(self, database: Database, now: Callable[[], dt.datetime] = utcnow) -> None:
        self._database = database
        self._now = now

    async def load(self) -> dict[str, bool]:
        """Unexpired marks only."""
        return await self._database.run(_load, naive_utc(self._now()))

    async def save(self, name: str, available: bool, expires_at: dt.datetime) -> None:
        """Insert or replace the mark for `name`; a failure is logged, the mark stays in memory."""
        try:
            await self._database.run(_save, name, available, naive_utc(expires_at))
        except pw.PeeweeException as exc:
            # Persisting only spares the next run one probe; it must not fail this call.
            logger.warning("could not store capability %r: %s", name, type(exc).__name__)
