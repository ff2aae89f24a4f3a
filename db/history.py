"""Listening history and statistics: what accumulated across snapshots, as plain dicts."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from typing import Any, cast

import peewee as pw

from db.models import (
    Artist,
    AudioFeatures,
    Play,
    SnapshotTrack,
    TopItem,
    TrackArtist,
    read_timestamp,
)
from db.polled import gaps_overlapping
from db.queries import SnapshotRef, iso_utc, user_id_of, with_track_columns, with_tracks
from spotify_models import AUDIO_FEATURE_NAMES

TOP_ARTISTS = 10


def tracks_played_once(user_id: int) -> dict[str, int]:
    """Artist id -> how many of their records (credited first) the user played exactly once,
    0 for an artist whose records the user played only more often; short plays (skips) left
    out. Which known artists' records the user plays, and which they are still meeting."""
    plays = (
        Play.select(Play.track.alias("track_id"), pw.fn.COUNT(Play.id).alias("plays"))
        .where((Play.user == user_id) & ~Play.short)
        .group_by(Play.track)
        .alias("plays")
    )
    once = pw.fn.SUM(pw.Case(None, [(plays.c.plays == 1, 1)], 0))
    query = (
        TrackArtist.select(TrackArtist.artist, once)
        .join(plays, on=TrackArtist.track == plays.c.track_id)
        .where(TrackArtist.position == 0)
        .group_by(TrackArtist.artist)
        .tuples()
    )
    return {str(artist): int(count) for artist, count in cast(Iterable[tuple[str, int]], query)}


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min)


def _day_after(day: dt.date) -> dt.datetime:
    """Midnight after `day`; the last representable moment for the last representable day."""
    return dt.datetime.max if day == dt.date.max else _day_start(day + dt.timedelta(days=1))


def _day_bounds(start: dt.date | None, end: dt.date | None) -> pw.Expression:
    condition = Play.played_at.is_null(False)
    if start is not None:
        condition &= Play.played_at >= _day_start(start)
    if end is not None:
        condition &= Play.played_at < _day_after(end)
    return condition


def list_plays(
    username: str, start: dt.date | None, end: dt.date | None, limit: int
) -> list[dict[str, Any]]:
    """The user's plays between two dates (inclusive), newest first."""
    user_id = user_id_of(username)
    query = with_track_columns(
        Play.select(Play.played_at, Play.ms_played, Play.short, Play.origin)
        .where((Play.user == user_id) & _day_bounds(start, end))
        .order_by(Play.played_at.desc())
        .limit(limit)
    )
    return [
        {
            "played_at": iso_utc(played_at),
            "ms_played": ms_played,
            "short": bool(short),
            "origin": origin,
            "track": track,
        }
        for (played_at, ms_played, short, origin), track in with_tracks(list(query))
    ]


def list_gaps(username: str, start: dt.date | None, end: dt.date | None) -> list[dict[str, Any]]:
    """Windows in which the user's plays may be missing, overlapping the days start..end."""
    first = _day_start(start) if start else None
    after = _day_after(end) if end else None
    return [
        {"from": iso_utc(starts_at), "to": iso_utc(ends_at), "found_at": iso_utc(found_at)}
        for starts_at, ends_at, found_at in gaps_overlapping(user_id_of(username), first, after)
    ]


def _snapshot_track_ids(snapshot_id: int) -> set[str]:
    top = TopItem.select(TopItem.track).where(
        (TopItem.snapshot == snapshot_id) & TopItem.track.is_null(False)
    )
    other = SnapshotTrack.select(SnapshotTrack.track).where(SnapshotTrack.snapshot == snapshot_id)
    ids = {row.track_id for row in top} | {row.track_id for row in other}
    return {track_id for track_id in ids if track_id is not None}


def _taste(track_ids: set[str]) -> tuple[dict[str, float], int]:
    """Mean of each audio feature over the tracks that have features."""
    rows = list(AudioFeatures.select().where(AudioFeatures.track.in_(sorted(track_ids))))
    if not rows:
        return {}, 0
    means = {
        name: round(sum(float(getattr(row, name)) for row in rows) / len(rows), 4)
        for name in AUDIO_FEATURE_NAMES
    }
    return means, len(rows)


def _history_until(user_id: int, until: dt.date) -> dict[str, Any]:
    plays = Play.select().where((Play.user == user_id) & _day_bounds(None, until))
    summary = plays.select(
        pw.fn.COUNT(Play.id),
        pw.fn.COUNT(Play.track.distinct()),
        pw.fn.MIN(Play.played_at),
        pw.fn.MAX(Play.played_at),
    ).tuples()
    count, distinct, first, last = cast(tuple[int, int, Any, Any], summary.get())
    first_play, last_play = read_timestamp(first), read_timestamp(last)
    return {
        "plays": count,
        "distinct_tracks": distinct,
        "first_play": iso_utc(first_play) if first_play else None,
        "last_play": iso_utc(last_play) if last_play else None,
    }


def _top_artists_by_plays(user_id: int, until: dt.date) -> list[dict[str, Any]]:
    query = (
        Play.select(TrackArtist.artist, Artist.name)
        .join(TrackArtist, on=(Play.track == TrackArtist.track))
        .join(Artist)
        .where((Play.user == user_id) & _day_bounds(None, until))
        .tuples()
    )
    counts = Counter(cast(Iterable[tuple[str, str]], query))
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0][1], item[0][0]))
    return [
        {"id": artist_id, "name": name, "plays": plays}
        for (artist_id, name), plays in ranked[:TOP_ARTISTS]
    ]


def snapshot_statistics(ref: SnapshotRef) -> dict[str, Any]:
    """Taste profile of a snapshot, and the listening history accumulated up to its date."""
    user_id = user_id_of(ref.username)
    track_ids = _snapshot_track_ids(ref.id)
    taste, with_features = _taste(track_ids)
    return {
        "username": ref.username,
        "date": ref.date.isoformat(),
        "recommendation_source": ref.recommendation_source,
        "features_source": ref.features_source,
        "tracks": len(track_ids),
        "tracks_with_features": with_features,
        "taste": taste,
        "history": _history_until(user_id, ref.date),
        "top_artists_by_plays": _top_artists_by_plays(user_id, ref.date),
    }
