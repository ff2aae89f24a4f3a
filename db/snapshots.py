"""Write side of snapshots: a user's listening, and the snapshot itself in one transaction."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, cast

import peewee as pw

from db.documents import render_snapshot
from db.models import (
    Cluster,
    ClusterMember,
    Recommendation,
    Snapshot,
    SnapshotJob,
    SnapshotTrack,
    TopItem,
    User,
    utcnow,
)
from db.polled import record_polled_plays


@dataclasses.dataclass(frozen=True)
class ClusterRows:
    label: str
    centroid: Mapping[str, float]
    track_ids: Sequence[str]


@dataclasses.dataclass(frozen=True)
class RecommendationRow:
    track_id: str
    reason: str | None
    source: str | None = None
    new_artist: bool | None = None


@dataclasses.dataclass(frozen=True)
class SnapshotContent:
    """Everything one snapshot stores, by catalogue id; the catalogue rows exist already."""

    user_id: int
    date: dt.date
    top_tracks: Mapping[str, Sequence[str]]
    top_artists: Mapping[str, Sequence[str]]
    recent: Sequence[str]
    saved: Sequence[str]
    recommendations: Sequence[RecommendationRow]
    recommendation_source: str
    clusters: Sequence[ClusterRows]
    clusters_note: str | None
    features_source: str | None
    sources: Mapping[str, Any]
    # What Spotify sent that was left out: {endpoint: {reason: count}}.
    skipped: Mapping[str, Mapping[str, int]] = dataclasses.field(default_factory=dict)


def stored_refresh_token(user_id: int) -> str | None:
    """The user's encrypted refresh token."""
    token: str | None = User.select(User.refresh_token_encrypted).where(User.id == user_id).scalar()
    return token


def replace_refresh_token(user_id: int, encrypted: str) -> None:
    """Store a refresh token Spotify rotated during a run (its consent date is unchanged)."""
    User.update(refresh_token_encrypted=encrypted, updated_at=utcnow()).where(
        User.id == user_id
    ).execute()


def record_plays(user_id: int, plays: Iterable[tuple[str, dt.datetime]]) -> int:
    """Add polled plays to the history; Spotify keeps only the last 50, so we keep them all."""
    return record_polled_plays(user_id, plays)


def write_snapshot(content: SnapshotContent) -> int:
    """Replace the (user, date) snapshot with `content` in one transaction; returns its id."""
    database = Snapshot._meta.database
    with database.atomic():
        Snapshot.delete().where(
            (Snapshot.user == content.user_id) & (Snapshot.date == content.date)
        ).execute()
        snapshot = Snapshot.create(
            user=content.user_id,
            date=content.date,
            status=Snapshot.COMPLETE,
            sources=dict(content.sources),
            recommendation_source=content.recommendation_source,
            features_source=content.features_source,
            clusters_note=content.clusters_note,
            skipped={where: dict(reasons) for where, reasons in content.skipped.items()},
            generated_at=utcnow(),
        )
        _insert_top_items(snapshot.id, content)
        _insert_snapshot_tracks(snapshot.id, content)
        _insert_recommendations(snapshot.id, content.recommendations)
        _insert_clusters(snapshot.id, content.clusters)
        # Rendered from the rows just written: a dated answer is frozen with its snapshot.
        render_snapshot(snapshot.id)
        # A forced redo is done once this commits; a worker that dies before recording the
        # job finished must not make the next claim redo it again.
        SnapshotJob.update(force=False).where(
            (SnapshotJob.user == content.user_id) & (SnapshotJob.date == content.date)
        ).execute()
    return int(snapshot.id)


def _top_item_rows(
    snapshot_id: int, item_type: str, ranked: Mapping[str, Sequence[str]]
) -> list[dict[str, Any]]:
    # Every row names both columns: insert_many takes its column list from the first row.
    column, other = ("track", "artist") if item_type == "tracks" else ("artist", "track")
    return [
        {
            "snapshot": snapshot_id,
            "item_type": item_type,
            "time_range": time_range,
            "rank": rank,
            column: item,
            other: None,
        }
        for time_range, ids in ranked.items()
        for rank, item in enumerate(ids, start=1)
    ]


def _insert_top_items(snapshot_id: int, content: SnapshotContent) -> None:
    rows = _top_item_rows(snapshot_id, "tracks", content.top_tracks)
    rows += _top_item_rows(snapshot_id, "artists", content.top_artists)
    _insert(TopItem, rows)


def _insert_snapshot_tracks(snapshot_id: int, content: SnapshotContent) -> None:
    kinds = ((SnapshotTrack.RECENT, content.recent), (SnapshotTrack.SAVED, content.saved))
    rows = [
        {"snapshot": snapshot_id, "kind": kind, "track": track_id}
        for kind, ids in kinds
        for track_id in dict.fromkeys(ids)
    ]
    _insert(SnapshotTrack, rows)


def _insert_recommendations(snapshot_id: int, picks: Sequence[RecommendationRow]) -> None:
    rows = [
        {
            "snapshot": snapshot_id,
            "rank": rank,
            "track": pick.track_id,
            "reason": pick.reason,
            "source": pick.source,
            "new_artist": pick.new_artist,
        }
        for rank, pick in enumerate(picks, start=1)
    ]
    _insert(Recommendation, rows)


def _insert_clusters(snapshot_id: int, clusters: Sequence[ClusterRows]) -> None:
    # Three statements for any number of clusters: their rows, their ids, all their members.
    rows = [
        {
            "snapshot": snapshot_id,
            "position": position,
            "label": cluster.label,
            "size": len(cluster.track_ids),
            "centroid": dict(cluster.centroid),
        }
        for position, cluster in enumerate(clusters)
    ]
    _insert(Cluster, rows)
    ids = Cluster.select(Cluster.position, Cluster.id).where(Cluster.snapshot == snapshot_id)
    by_position = dict(cast(Iterable[tuple[int, int]], ids.tuples()))
    members = [
        {"cluster": by_position[position], "track": track_id}
        for position, cluster in enumerate(clusters)
        for track_id in dict.fromkeys(cluster.track_ids)
    ]
    _insert(ClusterMember, members)


def _insert(model: type[pw.Model], rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), 200):
        model.insert_many(rows[start : start + 200]).execute()


# Users per statement reading the latest listening: PostgreSQL's driver holds a whole result
# in memory, and a run's read must not grow the process with the number of users.
LISTENING_PAGE = 250


def latest_listening() -> Iterator[tuple[int, str]]:
    """(user id, track id) once per track of each user's latest complete snapshot: its top
    tracks, recent plays and saved tracks. Read in pages of users, one statement a page."""
    ids = User.select(User.id).order_by(User.id).tuples()
    user_ids = [int(row[0]) for row in cast(Iterable[tuple[int]], ids)]
    for start in range(0, len(user_ids), LISTENING_PAGE):
        yield from _listening_of(user_ids[start : start + LISTENING_PAGE])


def _latest_snapshots(user_ids: Sequence[int]) -> pw.SelectQuery:
    """The ids of these users' latest complete snapshots, as a subquery."""
    complete = Snapshot.status == Snapshot.COMPLETE
    latest = (
        Snapshot.select(Snapshot.user.alias("owner"), pw.fn.MAX(Snapshot.date).alias("last"))
        .where(Snapshot.user.in_(list(user_ids)) & complete)
        .group_by(Snapshot.user)
        .alias("latest")
    )
    on_latest = (Snapshot.user == latest.c.owner) & (Snapshot.date == latest.c.last)
    return Snapshot.select(Snapshot.id).join(latest, on=on_latest).where(complete)


def _listening_of(user_ids: Sequence[int]) -> Iterator[tuple[int, str]]:
    latest = _latest_snapshots(user_ids)
    top = (
        TopItem.select(Snapshot.user, TopItem.track)
        .join(Snapshot)
        .where(TopItem.snapshot.in_(latest) & TopItem.track.is_null(False))
    )
    other = (
        SnapshotTrack.select(Snapshot.user, SnapshotTrack.track)
        .join(Snapshot)
        .where(SnapshotTrack.snapshot.in_(latest))
    )
    # UNION, not UNION ALL: a track in several lists of one snapshot is one pair.
    for user_id, track_id in (top | other).tuples().iterator():
        yield int(user_id), str(track_id)
