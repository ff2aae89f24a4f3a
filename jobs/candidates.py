"""Candidates for the local recommender: top artists' catalogues and what co-listeners play."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Mapping, Sequence

from db import catalogue
from db.database import Database
from db.snapshots import co_listened_tracks
from jobs.recommender import ARTIST, CO_LISTENERS, Candidate
from spotify_client import NotFound, SpotifyClient

logger = logging.getLogger(__name__)

CATALOGUE_MAX_AGE = dt.timedelta(days=7)
ALBUMS_PER_ARTIST = 6
ARTISTS_PER_ROUND = 12


async def _fetch_artist_catalogue(spotify: SpotifyClient, artist_id: str) -> list:
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


def _seed_artist(
    artist_ids: Sequence[str], names: Sequence[str], affinity: Mapping[str, float]
) -> str:
    best = max(range(len(artist_ids)), key=lambda i: (affinity.get(artist_ids[i], 0.0), -i))
    return names[best]


async def artist_candidates(
    database: Database,
    spotify: SpotifyClient,
    ranked_artists: Sequence[str],
    affinity: Mapping[str, float],
    exclude: set[str],
    wanted: int,
) -> list[Candidate]:
    """Tracks from the catalogues of the user's best-liked artists, in rounds until enough."""
    candidates: dict[str, Candidate] = {}
    for start in range(0, len(ranked_artists), ARTISTS_PER_ROUND):
        chosen = list(ranked_artists[start : start + ARTISTS_PER_ROUND])
        await refresh_catalogues(database, spotify, chosen)
        for track in await database.run(catalogue.catalogue_tracks, chosen):
            if track["id"] in exclude:
                continue
            candidates[track["id"]] = Candidate(
                track_id=track["id"],
                artist_ids=tuple(track["artist_ids"]),
                artist_names=tuple(track["artist_names"]),
                origin=ARTIST,
                seed_name=_seed_artist(track["artist_ids"], track["artist_names"], affinity),
            )
        if len(candidates) >= wanted:
            break
    return list(candidates.values())


def _co_listener_candidates(user_id: int, own: Sequence[str]) -> list[Candidate]:
    co_listened = co_listened_tracks(user_id, own)
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


async def co_listener_candidates(
    database: Database, user_id: int, own: Sequence[str]
) -> list[Candidate]:
    """Tracks that other users of this instance play alongside this user's tracks."""
    return await database.run(_co_listener_candidates, user_id, own)
