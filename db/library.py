"""What a user's earlier snapshots already hold: their saved tracks, as catalogue tracks.

A nightly snapshot asks Spotify only for the saved tracks added since the last one; the rest
come from here, so a warm night costs one page of `/me/tracks` instead of the whole library.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import peewee as pw

from db.models import Album, Snapshot, SnapshotTrack, Track
from db.queries import artists_by_track
from spotify_models import Album as SpotifyAlbum
from spotify_models import ArtistRef
from spotify_models import Track as SpotifyTrack


def saved_before(user_id: int, date: dt.date) -> list[SpotifyTrack]:
    """The saved tracks of the user's latest complete snapshot before `date` (none: empty)."""
    latest = (
        Snapshot.select(Snapshot.id)
        .where(
            (Snapshot.user == user_id)
            & (Snapshot.date < date)
            & (Snapshot.status == Snapshot.COMPLETE)
        )
        .order_by(Snapshot.date.desc())
        .limit(1)
        .scalar()
    )
    if latest is None:
        return []
    rows = SnapshotTrack.select(SnapshotTrack.track).where(
        (SnapshotTrack.snapshot == latest) & (SnapshotTrack.kind == SnapshotTrack.SAVED)
    )
    return catalogue_tracks([row.track_id for row in rows])


def catalogue_tracks(track_ids: Sequence[str]) -> list[SpotifyTrack]:
    """The stored tracks among `track_ids`, as Spotify described them, in the given order."""
    if not track_ids:
        return []
    artists = _artist_refs(track_ids)
    query = (
        Track.select(Track, Album)
        .join(Album, on=Track.album == Album.id, join_type=pw.JOIN.LEFT_OUTER)
        .where(Track.id.in_(list(track_ids)))
    )
    found = {track.id: _track(track, artists.get(track.id, ())) for track in query}
    return [found[track_id] for track_id in dict.fromkeys(track_ids) if track_id in found]


def _artist_refs(track_ids: Sequence[str]) -> dict[str, tuple[ArtistRef, ...]]:
    return {
        track_id: tuple(ArtistRef(artist["id"], artist["name"]) for artist in artists)
        for track_id, artists in artists_by_track(track_ids).items()
    }


def _track(row: Track, artists: tuple[ArtistRef, ...]) -> SpotifyTrack:
    album = getattr(row, "album", None) if row.album_id else None
    return SpotifyTrack(
        id=row.id,
        name=row.name,
        uri=row.uri,
        duration_ms=row.duration_ms,
        artists=artists,
        album=None
        if album is None
        else SpotifyAlbum(album.id, album.name, (), album.release_date, album.image_url),
        popularity=row.popularity,
        isrc=row.isrc,
        explicit=row.explicit,
    )
