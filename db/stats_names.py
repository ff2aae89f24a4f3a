"""What the statistics counted, as the API shows it: tracks, artists, albums and shows by key.

Artists and albums are counted by their catalogue id once known, else by the name the
export gave (`name:` + the artist's name, or + the AlbumName row's id).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

import peewee as pw

from db.models import Album, AlbumName, Artist, ArtistName, Show, Track, TrackArtist, TrackCredit

NAME_KEY = "name:"
FIRST_CREDIT = TrackArtist.alias("first_credit")


def _split(keys: Iterable[str]) -> tuple[list[str], list[str]]:
    ids = sorted(key for key in keys if not key.startswith(NAME_KEY))
    named = sorted(key.removeprefix(NAME_KEY) for key in keys if key.startswith(NAME_KEY))
    return ids, named


def artist_names(keys: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Each artist key as the API shows it: catalogue id and name, or the name alone."""
    ids, named = _split(keys)
    found: dict[str, dict[str, Any]] = {
        NAME_KEY + name: {"id": None, "name": name} for name in named
    }
    query = Artist.select(Artist.id, Artist.name).where(Artist.id.in_(ids)).tuples()
    for artist_id, name in cast(Iterable[tuple[str, str]], query):
        found[artist_id] = {"id": artist_id, "name": name}
    return found


def album_names(keys: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Each album key as the API shows it: id, name and artist (by name)."""
    ids, named = _split(keys)
    found: dict[str, dict[str, Any]] = {}
    query = (
        Album.select(Album.id, Album.name, Artist.name)
        .join(Artist, pw.JOIN.LEFT_OUTER)
        .where(Album.id.in_(ids))
        .tuples()
    )
    for album_id, name, artist in cast(Iterable[tuple[str, str, str | None]], query):
        found[album_id] = {"id": album_id, "name": name, "artist": artist}
    names = (
        AlbumName.select(AlbumName.id, AlbumName.name, ArtistName.name)
        .join(ArtistName)
        .where(AlbumName.id.in_([int(key) for key in named]))
        .tuples()
    )
    for name_id, name, artist in cast(Iterable[tuple[int, str, str]], names):
        found[f"{NAME_KEY}{name_id}"] = {"id": None, "name": name, "artist": artist}
    return found


def track_names(track_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Each track's id, name and (first) artist: from the catalogue, else the export's credit."""
    ids = sorted(track_ids)
    query = (
        Track.select(Track.id, Track.name, Artist.name, ArtistName.name)
        .join_from(
            Track,
            FIRST_CREDIT,
            pw.JOIN.LEFT_OUTER,
            on=(FIRST_CREDIT.track == Track.id) & (FIRST_CREDIT.position == 0),
        )
        .join_from(FIRST_CREDIT, Artist, pw.JOIN.LEFT_OUTER, on=(FIRST_CREDIT.artist == Artist.id))
        .join_from(Track, TrackCredit, pw.JOIN.LEFT_OUTER, on=(TrackCredit.track == Track.id))
        .join_from(TrackCredit, ArtistName, pw.JOIN.LEFT_OUTER)
        .where(Track.id.in_(ids))
        .tuples()
    )
    return {
        track_id: {"id": track_id, "name": name, "artist": artist or credited}
        for track_id, name, artist, credited in cast(Iterable[tuple[str, str, Any, Any]], query)
    }


def show_names(show_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """Each show as the API shows it (shows have no Spotify id in the export)."""
    query = Show.select(Show.id, Show.name).where(Show.id.in_(sorted(show_ids))).tuples()
    return {
        show_id: {"id": None, "name": name}
        for show_id, name in cast(Iterable[tuple[int, str]], query)
    }
