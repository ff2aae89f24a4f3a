"""What the offline evaluation reads: every user's dated plays and saves, and the stored
tracks with features (artist names, popularity) as evaluation rows."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import cast

from db.models import (
    Artist,
    AudioFeatures,
    Play,
    Snapshot,
    SnapshotTrack,
    Track,
    TrackArtist,
    User,
)

StoredTrack = tuple[str, tuple[str, ...], int, list[float]]


def user_events(usernames: Iterable[str] = ()) -> dict[str, list[tuple[str, dt.datetime]]]:
    """Username -> plays (when played) and saves (dated by the first snapshot holding them).

    Short plays (skips) are left out: after the cut a skip is a track the user turned away,
    no hit for a pick of it, and before it the recommender's own counts leave skips out.
    """
    wanted = list(usernames)
    users = User.select(User.id, User.username)
    if wanted:
        users = users.where(User.username.in_(wanted))
    names = {row.id: row.username for row in users}
    events: dict[str, list[tuple[str, dt.datetime]]] = {name: [] for name in names.values()}
    plays = Play.select(Play.user, Play.track, Play.played_at).where(
        Play.user.in_(list(names)) & ~Play.short
    )
    for user_id, track_id, played_at in cast(
        Iterable[tuple[int, str, dt.datetime]], plays.tuples()
    ):
        events[names[user_id]].append((track_id, played_at))
    for (user_id, track_id), day in _first_saved(list(names)).items():
        events[names[user_id]].append((track_id, dt.datetime.combine(day, dt.time.min)))
    return events


def _first_saved(user_ids: list[int]) -> dict[tuple[int, str], dt.date]:
    query = (
        SnapshotTrack.select(Snapshot.user, SnapshotTrack.track, Snapshot.date)
        .join(Snapshot)
        .where((SnapshotTrack.kind == SnapshotTrack.SAVED) & Snapshot.user.in_(user_ids))
        .order_by(Snapshot.date)
        .tuples()
    )
    first: dict[tuple[int, str], dt.date] = {}
    for user_id, track_id, day in cast(Iterable[tuple[int, str, dt.date]], query):
        first.setdefault((user_id, track_id), day)
    return first


def stored_tracks(feature_names: Sequence[str]) -> list[StoredTrack]:
    """(id, artist names, popularity, the named features) of every track with features."""
    columns = [getattr(AudioFeatures, name) for name in feature_names]
    query = (
        Track.select(Track.id, Track.popularity, *columns)
        .join(AudioFeatures)
        .order_by(Track.id)
        .tuples()
    )
    rows = list(cast(Iterable[tuple[object, ...]], query))
    artists = _artist_names([str(row[0]) for row in rows])
    return [
        (
            str(r[0]),
            artists.get(str(r[0]), ()),
            int(cast(int, r[1]) or 0),
            [float(cast(float, v)) for v in r[2:]],
        )
        for r in rows
    ]


def _artist_names(track_ids: list[str]) -> dict[str, tuple[str, ...]]:
    names: dict[str, list[str]] = defaultdict(list)
    for start in range(0, len(track_ids), 500):
        query = (
            TrackArtist.select(TrackArtist.track, Artist.name)
            .join(Artist)
            .where(TrackArtist.track.in_(track_ids[start : start + 500]))
            .order_by(TrackArtist.track, TrackArtist.position)
            .tuples()
        )
        for track_id, name in cast(Iterable[tuple[str, str]], query):
            names[track_id].append(name)
    return {track_id: tuple(found) for track_id, found in names.items()}
