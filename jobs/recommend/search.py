"""Source `search`: Spotify search with a `genre:` filter for each of the user's main styles.

Spotify no longer sends artist genres to development-mode apps, so the styles come from the
user's own tracks in the CSV (`track_genre`). Search pages hold at most 10 results.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from db import catalogue
from db.database import Database
from jobs.recommend.protocol import SEARCH, Candidate, Taste
from spotify_client import SpotifyClient

QUERIES = 3
RESULTS_PER_QUERY = 20  # two pages of 10

GenresOf = Callable[[Taste], Sequence[str]]


class SearchSource:
    name = SEARCH

    def __init__(self, database: Database, spotify: SpotifyClient, genres_of: GenresOf) -> None:
        self._database = database
        self._spotify = spotify
        self._genres_of = genres_of

    def available(self) -> bool:
        return True

    async def candidates(self, taste: Taste) -> list[Candidate]:
        queries = [f'genre:"{genre}"' for genre in self._genres_of(taste)[:QUERIES]]
        answers = await asyncio.gather(
            *(self._spotify.search_tracks(q, limit=RESULTS_PER_QUERY) for q in queries)
        )
        tracks = [t for answer in answers for t in answer]
        await self._database.run(catalogue.upsert_tracks, tracks)
        return [
            Candidate.of(t, SEARCH, q)
            for q, answer in zip(queries, answers, strict=True)
            for t in answer
            if t.id not in taste.own_track_ids
        ]
