"""Reads behind the changes between two snapshots: which pair, their ranks, their items."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any, cast

import peewee as pw

from db.models import Album, Artist, Snapshot, TopItem, Track
from db.queries import (
    TRACK_COLUMNS,
    SnapshotRef,
    find_snapshot,
    user_id_of,
    with_tracks,
)

# (item type, time range) -> item id -> rank
Ranks = dict[tuple[str, str], dict[str, int]]


class NoEarlierSnapshot(LookupError):
    """There is no complete snapshot before the later one, so nothing to compare it with."""

    def __init__(self, username: str, later: dt.date) -> None:
        super().__init__(
            f"{username} has no snapshot before {later.isoformat()}; changes need two snapshots"
        )


class SnapshotsOutOfOrder(ValueError):
    """The earlier snapshot of the pair is not before the later one."""


def _previous(username: str, later: SnapshotRef) -> SnapshotRef:
    user_id = user_id_of(username)
    date = (
        Snapshot.select(Snapshot.date)
        .where(
            (Snapshot.user == user_id)
            & (Snapshot.status == Snapshot.COMPLETE)
            & (Snapshot.date < later.date)
        )
        .order_by(Snapshot.date.desc())
        .scalar()
    )
    if date is None:
        raise NoEarlierSnapshot(username, later.date)
    return find_snapshot(username, date)


def snapshot_pair(
    username: str, start: dt.date | None, end: dt.date | None
) -> tuple[SnapshotRef, SnapshotRef]:
    """The snapshots on `start` and `end`: by default the latest and the one before it.

    Raises UnknownUser, SnapshotNotFound, NoEarlierSnapshot or SnapshotsOutOfOrder.
    """
    later = find_snapshot(username, end)
    earlier = find_snapshot(username, start) if start else _previous(username, later)
    if earlier.date >= later.date:
        raise SnapshotsOutOfOrder(
            f"from ({earlier.date.isoformat()}) must be before to ({later.date.isoformat()})"
        )
    return earlier, later


def top_ranks(snapshot_id: int) -> Ranks:
    """Every top item of a snapshot: its rank in each list and time range."""
    query = (
        TopItem.select(
            TopItem.item_type, TopItem.time_range, TopItem.track, TopItem.artist, TopItem.rank
        )
        .where(TopItem.snapshot == snapshot_id)
        .tuples()
    )
    ranks: Ranks = defaultdict(dict)
    rows = cast(Iterable[tuple[str, str, str | None, str | None, int]], query)
    for item_type, time_range, track_id, artist_id, rank in rows:
        item_id = track_id if item_type == "tracks" else artist_id
        if item_id is not None:
            ranks[(item_type, time_range)][item_id] = rank
    return dict(ranks)


def track_items(track_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Tracks as the API shows them, by id."""
    ids = sorted(set(track_ids))
    if not ids:
        return {}
    query = (
        Track.select(*TRACK_COLUMNS)
        .join(Album, pw.JOIN.LEFT_OUTER)
        .where(Track.id.in_(ids))
        .tuples()
    )
    rows = list(cast(Iterable[tuple[Any, ...]], query))
    return {track["id"]: track for _, track in with_tracks(rows)}


def artist_items(artist_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Artists as the API shows them in lists, by id."""
    ids = sorted(set(artist_ids))
    query = Artist.select(Artist.id, Artist.name, Artist.genres, Artist.image_url).where(
        Artist.id.in_(ids)
    )
    return {
        row.id: {"id": row.id, "name": row.name, "genres": row.genres, "image_url": row.image_url}
        for row in query
    }
