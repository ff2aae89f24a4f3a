"""Source `spotify`: Spotify's own /recommendations, while the app still has it."""

from __future__ import annotations

from db import catalogue
from db.database import Database
from jobs.recommend.protocol import SPOTIFY, Candidate, Taste
from spotify_client import EndpointUnavailable, SpotifyClient

MAX_SEEDS = 5
MAX_LIMIT = 100


class SpotifySource:
    name = SPOTIFY

    def __init__(self, database: Database, spotify: SpotifyClient) -> None:
        self._database = database
        self._spotify = spotify

    def available(self) -> bool:
        """False once Spotify has proved /recommendations closed to this app."""
        return self._spotify.can("recommendations")

    async def candidates(self, taste: Taste) -> list[Candidate]:
        seeds = taste.seed_tracks[:MAX_SEEDS]
        if not seeds:
            return []
        try:
            tracks = await self._spotify.recommendations(
                seed_tracks=[s for s, _ in seeds], limit=min(taste.wanted, MAX_LIMIT)
            )
        except EndpointUnavailable:
            return []
        await self._database.run(catalogue.upsert_tracks, tracks)
        seed = " and ".join(f"'{name}'" for _, name in seeds[:2])
        return [
            # Spotify's own order is evidence too: its first pick counts most.
            Candidate.of(t, self.name, seed, 1.0 + (len(tracks) - rank) / max(len(tracks), 1))
            for rank, t in enumerate(tracks)
            if t.id not in taste.own_track_ids
        ]
