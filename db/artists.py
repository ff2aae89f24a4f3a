"""An artist's profile as the catalogue holds it: the artist, their albums and tracks, and how
much one user listens to them."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any, cast

import peewee as pw

from db.catalogue import upsert_albums, upsert_artists, upsert_tracks
from db.models import (
    Album,
    Artist,
    ArtistName,
    Play,
    Snapshot,
    TopItem,
    Track,
    TrackArtist,
    TrackCredit,
    utcnow,
)
from db.queries import TRACK_COLUMNS, iso_utc, user_id_of, with_tracks
from spotify_models import Album as SpotifyAlbum
from spotify_models import Artist as SpotifyArtist
from spotify_models import Track as SpotifyTrack

TOP_TRACKS = 5


class UnknownArtist(LookupError):
    """Neither the catalogue nor Spotify knows this artist."""

    def __init__(self, artist_id: str) -> None:
        super().__init__(f"no artist has the id {artist_id}")
        self.artist_id = artist_id


def profile_fetched_at(artist_id: str) -> dt.datetime | None:
    """When the artist's profile was last fetched from Spotify, None if never."""
    fetched: dt.datetime | None = (
        Artist.select(Artist.profile_fetched_at).where(Artist.id == artist_id).scalar()
    )
    return fetched


def store_profile(
    artist: SpotifyArtist, albums: Sequence[SpotifyAlbum], tracks: Sequence[SpotifyTrack]
) -> None:
    """The artist, every album and their tracks, then the stamp that they were fetched now.

    No enclosing transaction: each upsert locks its rows in id order and commits, as snapshot
    workers' do, so two profiles written at once never hold locks the other waits for. The
    stamp comes last: a write cut short leaves the profile unstamped, and it is fetched again.
    """
    upsert_artists([artist])
    upsert_albums(albums)
    upsert_tracks(tracks)
    now = utcnow()
    Artist.update(profile_fetched_at=now, catalogue_fetched_at=now).where(
        Artist.id == artist.id
    ).execute()


def link_searched_names(found: Sequence[SpotifyArtist]) -> int:
    """Link artists known only by name (from an export) to the search results that bear that
    name; a name two results share stays unlinked. Returns how many names were linked."""
    by_name: dict[str, set[str]] = defaultdict(set)
    for artist in found:
        by_name[artist.name.casefold()].add(artist.id)
    unique = {name: ids.pop() for name, ids in by_name.items() if len(ids) == 1}
    if not unique:
        return 0
    lowered = sorted({artist.name.lower() for artist in found})
    candidates = ArtistName.select(ArtistName.id, ArtistName.name).where(
        ArtistName.artist.is_null() & pw.fn.LOWER(ArtistName.name).in_(lowered)
    )
    linked = 0
    for row in list(candidates):
        artist_id = unique.get(row.name.casefold())
        if artist_id is not None:
            linked += ArtistName.update(artist=artist_id).where(ArtistName.id == row.id).execute()
    return linked


def _artist(artist_id: str) -> dict[str, Any]:
    row = Artist.get_or_none(Artist.id == artist_id)
    if row is None:
        raise UnknownArtist(artist_id)
    return {
        "id": row.id,
        "name": row.name,
        "genres": row.genres,
        "popularity": row.popularity,
        "image_url": row.image_url,
        "fetched_at": iso_utc(row.profile_fetched_at) if row.profile_fetched_at else None,
    }


def _credited_track_ids(artist_id: str) -> pw.ModelSelect[TrackArtist]:
    return TrackArtist.select(TrackArtist.track).where(TrackArtist.artist == artist_id)


def _albums(artist_id: str) -> list[dict[str, Any]]:
    counts = (
        Track.select(Track.album, pw.fn.COUNT(Track.id))
        .where(Track.id.in_(_credited_track_ids(artist_id)))
        .group_by(Track.album)
        .tuples()
    )
    tracks = dict(cast(Iterable[tuple[str, int]], counts))
    query = (
        Album.select(Album.id, Album.name, Album.release_date, Album.image_url)
        .where((Album.artist == artist_id) | Album.id.in_([a for a in tracks if a]))
        .order_by(Album.release_date.desc(nulls="LAST"), Album.name, Album.id)
    )
    return [
        {
            "id": row.id,
            "name": row.name,
            "release_date": row.release_date,
            "image_url": row.image_url,
            "tracks": tracks.get(row.id, 0),
        }
        for row in query
    ]


def _tracks(artist_id: str) -> list[dict[str, Any]]:
    query = (
        Track.select(*TRACK_COLUMNS, Album.release_date)
        .join(Album, pw.JOIN.LEFT_OUTER)
        .where(Track.id.in_(_credited_track_ids(artist_id)))
        .order_by(Album.release_date.desc(nulls="LAST"), Album.id, Track.name, Track.id)
        .tuples()
    )
    # with_tracks splits trailing TRACK_COLUMNS: put the release date first.
    rows = [(row[-1], *row[:-1]) for row in cast(Iterable[tuple[Any, ...]], query)]
    return [track for _, track in with_tracks(rows)]


def stored_profile(artist_id: str) -> dict[str, Any]:
    """The artist, their albums (newest first, with how many of their tracks each holds) and
    every catalogue track that credits them. UnknownArtist when the catalogue lacks them."""
    artist = _artist(artist_id)
    return {"artist": artist, "albums": _albums(artist_id), "tracks": _tracks(artist_id)}


def _listened_tracks(artist_id: str) -> pw.Expression:
    # Tracks credited in the catalogue, or known from an export by a name linked to the artist.
    by_name = (
        TrackCredit.select(TrackCredit.track).join(ArtistName).where(ArtistName.artist == artist_id)
    )
    return Play.track.in_(_credited_track_ids(artist_id)) | Play.track.in_(by_name)


def _minutes(ms: int | None) -> float:
    return round((ms or 0) / 60_000, 1)


def _play_totals(user_id: int, condition: pw.Expression | None) -> tuple[int, int, Any, Any]:
    length = pw.fn.COALESCE(Play.ms_played, Track.duration_ms, 0)
    wanted = (Play.user == user_id) & (Play.short == False)  # noqa: E712
    if condition is not None:
        wanted &= condition
    query = (
        Play.select(
            pw.fn.COUNT(Play.id),
            pw.fn.SUM(length),
            pw.fn.MIN(Play.played_at),
            pw.fn.MAX(Play.played_at),
        )
        .join(Track)
        .where(wanted)
        .tuples()
    )
    count, ms, first, last = cast(tuple[int, Any, Any, Any], query.get())
    return count, int(ms or 0), first, last


def _top_tracks(user_id: int, artist_id: str) -> list[dict[str, Any]]:
    plays = pw.fn.COUNT(Play.id)
    query = (
        Play.select(plays, *TRACK_COLUMNS)
        .join(Track)
        .join(Album, pw.JOIN.LEFT_OUTER)
        .where((Play.user == user_id) & (Play.short == False) & _listened_tracks(artist_id))  # noqa: E712
        .group_by(*TRACK_COLUMNS)
        .order_by(plays.desc(), Track.name, Track.id)
        .limit(TOP_TRACKS)
        .tuples()
    )
    rows = list(cast(Iterable[tuple[Any, ...]], query))
    return [{"plays": count, "track": track} for (count,), track in with_tracks(rows)]


def _top_ranks(user_id: int, artist_id: str) -> dict[str, int]:
    latest = (
        Snapshot.select(Snapshot.id)
        .where((Snapshot.user == user_id) & (Snapshot.status == Snapshot.COMPLETE))
        .order_by(Snapshot.date.desc())
        .limit(1)
    )
    query = TopItem.select(TopItem.time_range, TopItem.rank).where(
        TopItem.snapshot.in_(latest) & (TopItem.artist == artist_id)
    )
    return {row.time_range: row.rank for row in query}


def _as_datetime(value: dt.datetime | str) -> dt.datetime:
    # SQLite returns aggregates of timestamps as text.
    return dt.datetime.fromisoformat(value) if isinstance(value, str) else value


def listening(username: str, artist_id: str) -> dict[str, Any]:
    """How much the user listens to the artist: plays and minutes (plays under 30 s left out,
    as statistics leave them out), first and last play, share of all their plays, their most
    played tracks of the artist, and the artist's rank in their latest top artists."""
    user_id = user_id_of(username)
    count, ms, first, last = _play_totals(user_id, _listened_tracks(artist_id))
    total, _, _, _ = _play_totals(user_id, None)
    return {
        "username": username,
        "plays": count,
        "minutes": _minutes(ms),
        "share_of_plays": round(count / total, 4) if total else 0.0,
        "first_played": iso_utc(_as_datetime(first)) if first else None,
        "last_played": iso_utc(_as_datetime(last)) if last else None,
        "top_tracks": _top_tracks(user_id, artist_id),
        "top_artist_rank": _top_ranks(user_id, artist_id),
    }
