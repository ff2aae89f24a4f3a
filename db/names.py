"""Artists and albums known only by name, linked to catalogue ids once the catalogue meets them.

An export names a track's album artist and album but gives no ids. When a snapshot or a
search later stores that track with its credits, a name that matches one of the track's
artists (or its album) is linked to that id, so statistics count the name and the id as one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, cast

import peewee as pw

from db.models import Album, AlbumName, ArtistName, Track, TrackCredit
from db.queries import artists_by_track

BATCH = 200


def _same(name: str, other: str) -> bool:
    return name.casefold() == other.casefold()


def _unlinked_credits(track_ids: Sequence[str]) -> list[tuple[Any, ...]]:
    query = (
        TrackCredit.select(
            TrackCredit.track,
            ArtistName.id,
            ArtistName.name,
            ArtistName.artist,
            AlbumName.id,
            AlbumName.name,
            AlbumName.album,
            Track.album,
            Album.name,
        )
        .join_from(TrackCredit, ArtistName, pw.JOIN.LEFT_OUTER)
        .join_from(TrackCredit, AlbumName, pw.JOIN.LEFT_OUTER)
        .join_from(TrackCredit, Track)
        .join_from(Track, Album, pw.JOIN.LEFT_OUTER)
        .where(
            TrackCredit.track.in_(list(track_ids))
            & (
                (ArtistName.id.is_null(False) & ArtistName.artist.is_null())
                | (AlbumName.id.is_null(False) & AlbumName.album.is_null())
            )
        )
        .tuples()
    )
    return list(cast(Iterable[tuple[Any, ...]], query))


def _link_batch(track_ids: Sequence[str]) -> None:
    credits = _unlinked_credits(track_ids)
    if not credits:
        return
    artists = artists_by_track(row[0] for row in credits)
    for (
        track_id,
        name_id,
        name,
        linked,
        album_name_id,
        album_name,
        album,
        album_id,
        title,
    ) in credits:
        if name_id is not None and linked is None:
            match = next((a["id"] for a in artists[track_id] if _same(a["name"], name)), None)
            if match is not None:
                ArtistName.update(artist=match).where(ArtistName.id == name_id).execute()
        if album_name_id is not None and album is None and title and _same(title, album_name):
            AlbumName.update(album=album_id).where(AlbumName.id == album_name_id).execute()


def link_names(track_ids: Iterable[str]) -> None:
    """Link the export's names of these tracks' artists and albums to catalogue ids."""
    ordered = sorted(set(track_ids))
    for start in range(0, len(ordered), BATCH):
        _link_batch(ordered[start : start + BATCH])
