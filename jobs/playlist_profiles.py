"""A user's playlists, and a playlist's audio-feature profile and K-means clusters."""

from __future__ import annotations

import asyncio
from typing import Any

import anyio.to_thread

from db import catalogue
from db.database import Database
from jobs.clustering import cluster_tracks
from jobs.errors import first_error
from jobs.track_features import FeatureSources, features_of, features_summary
from jobs.user_sessions import UserSessions
from spotify_client import Forbidden, InvalidGrant, NotFound, UserSession
from spotify_models import Playlist, Profile

PLAYLISTS_MAX = 500
# A playlist holds up to 10,000 items; a profile reads the first thousand (20 pages).
ITEMS_MAX = 1000


class UnknownPlaylist(LookupError):
    """Spotify knows no such playlist."""

    def __init__(self, playlist_id: str) -> None:
        super().__init__(f"Spotify knows no playlist {playlist_id}")


class PlaylistNotReadable(PermissionError):
    """Since 2026 an app may read the items only of playlists the user owns or collaborates on."""

    def __init__(self, playlist: Playlist | None, playlist_id: str) -> None:
        name = f"'{playlist.name}' ({playlist_id})" if playlist else playlist_id
        owner = f", owned by {playlist.owner_id}," if playlist else ""
        super().__init__(
            f"playlist {name}{owner} is neither the user's own nor collaborative: since 2026 "
            "Spotify lets an app read the items only of playlists the user owns or "
            "collaborates on"
        )


def _readable(playlist: Playlist, me: Profile) -> bool:
    return playlist.owner_id == me.id or playlist.collaborative


def playlist_dict(playlist: Playlist, me: Profile) -> dict[str, Any]:
    """A playlist as the API lists it, with whether its items may be read."""
    return {
        "id": playlist.id,
        "name": playlist.name,
        "owner": {"id": playlist.owner_id, "name": playlist.owner_name},
        "owned": playlist.owner_id == me.id,
        "collaborative": playlist.collaborative,
        "readable": _readable(playlist, me),
        "items": playlist.total,
        "image_url": playlist.image_url,
    }


async def _both(first: Any, second: Any) -> tuple[Any, Any]:
    """Two calls at once; the first error of either is raised as itself."""
    try:
        async with asyncio.TaskGroup() as group:
            a, b = group.create_task(first), group.create_task(second)
    except ExceptionGroup as group:
        raise first_error(group) from None
    return a.result(), b.result()


class PlaylistProfiles:
    """Reads playlists with the user's own token; profiles them like a snapshot's tracks."""

    def __init__(
        self, database: Database, sessions: UserSessions, feature_sources: FeatureSources
    ) -> None:
        self._database = database
        self._sessions = sessions
        self._feature_sources = feature_sources

    async def playlists(self, username: str) -> list[dict[str, Any]]:
        """The user's playlists, owned and followed, each saying whether it is readable."""
        user_id, session = await self._sessions.open(username)
        try:
            me, found = await _both(session.me(), session.playlists(PLAYLISTS_MAX))
        except InvalidGrant:
            raise await self._sessions.refused(user_id, username) from None
        return [playlist_dict(playlist, me) for playlist in found]

    async def profile(self, username: str, playlist_id: str) -> dict[str, Any]:
        """The playlist's feature profile and clusters; PlaylistNotReadable or UnknownPlaylist."""
        user_id, session = await self._sessions.open(username)
        try:
            playlist, me, tracks = await self._read(session, playlist_id)
        except InvalidGrant:
            raise await self._sessions.refused(user_id, username) from None
        await self._database.run(catalogue.upsert_tracks, tracks)
        track_ids = list(dict.fromkeys(track.id for track in tracks))
        features = await features_of(self._database, self._feature_sources, track_ids)
        values = {t: features[t][0] for t in track_ids if t in features}
        clustering = await anyio.to_thread.run_sync(cluster_tracks, values)
        return {
            "username": username,
            "playlist": playlist_dict(playlist, me),
            "tracks": len(track_ids),
            "truncated": (playlist.total or 0) > ITEMS_MAX,
            "features": features_summary(track_ids, features),
            "clusters": [
                {
                    "id": position,
                    "label": c.label,
                    "size": c.size,
                    "centroid": c.centroid,
                    "track_ids": sorted(c.track_ids),
                }
                for position, c in enumerate(clustering.clusters)
            ],
            "note": clustering.note,
        }

    async def _read(self, session: UserSession, playlist_id: str) -> tuple[Playlist, Profile, Any]:
        try:
            playlist, me = await _both(session.playlist(playlist_id), session.me())
        except NotFound:
            raise UnknownPlaylist(playlist_id) from None
        if not _readable(playlist, me):
            raise PlaylistNotReadable(playlist, playlist_id)
        try:
            tracks = await session.playlist_items(playlist_id, ITEMS_MAX)
        except Forbidden:
            # Collaborative, but the user is not one of its collaborators (or not any more).
            raise PlaylistNotReadable(playlist, playlist_id) from None
        return playlist, me, tracks
