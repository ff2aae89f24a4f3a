"""Artists: Spotify search, and profiles fetched once, served from the catalogue for a week."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from db import artists, catalogue
from db.artists import UnknownArtist
from db.database import Database
from db.models import utcnow
from db.queries import user_id_of
from jobs.track_features import FeatureSources, features_of, features_summary
from spotify_client import NotFound, SpotifyClient, SpotifyError
from spotify_models import Album, Artist, Track

logger = logging.getLogger(__name__)

PROFILE_MAX_AGE = dt.timedelta(days=7)
# An artist's albums and singles, ten a page in 2026.
ALBUMS_MAX = 50


def artist_dict(artist: Artist) -> dict[str, Any]:
    """An artist as search answers show it."""
    return {
        "id": artist.id,
        "name": artist.name,
        "genres": list(artist.genres) if artist.genres is not None else None,
        "popularity": artist.popularity,
        "image_url": artist.image_url,
    }


class ArtistProfiles:
    """Artist search and profiles; one fetch from Spotify per artist and week."""

    def __init__(
        self,
        database: Database,
        spotify: SpotifyClient,
        feature_sources: FeatureSources,
        *,
        now: Callable[[], dt.datetime] = utcnow,
        max_age: dt.timedelta = PROFILE_MAX_AGE,
    ) -> None:
        self._database = database
        self._spotify = spotify
        self._feature_sources = feature_sources
        self._now = now
        self._max_age = max_age
        self._inflight: dict[str, asyncio.Future[None]] = {}

    async def search(self, query: str, limit: int, offset: int) -> list[dict[str, Any]]:
        """Spotify's artists for `query`, stored; names from an export that match are linked."""
        found = await self._spotify.search_artists(query, limit, offset)
        await self._database.run(catalogue.upsert_artists, found)
        await self._database.run(artists.link_searched_names, found)
        return [artist_dict(artist) for artist in found]

    async def profile(self, artist_id: str, username: str | None = None) -> dict[str, Any]:
        """The artist, albums, tracks and feature profile; with `username`, their listening.

        Raises UnknownUser before anything is fetched, UnknownArtist when Spotify knows no
        such artist, and SpotifyError when a first fetch fails.
        """
        if username is not None:
            await self._database.run(user_id_of, username)
        await self._fresh(artist_id)
        stored = await self._database.run(artists.stored_profile, artist_id)
        track_ids = [track["id"] for track in stored["tracks"]]
        features = await features_of(self._database, self._feature_sources, track_ids)
        stored["features"] = features_summary(track_ids, features)
        if username is not None:
            stored["listening"] = await self._database.run(artists.listening, username, artist_id)
        return stored

    async def _fresh(self, artist_id: str) -> None:
        # One fetch per artist at a time: concurrent requests wait for the same one.
        pending = self._inflight.get(artist_id)
        if pending is None:
            pending = asyncio.ensure_future(self._refresh(artist_id))
            self._inflight[artist_id] = pending
            pending.add_done_callback(lambda _: self._inflight.pop(artist_id, None))
        await asyncio.shield(pending)

    async def _refresh(self, artist_id: str) -> None:
        fetched = await self._database.run(artists.profile_fetched_at, artist_id)
        if fetched is not None and self._now() - fetched < self._max_age:
            return
        try:
            artist, albums, tracks = await self._fetch(artist_id)
        except NotFound:
            raise UnknownArtist(artist_id) from None
        except SpotifyError as exc:
            if fetched is None:
                raise
            logger.warning(
                "artist %s not refreshed (%s); serving the stored profile", artist_id, exc
            )
            return
        await self._database.run(artists.store_profile, artist, albums, tracks)

    async def _fetch(self, artist_id: str) -> tuple[Artist, list[Album], list[Track]]:
        artist = await self._spotify.artist(artist_id)
        albums = await self._spotify.artist_albums(artist_id, limit=ALBUMS_MAX)
        per_album = await asyncio.gather(*(self._spotify.album_tracks(a) for a in albums))
        tracks = [track for album_tracks in per_album for track in album_tracks]
        logger.info("artist %s: %d albums, %d tracks", artist_id, len(albums), len(tracks))
        return artist, albums, tracks
