"""Source `artists`: the catalogues of the user's best-liked artists (more of what they know)."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from db import catalogue
from db.database import Database
from jobs.recommend.protocol import ARTISTS, KNOWN_ARTISTS_READ, Candidate, Taste
from spotify_client import NotFound, SpotifyClient
from spotify_models import Track

logger = logging.getLogger(__name__)

CATALOGUE_MAX_AGE = dt.timedelta(days=7)
ALBUMS_PER_ARTIST = 6
ARTISTS_PER_ROUND = 12


async def _fetch_artist_catalogue(spotify: SpotifyClient, artist_id: str) -> list[Track]:
    try:
        albums = await spotify.artist_albums(artist_id, limit=ALBUMS_PER_ARTIST * 2)
    except NotFound:
        return []
    # Singles repeat album tracks; albums first, then as many singles as fit.
    albums = albums[:ALBUMS_PER_ARTIST]
    tracks = await asyncio.gather(*(spotify.album_tracks(album) for album in albums))
    return [track for album_tracks in tracks for track in album_tracks]


async def refresh_catalogues(
    database: Database, spotify: SpotifyClient, artist_ids: Sequence[str]
) -> None:
    """Fetch and store the albums and tracks of artists not fetched in the last week."""
    fresh = await database.run(
        catalogue.artists_with_fresh_catalogue, artist_ids, CATALOGUE_MAX_AGE
    )
    stale = [artist_id for artist_id in artist_ids if artist_id not in fresh]
    if not stale:
        return
    fetched = await asyncio.gather(*(_fetch_artist_catalogue(spotify, a) for a in stale))
    tracks = [track for artist_tracks in fetched for track in artist_tracks]
    await database.run(catalogue.upsert_tracks, tracks)
    await database.run(catalogue.mark_catalogue_fetched, stale)
    logger.info("catalogue: %d tracks from %d artists", len(tracks), len(stale))


def with_artist_shares(
    candidates: Sequence[Candidate], affinity: Mapping[str, float]
) -> list[Candidate]:
    """Each of a known artist's own records (credited first) with its share of what is left of
    them; a guest spot on another artist's record gets no share."""
    lead = [c.artist_ids[0] if c.artist_ids else "" for c in candidates]
    left = Counter(artist for artist in lead if artist in affinity)
    return [
        dataclasses.replace(c, artist_share=1.0 / left[artist]) if artist in left else c
        for c, artist in zip(candidates, lead, strict=True)
    ]


def seed_artist(
    artist_ids: Sequence[str], names: Sequence[str], affinity: Mapping[str, float]
) -> str:
    """The name of the best-liked artist on a track."""
    best = max(range(len(artist_ids)), key=lambda i: (affinity.get(artist_ids[i], 0.0), -i))
    return names[best]


def catalogue_candidates(
    tracks: Sequence[Mapping[str, Any]], origin: str, affinity: Mapping[str, float]
) -> list[Candidate]:
    """Stored track summaries as candidates, each seeded by its best-liked artist."""
    return [
        Candidate(
            track_id=track["id"],
            artist_ids=tuple(track["artist_ids"]),
            artist_names=tuple(track["artist_names"]),
            origin=origin,
            seed_name=seed_artist(track["artist_ids"], track["artist_names"], affinity),
        )
        for track in tracks
    ]


class ArtistsSource:
    """Tracks from the catalogues of the user's best-liked artists, in rounds until enough."""

    name = ARTISTS

    def __init__(self, database: Database, spotify: SpotifyClient) -> None:
        self._database = database
        self._spotify = spotify

    def available(self) -> bool:
        return True

    async def candidates(self, taste: Taste) -> list[Candidate]:
        ranked = taste.still_meeting
        found: dict[str, Candidate] = {}
        for start in range(0, len(ranked), ARTISTS_PER_ROUND):
            chosen = ranked[start : start + ARTISTS_PER_ROUND]
            await refresh_catalogues(self._database, self._spotify, chosen)
            tracks = await self._database.run(catalogue.catalogue_tracks, chosen)
            fresh = [t for t in tracks if t["id"] not in taste.own_track_ids]
            for candidate in catalogue_candidates(fresh, ARTISTS, taste.affinity):
                found[candidate.track_id] = candidate
            if len(found) >= taste.wanted and start + len(chosen) >= KNOWN_ARTISTS_READ:
                break
        # Whole catalogues were read, so what is left of each artist is known.
        return with_artist_shares(list(found.values()), taste.affinity)
