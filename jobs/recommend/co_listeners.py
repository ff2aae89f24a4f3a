"""Source `co-listeners`: tracks other users of this instance play alongside the user's."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from db import catalogue
from db.database import Database
from db.snapshots import latest_listening
from jobs.recommend.co_listening import CoListening
from jobs.recommend.protocol import CO_LISTENERS, Candidate, Taste


def load_co_listening() -> CoListening:
    """Every user's latest complete snapshot's tracks, as the run's index."""
    return CoListening.of(latest_listening())


def _co_listener_candidates(
    index: CoListening, user_id: int, own: Sequence[str], wanted: int
) -> list[Candidate]:
    # On a big instance thousands of tracks share a listener; the best supported are enough.
    co_listened = index.co_listened(user_id, own, most=wanted)
    names = {t["id"]: t["name"] for t in catalogue.track_summaries(sorted(set(own)))}
    summaries = {t["id"]: t for t in catalogue.track_summaries([row[0] for row in co_listened])}
    return [
        Candidate(
            track_id=track_id,
            artist_ids=tuple(summaries[track_id]["artist_ids"]),
            artist_names=tuple(summaries[track_id]["artist_names"]),
            origin=CO_LISTENERS,
            seed_name=names.get(shared, shared),
            support=float(users),
        )
        for track_id, users, shared in co_listened
        if track_id in summaries
    ]


class CoListenersSource:
    """What other users of this instance play alongside this user's tracks.

    Built afresh for each run, it reads the other users' listening once, at the run's first
    ask: every user of a night then sees the same listening (each other user's latest
    complete snapshot when the night's first look-up was made), whatever their place in the
    queue, and a night reads it once instead of once per user.
    """

    name = CO_LISTENERS

    def __init__(self, database: Database) -> None:
        self._database = database
        self._index: CoListening | None = None
        self._loading = asyncio.Lock()

    def available(self) -> bool:
        return True

    async def candidates(self, taste: Taste) -> list[Candidate]:
        own = sorted(taste.own_track_ids)
        wanted = taste.wanted * 2
        index = await self._loaded()
        return await self._database.run(_co_listener_candidates, index, taste.user_id, own, wanted)

    async def _loaded(self) -> CoListening:
        async with self._loading:
            if self._index is None:
                self._index = await self._database.run(load_co_listening)
            return self._index
