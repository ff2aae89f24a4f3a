"""Reads of a user's whole history in pages, for an export that never holds all of it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any, cast

import peewee as pw

from db.models import (
    Album,
    AlbumName,
    Artist,
    ArtistName,
    Episode,
    EpisodePlay,
    Play,
    Show,
    Track,
    TrackCredit,
)
from streaming_history import ExportedPlay

# Where a page ended: (played_at, id), so the next page starts strictly after it.
Cursor = tuple[dt.datetime, int]
Page = list[tuple[Cursor, ExportedPlay]]
AlbumArtist = Artist.alias("album_artist")


def _page_of(
    model: type[Play] | type[EpisodePlay], user_id: int, cursor: Cursor | None
) -> pw.Expression:
    mine: pw.Expression = model.user == user_id
    if cursor is None:
        return mine
    at, last_id = cursor
    return mine & ((model.played_at > at) | ((model.played_at == at) & (model.id > last_id)))


def music_page(user_id: int, after: Cursor | None, limit: int) -> Page:
    """The user's next `limit` music plays after `after`, oldest first, with their names.

    Names the export gave win over the catalogue's, so an export imported again says the same.
    """
    query = (
        Play.select(
            Play.played_at,
            Play.id,
            Play.ms_played,
            Track.id,
            Track.name,
            pw.fn.COALESCE(ArtistName.name, AlbumArtist.name),
            pw.fn.COALESCE(AlbumName.name, Album.name),
        )
        .join(Track)
        .join_from(Play, TrackCredit, pw.JOIN.LEFT_OUTER, on=TrackCredit.track == Play.track)
        .join_from(TrackCredit, ArtistName, pw.JOIN.LEFT_OUTER)
        .join_from(TrackCredit, AlbumName, pw.JOIN.LEFT_OUTER)
        .join_from(Track, Album, pw.JOIN.LEFT_OUTER)
        .join_from(Album, AlbumArtist, pw.JOIN.LEFT_OUTER, on=Album.artist == AlbumArtist.id)
        .where(_page_of(Play, user_id, after))
        .order_by(Play.played_at, Play.id)
        .limit(limit)
        .tuples()
    )
    return [
        ((at, play_id), ExportedPlay("track", track_id, at, ms, name, artist, album))
        for at, play_id, ms, track_id, name, artist, album in cast(Iterable[Any], query)
    ]


def episode_page(user_id: int, after: Cursor | None, limit: int) -> Page:
    """The user's next `limit` podcast plays after `after`, oldest first."""
    query = (
        EpisodePlay.select(
            EpisodePlay.played_at,
            EpisodePlay.id,
            EpisodePlay.ms_played,
            Episode.id,
            Episode.name,
            Show.name,
        )
        .join(Episode)
        .join(Show, pw.JOIN.LEFT_OUTER)
        .where(_page_of(EpisodePlay, user_id, after))
        .order_by(EpisodePlay.played_at, EpisodePlay.id)
        .limit(limit)
        .tuples()
    )
    return [
        ((at, play_id), ExportedPlay("episode", episode_id, at, ms, name, show, None))
        for at, play_id, ms, episode_id, name, show in cast(Iterable[Any], query)
    ]
