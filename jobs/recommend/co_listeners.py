"""Source `co-listeners`: tracks other users of this instance play alongside the user's."""

from __future__ import annotations

from collections.abc import Sequence

from db import catalogue
from db.database import Database
from db.snapshots import co_listened_tracks
from jobs.recommend.protocol import CO_LISTENERS, Candidate, Taste


def _co_listener_candidates(user_id: int, own: Sequence[str], wanted: int) -> list[Candidate]:
    # On a big instance thousands of tracks share a listener; the best supported are enough.
    co_listened = co_listened_tracks(user_id, own, most=wanted)
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
    """What other users of this instance play alongside this user's tracks."""

    name = CO_LISTENERS

    def __init__(self, database: Database) -> None:
        self._database = database

    def available(self) -> bool:
        return True

    async def candidates(self, taste: Taste) -> list[Candidate]:
        own = sorted(taste.own_track_ids)
        wanted = taste.wanted * 2
        return await self._database.run(_co_listener_candidates, taste.user_id, own, wanted)
